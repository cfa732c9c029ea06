"""Backend ``ir``: the elaborated IR as JSON (``ir.json``), for review and for other tools."""

from __future__ import annotations

from ..ir import Chip, to_json
from . import Backend, BuildOptions, register


@register
class IRDump(Backend):
    name = "ir"
    summary = "ir.json: the elaborated chip (nodes, crossbars, device, controller)"

    def render(self, chip: Chip, options: BuildOptions) -> dict[str, str | bytes]:
        return {"ir.json": to_json(chip)}
