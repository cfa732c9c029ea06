"""Golden device model: each device kind's equations (:mod:`codegen.kinds.devices`), reached
through the kind of the elaborated device.

This is the reference the Verilog-A memristor (an ngspice transient of the same ODE) and the
pulse-level learning model are checked against.  Variation and faults are layered on top by the
learning code through ``rate_scale`` (a per-cell, per-pulse multiplier of the rate).
"""

from __future__ import annotations

import numpy as np

from ..ir import PulsedDeviceIR
from ..kinds.devices import kind_of

__all__ = ["g_from_w", "w_from_g", "rate", "apply_pulse", "apply_pulses"]


def g_from_w(dev: PulsedDeviceIR, w: np.ndarray | float) -> np.ndarray:
    """Conductance (S) of state ``w`` ∈ [0, 1]."""
    return kind_of(dev).g_from_w(dev, w)


def w_from_g(dev: PulsedDeviceIR, g: np.ndarray | float) -> np.ndarray:
    """State ``w`` of conductance ``g`` (S), clipped to [0, 1]."""
    return kind_of(dev).w_from_g(dev, g)


def rate(dev: PulsedDeviceIR, v: np.ndarray | float) -> np.ndarray:
    """Signed state rate dw/dt (1/s) at voltage ``v`` (V) before the window: 0 between the thresholds."""
    return kind_of(dev).rate(dev, v)


def apply_pulse(
    dev: PulsedDeviceIR, w: np.ndarray | float, v: float, width_s: float, rate_scale: np.ndarray | float = 1.0
) -> np.ndarray:
    """State after one rectangular pulse of ``v`` (V) for ``width_s`` (s), by the device's kind."""
    return kind_of(dev).apply_pulse(dev, w, v, width_s, rate_scale)


def apply_pulses(
    dev: PulsedDeviceIR, w: np.ndarray, counts: np.ndarray, rate_scale: np.ndarray | float = 1.0
) -> np.ndarray:
    """Apply ``counts[i]`` programming pulses to cell ``i``: positive = set pulses of
    ``+pulse_amplitude_V``, negative = reset pulses of ``−pulse_amplitude_V``, each ``pulse_width_s``.

    Every kind's state ODE is autonomous while the voltage is constant, so ``n`` pulses of one sign
    equal one pulse ``n`` times as long.  ``rate_scale`` is the summed per-pulse rate multiplier
    divided by ``|n|`` where variation is modelled.
    """
    w = np.asarray(w, dtype=float)
    counts = np.asarray(counts)
    n = np.abs(counts).astype(float)
    set_w = apply_pulse(dev, w, dev.pulse_amplitude_V, dev.pulse_width_s * n, rate_scale)
    reset_w = apply_pulse(dev, w, -dev.pulse_amplitude_V, dev.pulse_width_s * n, rate_scale)
    return np.where(counts > 0, set_w, np.where(counts < 0, reset_w, w))
