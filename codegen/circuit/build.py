"""The pass Chip IR → :class:`~codegen.circuit.ir.Circuit`: every element named once (names from
:mod:`codegen.circuit.names`), with its nodes and parameter values."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..ir import Chip
from . import names as nm
from .ir import Circuit, Copy, Element, Subckt, Top

__all__ = ["build_circuit", "TOPS"]

#: the top levels every dialect renders
TOPS = ("free", "nudged", "simultaneous")
#: a crossbar with more ports (rows + columns) than this is split into tiles of at most
#: TILE × TILE cells, each its own subcircuit.  ngspice's subcircuit expansion looks every node of
#: every line up in the list of the subcircuit's ports, so its time grows as lines × ports: a
#: 100×1570 crossbar as one subcircuit took 16 s of a 22 s load (docs/netlists.md)
TILE_PORTS = 256
TILE = 128


def _unique(seq: list[str]) -> list[str]:
    return list(dict.fromkeys(seq))


def build_circuit(
    chip: Chip,
    conductances: Mapping[str, np.ndarray] | None = None,
    params_source: str = "",
    memristor: bool = False,
) -> Circuit:
    """The element-level circuit of ``chip``.

    ``conductances``: crossbar → (rows, cols) array (S); default the chip's initial conductances.
    ``params_source``: one line saying where they come from (written into the files' headers).
    ``memristor``: crossbar cells as Verilog-A memristors (g0 = G in S) instead of resistors (1/G Ω).
    """
    g = conductances if conductances is not None else chip.initial_conductances()
    params: list[tuple[str, float]] = []
    crossbars = []
    ic = chip.interconnect
    for xb in chip.crossbars:
        arr = np.asarray(g[xb.name], dtype=float)
        if arr.shape != xb.shape:
            raise ValueError(f"conductances of {xb.name}: shape {arr.shape}, expected {xb.shape}")
        cells: list[Element] = []
        # the cell's ends: its line nodes (the src / dst nodes themselves with ideal wires)
        col_at, row_at = ic.cell_nodes(xb)
        for r in range(len(xb.dst_nodes)):
            for c in range(len(xb.src_nodes)):
                src, dst = col_at[r][c], row_at[r][c]
                g_S = float(arr[r, c])
                params.append((nm.resistor_param(xb.name, r, c), g_S))
                if memristor:
                    cells.append(
                        Element(
                            nm.cell_memristor(r, c),
                            "memristor",
                            (src, dst),  # p = column node, n = row node: V(p, n) is the EP drop
                            {
                                "model": nm.MEMRISTOR_MODEL,
                                "module": nm.MEMRISTOR_MODULE,
                                "g0": g_S,
                                "cell": (r, c),
                            },
                        )
                    )
                else:
                    cells.append(
                        Element(
                            nm.cell_resistor(r, c),
                            "resistor",
                            (dst, src),
                            {"r": 1.0 / g_S, "g": g_S, "cell": (r, c)},
                        )
                    )
        about: dict[str, object] = {"xbar": xb.name, "kind": xb.kind}
        segs = ic.segments(xb)
        if segs:  # wire segments (Ω) and wire-node capacitors (F), codegen.ir.InterconnectIR
            cells += [
                Element(nm.wire_resistor(w.name), "resistor", (w.a, w.b), {"r": w.r_ohm, "g": 1.0 / w.r_ohm})
                for w in segs
            ]
            if ic.c_segment_F:
                cells += [
                    Element(nm.wire_capacitor(w.b), "capacitor", (w.b, "0"), {"c": ic.c_segment_F})
                    for w in segs
                ]
            about["wire_nodes"] = tuple(w.b for w in segs)
        ports = (*xb.src_nodes, *xb.dst_nodes)
        # a wired crossbar is not tiled: its line segments run across tile boundaries (docs/wires.md)
        if segs or len(ports) <= TILE_PORTS:
            crossbars.append(Subckt(xb.name, ports, tuple(cells), "crossbar", about))
            continue
        tiles: list[Subckt] = []
        rows, cols = xb.shape
        for r0 in range(0, rows, TILE):
            for c0 in range(0, cols, TILE):
                r1, c1 = min(r0 + TILE, rows), min(c0 + TILE, cols)
                tile = [e for e in cells if r0 <= e.params["cell"][0] < r1 and c0 <= e.params["cell"][1] < c1]
                tiles.append(
                    Subckt(
                        nm.crossbar_tile(xb.name, r0 // TILE, c0 // TILE),
                        (*xb.src_nodes[c0:c1], *xb.dst_nodes[r0:r1]),
                        tuple(tile),
                        "tile",
                        {**about, "rows": (r0, r1 - 1), "cols": (c0, c1 - 1)},
                    )
                )
        insts = tuple(Element(nm.tile_inst(s.name), "instance", s.ports, {"master": s.name}) for s in tiles)
        crossbars.append(Subckt(xb.name, ports, insts, "crossbar", {**about, "tiles": tuple(tiles)}))
    neurons = []
    for layer in chip.layers:
        if layer.neuron is None:
            continue
        diodes = []
        for node in layer.nodes:
            hi, lo = nm.clamp_diodes(node)
            diodes.append(Element(hi, "diode", (node, "nrn_hi"), {"model": nm.DIODE_MODEL}))
            diodes.append(Element(lo, "diode", ("nrn_lo", node), {"model": nm.DIODE_MODEL}))
        neurons.append(
            Subckt(
                nm.neuron_subckt(layer.index),
                (*layer.nodes, "nrn_hi", "nrn_lo"),
                tuple(diodes),
                "neuron",
                {"layer": layer.index},
            )
        )
    src_nodes = [s.node for s in chip.sources]
    dynamic = _unique(list(chip.free_nodes) + [a.out_node for a in chip.amplifiers])
    net_ports = tuple(_unique(src_nodes + dynamic))
    net_elements: list[Element] = []
    for a in chip.amplifiers:
        e, v, f = nm.amplifier_elements(a.name)
        sense = nm.amplifier_sense_node(a.out_node)
        net_elements += [
            Element(e, "vcvs", (sense, "0", a.in_node, "0"), {"gain": a.gain}),
            Element(v, "vsource", (sense, a.out_node), {"dc": 0.0, "amplifier": a.name}),
            Element(f, "cccs", (a.in_node, "0"), {"control": v, "gain": 1.0 / a.gain}),
        ]
    for sub in crossbars:
        net_elements.append(Element(nm.crossbar_inst(sub.name), "instance", sub.ports, {"master": sub.name}))
    for sub in neurons:
        net_elements.append(
            Element(nm.neuron_inst(sub.about["layer"]), "instance", sub.ports, {"master": sub.name})
        )
    if ic.c_node_F:  # c_node (F) on every input, neuron and output node
        net_elements += [
            Element(nm.node_capacitor(n), "capacitor", (n, "0"), {"c": ic.c_node_F})
            for layer in chip.layers
            for n in layer.nodes
        ]
    network = Subckt(nm.network_subckt(chip.name), net_ports, tuple(net_elements), "network")
    sources = tuple(
        Element(
            s.name,
            "vsource",
            (s.node, "0"),
            {"dc": 0.0 if s.kind == "input" else s.value_V, "source": s.kind},
        )
        for s in chip.sources
    )

    def make_copy(name: str, beta: float | None, single: bool) -> Copy:
        suffix = "" if single else nm.COPY_SUFFIX[name]
        m = {n: n + suffix for n in dynamic}
        nudges = []
        if beta is not None:
            for j, (p, n) in enumerate(chip.nudge.outputs):
                vt, gn = nm.nudge_elements(j, suffix)
                ref = nm.nudge_ref_node(j, suffix)
                minus = m[n] if n is not None else "0"
                nudges.append(
                    (
                        Element(vt, "vsource", (ref, minus), {"dc": 0.0, "output": j}),
                        Element(gn, "vccs", (minus, m[p], ref, m[p]), {"gain": beta, "output": j}),
                    )
                )
        inst = Element(
            nm.copy_inst(suffix), "instance", tuple(m.get(n, n) for n in net_ports), {"master": network.name}
        )
        return Copy(name, suffix, inst, beta, tuple(nudges))

    beta = chip.nudge.beta_S
    simultaneous = [make_copy("free", None, False), make_copy("pos", beta, False)]
    if chip.nudge.centered:
        simultaneous.append(make_copy("neg", -beta, False))
    sim = chip.simulation
    d = next((layer.neuron.diode for layer in chip.layers if layer.neuron is not None), None)
    return Circuit(
        chip=chip.name,
        title=f"{chip.name}: {chip.description}".strip().rstrip(":"),
        params_source=params_source,
        diode=(
            {"model": nm.DIODE_MODEL, "is": d.is_A, "n": d.n, "temp": d.temperature_C}
            if d is not None
            else {}
        ),
        options={
            "reltol": sim.reltol,
            "vntol": sim.vntol_V,
            "abstol": sim.abstol_A,
            "gmin": sim.gmin_S,
            "itl1": max(100, sim.max_newton_iterations),
            "temp": d.temperature_C if d is not None else 27.0,
        },
        params=tuple(params),
        crossbars=tuple(crossbars),
        neurons=tuple(neurons),
        network=network,
        sources=sources,
        tops={
            "free": Top("free", (make_copy("free", None, True),)),
            "nudged": Top("nudged", (make_copy("pos", beta, True),)),
            "simultaneous": Top("simultaneous", tuple(simultaneous)),
        },
        shared_nodes=tuple(_unique(src_nodes)),
        dynamic_nodes=tuple(dynamic),
        memristor=memristor,
        memristor_model=nm.MEMRISTOR_MODEL if memristor else "",
    )
