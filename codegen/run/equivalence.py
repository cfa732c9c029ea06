"""ngspice vs the golden model on the same chip, conductances and inputs (``codegen check`` and tests).

Phases compared: ``free`` (``free.sp``), ``nudged +β`` / ``nudged −β`` (``nudged.sp`` with the VCCS
gains set to ±β) and ``simultaneous`` (``simultaneous.sp``: every copy in one operating point).
For each: the largest |ΔV| over every IR node and sample (V), and for the nudged and simultaneous
routes the EP update computed from ngspice's voltages against the golden model's EP update.

:func:`read_disturb` checks, from the same voltages, that no weight conductance sees a voltage that
would reprogram it during inference or training reads (|ΔV| at or beyond the memristor thresholds).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..ir import Chip
from .ngspice import SharedSession

__all__ = [
    "PhaseResult",
    "PhaseVoltages",
    "ReadDisturb",
    "read_disturb",
    "TOL_V",
    "TOL_EP_REL",
    "ep_from_voltages",
    "ep_relative_error",
    "compare_phases",
    "ngspice_loss",
]

#: node-voltage agreement (V): the netlists use RELTOL 1e-6, VNTOL 1e-9 V; the golden solver's KCL
#: residual is 1e-12 A; we observe ≤ 2e-7 V (kiraz_case1, forward-biased diodes), mostly < 1e-10 V
TOL_V = 1e-6
#: EP update agreement, max |Δ| over a crossbar / max |golden update| of that crossbar (1)
TOL_EP_REL = 1e-3


@dataclass
class PhaseResult:
    """One row of the equivalence table."""

    phase: str
    max_dv_V: float  # max |V_ngspice − V_golden| over nodes and samples (V)
    ep_rel_err: float | None  # max relative error of the EP update (1), None for the free phase
    op_seconds: float  # mean ngspice time per operating point (s)
    samples: int
    simulator: str = "ngspice"  # codegen.run.simulators name
    dialect: str = "spice"  # netlist folder the simulator ran
    tol_V: float = TOL_V  # the |ΔV| this row accepts (V): Simulator.tolerance_V(dialect)

    @property
    def passed(self) -> bool:
        ok = self.max_dv_V <= self.tol_V
        return ok and (self.ep_rel_err is None or self.ep_rel_err <= TOL_EP_REL)

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


@dataclass
class ReadDisturb:
    """The largest voltage across any weight conductance during the checked operating points.

    A cell is disturbed (its memristor would be reprogrammed by a read) when its drop reaches
    ``v_set_V`` or ``v_reset_V``; the check fails if that happens in the golden model or in ngspice."""

    max_abs_dv_V: float  # largest |ΔV| over every weight, phase and sample, golden model (V)
    max_abs_dv_ngspice_V: float  # the same from ngspice's node voltages (V)
    dv_V: float  # signed drop of the worst cell (golden model, V)
    threshold_V: float  # the threshold on that side: v_set_V if dv_V ≥ 0 else v_reset_V (V)
    margin_V: float  # smallest distance of any drop (golden or ngspice) to its threshold (V); < 0: disturbed
    crossbar: str
    row: int
    col: int
    dst_node: str  # the cell's row node
    src_node: str  # the cell's column node
    phase: str
    sample: int
    v_set_V: float
    v_reset_V: float

    @property
    def passed(self) -> bool:
        return self.margin_V > 0.0

    @property
    def cell(self) -> str:
        return f"{self.crossbar}[{self.row},{self.col}] ({self.src_node} → {self.dst_node})"

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "cell": self.cell, "passed": self.passed}


def read_disturb(chip: Chip, record: PhaseVoltages) -> ReadDisturb:
    """Largest drop across any weight conductance over every phase and sample of ``record``, against
    the device thresholds ``chip.device.v_set_V`` (> 0) and ``v_reset_V`` (< 0)."""
    v_set, v_reset = chip.device.v_set_V, chip.device.v_reset_V
    xbs = {xb.name: xb for xb in chip.crossbars}
    worst: tuple[float, str, str, int, tuple[int, ...]] | None = None  # (|ΔV|, phase, xb, sample, idx)
    margin = np.inf
    for phase, drops in record.golden.items():
        for name, d in drops.items():
            margin = min(margin, v_set - float(d.max()), float(d.min()) - v_reset)
            idx = np.unravel_index(int(np.abs(d).argmax()), d.shape)
            if worst is None or float(abs(d[idx])) > worst[0]:
                worst = (float(abs(d[idx])), phase, name, int(idx[0]), tuple(int(i) for i in idx[1:]))
    ng_max = 0.0
    for ops in record.ngspice.values():
        for op in ops:
            for d in _drops(chip, op).values():
                ng_max = max(ng_max, float(np.abs(d).max()))
                margin = min(margin, v_set - float(d.max()), float(d.min()) - v_reset)
    if worst is None:
        raise ValueError("read_disturb: no golden voltages recorded")
    _, phase, name, sample, (r, c) = worst
    dv = float(record.golden[phase][name][sample, r, c])
    xb = xbs[name]
    return ReadDisturb(
        max_abs_dv_V=abs(dv),
        max_abs_dv_ngspice_V=ng_max,
        dv_V=dv,
        threshold_V=v_set if dv >= 0 else v_reset,
        margin_V=float(margin),
        crossbar=name,
        row=r,
        col=c,
        dst_node=xb.dst_nodes[r],
        src_node=xb.src_nodes[c],
        phase=phase,
        sample=sample,
        v_set_V=v_set,
        v_reset_V=v_reset,
    )


def _drops(chip: Chip, v: Mapping[str, float]) -> dict[str, np.ndarray]:
    """Crossbar → (rows, cols) drop ``V(src column) − V(dst row)`` (V) from a node → V dict."""
    out = {}
    for xb in chip.crossbars:
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
    counts with its absolute error."""
    worst = 0.0
    for name, r in ref.items():
        scale = float(np.abs(r).max())
        err = float(np.abs(ep[name] - r).max())
        worst = max(worst, err / scale if scale > 0 else err)
    return worst


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
    """Golden model vs a simulator (default ngspice, shared mode) for every phase, over the samples ``x`` (B, n_in) with
    targets ``target`` (B, n_out, V); β (S) defaults to ``chip.nudge.beta_S``.

    ``files``: the netlists to simulate (e.g. read from a build folder); by default the ``spice``
    backend renders them with ``conductances``.  Either way the golden model uses ``conductances``.
    ``record``: filled with the golden drops and ngspice voltages of every phase (for
    :func:`read_disturb`).  ``simulator``: a :mod:`codegen.run.simulators` name; ``dialect``: the
    netlist folder it runs (default its first, e.g. ``spice``; VACASK: ``xyce`` or ``spectre``).
    """
    from ..model import GoldenModel
    from .simulators import OpRequest, get_simulator

    sim = get_simulator(simulator)
    dialect = dialect or sim.dialects[0]
    sim.check_dialect(dialect)
    tag: dict[str, Any] = {"simulator": sim.name, "dialect": dialect, "tol_V": sim.tolerance_V(dialect, chip)}

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
    err = ep_relative_error(ep, ref_ep)
    rows.append(PhaseResult("nudged +β", dv("pos", plus_ops), err, _mean_s(res_p), len(x), **tag))
    rows.append(PhaseResult("nudged −β", dv("neg", minus_ops), err, _mean_s(res_m), len(x), **tag))
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
        PhaseResult("simultaneous", sim_dv, ep_relative_error(ep_s, ref_ep), _mean_s(res_s), len(x), **tag)
    )
    if record is not None:
        for phase, eq in (("free", free_eq), ("nudged +β", plus_eq), ("nudged −β", minus_eq)):
            record.golden[phase] = model.voltage_drops(eq)
        record.ngspice.update({"free": free_ops, "nudged +β": plus_ops, "nudged −β": minus_ops})
        for copy in res_s[0].copies:
            record.ngspice[f"simultaneous {copy}"] = [r.copies[copy] for r in res_s]
    return rows


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
