"""Apply the pulses a controller emitted to the memristors: golden device model or ngspice transient.

* :class:`BehavioralDevices`: each cell's state advances through every segment of the decoded
  waveform by the golden device ODE (:func:`codegen.model.device.apply_pulse`, exact for constant
  voltages): a cell at ±v_program for ``n·W`` cycles moves by ``n`` steps, a half-selected cell
  (±v_program/2, below the thresholds) does not move.  Untouched cells keep their conductance bit for
  bit, as :class:`codegen.learn.devices.DeviceArrays` does.
* :class:`TransientDevices`: one ngspice transient per update, all in one libngspice worker kept for
  the run (:class:`codegen.run.tran_session.TranSession`): every crossbar as a grid of Verilog-A
  ``eqp_memristor`` instances (p = row line, n = column line, so ``V(p, n) = V_row − V_col`` as in the
  controller's contract; ``g0`` = the present conductance), each row and column line driven by a PWL
  source that follows the captured line levels (GND 0 V, V/2, V; a released line is grounded: the
  crossbar is modelled on its own, where in the chip a released line joins the analog network, whose
  read voltages are below the thresholds).  Crossbars are programmed one after the other, as the
  controller does.  The new conductances are each instance's ``@inst[g]`` printed at the final time
  point (saving it as a vector would cost a column at every time point).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..controller import CtrlParams
from ..ir import Chip
from ..model.device import apply_pulse, g_from_w, rate, w_from_g
from ..units import spice_float
from .decode import Decoded

if TYPE_CHECKING:
    from ..run.tran_session import TranSession

__all__ = ["BehavioralDevices", "TransientDevices", "segment_exposure"]


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
        self, params: dict[str, CtrlParams], decoded: dict[str, Decoded], step: int
    ) -> dict[str, np.ndarray]:
        """Advance every cell through the segments of its crossbar's decoded waveform; returns the
        new conductances (S).

        Each cell's exposures (the segments where it sees a voltage outside the thresholds) are
        applied in their order; cells are independent, so the ``k``-th exposure of every cell is
        applied in one round, one :func:`~codegen.model.device.apply_pulse` call per distinct
        (voltage, duration) of that round (the device ODE is elementwise: the same numbers as one
        call per segment and voltage, bit for bit)."""
        t0 = time.perf_counter()
        for name, dec in decoded.items():
            p = params[name]
            g = self.g[name]
            w0 = w_from_g(self.dev, g)
            if not dec.segments:
                continue
            half = p.v_program_V / 2
            H = np.stack([sg.halves for sg in dec.segments]).reshape(len(dec.segments), -1)
            moving = [h for h in np.unique(H).tolist() if self._moves(h * half)]
            if not moving:
                continue  # every cell between the thresholds (0 V, half-selected): the state stays
            cell, seg = np.nonzero(np.isin(H, moving).T)  # by cell, then in segment order
            if not cell.size:
                continue
            first = np.flatnonzero(np.r_[True, cell[1:] != cell[:-1]])  # each cell's first exposure
            rank = np.arange(cell.size) - np.repeat(first, np.diff(np.r_[first, cell.size]))
            lengths = np.array([sg.length for sg in dec.segments], dtype=np.int64)[seg]
            halves = H[seg, cell]
            flat = w0.reshape(-1).copy()
            for k in range(int(rank.max()) + 1):
                sel = np.flatnonzero(rank == k)
                for h, ln in sorted(set(zip(halves[sel].tolist(), lengths[sel].tolist(), strict=True))):
                    at = cell[sel[(halves[sel] == h) & (lengths[sel] == ln)]]
                    flat[at] = apply_pulse(self.dev, flat[at], h * half, ln / p.clock_hz)
            w = flat.reshape(g.shape)
            self.g[name] = np.where(w == w0, g, g_from_w(self.dev, w))
        self.seconds += time.perf_counter() - t0
        return {k: v.copy() for k, v in self.g.items()}


@dataclass
class _Line:
    node: str
    points: list[tuple[float, float]]


class TransientDevices:
    """Conductances (S) from an ngspice transient of the pulse waveforms through ``eqp_memristor``.

    Level changes ramp over ``RISE_FRACTION`` of a pulse width and the time step is at most
    ``pulse_width_s/STEPS_PER_WIDTH`` (both from :mod:`codegen.run.pulse`, whose checks measured a
    per-pulse step error of ≈1.4e-5 of a step with them).  Run folders go to ``workdir/stepNNNN``;
    without ``keep`` only the last two are kept.
    """

    def __init__(
        self,
        chip: Chip,
        g0: dict[str, np.ndarray],
        workdir: Path,
        keep: bool = False,
        kept_session: bool = True,
    ):
        from ..run.pulse import RISE_FRACTION, STEPS_PER_WIDTH, memristor_osdi

        self.chip = chip
        self.g = {k: np.array(v, dtype=float) for k, v in g0.items()}
        self.osdi = memristor_osdi(chip)
        self.workdir = Path(workdir)
        self.keep = keep
        self.rise_fraction = RISE_FRACTION
        self.steps_per_width = STEPS_PER_WIDTH
        self.seconds = 0.0
        self.last_dir: Path | None = None
        self.session: TranSession | None = None  # started by the first update that moves a cell
        #: False: one `ngspice -b` per update saving every @inst[g] per time point (before issue 15)
        self.kept_session = kept_session

    def body(
        self, params: dict[str, CtrlParams], decoded: dict[str, Decoded]
    ) -> tuple[list[str], list[str], float, float]:
        """The circuit of one update: PWL sources and ``eqp_memristor`` instances (no analysis line),
        the ``@inst[g]`` names in cell order, the time step and the stop time (s)."""
        from ..controller import LEVEL_VOLTS_HALVES
        from ..run.pulse import pwl_source

        dev = self.chip.device
        width = dev.pulse_width_s
        tr = width * self.rise_fraction
        lines: list[str] = []
        names: list[str] = []
        t_base = 0.0
        for name, dec in decoded.items():
            p = params[name]
            period = 1.0 / p.clock_hz
            half = p.v_program_V / 2
            rows = [_Line(f"{name.lower()}_r{r}", [(0.0, 0.0)]) for r in range(p.rows)]
            cols = [_Line(f"{name.lower()}_c{c}", [(0.0, 0.0)]) for c in range(p.cols)]
            prev_r = np.zeros(p.rows)
            prev_c = np.zeros(p.cols)
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
                prev_r, prev_c = rv, cv
            t_end = t_base + dec_end(dec) * period
            for line, old in [*zip(rows, prev_r, strict=True), *zip(cols, prev_c, strict=True)]:
                if old != 0:
                    line.points += [(t_end, float(old)), (t_end + tr, 0.0)]
            for line in rows + cols:
                src = pwl_source(line.points) if len(line.points) > 1 else "0"
                lines.append(f"V{line.node} {line.node} 0 {src}")
            g = self.g[name]
            for r in range(p.rows):
                for c in range(p.cols):
                    inst = f"N{name}_{r}_{c}"
                    lines.append(
                        f"{inst} {name.lower()}_r{r} {name.lower()}_c{c} mem g0={spice_float(float(g[r, c]))}"
                    )
                    names.append(f"@{inst.lower()}[g]")
            t_base = t_end + 2 * tr + period
        step_s = width / self.steps_per_width
        return lines, names, step_s, max(t_base, 2 * step_s)

    def netlist(
        self, params: dict[str, CtrlParams], decoded: dict[str, Decoded], step: int
    ) -> tuple[str, list[str]]:
        """The transient deck of one update for ``ngspice -b`` (what the run folder's ``circuit.cir``
        holds: it loads ``eqp_memristor.osdi`` from its folder and prints every ``@inst[g]`` at the
        end) and the names of the ``@inst[g]`` values, in cell order."""
        body, names, step_s, tstop = self.body(params, decoded)
        return _standalone_deck(step, body, names, step_s, tstop), names

    def program(
        self, params: dict[str, CtrlParams], decoded: dict[str, Decoded], step: int
    ) -> dict[str, np.ndarray]:
        """Run this update's transient in the kept ngspice worker; the new conductances (S)."""
        active = {k: d for k, d in decoded.items() if any(np.any(s.halves) for s in d.segments)}
        if not active:
            return {k: v.copy() for k, v in self.g.items()}
        t0 = time.perf_counter()
        wd = self.workdir / f"step{step:04d}"
        wd.mkdir(parents=True, exist_ok=True)
        body, names, step_s, tstop = self.body(params, active)
        # the same transient for `ngspice -b circuit.cir` in that folder
        (wd / "circuit.cir").write_text(_standalone_deck(step, body, names, step_s, tstop))
        (wd / "eqp_memristor.osdi").write_bytes(self.osdi)
        if self.kept_session:
            vals = self._run_kept(step, body, names, step_s, tstop, str(wd / "circuit.cir"))
        else:
            vals = self._run_batch(params, active, step, wd)
        k = 0
        for name in active:
            p = params[name]
            self.g[name] = np.array(vals[k : k + p.cells]).reshape(p.rows, p.cols)
            k += p.cells
        self.last_dir = wd
        if not self.keep:
            self._prune(step)
        self.seconds += time.perf_counter() - t0
        return {k: v.copy() for k, v in self.g.items()}

    def _run_kept(
        self, step: int, body: list[str], names: list[str], step_s: float, tstop_s: float, where: str
    ) -> list[float]:
        """This update in the kept worker (started on first use): the final ``@inst[g]`` (S)."""
        from ..run.tran_session import TranSession

        if self.session is None:
            (self.workdir / "eqp_memristor.osdi").write_bytes(self.osdi)
            self.session = TranSession(
                [self.workdir / "eqp_memristor.osdi"],
                where="co-simulation transients",
                log=self.workdir / "ngspice_worker.log",
            )
        deck = [f"* co-simulation step {step}", ".model mem eqp_memristor", *body]
        deck += [_tran_line(step_s, tstop_s), ".end", ""]
        return self.session.run("\n".join(deck), names, _saved_node(body), where=where)

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
        if self.session is not None:
            self.session.close()
            self.session = None

    def _prune(self, step: int) -> None:
        """Keep only the last two steps' run folders (the one that diverged and the one before)."""
        import shutil

        old = self.workdir / f"step{step - 2:04d}"
        if old.is_dir():
            shutil.rmtree(old, ignore_errors=True)


