"""ngspice per-operating-point time: batch subprocess vs PySpice shared mode (the spice backend's netlists).

    PYTHONPATH=. python bench/bench_ngspice_modes.py [--big]

For each example (and with ``--big`` a 784×100×10 network): batch = one ``ngspice -b`` process per
operating point (parse + op + print); shared = the deck loaded once into libngspice, then per sample
``alter`` of the input sources + ``op`` + reading the vectors.  Also the time to load the deck and
to ``alter`` every resistor (a conductance update).  Numbers are wall-clock seconds on this machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from codegen.elab import elaborate  # noqa: E402
from codegen.load import load_spec  # noqa: E402
from codegen.run.ngspice import SharedSession, netlist_files, run_batch  # noqa: E402


def bench(label: str, chip, n_shared: int = 5, n_batch: int = 2) -> dict[str, float]:
    rng = np.random.default_rng(0)
    g = chip.initial_conductances()
    files = netlist_files(chip, g)
    xs = rng.uniform(-1, 1, (max(n_shared, n_batch), chip.n_inputs)) / chip.training.input_scale_V
    t = np.zeros(chip.n_outputs)
    t0 = time.perf_counter()
    for x in xs[:n_batch]:
        run_batch(chip, files, "free", x)
    batch = (time.perf_counter() - t0) / n_batch
    out = {"batch_s": batch}
    for top in ("free", "simultaneous"):
        s = SharedSession(chip, files, top)
        s.op(xs[0], t, chip.nudge.beta_S)  # warm-up
        t0 = time.perf_counter()
        for x in xs[:n_shared]:
            s.op(x, t, chip.nudge.beta_S)
        out[f"shared_{top}_s"] = (time.perf_counter() - t0) / n_shared
        out[f"load_{top}_s"] = s.load_seconds
        if top == "free":
            t0 = time.perf_counter()
            s.set_conductances(g)
            out["alter_all_G_s"] = time.perf_counter() - t0
    n_g = sum(xb.size for xb in chip.crossbars)
    print(
        f"{label:<14} {n_g:>7} G  batch {out['batch_s']:.3f} s/op   shared free {out['shared_free_s'] * 1e3:8.2f} ms/op"
        f" (load {out['load_free_s']:.2f} s)   simultaneous {out['shared_simultaneous_s'] * 1e3:8.2f} ms/op"
        f" (load {out['load_simultaneous_s']:.2f} s)   alter all G {out['alter_all_G_s']:.2f} s",
        flush=True,
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--big", action="store_true", help="also a 784×100×10 network")
    args = ap.parse_args()
    for p in sorted((ROOT / "examples").glob("*.yaml")):
        bench(p.stem, elaborate(load_spec(p)))
    if args.big:
        sys.path.insert(0, str(ROOT / "tests"))
        from tests.chips import random_chip

        bench("784x100x10", random_chip(0, [784, 100, 10]), n_shared=3, n_batch=1)


if __name__ == "__main__":
    main()
