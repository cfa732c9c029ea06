"""Co-simulation of the learning loop (codegen.cosim): decoding, the loop against the golden model,
the RTL under cocotb + Icarus, a deliberately broken controller, transient devices."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest

from codegen.controller import CtrlParams, encode_counts, schedule
from codegen.cosim.analog import SpiceCrossbars as _RealSpice
from codegen.cosim.decode import Capture, capture_from_schedule, decode
from codegen.cosim.loop import (
    TOL_G_REL_BEHAVIORAL,
    CosimConfig,
    ReferenceController,
    compare_codes,
    rule_boundaries,
    run_loop,
)
from codegen.elab import elaborate
from codegen.load import load_spec

ROOT = Path(__file__).resolve().parents[1]
KIRAZ = ROOT / "examples" / "kiraz_case1.yaml"
XOR = ROOT / "examples" / "xor.yaml"


def _chip(path: Path):
    return elaborate(load_spec(path))


def _params(rows=3, cols=4, W=5, G=1, maxp=7, order="row_by_row") -> CtrlParams:
    return CtrlParams("X", rows, cols, 3, maxp, W, G, 50e6, 1.2, order)


# ------------------------------------------------------------------ decoding (no tools)
@pytest.mark.parametrize("order", ["row_by_row", "row_parallel"])
@pytest.mark.parametrize("gap", [1, 0])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_decode_reference_schedule_gives_the_code_counts(seed, gap, order):
    p = _params(G=gap, order=order)
    rng = np.random.default_rng(seed)
    counts = rng.integers(-p.max_pulses, p.max_pulses + 1, size=(p.rows, p.cols)) * (rng.random((3, 4)) < 0.6)
    sched = schedule(p, encode_counts(counts, p.count_bits))
    dec = decode(p, capture_from_schedule(sched))
    assert dec.faults == []
    np.testing.assert_array_equal(dec.counts, counts)
    assert sum(q.pulses for q in dec.runs) == int(np.abs(counts).sum())
    assert all(q.width_cycles == q.pulses * p.pulse_width_cycles for q in dec.runs)
    if gap == 0 and order == "row_by_row":  # back to back: one run of n·W cycles per pulsed cell
        assert len(dec.runs) == int(np.count_nonzero(counts))
    else:  # a gap or a decision cycle separates every pulse
        assert all(q.pulses == 1 for q in dec.runs)
    # every cycle from edge 0 to the end is covered by exactly one segment
    assert sum(s.length for s in dec.segments) == sched.end_cycle


def test_decode_gap_zero_multi_pulse_codes():
    """gap_cycles 0: a cell's n pulses are one run of n·W cycles on its lines, which is n pulses."""
    p = _params(rows=2, cols=2, W=4, G=0)
    sched = schedule(p, encode_counts(np.array([[3, -2], [0, 1]]), p.count_bits))
    dec = decode(p, capture_from_schedule(sched))
    assert dec.faults == []
    np.testing.assert_array_equal(dec.counts, [[3, -2], [0, 1]])
    assert [(q.row, q.col, q.polarity, q.cycle, q.width_cycles, q.pulses) for q in dec.runs] == [
        (0, 0, 1, 2, 12, 3),  # cell 0 looked at edge 1, pulses from edge 2, 3·4 cycles in one run
        (0, 1, -1, 15, 8, 2),
        (1, 1, 1, 25, 4, 1),  # cell (1,0) has no pulse: looked at one cycle (edge 23), next at 24
    ]
    # the same run of 12 cycles with a gap configured is three pulses without their gaps: a fault
    dec = decode(_params(rows=2, cols=2, W=4, G=1), capture_from_schedule(sched))
    assert any("3 pulses without the 1-cycle gap" in f for f in dec.faults)
    # ... and in row-parallel order (a decision cycle between pulses) as well
    dec = decode(_params(rows=2, cols=2, W=4, G=0, order="row_parallel"), capture_from_schedule(sched))
    assert any("without the decision cycle" in f for f in dec.faults)


def _tb():
    """sim/eqp_pulse_tb.py, as the cocotb tests import it (from their own folder)."""
    import importlib
    import sys

    sys.path.insert(0, str(ROOT / "sim"))
    try:
        return importlib.import_module("eqp_pulse_tb")
    finally:
        sys.path.remove(str(ROOT / "sim"))


