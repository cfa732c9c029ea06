"""Decode the programming waveform a controller drove onto a crossbar's lines into per-cell pulses.

The controller's outputs are 2-bit line levels (``codegen.controller``: released, GND, V/2, V).  A
capture is the list of change points of the packed row and column level vectors, in clock cycles
from the start edge.  Between two change points every cell (r, c) sees the constant voltage
``V_row − V_col`` (in units of ``v_program_V/2``).  A cell receives a programming *pulse* only where
it sees the full amplitude (±``v_program_V``): each maximal run of full-amplitude cycles is one
pulse of that run's length.  A correct controller gives every pulse exactly ``pulse_width_cycles``;
runs of another length, more than one cell at full amplitude at once (half-select violated; with
``order: row_parallel`` several cells of one row with one polarity are allowed),
a voltage above ``v_program_V``, or released lines mixed with driven ones are reported as faults.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..controller import CtrlParams, Schedule, cell_voltages_halves, expected_outputs, unpack_levels

__all__ = ["Capture", "Segment", "RunPulse", "Decoded", "decode", "capture_from_schedule"]


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


@dataclass(frozen=True)
class Segment:
    """``length`` cycles from ``cycle`` during which cell (r, c) sees ``halves[r, c]·v_program_V/2``."""

    cycle: int
    length: int
    halves: np.ndarray  # (rows, cols) int
    row_levels: np.ndarray  # (rows,) 2-bit level of each row line
    col_levels: np.ndarray  # (cols,) 2-bit level of each column line


@dataclass(frozen=True)
class RunPulse:
    """One maximal run of full amplitude on one cell: ``polarity`` +1 set, −1 reset."""

    row: int
    col: int
    polarity: int
    cycle: int
    width_cycles: int


@dataclass
class Decoded:
    """What every cell of one crossbar saw during one update."""

    xbar: str
    segments: list[Segment]
    pulses: list[RunPulse]
    counts: np.ndarray  # (rows, cols) signed number of full-width pulses
    faults: list[str] = field(default_factory=list)


def _at(changes: list[tuple[int, int | None]], cyc: int) -> int | None:
    val = None
    for c, v in changes:
        if c > cyc:
            break
        val = v
    return val


def decode(p: CtrlParams, cap: Capture) -> Decoded:
    """Segments, pulses and signed full-width pulse counts of every cell from a capture."""
    cuts = sorted(
        {c for c, _ in cap.rows if c < cap.end_cycle} | {c for c, _ in cap.cols if c < cap.end_cycle} | {0}
    )
    segs: list[Segment] = []
    faults: list[str] = list(cap.faults)
    for k, cyc in enumerate(cuts):
        nxt = cuts[k + 1] if k + 1 < len(cuts) else cap.end_cycle
        if nxt <= cyc:
            continue
        rv, cv = _at(cap.rows, cyc), _at(cap.cols, cyc)
        if rv is None or cv is None:
            faults.append(f"{cap.xbar}: X/Z on the line levels at cycle {cyc}")
            continue
        r_lv, c_lv = unpack_levels(rv, p.rows), unpack_levels(cv, p.cols)
        try:
            dv = cell_voltages_halves(r_lv, c_lv)
        except ValueError as exc:
            faults.append(f"{cap.xbar} at cycle {cyc}: {exc}")
            continue
        if np.abs(dv).max(initial=0) > 2:
            faults.append(f"{cap.xbar} at cycle {cyc}: a cell sees more than v_program_V")
        full = np.argwhere(np.abs(dv) >= 2)
        parallel_ok = (
            p.order == "row_parallel"
            and len({int(r) for r, _ in full}) == 1
            and len({int(np.sign(dv[r, c])) for r, c in full}) == 1
        )
        if len(full) > 1 and not parallel_ok:
            faults.append(
                f"{cap.xbar} at cycle {cyc}: {len(full)} cells see the full amplitude (half-select violated"
                + (
                    ": row_parallel allows only cells of one row with one polarity"
                    if p.order == "row_parallel"
                    else ""
                )
                + f"): {full[:4].tolist()}"
            )
        segs.append(Segment(cyc, nxt - cyc, dv, r_lv, c_lv))
    # maximal full-amplitude runs per cell (adjacent segments of the same polarity merge)
    pulses: list[RunPulse] = []
    open_runs: dict[tuple[int, int], list[int]] = {}  # cell -> [polarity, start, length]
    last_end = 0
    for s in segs:
        if s.cycle != last_end:  # a gap (an undecodable segment) ends every run
            _close_all(open_runs, pulses)
        sign = np.sign(s.halves) * (np.abs(s.halves) >= 2)
        for cell in list(open_runs):
            pol, _start, _len = open_runs[cell]
            if sign[cell] != pol:
                _close(open_runs, cell, pulses)
        for r, c in np.argwhere(sign != 0):
            cell = (int(r), int(c))
            if cell in open_runs:
                open_runs[cell][2] += s.length
            else:
                open_runs[cell] = [int(sign[cell]), s.cycle, s.length]
        last_end = s.cycle + s.length
    _close_all(open_runs, pulses)
    counts = np.zeros((p.rows, p.cols), dtype=np.int64)
    W = p.pulse_width_cycles
    for pu in pulses:
        if pu.width_cycles == W:
            counts[pu.row, pu.col] += pu.polarity
        else:
            faults.append(
                f"{cap.xbar}: cell ({pu.row},{pu.col}) saw {'+' if pu.polarity > 0 else '-'}v_program for "
                f"{pu.width_cycles} cycles from cycle {pu.cycle} (a pulse is {W} cycles)"
            )
    pulses.sort(key=lambda q: (q.cycle, q.row, q.col))
    return Decoded(cap.xbar, segs, pulses, counts, faults)


def _close(open_runs: dict, cell: tuple[int, int], out: list[RunPulse]) -> None:
    pol, start, length = open_runs.pop(cell)
    out.append(RunPulse(cell[0], cell[1], pol, start, length))


def _close_all(open_runs: dict, out: list[RunPulse]) -> None:
    for cell in list(open_runs):
        _close(open_runs, cell, out)


def capture_from_schedule(sched: Schedule) -> Capture:
    """The capture the reference controller model (:func:`codegen.controller.schedule`) predicts."""
    exp = expected_outputs(sched)
    return Capture(sched.params.name, list(exp["row_lvl"]), list(exp["col_lvl"]), sched.end_cycle)
