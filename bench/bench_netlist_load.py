"""How long ``ngspice -b`` takes on every generated deck: load (parse + subcircuit expansion) and `.op`.

For each size of ``--sizes`` (default 784×100×10, the MNIST-sized chip) the ``spice`` and
``veriloga`` backends are rendered into a temporary build folder (the ``.osdi`` compiled when
openvaf-r is there, so ``memristor.sp`` runs too) and ``ngspice -b <deck>`` is timed for each top
level (free, nudged, simultaneous, memristor), as a designer runs them: the conductances are numbers
in ``cells.sp``.  ngspice's own ``rusage`` lines give the split (netlist loading, subcircuit and
parameter expansion, parsing, analysis); ``cpu_s`` is the CPU time (user + system) of the ngspice
process, which on this shared 2-core machine says more than the wall time (ngspice runs on one
core; under a load average of 20 the wall time is several times the CPU time).

``--tile`` sizes (default ``128,0``) time the decks with large crossbars split into subcircuit
tiles of at most that many rows and columns (``codegen.circuit.build.TILE``; ``0``: one subcircuit
per crossbar, the former form), alternating, in the same run: ngspice's subcircuit expansion looks
every node of every line up in the subcircuit's port list (lines × ports).

The former decks read one ``.param`` per cell from ``params.sp`` (``r={1/g_…}``), and ngspice's parse
of them is superlinear; ``--compare`` sizes (default 64×32×10 and 128×64×10, small enough to finish)
time the free deck both ways in the same run: the generated one, and the same circuit with
``.include params.sp`` and ``r={1/g_…}`` put back, for the ratio.

    PYTHONPATH=$PWD .venv/bin/python bench/bench_netlist_load.py [--sizes 784x100x10]
        [--compare 64x32x10,128x64x10] [--tile 128,0] [--json bench/results/netlist_load.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import codegen.circuit.build as circuit_build  # noqa: E402
from bench.bench_equilibrium import bench_chip, machine_conditions  # noqa: E402
from codegen.backends import BuildOptions  # noqa: E402
from codegen.build import render_plan  # noqa: E402
from codegen.circuit import build_circuit  # noqa: E402
from codegen.run.tools import ngspice_command  # noqa: E402

TOPS = ("free", "nudged", "simultaneous", "memristor")
_RUSAGE = {
    "load_s": r"Netlist loading time\s*=\s*(\S+)",
    "expand_s": r"Subckt and Param expansion time\s*=\s*(\S+)",
    "parse_s": r"Netlist parsing time\s*=\s*(\S+)",
    "analysis_s": r"Total analysis time \(seconds\)\s*=\s*(\S+)",
}


def sizes(text: str) -> list[list[int]]:
    return [[int(n) for n in s.split("x")] for s in text.split(",") if s]


def run_ngspice(folder: Path, deck: str, timeout_s: float) -> dict[str, float | str]:
    """``ngspice -b deck`` in ``folder`` plus a ``rusage`` at the end: wall time (s), ngspice's split."""
    text = (folder / deck).read_text()
    timed = folder / f"_timed_{deck}"
    timed.write_text(text.replace("\n.end\n", "\n.control\nrun\nrusage all\n.endc\n.end\n"))
    t0 = time.perf_counter()
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        proc = subprocess.run(
            [*ngspice_command(), "-b", timed.name],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
    except subprocess.TimeoutExpired:
        return {"wall_s": timeout_s, "status": f"timeout after {timeout_s:.0f} s (wall_s: a lower bound)"}
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    out: dict[str, float | str] = {
        "wall_s": time.perf_counter() - t0,
        "cpu_s": (c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime),
    }
    log = proc.stdout + proc.stderr
    for key, pattern in _RUSAGE.items():
        m = re.search(pattern, log)
        out[key] = float(m.group(1)) if m else float("nan")
    ok = proc.returncode == 0 and out["analysis_s"] == out["analysis_s"]  # the `.op` ran (not NaN)
    out["status"] = "ok" if ok and "error" not in log.lower() else f"rc {proc.returncode}"
    return out


def with_params(folder: Path, chip) -> None:
    """Put the former form back: free.sp includes params.sp, each resistor reads ``{1/g_…}``.
    The cell lines are found by the names the circuit IR gives them (first word of the line,
    inside the subcircuit that holds them), not by parsing the text."""
    circuit = build_circuit(chip)
    cells_of: dict[str, dict[str, str]] = {}  # subcircuit → element name → its conductance parameter
    for xb in circuit.crossbars:
        for sub in (xb, *xb.about.get("tiles", ())):
            for e in sub.elements:
                if e.kind == "resistor":
                    r, c = e.params["cell"]
                    cells_of.setdefault(sub.name, {})[e.name] = f"g_{xb.about['xbar']}_{r}_{c}"
    current: dict[str, str] = {}
    lines = []
    for line in (folder / "cells.sp").read_text().splitlines():
        words = line.split()
        if words[:1] == [".subckt"]:
            current = cells_of.get(words[1], {})
        elif words and words[0] in current:
            line = f"{words[0]} {words[1]} {words[2]} r={{1/{current[words[0]]}}}"
        lines.append(line)
    (folder / "cells_params.sp").write_text("\n".join(lines) + "\n")
    free = (
        (folder / "free.sp")
        .read_text()
        .replace(".include cells.sp", ".include params.sp\n.include cells_params.sp")
    )
    (folder / "free_params.sp").write_text(free)


def render(layers: list[int], folder: Path, compile_va: bool, tile: int | None = None):
    """Render the spice and veriloga backends of the bench chip into ``folder``; ``tile``: crossbar
    tile size (0: no tiles; None: the default).  Returns (cells, chip)."""
    chip = bench_chip(layers, input_doubling=True)
    saved = circuit_build.TILE, circuit_build.TILE_PORTS
    if tile is not None:
        circuit_build.TILE = tile or 1 << 30
        circuit_build.TILE_PORTS = 2 * tile if tile else 1 << 30
    try:
        plan = render_plan(chip, BuildOptions(compile=compile_va), only=["spice", "veriloga"])
    finally:
        circuit_build.TILE, circuit_build.TILE_PORTS = saved
    for rel, data in plan.files.items():
        p = folder / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data if isinstance(data, bytes) else data.encode())
    return sum(xb.size for xb in chip.crossbars), chip


