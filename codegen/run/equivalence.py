"""ngspice vs the golden model on the same chip, conductances and inputs (``codegen check`` and tests).

Phases compared: ``free`` (``free.sp``), ``nudged +β`` / ``nudged −β`` (``nudged.sp`` with the VCCS
gains set to ±β) and ``simultaneous`` (``simultaneous.sp``: every copy in one operating point).
For each: the largest |ΔV| over every IR node and sample (V), and for the nudged and simultaneous
routes the EP update computed from ngspice's voltages against the golden model's EP update.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from ..ir import Chip
from .ngspice import SharedSession, netlist_files

__all__ = [
    "PhaseResult",
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

    @property
    def passed(self) -> bool:
        ok = self.max_dv_V <= TOL_V
        return ok and (self.ep_rel_err is None or self.ep_rel_err <= TOL_EP_REL)

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "passed": self.passed}


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
) -> list[PhaseResult]:
    """Golden model vs ngspice (shared mode) for every phase, over the samples ``x`` (B, n_in) with
    targets ``target`` (B, n_out, V); β (S) defaults to ``chip.nudge.beta_S``.

    ``files``: the netlists to simulate (e.g. read from a build folder); by default the ``spice``
    backend renders them with ``conductances``.  Either way the golden model uses ``conductances``.
    """
    from ..model import GoldenModel

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
    files = netlist_files(chip, conductances) if files is None else files

    def dv(copy: str, ops: list[dict[str, float]]) -> float:
        return max(abs(op[n] - float(gold[copy][n][b])) for b, op in enumerate(ops) for n in op)

    rows: list[PhaseResult] = []
    s = SharedSession(chip, files, "free")
    res = [s.op(xb) for xb in x]
    free_ops = [r.copies["free"] for r in res]
    rows.append(PhaseResult("free", dv("free", free_ops), None, _mean_s(res), len(x)))
    s = SharedSession(chip, files, "nudged")
    res_p = [s.op(xb, tb, beta) for xb, tb in zip(x, target, strict=True)]
    res_m = [s.op(xb, tb, -beta) for xb, tb in zip(x, target, strict=True)]
    plus_ops = [r.copies["pos"] for r in res_p]
    minus_ops = [r.copies["pos"] for r in res_m]
    ep = ep_from_voltages(chip, free_ops, plus_ops, minus_ops if centered else None, beta)
    err = ep_relative_error(ep, ref_ep)
    rows.append(PhaseResult("nudged +β", dv("pos", plus_ops), err, _mean_s(res_p), len(x)))
    rows.append(PhaseResult("nudged −β", dv("neg", minus_ops), err, _mean_s(res_m), len(x)))
    s = SharedSession(chip, files, "simultaneous")
    res_s = [s.op(xb, tb, beta) for xb, tb in zip(x, target, strict=True)]
    sim_dv = max(dv(copy, [r.copies[copy] for r in res_s]) for copy in res_s[0].copies)
    ep_s = ep_from_voltages(
        chip,
        [r.copies["free"] for r in res_s],
        [r.copies["pos"] for r in res_s],
        [r.copies["neg"] for r in res_s] if centered else None,
        beta,
    )
    rows.append(PhaseResult("simultaneous", sim_dv, ep_relative_error(ep_s, ref_ep), _mean_s(res_s), len(x)))
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
