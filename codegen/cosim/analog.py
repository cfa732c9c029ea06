"""The analog half of the learning loop: ngspice solves the phases, the peripheral circuit turns
the voltage drops into update codes.

* ``sequential``: one network (``nudged.sp``) solved three times per sample: β = 0 (the free phase:
  the nudging VCCS carries no current, as with the output switches open), +β and, with centered
  nudging, −β.
* ``simultaneous`` (docs/background.md §2): ``simultaneous.sp`` holds the free, +β and −β copies that share
  the conductances; one operating point per sample gives every phase.

The EP update is the one the peripheral circuit computes from the drops across each conductance
(:func:`codegen.model.readout.ep_from_samples`), batch-averaged; the learning code's
:func:`codegen.learn.rules.pulse_codes` turns it into signed pulse counts (sign-pulse rule).
The netlist is loaded once into libngspice (PySpice shared mode).  :class:`SpiceCrossbars` solves a
whole batch — every sample and phase — in one ngspice analysis
(:class:`codegen.run.ngspice.BatchSession`: the sources step from time slot to time slot) and reads
back only the crossbar and output nodes; per update only the resistors whose conductance changed
are altered.  :class:`OpCrossbars` is the path before issue 15 (one ``op`` per phase and sample,
every vector read back), kept for ``CosimConfig.legacy`` and bench/bench_cosim.py's ratios.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..ir import Chip
from ..model import readout

__all__ = ["PHASES", "PhaseResult", "SpiceCrossbars", "OpCrossbars", "outputs_of"]

PHASES = ("sequential", "simultaneous")
#: reltol of the co-simulation's batch deck relative to the deck's own, 10× tighter than training's
#: (:attr:`codegen.run.ngspice.BatchSession.RELTOL_FACTOR`): the loop reports the EP estimate's
#: solver noise (``ep_rel_err``); at 1e-3 xor's sequential run showed 2e-5 at some steps, at 1e-4
#: the 9e-7 of one ``op`` per phase
RELTOL_FACTOR = 1e-4


@dataclass
class PhaseResult:
    """Everything one update needs from the analog side (batch of samples)."""

    gradient: dict[str, np.ndarray]  # batch-mean EP estimate of ∂C/∂G per crossbar (V²/S)
    loss: float  # batch-mean ½Σ(t − y)² at the free equilibrium (V²)
    outputs: np.ndarray  # (B, n_out) free-phase outputs (V)
    ops: int  # operating points solved
    seconds: float  # time inside ngspice (s)


def outputs_of(chip: Chip, v: dict[str, float]) -> np.ndarray:
    """Outputs ``y = V(out p) − V(out n)`` (V) from a node → V dict (:func:`codegen.model.readout.outputs_of`)."""
    return readout.outputs_of(chip, v)


class _Netlists:
    """What both analog halves share: writing the spice backend's netlists for a divergence."""

    chip: Chip

    def write_netlists(self, folder, conductances: dict[str, np.ndarray]) -> list[str]:
        """Write the spice backend's netlists with ``conductances`` (S) into ``folder``; returns the names."""
        from pathlib import Path

        from ..run.ngspice import netlist_files

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        files = netlist_files(self.chip, conductances)
        for name, text in files.items():
            (folder / name).write_text(text)
        return sorted(files)


class OpCrossbars(_Netlists):
    """libngspice holding the chip's network; ``solve`` runs one ``op`` per phase and sample."""

    def __init__(self, chip: Chip, conductances: dict[str, np.ndarray], phases: str = "sequential"):
        from ..errors import CodegenError
        from ..run.ngspice import SharedSession, netlist_files

        if phases not in PHASES:
            raise CodegenError(f"unknown phase mode {phases!r}; choose from {', '.join(PHASES)}")
        self.chip = chip
        self.phases = phases
        self.top = "nudged" if phases == "sequential" else "simultaneous"
        self.files = netlist_files(chip, conductances)
        t0 = time.perf_counter()
        self.session = SharedSession(chip, self.files, self.top)
        self.g = {k: np.array(v, dtype=float) for k, v in conductances.items()}
        self.load_seconds = time.perf_counter() - t0  # counted in the loop's setup
        self.seconds = 0.0  # time in ngspice after loading: alters and operating points (s)

    def set_conductances(self, g: dict[str, np.ndarray]) -> None:
        """Alter the resistors whose conductance (S) changed, in every network copy."""
        from ..circuit import names as nm
        from ..run.ngspice import chip_circuit  # the names every runner takes
        from ..units import spice_float

        circuit = chip_circuit(self.chip)
        cmds: list[str] = []
        for xb in self.chip.crossbars:
            new = np.asarray(g[xb.name], dtype=float)
            paths = circuit.cell_paths(self.top, xb.name)
            for r, c in np.argwhere(new != self.g[xb.name]):
                value = spice_float(1.0 / new[r, c])
                for rows in paths.values():
                    cmds.append(nm.ngspice_alter(nm.ngspice_path(*rows[r][c]), value, "resistance"))
            self.g[xb.name] = new.copy()
        t0 = time.perf_counter()
        if cmds:
            self.session.alter(cmds)
        self.seconds += time.perf_counter() - t0

    def solve(self, x: np.ndarray, t: np.ndarray, beta: float) -> PhaseResult:
        """Free and nudged phases of every sample of the batch ``x`` (B, n_in), targets ``t`` (B, n_out, V)."""
        centered = self.chip.nudge.centered
        free, plus, minus = [], [], []
        secs = 0.0
        ops = 0
        for xb, tb in zip(np.atleast_2d(x), np.atleast_2d(t), strict=True):
            if self.phases == "sequential":
                res = [self.session.op(xb, tb, 0.0), self.session.op(xb, tb, beta)]
                if centered:
                    res.append(self.session.op(xb, tb, -beta))
                free.append(res[0].copies["pos"])
                plus.append(res[1].copies["pos"])
                if centered:
                    minus.append(res[2].copies["pos"])
            else:
                res = [self.session.op(xb, tb, beta)]
                free.append(res[0].copies["free"])
                plus.append(res[0].copies["pos"])
                if centered:
                    minus.append(res[0].copies["neg"])
            ops += len(res)
            secs += sum(r.seconds for r in res)
        grad = readout.ep_from_samples(self.chip, free, plus, minus if centered else None, beta)
        y = np.array([outputs_of(self.chip, v) for v in free])
        loss = readout.mean_loss(t, y)
        self.seconds += secs
        return PhaseResult(grad, loss, y, ops, secs)


