"""codegen.controller.lines.read_lines, vectorised (issue 15), against the segment-by-segment reader
it replaced (tests/_lines_scan.py): same segments, runs, counts and faults, in the same order, on
reference-controller traces and on random (mostly faulty) ones."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from _lines_scan import read_lines_scan

from codegen.controller import CtrlParams, encode_counts, expected_outputs, schedule
from codegen.controller.lines import read_lines
from codegen.controller.model import LEVEL_FULL, LEVEL_GND, LEVEL_HALF, LEVEL_RELEASED

P = CtrlParams("W", 3, 4, 3, 7, 4, 2, 1e6, 2.0)


def _same(a, b):
    assert a.xbar == b.xbar
    assert a.faults == b.faults
    assert np.array_equal(a.counts, b.counts) and a.counts.dtype == b.counts.dtype
    assert a.runs == b.runs
    assert len(a.segments) == len(b.segments)
    for s, t in zip(a.segments, b.segments, strict=True):
        assert (s.cycle, s.length) == (t.cycle, t.length)
        for f in ("halves", "row_levels", "col_levels"):
            x, y = getattr(s, f), getattr(t, f)
            assert np.array_equal(x, y) and x.dtype == y.dtype and x.shape == y.shape, f


def _pack(levels) -> int:
    return sum(int(v) << (2 * i) for i, v in enumerate(levels))


@pytest.mark.parametrize("shape", [(3, 4), (2, 33)])  # 33 columns: packed wider than an int64
@pytest.mark.parametrize("order", ["row_by_row", "row_parallel"])
@pytest.mark.parametrize("gap", [0, 2])
@pytest.mark.parametrize("seed", range(4))
def test_reference_traces_read_as_before(shape, order, gap, seed):
    p = dataclasses.replace(P, rows=shape[0], cols=shape[1], gap_cycles=gap, order=order)
    rng = np.random.default_rng(seed)
    counts = rng.integers(-p.max_pulses, p.max_pulses + 1, size=(p.rows, p.cols))
    sched = schedule(p, encode_counts(counts, p.count_bits))
    exp = expected_outputs(sched)
    rows, cols = list(exp["row_lvl"]), list(exp["col_lvl"])
    got = read_lines(p, rows, cols, sched.end_cycle)
    _same(got, read_lines_scan(p, rows, cols, sched.end_cycle))
    assert np.array_equal(got.counts, counts)  # and the reading is right, not only unchanged
    assert not got.faults
    cut = sched.end_cycle // 2
    _same(read_lines(p, rows, cols, cut, cut_cycle=cut), read_lines_scan(p, rows, cols, cut, cut_cycle=cut))


@pytest.mark.parametrize("order", ["row_by_row", "row_parallel"])
@pytest.mark.parametrize("seed", range(40))
def test_random_traces_read_as_before(order, seed):
    """Random level vectors (released mixes, X/Z, several cells at full amplitude, runs of odd
    lengths, repeated and out-of-order change cycles): every fault and its place in the list."""
    p = dataclasses.replace(P, order=order, gap_cycles=seed % 2)
    rng = np.random.default_rng(seed)
    levels = np.array([LEVEL_RELEASED, LEVEL_GND, LEVEL_HALF, LEVEL_FULL])
    weights = [0.05, 0.35, 0.5, 0.1] if seed % 3 else [0.2, 0.3, 0.3, 0.2]

    def trace(n):
        out, cyc = [], 0
        for _ in range(int(rng.integers(1, 25))):
            v = None if rng.random() < 0.04 else _pack(rng.choice(levels, size=n, p=weights))
            out.append((cyc, v))
            cyc += int(rng.choice([0, 1, 2, 3, 4, 8]))
        if seed % 7 == 3 and len(out) > 2:  # out of time order
            out[1], out[2] = out[2], out[1]
        return out

    rows, cols = trace(p.rows), trace(p.cols)
    end = int(rng.integers(1, 60))
    cut = end if seed % 2 else None
    _same(read_lines(p, rows, cols, end, cut_cycle=cut), read_lines_scan(p, rows, cols, end, cut_cycle=cut))


def test_the_vectorised_reader_reads_a_long_update_like_the_scan():
    """A 16×16 crossbar's update at up to 7 pulses per cell: the array reader gives the scan's
    segments, counts and faults.  (Its speed is measured in bench/bench_cosim.py, not here: the
    project keeps timings out of unit tests.)"""
    p = CtrlParams("W", 16, 16, 3, 7, 4, 2, 1e6, 2.0)
    counts = np.random.default_rng(1).integers(-7, 8, size=(16, 16))
    sched = schedule(p, encode_counts(counts, p.count_bits))
    exp = expected_outputs(sched)
    rows, cols = list(exp["row_lvl"]), list(exp["col_lvl"])
    new, old = read_lines(p, rows, cols, sched.end_cycle), read_lines_scan(p, rows, cols, sched.end_cycle)
    assert np.array_equal(new.counts, counts) and np.array_equal(old.counts, counts)
    assert new.faults == old.faults
