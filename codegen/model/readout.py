"""The readout of an equilibrium, written once: crossbar drops, outputs ``y``, loss and the EP
estimator.

Every consumer calls these functions: the golden model (:mod:`codegen.model.network`, vectorised
over the batch), :mod:`codegen.run.equivalence` and the co-simulation (per-sample ngspice results,
node → V dicts, through :func:`ep_from_samples` / :func:`outputs_of`) and the spice training
backend (:mod:`codegen.learn.backends`, (samples, nodes) arrays, through :func:`ep_from_arrays`).

Conventions:

* a crossbar's drop is ``ΔV[r, c] = V(column c) − V(row r)`` (V), columns = source nodes,
  rows = destination nodes, shape ``(…, rows, cols)``;
* an output is ``y_i = V(p_i) − V(n_i)`` (V; ``n_i`` absent: ground), in ``chip.nudge.outputs`` order;
* the loss is ``C = ½ Σ_i (t_i − y_i)²`` (V²);
* the EP estimate of ``∂C/∂G`` (V²/S) of a crossbar is
  ``k·mean_b(ΔV²_first − ΔV²_second)/D`` with ``(first, second) = (+β, free)`` and ``D = 2β``
  (vanilla) or ``(+β, −β)`` and ``D = 4β`` (centered); ``k = c/c_out`` (``energy="full"``: the
  crossbar's layer energy scale over the output layer's) or 1 (``energy="resistors_only"``).
  Squares are differenced as ``(a − b)(a + b)``, expanded so no (batch, rows, cols) array is formed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..ir import Chip

__all__ = [
    "ENERGIES",
    "drops",
    "drops_of",
    "output_matrix",
    "outputs",
    "outputs_of",
    "loss",
    "mean_loss",
    "ep_denominator",
    "ep_scale",
    "pair_mean",
    "ep_from_arrays",
    "ep_from_samples",
]

#: what the EP rule differentiates: ``full`` (every layer's drops weighted by ``c/c_out``) or
#: ``resistors_only`` (the resistor drops alone, unweighted)
ENERGIES = ("full", "resistors_only")


def drops(cols_V: np.ndarray, rows_V: np.ndarray) -> np.ndarray:
    """``(…, rows, cols)`` drops ``V(column) − V(row)`` (V) from ``(…, cols)`` and ``(…, rows)`` voltages (V)."""
    cols_V, rows_V = np.asarray(cols_V, dtype=float), np.asarray(rows_V, dtype=float)
    return cols_V[..., None, :] - rows_V[..., :, None]


def drops_of(chip: Chip, v: Mapping[str, float]) -> dict[str, np.ndarray]:
    """Crossbar → ``(rows, cols)`` drops (V) of one sample from a node → V dict; with wire
    resistance, each memristor's own drop between the wire nodes of its cell
    (:meth:`codegen.ir.Interconnect.cell_nodes`)."""
    ic = chip.interconnect
    out = {}
    for xb in chip.crossbars:
        if ic.resistive:
            cols, rows = ic.cell_nodes(xb)
            out[xb.name] = np.array(
                [
                    [v[a] - v[b] for a, b in zip(ca, ra, strict=True)]
                    for ca, ra in zip(cols, rows, strict=True)
                ]
            )
        else:
            out[xb.name] = drops(
                np.array([v[n] for n in xb.src_nodes]), np.array([v[n] for n in xb.dst_nodes])
            )
    return out


def output_matrix(chip: Chip, index: Mapping[str, int], n: int) -> np.ndarray:
    """``(n_out, n)`` matrix ``P`` with ``y = P v``: +1 at each output's p node, −1 at its n node;
    ``index`` maps a node name to its position in the voltage vector of length ``n``."""
    P = np.zeros((chip.n_outputs, n))
    for i, (p, m) in enumerate(chip.nudge.outputs):
        P[i, index[p]] = 1.0
        if m is not None:
            P[i, index[m]] = -1.0
    return P


def outputs(v: np.ndarray, P: np.ndarray) -> np.ndarray:
    """``(B, n_out)`` outputs ``y = V(p) − V(n)`` (V) from ``(B, n)`` voltages (V) and :func:`output_matrix`."""
    return v @ P.T


def outputs_of(chip: Chip, v: Mapping[str, float]) -> np.ndarray:
    """``(n_out,)`` outputs ``y = V(p) − V(n)`` (V) of one sample from a node → V dict."""
    return np.array([v[p] - (v[n] if n is not None else 0.0) for p, n in chip.nudge.outputs])


def loss(target: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``(B,)`` loss ``C = ½ Σ (t − y)²`` (V²) of targets ``t`` and outputs ``y`` (V), each ``(B, n_out)``."""
    err = np.atleast_2d(np.asarray(target, dtype=float)) - np.atleast_2d(y)
    return 0.5 * (err**2).sum(axis=1)


