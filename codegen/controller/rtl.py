"""The programming-pulse controller as Verilog-2005 text and its cocotb testbench, from the
:class:`~codegen.ir.ControllerIR` (templates ``templates/rtl/``, ``templates/cocotb/``).  The ``rtl``
backend (:mod:`codegen.backends.rtl`, which lists the files) and the runners (:mod:`codegen.run.rtl`)
both take them from here, so the runners need not import the backends."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import CodegenError
from ..ir import ControllerIR
from ..templating import data_dir, render
from . import CtrlParams
from .model import _bits

__all__ = ["RtlDesign", "design", "format_rtl", "format_cocotb", "HAND_WRITTEN", "TB_SUPPORT", "SCENARIOS"]

#: hand-written cells from ``rtl/`` the generated code instantiates
HAND_WRITTEN = ("eqp_code_mem.v",)
#: testbench support module from ``sim/`` copied next to the generated test
TB_SUPPORT = "eqp_pulse_tb.py"
#: the cocotb tests of every generated testbench (functions of the same name in eqp_pulse_tb.py)
SCENARIOS = ("reset_state", "random_codes", "back_to_back", "extreme_codes", "reset_mid_update")


@dataclass(frozen=True)
class _Xbar:
    """Template view of one crossbar's core."""

    p: CtrlParams
    module: str
    row_ext: str
    col_ext: str

    def __getattr__(self, item: str):  # template access x.rows etc. goes to the params
        return getattr(self.p, item)

    @property
    def can_overflow(self) -> bool:
        """True if a code can carry a count above max_pulses (then the range check exists)."""
        return self.p.max_pulses < (1 << self.p.count_bits) - 1

    @property
    def code_bits(self) -> int:
        return self.p.code_bits


@dataclass(frozen=True)
class RtlDesign:
    """Names and widths of a chip's controller, shared by the RTL, the testbench and the runner."""

    chip: str
    top: str
    xbars: tuple[CtrlParams, ...]
    modules: tuple[str, ...]
    sel_bits: int
    addr_bits: int
    count_bits: int

    @property
    def rtl_files(self) -> list[str]:
        """Source files in compile order, relative to the build folder."""
        return (
            [f"rtl/{m}" for m in HAND_WRITTEN] + [f"rtl/{m}.v" for m in self.modules] + [f"rtl/{self.top}.v"]
        )

    @property
    def test_module(self) -> str:
        return f"test_{self.top}"


def design(chip_name: str, ctrl: ControllerIR) -> RtlDesign:
    if not ctrl.crossbars:
        raise CodegenError("the chip has no crossbar to program")
    xbars = tuple(CtrlParams.from_ir(ctrl, name) for name, _r, _c in ctrl.crossbars)
    names = [x.name for x in xbars]
    if len(set(names)) != len(names):
        raise CodegenError(f"crossbar names must be unique for the RTL: {names}")
    top = f"{chip_name}_pulse_ctrl"
    return RtlDesign(
        chip=chip_name,
        top=top,
        xbars=xbars,
        modules=tuple(f"{chip_name}_{x.name}_pulse_ctrl" for x in xbars),
        sel_bits=_bits(len(xbars) - 1),
        addr_bits=_bits(max(x.cells for x in xbars) - 1),
        count_bits=ctrl.count_bits,
    )


def _ext(name: str, have: int, want: int) -> str:
    return name if have == want else f"{{{want - have}'d0, {name}}}"


def format_rtl(chip_name: str, ctrl: ControllerIR, description: str = "") -> dict[str, str]:
    """Every RTL file of the controller, ``{relative_path: text}``; ``description``: the chip's free
    text, one comment line in each file header (escaped by the ``verilog_comment`` filter)."""
    d = design(chip_name, ctrl)
    rwmax = max(x.row_bits for x in d.xbars)
    cwmax = max(x.col_bits for x in d.xbars)
    views = [
        _Xbar(x, m, _ext(f"{x.name}_row", x.row_bits, rwmax), _ext(f"{x.name}_col", x.col_bits, cwmax))
        for x, m in zip(d.xbars, d.modules, strict=True)
    ]
    files: dict[str, str] = {}
    for m in HAND_WRITTEN:
        files[f"rtl/{m}"] = (data_dir("rtl") / m).read_text()
    for v in views:
        template = (
            "rtl/xbar_pulse_ctrl_row_parallel.v.j2"
            if v.order == "row_parallel"
            else "rtl/xbar_pulse_ctrl.v.j2"
        )
        files[f"rtl/{v.module}.v"] = render(
            template, mod=v.module, chip=chip_name, description=description, x=v, aw=d.addr_bits
        )
    files[f"rtl/{d.top}.v"] = render(
        "rtl/pulse_ctrl.v.j2",
        top=d.top,
        chip=chip_name,
        description=description,
        xbars=views,
        sw=d.sel_bits,
        aw=d.addr_bits,
        cb=d.count_bits,
        rwmax=rwmax,
        cwmax=cwmax,
        clock_hz=ctrl.clock_hz,
        pw=ctrl.pulse_width_cycles,
        pulse_s=ctrl.pulse_width_cycles / ctrl.clock_hz,
        gap=ctrl.gap_cycles,
        maxp=ctrl.max_pulses,
        v_program_V=ctrl.v_program_V,
    )
    files[f"rtl/{d.top}.f"] = "".join(f"{p.removeprefix('rtl/')}\n" for p in d.rtl_files)
    return files


def format_cocotb(chip_name: str, ctrl: ControllerIR, description: str = "") -> dict[str, str]:
    """The cocotb testbench of the controller, ``{relative_path: text}``; ``description`` as in
    :func:`format_rtl` (escaped by ``python_comment``)."""
    d = design(chip_name, ctrl)
    files = {f"cocotb/{TB_SUPPORT}": (data_dir("sim") / TB_SUPPORT).read_text()}
    files[f"cocotb/{d.test_module}.py"] = render(
        "cocotb/test_pulse_ctrl.py.j2", d=d, chip=chip_name, description=description, scenarios=SCENARIOS
    )
    files["cocotb/Makefile"] = render("cocotb/Makefile.j2", d=d, chip=chip_name)
    files["cocotb/test_runner.py"] = render("cocotb/test_runner.py.j2", d=d, chip=chip_name)
    return files
