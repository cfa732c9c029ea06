"""Smoke test of bench/bench_equilibrium.py's mechanics on a tiny network (the timings are not tested)."""

from __future__ import annotations

import json

import pytest

from bench.bench_equilibrium import main


@pytest.mark.ngspice
def test_bench_runs_and_golden_matches_ngspice(capsys, tmp_path):
    single, doubled = main(
        ["--sizes", "4x6x3", "--batch", "4", "--repeat", "2", "--json", str(tmp_path / "r.json")]
    )
    out = capsys.readouterr().out
    assert "4×6×3" in out and "op/golden" in out and "CPU ratio" in out
    assert (single.inputs, doubled.inputs) == ("single", "doubled")
    for r in (single, doubled):
        assert r.golden_s > 0 and r.golden_cpu_s > 0 and r.ngspice_cli_s > 0 and r.ngspice_shared_s > 0
        assert r.ngspice_load_s > 0 and r.op_over_golden > 0 and r.residual_A <= 1e-12
    assert single.newton_iterations > 1  # single-ended inputs: the clamp diodes conduct
    assert doubled.newton_iterations == 1  # doubled inputs: every diode off, a linear problem
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["machine_before"]["cores"] and len(doc["results"]) == 2
    # same circuit, ngspice at reltol 1e-6, vntol 1e-9 V (the IR's settings): node voltages of ~1-2 V
    # agree to ngspice's convergence tolerance, 1e-6 V (measured: ~3e-11 V)
    assert max(single.max_dv_V, doubled.max_dv_V) <= 1e-6
