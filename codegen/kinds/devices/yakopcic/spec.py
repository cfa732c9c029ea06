"""Spec sub-model of device kind ``yakopcic``: Yakopcic's memristor state equation (Yakopcic,
Taha, Subramanyam, Pino, Rogers, IEEE Electron Device Letters 32(10), 2011, "A Memristor Device
Model"), with the linear read conductance the crossbar's energy function needs."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, model_validator

from ....spec_types import Number, PhysicsError, Seconds, Siemens, Volts, _Model
from .._spec_common import Faults, InitialConductance, Variation, check_init, check_pulsed_device

__all__ = ["YakopcicDevice"]

#: largest pulse amplitude (V): the rate has e^V (Yakopcic's 1 V scale) and must stay a float
MAX_AMPLITUDE_V = 100.0


class YakopcicDevice(_Model):
    """Yakopcic memristor: threshold rate ``A·(e^|V| − e^{V_th})`` beyond each threshold and
    exponential windows that slow the state near its bounds (docs/devices.md).

    ``step_per_pulse`` (S) fixes the set rate: one set pulse from ``G = g_min`` (inside the
    window-free region ``x < x_p``) moves ``G`` by it; ``asymmetry`` fixes the reset step the same
    way from ``g_max``.
    """

    kind: Literal["yakopcic"] = Field(description="device kind: Yakopcic's memristor model")
    g_min: Siemens = Field(description="lower conductance bound (S, > 0)", gt=0, le=1e3)
    g_max: Siemens = Field(description="upper conductance bound (S)", gt=0, le=1e3)
    step_per_pulse: Siemens = Field(
        description="conductance change of one set pulse from g_min (S; sets the set rate A_p)", gt=0, le=1e3
    )
    asymmetry: Number = Field(
        0.0,
        description="reset step from g_max = step_per_pulse·(1 + asymmetry) (dimensionless, > −1)",
        le=1e3,
    )
    pulse_amplitude: Volts = Field(
        1.2, description=f"programming pulse amplitude (V, ≤ {MAX_AMPLITUDE_V:g} V)", gt=0, le=1e4
    )
    pulse_width: Seconds = Field(1e-6, description="programming pulse width (s)", le=1e6)
    v_threshold_set: Volts = Field(1.0, description="V_p: set threshold (V, > 0)", le=1e3)
    v_threshold_reset: Volts = Field(-1.0, description="−V_n: reset threshold (V, < 0)", ge=-1e3)
    read_voltage: Volts = Field(0.2, description="read voltage; must leave the state unchanged (V)")
    x_p: Number = Field(
        0.3, description="state above which the set window slows motion (1, in (0, 1))", gt=0, lt=1
    )
    x_n: Number = Field(
        0.5, description="the reset window slows motion below state 1 − x_n (1, in (0, 1))", gt=0, lt=1
    )
    alpha_p: Number = Field(1.0, description="set window decay constant α_p (1, in (0, 50])", gt=0, le=50)
    alpha_n: Number = Field(5.0, description="reset window decay constant α_n (1, in (0, 50])", gt=0, le=50)
    variation: Variation = Field(
        default_factory=Variation, description="device-to-device and cycle-to-cycle variation"
    )
    faults: Faults = Field(default_factory=Faults, description="stuck-at faults")
    init: InitialConductance = Field(
        default_factory=InitialConductance, description="initial conductance distribution"
    )

    def steps_S(self) -> tuple[float, float]:
        """(set, reset) conductance change of one pulse (S), from g_min (set) / g_max (reset)."""
        return self.step_per_pulse, self.step_per_pulse * (1 + self.asymmetry)

    def sigmas(self) -> tuple[float, float]:
        """(device-to-device, cycle-to-cycle) relative σ of the step (dimensionless)."""
        return self.variation.d2d, self.variation.c2c

    @model_validator(mode="after")
    def _physics(self) -> YakopcicDevice:
        check_pulsed_device(self, "step_per_pulse", "asymmetry")
        if self.pulse_amplitude > MAX_AMPLITUDE_V:
            raise PhysicsError(
                "pulse_amplitude",
                f"the Yakopcic rate grows as e^V: at most {MAX_AMPLITUDE_V:g} V, got {self.pulse_amplitude:g} V",
            )
        span = self.g_max - self.g_min
        dg_set, dg_reset = self.steps_S()
        for name, step, x in (("step_per_pulse", dg_set, self.x_p), ("asymmetry", dg_reset, self.x_n)):
            if step / span > x:
                raise PhysicsError(
                    name,
                    f"one pulse must stay in the window-free region: step/(g_max − g_min) = {step / span:.3g} "
                    f"exceeds {'x_p' if name == 'step_per_pulse' else 'x_n'} = {x:g}",
                )
        for name, vth in (
            ("v_threshold_set", self.v_threshold_set),
            ("v_threshold_reset", -self.v_threshold_reset),
        ):
            drive = math.exp(self.pulse_amplitude) - math.exp(vth)
            log_a = math.log(dg_set / span) - math.log(self.pulse_width) - math.log(drive)
            if not -600 < log_a < 600:
                raise PhysicsError(name, f"the rate constant A = e^{log_a:.0f} /s is outside the float range")
        check_init(self)
        return self
