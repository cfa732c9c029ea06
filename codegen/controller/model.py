"""Cycle-accurate model of ``<chip>_pulse_ctrl`` (one crossbar's controller core).

Timing contract (cycle ``k`` = the outputs right after rising clock edge ``k``; edge 0 is the edge
that samples ``start`` high while the controller is idle):

* edge 0: ``busy`` = 1, ``done`` = ``err`` = 0, every row and column line of the crossbar at
  ``LEVEL_HALF`` (V/2).  Edge 1: the controller looks at cell 0 (row 0, column 0).
* Cells are visited row by row (address ``row·cols + col``).  A cell looked at from edge ``e``
  with a valid non-zero code of ``n`` pulses gets pulse ``k`` (0-based) from edge
  ``e + 1 + k·(W + G)`` for ``W`` cycles (``W`` = pulse width, ``G`` = gap after every pulse) and
  the next cell is looked at from edge ``e + 1 + n·(W + G)``.  A zero code or an out-of-range code
  (count > ``max_pulses``; sets ``err`` at edge ``e + 1``) costs one cycle: next cell at ``e + 1``.
* When the last cell is finished the controller is idle again at that edge: ``busy`` = 0,
  ``done`` = 1, every line ``LEVEL_RELEASED``.  Total: ``done`` at edge
  ``1 + Σ_cells (1 + n·(W + G))``.
* A synchronous reset sampled at edge ``r`` makes everything idle and released at edge ``r``
  (``done`` = ``err`` = 0): a pulse in progress is cut short.

During a pulse on cell (r, c) with sign 0 (set, ``+v_program_V``) row r is at ``LEVEL_FULL`` and
column c at ``LEVEL_GND``; sign 1 (reset) swaps them.  Every other line stays at ``LEVEL_HALF``,
so a half-selected cell sees ±V/2 and every other cell 0 V.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import CodegenError
from ..ir import Chip, ControllerIR

__all__ = [
    "LEVEL_RELEASED",
    "LEVEL_GND",
    "LEVEL_HALF",
    "LEVEL_FULL",
    "LEVEL_VOLTS_HALVES",
    "CtrlParams",
    "Pulse",
    "Schedule",
    "schedule",
    "expected_outputs",
    "encode_counts",
    "decode_codes",
    "pack_levels",
    "unpack_levels",
    "cell_voltages_halves",
]

#: 2-bit drive level of one row/column line
LEVEL_RELEASED = 0  # switch open: the line is left to the analog network (controller idle)
LEVEL_GND = 1  # 0 V
LEVEL_HALF = 2  # v_program_V / 2
LEVEL_FULL = 3  # v_program_V
#: line voltage in units of v_program_V / 2 for each driven level (RELEASED has none)
LEVEL_VOLTS_HALVES = {LEVEL_GND: 0, LEVEL_HALF: 1, LEVEL_FULL: 2}


def _bits(n: int) -> int:
    """Bits to hold the values 0 .. n (at least 1)."""
    return max(1, int(n).bit_length())


@dataclass(frozen=True)
class CtrlParams:
    """One crossbar's controller: ``rows`` × ``cols`` cells, codes of ``count_bits`` + 1 bits."""

    name: str
    rows: int
    cols: int
    count_bits: int
    max_pulses: int
    pulse_width_cycles: int
    gap_cycles: int
    clock_hz: float  # controller clock (Hz)
    v_program_V: float  # full programming amplitude (V)
    #: ``row_by_row``: one cell at a time; ``row_parallel``: all cells of a row that need a pulse of
    #: the same sign together (set pulses first, then reset pulses)
    order: str = "row_by_row"

    @classmethod
    def from_ir(cls, ctrl: ControllerIR, crossbar: str) -> CtrlParams:
        for name, rows, cols in ctrl.crossbars:
            if name == crossbar:
                return cls(
                    name=name,
                    rows=rows,
                    cols=cols,
                    count_bits=ctrl.count_bits,
                    max_pulses=ctrl.max_pulses,
                    pulse_width_cycles=ctrl.pulse_width_cycles,
                    gap_cycles=ctrl.gap_cycles,
                    clock_hz=ctrl.clock_hz,
                    v_program_V=ctrl.v_program_V,
                    order=ctrl.order,
                )
        raise KeyError(f"no crossbar {crossbar!r} in the controller")

    @classmethod
    def all_from_chip(cls, chip: Chip) -> list[CtrlParams]:
        return [cls.from_ir(chip.controller, name) for name, _r, _c in chip.controller.crossbars]

    @property
    def cells(self) -> int:
        return self.rows * self.cols

    @property
    def code_bits(self) -> int:
        """Width of one update code: ``{sign, count[count_bits-1:0]}``."""
        return self.count_bits + 1

    @property
    def row_bits(self) -> int:
        return _bits(self.rows - 1)

    @property
    def col_bits(self) -> int:
        return _bits(self.cols - 1)

    @property
    def addr_bits(self) -> int:
        """Width of a cell address ``row·cols + col``."""
        return _bits(self.cells - 1)

    @property
    def timer_bits(self) -> int:
        return _bits(max(self.pulse_width_cycles, self.gap_cycles, 1) - 1)

    @property
    def pulse_width_s(self) -> float:
        """Duration of one programming pulse (s)."""
        return self.pulse_width_cycles / self.clock_hz


