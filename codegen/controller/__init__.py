"""Cycle-accurate reference model of the programming-pulse controller (``rtl`` backend).

The golden model asks :func:`schedule` which pulses each cell receives; the generated cocotb
testbenches compare the RTL's outputs cycle by cycle with :func:`expected_outputs`; what the line
levels mean for each cell (pulses, counts, faults) is read by :func:`read_lines`, for the testbench
and the co-simulation alike.  The timing
contract is written out in ``docs/controller.md``.
"""

from __future__ import annotations

from .lines import LineReading, Run, Segment, pulses_merge, read_lines
from .model import (
    LEVEL_FULL,
    LEVEL_GND,
    LEVEL_HALF,
    LEVEL_RELEASED,
    LEVEL_VOLTS_HALVES,
    CtrlParams,
    Pulse,
    Schedule,
    cell_voltages_halves,
    decode_codes,
    encode_counts,
    expected_outputs,
    pack_levels,
    schedule,
    unpack_levels,
)

__all__ = [
    "LEVEL_RELEASED",
    "LEVEL_GND",
    "LEVEL_HALF",
    "LEVEL_FULL",
    "LEVEL_VOLTS_HALVES",
    "CtrlParams",
    "Pulse",
    "Schedule",
    "cell_voltages_halves",
    "decode_codes",
    "encode_counts",
    "expected_outputs",
    "pack_levels",
    "schedule",
    "unpack_levels",
    "LineReading",
    "Run",
    "Segment",
    "read_lines",
    "pulses_merge",
]
