"""Run the tools on the generated controller RTL: Verilator lint, Yosys synthesis, cocotb + Icarus.

Each function takes the build folder (as written by ``codegen build``) and the
:class:`~codegen.controller.rtl.RtlDesign`; tool output goes to ``<build>/sim_build/`` or a
temporary folder, never into the generated files.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

from ..controller.rtl import RtlDesign
from ..errors import CodegenError
from ..ir import ControllerIR
from .tools import ToolMissing, iverilog_command, tool_version, verilator_command, yosys_command

__all__ = [
    "LintResult",
    "SynthResult",
    "CocotbResult",
    "RtlTestReport",
    "lint",
    "synth",
    "run_cocotb",
    "rtl_test",
]


@dataclass
class LintResult:
    ok: bool
    output: str
    command: list[str]


def lint(build_dir: str | Path, d: RtlDesign, timeout_s: float = 300) -> LintResult:
    """``verilator --lint-only -Wall`` on the whole controller (top + every core + cells)."""
    argv, env = verilator_command()
    rtl = Path(build_dir) / "rtl"
    files = [p.removeprefix("rtl/") for p in d.rtl_files]
    cmd = [*argv, "--lint-only", "-Wall", "--top-module", d.top, *files]
    proc = subprocess.run(
        cmd, cwd=rtl, capture_output=True, text=True, timeout=timeout_s, env={**os.environ, **env}
    )
    out = (proc.stdout + proc.stderr).strip()
    ok = proc.returncode == 0 and "%Warning" not in out and "%Error" not in out
    return LintResult(ok, out, cmd)


@dataclass
class SynthResult:
    """Yosys generic synthesis (``synth -flatten``) with the code memories kept as RAM macros."""

    top: str
    cells: int  # logic cells + flip-flops, without the memory macros
    flip_flops: int
    latches: int
    memory_macros: int
    memory_bits: int  # bits held in the code memories (rows·cols·(count_bits+1) per crossbar)
    cells_by_type: dict[str, int] = field(default_factory=dict)
    yosys: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "top": self.top,
            "cells": self.cells,
            "flip_flops": self.flip_flops,
            "latches": self.latches,
            "memory_macros": self.memory_macros,
            "memory_bits": self.memory_bits,
            "cells_by_type": dict(sorted(self.cells_by_type.items())),
            "yosys": self.yosys,
        }


def synth(build_dir: str | Path, d: RtlDesign, timeout_s: float = 600) -> SynthResult:
    """Synthesise with Yosys; raises CodegenError if Yosys fails or finds a latch or a logic loop.

    ``eqp_code_mem`` is read as a black box (``read_verilog -lib``): the code memory is an SRAM
    macro in a real chip, and mapping 78 400 words to flip-flops would only measure Yosys.
    """
    rtl = Path(build_dir) / "rtl"
    cores = [p.removeprefix("rtl/") for p in d.rtl_files if not p.endswith("eqp_code_mem.v")]
    script = (
        "read_verilog -lib eqp_code_mem.v; "
        f"read_verilog {' '.join(cores)}; "
        f"synth -top {d.top} -flatten; check -assert; tee -q -o stat.json stat -json"
    )
    with tempfile.TemporaryDirectory(prefix="codegen-yosys-") as tmp:
        for p in d.rtl_files:
            shutil.copy(rtl / p.removeprefix("rtl/"), tmp)
        proc = subprocess.run(
            [*yosys_command(), "-q", "-p", script], cwd=tmp, capture_output=True, text=True, timeout=timeout_s
        )
        if proc.returncode != 0:
            raise CodegenError(f"yosys failed on {d.top}:\n{(proc.stdout + proc.stderr)[-3000:]}")
        stat = json.loads((Path(tmp) / "stat.json").read_text())
    by_type = {k: int(v) for k, v in stat["design"]["num_cells_by_type"].items() if k != "$scopeinfo"}
    macros = by_type.pop("eqp_code_mem", 0)
    ffs = sum(v for k, v in by_type.items() if "DFF" in k)
    latches = sum(v for k, v in by_type.items() if "LATCH" in k)
    if latches:
        raise CodegenError(f"yosys found {latches} latch(es) in {d.top}")
    return SynthResult(
        top=d.top,
        cells=sum(by_type.values()),
        flip_flops=ffs,
        latches=latches,
        memory_macros=macros,
        memory_bits=sum(x.cells * x.code_bits for x in d.xbars),
        cells_by_type=by_type,
        yosys=tool_version((*yosys_command(), "-V")),
    )


@dataclass
class CocotbResult:
    """Outcome of one cocotb run: ``tests`` = [(name, passed, message)]."""

    tests: list[tuple[str, bool, str]]
    results_xml: Path
    log: Path
    waves: Path | None = None

    @property
    def failed(self) -> list[str]:
        return [n for n, ok, _ in self.tests if not ok]

    @property
    def passed(self) -> bool:
        return bool(self.tests) and not self.failed


def _parse_results(path: Path) -> list[tuple[str, bool, str]]:
    if not path.is_file():
        return []
    out = []
    for case in ElementTree.parse(path).getroot().iter("testcase"):
        bad = case.find("failure")
        if bad is None:
            bad = case.find("error")
        msg = "" if bad is None else (bad.get("message") or bad.text or "failed")
        out.append((case.get("name", "?"), bad is None, msg))
    return out


@contextlib.contextmanager
def _outside_pytest() -> Iterator[None]:
    """The cocotb runner exits the process on failures when it sees pytest; we read the XML."""
    saved = os.environ.pop("PYTEST_CURRENT_TEST", None)
    try:
        yield
    finally:
        if saved is not None:
            os.environ["PYTEST_CURRENT_TEST"] = saved


def run_cocotb(
    build_dir: str | Path,
    d: RtlDesign,
    *,
    seed: int = 1,
    density: float | None = None,
    xbars: list[str] | None = None,
    testcases: list[str] | None = None,
    waves: bool = False,
    work: str | Path | None = None,
) -> CocotbResult:
    """Build the RTL with Icarus and run the generated cocotb tests (``cocotb/test_<top>.py``).

    ``seed``/``density``/``xbars`` reach the testbench as ``EQP_SEED``/``EQP_DENSITY``/``EQP_XBARS``.
    ``waves``: write ``<work>/<top>.fst``.  ``work`` defaults to ``<build>/sim_build``.
    """
    try:
        from cocotb_tools.runner import get_runner
    except ImportError as exc:
        raise ToolMissing(
            "cocotb is not installed: run `make bootstrap` (pip package cocotb==2.1.0)"
        ) from exc

    iverilog_command()  # a clear ToolMissing before cocotb's own SystemExit
    build = Path(build_dir).resolve()
    out = Path(work).resolve() if work else build / "sim_build"
    out.mkdir(parents=True, exist_ok=True)
    runner = get_runner("icarus")
    env = {"EQP_SEED": str(seed)}
    if density is not None:
        env["EQP_DENSITY"] = repr(float(density))
    if xbars:
        env["EQP_XBARS"] = ",".join(xbars)
    results = out / "results.xml"
    log = out / "cocotb.log"
    with _outside_pytest():
        try:
            runner.build(
                sources=[build / p for p in d.rtl_files],
                hdl_toplevel=d.top,
                build_dir=out,
                timescale=("1ps", "1ps"),
                waves=waves,
                always=True,
                log_file=out / "build.log",
            )
            runner.test(
                test_module=d.test_module,
                hdl_toplevel=d.top,
                test_dir=build / "cocotb",
                build_dir=out,
                results_xml=str(results),
                extra_env=env,
                testcase=testcases,
                waves=waves,
                timescale=("1ps", "1ps"),
                log_file=log,
                seed=seed,
            )
        except SystemExit:
            pass  # a failed simulation: the results file (or its absence) says what happened
    tests = _parse_results(results)
    if not tests:
        tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
        build_log = out / "build.log"
        if build_log.exists():
            tail = build_log.read_text(errors="replace")[-2000:] + tail
        tests = [("simulation", False, f"no results from the simulator:\n{tail}")]
    wave = out / f"{d.top}.fst"
    return CocotbResult(tests, results, log, wave if waves and wave.exists() else None)


@dataclass
class RtlTestReport:
    """Everything ``codegen rtl-test`` did for one chip."""

    chip: str
    out: Path
    lint: LintResult | None = None
    synth: SynthResult | None = None
    sim: CocotbResult | None = None
    timings_s: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return (self.lint is None or self.lint.ok) and (self.sim is None or self.sim.passed)

    def as_dict(self) -> dict[str, object]:
        return {
            "chip": self.chip,
            "ok": self.ok,
            "lint": None if self.lint is None else {"ok": self.lint.ok, "output": self.lint.output},
            "synth": None if self.synth is None else self.synth.as_dict(),
            "sim": None
            if self.sim is None
            else {"tests": [{"name": n, "passed": ok, "message": m} for n, ok, m in self.sim.tests]},
            "timings_s": {k: round(v, 2) for k, v in self.timings_s.items()},
        }


def rtl_test(
    chip_name: str,
    ctrl: ControllerIR,
    out: str | Path,
    *,
    do_lint: bool = True,
    do_synth: bool = True,
    do_sim: bool = True,
    files: dict[str, str] | None = None,
    **sim_options,
) -> RtlTestReport:
    """Render the ``rtl`` backend for ``ctrl`` (a ControllerIR) into ``out`` and check it.

    ``files`` replaces the rendered files (used by the mutation tests).  Writes
    ``reports/synth.json`` and ``reports/rtl_test.json`` under ``out``.
    """
    import time

    from ..controller.rtl import design, format_cocotb, format_rtl
    from ..plan import BuildPlan, write_plan

    d = design(chip_name, ctrl)
    plan = BuildPlan()
    rendered = (
        files if files is not None else {**format_rtl(chip_name, ctrl), **format_cocotb(chip_name, ctrl)}
    )
    for path, text in sorted(rendered.items()):
        plan.add(path, text)
    plan.meta = {"chip": chip_name, "what": "rtl-test"}
    out = Path(out)
    write_plan(plan, out)
    rep = RtlTestReport(chip_name, out)
    if do_lint:
        t = time.perf_counter()
        rep.lint = lint(out, d)
        rep.timings_s["lint"] = time.perf_counter() - t
    if do_synth:
        t = time.perf_counter()
        rep.synth = synth(out, d)
        rep.timings_s["synth"] = time.perf_counter() - t
    if do_sim:
        t = time.perf_counter()
        rep.sim = run_cocotb(out, d, **sim_options)
        rep.timings_s["sim"] = time.perf_counter() - t
    reports = out / "reports"
    reports.mkdir(exist_ok=True)
    if rep.synth is not None:
        (reports / "synth.json").write_text(json.dumps(rep.synth.as_dict(), indent=1) + "\n")
    (reports / "rtl_test.json").write_text(json.dumps(rep.as_dict(), indent=1) + "\n")
    return rep
