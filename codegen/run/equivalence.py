"""ngspice vs the golden model on the same chip, conductances and inputs (``codegen check`` and tests).

Phases compared: ``free`` (``free.sp``), ``nudged +β`` / ``nudged −β`` (``nudged.sp`` with the VCCS
gains set to ±β) and ``simultaneous`` (``simultaneous.sp``: every copy in one operating point).
For each: the largest |ΔV| over every IR node and sample (V), and for the nudged and simultaneous
routes the EP update computed from ngspice's voltages against the golden model's EP update.

EP-update tolerance
-------------------
The EP update of a cell is ``u = k·⟨a² − b²⟩/D`` (V²/S) with ``k = c/c_out``, ``a``/``b`` the cell's
drops in the two phases EP differences (``+β``/``−β`` centered, ``+β``/free otherwise), ``D = 4β``
(centered) or ``2β``, ``⟨⟩`` the batch mean.  If each drop is off by at most ``δ`` (``a' = a + ε_a``,
``|ε| ≤ δ``), then ``a'² − a² = 2a·ε_a + ε_a²`` and

    |u' − u| ≤ k·⟨2δ·(|a| + |b|) + δ²⟩ / D      ≈ k·|V|·δ/β (centered), 2·k·|V|·δ/β (vanilla)

where ``|V|`` is the size of the drop: voltage errors are amplified by ``|V|/β`` (here ~3 V / 1e-6 S).
A drop is the difference of two nodes, so it is good to ``δ = 2·δ_node`` when every node of the
two simulators agrees within ``δ_node``; that bound per cell is the *noise floor*
(:func:`ep_noise_floor`).  ``δ_node`` is the largest node disagreement measured in the phases the
update is computed from (the |ΔV| of those rows), at most :data:`TOL_V` (what the |ΔV| rows accept)
and at least :data:`EP_DV_MIN_V` (float rounding of the squares).  At a chip trained to convergence
the update itself is ~0 (the nudge pushes with ``β·(t − y) ≈ 0``), and a purely relative error
``|u' − u| / max|u|`` measures solver noise divided by ~0 (trained Kiraz case 1: 2.4e-2 for drops
that agree to 1e-8 V, with a golden update of exactly 0: the golden solver's nudged phase stops at
its 1e-12 A KCL tolerance).  The EP rows therefore accept a cell when

    |u_ngspice − u_golden| ≤ TOL_EP_REL · max|u_golden of its crossbar| + floor(cell)

and report the worst ratio ``ep_err_ratio`` (≤ 1 passes).  The bound is strict, so voltage noise
alone never fails an EP row (voltages beyond :data:`TOL_V` fail the |ΔV| rows); an EP row fails
when the update computed from ngspice's voltages differs from the golden model's by more than those
voltages can explain: a wrong β, sign, c/c_out or centring in the EP arithmetic.  With
``δ_node = TOL_V`` instead of the measured value the floor would be 2–50 % of the initial update of
the input crossbars (c/c_out = 16) and hide such errors there.

:func:`read_disturb` checks that no weight conductance sees a voltage that would reprogram it during
inference or training reads (|ΔV| at or beyond the memristor thresholds): over the whole dataset
with the golden model (:func:`golden_read_disturb`, every read phase: free and nudged ±β), and on
the samples ngspice simulated, with golden and ngspice drops compared on those.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..ir import Chip
from .ngspice import SharedSession

__all__ = [
    "PhaseResult",
    "PhaseVoltages",
    "GoldenDisturb",
    "ReadDisturb",
    "golden_read_disturb",
    "read_disturb",
    "TOL_V",
    "TOL_EP_REL",
    "EP_DV_MIN_V",
    "ep_from_voltages",
    "ep_noise_floor",
    "ep_relative_error",
    "ep_tolerance_ratio",
    "compare_phases",
    "ngspice_loss",
]

#: node-voltage agreement (V): the netlists use RELTOL 1e-6, VNTOL 1e-9 V; the golden solver's KCL
#: residual is 1e-12 A; we observe ≤ 2e-7 V (kiraz_case1, forward-biased diodes), mostly < 1e-10 V
TOL_V = 1e-6
#: EP update agreement, relative part: of the largest |golden update| of the crossbar (1); the
#: noise floor :func:`ep_noise_floor` is added to it (module docstring: why)
TOL_EP_REL = 1e-3
#: smallest node disagreement (V) the EP noise floor assumes: float64 rounding of ΔV² − ΔV² at
#: drops of a few V is ~1e-15 V², i.e. a drop error of ~1e-16 V; 1e-12 V leaves a wide margin
EP_DV_MIN_V = 1e-12


@dataclass
class PhaseResult:
    """One row of the equivalence table.

    EP fields (None for the free phase): ``ep_rel_err`` max |Δu| / max |u| per crossbar (1, for
    information: it measures noise at a converged chip); ``ep_abs_err`` max |u_ngspice − u_golden|
    (V²/S); ``ep_err_ratio`` max over cells of |Δu| / (TOL_EP_REL·max|u| + noise floor) (1): the
    row passes at ≤ 1; ``ep_floor`` the largest noise floor of any cell (V²/S), from node errors of
    ``ep_noise_dv_V`` (V: the measured |ΔV| of the phases the update uses, clipped to
    [EP_DV_MIN_V, TOL_V]); ``ep_signal`` max
    over cells of |u_golden| / floor (1): below 1 the golden update itself is under the noise floor
    (a converged chip on its own targets), and the row can only show that ngspice adds no more than
    solver noise, not that it gets the update right (check with random targets for that)."""

    phase: str
    max_dv_V: float  # max |V_ngspice − V_golden| over nodes and samples (V)
    ep_rel_err: float | None  # max relative error of the EP update (1), None for the free phase
    op_seconds: float  # mean ngspice time per operating point (s)
    samples: int
    ep_err_ratio: float | None = None  # max |Δu| / allowed (1); the EP part passes at ≤ 1
    ep_abs_err: float | None = None  # max |Δu| (V²/S)
    ep_floor: float | None = None  # largest per-cell noise floor (V²/S)
    ep_noise_dv_V: float | None = None  # δ_node the floor assumes (V): measured |ΔV|, clipped
    ep_signal: float | None = None  # max over cells of |u_golden| / floor (1); < 1: no EP signal
    simulator: str = "ngspice"  # codegen.run.simulators name
    dialect: str = "spice"  # netlist folder the simulator ran
    tol_V: float = TOL_V  # the |ΔV| this row accepts (V): Simulator.tolerance_V(dialect)

    @property
    def passed(self) -> bool:
        ok = self.max_dv_V <= self.tol_V
        return ok and (self.ep_err_ratio is None or self.ep_err_ratio <= 1.0)

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "passed": self.passed}


@dataclass
class PhaseVoltages:
    """What :func:`compare_phases` simulated, kept for further checks (:func:`read_disturb`).

    ``golden[phase][xb]``: (B, rows, cols) drops ``V(src column) − V(dst row)`` (V) of the golden
    model; ``ngspice[phase]``: per sample, IR node → V of ngspice.  Phases ``free``, ``nudged +β``,
    ``nudged −β`` and, for ngspice only, ``simultaneous <copy>`` for each copy of that deck."""

    golden: dict[str, dict[str, np.ndarray]]
    ngspice: dict[str, list[dict[str, float]]]


#: the golden phase an ngspice copy of the simultaneous deck reads (its drops compare to those)
_COPY_PHASE = {"free": "free", "pos": "nudged +β", "neg": "nudged −β"}


def _margins(d: np.ndarray, v_set: float, v_reset: float) -> np.ndarray:
    """Distance (V) of each drop ``d`` to the threshold on its side; < 0: at or beyond it."""
    return np.minimum(v_set - d, d - v_reset)


@dataclass
class GoldenDisturb:
    """The worst read of the golden model over a whole set of samples (:func:`golden_read_disturb`).

    ``margin_V`` = min over every weight, read phase and sample of the distance of the drop to the
    threshold on its side (V, < 0: the read would reprogram the cell); the fields after it locate
    the cell and the sample where it happens.  ``sample_margins_V``: (N,) the same per sample."""

    samples: int
    phases: tuple[str, ...]
    margin_V: float
    dv_V: float  # signed drop of the worst cell (V)
    max_abs_dv_V: float  # largest |drop| of any weight, phase and sample (V)
    crossbar: str
    row: int
    col: int
    phase: str
    sample: int
    sample_margins_V: np.ndarray = field(repr=False)


def golden_read_disturb(
    chip: Chip,
    conductances: Mapping[str, np.ndarray],
    x: np.ndarray,
    target: np.ndarray,
    beta: float | None = None,
    chunk: int = 256,
) -> GoldenDisturb:
    """Read disturb over every sample of ``x`` (N, n_in; feature units) with targets ``target``
    (N, n_out; V) in every phase the chip reads in: free and nudged +β, and −β when
    ``chip.nudge.centered`` (β in S, default ``chip.nudge.beta_S``).  The golden model solves
    ``chunk`` samples per batch (it agrees with ngspice within :data:`TOL_V`; :func:`read_disturb`
    checks that on ngspice's samples)."""
    from ..model import GoldenModel

    x = np.atleast_2d(np.asarray(x, dtype=float))
    target = np.atleast_2d(np.asarray(target, dtype=float))
    if len(x) == 0:
        raise ValueError("golden_read_disturb: no samples")
    beta = chip.nudge.beta_S if beta is None else float(beta)
    v_set, v_reset = chip.device.v_set_V, chip.device.v_reset_V
    model = GoldenModel(chip, conductances={k: np.asarray(v) for k, v in conductances.items()})
    phases = ("free", "nudged +β", "nudged −β") if chip.nudge.centered else ("free", "nudged +β")
    per_sample = np.full(len(x), np.inf)
    worst: tuple[float, float, str, str, int, int, int] | None = None  # margin, dv, phase, xb, b, r, c
    max_abs = 0.0
    for lo in range(0, len(x), chunk):
        xs, ts = x[lo : lo + chunk], target[lo : lo + chunk]
        free = model.solve(xs)
        eqs = {"free": free, "nudged +β": model.solve(xs, ts, beta, v0=free.v)}
        if chip.nudge.centered:
            eqs["nudged −β"] = model.solve(xs, ts, -beta, v0=free.v)
        for phase, eq in eqs.items():
            for name, d in model.voltage_drops(eq).items():
                m = _margins(d, v_set, v_reset)
                flat = m.reshape(len(d), -1)
                per_sample[lo : lo + len(d)] = np.minimum(per_sample[lo : lo + len(d)], flat.min(axis=1))
                max_abs = max(max_abs, float(np.abs(d).max()))
                b, r, c = (int(i) for i in np.unravel_index(int(m.argmin()), m.shape))
                if worst is None or float(m[b, r, c]) < worst[0]:
                    worst = (float(m[b, r, c]), float(d[b, r, c]), phase, name, lo + b, r, c)
    assert worst is not None
    margin, dv, phase, name, b, r, c = worst
    return GoldenDisturb(
        samples=len(x),
        phases=phases,
        margin_V=margin,
        dv_V=dv,
        max_abs_dv_V=max_abs,
        crossbar=name,
        row=r,
        col=c,
        phase=phase,
        sample=b,
        sample_margins_V=per_sample,
    )


@dataclass
class ReadDisturb:
    """The largest voltage across any weight conductance during the checked operating points.

    A cell is disturbed (its memristor would be reprogrammed by a read) when its drop reaches
    ``v_set_V`` or ``v_reset_V``.  The worst cell is the one with the smallest margin to the
    threshold on its side, over the golden sweep (:func:`golden_read_disturb`: the whole dataset)
    when given, else over the samples ngspice simulated.  The check fails if any drop, golden or
    ngspice, is at or beyond a threshold, or if golden and ngspice drops on ngspice's samples differ
    by more than ``2·TOL_V`` (each drop is the difference of two nodes within :data:`TOL_V`)."""

    max_abs_dv_V: float  # largest |ΔV| over every weight, phase and sample, golden model (V)
    max_abs_dv_ngspice_V: float  # the same from ngspice's node voltages, ngspice's samples (V)
    dv_V: float  # signed drop of the worst cell (golden model, V)
    threshold_V: float  # the threshold on that side: v_set_V if dv_V ≥ 0 else v_reset_V (V)
    margin_V: float  # smallest distance of any drop (golden or ngspice) to its threshold (V); < 0: disturbed
    crossbar: str
    row: int
    col: int
    dst_node: str  # the cell's row node
    src_node: str  # the cell's column node
    phase: str
    sample: int  # index of the worst sample in the swept set (the dataset, or ngspice's samples)
    v_set_V: float
    v_reset_V: float
    samples: int = 0  # samples the golden model swept (the whole dataset in ``codegen check``)
    sample_label: str = ""  # where the worst sample comes from, e.g. "train 96"
    margin_golden_V: float = np.inf  # smallest margin of the golden sweep (V)
    margin_ngspice_V: float = np.inf  # smallest margin of ngspice's drops on its samples (V)
    ngspice_samples: int = 0  # operating points per phase ngspice simulated
    golden_vs_ngspice_V: float = 0.0  # max |drop_golden − drop_ngspice| on ngspice's samples (V)
    tol_drop_V: float = 2 * TOL_V  # allowed golden vs ngspice drop difference (V)

    @property
    def passed(self) -> bool:
        return self.margin_V > 0.0 and self.golden_vs_ngspice_V <= self.tol_drop_V

    @property
    def cell(self) -> str:
        return f"{self.crossbar}[{self.row},{self.col}] ({self.src_node} → {self.dst_node})"

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "cell": self.cell, "passed": self.passed}


