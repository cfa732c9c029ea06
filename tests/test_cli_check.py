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


def test_check_fails_on_a_netlist_that_differs_from_the_model(tmp_path, capsys):
    # a build whose params.sp has one conductance changed by 20 %: ngspice no longer simulates the
    # chip the golden model solves, and check must say FAIL and exit 1
    _, bdir, _, _ = build(KIRAZ, tmp_path / "b", options=BuildOptions(compile=False))
    params = bdir / "spice" / "params.sp"
    text = params.read_text()
    m = re.search(r"^\.param g_W01_0_0=(\S+)$", text, re.MULTILINE)
    assert m
    params.write_text(text.replace(m.group(0), f".param g_W01_0_0={float(m.group(1)) * 1.2!r}"))
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
