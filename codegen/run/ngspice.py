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
import operator
import os
import time
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..circuit import Circuit, build_circuit
from ..circuit import names as nm
from ..circuit.names import resistor_param
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
#: chips whose circuit (element and node names) was built already: id → (chip, circuit)
_CIRCUITS: dict[int, tuple[Chip, Circuit]] = {}


def chip_circuit(chip: Chip) -> Circuit:
    """The element-level circuit of ``chip`` (its names; values at the initial conductances),
    built once per chip object: the runners take every element and node name from it."""
    hit = _CIRCUITS.get(id(chip))
    if hit is None or hit[0] is not chip:
        if len(_CIRCUITS) >= 8:
            _CIRCUITS.pop(next(iter(_CIRCUITS)))
        hit = _CIRCUITS[id(chip)] = (chip, build_circuit(chip))
    return hit[1]


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
        c = chip_circuit(chip)
        inst = c.top(self.top).copy(copy).instance.name
        return {a: self.raw[nm.ngspice_branch(inst, v)] for a, v in c.amplifier_senses().items()}


# --------------------------------------------------------------------------- netlists
def netlist_files(chip: Chip, conductances: Mapping[str, np.ndarray] | None = None) -> dict[str, str]:
    """The ``spice`` backend's files (without the ``spice/`` prefix), optionally at other conductances (S)."""
    from ..circuit.files import format_dialect_files

    g = None if conductances is None else dict(conductances)
    return {k.removeprefix("spice/"): v for k, v in format_dialect_files("spice", chip, g).items()}


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

    out = []
    for line in files[name].splitlines(keepends=True):
        words = line.split()
        if len(words) == 2 and words[0].lower() == ".include":
            inc = Path(words[1]).name
            if inc not in files:
                raise NgspiceError(f"{name}: included file {inc} not found")
            line = files[inc].rstrip("\n") + ("\n" if line.endswith("\n") else "")
        out.append(line)
    return "".join(out)


def _copies_of(chip: Chip, top: str) -> list[str]:
    return chip_circuit(chip).copies_of(top)


def _ir_nodes(chip: Chip) -> tuple[list[str], list[str]]:
    c = chip_circuit(chip)
    return list(c.shared_nodes), list(c.dynamic_nodes)


def _to_ir(chip: Chip, top: str, raw: Mapping[str, float]) -> dict[str, dict[str, float]]:
    c = chip_circuit(chip)
    out: dict[str, dict[str, float]] = {}
    wires = c.wire_node_paths(top)
    for copy in c.copies_of(top):
        out[copy] = {
            n: raw[nm.ngspice_vector(c.node(top, copy, n))] for n in (*c.shared_nodes, *c.dynamic_nodes)
        }
        # wire nodes (interconnect resistance): internal nodes of the crossbar subcircuits
        out[copy].update({n: raw[nm.ngspice_vector(n, net, xb)] for net, xb, n in wires[copy]})
    return out


def cell_alter_prefixes(chip: Chip, top: str, xbar: str, copies: list[str] | None = None) -> np.ndarray:
    """``alter <cell path>=`` of every cell of crossbar ``xbar`` in each network copy of ``top``
    (``copies``: those only): an object array (copies, rows, cols); append 1/G (Ω)."""
    c = chip_circuit(chip)
    paths = c.cell_paths(top, xbar)
    names = [k for k in paths if copies is None or k in copies]
    return np.array(
        [[[nm.ngspice_alter(nm.ngspice_path(*p), "") for p in row] for row in paths[k]] for k in names],
        dtype=object,
    )


