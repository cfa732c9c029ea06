"""Training throughput (samples/s) on the 8×8 digits chip: golden model vs ngspice in the loop.

Trains ``examples/digits.yaml`` for ``--steps`` update steps (batch size from the example) with each
backend from the same initial conductances and reports samples/s of the training loop alone (EP
phases + rule + device update; no evaluation passes), plus how far the two backends' conductances
drifted apart (they solve the same circuit).  ngspice runs in shared mode (libngspice, KLU) on the
simultaneous netlist: one ``op`` per sample gives the free and both nudged phases; every update
re-``alter``s each resistor of the three copies.

    PYTHONPATH=$PWD .venv/bin/python bench/bench_training.py [--steps 20] [--spice-steps 2] [--no-spice]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from codegen.elab import elaborate  # noqa: E402
from codegen.learn.backends import GoldenBackend, SpiceBackend, TrainBackend  # noqa: E402
from codegen.learn.datasets import load_dataset  # noqa: E402
from codegen.learn.devices import DeviceArrays  # noqa: E402
from codegen.learn.rules import gradient_step, pulse_codes  # noqa: E402
from codegen.load import load_spec  # noqa: E402


def run_steps(chip, backend: TrainBackend, ds, steps: int) -> tuple[float, dict[str, np.ndarray], float]:
    """(samples/s, final conductances (S), seconds of backend setup) for ``steps`` training steps."""
    dev = DeviceArrays.create(chip)
    backend.set_conductances(dev.conductances)
    bs = chip.training.batch_size
    t0 = time.perf_counter()
    n = 0
    for i in range(steps):
        idx = np.arange(i * bs, (i + 1) * bs) % len(ds.x_train)
        grads = backend.ep_gradient(ds.x_train[idx], ds.t_train[idx])
        if chip.training.rule == "gradient":
            dev.apply_delta(gradient_step(grads, chip))
        else:
            dev.program(pulse_codes(grads, chip))
        backend.set_conductances(dev.conductances)
        n += len(idx)
    return n / (time.perf_counter() - t0), dev.conductances, 0.0


def main(argv: list[str] | None = None) -> dict[str, float]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--spec", default=str(ROOT / "examples" / "digits.yaml"))
    p.add_argument("--steps", type=int, default=20, help="golden-model training steps (default 20)")
    p.add_argument("--spice-steps", type=int, default=2, help="ngspice-in-the-loop steps (default 2)")
    p.add_argument("--no-spice", action="store_true")
    a = p.parse_args(argv)
    chip = elaborate(load_spec(a.spec))
    ds = load_dataset(chip)
    out: dict[str, float] = {}
    n_cells = sum(xb.size for xb in chip.crossbars)
    print(
        f"{chip.name}: {' × '.join(str(layer.size) for layer in chip.layers)}, {n_cells} conductances, "
        f"batch {chip.training.batch_size}, rule {chip.training.rule}"
    )
    t0 = time.perf_counter()
    g = GoldenBackend(chip)
    out["golden_setup_s"] = time.perf_counter() - t0
    out["golden_samples_per_s"], g_golden, _ = run_steps(chip, g, ds, a.steps)
    print(f"golden model      : {out['golden_samples_per_s']:9.1f} samples/s ({a.steps} steps)")
    if not a.no_spice:
        t0 = time.perf_counter()
        s = SpiceBackend(chip)
        out["spice_setup_s"] = time.perf_counter() - t0
        out["spice_samples_per_s"], g_spice, _ = run_steps(chip, s, ds, a.spice_steps)
        _, g_ref, _ = run_steps(chip, GoldenBackend(chip), ds, a.spice_steps)
        out["max_dG_S"] = max(float(np.abs(g_spice[k] - g_ref[k]).max()) for k in g_ref)
        print(
            f"ngspice in loop   : {out['spice_samples_per_s']:9.2f} samples/s ({a.spice_steps} steps; "
            f"netlist load {out['spice_setup_s']:.2f} s)"
        )
        n = s.ops
        out["spice_op_ms"] = 1e3 * s.op_seconds / max(n, 1)
        out["spice_alter_s_per_step"] = s.alter_seconds / max(a.spice_steps, 1)
        print(
            f"  per sample: ngspice op {out['spice_op_ms']:.1f} ms (free + ±β copies); per step: "
            f"alter of {3 * n_cells} resistors {out['spice_alter_s_per_step']:.2f} s"
        )
        print(f"golden / ngspice  : {out['golden_samples_per_s'] / out['spice_samples_per_s']:9.1f}×")
        print(f"max |G_spice − G_golden| after {a.spice_steps} steps: {out['max_dG_S']:.2e} S")
    return out


if __name__ == "__main__":
    main()
