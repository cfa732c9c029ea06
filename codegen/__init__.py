"""eqprop-codegen: from ``chip.yaml`` to golden model, Verilog-A, netlists, RTL and co-simulation.

The public API (``docs/api.md``)::

    import codegen
    chip = codegen.load_chip("mychip.yaml")      # or a dict; friendly SpecError on bad input
    codegen.write_build(chip, "build/mychip")          # every backend, as `codegen build`
    model = codegen.golden_model(chip)           # numpy/scipy golden model
    result = codegen.train(chip, x, t, epochs=50)  # EP on arrays (inputs, targets in V)
    codegen.run_check(chip); codegen.run_cosim(chip, steps=10)   # ngspice against the golden model

The functions are imported on first use, so ``import codegen`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: public name → module it lives in (imported on first access)
_LAZY = {
    "example": "api",
    "examples": "api",
    "load_spec": "api",
    "load_chip": "api",
    "write_build": "api",
    "golden_model": "api",
    "make_dataset": "api",
    "train": "api",
    "run_check": "api",
    "run_cosim": "api",
    "Built": "api",
    "CodegenError": "errors",
    "SpecError": "errors",
    "Spec": "spec",
    "Chip": "ir",
}

__all__ = [
    "__version__",
    "example",
    "examples",
    "load_spec",
    "load_chip",
    "write_build",
    "golden_model",
    "make_dataset",
    "train",
    "run_check",
    "run_cosim",
    "Built",
    "CodegenError",
    "SpecError",
    "Spec",
    "Chip",
]

if TYPE_CHECKING:
    from .api import (
        Built,
        example,
        examples,
        golden_model,
        load_chip,
        load_spec,
        make_dataset,
        run_check,
        run_cosim,
        train,
        write_build,
    )
    from .errors import CodegenError, SpecError
    from .ir import Chip
    from .spec import Spec


def __getattr__(name: str) -> Any:
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'codegen' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{mod}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
