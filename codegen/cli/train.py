"""``codegen train chip.yaml``: train on the chip's dataset; write metrics, plots and the trained
conductances (``conductances.json``, the format of :mod:`codegen.model.conductances`)."""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..ir import Chip
    from ..learn.trainer import TrainResult


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train the chip on its dataset (EP) beside an exact-gradient software baseline",
        description=(
            "Train the chip on its built-in dataset with equilibrium propagation and the spec's update "
            "rule, solving the circuit with the golden model or ngspice in the loop. Writes "
            "metrics.csv / metrics.json and PNG plots (loss and accuracy per epoch, conductance "
            "histograms before/after, pulses per epoch) to DIR (default build/<name>/train). The "
            "software baseline trains the same circuit with exact gradients (implicit "
            "differentiation in the golden model) and the gradient rule, same η and epochs."
        ),
    )
    p.add_argument("spec", help="path to chip.yaml")
    p.add_argument(
        "--backend", choices=("golden", "spice"), default="golden", help="circuit solver (default golden)"
    )
    p.add_argument("--epochs", type=int, help="override training.epochs")
    p.add_argument("--rule", choices=("gradient", "sign-pulse"), help="override training.rule")
    p.add_argument(
        "--set", action="append", default=[], metavar="PATH=VALUE", help="override a spec value (repeatable)"
    )
    p.add_argument(
        "--energy",
        choices=("full", "resistors_only"),
        default="full",
        help="EP energy accounting: full circuit energy, or resistor drops only (default full)",
    )
    p.add_argument("--init-seed", type=int, help="seed of the initial conductances (default training.seed)")
    p.add_argument("--no-baseline", action="store_true", help="skip the exact-gradient software baseline")
    p.add_argument("-o", "--out", metavar="DIR", help="output folder (default build/<name>/train)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from ..elab import elaborate
    from ..learn.backends import make_backend
    from ..learn.datasets import load_dataset
    from ..learn.overrides import override, parse_sets
    from ..learn.plots import plot_conductances, plot_history
    from ..learn.trainer import progress_total, train
    from ..load import load_spec
    from ..plan import ensure_writable_dir
    from ._progress import progress_bar

    spec = load_spec(args.spec)
    sets = parse_sets(args.set)
    if args.rule:
        sets["training.rule"] = args.rule
    if args.epochs is not None:
        sets["training.epochs"] = args.epochs
    if sets:
        spec = override(spec, sets)
    chip = elaborate(spec)
    ds = load_dataset(chip)
    out = Path(args.out) if args.out else Path("build") / chip.name / "train"
    ensure_writable_dir(out, "output folder (-o)")  # before training, not after it
    out.mkdir(parents=True, exist_ok=True)
    console = Console(quiet=args.quiet)
    tr = chip.training
    console.print(
        f"[bold]{chip.name}[/]: dataset {tr.dataset}, {len(ds.x_train)} train / {len(ds.x_test)} test samples, "
        f"rule {tr.rule}, η={tr.learning_rate:g} S²/V², β={chip.nudge.beta_S:g} S "
        f"({'centered' if chip.nudge.centered else 'vanilla'} EP, energy: {args.energy}), backend {args.backend}"
    )
    # progress in operating points solved: each training sample (free, +β and, centered, −β) and
    # the evaluation of both splits before and after every epoch (one per sample)
    phases = 3 if chip.nudge.centered else 2
    runs: dict[str, TrainResult | None] = {"ep": None, "baseline": None}

    def save(complete: bool) -> None:
        _write_results(out, chip, args, runs["ep"], runs["baseline"], complete)

    def run_one(label: str, which: str, backend, per_train_sample: int, **kw):
        def checkpoint(res: TrainResult) -> None:  # after every epoch: what finished is on disk
            with _sigint_deferred():  # Ctrl-C now lands after the files agree with `runs`
                runs[which] = res
                save(complete=False)

        with progress_bar(console, args.quiet) as prog:
            total = progress_total(tr.epochs, len(ds.x_train), len(ds.x_test), per_train_sample)
            task = prog.add_task(label, total=total, info="")

            def on_epoch(m):
                prog.update(task, info=f"epoch {m.epoch} loss {m.train_loss:.3g} V² acc {m.test_acc:.1%}")

            return train(
                chip,
                backend,
                ds,
                init_seed=args.init_seed,
                callback=on_epoch,
                step_callback=lambda n: prog.advance(task, n * per_train_sample),
                eval_callback=lambda n: prog.advance(task, n),
                checkpoint=checkpoint,
                **kw,
            )

    ep_backend = make_backend(args.backend, chip, energy=args.energy)
    if args.backend == "spice":
        console.print(_spice_estimate(ep_backend, ds, tr.epochs, chip.nudge.centered), markup=False)
    try:
        ep = run_one("EP      ", "ep", ep_backend, phases)
        base = None
        if not args.no_baseline:
            base = run_one(
                "baseline",
                "baseline",
                make_backend("golden", chip),
                2,  # the free state and one linear (adjoint) solve per sample
                rule="gradient",
                gradient_source="exact",
            )
    except KeyboardInterrupt:
        print(_interrupted_message(out, tr.epochs, runs["ep"], runs["baseline"]), file=sys.stderr)
        return 130
    rows = _results(ep)
    save(complete=True)
    plot_history(
        rows,
        out / "training.png",
        f"{chip.name}: {ep.rule} rule, {args.backend}",
        baseline=None if base is None else _results(base),
        pulses_label="pulses" if ep.rule == "sign-pulse" else "update",
    )
    d = chip.device
    plot_conductances(
        ep.g_initial,
        ep.g_final,
        out / "conductances.png",
        (d.g_min_S, d.g_max_S),
        title=f"{chip.name}: conductances",
    )
    _plot_outputs(chip, ds, ep, out / "outputs.png")

    table = Table(title=f"{chip.name} after {tr.epochs} epochs")
    for c in ("run", "train loss (V²)", "test loss (V²)", "train acc", "test acc"):
        table.add_column(c, justify="right" if c != "run" else "left")
    for name, res in ((f"EP {ep.rule} ({args.backend})", ep), ("software baseline (exact gradient)", base)):
        if res is not None:
            f = res.final
            table.add_row(
                name, f"{f.train_loss:.3e}", f"{f.test_loss:.3e}", f"{f.train_acc:.1%}", f"{f.test_acc:.1%}"
            )
    Console().print(table)
    if tr.dataset == "kiraz_case1":
        from ..learn.trainer import evaluate

        b = make_backend("golden", chip)
        b.set_conductances(ep.g_final)
        _, _, y = evaluate(b, ds, ds.x_test, ds.labels_test, ds.t_test)
        Console().print(
            f"output {y[0, 0]:.6f} V, target {ds.t_test[0, 0]:g} V, |error| {abs(y[0, 0] - ds.t_test[0, 0]) * 1e3:.3f} mV"
        )
    if ep.rule == "sign-pulse":
        Console().print(f"programming pulses sent: {sum(r['pulses'] for r in rows)}")
    Console().print(
        f"wrote {out}/metrics.csv, metrics.json, timing.json, training.png, conductances.png, "
        "outputs.png, conductances.json",
        markup=False,
    )
    Console().print(
        f"trained chip: codegen build {args.spec} --conductances {out}/conductances.json; "
        f"codegen check {args.spec} --conductances {out}/conductances.json",
        markup=False,
    )
    if args.set:
        Console().print(
            "(--set changed the spec: build and check a chip.yaml with the same changes; the file is "
            "validated against its crossbars and \\[g_min, g_max])"
        )
    return 0


def _spice_estimate(backend, ds, epochs: int, centered: bool) -> str:
    """The up-front line of a spice run: its duration from one timed solve of a few samples × the
    operating points of the run (evaluations: one per sample; training: free, +β and, centered,
    −β per sample), when that is over a minute; else the number of operating points."""
    from ._progress import estimate_line

    n_train, n_test = len(ds.x_train), len(ds.x_test)
    from ..learn.trainer import progress_total

    n_ops = progress_total(epochs, n_train, n_test, 3 if centered else 2)
    probe = ds.x_train[: min(32, n_train)]  # a batch: ngspice's cost per call is spread as in training

    def solve() -> int:
        backend.outputs(probe)
        return len(probe)

    line = estimate_line(solve, n_ops, "ngspice operating points")
    return line or f"{n_ops} ngspice operating points (well under a minute)"


@contextlib.contextmanager
def _sigint_deferred() -> Iterator[None]:
    """Hold SIGINT (Ctrl-C) back while the block runs; it is delivered right after (main thread of
    a POSIX system; elsewhere a no-op)."""
    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not threading.main_thread():
        yield
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _results(res: TrainResult) -> list[dict]:
    """The epochs' metrics without wall times (same chip + seed → same bytes)."""
    return [{k: v for k, v in r.items() if k != "seconds"} for r in res.rows()]


def _write_results(
    out: Path,
    chip: Chip,
    args: argparse.Namespace,
    ep: TrainResult | None,
    base: TrainResult | None,
    complete: bool,
) -> None:
    """Write metrics.json, metrics.csv, timing.json and the EP run's conductances.json (each through
    a temporary file and a rename), from the epochs finished so far; ``complete`` is False while
    training runs (and in what an interrupted run leaves)."""
    from ..learn.trainer import write_text_atomic
    from ..model.conductances import write_conductances

    if ep is None:
        return
    if not complete:  # plots of an earlier run would sit beside these metrics as if they were theirs
        for stale in ("training.png", "conductances.png", "outputs.png"):
            (out / stale).unlink(missing_ok=True)
    tr = chip.training
    init_seed = tr.seed if args.init_seed is None else args.init_seed
    rows = _results(ep)
    timing = {
        "ep": {
            "seconds": ep.seconds,
            "samples_per_s": ep.samples / ep.seconds if ep.seconds else None,
            "epoch_seconds": [r["seconds"] for r in ep.rows()],
        },
        "baseline": None
        if base is None
        else {"seconds": base.seconds, "epoch_seconds": [r["seconds"] for r in base.rows()]},
    }
    write_text_atomic(out / "timing.json", json.dumps(timing, indent=1, sort_keys=True) + "\n")
    metrics: dict[str, Any] = {
        "chip": chip.name,
        "dataset": tr.dataset,
        "backend": args.backend,
        "rule": ep.rule,
        "learning_rate": tr.learning_rate,
        "beta_S": chip.nudge.beta_S,
        "centered": chip.nudge.centered,
        "energy": args.energy,
        "epochs": tr.epochs,
        "epochs_done": len(ep.history) - 1,
        "complete": complete,
        "batch_size": tr.batch_size,
        "seed": tr.seed,
        "init_seed": init_seed,
        "steps": ep.steps,
        "stuck_fraction": ep.extra["stuck_fraction"],
        "history": rows,
        "baseline": None
        if base is None
        else {
            "method": "exact gradient (golden model, implicit differentiation), gradient rule",
            "epochs_done": len(base.history) - 1,
            "history": _results(base),
        },
    }
    write_text_atomic(out / "metrics.json", json.dumps(metrics, indent=1, sort_keys=True) + "\n")
    cols = list(rows[0])
    lines = [",".join(["run"] + cols)]
    for name, res in (("ep", ep), ("baseline", base)):
        if res is not None:
            lines += [",".join([name] + [repr(r[c]) for c in cols]) for r in _results(res)]
    write_text_atomic(out / "metrics.csv", "\n".join(lines) + "\n")
    # the EP run's conductances after its last finished epoch, for `codegen build/check
    # --conductances` (same bytes for the same chip + seeds)
    write_text_atomic(out / "conductances.json", write_conductances(chip, ep.g_final, init_seed))


def _interrupted_message(out: Path, epochs: int, ep: TrainResult | None, base: TrainResult | None) -> str:
    if ep is None:
        return f"interrupted before the first epoch finished; nothing written to {out}"
    done = len(ep.history) - 1
    what = f"interrupted after epoch {done} of {epochs} of the EP run"
    if base is not None:
        what = f"interrupted after epoch {len(base.history) - 1} of {epochs} of the software baseline"
    return (
        f"{what}: {out}/metrics.csv and metrics.json hold every finished epoch, "
        f"{out}/conductances.json the EP run's conductances after epoch {done} "
        "(no plots: run again to finish)"
    )


def _plot_outputs(chip, ds, ep, path: Path) -> None:
    """outputs.png: output vs target (V) on the test split (the training split if there is none),
    at the initial and the trained conductances, solved by the golden model."""
    from ..learn.backends import make_backend
    from ..learn.plots import plot_outputs
    from ..learn.trainer import evaluate

    split = "test" if len(ds.x_test) else "training"
    x, lab, t = (
        (ds.x_test, ds.labels_test, ds.t_test)
        if split == "test"
        else (ds.x_train, ds.labels_train, ds.t_train)
    )
    b = make_backend("golden", chip)
    b.set_conductances(ep.g_initial)
    y0 = evaluate(b, ds, x, lab, t)[2]
    b.set_conductances(ep.g_final)
    y1 = evaluate(b, ds, x, lab, t)[2]
    plot_outputs(t, y0, y1, path, title=f"{chip.name}: outputs against targets", split=split)