def _stretch(changes, at: int, by: int):
    """Change points with every change from cycle ``at`` on delayed by ``by`` cycles."""
    return [(c + by if c >= at else c, v) for c, v in changes]


@pytest.mark.parametrize("gap", [0, 1])
def test_testbench_and_cosim_read_the_same_trace_alike(gap):
    """The cocotb testbench and the co-simulation decoder are one reader: same counts, same faults."""
    tb = _tb()
    p = _params(W=3, G=gap)
    codes = encode_counts(np.array([[2, 0, -3, 1], [0, 0, 0, 0], [-1, 4, 0, 0]]), p.count_bits)
    sched = schedule(p, codes)
    good = capture_from_schedule(sched)
    first = sched.pulses[0]
    traces = {
        "as scheduled": (good.rows, good.cols),
        # the first pulse one cycle longer (rows and columns change a cycle later from then on)
        "long pulse": (_stretch(good.rows, first.cycle + 1, 1), _stretch(good.cols, first.cycle + 1, 1)),
        # the first pulse's row change left out: only half amplitude (no pulse) for that cell
        "missing pulse": ([good.rows[0], *good.rows[3:]], [good.cols[0], *good.cols[3:]]),
    }
    for what, (rows, cols) in traces.items():
        end = max(sched.end_cycle, rows[-1][0], cols[-1][0])
        dec = decode(p, Capture("X", rows, cols, end))
        fails = tb.line_failures(p, rows, cols, end, sched)
        counts_msg = [f for f in fails if "pulse counts differ" in f]
        assert [f for f in fails if f not in counts_msg] == dec.faults, what
        assert bool(counts_msg) == (not np.array_equal(dec.counts, sched.counts)), what
        assert (what == "as scheduled") == (fails == [] and dec.faults == []), (what, fails)


def test_reset_cut_pulse_is_no_fault_and_does_not_count():
    p = _params(rows=2, cols=2, W=4, G=0)
    codes = encode_counts(np.array([[3, 0], [0, 0]]), p.count_bits)
    cut = schedule(p, codes, reset_cycle=2 + 4 + 2)  # in the middle of the second pulse of cell 0
    cap = capture_from_schedule(cut)
    tb = _tb()
    assert tb.line_failures(p, cap.rows, cap.cols, cap.end_cycle, cut) == []
    assert cut.counts[0, 0] == 1
    # without the reset the 6-cycle run is a fault, read by both
    dec = decode(p, cap)
    assert dec.counts[0, 0] == 1 and any("for 6 cycles" in f for f in dec.faults)


def _packed(levels):
    from codegen.controller import pack_levels

    return pack_levels(np.array(levels))


def test_decode_flags_half_select_violation_and_wrong_width():
    p = _params(rows=2, cols=2, W=4)
    half_r, half_c = _packed([2, 2]), _packed([2, 2])
    # cycles 1..4: rows (V, V), columns (GND, V/2): cells (0,0) and (1,0) both at full amplitude
    cap = Capture(
        "X",
        [(0, half_r), (1, _packed([3, 3])), (5, half_r), (6, 0)],
        [(0, half_c), (1, _packed([1, 2])), (5, half_c), (6, 0)],
        6,
    )
    dec = decode(p, cap)
    assert any("half-select violated" in f for f in dec.faults)
    np.testing.assert_array_equal(dec.counts, [[1, 0], [1, 0]])
    # row_parallel allows several cells of one row with one polarity, not of two rows
    par = _params(rows=2, cols=2, W=4, order="row_parallel")
    assert any("one row with one polarity" in f for f in decode(par, cap).faults)
    cap_row = Capture(
        "X",
        [(0, half_r), (1, _packed([3, 2])), (5, half_r), (6, 0)],
        [(0, half_c), (1, _packed([1, 1])), (5, half_c), (6, 0)],
        6,
    )
    dec = decode(par, cap_row)
    assert dec.faults == []
    np.testing.assert_array_equal(dec.counts, [[1, 1], [0, 0]])
    assert any("half-select violated" in f for f in decode(p, cap_row).faults)  # not in row_by_row
    # a 3-cycle pulse is not a pulse of 4 cycles
    cap = Capture(
        "X",
        [(0, half_r), (1, _packed([3, 2])), (4, half_r), (5, 0)],
        [(0, half_c), (1, _packed([1, 2])), (4, half_c), (5, 0)],
        5,
    )
    dec = decode(p, cap)
    assert dec.counts.sum() == 0
    assert any("for 3 cycles" in f and "not a whole number of 4-cycle pulses" in f for f in dec.faults)


