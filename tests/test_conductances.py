"""Conductance files: ``codegen train`` writes them, ``build``/``check --conductances`` read them.

The designer's path: train → ``conductances.json`` → netlists at the trained conductances → the
checks (voltages, EP updates, read disturb) of the trained chip.  Bad files are exit 2 and write
nothing.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest

from codegen.backends import BuildOptions
from codegen.build import render_plan
from codegen.cli import main
from codegen.elab import elaborate
from codegen.errors import CodegenError
from codegen.load import load_spec
from codegen.model import GoldenModel
from codegen.model.conductances import (
    BOUND_TOL_REL,
    ConductanceSet,
    chip_conductances,
    parse_conductances,
    read_conductances,
    write_conductances,
)

ROOT = Path(__file__).resolve().parents[1]
KIRAZ = ROOT / "examples" / "kiraz_case1.yaml"
#: params file of each dialect and its parameter syntax
PARAMS = {
    "spice/params.sp": r"^\.param (g_\w+)=(\S+)$",
    "xyce/params.cir": r"^\.param (g_\w+)=(\S+)$",
    "spectre/params.scs": r"^parameters (g_\w+)=(\S+)$",
}


@pytest.fixture(scope="module")
def chip():
    return elaborate(load_spec(KIRAZ))


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """``codegen train`` of kiraz_case1 for 2 epochs (golden backend, no baseline, ~2 s)."""
    out = tmp_path_factory.mktemp("train")
    argv = ["train", str(KIRAZ), "--epochs", "2", "--no-baseline", "-q", "-o", str(out)]
    assert main(argv) == 0
    return out / "conductances.json"


def _params(text: str, pattern: str) -> dict[str, float]:
    return {m.group(1): float(m.group(2)) for m in re.finditer(pattern, text, re.MULTILINE)}


# ----------------------------------------------------------------------------- the format
def test_write_read_round_trip_is_exact(chip, tmp_path):
    rng = np.random.default_rng(5)
    d = chip.device
    G = {xb.name: rng.uniform(d.g_min_S, d.g_max_S, xb.shape) for xb in chip.crossbars}
    G["W01"][0, 0] = d.g_max_S  # the bounds themselves are allowed
    G["W12"][1, 1] = d.g_min_S
    text = write_conductances(chip, G, seed=7)
    assert text == write_conductances(chip, G, seed=7)  # deterministic
    path = tmp_path / "g.json"
    path.write_text(text)
    cs = read_conductances(chip, path)
    assert cs.seed == 7 and cs.name == "g.json"
    assert cs.sha256 == hashlib.sha256(text.encode()).hexdigest()
    for xb in chip.crossbars:
        assert np.array_equal(cs.G[xb.name], G[xb.name])  # repr floats: bit-exact
    assert write_conductances(chip, cs.G, cs.seed) == text


def test_golden_backend_writes_the_same_format(chip):
    # golden/conductances.json of a plain build is the shared writer's text of the initial draw
    files = render_plan(chip, BuildOptions(compile=False), only=["golden"]).files
    assert files["golden/conductances.json"].decode() == write_conductances(chip, chip.initial_conductances())


def test_bounds_allow_float_rounding_only(chip):
    d = chip.device
    G = chip.initial_conductances()
    # one ulp above g_max (g_min + span·w at w = 1 can land there): accepted, as written
    G["B1"][0, 0] = np.nextafter(d.g_max_S, 1.0)
    cs = ConductanceSet.from_values(chip, G)
    assert cs.G["B1"][0, 0] == G["B1"][0, 0]
    G["B1"][0, 0] = d.g_max_S + 10 * BOUND_TOL_REL * (d.g_max_S - d.g_min_S)
    with pytest.raises(CodegenError, match=r"B1: G\[0\]\[0\] = .* outside .*\[g_min, g_max\]"):
        ConductanceSet.from_values(chip, G)


def test_build_options_conductances_reach_every_backend_through_one_helper(chip):
    d = chip.device
    G = {xb.name: np.full(xb.shape, d.g_min_S) for xb in chip.crossbars}
    G["W12"][:] = d.g_max_S
    opts = BuildOptions(compile=False, conductances=ConductanceSet.from_values(chip, G, seed=3))
    got = chip_conductances(chip, opts)
    assert all(np.array_equal(got[k], G[k]) for k in G)
    assert all(np.array_equal(v, chip.initial_conductances()[k]) for k, v in chip_conductances(chip).items())
    plan = render_plan(chip, opts)
    assert plan.meta["conductances_sha256"] == opts.conductances.sha256
    assert "conductances_sha256" not in render_plan(chip, BuildOptions(compile=False), only=["ir"]).meta
    # golden: the file, and reference equilibria solved at those conductances
    cond = json.loads(plan.files["golden/conductances.json"])
    assert cond["seed"] == 3 and cond["crossbars"]["W12"]["G"] == G["W12"].tolist()
    ref = json.loads(plan.files["golden/reference.json"])
    eq = GoldenModel(chip, G).solve(np.array(ref["inputs"]))
    np.testing.assert_allclose(ref["outputs"], eq.outputs, rtol=0, atol=1e-9)  # rounded to 1e-9 V
    assert f"from `{opts.conductances.name}`" in plan.files["golden/README.md"].decode()
    # every dialect's params file holds exactly those values and names its source
    for path, pattern in PARAMS.items():
        text = plan.files[path].decode()
        assert opts.conductances.sha256 in text
        values = _params(text, pattern)
        for xb in chip.crossbars:
            for r in range(xb.shape[0]):
                for c in range(xb.shape[1]):
                    assert values[f"g_{xb.name}_{r}_{c}"] == G[xb.name][r, c], path
    # the decks carry the same values as numbers (cells files: r = 1/g; memristor g0 = g)
    assert f"g0={float(G['W12'][0, 0])!r}" in plan.files["spice/memristor_cells.sp"].decode()
    for path in ("spice/cells.sp", "xyce/cells.cir", "spectre/cells.scs"):
        text = plan.files[path].decode()
        assert opts.conductances.sha256 in text and repr(1.0 / float(G["W12"][0, 0])) in text, path


# ----------------------------------------------------------------------------- train → build → check
def test_train_writes_trained_conductances(chip, trained):
    cs = read_conductances(chip, trained)
    G0 = chip.initial_conductances()
    assert cs.seed == chip.training.seed
    assert any(not np.array_equal(cs.G[k], G0[k]) for k in G0)  # two epochs moved the weights


@pytest.mark.ngspice
def test_build_and_check_the_trained_chip(chip, trained, tmp_path, capsys):
    out = tmp_path / "b"
    argv = ["build", str(KIRAZ), "--no-compile", "-o", str(out), "--conductances", str(trained)]
    assert main(argv) == 0
    assert "--conductances" in capsys.readouterr().out  # next: check at the same conductances
    G = read_conductances(chip, trained).G
    assert (out / "golden" / "conductances.json").read_bytes() == trained.read_bytes()
    for path, pattern in PARAMS.items():
        values = _params((out / path).read_text(), pattern)
        assert all(values[f"g_W01_{r}_{c}"] == G["W01"][r, c] for r in range(2) for c in range(2))
    sha = hashlib.sha256(trained.read_bytes()).hexdigest()
    assert json.loads((out / "manifest.json").read_text())["conductances_sha256"] == sha

    # ngspice on the build's trained netlists vs the golden model at the file's conductances: they
    # agree to 1e-6 V only if both simulate the trained chip
    rep_t = tmp_path / "trained.json"
    base = ["check", str(KIRAZ), "-n", "2", "--no-pulse"]
    argv = [*base, "--build", str(out), "--conductances", str(trained), "--json", str(rep_t)]
    assert main(argv) == 0
    assert "conductances of conductances.json" in capsys.readouterr().out
    trained_rep = json.loads(rep_t.read_text())
    assert trained_rep["passed"] is True
    assert trained_rep["conductances"] == {"source": "file", "file": "conductances.json", "sha256": sha}
    rep_0 = tmp_path / "initial.json"
    assert main([*base, "--json", str(rep_0)]) == 0
    initial_rep = json.loads(rep_0.read_text())
    assert initial_rep["conductances"]["source"] == "initial"
    rd_t, rd_0 = trained_rep["read_disturb"], initial_rep["read_disturb"]
    # same inputs, other weights: other read voltages (2.93 V vs 2.88 V after two epochs)
    assert abs(rd_t["max_abs_dv_V"] - rd_0["max_abs_dv_V"]) > 1e-3
    assert abs(rd_t["max_abs_dv_ngspice_V"] - rd_t["max_abs_dv_V"]) <= 1e-6  # TOL_V

    # the trained build checked at the initial conductances would compare two different chips
    assert main([*base, "--build", str(out), "--json", str(tmp_path / "x.json")]) == 2
    assert "pass the same --conductances FILE" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()
    # a netlist folder without a manifest (hand-assembled) is taken as it is: here it matches
    (out / "manifest.json").unlink()
    argv = [*base, "--build", str(out), "--conductances", str(trained), "--json", str(rep_t)]
    assert main(argv) == 0


@pytest.mark.ngspice
def test_check_refuses_a_plain_build_with_a_conductance_file(trained, tmp_path, capsys):
    out = tmp_path / "b"
    assert main(["build", str(KIRAZ), "--no-compile", "-q", "-o", str(out)]) == 0
    argv = ["check", str(KIRAZ), "--no-pulse", "--build", str(out), "--conductances", str(trained)]
    assert main([*argv, "--json", str(tmp_path / "c.json")]) == 2
    err = capsys.readouterr().err
    assert "was built with the initial conductances" in err and "(here: none)" in err


def _kiraz_thresholds(tmp_path: Path, v_th: float, pulse: float) -> Path:
    text = KIRAZ.read_text()
    for key, val in (("pulse_amplitude", pulse), ("v_threshold_set", v_th), ("v_threshold_reset", -v_th)):
        text, n = re.subn(rf"^  {key}: .*$", f"  {key}: {val} V", text, flags=re.MULTILINE)
        assert n == 1, key
    path = tmp_path / "kiraz_case1.yaml"
    path.write_text(text)
    return path


@pytest.mark.ngspice
def test_read_disturb_of_weights_at_a_bound(tmp_path):
    # thresholds ±2.9 V (pulses 3.6 V, half-select 1.8 V): the initial weights read at most 2.88 V
    # on Kiraz's ±2 V pattern and pass; with W12 pushed to g_min (where training drives weights)
    # the hidden → output drop reaches 2.92 V and the same check fails on read disturb
    spec = _kiraz_thresholds(tmp_path, 2.9, 3.6)
    chip = elaborate(load_spec(spec))
    G = chip.initial_conductances()
    G["W12"][:] = chip.device.g_min_S
    gfile = tmp_path / "w12_gmin.json"
    gfile.write_text(write_conductances(chip, G))
    base = ["check", str(spec), "-n", "1", "--no-pulse", "--inputs", "dataset"]
    assert main([*base, "--json", str(tmp_path / "a.json")]) == 0
    assert main([*base, "--json", str(tmp_path / "b.json"), "--conductances", str(gfile)]) == 1
    a = json.loads((tmp_path / "a.json").read_text())
    b = json.loads((tmp_path / "b.json").read_text())
    assert all(p["passed"] for p in b["phases"])  # ngspice still agrees with the golden model
    assert a["read_disturb"]["passed"] and a["read_disturb"]["max_abs_dv_V"] < 2.9
    assert not b["read_disturb"]["passed"] and b["read_disturb"]["max_abs_dv_V"] >= 2.9


def test_build_with_conductances_is_deterministic(chip, trained, tmp_path):
    digests = []
    for name in ("a", "b"):
        assert (
            main(
                [
                    "build",
                    str(KIRAZ),
                    "--no-compile",
                    "-q",
                    "-o",
                    str(tmp_path / name),
                    "--conductances",
                    str(trained),
                ]
            )
            == 0
        )
        digests.append((tmp_path / name / "manifest.json").read_bytes())
    assert digests[0] == digests[1]
    plain = tmp_path / "plain"
    assert main(["build", str(KIRAZ), "--no-compile", "-q", "-o", str(plain)]) == 0
    assert "conductances_sha256" not in json.loads((plain / "manifest.json").read_text())
    assert (plain / "spice" / "params.sp").read_bytes() != (
        tmp_path / "a" / "spice" / "params.sp"
    ).read_bytes()
    # the same training gives the same file
    again = tmp_path / "again"
    assert main(["train", str(KIRAZ), "--epochs", "2", "--no-baseline", "-q", "-o", str(again)]) == 0
    assert (again / "conductances.json").read_bytes() == trained.read_bytes()


# ----------------------------------------------------------------------------- bad files
def _edit(doc: dict, how: str) -> str:
    d = copy.deepcopy(doc)
    xbs = d["crossbars"]
    if how == "name":
        xbs["W99"] = xbs.pop("W01")
    elif how == "missing":
        del xbs["B2"]
    elif how == "shape":
        xbs["W01"]["G"] = xbs["W01"]["G"][:1]
        del xbs["W01"]["rows"]
    elif how == "bounds":
        xbs["W12"]["G"][1][0] = 5e-3
    elif how == "negative":
        xbs["B1"]["G"][0][0] = -1e-5
    elif how == "nan":
        return json.dumps(d).replace(repr(xbs["W01"]["G"][0][0]), "NaN", 1)
    elif how == "string":
        xbs["W01"]["G"][0][0] = "1e-5"
    elif how == "rows":
        xbs["W01"]["rows"] = xbs["W01"]["rows"][::-1]
    elif how == "unit":
        d["unit"] = "uS"
    elif how == "key":
        d["weights"] = {}
    elif how == "json":
        return json.dumps(d)[:200]
    elif how == "not-a-dict":
        return "[1, 2, 3]\n"
    return json.dumps(d)


BAD = {
    "name": r"crossbar 'W99' is not in chip 'kiraz_case1'; its crossbars: W01 2×2, B1 2×1, W12 2×2, B2 2×1",
    "missing": r"crossbar B2 missing",
    "shape": r"crossbar W01: G has shape 1×2, the chip's W01 is 2×2",
    "bounds": r"crossbar W12: G\[1\]\[0\] = 0\.005 S .*outside the device's \[g_min, g_max\] = \[1e-06, 0\.0001\] S",
    "negative": r"crossbar B1: G\[0\]\[0\] = -1e-05 S",
    "nan": r"invalid JSON \(NaN is not a conductance\)",
    "string": r"crossbar W01: G must be a list of rows, each a list of numbers",
    "rows": r"crossbar W01: rows \['h1_1', 'h1_0'\] do not match",
    "unit": r"unit 'uS'",
    "key": r"unknown key weights",
    "json": r"not a conductance file: invalid JSON",
    "not-a-dict": r"not a conductance file: expected a JSON object",
}


@pytest.mark.parametrize("how", sorted(BAD))
def test_bad_conductance_file_is_a_clear_error_and_writes_nothing(chip, how, tmp_path, capsys):
    doc = json.loads(write_conductances(chip, chip.initial_conductances()))
    bad = tmp_path / f"{how}.json"
    bad.write_text(_edit(doc, how))
    with pytest.raises(CodegenError, match=BAD[how]):
        parse_conductances(chip, bad.read_text(), str(bad))
    out = tmp_path / "build"
    assert main(["build", str(KIRAZ), "--no-compile", "-o", str(out), "--conductances", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {bad}: ") and re.search(BAD[how], err)
    assert not out.exists()


def test_bad_file_leaves_an_existing_build_untouched(tmp_path, capsys):
    out = tmp_path / "build"
    assert main(["build", str(KIRAZ), "--no-compile", "-q", "-o", str(out)]) == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    assert main(["build", str(KIRAZ), "--no-compile", "-o", str(out), "--conductances", str(bad)]) == 2
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    missing = tmp_path / "nope.json"
    assert main(["build", str(KIRAZ), "--no-compile", "-o", str(out), "--conductances", str(missing)]) == 2
    assert f"{missing}: cannot read the conductance file" in capsys.readouterr().err


def test_check_rejects_bad_files_before_simulating(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"crossbars": {}, "unit": "S"}')
    report = tmp_path / "check.json"
    assert main(["check", str(KIRAZ), "--conductances", str(bad), "--json", str(report)]) == 2
    assert "crossbar W01, B1, W12, B2 missing" in capsys.readouterr().err
    assert not report.exists()
    xor = ROOT / "examples" / "xor.yaml"
    assert main(["check", str(KIRAZ), str(xor), "--conductances", str(bad), "--json", str(report)]) == 2
    assert "--conductances belongs to one chip" in capsys.readouterr().err


def test_a_file_of_another_chip_is_rejected(trained, tmp_path, capsys):
    # kiraz_case1's trained weights do not fit xor (other crossbar shapes): named, not guessed
    xor = ROOT / "examples" / "xor.yaml"
    assert (
        main(["build", str(xor), "--no-compile", "-o", str(tmp_path / "b"), "--conductances", str(trained)])
        == 2
    )
    err = capsys.readouterr().err
    assert "conductances.json: crossbar W01: G has shape 2×2, the chip's W01 is 4×" in err
    assert not (tmp_path / "b").exists()
