"""``codegen rtl-test chip.yaml``: lint, synthesise and simulate the pulse-controller RTL."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from ..elab import elaborate
from ..load import load_spec


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "rtl-test",
        help="lint, synthesise and simulate the pulse-controller RTL against its reference model",
        description=(
            "Render the rtl backend of a chip into DIR (default build/<name>/rtl_test/), then run "
            "Verilator --lint-only -Wall, a Yosys synthesis (cells and flip-flops into "
            "DIR/reports/synth.json) and the generated cocotb tests under Icarus, which compare "
            "every output of the RTL, cycle by cycle, with the reference model codegen.controller. "
            "Exits 1 if the lint or any test fails, 2 on bad input or a missing tool."
        ),
    )
    p.add_argument("spec", help="path to chip.yaml")
    p.add_argument("-o", "--out", metavar="DIR", help="work folder (default: build/<name>/rtl_test)")
    p.add_argument("--seed", type=int, default=1, help="seed of the random code matrices (default 1)")
    p.add_argument("--density", type=float, help="fraction of cells with a non-zero code (default 0.5)")
    p.add_argument("--xbar", action="append", metavar="NAME", help="exercise only this crossbar (repeatable)")
    p.add_argument("--test", action="append", metavar="NAME", help="run only this cocotb test (repeatable)")
    p.add_argument("--waves", action="store_true", help="record an FST waveform (DIR/sim_build/<top>.fst)")
    p.add_argument("--no-lint", action="store_true", help="skip Verilator")
    p.add_argument("--no-synth", action="store_true", help="skip Yosys")
    p.add_argument("--no-sim", action="store_true", help="skip the cocotb simulation")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..errors import CodegenError
    from ..run.rtl import rtl_test

    chip = elaborate(load_spec(args.spec))
    out = Path(args.out) if args.out else Path("build") / chip.name / "rtl_test"
    if args.density is not None and not 0 <= args.density <= 1:
        raise CodegenError(f"--density must lie in [0, 1], not {args.density}")
    known = [name for name, _r, _c in chip.controller.crossbars]
    for name in args.xbar or []:
        if name not in known:
            raise CodegenError(f"--xbar {name}: no such crossbar; {chip.name} has {', '.join(known)}")
    rep = rtl_test(
        chip.name,
        chip.controller,
        out,
        do_lint=not args.no_lint,
        do_synth=not args.no_synth,
        do_sim=not args.no_sim,
        seed=args.seed,
        density=args.density,
        xbars=args.xbar,
        testcases=[t if t.startswith("test_") else f"test_{t}" for t in args.test] if args.test else None,
        waves=args.waves,
    )
    console = Console()
    table = Table(title=f"{chip.name}: pulse-controller RTL in {out}/rtl")
    table.add_column("check")
    table.add_column("result")
    table.add_column("details", overflow="fold")
    if rep.lint is not None:
        table.add_row(
            "verilator -Wall", _ok(rep.lint.ok), "clean" if rep.lint.ok else rep.lint.output[-1500:]
        )
    if rep.synth is not None:
        s = rep.synth
        table.add_row(
            "yosys synth",
            _ok(True),
            f"{s.cells} cells, {s.flip_flops} flip-flops, {s.latches} latches; "
            f"{s.memory_macros} code memories ({s.memory_bits} bits) as RAM macros",
        )
    if rep.sim is not None:
        for name, ok, msg in rep.sim.tests:
            table.add_row(f"cocotb {name}", _ok(ok), "" if ok else msg[:1500])
    console.print(table)
    if rep.sim is not None:
        console.print(
            f"simulation log: {rep.sim.log}" + (f"; waves: {rep.sim.waves}" if rep.sim.waves else "")
        )
    console.print(f"report: {out}/reports/rtl_test.json" + ("; synth.json" if rep.synth else ""))
    return 0 if rep.ok else 1


def _ok(ok: bool) -> str:
    return "[green]pass[/green]" if ok else "[red]FAIL[/red]"
