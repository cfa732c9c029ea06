"""Apply the pulses a controller emitted to the memristors: golden device model or ngspice transient.

* :class:`BehavioralDevices`: each cell's state advances through every segment of the decoded
  waveform by the golden device ODE (:func:`codegen.model.device.apply_pulse`, exact for constant
  voltages): a cell at ±v_program for ``n·W`` cycles moves by ``n`` steps, a half-selected cell
  (±v_program/2, below the thresholds) does not move.  Untouched cells keep their conductance bit for
  bit, as :class:`codegen.learn.devices.DeviceArrays` does.
* :class:`TransientDevices`: ngspice transients of the update, all in one libngspice worker kept for
  the run (:class:`codegen.run.tran_session.TranSession`): every crossbar as a grid of Verilog-A
  ``eqp_memristor`` instances (p = row line, n = column line, so ``V(p, n) = V_row − V_col`` as in the
  controller's contract; ``g0`` = the present conductance), each row and column line driven by a PWL
  source that follows the captured line levels (GND 0 V, V/2, V; a released line is grounded: the
  crossbar is modelled on its own, where in the chip a released line joins the analog network, whose
  read voltages are below the thresholds).  Crossbars are programmed one after the other, as the
  controller does, on one time axis.  The new conductances are each instance's ``@inst[g]`` printed
  at the final time point (saving it as a vector would cost a column at every time point).

  The line drivers are ideal voltage sources, so a cell sees only its own ``V_row − V_col`` and cells
  do not interact: the update's circuit falls apart into one circuit per crossbar (crossbars share
  no line), and each is run as its own transient over the same time axis (same waveform, same
  times; :meth:`TransientDevices.parts`).  Where the device kind's rate is exactly 0 between its
  thresholds (:attr:`codegen.kinds.devices.DeviceKind.idle_between_thresholds`), a cell whose
  voltage stays in ``[v_reset_V, v_set_V]`` at every corner of the piecewise-linear waveform (its
  extremes are at corners) cannot move: it is left out and keeps its conductance bit for bit
  (:func:`moving_cells`), and so is a line that no simulated cell touches.  ``full_deck=True``: the
  path before (one deck of every cell of the update, the step bound on the whole transient).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..circuit.names import MEMRISTOR_MODEL
from ..controller import CtrlParams
from ..ir import Chip, PulsedDeviceIR
from ..model.device import apply_pulse, g_from_w, rate, w_from_g
from ..run.ngspice_tran import SPICEINIT
from ..units import spice_float
from .decode import Decoded

if TYPE_CHECKING:
    from ..run.tran_session import TranSession

__all__ = ["BehavioralDevices", "Part", "TransientDevices", "moving_cells", "segment_exposure"]


def segment_exposure(p: CtrlParams, dec: Decoded) -> list[tuple[np.ndarray, float]]:
    """(cell voltages in V (rows, cols), duration in s) of every segment."""
    half = p.v_program_V / 2
    return [(s.halves * half, s.length / p.clock_hz) for s in dec.segments]


class BehavioralDevices:
    """Conductances (S) advanced by the golden device model along the decoded waveforms."""

    def __init__(self, chip: Chip, g0: dict[str, np.ndarray]):
        self.chip = chip
        self.dev = chip.device
        self.g = {k: np.array(v, dtype=float) for k, v in g0.items()}
        self.seconds = 0.0
        self._rate_nonzero: dict[float, bool] = {}  # cell voltage (V) -> the device moves at it

    def _moves(self, v: float) -> bool:
        """Whether the golden device's state rate at ``v`` (V) is non-zero (outside the thresholds)."""
        got = self._rate_nonzero.get(v)
        if got is None:
            got = self._rate_nonzero[v] = float(rate(self.dev, v)) != 0.0
        return got

    def program(
        self,
        params: dict[str, CtrlParams],
        decoded: dict[str, Decoded],
        step: int,
        during: Callable[[], None] | None = None,
    ) -> dict[str, np.ndarray]:
        """Advance every cell through the segments of its crossbar's decoded waveform; returns the
        new conductances (S).  ``during``: called once, after the update (as
        :meth:`TransientDevices.program` calls it while its transients run).

        Each cell's exposures (the segments where it sees a voltage outside the thresholds) are
        applied in their order; cells are independent, so the ``k``-th exposure of every cell is
        applied in one round, one :func:`~codegen.model.device.apply_pulse` call per distinct
        (voltage, duration) of that round (the device ODE is elementwise: the same numbers as one
        call per segment and voltage, bit for bit)."""
        t0 = time.perf_counter()
        for name, dec in decoded.items():
            self.apply(params[name], dec)
        self.seconds += time.perf_counter() - t0
        if during is not None:
            during()
        return {k: v.copy() for k, v in self.g.items()}

    def apply(self, p: CtrlParams, dec: Decoded) -> np.ndarray:
        """Advance crossbar ``p.name``'s cells through its decoded waveform; its new conductances (S)."""
        name = p.name
        g = self.g[name]
        w0 = w_from_g(self.dev, g)
        if not len(dec.lengths):
            return g
        half = p.v_program_V / 2
        H = dec.halves.reshape(len(dec.lengths), -1)
        # (a set and a mask per voltage, not np.unique/np.isin: a few distinct values, and those
        # calls were most of this method's time on xor's small crossbars)
        moving = [h for h in sorted(set(H.ravel().tolist())) if self._moves(h * half)]
        if not moving:
            return g  # every cell between the thresholds (0 V, half-selected): the state stays
        hit = H == moving[0]
        for h in moving[1:]:
            hit |= H == h
        cell, seg = np.nonzero(hit.T)  # by cell, then in segment order
        if not cell.size:
            return g
        first = np.flatnonzero(np.concatenate(([True], cell[1:] != cell[:-1])))  # each cell's first exposure
        rank = np.arange(cell.size) - np.repeat(first, np.diff(np.append(first, cell.size)))
        lengths = dec.lengths[seg]
        halves = H[seg, cell]
        flat = w0.reshape(-1).copy()
        for k in range(int(rank.max()) + 1):
            sel = np.flatnonzero(rank == k)
            for h, ln in sorted(set(zip(halves[sel].tolist(), lengths[sel].tolist(), strict=True))):
                at = cell[sel[(halves[sel] == h) & (lengths[sel] == ln)]]
                flat[at] = apply_pulse(self.dev, flat[at], h * half, ln / p.clock_hz)
        w = flat.reshape(g.shape)
        self.g[name] = np.where(w == w0, g, g_from_w(self.dev, w))
        return self.g[name]