def test_compare_codes_ties_only_within_tolerance_of_a_boundary():
    bounds = rule_boundaries(0.0, False, 15)
    upd_g = {"W": np.array([[1e-9, 2.0, -3.0]])}
    upd_s = {"W": np.array([[-1e-9, 2.0, 3.0]])}  # cell 0 straddles 0 by a hair, cell 2 flips outright
    codes_g = {"W": np.array([[1, 1, -1]])}
    codes_s = {"W": np.array([[-1, 1, 1]])}
    cmp = compare_codes(codes_s, codes_g, upd_s, upd_g, bounds, 1e-3)
    assert [t["cell"] for t in cmp.ties] == [[0, 0]]
    assert [m["cell"] for m in cmp.mismatches] == [[0, 2]]
    assert cmp.near == 1
    # with conductance drift: the tie test uses the golden update at the chip's conductances
    upd_c = {"W": np.array([[-2e-9, 2.0, 2.9]])}
    cmp = compare_codes(codes_s, codes_g, upd_s, upd_g, bounds, 1e-3, update_ref=upd_c)
    assert [t["cell"] for t in cmp.ties] == [[0, 0]]
    assert [m["cell"] for m in cmp.mismatches] == [[0, 2]]  # 3.0 vs 2.9: outside 1e-3·2.9
    upd_c = {"W": np.array([[-2e-9, 2.0, 2.999]])}
    cmp = compare_codes(codes_s, codes_g, upd_s, upd_g, bounds, 1e-3, update_ref=upd_c)
    assert [t["cell"] for t in cmp.ties] == [[0, 0], [0, 2]] and not cmp.mismatches


# ------------------------------------------------------------------ loop with the reference controller
def _run_model(chip, tmp_path, fault=None, **kw):
    cfg = CosimConfig(out=tmp_path, **kw)
    ctrl = ReferenceController(CtrlParams.all_from_chip(chip), fault=fault)
    return asyncio.run(run_loop(chip, cfg, ctrl, log=lambda s: None))


@pytest.mark.ngspice
@pytest.mark.parametrize("phases", ["sequential", "simultaneous"])
def test_loop_matches_golden_behavioral(tmp_path, phases):
    chip = _chip(XOR)
    res = _run_model(chip, tmp_path, steps=6, phases=phases)
    assert res.passed, res.divergence
    assert len(res.steps) == 6
    for r in res.steps:
        # same pulses → same device model: conductances agree to float rounding (1e-12 of g_max)
        assert r["g_err_S"] <= TOL_G_REL_BEHAVIORAL * chip.device.g_max_S
        assert r["pulses"] == r["pulses_golden"] > 0
        assert abs(r["loss_cosim"] - r["loss_golden"]) <= r["loss_tol"]
    # the chip learns: loss goes down over the steps on both sides
    assert res.steps[-1]["loss_cosim"] < res.steps[0]["loss_cosim"]


@pytest.mark.ngspice
def test_loop_row_parallel_controller_matches_golden(tmp_path):
    from codegen.learn.overrides import override

    chip = elaborate(override(load_spec(XOR), {"controller.order": "row_parallel"}))
    res = _run_model(chip, tmp_path, steps=4)
    assert res.passed, res.divergence
    assert all(r["pulses"] == r["pulses_golden"] > 0 and r["g_err_S"] == 0 for r in res.steps)


@pytest.mark.ngspice
def test_loop_catches_a_faulty_controller(tmp_path):
    chip = _chip(KIRAZ)
    res = _run_model(chip, tmp_path, fault=(2, "W12", 1), steps=5)
    dv = res.divergence
    assert not res.passed and dv is not None
    assert (dv.step, dv.kind, dv.xbar, dv.cell) == (2, "controller", "W12", (0, 1))
    assert dv.cosim == -dv.golden != 0  # the pulse went the wrong way
    assert len(res.steps) == 2  # stopped at the first divergence
    assert any(f.endswith("nudged.sp") for f in dv.files) and all(Path(f).exists() for f in dv.files)
    dump = json.loads(next(Path(f) for f in dv.files if f.endswith("step.json")).read_text())
    assert dump["pulses_decoded"]["W12"][0][1] == -dump["codes_cosim"]["W12"][0][1] != 0
    assert all(len(r) == 6 for r in dump["pulse_runs"]["W12"])


