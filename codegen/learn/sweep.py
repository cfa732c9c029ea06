"""Robustness sweeps (docs/background.md §4): train one chip over a grid of spec overrides × initial seeds.

Each grid point is one training run for a fixed budget (``training.epochs``), from initial
conductances drawn with its own seed.  Points run in parallel through Dask's own scheduler
(``dask.distributed``): a :class:`~dask.distributed.LocalCluster` of worker processes by default, or
an existing cluster at ``tcp://host:port``.  Every finished point is appended at once to
``points.jsonl`` (one JSON object per line), so an interrupted sweep resumes without redoing finished
points; ``sweep.csv`` and the heatmaps are rewritten from that file at the end.

A point's ``key`` hashes its overrides, seed and energy accounting together with the sweep's
*configuration* (:func:`sweep_config`): everything else that determines its result — the resolved
spec (canonical JSON of the validated :class:`~codegen.spec.Spec`, ``training.epochs`` included),
the sha256 of the dataset arrays it trains on, the backend, the convergence threshold and the code
version (:func:`code_version`).  The configuration is recorded in ``sweep.json``; a folder whose
points come from another configuration is refused (:class:`SweepConfigMismatch`) rather than
silently mixed with new ones: use a new folder or ``fresh=True`` (``--fresh``) to discard them.

A point *converged* when its final training loss is at most ``converged_loss`` (V²; default
5e-5 V² = ½·(10 mV)², the Kiraz case-1 criterion |y − t| ≤ 10 mV for one output).
"""

from __future__ import annotations

import contextlib
import csv
import functools
import hashlib
import itertools
import json
import logging
import math
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CodegenError
from ..spec import Spec
from .backends import ENERGIES
from .overrides import override
from .trainer import write_text_atomic

__all__ = [
    "SweepPoint",
    "SweepConfigMismatch",
    "grid_points",
    "run_point",
    "run_sweep",
    "load_done",
    "summarise",
    "sweep_config",
    "config_id",
    "write_config",
    "code_version",
    "check_cluster_address",
    "POINTS_FILE",
    "CONFIG_FILE",
]

POINTS_FILE = "points.jsonl"
CSV_FILE = "sweep.csv"
CONFIG_FILE = "sweep.json"
#: every file a sweep writes into its folder (``fresh=True`` removes exactly these)
OWN_FILES = (POINTS_FILE, CSV_FILE, CONFIG_FILE, "final_loss.png", "convergence.png")
CONFIG_FORMAT = "codegen-sweep/1"
DEFAULT_CONVERGED_LOSS_V2 = 5e-5
DEFAULT_CONNECT_TIMEOUT_S = 10.0


class SweepConfigMismatch(CodegenError):
    """The output folder holds points of another sweep configuration (or of an unknown one)."""


