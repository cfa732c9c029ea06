"""Training throughput (samples/s) on the 8×8 digits chip: golden model vs ngspice in the loop.

Trains ``examples/digits.yaml`` for ``--steps`` update steps (batch size from the example) with each
backend from the same initial conductances and reports samples/s of the training loop alone (EP
phases + rule + device update; no evaluation passes), plus how far the two backends' conductances
drifted apart (they solve the same circuit).  ngspice runs in shared mode (libngspice, KLU):

* ``spice`` (the training backend, ``codegen.run.ngspice.BatchSession``): one ngspice transient
  per batch on the nudged netlist, whose external input, target and β-selector sources step from
  time slot to time slot (free, +β, −β of each sample); ``alter`` of the changed cells only, of one
  network; read-back of the crossbar and output nodes only; the batch split over ``--workers``
  libngspice processes (``codegen.run.batch_pool.BatchPool``; default: 1 and 2, one after the
  other in the same run, for their ratio; the backend's default is
  ``codegen.learn.backends.SPICE_WORKERS``);
* ``per-sample`` (``--per-sample``, what the backend did before, for the ratio in the same run):
  one ``op`` per sample of the simultaneous netlist (three network copies, ``SharedSession``),
  every resistor of the three copies re-``alter``ed after each update, every vector read back.

    PYTHONPATH=$PWD .venv/bin/python bench/bench_training.py [--steps 20] [--spice-steps 4]
        [--workers 1 2] [--per-sample] [--no-spice] [--json bench/results/training.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
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
    """(samples/s of wall time, final conductances (S), samples/s of this process's CPU time) for
    ``steps`` training steps; libngspice runs inside the process, so CPU time counts it too, and is
    the steadier figure on a shared machine."""
    dev = DeviceArrays.create(chip)
    backend.set_conductances(dev.conductances)
    bs = chip.training.batch_size
    t0, c0 = time.perf_counter(), time.process_time()
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
    return n / (time.perf_counter() - t0), dev.conductances, n / (time.process_time() - c0)


class PerSampleSpice:
    """The former spice backend, for comparison: ``SharedSession.op`` per sample, all cells re-altered."""

    name = "spice-per-sample"

    def __init__(self, chip):
        from codegen.run.ngspice import SharedSession, netlist_files

        self.chip = chip
        self.g = chip.initial_conductances()
        self.session = SharedSession(chip, netlist_files(chip, self.g), "simultaneous")
        self.beta = chip.nudge.beta_S
        c_out = chip.nudge.energy_scale
        self._scale = {xb.name: xb.energy_scale / c_out for xb in chip.crossbars}

    def set_conductances(self, g):
        if any(not np.array_equal(g[k], self.g[k]) for k in g):
            self.session.set_conductances(g)
        self.g = {k: np.array(v) for k, v in g.items()}

    def ep_gradient(self, x, t):
        acc = {xb.name: np.zeros(xb.shape) for xb in self.chip.crossbars}
        for xi, ti in zip(x, t, strict=True):
            c = self.session.op(xi, ti, beta=self.beta).copies
            for xb in self.chip.crossbars:
                d = {}
                for copy in ("pos", "neg"):
                    src = np.array([c[copy][n] for n in xb.src_nodes])
                    dst = np.array([c[copy][n] for n in xb.dst_nodes])
                    d[copy] = (src[None, :] - dst[:, None]) ** 2
                acc[xb.name] += self._scale[xb.name] * (d["pos"] - d["neg"]) / (4.0 * self.beta)
        return {k: v / len(x) for k, v in acc.items()}


def main(argv: list[str] | None = None) -> dict[str, float]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--spec", default=str(ROOT / "examples" / "digits.yaml"))
    p.add_argument("--steps", type=int, default=20, help="golden-model training steps (default 20)")
    p.add_argument("--spice-steps", type=int, default=4, help="ngspice-in-the-loop steps (default 4)")
    p.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[1, 2],
        help="libngspice processes, each timed (default 1 2)",
    )
    p.add_argument("--per-sample", action="store_true", help="also time the former per-sample path")
    p.add_argument("--no-spice", action="store_true")
    p.add_argument("--json", help="write the numbers (and the machine's load) to this file")
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
    out["golden_samples_per_s"], g_golden, out["golden_samples_per_cpu_s"] = run_steps(chip, g, ds, a.steps)
    print(f"golden model      : {out['golden_samples_per_s']:9.1f} samples/s ({a.steps} steps)")
    if not a.no_spice:
        _, g_ref, _ = run_steps(chip, GoldenBackend(chip), ds, a.spice_steps)
        for w in a.workers:
            tag = "" if w == a.workers[-1] else f"_w{w}"
            t0 = time.perf_counter()
            s = SpiceBackend(chip, workers=w)
            out[f"spice_setup_s{tag}"] = time.perf_counter() - t0
            sps, g_spice, cps = run_steps(chip, s, ds, a.spice_steps)
            s.session.close()
            out[f"spice_samples_per_s{tag}"], out[f"spice_samples_per_cpu_s{tag}"] = sps, cps
            out[f"spice_workers{tag}"] = w
            out[f"max_dG_S{tag}"] = max(float(np.abs(g_spice[k] - g_ref[k]).max()) for k in g_ref)
            print(
                f"ngspice in loop   : {sps:9.2f} samples/s with {w} libngspice process(es) "
                f"({a.spice_steps} steps; netlist load {out[f'spice_setup_s{tag}']:.2f} s); "
                f"max |G_spice − G_golden| {out[f'max_dG_S{tag}']:.2e} S"
            )
        if len(a.workers) > 1:
            w0 = a.workers[0]
            out["speedup_workers"] = out["spice_samples_per_s"] / out[f"spice_samples_per_s_w{w0}"]
            print(f"  {a.workers[-1]} vs {w0} process(es): {out['speedup_workers']:.2f}× (same run)")
        n = s.ops
        out["spice_op_ms"] = 1e3 * s.op_seconds / max(n, 1)
        out["spice_alter_s_per_step"] = s.alter_seconds / max(a.spice_steps, 1)
        out["spice_cells_altered_per_step"] = s.session.altered / max(a.spice_steps, 1)
        print(
            f"  per sample: ngspice transient {out['spice_op_ms']:.1f} ms (free, +β and "
            f"−β phases); per step: alter of {out['spice_cells_altered_per_step']:.0f} resistors "
            f"{out['spice_alter_s_per_step']:.3f} s"
        )
        print(
            f"golden / ngspice  : {out['golden_samples_per_s'] / out['spice_samples_per_s']:9.1f}× "
            f"(per CPU second of this process: spice {out['spice_samples_per_cpu_s']:.1f}, golden "
            f"{out['golden_samples_per_cpu_s']:.1f} samples/s)"
        )
        if a.per_sample:
            old = PerSampleSpice(chip)
            out["per_sample_samples_per_s"], g_old, out["per_sample_samples_per_cpu_s"] = run_steps(
                chip, old, ds, a.spice_steps
            )
            out["max_dG_per_sample_S"] = max(float(np.abs(g_old[k] - g_ref[k]).max()) for k in g_ref)
            out["speedup_vs_per_sample"] = out["spice_samples_per_s"] / out["per_sample_samples_per_s"]
            out["speedup_vs_per_sample_cpu"] = (
                out["spice_samples_per_cpu_s"] / out["per_sample_samples_per_cpu_s"]
            )
            print(
                f"per-sample op path: {out['per_sample_samples_per_s']:9.2f} samples/s "
                f"(spice backend {out['speedup_vs_per_sample']:.1f}× faster, same run; by CPU time "
                f"{out['speedup_vs_per_sample_cpu']:.1f}×)"
            )
    out["load_average_1min"] = os.getloadavg()[0]
    out["cpus"] = os.cpu_count() or 0
    if a.json:
        meta = {
            "command": "bench/bench_training.py " + " ".join(argv if argv is not None else sys.argv[1:]),
            "spec": Path(a.spec).name,
            "steps": a.steps,
            "spice_steps": a.spice_steps,
            "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        meta["machine"] = f"{platform.machine()}, {out['cpus']} CPUs, load {out['load_average_1min']:.1f}"
        Path(a.json).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json).write_text(json.dumps({**meta, **out}, indent=1, sort_keys=True) + "\n")
    return out


if __name__ == "__main__":
    main()
