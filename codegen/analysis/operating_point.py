"""Operating point of a chip over a whole dataset, solved with the golden model in batches.

Definitions (docs/design_rules.md has the derivations and numbers):

* **Node conductance** ``G_node`` (S) of a neuron node: the sum of every weight conductance
  attached to it (its rows in the crossbars into its layer, bias included, and its columns in the
  crossbars it drives; through a bidirectional amplifier of gain A the downstream crossbar loads the
  node with ``A·G/A = G``).  In the linear region the node is the weighted average
  ``Σ G·V_src / G_node`` of its neighbours.
* **Diode conductance** ``g_d(V)`` (S): the small-signal conductance of the node's two clamp
  diodes at its voltage (``dI/dV`` of node→``v_high`` plus ``v_low``→node, GMIN included), the
  golden model's diode equations.
* **Regions** of one (sample, neuron) operating point, by the diodes' *excess* conductance
  ``r = (g_d(V) − g_d(V_mid)) / G_node`` (``V_mid`` the middle of the clamp sources, where the
  neuron rests; the excess, so that diodes that conduct already at rest, a large IS, count as the
  linear load they are there): *linear* ``r < KNEE_RATIO`` (0.1: the diodes change the node's
  response by less than ~10 %), *knee* ``KNEE_RATIO ≤ r < SATURATION_RATIO`` (10), *saturated*
  ``r ≥ SATURATION_RATIO`` (the node is pinned to the clamp and passes almost no signal).
  "Nonlinear" = knee or saturated.  The rest load ``g_d(V_mid) / G_node`` must itself stay below
  ``KNEE_RATIO``, or the diodes are a large linear load that attenuates every signal (status
  *loaded*).
* **Knee voltages**: where ``r`` reaches ``KNEE_RATIO`` below and above ``V_mid`` (per node, by
  bisection).  For a small IS the upper one is ``v_high + n·Vt·ln(KNEE_RATIO·G_node·n·Vt/IS)``:
  ~0.4 V beyond the clamp source for IS = 1 pA at mS node conductances, ~0.2 V for IS = 1 nA;
  ``knee_offset_V`` is that distance (negative when the knee lies inside the clamp sources).
* **Cancellation** at a node: ``1 − |Σ_c G_c·V_c| / Σ_c G_c·|V_c|`` over the columns driving it
  (V_c the column voltages: input and bias sources, amplifier outputs), 0 when every drive pushes
  the same way, → 1 when the ± pairs of doubled inputs cancel.  Reported for every layer over all
  its crossbars, and for the first layer over the input crossbar alone (the doubled inputs).
* **Read margin** (V): ``min(v_set − ΔV, ΔV − v_reset)`` over every weight (bias included), sample
  and read phase (free, nudged +β, and −β when centered), ``ΔV`` the drop across the cell: the
  definition of ``codegen check``'s read-disturb row.  ≤ 0: a read would reprogram that cell.
* **Power** (W) per sample, free phase (:meth:`GoldenModel.power_totals`): dissipated in the
  resistors and diodes, delivered by the voltage sources and by the amplifiers.

A layer is **linear** when fewer than :data:`LINEAR_BELOW` of its operating points are nonlinear,
**saturated** when more than :data:`SATURATED_ABOVE` are saturated; ``tune`` aims at
:data:`TARGET_NONLINEAR` nonlinear.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..errors import CodegenError
from ..ir import Chip, LayerIR

__all__ = [
    "KNEE_RATIO",
    "SATURATION_RATIO",
    "LINEAR_BELOW",
    "SATURATED_ABOVE",
    "TARGET_NONLINEAR",
    "LayerPoint",
    "ReadMargin",
    "PowerSummary",
    "OperatingPoint",
    "analyze",
    "analyze_dataset",
    "dataset_arrays",
]

#: g_d / G_node at which a neuron's operating point leaves the linear region (1)
KNEE_RATIO = 0.1
#: g_d / G_node beyond which the node is pinned to its clamp (1)
SATURATION_RATIO = 10.0
#: a layer with fewer nonlinear operating points than this fraction is linear (1)
LINEAR_BELOW = 0.05
#: a layer with more saturated operating points than this fraction is saturated (1)
SATURATED_ABOVE = 0.9
#: fraction of nonlinear operating points the suggestions and ``tune`` aim at (1)
TARGET_NONLINEAR = 0.2
#: samples per power evaluation (it forms (B, rows, cols) arrays)
_POWER_CHUNK = 16


@dataclass
class LayerPoint:
    """Operating points of one layer over the dataset (voltages in V, conductances in S).

    ``judged``: the layer has neurons (hidden layers; the output layer with ``neuron.on_output``);
    only those get a ``status`` other than ``"unjudged"``.  Fractions are over (sample, neuron)
    points; ``neurons_reaching_knee`` is the fraction of neurons nonlinear for at least one sample.
    ``suggest_*``: first-order fixes for a linear layer (None when not linear or not reachable)."""

    index: int
    role: str
    neurons: int
    nodes: int
    judged: bool
    v_min_V: float
    v_max_V: float
    abs_v_p50_V: float
    abs_v_p90_V: float
    abs_v_max_V: float
    g_node_mean_S: float
    knee_low_V: float | None  # median over the layer's nodes (V)
    knee_high_V: float | None
    knee_offset_V: float | None  # median knee_high − v_high (V)
    frac_nonlinear: float
    frac_saturated: float
    neurons_reaching_knee: float
    cancellation: float  # mean over points, all columns driving the layer (1)
    input_cancellation: float | None  # mean over points, the input crossbar alone (1)
    status: str  # ok / linear / saturated / loaded / unjudged
    suggest_input_scale_V: float | None = None
    suggest_clamp_V: float | None = None  # ± half-width of the clamp sources around their middle
    suggest_diode_is_A: float | None = None
    rest_load: float | None = None  # median g_d(V_mid) / G_node: the diodes' load at rest (1)
    unreachable: bool = False  # no clamp / diode setting puts a knee where the nodes are

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass
class ReadMargin:
    """The worst read over the dataset: ``margin_V`` = min distance of a weight's drop to the
    threshold on its side (V); the other fields locate it."""

    margin_V: float
    max_abs_dv_V: float
    dv_V: float
    v_set_V: float
    v_reset_V: float
    crossbar: str
    row: int
    col: int
    src_node: str
    dst_node: str
    phase: str
    sample: int
    max_abs_dv_input_V: float = 0.0  # largest |drop| across the crossbars from the inputs (V)
    input_scale_limit_V: float | None = None  # input_scale at which those reach a threshold (V)

    @property
    def passed(self) -> bool:
        return self.margin_V > 0.0

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "passed": self.passed}


@dataclass
class PowerSummary:
    """Free-phase power per sample (W): mean and max over the dataset."""

    dissipated_mean_W: float  # resistors + diodes
    dissipated_max_W: float
    resistors_mean_W: float
    diodes_mean_W: float
    sources_mean_W: float  # delivered by the voltage sources (> 0)
    amplifiers_mean_W: float  # delivered by the amplifiers (> 0: they add power)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass
class OperatingPoint:
    """What :func:`analyze` found; ``verdict`` is one plain sentence per finding."""

    chip: str
    samples: int
    input_scale_V: float
    layers: list[LayerPoint]
    read: ReadMargin
    power: PowerSummary
    verdict: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.read.passed and all(la.status in ("ok", "unjudged") for la in self.layers)

    def as_dict(self) -> dict[str, object]:
        return {
            "chip": self.chip,
            "samples": self.samples,
            "input_scale_V": self.input_scale_V,
            "definitions": {
                "knee_ratio": KNEE_RATIO,
                "saturation_ratio": SATURATION_RATIO,
                "linear_below": LINEAR_BELOW,
                "saturated_above": SATURATED_ABOVE,
                "target_nonlinear": TARGET_NONLINEAR,
            },
            "layers": [la.as_dict() for la in self.layers],
            "read_margin": self.read.as_dict(),
            "power": self.power.as_dict(),
            "verdict": list(self.verdict),
            "ok": self.ok,
        }


def node_conductances(chip: Chip, G: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Free node → sum of the weight conductances attached to it (S); see the module docstring."""
    amp_in = {a.out_node: a.in_node for a in chip.amplifiers}
    free = set(chip.free_nodes)
    out = dict.fromkeys(chip.free_nodes, 0.0)
    for xb in chip.crossbars:
        g = np.asarray(G[xb.name], dtype=float)
        for r, node in enumerate(xb.dst_nodes):
            out[node] += float(g[r].sum())
        for c, node in enumerate(xb.src_nodes):
            src = amp_in.get(node, node)
            if src in free:
                out[src] += float(g[:, c].sum())
    return out