def read_disturb(
    chip: Chip,
    record: PhaseVoltages,
    sweep: GoldenDisturb | None = None,
    labels: Sequence[str] | None = None,
) -> ReadDisturb:
    """Read disturb against the device thresholds ``chip.device.v_set_V`` (> 0) and ``v_reset_V``
    (< 0): the golden drops of ``record`` (ngspice's samples) or, when given, the golden sweep
    ``sweep`` over the whole dataset locate the worst cell; ngspice's node voltages in ``record``
    count towards the margin and are compared drop by drop with the golden model's.  ``labels``:
    a name per sample of the swept set (``sweep`` or ``record``), for the report."""
    v_set, v_reset = chip.device.v_set_V, chip.device.v_reset_V
    xbs = {xb.name: xb for xb in chip.crossbars}
    if not record.golden and sweep is None:
        raise ValueError("read_disturb: no golden voltages recorded")
    # worst of the golden drops on ngspice's samples: (margin, dv, phase, xb, sample, row, col)
    worst_rec: tuple[float, float, str, str, int, int, int] | None = None
    max_rec = 0.0
    for phase, drops in record.golden.items():
        for name, d in drops.items():
            m = _margins(d, v_set, v_reset)
            b, r, c = (int(i) for i in np.unravel_index(int(m.argmin()), m.shape))
            max_rec = max(max_rec, float(np.abs(d).max()))
            if worst_rec is None or float(m[b, r, c]) < worst_rec[0]:
                worst_rec = (float(m[b, r, c]), float(d[b, r, c]), phase, name, b, r, c)
    ng_max, ng_margin, diff, n_ops = 0.0, np.inf, 0.0, 0
    for phase, ops in record.ngspice.items():
        gphase = _COPY_PHASE.get(phase.removeprefix("simultaneous "), phase)
        gold = record.golden.get(gphase)
        n_ops = max(n_ops, len(ops))
        for b, op in enumerate(ops):
            for name, d in _drops(chip, op).items():
                ng_max = max(ng_max, float(np.abs(d).max()))
                ng_margin = min(ng_margin, float(_margins(d, v_set, v_reset).min()))
                if gold is not None and name in gold:
                    diff = max(diff, float(np.abs(d - gold[name][b]).max()))
    if sweep is not None:
        margin_g, dv, phase, name, sample = (
            sweep.margin_V,
            sweep.dv_V,
            sweep.phase,
            sweep.crossbar,
            sweep.sample,
        )
        r, c, max_abs, n = sweep.row, sweep.col, sweep.max_abs_dv_V, sweep.samples
        if worst_rec is not None:  # ngspice's samples are (normally) part of the sweep; keep the worse
            margin_g, max_abs = min(margin_g, worst_rec[0]), max(max_abs, max_rec)
    else:
        assert worst_rec is not None
        margin_g, dv, phase, name, sample, r, c = worst_rec
        max_abs, n = max_rec, n_ops
    xb = xbs[name]
    return ReadDisturb(
        max_abs_dv_V=max_abs,
        max_abs_dv_ngspice_V=ng_max,
        dv_V=dv,
        threshold_V=v_set if dv >= 0 else v_reset,
        margin_V=float(min(margin_g, ng_margin)),
        crossbar=name,
        row=r,
        col=c,
        dst_node=xb.dst_nodes[r],
        src_node=xb.src_nodes[c],
        phase=phase,
        sample=sample,
        v_set_V=v_set,
        v_reset_V=v_reset,
        samples=n,
        sample_label=labels[sample] if labels is not None else f"sample {sample}",
        margin_golden_V=float(margin_g),
        margin_ngspice_V=float(ng_margin),
        ngspice_samples=n_ops,
        golden_vs_ngspice_V=diff,
    )


