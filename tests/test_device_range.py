"""The device-range sweep (scripts/device_range.py, docs/results/device_range.md) cannot go stale:
one cheap cell is retrained and must reproduce its committed row; the summary, the table in the
docs and the per-run CSVs must agree with each other."""

from __future__ import annotations

import csv
import importlib.util
import sys
from pathlib import Path

import pytest

from codegen.api import load_spec
from codegen.learn.sweep import SweepPoint, run_point

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "results"
#: losses (V²) reproduce to REL_TOL·|committed| + ABS_TOL_V2 (BLAS/libm rounding on other machines;
#: the same machine reproduces them bit for bit), accuracies and flags exactly
REL_TOL = 1e-6
ABS_TOL_V2 = 1e-15


def _script():
    spec = importlib.util.spec_from_file_location("device_range", ROOT / "scripts" / "device_range.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["device_range"] = mod
    spec.loader.exec_module(mod)
    return mod


def _rows(name: str) -> list[dict]:
    with (RESULTS / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_the_sweep_covers_2x_to_100x_for_every_model_and_dataset():
    dr = _script()
    assert dr.RATIOS[0] == 2 and dr.RATIOS[-1] == 100 and 10 in dr.RATIOS
    for d in dr.CRITERIA:
        rows = _rows(f"device_range_{d}.csv")
        assert len(rows) == len(dr.MODELS) * len(dr.RATIOS) * len(dr.SEEDS[d])
        assert not any(r["error"] for r in rows)
        for model in dr.MODELS:
            ratios = sorted({int(r["ratio"]) for r in rows if r["model"] == model})
            assert ratios == list(dr.RATIOS)


def test_summary_and_docs_table_are_the_recorded_runs():
    dr = _script()
    summ = {d: dr.summary(d, _rows(f"device_range_{d}.csv")) for d in dr.CRITERIA}
    committed = _rows("device_range.csv")
    flat = [r for rows in summ.values() for r in rows]
    assert len(committed) == len(flat)
    for c, s in zip(committed, flat, strict=True):
        assert (c["dataset"], c["model"], int(c["ratio"])) == (s["dataset"], s["model"], s["ratio"])
        assert int(c["learned"]) == s["learned"] and int(c["runs"]) == s["runs"]
        assert float(c["median_final_loss_V2"]) == s["median_final_loss_V2"]
    doc = (RESULTS / "device_range.md").read_text(encoding="utf-8")
    assert dr.markdown(summ) in doc, (
        "docs/results/device_range.md does not hold the table of the recorded runs"
    )


@pytest.mark.slow
def test_one_cell_reproduces():
    """xor, hard bounds, g_max/g_min = 10, initial-conductance seed 0: retrained exactly as the
    script trains it (through the sweep's own run_point)."""
    dr = _script()
    spec = load_spec(dr.chip_data("xor"), name="device_range/xor")
    ratio, seed, model = 10, 0, "hard bounds"
    g_min = float(dr.g_min_values()[dr.RATIOS.index(ratio)])
    params = (("device.g_min", g_min), *((k, v) for k, v in dr.MODELS[model].items()))
    row = run_point(spec.model_dump(by_alias=True), SweepPoint(params, seed, "full", ""))
    (old,) = [
        r
        for r in _rows("device_range_xor.csv")
        if r["model"] == model and int(r["ratio"]) == ratio and int(r["init_seed"]) == seed
    ]
    for key in ("initial_loss", "final_loss", "final_test_loss"):
        want = float(old[key])
        assert abs(row[key] - want) <= REL_TOL * abs(want) + ABS_TOL_V2, key
    assert float(old["final_test_acc"]) == row["final_test_acc"]
    assert old["converged"] == str(row["converged"]) and int(old["steps"]) == row["steps"]
