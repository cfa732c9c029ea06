"""``codegen device chip.yaml``: the Verilog-A memristor in ngspice against the golden pulse model."""

from __future__ import annotations

import argparse

import numpy as np

from ..elab import elaborate
from ..load import load_spec
from ..units import format_si

#: per-pulse step error allowed, relative to the chip's nominal step
REL_LIMIT = 0.01


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "device",
        help="check the Verilog-A memristor in ngspice against the golden pulse model",
        description=(
            "Compile the chip's eqp_memristor with openvaf-r, apply set then reset pulses (amplitude and "
            "width from chip.yaml) in an ngspice transient, compare every conductance step with the golden "
            "model, and hold read / half-select biases to check they leave the state alone. "
            f"Exit 1 if a step is off by more than {REL_LIMIT:.0%} of the nominal step or a read moves G."
        ),
    )
    p.add_argument("spec", help="chip.yaml")
    p.add_argument("--set", dest="n_set", type=int, default=20, help="number of set pulses (default 20)")
    p.add_argument(
        "--reset", dest="n_reset", type=int, default=20, help="number of reset pulses (default 20)"
    )
    p.add_argument("--w0", type=float, default=0.5, help="initial state in [0, 1] (default 0.5)")
    p.add_argument("--workdir", default=None, help="keep the ngspice run folders here")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..run.pulse import crossbar_half_select, memristor_pulse_response, memristor_read_disturb

    chip = elaborate(load_spec(args.spec))
    d = chip.device
    wd = args.workdir
    r = memristor_pulse_response(
        chip,
        n_set=args.n_set,
        n_reset=args.n_reset,
        w0=args.w0,
        workdir=None if wd is None else f"{wd}/pulses",
    )
    dg_s, dg_g = np.asarray(r["dg_spice"]), np.asarray(r["dg_golden"])
    print(
        f"{chip.name}: eqp_memristor in ngspice vs golden model, {args.n_set} set + {args.n_reset} reset pulses "
        f"of ±{format_si(d.pulse_amplitude_V, 'V')} for {format_si(d.pulse_width_s, 's')} from w0 = {args.w0:g}"
    )
    for label, sl in (("set", slice(0, args.n_set)), ("reset", slice(args.n_set, None))):
        if len(dg_s[sl]):
            print(
                f"  {label:5s} step: ngspice {format_si(float(np.mean(np.abs(dg_s[sl]))), 'S')} mean, "
                f"golden {format_si(float(np.mean(np.abs(dg_g[sl]))), 'S')} mean"
            )
    ok_pulse = float(r["max_rel_err"]) < REL_LIMIT
    print(
        f"  max |step error| / nominal step = {float(r['max_rel_err']):.2e} (limit {REL_LIMIT:g})  "
        + ("ok" if ok_pulse else "FAIL")
    )
    disturb = memristor_read_disturb(chip, w0=args.w0, workdir=None if wd is None else f"{wd}/disturb")
    worst = max(abs(v) for v in disturb.values())
    limit = 1e-9 * d.dg_set_S
    biases = ", ".join(f"{v:+g} V" for v in disturb)
    ok_read = worst < limit
    print(
        f"  read disturb at {biases} for 100 pulse widths: max |ΔG| = {worst:.2e} S "
        f"(limit {limit:.0e} S)  " + ("ok" if ok_read else "FAIL")
    )
    ok_xbar = True
    for sign, label in ((1, "set"), (-1, "reset")):
        xb = crossbar_half_select(
            chip, sign=sign, w0=args.w0, workdir=None if wd is None else f"{wd}/half_select_{label}"
        )
        moved = xb["g_after"] - xb["g_before"]
        nominal = d.dg_set_S if sign > 0 else d.dg_reset_S
        err = abs(xb["g_after"][0, 1] - xb["g_golden_after"][0, 1]) / nominal
        others = float(np.abs(np.delete(moved.ravel(), 1)).max())
        ok = err < REL_LIMIT and others < limit
        ok_xbar &= ok
        print(
            f"  V/2 programming, 5 {label} pulses on cell (0, 1) of a 2×3 crossbar: target error {err:.2e} step, "
            f"other cells max |ΔG| = {others:.2e} S  " + ("ok" if ok else "FAIL")
        )
    return 0 if ok_pulse and ok_read and ok_xbar else 1
