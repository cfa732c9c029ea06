"""The device-kind registry.

A slice subclasses :class:`DeviceKind`, fills in its class attributes and methods, and decorates it
with :func:`register`; every sub-package of this package is imported (sorted by name) the first
time the registry is read, so a new folder is all it takes.  Everything else reaches a device's
physics through the registry: :mod:`codegen.spec` (the union on ``kind``), :mod:`codegen.elab.device`
(elaboration), :mod:`codegen.model.device` (golden equations), :mod:`codegen.learn.devices`
(shaping an analog update) and :mod:`codegen.backends.veriloga` (the Verilog-A model).
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ...ir import Chip, PulsedDeviceIR
from .._union import kind_union

__all__ = [
    "DeviceKind",
    "NetlistSpelling",
    "register",
    "device_kind",
    "device_kinds",
    "kind_of",
    "spec_union",
    "DEFAULT_KIND",
]

#: the kind of a ``device:`` section without ``kind:``
DEFAULT_KIND = "memristor"


@dataclass(frozen=True)
class NetlistSpelling:
    """How a netlist instantiates the device (read by the netlist backends): the Verilog-A
    ``module`` (also the ``.osdi`` file's stem), its ``ports`` in instance order (p, n: current
    flows p → n for V(p, n) > 0) and the per-instance parameters a netlist sets (``g0``: the cell's
    conductance in S).  Every kind keeps the same interface, so netlists need no change per kind."""

    module: str = "eqp_memristor"
    ports: tuple[str, ...] = ("p", "n")
    instance_params: tuple[str, ...] = ("g0",)


class DeviceKind:
    """One device kind.  Subclasses set the class attributes and implement the methods; all
    methods are class methods taking the kind's IR dataclass (``dev``)."""

    #: the ``device.kind`` tag in chip.yaml
    kind: ClassVar[str] = ""
    #: one line for docs and messages
    summary: ClassVar[str] = ""
    #: the pydantic sub-model of the ``device:`` section (with ``kind: Literal[<kind>]``)
    spec: ClassVar[type]
    #: the IR dataclass (a :class:`~codegen.ir.PulsedDeviceIR` with ``kind`` = this kind)
    ir: ClassVar[type[PulsedDeviceIR]]
    #: Verilog-A template under templates/ (module ``netlist.module``)
    va_template: ClassVar[str] = ""
    netlist: ClassVar[NetlistSpelling] = NetlistSpelling()
    #: True where the kind's Verilog-A model cannot move between its thresholds: its rate is exactly
    #: 0 for ``v_reset_V ≤ V ≤ v_set_V`` (and its hold term is 0 while the state is its start), so
    #: a cell whose voltage never leaves that range keeps its conductance and need not be simulated
    #: (:class:`codegen.cosim.devices.TransientDevices`); its ``$bound_step`` applies only outside
    #: it.  False (the default): every cell is simulated.
    idle_between_thresholds: ClassVar[bool] = False

    @classmethod
    def elaborate(cls, d: Any) -> PulsedDeviceIR:  # pragma: no cover - abstract
        """The IR of the spec sub-model ``d``."""
        raise NotImplementedError

    @classmethod
    def g_from_w(cls, dev: Any, w: np.ndarray | float) -> np.ndarray:
        """Conductance (S) of state ``w`` ∈ [0, 1]; default linear ``g_min + (g_max − g_min)·w``."""
        return dev.g_min_S + (dev.g_max_S - dev.g_min_S) * np.asarray(w, dtype=float)

    @classmethod
    def w_from_g(cls, dev: Any, g: np.ndarray | float) -> np.ndarray:
        """State ``w`` of conductance ``g`` (S), clipped to [0, 1]; the inverse of :meth:`g_from_w`."""
        return np.clip((np.asarray(g, dtype=float) - dev.g_min_S) / (dev.g_max_S - dev.g_min_S), 0.0, 1.0)

    @classmethod
    def rate(cls, dev: Any, v: np.ndarray | float) -> np.ndarray:  # pragma: no cover - abstract
        """Signed state rate dw/dt (1/s) at voltage ``v`` (V) before any window."""
        raise NotImplementedError

    @classmethod
    def apply_pulse(
        cls, dev: Any, w: np.ndarray | float, v: float, width_s: float, rate_scale: np.ndarray | float = 1.0
    ) -> np.ndarray:  # pragma: no cover - abstract
        """State after one rectangular pulse of ``v`` (V) for ``width_s`` (s); ``rate_scale``
        multiplies the rate per cell (variation)."""
        raise NotImplementedError

    @classmethod
    def shape_delta(cls, dev: Any, w: np.ndarray, dg: np.ndarray) -> np.ndarray:
        """An analog conductance change ``dg`` (S) at states ``w``, shaped as pulses would shape
        it (the gradient rule on non-ideal devices); default unchanged."""
        return dg

    @classmethod
    def va_context(cls, chip: Chip) -> dict[str, object]:  # pragma: no cover - abstract
        """Variables of :attr:`va_template`."""
        raise NotImplementedError


_REGISTRY: dict[str, type[DeviceKind]] = {}
_LOADED = False


def register(cls: type[DeviceKind]) -> type[DeviceKind]:
    """Class decorator: add a device kind to the registry (its ``kind`` must be new)."""
    if not cls.kind:
        raise ValueError(f"{cls.__name__} has no kind")
    if cls.kind in _REGISTRY and _REGISTRY[cls.kind] is not cls:
        raise ValueError(f"device kind {cls.kind!r} registered twice")
    if getattr(cls.ir, "kind", None) != cls.kind:
        raise ValueError(f"{cls.__name__}.ir.kind must be {cls.kind!r}")
    _REGISTRY[cls.kind] = cls
    return cls


def _discover() -> None:
    global _LOADED
    if not _LOADED:
        _LOADED = True
        for mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
            if mod.ispkg and not mod.name.startswith("_"):
                importlib.import_module(f"{__name__}.{mod.name}")


def device_kinds() -> dict[str, type[DeviceKind]]:
    """Every registered device kind, sorted by name."""
    _discover()
    return dict(sorted(_REGISTRY.items()))


def device_kind(kind: str) -> type[DeviceKind]:
    """The slice of device kind ``kind`` (KeyError naming the known kinds)."""
    kinds = device_kinds()
    if kind not in kinds:
        raise KeyError(f"unknown device kind {kind!r}; known: {', '.join(kinds)}")
    return kinds[kind]


def kind_of(dev: PulsedDeviceIR) -> type[DeviceKind]:
    """The slice of an elaborated device."""
    return device_kind(type(dev).kind)


# --------------------------------------------------------------------------- spec union
def spec_union() -> Any:
    """The ``device:`` type: a union of every kind's sub-model, discriminated on ``kind``
    (:func:`codegen.kinds._union.kind_union`)."""
    return kind_union(lambda: {name: k.spec for name, k in device_kinds().items()}, DEFAULT_KIND, "device")
