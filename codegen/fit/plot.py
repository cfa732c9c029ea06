"""Data against fit: the trace with the fitted one-pulse-ahead prediction, and step vs conductance."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..plotting import G_LABEL, figure
from .fit import FitResult, _template, predict
from .trace import PulseTrace

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_fit"]


def plot_fit(tr: PulseTrace, fit: FitResult, path: str | Path) -> Figure:
    """Write a PNG of ``tr`` against ``fit``: left, conductance per pulse (data dots, fitted
    prediction line); right, the step ΔG of each pulse against the conductance before it (data
    dots, the fitted mean step of a set and of a reset pulse as lines)."""
    b = fit.best
    tpl = _template(fit.pulse)
    soft = b.bounds == "soft"
    g_us = tr.g_S * 1e6
    title = (
        f"fit-device: {b.bounds} bounds, g_min {b.g_min_S * 1e6:.4g} µS, g_max {b.g_max_S * 1e6:.4g} µS, "
        f"step {b.step_S * 1e6:.3g} µS, asymmetry {b.asymmetry:+.3f}, c2c {fit.c2c:.3f}"
    )
    note = (
        f"{fit.n_pulses} pulses, {fit.n_cycles} cycles.  Left: readings (dots) and the fitted model's "
        "prediction of each reading from the one before (line).  Right: step of each pulse against the "
        f"conductance before it; lines: the fitted mean step ({b.bounds} bounds), rms residual "
        f"{b.rms_S * 1e6:.3g} µS, read noise σ {fit.read_noise_S * 1e6:.3g} µS."
    )
    with figure(path, 1, 2, title=title, note=note, panel_in=(5.0, 3.4)) as (fig, ax):
        a0, a1 = ax[0, 0], ax[0, 1]
        up = tr.polarity > 0
        a0.plot(tr.pulse[up], g_us[up], ".", ms=2.5, color="tab:blue", label="data, set pulse")
        a0.plot(tr.pulse[~up], g_us[~up], ".", ms=2.5, color="tab:red", label="data, reset pulse")
        a0.plot(tr.pulse[1:], fit.g_pred_S * 1e6, "-", lw=0.7, color="k", label="fit (one pulse ahead)")
        a0.set_xlabel("pulse number")
        a0.set_ylabel(G_LABEL)
        a0.legend(loc="best")
        dg = np.diff(tr.g_S) * 1e6
        pn = tr.polarity[1:]
        a1.plot(g_us[:-1][pn > 0], dg[pn > 0], ".", ms=2.5, color="tab:blue", alpha=0.6, label="set pulses")
        a1.plot(g_us[:-1][pn < 0], dg[pn < 0], ".", ms=2.5, color="tab:red", alpha=0.6, label="reset pulses")
        grid = np.linspace(b.g_min_S, b.g_max_S, 200)
        for sign, color in ((1, "tab:blue"), (-1, "tab:red")):
            step = predict(tpl, b.g_min_S, b.g_max_S, b.a, b.b, soft, grid, np.full(grid.shape, sign)) - grid
            a1.plot(grid * 1e6, step * 1e6, "-", color=color, lw=1.5)
        a1.axhline(0.0, color="0.5", lw=0.6)
        a1.set_xlabel(f"{G_LABEL} before the pulse")
        a1.set_ylabel("ΔG per pulse (µS)")
        a1.legend(loc="best")
    return fig