@pytest.mark.ngspice
@pytest.mark.openvaf
def test_loop_transient_devices_match_golden_within_a_percent_of_a_step(tmp_path):
    chip = _chip(KIRAZ)
    res = _run_model(chip, tmp_path, steps=3, device="transient", phases="simultaneous")
    assert res.passed, res.divergence
    for r in res.steps:
        # Verilog-A memristor vs golden device: ≤ 1 % of a step per update (docs/veriloga.md)
        assert 0 < r["transient_step_err_steps"] <= 1e-2
        assert r["pulses"] == 12
    assert (tmp_path / "transient" / "step0002" / "circuit.cir").is_file()


SIGN = ROOT / "examples" / "sign_pulse" / "kiraz_case1_sign.yaml"
GAP0 = ["--set", "controller.gap_cycles=0", "--quantize"]  # multi-pulse codes, pulses back to back


@pytest.mark.ngspice
def test_cli_model_cosim_gap_zero_multi_pulse_passes(tmp_path):
    """issue 16: with gap_cycles 0 the reference model as the controller must not diverge."""
    from codegen.cli import main

    rc = main(["cosim", str(SIGN), "--controller", "model", "--steps", "3", *GAP0, "-o", str(tmp_path), "-q"])
    res = json.loads((tmp_path / "cosim.json").read_text())
    assert rc == 0 and res["passed"], res["divergence"]
    assert all(r["pulses"] == r["pulses_golden"] for r in res["steps"])
    assert max(r["pulses"] for r in res["steps"]) > 12  # some cells got several pulses (12 cells)


def _png_title(path: Path) -> str:
    """The verdict codegen.cosim.report writes into the plot's PNG text chunk."""
    from PIL import Image

    with Image.open(path) as im:
        return im.text["Title"]


@pytest.mark.ngspice
def test_cli_failed_run_leaves_no_stale_passing_plot(tmp_path, monkeypatch):
    """issue 16: a run that diverges at step 0 rewrites cosim.png (and removes the old divergence
    folders) instead of leaving the previous run's "matches the golden model" plot."""
    import codegen.cosim.loop as loop
    from codegen.cli import main

    argv = ["cosim", str(KIRAZ), "--controller", "model", "--steps", "2", "-o", str(tmp_path), "-q"]
    assert main(argv) == 0
    assert "matches the golden model" in _png_title(tmp_path / "cosim.png")
    (tmp_path / "divergence_step0007").mkdir()  # as an even earlier failed run would leave
    (tmp_path / "kiraz_case1_pulse_ctrl.vcd").write_text("stale waves")
    real = loop.ReferenceController

    def faulty(params, fault=None):  # the reference controller with a sign flip at step 0
        return real(params, fault=(0, "W01", 2))

    monkeypatch.setattr(loop, "ReferenceController", faulty)
    assert main(argv) == 1
    res = json.loads((tmp_path / "cosim.json").read_text())
    assert res["steps"] == [] and res["divergence"]["step"] == 0
    title = _png_title(tmp_path / "cosim.png")
    assert "DIVERGED at step 0 (controller)" in title and "matches" not in title
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cosim.json", "cosim.png", "divergence_step0000"]


def test_clear_artifacts_removes_links_without_following_them(tmp_path):
    from codegen.cosim.report import clear_artifacts

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("x")
    out = tmp_path / "out"
    out.mkdir()
    (out / "cosim.png").symlink_to(outside / "keep.txt")
    (out / "transient").symlink_to(outside, target_is_directory=True)
    (out / "mine.txt").write_text("not ours")
    gone = clear_artifacts(out, "top")
    assert sorted(p.name for p in gone) == ["cosim.png", "transient"]
    assert (outside / "keep.txt").read_text() == "x" and sorted(p.name for p in out.iterdir()) == ["mine.txt"]


