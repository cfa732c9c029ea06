"""Spec sub-model of device kind ``memristor``: the threshold (VTEAM-like) memristor, with the
step per pulse in this project's terms or aihwkit's."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, model_validator

from ....spec_types import Number, PhysicsError, Seconds, Siemens, Volts, _Model
from .._spec_common import Faults, InitialConductance, Variation, check_init, check_pulsed_device

__all__ = ["Aihwkit", "Device"]


class Aihwkit(_Model):
    """A pulsed device in aihwkit's terms (``PulsedDevice`` / ``ConstantStepDevice`` /
    ``SoftBoundsDevice``), in aihwkit's weight units.

    Weights in [w_min, w_max] map linearly onto conductances in [g_min, g_max]:
    ``G = g_min + (w − w_min)·(g_max − g_min)/(w_max − w_min)``.  One up (down) pulse changes the
    weight by ``dw_min·(1 + up_down)`` (``dw_min·(1 − up_down)``), at w = w_min (w = w_max) with soft
    bounds, where the step is ``·(1 − w/w_max)`` up and ``·(1 − w/w_min)`` down.  Defaults are
    aihwkit's ``PulsedDevice`` defaults.  See docs/devices.md for the table.
    """

    dw_min: Number = Field(
        0.001,
        description="mean weight change of one pulse (weight units; with soft bounds, at w = 0), > 0",
        gt=0,
        le=1e3,
    )
    up_down: Number = Field(
        0.0,
        description="up/down bias: up step dw_min·(1 + up_down), down step dw_min·(1 − up_down) "
        "(dimensionless, in (−1, 1))",
        gt=-1,
        lt=1,
    )
    w_min: Number = Field(-0.6, description="weight mapped onto g_min (weight units)", ge=-1e6, le=1e6)
    w_max: Number = Field(0.6, description="weight mapped onto g_max (weight units)", ge=-1e6, le=1e6)
    dw_min_dtod: Number = Field(
        0.3,
        description="device-to-device spread of dw_min (relative σ, ≤ 10) → variation.d2d",
        ge=0,
        le=10,
    )
    dw_min_std: Number = Field(
        0.3,
        description="cycle-to-cycle spread of each pulse's step (relative σ, ≤ 10) → variation.c2c",
        ge=0,
        le=10,
    )


class Device(_Model):
    """Threshold (VTEAM-like) memristor used as a programmable conductance.

    The pulse step is given either in this project's terms (``step_per_pulse``, ``asymmetry``,
    ``variation``) or in aihwkit's (``aihwkit:``), never both for one quantity;
    :meth:`steps_S` and :meth:`sigmas` are the one place where aihwkit's terms become conductances.
    """

    kind: Literal["memristor"] = Field("memristor", description="device kind")
    g_min: Siemens = Field(
        description="lower conductance bound (S, > 0; 1 fS … 1 S without simulation.allow_extreme)",
        gt=0,
        le=1e3,
    )
    g_max: Siemens = Field(
        description="upper conductance bound (S; ≤ 1 S, a 1 Ω cell, without simulation.allow_extreme)",
        gt=0,
        le=1e3,
    )
    step_per_pulse: Siemens | None = Field(
        None,
        description="conductance change of one set pulse at the programming amplitude (S; at least "
        "(g_max − g_min)/1e12, so a full sweep is at most 1e12 pulses); required unless aihwkit: is given",
        gt=0,
        le=1e3,
    )
    aihwkit: Aihwkit | None = Field(
        None,
        description="the step in aihwkit's terms (dw_min, up_down, w_min, w_max, dw_min_dtod, dw_min_std) "
        "instead of step_per_pulse, asymmetry and variation",
    )
    pulse_amplitude: Volts = Field(
        1.2,
        description="programming pulse amplitude across a fully selected cell (V; ≤ 100 V without "
        "simulation.allow_extreme)",
        gt=0,
        le=1e4,
    )
    pulse_width: Seconds = Field(
        1e-6,
        description="programming pulse width (s; 1 ps … 1 s without simulation.allow_extreme)",
        le=1e6,
    )
    v_threshold_set: Volts = Field(
        1.0, description="voltage above which the state grows (V, > 0; ≥ 1 µV, ≤ 1 kV)", le=1e3
    )
    v_threshold_reset: Volts = Field(
        -1.0, description="voltage below which the state shrinks (V, < 0; ≤ −1 µV, ≥ −1 kV)", ge=-1e3
    )
    read_voltage: Volts = Field(0.2, description="read voltage; must leave the state unchanged (V)")
    exponent: Number = Field(
        1.0,
        description="VTEAM rate exponent (dimensionless, 1 … 100: (V/v_th − 1)^exponent must stay a float)",
        ge=1,
        le=100,
    )
    asymmetry: Number = Field(
        0.0,
        description="reset step = step_per_pulse·(1 + asymmetry) (dimensionless, > −1, ≤ 1000)",
        le=1e3,
    )
    soft_bounds: bool = Field(False, description="step shrinks linearly to 0 at the bound it approaches")
    variation: Variation = Field(
        default_factory=Variation, description="device-to-device and cycle-to-cycle variation"
    )
    faults: Faults = Field(default_factory=Faults, description="stuck-at faults")
    init: InitialConductance = Field(
        default_factory=InitialConductance, description="initial conductance distribution"
    )

    def steps_S(self) -> tuple[float, float]:
        """(set, reset) conductance change of one pulse (S), from w = 0 (set) / w = 1 (reset).

        Project terms: ``step_per_pulse`` and ``step_per_pulse·(1 + asymmetry)``.  aihwkit terms,
        span = g_max − g_min: hard bounds ``span·dw_min·(1 ± up_down)/(w_max − w_min)``; soft bounds
        ``span·dw_min·(1 + up_down)/w_max`` and ``span·dw_min·(1 − up_down)/(−w_min)`` (the step at
        the far bound, where aihwkit's factor 1 − w/w_max is (w_max − w_min)/w_max).
        """
        a = self.aihwkit
        if a is None:
            assert self.step_per_pulse is not None
            return self.step_per_pulse, self.step_per_pulse * (1 + self.asymmetry)
        span = self.g_max - self.g_min
        up, down = a.dw_min * (1 + a.up_down), a.dw_min * (1 - a.up_down)
        if self.soft_bounds:
            return span * up / a.w_max, span * down / -a.w_min
        return span * up / (a.w_max - a.w_min), span * down / (a.w_max - a.w_min)

    def sigmas(self) -> tuple[float, float]:
        """(device-to-device, cycle-to-cycle) relative σ of the step (dimensionless)."""
        a = self.aihwkit
        if a is None:
            return self.variation.d2d, self.variation.c2c
        return a.dw_min_dtod, a.dw_min_std

    def _check_spelling(self) -> None:
        a = self.aihwkit
        if a is None:
            if self.step_per_pulse is None:
                raise PhysicsError(
                    "step_per_pulse", "required: give step_per_pulse (S) or an aihwkit: block with dw_min"
                )
            return
        both = [
            ("step_per_pulse", "aihwkit.dw_min", "step_per_pulse" in self.model_fields_set),
            ("asymmetry", "aihwkit.up_down", "asymmetry" in self.model_fields_set),
            ("variation.d2d", "aihwkit.dw_min_dtod", "d2d" in self.variation.model_fields_set),
            ("variation.c2c", "aihwkit.dw_min_std", "c2c" in self.variation.model_fields_set),
        ]
        for ours, theirs, given in both:
            if given:
                raise PhysicsError(
                    ours,
                    f"the device has an aihwkit: block, which gives this quantity as {theirs}; "
                    f"use one spelling: drop {ours} or drop the aihwkit: block",
                )
        if a.w_min >= a.w_max:
            raise PhysicsError("aihwkit.w_min", f"must be < aihwkit.w_max, got {a.w_min:g} ≥ {a.w_max:g}")
        if self.soft_bounds and not a.w_min < 0 < a.w_max:
            raise PhysicsError(
                "aihwkit.w_min",
                f"soft bounds (aihwkit's SoftBoundsDevice) need w_min < 0 < w_max, got [{a.w_min:g}, {a.w_max:g}]",
            )

    @model_validator(mode="after")
    def _physics(self) -> Device:
        self._check_spelling()
        step_name = "step_per_pulse" if self.aihwkit is None else "aihwkit.dw_min"
        dg_set, dg_reset = self.steps_S()
        check_pulsed_device(self, step_name, "asymmetry" if self.aihwkit is None else "aihwkit.up_down")
        span = self.g_max - self.g_min
        # the VTEAM rates of codegen.elab.device: k = (Δg/span)/(t_p·(V_p/v_th − 1)^a) must be a finite float
        for name, vth in (
            ("v_threshold_set", self.v_threshold_set),
            ("v_threshold_reset", -self.v_threshold_reset),
        ):
            over = self.pulse_amplitude / vth - 1
            log_k = -math.log(self.pulse_width) - self.exponent * math.log(over) + math.log(dg_set / span)
            if not -600 < log_k < 600:
                raise PhysicsError(
                    "exponent",
                    f"the rate constant k = (step/span)/(pulse_width·(pulse_amplitude/{name} − 1)^exponent) is "
                    f"e^{log_k:.0f} /s, outside the float range; move pulse_amplitude away from the threshold or "
                    "lower the exponent",
                )
        check_init(self)
        return self