def mean_loss(target: np.ndarray, y: np.ndarray) -> float:
    """Batch mean of :func:`loss` (V²)."""
    return float(np.mean(loss(target, y)))


def ep_denominator(beta_S: float, centered: bool) -> float:
    """``D`` of the EP estimate: ``4β`` centered, ``2β`` vanilla (β in S)."""
    return (4.0 if centered else 2.0) * beta_S


def ep_scale(chip: Chip, energy: str = "full") -> dict[str, float]:
    """Crossbar → ``k``: ``c/c_out`` (``energy="full"``) or 1 (``"resistors_only"``)."""
    if energy not in ENERGIES:
        raise ValueError(f"energy must be one of {', '.join(ENERGIES)}, got {energy!r}")
    c_out = chip.nudge.energy_scale
    return {xb.name: (xb.energy_scale / c_out if energy == "full" else 1.0) for xb in chip.crossbars}


def pair_mean(cols1: np.ndarray, rows1: np.ndarray, cols0: np.ndarray, rows0: np.ndarray) -> np.ndarray:
    """``(rows, cols)`` batch mean of ``ΔV²(1) − ΔV²(0)`` (V²) from the ``(B, cols)`` column and
    ``(B, rows)`` row voltages (V) of two phases, from differences (no cancellation)."""
    ds, dv, ss, sv = cols1 - cols0, rows1 - rows0, cols1 + cols0, rows1 + rows0
    B = cols1.shape[0]
    return (
        (ds * ss).mean(axis=0)[None, :] - (sv.T @ ds) / B - (dv.T @ ss) / B + (dv * sv).mean(axis=0)[:, None]
    )


def ep_from_arrays(
    chip: Chip,
    first: np.ndarray,
    second: np.ndarray,
    index: Mapping[str, int],
    beta_S: float,
    centered: bool,
    energy: str = "full",
) -> dict[str, np.ndarray]:
    """Batch-mean EP estimate ``∂C/∂G`` (V²/S) per crossbar from ``(B, nodes)`` voltages (V) of the
    two phases (``first`` = +β; ``second`` = −β centered, else free); ``index``: node → column."""
    k, D = ep_scale(chip, energy), ep_denominator(beta_S, centered)
    out = {}
    for xb in chip.crossbars:
        c = [index[n] for n in xb.src_nodes]
        r = [index[n] for n in xb.dst_nodes]
        out[xb.name] = k[xb.name] * pair_mean(first[:, c], first[:, r], second[:, c], second[:, r]) / D
    return out


def ep_from_samples(
    chip: Chip,
    free: Sequence[Mapping[str, float]],
    plus: Sequence[Mapping[str, float]],
    minus: Sequence[Mapping[str, float]] | None,
    beta_S: float,
    energy: str = "full",
) -> dict[str, np.ndarray]:
    """:func:`ep_from_arrays` from per-sample node → V dicts (ngspice results); centered when
    ``minus`` is given."""
    second = minus if minus is not None else free
    if len(plus) != len(second):
        raise ValueError(f"EP needs as many samples in both phases, got {len(plus)} and {len(second)}")
    if chip.interconnect.resistive:  # the memristors' own drops sit at wire nodes, not at the ports
        k, D = ep_scale(chip, energy), ep_denominator(beta_S, minus is not None)
        acc = {xb.name: np.zeros(xb.shape) for xb in chip.crossbars}
        for sa, sb in zip(plus, second, strict=True):
            da, db = drops_of(chip, sa), drops_of(chip, sb)
            for name in acc:
                acc[name] += (da[name] - db[name]) * (da[name] + db[name])
        return {name: k[name] * a / (len(plus) * D) for name, a in acc.items()}
    nodes = list(dict.fromkeys(n for xb in chip.crossbars for n in (*xb.src_nodes, *xb.dst_nodes)))
    index = {n: i for i, n in enumerate(nodes)}
    a = np.array([[s[n] for n in nodes] for s in plus], dtype=float)
    b = np.array([[s[n] for n in nodes] for s in second], dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"EP needs as many samples in both phases, got {len(a)} and {len(b)}")
    return ep_from_arrays(chip, a, b, index, beta_S, minus is not None, energy)