def dataset_arrays(chip: Chip) -> tuple[np.ndarray, np.ndarray]:
    """Every sample of the chip's dataset (training then test split; once when the test set is the
    training set) as inputs (N, n_in; feature units) and targets (N, n_out; V)."""
    from ..learn.datasets import load_dataset

    ds = load_dataset(chip)
    if chip.training.test_fraction == 0 or ds.x_test is ds.x_train:
        return np.asarray(ds.x_train, dtype=float), np.asarray(ds.t_train, dtype=float)
    x = np.concatenate([ds.x_train, ds.x_test])
    t = np.concatenate([ds.t_train, ds.t_test])
    return x, t


def _quantile(a: np.ndarray, q: float) -> float:
    return float(np.quantile(a, q)) if a.size else 0.0


def _layer_point(
    chip: Chip,
    model,
    layer: LayerIR,
    v: np.ndarray,
    g_node: np.ndarray,
    canc: np.ndarray,
    in_canc: np.ndarray | None,
) -> LayerPoint:
    """Statistics of one layer from its node voltages ``v`` (N, nodes; V) and node conductances."""
    nrn = layer.neuron
    a = np.abs(v)
    base: dict[str, Any] = dict(
        index=layer.index,
        role=layer.role,
        neurons=layer.size,
        nodes=len(layer.nodes),
        v_min_V=float(v.min()),
        v_max_V=float(v.max()),
        abs_v_p50_V=_quantile(a, 0.5),
        abs_v_p90_V=_quantile(a, 0.9),
        abs_v_max_V=float(a.max()),
        g_node_mean_S=float(g_node.mean()),
        cancellation=float(np.nanmean(canc)) if np.isfinite(canc).any() else 0.0,
        input_cancellation=(
            None if in_canc is None or not np.isfinite(in_canc).any() else float(np.nanmean(in_canc))
        ),
    )
    if nrn is None:
        return LayerPoint(
            **base,
            judged=False,
            knee_low_V=None,
            knee_high_V=None,
            knee_offset_V=None,
            frac_nonlinear=0.0,
            frac_saturated=0.0,
            neurons_reaching_knee=0.0,
            status="unjudged",
        )
    d = nrn.diode
    nvt = d.n * d.vt_V
    mid = 0.5 * (nrn.v_low_V + nrn.v_high_V)
    g_rest = _gd(model, nrn, np.full(1, mid))
    rest = float(np.median(g_rest / g_node))
    r = (_gd(model, nrn, v) - g_rest) / g_node[None, :]
    nonlin = r >= KNEE_RATIO
    sat = r >= SATURATION_RATIO
    knee_lo, knee_hi = _knees(model, nrn, g_node)
    offset = knee_hi - nrn.v_high_V  # (nodes,) V
    frac_nl, frac_sat = float(nonlin.mean()), float(sat.mean())
    if rest >= KNEE_RATIO:
        status = "loaded"
    elif frac_nl < LINEAR_BELOW:
        status = "linear"
    else:
        status = "saturated" if frac_sat > SATURATED_ABOVE else "ok"
    lp = LayerPoint(
        **base,
        judged=True,
        knee_low_V=float(np.median(knee_lo)),
        knee_high_V=float(np.median(knee_hi)),
        knee_offset_V=float(np.median(offset)),
        frac_nonlinear=frac_nl,
        frac_saturated=frac_sat,
        neurons_reaching_knee=float(nonlin.any(axis=0).mean()),
        status=status,
        rest_load=rest,
    )
    if status == "linear":
        _suggest(chip, lp, nrn, v, offset, g_node, nvt)
    return lp