# ------------------------------------------------------------------ the RTL under cocotb + Icarus
@pytest.mark.icarus
def test_rtl_test_gap_zero_multi_pulse_passes(tmp_path):
    """The same design (gap 0, multi-pulse codes) under rtl-test's cocotb checks, read by the same
    line reader as the co-simulation."""
    from codegen.learn.overrides import override
    from codegen.run.rtl import rtl_test

    chip = elaborate(override(load_spec(SIGN), {"controller.gap_cycles": 0}))
    rep = rtl_test(
        chip.name,
        chip.controller,
        tmp_path,
        do_lint=False,
        do_synth=False,
        seed=4,
        testcases=["test_random_codes", "test_reset_mid_update"],
    )
    assert rep.sim is not None and rep.sim.passed, rep.sim.tests


@pytest.mark.icarus
@pytest.mark.ngspice
def test_cli_rtl_cosim_gap_zero_multi_pulse_passes(tmp_path):
    from codegen.cli import main

    assert main(["cosim", str(SIGN), "--steps", "2", *GAP0, "-o", str(tmp_path), "-q"]) == 0


@pytest.mark.icarus
@pytest.mark.ngspice
def test_cli_rtl_cosim_passes_and_writes_report(tmp_path):
    from codegen.cli import main

    rc = main(["cosim", str(KIRAZ), "--steps", "4", "--vcd", "-o", str(tmp_path), "-q"])
    assert rc == 0
    res = json.loads((tmp_path / "cosim.json").read_text())
    assert (
        res["passed"] and res["config"]["controller"] == "RTL (cocotb + Icarus Verilog)"
    )  # the simulator named
    assert len(res["steps"]) == 4 and all(r["pulses"] == 12 for r in res["steps"])
    assert (tmp_path / "cosim.png").stat().st_size > 10_000
    vcd = Path(res["vcd"])
    assert vcd.suffix == ".vcd" and "$enddefinitions" in vcd.read_text()[:20000]
    assert "matches the golden model" in _png_title(tmp_path / "cosim.png")
    # a failing run at step 0 into the same folder (no --vcd): no artifact of the passing run stays
    rc = main(["cosim", str(KIRAZ), "--steps", "4", "--inject-fault", "W01:2", "-o", str(tmp_path), "-q"])
    assert rc == 1
    res = json.loads((tmp_path / "cosim.json").read_text())
    assert not res["passed"] and res["divergence"]["step"] == 0 and res["steps"] == []
    title = _png_title(tmp_path / "cosim.png")
    assert "DIVERGED at step 0 (controller)" in title and "matches" not in title
    assert res["vcd"] is None and not vcd.exists()


@pytest.mark.icarus
@pytest.mark.ngspice
@pytest.mark.parametrize("order", ["row_by_row", "row_parallel"])
def test_cli_rtl_with_injected_fault_reports_the_cell(tmp_path, capsys, order):
    from codegen.cli import main

    args = ["cosim", str(KIRAZ), "--steps", "3", "--inject-fault", "W01:2", "-o", str(tmp_path)]
    rc = main([*args, "--set", f"controller.order={order}"])
    assert rc == 1
    res = json.loads((tmp_path / "cosim.json").read_text())
    dv = res["divergence"]
    assert (dv["step"], dv["kind"], dv["xbar"], dv["cell"]) == (0, "controller", "W01", [1, 0])
    assert dv["cosim"] == -dv["golden"]
    out = capsys.readouterr().out
    assert "DIVERGENCE at step 0" in out and "W01[1,0]" in out
    core = tmp_path / "rtl" / "kiraz_case1_W01_pulse_ctrl.v"
    assert "INJECTED FAULT" in core.read_text() and str(core) in dv["files"]


@pytest.mark.icarus
@pytest.mark.ngspice
@pytest.mark.openvaf
def test_rtl_cosim_xor_transient_simultaneous(tmp_path):
    from codegen.cosim.runner import run_rtl_cosim

    chip = _chip(XOR)
    cfg = CosimConfig(steps=3, device="transient", phases="simultaneous", out=tmp_path)
    res = run_rtl_cosim(chip, XOR, {}, cfg)
    assert res["passed"], res["divergence"]
    for r in res["steps"]:
        assert r["pulses"] == r["pulses_golden"] > 0
        assert r["transient_step_err_steps"] <= 1e-2  # Verilog-A vs golden device, per update
    assert res["timing_s"]["devices"] > 0 and res["timing_s"]["rtl"] > 0