@dataclass(frozen=True)
class Pulse:
    """One programming pulse: drive from edge ``cycle`` for ``width_cycles`` cycles.

    ``polarity`` +1 = set (V_row − V_col = +v_program_V), −1 = reset.  ``width_cycles`` is the
    full pulse width unless a reset cut the pulse short (``partial``).
    """

    cycle: int
    row: int
    col: int
    polarity: int
    width_cycles: int
    partial: bool = False
    #: 0-based number of this pulse among the cell's pulses (``pulse_cnt`` is k + 1 after it)
    k: int = 0


@dataclass
class Schedule:
    """What the controller does for one update (edges counted from the start edge 0)."""

    params: CtrlParams
    pulses: list[Pulse]
    #: full pulses each cell received, signed (+ set, − reset), shape (rows, cols)
    counts: np.ndarray
    #: edge at which ``done`` rises (None if a reset came first)
    done_cycle: int | None
    #: edge at which ``err`` rises (None if no out-of-range code was reached)
    err_cycle: int | None
    #: edge at which the controller is idle again (``done_cycle`` or the reset edge)
    end_cycle: int
    reset_cycle: int | None = None
    #: mask of cells whose code was out of range (count > max_pulses), shape (rows, cols)
    out_of_range: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=bool))
    #: edge from which each cell (by address row·cols + col) is looked at, shape (rows·cols,)
    look_cycles: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    #: edges at which ``pulse_cnt`` returns to 0 (before the end)
    cnt_clear_cycles: list[int] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        """Time from start to idle (s)."""
        return self.end_cycle / self.params.clock_hz


def encode_counts(counts: np.ndarray, count_bits: int) -> np.ndarray:
    """Signed pulse counts → sign-magnitude code words ``{sign, |n|}`` (sign 1 = reset)."""
    counts = np.asarray(counts, dtype=np.int64)
    mag = np.abs(counts)
    if mag.size and int(mag.max()) >= (1 << count_bits):
        raise CodegenError(f"a pulse count of {int(mag.max())} does not fit a {count_bits}-bit code")
    return ((counts < 0).astype(np.int64) << count_bits) | mag


def decode_codes(codes: np.ndarray, params: CtrlParams) -> tuple[np.ndarray, np.ndarray]:
    """Code words → (signed pulse counts the controller applies, out-of-range mask)."""
    codes = np.asarray(codes, dtype=np.int64)
    if codes.shape != (params.rows, params.cols):
        raise CodegenError(
            f"codes have shape {codes.shape}, crossbar {params.name} is {params.rows}×{params.cols}"
        )
    if codes.size and (codes.min() < 0 or codes.max() >= (1 << params.code_bits)):
        raise CodegenError(f"code words must lie in [0, {1 << params.code_bits})")
    mag = codes & ((1 << params.count_bits) - 1)
    neg = (codes >> params.count_bits) & 1
    bad = mag > params.max_pulses
    n = np.where(bad, 0, mag)
    return np.where(neg == 1, -n, n), bad


def schedule(params: CtrlParams, codes: np.ndarray, reset_cycle: int | None = None) -> Schedule:
    """The exact pulse schedule for code words ``codes`` (shape rows × cols), started at edge 0.

    ``reset_cycle``: edge (≥ 1) at which a synchronous reset is sampled, or None.
    """
    signed, bad = decode_codes(codes, params)
    if reset_cycle is not None and reset_cycle < 1:
        raise ValueError("reset_cycle must be ≥ 1 (edge 0 is the start edge)")
    if params.order == "row_parallel":
        look, done, planned, clears = _plan_row_parallel(params, signed)
    elif params.order == "row_by_row":
        look, done, planned, clears = _plan_row_by_row(params, signed)
    else:
        raise CodegenError(f"unknown programming order {params.order!r}")
    # a reset beats done at the same edge
    end = reset_cycle if reset_cycle is not None and reset_cycle <= done else done
    reset_won = end != done or reset_cycle == done
    pulses: list[Pulse] = []
    counts = np.zeros(params.cells, dtype=np.int64)
    for start, row, col, pol, k in sorted(planned):
        if start >= end:
            continue
        width = min(params.pulse_width_cycles, end - start)
        partial = width < params.pulse_width_cycles
        pulses.append(Pulse(start, row, col, pol, width, partial, k))
        if not partial:
            counts[row * params.cols + col] += pol
    bad_flat = np.flatnonzero(bad.ravel())
    err = int(look[bad_flat[0]]) + 1 if bad_flat.size else None
    if err is not None and (err > end or (err == end and reset_won)):
        err = None  # a reset at or before the edge that would set err clears it
    return Schedule(
        params=params,
        pulses=pulses,
        counts=counts.reshape(params.rows, params.cols),
        done_cycle=None if reset_won else done,
        err_cycle=err,
        end_cycle=end,
        reset_cycle=reset_cycle if reset_won else None,
        out_of_range=bad,
        look_cycles=look.astype(np.int64),
        cnt_clear_cycles=[c for c in clears if c < end or (c == end and not reset_won)],
    )


