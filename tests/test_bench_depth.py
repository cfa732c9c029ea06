"""Smoke test of bench/bench_depth.py's mechanics on a small deep network (the timings are not tested)."""

from __future__ import annotations

import json

from bench.bench_depth import main


def test_bench_depth_runs_and_all_solvers_reach_the_tolerance(capsys, tmp_path):
    argv = ["--sizes", "8x70x70x70x4", "--inputs", "single", "--batch", "6", "--repeat", "1"]
    (r,) = main([*argv, "--dense-batch", "3", "--json", str(tmp_path / "d.json")])
    out = capsys.readouterr().out
    assert "8×70×70×70×4" in out and "CD sweeps" in out
    assert r.method == "layered"  # 78 nodes left after eliminating the independent set
    tol = 1e-12  # A, the chip's simulation.residual_tol_A
    assert r.residual_A <= tol and r.ep_residual_A <= tol and r.cd_residual_A <= tol
    assert r.dense_max_dv_V <= 1e-9  # V: layered and dense stop at the same KCL tolerance
    assert r.free_s > 0 and r.ep_s > 0 and r.cd_sweeps >= 4
    assert 0 < r.cg_share < 1 and 0 < r.relax_share < 1 and r.cg_share + r.relax_share < 1
    assert json.loads((tmp_path / "d.json").read_text())["results"][0]["size"] == "8×70×70×70×4"
