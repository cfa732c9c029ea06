"""eqprop-codegen: from ``chip.yaml`` to golden model, Verilog-A, netlists, RTL and co-simulation."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
