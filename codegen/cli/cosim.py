"""``codegen cosim chip.yaml``: co-simulate the learning loop (RTL controller + ngspice crossbars +
memristor devices) and check it step by step against the golden model."""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

from ..errors import CodegenError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "cosim",
        help="co-simulate the learning loop (RTL controller + ngspice) against the golden model",
        description=(
            "Run N learning steps with the generated pulse-controller RTL under cocotb + Icarus, "
            "ngspice solving the free and nudged phases, update codes from the SPICE voltage drops "
            "(sign-pulse rule), the pulses the RTL drives decoded from its line levels and applied to "
            "the memristors (golden device model, or an ngspice transient through the Verilog-A "
            "memristor). Every step is compared with the golden model (pulses per cell, conductances, "
            "loss); the first divergence stops the run. Writes cosim.json and cosim.png to DIR "
            "(default build/<name>/cosim); exit 1 on a divergence. A chip whose spec uses the "
            "gradient rule is co-simulated with the sign-pulse rule (the controller only sends "
            "pulses) at the spec's learning rate, dead zone and quantize setting."
        ),
    )
    p.add_argument("spec", help="path to chip.yaml")
    p.add_argument("--steps", type=int, default=50, help="learning steps (default 50)")
    p.add_argument(
        "--device", choices=("behavioral", "transient"), default="behavioral", help="memristor model"
    )
    p.add_argument(
        "--phases",
        choices=("sequential", "simultaneous"),
        default="sequential",
        help="how ngspice solves the phases",
    )
    p.add_argument(
        "--controller",
        choices=("rtl", "model"),
        default="rtl",
        help="rtl: the generated Verilog under cocotb + Icarus (default); model: the Python reference model",
    )
    p.add_argument(
        "--simulator",
        choices=["icarus", "verilator"],
        default="icarus",
        help="RTL simulator for --controller rtl (default icarus; verilator: compiled, faster per "
        "clock cycle, a build of a minute or more)",
    )
    p.add_argument(
        "--codes",
        choices=("python", "analog"),
        default="python",
        help="where the update codes come from: python (the rule on ngspice's EP update, default) or analog "
        "(the peripheral update circuit of analog/eqp_update.sp, in ngspice; docs/update_circuit.md)",
    )
    p.add_argument("--vcd", action="store_true", help="write a VCD of the controller (RTL only)")
    p.add_argument(
        "--learning-rate", type=float, metavar="ETA", help="override training.learning_rate (S²/V²)"
    )
    p.add_argument("--dead-zone", type=float, metavar="STEPS", help="override training.dead_zone (steps)")
    p.add_argument(
        "--quantize", action=argparse.BooleanOptionalAction, default=None, help="override training.quantize"
    )
    p.add_argument(
        "--set", action="append", default=[], metavar="PATH=VALUE", help="override a spec value (repeatable)"
    )
    p.add_argument(
        "--inject-fault",
        metavar="XBAR:ADDR",
        help="generate the RTL with a deliberate fault: the cell at ADDR (row·cols+col) of XBAR gets "
        "its pulses in the wrong direction (to see a divergence report)",
    )
    p.add_argument(
        "--dcosim",
        action="store_true",
        help="instead of the loop: mixed-signal smoke test with the controller inside ngspice (d_cosim + "
        "Verilator) programming Verilog-A memristors with the golden first-step codes of --xbar",
    )
    p.add_argument("--xbar", help="crossbar for --dcosim (default the first)")
    p.add_argument("--keep-transients", action="store_true", help="keep every step's transient run folder")
    p.add_argument("-o", "--out", metavar="DIR", help="output folder (default build/<name>/cosim)")
    p.add_argument("-q", "--quiet", action="store_true", help="no per-step lines")
    p.set_defaults(func=run)


