"""Golden equations of device kind ``memristor``: the VTEAM-like threshold ODE of
:class:`~codegen.ir.DeviceIR`, integrated exactly for rectangular pulses (the rate is constant while
the voltage is), its elaboration from the spec and its Verilog-A template's variables."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ....ir import Chip, DeviceIR

__all__ = ["rate", "apply_pulse", "shape_delta", "elaborate", "va_context"]


def rate(dev: DeviceIR, v: np.ndarray | float) -> np.ndarray:
    """Signed state rate dw/dt (1/s) at voltage ``v`` (V) before the window: 0 between the thresholds.

    A Python ``float`` voltage (one pulse's, as :func:`apply_pulse` gets) is looked up in a cache of
    the same function's results per (device, voltage): the co-simulation applies a few distinct
    pulse voltages thousands of times, and numpy on a 0-d array costs ≈ 10 µs a call."""
    if type(v) is float:
        return _rate_at(dev, v)
    return _rate(dev, v)


@functools.lru_cache(maxsize=1024)
def _rate_at(dev: DeviceIR, v: float) -> np.ndarray:
    return _rate(dev, v)


def _rate(dev: DeviceIR, v: np.ndarray | float) -> np.ndarray:
    v = np.asarray(v, dtype=float)
    up = np.where(
        v > dev.v_set_V, dev.k_set_per_s * np.maximum(v / dev.v_set_V - 1.0, 0.0) ** dev.exponent, 0.0
    )
    down = np.where(
        v < dev.v_reset_V, dev.k_reset_per_s * np.maximum(v / dev.v_reset_V - 1.0, 0.0) ** dev.exponent, 0.0
    )
    return up - down


def apply_pulse(
    dev: DeviceIR, w: np.ndarray | float, v: float, width_s: float, rate_scale: np.ndarray | float = 1.0
) -> np.ndarray:
    """State after one rectangular pulse of ``v`` (V) for ``width_s`` (s), exactly.

    Hard bounds: ``w + r·t`` clipped to [0, 1].  Soft bounds: set ``1 − (1 − w)·e^{−r t}``, reset
    ``w·e^{−r t}``.
    """
    w = np.asarray(w, dtype=float)
    r = float(rate(dev, v)) * np.asarray(rate_scale, dtype=float)
    dw = r * width_s
    if not dev.soft_bounds:
        return np.clip(w + dw, 0.0, 1.0)
    return np.where(dw >= 0, 1.0 - (1.0 - w) * np.exp(-dw), w * np.exp(dw))


def shape_delta(dev: DeviceIR, w: np.ndarray, dg: np.ndarray) -> np.ndarray:
    """Soft bounds scale an increase by ``1 − w`` and a decrease by ``w``; hard bounds leave ``dg`` (S)."""
    if dev.soft_bounds:
        return np.where(dg > 0, dg * (1.0 - w), dg * w)
    return dg


def elaborate(d: Any) -> DeviceIR:
    """Derive the VTEAM rates so one programming pulse moves G by the spec's step."""
    span = d.g_max - d.g_min
    dg_set, dg_reset = d.steps_S()  # project or aihwkit terms, mapped once in the spec sub-model
    d2d, c2c = d.sigmas()
    # Δw = k·(V/v_th − 1)^a · t_p  with hard bounds, for a pulse of V = ±pulse_amplitude.
    over_set = (d.pulse_amplitude / d.v_threshold_set - 1) ** d.exponent
    over_reset = (d.pulse_amplitude / -d.v_threshold_reset - 1) ** d.exponent
    i = d.init
    return DeviceIR(
        g_min_S=d.g_min,
        g_max_S=d.g_max,
        dg_set_S=dg_set,
        dg_reset_S=dg_reset,
        pulse_amplitude_V=d.pulse_amplitude,
        pulse_width_s=d.pulse_width,
        v_set_V=d.v_threshold_set,
        v_reset_V=d.v_threshold_reset,
        read_voltage_V=d.read_voltage,
        exponent=d.exponent,
        k_set_per_s=(dg_set / span) / (d.pulse_width * over_set),
        k_reset_per_s=(dg_reset / span) / (d.pulse_width * over_reset),
        soft_bounds=d.soft_bounds,
        d2d_sigma=d2d,
        c2c_sigma=c2c,
        stuck_at_gmin=d.faults.stuck_at_gmin,
        stuck_at_gmax=d.faults.stuck_at_gmax,
        init_distribution=i.distribution,
        init_low_S=d.g_min if i.low is None else i.low,
        init_high_S=d.g_max if i.high is None else i.high,
        init_mean_S=(d.g_min + d.g_max) / 2 if i.mean is None else i.mean,
        init_std_S=i.std,
    )


def va_context(chip: Chip) -> dict[str, object]:
    """Variables of ``templates/veriloga/eqp_memristor.va.j2``."""
    d = chip.device
    from .. import kind_of

    w_init = float(kind_of(d).w_from_g(d, d.init_mean_S))  # the kind's g→w map, clipped to [0, 1]
    return {
        "d": d,
        # 50 steps per programming pulse keep the edges and the soft-bound exponential exact
        # to far below 1 % (docs/veriloga.md)
        "max_step_s": d.pulse_width_s / 50,
        # hold time constant: drift of w during a transient is (w − w0)·t/tau_hold ≈ 1e-15 per µs
        "tau_hold_s": 1e9,
        # hard bounds: final approach to a bound; leaves at most rate·tau_bound ≈ 1e-3 step
        "tau_bound_s": d.pulse_width_s / 1000,
        "w0": w_init,
    }
