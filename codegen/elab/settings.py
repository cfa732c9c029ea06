"""Pass ``settings``: simulation tolerances and the training schedule, copied into IR units."""

from __future__ import annotations

from typing import Any

from ..ir import SimulationIR, TrainingIR
from ..spec import Spec
from . import dataset


def run(spec: Spec, fields: dict[str, Any]) -> dict[str, Any]:
    s, t = spec.simulation, spec.training
    return {
        "simulation": SimulationIR(
            reltol=s.reltol,
            vntol_V=s.vntol,
            abstol_A=s.abstol,
            gmin_S=s.gmin,
            max_newton_iterations=s.max_newton_iterations,
            residual_tol_A=s.residual_tol,
        ),
        "training": TrainingIR(
            rule=t.rule,
            learning_rate=t.learning_rate,
            dead_zone=t.dead_zone,
            quantize=t.quantize,
            epochs=t.epochs,
            batch_size=t.batch_size,
            seed=t.seed,
            test_fraction=t.dataset.test_fraction,
            input_scale_V=t.dataset.input_scale,
            target_high_V=t.dataset.target_high,
            target_low_V=t.dataset.target_low,
            **dataset.training_fields(spec),
        ),
    }