def test_cli_rejects_bad_settings_before_simulating(tmp_path, capsys):
    from codegen.cli import main

    assert main(["cosim", str(KIRAZ), "--steps", "0", "-o", str(tmp_path)]) == 2
    assert "--steps must be at least 1" in capsys.readouterr().err
    rc = main(["cosim", str(KIRAZ), "--set", "device.faults.stuck_at_gmin=0.1", "-o", str(tmp_path)])
    assert rc == 2
    assert "ideal devices" in capsys.readouterr().err
    assert main(["cosim", str(KIRAZ), "--inject-fault", "W01", "-o", str(tmp_path)]) == 2
    assert not (tmp_path / "rtl").exists()  # nothing was built


# ------------------------------------------------------------------ ties and code mismatches in the loop
class _GoldenAsSpice:
    """Stands in for ngspice: the golden model's EP estimate, with one cell's update scaled at one step."""

    def __init__(self, chip, conductances, phases, scale=None):
        from codegen.model import GoldenModel

        self.chip, self.top, self.seconds, self.load_seconds = chip, "nudged", 0.0, 0.0
        self.model = GoldenModel(chip, conductances=conductances)
        self.scale = scale  # (step, xbar, (r, c), factor)
        self.calls = 0
        self.write_netlists = lambda folder, g: _RealSpice.write_netlists(self, folder, g)

    def set_conductances(self, g):
        self.model.set_conductances(g)

    def solve(self, x, t, beta):
        from codegen.cosim.analog import PhaseResult

        grad = self.model.ep_gradient(x, t, beta=beta, centered=self.chip.nudge.centered)
        if self.scale and self.scale[0] == self.calls:
            grad[self.scale[1]][self.scale[2]] *= self.scale[3]
        self.calls += 1
        y = self.model.solve(x).outputs
        return PhaseResult(grad, float(np.mean(self.model.loss(x, t))), y, 1, 0.0)


def _run_with_fake(monkeypatch, tmp_path, chip, scale, **kw):
    import codegen.cosim.analog as analog

    monkeypatch.setattr(analog, "SpiceCrossbars", lambda c, g, p, **kw: _GoldenAsSpice(c, g, p, scale))
    return _run_model(chip, tmp_path, **kw)


def test_loop_reports_a_tie_at_the_dead_zone_and_follows_the_chip(monkeypatch, tmp_path):
    from codegen.learn.datasets import load_dataset
    from codegen.model import GoldenModel

    chip = _chip(KIRAZ)
    ds = load_dataset(chip)
    g = GoldenModel(chip).ep_gradient(ds.x_train[:1], ds.t_train[:1])["W12"]
    eta, step = chip.training.learning_rate, chip.device.dg_set_S
    dz = float(abs(eta * g[1, 0]) / step)  # the dead zone sits exactly on cell W12[1,0]'s update at step 0
    # the stand-in "ngspice" sees that update 1e-7 smaller: just inside the dead zone, no pulse
    res = _run_with_fake(monkeypatch, tmp_path, chip, (0, "W12", (1, 0), 1 - 1e-7), steps=3, dead_zone=dz)
    assert res.passed, res.divergence
    assert len(res.ties) == 1
    tie = res.ties[0]
    assert (tie["step"], tie["xbar"], tie["cell"], tie["code_cosim"]) == (0, "W12", [1, 0], 0)
    assert abs(tie["code_golden"]) == 1
    assert res.steps[0]["ties"] == 1 and res.steps[0]["pulses"] == res.steps[0]["pulses_golden"]
    assert res.steps[0]["g_err_S"] == 0  # the golden run followed the chip's decision


def test_loop_stops_on_a_code_mismatch_beyond_tolerance(monkeypatch, tmp_path):
    chip = _chip(KIRAZ)
    # "ngspice" gets W01[0,1]'s update 10 % too small at step 1 and of the opposite sign
    res = _run_with_fake(monkeypatch, tmp_path, chip, (1, "W01", (0, 1), -0.9), steps=4)
    dv = res.divergence
    assert dv is not None and (dv.step, dv.kind, dv.xbar, dv.cell) == (1, "codes", "W01", (0, 1))
    assert dv.cosim == -dv.golden != 0
    assert "tolerance" in dv.message and len(res.steps) == 1