def _fault(text: str | None) -> tuple[str, int] | None:
    if not text:
        return None
    try:
        xbar, addr = text.rsplit(":", 1)
        return xbar, int(addr)
    except ValueError:
        raise CodegenError(f"--inject-fault needs XBAR:ADDR, got {text!r}") from None


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from ..backends.rtl import design
    from ..controller import CtrlParams
    from ..cosim.loop import CosimConfig, ReferenceController, run_loop, validate
    from ..cosim.report import clear_artifacts, write_report
    from ..elab import elaborate
    from ..learn.overrides import override, parse_sets
    from ..load import load_spec

    spec = load_spec(args.spec)
    sets = parse_sets(args.set)
    if sets:
        spec = override(spec, sets)
    chip = elaborate(spec)
    out = Path(args.out) if args.out else Path("build") / chip.name / "cosim"
    cfg = CosimConfig(
        steps=args.steps,
        device=args.device,
        phases=args.phases,
        learning_rate=args.learning_rate,
        dead_zone=args.dead_zone,
        quantize=args.quantize,
        out=out,
        keep_transients=args.keep_transients,
        codes=args.codes,
    )
    if args.dcosim:
        return _run_dcosim(chip, out, args.xbar, args.quiet)
    validate(chip, cfg)
    fault = _fault(args.inject_fault)
    if args.vcd and args.controller != "rtl":
        raise CodegenError("--vcd needs --controller rtl")
    if fault is not None and args.controller != "rtl":
        raise CodegenError("--inject-fault needs --controller rtl")
    # this run's report, result, VCD and divergence folders replace an earlier run's (none stay stale)
    clear_artifacts(out, design(chip.name, chip.controller).top)
    console = Console(quiet=args.quiet, highlight=False)
    rule = cfg.rule(chip)
    if chip.training.rule != "sign-pulse":
        console.print(
            f"[yellow]note[/]: {chip.name} trains with the {chip.training.rule} rule; co-simulating the "
            "sign-pulse rule (the controller only sends pulses)"
        )
    console.print(
        f"[bold]{chip.name}[/]: {args.steps} steps, {args.device} devices, {args.phases} phases, "
        f"controller {args.controller}; sign-pulse rule η = {rule['learning_rate']:g} S²/V², "
        f"dead zone {rule['dead_zone']:g} step, quantize {rule['quantize']}"
    )
    t0 = time.perf_counter()
    if args.controller == "rtl":
        from ..cosim.runner import run_rtl_cosim

        res = run_rtl_cosim(chip, args.spec, sets, cfg, vcd=args.vcd, fault=fault, simulator=args.simulator)
    else:
        ctrl = ReferenceController(CtrlParams.all_from_chip(chip))
        res = asyncio.run(run_loop(chip, cfg, ctrl, log=console.print)).as_dict()
    wall = time.perf_counter() - t0
    res["timing_s"]["wall"] = wall
    n = len(res["steps"])
    res["timing_s"]["steps_per_s"] = n / wall if wall > 0 else 0.0  # builds and start-up included
    js, png = write_report(res, out)
    if args.controller == "rtl" and not args.quiet:
        for r in res["steps"]:
            console.print(
                f"step {r['step']:3d}: loss {r['loss_cosim']:.6g} V² (golden {r['loss_golden']:.6g})  "
                f"pulses {r['pulses']:3d}  max|ΔG| {r['g_err_S']:.2e} S  EP rel err {r['ep_rel_err']:.1e}"
            )
    tab = Table(title=f"{chip.name}: co-simulation vs golden model")
    for c in (
        "steps",
        "final loss cosim (V²)",
        "final loss golden (V²)",
        "max |ΔG| (steps)",
        "ties",
        "result",
    ):
        tab.add_column(c)
    last = res["steps"][-1] if res["steps"] else None
    worst = max((r["g_err_steps"] for r in res["steps"]), default=0.0)
    tab.add_row(
        f"{n}/{args.steps}",
        f"{last['loss_cosim']:.6g}" if last else "-",
        f"{last['loss_golden']:.6g}" if last else "-",
        f"{worst:.2e}",
        str(len(res["ties"])),
        "[green]PASS[/]" if res["passed"] else "[red]FAIL[/]",
    )
    console.print(tab)
    tm = res["timing_s"]
    loop = tm.get("loop_wall", 0.0)
    fixed = ", ".join(
        f"{what} {tm[k]:.2f} s"
        for k, what in (("rtl_build", "RTL build"), ("simulator_overhead", "simulator start"))
        if tm.get(k)
    )
    console.print(
        f"time: {wall:.2f} s wall ({fixed + ', ' if fixed else ''}loop {loop:.2f} s with its setup "
        f"{tm['setup']:.2f} s): {n / loop if loop > 0 else 0.0:.1f} steps/s in the loop, "
        f"{n / (loop - tm['setup']) if loop > tm['setup'] else 0.0:.1f} without its setup; "
        f"ngspice op {tm['ngspice_op']:.2f} s, controller {tm['rtl']:.2f} s, "
        + (
            f"waits for the golden worker {tm['golden'] + tm.get('lines', 0.0) + tm['devices']:.2f} s "
            f"(it worked {tm['golden_worker']:.2f} s: golden model, line reading, devices)"
            if "golden_worker" in tm
            else f"line reading {tm.get('lines', 0.0):.2f} s, devices {tm['devices']:.2f} s, golden {tm['golden']:.2f} s"
        )
    )
    for t in res["ties"][:10]:
        console.print(
            f"[yellow]tie[/] step {t['step']} {t['xbar']}{t['cell']}: code {t['code_cosim']:+d} from ngspice "
            f"({t['update_steps_cosim']:+.4g} steps; golden model at the chip's conductances "
            f"{t['update_steps_golden_at_cosim_G']:+.4g}) vs {t['code_golden']:+d} from the golden run "
            f"({t['update_steps_golden']:+.4g}): a rule boundary between estimates that agree within "
            f"{t['tolerance_steps']:.2g} steps; the golden run follows the chip"
        )
    if len(res["ties"]) > 10:
        console.print(f"... {len(res['ties']) - 10} more ties in cosim.json")
    dv = res["divergence"]
    if dv:
        where = (
            f" {dv['xbar']}" + (f"[{dv['cell'][0]},{dv['cell'][1]}]" if dv.get("cell") else "")
            if dv.get("xbar")
            else ""
        )
        console.print(f"[red]DIVERGENCE[/] at step {dv['step']} ({dv['kind']}{where}): {dv['message']}")
        if dv.get("cosim") is not None:
            console.print(f"  co-simulation: {dv['cosim']:.12g}   golden: {dv['golden']:.12g}")
        console.print("  inspect: " + ", ".join(dv["files"][:12]))
        if res.get("vcd"):
            console.print(f"  controller waves: {res['vcd']}")
    console.print(f"wrote {js} and {png}" + (f"; VCD {res['vcd']}" if res.get("vcd") else ""))
    return 0 if res["passed"] else 1


