"""``codegen characterize``: settling time and energy of the EP phases from ngspice transients.

Per phase (free; +β; −β with centered nudging) of one sample, :func:`run_phase` runs one ngspice
deck (:mod:`codegen.characterize.deck`, ``templates/characterize/tran.sp.j2``): ``op`` (the
operating point the phase settles to, and every element's DC power as ngspice reports it), then a
transient from the phase's start (free: all inputs step from 0 V; nudged: the free equilibrium, the
nudging switched on at t = 0).  From the waveforms:

* **settling time** of the phase: the last time any state node (neuron, output, amplifier output,
  wire node) is farther than ``SETTLE_ABS_V`` (1 mV) from its operating-point voltage, and the
  last time one is farther than ``SETTLE_REL`` (1e-3) of its own step ``|V_op − V(0)|``;
* **energy** of the phase, per element group (``deck.GROUPS``), integrated over the phase held
  until it has settled to ``SETTLE_REL`` (W·s = J); the groups sum to 0 (Tellegen: the sources
  deliver what the rest absorbs, capacitors included).

Energy per inference = the free phase's; per training step = the sum of the phases (sequential),
plus the programming pulses, whose energy per pulse comes from the memristor model
(:func:`programming_energy`).  The DC part is checked against the golden model's
:meth:`~codegen.model.network.GoldenModel.power`: :func:`dc_power_check`.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CodegenError
from ..ir import Chip
from .deck import GROUPS, PhaseDeck, build_phase

__all__ = [
    "SETTLE_ABS_V",
    "SETTLE_REL",
    "PhaseRun",
    "format_deck",
    "run_phase",
    "parse_ascii_raw",
    "settling",
    "phase_energy",
    "dc_power_check",
    "programming_energy",
    "tau_estimate_s",
]

SETTLE_ABS_V = 1e-3  #: absolute settling band (V)
SETTLE_REL = 1e-3  #: relative settling band (fraction of each node's step)


@dataclass
class PhaseRun:
    """One phase's ngspice results."""

    deck: PhaseDeck
    op_v: dict[str, float]  # node → operating-point voltage (V)
    op_power: dict[str, float]  # element name → DC power absorbed (W), ngspice's own numbers
    time_s: np.ndarray
    waves: dict[str, np.ndarray]  # node voltages (V) by node name, device vectors by '@name[param]'
    tstop_s: float
    seconds: float


def tau_estimate_s(chip: Chip, deck: PhaseDeck) -> float:
    """Largest ``C / ΣG`` (s) over the capacitive nodes, with the nodes joined by wire resistors taken
    as one node (a line charges through its cells, not through its own segments): the
    transient's time scale."""
    parent: dict[str, str] = {}

    def find(n: str) -> str:
        while parent.get(n, n) != n:
            n = parent[n]
        return n

    for e in deck.elements:
        if e.group == "wires":
            a, b = find(e.nodes[0]), find(e.nodes[1])
            if a != b:
                parent[b] = a
    gsum: dict[str, float] = {}
    caps: dict[str, float] = {}
    for e in deck.elements:
        if e.kind == "R" and e.group != "wires":
            for n in e.nodes:
                gsum[find(n)] = gsum.get(find(n), 0.0) + 1.0 / e.value
        elif e.kind == "C":
            caps[find(e.nodes[0])] = caps.get(find(e.nodes[0]), 0.0) + e.value
    gmin = chip.simulation.gmin_S
    return max((c / (gsum.get(n, 0.0) + gmin) for n, c in caps.items()), default=0.0)


def _op_prints(deck: PhaseDeck) -> list[list[str]]:
    names = []
    for e in deck.elements:
        lo = e.name.lower()
        if e.kind in ("R", "E", "F"):
            names.append(f"@{lo}[p]")
        elif e.kind == "D":
            names.append(f"@{lo}[id]")
        elif e.kind == "B":
            names.append(f"@{lo}[i]")
    return [names[i : i + 16] for i in range(0, len(names), 16)]


