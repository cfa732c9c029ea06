"""Spec sub-model of neuron kind ``diode_pair``: the clamp levels ``v_low`` and ``v_high``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ....spec_types import Volts
from .._spec_common import NeuronSpec

__all__ = ["DiodePairNeuron"]


class DiodePairNeuron(NeuronSpec):
    """Neuron ``diode_pair`` (Kendall et al.): a diode from the node to a source at ``v_high`` and one
    from a source at ``v_low`` to the node, so the node is softly clamped to [v_low, v_high]."""

    kind: Literal["diode_pair"] = Field("diode_pair", description="neuron circuit")
    v_low: Volts = Field(-1.0, description="lower clamp bias source (V, |V| ≤ 1 kV)", ge=-1e3, le=1e3)
    v_high: Volts = Field(1.0, description="upper clamp bias source (V, |V| ≤ 1 kV)", ge=-1e3, le=1e3)