_Plan = tuple[np.ndarray, int, list[tuple[int, int, int, int, int]], list[int]]


def _plan_row_by_row(p: CtrlParams, signed: np.ndarray) -> _Plan:
    """(look edge per cell, done edge, [(start edge, row, col, polarity, k)], counter clears)."""
    n = np.abs(signed).ravel()
    period = p.pulse_width_cycles + p.gap_cycles
    durations = 1 + n * period
    look = 1 + np.concatenate(([0], np.cumsum(durations)[:-1]))
    planned = []
    for addr in np.flatnonzero(n):
        row, col = divmod(int(addr), p.cols)
        pol = 1 if signed.ravel()[addr] > 0 else -1
        planned += [(int(look[addr]) + 1 + k * period, row, col, pol, k) for k in range(int(n[addr]))]
    # pulse_cnt returns to 0 one edge after the cell following a pulsed cell is looked at
    clears = [int(look[a + 1]) + 1 for a in np.flatnonzero(n) if a + 1 < p.cells]
    return look, int(1 + durations.sum()), planned, clears


def _plan_row_parallel(p: CtrlParams, signed: np.ndarray) -> _Plan:
    """Row-parallel order: per row, load its codes (one cell per cycle, edges L .. L+cols−1), then
    a decision cycle before every pulse: set pulses k = 0.. to every cell with a set count > k,
    one more decision cycle to switch to reset, the reset pulses likewise, one cycle to finish the
    row.  A row takes ``cols + (m_set + m_reset)·(1 + W + G) + 2`` cycles (m = largest count)."""
    step = 1 + p.pulse_width_cycles + p.gap_cycles
    look = np.zeros(p.cells, dtype=np.int64)
    planned: list[tuple[int, int, int, int, int]] = []
    clears: list[int] = []
    edge = 1
    for row in range(p.rows):
        look[row * p.cols : (row + 1) * p.cols] = edge + np.arange(p.cols)
        decide = edge + p.cols
        for pol in (1, -1):
            n = np.where(np.sign(signed[row]) == pol, np.abs(signed[row]), 0)
            m = int(n.max(initial=0))
            for k in range(m):
                start = decide + k * step + 1
                planned += [(start, row, int(c), pol, k) for c in np.flatnonzero(n > k)]
            decide += m * step + 1
            clears.append(decide)  # pulse_cnt counts the pulses of one phase of one row
        edge = decide
    return look, edge, planned, clears


def pack_levels(levels: np.ndarray) -> int:
    """Line levels (one 2-bit value per line, line 0 first) → the packed output vector as an int."""
    lv = np.asarray(levels, dtype=np.uint8) & 3
    pad = (-lv.size) % 4
    lv = np.concatenate((lv, np.zeros(pad, dtype=np.uint8))).reshape(-1, 4)
    packed = lv[:, 0] | (lv[:, 1] << 2) | (lv[:, 2] << 4) | (lv[:, 3] << 6)
    return int.from_bytes(packed.astype(np.uint8).tobytes(), "little")


