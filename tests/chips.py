"""Random test chips through the real path: YAML text → ``load_spec_text`` → ``elaborate`` → Chip IR.

``random_chip(seed, layers, ...)`` returns a chip whose initial conductances are drawn uniformly in
[g_low_S, g_high_S] with the chip's seed.  Shapes that match no dataset (e.g. 784×100×10) are allowed:
the Spec's dataset/shape cross-check is the only check skipped (these chips are simulated, not trained).
"""

from __future__ import annotations

from typing import Literal

import yaml
from pydantic import model_validator

from codegen.elab import elaborate
from codegen.ir import Chip
from codegen.load import load_spec_text
from codegen.spec import Spec

__all__ = ["random_chip", "chip_yaml"]

_DATASET_SHAPES = {(2, 1): "xor", (4, 3): "iris", (64, 10): "digits"}


class _AnyShapeSpec(Spec):
    """Spec without the dataset/shape cross-check (every other validator still runs)."""

    @model_validator(mode="after")
    def _cross(self) -> _AnyShapeSpec:  # type: ignore[override]
        return self


def chip_yaml(
    seed: int,
    layers: list[int],
    *,
    skip: list[tuple[int, int]] = (),  # type: ignore[assignment]
    neuron: Literal["diode_pair", "relu_clamp"] = "diode_pair",
    amplifier: bool = True,
    gain: float = 4.0,
    input_doubling: bool = True,
    doubled_outputs: bool = True,
    bias: bool = True,
    on_output: bool = False,
    g_low_S: float = 1e-5,
    g_high_S: float = 6e-5,
    v_low_V: float = -0.5,
    v_high_V: float = 0.5,
    alpha_V: float = 1.0,
    beta_S: float = 1e-6,
    diode_n: float = 1.0,
    diode_is_A: float = 1e-12,
    max_newton_iterations: int = 200,
) -> str:
    """chip.yaml text of a random test network (conductance range in S, voltages in V)."""
    dataset = _DATASET_SHAPES.get((layers[0], layers[-1]), "xor")
    skips = "[" + ", ".join(f"{{src: {s}, dst: {d}}}" for s, d in skip) + "]"
    g_max = max(1e-4, 2 * g_high_S)
    # each neuron kind takes its own keys (codegen/kinds/neurons/<kind>/spec.py)
    clamp_keys = (
        f"alpha: {alpha_V!r}" if neuron == "relu_clamp" else f"v_low: {v_low_V!r}\n  v_high: {v_high_V!r}"
    )
    return f"""\
name: random{seed}
network:
  layers: [{", ".join(map(str, layers))}]
  input_doubling: {str(input_doubling).lower()}
  bias: {str(bias).lower()}
  bias_voltage: 1 V
  doubled_outputs: {str(doubled_outputs).lower()}
  skip: {skips}
device:
  g_min: {g_low_S / 10!r}
  g_max: {g_max!r}
  step_per_pulse: {g_max / 200!r}
  init: {{distribution: uniform, low: {g_low_S!r}, high: {g_high_S!r}}}
neuron:
  kind: {neuron}
  {clamp_keys}
  on_output: {str(on_output).lower()}
  diode: {{n: {diode_n!r}, is: {diode_is_A!r}}}
amplifier: {{enabled: {str(amplifier).lower()}, gain: {gain!r}}}
nudge: {{beta: {beta_S!r}, centered: true}}
simulation: {{max_newton_iterations: {max_newton_iterations}}}
training:
  seed: {seed}
  dataset: {{name: {dataset}, test_fraction: 0, input_scale: 1 V}}
"""


def random_chip(seed: int, layers: list[int], **kw) -> Chip:
    """A random chip (see :func:`chip_yaml` for the keywords)."""
    text = chip_yaml(seed, layers, **kw)
    if (layers[0], layers[-1]) in _DATASET_SHAPES:
        return elaborate(load_spec_text(text))
    return elaborate(_AnyShapeSpec.model_validate(yaml.safe_load(text)))
