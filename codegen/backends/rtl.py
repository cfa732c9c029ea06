"""Backend ``rtl``: the programming-pulse controller in Verilog-2005 and its cocotb testbench.

Files (all under the build folder):

* ``rtl/<chip>_pulse_ctrl.v``: top module (crossbar select, code write port, handshake, line levels)
* ``rtl/<chip>_<xbar>_pulse_ctrl.v``: one controller core per crossbar, sized for it
* ``rtl/eqp_code_mem.v``: the hand-written code memory (copied from ``rtl/``)
* ``rtl/<chip>_pulse_ctrl.f``: the source list in compile order
* ``cocotb/test_<chip>_pulse_ctrl.py`` + ``cocotb/eqp_pulse_tb.py``: testbench, checked against
  :mod:`codegen.controller` (run with ``codegen rtl-test``, or in ``cocotb/``: ``make`` (Icarus) or
  ``python test_runner.py [icarus|verilator]``)
* ``cocotb/Makefile``: cocotb's makefile flow (``SIM ?= icarus``), sources relative to it
* ``cocotb/test_runner.py``: the same tests through ``cocotb_tools.runner`` (Icarus or Verilator)

The timing contract and the port list are in ``docs/controller.md``.
"""

from __future__ import annotations

from ..controller.rtl import HAND_WRITTEN, TB_SUPPORT, RtlDesign, design, format_cocotb, format_rtl
from ..ir import Chip
from . import Backend, BuildOptions, register

__all__ = ["RTL", "RtlDesign", "design", "format_rtl", "format_cocotb", "HAND_WRITTEN", "TB_SUPPORT"]


@register
class RTL(Backend):
    name = "rtl"
    summary = "rtl/*.v: programming-pulse controller (Verilog-2005) + cocotb/ testbench"

    def render(self, chip: Chip, options: BuildOptions) -> dict[str, str | bytes]:
        files: dict[str, str | bytes] = {}
        files.update(format_rtl(chip.name, chip.controller, chip.description))
        files.update(format_cocotb(chip.name, chip.controller, chip.description))
        return files
