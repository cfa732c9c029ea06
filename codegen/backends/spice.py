"""Backends ``spice`` (ngspice), ``spectre`` and ``xyce``: the chip as a netlist, one context, three dialects.

The circuit follows :mod:`codegen.ir` exactly; :func:`netlist_context` builds it once from the IR and
each dialect's templates (``templates/<dialect>/*.j2``) only spell it.  Files per dialect:

* ``cells``: the diode ``.model``, one subcircuit per crossbar (``W01``, ``B1`` …, one resistor
  ``R<row>_<col>`` per cell whose value is written as a number, ``1/g_<xbar>_<row>_<col>`` in Ω),
  one per neuron layer (``NRN1`` …,
  diodes ``DHI_<node>`` / ``DLO_<node>``) and the whole network ``<chip>_net`` (crossbars, neurons
  and bidirectional amplifiers ``E_<amp>`` + 0 V sense ``V_<amp>`` + ``F_<amp>``).
* ``params``: a listing for designers, one parameter ``g_<xbar>_<row>_<col>`` (S) per conductance
  (the chip's initial conductances, or ``options.conductances``: ``codegen build --conductances
  FILE``, whose file name and sha256 then head the file).  No deck includes it: ngspice's parse of
  thousands of ``.param`` lines is superlinear (a 256×100×10 deck: 238 s instead of 0.39 s,
  docs/netlists.md), so ``cells`` carries the same values as numbers; every copy of the network
  instantiates the same crossbar subcircuits and so shares them.
* ``free``: sources + one network copy, no nudging (output switches open).
* ``nudged``: the same plus, per output, a target source ``VTGT<j>`` (V(tref) = V(out−) + t) and a
  VCCS ``GNUDGE<j>`` of gain β driving ``β·(t − y)`` into ``out<j>p`` (and out of ``out<j>n``).
* ``memristor`` (ngspice; Spectre with ``ahdl_include`` of the ``.va``): the free circuit with every resistor replaced by a Verilog-A
  ``eqp_memristor`` instance ``N<row>_<col>`` (p = column, n = row, ``g0`` = the cell's
  conductance in S, as a number), loaded with ``pre_osdi ../veriloga/eqp_memristor.osdi``; for transient programming.
* ``simultaneous`` (docs/background.md §2): copies of the network that share the input/bias/neuron sources and
  the conductance parameters and are solved in one operating point: the free copy (IR node names),
  the +β copy (nodes ``<node>__pos``) and with centered nudging the −β copy (``<node>__neg``).

A runner changes inputs (``alter VIN0P dc=…``), targets (``VTGT0 dc``), β (``GNUDGE0 gain``) and
conductances (the resistors' ``resistance``) in place; see :mod:`codegen.run.ngspice`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..ir import Chip
from ..templating import render
from . import Backend, BuildOptions, register

__all__ = [
    "NetlistContext",
    "netlist_context",
    "build_context",
    "COPY_SUFFIX",
    "copy_node",
    "resistor_param",
    "SpiceBackend",
    "format_spice_files",
    "SpectreBackend",
    "XyceBackend",
]

#: node suffix of each network copy in the simultaneous netlist (the free copy keeps the IR names)
COPY_SUFFIX = {"free": "", "pos": "__pos", "neg": "__neg"}
DIODE_MODEL = "dnrn"
MEMRISTOR_MODEL = "mem"
#: the veriloga backend's OSDI build of eqp_memristor, relative to the spice/ folder
OSDI_PATH = "../veriloga/eqp_memristor.osdi"
#: the veriloga backend's source of eqp_memristor, relative to the spectre/ folder (ahdl_include)
VA_PATH = "../veriloga/eqp_memristor.va"


def copy_node(node: str, copy: str) -> str:
    """Name of IR node ``node`` in network copy ``copy`` (``free``/``pos``/``neg``)."""
    return node + COPY_SUFFIX[copy]


def resistor_param(xbar: str, row: int, col: int) -> str:
    """Name of the conductance parameter (S) of cell (row, col) of crossbar ``xbar``."""
    return f"g_{xbar}_{row}_{col}"


@dataclass
class Copy:
    """One network instance in a top level: its subckt instance, port nodes and nudging (β in S)."""

    name: str  # free / pos / neg
    inst: str
    ports: list[str]
    beta_S: float | None  # None: no nudging elements in this copy
    nudges: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class NetlistContext:
    """Everything the netlist templates read (built once from the IR; dialects only spell it)."""

    chip: str
    title: str
    diode: dict[str, Any]
    options: dict[str, Any]
    params: list[tuple[str, float]]
    #: where ``params`` come from when not the seeded initial conductances (a comment line), else ""
    params_source: str
    crossbars: list[dict[str, Any]]
    neurons: list[dict[str, Any]]
    amplifiers: list[dict[str, Any]]
    #: capacitors (F) from input, neuron and output nodes to ground (interconnect.c_node; [] if 0)
    node_caps: list[dict[str, Any]]
    net_subckt: str
    net_ports: list[str]
    sources: list[dict[str, Any]]
    tops: dict[str, list[Copy]]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def element_count(self, top: str) -> int:
        """Primitive elements (R, D, E, V, F, G) of top level ``top`` after flattening."""
        per_net = (
            sum(len(xb["resistors"]) + len(xb["wires"]) + len(xb["caps"]) for xb in self.crossbars)
            + len(self.node_caps)
            + sum(len(n["diodes"]) for n in self.neurons)
            + 3 * len(self.amplifiers)
        )
        copies = self.tops[top]
        return len(self.sources) + len(copies) * per_net + sum(2 * len(c.nudges) for c in copies)


def _unique(seq: list[str]) -> list[str]:
    return list(dict.fromkeys(seq))


def netlist_context(
    chip: Chip, conductances: dict[str, np.ndarray] | None = None, params_source: str = ""
) -> NetlistContext:
    """Build the dialect-independent netlist description of ``chip``.

    ``conductances``: dict crossbar → (rows, cols) array (S); default the chip's initial conductances.
    ``params_source``: one line saying where they come from (written into the params files).
    """
    g = conductances if conductances is not None else chip.initial_conductances()
    params: list[tuple[str, float]] = []
    crossbars = []
    ic = chip.interconnect
    for xb in chip.crossbars:
        arr = np.asarray(g[xb.name], dtype=float)
        if arr.shape != xb.shape:
            raise ValueError(f"conductances of {xb.name}: shape {arr.shape}, expected {xb.shape}")
        resistors = []
        # the memristor's ends: the line nodes at its cell (the src / dst nodes with ideal wires)
        col_at, row_at = ic.cell_nodes(xb)
        for r in range(len(xb.dst_nodes)):
            for c in range(len(xb.src_nodes)):
                p = resistor_param(xb.name, r, c)
                g_S = float(arr[r, c])
                params.append((p, g_S))
                resistors.append(
                    {
                        "name": f"R{r}_{c}",
                        "row": row_at[r][c],
                        "col": col_at[r][c],
                        "param": p,
                        "g": g_S,
                        "r": 1.0 / g_S,
                    }
                )
        segs = ic.segments(xb)
        crossbars.append(
            {
                "name": xb.name,
                "subckt": xb.name,
                "inst": f"X{xb.name}",
                "kind": xb.kind,
                "ports": list(xb.src_nodes) + list(xb.dst_nodes),
                "resistors": resistors,
                # wire segments R<segment> (Ω) and wire-node capacitors C<node> (F), codegen.ir.InterconnectIR
                "wires": [{"name": f"R{w.name}", "a": w.a, "b": w.b, "r": w.r_ohm} for w in segs],
                "caps": (
                    [{"name": f"C{w.b}", "node": w.b, "c": ic.c_segment_F} for w in segs]
                    if ic.c_segment_F
                    else []
                ),
            }
        )
    neurons = []
    for layer in chip.layers:
        if layer.neuron is None:
            continue
        neurons.append(
            {
                "subckt": f"NRN{layer.index}",
                "inst": f"XNRN{layer.index}",
                "layer": layer.index,
                "ports": [*layer.nodes, "nrn_hi", "nrn_lo"],
                "diodes": [
                    d
                    for node in layer.nodes
                    for d in (
                        {"name": f"DHI_{node}", "anode": node, "cathode": "nrn_hi"},
                        {"name": f"DLO_{node}", "anode": "nrn_lo", "cathode": node},
                    )
                ],
            }
        )
    amplifiers = [
        {
            "name": a.name,
            "e": f"E_{a.name}",
            "v": f"V_{a.name}",
            "f": f"F_{a.name}",
            "in": a.in_node,
            "out": a.out_node,
            "sense": f"{a.out_node}_s",
            "gain": a.gain,
            "inv_gain": 1.0 / a.gain,
        }
        for a in chip.amplifiers
    ]
    src_nodes = [s.node for s in chip.sources]
    dynamic = _unique(list(chip.free_nodes) + [a.out_node for a in chip.amplifiers])
    net_ports = _unique(src_nodes + dynamic)
    # c_node (F) on every input, neuron and output node
    node_caps = (
        [{"name": f"C_{n}", "node": n, "c": ic.c_node_F} for layer in chip.layers for n in layer.nodes]
        if ic.c_node_F
        else []
    )
    sources = [
        {
            "name": s.name,
            "node": s.node,
            "kind": s.kind,
            "value": 0.0 if s.kind == "input" else s.value_V,
        }
        for s in chip.sources
    ]

    def make_copy(name: str, beta: float | None, single: bool) -> Copy:
        suffix = "" if single else COPY_SUFFIX[name]
        m = {n: n + suffix for n in dynamic}
        c = Copy(
            name=name,
            inst=f"XNET{suffix.upper()}",
            ports=[m.get(n, n) for n in net_ports],
            beta_S=beta,
        )
        if beta is not None:
            for j, (p, n) in enumerate(chip.nudge.outputs):
                c.nudges.append(
                    {
                        "g": f"GNUDGE{j}{suffix.upper()}",
                        "v": f"VTGT{j}{suffix.upper()}",
                        "plus": m[p],
                        "minus": m[n] if n is not None else "0",
                        "ref": f"tref{j}{suffix}",
                        "target": 0.0,
                    }
                )
        return c

    beta = chip.nudge.beta_S
    simultaneous = [make_copy("free", None, False), make_copy("pos", beta, False)]
    if chip.nudge.centered:
        simultaneous.append(make_copy("neg", -beta, False))
    sim = chip.simulation
    d = next((layer.neuron.diode for layer in chip.layers if layer.neuron is not None), None)
    return NetlistContext(
        chip=chip.name,
        title=f"{chip.name}: {chip.description}".strip().rstrip(":"),
        diode=(
            {"model": DIODE_MODEL, "is": d.is_A, "n": d.n, "temp": d.temperature_C} if d is not None else {}
        ),
        options={
            "reltol": sim.reltol,
            "vntol": sim.vntol_V,
            "abstol": sim.abstol_A,
            "gmin": sim.gmin_S,
            "itl1": max(100, sim.max_newton_iterations),
            "temp": d.temperature_C if d is not None else 27.0,
        },
        params=params,
        params_source=params_source,
        crossbars=crossbars,
        neurons=neurons,
        amplifiers=amplifiers,
        node_caps=node_caps,
        net_subckt=f"{chip.name}_net",
        net_ports=net_ports,
        sources=sources,
        tops={
            "free": [make_copy("free", None, True)],
            "nudged": [make_copy("pos", beta, True)],
            "simultaneous": simultaneous,
        },
    )


def build_context(chip: Chip, options: BuildOptions) -> NetlistContext:
    """:func:`netlist_context` at the conductances of the build (:func:`chip_conductances`)."""
    from ..model.conductances import chip_conductances

    cs = options.conductances
    source = "" if cs is None else f"from conductance file {cs.name} (sha256 {cs.sha256})"
    return netlist_context(chip, chip_conductances(chip, options), source)


TOPS = ("free", "nudged", "simultaneous")


def _render_dialect(dialect: str, ext: str, ctx: NetlistContext) -> dict[str, str | bytes]:
    base = {**ctx.as_dict(), "memristor": False}
    files: dict[str, str | bytes] = {
        f"{dialect}/cells.{ext}": render(f"{dialect}/cells.{ext}.j2", **base),
        f"{dialect}/params.{ext}": render(f"{dialect}/params.{ext}.j2", **base),
    }
    for top in TOPS:
        files[f"{dialect}/{top}.{ext}"] = render(
            f"{dialect}/top.{ext}.j2", **base, top=top, copies=ctx.tops[top]
        )
    return files


@register
class SpiceBackend(Backend):
    name = "spice"
    summary = (
        "spice/: ngspice netlists (crossbar/neuron subckts, free, nudged, simultaneous tops, .spiceinit)"
    )

    def render(self, chip: Chip, options: BuildOptions) -> dict[str, str | bytes]:
        return dict(format_spice_files(build_context(chip, options)))


def format_spice_files(ctx: NetlistContext) -> dict[str, str]:
    """The ``spice`` backend's files (``spice/<name>``) for one netlist context."""
    files: dict[str, str] = {k: str(v) for k, v in _render_dialect("spice", "sp", ctx).items()}
    # ngspice reads .spiceinit from the folder it runs in (docs/veriloga.md: 8 threads on 2 cores
    # made OSDI transients 15-20x slower)
    files["spice/.spiceinit"] = "* ngspice start-up for these netlists\nset num_threads=1\n"
    # variant: the weights as Verilog-A memristors (backend veriloga), for transient programming
    mem = {**ctx.as_dict(), "memristor": True, "memristor_model": MEMRISTOR_MODEL, "osdi_path": OSDI_PATH}
    files["spice/memristor_cells.sp"] = render("spice/cells.sp.j2", **mem)
    files["spice/memristor.sp"] = render("spice/top.sp.j2", **mem, top="free", copies=ctx.tops["free"])
    return files


@register
class SpectreBackend(Backend):
    name = "spectre"
    summary = "spectre/: the same netlists in Spectre syntax, memristor variant via ahdl_include (no simulator here)"

    def render(self, chip: Chip, options: BuildOptions) -> dict[str, str | bytes]:
        ctx = build_context(chip, options)
        files = _render_dialect("spectre", "scs", ctx)
        # variant: the weights as Verilog-A memristors, compiled by Spectre from the .va source
        mem = {**ctx.as_dict(), "memristor": True, "va_path": VA_PATH}
        files["spectre/memristor_cells.scs"] = render("spectre/cells.scs.j2", **mem)
        files["spectre/memristor.scs"] = render(
            "spectre/top.scs.j2", **mem, top="free", copies=ctx.tops["free"]
        )
        return files


@register
class XyceBackend(Backend):
    name = "xyce"
    summary = "xyce/: the same netlists in Xyce syntax (templated; no simulator here)"

    def render(self, chip: Chip, options: BuildOptions) -> dict[str, str | bytes]:
        return _render_dialect("xyce", "cir", build_context(chip, options))