@dataclass
class _Line:
    node: str
    points: list[tuple[float, float]]


@dataclass
class _Xbar:
    """One crossbar's lines on the update's time axis and the voltage of every cell at every corner."""

    name: str
    params: CtrlParams
    rows: list[_Line]
    cols: list[_Line]
    #: per cell: the largest and smallest ``V_row − V_col`` (V) over the corners of the waveform
    v_max: np.ndarray
    v_min: np.ndarray


@dataclass
class Part:
    """One transient of an update: a crossbar's PWL sources and ``eqp_memristor`` instances (no
    analysis line), the ``@inst[g]`` names of its simulated cells and which cells those are."""

    xbar: str
    lines: list[str]
    names: list[str]
    cells: np.ndarray  # bool (rows, cols): simulated; the others keep their conductance


def moving_cells(dev: PulsedDeviceIR, v_max: np.ndarray, v_min: np.ndarray) -> np.ndarray:
    """Cells (bool) that may move: the voltage leaves ``[v_reset_V, v_set_V]`` at some corner
    (``v_max``, ``v_min``: its extremes, V), where the Verilog-A model's rate is non-zero
    (``v > v_set`` or ``v < v_reset``).  Every cell where the device kind's rate is not exactly 0
    between the thresholds (:attr:`~codegen.kinds.devices.DeviceKind.idle_between_thresholds`)."""
    from ..kinds.devices import kind_of

    if not kind_of(dev).idle_between_thresholds:
        return np.ones(v_max.shape, dtype=bool)
    return (v_max > dev.v_set_V) | (v_min < dev.v_reset_V)


