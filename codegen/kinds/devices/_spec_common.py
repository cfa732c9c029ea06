"""Spec parts every device kind shares: variation, faults, initial conductances, and the checks of
a pulsed threshold device (bounds, steps, thresholds against the V/2 programming scheme)."""

from __future__ import annotations

from typing import Any, Literal, Protocol

from pydantic import Field, model_validator

from ...spec_types import Number, PhysicsError, Siemens, _Model
from ...units import format_quantity

__all__ = [
    "Variation",
    "Faults",
    "InitialConductance",
    "PulsedDeviceSpec",
    "check_pulsed_device",
    "check_init",
]


class Variation(_Model):
    """Device variability, as relative standard deviations (dimensionless)."""

    d2d: Number = Field(
        0.0,
        description="device-to-device spread of the step per pulse (relative σ, ≤ 10: beyond that the step is noise)",
        ge=0,
        le=10,
    )
    c2c: Number = Field(
        0.0,
        description="cycle-to-cycle spread of each pulse's step (relative σ, ≤ 10: beyond that the step is noise)",
        ge=0,
        le=10,
    )


class Faults(_Model):
    """Stuck-at faults, as fractions of cells."""

    stuck_at_gmin: Number = Field(0.0, description="fraction of cells stuck at g_min", ge=0, le=1)
    stuck_at_gmax: Number = Field(0.0, description="fraction of cells stuck at g_max", ge=0, le=1)

    @model_validator(mode="after")
    def _sum(self) -> Faults:
        if self.stuck_at_gmin + self.stuck_at_gmax > 1:
            raise PhysicsError("stuck_at_gmax", "stuck_at_gmin + stuck_at_gmax must not exceed 1")
        return self


class InitialConductance(_Model):
    """Distribution of the initial conductances (S), drawn with the training seed."""

    distribution: Literal["uniform", "normal", "constant"] = Field(
        "uniform",
        description="uniform in [low, high], normal(mean, std) clipped to the bounds, or constant = mean",
    )
    low: Siemens | None = Field(None, description="lower end for uniform (S); default g_min")
    high: Siemens | None = Field(None, description="upper end for uniform (S); default g_max")
    mean: Siemens | None = Field(None, description="mean for normal/constant (S); default (g_min+g_max)/2")
    std: Siemens = Field(0.0, description="standard deviation for normal (S, ≤ 1 kS)", ge=0, le=1e3)


def check_pulsed_device(d: Any, step_name: str, reset_name: str) -> None:
    """The checks every pulsed threshold device passes (``d`` a device spec with ``g_min``, ``g_max``,
    ``steps_S()``, ``pulse_width``, ``pulse_amplitude``, ``v_threshold_set``/``_reset``,
    ``read_voltage`` and ``asymmetry``): bounds, step sizes, thresholds against the V/2 programming
    scheme and the read voltage.  ``step_name``/``reset_name``: the spec keys errors of the set and
    reset step name."""
    self = d
    dg_set, dg_reset = d.steps_S()
    if self.g_min <= 0:
        raise PhysicsError("g_min", f"must be > 0 S, got {format_quantity(self.g_min, 'S')}")
    for name, v in (
        ("v_threshold_set", self.v_threshold_set),
        ("v_threshold_reset", -self.v_threshold_reset),
    ):
        if 0 < v < 1e-6:
            raise PhysicsError(name, f"|{name}| must be at least 1 µV, got {format_quantity(v, 'V')}")
    if self.g_min >= self.g_max:
        raise PhysicsError(
            "g_min",
            f"must be smaller than g_max, got g_min={format_quantity(self.g_min, 'S')} ≥ g_max={format_quantity(self.g_max, 'S')}",
        )
    for step in (dg_set, dg_reset):
        if not 0 < step <= self.g_max - self.g_min:
            raise PhysicsError(
                step_name,
                f"a pulse step must be in (0, g_max − g_min] = (0, {format_quantity(self.g_max - self.g_min, 'S')}], "
                f"got {format_quantity(step, 'S')}",
            )
    if self.pulse_width <= 0:
        raise PhysicsError("pulse_width", f"must be > 0 s, got {format_quantity(self.pulse_width, 's')}")
    if self.v_threshold_set <= 0:
        raise PhysicsError(
            "v_threshold_set", f"must be > 0 V, got {format_quantity(self.v_threshold_set, 'V')}"
        )
    if self.v_threshold_reset >= 0:
        raise PhysicsError(
            "v_threshold_reset", f"must be < 0 V, got {format_quantity(self.v_threshold_reset, 'V')}"
        )
    if self.pulse_amplitude <= max(self.v_threshold_set, -self.v_threshold_reset):
        raise PhysicsError(
            "pulse_amplitude",
            f"must exceed both thresholds ({format_quantity(self.v_threshold_set, 'V')}, {format_quantity(-self.v_threshold_reset, 'V')}) to program, got {format_quantity(self.pulse_amplitude, 'V')}",
        )
    if self.pulse_amplitude / 2 >= min(self.v_threshold_set, -self.v_threshold_reset):
        raise PhysicsError(
            "pulse_amplitude",
            f"half-selected cells see {format_quantity(self.pulse_amplitude / 2, 'V')}, which must stay below both thresholds (V/2 scheme)",
        )
    if not -self.v_threshold_reset > abs(self.read_voltage) < self.v_threshold_set:
        raise PhysicsError(
            "read_voltage",
            f"|read_voltage| = {format_quantity(abs(self.read_voltage), 'V')} must stay below both thresholds",
        )
    if self.asymmetry <= -1:
        raise PhysicsError("asymmetry", f"must be > −1, got {self.asymmetry:g}")
    span = self.g_max - self.g_min
    for name, step in ((step_name, dg_set), (reset_name, dg_reset)):
        if step < span * 1e-12:
            raise PhysicsError(
                name,
                f"a {'set' if name == step_name else 'reset'} step of {format_quantity(step, 'S')} needs more than 1e12 "
                f"pulses to cross g_max − g_min = {format_quantity(span, 'S')}; the step must be at least {format_quantity(span * 1e-12, 'S')}",
            )


def check_init(d: Any) -> None:
    """``init.low``/``high``/``mean`` inside [g_min, g_max] and ``low ≤ high``."""
    self = d
    i = self.init
    for name in ("low", "high", "mean"):
        v = getattr(i, name)
        if v is not None and not self.g_min <= v <= self.g_max:
            raise PhysicsError(
                f"init.{name}",
                f"must lie in [g_min, g_max] = [{format_quantity(self.g_min, 'S')}, {format_quantity(self.g_max, 'S')}], got {format_quantity(v, 'S')}",
            )
    if i.low is not None and i.high is not None and i.low > i.high:
        raise PhysicsError(
            "init.low",
            f"must be ≤ init.high, got {format_quantity(i.low, 'S')} > {format_quantity(i.high, 'S')}",
        )


class PulsedDeviceSpec(Protocol):
    """What code outside a device slice may read of ``spec.device`` whatever its kind (the static
    type of the ``device:`` union): the shared fields of docs/extending.md."""

    kind: str
    g_min: float
    g_max: float
    step_per_pulse: float | None
    asymmetry: float
    pulse_amplitude: float
    pulse_width: float
    v_threshold_set: float
    v_threshold_reset: float
    read_voltage: float
    variation: Variation
    faults: Faults
    init: InitialConductance

    def steps_S(self) -> tuple[float, float]: ...

    def sigmas(self) -> tuple[float, float]: ...