def rest_conductance(chip: Chip, nrn) -> float:
    """Small-signal conductance (S) of a neuron's two clamp diodes at the middle of its clamp
    sources, where it rests (the golden model's diode equations, GMIN included)."""
    from ..model import GoldenModel

    mid = 0.5 * (nrn.v_low_V + nrn.v_high_V)
    return float(_gd(GoldenModel(chip), nrn, np.full(1, mid))[0])


def _gd(model, nrn, v: np.ndarray) -> np.ndarray:
    """Small-signal conductance (S) of a node's two clamp diodes at node voltages ``v`` (V)."""
    return model._diode(v - nrn.v_high_V)[1] + model._diode(nrn.v_low_V - v)[1]


def _knees(model, nrn, g_node: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(nodes,) knee voltages (V) below and above the clamps' middle: where the diodes' conductance
    exceeds its value at the middle by ``KNEE_RATIO·G_node`` (bisection, 1e-9 V)."""
    mid = 0.5 * (nrn.v_low_V + nrn.v_high_V)
    g0 = _gd(model, nrn, np.full(1, mid))
    out = []
    for sign in (-1.0, 1.0):
        lo, hi = np.zeros_like(g_node), np.full_like(g_node, 10.0)  # distance from mid (V)
        for _ in range(40):
            m = 0.5 * (lo + hi)
            above = _gd(model, nrn, mid + sign * m) - g0 >= KNEE_RATIO * g_node
            hi, lo = np.where(above, m, hi), np.where(above, lo, m)
        out.append(mid + sign * hi)
    return out[0], out[1]


def _suggest(chip, lp: LayerPoint, nrn, v: np.ndarray, offset: np.ndarray, g_node, nvt: float) -> None:
    """First-order fixes for a linear layer, so that :data:`TARGET_NONLINEAR` of its points reach
    a knee.  Input scale: in the linear region the node voltages grow in proportion to the input
    sources (the bias part does not, so this is an estimate; ``tune`` solves the real circuit).
    Clamps: sources at ``mid ± Y`` move both knees by the same amount.  Diode IS: a larger IS moves
    the knee offset down by n·Vt per factor e."""
    mid = 0.5 * (nrn.v_high_V + nrn.v_low_V)
    y_now = 0.5 * (nrn.v_high_V - nrn.v_low_V)
    knee_dist = y_now + offset[None, :]  # distance (V) from mid to the knee on either side
    dev = np.abs(v - mid)
    with np.errstate(divide="ignore"):
        need = np.where(dev > 0, knee_dist / dev, np.inf)
    k = float(np.quantile(need, TARGET_NONLINEAR))
    if np.isfinite(k) and k > 1:
        lp.suggest_input_scale_V = chip.training.input_scale_V * k
    reach = float(np.quantile(dev, 1.0 - TARGET_NONLINEAR))  # |V − mid| the target fraction exceeds
    off = float(np.median(offset))
    if reach - off > 0:
        lp.suggest_clamp_V = reach - off
    elif nrn.kind == "diode_pair" and reach > nvt * np.log(4.0) * 1.01:
        # with two exponential diodes the knee's distance from the middle depends only on the rest
        # load ρ = g_d(mid)/G_node: d = n·Vt·ln(2(KNEE_RATIO + ρ)/ρ); the rest rule ρ < KNEE_RATIO
        # keeps d > n·Vt·ln 4.  Pick ρ for d = reach, clamps at ±min(Y, reach/2), IS to match.
        rho = 2 * KNEE_RATIO / (np.exp(reach / nvt) - 2.0)
        y = min(y_now, 0.5 * reach)
        lp.suggest_clamp_V = y
        lp.suggest_diode_is_A = float(0.5 * rho * np.median(g_node) * nvt * np.exp(y / nvt))
    else:
        lp.unreachable = True


def _cancellation(cols: list[np.ndarray], gs: list[np.ndarray]) -> np.ndarray:
    """(N, rows) ``1 − |Σ G·V| / Σ G·|V|`` over the given crossbars' columns (NaN where no drive)."""
    net = sum(c @ g.T for g, c in zip(gs, cols, strict=True))
    gross = sum(np.abs(c) @ g.T for g, c in zip(gs, cols, strict=True))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(gross > 0, 1.0 - np.abs(net) / gross, np.nan)


def analyze(
    chip: Chip,
    x: np.ndarray,
    target: np.ndarray,
    conductances: Mapping[str, np.ndarray] | None = None,
    chunk: int = 256,
    phases: bool = True,
    power: bool = True,
) -> OperatingPoint:
    """Operating point of ``chip`` over the samples ``x`` (N, n_in; feature units) with targets
    ``target`` (N, n_out; V) at ``conductances`` (S; default the seeded initial ones).  The golden
    model solves ``chunk`` samples per batch.  ``phases``: include the nudged phases in the read
    margin (False: the free phase only, which ``tune``'s search uses); ``power``: compute the
    power per sample (False: NaN, for the search)."""
    from ..model import GoldenModel

    x = np.atleast_2d(np.asarray(x, dtype=float))
    target = np.atleast_2d(np.asarray(target, dtype=float))
    if len(x) == 0:
        raise CodegenError("analyze: the dataset has no samples")
    G = (
        chip.initial_conductances()
        if conductances is None
        else {k: np.asarray(v) for k, v in conductances.items()}
    )
    model = GoldenModel(chip, conductances=G)
    with model._blas_threads():  # many small products: BLAS threads only stall (GoldenModel)
        return _analyze(chip, model, G, x, target, chunk, phases, power)


def _analyze(chip, model, G, x, target, chunk: int, phases: bool, power: bool) -> OperatingPoint:
    from ..model import Equilibrium

    free_idx = {n: i for i, n in enumerate(chip.free_nodes)}
    gn_all = node_conductances(chip, G)
    judged = [la for la in chip.layers[1:]]
    into = {la.index: [xb for xb in chip.crossbars if xb.dst_layer == la.index] for la in judged}
    volts: dict[int, list[np.ndarray]] = {la.index: [] for la in judged}
    canc: dict[int, list[np.ndarray]] = {la.index: [] for la in judged}
    in_canc: list[np.ndarray] = []
    beta = chip.nudge.beta_S
    v_set, v_reset = chip.device.v_set_V, chip.device.v_reset_V
    worst: tuple[float, float, str, str, int, int, int] | None = None
    max_abs = max_in = 0.0
    input_xbs = {xb.name for xb in chip.crossbars if xb.src_layer == 0}
    pw: dict[str, list[np.ndarray]] = {k: [] for k in ("resistors", "diodes", "sources", "amplifiers")}
    xbs = {xb.name: xb for xb in model._xbs}
    for lo_b in range(0, len(x), chunk):
        xs, ts = x[lo_b : lo_b + chunk], target[lo_b : lo_b + chunk]
        free = model.solve(xs)
        eqs = {"free": free}
        if phases:
            eqs["nudged +β"] = model.solve(xs, ts, beta, v0=free.v)
            if chip.nudge.centered:
                eqs["nudged −β"] = model.solve(xs, ts, -beta, v0=free.v)
        for phase, eq in eqs.items():
            for xb in model._xbs:
                # every (row, col) pair is a cell: the extreme drops per sample are column extremes
                # minus row extremes, found without forming the (B, rows, cols) drops
                col, row = model._columns(xb, eq), eq.v[:, xb.rows]
                hi = col.max(axis=1) - row.min(axis=1)  # (B,) largest drop (V)
                lo = col.min(axis=1) - row.max(axis=1)  # (B,) smallest drop (V)
                m_hi, m_lo = v_set - hi, lo - v_reset
                ext = float(max(np.abs(hi).max(), np.abs(lo).max()))
                max_abs = max(max_abs, ext)
                if xb.name in input_xbs:
                    max_in = max(max_in, ext)
                for m, dvs, pick_c, pick_r in (
                    (m_hi, hi, np.argmax, np.argmin),
                    (m_lo, lo, np.argmin, np.argmax),
                ):
                    b = int(m.argmin())
                    if worst is None or float(m[b]) < worst[0]:
                        c, r = int(pick_c(col[b])), int(pick_r(row[b]))
                        worst = (float(m[b]), float(dvs[b]), phase, xb.name, lo_b + b, r, c)
        for la in judged:
            volts[la.index].append(free.v[:, [free_idx[n] for n in la.nodes]])
            cols = [model._columns(xbs[xb.name], free) for xb in into[la.index]]
            canc[la.index].append(_cancellation(cols, [G[xb.name] for xb in into[la.index]]))
            if la.index == 1:
                ins = [i for i, xb in enumerate(into[1]) if xb.src_layer == 0]
                if ins:
                    in_canc.append(_cancellation([cols[i] for i in ins], [G[into[1][i].name] for i in ins]))
        if power:
            # power_totals forms (B, rows, cols) arrays: a few samples at a time
            for i in range(0, free.batch, _POWER_CHUNK):
                sl = slice(i, i + _POWER_CHUNK)
                part = Equilibrium(
                    model,
                    free.v[sl],
                    free.u[sl],
                    None,
                    0.0,
                    free.iterations[sl],
                    free.residual[sl],
                    free.phase,
                )
                tot = model.power_totals(part)
                for k in pw:
                    pw[k].append(tot[k])
    layers = []
    for la in judged:
        gn = np.array([gn_all[n] for n in la.nodes])
        ic = np.concatenate(in_canc) if la.index == 1 and in_canc and chip.input_doubling else None
        layers.append(
            _layer_point(
                chip, model, la, np.concatenate(volts[la.index]), gn, np.concatenate(canc[la.index]), ic
            )
        )
    assert worst is not None
    margin, dv, phase, name, b, r, c = worst
    xb_ir = chip.crossbar(name)
    read = ReadMargin(
        margin_V=margin,
        max_abs_dv_V=max_abs,
        dv_V=dv,
        v_set_V=v_set,
        v_reset_V=v_reset,
        crossbar=name,
        row=r,
        col=c,
        src_node=xb_ir.src_nodes[c],
        dst_node=xb_ir.dst_nodes[r],
        phase=phase,
        sample=b,
        max_abs_dv_input_V=max_in,
        # the input drops grow with input_scale (the node voltages they are measured from barely do)
        input_scale_limit_V=(
            chip.training.input_scale_V * min(v_set, -v_reset) / max_in if max_in > 0 else None
        ),
    )
    p = {k: np.concatenate(v) if v else np.full(1, np.nan) for k, v in pw.items()}
    diss = p["resistors"] + p["diodes"]
    pwr = PowerSummary(
        dissipated_mean_W=float(diss.mean()),
        dissipated_max_W=float(diss.max()),
        resistors_mean_W=float(p["resistors"].mean()),
        diodes_mean_W=float(p["diodes"].mean()),
        sources_mean_W=float(-p["sources"].mean()),
        amplifiers_mean_W=float(-p["amplifiers"].mean()),
    )
    op = OperatingPoint(chip.name, len(x), chip.training.input_scale_V, layers, read, pwr)
    op.verdict = verdict(chip, op)
    return op


def analyze_dataset(
    chip: Chip, conductances: Mapping[str, np.ndarray] | None = None, chunk: int = 256
) -> OperatingPoint:
    """:func:`analyze` over every sample of the chip's own dataset (:func:`dataset_arrays`)."""
    x, t = dataset_arrays(chip)
    return analyze(chip, x, t, conductances, chunk)


def _nvt(chip: Chip) -> float:
    nrn = next(la.neuron for la in chip.layers if la.neuron is not None)
    return nrn.diode.n * nrn.diode.vt_V


def _pct(f: float) -> str:
    return f"{100 * f:.0f} %" if f == 0 or f >= 0.01 else f"{100 * f:.2f} %"


def verdict(chip: Chip, op: OperatingPoint) -> list[str]:
    """One plain sentence per finding: every judged layer, then the read margin."""
    lines = []
    for la in op.layers:
        if not la.judged:
            continue
        where = f"layer {la.index} ({la.role}, {la.neurons} neurons)"
        if la.status == "linear":
            fixes = []
            lim = op.read.input_scale_limit_V
            if la.suggest_input_scale_V is not None:
                over = lim is not None and la.suggest_input_scale_V >= lim
                fixes.append(
                    f"raise input_scale to ≥ {la.suggest_input_scale_V:.3g} V"
                    + (f" (but reads reach the memristor thresholds from ~{lim:.3g} V)" if over else "")
                )
            if la.suggest_clamp_V is not None and la.suggest_diode_is_A is None:
                fixes.append(f"lower the clamp levels to ±{la.suggest_clamp_V:.3g} V around their middle")
            if la.suggest_diode_is_A is not None:
                fixes.append(
                    f"lower the clamps to ±{la.suggest_clamp_V:.3g} V and raise neuron.diode.is to "
                    f"≥ {la.suggest_diode_is_A:.2g} A (the knee sits {la.knee_offset_V:.2f} V beyond "
                    "the clamp source)"
                )
            if la.unreachable:
                fixes.append(
                    "at this input_scale no clamp or diode setting reaches the nodes: a knee within n·Vt·ln 4 "
                    f"= {1e3 * _nvt(chip) * np.log(4.0):.0f} mV of the clamps' middle needs diodes that "
                    "conduct at rest and load the node; reduce the cancellation of the ± pairs (a wider "
                    "initial conductance spread, fewer inputs per node) or accept a linear layer"
                )
            fix = (
                " or ".join(fixes)
                + "; codegen tune searches input_scale, clamps, diode IS and initial range together, "
                "within the read margin"
                if fixes
                else "run codegen tune"
            )
            canc = (
                f"; the ± input pairs cancel {_pct(la.input_cancellation)} of the input drive"
                if la.input_cancellation is not None
                else ""
            )
            lines.append(
                f"{where} is linear: {_pct(la.frac_nonlinear)} of its operating points reach a knee "
                f"(|V| ≤ {la.abs_v_max_V:.3g} V, 90 % within {la.abs_v_p90_V:.3g} V; knees at "
                f"{la.knee_low_V:.3g} / {la.knee_high_V:.3g} V){canc}; {fix}"
            )
        elif la.status == "loaded":
            lines.append(
                f"{where} is loaded by its clamp diodes: at rest they conduct {la.rest_load:.2g}× the "
                "node's crossbar conductance and attenuate every signal; lower neuron.diode.is or "
                "widen the clamp levels"
            )
        elif la.status == "saturated":
            lines.append(
                f"{where} is saturated: {_pct(la.frac_saturated)} of its operating points sit deep in "
                "the clamps and pass almost no signal; lower input_scale or widen the clamp levels"
            )
        else:
            lines.append(
                f"{where} is nonlinear: {_pct(la.frac_nonlinear)} of its operating points are past a "
                f"knee ({_pct(la.frac_saturated)} saturated), {_pct(la.neurons_reaching_knee)} of the "
                "neurons reach one"
            )
    rd = op.read
    side = "v_threshold_set" if rd.dv_V >= 0 else "v_threshold_reset"
    thr = rd.v_set_V if rd.dv_V >= 0 else rd.v_reset_V
    if rd.passed:
        lines.append(
            f"reads are safe: the largest drop across a weight is {rd.max_abs_dv_V:.3g} V, "
            f"{rd.margin_V:.3g} V inside the thresholds ({rd.crossbar}[{rd.row},{rd.col}], {rd.phase})"
        )
    else:
        lines.append(
            f"reads disturb the weights: {rd.crossbar}[{rd.row},{rd.col}] sees {rd.dv_V:.3g} V in the "
            f"{rd.phase} phase (sample {rd.sample}), beyond device.{side} = {thr:g} V; lower "
            "input_scale, the bias voltage or the amplifier gain"
        )
    return lines
