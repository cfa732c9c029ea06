"""Golden memristor device model: the VTEAM-like threshold ODE of :class:`~codegen.ir.DeviceIR`,
integrated exactly for rectangular pulses (the rate is constant while the voltage is).

This is the reference the Verilog-A memristor (an ngspice transient of the same ODE) and the
pulse-level learning model are checked against.  Variation and faults are layered on top by the
learning code through ``rate_scale`` (a per-cell, per-pulse multiplier of the rate).
"""

from __future__ import annotations

import numpy as np

from ..ir import DeviceIR

__all__ = ["g_from_w", "w_from_g", "rate", "apply_pulse", "apply_pulses"]


def g_from_w(dev: DeviceIR, w: np.ndarray | float) -> np.ndarray:
    """Conductance (S) of state ``w`` ∈ [0, 1]."""
    return dev.g_min_S + (dev.g_max_S - dev.g_min_S) * np.asarray(w, dtype=float)


def w_from_g(dev: DeviceIR, g: np.ndarray | float) -> np.ndarray:
    """State ``w`` of conductance ``g`` (S), clipped to [0, 1]."""
    return np.clip((np.asarray(g, dtype=float) - dev.g_min_S) / (dev.g_max_S - dev.g_min_S), 0.0, 1.0)


def rate(dev: DeviceIR, v: np.ndarray | float) -> np.ndarray:
    """Signed state rate dw/dt (1/s) at voltage ``v`` (V) before the window: 0 between the thresholds."""
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


def apply_pulses(
    dev: DeviceIR, w: np.ndarray, counts: np.ndarray, rate_scale: np.ndarray | float = 1.0
) -> np.ndarray:
    """Apply ``counts[i]`` programming pulses to cell ``i``: positive = set pulses of
    ``+pulse_amplitude_V``, negative = reset pulses of ``−pulse_amplitude_V``, each ``pulse_width_s``.

    Pulses of one sign move the state monotonically, so ``n`` pulses equal one pulse ``n`` times
    as long (hard bounds clip once at the end; soft bounds compound exponentially).  ``rate_scale``
    is the summed per-pulse rate multiplier divided by ``|n|`` where variation is modelled.
    """
    w = np.asarray(w, dtype=float)
    counts = np.asarray(counts)
    n = np.abs(counts).astype(float)
    set_w = apply_pulse(dev, w, dev.pulse_amplitude_V, dev.pulse_width_s * n, rate_scale)
    reset_w = apply_pulse(dev, w, -dev.pulse_amplitude_V, dev.pulse_width_s * n, rate_scale)
    return np.where(counts > 0, set_w, np.where(counts < 0, reset_w, w))
