"""Golden-model equilibrium vs ngspice (KLU) on the same generated network, in one run.

For each size (default 64×32×10, 256×100×10, 784×100×10) it builds a random chip through the real
spec → IR path (``tests/chips.py``), solves the free phase of ``--batch`` samples with the golden
model (dense and sparse solvers; best of ``--repeat``; peak memory with tracemalloc), runs one
ngspice ``.op`` of the same network in batch mode (CLI, ``.spiceinit`` with ``set num_threads=1``)
and, unless ``--no-shared``, ``--shared-ops`` operating points in shared mode (libngspice through
PySpice: load once, then ``alter`` the input sources and ``op``), checks that both agree on every
node voltage, and prints per-sample times and ratios.

Network: inputs single-ended, features uniform in [0, 1] at 1 V, conductances uniform in
[1 µS, 30 µS], diode clamps at ±0.3 V (``--clamp``), amplifiers of gain 4: the hidden nodes sit around 0.5–0.7 V,
where the clamp diodes conduct, so Newton has real work (a doubled-input random network sits near
0 V with every diode off, a linear problem).

    PYTHONPATH=$PWD .venv/bin/python bench/bench_equilibrium.py [--sizes 784x100x10] [--batch 100]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._netlist import netlist  # noqa: E402
from codegen.ir import Chip  # noqa: E402
from codegen.model import GoldenModel  # noqa: E402
from codegen.run.tools import libngspice_path, ngspice_command  # noqa: E402
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
    ngspice_shared_s: float  # per `op` in shared mode (s); nan if not run
    max_dv_V: float  # largest |V_golden − V_ngspice| over all free nodes (V)


def bench_chip(layers: list[int], seed: int = 0, clamp_V: float = 0.3) -> Chip:
    """The benchmark network: clamps at ±clamp_V (V), see the module docstring."""
    return random_chip(
        seed, layers, g_low_S=1e-6, g_high_S=3e-5, v_low_V=-clamp_V, v_high_V=clamp_V, input_doubling=False
    )


def _read_raw(path: Path) -> dict[str, float]:
    """Node voltages (V) from an ngspice ascii raw file of an operating point."""
    lines = path.read_text().splitlines()
    nvar = int(next(ln for ln in lines if ln.startswith("No. Variables:")).split(":")[1])
    start = lines.index("Variables:") + 1
    names = [lines[start + i].split()[1] for i in range(nvar)]
    vstart = lines.index("Values:") + 1
    vals = [float(lines[vstart].split()[1])] + [float(lines[vstart + i].strip()) for i in range(1, nvar)]
    return {n[2:-1]: v for n, v in zip(names, vals, strict=True) if n.startswith("v(")}


def run_cli(deck: str, workdir: Path) -> tuple[float, dict[str, float]]:
    """Wall time (s) of one ``ngspice -b`` operating point, and its node voltages (V)."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / ".spiceinit").write_text("set num_threads=1\n")
    deck = deck.replace(
        ".op\n.end", ".op\n.control\nop\nset filetype=ascii\noption numdgt=17\nwrite op.raw\n.endc\n.end"
    )
    (workdir / "net.sp").write_text(deck)
    t0 = time.perf_counter()
    proc = subprocess.run([*ngspice_command(), "-b", "net.sp"], cwd=workdir, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if proc.returncode != 0 or not (workdir / "op.raw").exists():
        raise RuntimeError(f"ngspice failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return dt, _read_raw(workdir / "op.raw")


def run_shared(deck: str, m: GoldenModel, x: np.ndarray) -> tuple[float, list[dict[str, float]]]:
    """Mean time (s) of ``op`` in shared mode over the rows of ``x`` (sources altered between ops)."""
    os.environ.setdefault("NGSPICE_LIBRARY_PATH", libngspice_path())
    import logging

    logging.getLogger("PySpice").setLevel(logging.CRITICAL)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Unsupported Ngspice version")
        from PySpice.Spice.NgSpice.Shared import NgSpiceShared

        ng = NgSpiceShared.new_instance()
        ng.exec_command("set num_threads=1")
        with contextlib.suppress(Exception):
            ng.exec_command("remcirc")
        ng.load_circuit(deck)
    times, volts = [], []
    inputs = [n for n, s in zip(m.fixed_nodes, m.chip.sources, strict=True) if s.kind == "input"]
    for row in m.source_values(x):
        vals = dict(zip(m.fixed_nodes, row, strict=True))
        cmds = [f"alter v{n} dc = {float(vals[n])!r}" for n in inputs]
        for i in range(0, len(cmds), 20):
            ng.exec_command(";".join(cmds[i : i + 20]))
        t0 = time.perf_counter()
        ng.exec_command("op")
        times.append(time.perf_counter() - t0)
        plot = ng.plot(None, ng.last_plot)
        volts.append({k: float(np.real(v.to_waveform()[0])) for k, v in plot.items()})
    return float(np.mean(times)), volts


def bench_size(
    layers: list[int], batch: int, repeat: int, shared_ops: int, workdir: Path, clamp_V: float = 0.3
) -> Result:
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

    deck = netlist(chip, m.conductances, m.source_values(x[0])[0], m.fixed_nodes)
    cli_s, ng_v = run_cli(deck, workdir / "x".join(map(str, layers)))
    golden_v = {k: float(v[0]) for k, v in eq.voltages().items()}
    dv = max(abs(golden_v[n] - ng_v[n]) for n in chip.free_nodes)
    shared_s = float("nan")
    if shared_ops:
        shared_s, sv = run_shared(deck, m, x[:shared_ops])
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
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes.split(","):
            layers = [int(n) for n in size.lower().split("x")]
            results.append(bench_size(layers, args.batch, args.repeat, shared_ops, Path(tmp), args.clamp))
    hdr = (
        f"{'network':>12} {'batch':>5} {'golden dense':>13} {'golden sparse':>13} {'Newton it':>9} "
        f"{'peak MB':>8} {'ngspice CLI':>11} {'ngspice .op':>11} {'CLI/golden':>10} {'op/golden':>9} {'max|dV| V':>9}"
    )
    print(hdr)
    for r in results:
        ratio_op = r.ngspice_shared_s / r.golden_dense_s
        print(
            f"{r.size:>12} {r.batch:>5} {r.golden_dense_s * 1e3:>10.3f} ms {r.golden_sparse_s * 1e3:>10.3f} ms "
            f"{r.newton_iterations:>9.2f} {r.peak_mb:>8.1f} {r.ngspice_cli_s:>9.3f} s {r.ngspice_shared_s:>9.4f} s "
            f"{r.ngspice_cli_s / r.golden_dense_s:>9.0f}× {ratio_op:>8.0f}× {r.max_dv_V:>9.1e}"
        )
    print("golden times are per sample of a batched solve; ngspice times are per operating point")
    return results


if __name__ == "__main__":
    main()
