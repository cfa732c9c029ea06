"""Device kind ``yakopcic``: Yakopcic's memristor model (IEEE EDL 32(10), 2011) with a linear read
conductance.

* spec: :class:`.spec.YakopcicDevice` (``device: {kind: yakopcic, …}``);
* IR, golden equations, elaboration: :mod:`.golden`;
* Verilog-A: ``templates/veriloga/eqp_memristor_yakopcic.va.j2`` (module ``eqp_memristor``, the
  same ports and instance parameters as kind ``memristor``, so netlists need no change).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ....ir import Chip
from .. import DeviceKind, register
from . import golden
from .golden import YakopcicIR
from .spec import YakopcicDevice

__all__ = ["Yakopcic", "YakopcicDevice", "YakopcicIR"]


@register
class Yakopcic(DeviceKind):
    kind = "yakopcic"
    summary = "Yakopcic memristor: exponential threshold drive, exponential windows, linear G(x)"
    spec = YakopcicDevice
    ir = YakopcicIR
    va_template = "veriloga/eqp_memristor_yakopcic.va.j2"
    #: templates: ``rate = 0.0`` unless ``v > v_set`` or ``v < v_reset``
    idle_between_thresholds = True

    @classmethod
    def elaborate(cls, d: Any) -> YakopcicIR:
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
