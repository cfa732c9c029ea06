"""Backends: one class per output kind, registered by name, discovered from this package.

A backend module defines a subclass of :class:`Backend` decorated with :func:`register`.  Its
``render(chip, options)`` returns ``{relative_path: text_or_bytes}``; it sees only the IR.  A backend
that runs a tool (e.g. openvaf-r) does so in a temporary folder and returns the bytes, so that the
whole build is still one in-memory plan written in one step.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from ..ir import Chip

if TYPE_CHECKING:
    from ..model.conductances import ConductanceSet

__all__ = ["Backend", "BuildOptions", "register", "get_backend", "all_backends"]


@dataclass(frozen=True)
class BuildOptions:
    """Options every backend may read.

    ``compile``: run external compilers (openvaf-r).  ``conductances``: the crossbar conductances
    (S) to emit instead of the chip's seeded initial ones (e.g. trained ones, read with
    :func:`codegen.model.conductances.read_conductances`); a backend that emits conductance values
    takes them from :func:`codegen.model.conductances.chip_conductances`, never from the chip directly.
    """

    compile: bool = True
    extra: dict[str, object] = field(default_factory=dict)
    conductances: ConductanceSet | None = None


class Backend:
    """Base class.  ``name`` is the registry key and the folder its files go to by convention."""

    name: ClassVar[str] = ""
    #: one line for ``codegen build --help`` and the build summary
    summary: ClassVar[str] = ""

    def render(self, chip: Chip, options: BuildOptions) -> dict[str, str | bytes]:  # pragma: no cover
        raise NotImplementedError

    def tool_versions(self) -> dict[str, str]:
        """Versions of external tools this backend used (for the manifest)."""
        return {}


_REGISTRY: dict[str, type[Backend]] = {}


def register(cls: type[Backend]) -> type[Backend]:
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"backend {cls.name!r} registered twice")
    _REGISTRY[cls.name] = cls
    return cls


def _discover() -> None:
    for mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not mod.name.startswith("_"):
            importlib.import_module(f"{__name__}.{mod.name}")


def all_backends() -> dict[str, type[Backend]]:
    """Every registered backend, sorted by name."""
    _discover()
    return dict(sorted(_REGISTRY.items()))


def get_backend(name: str) -> Backend:
    backends = all_backends()
    if name not in backends:
        raise KeyError(f"unknown backend {name!r}; known: {', '.join(backends)}")
    return backends[name]()
