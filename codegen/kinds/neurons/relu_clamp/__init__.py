"""Neuron kind ``relu_clamp`` (Hopfield-ResNet ReLUα): the diode pair with v_low = 0 V and
v_high = α (``neuron.alpha``); the same clamp diode as ``diode_pair``."""

from __future__ import annotations

from typing import Any

import numpy as np

from ....ir import DiodeIR
from .. import NeuronKind, register
from ..diode_pair.golden import shockley_clamp
from .spec import ReluClampNeuron

__all__ = ["ReluClamp"]


@register
class ReluClamp(NeuronKind):
    kind = "relu_clamp"
    spec = ReluClampNeuron
    summary = "diode pair clamped to [0, alpha]"

    @classmethod
    def clamps(cls, n: Any) -> tuple[float, float]:
        return 0.0, n.alpha

    @classmethod
    def clamp_diode(cls, x: np.ndarray, d: DiodeIR) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return shockley_clamp(x, d.is_A, d.n * d.vt_V, d.gmin_S, d.reverse)
