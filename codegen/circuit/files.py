"""The netlist files of a dialect as an in-memory ``{name: text}`` map, from the chip's circuit
(:func:`codegen.circuit.build_circuit`, :func:`codegen.circuit.render.render_dialect`).  The netlist
backends (:mod:`codegen.backends.spice`) and the runners (:mod:`codegen.run.ngspice`,
:mod:`codegen.run.vacask`, :mod:`codegen.run.simulators`) both render through here, so the runners
need not import the backends."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from ..ir import Chip
from .build import build_circuit
from .ir import Circuit
from .render import get_dialect, render_dialect

if TYPE_CHECKING:
    from ..model.conductances import HasConductances

__all__ = ["build_conductances", "format_dialect_files", "format_spice_files"]


def build_conductances(chip: Chip, options: HasConductances) -> tuple[dict[str, np.ndarray], str]:
    """The conductances (S) a build emits (:func:`~codegen.model.conductances.chip_conductances`)
    and the line saying where they come from (the params files' ``params_source``)."""
    from ..model.conductances import chip_conductances

    cs = options.conductances
    source = "" if cs is None else f"from conductance file {cs.name} (sha256 {cs.sha256})"
    return chip_conductances(chip, options), source


#: the last circuits built for the backends of one build: (chip, key, circuit); each dialect
#: renders the same circuit, so it is built once per build, not once per dialect and variant
_LAST: list[tuple[Chip, tuple[object, ...], Circuit]] = []


def _circuit(
    chip: Chip, conductances: Mapping[str, np.ndarray] | None, params_source: str, memristor: bool
) -> Circuit:
    import hashlib

    h = hashlib.sha256()
    for k in sorted(conductances or {}):
        h.update(k.encode() + np.ascontiguousarray(conductances[k], dtype=float).tobytes())  # type: ignore[index]
    key = (params_source, memristor, conductances is None, h.hexdigest())
    for c, known, circuit in _LAST:
        if c is chip and known == key:
            return circuit
    circuit = build_circuit(chip, conductances, params_source, memristor=memristor)
    _LAST.append((chip, key, circuit))
    del _LAST[:-4]
    return circuit


def format_dialect_files(
    dialect: str,
    chip: Chip,
    conductances: Mapping[str, np.ndarray] | None = None,
    *,
    params_source: str = "",
    memristor: bool = True,
    **more: object,
) -> dict[str, str]:
    """Every file of ``dialect`` (``<dialect>/<name>``), the memristor variant included where the
    dialect has one (unless ``memristor`` is False); ``more``: template variables (e.g. ``vacask=True`` for the Spectre spelling
    VACASK reads)."""
    d = get_dialect(dialect)
    circuit = _circuit(chip, conductances, params_source, False)
    mem = _circuit(chip, conductances, params_source, True) if d.memristor and memristor else None
    return {f"{dialect}/{k}": v for k, v in render_dialect(d, circuit, mem, **more).items()}


def format_spice_files(ctx: Circuit, memristor: Circuit | None = None) -> dict[str, str]:
    """The ``spice`` backend's files (``spice/<name>``) for one circuit (``memristor``: its
    memristor variant, for ``memristor_cells.sp`` and ``memristor.sp``)."""
    return {f"spice/{k}": v for k, v in render_dialect("spice", ctx, memristor).items()}
