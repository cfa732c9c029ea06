"""Co-simulation speed: learning steps per second, where the time goes, new paths vs the old ones.

Runs ``codegen cosim`` (the generated RTL under cocotb + Icarus) on the examples for ``--steps``
steps in each device × phase mode, twice back to back: with ``CosimConfig.legacy`` (the paths
before issue 15: one ``ngspice -b`` per transient saving every ``@inst[g]`` at every time point,
cocotb's Python clock, pytest assertion rewriting of every imported module, one ngspice ``op`` per
phase and sample, a cocotb trigger per line-level change, one clocked write per code) and without
it (one ngspice worker kept across transients printing the final ``@inst[g]``, the clock inside
Icarus, rewriting of the test module only, one ngspice analysis per batch reading back the crossbar
and output nodes, line levels logged by the simulator and read once per update, codes written
straight into the code memories; the golden model's loss from the EP solve's free phase; the line
reader on arrays; the golden side, the line reading and the behavioral devices in a worker process,
:mod:`codegen.cosim.golden_worker`), the new paths once per ``--simulators`` entry (``icarus``; ``verilator``: the RTL
compiled by Verilator through cocotb's runner, its C++ build counted in ``rtl_build_s``, not in the
loop).  The two paths' final losses agree within ``LOSS_REL_TOL``
(their ngspice solves differ by the solver tolerance).  Both runs of a pair see the same machine load, so their ratio
is the measurement; the absolute steps/s move with the load of the shared machine.

Each row splits the loop's time into: ngspice operating points (libngspice, shared mode), the RTL
(writing codes, running the controller, capturing its lines: Icarus or Verilator + cocotb), the
line reading (decoding the captured levels into pulses; with the worker: the wait for its answers),
the devices (golden device model, or the ngspice transient through the Verilog-A memristor; with the
worker, the behavioral devices are programmed there, in its time), the golden model (with the
worker: the wait for it; ``golden_worker_s`` is the worker's own time), the checks, other Python in
the loop, and the fixed costs (the loop's setup, counted in the loop; the RTL build; simulator
start-up with the Python imports inside it).  ``steps_per_s_loop`` (steps / loop, setup included)
and ``steps_per_s_steps`` (setup left out) are the two rates ``codegen cosim`` prints.

    PYTHONPATH=$PWD .venv/bin/python bench/bench_cosim.py [--steps 50] [--examples xor]
        [--devices behavioral transient] [--phases sequential] [--repeats 1]
        [--simulators icarus verilator] [--transient-pair] [--json bench/results/cosim.json]

``--transient-pair``: each transient new-path run is preceded by the same run with
``CosimConfig.full_transient`` (one deck of every cell, the step bound on the whole transient,
ngspice's per-point memory check: the transient path before the per-crossbar decks), and the pair's
ratios are printed and written under ``transient_pairs``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from codegen.cosim.loop import CosimConfig  # noqa: E402
from codegen.cosim.runner import run_rtl_cosim  # noqa: E402
from codegen.elab import elaborate  # noqa: E402
from codegen.load import load_spec  # noqa: E402

PARTS = ("ngspice_op", "rtl", "lines", "devices", "golden", "checks")
#: legacy vs new final cosim loss: equal within this relative difference (1) counts as the same
LOSS_REL_TOL = 1e-6


def _rel_diff(a: float | None, b: float | None) -> float:
    if a is None or b is None:
        return 0.0 if a == b else float("inf")
    return abs(a - b) / max(abs(a), abs(b), 1e-300)


def machine_conditions() -> dict[str, object]:
    """Date (UTC), CPU, cores, load averages (1, 5, 15 min), commit, Python/cocotb/ngspice versions."""
    import cocotb

    try:
        cpu = next(
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        )
    except (OSError, StopIteration):
        cpu = platform.processor()

    def out(cmd: list[str]) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return "unknown"

    ngspice = next((ln.strip() for ln in out(["ngspice", "-v"]).splitlines() if "ngspice-" in ln), "unknown")
    return {
        "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "commit": out(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"]) or "unknown",
        "python": platform.python_version(),
        "cocotb": cocotb.__version__,
        "ngspice": ngspice,
        "icarus": out(["iverilog", "-V"]).splitlines()[0] if out(["iverilog", "-V"]) else "unknown",
        "verilator": _verilator_version(out),
    }


def _verilator_version(out) -> str:
    try:
        from codegen.run.tools import verilator_command

        cmd, env = verilator_command()
    except Exception:  # noqa: BLE001 - no Verilator: the rows say so
        return "unknown"
    old = dict(os.environ)
    os.environ.update(env)
    try:
        return out([*cmd, "--version"]) or "unknown"
    finally:
        os.environ.clear()
        os.environ.update(old)


def run_one(
    example: str,
    device: str,
    phases: str,
    steps: int,
    work: Path,
    legacy: bool,
    simulator: str = "icarus",
    full_transient: bool = False,
) -> dict:
    spec = ROOT / "examples" / f"{example}.yaml"
    chip = elaborate(load_spec(spec))
    tag = "legacy" if legacy else "full-deck" if full_transient else "new"
    cfg = CosimConfig(
        steps=steps,
        device=device,
        phases=phases,
        out=work / f"{example}-{device}-{phases}-{tag}-{simulator}",
        legacy=legacy,
        full_transient=full_transient,
    )
    t0 = time.perf_counter()
    res = run_rtl_cosim(chip, spec, {}, cfg, simulator=simulator)
    wall = time.perf_counter() - t0
    tm = res["timing_s"]
    loop = tm["loop_wall"]
    n = len(res["steps"])
    return {
        "example": example,
        "device": device,
        "phases": phases,
        "paths": tag,
        "simulator": simulator,
        "steps": n,
        "passed": res["passed"],
        "max_transient_step_err": max(
            (s.get("transient_step_err_steps", 0.0) for s in res["steps"]), default=0.0
        ),
        "divergence": res["divergence"],
        "final_loss_cosim": res["steps"][-1]["loss_cosim"] if n else None,
        "wall_s": wall,
        "loop_s": loop,
        "steps_per_s_loop": n / loop if loop > 0 else 0.0,
        # the loop's per-step rate: its setup (ngspice and PySpice loaded, the deck read) left out
        "steps_per_s_steps": n / (loop - tm["setup"]) if loop > tm["setup"] else 0.0,
        "golden_worker_s": tm.get("golden_worker", 0.0),
        "steps_per_s_wall": n / wall,
        **{f"{k}_s": tm.get(k, 0.0) for k in PARTS},
        "setup_s": tm["setup"],
        "other_python_s": max(0.0, loop - tm["setup"] - sum(tm.get(k, 0.0) for k in PARTS)),
        "icarus_build_s": tm["icarus_build"],
        "rtl_build_s": tm["rtl_build"],
        "simulator_overhead_s": tm["simulator_overhead"],
    }


def _line(r: dict) -> str:
    n = max(r["steps"], 1)
    return (
        f"{r['example']:6s} {r['device']:10s} {r['phases']:12s} {r['paths']:6s} {r['simulator']:9s} "
        f"{'PASS' if r['passed'] else 'FAIL'} {r['steps']:3d} steps {r['steps_per_s_loop']:6.2f} steps/s (loop), "
        f"{r['steps_per_s_steps']:6.2f} without its setup, "
        f"wall {r['wall_s']:5.1f} s | per step (ms): ngspice op {1e3 * r['ngspice_op_s'] / n:.1f}  "
        f"RTL {1e3 * r['rtl_s'] / n:.1f}  lines {1e3 * r['lines_s'] / n:.1f}  devices {1e3 * r['devices_s'] / n:.1f}  "
        f"golden {1e3 * r['golden_s'] / n:.1f}  checks {1e3 * r['checks_s'] / n:.1f}  "
        f"other py {1e3 * r['other_python_s'] / n:.1f} | setup {r['setup_s']:.2f} s  "
        f"RTL build {r['rtl_build_s']:.2f} s  sim start {r['simulator_overhead_s']:.2f} s"
    )


def _transient_pair(full: dict, new: dict) -> dict:
    """The full-deck transient run and the per-crossbar one of the same configuration."""
    return {
        "example": new["example"],
        "device": new["device"],
        "phases": new["phases"],
        "simulator": new["simulator"],
        "repeat": new["repeat"],
        "loop_speedup": new["steps_per_s_loop"] / max(full["steps_per_s_loop"], 1e-12),
        "wall_speedup": full["wall_s"] / new["wall_s"],
        "devices_speedup": full["devices_s"] / max(new["devices_s"], 1e-12),
        "same_verdict": full["passed"] == new["passed"],
        "final_loss_rel_diff": _rel_diff(full["final_loss_cosim"], new["final_loss_cosim"]),
        "max_transient_step_err": [full["max_transient_step_err"], new["max_transient_step_err"]],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--examples", nargs="+", default=["xor"])
    ap.add_argument("--devices", nargs="+", default=["behavioral", "transient"])
    ap.add_argument("--phases", nargs="+", default=["sequential"])
    ap.add_argument("--repeats", type=int, default=1, help="legacy/new pairs per configuration")
    ap.add_argument("--no-legacy", action="store_true", help="only the new paths (no ratios)")
    ap.add_argument(
        "--simulators", nargs="+", default=["icarus", "verilator"], help="RTL simulators of the new paths"
    )
    ap.add_argument(
        "--transient-pair",
        action="store_true",
        help="transient devices: before each new-path run, the same run with one deck of every cell "
        "(CosimConfig.full_transient, the transient path before the per-crossbar decks); ratios of the two",
    )
    ap.add_argument("--json", type=Path, help="write rows, ratios and machine conditions here")
    args = ap.parse_args()
    before = machine_conditions()
    rows: list[dict] = []
    pairs: list[dict] = []
    tpairs: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="bench-cosim-") as tmp:
        for ex in args.examples:
            for dev in args.devices:
                for ph in args.phases:
                    for rep in range(args.repeats):  # pairs interleaved: both halves see the same load
                        legacy_row = None
                        if not args.no_legacy:
                            legacy_row = run_one(ex, dev, ph, args.steps, Path(tmp), True)
                            legacy_row["repeat"] = rep
                            rows.append(legacy_row)
                            print(_line(legacy_row), flush=True)
                        for sim in args.simulators:
                            if args.transient_pair and dev == "transient":
                                full = run_one(
                                    ex, dev, ph, args.steps, Path(tmp), False, sim, full_transient=True
                                )
                                full["repeat"] = rep
                                rows.append(full)
                                print(_line(full), flush=True)
                            new = run_one(ex, dev, ph, args.steps, Path(tmp), False, sim)
                            new["repeat"] = rep
                            rows.append(new)
                            print(_line(new), flush=True)
                            if args.transient_pair and dev == "transient":
                                tpair = _transient_pair(full, new)
                                tpairs.append(tpair)
                                print(
                                    f"{'':6s} {dev:10s} {ph:12s} {sim:9s} full-deck -> new  loop "
                                    f"{tpair['loop_speedup']:.2f}x  devices {tpair['devices_speedup']:.2f}x  "
                                    f"same verdict {tpair['same_verdict']}  final loss rel diff "
                                    f"{tpair['final_loss_rel_diff']:.2g}  max step err {full['max_transient_step_err']:.3g} "
                                    f"-> {new['max_transient_step_err']:.3g}",
                                    flush=True,
                                )
                            if legacy_row is None:
                                continue
                            old = legacy_row
                            pair = {
                                "example": ex,
                                "device": dev,
                                "phases": ph,
                                "simulator": sim,
                                "repeat": rep,
                                "loop_speedup": new["steps_per_s_loop"] / max(old["steps_per_s_loop"], 1e-12),
                                "wall_speedup": old["wall_s"] / new["wall_s"],
                                "devices_speedup": old["devices_s"] / max(new["devices_s"], 1e-12),
                                "rtl_speedup": old["rtl_s"] / max(new["rtl_s"], 1e-12),
                                "same_verdict": old["passed"] == new["passed"],
                                # legacy solves one `op` per phase, new one transient per batch: the
                                # losses agree to the solvers' tolerance, not bit for bit
                                "final_loss_rel_diff": _rel_diff(
                                    old["final_loss_cosim"], new["final_loss_cosim"]
                                ),
                                "same_final_loss": _rel_diff(old["final_loss_cosim"], new["final_loss_cosim"])
                                <= LOSS_REL_TOL,
                            }
                            pairs.append(pair)
                            print(
                                f"{'':6s} {dev:10s} {ph:12s} {sim:9s} ratio  loop {pair['loop_speedup']:.2f}x  "
                                f"wall {pair['wall_speedup']:.2f}x  RTL {pair['rtl_speedup']:.2f}x  "
                                f"devices {pair['devices_speedup']:.2f}x  same verdict {pair['same_verdict']}  "
                                f"same final loss {pair['same_final_loss']}",
                                flush=True,
                            )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        medians = {}
        for p in pairs:
            key = f"{p['example']}/{p['device']}/{p['phases']}/{p['simulator']}"
            medians.setdefault(key, []).append(p)
        summary = {
            k: {
                f"median_{m}": float(statistics.median(q[m] for q in v))
                for m in ("loop_speedup", "wall_speedup", "rtl_speedup", "devices_speedup")
            }
            for k, v in medians.items()
        }
        # the two simulators' new-path runs of one configuration and repeat, side by side
        by_sim: dict[tuple, dict[str, dict]] = {}
        for r in rows:
            if r["paths"] == "new":
                by_sim.setdefault((r["example"], r["device"], r["phases"], r["repeat"]), {})[
                    r["simulator"]
                ] = r
        sims = [
            {
                "example": k[0],
                "device": k[1],
                "phases": k[2],
                "repeat": k[3],
                "rtl_speedup": v["icarus"]["rtl_s"] / max(v["verilator"]["rtl_s"], 1e-12),
                "loop_speedup": v["verilator"]["steps_per_s_loop"]
                / max(v["icarus"]["steps_per_s_loop"], 1e-12),
                "same_verdict": v["icarus"]["passed"] == v["verilator"]["passed"],
                "same_final_loss": v["icarus"]["final_loss_cosim"] == v["verilator"]["final_loss_cosim"],
            }
            for k, v in by_sim.items()
            if {"icarus", "verilator"} <= set(v)
        ]
        doc = {
            "command": "bench/bench_cosim.py " + " ".join(sys.argv[1:]),
            "verilator_vs_icarus": sims,
            "machine_before": before,
            "machine_after": machine_conditions(),
            "ratios_median": summary,
            "ratios": pairs,
            "transient_pairs": tpairs,
            "rows": rows,
        }
        args.json.write_text(json.dumps(doc, indent=1) + "\n")
    ok = all(r["passed"] for r in rows) and all(p["same_verdict"] for p in pairs + tpairs)
    if args.json:
        ok = ok and all(q["same_verdict"] and q["same_final_loss"] for q in sims)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