def _drops(chip: Chip, v: Mapping[str, float]) -> dict[str, np.ndarray]:
    """Crossbar → (rows, cols) drop ``V(src column) − V(dst row)`` (V) from a node → V dict."""
    out = {}
    ic = chip.interconnect
    for xb in chip.crossbars:
        if ic.resistive:  # the memristor's own ends, at the wire nodes of its cell
            cols, rows = ic.cell_nodes(xb)
            out[xb.name] = np.array(
                [
                    [v[a] - v[b] for a, b in zip(ca, ra, strict=True)]
                    for ca, ra in zip(cols, rows, strict=True)
                ]
            )
            continue
        s = np.array([v[n] for n in xb.src_nodes])
        d = np.array([v[n] for n in xb.dst_nodes])
        out[xb.name] = s[None, :] - d[:, None]
    return out


def ep_from_voltages(
    chip: Chip,
    free: Sequence[Mapping[str, float]],
    plus: Sequence[Mapping[str, float]],
    minus: Sequence[Mapping[str, float]] | None,
    beta: float,
) -> dict[str, np.ndarray]:
    """Batch-mean EP update ``∂C/∂G`` (V²/S) per crossbar from node voltages (V) of each sample.

    ``(c/c_out)·(ΔV²_{+β} − ΔV²_{−β})/(4β)`` with ``minus`` (centered), else
    ``(c/c_out)·(ΔV²_{+β} − ΔV²_0)/(2β)``; squares are differenced as ``(a−b)(a+b)`` to avoid
    cancellation.
    """
    second, denom = (minus, 4.0 * beta) if minus is not None else (free, 2.0 * beta)
    c_out = chip.nudge.energy_scale
    acc = {xb.name: np.zeros(xb.shape) for xb in chip.crossbars}
    for a, b in zip(plus, second, strict=True):
        da, db = _drops(chip, a), _drops(chip, b)
        for name in acc:
            acc[name] += (da[name] - db[name]) * (da[name] + db[name])
    n = len(plus)
    return {xb.name: xb.energy_scale / c_out * acc[xb.name] / (n * denom) for xb in chip.crossbars}