class TransientDevices:
    """Conductances (S) from ngspice transients of the pulse waveforms through ``eqp_memristor``.

    Level changes ramp over ``RISE_FRACTION`` of a pulse width and the time step is at most
    ``pulse_width_s/STEPS_PER_WIDTH`` while a cell is past a threshold (both from
    :mod:`codegen.run.pulse`, whose checks measured a per-pulse step error of ≈1.4e-5 of a step with
    them; the Verilog-A model's ``$bound_step``), at most a pulse width elsewhere (the ``.tran``
    maximum step; every PWL corner is a breakpoint).  Run folders go to ``workdir/stepNNNN``; without
    ``keep`` only the last two are kept.  ``full_deck``: one deck of every cell of the update with
    the step bound on the whole transient and ngspice's per-point memory check (the path before the
    per-crossbar transients, for bench ratios).
    """

    def __init__(
        self,
        chip: Chip,
        g0: dict[str, np.ndarray],
        workdir: Path,
        keep: bool = False,
        kept_session: bool = True,
        full_deck: bool = False,
        workers: int | None = None,
    ):
        import os

        from ..run.pulse import RISE_FRACTION, STEPS_PER_WIDTH

        self.chip = chip
        self.g = {k: np.array(v, dtype=float) for k, v in g0.items()}
        self._osdi: bytes | None = None
        self.workdir = Path(workdir)
        self.keep = keep
        self.rise_fraction = RISE_FRACTION
        self.steps_per_width = STEPS_PER_WIDTH
        self.seconds = 0.0
        self.last_dir: Path | None = None
        self.session: TranSession | None = None  # started by the first update that moves a cell
        #: ngspice workers the per-crossbar transients are spread over (default: 2 where the
        #: process may run on 2 cores; the values do not depend on it), the first is ``session``
        self.workers = workers if workers is not None else min(2, len(os.sched_getaffinity(0)))
        self.extra: list[TranSession] = []
        #: False: one `ngspice -b` per update saving every @inst[g] per time point (before issue 15)
        self.kept_session = kept_session
        self.full_deck = full_deck or not kept_session
        #: cells simulated / cells of the active crossbars, summed over the updates
        self.cells_simulated = 0
        self.cells_active = 0

    @property
    def osdi(self) -> bytes:
        """The chip's compiled ``eqp_memristor`` (compiled on first use: :meth:`parts` needs none)."""
        if self._osdi is None:
            from ..run.pulse import memristor_osdi

            self._osdi = memristor_osdi(self.chip)
        return self._osdi

    def _xbars(self, params: dict[str, CtrlParams], decoded: dict[str, Decoded]) -> tuple[list[_Xbar], float]:
        """Every crossbar's line waveforms on the update's time axis (one crossbar after the other,
        a clock period and two ramps apart) and the end of the last (s)."""
        from ..controller import LEVEL_VOLTS_HALVES

        tr = self.chip.device.pulse_width_s * self.rise_fraction
        out: list[_Xbar] = []
        t_base = 0.0
        for name, dec in decoded.items():
            p = params[name]
            period = 1.0 / p.clock_hz
            half = p.v_program_V / 2
            rows = [_Line(f"{name.lower()}_r{r}", [(0.0, 0.0)]) for r in range(p.rows)]
            cols = [_Line(f"{name.lower()}_c{c}", [(0.0, 0.0)]) for c in range(p.cols)]
            prev_r = np.zeros(p.rows)
            prev_c = np.zeros(p.cols)
            v_max = np.zeros((p.rows, p.cols))  # every line starts and ends at 0 V
            v_min = np.zeros((p.rows, p.cols))
            for s in dec.segments:
                t = t_base + s.cycle * period
                rv = np.array([LEVEL_VOLTS_HALVES.get(int(v), 0) * half for v in s.row_levels])
                cv = np.array([LEVEL_VOLTS_HALVES.get(int(v), 0) * half for v in s.col_levels])
                for line, old, new in [
                    *zip(rows, prev_r, rv, strict=True),
                    *zip(cols, prev_c, cv, strict=True),
                ]:
                    if new != old:
                        line.points += [(t, float(old)), (t + tr, float(new))]
                # every line ramps at the same corners, so a cell's voltage is linear between them
                v = rv[:, None] - cv[None, :]
                np.maximum(v_max, v, out=v_max)
                np.minimum(v_min, v, out=v_min)
                prev_r, prev_c = rv, cv
            t_end = t_base + dec_end(dec) * period
            for line, old in [*zip(rows, prev_r, strict=True), *zip(cols, prev_c, strict=True)]:
                if old != 0:
                    line.points += [(t_end, float(old)), (t_end + tr, 0.0)]
            out.append(_Xbar(name, p, rows, cols, v_max, v_min))
            t_base = t_end + 2 * tr + period
        return out, t_base

    def _part(self, x: _Xbar, cells: np.ndarray) -> Part:
        """The sources of the lines that touch a cell of ``cells`` and those cells' instances."""
        from ..run.pulse import pwl_source

        rows_used = np.any(cells, axis=1).tolist()
        cols_used = np.any(cells, axis=0).tolist()
        used = [ln for ln, u in zip(x.rows, rows_used, strict=True) if u]
        used += [ln for ln, u in zip(x.cols, cols_used, strict=True) if u]
        lines: list[str] = []
        for line in used:
            src = pwl_source(line.points) if len(line.points) > 1 else "0"
            lines.append(f"V{line.node} {line.node} 0 {src}")
        names: list[str] = []
        g = self.g[x.name]
        low = x.name.lower()
        for r, c in zip(*np.nonzero(cells), strict=True):
            inst = f"N{x.name}_{r}_{c}"
            lines.append(f"{inst} {low}_r{r} {low}_c{c} mem g0={spice_float(float(g[r, c]))}")
            names.append(f"@{inst.lower()}[g]")
        return Part(x.name, lines, names, cells)

    def _stop(self, t_end: float) -> tuple[float, float]:
        """The time step bound and the stop time (s) of an update that ends at ``t_end``."""
        step_s = self.chip.device.pulse_width_s / self.steps_per_width
        return step_s, max(t_end, 2 * step_s)

    def body(
        self, params: dict[str, CtrlParams], decoded: dict[str, Decoded]
    ) -> tuple[list[str], list[str], float, float]:
        """The circuit of one update as one deck of every cell: PWL sources and ``eqp_memristor``
        instances (no analysis line), the ``@inst[g]`` names in cell order, the time step and the
        stop time (s)."""
        xbars, t_end = self._xbars(params, decoded)
        lines: list[str] = []
        names: list[str] = []
        for x in xbars:
            part = self._part(x, np.ones((x.params.rows, x.params.cols), dtype=bool))
            lines += part.lines
            names += part.names
        return lines, names, *self._stop(t_end)

    def parts(
        self, params: dict[str, CtrlParams], decoded: dict[str, Decoded]
    ) -> tuple[list[Part], float, float]:
        """The transients of one update: one per crossbar with a cell that may move, holding those
        cells (:func:`moving_cells`) and their lines, on the time axis of :meth:`body`; the time step
        bound and the stop time (s)."""
        xbars, t_end = self._xbars(params, decoded)
        out = []
        for x in xbars:
            cells = moving_cells(self.chip.device, x.v_max, x.v_min)
            if cells.any():
                out.append(self._part(x, cells))
        return out, *self._stop(t_end)

    def netlist(
        self, params: dict[str, CtrlParams], decoded: dict[str, Decoded], step: int
    ) -> tuple[str, list[str]]:
        """The one-deck transient of one update for ``ngspice -b`` (``full_deck``'s ``circuit.cir``:
        it loads ``eqp_memristor.osdi`` from its folder and prints every ``@inst[g]`` at the end) and
        the names of the ``@inst[g]`` values, in cell order."""
        body, names, step_s, tstop = self.body(params, decoded)
        return _standalone_deck(step, body, names, step_s, tstop), names

    def program(
        self,
        params: dict[str, CtrlParams],
        decoded: dict[str, Decoded],
        step: int,
        during: Callable[[], None] | None = None,
    ) -> dict[str, np.ndarray]:
        """Run this update's transients in the kept ngspice workers; the new conductances (S).
        ``during``: called once while the workers run the transients (the caller's work that does
        not need their result; its time is not counted in :attr:`seconds`)."""
        spent = [0.0]

        def timed() -> None:
            if during is not None:
                t = time.perf_counter()
                try:
                    during()
                finally:
                    spent[0] += time.perf_counter() - t

        active = {k: d for k, d in decoded.items() if bool(np.any(d.halves))}
        if not active:
            timed()
            return {k: v.copy() for k, v in self.g.items()}
        t0 = time.perf_counter()
        wd = self.workdir / f"step{step:04d}"
        wd.mkdir(parents=True, exist_ok=True)
        if self.full_deck:
            self._program_full(params, active, step, wd)
            timed()
        else:
            self._program_parts(params, active, step, wd, timed)
        self.last_dir = wd
        if not self.keep:
            self._prune(step)
        self.seconds += time.perf_counter() - t0 - spent[0]
        return {k: v.copy() for k, v in self.g.items()}

    def _program_full(
        self, params: dict[str, CtrlParams], active: dict[str, Decoded], step: int, wd: Path
    ) -> None:
        body, names, step_s, tstop = self.body(params, active)
        # the same transient for `ngspice -b circuit.cir` in that folder
        (wd / "circuit.cir").write_text(_standalone_deck(step, body, names, step_s, tstop))
        (wd / ".spiceinit").write_text(SPICEINIT)  # `ngspice -b` there: OSDI single-threaded
        (wd / "eqp_memristor.osdi").write_bytes(self.osdi)
        if self.kept_session:
            deck = [f"* co-simulation step {step}", f".model {MEMRISTOR_MODEL} eqp_memristor", *body]
            deck += [_tran_line(step_s, tstop, step_s), ".end", ""]
            vals = self._pool()[0].run(
                "\n".join(deck), names, _saved_node(body), where=str(wd / "circuit.cir")
            )
        else:
            vals = self._run_batch(params, active, step, wd)
        k = 0
        for name in active:
            p = params[name]
            self.g[name] = np.array(vals[k : k + p.cells]).reshape(p.rows, p.cols)
            k += p.cells
            self.cells_simulated += p.cells
            self.cells_active += p.cells

    def _program_parts(
        self,
        params: dict[str, CtrlParams],
        active: dict[str, Decoded],
        step: int,
        wd: Path,
        during: Callable[[], None],
    ) -> None:
        parts, step_s, tstop = self.parts(params, active)
        self.cells_active += sum(params[k].cells for k in active)
        decks = [
            (part, _part_deck(step, part, step_s, tstop, self.chip.device.pulse_width_s)) for part in parts
        ]

        def write_folder() -> None:
            # `ngspice -b circuit.cir` in that folder runs the same transients, prints the same values
            for part, deck in decks:
                (wd / _part_file(part)).write_text(deck)
            (wd / "circuit.cir").write_text(_driver_deck(step, parts))
            (wd / ".spiceinit").write_text(SPICEINIT)  # `ngspice -b` there: OSDI single-threaded
            _link_or_write(self.workdir / "eqp_memristor.osdi", wd / "eqp_memristor.osdi", self.osdi)
            during()

        if not parts:
            write_folder()
            return
        from ..run.tran_session import TranSession

        got = TranSession.run_spread(
            self._pool(),
            [(deck, part.names, _saved_node(part.lines)) for part, deck in decks],
            where=[str(wd / _part_file(part)) for part, _ in decks],
            during=write_folder,
        )
        for (part, _), vals in zip(decks, got, strict=True):
            g = self.g[part.xbar].copy()
            g[part.cells] = vals  # row-major, as the instances were written
            self.g[part.xbar] = g
            self.cells_simulated += len(part.names)

    def _pool(self) -> list[TranSession]:
        """The kept workers, started on first use without waiting for them (the first request
        waits for what is left of their start-up): ``workers`` of them with the memory check off
        for the per-crossbar transients, one with it on for ``full_deck``'s single deck."""
        from ..run.tran_session import TranSession

        if self.session is None:
            n, setup = (1, ()) if self.full_deck else (self.workers, (NO_MEM_CHECK,))
            self.workdir.mkdir(parents=True, exist_ok=True)
            (self.workdir / "eqp_memristor.osdi").write_bytes(self.osdi)
            first, *self.extra = TranSession.several(
                n,
                [self.workdir / "eqp_memristor.osdi"],
                logs=[self.workdir / f"ngspice_worker{'' if i == 0 else i}.log" for i in range(n)],
                wait=False,
                where="co-simulation transients",
                setup=setup,
            )
            self.session = first
        return [self.session, *self.extra]

    def start(self) -> None:
        """Start the per-crossbar transients' workers now (:meth:`_pool`), so that their start-up
        overlaps the caller's setup.  Nothing to do on the one-deck paths (started on first use)."""
        if not self.full_deck:
            self._pool()

    def _run_batch(
        self, params: dict[str, CtrlParams], active: dict[str, Decoded], step: int, wd: Path
    ) -> list[float]:
        """The path before issue 15 (bench ratios): ``ngspice -b`` saving every ``@inst[g]`` at every
        time point, written with ``wrdata`` and read back."""
        from ..run.ngspice_tran import memristor_deck_head, run_ngspice, tran_wrdata_tail

        body, names, step_s, tstop = self.body(params, active)
        lines = [*memristor_deck_head(f"co-simulation step {step}"), *body]
        lines += tran_wrdata_tail(step_s, tstop, step_s, "g.txt", names)
        res = run_ngspice(
            "\n".join(lines), wd, osdi={"eqp_memristor.osdi": self.osdi}, outputs={"g.txt": names}
        )["g.txt"]
        return [float(res[n][-1]) for n in names]

    def close(self) -> None:
        """Stop the ngspice worker (a later :meth:`program` starts a new one)."""
        from ..run.tran_session import TranSession

        TranSession.close_all([s for s in [self.session, *self.extra] if s is not None])
        self.session, self.extra = None, []

    def _prune(self, step: int) -> None:
        """Keep only the last two steps' run folders (the one that diverged and the one before)."""
        import shutil

        old = self.workdir / f"step{step - 2:04d}"
        if old.is_dir():
            shutil.rmtree(old, ignore_errors=True)


