"""``codegen fit-device pulses.csv``: fit the golden device model to a measured pulse trace."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fit-device",
        help="fit a device: section to a measured conductance-vs-pulse trace (CSV)",
        description=(
            "Read a conductance-vs-pulse-number trace (set and reset trains, several cycles; CSV columns "
            "pulse, polarity (set/reset), conductance_S (S), optional cycle: see docs/devices.md) and fit the "
            "golden device model with scipy.optimize: g_min, g_max, step per pulse, asymmetry, hard or soft "
            "bounds, and the cycle-to-cycle spread of the step (variation.c2c). Writes the device: section "
            "(stdout, or -o FILE) and, with --plot, a PNG of data against fit. The pulse conditions are those "
            "the trace was measured with; they are copied into the section."
        ),
    )
    p.add_argument("trace", help="pulse trace .csv")
    p.add_argument("-o", "--out", default=None, help="write the device: section here (default: stdout)")
    p.add_argument("--plot", default=None, help="write a PNG of data against fit here")
    p.add_argument(
        "--bounds",
        choices=("auto", "hard", "soft"),
        default="auto",
        help="bound model: auto (the better fit, default), hard or soft",
    )
    p.add_argument(
        "--pulse-amplitude", type=float, default=1.2, help="programming amplitude (V, default 1.2)"
    )
    p.add_argument(
        "--pulse-width", type=float, default=1e-6, help="programming pulse width (s, default 1e-6)"
    )
    p.add_argument("--v-threshold-set", type=float, default=1.0, help="set threshold (V, default 1.0)")
    p.add_argument("--v-threshold-reset", type=float, default=-1.0, help="reset threshold (V, default -1.0)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..fit import device_yaml, fit_trace, plot_fit, read_trace
    from ..plan import ensure_writable_dir, write_atomic

    tr = read_trace(args.trace)
    fit = fit_trace(
        tr,
        bounds=args.bounds,
        pulse_amplitude_V=args.pulse_amplitude,
        pulse_width_s=args.pulse_width,
        v_threshold_set_V=args.v_threshold_set,
        v_threshold_reset_V=args.v_threshold_reset,
    )
    text = device_yaml(fit)  # validated by the spec before anything is written
    for path in (args.out, args.plot):
        if path is not None:
            ensure_writable_dir(Path(path).parent)
    for path in (args.out, args.plot):  # created only once the fit and every folder check passed
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    if args.out is None:
        sys.stdout.write(text)
    else:
        write_atomic(args.out, text)
    if args.plot is not None:
        plot_fit(tr, fit, args.plot)
    b = fit.best
    print(
        f"fit-device: {fit.n_pulses} pulses, {fit.n_cycles} cycles: {b.bounds} bounds, g_min {b.g_min_S:.4g} S, "
        f"g_max {b.g_max_S:.4g} S, step_per_pulse {b.step_S:.4g} S, asymmetry {b.asymmetry:+.4f}, "
        f"c2c {fit.c2c:.3f}, read noise {fit.read_noise_S:.3g} S, rms residual {b.rms_S:.3g} S"
        + (f" (wrote {args.out})" if args.out else ""),
        file=sys.stderr,
    )
    return 0
