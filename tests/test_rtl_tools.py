"""The generated controller RTL under real tools: Verilator lint, Yosys, cocotb + Icarus.

The cocotb tests compare the RTL with the reference model codegen.controller cycle by cycle; the
mutation tests show that they fail when the RTL is off by one pulse or breaks half-select.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from codegen.backends.rtl import format_cocotb, format_rtl
from codegen.cli import main
from codegen.elab import elaborate
from codegen.load import load_spec
from codegen.run.rtl import rtl_test

ROOT = Path(__file__).resolve().parents[1]


def chip(name: str):
    return elaborate(load_spec(ROOT / "examples" / f"{name}.yaml"))


def big_ctrl(rows: int = 784, cols: int = 100, **changes):
    """Controller of a single rows × cols crossbar (xor's IR with its crossbars replaced)."""
    return dataclasses.replace(chip("xor").controller, crossbars=(("W01", rows, cols),), **changes)


@pytest.mark.verilator
def test_lint_clean(example, tmp_path):
    c = elaborate(load_spec(example))
    rep = rtl_test(c.name, c.controller, tmp_path, do_synth=False, do_sim=False)
    assert rep.lint is not None and rep.lint.ok, rep.lint.output


@pytest.mark.yosys
def test_synth_no_latches(example, tmp_path):
    c = elaborate(load_spec(example))
    rep = rtl_test(c.name, c.controller, tmp_path, do_lint=False, do_sim=False)
    s = rep.synth
    assert s is not None and s.latches == 0  # `check -assert` also rejected logic loops
    assert s.memory_macros == len(c.controller.crossbars)
    # at least the line-level registers: 2 bits per row and column of every crossbar
    assert s.flip_flops >= 2 * sum(r + k for _n, r, k in c.controller.crossbars)
    assert (tmp_path / "reports" / "synth.json").is_file()


@pytest.mark.icarus
def test_cocotb_examples(example, tmp_path):
    c = elaborate(load_spec(example))
    rep = rtl_test(c.name, c.controller, tmp_path, do_lint=False, do_synth=False, seed=11)
    assert rep.sim is not None
    assert [n for n, _ok, _m in rep.sim.tests] == [
        "test_reset_state",
        "test_random_codes",
        "test_back_to_back",
        "test_extreme_codes",
        "test_reset_mid_update",
    ]
    assert rep.sim.passed, "\n".join(f"{n}: {m}" for n, ok, m in rep.sim.tests if not ok)


@pytest.mark.icarus
def test_out_of_range_codes(tmp_path):
    """max_pulses = 10 < 15: counts 11..15 set err and are skipped (exact timing vs the model)."""
    ctrl = dataclasses.replace(chip("xor").controller, max_pulses=10)
    rep = rtl_test("oor", ctrl, tmp_path, do_lint=False, do_synth=False, testcases=["test_extreme_codes"])
    assert rep.sim is not None and rep.sim.passed, rep.sim.tests
    assert "mag > 4'd10" in (tmp_path / "rtl" / "oor_W01_pulse_ctrl.v").read_text()


@pytest.mark.icarus
@pytest.mark.verilator
@pytest.mark.yosys
@pytest.mark.parametrize("max_pulses", [15, 10])
def test_row_parallel(tmp_path, max_pulses):
    """Row-parallel order: lint and every scenario (out-of-range codes too with max_pulses = 10)."""
    ctrl = dataclasses.replace(chip("xor").controller, order="row_parallel", max_pulses=max_pulses)
    rep = rtl_test("rp", ctrl, tmp_path, seed=5)
    assert rep.lint is not None and rep.lint.ok, rep.lint.output
    assert rep.synth is not None and rep.synth.latches == 0
    assert rep.sim is not None and len(rep.sim.tests) == 5
    assert rep.sim.passed, "\n".join(f"{n}: {m}" for n, ok, m in rep.sim.tests if not ok)


@pytest.mark.icarus
@pytest.mark.verilator
@pytest.mark.parametrize("order", ["row_by_row", "row_parallel"])
def test_corner_cases(tmp_path, order):
    """1×1, 1×3 and 3×1 crossbars, one-cycle pulses without gaps (pulses merge on the lines)."""
    ctrl = dataclasses.replace(
        chip("xor").controller,
        crossbars=(("A", 1, 1), ("B", 1, 3), ("C", 3, 1)),
        order=order,
        pulse_width_cycles=1,
        gap_cycles=0,
    )
    rep = rtl_test("edge", ctrl, tmp_path, do_synth=False, seed=3)
    assert rep.lint is not None and rep.lint.ok, rep.lint.output
    assert rep.sim is not None and rep.sim.passed, [t for t in rep.sim.tests if not t[1]]


@pytest.mark.icarus
def test_row_parallel_mutation_is_caught(tmp_path):
    """One extra pulse for the cells of a row (count >= pulses given instead of >)."""
    ctrl = dataclasses.replace(big_ctrl(3, 4), order="row_parallel")
    files = _mutated("rpm", ctrl, "(rowbuf_n[5*gi +: 4] > cnt_n)", "(rowbuf_n[5*gi +: 4] >= cnt_n)")
    files = {
        p: t.replace("(rowbuf[5*gi +: 4] > pulse_cnt)", "(rowbuf[5*gi +: 4] >= pulse_cnt)")
        for p, t in files.items()
    }
    rep = rtl_test(
        "rpm", ctrl, tmp_path, do_lint=False, do_synth=False, files=files, testcases=["test_random_codes"]
    )
    assert rep.sim is not None and not rep.sim.passed
    assert "differs" in rep.sim.tests[0][2]


def _mutated(name: str, ctrl, old: str, new: str) -> dict[str, str]:
    files = {**format_rtl(name, ctrl), **format_cocotb(name, ctrl)}
    core = f"rtl/{name}_W01_pulse_ctrl.v"
    assert files[core].count(old) == 1, f"mutation anchor {old!r} not found once"
    files[core] = files[core].replace(old, new)
    return files


@pytest.mark.icarus
@pytest.mark.parametrize(
    ("old", "new", "symptom"),
    [
        # one pulse too many for every cell
        ("left_n  = mag;", "left_n  = mag + 4'd1;", "pulse counts differ from the reference model"),
        # each pulse one cycle too long
        ("timer_n = 6'd49;\n                end", "timer_n = 6'd50;\n                end", "W01_row_lvl"),
        # the per-cell pulse counter counts in steps of two
        ("cnt_n  = pulse_cnt + 4'd1;", "cnt_n  = pulse_cnt + 4'd2;", "pulse_cnt: change"),
        # two columns selected at once: half-select broken
        ("col_hot_n = 4'd1 << col_n;", "col_hot_n = 4'd3 << col_n;", "see the full amplitude"),
    ],
    ids=["extra-pulse", "long-pulse", "counter", "two-columns"],
)
def test_mutations_are_caught(tmp_path, old, new, symptom):
    ctrl = big_ctrl(3, 4)
    files = _mutated("mut", ctrl, old, new)
    rep = rtl_test(
        "mut", ctrl, tmp_path, do_lint=False, do_synth=False, files=files, testcases=["test_random_codes"]
    )
    assert rep.sim is not None and not rep.sim.passed
    assert symptom in rep.sim.tests[0][2]


@pytest.mark.icarus
def test_cli_rtl_test(tmp_path, capsys):
    spec = str(ROOT / "examples" / "kiraz_case1.yaml")
    argv = ["rtl-test", spec, "-o", str(tmp_path), "--no-synth", "--no-lint", "--test", "random_codes"]
    rc = main([*argv, "--xbar", "W01", "--waves"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "test_random_codes" in out and "pass" in out
    assert (tmp_path / "reports" / "rtl_test.json").is_file()
    assert (tmp_path / "sim_build" / "kiraz_case1_pulse_ctrl.fst").stat().st_size > 0
    assert main(["rtl-test", spec, "--xbar", "nope"]) == 2


@pytest.mark.slow
@pytest.mark.icarus
@pytest.mark.verilator
def test_784x100_lint_and_sim(tmp_path):
    """One 784 × 100 crossbar: lint, then a sparse random update and a reset in the middle."""
    ctrl = big_ctrl(784, 100, max_pulses=12)
    rep = rtl_test(
        "big",
        ctrl,
        tmp_path,
        do_synth=False,
        density=0.0005,
        testcases=["test_random_codes", "test_reset_mid_update"],
    )
    assert rep.lint is not None and rep.lint.ok, rep.lint.output
    assert rep.sim is not None and rep.sim.passed, rep.sim.tests


@pytest.mark.slow
@pytest.mark.yosys
def test_784x100_synth(tmp_path):
    ctrl = big_ctrl(784, 100, max_pulses=12)
    rep = rtl_test("big", ctrl, tmp_path, do_lint=False, do_sim=False)
    s = rep.synth
    assert s is not None and s.latches == 0 and s.memory_bits == 78400 * 5
    assert s.flip_flops >= 2 * (784 + 100)  # registered line levels
