"""Fit a device to a measured conductance-vs-pulse trace (``codegen fit-device``).

:func:`read_trace` reads the CSV (format in :mod:`codegen.fit.trace` and docs/devices.md),
:func:`fit_trace` fits the golden device model (:mod:`codegen.model.device`) to it,
:func:`device_yaml` writes the ``device:`` section, :func:`plot_fit` draws data against fit.
"""

from .fit import BoundsFit, FitResult, device_ir, device_section, device_yaml, fit_trace, predict
from .plot import plot_fit
from .trace import PulseTrace, parse_trace, read_trace, simulate_trace

__all__ = [
    "BoundsFit",
    "FitResult",
    "PulseTrace",
    "device_ir",
    "device_section",
    "device_yaml",
    "fit_trace",
    "parse_trace",
    "plot_fit",
    "predict",
    "read_trace",
    "simulate_trace",
]