def _run_dcosim(chip, out: Path, xbar: str | None, quiet: bool) -> int:
    import numpy as np
    from rich.console import Console

    from ..cosim.mixed import dcosim_smoke

    console = Console(quiet=quiet, highlight=False)
    r = dcosim_smoke(chip, out / "dcosim", xbar=xbar)
    console.print(
        f"[bold]{chip.name}[/]: controller inside ngspice (d_cosim + Verilator) programs {r['xbar']} with "
        f"pulse counts {np.asarray(r['counts']).tolist()}"
    )
    for name, key in (("before", "g_before"), ("ngspice", "g_after"), ("golden", "g_golden")):
        console.print(f"  G {name:8s} (µS): {np.round(np.asarray(r[key]) * 1e6, 4).tolist()}")
    ok = r["max_err_steps"] <= 1e-2 and r["done_at_s"] is not None
    done = "never" if r["done_at_s"] is None else f"{r['done_at_s'] * 1e6:.4f} µs"
    console.print(
        f"  max |G_ngspice − G_golden| = {r['max_err_steps']:.2e} step (limit 1e-2); done rose at {done} "
        f"(reference model {r['end_s'] * 1e6:.4f} µs); build {r['build_s']:.1f} s, transient {r['tran_s']:.2f} s  "
        + ("[green]ok[/]" if ok else "[red]FAIL[/]")
    )
    console.print(f"  netlist {r['netlist']}, library {r['library']}")
    return 0 if ok else 1