def format_deck(chip: Chip, deck: PhaseDeck, tstop_s: float) -> str:
    """The ngspice deck (text) of one phase, transient to ``tstop_s`` (s)."""
    from ..backends.spice import netlist_context
    from ..templating import render

    ctx = netlist_context(chip)
    return render(
        "characterize/tran.sp.j2",
        title=f"{chip.name}: {chip.description}".strip().rstrip(":"),
        phase=deck.phase,
        beta_S=deck.beta_S,
        diode=ctx.diode,
        options=ctx.options,
        elements=deck.elements,
        saves=deck.extra_saves,
        op_prints=_op_prints(deck),
        tstep_s=tstop_s / 1000.0,
        tstop_s=tstop_s,
        tmax_s=tstop_s / 1000.0,
    )


def parse_ascii_raw(text: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """An ngspice ASCII rawfile (one plot) → (time (s), {name: values}).  Names: node voltages by
    node (``v(x)`` → ``x``), branch currents ``x#branch``, device vectors as ngspice names them."""
    lines = text.splitlines()
    try:
        nvar = int(next(ln for ln in lines if ln.startswith("No. Variables:")).split(":")[1])
        npts = int(next(ln for ln in lines if ln.startswith("No. Points:")).split(":")[1])
        iv = next(i for i, ln in enumerate(lines) if ln.startswith("Variables:"))
        ival = next(i for i, ln in enumerate(lines) if ln.startswith("Values:"))
    except StopIteration:
        raise CodegenError("ngspice wrote no transient rawfile header") from None
    names = []
    for ln in lines[iv + 1 : iv + 1 + nvar]:
        nm = ln.split()[1].lower()
        m = re.fullmatch(r"v\((.+)\)", nm)
        if m:
            nm = m.group(1)
        m = re.fullmatch(r"i\((.+)\)", nm)
        if m:
            nm = m.group(1) if m.group(1).startswith("@") else m.group(1) + "#branch"
        names.append(nm)
    tokens = " ".join(lines[ival + 1 :]).split()
    # each point: index, then nvar values
    data = np.array(tokens, dtype=float).reshape(-1, nvar + 1)[:npts, 1:]
    cols = {n: data[:, i] for i, n in enumerate(names)}
    return cols[names[0]], cols


def run_phase(
    chip: Chip,
    conductances: dict[str, np.ndarray],
    x: np.ndarray,
    target: np.ndarray | None,
    phase: str,
    *,
    workdir: str | Path | None = None,
    tstop_s: float | None = None,
    timeout_s: float = 600.0,
) -> PhaseRun:
    """Run one phase in ngspice (``ngspice -b``); ``tstop_s`` defaults to 40 × :func:`tau_estimate_s`."""
    from ..run.ngspice import parse_print_all
    from ..run.ngspice_tran import describe_failure, run_deck, run_dir

    deck = build_phase(chip, conductances, x, target, phase)
    if tstop_s is None:
        tau = tau_estimate_s(chip, deck)
        if tau <= 0:
            raise CodegenError(
                "characterize needs capacitance: set interconnect.c_node and/or interconnect.c_segment "
                "(F) in chip.yaml or with --set"
            )
        tstop_s = 40.0 * tau
    text = format_deck(chip, deck, tstop_s)
    with run_dir(workdir) as wd:
        raw_path = Path(wd) / "tran.raw"
        if raw_path.exists():
            raw_path.unlink()
        t0 = time.perf_counter()
        proc = run_deck(
            text, wd, f"{phase}.sp", "set num_threads=1\n", timeout_s, where=f"characterize/{phase}.sp"
        )
        dt = time.perf_counter() - t0
        if not raw_path.exists():
            raise CodegenError(
                f"characterize/{phase}.sp: ngspice wrote no transient; {describe_failure(proc.stdout + proc.stderr, proc.returncode)}"
            )
        t, waves = parse_ascii_raw(raw_path.read_text())
    vals = parse_print_all(proc.stdout)
    op_v = {n: vals[n.lower()] for n in deck.state_nodes if n.lower() in vals}  # ngspice lower-cases
    for e in deck.elements:
        for n in e.nodes:
            if n != "0" and n.lower() in vals:
                op_v[n] = vals[n.lower()]
    missing = [n for n in deck.state_nodes if n not in op_v]
    if missing:
        raise CodegenError(
            f"characterize/{phase}.sp: ngspice found no operating point (no value of {missing[0]}); "
            f"{describe_failure(proc.stdout + proc.stderr, proc.returncode)}"
        )
    op_power: dict[str, float] = {}
    for e in deck.elements:
        lo = e.name.lower()
        va = op_v.get(e.nodes[0], 0.0)
        vb = op_v.get(e.nodes[1], 0.0)
        if e.kind in ("R", "E", "F"):
            op_power[e.name] = vals[f"@{lo}[p]"]
        elif e.kind == "D":
            op_power[e.name] = (va - vb) * vals[f"@{lo}[id]"]
        elif e.kind == "B":
            op_power[e.name] = (va - vb) * vals[f"@{lo}[i]"]
        elif e.kind == "V":
            op_power[e.name] = (va - vb) * vals[f"{lo}#branch"]
        elif e.kind == "C":
            op_power[e.name] = 0.0
    return PhaseRun(deck, op_v, op_power, t, waves, tstop_s, dt)


def settling(run: PhaseRun, abs_V: float = SETTLE_ABS_V, rel: float = SETTLE_REL) -> dict:
    """Settling times (s) of a phase: to within ``abs_V`` (V) and to ``rel`` of each node's step,
    the slowest node of each, and whether the run ended inside both bands."""
    t = run.time_s
    out: dict[str, Any] = {"abs_s": 0.0, "abs_node": None, "rel_s": 0.0, "rel_node": None, "settled": True}
    for n in run.deck.state_nodes:
        v = run.waves.get(n.lower())
        if v is None:
            continue
        err = np.abs(v - run.op_v[n])
        step = abs(run.op_v[n] - v[0])
        for key, tol in (("abs", abs_V), ("rel", rel * step)):
            if key == "rel" and step <= 1e-15:
                continue
            outside = np.flatnonzero(err > tol)
            if outside.size == 0:
                continue
            i = outside[-1]
            if i == len(t) - 1:
                out["settled"] = False
                ts = float(t[-1])
            else:  # linear interpolation of the crossing between the last point outside and the next
                e0, e1 = err[i], err[i + 1]
                ts = float(t[i] + (t[i + 1] - t[i]) * (e0 - tol) / (e0 - e1)) if e0 != e1 else float(t[i + 1])
            if ts > out[f"{key}_s"]:
                out[f"{key}_s"], out[f"{key}_node"] = ts, n
    return out


def _element_power(run: PhaseRun) -> dict[str, np.ndarray]:
    """Element name → absorbed power (W) at every time point (capacitors: C·v·dv/dt)."""
    w = run.waves
    t = run.time_s

    def v(n: str) -> np.ndarray:
        return np.zeros_like(t) if n == "0" else w[n.lower()]

    out: dict[str, np.ndarray] = {}
    for e in run.deck.elements:
        lo = e.name.lower()
        dv = v(e.nodes[0]) - v(e.nodes[1])
        if e.kind == "R":
            out[e.name] = dv * dv / e.value
        elif e.kind == "D":
            out[e.name] = dv * w[f"@{lo}[id]"]
        elif e.kind in ("F", "B"):
            out[e.name] = dv * w[f"@{lo}[i]"]
        elif e.kind in ("V", "E"):
            out[e.name] = dv * w[f"{lo}#branch"]
        elif e.kind == "C":
            out[e.name] = e.value * dv * np.gradient(dv, t)
    return out


def phase_energy(run: PhaseRun, hold_s: float) -> dict[str, float]:
    """Energy (J) absorbed per group over ``[0, hold_s]`` (negative: delivered).  Capacitors:
    the change of their stored energy ``½C(v² − v₀²)``; everything else the integral of its power."""
    t = run.time_s
    if hold_s <= 0:
        return dict.fromkeys(GROUPS, 0.0)
    k = int(np.searchsorted(t, hold_s))
    k = min(max(k, 1), len(t) - 1)
    tt = np.append(t[:k], hold_s) if hold_s < t[-1] else t
    p = _element_power(run)
    out = dict.fromkeys(GROUPS, 0.0)
    for e in run.deck.elements:
        if e.kind == "C":
            vv = run.waves[e.nodes[0].lower()]
            vt = float(np.interp(hold_s, t, vv))
            out["capacitance"] += 0.5 * e.value * (vt * vt - vv[0] * vv[0])
            continue
        pe = p[e.name]
        pp = np.append(pe[:k], np.interp(hold_s, t, pe)) if hold_s < t[-1] else pe
        out[e.group] += float(np.trapezoid(pp, tt))
    return out


def dc_power_check(chip: Chip, conductances: dict[str, np.ndarray], run: PhaseRun, x, target) -> dict:
    """ngspice's DC element powers against the golden model's (:meth:`GoldenModel.power`) at the
    same phase: per kind (``crossbar:<name>``, ``wire:<name>``, diodes, amplifiers, sources,
    nudging), ``max|P_ngspice − P_golden| / max|P_golden|``, and the golden group totals."""
    from ..model import GoldenModel

    model = GoldenModel(chip, conductances=conductances)
    beta = run.deck.beta_S
    eq = model.solve(x, target if beta else None, beta) if beta else model.solve(x)
    gp = {k: np.asarray(v)[0] for k, v in model.power(eq).items()}
    ng = {k: np.zeros_like(v) for k, v in gp.items()}
    for e in run.deck.elements:
        if not e.key:
            continue
        kind, *idx = e.key
        if kind == "nudge":
            continue
        ng[kind][tuple(idx)] += run.op_power[e.name]
    # the golden model lists the nudge power per free node; compare its total
    nud_ng = sum(run.op_power[e.name] for e in run.deck.elements if e.key and e.key[0] == "nudge")
    rel: dict[str, float] = {}
    for k, g in gp.items():
        if k == "nudge":
            scale = max(abs(float(g.sum())), 1e-300)
            rel[k] = abs(nud_ng - float(g.sum())) / scale if (beta or nud_ng) else 0.0
            continue
        if g.size == 0:
            continue
        scale = float(np.abs(g).max())
        rel[k] = float(np.abs(ng[k] - g).max()) / scale if scale > 0 else float(np.abs(ng[k]).max())
    totals_g = {k: float(v[0]) for k, v in model.power_totals(eq).items()}
    return {"compared": True, "max_rel": max(rel.values()), "rel_by_kind": rel, "golden_totals_W": totals_g}


def programming_energy(chip: Chip, points: int = 257) -> dict:
    """Energy (J) of one programming pulse in the selected cell, ``∫ V²·G(t) dt`` over the pulse,
    from the memristor model (:func:`codegen.model.device.apply_pulse` on a grid of the pulse),
    for set and reset pulses starting at g_min, mid-range and g_max (S)."""
    from ..model.device import apply_pulse, g_from_w, w_from_g

    dev = chip.device
    V, T = dev.pulse_amplitude_V, dev.pulse_width_s
    tt = np.linspace(0.0, T, points)
    out = {"pulse_amplitude_V": V, "pulse_width_s": T}
    for label, g0 in (
        ("g_min", dev.g_min_S),
        ("g_mid", 0.5 * (dev.g_min_S + dev.g_max_S)),
        ("g_max", dev.g_max_S),
    ):
        w0 = w_from_g(dev, g0)
        for pol, v in (("set", V), ("reset", -V)):
            g = np.array([float(g_from_w(dev, apply_pulse(dev, w0, v, ti))) for ti in tt])
            out[f"{pol}_from_{label}_J"] = float(np.trapezoid(v * v * g, tt))
    return out
