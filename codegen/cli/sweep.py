"""``codegen sweep chip.yaml --param PATH=V1,V2 … --init-seeds K``: the robustness study of docs/background.md §4."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from ..errors import CodegenError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sweep",
        help="train over a grid of spec overrides × initial-conductance seeds (Dask), heatmaps + CSV",
        description=(
            "Train the chip for a fixed budget (training.epochs) at every combination of the --param "
            "values and K initial-conductance seeds, in parallel on Dask (a LocalCluster of worker "
            "processes, or --cluster tcp://host:port). Each finished point is appended to "
            "DIR/points.jsonl at once; running the same command again skips finished points (Ctrl-C "
            "stops a sweep cleanly, exit 130). A folder whose points come from another configuration "
            "(chip.yaml, --epochs, --backend, --converged-loss, dataset or codegen version) is "
            "refused: use a new -o DIR or --fresh. Writes "
            "DIR/sweep.csv and heatmaps of the median final loss and of the fraction of seeds that "
            "converged (final loss ≤ --converged-loss). Example (Kiraz case 1):\n"
            "  codegen sweep examples/kiraz_case1.yaml --param training.learning_rate=1e-9,1e-8 "
            "--param nudge.beta=1e-7,1e-6,1e-3 --init-seeds 8"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("spec", help="path to chip.yaml")
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="PATH=V1,V2,…",
        help="grid axis: a dotted spec path and its values (repeatable; the first is the heatmap's x axis)",
    )
    p.add_argument(
        "--init-seeds",
        type=int,
        default=4,
        metavar="K",
        help="initial-conductance seeds 0..K−1 per point (default 4)",
    )
    p.add_argument(
        "--energy",
        choices=("full", "resistors_only", "both"),
        default="full",
        help="EP energy accounting: full (every component, as the circuit minimises), resistors_only (resistor drops alone), or both (default full)",
    )
    p.add_argument("--epochs", type=int, help="override training.epochs (the budget of every point)")
    p.add_argument(
        "--converged-loss",
        type=float,
        default=5e-5,
        help="final training loss (V²) counted as converged (default 5e-5 = ½(10 mV)²)",
    )
    p.add_argument("--backend", choices=("golden", "spice"), default="golden")
    p.add_argument(
        "--cluster", metavar="tcp://HOST:PORT", help="Dask scheduler to use instead of a LocalCluster"
    )
    p.add_argument(
        "--connect-timeout",
        type=float,
        default=10.0,
        metavar="S",
        help="seconds to wait for the --cluster scheduler to answer (default 10)",
    )
    p.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes, ≥ 1 (default 2)")
    p.add_argument("-o", "--out", metavar="DIR", help="output folder (default build/<name>/sweep)")
    p.add_argument(
        "--fresh",
        action="store_true",
        help="discard the points already in DIR (needed when they come from another configuration)",
    )
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from ..learn.overrides import override, parse_param
    from ..learn.plots import plot_sweep
    from ..learn.sweep import POINTS_FILE, check_cluster_address, load_done, run_sweep, summarise
    from ..load import load_spec
    from ._progress import progress_bar

    # options first: a bad number or address is refused before anything is loaded or started
    if args.init_seeds < 1:
        raise CodegenError(f"--init-seeds must be ≥ 1, got {args.init_seeds}")
    if args.workers < 1:
        raise CodegenError(
            f"--workers must be ≥ 1 (worker processes of the local cluster), got {args.workers}"
        )
    if args.epochs is not None and args.epochs < 1:
        raise CodegenError(f"--epochs must be ≥ 1, got {args.epochs}")
    if not math.isfinite(args.converged_loss) or args.converged_loss < 0:
        raise CodegenError(f"--converged-loss must be a finite loss ≥ 0 (V²), got {args.converged_loss}")
    if not math.isfinite(args.connect_timeout) or args.connect_timeout <= 0:
        raise CodegenError(f"--connect-timeout must be > 0 s, got {args.connect_timeout}")
    if args.cluster:
        check_cluster_address(args.cluster)
    spec = load_spec(args.spec)
    if args.epochs is not None:
        spec = override(spec, {"training.epochs": args.epochs})
    grid = [parse_param(t) for t in args.param]
    energies = ("full", "resistors_only") if args.energy == "both" else (args.energy,)
    out = Path(args.out) if args.out else Path("build") / spec.name / "sweep"
    seeds = list(range(args.init_seeds))
    console = Console(quiet=args.quiet)
    with progress_bar(console, args.quiet) as prog:
        task = None

        def on_start(total: int, already: int) -> None:
            nonlocal task
            console.print(
                f"[bold]{spec.name}[/]: {total} points ({already} already done in {out}), "
                f"{spec.training.epochs} epochs each"
            )
            task = prog.add_task("sweep", total=total, completed=already, info="")

        def on_point(row, n, _total):
            prog.update(
                task,
                completed=n,
                info=f"last: loss {row['final_loss']:.3g} V²{' ✓' if row['converged'] else ''}",
            )

        try:
            rows, ran = run_sweep(
                spec,
                grid,
                seeds,
                out,
                energies=energies,
                backend=args.backend,
                converged_loss=args.converged_loss,
                cluster=args.cluster,
                workers=args.workers,
                connect_timeout_s=args.connect_timeout,
                fresh=args.fresh,
                on_start=on_start,
                on_point=on_point,
            )
        except KeyboardInterrupt:
            prog.stop()
            n = len(load_done(out))
            print(
                f"interrupted: {n} finished points are in {out / POINTS_FILE}; run the same command "
                "again to resume (finished points are not run again)",
                file=sys.stderr,
            )
            return 130
    s = summarise(rows, grid)
    title = f"{spec.name}: {args.init_seeds} seeds, {spec.training.epochs} epochs"
    plot_sweep(s, grid, out, title, args.converged_loss)
    n_conv = sum(bool(r["converged"]) for r in rows)
    errors = sum(1 for r in rows if r.get("error"))
    Console().print(
        f"{ran} points run now, {len(rows) - ran} reused; {n_conv}/{len(rows)} converged, {errors} failed to solve"
    )
    Console().print(f"wrote {out}/points.jsonl, sweep.csv, final_loss.png, convergence.png")
    return 0
