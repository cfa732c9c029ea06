"""What the row and column line levels of one crossbar mean for its cells: the one interpretation.

The controller drives 2-bit line levels (:data:`~codegen.controller.model.LEVEL_RELEASED`, GND,
V/2, V).  Between two change points of the packed row and column level vectors every cell (r, c)
sees the constant voltage ``V_row − V_col`` (in units of ``v_program_V/2``).  This module turns
such a trace into what every cell received; the cocotb testbench (``sim/eqp_pulse_tb.py``) and the
co-simulation (:mod:`codegen.cosim.decode`) both call :func:`read_lines`, so the RTL is judged by
the same rule everywhere.

The rule, from the timing contract (``docs/controller.md``, :func:`codegen.controller.schedule`):

* a cell is programmed only while it sees the full amplitude ±``v_program_V``; a maximal *run* of
  ``L`` consecutive cycles at one polarity carries ``L / W`` pulses (``W`` = ``pulse_width_cycles``).
  With ``gap_cycles: 0`` and ``order: row_by_row`` the pulses of one cell follow each other with no
  cycle in between, so ``n`` pulses are one run of ``n·W`` cycles on the lines; in every other
  configuration the contract separates pulses (a gap, or row-parallel's decision cycle), so a run
  longer than ``W`` is a fault ("pulses without the gap");
* ``L`` not a multiple of ``W`` is a fault, except for a run that ends at ``cut_cycle`` (a reset cut
  its last pulse short: that pulse does not count, as in the reference model);
* more than one cell at full amplitude at once violates half-select (``order: row_parallel`` allows
  several cells of one row with one polarity), a cell above ``v_program_V``, released lines mixed
  with driven ones, and X/Z levels are faults.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from .model import LEVEL_RELEASED, CtrlParams, cell_voltages_halves, driven_halves, unpack_levels

__all__ = ["Segment", "Run", "LineReading", "read_lines", "pulses_merge"]

#: change points ``[(cycle, packed level vector or None for X/Z), ...]``, first at cycle 0
Changes = list[tuple[int, int | None]]


@dataclass(frozen=True)
class Segment:
    """``length`` cycles from ``cycle`` during which cell (r, c) sees ``halves[r, c]·v_program_V/2``."""

    cycle: int
    length: int
    halves: np.ndarray  # (rows, cols) int
    row_levels: np.ndarray  # (rows,) 2-bit level of each row line
    col_levels: np.ndarray  # (cols,) 2-bit level of each column line


@dataclass(frozen=True)
class Run:
    """One maximal run at full amplitude on one cell: ``polarity`` +1 set, −1 reset, from ``cycle``
    for ``width_cycles`` cycles, carrying ``pulses`` full pulses (``width_cycles // W``)."""

    row: int
    col: int
    polarity: int
    cycle: int
    width_cycles: int
    pulses: int


@dataclass
class LineReading:
    """What every cell of one crossbar saw during one update.

    The segments are kept as arrays (one row per segment, in time order), which is what the device
    models read; :attr:`segments` gives them as :class:`Segment` objects, made on first use (on
    xor, building them for every update was a quarter of the reader's time)."""

    xbar: str
    halves: np.ndarray  # (segments, rows, cols) int: each cell's voltage in units of v_program_V/2
    cycles: np.ndarray  # (segments,) int: first cycle of each segment
    lengths: np.ndarray  # (segments,) int: its length in cycles
    row_levels: np.ndarray  # (segments, rows) 2-bit level of each row line
    col_levels: np.ndarray  # (segments, cols) 2-bit level of each column line
    #: (runs, 6) int: row, col, polarity, cycle, width_cycles, pulses of each :class:`Run`, by
    #: (cycle, row, col)
    run_table: np.ndarray
    counts: np.ndarray  # (rows, cols) signed number of full pulses
    faults: list[str] = field(default_factory=list)

    @cached_property
    def runs(self) -> list[Run]:
        """The runs one by one, by (cycle, row, col)."""
        return [Run(*r) for r in self.run_table.tolist()]

    def __reduce__(self):
        # the arrays only (the Segment and Run objects are made again where they are asked for):
        # the co-simulation's worker sends a reading per crossbar and step
        return (
            LineReading,
            (
                self.xbar,
                self.halves,
                self.cycles,
                self.lengths,
                self.row_levels,
                self.col_levels,
                self.run_table,
                self.counts,
                self.faults,
            ),
        )

    @cached_property
    def segments(self) -> list[Segment]:
        """The segments one by one."""
        return [
            Segment(c, ln, h, r, k)
            for c, ln, h, r, k in zip(
                self.cycles.tolist(),
                self.lengths.tolist(),
                self.halves,
                self.row_levels,
                self.col_levels,
                strict=True,
            )
        ]

    @classmethod
    def from_segments(
        cls, xbar: str, segments: list[Segment], runs: list[Run], counts: np.ndarray, faults: list[str]
    ) -> LineReading:
        """A reading from its segments and runs one by one (``counts`` gives the crossbar's shape;
        ``runs`` by (cycle, row, col))."""
        n_r, n_c = counts.shape
        table = np.array(
            [[q.row, q.col, q.polarity, q.cycle, q.width_cycles, q.pulses] for q in runs], dtype=np.int64
        ).reshape(len(runs), 6)
        return cls(
            xbar,
            np.array([s.halves for s in segments], dtype=np.int64).reshape(len(segments), n_r, n_c),
            np.array([s.cycle for s in segments], dtype=np.int64),
            np.array([s.length for s in segments], dtype=np.int64),
            np.array([s.row_levels for s in segments], dtype=np.int64).reshape(len(segments), n_r),
            np.array([s.col_levels for s in segments], dtype=np.int64).reshape(len(segments), n_c),
            table,
            counts,
            faults,
        )


def pulses_merge(p: CtrlParams) -> bool:
    """True where the contract puts a cell's pulses back to back (no cycle between them on the lines):
    ``gap_cycles`` 0 with ``order: row_by_row``."""
    return p.gap_cycles == 0 and p.order == "row_by_row"


def _at(changes: Changes, cyc: int) -> int | None:
    val = None
    for c, v in changes:
        if c > cyc:
            break
        val = v
    return val


def _values_at(changes: Changes, cuts: list[int]) -> list[int | None]:
    """The packed value in force at every cycle of ``cuts`` (the last change at or before it).
    (``bisect`` on the list, not numpy: an update has tens of changes, where numpy's per-call cost
    was most of the time.)"""
    cyc = [c for c, _ in changes]
    if any(
        b < a for a, b in zip(cyc, cyc[1:], strict=False)
    ):  # not in time order: the scan :func:`_at` defines
        return [_at(changes, c) for c in cuts]
    out: list[int | None] = []
    for c in cuts:
        i = bisect_right(cyc, c) - 1
        out.append(changes[i][1] if i >= 0 else None)
    return out


def _unpack_all(values: list[int | None], n: int) -> tuple[np.ndarray, np.ndarray]:
    """(len(values), n) levels of packed vectors (each distinct value unpacked once) and a mask of
    the ``None`` (X/Z) entries (their rows read as released)."""
    xz = np.array([v is None for v in values], dtype=bool)
    if n <= 31:  # fits an int64: all at once (line i = bits [2i+1:2i], as unpack_levels reads them)
        packed = np.array([0 if v is None else v for v in values], dtype=np.int64)
        out = (packed[:, None] >> (2 * np.arange(n, dtype=np.int64))[None, :]) & 3
        out[xz] = LEVEL_RELEASED
        return out, xz
    cache: dict[int, np.ndarray] = {}
    released = np.full(n, LEVEL_RELEASED, dtype=np.int64)
    out = np.empty((len(values), n), dtype=np.int64)
    for k, v in enumerate(values):
        if v is None:
            out[k] = released
            continue
        lv = cache.get(v)
        if lv is None:
            lv = cache[v] = unpack_levels(v, n)
        out[k] = lv
    return out, xz


def _segment(
    p: CtrlParams, name: str, cyc: int, length: int, rv: int | None, cv: int | None, faults: list[str]
) -> Segment | None:
    """One segment read on its own, with its faults (the rule; :func:`read_lines` sends only the
    segments its array checks flag here)."""
    if rv is None or cv is None:
        faults.append(f"{name}: X/Z on the line levels at cycle {cyc}")
        return None
    r_lv, c_lv = unpack_levels(rv, p.rows), unpack_levels(cv, p.cols)
    try:
        dv = cell_voltages_halves(r_lv, c_lv)
    except ValueError as exc:
        faults.append(f"{name} at cycle {cyc}: {exc}")
        return None
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
    return Segment(cyc, length, dv, r_lv, c_lv)


def read_lines(
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

    All segments are decoded at once with array operations; a segment they flag (X/Z, released
    lines, a voltage above ``v_program_V``, several cells at full amplitude) is read again on its
    own by :func:`_segment`, which writes its faults, so faults keep their order.
    """
    name = p.name if xbar is None else xbar
    cuts = sorted({c for c, _ in rows if c < end_cycle} | {c for c, _ in cols if c < end_cycle} | {0})
    nxts = [*cuts[1:], end_cycle]
    keep = [k for k in range(len(cuts)) if nxts[k] > cuts[k]]
    cuts = [cuts[k] for k in keep]
    nxts = [nxts[k] for k in keep]
    rvals, cvals = _values_at(rows, cuts), _values_at(cols, cuts)
    R, r_xz = _unpack_all(rvals, p.rows)
    C, c_xz = _unpack_all(cvals, p.cols)
    rel_r, rel_c = R == LEVEL_RELEASED, C == LEVEL_RELEASED
    idle = rel_r.all(axis=1) & rel_c.all(axis=1)
    mixed = (rel_r.any(axis=1) | rel_c.any(axis=1)) & ~idle
    dv = driven_halves(R, C)  # every segment at once (the released checks are the masks above)
    dv[idle] = 0
    mag = np.abs(dv)
    flagged = r_xz | c_xz | mixed
    if len(cuts):
        flagged |= (mag.max(axis=(1, 2)) > 2) | ((mag >= 2).sum(axis=(1, 2)) > 1)
    faults: list[str] = []
    if flagged.any():
        kept: list[int] = []
        for k, bad in enumerate(flagged.tolist()):
            # a flagged segment is read again on its own; one it can still read has halves dv[k]
            if (
                not bad
                or _segment(p, name, cuts[k], nxts[k] - cuts[k], rvals[k], cvals[k], faults) is not None
            ):
                kept.append(k)
        idx = np.asarray(kept, dtype=np.int64)
        dv, R, C = dv[idx], R[idx], C[idx]
        cyc = np.asarray(cuts, dtype=np.int64)[idx]
        ln = np.asarray(nxts, dtype=np.int64)[idx] - cyc
    else:
        cyc = np.asarray(cuts, dtype=np.int64)
        ln = np.asarray(nxts, dtype=np.int64) - cyc
    runs = _runs(dv, cyc, ln, p.pulse_width_cycles)  # in the order the runs end
    counts = np.zeros((p.rows, p.cols), dtype=np.int64)
    W = p.pulse_width_cycles
    rr, cc, pol, c0, width, pulses = runs.T
    np.add.at(counts, (rr, cc), pol * pulses)
    cut = (c0 + width == cut_cycle) if cut_cycle is not None else np.zeros(len(runs), dtype=bool)
    odd = (width % W != 0) & ~cut
    glued = (pulses > 1) & ~odd if not pulses_merge(p) else np.zeros(len(runs), dtype=bool)
    for k in np.flatnonzero(odd | glued).tolist():  # the faults, in the order the runs end
        r, c, sg, cy, wd, n = runs[k].tolist()
        what = f"cell ({r},{c}) saw {'+' if sg > 0 else '-'}v_program for {wd} cycles from cycle {cy}"
        if odd[k]:
            faults.append(f"{name}: {what}, not a whole number of {W}-cycle pulses")
        else:
            faults.append(
                f"{name}: {what}: {n} pulses without the "
                + (f"{p.gap_cycles}-cycle gap" if p.order == "row_by_row" else "decision cycle")
                + " the contract puts between them"
            )
    runs = (
        runs[np.lexsort((runs[:, 1], runs[:, 0], runs[:, 3]))] if len(runs) else runs
    )  # by (cycle, row, col)
    return LineReading(name, dv, cyc, ln, R, C, runs, counts, faults)


def _runs(halves: np.ndarray, cyc: np.ndarray, ln: np.ndarray, width_cycles: int) -> np.ndarray:
    """Maximal full-amplitude runs per cell over the segments ``halves`` ((n, rows, cols)), starting
    at cycles ``cyc`` for ``ln`` cycles each (adjacent segments of one polarity merge; a missing
    segment, i.e. an undecodable stretch, ends every run), each carrying ``length // width_cycles``
    full pulses: a (runs, 6) table of row, col, polarity, cycle, width_cycles, pulses (the fields of
    :class:`Run`).  In the order the runs end (then by start, then by cell in row-major order)."""
    if not len(halves):
        return np.zeros((0, 6), dtype=np.int64)
    n_r, n_c = halves.shape[1:]
    H = halves.reshape(len(halves), n_r * n_c)
    sig = np.sign(H) * (np.abs(H) >= 2)
    gap = cyc != np.concatenate([[0], (cyc + ln)[:-1]])  # a missing segment before this one
    zero = np.zeros((1, sig.shape[1]), dtype=sig.dtype)
    before = np.concatenate([zero, sig[:-1]])
    after = np.concatenate([sig[1:], zero])
    gap_after = np.concatenate([gap[1:], [True]])
    on = sig != 0
    starts = on & (gap[:, None] | (before != sig))
    ends = on & (gap_after[:, None] | (after != sig))
    j_s, k_s = np.nonzero(starts.T)  # by cell, then by segment: the i-th start pairs with the i-th end
    _, k_e = np.nonzero(ends.T)
    total = np.concatenate([[0], np.cumsum(ln)])
    width = total[k_e + 1] - total[k_s]
    order = np.lexsort((j_s, k_s, k_e))
    j = j_s[order]
    w = width[order]
    return np.stack(
        [j // n_c, j % n_c, sig[k_s, j_s][order], cyc[k_s][order], w, w // width_cycles], axis=1
    ).astype(np.int64)
