"""Run the ``spice`` backend's netlists in ngspice: batch subprocess or libngspice shared mode.

Both runners take the netlist files (``{name: text}``, as the backend renders them or as read from
``build/<chip>/spice``), inline the ``.include`` lines into one deck and return operating points in
IR terms: for each network copy (``free``, ``pos`` = +β, ``neg`` = −β) a dict IR node → V.

* :func:`run_batch`: ``ngspice -b`` on a deck with a ``.control`` block that alters inputs, targets,
  β and conductances, runs ``op`` and ``print all``; the printed ``name = value`` lines are parsed.
* :class:`SharedSession`: PySpice's ``NgSpiceShared`` loads the deck once; each sample only alters
  sources (``alter vin0p dc=…``), the nudging VCCS gains and, when they change, the resistors, then
  runs ``op`` and reads the vectors from memory.

Non-convergence raises :class:`NgspiceError` naming the phase and the netlist file.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..backends.spice import COPY_SUFFIX, netlist_context, resistor_param
from ..errors import CodegenError
from ..ir import Chip
from ..units import spice_float
from .ngspice_tran import NgspiceError, describe_failure, run_deck, run_dir
from .tools import libngspice_load_error, libngspice_path

__all__ = [
    "NgspiceError",
    "OperatingPoint",
    "netlist_files",
    "inline_deck",
    "parse_print_all",
    "run_batch",
    "SharedSession",
    "shared_ngspice",
]

#: phase names of each network copy, for messages and tables
PHASE_OF_COPY = {"free": "free", "pos": "nudged +β", "neg": "nudged −β"}
_INCLUDE = re.compile(r"^\s*\.include\s+(\S+)\s*$", re.IGNORECASE | re.MULTILINE)
_PRINT_LINE = re.compile(r"^\s*([^\s=]+)\s*=\s*([-+0-9.eEinfaINFA]+)\s*$")


@dataclass
class OperatingPoint:
    """One ngspice operating point in IR terms.

    ``copies[copy][node]``: voltage (V) of IR node ``node`` in network copy ``copy`` (``free``,
    ``pos``, ``neg``; sources appear in every copy).  ``raw``: every vector ngspice returned
    (lower-case names, node voltages in V and ``<source>#branch`` currents in A).
    """

    copies: dict[str, dict[str, float]]
    raw: dict[str, float]
    seconds: float
    top: str = "free"

    def source_currents(self, chip: Chip) -> dict[str, float]:
        """Current (A) each IR source delivers into the circuit (``−I(branch)``); in the
        simultaneous deck the sources are shared, so this is the sum over the copies."""
        return {s.name: -self.raw[f"{s.name.lower()}#branch"] for s in chip.sources}

    def amplifier_currents(self, chip: Chip, copy: str = "free") -> dict[str, float]:
        """``I_out`` (A) of every amplifier of network copy ``copy``: the current its VCVS delivers
        into the crossbars (the CCCS draws ``I_out/gain`` from the input node)."""
        inst = _inst(self.top, copy)
        return {a.name: self.raw[f"v.{inst}.v_{a.name.lower()}#branch"] for a in chip.amplifiers}


# --------------------------------------------------------------------------- netlists
def netlist_files(chip: Chip, conductances: Mapping[str, np.ndarray] | None = None) -> dict[str, str]:
    """The ``spice`` backend's files (without the ``spice/`` prefix), optionally at other conductances (S)."""
    from ..backends.spice import format_spice_files

    ctx = netlist_context(chip, None if conductances is None else dict(conductances))
    return {k.removeprefix("spice/"): v for k, v in format_spice_files(ctx).items()}


def read_netlist_dir(path: str | Path) -> dict[str, str]:
    """Read a ``build/<chip>/spice`` folder into ``{name: text}``."""
    p = Path(path)
    if not p.is_dir():
        raise CodegenError(f"{p}: no such netlist folder (run `codegen build` first)")
    return {f.name: f.read_text() for f in sorted(p.iterdir()) if f.is_file() and f.suffix == ".sp"}


def inline_deck(files: Mapping[str, str], top: str) -> str:
    """The top level ``<top>.sp`` with every ``.include <file>`` replaced by that file's text.

    Nothing else changes: the runners simulate the deck a designer gets (its conductances are
    numbers in ``cells.sp``; ``params.sp`` is a listing that no deck includes, docs/netlists.md).
    """
    name = top if top.endswith(".sp") else f"{top}.sp"
    if name not in files:
        raise NgspiceError(f"netlist {name} not found (have: {', '.join(sorted(files))})")

    def sub(m: re.Match[str]) -> str:
        inc = Path(m.group(1)).name
        if inc not in files:
            raise NgspiceError(f"{name}: included file {inc} not found")
        return files[inc].rstrip("\n")

    return _INCLUDE.sub(sub, files[name])


def _copies_of(chip: Chip, top: str) -> list[str]:
    if top in ("free", "memristor"):
        return ["free"]
    if top == "nudged":
        return ["pos"]
    return ["free", "pos", "neg"] if chip.nudge.centered else ["free", "pos"]


def _suffix(top: str, copy: str) -> str:
    return COPY_SUFFIX[copy] if top == "simultaneous" else ""


def _inst(top: str, copy: str) -> str:
    return "xnet" + _suffix(top, copy)


def _ir_nodes(chip: Chip) -> tuple[list[str], list[str]]:
    shared = list(dict.fromkeys(s.node for s in chip.sources))
    dynamic = list(dict.fromkeys(list(chip.free_nodes) + [a.out_node for a in chip.amplifiers]))
    return shared, dynamic


def _to_ir(chip: Chip, top: str, raw: Mapping[str, float]) -> dict[str, dict[str, float]]:
    shared, dynamic = _ir_nodes(chip)
    out: dict[str, dict[str, float]] = {}
    for copy in _copies_of(chip, top):
        sfx = _suffix(top, copy)
        d = {n: raw[n.lower()] for n in shared}
        d.update({n: raw[(n + sfx).lower()] for n in dynamic})
        out[copy] = d
    return out


def alter_commands(
    chip: Chip,
    top: str,
    x: np.ndarray | None = None,
    target: np.ndarray | None = None,
    beta: float | None = None,
    conductances: Mapping[str, np.ndarray] | None = None,
) -> list[str]:
    """ngspice ``alter`` commands that set inputs (feature units), targets (V), β (S) and conductances (S)."""
    cmds: list[str] = []
    if x is not None:
        volts = chip.source_voltages(np.asarray(x, dtype=float).reshape(-1))
        for s, v in zip(chip.input_sources(), volts, strict=True):
            cmds.append(f"alter {s.name.lower()} dc={spice_float(float(v))}")
    copies = [c for c in _copies_of(chip, top) if c != "free"]
    if target is not None and top != "free":
        t = np.asarray(target, dtype=float).reshape(-1)
        for copy in copies:
            for j in range(len(chip.nudge.outputs)):
                cmds.append(f"alter vtgt{j}{_suffix(top, copy)} dc={spice_float(float(t[j]))}")
    if beta is not None and top != "free":
        for copy in copies:
            b = -beta if copy == "neg" else beta
            for j in range(len(chip.nudge.outputs)):
                cmds.append(f"alter gnudge{j}{_suffix(top, copy)} gain={spice_float(b)}")
    if conductances is not None:
        for xb in chip.crossbars:
            g = np.asarray(conductances[xb.name], dtype=float)
            for copy in _copies_of(chip, top):
                inst = _inst(top, copy)
                for (r, c), val in np.ndenumerate(g):
                    cmds.append(
                        f"alter r.{inst}.x{xb.name.lower()}.r{r}_{c} resistance={spice_float(1.0 / val)}"
                    )
    return cmds


# --------------------------------------------------------------------------- batch
def parse_print_all(text: str) -> dict[str, float]:
    """Parse ngspice ``print all`` output of an operating point: ``name = value`` lines → dict.

    Lines that are not of that form (banners, notes, warnings) are skipped; names are lower-case.
    """
    out: dict[str, float] = {}
    for line in text.splitlines():
        m = _PRINT_LINE.match(line)
        if m:
            try:
                out[m.group(1).lower()] = float(m.group(2))
            except ValueError:
                continue
    return out


def run_batch(
    chip: Chip,
    files: Mapping[str, str],
    top: str = "free",
    x: np.ndarray | None = None,
    target: np.ndarray | None = None,
    beta: float | None = None,
    netlist_name: str | None = None,
    timeout_s: float = 600.0,
    workdir: str | Path | None = None,
) -> OperatingPoint:
    """One operating point with ``ngspice -b`` (a fresh process; conductances are those of ``files``).

    ``workdir``: run there (the deck is written as ``_run_<top>.sp``), e.g. a build's ``spice/``
    folder so that ``memristor.sp`` finds ``../veriloga/eqp_memristor.osdi``; default a temporary folder.
    """
    deck = inline_deck(files, top)
    deck = "\n".join(line for line in deck.splitlines() if line.strip().lower() not in (".op", ".end"))
    ctrl = alter_commands(chip, top, x, target, beta)
    deck += "\n.control\noption numdgt=17\n" + "\n".join(ctrl) + "\nop\nprint all\n.endc\n.end\n"
    where = netlist_name or f"spice/{top}.sp"
    with run_dir(workdir) as tmp:
        t0 = time.perf_counter()
        proc = run_deck(
            deck,
            tmp,
            f"_run_{top}.sp",
            files.get(".spiceinit", "set num_threads=1\n"),
            timeout_s,
            where=f"{where} ({top})",
            keep_spiceinit=True,
        )
        dt = time.perf_counter() - t0
    raw = parse_print_all(proc.stdout)
    phase = ", ".join(PHASE_OF_COPY[c] for c in _copies_of(chip, top))
    try:
        copies = _to_ir(chip, top, raw)
    except KeyError as exc:
        raise NgspiceError(
            f"ngspice found no operating point for phase {phase} of {where} (it printed no value "
            f"of {exc}); {describe_failure(proc.stdout + proc.stderr, proc.returncode)}"
        ) from None
    return OperatingPoint(copies=copies, raw=raw, seconds=dt, top=top)


# --------------------------------------------------------------------------- shared mode
_SHARED = None
_ACTIVE: int | None = None  # id() of the SharedSession whose deck libngspice holds


@contextlib.contextmanager
def _quiet_version_warning() -> Iterator[None]:
    # PySpice 1.5 warns "Unsupported Ngspice version 46" for every ngspice newer than it knows;
    # harmless (docs/toolchain.md).  Filter exactly that message, nothing else.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Unsupported Ngspice version")
        yield


def shared_ngspice():  # -> PySpice NgSpiceShared
    """The process-wide libngspice instance (PySpice), single-threaded (``set num_threads=1``)."""
    global _SHARED
    if _SHARED is None:
        path = libngspice_path()  # a bad NGSPICE_LIBRARY_PATH is refused here, with what to do
        os.environ.setdefault("NGSPICE_LIBRARY_PATH", path)
        import logging

        logging.getLogger("PySpice").setLevel(logging.CRITICAL)
        with _quiet_version_warning():
            from PySpice.Spice.NgSpice.Shared import NgSpiceShared

            NgSpiceShared.LIBRARY_PATH = path  # also when PySpice was imported before
            try:
                _SHARED = NgSpiceShared.new_instance()
            except (OSError, AttributeError) as exc:  # cffi: not loadable, or not ngspice's library
                raise libngspice_load_error(path, exc) from None
        _SHARED.exec_command("set num_threads=1")
    return _SHARED


class SharedSession:
    """A netlist loaded once into libngspice; per sample only ``alter`` + ``op``.

    >>> s = SharedSession(chip, netlist_files(chip, g), "simultaneous")   # doctest: +SKIP
    >>> op = s.op(x, target, beta=chip.nudge.beta_S)                        # doctest: +SKIP
    >>> op.copies["pos"]["out0p"]                                           # doctest: +SKIP

    libngspice holds one circuit per process.  Sessions may coexist: a session whose circuit was
    replaced by another session's reloads its deck and replays every ``alter`` it made (inputs,
    targets, β, conductances) before its next ``op``, so each session always simulates its own state.
    """

    def __init__(
        self, chip: Chip, files: Mapping[str, str], top: str = "free", netlist_name: str | None = None
    ):
        self.chip = chip
        self.top = top
        self.where = netlist_name or f"spice/{top}.sp"
        self.ng = shared_ngspice()
        self._deck = inline_deck(files, top)
        self._state: dict[str, str] = {}  # "alter <element> <param>" -> the last such command
        t0 = time.perf_counter()
        self._load()
        self.load_seconds = time.perf_counter() - t0

    def _load(self) -> None:
        global _ACTIVE
        with contextlib.suppress(Exception):  # "no circuit loaded" the first time
            self.ng.exec_command("remcirc")
        self.ng.exec_command("destroy all")
        try:
            with _quiet_version_warning():
                self.ng.load_circuit(self._deck)
        except Exception as exc:
            raise NgspiceError(f"libngspice could not load {self.where}: {exc}") from exc
        self.ng.exec_command("option numdgt=17")
        _ACTIVE = id(self)

    def _activate(self) -> None:
        if _ACTIVE != id(self):
            self._load()
            self._send(list(self._state.values()))

    def _send(self, commands: list[str]) -> None:
        # several commands per call (ngspice reads ';'-separated lists), below PySpice's length cap
        chunk: list[str] = []
        size = 0
        for cmd in [*commands, None]:
            if chunk and (cmd is None or size + len(cmd) > 900):
                try:
                    self.ng.exec_command(";".join(chunk))
                except Exception as exc:
                    raise NgspiceError(
                        f"ngspice refused `{'; '.join(chunk)[:300]}` on {self.where}: {exc}"
                    ) from exc
                chunk, size = [], 0
            if cmd is not None:
                chunk.append(cmd)
                size += len(cmd) + 1

    def alter(self, commands: list[str]) -> None:
        """Send ngspice ``alter`` commands (``alter <element> <param>=<value>``) and remember them."""
        self._activate()
        self._send(commands)
        for cmd in commands:
            self._state[cmd.split("=", 1)[0]] = cmd

    def set_conductances(self, conductances: Mapping[str, np.ndarray]) -> None:
        """Set every resistor of every network copy to 1/G (G in S)."""
        self.alter(alter_commands(self.chip, self.top, conductances=conductances))

    def op(
        self,
        x: np.ndarray | None = None,
        target: np.ndarray | None = None,
        beta: float | None = None,
    ) -> OperatingPoint:
        """Alter inputs (feature units), targets (V) and β (S; −β on the ``neg`` copy), then ``op``."""
        self.alter(alter_commands(self.chip, self.top, x, target, beta))  # also re-activates
        phase = ", ".join(PHASE_OF_COPY[c] for c in _copies_of(self.chip, self.top))
        t0 = time.perf_counter()
        before = self.ng.last_plot
        # only what this `op` printed: PySpice keeps every line of the session, and older lines
        # (an earlier analysis' "Transient op finished successfully") say nothing about this one
        n_out, n_err = len(getattr(self.ng, "_stdout", [])), len(getattr(self.ng, "_stderr", []))

        def printed() -> str:
            return "\n".join(
                [*getattr(self.ng, "_stdout", [])[n_out:], *getattr(self.ng, "_stderr", [])[n_err:]]
            )

        try:
            out = self.ng.exec_command("op")
        except Exception as exc:
            raise NgspiceError(
                f"ngspice found no operating point for phase {phase} of {self.where}; "
                f"{describe_failure(printed())}"
            ) from exc
        dt = time.perf_counter() - t0
        name = self.ng.last_plot
        if name == before or not name.startswith("op"):
            raise NgspiceError(
                f"ngspice found no operating point for phase {phase} of {self.where}; "
                f"{describe_failure(printed() or out)}"
            )
        plot = self.ng.plot(None, name)
        raw = {k.lower(): float(np.asarray(v._data).real[0]) for k, v in plot.items()}
        self.ng.exec_command("destroy all")
        try:
            copies = _to_ir(self.chip, self.top, raw)
        except KeyError as exc:
            raise NgspiceError(f"ngspice op of {self.where} ({phase}) has no vector {exc}") from None
        return OperatingPoint(copies=copies, raw=raw, seconds=dt, top=self.top)


def node_vector(chip: Chip, voltages: Mapping[str, float]) -> np.ndarray:
    """Voltages (V) of ``chip.free_nodes`` in order, from a node → V dict."""
    return np.array([voltages[n] for n in chip.free_nodes])


__all__ += ["read_netlist_dir", "alter_commands", "node_vector", "resistor_param"]
