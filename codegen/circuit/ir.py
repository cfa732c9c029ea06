"""The element-level circuit IR: every element named once, with its nodes and parameter values.

A :class:`Circuit` is what every netlist dialect renders (``templates/<dialect>/``) and what the
runners take element and node names from.  It is built from the Chip IR by one pass,
:func:`codegen.circuit.build.build_circuit`.

Adding an element type is an entry in :data:`KINDS` (its SPICE letter and node count) plus one
line per dialect in that dialect's ``elements`` macro file; the pass then appends
``Element(name, kind, nodes, params)`` wherever it belongs (a subcircuit's ``elements`` or a top
level's ``extra``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["KINDS", "Element", "Subckt", "Copy", "Top", "Circuit"]

#: element kind → (SPICE instance letter, number of nodes, parameters it carries (units))
KINDS: dict[str, tuple[str, int, str]] = {
    "resistor": ("R", 2, "r (Ω), g (S)"),
    "capacitor": ("C", 2, "c (F)"),
    "memristor": ("N", 2, "model, module, g0 (S)"),
    "diode": ("D", 2, "model"),
    "vsource": ("V", 2, "dc (V)"),
    "vcvs": ("E", 4, "gain (1)"),
    "cccs": ("F", 2, "control (element name), gain (1)"),
    "vccs": ("G", 4, "gain (S)"),
    "instance": ("X", -1, "master (subcircuit name)"),
}


@dataclass(frozen=True)
class Element:
    """One netlist element: ``name`` as written in every dialect, ``kind`` (a key of
    :data:`KINDS`), its ``nodes`` in the dialect-independent order (resistor: a b; diode: anode
    cathode; sources and controlled sources: out+ out− [ctrl+ ctrl−]; instance: its ports) and
    ``params`` (values in the units of :data:`KINDS`)."""

    name: str
    kind: str
    nodes: tuple[str, ...]
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        letter, n, _ = KINDS[self.kind]
        if n >= 0 and len(self.nodes) != n:
            raise ValueError(f"{self.kind} {self.name}: {len(self.nodes)} nodes, expected {n}")


@dataclass(frozen=True)
class Subckt:
    """A subcircuit: ``role`` ``crossbar`` / ``tile`` / ``neuron`` / ``network``; ``about`` what
    the templates' comments say of it (crossbar: ``xbar``, ``kind`` and, for a large one, its
    ``tiles``: subcircuits of at most 128 × 128 cells that it instantiates; tile: ``rows``,
    ``cols`` (first, last); neuron: ``layer``)."""

    name: str
    ports: tuple[str, ...]
    elements: tuple[Element, ...]
    role: str
    about: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Copy:
    """One instance of the network in a top level.

    ``name``: ``free`` / ``pos`` / ``neg``; ``suffix``: what its dynamic nodes carry (``""`` in a
    top level with one copy); ``instance``: the network instance; ``nudges``: per output
    ``(target vsource, nudging vccs)``; ``beta_S``: the VCCS gain (S), None without nudging."""

    name: str
    suffix: str
    instance: Element
    beta_S: float | None
    nudges: tuple[tuple[Element, Element], ...] = ()

    @property
    def elements(self) -> tuple[Element, ...]:
        """The copy's elements in netlist order: the instance, then each target and VCCS."""
        return (self.instance, *(e for pair in self.nudges for e in pair))


@dataclass(frozen=True)
class Top:
    """A top level (``free``, ``nudged``, ``simultaneous``): shared sources, then its copies."""

    name: str
    copies: tuple[Copy, ...]

    def copy(self, name: str) -> Copy:
        for c in self.copies:
            if c.name == name:
                return c
        raise KeyError(f"top level {self.name} has no network copy {name!r}")


