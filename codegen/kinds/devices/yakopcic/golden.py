"""Golden equations of device kind ``yakopcic`` (Yakopcic et al., IEEE EDL 32(10) 1403, 2011).

State ``x ∈ [0, 1]``, read conductance ``G = g_min + (g_max − g_min)·x`` (linear: the crossbar's
energy function needs ohmic cells; Yakopcic's ``a·x·sinh(bV)`` I–V is not used), state equation
``dx/dt = g(V)·f(x)`` with the threshold drive (V in volts, Yakopcic's ``e^V``)::

    g(V) =  A_p·(e^V − e^{V_p})      for V > V_p
    g(V) = −A_n·(e^{−V} − e^{V_n})   for V < −V_n
    g(V) = 0                         between

and the windows ``f = e^{−α_p (x − x_p)}·(1 − x)/(1 − x_p)`` for ``V > 0, x ≥ x_p`` and
``f = e^{α_n (x + x_n − 1)}·x/(1 − x_n)`` for ``V < 0, x ≤ 1 − x_n``, else 1 (Yakopcic's
``w_p = (x_p − x)/(1 − x_p) + 1`` and ``w_n = x/(1 − x_n)``).

A rectangular pulse holds ``g`` constant, so the state follows ``dx/dt = c·f(x)`` exactly:
linear up to the window, then (set) ``E1(α_p(1 − x)) = E1(α_p(1 − x_s)) + c·τ/K``,
``K = (1 − x_p)·e^{α_p(1 − x_p)}``, with ``E1`` the exponential integral (scipy.special.exp1),
solved for ``x`` by safeguarded Newton steps on ``ln(α(1 − x))``.  Reset is the same with
``x → 1 − x``, ``x_p → x_n``, ``α_p → α_n``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from scipy.special import exp1

from ....ir import Chip, PulsedDeviceIR

__all__ = ["YakopcicIR", "rate", "window", "apply_pulse", "shape_delta", "elaborate", "va_context"]


@dataclass(frozen=True)
class YakopcicIR(PulsedDeviceIR):
    """Device kind ``yakopcic`` (module docstring): ``a_p_per_s``/``a_n_per_s`` are ``A_p``/``A_n``
    (1/s, the e^V drive per volt-scaled exponential), ``x_p``/``x_n`` the window edges (1),
    ``alpha_p``/``alpha_n`` the window decay constants (1)."""

    kind: ClassVar[str] = "yakopcic"

    x_p: float
    x_n: float
    alpha_p: float
    alpha_n: float
    a_p_per_s: float
    a_n_per_s: float


def rate(dev: YakopcicIR, v: np.ndarray | float) -> np.ndarray:
    """Signed drive ``g(V)`` (1/s) at voltage ``v`` (V): dx/dt before the window."""
    v = np.asarray(v, dtype=float)
    with np.errstate(over="ignore", invalid="ignore"):
        up = np.where(v > dev.v_set_V, dev.a_p_per_s * (np.exp(v) - np.exp(dev.v_set_V)), 0.0)
        down = np.where(v < dev.v_reset_V, dev.a_n_per_s * (np.exp(-v) - np.exp(-dev.v_reset_V)), 0.0)
    return up - down


def window(dev: YakopcicIR, x: np.ndarray | float, positive: bool) -> np.ndarray:
    """Yakopcic's window ``f(x)`` (1) for a positive (set) or negative (reset) voltage."""
    x = np.asarray(x, dtype=float)
    if positive:
        w = np.exp(-dev.alpha_p * (x - dev.x_p)) * (1.0 - x) / (1.0 - dev.x_p)
        return np.where(x >= dev.x_p, w, 1.0)
    w = np.exp(dev.alpha_n * (x + dev.x_n - 1.0)) * x / (1.0 - dev.x_n)
    return np.where(x <= 1.0 - dev.x_n, w, 1.0)


def _e1_inverse(y: np.ndarray, z_hi: np.ndarray) -> np.ndarray:
    """``z`` with ``E1(z) = y`` (E1 decreasing), ``z ≤ z_hi``: safeguarded Newton on ``u = ln z``
    (``dE1/du = −e^{−z}``), bracketed in ``[ln 1e-300, ln z_hi]``."""
    lo = np.full_like(y, np.log(1e-300))
    hi = np.log(np.maximum(z_hi, 1e-300))
    u = hi.copy()
    for _ in range(200):
        z = np.exp(u)
        h = exp1(z) - y  # decreasing in u
        lo = np.where(h > 0, u, lo)
        hi = np.where(h <= 0, u, hi)
        with np.errstate(over="ignore"):
            nxt = u + h * np.exp(z)
        bad = ~np.isfinite(nxt) | (nxt <= lo) | (nxt >= hi)
        nxt = np.where(bad, 0.5 * (lo + hi), nxt)
        if np.all(np.abs(nxt - u) <= 1e-15 * np.maximum(1.0, np.abs(u))):
            return np.exp(nxt)
        u = nxt
    return np.exp(u)  # pragma: no cover - the bracket halves at worst every step


