"""Golden model at depth: free phase and EP gradient per sample of deep wide networks, in one run.

For each size (default 100×300×300×300×10 and 784×100×100×100×10) and input mode (``--inputs``:
single-ended, the nonlinear regime, and doubled; the networks of ``bench_equilibrium.py``) it
reports, as medians of ``--repeat`` interleaved runs on one batch of ``--batch`` samples:

* the free phase with ``method="auto"`` (the layered solver at these sizes): wall and CPU time per
  sample, Newton iterations, the largest KCL residual left (A);
* the EP gradient (free and nudged phases, the chip's β and centering) per sample, and the largest
  KCL residual of its phases;
* the dense Schur-complement solver (what ``auto`` picked before the layered solver), one run on
  ``--dense-batch`` samples (it is slow), and its largest |ΔV| from the layered solution;
* a paired comparison with layer-wise block coordinate descent (block Gauss–Seidel layer by layer,
  every node solved for its own voltage by scalar Newton with the exact diode: the scheme of
  Scellier's fast DRN simulator, in float64): sweeps until the same
  KCL residual tolerance, its time, and how far from the converged voltages it is after 4 and 20
  sweeps;
* where the free phase's CPU time goes: the shares spent in the layered solver's conjugate
  gradients and in its Gauss–Seidel start (the rest: energy/gradient evaluations, diodes, the
  line search).

    PYTHONPATH=$PWD .venv/bin/python bench/bench_depth.py [--sizes 100x300x300x300x10] [--batch 100]
        [--json bench/results/depth.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.bench_equilibrium import bench_chip, machine_conditions  # noqa: E402
from codegen.model import GoldenModel  # noqa: E402


@dataclass
class DepthResult:
    size: str
    inputs: str
    batch: int
    method: str  # the solver "auto" picked
    free_s: float  # median wall time per sample, free phase (s)
    free_cpu_s: float  # median CPU time per sample, free phase (s)
    newton_iterations: float  # mean over the batch, free phase
    residual_A: float  # largest KCL residual left, free phase (A)
    ep_s: float  # median wall time per sample of an EP gradient (s)
    ep_cpu_s: float  # median CPU time per sample of an EP gradient (s)
    ep_residual_A: float  # largest KCL residual of the EP phases (A)
    dense_batch: int  # samples of the dense run (0: skipped)
    dense_s: float  # wall time per sample, dense solver, one run (s)
    dense_cpu_s: float  # CPU time per sample, dense solver (s)
    dense_newton_iterations: float
    dense_max_dv_V: float  # largest |V_dense − V_auto| (V)
    cd_sweeps: int  # coordinate descent: sweeps to the KCL tolerance (or the cap)
    cd_s: float  # its wall time per sample (s)
    cd_cpu_s: float  # its CPU time per sample (s)
    cd_residual_A: float  # largest KCL residual it reached (A)
    cd_dv4_V: float  # largest |V − V_converged| after 4 sweeps (V)
    cd_dv20_V: float  # after 20 sweeps (V)
    cg_share: float = float("nan")  # share of the free phase's CPU time in the layered CG (1)
    relax_share: float = float("nan")  # share in the Gauss–Seidel start (1)


def time_shares(m: GoldenModel, x: np.ndarray, repeat: int = 3) -> tuple[float, float]:
    """(share of CG, share of the Gauss–Seidel start) in the CPU time of ``m.solve(x)``: medians of
    ``repeat`` solves with :func:`codegen.model._layered.reduced_cg` and ``m._relax`` timed."""
    from codegen.model import _layered

    spent = {"cg": 0.0, "relax": 0.0}
    cg, relax = _layered.reduced_cg, m._relax

    def timed(name, fn):
        def run(*a, **k):
            c0 = time.process_time()
            try:
                return fn(*a, **k)
            finally:
                spent[name] += time.process_time() - c0

        return run

    shares = []
    _layered.reduced_cg = timed("cg", cg)
    m._relax = timed("relax", relax)  # type: ignore[method-assign]
    try:
        for _ in range(repeat):
            spent.update(cg=0.0, relax=0.0)
            _, _, c = _timed(lambda: m.solve(x))
            shares.append((spent["cg"] / c, spent["relax"] / c))
    finally:
        _layered.reduced_cg = cg
        del m._relax
    a = np.median(np.array(shares), axis=0)
    return float(a[0]), float(a[1])


def coordinate_descent(
    m: GoldenModel, x: np.ndarray, max_sweeps: int, v_ref: np.ndarray
) -> tuple[np.ndarray, int, float, dict[int, float]]:
    """Layer-wise block coordinate descent on the free energy from v = 0, until the KCL residual
    reaches ``chip.simulation.residual_tol_A`` or ``max_sweeps``.  Returns (voltages (V), sweeps,
    largest residual (A), {sweeps: largest |v − v_ref| (V)} after 4 and 20 sweeps)."""
    u = m.source_values(x)
    b = u @ m._Bm.T
    v = np.zeros((len(x), m.n_free))
    groups = m._layer_groups()
    tol = m.chip.simulation.residual_tol_A
    seen: dict[int, float] = {}
    r = np.inf
    sweeps = 0
    for sweeps in range(1, max_sweeps + 1):
        for grp in groups:  # layer by layer from the input side
            s = b[:, grp.idx].copy()
            for nbr, blk in grp.nbrs:
                s -= v[:, nbr] @ blk
            vg = m._node_solve(grp, s)  # start: Shockley diodes, a few scalar Newton steps
            if grp.pos.size:  # polish with the exact diode equations (reverse branch, GMIN)
                a, c = grp.a[grp.pos], grp.c
                xn, sn = vg[:, grp.pos], s[:, grp.pos]
                for _ in range(3):
                    ih, gh, _w = m._diode(xn - m._vh)
                    il, gl, _w = m._diode(m._vl - xn)
                    xn = xn - (a * xn - sn + c * (ih - il)) / (a + c * (gh + gl))
                vg[:, grp.pos] = xn
            v[:, grp.idx] = vg
        _, g, _ = m._eval(v, b, None, 0.0)
        r = float(np.abs(g / m._c).max())
        if sweeps in (4, 20):
            seen[sweeps] = float(np.abs(v - v_ref).max())
        if r <= tol:
            break
    return v, sweeps, r, seen


def _timed(fn):
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def bench_depth(
    layers: list[int], inputs: str, batch: int, repeat: int, dense_batch: int, max_sweeps: int
) -> DepthResult:
    chip = bench_chip(layers, input_doubling=inputs == "doubled")
    rng = np.random.default_rng(1)
    x = rng.uniform(0.0, 1.0, (batch, chip.n_inputs))
    t = rng.uniform(-0.3, 0.3, (batch, chip.n_outputs))
    m = GoldenModel(chip)
    m.solve(x[:2])  # warm-up
    fw, fc, ew, ec = [], [], [], []
    for _ in range(repeat):  # interleaved free phase and EP gradient
        eq, w, c = _timed(lambda: m.solve(x))
        fw.append(w / batch)
        fc.append(c / batch)
        _, w, c = _timed(lambda: m.ep_gradient(x, t))
        ew.append(w / batch)
        ec.append(c / batch)
    phases = m.ep_phases(x, t)
    ep_res = max(float(p.residual.max()) for p in phases)

    dense = (float("nan"),) * 4
    if dense_batch:
        md = GoldenModel(chip, method="dense")
        xd = x[:dense_batch]
        md.solve(xd[:1])
        eqd, w, c = _timed(lambda: md.solve(xd))
        dense = (
            w / dense_batch,
            c / dense_batch,
            float(eqd.iterations.mean()),
            float(np.abs(eqd.v - eq.v[:dense_batch]).max()),
        )

    (_, sweeps, r_cd, seen), w, c = _timed(lambda: coordinate_descent(m, x, max_sweeps, eq.v))
    shares = time_shares(m, x) if m.method == "layered" else (float("nan"), float("nan"))
    return DepthResult(
        "×".join(map(str, layers)),
        inputs,
        batch,
        m.method,
        float(np.median(fw)),
        float(np.median(fc)),
        float(eq.iterations.mean()),
        float(eq.residual.max()),
        float(np.median(ew)),
        float(np.median(ec)),
        ep_res,
        dense_batch,
        *dense,
        sweeps,
        w / batch,
        c / batch,
        r_cd,
        seen.get(4, float("nan")),
        seen.get(20, float("nan")),
        *shares,
    )


def main(argv: list[str] | None = None) -> list[DepthResult]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--sizes", default="100x300x300x300x10,784x100x100x100x10", help="comma-separated AxBxC..."
    )
    ap.add_argument("--inputs", default="single,doubled", help="input modes: single, doubled or both")
    ap.add_argument("--batch", type=int, default=100, help="samples per batch")
    ap.add_argument(
        "--repeat", type=int, default=5, help="interleaved free phase / EP gradient runs (medians)"
    )
    ap.add_argument("--dense-batch", type=int, default=20, help="samples of the one dense run (0: skip)")
    ap.add_argument("--max-sweeps", type=int, default=2000, help="coordinate descent: sweep cap")
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
                bench_depth(layers, inputs, args.batch, args.repeat, args.dense_batch, args.max_sweeps)
            )
    print(
        f"{'network':>20} {'inputs':>7} {'method':>7} {'free':>9} {'CPU':>9} {'Newton':>6} {'residual':>8} "
        f"{'EP grad':>9} {'CPU':>9} {'dense':>9} {'CPU':>9} {'|dV|':>7} {'CD sweeps':>9} {'CD':>9} "
        f"{'CD res':>7} {'dV@4':>7} {'dV@20':>7} {'CG':>4} {'GS':>4}"
    )
    for r in results:
        print(
            f"{r.size:>20} {r.inputs:>7} {r.method:>7} {r.free_s * 1e3:>6.3f} ms {r.free_cpu_s * 1e3:>6.3f} ms "
            f"{r.newton_iterations:>6.2f} {r.residual_A:>8.1e} {r.ep_s * 1e3:>6.3f} ms {r.ep_cpu_s * 1e3:>6.3f} ms "
            f"{r.dense_s * 1e3:>6.2f} ms {r.dense_cpu_s * 1e3:>6.2f} ms {r.dense_max_dv_V:>7.1e} {r.cd_sweeps:>9} "
            f"{r.cd_s * 1e3:>6.2f} ms {r.cd_residual_A:>7.1e} {r.cd_dv4_V:>7.1e} {r.cd_dv20_V:>7.1e} "
            f"{r.cg_share:>4.0%} {r.relax_share:>4.0%}"
        )
    print(
        "per sample of a batch; free / EP grad: medians of interleaved runs (wall, CPU = process time); "
        "dense: one run; CD: layer-wise coordinate descent to the same KCL tolerance; CG, GS: shares of "
        "the free phase's CPU time in the layered conjugate gradients and in the Gauss–Seidel start"
    )
    if args.json:
        doc = {
            "bench": "bench/bench_depth.py",
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
