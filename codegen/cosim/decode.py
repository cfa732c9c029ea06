"""Decode the programming waveform a controller drove onto a crossbar's lines into per-cell pulses.

The controller's outputs are 2-bit line levels (``codegen.controller``: released, GND, V/2, V).  A
capture is the list of change points of the packed row and column level vectors, in clock cycles
from the start edge.  What those levels mean for every cell (segments, runs at full amplitude,
pulses, faults) is decided in one place, :func:`codegen.controller.lines.read_lines`, which the
cocotb testbench calls as well: a maximal run of ``n·pulse_width_cycles`` cycles at ±``v_program_V``
is ``n`` pulses (back to back where ``gap_cycles`` is 0), any other length, half-select violations,
a voltage above ``v_program_V`` and released lines mixed with driven ones are faults.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..controller import CtrlParams, Schedule, expected_outputs
from ..controller.lines import LineReading, Run, Segment, read_lines

__all__ = ["Capture", "Segment", "Run", "Decoded", "decode", "capture_from_schedule"]

#: what every cell of one crossbar saw during one update (segments, runs, signed counts, faults)
Decoded = LineReading


@dataclass
class Capture:
    """Line levels of one crossbar during one update, as change points ``[(cycle, packed), ...]``.

    ``end_cycle``: the edge from which the controller is idle again (all lines released).
    ``packed`` is ``None`` where the simulator showed X/Z.
    """

    xbar: str
    rows: list[tuple[int, int | None]]
    cols: list[tuple[int, int | None]]
    end_cycle: int
    faults: list[str] = field(default_factory=list)  # seen by the capturer (e.g. ``err`` raised)


def decode(p: CtrlParams, cap: Capture) -> Decoded:
    """Segments, runs and signed pulse counts of every cell from a capture, plus the capturer's and
    the line reader's faults (:func:`codegen.controller.lines.read_lines`)."""
    got = read_lines(p, cap.rows, cap.cols, cap.end_cycle, xbar=cap.xbar)
    got.faults[:0] = cap.faults
    return got


def capture_from_schedule(sched: Schedule) -> Capture:
    """The capture the reference controller model (:func:`codegen.controller.schedule`) predicts."""
    exp = expected_outputs(sched)
    return Capture(sched.params.name, list(exp["row_lvl"]), list(exp["col_lvl"]), sched.end_cycle)