def ep_relative_error(ep: Mapping[str, np.ndarray], ref: Mapping[str, np.ndarray]) -> float:
    """max over crossbars of max|ep − ref| / max|ref| (1); a crossbar whose reference is all zero
    counts with its absolute error.  For information: at a converged chip ``ref`` is ~0 and this
    measures solver noise (:func:`ep_tolerance_ratio` is what the checks compare)."""
    worst = 0.0
    for name, r in ref.items():
        scale = float(np.abs(r).max())
        err = float(np.abs(ep[name] - r).max())
        worst = max(worst, err / scale if scale > 0 else err)
    return worst


def ep_noise_floor(
    chip: Chip,
    first: Mapping[str, np.ndarray],
    second: Mapping[str, np.ndarray],
    beta: float,
    centered: bool,
    dv_V: float,
) -> dict[str, np.ndarray]:
    """Per cell, the largest error (V²/S) of the EP update that drop errors of at most ``dv_V`` (V)
    can cause: ``k·⟨2·dv·(|a| + |b|) + dv²⟩ / D`` (module docstring), with ``first``/``second`` the
    (B, rows, cols) golden drops (V) of the two phases EP differences (+β and −β centered, +β and
    free otherwise), ``k = c/c_out``, ``D = 4β`` centered or ``2β`` (β in S).  A drop between two
    nodes that each agree within δ_node is good to ``dv_V = 2·δ_node``."""
    denom = 4.0 * beta if centered else 2.0 * beta
    c_out = chip.nudge.energy_scale
    out = {}
    for xb in chip.crossbars:
        a, b = np.abs(first[xb.name]), np.abs(second[xb.name])
        bound = (2.0 * dv_V * (a + b) + dv_V**2).mean(axis=0)
        out[xb.name] = xb.energy_scale / c_out * bound / denom
    return out


