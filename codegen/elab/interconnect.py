"""Pass ``interconnect``: wire resistance and capacitance, copied into IR units (Ω, F).

The geometry (which end drives each line, how segments are numbered) is defined once, in
:class:`codegen.ir.InterconnectIR`; backends and the golden model ask it for node names and segments.
"""

from __future__ import annotations

from typing import Any

from ..ir import InterconnectIR
from ..spec import Spec


def run(spec: Spec, fields: dict[str, Any]) -> dict[str, Any]:
    w = spec.interconnect
    return {
        "interconnect": InterconnectIR(
            r_row_ohm=w.r_row,
            r_col_ohm=w.r_col,
            r_access_ohm=w.r_access,
            c_segment_F=w.c_segment,
            c_node_F=w.c_node,
        )
    }
