"""``codegen tune chip.yaml [-o suggested.yaml]``: search input_scale, the clamp levels, the clamp
diodes' IS and the initial conductance range for a chip whose hidden layers work at their diode
knees with every read below the memristor thresholds, and write the suggestion as a chip.yaml with
a comment header saying what changed and why (:mod:`codegen.analysis.tune`).  Never overwrites a
file without ``--force``.  Exit 1 when no setting of the grid meets the rules (nothing written)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import CodegenError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "tune",
        help="choose input_scale, clamps, diode IS and initial conductances for nonlinear hidden layers",
        description=(
            "Grid search with the golden model over input_scale, the clamp levels (neuron.v_low / "
            "v_high), the clamp diodes' saturation current (neuron.diode.is) and the initial "
            "conductance range (device.init.low / high) for a chip whose hidden layers have at least "
            "20 %% of their operating points past a diode knee, none saturated, and whose reads over "
            "the whole dataset stay --min-margin below the memristor thresholds. Fewest changed "
            "knobs first. Writes the suggested chip.yaml (default: <chip>_tuned.yaml beside the "
            "input) with a comment header listing the changes and the analysis before and after."
        ),
    )
    p.add_argument("spec", help="path to chip.yaml")
    p.add_argument(
        "-o", "--output", metavar="FILE", help="suggested spec (default <chip>_tuned.yaml beside it)"
    )
    p.add_argument("--force", action="store_true", help="overwrite the output file if it exists")
    p.add_argument(
        "--min-margin",
        type=float,
        metavar="V",
        help="read margin every candidate keeps below the thresholds (V; default 10 %% of the smaller one)",
    )
    p.add_argument(
        "--search-samples",
        type=int,
        default=128,
        metavar="N",
        help="samples solved per grid point (default 128; the winner is checked on the whole dataset)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from ..analysis.tune import format_changes, tune, tuned_yaml
    from ..load import load_spec
    from ..plan import ensure_writable_dir, write_atomic
    from .analyze import print_report

    if args.search_samples < 1:
        raise CodegenError(f"--search-samples must be at least 1, got {args.search_samples}")
    if args.min_margin is not None and not args.min_margin >= 0:
        raise CodegenError(f"--min-margin must be a voltage ≥ 0 V, got {args.min_margin}")
    spec = load_spec(args.spec)
    src = Path(args.spec)
    out = Path(args.output) if args.output else src.with_name(f"{src.stem}_tuned.yaml")
    if out.is_dir():
        raise CodegenError(f"{out}: is a folder; -o names the suggested chip.yaml file")
    if (out.exists() or out.is_symlink()) and not args.force:
        raise CodegenError(f"{out}: exists; pass --force to overwrite it, or -o another file")
    ensure_writable_dir(out.parent if str(out.parent) else Path("."), "output folder")
    raw = src.read_text(encoding="utf-8")
    console = Console()
    result = tune(spec, min_margin_V=args.min_margin, search_samples=args.search_samples)
    print_report(
        console, result.before, f"{spec.name} as given: operating point over {result.before.samples} samples"
    )
    console.print(
        f"searched {result.tried} grid points ({result.feasible} feasible on the search samples), "
        f"read margin kept ≥ {result.min_margin_V:.3g} V"
    )
    for note in result.notes:
        console.print(f"  {note}", highlight=False)
    if not result.ok or result.after is None:
        be = result.best_effort
        hint = (
            f"; the closest: {', '.join(format_changes(be.changes)) or 'no change'} reaches "
            f"{100 * be.min_nonlinear:.1f} % past a knee at a read margin of {be.margin_V:.3g} V"
            if be is not None
            else ""
        )
        console.print(
            f"[red]no setting of the grid puts every hidden layer at its knees with reads "
            f"{result.min_margin_V:.3g} V below the thresholds{hint}[/]; nothing written",
            highlight=False,
        )
        return 1
    print_report(
        console, result.after, f"{spec.name} tuned: operating point over {result.after.samples} samples"
    )
    text = tuned_yaml(raw, result, args.spec)
    # the suggestion must load as it is written (plain numbers, every check of chip.yaml)
    from ..load import load_spec_text

    load_spec_text(text, str(out))
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out, text)
    if result.changes:
        console.print("changed: " + "; ".join(format_changes(result.changes)), highlight=False)
    else:
        console.print("nothing to change: the chip already meets the rules", highlight=False)
    console.print(f"suggested spec: {out}")
    return 0
