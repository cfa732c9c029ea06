"""Minimal, private ngspice netlist of a chip's free phase, for the equilibrium benchmark only.

To be replaced by the real netlist backend (``codegen/backends/spice.py``) once merged; this one
writes exactly the golden model's circuit from the IR: resistors ``1/G`` per crossbar cell, clamp
diodes (``IS``, ``N``; ``.temp = tnom`` = the IR's temperature; ``gmin`` from the IR), amplifiers as
``E`` (VCVS, output through a 0 V sense source) plus ``F`` (CCCS of gain ``1/A^d`` drawing the sensed
output current from the input node), and DC voltage sources.
"""

from __future__ import annotations

import numpy as np

from codegen.ir import Chip


def _f(x: float) -> str:
    return repr(float(x))


def netlist(
    chip: Chip, conductances: dict[str, np.ndarray], u: np.ndarray, fixed_nodes: tuple[str, ...]
) -> str:
    """ngspice deck (str) for one sample: source-node voltages ``u`` (V) in ``fixed_nodes`` order."""
    sim = chip.simulation
    lines = [f"* {chip.name}: free phase (bench/_netlist.py)"]
    nrn = next((la.neuron for la in chip.layers if la.neuron is not None), None)
    if nrn is not None:
        d = nrn.diode
        lines.append(f".model dclamp d(is={_f(d.is_A)} n={_f(d.n)})")
        lines.append(f".temp {_f(d.temperature_C)}")
    lines.append(
        f".options klu gmin={_f(sim.gmin_S)} reltol={_f(sim.reltol)} vntol={_f(sim.vntol_V)} "
        f"abstol={_f(sim.abstol_A)} itl1=500"
        + (f" tnom={_f(nrn.diode.temperature_C)}" if nrn is not None else "")
    )
    for node, val in zip(fixed_nodes, u, strict=True):
        lines.append(f"V{node} {node} 0 dc {_f(val)}")
    for a in chip.amplifiers:
        lines.append(f"E{a.name} {a.out_node}_int 0 {a.in_node} 0 {_f(a.gain)}")
        lines.append(f"Vs{a.name} {a.out_node}_int {a.out_node} dc 0")
        lines.append(f"F{a.name} {a.in_node} 0 Vs{a.name} {_f(1.0 / a.gain)}")
    for xb in chip.crossbars:
        g = conductances[xb.name]
        for r, dst in enumerate(xb.dst_nodes):
            for c, src in enumerate(xb.src_nodes):
                lines.append(f"R{xb.name}_{r}_{c} {src} {dst} {_f(1.0 / g[r, c])}")
    for la in chip.layers[1:]:
        if la.neuron is None:
            continue
        for node in la.nodes:
            lines.append(f"Dhi_{node} {node} nrn_hi dclamp")
            lines.append(f"Dlo_{node} nrn_lo {node} dclamp")
    lines += [".op", ".end", ""]
    return "\n".join(lines)
