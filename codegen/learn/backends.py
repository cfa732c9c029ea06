"""Where the network is solved during training: the golden model or ngspice in the loop.

A backend holds the present conductances and answers three questions: the outputs for a batch, the
EP gradient estimate for a batch (free and nudged phases), and, for the software baseline, the exact
gradient.  :class:`GoldenBackend` wraps :class:`codegen.model.GoldenModel`;
:class:`SpiceBackend` is a thin adapter over the ngspice runner (``codegen.run.ngspice``).
"""

from __future__ import annotations

import time
from typing import Literal, Protocol, cast

import numpy as np

from ..errors import CodegenError
from ..ir import Chip
from ..model import readout

__all__ = [
    "TrainBackend",
    "GoldenBackend",
    "SpiceBackend",
    "make_backend",
    "BACKENDS",
    "ENERGIES",
    "SPICE_WORKERS",
]

BACKENDS = ("golden", "spice")
#: what the EP rule differentiates (the golden model's ``energy`` knob, docs/background.md §4):
#: ``full`` = the energy the whole circuit minimises, every component included (each layer's
#: crossbar drops weighted by the energy scale the amplifiers give it, ``c/c_out``);
#: ``resistors_only`` = the resistor voltage drops alone, unweighted (amplifiers, diodes and
#: sources left out of the accounting; equal to ``full`` without amplifiers)
ENERGIES = readout.ENERGIES
#: libngspice processes the spice backend splits each batch over (this one included;
#: :class:`codegen.run.batch_pool.BatchPool`).  A fixed number, not the machine's core count, so a
#: run's numbers do not depend on the machine.  1: on digits every process must ``alter`` all 9 535
#: changed cells (≈ 90 ms CPU per step each) and a half batch still costs 0.78 of a whole one
#: (133 vs 170 ms CPU), so two processes gain ≈ 1.14× on two idle cores and lost 0.60× on the
#: shared machine (bench/results/training.json); pass ``workers=2`` where cores are free
SPICE_WORKERS = 1


class TrainBackend(Protocol):
    name: str

    def set_conductances(self, g: dict[str, np.ndarray]) -> None: ...

    def outputs(self, x: np.ndarray) -> np.ndarray: ...

    def ep_gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]: ...

    def exact_gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]: ...


class GoldenBackend:
    """The golden model (numpy/scipy Newton solver); β and centering default to ``chip.nudge``."""

    name = "golden"

    def __init__(
        self,
        chip: Chip,
        *,
        beta: float | None = None,
        centered: bool | None = None,
        energy: str = "full",
    ):
        from ..model import GoldenModel

        if energy not in ENERGIES:
            raise CodegenError(f"unknown energy accounting {energy!r}; choose from {', '.join(ENERGIES)}")
        self.chip = chip
        self.beta = chip.nudge.beta_S if beta is None else beta
        self.centered = chip.nudge.centered if centered is None else centered
        self.energy = energy
        self.model = GoldenModel(chip)

    def set_conductances(self, g: dict[str, np.ndarray]) -> None:
        self.model.set_conductances(g)

    def outputs(self, x: np.ndarray) -> np.ndarray:
        return self.model.solve(x).outputs

    def ep_gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        energy = cast(Literal["full", "resistors_only"], self.energy)  # checked in __init__
        return self.model.ep_gradient(x, t, beta=self.beta, centered=self.centered, energy=energy)

    def exact_gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        return self.model.exact_gradient(x, t)


