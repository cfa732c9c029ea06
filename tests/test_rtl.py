"""Backend ``rtl``: generated Verilog and cocotb files (golden, determinism, scaling), no tools."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from codegen.backends import BuildOptions, get_backend
from codegen.backends.rtl import HAND_WRITTEN, design, format_cocotb, format_rtl
from codegen.elab import elaborate
from codegen.errors import CodegenError
from codegen.load import load_spec

ROOT = Path(__file__).resolve().parents[1]


def chip(name: str):
    return elaborate(load_spec(ROOT / "examples" / f"{name}.yaml"))


def big_ctrl(rows: int = 784, cols: int = 100, **changes):
    """The controller of a single rows × cols crossbar (the IR of xor with its crossbars replaced)."""
    return dataclasses.replace(chip("xor").controller, crossbars=(("W01", rows, cols),), **changes)


def test_golden_xor(golden):
    c = chip("xor")
    files = get_backend("rtl").render(c, BuildOptions())
    generated = {
        p: t for p, t in files.items() if not p.endswith(HAND_WRITTEN) and not p.endswith("eqp_pulse_tb.py")
    }
    assert sorted(generated) == [
        "cocotb/Makefile",
        "cocotb/test_runner.py",
        "cocotb/test_xor_pulse_ctrl.py",
        "rtl/xor_B1_pulse_ctrl.v",
        "rtl/xor_B2_pulse_ctrl.v",
        "rtl/xor_W01_pulse_ctrl.v",
        "rtl/xor_W12_pulse_ctrl.v",
        "rtl/xor_pulse_ctrl.f",
        "rtl/xor_pulse_ctrl.v",
    ]
    for path, text in generated.items():
        # .txt: pytest must not collect the generated cocotb module as a test of this repository
        golden(f"rtl/xor/{path}" + (".txt" if path.endswith(".py") else ""), text)


def test_golden_xor_row_parallel(golden):
    ctrl = dataclasses.replace(chip("xor").controller, order="row_parallel")
    files = format_rtl("xor", ctrl)
    golden("rtl/xor_row_parallel/rtl/xor_W01_pulse_ctrl.v", files["rtl/xor_W01_pulse_ctrl.v"])
    assert "S_DECIDE" in files["rtl/xor_W12_pulse_ctrl.v"]


def test_deterministic_and_self_contained(example):
    c = elaborate(load_spec(example))
    a = get_backend("rtl").render(c, BuildOptions())
    b = get_backend("rtl").render(c, BuildOptions())
    assert a == b
    for path, text in a.items():
        assert str(ROOT) not in text, f"{path} contains an absolute path"
        assert "\t" not in text
    d = design(c.name, c.controller)
    assert [p for p in d.rtl_files if p not in a] == []
    assert a[f"rtl/{d.top}.f"].split() == [p.removeprefix("rtl/") for p in d.rtl_files]


def test_ports_scale_for_784x100():
    ctrl = big_ctrl()
    files = format_rtl("big", ctrl)
    top = files["rtl/big_pulse_ctrl.v"]
    widths = [int(m) + 1 for m in re.findall(r"(?:input|output)\s+wire\s+\[(\d+):0\]", top)]
    # line levels are the widest ports (2 bits per row / column); codes come through a 17-bit address
    assert max(widths) == 2 * 784
    assert re.search(r"input\s+wire\s+\[16:0\]\s+wr_addr", top)
    core = files["rtl/big_W01_pulse_ctrl.v"]
    assert ".DEPTH(78400)" in core and ".AW(17)" in core
    assert "wr_addr <= 17'd78399" in core  # addresses past the last cell are ignored
    assert "mag > 4'd" not in core  # max_pulses = 15 fills the 4-bit count: no range check needed
    assert "mag > 4'd12" in format_rtl("big", big_ctrl(max_pulses=12))["rtl/big_W01_pulse_ctrl.v"]


def test_timing_constants_come_from_the_ir():
    ctrl = big_ctrl(2, 2, pulse_width_cycles=7, gap_cycles=0)
    core = format_rtl("t", ctrl)["rtl/t_W01_pulse_ctrl.v"]
    assert "timer_n = 3'd6;" in core  # pulse width 7 cycles
    assert "S_GAP;" not in core.split("S_PULSE: begin")[1].split("S_GAP: begin")[0]  # no gap state used
    tb = format_cocotb("t", ctrl)["cocotb/test_t_pulse_ctrl.py"]
    assert "pulse_width_cycles=7," in tb and "gap_cycles=0," in tb and "clock_hz=50000000.0," in tb


def test_design_rejects_duplicate_crossbars():
    ctrl = dataclasses.replace(chip("xor").controller, crossbars=(("A", 2, 2), ("A", 3, 3)))
    with pytest.raises(CodegenError, match="unique"):
        design("x", ctrl)


def test_testbench_reads_the_lines_with_the_shared_reader():
    """issue 16: the cocotb support module shipped with every build interprets the line levels only
    through codegen.controller.lines.read_lines (the co-simulation's decoder), not a copy of its own."""
    tb = format_cocotb("xor", chip("xor").controller)["cocotb/eqp_pulse_tb.py"]
    assert "from codegen.controller.lines import read_lines" in tb
    assert "read_lines(x, rows, cols" in tb
    assert "cell_voltages_halves" not in tb and "% W" not in tb and "// W" not in tb