@dataclass(frozen=True)
class Circuit:
    """The chip as elements (see the module docstring); ``memristor``: the crossbar cells are
    Verilog-A memristors (``N<row>_<col>``) instead of resistors."""

    chip: str
    title: str
    params_source: str
    diode: Mapping[str, Any]
    options: Mapping[str, Any]
    params: tuple[tuple[str, float], ...]
    crossbars: tuple[Subckt, ...]
    neurons: tuple[Subckt, ...]
    network: Subckt
    sources: tuple[Element, ...]
    tops: Mapping[str, Top]
    #: IR nodes driven by sources (the same in every copy) and the dynamic ones (per copy)
    shared_nodes: tuple[str, ...]
    dynamic_nodes: tuple[str, ...]
    memristor: bool = False
    memristor_model: str = ""

    # ------------------------------------------------------------------ queries
    def top(self, name: str) -> Top:
        """Top level ``name``; ``memristor`` is the free one with memristor cells."""
        return self.tops["free" if name == "memristor" else name]

    def copies_of(self, top: str) -> list[str]:
        """Network copies of top level ``top`` (``free``, ``pos``, ``neg``)."""
        return [c.name for c in self.top(top).copies]

    def node(self, top: str, copy: str, node: str) -> str:
        """Netlist name of IR node ``node`` in copy ``copy`` of top level ``top``."""
        if node in self._shared:
            return node
        return node + self.top(top).copy(copy).suffix

    @property
    def _shared(self) -> frozenset[str]:
        return frozenset(self.shared_nodes)

    @property
    def has_capacitors(self) -> bool:
        """Some element is a capacitor (interconnect capacitance): VACASK must load its model."""
        return any(e.kind == "capacitor" for s in (*self.crossbars, self.network) for e in s.elements)

    def crossbar(self, xbar: str) -> Subckt:
        for s in self.crossbars:
            if s.about["xbar"] == xbar:
                return s
        raise KeyError(f"no crossbar {xbar!r}")

    def crossbar_inst(self, xbar: str) -> Element:
        """The instance of crossbar ``xbar`` in the network subcircuit."""
        master = self.crossbar(xbar).name
        return next(e for e in self.network.elements if e.kind == "instance" and e.params["master"] == master)

    def cell_elements(self, xbar: str) -> dict[tuple[int, int], tuple[str, ...]]:
        """(row, col) → path from the crossbar instance to the cell element of crossbar ``xbar``
        (crossbar instance, [tile instance,] element name)."""
        sub = self.crossbar(xbar)
        tiles = {s.name: s for s in sub.about.get("tiles", ())}
        inst = self.crossbar_inst(xbar).name
        out: dict[tuple[int, int], tuple[str, ...]] = {}
        for e in sub.elements:
            if e.kind == "instance":
                for cell in tiles[e.params["master"]].elements:
                    out[cell.params["cell"]] = (inst, e.name, cell.name)
            elif "cell" in e.params:  # not the wire segments and capacitors of a wired crossbar
                out[e.params["cell"]] = (inst, e.name)
        return out

    def cell_paths(self, top: str, xbar: str) -> dict[str, list[list[tuple[str, ...]]]]:
        """Per copy of ``top``, per (row, col) of crossbar ``xbar``: the instance path to its cell
        element (network instance, crossbar instance, [tile instance,] element name)."""
        grid = self.cell_elements(xbar)
        n_rows = 1 + max(r for r, _ in grid)
        n_cols = 1 + max(c for _, c in grid)
        return {
            c.name: [[(c.instance.name, *grid[r, k]) for k in range(n_cols)] for r in range(n_rows)]
            for c in self.top(top).copies
        }

    def wire_node_paths(self, top: str) -> dict[str, list[tuple[str, str, str]]]:
        """Per copy of ``top``: (network instance, crossbar instance, node) of every wire node
        (internal nodes of the crossbar subcircuits; none with ideal wires).  A crossbar with wire
        segments is never split into tiles (:func:`codegen.circuit.build.build_circuit`), so its wire
        nodes sit directly in the crossbar subcircuit: the path has no tile instance."""
        out: dict[str, list[tuple[str, str, str]]] = {}
        for cp in self.top(top).copies:
            out[cp.name] = [
                (cp.instance.name, self.crossbar_inst(sub.about["xbar"]).name, n)
                for sub in self.crossbars
                for n in sub.about.get("wire_nodes", ())
            ]
        return out

    def amplifier_senses(self) -> dict[str, str]:
        """IR amplifier name → its 0 V sense source (inside the network subcircuit)."""
        return {
            e.params["amplifier"]: e.name
            for e in self.network.elements
            if e.kind == "vsource" and "amplifier" in e.params
        }

    def element_count(self, top: str) -> int:
        """Primitive elements (R, D, E, V, F, G) of top level ``top`` after flattening."""
        # cells, plus the wire segments and capacitors of a wired (never tiled) crossbar
        per_net = sum(
            len(self.cell_elements(s.about["xbar"]))
            + sum(1 for e in s.elements if "cell" not in e.params and e.kind != "instance")
            for s in self.crossbars
        )
        per_net += sum(len(s.elements) for s in self.neurons)
        per_net += sum(1 for e in self.network.elements if e.kind != "instance")
        copies = self.top(top).copies
        return len(self.sources) + len(copies) * per_net + sum(2 * len(c.nudges) for c in copies)
