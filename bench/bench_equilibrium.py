"""Golden-model equilibrium vs ngspice (KLU) on the same generated network, in one run.

For each size (default 64×32×10, 256×100×10, 784×100×10) it builds a random chip through the real
spec → IR path (``tests/chips.py``), solves the free phase of ``--batch`` samples with the golden
model (dense and sparse solvers; best of ``--repeat``; peak memory with tracemalloc), renders the
same network with the ``spice`` backend (``codegen.run.ngspice.netlist_files``: ``free.sp`` and its
includes, KLU) and runs one operating point in batch mode (``run_batch``: ``ngspice -b``,
``.spiceinit`` with ``set num_threads=1``) and, unless ``--no-shared``, ``--shared-ops`` operating
points in shared mode (``SharedSession``: libngspice through PySpice, load once, then ``alter`` the
input sources and ``op``), checks that both agree on every node voltage, and prints per-sample
times and ratios.

Network: inputs single-ended, features uniform in [0, 1] at 1 V, conductances uniform in
[1 µS, 30 µS], diode clamps at ±0.3 V (``--clamp``), amplifiers of gain 4: the hidden nodes sit around 0.5–0.7 V,
where the clamp diodes conduct, so Newton has real work (a doubled-input random network sits near
0 V with every diode off, a linear problem).

    PYTHONPATH=$PWD .venv/bin/python bench/bench_equilibrium.py [--sizes 784x100x10] [--batch 100]
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from codegen.ir import Chip  # noqa: E402
from codegen.model import GoldenModel  # noqa: E402
from codegen.run.ngspice import SharedSession, netlist_files, run_batch  # noqa: E402
from tests.chips import random_chip  # noqa: E402


@dataclass
class Result:
    size: str
    batch: int
    golden_dense_s: float  # per sample (s)
    golden_sparse_s: float  # per sample (s)
    newton_iterations: float  # mean over the batch
    peak_mb: float  # tracemalloc peak during one batched solve (MB)
    ngspice_cli_s: float  # one `ngspice -b` run incl. start-up and parsing (s)
    ngspice_load_s: float  # shared mode: loading the deck once (s); nan if not run
    ngspice_shared_s: float  # per `op` in shared mode (s); nan if not run
    max_dv_V: float  # largest |V_golden − V_ngspice| over all free nodes (V)


def bench_chip(layers: list[int], seed: int = 0, clamp_V: float = 0.3) -> Chip:
    """The benchmark network: clamps at ±clamp_V (V), see the module docstring."""
    return random_chip(
        seed, layers, g_low_S=1e-6, g_high_S=3e-5, v_low_V=-clamp_V, v_high_V=clamp_V, input_doubling=False
    )


def run_cli(chip: Chip, files: dict[str, str], x0: np.ndarray) -> tuple[float, dict[str, float]]:
    """Wall time (s) of one ``ngspice -b`` operating point of ``free.sp`` (process start, parsing,
    ``op``, ``print all``) and its node voltages (V) in IR terms."""
    op = run_batch(chip, files, "free", x0)
    return op.seconds, op.copies["free"]


def run_shared(
    chip: Chip, files: dict[str, str], x: np.ndarray
) -> tuple[float, float, list[dict[str, float]]]:
    """Deck load time (s), mean time (s) of ``op`` in shared mode over the rows of ``x`` (input
    sources altered between ops) and each op's node voltages (V) in IR terms."""
    t0 = time.perf_counter()
    session = SharedSession(chip, files, "free")
    load_s = time.perf_counter() - t0
    ops = [session.op(xb) for xb in x]
    return load_s, float(np.mean([o.seconds for o in ops])), [o.copies["free"] for o in ops]


def bench_size(layers: list[int], batch: int, repeat: int, shared_ops: int, clamp_V: float = 0.3) -> Result:
    chip = bench_chip(layers, clamp_V=clamp_V)
    x = np.random.default_rng(1).uniform(0.0, 1.0, (batch, chip.n_inputs))
    times = {}
    for method in ("dense", "sparse"):
        m = GoldenModel(chip, method=method)
        m.solve(x[:2])  # warm-up (imports, BLAS pools)
        best = np.inf
        for _ in range(repeat):
            t0 = time.perf_counter()
            eq = m.solve(x)
            best = min(best, time.perf_counter() - t0)
        times[method] = best / batch
    m = GoldenModel(chip, method="dense")
    tracemalloc.start()
    eq = m.solve(x)
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()

    files = netlist_files(chip, m.conductances)  # the spice backend's netlists, these conductances
    cli_s, ng_v = run_cli(chip, files, x[0])
    dv = max(abs(float(eq.v[0, j]) - ng_v[n]) for j, n in enumerate(chip.free_nodes))
    shared_s = load_s = float("nan")
    if shared_ops:
        load_s, shared_s, sv = run_shared(chip, files, x[:shared_ops])
        for i, volts in enumerate(sv):
            dv = max(dv, max(abs(float(eq.v[i, j]) - volts[n]) for j, n in enumerate(chip.free_nodes)))
    return Result(
        "×".join(map(str, layers)),
        batch,
        times["dense"],
        times["sparse"],
        float(eq.iterations.mean()),
        peak,
        cli_s,
        load_s,
        shared_s,
        dv,
    )


def main(argv: list[str] | None = None) -> list[Result]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="64x32x10,256x100x10,784x100x10", help="comma-separated AxBxC...")
    ap.add_argument("--batch", type=int, default=100, help="samples per golden batch")
    ap.add_argument("--repeat", type=int, default=5, help="golden timings: best of N")
    ap.add_argument("--shared-ops", type=int, default=3, help="ngspice shared-mode ops per size (0: skip)")
    ap.add_argument("--no-shared", action="store_true", help="skip ngspice shared mode")
    ap.add_argument("--clamp", type=float, default=0.3, help="diode clamp levels ±V (smaller: harder)")
    args = ap.parse_args(argv)
    shared_ops = 0 if args.no_shared else args.shared_ops
    results = []
    for size in args.sizes.split(","):
        layers = [int(n) for n in size.lower().split("x")]
        results.append(bench_size(layers, args.batch, args.repeat, shared_ops, args.clamp))
    hdr = (
        f"{'network':>12} {'batch':>5} {'golden dense':>13} {'golden sparse':>13} {'Newton it':>9} "
        f"{'peak MB':>8} {'ngspice CLI':>11} {'deck load':>9} {'ngspice .op':>11} {'CLI/golden':>10} "
        f"{'op/golden':>9} {'max|dV| V':>9}"
    )
    print(hdr)
    for r in results:
        ratio_op = r.ngspice_shared_s / r.golden_dense_s
        print(
            f"{r.size:>12} {r.batch:>5} {r.golden_dense_s * 1e3:>10.3f} ms {r.golden_sparse_s * 1e3:>10.3f} ms "
            f"{r.newton_iterations:>9.2f} {r.peak_mb:>8.1f} {r.ngspice_cli_s:>9.3f} s {r.ngspice_load_s:>7.3f} s "
            f"{r.ngspice_shared_s:>9.4f} s "
            f"{r.ngspice_cli_s / r.golden_dense_s:>9.0f}× {ratio_op:>8.0f}× {r.max_dv_V:>9.1e}"
        )
    print(
        "golden times are per sample of a batched solve; ngspice times are per operating point "
        "(CLI: one `ngspice -b` process incl. start-up and parsing; deck load: shared mode, once)"
    )
    return results


if __name__ == "__main__":
    main()
