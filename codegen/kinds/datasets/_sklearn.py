"""scikit-learn's bundled datasets (the ``learn`` extra), read by the ``iris`` and ``digits`` slices."""

from __future__ import annotations

import numpy as np

from ...errors import CodegenError

__all__ = ["sklearn_dataset"]


def sklearn_dataset(name: str, loader: str) -> tuple[np.ndarray, np.ndarray, None]:
    """Features and integer labels of ``sklearn.datasets.<loader>()`` (dataset ``name`` in messages)."""
    try:
        from sklearn import datasets as skd
    except ImportError as exc:  # pragma: no cover - sklearn is in the `learn` extra
        raise CodegenError(
            f"dataset {name!r} needs scikit-learn (pip install 'eqprop-codegen[learn]')"
        ) from exc
    d = getattr(skd, loader)()
    return np.asarray(d.data, dtype=float), np.asarray(d.target, dtype=int), None
