"""Neuron kind ``diode_pair`` (Kendall et al.): a diode from the node to a source at ``v_high`` and
one from a source at ``v_low`` to the node, so the node is softly clamped to [v_low, v_high]."""

from __future__ import annotations

from typing import Any

import numpy as np

from ....ir import DiodeIR
from ....spec_types import PhysicsError
from ....units import format_quantity
from .. import NeuronKind, register
from .golden import shockley_clamp
from .spec import DiodePairNeuron

__all__ = ["DiodePair"]


@register
class DiodePair(NeuronKind):
    kind = "diode_pair"
    spec = DiodePairNeuron
    summary = "two clamp diodes to sources at v_low and v_high"

    @classmethod
    def clamps(cls, n: Any) -> tuple[float, float]:
        return n.v_low, n.v_high

    @classmethod
    def check(cls, n: Any) -> None:
        if n.v_low >= n.v_high:
            raise PhysicsError(
                "v_low",
                f"must be smaller than v_high, got {format_quantity(n.v_low, 'V')} ≥ {format_quantity(n.v_high, 'V')}",
            )

    @classmethod
    def clamp_diode(cls, x: np.ndarray, d: DiodeIR) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return shockley_clamp(x, d.is_A, d.n * d.vt_V, d.gmin_S, d.reverse)
