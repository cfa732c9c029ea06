"""The cycle-accurate reference model of the pulse controller (codegen.controller), without tools."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from codegen.controller import (
    LEVEL_FULL,
    LEVEL_GND,
    LEVEL_HALF,
    CtrlParams,
    Pulse,
    cell_voltages_halves,
    decode_codes,
    encode_counts,
    expected_outputs,
    pack_levels,
    schedule,
    unpack_levels,
)
from codegen.errors import CodegenError


def params(rows=2, cols=3, max_pulses=10, width=3, gap=1) -> CtrlParams:
    return CtrlParams("W", rows, cols, 4, max_pulses, width, gap, 50e6, 1.2)


def test_schedule_by_hand():
    # cell (0,0): +2 pulses, (0,2): one reset pulse, (1,1): 12 > max_pulses = 10 -> skipped, err
    p = params()
    codes = encode_counts(np.array([[2, 0, -1], [0, 0, 0]]), 4)
    codes[1, 1] = 12
    s = schedule(p, codes)
    # look at cell 0 at edge 1; pulses at 2 and 2+(3+1); cell 1 at 10, cell 2 at 11 (pulse 12),
    # cell 3 at 16, cell 4 at 17 (err at 18), cell 5 at 18, done at 19
    assert s.pulses == [Pulse(2, 0, 0, 1, 3), Pulse(6, 0, 0, 1, 3, k=1), Pulse(12, 0, 2, -1, 3)]
    assert s.done_cycle == s.end_cycle == 19
    assert s.err_cycle == 18
    assert s.counts.tolist() == [[2, 0, -1], [0, 0, 0]]
    assert s.out_of_range.tolist() == [[False] * 3, [False, True, False]]
    out = expected_outputs(s)
    assert out["cur_row"] == [(0, 0), (16, 1)]
    assert out["cur_col"] == [(0, 0), (10, 1), (11, 2), (16, 0), (17, 1), (18, 2)]
    # +1 at the end of each pulse, 0 one edge after the next cell is looked at
    assert out["pulse_cnt"] == [(0, 0), (5, 1), (9, 2), (11, 0), (15, 1), (17, 0)]


def test_duration_formula_and_counts():
    rng = np.random.default_rng(3)
    p = params(rows=7, cols=5, max_pulses=15, width=5, gap=2)
    counts = rng.integers(-15, 16, size=(7, 5))
    s = schedule(p, encode_counts(counts, 4))
    assert np.array_equal(s.counts, counts)
    assert s.done_cycle == 1 + 35 + np.abs(counts).sum() * 7
    assert len(s.pulses) == np.abs(counts).sum()
    starts = [pu.cycle for pu in s.pulses]
    assert starts == sorted(starts) and all(b - a >= 7 for a, b in zip(starts, starts[1:], strict=False))


def test_reset_cuts_the_pulse_in_progress():
    p = params(width=4, gap=0)
    codes = encode_counts(np.array([[3, 0, 0], [0, 0, 0]]), 4)
    s = schedule(p, codes, reset_cycle=8)  # pulses at 2, 6, 10: the second is cut after 2 cycles
    assert [(pu.cycle, pu.width_cycles, pu.partial) for pu in s.pulses] == [(2, 4, False), (6, 2, True)]
    assert s.counts[0, 0] == 1 and s.done_cycle is None and s.end_cycle == 8
    out = expected_outputs(s)
    assert out["busy"] == [(0, 1), (8, 0)]
    assert out["done"] == [(0, 0)]
    assert out["row_lvl"][-1] == (8, 0)  # released at the reset edge


def test_zero_gap_merges_pulses_into_one_level_change():
    p = params(width=4, gap=0)
    s = schedule(p, encode_counts(np.array([[0, 2, 0], [0, 0, 0]]), 4))
    rows = expected_outputs(s)["row_lvl"]
    half = pack_levels(np.full(2, LEVEL_HALF))
    # cell 1 looked at edge 2: pulses at 3 and 7 back to back, so the row level changes at 3 and 11
    assert rows == [(0, half), (3, half & ~3 | LEVEL_FULL), (11, half), (s.end_cycle, 0)]


def test_expected_levels_keep_half_select_safety():
    rng = np.random.default_rng(7)
    p = params(rows=4, cols=6, max_pulses=15)
    s = schedule(p, encode_counts(rng.integers(-15, 16, size=(4, 6)), 4))
    out = expected_outputs(s)
    pulses = iter(s.pulses)
    for (c1, r), (c2, c) in zip(out["row_lvl"][:-1], out["col_lvl"][:-1], strict=True):
        assert c1 == c2
        dv = cell_voltages_halves(unpack_levels(r, p.rows), unpack_levels(c, p.cols))
        full = np.argwhere(np.abs(dv) == 2)
        assert np.abs(dv).max() <= 2 and len(full) <= 1
        if len(full):
            pu = next(pulses)
            assert (pu.cycle, pu.row, pu.col, pu.polarity) == (c1, *full[0], int(np.sign(dv[tuple(full[0])])))


def test_levels_pack_and_voltages():
    lv = np.array([LEVEL_GND, LEVEL_HALF, LEVEL_FULL, 0, LEVEL_HALF])
    assert np.array_equal(unpack_levels(pack_levels(lv), 5), lv)
    assert pack_levels(np.array([LEVEL_FULL, LEVEL_GND])) == 0b0111
    dv = cell_voltages_halves(np.array([LEVEL_FULL, LEVEL_HALF]), np.array([LEVEL_GND, LEVEL_HALF]))
    assert dv.tolist() == [[2, 1], [1, 0]]
    with pytest.raises(ValueError, match="released"):
        cell_voltages_halves(np.array([0, LEVEL_HALF]), np.array([LEVEL_HALF]))


def test_codes_encoding_and_errors():
    p = params()
    codes = encode_counts(np.array([[-3, 0, 15], [1, -15, 0]]), 4)
    assert codes.tolist() == [[16 | 3, 0, 15], [1, 16 | 15, 0]]
    signed, bad = decode_codes(codes, p)
    assert signed.tolist() == [[-3, 0, 0], [1, 0, 0]]  # 15 > max_pulses = 10: skipped
    assert bad.tolist() == [[False, False, True], [False, True, False]]
    assert decode_codes(np.array([[16, 0, 0], [0, 0, 0]]), p)[0][0, 0] == 0  # negative zero
    with pytest.raises(CodegenError, match="does not fit"):
        encode_counts(np.array([16]), 4)
    with pytest.raises(CodegenError, match="shape"):
        schedule(p, np.zeros((3, 3), dtype=int))
    with pytest.raises(CodegenError, match="code words"):
        schedule(p, np.full((2, 3), 32))


def test_pulse_width_in_seconds():
    p = params(width=50)
    assert p.pulse_width_s == pytest.approx(1e-6, rel=1e-12)  # 50 cycles at 50 MHz


def test_err_on_the_last_cell_rises_with_done():
    p = params(rows=1, cols=2)
    codes = np.array([[0, 12]])  # last cell out of range: err and done at the same edge
    s = schedule(p, codes)
    assert s.err_cycle == s.done_cycle == 3
    assert expected_outputs(s)["err"] == [(0, 0), (3, 1)]
    assert schedule(p, codes, reset_cycle=3).err_cycle is None  # a reset at that edge wins


def test_row_parallel_schedule_by_hand():
    p = dataclasses.replace(params(max_pulses=15), order="row_parallel")
    s = schedule(p, encode_counts(np.array([[2, 1, -1], [0, -2, 3]]), 4))
    # row 0: codes loaded at edges 1..3, decision at 4; set pulses k=0 (cols 0, 1) at 5 and k=1
    # (col 0) at 10 (1 + W + G = 5 apart); switch to reset at 15; reset pulse (col 2) at 16;
    # row 1 loaded from 21; set pulses (col 2) at 25, 30, 35; reset (col 1) at 41, 46; done at 51
    assert [(pu.cycle, pu.row, pu.col, pu.polarity, pu.k) for pu in s.pulses] == [
        (5, 0, 0, 1, 0), (5, 0, 1, 1, 0), (10, 0, 0, 1, 1), (16, 0, 2, -1, 0),
        (25, 1, 2, 1, 0), (30, 1, 2, 1, 1), (35, 1, 2, 1, 2), (41, 1, 1, -1, 0), (46, 1, 1, -1, 1),
    ]  # fmt: skip
    assert s.done_cycle == 51 and s.look_cycles.tolist() == [1, 2, 3, 21, 22, 23]
    assert np.array_equal(s.counts, [[2, 1, -1], [0, -2, 3]])
    cols = dict(expected_outputs(s)["col_lvl"])
    assert unpack_levels(cols[5], 3).tolist() == [LEVEL_GND, LEVEL_GND, LEVEL_HALF]  # two cells at once
    assert unpack_levels(cols[16], 3).tolist() == [LEVEL_HALF, LEVEL_HALF, LEVEL_FULL]
    assert expected_outputs(s)["pulse_cnt"] == [
        (0, 0), (8, 1), (13, 2), (15, 0), (19, 1), (21, 0), (28, 1), (33, 2), (38, 3), (40, 0), (44, 1), (49, 2), (51, 0)
    ]  # fmt: skip


def test_row_parallel_is_faster_and_gives_the_same_counts():
    rng = np.random.default_rng(5)
    counts = rng.integers(-15, 16, size=(16, 8))
    a = schedule(params(16, 8, 15, 50, 1), encode_counts(counts, 4))
    b = schedule(
        dataclasses.replace(params(16, 8, 15, 50, 1), order="row_parallel"), encode_counts(counts, 4)
    )
    assert np.array_equal(a.counts, b.counts) and len(a.pulses) == len(b.pulses)
    assert b.done_cycle < a.done_cycle / 2  # per row: max set + max reset count instead of the sum
