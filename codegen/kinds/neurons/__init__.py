"""The neuron-kind registry: each kind is one sub-package with a registered :class:`NeuronKind`.

A neuron is two clamp diodes per node (node → ``v_high`` source, ``v_low`` source → node).  A kind
says where its clamps sit (:meth:`NeuronKind.clamps`), checks its spec keys (:meth:`NeuronKind.check`)
and gives the golden current ``I``, conductance ``dI/dV`` and co-content ``∫ I dV`` of one clamp
diode (:meth:`NeuronKind.clamp_diode`) that the golden model's Newton solver and its line search
use.  :mod:`codegen.spec` builds ``neuron.kind``'s choices from this registry,
:mod:`codegen.elab.network` the clamp voltages, :mod:`codegen.model.network` the diode functions.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any, ClassVar

import numpy as np

from ...ir import DiodeIR

__all__ = ["NeuronKind", "register", "neuron_kind", "neuron_kinds", "NEURON_KIND_NAMES"]


class NeuronKind:
    """One neuron kind; all methods are class methods."""

    kind: ClassVar[str] = ""
    summary: ClassVar[str] = ""

    @classmethod
    def clamps(cls, n: Any) -> tuple[float, float]:  # pragma: no cover - abstract
        """(v_low, v_high) of the clamp sources (V) from the ``neuron:`` spec ``n``."""
        raise NotImplementedError

    @classmethod
    def check(cls, n: Any) -> None:
        """Raise :class:`codegen.spec_types.PhysicsError` for values the kind cannot take."""

    @classmethod
    def clamp_diode(
        cls, x: np.ndarray, d: DiodeIR
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - abstract
        """Current (A), conductance dI/dV (S) and co-content ∫₀ˣ I dV (W) of one clamp diode at
        forward voltage ``x`` (V)."""
        raise NotImplementedError


_REGISTRY: dict[str, type[NeuronKind]] = {}


def register(cls: type[NeuronKind]) -> type[NeuronKind]:
    """Class decorator: add a neuron kind (its ``kind`` must be new)."""
    if not cls.kind:
        raise ValueError(f"{cls.__name__} has no kind")
    if cls.kind in _REGISTRY and _REGISTRY[cls.kind] is not cls:
        raise ValueError(f"neuron kind {cls.kind!r} registered twice")
    _REGISTRY[cls.kind] = cls
    return cls


for _mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if _mod.ispkg and not _mod.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_mod.name}")


def neuron_kinds() -> dict[str, type[NeuronKind]]:
    """Every registered neuron kind, in registration (folder name) order."""
    return dict(_REGISTRY)


def neuron_kind(kind: str) -> type[NeuronKind]:
    """The slice of neuron kind ``kind`` (KeyError naming the known kinds)."""
    if kind not in _REGISTRY:
        raise KeyError(f"unknown neuron kind {kind!r}; known: {', '.join(_REGISTRY)}")
    return _REGISTRY[kind]


#: the kinds, for ``neuron.kind``'s Literal (default first: ``diode_pair``)
NEURON_KIND_NAMES: tuple[str, ...] = tuple(sorted(_REGISTRY, key=lambda k: (k != "diode_pair", k)))