class SpiceCrossbars(_Netlists):
    """libngspice holding the chip's network; ``solve`` runs every sample and phase of one batch in
    one analysis (:class:`codegen.run.ngspice.BatchSession`) and reads back the crossbar and output
    nodes only.  β is the deck's (``chip.nudge.beta_S``)."""

    def __init__(
        self,
        chip: Chip,
        conductances: dict[str, np.ndarray],
        phases: str = "sequential",
        files: dict[str, str] | None = None,
    ):
        """``files``: :func:`codegen.run.ngspice.netlist_files` of ``chip`` at ``conductances``,
        if already rendered (else rendered here)."""
        from ..errors import CodegenError
        from ..run.ngspice import BatchSession, netlist_files

        if phases not in PHASES:
            raise CodegenError(f"unknown phase mode {phases!r}; choose from {', '.join(PHASES)}")
        self.chip = chip
        self.phases = phases
        self.top = "nudged" if phases == "sequential" else "simultaneous"
        self.files = netlist_files(chip, conductances) if files is None else files
        self.g = {k: np.array(v, dtype=float) for k, v in conductances.items()}
        nodes = [n for xb in chip.crossbars for n in (*xb.src_nodes, *xb.dst_nodes)]
        nodes += [n for pair in chip.nudge.outputs for n in pair if n is not None]
        self.nodes = list(dict.fromkeys(nodes))
        self._index = {n: i for i, n in enumerate(self.nodes)}  # node -> column of the solve's arrays
        t0 = time.perf_counter()
        self.session = BatchSession(
            chip, self.files, self.top, nodes=self.nodes, conductances=self.g, reltol_factor=RELTOL_FACTOR
        )
        self.load_seconds = time.perf_counter() - t0  # counted in the loop's setup
        self.seconds = 0.0  # time in ngspice after loading: alters and analyses (s)

    def set_conductances(self, g: dict[str, np.ndarray]) -> None:
        """Alter the resistors whose conductance (S) changed."""
        t0 = time.perf_counter()
        self.session.set_conductances(g)
        self.g = {k: np.array(v, dtype=float) for k, v in g.items()}
        self.seconds += time.perf_counter() - t0

    def solve(self, x: np.ndarray, t: np.ndarray, beta: float) -> PhaseResult:
        """Free and nudged phases of every sample of the batch ``x`` (B, n_in), targets ``t`` (B, n_out, V)."""
        from ..errors import CodegenError
        from ..run.equivalence import ep_from_voltages

        if beta != self.chip.nudge.beta_S:
            raise CodegenError(f"the batch deck nudges with β = {self.chip.nudge.beta_S:g} S, not {beta:g} S")
        centered = self.chip.nudge.centered
        x, t = np.atleast_2d(x), np.atleast_2d(t)
        v = self.session.solve(x, t)  # NgspiceError is a CodegenError: the loop reports it
        secs = self.session.seconds
        if self.chip.interconnect.resistive:  # the memristor drops sit at wire nodes: per sample
            as_dicts = {
                c: [dict(zip(self.nodes, row.tolist(), strict=True)) for row in a] for c, a in v.items()
            }
            free, plus = as_dicts["free"], as_dicts["pos"]
            minus = as_dicts["neg"] if centered else None
            grad = ep_from_voltages(self.chip, free, plus, minus, beta)
            y = np.array([outputs_of(self.chip, d) for d in free])
        else:  # from the (samples, nodes) arrays: the numbers of the per-sample dicts, bit for bit
            grad = readout.ep_from_arrays(
                self.chip, v["pos"], v["neg"] if centered else v["free"], self._index, beta, centered
            )
            f = v["free"]
            y = np.stack(
                [
                    f[:, self._index[p]] - (f[:, self._index[n]] if n is not None else 0.0)
                    for p, n in self.chip.nudge.outputs
                ],
                axis=1,
            )
        loss = float(np.mean(0.5 * np.sum((t - y) ** 2, axis=1)))
        self.seconds += secs
        ops = len(x) * ((3 if centered else 2) if self.phases == "sequential" else 1)
        return PhaseResult(grad, loss, y, ops, secs)
