"""Co-simulation speed: learning steps per second and where the time goes.

Runs ``codegen cosim`` (the generated RTL under cocotb + Icarus) on the examples for ``--steps``
steps in each device × phase mode and prints steps/s with the time split into: ngspice operating
points (libngspice, shared mode), the RTL (writing codes, running the controller, capturing its
lines: Icarus + cocotb), the devices (golden device model, or the ngspice transient through the
Verilog-A memristor), the golden model, the checks, other Python in the loop, and the fixed costs
(Icarus build; simulator start-up with the Python imports inside it).

    PYTHONPATH=$PWD .venv/bin/python bench/bench_cosim.py [--steps 50] [--examples kiraz_case1 xor]
        [--devices behavioral transient] [--phases sequential simultaneous] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
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

PARTS = ("ngspice_op", "rtl", "devices", "golden", "checks")


def run_one(example: str, device: str, phases: str, steps: int, work: Path) -> dict:
    spec = ROOT / "examples" / f"{example}.yaml"
    chip = elaborate(load_spec(spec))
    cfg = CosimConfig(steps=steps, device=device, phases=phases, out=work / f"{example}-{device}-{phases}")
    t0 = time.perf_counter()
    res = run_rtl_cosim(chip, spec, {}, cfg)
    wall = time.perf_counter() - t0
    tm = res["timing_s"]
    loop = tm["loop_wall"]
    n = len(res["steps"])
    row = {
        "example": example,
        "device": device,
        "phases": phases,
        "steps": n,
        "passed": res["passed"],
        "wall_s": wall,
        "loop_s": loop,
        "steps_per_s_loop": n / loop if loop > 0 else 0.0,
        "steps_per_s_wall": n / wall,
        **{f"{k}_s": tm[k] for k in PARTS},
        "setup_s": tm["setup"],
        "other_python_s": max(0.0, loop - tm["setup"] - sum(tm[k] for k in PARTS)),
        "icarus_build_s": tm["icarus_build"],
        "simulator_overhead_s": tm["simulator_overhead"],
    }
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--examples", nargs="+", default=["kiraz_case1", "xor"])
    ap.add_argument("--devices", nargs="+", default=["behavioral", "transient"])
    ap.add_argument("--phases", nargs="+", default=["sequential", "simultaneous"])
    ap.add_argument("--json", help="also write the rows as JSON here")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-cosim-") as tmp:
        for ex in args.examples:
            for dev in args.devices:
                for ph in args.phases:
                    rows.append(run_one(ex, dev, ph, args.steps, Path(tmp)))
                    r = rows[-1]
                    print(
                        f"{ex:12s} {dev:10s} {ph:12s} {'PASS' if r['passed'] else 'FAIL'} "
                        f"{r['steps']:3d} steps  {r['steps_per_s_loop']:6.2f} steps/s (loop), "
                        f"{r['steps_per_s_wall']:5.2f} (wall {r['wall_s']:.1f} s) | "
                        f"ngspice op {r['ngspice_op_s']:.2f}  RTL {r['rtl_s']:.2f}  devices {r['devices_s']:.2f}  "
                        f"golden {r['golden_s']:.2f}  checks {r['checks_s']:.2f}  other py {r['other_python_s']:.2f}  "
                        f"setup {r['setup_s']:.2f} | icarus build {r['icarus_build_s']:.2f}  "
                        f"sim start {r['simulator_overhead_s']:.2f} s",
                        flush=True,
                    )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
    return 0 if all(r["passed"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
