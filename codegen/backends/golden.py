"""Backend ``golden``: the golden model's starting point and reference operating points.

* ``golden/conductances.json``: the conductances (S) of every crossbar, with the row (destination)
  and column (source) node names; floats as Python's repr (exact round trip); the format of
  :mod:`codegen.model.conductances`.  The initial conductances drawn with the training seed
  (``Chip.initial_conductances()``), or those of ``options.conductances``
  (``codegen build --conductances FILE``, e.g. trained ones).
* ``golden/reference.json``: free-phase equilibria of the golden model at those conductances for a
  few probe inputs (all zeros, all ones, two seeded uniform draws in [0, 1]): every node's voltage
  (V) and the outputs (V), rounded to 1e-9 V (the solver's own accuracy is about
  ``residual_tol_A / G``, ≈ 1e-8 V for G ≈ 1e-4 S), for netlists and Verilog-A runs to compare against.
* ``golden/README.md``: how to load the model in Python.
"""

from __future__ import annotations

import json

import numpy as np

from ..escape import markdown_code
from ..ir import Chip
from . import Backend, BuildOptions, register

#: rounding of reference voltages (decimal places of V)
_DECIMALS = 9


def probe_inputs(chip: Chip) -> np.ndarray:
    """(4, n_inputs) probe inputs (feature units): zeros, ones and two uniform [0, 1] draws."""
    rng = np.random.default_rng(chip.training.seed)
    n = chip.n_inputs
    return np.vstack([np.zeros(n), np.ones(n), rng.uniform(0.0, 1.0, (2, n))])


def _rounded(a: np.ndarray) -> list:
    """``a`` rounded to 1e-9 V as nested lists; ``+ 0.0`` turns −0.0 into 0.0 (stable bytes)."""
    return (np.round(a, _DECIMALS) + 0.0).tolist()


def _dump(obj: object) -> str:
    return json.dumps(obj, indent=1, sort_keys=True) + "\n"


@register
class Golden(Backend):
    name = "golden"
    summary = (
        "golden/: conductances (initial, or --conductances), reference equilibria, how to load the "
        "Python golden model"
    )

    def render(self, chip: Chip, options: BuildOptions) -> dict[str, str | bytes]:
        from ..model import GoldenModel
        from ..model.conductances import chip_conductances, conductance_seed, write_conductances

        G = chip_conductances(chip, options)
        seed = conductance_seed(chip, options)
        cs = options.conductances
        origin = (
            f"initial conductances (S) per crossbar, seed {seed}"
            if cs is None
            else f"conductances (S) per crossbar from {markdown_code(cs.name)} (sha256 {cs.sha256[:16]}…), "
            f"e.g. trained ones; initial seed {seed}"
        )
        default_note = (
            "G defaults to chip.initial_conductances() (the same numbers)"
            if cs is None
            else "without G: chip.initial_conductances(), not these"
        )
        x = probe_inputs(chip)
        eq = GoldenModel(chip, G).solve(x)
        volts = eq.voltages()
        ref = {
            "unit": "V",
            "decimals": _DECIMALS,
            "conductances": "conductances.json",
            "inputs": x.tolist(),
            "outputs": _rounded(eq.outputs),
            "voltages": {n: _rounded(v) for n, v in sorted(volts.items())},
        }
        readme = f"""\
# Golden model of `{chip.name}`

The reference every other artifact is checked against: the chip as a nonlinear resistive network
(numpy/scipy), solved by damped Newton on Kirchhoff's current law.

```python
import json
import numpy as np
from codegen.elab import elaborate
from codegen.load import load_spec
from codegen.model import GoldenModel

chip = elaborate(load_spec("{chip.name}.yaml"))
data = json.load(open("golden/conductances.json"))
G = {{name: np.array(xb["G"]) for name, xb in data["crossbars"].items()}}  # S
m = GoldenModel(chip, G)                 # {default_note}
eq = m.solve(x)                          # x: (B, {chip.n_inputs}) features -> eq.v, eq.outputs (V)
grads = m.ep_gradient(x, target)         # dict crossbar -> dC/dG (V^2/S), EP
exact = m.exact_gradient(x, target)      # implicit differentiation
```

- `conductances.json`: {origin}; `rows` are the
  destination nodes, `cols` the source nodes (`G[r][c]` joins `cols[c]` and `rows[r]`).
- `reference.json`: free-phase equilibrium for {len(x)} probe inputs: `voltages[node][probe]` (V, every
  node), `outputs[probe]` (V), rounded to 1e-{_DECIMALS} V.

Network: {" × ".join(str(la.size) for la in chip.layers)}, {len(chip.free_nodes)} free nodes,
crossbars {", ".join(f"{xb.name} {xb.shape[0]}×{xb.shape[1]}" for xb in chip.crossbars)}.
"""
        return {
            "golden/conductances.json": write_conductances(chip, G, seed),
            "golden/reference.json": _dump(ref),
            "golden/README.md": readme,
        }
