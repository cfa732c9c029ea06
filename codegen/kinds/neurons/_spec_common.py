"""Spec parts every neuron kind shares: the clamp diode's model and the keys of every ``neuron:``
section (``diode``, ``on_output``)."""

from __future__ import annotations

from pydantic import Field, model_validator

from ...spec_types import Amperes, Number, _Model

__all__ = ["Diode", "NeuronSpec"]


class Diode(_Model):
    """Shockley diode I = IS·(exp(V/(N·Vt)) − 1), with ngspice's GMIN in parallel."""

    is_: Amperes = Field(
        1e-12,
        alias="is",
        description="saturation current IS (A; 1e-30 … 1 A, a float's exp() range; ≤ 1 mA without "
        "simulation.allow_extreme)",
        ge=1e-30,
        le=1.0,
    )
    n: Number = Field(
        1.0,
        description="emission coefficient N (dimensionless, 0.1 … 100: N·Vt sets the exponential's scale; "
        "0.5 … 10 without simulation.allow_extreme)",
        ge=0.1,
        le=100,
    )
    temperature: Number = Field(
        27.0,
        description="temperature (°C, −200 … 500: Vt = kT/q must stay > 6 mV so exp(V/(N·Vt)) stays a float; "
        "−55 … 200 °C without simulation.allow_extreme)",
        ge=-200,
        le=500,
    )


class NeuronSpec(_Model):
    """Keys of every ``neuron:`` section; a kind's sub-model adds ``kind: Literal[<kind>]`` and its
    own keys.  A neuron sits at every hidden (and optionally output) node: two clamp diodes to two
    bias sources."""

    kind: str
    diode: Diode = Field(default_factory=Diode, description="diode model of both clamp diodes")
    on_output: bool = Field(False, description="also put a neuron on every output node")

    @model_validator(mode="after")
    def _check(self) -> NeuronSpec:
        from . import neuron_kind  # the registry imports this module

        neuron_kind(self.kind).check(self)  # the kind's own checks (codegen/kinds/neurons/<kind>/)
        return self
