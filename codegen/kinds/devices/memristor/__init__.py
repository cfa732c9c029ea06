"""Device kind ``memristor``: the threshold (VTEAM-like) memristor.

* spec: :class:`.spec.Device` (``device:`` with ``kind: memristor`` or no ``kind:``);
* IR: :class:`codegen.ir.DeviceIR` (kept in codegen.ir: its name is public API);
* golden equations and elaboration: :mod:`.golden`;
* Verilog-A: ``templates/veriloga/eqp_memristor.va.j2``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ....ir import Chip, DeviceIR
from .. import DeviceKind, register
from . import golden
from .spec import Aihwkit, Device

__all__ = ["Memristor", "Device", "Aihwkit"]


@register
class Memristor(DeviceKind):
    kind = "memristor"
    summary = "threshold (VTEAM-like) memristor, linear G(w), hard or soft bounds"
    spec = Device
    ir = DeviceIR
    va_template = "veriloga/eqp_memristor.va.j2"
    #: templates: ``rate = 0.0`` unless ``v > v_set`` or ``v < v_reset``
    idle_between_thresholds = True

    @classmethod
    def elaborate(cls, d: Any) -> DeviceIR:
        return golden.elaborate(d)

    @classmethod
    def rate(cls, dev: Any, v: np.ndarray | float) -> np.ndarray:
        return golden.rate(dev, v)

    @classmethod
    def apply_pulse(
        cls, dev: Any, w: np.ndarray | float, v: float, width_s: float, rate_scale: np.ndarray | float = 1.0
    ) -> np.ndarray:
        return golden.apply_pulse(dev, w, v, width_s, rate_scale)

    @classmethod
    def shape_delta(cls, dev: Any, w: np.ndarray, dg: np.ndarray) -> np.ndarray:
        return golden.shape_delta(dev, w, dg)

    @classmethod
    def va_context(cls, chip: Chip) -> dict[str, object]:
        return golden.va_context(chip)