def unpack_levels(value: int, n: int) -> np.ndarray:
    """Packed output vector → levels of its ``n`` lines (line 0 = bits [1:0])."""
    raw = np.frombuffer(int(value).to_bytes((2 * n + 7) // 8, "little"), dtype=np.uint8)
    lv = np.stack([(raw >> s) & 3 for s in (0, 2, 4, 6)], axis=1).ravel()
    return lv[:n].astype(np.int64)


def cell_voltages_halves(row_levels: np.ndarray, col_levels: np.ndarray) -> np.ndarray:
    """V_row − V_col of every cell in units of v_program_V / 2 (shape rows × cols).

    Raises ValueError if some lines are released and others driven (a cell would see an undefined
    voltage); returns an all-zero array if every line is released (controller idle).
    """
    r = np.asarray(row_levels)
    c = np.asarray(col_levels)
    rel_r, rel_c = r == LEVEL_RELEASED, c == LEVEL_RELEASED
    if rel_r.all() and rel_c.all():
        return np.zeros((r.size, c.size), dtype=np.int64)
    if rel_r.any() or rel_c.any():
        raise ValueError("some lines are released while others are driven")
    return driven_halves(r, c)


def driven_halves(row_levels: np.ndarray, col_levels: np.ndarray) -> np.ndarray:
    """V_row − V_col (units of v_program_V / 2) of driven lines, ``(..., rows)`` × ``(..., cols)`` →
    ``(..., rows, cols)``: one update segment or a stack of them (no released-line check)."""
    r, c = np.asarray(row_levels), np.asarray(col_levels)
    # GND=1 → 0, HALF=2 → 1, FULL=3 → 2 halves of v_program_V
    return (r[..., :, None] - 1) - (c[..., None, :] - 1)


def _coalesce(changes: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for cyc, val in sorted(changes, key=lambda cv: cv[0]):  # stable: a later entry at one cycle wins
        if out and out[-1][0] == cyc:
            out[-1] = (cyc, val)
        else:
            out.append((cyc, val))
    dedup: list[tuple[int, int]] = []
    for cyc, val in out:
        if not dedup or dedup[-1][1] != val:
            dedup.append((cyc, val))
    return dedup


def expected_outputs(sched: Schedule) -> dict[str, list[tuple[int, int]]]:
    """Each output of the core as change points ``[(edge, value), ...]`` from edge 0 to the end.

    Keys: ``busy``, ``done``, ``err``, ``row_lvl``, ``col_lvl`` (packed 2-bit levels, as on the
    ports), and the status ``cur_row``, ``cur_col`` (the cell being looked at; it stays on the last
    cell after ``done``) and ``pulse_cnt`` (pulses the current cell has completed: +1 at the end of
    each full pulse, 0 again one edge after the next cell is looked at).  The value holds from its
    edge until the next change point.
    """
    p = sched.params
    half_r = pack_levels(np.full(p.rows, LEVEL_HALF))
    half_c = pack_levels(np.full(p.cols, LEVEL_HALF))
    rows: list[tuple[int, int]] = [(0, half_r)]
    cols: list[tuple[int, int]] = [(0, half_c)]
    groups: dict[int, list[Pulse]] = {}  # pulses that start together (row-parallel order)
    for pu in sched.pulses:
        groups.setdefault(pu.cycle, []).append(pu)
    for cyc, group in groups.items():
        rv, cv = half_r, half_c
        for pu in group:
            r_lv, c_lv = (LEVEL_FULL, LEVEL_GND) if pu.polarity > 0 else (LEVEL_GND, LEVEL_FULL)
            rv = rv & ~(3 << 2 * pu.row) | (r_lv << 2 * pu.row)
            cv = cv & ~(3 << 2 * pu.col) | (c_lv << 2 * pu.col)
        rows += [(cyc, rv), (cyc + group[0].width_cycles, half_r)]
        cols += [(cyc, cv), (cyc + group[0].width_cycles, half_c)]
    end = sched.end_cycle
    rows = [(c, v) for c, v in rows if c < end] + [(end, 0)]
    cols = [(c, v) for c, v in cols if c < end] + [(end, 0)]
    err = [(0, 0)] + ([(sched.err_cycle, 1)] if sched.err_cycle is not None else [])
    if sched.done_cycle is None:
        err.append((end, 0))
    reset = [(end, 0)] if sched.done_cycle is None else []
    look = sched.look_cycles
    live = np.flatnonzero(look < end)[1:]  # cells after cell 0 reached before the end
    r_of, c_of = np.divmod(live, p.cols)
    cur_row = [(0, 0)] + list(zip(look[live].tolist(), r_of.tolist(), strict=True)) + reset
    cur_col = [(0, 0)] + list(zip(look[live].tolist(), c_of.tolist(), strict=True)) + reset
    cnt = [(0, 0)] + [(pu.cycle + pu.width_cycles, pu.k + 1) for pu in sched.pulses if not pu.partial]
    cnt += [(c, 0) for c in sched.cnt_clear_cycles]
    cnt = [(c, v) for c, v in cnt if c < end or (c == end and not reset)] + reset
    return {
        "cur_row": _coalesce(cur_row),
        "cur_col": _coalesce(cur_col),
        "pulse_cnt": _coalesce(cnt),
        "busy": _coalesce([(0, 1), (end, 0)]),
        "done": _coalesce([(0, 0)] + ([(end, 1)] if sched.done_cycle is not None else [])),
        "err": _coalesce(err),
        "row_lvl": _coalesce(rows),
        "col_lvl": _coalesce(cols),
    }
