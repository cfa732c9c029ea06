"""Golden-model equilibrium vs ngspice (KLU) on the same generated network, in one run.

For each size (default 64×32×10, 256×100×10, 784×100×10) and input mode (``--inputs``: single-ended
and/or doubled) it builds a random chip through the real spec → IR path (``tests/chips.py``),
renders the same network with the ``spice`` backend (``codegen.run.ngspice.netlist_files``:
``free.sp`` and its includes, KLU), runs one operating point in batch mode (``run_batch``:
``ngspice -b``, ``.spiceinit`` with ``set num_threads=1``) and loads it once in shared mode
(``SharedSession``: libngspice through PySpice).  Then, ``--repeat`` times, interleaved so that
both see the same load on a shared machine: the golden model's free phase of ``--batch`` samples
(``method="auto"``, what users get), and one shared-mode ``op`` (input sources altered, then
``op``).  It reports medians (wall time per sample of the batched solve, and its CPU time), the
ratio of the medians, and the largest |V_golden − V_ngspice| over every free node of every op.

Network: conductances uniform in [1 µS, 30 µS], diode clamps at ±0.3 V (``--clamp``), amplifiers of
gain 4, features uniform in [0, 1] at 1 V.  ``single``: single-ended inputs
(``network.input_doubling: false``): the hidden nodes sit around 0.5–0.7 V, where the clamp diodes
conduct, so Newton has real work (the nonlinear regime).  ``doubled``: each input as a ±V pair:
a random network then sits near 0 V with every diode off, a linear problem.

    PYTHONPATH=$PWD .venv/bin/python bench/bench_equilibrium.py [--sizes 784x100x10] [--batch 100]
        [--inputs single,doubled] [--json bench/results/equilibrium.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import tracemalloc
from dataclasses import asdict, dataclass
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
    inputs: str  # "single" (input_doubling: false) or "doubled"
    batch: int
    method: str  # the golden solver "auto" picked
    golden_s: float  # median wall time per sample of a batched free phase (s)
    golden_cpu_s: float  # median CPU time per sample of the same (s)
    golden_sparse_s: float  # per sample, method="sparse", one run (s); nan if skipped
    newton_iterations: float  # mean over the batch
    residual_A: float  # largest KCL residual the golden solver left (A)
    peak_mb: float  # tracemalloc peak during one batched solve (MB)
    ngspice_cli_s: float  # one `ngspice -b` run incl. start-up and parsing (s)
    ngspice_load_s: float  # shared mode: loading the deck once (s); nan if not run
    ngspice_shared_s: float  # median wall time of one `op` in shared mode (s); nan if not run
    ngspice_shared_cpu_s: float  # median CPU time of alter + `op` + readout in shared mode (s)
    op_over_golden: float  # ngspice_shared_s / golden_s (wall medians of the same interleaved run)
    op_over_golden_cpu: float  # ngspice_shared_cpu_s / golden_cpu_s (CPU medians, same run)
    max_dv_V: float  # largest |V_golden − V_ngspice| over all free nodes and ops (V)


def machine_conditions() -> dict[str, object]:
    """Date (UTC), CPU, core count, load averages (1, 5, 15 min), commit and library versions: the
    conditions a measurement was taken under (the project's machines are shared)."""
    import scipy
    from threadpoolctl import threadpool_info

    try:
        model = next(
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        )
    except (OSError, StopIteration):
        model = platform.processor()
    try:
        commit = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return {
        "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cpu": model,
        "cores": os.cpu_count(),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "commit": commit,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "blas": sorted(
            {f"{i['internal_api']} {i['version']}" for i in threadpool_info() if i["user_api"] == "blas"}
        ),
    }


def bench_chip(layers: list[int], seed: int = 0, clamp_V: float = 0.3, input_doubling: bool = False) -> Chip:
    """The benchmark network: clamps at ±clamp_V (V), see the module docstring."""
    return random_chip(
        seed,
        layers,
        g_low_S=1e-6,
        g_high_S=3e-5,
        v_low_V=-clamp_V,
        v_high_V=clamp_V,
        input_doubling=input_doubling,
    )


def run_cli(chip: Chip, files: dict[str, str], x0: np.ndarray) -> tuple[float, dict[str, float]]:
    """Wall time (s) of one ``ngspice -b`` operating point of ``free.sp`` (process start, parsing,
    ``op``, ``print all``) and its node voltages (V) in IR terms."""
    op = run_batch(chip, files, "free", x0)
    return op.seconds, op.copies["free"]


def _max_dv(chip: Chip, v: np.ndarray, volts: dict[str, float]) -> float:
    return max(abs(float(v[j]) - volts[n]) for j, n in enumerate(chip.free_nodes))


def bench_size(
    layers: list[int],
    batch: int,
    repeat: int,
    shared: bool,
    clamp_V: float = 0.3,
    inputs: str = "single",
    sparse: bool = True,
) -> Result:
    chip = bench_chip(layers, clamp_V=clamp_V, input_doubling=inputs == "doubled")
    x = np.random.default_rng(1).uniform(0.0, 1.0, (batch, chip.n_inputs))
    m = GoldenModel(chip)
    m.solve(x[:2])  # warm-up (imports, BLAS pools)
    tracemalloc.start()
    eq = m.solve(x)
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    sparse_s = float("nan")
    if sparse:
        ms = GoldenModel(chip, method="sparse")
        t0 = time.perf_counter()
        ms.solve(x)
        sparse_s = (time.perf_counter() - t0) / batch

    files = netlist_files(chip, m.conductances)  # the spice backend's netlists, these conductances
    cli_s, ng_v = run_cli(chip, files, x[0])
    dv = _max_dv(chip, eq.v[0], ng_v)
    session = None
    load_s = float("nan")
    if shared:
        t0 = time.perf_counter()
        session = SharedSession(chip, files, "free")
        load_s = time.perf_counter() - t0
        session.op(x[0])  # warm-up
    walls, cpus, ops, op_cpus = [], [], [], []
    for r in range(repeat):  # interleaved: both sides see the same machine load
        t0, c0 = time.perf_counter(), time.process_time()
        eq = m.solve(x)
        walls.append((time.perf_counter() - t0) / batch)
        cpus.append((time.process_time() - c0) / batch)
        if session is not None:
            i = r % batch
            c0 = time.process_time()
            op = session.op(x[i])
            op_cpus.append(time.process_time() - c0)
            ops.append(op.seconds)
            dv = max(dv, _max_dv(chip, eq.v[i], op.copies["free"]))
    golden_s = float(np.median(walls))
    shared_s = float(np.median(ops)) if ops else float("nan")
    shared_cpu = float(np.median(op_cpus)) if op_cpus else float("nan")
    golden_cpu = float(np.median(cpus))
    return Result(
        "×".join(map(str, layers)),
        inputs,
        batch,
        m.method,
        golden_s,
        golden_cpu,
        sparse_s,
        float(eq.iterations.mean()),
        float(eq.residual.max()),
        peak,
        cli_s,
        load_s,
        shared_s,
        shared_cpu,
        shared_s / golden_s,
        shared_cpu / golden_cpu,
        dv,
    )


def main(argv: list[str] | None = None) -> list[Result]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="64x32x10,256x100x10,784x100x10", help="comma-separated AxBxC...")
    ap.add_argument("--inputs", default="single,doubled", help="input modes: single, doubled or both")
    ap.add_argument("--batch", type=int, default=100, help="samples per golden batch")
    ap.add_argument("--repeat", type=int, default=9, help="interleaved golden solves / ngspice ops (medians)")
    ap.add_argument("--no-shared", action="store_true", help="skip ngspice shared mode")
    ap.add_argument("--no-sparse", action="store_true", help="skip the sparse golden solver")
    ap.add_argument("--clamp", type=float, default=0.3, help="diode clamp levels ±V (smaller: harder)")
    ap.add_argument("--json", type=Path, help="write the results and machine conditions here")
    args = ap.parse_args(argv)
    before = machine_conditions()
    results = []
    for size in args.sizes.split(","):
        layers = [int(n) for n in size.lower().split("x")]
        for inputs in args.inputs.split(","):
            if inputs not in ("single", "doubled"):
                ap.error(f"--inputs: {inputs!r} is not single or doubled")
            results.append(
                bench_size(
                    layers,
                    args.batch,
                    args.repeat,
                    not args.no_shared,
                    args.clamp,
                    inputs,
                    not args.no_sparse,
                )
            )
    hdr = (
        f"{'network':>12} {'inputs':>7} {'method':>7} {'golden':>10} {'CPU':>10} {'sparse':>10} "
        f"{'Newton':>6} {'residual':>8} {'peak MB':>7} {'CLI':>8} {'load':>7} {'ngspice op':>10} "
        f"{'op/golden':>9} {'CPU ratio':>9} {'max|dV| V':>9}"
    )
    print(hdr)
    for r in results:
        print(
            f"{r.size:>12} {r.inputs:>7} {r.method:>7} {r.golden_s * 1e3:>7.4f} ms {r.golden_cpu_s * 1e3:>7.4f} ms "
            f"{r.golden_sparse_s * 1e3:>7.3f} ms {r.newton_iterations:>6.2f} {r.residual_A:>8.1e} {r.peak_mb:>7.1f} "
            f"{r.ngspice_cli_s:>6.2f} s {r.ngspice_load_s:>5.2f} s {r.ngspice_shared_s * 1e3:>7.1f} ms "
            f"{r.op_over_golden:>8.0f}× {r.op_over_golden_cpu:>8.0f}× {r.max_dv_V:>9.1e}"
        )
    print(
        "golden: median per sample of a batched free phase (wall; CPU = process time); ngspice: median "
        "wall time of one shared-mode `op` (CLI: one `ngspice -b` incl. start-up and parsing; load: once); "
        "CPU ratio: ngspice alter + op + readout CPU time over golden CPU time per sample"
    )
    if args.json:
        doc = {
            "bench": "bench/bench_equilibrium.py",
            "argv": sys.argv[1:] if argv is None else argv,
            "machine_before": before,
            "machine_after": machine_conditions(),
            "results": [asdict(r) for r in results],
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    return results


if __name__ == "__main__":
    main()