#: ngspice 46 reads /proc/meminfo at every stored time point unless this is set (no value changes)
NO_MEM_CHECK = "set no_mem_check"


def _saved_node(body: list[str]) -> str:
    """The one node saved per time point (the first source's): ngspice refuses an analysis that
    saves nothing, and every saved vector costs at every time point."""
    return body[0].split()[1]


def _part_file(part: Part) -> str:
    return f"xbar_{part.xbar.lower()}.cir"


def _part_deck(step: int, part: Part, step_s: float, tstop_s: float, max_step_s: float) -> str:
    """One crossbar's transient as the worker runs it (and ``circuit.cir`` sources it): no
    ``.control`` block; the ``.tran`` maximum step is ``max_step_s`` (the model's ``$bound_step``
    bounds the step to ``step_s`` while a cell is past a threshold)."""
    head = [f"* co-simulation step {step}, crossbar {part.xbar}", f".model {MEMRISTOR_MODEL} eqp_memristor"]
    return "\n".join([*head, *part.lines, _tran_line(step_s, tstop_s, max_step_s), ".end", ""])


def _driver_deck(step: int, parts: list[Part]) -> str:
    """``circuit.cir``: a control script for ``ngspice -b`` in the step folder that loads
    ``eqp_memristor.osdi``, runs every crossbar's deck (``xbar_<name>.cir``) as the worker does and
    prints every simulated ``@inst[g]`` at its final time point (16 digits, as the worker prints)."""
    lines = [
        f"* co-simulation step {step}: programming pulses of the RTL controller through eqp_memristor,"
        " one transient per crossbar (cells that stay between the thresholds are left out)",
        ".control",
        "osdi eqp_memristor.osdi",
        "set numdgt=15",
        NO_MEM_CHECK,
    ]
    for i, part in enumerate(parts):
        if i:
            lines.append("remcirc")
        lines += [f"source {_part_file(part)}", f"save {_saved_node(part.lines)}", "run"]
        lines += [f"print {n}" for n in part.names]
    return "\n".join([*lines, ".endc", ".end", ""])


