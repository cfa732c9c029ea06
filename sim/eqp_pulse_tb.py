"""cocotb support for the generated pulse-controller testbenches (copied next to the test module).

The DUT is ``<chip>_pulse_ctrl`` (see docs/controller.md).  Every check compares what the RTL
drives with the cycle-accurate reference model :mod:`codegen.controller`:

* the exact waveform of ``busy``/``done``/``err`` and of every row and column level vector of the
  crossbar being programmed, edge by edge (the outputs are registered, so they change only on clock
  edges: recording each value change is the same as sampling every cycle);
* half-select safety, computed from the observed levels alone: V_row − V_col of every cell in every
  cycle; at most one cell may see the full amplitude, all others at most V/2, and no cell may sit
  between a driven and a released line;
* the pulse count each cell received (from the observed waveform) against the model's counts;
  safety and counts are read by :func:`codegen.controller.lines.read_lines`, the same function the
  co-simulation decodes the RTL's lines with (a run of n·W cycles at full amplitude = n pulses);
* the crossbars not selected keep every line released.

Environment: ``EQP_SEED`` (random codes), ``EQP_DENSITY`` (fraction of non-zero codes; default
min(0.5, 128 / cells)),
``EQP_XBARS`` (comma-separated crossbar names to exercise; default all).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.simtime import get_sim_time
from cocotb.triggers import FallingEdge, Timer

from codegen.controller import (
    CtrlParams,
    Schedule,
    encode_counts,
    expected_outputs,
    schedule,
    unpack_levels,
)
from codegen.controller.lines import read_lines

__all__ = ["Config", "Bench", "SCENARIOS", "line_failures"]


@dataclass(frozen=True)
class Config:
    """What the generated test knows about the DUT (all numbers come from the chip's IR)."""

    top: str
    sel_bits: int
    addr_bits: int
    xbars: tuple[CtrlParams, ...]

    @property
    def period_ps(self) -> int:
        return round(1e12 / self.xbars[0].clock_hz)

    def selected(self) -> list[int]:
        names = os.environ.get("EQP_XBARS", "").strip()
        if not names:
            return list(range(len(self.xbars)))
        wanted = [n.strip() for n in names.split(",") if n.strip()]
        known = [x.name for x in self.xbars]
        missing = [n for n in wanted if n not in known]
        if missing:
            raise ValueError(f"EQP_XBARS names unknown crossbars {missing}; known: {known}")
        return [known.index(n) for n in wanted]


#: code memory contents each crossbar holds, kept across the tests of one simulation run
#: (None = not written since the simulator started, i.e. undefined)
_SHADOW: dict[str, np.ndarray | None] = {}


def _int(value) -> int | None:
    """A LogicArray/Logic as int, or None while it holds X/Z."""
    try:
        return int(value.to_unsigned()) if hasattr(value, "to_unsigned") else int(value)
    except ValueError:
        return None


class _Watch:
    """Records every value change of one output with its simulation time (ps)."""

    def __init__(self, sig):
        self.sig = sig
        self.changes: list[tuple[int, int | None]] = [(int(get_sim_time("ps")), _int(sig.value))]
        cocotb.start_soon(self._run())

    async def _run(self) -> None:
        while True:
            await self.sig.value_change
            t = int(get_sim_time("ps"))
            v = _int(self.sig.value)
            if self.changes and self.changes[-1][0] == t:
                self.changes[-1] = (t, v)  # several deltas in one time step: the last one counts
            else:
                self.changes.append((t, v))

    def at(self, t: int) -> int | None:
        """Value after the last change at or before time ``t``."""
        val = None
        for tc, v in self.changes:
            if tc > t:
                break
            val = v
        return val

    def window(self, t0: int, t1: int, period: int) -> list[tuple[int, int | None]]:
        """Change points in cycles relative to ``t0`` over (t0, t1], starting with the value at t0."""
        out = [(0, self.at(t0))]
        for tc, v in self.changes:
            if t0 < tc <= t1:
                cyc, rem = divmod(tc - t0, period)
                if rem:
                    raise AssertionError(f"{self.sig._name} changed at {tc} ps, between clock edges")
                if out[-1][0] == cyc:
                    out[-1] = (cyc, v)
                elif out[-1][1] != v:
                    out.append((cyc, v))
        return out


class Bench:
    """Drives the DUT (inputs change on falling clock edges) and checks it against the model."""

    def __init__(self, dut, cfg: Config):
        self.dut = dut
        self.cfg = cfg
        self.P = cfg.period_ps
        self.log = dut._log
        seed = int(os.environ.get("EQP_SEED", "1"))
        self.rng = np.random.default_rng(seed)
        env = os.environ.get("EQP_DENSITY")
        self.density = None if env is None else float(env)
        self.watch: dict[str, _Watch] = {}

    async def setup(self) -> None:
        """Start the clock and the monitors; reset (start held high during reset must do nothing)."""
        # the C clock (impl="gpi") runs ~5x faster under Icarus than the Python one
        cocotb.start_soon(Clock(self.dut.clk, self.P, unit="ps", impl="gpi").start())
        for name in ("rst", "start", "wr_en"):
            getattr(self.dut, name).value = 0
        self.dut.sel.value = 0
        self.dut.wr_addr.value = 0
        self.dut.wr_data.value = 0
        await FallingEdge(self.dut.clk)
        names = ["busy", "done", "err", "cur_row", "cur_col", "pulse_cnt"] + [
            f"{x.name}_{k}_lvl" for x in self.cfg.xbars for k in ("row", "col")
        ]
        self.watch = {n: _Watch(getattr(self.dut, n)) for n in names}
        await self.reset(start_high=True)

    async def reset(self, cycles: int = 2, start_high: bool = False) -> int:
        """Synchronous reset for ``cycles`` edges; returns the time (ps) of the first reset edge."""
        self.dut.rst.value = 1
        self.dut.start.value = 1 if start_high else 0
        t_edge = int(get_sim_time("ps")) + self.P // 2
        for _ in range(cycles):
            await FallingEdge(self.dut.clk)
        self.dut.rst.value = 0
        self.dut.start.value = 0
        await FallingEdge(self.dut.clk)
        return t_edge

    # ------------------------------------------------------------------ stimulus
    def random_codes(self, x: CtrlParams, density: float | None = None) -> np.ndarray:
        """Random code words: a ``density`` fraction of cells get ±1..max_pulses pulses."""
        if density is not None:
            d = density
        elif self.density is not None:
            d = self.density
        else:  # default: half the cells, at most ~128 non-zero codes (keeps big crossbars quick)
            d = min(0.5, 128 / x.cells)
        mask = self.rng.random((x.rows, x.cols)) < d
        n = self.rng.integers(1, x.max_pulses + 1, size=(x.rows, x.cols))
        sign = np.where(self.rng.random((x.rows, x.cols)) < 0.5, -1, 1)
        return encode_counts(np.where(mask, n * sign, 0), x.count_bits)

    async def write(self, xi: int, addr: int, word: int) -> None:
        """One code write (takes one clock edge)."""
        self.dut.sel.value = xi
        self.dut.wr_addr.value = addr
        self.dut.wr_data.value = int(word)
        self.dut.wr_en.value = 1
        await FallingEdge(self.dut.clk)
        self.dut.wr_en.value = 0

    async def load(self, xi: int, codes: np.ndarray) -> None:
        """Write the code words of crossbar ``xi`` (only the cells that differ from what it holds)."""
        x = self.cfg.xbars[xi]
        old = _SHADOW.get(x.name)
        flat = np.asarray(codes, dtype=np.int64).ravel()
        todo = np.arange(flat.size) if old is None else np.flatnonzero(old.ravel() != flat)
        for addr in todo:
            await self.write(xi, int(addr), int(flat[addr]))
        _SHADOW[x.name] = np.array(codes, dtype=np.int64).reshape(x.rows, x.cols)

    def held(self, xi: int) -> np.ndarray:
        """The codes crossbar ``xi`` holds now (as the bench wrote them)."""
        codes = _SHADOW.get(self.cfg.xbars[xi].name)
        assert codes is not None, "codes were never written"
        return codes.copy()

    async def start(self, xi: int) -> int:
        """Pulse ``start`` for crossbar ``xi``; returns the time (ps) of edge 0 (start sampled)."""
        self.dut.sel.value = xi
        self.dut.start.value = 1
        t0 = int(get_sim_time("ps")) + self.P // 2
        await FallingEdge(self.dut.clk)
        self.dut.start.value = 0
        return t0

    async def until_cycle(self, t0: int, cycle: int) -> None:
        """Wait (in the simulator, no Python per cycle) for the falling edge after edge ``cycle``.

        Every input change happens on a falling edge, half a period away from the edges that
        sample it, so no write races a rising edge.
        """
        now = int(get_sim_time("ps"))
        target = t0 + cycle * self.P + self.P // 4
        if target > now:
            await Timer(target - now, unit="ps")
        await FallingEdge(self.dut.clk)

    # ------------------------------------------------------------------ checks
    def check(self, xi: int, sched: Schedule, t0: int, extra_cycles: int = 2) -> list[str]:
        """Compare the outputs after edge 0 = ``t0`` with the model; returns the failures."""
        x = self.cfg.xbars[xi]
        end = sched.end_cycle
        t1 = t0 + (end + extra_cycles) * self.P
        fails: list[str] = []
        exp = expected_outputs(sched)
        pairs = {
            "busy": exp["busy"],
            "done": exp["done"],
            "err": exp["err"],
            "cur_row": exp["cur_row"],
            "cur_col": exp["cur_col"],
            "pulse_cnt": exp["pulse_cnt"],
            f"{x.name}_row_lvl": exp["row_lvl"],
            f"{x.name}_col_lvl": exp["col_lvl"],
        }
        for name, want in pairs.items():
            got = self.watch[name].window(t0, t1, self.P)
            got_in = [(c, v) for c, v in got if c <= end]
            if got_in != want:
                fails.append(_first_difference(name, got_in, want, x))
            elif len(got) != len(got_in):
                fails.append(f"{name}: changed after the update ended (edge {end}): {got[len(got_in) :][:3]}")
        for j, other in enumerate(self.cfg.xbars):
            if j == xi:
                continue
            for k in ("row", "col"):
                got = self.watch[f"{other.name}_{k}_lvl"].window(t0, t1, self.P)
                if got != [(0, 0)]:
                    fails.append(
                        f"{other.name}_{k}_lvl: not released while {x.name} was programmed: {got[:3]}"
                    )
        fails += self._safety_and_counts(xi, sched, t0, t1)
        return fails

    def _safety_and_counts(self, xi: int, sched: Schedule, t0: int, t1: int) -> list[str]:
        x = self.cfg.xbars[xi]
        rows = self.watch[f"{x.name}_row_lvl"].window(t0, t1, self.P)
        cols = self.watch[f"{x.name}_col_lvl"].window(t0, t1, self.P)
        return line_failures(x, rows, cols, (t1 - t0) // self.P, sched)

    def report(self, what: str, fails: list[str], sched: Schedule) -> None:
        n = len(sched.pulses)
        if fails:
            raise AssertionError(
                f"{what}: {len(fails)} mismatch(es) with the reference model:\n  " + "\n  ".join(fails[:12])
            )
        self.log.info("%s: %d pulses over %d cycles match the reference model", what, n, sched.end_cycle)

    # ------------------------------------------------------------------ scenarios
    async def run_update(self, xi: int, codes: np.ndarray, what: str) -> Schedule:
        """Load ``codes``, start, wait for the end, check everything; returns the model schedule."""
        x = self.cfg.xbars[xi]
        await self.load(xi, codes)
        sched = schedule(x, codes)
        t0 = await self.start(xi)
        await self.until_cycle(t0, sched.end_cycle + 2)
        self.report(f"{what} [{x.name}]", self.check(xi, sched, t0), sched)
        return sched


def line_failures(
    x: CtrlParams,
    rows: list[tuple[int, int | None]],
    cols: list[tuple[int, int | None]],
    total_cycles: int,
    sched: Schedule,
) -> list[str]:
    """Half-select safety and pulse counts from the observed levels alone (change points in cycles
    from edge 0, over ``total_cycles``), read by the same rule as the co-simulation
    (:func:`codegen.controller.lines.read_lines`), counts compared with the model's."""
    got = read_lines(x, rows, cols, total_cycles, cut_cycle=sched.reset_cycle)
    fails = list(got.faults)
    if not np.array_equal(got.counts, sched.counts):
        diff = np.argwhere(got.counts != sched.counts)[:4]
        detail = ", ".join(f"({r},{c}): rtl {got.counts[r, c]} model {sched.counts[r, c]}" for r, c in diff)
        fails.append(f"{x.name}: pulse counts differ from the reference model: {detail}")
    return fails


def _describe(value: int | None, x: CtrlParams, name: str) -> str:
    if value is None:
        return "X"
    if not name.endswith("_lvl"):
        return str(value)
    n = x.rows if name.endswith("row_lvl") else x.cols
    lv = unpack_levels(value, n)
    odd = {int(i): int(v) for i, v in enumerate(lv) if v != 2}
    if not odd:
        return "all V/2"
    if len(odd) == n and set(odd.values()) == {0}:
        return "all released"
    return "V/2 except " + ", ".join(
        f"line {i}={['REL', 'GND', 'V/2', 'V'][v]}" for i, v in list(odd.items())[:4]
    )


def _first_difference(name, got, want, x: CtrlParams) -> str:
    for i in range(max(len(got), len(want))):
        g = got[i] if i < len(got) else None
        w = want[i] if i < len(want) else None
        if g != w:
            gs = f"edge {g[0]}: {_describe(g[1], x, name)}" if g else "nothing"
            ws = f"edge {w[0]}: {_describe(w[1], x, name)}" if w else "nothing"
            return f"{name}: change #{i} differs: rtl {gs}; model {ws}"
    return f"{name}: differs"


# ---------------------------------------------------------------------- scenarios (one cocotb test each)
async def reset_state(dut, cfg: Config) -> None:
    """After reset (with start held high during it) everything is idle and released, and stays so."""
    b = Bench(dut, cfg)
    await b.setup()
    t = int(get_sim_time("ps"))
    await Timer(5 * b.P, unit="ps")
    for name, w in b.watch.items():
        got = w.window(t, t + 5 * b.P, b.P)
        assert got == [(0, 0)], f"{name} after reset: {got[:3]} (expected 0 = idle/released throughout)"
    b.log.info("reset: busy/done/err low and all %d lines released", sum(x.rows + x.cols for x in cfg.xbars))


async def random_codes(dut, cfg: Config) -> None:
    """Seeded random code matrices on every selected crossbar: exact schedule, safety, counts."""
    b = Bench(dut, cfg)
    await b.setup()
    for xi in cfg.selected():
        await b.run_update(xi, b.random_codes(cfg.xbars[xi]), "random codes")


async def back_to_back(dut, cfg: Config) -> None:
    """Three updates back to back; writes and starts while busy are ignored; codes persist; an idle
    crossbar accepts codes while another one is programmed.

    The third update starts at the first edge the controller is idle again (``start`` held high
    during the end of the second one, where it must be ignored).
    """
    b = Bench(dut, cfg)
    await b.setup()
    xi = cfg.selected()[0]
    x = cfg.xbars[xi]
    first = b.random_codes(x)
    first.ravel()[0] = x.max_pulses  # long enough for the writes below to land while busy
    await b.load(xi, first)
    s1 = schedule(x, first)
    t0 = await b.start(xi)
    # while busy: overwrite codes with garbage (must be ignored) and try to start the others
    for addr in range(min(x.cells, 8)):
        await b.write(xi, addr, (1 << x.code_bits) - 1 - (addr % 3))
    for other in range(len(cfg.xbars)):
        if other != xi:
            await b.start(other)
    # ... while an idle crossbar accepts its codes (checked by programming it at the end)
    others = sorted((cfg.xbars[j].cells, j) for j in range(len(cfg.xbars)) if j != xi)
    side = others[0][1] if others and others[0][0] <= 128 else None
    if side is not None:
        side_codes = b.random_codes(cfg.xbars[side], density=1.0)
        await b.load(side, side_codes)
    assert int(get_sim_time("ps")) < t0 + s1.end_cycle * b.P, "the first update ended too early"
    # rewrite a few cells once idle (only then are writes accepted) and start again
    second = first.copy()
    changed = b.random_codes(x, density=1.0).ravel()
    flat = second.ravel()
    for addr in range(0, x.cells, max(1, x.cells // 5)):
        flat[addr] = changed[addr]
    second = flat.reshape(x.rows, x.cols)
    second.ravel()[0] = x.max_pulses
    await b.until_cycle(t0, s1.end_cycle)
    b.report(f"first update [{x.name}]", b.check(xi, s1, t0, extra_cycles=0), s1)
    await b.load(xi, second)
    s2 = schedule(x, second)
    t2 = await b.start(xi)
    await b.until_cycle(t2, s2.end_cycle - 3)
    b.dut.sel.value = xi
    b.dut.start.value = 1  # sampled at edges end-2 .. end (busy: ignored), accepted at end+1
    await b.until_cycle(t2, s2.end_cycle + 1)
    b.dut.start.value = 0
    t3 = t2 + (s2.end_cycle + 1) * b.P
    b.report(f"second update [{x.name}]", b.check(xi, s2, t2, extra_cycles=0), s2)
    await b.until_cycle(t3, s2.end_cycle + 2)
    b.report(f"third update, started on the first idle edge [{x.name}]", b.check(xi, s2, t3), s2)
    if side is not None:  # the codes written while the other crossbar was busy
        await b.run_update(side, side_codes, "codes loaded while another crossbar was busy")


async def extreme_codes(dut, cfg: Config) -> None:
    """±max_pulses, negative zero, and (where the code width allows) counts above max_pulses (err)."""
    b = Bench(dut, cfg)
    await b.setup()
    for xi in cfg.selected():
        x = cfg.xbars[xi]
        top = (1 << x.count_bits) - 1
        choices = [x.max_pulses, (1 << x.count_bits) | x.max_pulses, 1 << x.count_bits, 0]
        if x.max_pulses < top:
            choices += [top, (1 << x.count_bits) | (x.max_pulses + 1)]
        codes = b.rng.choice(np.array(choices), size=(x.rows, x.cols))
        codes[b.rng.random((x.rows, x.cols)) >= min(1.0, 64 / x.cells)] = 0  # ~64 cells at most
        codes.ravel()[0] = choices[0]
        if x.max_pulses < top:
            codes.ravel()[-1] = top
        sched = await b.run_update(xi, codes, "extreme codes")
        if x.max_pulses < top:
            assert sched.err_cycle is not None, "the model should flag the out-of-range code"
        if x.cells < (1 << cfg.addr_bits):
            # an address past the crossbar must be ignored: the same codes give the same schedule
            await b.write(xi, x.cells, (1 << x.count_bits) | 1)
            await b.run_update(xi, codes, "after a write past the last cell")


async def reset_mid_update(dut, cfg: Config) -> None:
    """A reset in the middle of a pulse: lines released at once, pulse cut; codes are kept."""
    b = Bench(dut, cfg)
    await b.setup()
    for xi in cfg.selected():
        x = cfg.xbars[xi]
        codes = b.random_codes(x)
        codes.ravel()[x.cells // 2] = encode_counts(np.array([x.max_pulses]), x.count_bits)[0]
        await b.load(xi, codes)
        full = schedule(x, codes)
        victim = full.pulses[len(full.pulses) // 2]
        r = victim.cycle + x.pulse_width_cycles // 2 if x.pulse_width_cycles > 1 else victim.cycle
        cut = schedule(x, codes, reset_cycle=max(1, r))
        t0 = await b.start(xi)
        await b.until_cycle(t0, cut.end_cycle - 1)  # just after edge r-1: assert rst for edge r
        b.dut.rst.value = 1
        await FallingEdge(b.dut.clk)
        b.dut.rst.value = 0
        await b.until_cycle(t0, cut.end_cycle + 2)
        b.report(f"reset at edge {cut.end_cycle} [{x.name}]", b.check(xi, cut, t0), cut)
        t1 = await b.start(xi)
        await b.until_cycle(t1, full.end_cycle + 2)
        b.report(f"restart after reset [{x.name}]", b.check(xi, full, t1), full)


SCENARIOS = {
    "reset_state": reset_state,
    "random_codes": random_codes,
    "back_to_back": back_to_back,
    "extreme_codes": extreme_codes,
    "reset_mid_update": reset_mid_update,
}