def _saved_node(body: list[str]) -> str:
    """The one node saved per time point (the first source's): ngspice refuses an analysis that
    saves nothing, and every saved vector costs at every time point."""
    return body[0].split()[1]


def _standalone_deck(step: int, body: list[str], names: list[str], step_s: float, tstop_s: float) -> str:
    """The transient of one update as a deck for ``ngspice -b`` (loads ``eqp_memristor.osdi`` from
    its folder, prints every ``@inst[g]`` at the final time point)."""
    from ..run.ngspice_tran import memristor_deck_head

    head = memristor_deck_head(
        f"co-simulation step {step}: programming pulses of the RTL controller through eqp_memristor"
    )
    control = [".control", "set numdgt=15", f"save {_saved_node(body)}", "run"]
    control += [*[f"print {n}" for n in names], ".endc"]  # 16 digits, as the worker prints them
    return "\n".join([*head, *body, _tran_line(step_s, tstop_s), *control, ".end", ""])


def _tran_line(step_s: float, tstop_s: float) -> str:
    """``.tran`` with print step and maximum step ``step_s`` up to ``tstop_s`` (s)."""
    return f".tran {spice_float(step_s)} {spice_float(tstop_s)} 0 {spice_float(step_s)}"


def dec_end(dec: Decoded) -> int:
    """Cycle at which the decoded update ended (the end of its last segment)."""
    return dec.segments[-1].cycle + dec.segments[-1].length if dec.segments else 0