def main(argv: list[str] | None = None) -> dict[str, object]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="784x100x10", help="chips whose every deck is timed")
    p.add_argument("--compare", default="64x32x10,128x64x10", help="chips timed with and without .param")
    p.add_argument("--tile", default="128,0", help="crossbar tile sizes to time (0: no tiles)")
    p.add_argument("--timeout", type=float, default=600.0, help="per ngspice run (s)")
    p.add_argument("--no-compile", action="store_true", help="skip openvaf-r (and memristor.sp)")
    p.add_argument("--json", help="write the results and machine conditions to this file")
    a = p.parse_args(argv)
    result: dict[str, object] = {"machine": machine_conditions(), "decks": [], "compare": []}
    with tempfile.TemporaryDirectory() as tmp:
        tiles = [int(x) for x in a.tile.split(",") if x]
        for layers in sizes(a.sizes):
            name = "x".join(map(str, layers))
            folders = {}
            for tile in tiles:
                folders[tile] = Path(tmp) / f"{name}_tile{tile}"
                cells, _ = render(layers, folders[tile], not a.no_compile, tile)
            for top in TOPS:
                if top == "memristor" and a.no_compile:
                    continue
                for tile in tiles:  # alternating, so both see the same machine load
                    r = run_ngspice(folders[tile] / "spice", f"{top}.sp", a.timeout)
                    row = {"size": name, "cells": cells, "deck": f"{top}.sp", "tile": tile, **r}
                    row["loadavg"] = [round(x, 2) for x in os.getloadavg()]
                    result["decks"].append(row)  # type: ignore[union-attr]
                    print(
                        f"{name} tile {tile:3d} {top + '.sp':17s} ngspice -b {r['wall_s']:7.2f} s wall, "
                        f"{r['cpu_s']:6.2f} s CPU (load {r.get('load_s', 0):.2f} + expand "
                        f"{r.get('expand_s', 0):.2f} + parse {r.get('parse_s', 0):.2f} + analysis "
                        f"{r.get('analysis_s', 0):.2f} s) {r['status']} (load average {row['loadavg'][0]})",
                        flush=True,
                    )
        for layers in sizes(a.compare):
            name = "x".join(map(str, layers))
            folder = Path(tmp) / f"cmp_{name}"
            cells, chip = render(layers, folder, False)
            with_params(folder / "spice", chip)
            new = run_ngspice(folder / "spice", "free.sp", a.timeout)
            old = run_ngspice(folder / "spice", "free_params.sp", a.timeout)
            row = {
                "size": name,
                "cells": cells,
                "numbers_s": new["wall_s"],
                "params_s": old["wall_s"],
                "ratio": float(old["wall_s"]) / float(new["wall_s"]),
                "status": f"{new['status']}/{old['status']}",
            }
            result["compare"].append(row)  # type: ignore[union-attr]
            print(
                f"{name} free.sp: numbers {new['wall_s']:.2f} s, one .param per cell "
                f"{old['wall_s']:.2f} s ({row['ratio']:.0f}×)",
                flush=True,
            )
    if a.json:
        Path(a.json).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json).write_text(json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    main()
