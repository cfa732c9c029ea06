"""``codegen analyze chip.yaml``: where the neurons sit against their diode knees over the whole
dataset, how much of the input drive the ± pairs cancel, the read margin and the power per sample,
with a plain verdict (:mod:`codegen.analysis.operating_point`; docs/design_rules.md).  Exit status
1 when a layer is linear, saturated or loaded by its diodes, or a read reaches a memristor threshold."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import CodegenError

if TYPE_CHECKING:
    from rich.table import Table

    from ..analysis.operating_point import OperatingPoint


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "analyze",
        help="operating point over the dataset: diode knees, ± cancellation, read margin, power",
        description=(
            "Solve the chip (golden model) for every sample of its dataset and report, per layer, the "
            "node voltages against the clamp diodes' knees (the fraction of operating points in the "
            "nonlinear region, where the diodes' conductance exceeds its rest value by 10 % of the "
            "node's crossbar conductance), how much of the drive at each node the ± pairs cancel, "
            "the read margin (largest drop across any weight against the memristor thresholds, free "
            "and nudged phases) and the power per sample, then a verdict with suggested fixes "
            "(docs/design_rules.md). Exit 1 when a layer is linear, saturated or loaded or a read disturbs "
            "a weight."
        ),
    )
    p.add_argument("spec", help="path to chip.yaml")
    p.add_argument(
        "--conductances",
        metavar="FILE",
        help="analyze at these crossbar conductances (S), e.g. build/<name>/train/conductances.json "
        "from codegen train, instead of the seeded initial ones",
    )
    p.add_argument(
        "--json",
        nargs="?",
        const="-",
        metavar="FILE",
        help="write the report as JSON to FILE, or to stdout (instead of the table) without FILE",
    )
    p.add_argument("--chunk", type=int, default=256, help="samples per golden-model batch (default 256)")
    p.set_defaults(func=run)


def _finite(obj: Any) -> Any:
    """JSON-safe copy: non-finite floats become None."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def report_json(op: OperatingPoint, extra: dict[str, object] | None = None) -> str:
    """Deterministic JSON text of an analysis (sorted keys)."""
    data = {**op.as_dict(), **(extra or {})}
    return json.dumps(_finite(data), indent=1, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"


def _pct(f: float | None) -> str:
    return "—" if f is None else f"{100 * f:.1f}"


def layer_table(op: OperatingPoint, title: str) -> Table:
    """The per-layer table of an analysis."""
    from rich.table import Table

    table = Table(
        title=title,
        caption=(
            "nonlin: the clamp diodes' conductance exceeds its rest value by ≥ 10 % of the node's "
            "crossbar conductance (satur.: ≥ 10×); neurons: that get there for some sample; knees: "
            "half the distance between them (middle of the clamps ± it); cancel: 1 − |Σ G·V| / "
            "Σ G·|V| over the columns driving a node (inputs: the ± input pairs alone)"
        ),
    )
    cols = (
        ("layer", "left"),
        ("|V| p50/p90/max V", "right"),
        ("knees V", "right"),
        ("nonlin %", "right"),
        ("satur. %", "right"),
        ("neurons %", "right"),
        ("cancel % (inputs)", "right"),
        ("status", "center"),
    )
    for c, just in cols:
        table.add_column(c, justify=just)  # type: ignore[arg-type]
    colour = {"ok": "green", "linear": "red", "saturated": "red", "loaded": "red", "unjudged": "dim"}
    for la in op.layers:
        knees = (
            "—"
            if la.knee_low_V is None or la.knee_high_V is None
            else f"±{0.5 * (la.knee_high_V - la.knee_low_V):.3f}"
        )
        canc = _pct(la.cancellation) + (
            f" ({_pct(la.input_cancellation)})" if la.input_cancellation is not None else ""
        )
        table.add_row(
            f"{la.index} {la.role} ({la.neurons})",
            f"{la.abs_v_p50_V:.2g}/{la.abs_v_p90_V:.2g}/{la.abs_v_max_V:.2g}",
            knees,
            _pct(la.frac_nonlinear) if la.judged else "—",
            _pct(la.frac_saturated) if la.judged else "—",
            _pct(la.neurons_reaching_knee) if la.judged else "—",
            canc,
            f"[{colour[la.status]}]{la.status if la.judged else 'no neurons'}[/]",
        )
    return table


def print_report(console, op: OperatingPoint, title: str) -> None:
    """Table, read margin, power and verdict of an analysis on ``console``."""
    console.print(layer_table(op, title), width=max(console.width, 112))
    rd, pw = op.read, op.power
    console.print(
        f"read margin: {rd.margin_V:+.3f} V (largest |ΔV| across a weight {rd.max_abs_dv_V:.3f} V; "
        f"worst cell {rd.crossbar}[{rd.row},{rd.col}] ({rd.src_node} → {rd.dst_node}) at "
        f"{rd.dv_V:+.3f} V, {rd.phase}, sample {rd.sample}; thresholds {rd.v_set_V:+g} / {rd.v_reset_V:+g} V)",
        soft_wrap=True,
    )
    console.print(
        f"power per sample (free phase): {1e3 * pw.dissipated_mean_W:.4g} mW dissipated on average "
        f"(max {1e3 * pw.dissipated_max_W:.4g} mW; resistors {1e3 * pw.resistors_mean_W:.4g} mW, diodes "
        f"{1e3 * pw.diodes_mean_W:.4g} mW), delivered by the sources {1e3 * pw.sources_mean_W:.4g} mW and "
        f"the amplifiers {1e3 * pw.amplifiers_mean_W:.4g} mW",
        soft_wrap=True,
    )
    for line in op.verdict:
        console.print(f"  • {line}", highlight=False, soft_wrap=True)
    console.print("[green]verdict: OK[/]" if op.ok else "[red]verdict: needs attention[/]")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from ..analysis.operating_point import analyze_dataset
    from ..elab import elaborate
    from ..load import load_spec
    from ..model.conductances import read_conductances
    from ..plan import ensure_writable_dir, write_atomic

    if args.chunk < 1:
        raise CodegenError(f"--chunk must be at least 1, got {args.chunk}")
    chip = elaborate(load_spec(args.spec))
    cs = read_conductances(chip, args.conductances) if args.conductances else None
    to_file = args.json not in (None, "-")
    if to_file:
        ensure_writable_dir(Path(args.json).parent, "report folder")
    op = analyze_dataset(chip, None if cs is None else cs.G, chunk=args.chunk)
    where = "initial conductances" if cs is None else f"conductances of {cs.name}"
    extra: dict[str, object] = {
        "conductances": (
            {"source": "initial", "seed": chip.training.seed}
            if cs is None
            else {"source": "file", "file": cs.name, "sha256": cs.sha256}
        )
    }
    if args.json == "-":
        sys.stdout.write(report_json(op, extra))
        return 0 if op.ok else 1
    console = Console()
    print_report(console, op, f"{chip.name}: operating point over {op.samples} samples, {where}")
    if to_file:
        write_atomic(args.json, report_json(op, extra))
        console.print(f"report: {args.json}")
    return 0 if op.ok else 1
