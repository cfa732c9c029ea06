"""``codegen check``: table, check.json, exit status (markers ngspice, openvaf for the pulse row)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from codegen.backends import BuildOptions
from codegen.build import build
from codegen.cli import main

ROOT = Path(__file__).resolve().parents[1]
KIRAZ = ROOT / "examples" / "kiraz_case1.yaml"

pytestmark = pytest.mark.ngspice


@pytest.mark.openvaf
def test_check_passes_and_writes_report(tmp_path, capsys):
    out = tmp_path / "check.json"
    assert main(["check", str(KIRAZ), "-n", "2", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    for phase in ("free", "nudged +β", "nudged −β", "simultaneous", "memristor pulses"):
        assert phase in text
    report = json.loads(out.read_text())
    assert report["passed"] is True
    assert [p["phase"] for p in report["phases"]] == ["free", "nudged +β", "nudged −β", "simultaneous"]
    assert all(p["max_dv_V"] <= 1e-6 for p in report["phases"])
    assert report["pulse"]["passed"] is True and report["pulse"]["max_rel_err"] <= 1e-2
    # kiraz_case1's reads: the largest drop is an amplifier output or the bias against an output
    # node, ~1.5 V on random ±1 V inputs, well below its ±4 V thresholds; ngspice sees the same drop
    rd = report["read_disturb"]
    assert rd["passed"] is True and 0.5 < rd["max_abs_dv_V"] < 4.0 and rd["margin_V"] > 0
    assert abs(rd["max_abs_dv_ngspice_V"] - rd["max_abs_dv_V"]) <= 1e-6
    assert "read disturb" in text


def test_check_fails_on_a_netlist_that_differs_from_the_model(tmp_path, capsys):
    # a build whose cells.sp has one conductance changed by 20 %: ngspice no longer simulates the
    # chip the golden model solves, and check must say FAIL and exit 1
    _, bdir, _, _ = build(KIRAZ, tmp_path / "b", options=BuildOptions(compile=False))
    cells = bdir / "spice" / "cells.sp"
    text = cells.read_text()
    m = re.search(r"^(\.subckt W01 .*\nR0_0 \S+ \S+ r=)(\S+)$", text, re.MULTILINE)
    assert m
    cells.write_text(text.replace(m.group(0), f"{m.group(1)}{float(m.group(2)) / 1.2!r}"))
    out = tmp_path / "check.json"
    rc = main(["check", str(KIRAZ), "-n", "1", "--build", str(bdir), "--json", str(out), "--no-pulse"])
    assert rc == 1
    assert "FAIL" in capsys.readouterr().out
    report = json.loads(out.read_text())
    assert report["passed"] is False
    assert report["phases"][0]["max_dv_V"] > 1e-6


def test_check_rejects_zero_samples(capsys):
    assert main(["check", str(KIRAZ), "-n", "0"]) == 2
    assert "--samples" in capsys.readouterr().err


def test_check_on_dataset_samples(tmp_path):
    pytest.importorskip("codegen.learn.datasets", reason="the dataset loader comes with codegen.learn")
    out = tmp_path / "check.json"
    rc = main(
        [
            "check",
            str(ROOT / "examples" / "xor.yaml"),
            "-n",
            "4",
            "--inputs",
            "dataset",
            "--json",
            str(out),
            "--no-pulse",
        ]
    )
    report = json.loads(out.read_text())
    assert report["inputs"] == "dataset"
    assert rc == 0 and report["passed"] is True


def test_check_dataset_inputs_without_loader_is_a_clear_error(tmp_path, capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "codegen.learn.datasets", None)  # import fails
    assert main(["check", str(KIRAZ), "--inputs", "dataset", "--json", str(tmp_path / "c.json")]) == 2
    assert "codegen.learn.datasets" in capsys.readouterr().err


def _kiraz_with_thresholds(tmp_path: Path, v_th: float, pulse: float) -> Path:
    text = KIRAZ.read_text()
    for key, val in (
        ("pulse_amplitude", pulse),
        ("v_threshold_set", v_th),
        ("v_threshold_reset", -v_th),
    ):
        text, n = re.subn(rf"^  {key}: .*$", f"  {key}: {val} V", text, flags=re.MULTILINE)
        assert n == 1, key
    path = tmp_path / "kiraz_case1.yaml"
    path.write_text(text)
    return path


def test_check_fails_when_reads_reach_the_memristor_thresholds(tmp_path, capsys):
    # thresholds ±1 V (pulses 1.2 V: a valid V/2 scheme), but the network's own read voltages put
    # ~1.5 V across the bias → output weights: a real chip would reprogram them while reading
    spec = _kiraz_with_thresholds(tmp_path, 1.0, 1.2)
    out = tmp_path / "check.json"
    assert main(["check", str(spec), "-n", "3", "--json", str(out), "--no-pulse"]) == 1
    text = capsys.readouterr().out
    assert "read disturb" in text and "at or beyond" in text
    report = json.loads(out.read_text())
    assert all(p["passed"] for p in report["phases"])  # the simulation itself agrees
    rd = report["read_disturb"]
    assert report["passed"] is False and rd["passed"] is False
    assert rd["max_abs_dv_V"] >= 1.0 and rd["margin_V"] < 0
    assert rd["crossbar"] in ("W01", "B1", "W12", "B2") and rd["cell"].startswith(rd["crossbar"] + "[")
    assert f"{rd['crossbar']}[{rd['row']},{rd['col']}]" in text  # the line under the table names the cell


def test_check_passes_just_above_the_largest_read(tmp_path):
    # the same reads against thresholds of 1.6 V (pulses 2 V, half-select 1 V): no cell reaches them
    spec = _kiraz_with_thresholds(tmp_path, 1.6, 2.0)
    out = tmp_path / "check.json"
    # random inputs in [0, 1] (with codegen.learn installed, "auto" would use Kiraz's ±2 V pattern,
    # whose reads reach 2.9 V)
    argv = ["check", str(spec), "-n", "3", "--inputs", "random", "--json", str(out), "--no-pulse"]
    assert main(argv) == 0
    rd = json.loads(out.read_text())["read_disturb"]
    assert rd["passed"] is True and 1.0 < rd["max_abs_dv_V"] < 1.6
