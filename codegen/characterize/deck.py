"""The transient deck of one phase: the chip flattened into ngspice elements with capacitances.

Every element carries its *group* (the energy report's split): ``memristors`` (crossbar cells),
``wires`` (line segments and access resistors of ``interconnect:``), ``diodes`` (neuron clamps),
``amplifiers`` (VCVS + CCCS of each bidirectional amplifier), ``sources`` (inputs, bias, clamp
levels), ``nudging`` (the β current sources) and ``capacitance`` (line and node capacitors).

Capacitances (``interconnect.c_segment`` / ``c_node``, F): every wire node gets ``c_segment``;
without wire resistance on a line (r = 0, so no wire nodes) the line is one node and gets its
cells' ``c_segment`` summed (``cells × c_segment``); every neuron and output node gets ``c_node``
(input nodes are driven by ideal sources: a capacitor there only draws charge from the source).

Phases: ``free`` (inputs step from 0 V to their values at t = 0, no nudging elements), ``pos`` / ``neg``
(inputs constant, the nudging current ``±β·(t − y)`` switched on at t = 0 through the 0 → 1 V source
``VSW``).  Each source's ``DC`` value is its final value, so ``op`` gives the operating point the
phase settles to, while the transient starts from the ``PWL`` value at t = 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..ir import Chip

__all__ = ["Element", "PhaseDeck", "GROUPS", "PHASE_BETA_SIGN", "build_phase", "RISE_S"]

#: energy groups, in report order
GROUPS = ("memristors", "wires", "diodes", "amplifiers", "sources", "nudging", "capacitance")
#: sign of β in each phase
PHASE_BETA_SIGN = {"free": 0.0, "pos": 1.0, "neg": -1.0}
#: rise time of the input / nudge switch steps (s): short against any RC of a chip
RISE_S = 1e-15


@dataclass
class Element:
    """One ngspice element: ``line`` is its netlist text; ``group`` its energy group; ``nodes`` its
    (plus, minus) terminals; ``key`` where the golden model lists it (kind, index...)."""

    name: str
    line: str
    group: str
    nodes: tuple[str, str]
    kind: str  # R, D, E, F, V, B, C
    value: float = 0.0  # R: Ω; C: F; V: final value (V); E/F: gain
    key: tuple = ()


@dataclass
class PhaseDeck:
    """Elements of one phase, the state nodes (whose settling is measured), the diode model."""

    phase: str
    elements: list[Element]
    state_nodes: list[str]
    beta_S: float
    extra_saves: list[str] = field(default_factory=list)


def _caps(chip: Chip) -> dict[str, float]:
    """Node → capacitance to ground (F)."""
    ic = chip.interconnect
    caps: dict[str, float] = {}

    def add(node: str, c: float) -> None:
        if c > 0 and node != "0":
            caps[node] = caps.get(node, 0.0) + c

    for xb in chip.crossbars:
        R, C = xb.shape
        for seg in ic.segments(xb):
            add(seg.b, ic.c_segment_F)
        if not ic.r_row_ohm:  # each row line is one node: all its cells' segment capacitance on it
            for r in range(R):
                add(xb.dst_nodes[r], C * ic.c_segment_F)
        if not ic.r_col_ohm:
            for c in range(C):
                add(xb.src_nodes[c], R * ic.c_segment_F)
    for node in chip.free_nodes:
        add(node, ic.c_node_F)
    sources = {s.node for s in chip.sources}
    return {n: c for n, c in caps.items() if n not in sources}


def build_phase(
    chip: Chip,
    conductances: dict[str, np.ndarray],
    x: np.ndarray,
    target: np.ndarray | None,
    phase: str,
) -> PhaseDeck:
    """The elements of ``phase`` (``free``, ``pos``, ``neg``) for one sample ``x`` (feature units),
    ``target`` (V; needed for the nudged phases) at ``conductances`` (S)."""
    from ..units import spice_float as f

    ic = chip.interconnect
    beta = PHASE_BETA_SIGN[phase] * chip.nudge.beta_S
    els: list[Element] = []
    volts = dict(
        zip([s.name for s in chip.input_sources()], chip.source_voltages(np.asarray(x, float)), strict=True)
    )
    for i, s in enumerate(chip.sources):
        v = float(volts[s.name]) if s.kind == "input" else s.value_V
        if s.kind == "input" and phase == "free":
            line = f"{s.name} {s.node} 0 DC {f(v)} PWL(0 0 {f(RISE_S)} {f(v)})"
        else:
            line = f"{s.name} {s.node} 0 DC {f(v)}"
        els.append(Element(s.name, line, "sources", (s.node, "0"), "V", v, ("source", i)))
    for xb in chip.crossbars:
        g = np.asarray(conductances[xb.name], dtype=float)
        cols, rows = ic.cell_nodes(xb)
        for r in range(xb.shape[0]):
            for c in range(xb.shape[1]):
                name = f"R{xb.name}_{r}_{c}"
                ro = 1.0 / g[r, c]
                els.append(
                    Element(
                        name,
                        f"{name} {cols[r][c]} {rows[r][c]} {f(ro)}",
                        "memristors",
                        (cols[r][c], rows[r][c]),
                        "R",
                        ro,
                        (f"crossbar:{xb.name}", r, c),
                    )
                )
        for k_seg, seg in enumerate(ic.segments(xb)):
            name = f"RW_{seg.name}"
            els.append(
                Element(
                    name,
                    f"{name} {seg.a} {seg.b} {f(seg.r_ohm)}",
                    "wires",
                    (seg.a, seg.b),
                    "R",
                    seg.r_ohm,
                    (f"wire:{xb.name}", k_seg),  # the golden model's wire powers, segments() order
                )
            )
    k = 0
    for layer in chip.layers[1:]:
        if layer.neuron is None:
            continue
        for node in layer.nodes:
            for kind, a, b in (("diode_hi", node, "nrn_hi"), ("diode_lo", "nrn_lo", node)):
                name = f"D{kind[6:].upper()}_{node}"
                els.append(Element(name, f"{name} {a} {b} dnrn", "diodes", (a, b), "D", 0.0, (kind, k)))
            k += 1
    for i, amp in enumerate(chip.amplifiers):
        sense = f"{amp.out_node}_s"
        els.append(
            Element(
                f"E_{amp.name}",
                f"E_{amp.name} {sense} 0 {amp.in_node} 0 {f(amp.gain)}",
                "amplifiers",
                (sense, "0"),
                "E",
                amp.gain,
                ("vcvs", i),
            )
        )
        els.append(
            Element(
                f"V_{amp.name}",
                f"V_{amp.name} {sense} {amp.out_node} DC 0",
                "amplifiers",
                (sense, amp.out_node),
                "V",
                0.0,
            )
        )
        els.append(
            Element(
                f"F_{amp.name}",
                f"F_{amp.name} {amp.in_node} 0 V_{amp.name} {f(1.0 / amp.gain)}",
                "amplifiers",
                (amp.in_node, "0"),
                "F",
                1.0 / amp.gain,
                ("cccs", i),
            )
        )
    if beta != 0.0:
        if target is None:
            raise ValueError("the nudged phases need a target")
        t = np.asarray(target, dtype=float).reshape(-1)
        els.append(Element("VSW", f"VSW sw 0 DC 1 PWL(0 0 {f(RISE_S)} 1)", "nudging", ("sw", "0"), "V", 1.0))
        for j, (p, m) in enumerate(chip.nudge.outputs):
            mm = m if m is not None else "0"
            ref = f"tref{j}"
            els.append(
                Element(
                    f"VTGT{j}",
                    f"VTGT{j} {ref} {mm} DC {f(float(t[j]))}",
                    "nudging",
                    (ref, mm),
                    "V",
                    float(t[j]),
                )
            )
            # I = β·(V(ref) − V(plus))·V(sw) from minus into plus (the nudged netlists' VCCS, switched)
            els.append(
                Element(
                    f"BNUDGE{j}",
                    f"BNUDGE{j} {mm} {p} I = {f(beta)} * (v({ref}) - v({p})) * v(sw)",
                    "nudging",
                    (mm, p),
                    "B",
                    beta,
                    ("nudge", j),
                )
            )
    for n, cap in sorted(_caps(chip).items()):
        els.append(Element(f"C_{n}", f"C_{n} {n} 0 {f(cap)}", "capacitance", (n, "0"), "C", cap))
    state = list(dict.fromkeys([*chip.free_nodes, *(a.out_node for a in chip.amplifiers)]))
    for xb in chip.crossbars:
        state += [n for n in ic.wire_nodes(xb) if n not in state]
    saves = []
    for e in els:
        if e.kind == "D":
            saves.append(f"@{e.name.lower()}[id]")
        elif e.kind == "F":
            saves.append(f"@{e.name.lower()}[i]")
        elif e.kind == "B":
            saves.append(f"@{e.name.lower()}[i]")
    return PhaseDeck(phase, els, state, beta, saves)
