"""Co-simulation of the on-chip learning loop: ngspice crossbars + the pulse controller (RTL under
cocotb/Icarus, or its reference model) + memristor devices, checked step by step against the golden
model.  See ``docs/cosim.md``.
"""

from .decode import Capture, Decoded, decode
from .loop import CosimConfig, CosimResult, Divergence, ReferenceController, run_loop

__all__ = [
    "Capture",
    "Decoded",
    "decode",
    "CosimConfig",
    "CosimResult",
    "Divergence",
    "ReferenceController",
    "run_loop",
]
