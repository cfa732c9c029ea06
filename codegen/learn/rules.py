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

__all__ = ["pulse_codes", "gradient_step", "RULES"]

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
        update = -eta * g  # wanted ΔG (S)
        ratio = np.abs(update) / step  # in steps
        active = (ratio >= dz) & (update != 0)
        n = np.clip(np.rint(ratio), 1, cap) if quant else np.ones_like(ratio)
        out[name] = (np.sign(update) * np.where(active, n, 0)).astype(np.int64)
    return out
