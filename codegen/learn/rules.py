"""Update rules: EP gradients (V²/S) → conductance changes (S) or signed pulse counts.

* ``gradient``: ``ΔG = −η·∂L/∂G`` (``η`` = ``training.learning_rate``, S²/V²), then clipped to
  ``[g_min, g_max]`` by the devices.
* ``sign-pulse`` (docs/background.md §2): per cell, fixed-size programming pulses in the direction of the EP
  update ``−sign(∂L/∂G)``; no pulse where ``|η·∂L/∂G| < dead_zone·step`` (``step`` =
  ``dg_set_S``, the step per pulse); one pulse per update, or with ``quantize`` the magnitude
  ``|η·∂L/∂G|/step`` rounded into ``1..max_pulses``.

:func:`pulse_codes` returns the signed pulse count per cell and crossbar: exactly the update code
the RTL programming controller consumes (``|count| ≤ controller.max_pulses``, sign = direction).
"""

from __future__ import annotations

import numpy as np

from ..errors import CodegenError
from ..ir import Chip

__all__ = ["pulse_codes", "pulse_counts", "rule_boundaries", "gradient_step", "RULES"]

RULES = ("gradient", "sign-pulse")


def gradient_step(
    gradients: dict[str, np.ndarray], chip: Chip, learning_rate: float | None = None
) -> dict[str, np.ndarray]:
    """Conductance change ``ΔG = −η·∂L/∂G`` (S) per crossbar; ``η`` defaults to ``training.learning_rate``."""
    eta = chip.training.learning_rate if learning_rate is None else learning_rate
    return {k: -eta * np.asarray(g, dtype=float) for k, g in gradients.items()}


def pulse_codes(
    gradients: dict[str, np.ndarray],
    chip: Chip,
    *,
    learning_rate: float | None = None,
    dead_zone: float | None = None,
    quantize: bool | None = None,
) -> dict[str, np.ndarray]:
    """Signed pulse counts (int64, shape of each crossbar) of the sign-pulse rule.

    ``gradients``: dict crossbar name → ∂L/∂G (V²/S).  Keyword arguments override
    ``chip.training`` (``learning_rate`` η in S²/V², ``dead_zone`` in steps, ``quantize``).
    A positive count asks for that many set pulses (G up), a negative one for reset pulses.
    """
    tr = chip.training
    eta = tr.learning_rate if learning_rate is None else learning_rate
    dz = tr.dead_zone if dead_zone is None else dead_zone
    quant = tr.quantize if quantize is None else quantize
    cap = chip.controller.max_pulses
    step = chip.device.dg_set_S
    out: dict[str, np.ndarray] = {}
    for name, g in gradients.items():
        g = np.asarray(g, dtype=float)
        if not np.all(np.isfinite(g)):
            raise CodegenError(f"pulse_codes: gradient of {name} is not finite")
        out[name] = pulse_counts(-eta * g / step, dz, quant, cap)
    return out


def pulse_counts(update_steps: np.ndarray, dead_zone: float, quantize: bool, cap: int) -> np.ndarray:
    """The decision of the sign-pulse rule, written once: signed pulse counts (int64) of the wanted
    updates ``update_steps = −η·∂L/∂G / step`` (in steps).  No pulse where ``|update| < dead_zone``
    (or the update is 0); else one pulse, or with ``quantize`` ``|update|`` rounded (half to even)
    into ``1..cap``.  Its thresholds are :func:`rule_boundaries`."""
    update = np.asarray(update_steps, dtype=float)
    ratio = np.abs(update)
    active = (ratio >= dead_zone) & (update != 0)
    n = np.clip(np.rint(ratio), 1, cap) if quantize else np.ones_like(ratio)
    return (np.sign(update) * np.where(active, n, 0)).astype(np.int64)


def rule_boundaries(dead_zone: float, quantize: bool, cap: int) -> np.ndarray:
    """Decision boundaries of :func:`pulse_counts` on ``|η·∂C/∂G|/step`` (and 0 for the sign):
    the dead zone and, with ``quantize``, the rounding points ``k + ½`` between ``k`` and ``k + 1``
    pulses (``k = 1 … cap − 1``)."""
    b = [0.0, dead_zone]
    if quantize:
        b += [k + 0.5 for k in range(1, cap)]
    return np.unique(np.array(b))