def ep_tolerance_ratio(
    ep: Mapping[str, np.ndarray],
    ref: Mapping[str, np.ndarray],
    floor: Mapping[str, np.ndarray],
    rel: float = TOL_EP_REL,
) -> tuple[float, float]:
    """(max over cells of |ep − ref| / (rel·max|ref of the crossbar| + floor), max |ep − ref|):
    the EP update agrees when the ratio is ≤ 1 (updates and floors in V²/S)."""
    ratio, worst = 0.0, 0.0
    for name, r in ref.items():
        err = np.abs(ep[name] - r)
        allowed = rel * float(np.abs(r).max()) + floor[name]
        ratio = max(ratio, _ratio_max(err, allowed))
        worst = max(worst, float(err.max()))
    return ratio, worst


def compare_phases(
    chip: Chip,
    conductances: Mapping[str, np.ndarray],
    x: np.ndarray,
    target: np.ndarray,
    beta: float | None = None,
    files: Mapping[str, str] | None = None,
    record: PhaseVoltages | None = None,
    simulator: str = "ngspice",
    dialect: str | None = None,
) -> list[PhaseResult]:
    """Golden model vs a simulator (default ngspice, shared mode) for every phase, over the samples
    ``x`` (B, n_in) with targets ``target`` (B, n_out, V); β (S) defaults to ``chip.nudge.beta_S``.

    ``files``: the netlists to simulate (e.g. read from a build folder); by default the dialect's
    backend renders them with ``conductances``.  Either way the golden model uses ``conductances``.
    ``record``: filled with the golden drops and simulator voltages of every phase (for
    :func:`read_disturb`).  ``simulator``: a :mod:`codegen.run.simulators` name; ``dialect``: the
    netlist folder it runs (default its first, e.g. ``spice``; VACASK: ``xyce`` or ``spectre``).
    """
    from ..model import GoldenModel
    from .simulators import OpRequest, get_simulator

    sim = get_simulator(simulator)
    dialect = dialect or sim.dialects[0]
    sim.check_dialect(dialect)
    tol_V = sim.tolerance_V(dialect, chip)
    tag: dict[str, Any] = {"simulator": sim.name, "dialect": dialect, "tol_V": tol_V}

    x = np.atleast_2d(np.asarray(x, dtype=float))
    target = np.atleast_2d(np.asarray(target, dtype=float))
    beta = chip.nudge.beta_S if beta is None else float(beta)
    centered = chip.nudge.centered
    model = GoldenModel(chip, conductances={k: np.asarray(v) for k, v in conductances.items()})
    free_eq = model.solve(x)
    plus_eq = model.solve(x, target, beta, v0=free_eq.v)
    minus_eq = model.solve(x, target, -beta, v0=free_eq.v)
    gold = {"free": free_eq.voltages(), "pos": plus_eq.voltages(), "neg": minus_eq.voltages()}
    ref_ep = model.ep_gradient(x, target, beta=beta, centered=centered)
    drops = {
        phase: model.voltage_drops(eq)
        for phase, eq in (("free", free_eq), ("nudged +β", plus_eq), ("nudged −β", minus_eq))
    }
    first, second = drops["nudged +β"], drops["nudged −β" if centered else "free"]

    def ep_row(ep: Mapping[str, np.ndarray], node_dv_V: float) -> dict[str, Any]:
        # noise floor of the EP update from the measured node disagreement (module docstring),
        # clipped to the voltage tolerance of this simulator and dialect
        d = min(tol_V, max(EP_DV_MIN_V, node_dv_V))
        return _ep_fields(ep, ref_ep, ep_noise_floor(chip, first, second, beta, centered, 2.0 * d), d)

    files = sim.netlist_files(chip, dialect, conductances) if files is None else files

    def dv(copy: str, ops: list[dict[str, float]]) -> float:
        return max(abs(op[n] - float(gold[copy][n][b])) for b, op in enumerate(ops) for n in op)

    rows: list[PhaseResult] = []
    s = sim.session(chip, files, "free", dialect)
    res = s.ops([OpRequest(xb) for xb in x])
    free_ops = [r.copies["free"] for r in res]
    rows.append(PhaseResult("free", dv("free", free_ops), None, _mean_s(res), len(x), **tag))
    s = sim.session(chip, files, "nudged", dialect)
    res_p = s.ops([OpRequest(xb, tb, beta) for xb, tb in zip(x, target, strict=True)])
    res_m = s.ops([OpRequest(xb, tb, -beta) for xb, tb in zip(x, target, strict=True)])
    plus_ops = [r.copies["pos"] for r in res_p]
    minus_ops = [r.copies["pos"] for r in res_m]
    ep = ep_from_voltages(chip, free_ops, plus_ops, minus_ops if centered else None, beta)
    dv_p, dv_m = dv("pos", plus_ops), dv("neg", minus_ops)
    nudged = ep_row(ep, max(dv_p, dv_m) if centered else max(dv_p, rows[0].max_dv_V))
    rows.append(PhaseResult("nudged +β", dv_p, op_seconds=_mean_s(res_p), samples=len(x), **nudged, **tag))
    rows.append(PhaseResult("nudged −β", dv_m, op_seconds=_mean_s(res_m), samples=len(x), **nudged, **tag))
    s = sim.session(chip, files, "simultaneous", dialect)
    res_s = s.ops([OpRequest(xb, tb, beta) for xb, tb in zip(x, target, strict=True)])
    sim_dv = max(dv(copy, [r.copies[copy] for r in res_s]) for copy in res_s[0].copies)
    ep_s = ep_from_voltages(
        chip,
        [r.copies["free"] for r in res_s],
        [r.copies["pos"] for r in res_s],
        [r.copies["neg"] for r in res_s] if centered else None,
        beta,
    )
    rows.append(
        PhaseResult(
            "simultaneous",
            sim_dv,
            op_seconds=_mean_s(res_s),
            samples=len(x),
            **ep_row(ep_s, sim_dv),
            **tag,
        )
    )
    if record is not None:
        record.golden.update(drops)
        record.ngspice.update({"free": free_ops, "nudged +β": plus_ops, "nudged −β": minus_ops})
        for copy in res_s[0].copies:
            record.ngspice[f"simultaneous {copy}"] = [r.copies[copy] for r in res_s]
    return rows


