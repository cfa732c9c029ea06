"""Dataset ``digits``: scikit-learn's bundled 8×8 digits, 64 pixels in their raw units 0..16 (an
``input_scale`` of 1/16 V maps a full pixel to 1 V), 10 classes."""

from __future__ import annotations

from . import DatasetKind, register
from ._sklearn import sklearn_dataset


@register
class Digits(DatasetKind):
    name = "digits"
    summary = "scikit-learn's 8×8 digits, 64 pixels 0..16, 10 classes"
    shape = (64, 10)
    order = 3

    @classmethod
    def raw(cls, chip):  # type: ignore[no-untyped-def]
        return sklearn_dataset(cls.name, "load_digits")