@dataclass(frozen=True)
class SweepPoint:
    params: tuple[tuple[str, Any], ...]  # (dotted path, value) in grid order
    init_seed: int
    energy: str
    config: str = ""  # config_id() of the sweep configuration (spec, data, backend, code, …)

    @property
    def key(self) -> str:
        blob = json.dumps(
            [list(self.params), self.init_seed, self.energy, self.config], sort_keys=True, default=str
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


# --------------------------------------------------------------------------- configuration
_CODE_DIRS_EXCLUDED = ("cli",)  # argument parsing and printing: what they pass on is in the config


def _code_files() -> list[tuple[str, Path]]:
    from ..templating import data_dir

    pkg = Path(__file__).resolve().parents[1]
    files = [
        (f"codegen/{p.relative_to(pkg).as_posix()}", p)
        for p in pkg.rglob("*.py")
        if p.relative_to(pkg).parts[0] not in _CODE_DIRS_EXCLUDED
    ]
    with contextlib.suppress(FileNotFoundError):
        spice = data_dir("templates") / "spice"  # the netlists of the spice backend
        files += [(f"templates/spice/{p.name}", p) for p in spice.glob("*.j2")]
    return sorted(files)


@functools.cache
def code_version() -> str:
    """``<package version>+<12 hex digits>``: the version and a sha256 over the source of every
    module that can change a point's result.

    The digest covers every ``codegen/**/*.py`` except ``codegen/cli`` (whose options that matter
    are part of the configuration themselves) and the spice backend's netlist templates, as
    (sorted relative path, bytes) pairs: the same checkout or wheel gives the same string on every
    machine, and any edit of the model, the trainer or the backends gives another.  (Not the git
    commit: an installed wheel has none, and uncommitted edits would go unnoticed.)
    """
    from .. import __version__

    h = hashlib.sha256()
    for rel, path in _code_files():
        h.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
    return f"{__version__}+{h.hexdigest()[:12]}"


def _dataset_sha256(spec: Spec) -> str:
    """sha256 of the training and test arrays the spec's dataset loads to (whatever their source:
    a bundled file, scikit-learn's copy or a generator), dtype and shape included."""
    from ..elab import elaborate
    from .datasets import load_dataset

    ds = load_dataset(elaborate(spec))
    h = hashlib.sha256()
    for name in ("x_train", "labels_train", "t_train", "x_test", "labels_test", "t_test"):
        a = np.ascontiguousarray(getattr(ds, name))
        h.update(f"{name}:{a.dtype.str}:{a.shape}\0".encode() + a.tobytes())
    return h.hexdigest()


def sweep_config(
    spec: Spec, backend: str = "golden", converged_loss: float = DEFAULT_CONVERGED_LOSS_V2
) -> dict[str, Any]:
    """Everything besides a point's own overrides, seed and energy that determines its result.

    ``spec`` is the resolved base spec (``training.epochs`` and every other option already applied;
    its canonical JSON is stored whole, so a mismatch can name the changed paths); ``backend`` the
    circuit solver (``golden``/``spice``); ``converged_loss`` the threshold (V²) of ``converged``.
    """
    from ..load import spec_hash

    return {
        "format": CONFIG_FORMAT,
        "code_version": code_version(),
        "backend": backend,
        "converged_loss_V2": float(converged_loss),
        "epochs": spec.training.epochs,
        "spec_sha256": spec_hash(spec),
        "dataset_sha256": _dataset_sha256(spec),
        "spec": json.loads(spec.model_dump_json(by_alias=True)),
    }


def config_id(config: dict[str, Any]) -> str:
    """16 hex digits of the sha256 of ``config`` in canonical JSON (sorted keys)."""
    blob = json.dumps(config, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for k, v in data.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: data}


def _differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Human-readable ``what: there → now`` lines between two configurations."""
    lines = []
    labels = {
        "code_version": "code version",
        "backend": "--backend",
        "converged_loss_V2": "--converged-loss (V²)",
        "epochs": "training.epochs (--epochs)",
        "dataset_sha256": "dataset arrays (sha256)",
        "format": "sweep folder format",
    }
    for k, label in labels.items():
        if old.get(k) != new.get(k):
            lines.append(f"{label}: {old.get(k)!r} there, {new.get(k)!r} now")
    fo, fn = _flatten(old.get("spec", {})), _flatten(new.get("spec", {}))
    changed = [p for p in sorted(set(fo) | set(fn)) if fo.get(p) != fn.get(p) and p != "training.epochs"]
    for p in changed[:8]:
        lines.append(f"chip spec {p}: {fo.get(p, '<absent>')!r} there, {fn.get(p, '<absent>')!r} now")
    if len(changed) > 8:
        lines.append(f"… and {len(changed) - 8} more spec values")
    if not lines:
        lines.append("configuration digest differs")
    return lines


def _refuse(out: Path, why: str, details: list[str]) -> SweepConfigMismatch:
    body = "".join(f"\n  {d}" for d in details)
    return SweepConfigMismatch(
        f"{out}: {why}{body}\nReusing those points would mix results of different configurations. "
        f"Write to a new folder (-o DIR), or add --fresh to discard the points in {out}."
    )


def _check_folder(out: Path, config: dict[str, Any], cid: str) -> dict[str, dict]:
    """The rows already finished in ``out`` for configuration ``cid`` (read only); refuse a folder
    of another configuration, or one whose configuration is unknown."""
    cfg_path = out / CONFIG_FILE
    if cfg_path.exists():
        try:
            old = json.loads(cfg_path.read_text(encoding="utf-8"))
            old_cfg, old_id = old["config"], old["config_id"]
        except (OSError, ValueError, KeyError, TypeError):
            raise _refuse(out, f"{CONFIG_FILE} is not a sweep record written by codegen", []) from None
        if old_id != cid:
            raise _refuse(out, "holds sweep points of another configuration:", _differences(old_cfg, config))
    elif (out / POINTS_FILE).exists() and (out / POINTS_FILE).stat().st_size > 0:
        raise _refuse(
            out,
            f"holds {POINTS_FILE} without a {CONFIG_FILE} (written by an older codegen, or by hand): "
            "its configuration is unknown",
            [],
        )
    done = load_done(out)
    foreign = sum(1 for r in done.values() if r.get("config") != cid)
    if foreign:
        raise _refuse(out, f"{POINTS_FILE} holds {foreign} points of another configuration", [])
    return done


def _start_folder(out: Path, config: dict[str, Any], cid: str, fresh: bool) -> None:
    """Create ``out``; with ``fresh`` remove this module's own files there first; record ``config``
    in ``sweep.json``; cut a torn last line of ``points.jsonl``."""
    out.mkdir(parents=True, exist_ok=True)
    if fresh:
        for name in OWN_FILES:
            with contextlib.suppress(FileNotFoundError):
                (out / name).unlink()
    if not (out / CONFIG_FILE).exists():
        write_config(out, config)
    _drop_torn_tail(out / POINTS_FILE)


def write_config(out: Path, config: dict[str, Any]) -> str:
    """Write ``out/sweep.json`` (the record :func:`run_sweep` checks a folder against) for
    ``config`` (:func:`sweep_config`); return its :func:`config_id`, which rows of that folder carry
    as ``config`` and their points as :attr:`SweepPoint.config`."""
    cid = config_id(config)
    doc = {"config": config, "config_id": cid}
    write_text_atomic(out / CONFIG_FILE, json.dumps(doc, indent=1, sort_keys=True) + "\n")
    return cid


def grid_points(
    grid: Sequence[tuple[str, Sequence[Any]]],
    init_seeds: Sequence[int],
    energies: Sequence[str] = ("full",),
    config: str = "",
) -> list[SweepPoint]:
    """Every combination, in a fixed order (first parameter slowest, seeds fastest); ``config`` is
    the :func:`config_id` of the sweep configuration, part of every point's key."""
    for e in energies:
        if e not in ENERGIES:
            raise CodegenError(f"unknown energy accounting {e!r}; choose from {', '.join(ENERGIES)}")
    paths = [p for p, _ in grid]
    if len(set(paths)) != len(paths):
        raise CodegenError(f"a parameter appears twice in the grid: {paths}")
    combos = itertools.product(*[vals for _, vals in grid]) if grid else [()]
    return [
        SweepPoint(tuple(zip(paths, combo, strict=True)), seed, e, config)
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
        "config": point.config,
        "code_version": code_version(),  # of the worker that ran it (checked against the sweep's)
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


_ADDRESS = re.compile(
    r"^(?:(?P<scheme>tcp|tls)://)?(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(?P<port>[0-9]{1,5})$"
)


def check_cluster_address(address: str) -> str:
    """``address`` if it is a Dask scheduler address ``tcp://HOST:PORT`` (also ``tls://``, or
    ``HOST:PORT`` for tcp; an in-process ``inproc://…`` one too), else :class:`CodegenError`."""
    if address.startswith("inproc://") and len(address) > len("inproc://"):
        return address
    m = _ADDRESS.match(address)
    if m is None or not 1 <= int(m["port"]) <= 65535:
        raise CodegenError(
            f"--cluster {address!r} is not a Dask scheduler address: expected tcp://HOST:PORT "
            "(or tls://HOST:PORT) with a port 1–65535, e.g. tcp://127.0.0.1:8786, as "
            "`dask scheduler` prints it"
        )
    return address


@contextlib.contextmanager
def _quiet_dask() -> Iterator[None]:
    """Silence distributed's loggers (connection errors while a cluster shuts down or a scheduler
    cannot be reached are reported by this module in one message instead)."""
    loggers = [logging.getLogger(n) for n in ("distributed", "tornado", "asyncio")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for lg, lv in zip(loggers, levels, strict=True):
            lg.setLevel(lv)


def _client(cluster: str | None, workers: int, processes: bool, connect_timeout_s: float):
    from dask.distributed import Client, LocalCluster

    if cluster:
        check_cluster_address(cluster)
        try:
            with _quiet_dask():
                return Client(cluster, timeout=connect_timeout_s), None
        except (OSError, TimeoutError) as exc:
            raise CodegenError(
                f"cannot reach the Dask scheduler at {cluster} within {connect_timeout_s:g} s "
                f"({type(exc).__name__}). Start one (`dask scheduler`, plus `dask worker {cluster}`), "
                "check the address and port, or leave out --cluster to run on a local cluster"
            ) from None
    # no dashboard; the scheduler's health/metrics HTTP server on a free port (not 8787, which a
    # second sweep on the same machine would collide with).  The worker processes are started with
    # SIGINT ignored (they inherit it): Ctrl-C in a terminal reaches the whole process group, and
    # the workers would die with tracebacks instead of being shut down by this process.
    with _sigint_ignored():
        lc = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=processes,
            dashboard_address=None,
            scheduler_kwargs={"dashboard_address": ":0"},
        )
    return Client(lc), lc


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT while child processes start (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _silence_worker_logs() -> None:
    """Run in each worker of a LocalCluster about to be closed after Ctrl-C."""
    logging.getLogger("distributed").setLevel(logging.CRITICAL + 1)


def _shutdown(client: Any, futures: list, own_client: Any, own_cluster: Any, interrupted: bool) -> None:
    """Close what this call started (its workers stop with it; on a caller's client, cancel the
    points left); after Ctrl-C quietly (no Dask ``CommClosedError`` tracebacks) and within seconds."""
    with _quiet_dask() if interrupted else contextlib.nullcontext():
        if interrupted and futures and own_client is None:  # the caller's client: drop our points
            with contextlib.suppress(Exception):
                client.cancel(futures, force=True)
        if own_cluster is not None and interrupted:  # its workers would log each cancelled point
            with contextlib.suppress(Exception):
                client.run(_silence_worker_logs, wait=True)
        if own_client is not None:  # a client this call made (never the caller's, nor a remote cluster)
            with contextlib.suppress(Exception) if interrupted else contextlib.nullcontext():
                own_client.close(timeout=5 if interrupted else None)
        if own_cluster is not None:
            with contextlib.suppress(Exception) if interrupted else contextlib.nullcontext():
                own_cluster.close(timeout=5 if interrupted else None)


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
    connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
    fresh: bool = False,
    on_start: Callable[[int, int], None] | None = None,
    on_point: Callable[[dict, int, int], None] | None = None,
) -> tuple[list[dict], int]:
    """Run every grid point not yet in ``out/points.jsonl``; return (all rows in grid order, points run now).

    ``client``: a ``dask.distributed.Client`` to use; else one on ``cluster`` (``tcp://host:port``,
    reached within ``connect_timeout_s`` seconds) or on a new LocalCluster of ``workers`` processes
    (threads if ``processes`` is False).  ``backend``: ``golden`` or ``spice``; ``converged_loss``:
    threshold (V²) of a point's ``converged``.  A folder holding points of another configuration
    (see :func:`sweep_config`) raises :class:`SweepConfigMismatch` unless ``fresh``, which discards
    them first.  ``on_start(total, already_done)`` is called before any worker starts,
    ``on_point(row, done, total)`` after each finished point.

    Ctrl-C (``KeyboardInterrupt``) cancels the remaining points, shuts down the cluster this call
    started quietly and propagates; every finished point is already in ``points.jsonl``.
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise CodegenError(f"--workers must be a whole number ≥ 1, got {workers!r}")
    if not (isinstance(connect_timeout_s, int | float) and 0 < connect_timeout_s < math.inf):
        raise CodegenError(f"the connect timeout must be > 0 s and finite, got {connect_timeout_s!r}")
    if not math.isfinite(converged_loss) or converged_loss < 0:
        raise CodegenError(f"--converged-loss must be a finite loss ≥ 0 V², got {converged_loss!r}")
    if cluster:
        check_cluster_address(cluster)
    for path, values in grid:  # fail fast on a bad path or value, before any worker starts
        for v in values:
            override(spec, {path: v})
    if out.exists() and not out.is_dir():
        raise CodegenError(f"{out}: not a folder (the sweep's output folder, -o)")
    config = sweep_config(spec, backend, converged_loss)
    cid = config_id(config)
    points = grid_points(grid, init_seeds, energies, cid)
    done = {} if fresh else _check_folder(out, config, cid)
    todo = [p for p in points if p.key not in done]
    data = spec.model_dump(by_alias=True)
    ran = 0
    own_client, own_cluster = None, None
    if todo and client is None:  # before anything is written: an unreachable scheduler leaves no trace
        client, own_cluster = _client(cluster, workers, processes, connect_timeout_s)
        own_client = client
    try:
        _start_folder(out, config, cid, fresh)
    except BaseException:
        _shutdown(client, [], own_client, own_cluster, True)
        raise
    if on_start is not None:
        on_start(len(points), len(points) - len(todo))
    if todo:
        futures: list = []
        interrupted = False
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
                    if row.get("code_version") != config["code_version"]:
                        raise CodegenError(
                            f"a Dask worker runs codegen {row.get('code_version')}, this process "
                            f"{config['code_version']}: its points would not be this sweep's. Install "
                            f"the same codegen on every worker of {cluster or 'the cluster'}"
                        )
                    fh.write(json.dumps(row, sort_keys=True, default=float) + "\n")
                    fh.flush()
                    done[row["key"]] = row
                    ran += 1
                    if on_point is not None:
                        on_point(row, len(points) - len(todo) + ran, len(points))
        except BaseException:  # Ctrl-C, or a point that must not be recorded: stop the rest
            interrupted = True
            raise
        finally:
            _shutdown(client, futures, own_client, own_cluster, interrupted)
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
