"""Elaboration: Spec → Chip IR, as a chain of small named passes (one module each).

Each pass takes the spec and the fields built so far and returns the fields it adds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..ir import Chip
from ..load import spec_hash
from ..spec import Spec
from . import controller, dataset, device, interconnect, network, settings

__all__ = ["elaborate", "PASSES"]

Pass = Callable[[Spec, dict[str, Any]], dict[str, Any]]

#: Passes in the order they run.
PASSES: tuple[tuple[str, Pass], ...] = (
    ("dataset", dataset.run),
    ("settings", settings.run),
    ("network", network.run),
    ("device", device.run),
    ("controller", controller.run),
    ("interconnect", interconnect.run),
)


def elaborate(spec: Spec) -> Chip:
    """Run every pass and freeze the result into a :class:`~codegen.ir.Chip`."""
    fields: dict[str, Any] = {
        "name": spec.name,
        "description": spec.description,
        "spec_hash": spec_hash(spec),
    }
    for _name, run in PASSES:
        fields.update(run(spec, fields))
    return Chip(**fields)
