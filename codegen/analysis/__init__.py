"""Operating-point design: where a chip's neurons sit against their diode knees, how much of the
input drive the ± pairs cancel, the read margin and the power over a whole dataset
(:mod:`codegen.analysis.operating_point`, ``codegen analyze``), and a search for the scale
parameters that put the hidden layers into their nonlinear region (:mod:`codegen.analysis.tune`,
``codegen tune``).  docs/design_rules.md explains the rules behind both."""

from .operating_point import (
    KNEE_RATIO,
    SATURATION_RATIO,
    TARGET_NONLINEAR,
    LayerPoint,
    OperatingPoint,
    PowerSummary,
    ReadMargin,
    analyze,
    analyze_dataset,
    dataset_arrays,
)
from .tune import Knobs, TuneResult, tune

__all__ = [
    "KNEE_RATIO",
    "SATURATION_RATIO",
    "TARGET_NONLINEAR",
    "LayerPoint",
    "OperatingPoint",
    "PowerSummary",
    "ReadMargin",
    "analyze",
    "analyze_dataset",
    "dataset_arrays",
    "Knobs",
    "TuneResult",
    "tune",
]
