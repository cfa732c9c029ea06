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


def test_every_model_is_a_valid_chip_of_its_kind():
    """Each label of MODELS builds the example with that device (the memristor labels differ in
    soft_bounds, the Yakopcic ones in the reset window) and nothing else of the example changes."""
    dr = _script()
    for d in dr.CRITERIA:
        base = load_spec(dr.chip_data(d, "hard bounds"), name=d)
        for model, keys in dr.MODELS.items():
            spec = load_spec(dr.chip_data(d, model), name=d)
            dev = spec.device
            assert dev.kind == keys.get("kind", "memristor"), model
            for k, v in keys.items():
                assert getattr(dev, k) == v, (model, k)
            assert dev.g_max == dr.G_MAX_S and spec.training == base.training
    y, m = dr.chip_data("xor", "yakopcic"), dr.chip_data("xor", "yakopcic mild reset")
    yd, md = load_spec(y, name="y").device, load_spec(m, name="m").device
    assert (yd.x_p, yd.x_n, yd.alpha_p, yd.alpha_n) == (0.3, 0.5, 1.0, 5.0)  # the paper's windows
    assert (md.x_n, md.alpha_n) == (0.7, 1.0)


def test_models_not_run_are_kept_from_the_recorded_runs(tmp_path):
    """--models: the rows of the models not named come from the per-run CSV, in MODELS order; a
    model with no recorded rows is refused, not silently left out."""
    dr = _script()
    kept = _rows("device_range_xor.csv")
    rows = dr.run_dataset("xor", tmp_path, 1, [], list(reversed(kept)))
    assert [r["model"] for r in rows] == [r["model"] for r in kept]
    missing = [r for r in kept if r["model"] != "yakopcic"]
    with pytest.raises(SystemExit, match="yakopcic"):
        dr.run_dataset("xor", tmp_path, 1, [], missing)


@pytest.mark.slow
@pytest.mark.parametrize("model", ["hard bounds", "yakopcic"])
def test_one_cell_reproduces(model):
    """xor, g_max/g_min = 10, initial-conductance seed 0, one memristor and one Yakopcic model:
    retrained exactly as the script trains it (through the sweep's own run_point)."""
    dr = _script()
    spec = load_spec(dr.chip_data("xor", model), name="device_range/xor")
    ratio, seed = 10, 0
    g_min = float(dr.g_min_values()[dr.RATIOS.index(ratio)])
    row = run_point(spec.model_dump(by_alias=True), SweepPoint((("device.g_min", g_min),), seed, "full", ""))
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
