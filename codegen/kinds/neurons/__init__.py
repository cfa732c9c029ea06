"""The neuron-kind registry: each kind is one sub-package with a registered :class:`NeuronKind`.

A neuron is two clamp diodes per node (node → ``v_high`` source, ``v_low`` source → node).  A kind
holds its ``neuron:`` sub-model (:attr:`NeuronKind.spec`, a member of the union on ``kind``), says
where its clamps sit (:meth:`NeuronKind.clamps`, elaborated by :meth:`NeuronKind.elaborate`), checks
its spec keys (:meth:`NeuronKind.check`), gives the golden current ``I``, conductance ``dI/dV`` and
co-content ``∫ I dV`` of one clamp diode (:meth:`NeuronKind.clamp_diode`) that the golden model's
Newton solver and its line search use, and names its Verilog-A template and netlist spelling.
:mod:`codegen.spec` builds the ``neuron:`` union from this registry (:func:`neuron_union`),
:mod:`codegen.elab.network` the IR, :mod:`codegen.model.network` the diode functions and
:mod:`codegen.backends.veriloga` the Verilog-A model.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ...ir import Chip, DiodeIR, NeuronIR
from .._union import kind_union

__all__ = [
    "NeuronKind",
    "NeuronSpelling",
    "register",
    "neuron_kind",
    "neuron_kinds",
    "neuron_union",
    "NEURON_KIND_NAMES",
    "DEFAULT_KIND",
]

#: the kind of a ``neuron:`` section without ``kind:``
DEFAULT_KIND = "diode_pair"


@dataclass(frozen=True)
class NeuronSpelling:
    """How the generated files spell a neuron: the Verilog-A ``module`` and its ``ports`` (the
    neuron's node), and ``clamp_element``, the element the SPICE-family netlists use for each clamp
    (``diode``: a junction diode of the ``.model D`` card from :class:`~codegen.ir.DiodeIR`, node →
    ``nrn_hi`` and ``nrn_lo`` → node).  Every kind keeps this interface, so netlists need no change
    per kind."""

    module: str = "eqp_neuron"
    ports: tuple[str, ...] = ("x",)
    clamp_element: str = "diode"


class NeuronKind:
    """One neuron kind; all methods are class methods."""

    #: the ``neuron.kind`` tag in chip.yaml
    kind: ClassVar[str] = ""
    #: one line for docs and messages
    summary: ClassVar[str] = ""
    #: the pydantic sub-model of the ``neuron:`` section (with ``kind: Literal[<kind>]``)
    spec: ClassVar[type]
    #: Verilog-A template under templates/ (module ``netlist.module``)
    va_template: ClassVar[str] = "veriloga/eqp_neuron.va.j2"
    netlist: ClassVar[NeuronSpelling] = NeuronSpelling()

    @classmethod
    def elaborate(cls, n: Any, diode: DiodeIR) -> NeuronIR:
        """The IR of the ``neuron:`` spec ``n`` with its elaborated clamp ``diode``."""
        lo, hi = cls.clamps(n)
        return NeuronIR(kind=cls.kind, v_low_V=lo, v_high_V=hi, diode=diode)

    @classmethod
    def va_context(cls, chip: Chip, n: NeuronIR) -> dict[str, object]:
        """Variables of :attr:`va_template` for the chip's neuron ``n``."""
        return {"n": n}

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
    if cls.spec.model_fields["kind"].default != cls.kind:  # type: ignore[attr-defined]
        raise ValueError(f"{cls.__name__}.spec.kind must default to {cls.kind!r}")
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


#: the kinds, default first (``diode_pair``), then by name
NEURON_KIND_NAMES: tuple[str, ...] = tuple(sorted(_REGISTRY, key=lambda k: (k != DEFAULT_KIND, k)))


def neuron_union() -> Any:
    """The ``neuron:`` type: a union of every kind's sub-model, discriminated on ``kind``
    (:func:`codegen.kinds._union.kind_union`)."""
    return kind_union(lambda: {k: _REGISTRY[k].spec for k in NEURON_KIND_NAMES}, DEFAULT_KIND, "neuron")