class SpiceBackend:
    """ngspice in the loop: libngspice in shared mode (KLU as the netlists set it), through
    :class:`codegen.run.ngspice.BatchSession` on the ``nudged`` netlist with β switched per time
    slot (free, +β, −β one after another on one network: a third of the resistors to ``alter``
    of the ``simultaneous`` netlist's three copies, whose results it matches to 1e-12 V).

    Per batch: one ngspice analysis solves every sample and phase (a transient whose input, target
    and β-selector sources step from slot to slot, each time point an operating point converged
    by Newton from the previous one); only the crossbar and output nodes are read back.  The EP gradient is formed from the crossbar
    voltage drops of the copies by the golden model's estimator, :func:`codegen.model.readout.ep_from_arrays`
    (``ΔV²`` of +β minus free over 2β, or +β minus −β over 4β, times ``c/c_out`` for ``energy="full"``).  A conductance update
    ``alter``s only the cells that changed, on every copy.  ``exact_gradient`` (the software
    baseline) is the golden model's at the same conductances: ngspice has no adjoint.

    ``workers``: libngspice processes the batch is split over (:class:`codegen.run.batch_pool.BatchPool`,
    default :data:`SPICE_WORKERS`); each holds the whole network and solves a contiguous slice of
    the batch while the others solve theirs, and every one alters the changed cells.
    """

    name = "spice"

    def __init__(
        self,
        chip: Chip,
        *,
        beta: float | None = None,
        centered: bool | None = None,
        energy: str = "full",
        workers: int = SPICE_WORKERS,
    ):
        from dataclasses import replace

        try:
            from ..run.batch_pool import BatchPool
            from ..run.ngspice import netlist_files
        except ImportError as exc:  # pragma: no cover - the runner ships with codegen
            raise CodegenError("the spice backend needs codegen.run.ngspice") from exc
        if energy not in ENERGIES:
            raise CodegenError(f"unknown energy accounting {energy!r}; choose from {', '.join(ENERGIES)}")
        self.beta = chip.nudge.beta_S if beta is None else beta
        self.centered = chip.nudge.centered if centered is None else centered
        if self.centered != chip.nudge.centered or self.beta != chip.nudge.beta_S:
            chip = replace(chip, nudge=replace(chip.nudge, beta_S=self.beta, centered=self.centered))
        if chip.interconnect.resistive:
            raise CodegenError(
                "the spice training backend reads the crossbar ports, not the wire nodes the EP rule "
                "needs with interconnect resistance; train with --backend golden (codegen check "
                "compares it with ngspice node by node, wire nodes included)"
            )
        self.chip = chip
        self.energy = energy
        self.g = chip.initial_conductances()
        # the nodes the rule and the outputs need: every crossbar's rows and columns, the outputs
        nodes = [n for xb in chip.crossbars for n in (*xb.src_nodes, *xb.dst_nodes)]
        nodes += [n for pair in chip.nudge.outputs for n in pair if n is not None]
        nodes = list(dict.fromkeys(nodes))
        self._col = {n: i for i, n in enumerate(nodes)}
        self.session = BatchPool(
            chip, netlist_files(chip, self.g), "nudged", nodes=nodes, conductances=self.g, workers=workers
        )
        self._golden = GoldenBackend(chip, energy=energy)
        self._P = readout.output_matrix(chip, self._col, len(nodes))
        self.ops = 0  # operating points solved (one per sample)
        self.op_seconds = 0.0  # wall time inside ngspice's analyses (s)
        self.alter_seconds = 0.0  # wall time spent re-writing conductances (s)

    def set_conductances(self, g: dict[str, np.ndarray]) -> None:
        g = {k: np.array(v, dtype=float) for k, v in g.items()}
        t0 = time.perf_counter()
        self.session.set_conductances(g)  # alters the cells that changed, on every copy
        self.alter_seconds += time.perf_counter() - t0
        self.g = g
        self._golden.set_conductances(g)

    def _solve(self, x: np.ndarray, t: np.ndarray | None) -> dict[str, np.ndarray]:
        v = self.session.solve(x, t)
        self.ops += len(np.atleast_2d(x))
        self.op_seconds += self.session.seconds
        return v

    def outputs(self, x: np.ndarray) -> np.ndarray:
        v = self._solve(np.atleast_2d(x), None)["free"]
        return readout.outputs(v, self._P)

    def ep_gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        x, t = np.atleast_2d(x), np.atleast_2d(t)
        copies = self._solve(x, t)
        second = copies["neg"] if self.centered else copies["free"]
        return readout.ep_from_arrays(
            self.chip, copies["pos"], second, self._col, self.beta, self.centered, self.energy
        )

    def exact_gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        return self._golden.exact_gradient(x, t)


def make_backend(name: str, chip: Chip, **kw) -> TrainBackend:
    """A backend by name (``golden`` or ``spice``)."""
    if name == "golden":
        return GoldenBackend(chip, **kw)
    if name == "spice":
        return SpiceBackend(chip, **kw)
    raise CodegenError(f"unknown backend {name!r}; choose from {', '.join(BACKENDS)}")
