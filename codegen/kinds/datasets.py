"""The built-in datasets, listed once: name → (inputs, outputs) a chip needs for it.

:mod:`codegen.spec` (the ``name:`` choices and their shape check) and
:mod:`codegen.learn.datasets` (the loaders, ``NAMES``/``SHAPES``) both read this table; adding a
built-in dataset is one entry here plus its loader in ``codegen/learn/datasets.py``
(docs/extending.md).
"""

from __future__ import annotations

__all__ = ["BUILTIN_SHAPES", "BUILTIN_NAMES"]

#: (inputs, outputs) a chip needs for each built-in dataset, in the order the docs list them
BUILTIN_SHAPES: dict[str, tuple[int, int]] = {
    "kiraz_case1": (2, 1),
    "xor": (2, 1),
    "iris": (4, 3),
    "digits": (64, 10),
    "mnist": (784, 10),
}
#: the built-in dataset names
BUILTIN_NAMES: tuple[str, ...] = tuple(BUILTIN_SHAPES)
