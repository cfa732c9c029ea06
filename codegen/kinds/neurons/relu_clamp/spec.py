"""Spec sub-model of neuron kind ``relu_clamp``: the clip level ``alpha``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ....spec_types import Volts
from .._spec_common import NeuronSpec

__all__ = ["ReluClampNeuron"]


class ReluClampNeuron(NeuronSpec):
    """Neuron ``relu_clamp`` (Hopfield-ResNet ReLUα): the diode pair with v_low = 0 V and v_high = α."""

    kind: Literal["relu_clamp"] = Field("relu_clamp", description="neuron circuit")
    alpha: Volts = Field(6.0, description="ReLUα clip level (V, 0 … 1 kV)", gt=0, le=1e3)