def alter_commands(
    chip: Chip,
    top: str,
    x: np.ndarray | None = None,
    target: np.ndarray | None = None,
    beta: float | None = None,
    conductances: Mapping[str, np.ndarray] | None = None,
) -> list[str]:
    """ngspice ``alter`` commands that set inputs (feature units), targets (V), β (S) and conductances (S)."""
    circuit = chip_circuit(chip)
    cmds: list[str] = []
    if x is not None:
        volts = chip.source_voltages(np.asarray(x, dtype=float).reshape(-1))
        for s, v in zip(chip.input_sources(), volts, strict=True):
            cmds.append(nm.ngspice_alter(nm.ngspice_path(s.name), spice_float(float(v)), "dc"))
    tops = circuit.top(top)
    if target is not None:
        t = np.asarray(target, dtype=float).reshape(-1)
        for copy in tops.copies:
            for vt, _ in copy.nudges:
                cmds.append(
                    nm.ngspice_alter(
                        nm.ngspice_path(vt.name), spice_float(float(t[vt.params["output"]])), "dc"
                    )
                )
    if beta is not None:
        for copy in tops.copies:
            b = -beta if copy.name == "neg" else beta
            for _, gn in copy.nudges:
                cmds.append(nm.ngspice_alter(nm.ngspice_path(gn.name), spice_float(b), "gain"))
    if conductances is not None:
        for xb in chip.crossbars:
            g = np.asarray(conductances[xb.name], dtype=float)
            for rows in circuit.cell_paths(top, xb.name).values():
                for (r, c), val in np.ndenumerate(g):
                    cmds.append(
                        nm.ngspice_alter(nm.ngspice_path(*rows[r][c]), spice_float(1.0 / val), "resistance")
                    )
    return cmds


# --------------------------------------------------------------------------- batch
def parse_print_all(text: str) -> dict[str, float]:
    """Parse ngspice ``print all`` output of an operating point: ``name = value`` lines → dict.

    Lines that are not of that form (banners, notes, warnings) are skipped; names are lower-case.
    """
    out: dict[str, float] = {}
    for line in text.splitlines():
        name, eq, value = line.partition("=")
        name, value = name.strip(), value.strip()
        if not eq or not name or not value or " " in name or " " in value:
            continue
        try:
            out[name.lower()] = float(value)
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


def _load_deck(ng: object, deck: str, where: str) -> None:
    """Replace the circuit loaded in libngspice ``ng`` by ``deck`` (``where`` names it in errors)."""
    with contextlib.suppress(Exception):  # "no circuit loaded" the first time
        ng.exec_command("remcirc")  # type: ignore[attr-defined]
    ng.exec_command("destroy all")  # type: ignore[attr-defined]
    try:
        with _quiet_version_warning():
            ng.load_circuit(deck)  # type: ignore[attr-defined]
    except Exception as exc:
        raise NgspiceError(f"libngspice could not load {where}: {exc}") from exc


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
        _load_deck(self.ng, self._deck, self.where)
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


# --------------------------------------------------------------------------- batched shared mode
#: node suffix of each network copy in the simultaneous deck (shared source nodes have none)
#: value (V) of each external source per sample, plus the last sample's once more (for t = tstop)
_VSRC_TABLE: dict[bytes, list[float]] = {}


def _vsrc_callback(voltage, time_s, name, ngspice_id) -> int:
    """libngspice's ``external`` source callback: the value (V) of source ``name`` at time
    ``time_s`` (s) of a :class:`BatchSession` transient, sample ``floor(time_s)``.  ngspice calls it
    for every source at every Newton iteration: keep it to a dict and a list look-up."""
    voltage[0] = _VSRC_TABLE[name.encode()][int(time_s)]
    return 0


def _install_fast_vsrc(ng) -> None:
    """Give libngspice a leaner ``external`` source callback than PySpice's (which finds its
    object from a handle and decodes the name for every call): the same table look-up as
    :func:`_vsrc_callback`, keyed by the name's bytes.  On the digits chip ngspice calls it ~26 000
    times per batch of 10 samples (every source, every Newton iteration), ~40 % of a batch's
    Python time.  Registered once per process (``ngSpice_Init_Sync`` replaces the sync callbacks;
    PySpice's current-source callback and handle are passed on unchanged)."""
    if getattr(ng, "_eqp_fast_vsrc", None) is not None:
        return
    from PySpice.Spice.NgSpice.Shared import ffi

    table, string = _VSRC_TABLE, ffi.string

    @ffi.callback("int (double *, double, char *, int, void *)")
    def fast(voltage, time_s, name, ngspice_id, user_data):
        voltage[0] = table[string(name)][int(time_s)]
        return 0

    rc = ng._ngspice_shared.ngSpice_Init_Sync(fast, ng._get_isrc_data_c, ffi.NULL, ng._ngspice_id, ng._self_c)
    if rc:
        raise NgspiceError(f"ngSpice_Init_Sync returned {rc}")
    ng._eqp_fast_vsrc = fast  # keeps the callback alive