def _link_or_write(src: Path, dst: Path, data: bytes) -> None:
    """``dst`` holding ``data``: a hard link to ``src`` where it holds them (no copy per step)."""
    import os

    if dst.exists():
        return
    try:
        if src.is_file() and src.stat().st_size == len(data):
            os.link(src, dst)
            return
    except OSError:
        pass
    dst.write_bytes(data)


def _standalone_deck(step: int, body: list[str], names: list[str], step_s: float, tstop_s: float) -> str:
    """The transient of one update as a deck for ``ngspice -b`` (loads ``eqp_memristor.osdi`` from
    its folder, prints every ``@inst[g]`` at the final time point)."""
    from ..run.ngspice_tran import memristor_deck_head

    head = memristor_deck_head(
        f"co-simulation step {step}: programming pulses of the RTL controller through eqp_memristor"
    )
    control = [".control", "set numdgt=15", f"save {_saved_node(body)}", "run"]
    control += [*[f"print {n}" for n in names], ".endc"]  # 16 digits, as the worker prints them
    return "\n".join([*head, *body, _tran_line(step_s, tstop_s, step_s), *control, ".end", ""])


def _tran_line(step_s: float, tstop_s: float, max_step_s: float) -> str:
    """``.tran`` with print step ``step_s``, stop time ``tstop_s`` and maximum step ``max_step_s`` (s)."""
    return f".tran {spice_float(step_s)} {spice_float(tstop_s)} 0 {spice_float(max_step_s)}"


def dec_end(dec: Decoded) -> int:
    """Cycle at which the decoded update ended (the end of its last segment)."""
    return int(dec.cycles[-1] + dec.lengths[-1]) if len(dec.lengths) else 0
