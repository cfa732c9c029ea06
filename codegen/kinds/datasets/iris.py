"""Dataset ``iris``: scikit-learn's bundled copy, 4 features standardised with the *training* split's
mean and standard deviation (so a feature of 1 is one σ, driven as ``input_scale`` V), 3 classes."""

from __future__ import annotations

from . import DatasetKind, register
from ._sklearn import sklearn_dataset


@register
class Iris(DatasetKind):
    name = "iris"
    summary = "Fisher's iris (scikit-learn's copy), 4 standardised features, 3 classes"
    shape = (4, 3)
    order = 2
    standardize = True

    @classmethod
    def raw(cls, chip):  # type: ignore[no-untyped-def]
        return sklearn_dataset(cls.name, "load_iris")