def _sample_of(time_s: np.ndarray, k: int) -> np.ndarray:
    """Sample index (0 … k−1) of each time point (s) of a :class:`BatchSession` transient."""
    return np.minimum(np.floor(time_s).astype(int), k - 1)


#: longest ngspice command line BatchSession sends (characters): several ``alter`` joined by ``;``
#: (measured: lines of 2 000 characters and more lose some of their commands, with "no assignment
#: found" errors)
ALTER_LINE = 900


class BatchSession:
    """Several samples per ngspice analysis: the netlist loaded once into libngspice, its input and
    target sources made ``external``, and one ``tran`` solves a whole batch.

    ``top="simultaneous"``: the phases are the deck's network copies, side by side.
    ``top="nudged"``: one network, the phases one after another: each ``GNUDGE<j>`` becomes
    ``BNUDGE<j>`` with the same current times ``V(bsel)``, and the external source ``VBSEL`` is
    0, +1, −1 in the free, +β, −β time slot of each sample (−β only with centered nudging); a third
    of the resistors to ``alter`` per update, and the nudged phases start from the free one.

    ngspice sets its matrix up again for every ``op`` (on the digits chip that costs several times
    the Newton iterations themselves); a transient sets it up once.  The circuit has no capacitor,
    inductor or charge, so every accepted time point is an operating point of the sources at that
    time: slot ``k`` drives the inputs (and targets) during ``k ≤ t < k + 1`` (t in s), the time
    step is at most 1 s, and the last point of each interval is slot ``k``'s operating point,
    converged by Newton from the previous slot's solution (vntol and abstol the deck's, reltol
    10⁴× tighter: :attr:`RELTOL_FACTOR`).  Conductance changes are written with ``alter`` for the
    cells that changed only; only the nodes asked for are read back.

    >>> b = BatchSession(chip, netlist_files(chip, g), "nudged", conductances=g)  # doctest: +SKIP
    >>> v = b.solve(x, t)        # {phase: (samples, nodes) array of V}           # doctest: +SKIP

    The deck is the backend's ``<top>.sp`` with `` external`` appended to the input and target
    source lines, ``.options itl4`` raised to the deck's ``itl1`` (iterations per time point), the
    tighter reltol and, for ``nudged``, the β selector; β is the deck's (``GNUDGE`` gains,
    ``chip.nudge.beta_S``).  Like :class:`SharedSession`, a session whose circuit another session
    replaced reloads its deck and re-alters its cells.
    """

    #: largest time step (s) of the transient.  Each slot lasts 1 s, so it gets one point or more
    #: (a step of at most 1 s cannot jump over a whole slot), and the last point of a slot is its
    #: operating point, converged by Newton from the previous slot's.  Was 0.45 s (two points or
    #: more per slot, the second polishing the first) at RELTOL_FACTOR 1e-3; one point per slot at
    #: 10× tighter reltol is as close to the golden model (digits: 3.2e-13 V either way; kiraz_case1:
    #: 1.5e-12 V, was 7e-14 V; one point at 1e-3 gave 8.6e-11 V there) in 60 % of the time on digits
    #: (228 against 380 ms per batch of 10, issue 15)
    MAX_STEP_S = 1.0
    #: reltol of the batch deck relative to the deck's own.  Newton started from the previous
    #: sample's solution stops at the first step below reltol; started from scratch (``op``) its last
    #: step is far smaller.  At the deck's reltol xor's outputs came out 2.5e-9 V from the golden
    #: model (``op``: 5e-11 V; tests/test_learn_spice.py allows 1e-9 V); 1e-4 of it, with one point
    #: per slot (MAX_STEP_S), keeps every phase within 1.5e-12 V of the golden model on the examples
    RELTOL_FACTOR = 1e-4

    def __init__(
        self,
        chip: Chip,
        files: Mapping[str, str],
        top: str = "simultaneous",
        nodes: list[str] | None = None,
        netlist_name: str | None = None,
        conductances: Mapping[str, np.ndarray] | None = None,
        reltol_factor: float | None = None,
    ):
        """``nodes``: the IR nodes to read back (default all); ``conductances``: those (S) ``files``
        were rendered with, if known (else the first :meth:`set_conductances` alters every cell);
        ``reltol_factor``: in place of :attr:`RELTOL_FACTOR`."""
        if reltol_factor is not None:
            self.RELTOL_FACTOR = reltol_factor
        if top not in ("simultaneous", "nudged"):
            raise NgspiceError(f"BatchSession runs the simultaneous or the nudged deck, not {top!r}")
        self.chip = chip
        self.top = top
        self.where = netlist_name or f"spice/{top}.sp"
        # phases side by side (simultaneous: network copies) or one after another (nudged: one
        # network, β switched per time slot by the source VBSEL): free, +β and, centered, −β
        phases = ["free", "pos", "neg"] if chip.nudge.centered else ["free", "pos"]
        slots = phases
        self.copies = _copies_of(chip, top) if top == "simultaneous" else phases
        self._slot = (
            {c: 0 for c in self.copies} if top == "simultaneous" else {c: slots.index(c) for c in phases}
        )
        self._slots = 1 if top == "simultaneous" else len(slots)
        instances = self.copies if top == "simultaneous" else ["pos"]  # network instances to alter
        circuit = self.circuit = chip_circuit(chip)
        shared, dynamic = _ir_nodes(chip)
        self.nodes = list(nodes) if nodes is not None else list(dict.fromkeys(shared + dynamic))
        # the deck's network copies (nudged: one, "pos", that plays every phase in turn)
        deck_copy = {c: c if top == "simultaneous" else "pos" for c in self.copies}
        #: vector name of each (copy, node)
        self._vec = {
            c: [nm.ngspice_vector(circuit.node(top, deck_copy[c], n)) for n in self.nodes]
            for c in self.copies
        }
        self._external = [nm.ngspice_path(s.name) for s in chip.input_sources()]
        self._targets = {
            cp.name: [nm.ngspice_path(vt.name) for vt, _ in cp.nudges]
            for cp in circuit.top(top).copies
            if cp.nudges
        }
        #: value of VBSEL per slot (nudged deck): the factor of β of each phase
        self._bsel = [{"free": 0.0, "pos": 1.0, "neg": -1.0}[c] for c in slots]
        self._deck = self._batch_deck(inline_deck(files, top), files)
        # what a fresh load of the deck holds (S), and what the circuit holds now
        self._deck_g = None if conductances is None else self._checked(conductances)
        self._g = self._deck_g
        self._alter_names = {
            xb.name: cell_alter_prefixes(chip, top, xb.name, instances) for xb in chip.crossbars
        }
        self.ng = shared_ngspice()
        # no listing of the initial transient solution (ngspice's ft_noinitprint: printing only),
        # which costs a Python callback per printed line on every batch
        self.ng.exec_command("set noinit")
        self.ng.get_vsrc_data = _vsrc_callback  # PySpice calls the instance's method
        _install_fast_vsrc(self.ng)  # ... unless libngspice calls the leaner one directly
        t0 = time.perf_counter()
        self._load()
        self.load_seconds = time.perf_counter() - t0
        self.altered = 0  # resistors re-written so far (one per changed cell and copy)

    def _batch_deck(self, deck: str, files: Mapping[str, str]) -> str:
        """The top level with the input and target sources ``external`` and, in the nudged deck,
        each nudging VCCS replaced by the same current times V(bsel) (0, +1, −1 per time slot);
        elements found by their first word, the names the circuit gives them
        (``templates/spice/batch.sp.j2`` spells the added lines)."""
        from ..templating import render

        c = self.circuit
        external = set(self._external) | {v for vs in self._targets.values() for v in vs}
        vccs = {}
        if self.top == "nudged":
            vccs = {nm.ngspice_path(g.name): g for cp in c.top("nudged").copies for _, g in cp.nudges}
        found: set[str] = set()
        out: list[str] = []
        for line in deck.split("\n"):
            head = line.split(" ", 1)[0].lower()
            if head in external:
                found.add(head)
                line += " external"
            elif head in vccs:
                found.add(head)
                line = render("spice/batch.sp.j2", part="bsource", g=vccs[head]).rstrip("\n")
            elif head == ".op":
                tail = render(
                    "spice/batch.sp.j2",
                    part="tail",
                    c=c,
                    selector=self.top == "nudged",
                    reltol=float(c.options["reltol"]) * self.RELTOL_FACTOR,
                )
                out.append(tail.rstrip("\n"))
            out.append(line)
        missing = (external | set(vccs)) - found
        if missing:
            raise NgspiceError(f"{self.where}: no line for element(s) {', '.join(sorted(missing))}")
        return "\n".join(out)

    def _load(self) -> None:
        global _ACTIVE
        _load_deck(self.ng, self._deck, self.where)
        _ACTIVE = id(self)
        if self._g is not None and self._g is not self._deck_g:
            self._write(self._deck_g, self._g)

    def _activate(self) -> None:
        if _ACTIVE != id(self):
            self._load()

    def _command(self, cmd: str) -> None:
        self.ng._error_in_stdout = self.ng._error_in_stderr = False
        self.ng._ngspice_shared.ngSpice_Command(cmd.encode("ascii"))
        if self.ng._error_in_stdout or self.ng._error_in_stderr:
            err = " ".join(self.ng._stderr[-3:])[:300]
            raise NgspiceError(f"ngspice refused `{cmd[:300]}` on {self.where}: {err}")

    def _checked(self, conductances: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        out = {xb.name: np.array(conductances[xb.name], dtype=float) for xb in self.chip.crossbars}
        for xb in self.chip.crossbars:
            if out[xb.name].shape != xb.shape:
                raise ValueError(
                    f"conductances of {xb.name}: shape {out[xb.name].shape}, expected {xb.shape}"
                )
        return out

    def _write(self, old: Mapping[str, np.ndarray] | None, new: Mapping[str, np.ndarray]) -> None:
        """``alter`` every resistor of every copy whose cell differs between ``old`` and ``new``
        (S; ``old`` None: every cell), several per ngspice command line (``;``-joined, at most
        :data:`ALTER_LINE` characters: longer lines are cut by ngspice and the rest is lost)."""
        cmds: list[str] = []
        for xb in self.chip.crossbars:
            g = new[xb.name]
            changed = np.nonzero(np.ones(g.shape, bool) if old is None else g != old[xb.name])
            if not len(changed[0]):
                continue
            values = list(map(spice_float, (1.0 / g[changed]).tolist()))  # Ω
            names = self._alter_names[xb.name]
            for copy_names in names:
                cmds += map(operator.add, copy_names[changed].tolist(), values)
            self.altered += len(values) * len(names)
        if cmds:
            lengths = np.fromiter(map(len, cmds), dtype=np.int64, count=len(cmds)) + 1  # with ";"
            # line k takes the commands that start in [k·w, (k+1)·w), w leaving room for the longest
            group = (np.cumsum(lengths) - lengths) // (ALTER_LINE - int(lengths.max()))
            cuts = [0, *(np.flatnonzero(np.diff(group)) + 1).tolist(), len(cmds)]
            for a, b in zip(cuts[:-1], cuts[1:], strict=True):
                self._command(";".join(cmds[a:b]))
        # PySpice keeps every printed line; alter prints nothing, the analyses print a little
        self.ng.clear_output()

    def set_conductances(self, conductances: Mapping[str, np.ndarray]) -> None:
        """Set the crossbars to ``conductances`` (S): only the cells that changed are altered."""
        new = self._checked(conductances)
        if _ACTIVE != id(self):
            self._g = new
            self._load()  # writes the cells that differ from the deck's
            return
        self._write(self._g, new)
        self._g = new

    def solve(self, x: np.ndarray, target: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Operating points of a batch: ``x`` (samples, inputs) in feature units, ``target``
        (samples, outputs) in V (default 0 V).  Returns, per network copy, the voltages (V) of
        ``self.nodes`` as a (samples, nodes) array."""
        x = np.atleast_2d(np.asarray(x, dtype=float))
        n_samples, slots = len(x), self._slots
        t = np.zeros((n_samples, len(self.chip.nudge.outputs))) if target is None else np.atleast_2d(target)
        # (intervals, sources): sample i // slots in interval i
        volts = np.repeat(np.array([self.chip.source_voltages(xi) for xi in x]), slots, axis=0)
        t = np.repeat(np.asarray(t, dtype=float), slots, axis=0)
        k = len(volts)
        self._activate()
        _VSRC_TABLE.clear()
        for i, name in enumerate(self._external):
            _VSRC_TABLE[name.encode()] = [*volts[:, i].tolist(), float(volts[-1, i])]
        for names in self._targets.values():
            for j, name in enumerate(names):
                _VSRC_TABLE[name.encode()] = [*t[:, j].tolist(), float(t[-1, j])]
        if self.top == "nudged":
            _VSRC_TABLE[b"vbsel"] = [*(self._bsel * n_samples), self._bsel[-1]]
        phase = ", ".join(PHASE_OF_COPY[c] for c in self.copies)
        self.ng.clear_output()
        t0 = time.perf_counter()
        try:
            self.ng.exec_command(f"tran {self.MAX_STEP_S} {k} 0 {self.MAX_STEP_S}")
            failed = not self.ng.last_plot.startswith("tran")
        except Exception:
            failed = True
        self.seconds = time.perf_counter() - t0
        if failed:
            printed = "\n".join([*self.ng._stdout, *self.ng._stderr])
            raise NgspiceError(
                f"ngspice found no operating point for phase {phase} of {self.where} (batch of "
                f"{n_samples} samples as a transient); {describe_failure(printed)}"
            )
        plot = self.ng.last_plot
        time_s = self._vector(plot, "time")
        sample = _sample_of(time_s, k)
        last = np.full(k, -1)
        last[sample] = np.arange(len(time_s))  # the last point of each sample's interval
        if (last < 0).any():
            raise NgspiceError(
                f"{self.where}: the transient has no time point for sample {int(np.argmin(last))}"
            )
        read: dict[str, np.ndarray] = {}  # the nudged deck's phases share one copy's vectors

        def vector(name: str) -> np.ndarray:
            got = read.get(name)
            if got is None:
                got = read[name] = self._vector(plot, name)
            return got

        out = {
            c: np.stack([vector(v)[last[self._slot[c] :: slots]] for v in names], axis=1)
            for c, names in self._vec.items()
        }
        self.ng.exec_command("destroy all")
        return out

    def _vector(self, plot: str, name: str) -> np.ndarray:
        from PySpice.Spice.NgSpice.Shared import ffi

        info = self.ng._ngspice_shared.ngGet_Vec_Info(f"{plot}.{name}".encode("ascii"))
        if info == ffi.NULL or info.v_realdata == ffi.NULL:
            raise NgspiceError(f"ngspice transient of {self.where} has no vector {name!r}")
        return np.frombuffer(ffi.buffer(info.v_realdata, info.v_length * 8), dtype=np.float64).copy()


__all__ += ["BatchSession"]
