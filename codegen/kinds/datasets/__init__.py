"""The dataset-kind registry: each dataset is one module of this package with a registered
:class:`DatasetKind` — its name, the (inputs, outputs) a chip needs, its loader (:meth:`DatasetKind.raw`)
and its options (split, scaling, regression).

Every module of this package not starting with ``_`` is imported (sorted by name) the first time the
registry is read, so adding a built-in dataset is one new file (docs/extending.md).
:mod:`codegen.spec` (the ``training.dataset.name`` choices and their shape check) and
:mod:`codegen.learn.datasets` (:func:`~codegen.learn.datasets.load_dataset`) read this registry.
The kind ``file`` (a user's ``.npz``/``.csv``, ``training.dataset.file``) is a slice too
(:mod:`codegen.kinds.datasets.file`), with no fixed shape.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING, ClassVar

import numpy as np

if TYPE_CHECKING:
    from ...ir import Chip

__all__ = ["DatasetKind", "register", "dataset_kind", "dataset_kinds", "builtin_shapes", "builtin_names"]


class DatasetKind:
    """One dataset; all methods are class methods."""

    #: the ``training.dataset.name`` of a built-in (``file`` for a user's file)
    name: ClassVar[str] = ""
    #: one line for docs and messages
    summary: ClassVar[str] = ""
    #: (inputs, outputs) a chip needs; None: any (a user's file, checked against its arrays)
    shape: ClassVar[tuple[int, int] | None] = None
    #: position in the docs' and the schema's list of names
    order: ClassVar[int] = 100
    #: the held-out fraction regardless of ``test_fraction`` (XOR: 0, all four patterns train); None: the spec's
    test_fraction: ClassVar[float | None] = None
    #: always standardise the features with the training split's mean and σ (iris)
    standardize: ClassVar[bool] = False
    #: a regression task: the targets are ``target_high`` (V) on every output, train = test (Kiraz case 1)
    regression: ClassVar[bool] = False

    @classmethod
    def raw(cls, chip: Chip) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:  # pragma: no cover
        """Features (N, n_in) in feature units, integer labels (N,) or None, targets (N, n_out) in V or
        None, before the split."""
        raise NotImplementedError


_REGISTRY: dict[str, type[DatasetKind]] = {}
_LOADED = False


def register(cls: type[DatasetKind]) -> type[DatasetKind]:
    """Class decorator: add a dataset kind (its ``name`` must be new)."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"dataset {cls.name!r} registered twice")
    _REGISTRY[cls.name] = cls
    return cls


def _discover() -> None:
    global _LOADED
    if not _LOADED:
        _LOADED = True
        for mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
            if not mod.name.startswith("_"):
                importlib.import_module(f"{__name__}.{mod.name}")


def dataset_kinds() -> dict[str, type[DatasetKind]]:
    """Every registered dataset kind, in docs order (``order``, then name)."""
    _discover()
    return dict(sorted(_REGISTRY.items(), key=lambda kv: (kv[1].order, kv[0])))


def dataset_kind(name: str) -> type[DatasetKind]:
    """The slice of dataset ``name`` (KeyError naming the known ones)."""
    kinds = dataset_kinds()
    if name not in kinds:
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(kinds)}")
    return kinds[name]


def builtin_shapes() -> dict[str, tuple[int, int]]:
    """(inputs, outputs) a chip needs for each built-in dataset, in docs order."""
    return {n: k.shape for n, k in dataset_kinds().items() if k.shape is not None}


def builtin_names() -> tuple[str, ...]:
    """The built-in dataset names (``training.dataset.name``), in docs order."""
    return tuple(builtin_shapes())
