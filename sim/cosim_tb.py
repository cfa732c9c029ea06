"""cocotb test of the co-simulated learning loop (``codegen cosim``): the DUT is the generated pulse
controller ``<chip>_pulse_ctrl``; ngspice (libngspice, PySpice shared mode), the golden model and the
device models run in this same Python process, inside the simulator.

Environment: ``EQP_COSIM_CONFIG``: path of the JSON written by :mod:`codegen.cosim.runner`
(spec path, spec overrides, :class:`~codegen.cosim.loop.CosimConfig` fields, result path).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.simtime import get_sim_time
from cocotb.triggers import FallingEdge, SimTimeoutError, with_timeout

# eqp_pulse_tb.py sits next to this module (sim/ in a checkout, codegen/_data/sim installed): the
# simulator imports both from that folder (codegen.cosim.runner: test_dir=data_dir("sim"))
from eqp_pulse_tb import _int, _Watch

from codegen.controller import CtrlParams
from codegen.cosim.decode import Capture
from codegen.cosim.loop import run_loop


class _Recorder(_Watch):
    """Every value change of one output with its simulation time (ps); :meth:`take_window` reports
    a change between clock edges as a fault instead of raising, and drops the changes it consumed."""

    def take_window(
        self, t0: int, t1: int, period: int, name: str, faults: list[str]
    ) -> list[tuple[int, int | None]]:
        """Change points in cycles from edge 0 = ``t0`` over [t0, t1], starting with the value at t0;
        a change between clock edges is added to ``faults`` (and counted at the edge before it)."""
        if len(self.changes) == 1 and self.changes[0][0] <= t0:  # no change since before t0
            return [(0, self.changes[0][1])]
        out = [(0, self.at(t0))]
        for tc, v in self.changes:
            if t0 < tc <= t1:
                cyc, rem = divmod(tc - t0, period)
                if rem:
                    faults.append(f"{name} changed at {tc} ps, between clock edges")
                out.append((cyc, v))
        self.changes = [c for c in self.changes if c[0] >= t1] or self.changes[-1:]
        return out


class _Logged(_Recorder):
    """A :class:`_Recorder` fed from the simulator's own log of value changes
    (:func:`codegen.cosim.runner.format_line_monitor`) instead of a cocotb trigger per change."""

    def __init__(self, sig):  # no coroutine: :class:`_LineLog` appends the changes
        self.sig = sig
        self.changes = [(int(get_sim_time("ps")), _int(sig.value))]

    def add(self, t: int, v: int | None) -> None:
        if t <= self.changes[-1][0]:
            if t == self.changes[-1][0]:
                self.changes[-1] = (t, v)  # several deltas in one time step: the last one counts
            return  # before this recorder started (reset)
        self.changes.append((t, v))


class _LineLog:
    """Reads the monitor's log (``<time ps> <index> <binary value>`` per line) into :class:`_Logged`
    recorders; :meth:`pull` takes the lines written since the last call."""

    def __init__(self, path: str, recorders: list[_Logged]):
        self.path = Path(path)
        self.recorders = recorders
        self._fh = None
        self._rest = ""

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def pull(self) -> None:
        if self._fh is None:
            self._fh = self.path.open()
        text = self._rest + self._fh.read()
        lines = text.split("\n")
        self._rest = lines.pop()  # a line not finished yet
        recorders = self.recorders
        for ln in lines:
            t, i, bits = ln.split()
            xz = "x" in bits or "z" in bits or "X" in bits or "Z" in bits
            recorders[int(i)].add(int(t), None if xz else int(bits, 2))


class RtlController:
    """Drives the RTL: writes update codes, starts a crossbar, captures its line levels."""

    name = "RTL (cocotb)"  # with the simulator's own name once it runs (cocotb.SIM_NAME)

    def __init__(
        self,
        dut,
        params: list[CtrlParams],
        clock: str = "verilog",
        lines_log: str | None = None,
        monitored: list[str] | None = None,
        direct_writes: bool = False,
        core=None,
    ):
        self.dut = dut
        self.name = f"RTL (cocotb + {getattr(cocotb, 'SIM_NAME', '') or 'simulator'})"
        #: the generated top (its code memories ``u_<xbar>.u_mem.mem``): ``dut`` itself, or its
        #: instance inside the Verilator wrapper (codegen.cosim.runner.format_verilator_top)
        self.core = dut if core is None else core
        self.params = params
        self.P = round(1e12 / params[0].clock_hz)
        self.shadow: dict[str, np.ndarray] = {}
        self.seconds = 0.0
        self.rec: dict[str, _Recorder] = {}
        #: "verilog": cosim_clock.v (codegen.cosim.runner) drives clk inside the simulator;
        #: "cocotb": cocotb's Python clock (the path before issue 15, for the bench's ratios)
        self.clock = clock
        #: the simulator logs the line levels (codegen.cosim.runner.format_line_monitor), else a
        #: cocotb trigger per change
        self.lines_log, self.monitored = lines_log, monitored
        self.log: _LineLog | None = None
        #: codes written straight into each crossbar's code memory (``u_<xbar>.u_mem.mem``) in one
        #: go, else one clocked write per changed code through the write port
        self.direct_writes = direct_writes
        self.mem: dict[str, list] = {}

    async def setup(self) -> None:
        d = self.dut
        if self.clock == "cocotb":
            cocotb.start_soon(Clock(d.clk, self.P, unit="ps", impl="py").start())
        for n in ("rst", "start", "wr_en", "sel", "wr_addr", "wr_data"):
            getattr(d, n).value = 0
        await FallingEdge(d.clk)
        d.rst.value = 1
        await FallingEdge(d.clk)
        await FallingEdge(d.clk)
        d.rst.value = 0
        await FallingEdge(d.clk)
        if self.lines_log is not None and self.monitored is not None:
            logged = [_Logged(getattr(d, n)) for n in self.monitored]
            self.rec = dict(zip(self.monitored, logged, strict=True))
            self.log = _LineLog(self.lines_log, logged)
        else:
            for p in self.params:
                for k in ("row", "col"):
                    n = f"{p.name}_{k}_lvl"
                    self.rec[n] = _Recorder(getattr(d, n))
        if self.direct_writes:
            for p in self.params:
                mem = getattr(self.core, f"u_{p.name}").u_mem.mem
                self.mem[p.name] = [mem[i] for i in range(p.cells)]

    async def program(self, xi: int, codes: np.ndarray, step: int) -> Capture:
        t_wall = time.perf_counter()
        d, p = self.dut, self.params[xi]
        flat = np.asarray(codes, dtype=np.int64).ravel()
        old = self.shadow.get(p.name)
        todo = np.arange(flat.size) if old is None else np.flatnonzero(old != flat)
        d.sel.value = xi
        if self.direct_writes:
            words = self.mem[p.name]
            for addr in todo:
                words[int(addr)].value = int(flat[addr])
        else:
            for addr in todo:
                d.wr_addr.value = int(addr)
                d.wr_data.value = int(flat[addr])
                d.wr_en.value = 1
                await FallingEdge(d.clk)
            d.wr_en.value = 0
        self.shadow[p.name] = flat.copy()
        d.start.value = 1
        t0 = int(get_sim_time("ps")) + self.P // 2  # edge 0 samples start
        await FallingEdge(d.clk)
        d.start.value = 0
        max_cycles = 2 + p.cells * (1 + p.max_pulses * (p.pulse_width_cycles + p.gap_cycles))
        faults: list[str] = []
        if _int(d.busy.value) == 1:
            try:
                await with_timeout(_busy_low(d), max_cycles * self.P, "ps")
            except SimTimeoutError:
                faults.append(
                    f"{p.name}: busy still high {max_cycles} cycles after start (the longest update)"
                )
        t_end = int(get_sim_time("ps"))
        end_cycle, rem = divmod(t_end - t0, self.P)
        if rem:
            faults.append(f"busy fell at {t_end} ps, between clock edges")
        await FallingEdge(d.clk)  # registered outputs of the end edge have settled
        if _int(d.done.value) != 1:
            faults.append(f"{p.name}: done is not high after busy fell (cycle {end_cycle})")
        if _int(d.err.value) != 0:
            faults.append(f"{p.name}: err is high after the update (an out-of-range code?)")
        if self.log is not None:
            self.log.pull()
        rows = self.rec[f"{p.name}_row_lvl"].take_window(t0, t_end, self.P, f"{p.name}_row_lvl", faults)
        cols = self.rec[f"{p.name}_col_lvl"].take_window(t0, t_end, self.P, f"{p.name}_col_lvl", faults)
        for other in self.params:  # crossbars not selected must stay released
            if other.name == p.name:
                continue
            for k in ("row", "col"):
                n = f"{other.name}_{k}_lvl"
                got = self.rec[n].take_window(t0, t_end, self.P, n, faults)
                if any(v != 0 for _, v in got):
                    faults.append(f"{n} not released while {p.name} was programmed")
        self.seconds += time.perf_counter() - t_wall
        return Capture(p.name, rows, cols, int(end_cycle), faults)


async def _busy_low(d) -> None:
    while _int(d.busy.value) != 0:
        await d.busy.value_change


@cocotb.test()
async def test_cosim(dut):
    """Co-simulated learning steps, each checked against the golden model."""
    from codegen.cosim.golden_worker import ADDRESS_ENV, KEY_ENV, PID_ENV, GoldenClient
    from codegen.cosim.runner import read_config

    conf = json.loads(Path(os.environ["EQP_COSIM_CONFIG"]).read_text())
    chip, cfg = read_config(conf)
    # the golden side in the worker the runner started (codegen.cosim.golden_worker), else here
    golden = None
    if os.environ.get(ADDRESS_ENV):
        golden = GoldenClient(
            os.environ[ADDRESS_ENV],
            bytes.fromhex(os.environ[KEY_ENV]),
            log=Path(conf["cosim"]["out"]) / "sim_build" / "golden_worker.log",
            pid=int(os.environ[PID_ENV]) if os.environ.get(PID_ENV) else None,
        )
    ctrl = RtlController(
        dut,
        CtrlParams.all_from_chip(chip),
        clock=conf.get("clock", "cocotb"),
        lines_log=conf.get("lines_log"),
        monitored=conf.get("monitored"),
        direct_writes=bool(conf.get("direct_writes")),
        core=getattr(dut, conf["dut_path"]) if conf.get("dut_path") else None,
    )
    await ctrl.setup()
    prof_path = os.environ.get("EQP_COSIM_PROFILE")  # cProfile statistics of the loop, for docs/cosim.md
    prof = None
    if prof_path:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
    try:
        result = await run_loop(chip, cfg, ctrl, log=dut._log.info, golden=golden)
        if prof is not None:
            prof.disable()
            prof.dump_stats(prof_path)
    except Exception as exc:  # the parent reads the message from the result file
        Path(conf["result"]).write_text(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
        raise
    Path(conf["result"]).write_text(json.dumps(result.as_dict(), indent=1))
    if result.divergence is not None:
        dv = result.divergence
        raise AssertionError(f"step {dv.step}: {dv.kind} divergence: {dv.message}")
    assert result.passed, f"only {len(result.steps)} of {cfg.steps} steps ran"
