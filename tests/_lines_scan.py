"""The line reader before it was vectorised (issue 15): one segment at a time, a linear search of
the change list per segment, runs merged cell by cell in a dict.  Test oracle only:
``tests/test_controller_lines.py`` checks that :func:`codegen.controller.lines.read_lines` gives the
same segments, runs, counts and faults (in the same order) on random traces."""

# ruff: noqa: E501
from __future__ import annotations

import numpy as np

from codegen.controller.lines import LineReading, Run, Segment, pulses_merge
from codegen.controller.model import CtrlParams, cell_voltages_halves, unpack_levels

Changes = list[tuple[int, int | None]]


def _at(changes: Changes, cyc: int) -> int | None:
    val = None
    for c, v in changes:
        if c > cyc:
            break
        val = v
    return val


def read_lines_scan(
    p: CtrlParams,
    rows: Changes,
    cols: Changes,
    end_cycle: int,
    *,
    cut_cycle: int | None = None,
    xbar: str | None = None,
) -> LineReading:
    """Segments, runs, signed pulse counts and faults of every cell over cycles ``[0, end_cycle)``.

    ``rows``/``cols``: change points of the packed row/column level vectors in clock cycles from
    edge 0 (the value holds until the next change).  ``cut_cycle``: the edge at which a reset ended
    the update, if one did (a run ending there may be a cut pulse).  ``xbar``: name used in the
    messages (default ``p.name``).
    """
    name = p.name if xbar is None else xbar
    cuts = sorted({c for c, _ in rows if c < end_cycle} | {c for c, _ in cols if c < end_cycle} | {0})
    segs: list[Segment] = []
    faults: list[str] = []
    for k, cyc in enumerate(cuts):
        nxt = cuts[k + 1] if k + 1 < len(cuts) else end_cycle
        if nxt <= cyc:
            continue
        rv, cv = _at(rows, cyc), _at(cols, cyc)
        if rv is None or cv is None:
            faults.append(f"{name}: X/Z on the line levels at cycle {cyc}")
            continue
        r_lv, c_lv = unpack_levels(rv, p.rows), unpack_levels(cv, p.cols)
        try:
            dv = cell_voltages_halves(r_lv, c_lv)
        except ValueError as exc:
            faults.append(f"{name} at cycle {cyc}: {exc}")
            continue
        if np.abs(dv).max(initial=0) > 2:
            faults.append(f"{name} at cycle {cyc}: a cell sees more than v_program_V")
        full = np.argwhere(np.abs(dv) >= 2)
        parallel_ok = (
            p.order == "row_parallel"
            and len({int(r) for r, _ in full}) == 1
            and len({int(np.sign(dv[r, c])) for r, c in full}) == 1
        )
        if len(full) > 1 and not parallel_ok:
            faults.append(
                f"{name} at cycle {cyc}: {len(full)} cells see the full amplitude (half-select violated"
                + (
                    ": row_parallel allows only cells of one row with one polarity"
                    if p.order == "row_parallel"
                    else ""
                )
                + f"): {full[:4].tolist()}"
            )
        segs.append(Segment(cyc, nxt - cyc, dv, r_lv, c_lv))
    runs = _runs(segs, p.pulse_width_cycles)
    counts = np.zeros((p.rows, p.cols), dtype=np.int64)
    W = p.pulse_width_cycles
    merge = pulses_merge(p)
    for ru in runs:
        counts[ru.row, ru.col] += ru.polarity * ru.pulses
        cut = cut_cycle is not None and ru.cycle + ru.width_cycles == cut_cycle
        sign = "+" if ru.polarity > 0 else "-"
        what = (
            f"cell ({ru.row},{ru.col}) saw {sign}v_program for {ru.width_cycles} cycles from cycle {ru.cycle}"
        )
        if ru.width_cycles % W and not cut:
            faults.append(f"{name}: {what}, not a whole number of {W}-cycle pulses")
        elif ru.pulses > 1 and not merge:
            faults.append(
                f"{name}: {what}: {ru.pulses} pulses without the "
                + (f"{p.gap_cycles}-cycle gap" if p.order == "row_by_row" else "decision cycle")
                + " the contract puts between them"
            )
    runs.sort(key=lambda q: (q.cycle, q.row, q.col))
    return LineReading.from_segments(name, segs, runs, counts, faults)


def _runs(segs: list[Segment], width_cycles: int) -> list[Run]:
    """Maximal full-amplitude runs per cell (adjacent segments of one polarity merge; a missing
    segment, i.e. an undecodable stretch, ends every run), each carrying ``length // width_cycles``
    full pulses."""
    out: list[Run] = []
    open_runs: dict[tuple[int, int], list[int]] = {}  # cell -> [polarity, start, length]
    last_end = 0
    for s in segs:
        if s.cycle != last_end:
            _close_all(open_runs, out, width_cycles)
        sign = np.sign(s.halves) * (np.abs(s.halves) >= 2)
        for cell in list(open_runs):
            if sign[cell] != open_runs[cell][0]:
                _close(open_runs, cell, out, width_cycles)
        for r, c in np.argwhere(sign != 0):
            cell = (int(r), int(c))
            if cell in open_runs:
                open_runs[cell][2] += s.length
            else:
                open_runs[cell] = [int(sign[cell]), s.cycle, s.length]
        last_end = s.cycle + s.length
    _close_all(open_runs, out, width_cycles)
    return out


_Open = dict


def _close(open_runs: _Open, cell: tuple[int, int], out: list[Run], width_cycles: int) -> None:
    pol, start, length = open_runs.pop(cell)
    out.append(Run(cell[0], cell[1], pol, start, length, length // width_cycles))


def _close_all(open_runs: _Open, out: list[Run], width_cycles: int) -> None:
    for cell in list(open_runs):
        _close(open_runs, cell, out, width_cycles)
