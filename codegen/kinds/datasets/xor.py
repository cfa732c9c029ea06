"""Dataset ``xor``: the four patterns of {0, 1}², target ``target_high`` where x0 XOR x1, else
``target_low``; all four train and test (no held-out split)."""

from __future__ import annotations

import numpy as np

from . import DatasetKind, register


@register
class Xor(DatasetKind):
    name = "xor"
    summary = "the four patterns of {0, 1}², class x0 XOR x1"
    shape = (2, 1)
    order = 1
    test_fraction = 0.0

    @classmethod
    def raw(cls, chip):  # type: ignore[no-untyped-def]
        x = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
        return x, np.array([0, 1, 1, 0]), None
