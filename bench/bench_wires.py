"""Golden model with wire resistance vs ngspice (KLU, shared mode) on the same network, in one run.

The network of bench/bench_equilibrium.py (random chip through spec → IR, conductances uniform in
[1 µS, 30 µS], clamps at ±0.3 V, single-ended inputs: the nonlinear regime) with an
``interconnect:`` section (default 1 Ω per row and column segment), so every crossbar cell adds a
row-line and a column-line node (784×100×10: 79 400 cells, ~159 000 wire nodes).

Measured, interleaved ``--repeat`` times so both see the same load on a shared machine:

* ``schur_s``: the golden model's ``set_conductances`` with wires (each crossbar's line network
  factorised by SuperLU and reduced to its ports): paid once per set of conductances;
* ``golden_s``: per sample, the free phase of a batch of ``--batch`` samples at fixed conductances;
* ``golden_wires_s``: per sample, the same plus every wire-node voltage (``Equilibrium.voltages``);
* ``ngspice_shared_s``: one shared-mode ``op`` of the same deck (inputs altered, then ``op``).

Ratios of the medians: ``op_over_golden`` (= ngspice_shared_s / golden_s), ``op_over_golden_all_nodes``
(… / golden_wires_s) and ``op_over_golden_with_schur`` (… / (golden_s + schur_s / batch): a new
set of conductances for every batch, as in training).  ``max_dv_V``: largest |V_golden − V_ngspice|
over every node, wire nodes included.

    PYTHONPATH=$PWD .venv/bin/python bench/bench_wires.py [--sizes 784x100x10] [--batch 100]
        [--r-row 1] [--r-col 1] [--json bench/results/wires.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.bench_equilibrium import machine_conditions  # noqa: E402
from codegen.elab import elaborate  # noqa: E402
from codegen.ir import Chip  # noqa: E402
from codegen.model import GoldenModel  # noqa: E402
from codegen.run.ngspice import SharedSession, netlist_files  # noqa: E402
from tests.chips import _AnyShapeSpec, chip_yaml  # noqa: E402


@dataclass
class Result:
    size: str
    r_row_ohm: float
    r_col_ohm: float
    wire_nodes: int
    batch: int
    method: str
    schur_s: float  # median golden set_conductances with wires (s)
    golden_s: float  # median wall time per sample of a batched free phase (s)
    golden_wires_s: float  # the same plus every wire-node voltage, per sample (s)
    newton_iterations: float
    residual_A: float
    ngspice_load_s: float  # shared mode: loading the deck once (s)
    ngspice_shared_s: float  # median wall time of one shared-mode op (s)
    op_over_golden: float
    op_over_golden_all_nodes: float
    op_over_golden_with_schur: float
    max_dv_V: float  # largest |V_golden − V_ngspice| over every node, wire nodes included (V)


def bench_chip(layers: list[int], r_row: float, r_col: float, seed: int = 0, clamp_V: float = 0.3) -> Chip:
    data = yaml.safe_load(
        chip_yaml(
            seed,
            layers,
            g_low_S=1e-6,
            g_high_S=3e-5,
            v_low_V=-clamp_V,
            v_high_V=clamp_V,
            input_doubling=False,
        )
    )
    data["interconnect"] = {"r_row": r_row, "r_col": r_col}
    return elaborate(_AnyShapeSpec.model_validate(data))


def run(layers: list[int], batch: int, repeat: int, r_row: float, r_col: float) -> Result:
    chip = bench_chip(layers, r_row, r_col)
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1, (batch, chip.n_inputs))
    g = chip.initial_conductances()
    model = GoldenModel(chip, conductances=g)
    t0 = time.perf_counter()
    session = SharedSession(chip, netlist_files(chip, g), "free")
    session.op(x[0])
    load_s = time.perf_counter() - t0
    schur, gold, gold_all, ops = [], [], [], []
    eq = None
    max_dv = 0.0
    for k in range(repeat):
        t = time.perf_counter()
        model.set_conductances(g)
        schur.append(time.perf_counter() - t)
        t = time.perf_counter()
        eq = model.solve(x)
        gold.append((time.perf_counter() - t) / batch)
        t = time.perf_counter()
        volts = eq.voltages()
        gold_all.append(gold[-1] + (time.perf_counter() - t) / batch)
        i = k % batch
        t = time.perf_counter()
        op = session.op(x[i]).copies["free"]
        ops.append(time.perf_counter() - t)
        max_dv = max(max_dv, max(abs(op[n] - float(volts[n][i])) for n in op))
    assert eq is not None
    med = statistics.median
    return Result(
        size="×".join(map(str, layers)),
        r_row_ohm=r_row,
        r_col_ohm=r_col,
        wire_nodes=sum(len(chip.interconnect.wire_nodes(xb)) for xb in chip.crossbars),
        batch=batch,
        method=model.method,
        schur_s=med(schur),
        golden_s=med(gold),
        golden_wires_s=med(gold_all),
        newton_iterations=float(eq.iterations.mean()),
        residual_A=float(eq.residual.max()),
        ngspice_load_s=load_s,
        ngspice_shared_s=med(ops),
        op_over_golden=med(ops) / med(gold),
        op_over_golden_all_nodes=med(ops) / med(gold_all),
        op_over_golden_with_schur=med(ops) / (med(gold) + med(schur) / batch),
        max_dv_V=max_dv,
    )


def main(argv: list[str] | None = None) -> list[Result]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="784x100x10")
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--r-row", type=float, default=1.0, help="row-line segment resistance (Ω)")
    ap.add_argument("--r-col", type=float, default=1.0, help="column-line segment resistance (Ω)")
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    before = machine_conditions()
    results = []
    for size in a.sizes.split(","):
        r = run([int(v) for v in size.split("x")], a.batch, a.repeat, a.r_row, a.r_col)
        print(json.dumps(asdict(r)), flush=True)
        results.append(r)
    if a.json:
        doc = {
            "bench": "bench/bench_wires.py",
            "argv": list(argv if argv is not None else sys.argv[1:]),
            "machine_before": before,
            "machine_after": machine_conditions(),
            "results": [asdict(r) for r in results],
        }
        Path(a.json).write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    return results


if __name__ == "__main__":
    main()