def _ep_fields(
    ep: Mapping[str, np.ndarray],
    ref: Mapping[str, np.ndarray],
    floor: Mapping[str, np.ndarray],
    node_dv_V: float,
) -> dict[str, float]:
    ratio, abs_err = ep_tolerance_ratio(ep, ref, floor)
    return {
        "ep_noise_dv_V": node_dv_V,
        "ep_rel_err": ep_relative_error(ep, ref),
        "ep_err_ratio": ratio,
        "ep_abs_err": abs_err,
        "ep_floor": max(float(f.max()) for f in floor.values()),
        "ep_signal": max(_ratio_max(np.abs(ref[k]), floor[k]) for k in ref),
    }


def _ratio_max(num: np.ndarray, den: np.ndarray) -> float:
    """max of num / den elementwise, with 0/0 counted as 0 (and x/0 as inf for x > 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.where(num > 0, num / den, 0.0).max())


def _mean_s(ops: Sequence[object]) -> float:
    return float(np.mean([o.seconds for o in ops])) if ops else 0.0  # type: ignore[attr-defined]


def ngspice_loss(session: SharedSession, chip: Chip, x: np.ndarray, target: np.ndarray) -> float:
    """Batch-mean loss ``½ Σ (t − y)²`` (V²) at ngspice's free equilibrium (``session`` on ``free.sp``)."""
    total = 0.0
    x = np.atleast_2d(x)
    target = np.atleast_2d(target)
    for xb, tb in zip(x, target, strict=True):
        v = session.op(xb).copies["free"]
        y = np.array([v[p] - (v[n] if n is not None else 0.0) for p, n in chip.nudge.outputs])
        total += 0.5 * float(((tb - y) ** 2).sum())
    return total / len(x)