def _advance(x: np.ndarray, c: np.ndarray, t: np.ndarray, xp: float, alpha: float) -> np.ndarray:
    """State after time ``t`` (s) of ``dx/dt = c·f(x)`` (c ≥ 0, 1/s) with the set-shaped window
    of edge ``xp`` and decay ``alpha``: linear below ``xp``, the E1 closed form above."""
    x, c, t = np.broadcast_arrays(np.asarray(x, float), np.asarray(c, float), np.asarray(t, float))
    lin = x + c * t
    with np.errstate(divide="ignore", invalid="ignore"):
        t_edge = np.where(x < xp, (xp - x) / c, 0.0)
    stays = (x < xp) & (lin <= xp)
    out = np.where(stays, lin, 0.0)
    go = ~stays & (c * t > 0)
    out = np.where(~stays & ~go, x, out)
    if go.any():
        xs = np.maximum(x[go], xp)
        tau = t[go] - np.where(x[go] < xp, t_edge[go], 0.0)
        K = (1.0 - xp) * np.exp(alpha * (1.0 - xp))
        z0 = alpha * (1.0 - np.minimum(xs, 1.0))
        with np.errstate(over="ignore"):
            y = exp1(z0) + c[go] * tau / K
        z = np.where(np.isfinite(y), _e1_inverse(np.where(np.isfinite(y), y, 0.0), z0), 0.0)
        out[go] = 1.0 - z / alpha
    return out


def apply_pulse(
    dev: YakopcicIR, w: np.ndarray | float, v: float, width_s: float, rate_scale: np.ndarray | float = 1.0
) -> np.ndarray:
    """State after one rectangular pulse of ``v`` (V) for ``width_s`` (s), exactly (module docstring)."""
    w = np.asarray(w, dtype=float)
    r = float(rate(dev, v))
    c = abs(r) * np.asarray(rate_scale, dtype=float)
    if r > 0:
        return np.clip(_advance(w, c, np.asarray(width_s, dtype=float), dev.x_p, dev.alpha_p), 0.0, 1.0)
    if r < 0:
        y = _advance(1.0 - w, c, np.asarray(width_s, dtype=float), dev.x_n, dev.alpha_n)
        return np.clip(1.0 - y, 0.0, 1.0)
    return np.broadcast_to(w, np.broadcast_shapes(w.shape, np.shape(width_s), np.shape(rate_scale))).copy()


def shape_delta(dev: YakopcicIR, w: np.ndarray, dg: np.ndarray) -> np.ndarray:
    """An analog change ``dg`` (S) scaled by the window of its direction at state ``w``."""
    return np.where(dg > 0, dg * window(dev, w, True), dg * window(dev, w, False))


def elaborate(d: Any) -> YakopcicIR:
    """``A_p``, ``A_n`` so one pulse from g_min (g_max) moves G by the set (reset) step."""
    span = d.g_max - d.g_min
    dg_set, dg_reset = d.steps_S()
    d2d, c2c = d.sigmas()
    drive_set = np.exp(d.pulse_amplitude) - np.exp(d.v_threshold_set)
    drive_reset = np.exp(d.pulse_amplitude) - np.exp(-d.v_threshold_reset)
    i = d.init
    return YakopcicIR(
        g_min_S=d.g_min,
        g_max_S=d.g_max,
        dg_set_S=dg_set,
        dg_reset_S=dg_reset,
        pulse_amplitude_V=d.pulse_amplitude,
        pulse_width_s=d.pulse_width,
        v_set_V=d.v_threshold_set,
        v_reset_V=d.v_threshold_reset,
        read_voltage_V=d.read_voltage,
        d2d_sigma=d2d,
        c2c_sigma=c2c,
        stuck_at_gmin=d.faults.stuck_at_gmin,
        stuck_at_gmax=d.faults.stuck_at_gmax,
        init_distribution=i.distribution,
        init_low_S=d.g_min if i.low is None else i.low,
        init_high_S=d.g_max if i.high is None else i.high,
        init_mean_S=(d.g_min + d.g_max) / 2 if i.mean is None else i.mean,
        init_std_S=i.std,
        x_p=d.x_p,
        x_n=d.x_n,
        alpha_p=d.alpha_p,
        alpha_n=d.alpha_n,
        a_p_per_s=float((dg_set / span) / (d.pulse_width * drive_set)),
        a_n_per_s=float((dg_reset / span) / (d.pulse_width * drive_reset)),
    )


def va_context(chip: Chip) -> dict[str, object]:
    """Variables of ``templates/veriloga/eqp_memristor_yakopcic.va.j2``."""
    d = chip.device
    from .. import kind_of

    return {
        "d": d,
        "max_step_s": d.pulse_width_s / 50,  # 50 steps per pulse, as for kind memristor
        "tau_hold_s": 1e9,  # holds x at x0 in the operating point (drift ≈ 1e-15 per µs)
        "w0": float(kind_of(d).w_from_g(d, d.init_mean_S)),  # the kind's g→w map, clipped to [0, 1]
    }
