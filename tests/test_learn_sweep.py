"""Sweeps: a tiny grid on a Dask LocalCluster started here, results per point, resumption."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codegen.errors import CodegenError
from codegen.learn.overrides import override
from codegen.learn.sweep import POINTS_FILE, grid_points, load_done, run_sweep, summarise
from codegen.load import load_spec

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def client():
    from dask.distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=1,
            threads_per_worker=2,
            processes=False,
            dashboard_address=None,
            scheduler_kwargs={"dashboard_address": ":0"},
        ) as lc,
        Client(lc) as c,
    ):
        yield c


@pytest.fixture(scope="module")
def spec():
    return override(load_spec(ROOT / "examples" / "kiraz_case1.yaml"), {"training.epochs": 30})


def test_override_validates_and_rejects_unknown_paths(spec):
    s = override(spec, {"nudge.beta": "2u", "training.learning_rate": 3e-9})
    assert s.nudge.beta == pytest.approx(2e-6) and s.training.learning_rate == 3e-9
    with pytest.raises(CodegenError, match="unknown spec path"):
        override(spec, {"nudge.betta": 1e-6})
    with pytest.raises(CodegenError, match="invalid spec"):
        override(spec, {"nudge.beta": -1.0})  # β > 0 is checked by the spec


def test_grid_points_order_and_keys():
    pts = grid_points([("a.b", [1, 2]), ("c", ["x"])], [0, 1], ("full", "resistors_only"))
    assert len(pts) == 8 and len({p.key for p in pts}) == 8
    assert pts[0].params == (("a.b", 1), ("c", "x")) and pts[0].energy == "full" and pts[1].init_seed == 1
    with pytest.raises(CodegenError, match="energy"):
        grid_points([], [0], ("bogus",))


def test_sweep_runs_writes_and_resumes(spec, client, tmp_path):
    lrs, betas = [1e-9, 2e-8], [1e-6]
    # "interrupted" run: only the first learning rate, plus a torn last line
    rows1, ran1 = run_sweep(
        spec, [("training.learning_rate", lrs[:1]), ("nudge.beta", betas)], [0, 1], tmp_path, client=client
    )
    assert ran1 == 2
    first = (tmp_path / POINTS_FILE).read_text()
    with (tmp_path / POINTS_FILE).open("a") as fh:
        fh.write('{"key": "torn')
    # the whole grid: the two finished points are reused, not recomputed
    grid = [("training.learning_rate", lrs), ("nudge.beta", betas)]
    rows, ran = run_sweep(spec, grid, [0, 1], tmp_path, client=client)
    assert ran == 2
    text = (tmp_path / POINTS_FILE).read_text()
    assert text.startswith(first)
    assert len(load_done(tmp_path)) == 4
    for r in rows1:  # reused rows are byte-identical (their timing included)
        assert next(x for x in rows if x["key"] == r["key"]) == json.loads(json.dumps(r))
    # a third run does nothing
    assert run_sweep(spec, grid, [0, 1], tmp_path, client=client)[1] == 0
    # the results are physical: η = 1e-9 S²/V² converges from seed 1 within 30 steps (as the
    # example does), the loss never rises above its start for the stable rate
    by = {(r["training.learning_rate"], r["init_seed"]): r for r in rows}
    assert by[(1e-9, 1)]["converged"] and by[(1e-9, 1)]["final_loss"] <= 5e-5
    assert all(r["final_loss"] <= r["initial_loss"] for r in rows if r["training.learning_rate"] == 1e-9)
    csv_lines = (tmp_path / "sweep.csv").read_text().splitlines()
    assert csv_lines[0].startswith("training.learning_rate,nudge.beta,energy,init_seed,")
    assert len(csv_lines) == 5
    s = summarise(rows, grid)
    assert s["loss"].shape == (1, 2) and s["rate"][0, 0] == pytest.approx(
        sum(by[(1e-9, k)]["converged"] for k in (0, 1)) / 2
    )


def test_sweep_cli_on_local_processes(tmp_path):
    """The CLI end to end on its own LocalCluster (one worker process), heatmaps included."""
    from codegen.cli import main

    out = tmp_path / "sw"
    argv = [
        "sweep",
        str(ROOT / "examples" / "kiraz_case1.yaml"),
        "--param",
        "training.learning_rate=1e-9",
        "--param",
        "nudge.beta=1e-6,1e-3",
        "--init-seeds",
        "1",
        "--epochs",
        "5",
        "--workers",
        "1",
        "-q",
        "-o",
        str(out),
    ]
    assert main(argv) == 0
    for f in ("points.jsonl", "sweep.csv", "final_loss.png", "convergence.png"):
        assert (out / f).stat().st_size > 0
    assert len(load_done(out)) == 2


def test_sweep_on_an_existing_cluster_by_address(spec, client, tmp_path):
    """``cluster="tcp://…"`` connects a new Client to a running scheduler (here the in-process one)."""
    addr = client.scheduler.address
    rows, ran = run_sweep(spec, [("training.learning_rate", [1e-9])], [1], tmp_path, cluster=addr)
    assert ran == 1 and rows[0]["converged"]
