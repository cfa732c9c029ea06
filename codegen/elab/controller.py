"""Pass ``controller``: crossbar sizes and code widths for the programming-pulse controller."""

from __future__ import annotations

from typing import Any

from ..ir import ControllerIR
from ..spec import Spec


def run(spec: Spec, fields: dict[str, Any]) -> dict[str, Any]:
    c = spec.controller
    return {
        "controller": ControllerIR(
            clock_hz=c.clock_hz,
            pulse_width_cycles=c.pulse_width_cycles,
            gap_cycles=c.gap_cycles,
            max_pulses=c.max_pulses_per_update,
            count_bits=max(1, c.max_pulses_per_update.bit_length()),
            scheme=c.scheme,
            order=c.order,
            crossbars=tuple((xb.name, *xb.shape) for xb in fields["crossbars"]),
            v_program_V=spec.device.pulse_amplitude,
        )
    }
