"""Robustness sweeps (docs/background.md §4): train one chip over a grid of spec overrides × initial seeds.

Each grid point is one training run for a fixed budget (``training.epochs``), from initial
conductances drawn with its own seed.  Points run in parallel through Dask's own scheduler
(``dask.distributed``): a :class:`~dask.distributed.LocalCluster` of worker processes by default, or
an existing cluster at ``tcp://host:port``.  Every finished point is appended at once to
``points.jsonl`` (one JSON object per line, keyed by a hash of its overrides, seed and energy
accounting), so an interrupted sweep resumes without redoing finished points; ``sweep.csv`` and the
heatmaps are rewritten from that file at the end.

A point *converged* when its final training loss is at most ``converged_loss`` (V²; default
5e-5 V² = ½·(10 mV)², the Kiraz case-1 criterion |y − t| ≤ 10 mV for one output).
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CodegenError
from ..spec import Spec
from .backends import ENERGIES
from .overrides import override

__all__ = ["SweepPoint", "grid_points", "run_point", "run_sweep", "load_done", "summarise", "POINTS_FILE"]

POINTS_FILE = "points.jsonl"
CSV_FILE = "sweep.csv"
DEFAULT_CONVERGED_LOSS_V2 = 5e-5


@dataclass(frozen=True)
class SweepPoint:
    params: tuple[tuple[str, Any], ...]  # (dotted path, value) in grid order
    init_seed: int
    energy: str

    @property
    def key(self) -> str:
        blob = json.dumps([list(self.params), self.init_seed, self.energy], sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def grid_points(
    grid: Sequence[tuple[str, Sequence[Any]]],
    init_seeds: Sequence[int],
    energies: Sequence[str] = ("full",),
) -> list[SweepPoint]:
    """Every combination, in a fixed order (first parameter slowest, seeds fastest)."""
    for e in energies:
        if e not in ENERGIES:
            raise CodegenError(f"unknown energy accounting {e!r}; choose from {', '.join(ENERGIES)}")
    paths = [p for p, _ in grid]
    if len(set(paths)) != len(paths):
        raise CodegenError(f"a parameter appears twice in the grid: {paths}")
    combos = itertools.product(*[vals for _, vals in grid]) if grid else [()]
    return [
        SweepPoint(tuple(zip(paths, combo, strict=True)), seed, e)
        for combo in combos
        for e in energies
        for seed in init_seeds
    ]


def run_point(
    spec_data: dict,
    point: SweepPoint,
    backend: str = "golden",
    converged_loss: float = DEFAULT_CONVERGED_LOSS_V2,
) -> dict:
    """Train one grid point; return its result row (runs in a Dask worker: plain data in, plain data out).

    A point whose circuit fails to solve (:class:`~codegen.model.ConvergenceError`) or whose loss
    becomes non-finite is recorded with ``error`` set and ``converged = False``.
    """
    from ..elab import elaborate
    from .backends import make_backend
    from .datasets import load_dataset
    from .trainer import train

    t0 = time.perf_counter()
    spec = override(Spec.model_validate(spec_data), dict(point.params))
    chip = elaborate(spec)
    row: dict[str, Any] = {
        "key": point.key,
        **{p: v for p, v in point.params},
        "init_seed": point.init_seed,
        "energy": point.energy,
    }
    try:
        b = make_backend(backend, chip, energy=point.energy)
        r = train(chip, b, load_dataset(chip), init_seed=point.init_seed)
        f = r.final
        ok = math.isfinite(f.train_loss)
        row.update(
            initial_loss=r.history[0].train_loss,
            final_loss=f.train_loss,
            final_test_loss=f.test_loss,
            final_test_acc=f.test_acc,
            best_loss=min(m.train_loss for m in r.history),
            converged=bool(ok and f.train_loss <= converged_loss),
            steps=r.steps,
            pulses=sum(m.pulses for m in r.history),
            error="" if ok else "non-finite loss",
        )
    except CodegenError as exc:  # ConvergenceError is a CodegenError
        row.update(
            initial_loss=float("nan"),
            final_loss=float("nan"),
            final_test_loss=float("nan"),
            final_test_acc=float("nan"),
            best_loss=float("nan"),
            converged=False,
            steps=0,
            pulses=0,
            error=f"{type(exc).__name__}: {str(exc).splitlines()[0]}",
        )
    row["seconds"] = time.perf_counter() - t0
    return row


def load_done(out: Path) -> dict[str, dict]:
    """Rows already finished (key → row), from ``out/points.jsonl``; a torn last line is ignored."""
    path = out / POINTS_FILE
    done: dict[str, dict] = {}
    if not path.exists():
        return done
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # interrupted while writing: that point runs again
        done[row["key"]] = row
    return done


def _drop_torn_tail(path: Path) -> None:
    """Cut a last line left half-written by an interrupted sweep, so appended rows start clean."""
    if not path.exists():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        path.write_bytes(data[: data.rfind(b"\n") + 1])


def _client(cluster: str | None, workers: int, processes: bool):
    from dask.distributed import Client, LocalCluster

    if cluster:
        return Client(cluster), None
    # no dashboard; the scheduler's health/metrics HTTP server on a free port (not 8787, which a
    # second sweep on the same machine would collide with)
    lc = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=processes,
        dashboard_address=None,
        scheduler_kwargs={"dashboard_address": ":0"},
    )
    return Client(lc), lc


def run_sweep(
    spec: Spec,
    grid: Sequence[tuple[str, Sequence[Any]]],
    init_seeds: Sequence[int],
    out: Path,
    *,
    energies: Sequence[str] = ("full",),
    backend: str = "golden",
    converged_loss: float = DEFAULT_CONVERGED_LOSS_V2,
    client: Any = None,
    cluster: str | None = None,
    workers: int = 2,
    processes: bool = True,
    on_point: Callable[[dict, int, int], None] | None = None,
) -> tuple[list[dict], int]:
    """Run every grid point not yet in ``out/points.jsonl``; return (all rows in grid order, points run now).

    ``client``: a ``dask.distributed.Client`` to use; else one on ``cluster`` (``tcp://host:port``)
    or on a new LocalCluster of ``workers`` processes (threads if ``processes`` is False).
    """
    out.mkdir(parents=True, exist_ok=True)
    points = grid_points(grid, init_seeds, energies)
    for path, values in grid:  # fail fast on a bad path or value, before any worker starts
        for v in values:
            override(spec, {path: v})
    _drop_torn_tail(out / POINTS_FILE)
    done = load_done(out)
    todo = [p for p in points if p.key not in done]
    data = spec.model_dump(by_alias=True)
    ran = 0
    if todo:
        own_client, own_cluster = None, None
        if client is None:
            client, own_cluster = _client(cluster, workers, processes)
            own_client = client
        try:
            from dask.distributed import as_completed

            futures = [
                client.submit(
                    run_point, data, p, backend, converged_loss, key=f"eqprop-point-{p.key}", pure=False
                )
                for p in todo
            ]
            with (out / POINTS_FILE).open("a", encoding="utf-8") as fh:
                for fut in as_completed(futures):
                    row = fut.result()
                    fh.write(json.dumps(row, sort_keys=True, default=float) + "\n")
                    fh.flush()
                    done[row["key"]] = row
                    ran += 1
                    if on_point is not None:
                        on_point(row, len(points) - len(todo) + ran, len(points))
        finally:
            if own_client is not None:  # a client this call made (never the caller's, nor a remote cluster)
                own_client.close()
            if own_cluster is not None:
                own_cluster.close()
    rows = [done[p.key] for p in points]
    write_csv(rows, grid, out / CSV_FILE)
    return rows, ran


def write_csv(rows: list[dict], grid: Sequence[tuple[str, Sequence[Any]]], path: Path) -> None:
    """One row per point in grid order; results only (wall times stay in points.jsonl), so the
    same sweep gives the same bytes."""
    cols = [p for p, _ in grid] + [
        "energy",
        "init_seed",
        "initial_loss",
        "final_loss",
        "best_loss",
        "final_test_loss",
        "final_test_acc",
        "converged",
        "steps",
        "pulses",
        "error",
        "key",
    ]
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({c: r.get(c, "") for c in cols})


def summarise(rows: list[dict], grid: Sequence[tuple[str, Sequence[Any]]]) -> dict[str, Any]:
    """Tables over the grid: x = first parameter, y = the other parameters × energy accounting.

    Returns ``{"x": labels, "y": labels, "xname", "yname", "loss": median final loss (V²),
    "rate": fraction of seeds converged}`` as arrays (rows = y).
    """
    xs = [str(v) for v in grid[0][1]] if grid else ["-"]
    rest = list(grid[1:])
    energies = sorted({r["energy"] for r in rows}, key=ENERGIES.index)
    ycombos = list(itertools.product(*[vals for _, vals in rest])) if rest else [()]
    ys = []
    for combo in ycombos:
        for e in energies:
            lab = ", ".join(f"{p.split('.')[-1]}={v}" for (p, _), v in zip(rest, combo, strict=True))
            if len(energies) > 1:
                lab = f"{lab}, {e}" if lab else e
            ys.append((combo, e, lab or "-"))
    loss = np.full((len(ys), len(xs)), np.nan)
    rate = np.full((len(ys), len(xs)), np.nan)
    for i, (combo, e, _) in enumerate(ys):
        for j, xv in enumerate(grid[0][1] if grid else [None]):
            sel = [
                r
                for r in rows
                if r["energy"] == e
                and (not grid or r[grid[0][0]] == xv)
                and all(r[p] == v for (p, _), v in zip(rest, combo, strict=True))
            ]
            if sel:
                finite = [
                    r["final_loss"]
                    for r in sel
                    if isinstance(r["final_loss"], float) and math.isfinite(r["final_loss"])
                ]
                loss[i, j] = float(np.median(finite)) if finite else np.nan
                rate[i, j] = float(np.mean([bool(r["converged"]) for r in sel]))
    return {
        "x": xs,
        "y": [lab for _, _, lab in ys],
        "xname": grid[0][0] if grid else "",
        "yname": " × ".join([p for p, _ in rest] + (["energy"] if len(energies) > 1 else [])),
        "loss": loss,
        "rate": rate,
    }
