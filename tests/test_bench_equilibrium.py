"""Smoke test of bench/bench_equilibrium.py's mechanics on a tiny network (the timings are not tested)."""

from __future__ import annotations

import pytest

from bench.bench_equilibrium import main


@pytest.mark.ngspice
def test_bench_runs_and_golden_matches_ngspice(capsys):
    (r,) = main(["--sizes", "4x6x3", "--batch", "4", "--repeat", "1", "--shared-ops", "2"])
    out = capsys.readouterr().out
    assert "4×6×3" in out and "op/golden" in out
    assert r.newton_iterations > 1 and r.golden_dense_s > 0 and r.ngspice_cli_s > 0 and r.ngspice_shared_s > 0
    # same circuit, ngspice at reltol 1e-6, vntol 1e-9 V (the IR's settings): node voltages of ~1-2 V
    # agree to ngspice's convergence tolerance, 1e-6 V (measured: ~3e-11 V)
    assert r.max_dv_V <= 1e-6
