"""Where the network is solved during training: the golden model or ngspice in the loop.

A backend holds the present conductances and answers three questions: the outputs for a batch, the
EP gradient estimate for a batch (free and nudged phases), and, for the software baseline, the exact
gradient.  :class:`GoldenBackend` wraps :class:`codegen.model.GoldenModel`;
:class:`SpiceBackend` is a thin adapter over the ngspice runner (``codegen.run.ngspice``).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from ..errors import CodegenError
from ..ir import Chip

__all__ = ["TrainBackend", "GoldenBackend", "SpiceBackend", "make_backend", "BACKENDS", "ENERGIES"]

BACKENDS = ("golden", "spice")
#: what the EP rule differentiates (the golden model's ``energy`` knob, SEEDS.md §4):
#: ``full`` = the energy the whole circuit minimises, every component included (each layer's
#: crossbar drops weighted by the energy scale the amplifiers give it, ``c/c_out``);
#: ``resistors_only`` = the resistor voltage drops alone, unweighted (amplifiers, diodes and
#: sources left out of the accounting; equal to ``full`` without amplifiers)
ENERGIES = ("full", "resistors_only")


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
        return self.model.ep_gradient(x, t, beta=self.beta, centered=self.centered, energy=self.energy)

    def exact_gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        return self.model.exact_gradient(x, t)


class SpiceBackend:
    """ngspice in the loop (shared-mode libngspice, KLU) through :mod:`codegen.run.ngspice`."""

    name = "spice"

    def __init__(
        self,
        chip: Chip,
        *,
        beta: float | None = None,
        centered: bool | None = None,
        energy: str = "full",
    ):
        try:
            from ..run import ngspice  # noqa: F401
        except ImportError as exc:
            raise CodegenError(
                "the spice backend needs the ngspice runner (codegen/run/ngspice.py), which this checkout lacks"
            ) from exc
        raise CodegenError("the spice training backend is not wired yet")

    def set_conductances(self, g: dict[str, np.ndarray]) -> None:  # pragma: no cover
        raise NotImplementedError

    def outputs(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def ep_gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:  # pragma: no cover
        raise NotImplementedError

    def exact_gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:  # pragma: no cover
        raise NotImplementedError


def make_backend(name: str, chip: Chip, **kw) -> TrainBackend:
    """A backend by name (``golden`` or ``spice``)."""
    if name == "golden":
        return GoldenBackend(chip, **kw)
    if name == "spice":
        return SpiceBackend(chip, **kw)
    raise CodegenError(f"unknown backend {name!r}; choose from {', '.join(BACKENDS)}")
