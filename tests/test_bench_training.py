"""Smoke test of bench/bench_training.py's mechanics (the timings themselves are not tested)."""

from __future__ import annotations

import pytest

from bench.bench_training import main


def test_bench_training_golden(capsys):
    r = main(["--steps", "2", "--no-spice"])
    assert r["golden_samples_per_s"] > 0
    assert "samples/s" in capsys.readouterr().out


@pytest.mark.ngspice
def test_bench_training_spice_matches_golden(capsys):
    r = main(["--steps", "1", "--spice-steps", "1"])
    assert r["spice_samples_per_s"] > 0 and r["spice_op_ms"] > 0
    # one gradient step on the same circuit: conductances agree far below one 0.5 µS pulse step
    # (ngspice at reltol 1e-6; measured 5e-14 S)
    assert r["max_dG_S"] <= 1e-10
