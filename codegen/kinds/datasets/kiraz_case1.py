"""Dataset ``kiraz_case1``: one pattern, x = [−2, 2] (×``input_scale`` V), target ``target_high``
(1 V in the seed) on every output; Kiraz, Pham, Desgreys 2023, case 1.  A regression task."""

from __future__ import annotations

import numpy as np

from . import DatasetKind, register


@register
class KirazCase1(DatasetKind):
    name = "kiraz_case1"
    summary = "one pattern [−2, 2] → target_high (Kiraz et al. 2023, case 1)"
    shape = (2, 1)
    order = 0
    regression = True

    @classmethod
    def raw(cls, chip):  # type: ignore[no-untyped-def]
        return np.array([[-2.0, 2.0]]), np.array([1]), None
