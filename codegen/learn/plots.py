"""PNG plots of a training run and of a sweep, drawn in the one style of :mod:`codegen.plotting`.

* ``training.png`` (:func:`plot_history`): loss (V²), accuracy, pulses or Σ|ΔG| (µS) per epoch;
* ``conductances.png`` (:func:`plot_conductances`): histograms (cells per bin) before and after
  training with g_min/g_max marked, and heatmaps (µS) of the small crossbars after training;
* ``outputs.png`` (:func:`plot_outputs`): output against target (V) before and after training;
* ``final_loss.png``, ``convergence.png`` (:func:`plot_sweep`): the sweep's grid as heatmaps.

Every function returns the saved (closed) :class:`~matplotlib.figure.Figure` for inspection.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..plotting import G_LABEL, LOSS_LABEL, colorbar, figure, param_label, value_label

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "plot_history",
    "plot_conductances",
    "plot_outputs",
    "plot_heatmap",
    "plot_sweep",
    "HEATMAP_MAX_CELLS",
]

#: crossbars with at most this many cells get a heatmap in conductances.png
HEATMAP_MAX_CELLS = 4096


def plot_history(
    rows: list[dict], path: Path, title: str, baseline: list[dict] | None = None, pulses_label: str = "pulses"
) -> Figure:
    """Loss (V², log scale), accuracy and pulses (or Σ|ΔG| in µS) per epoch, EP beside the baseline."""
    ep = [r["epoch"] for r in rows]
    note = (
        "Loss and accuracy after each epoch (epoch 0: the initial conductances); solid: EP on the chip's "
        "circuit, dashed: the same circuit trained with exact gradients (software baseline)."
    )
    with figure(path, 1, 3, title=title, note=note) as (fig, axes):
        ax = axes[0]
        ax[0].semilogy(ep, [max(r["train_loss"], 1e-30) for r in rows], label="EP train")
        ax[0].semilogy(ep, [max(r["test_loss"], 1e-30) for r in rows], label="EP test")
        ax[1].plot(ep, [r["train_acc"] for r in rows], label="EP train")
        ax[1].plot(ep, [r["test_acc"] for r in rows], label="EP test")
        if baseline:
            bep = [r["epoch"] for r in baseline]
            ax[0].semilogy(
                bep, [max(r["test_loss"], 1e-30) for r in baseline], "--", label="exact-gradient test"
            )
            ax[1].plot(bep, [r["test_acc"] for r in baseline], "--", label="exact-gradient test")
        ax[0].set(xlabel="epoch", ylabel=LOSS_LABEL, title="loss")
        ax[1].set(xlabel="epoch", ylabel="accuracy (fraction correct)", title="accuracy", ylim=(-0.02, 1.02))
        if pulses_label == "pulses":
            ax[2].bar(ep[1:], [r["pulses"] for r in rows[1:]])
            ax[2].set(xlabel="epoch", ylabel="programming pulses", title="pulses per epoch")
        else:
            ax[2].bar(ep[1:], [r["update_S"] * 1e6 for r in rows[1:]])
            ax[2].set(xlabel="epoch", ylabel="Σ|ΔG| (µS)", title="conductance change per epoch")
        ax[0].legend(loc="upper right")
        ax[1].legend(loc="lower right")
    return fig


def plot_conductances(
    g0: dict[str, np.ndarray],
    g1: dict[str, np.ndarray],
    path: Path,
    g_range_S: tuple[float, float],
    title: str = "",
) -> Figure:
    """Per crossbar: histogram of its conductances (µS) before and after training, with g_min and
    g_max (``g_range_S``, S) marked; below, a heatmap (µS) after training for crossbars of at most
    :data:`HEATMAP_MAX_CELLS` cells."""
    from matplotlib.ticker import MaxNLocator

    names = list(g0)
    small = [k for k in names if g1[k].size <= HEATMAP_MAX_CELLS]
    lo, hi = g_range_S[0] * 1e6, g_range_S[1] * 1e6
    note = (
        f"Top: cells per conductance bin before and after training; dashed lines: g_min = {lo:g} µS and "
        f"g_max = {hi:g} µS.\nBottom: each cell's conductance after training "
        "(row = destination node, column = source node)"
        + (
            f"; none for {', '.join(f'{k} ({g1[k].size} cells)' for k in names if k not in small)}."
            if len(small) < len(names)
            else "."
        )
        if small
        else f"Cells per conductance bin before and after training; dashed lines: g_min = {lo:g} µS and "
        f"g_max = {hi:g} µS (crossbars too large for a heatmap)."
    )
    nrows = 2 if small else 1
    with figure(path, nrows, len(names), title=title, note=note, panel_in=(3.3, 2.9)) as (fig, ax):
        bins = np.linspace(lo, hi, 31)
        for j, k in enumerate(names):
            a = ax[0, j]
            a.hist(g0[k].ravel() * 1e6, bins=bins, alpha=0.6, label="before")
            a.hist(g1[k].ravel() * 1e6, bins=bins, alpha=0.6, label="after")
            for v, lab, side in ((lo, "g_min", "left"), (hi, "g_max", "right")):
                a.axvline(v, color="0.3", ls="--", lw=1)
                a.annotate(
                    f" {lab} ",
                    (v, 0.97),
                    xycoords=("data", "axes fraction"),
                    ha=side,
                    va="top",
                    fontsize=7,
                    color="0.3",
                )
            a.yaxis.set_major_locator(MaxNLocator(integer=True))
            a.set(title=f"{k} {g0[k].shape[0]}×{g0[k].shape[1]}", xlabel=G_LABEL, ylabel="cells")
            a.set_xlim(lo - 0.04 * (hi - lo), hi + 0.04 * (hi - lo))
        ax[0, 0].legend(loc="upper center")
        if small:
            for j, k in enumerate(names):
                a = ax[1, j]
                if k not in small:
                    fig.delaxes(a)  # no empty panel under a crossbar too large for a heatmap
                    continue
                im = a.imshow(g1[k] * 1e6, vmin=lo, vmax=hi, aspect="auto", interpolation="nearest")
                a.set(title=f"{k} after training", xlabel="column (source)", ylabel="row (destination)")
                a.xaxis.set_major_locator(MaxNLocator(integer=True))
                a.yaxis.set_major_locator(MaxNLocator(integer=True))
                a.grid(False)
                colorbar(fig, im, a, G_LABEL)
    return fig


def plot_outputs(
    t: np.ndarray, y_before: np.ndarray, y_after: np.ndarray, path: Path, title: str = "", split: str = "test"
) -> Figure:
    """Each output (V) against its target (V) on ``split``, before and after training; the diagonal
    is a perfect chip."""
    t, y0, y1 = (np.atleast_2d(a) for a in (t, y_before, y_after))
    note = (
        f"Every output of every {split} sample against its target, at the initial and at the trained "
        "conductances (golden model); on the dashed diagonal the output equals its target."
    )
    with figure(path, 1, 1, title=title, note=note, panel_in=(4.6, 4.0)) as (fig, ax):
        a = ax[0, 0]
        lim = [float(min(t.min(), y0.min(), y1.min())), float(max(t.max(), y0.max(), y1.max()))]
        pad = 0.05 * (lim[1] - lim[0] or 1.0)
        lim = [lim[0] - pad, lim[1] + pad]
        a.plot(lim, lim, "--", color="0.4", lw=1, label="output = target")
        a.scatter(t.ravel(), y0.ravel(), s=14, alpha=0.6, marker="x", label="before training")
        a.scatter(t.ravel(), y1.ravel(), s=14, alpha=0.6, label="after training")
        a.set(
            xlim=lim, ylim=lim, xlabel="target (V)", ylabel="output y = V(out+) − V(out−) (V)", aspect="equal"
        )
        a.legend()
    return fig


def plot_heatmap(
    values: np.ndarray,
    xlabels: list[str],
    ylabels: list[str],
    xname: str,
    yname: str,
    title: str,
    path: Path,
    fmt: str = "{:.2g}",
    log: bool = False,
    cbar_label: str = "",
    vmin: float | None = None,
    vmax: float | None = None,
    note: str = "",
) -> Figure:
    """A heatmap (rows = ``ylabels``) annotated with each cell's value; NaN cells are grey.
    ``vmin``/``vmax`` fix the colour scale (else the data's range); ``cbar_label`` says what the
    colour means, with its unit."""
    from matplotlib import colormaps
    from matplotlib.colors import LogNorm, Normalize

    data = np.ma.masked_invalid(values)
    norm: Normalize | None = None
    if log and data.count() and np.ma.min(data) > 0:
        norm = LogNorm(vmin=float(np.ma.min(data)), vmax=float(np.ma.max(data)) * (1 + 1e-9))
    elif vmin is not None or vmax is not None:
        norm = Normalize(vmin=vmin, vmax=vmax)
    width = max(1.1 * len(xlabels) + 0.12 * max(len(y) for y in ylabels) + 2.8, 5.0)
    height = 0.55 * len(ylabels) + 2.2
    with figure(path, 1, 1, title=title, note=note, size_in=(width, height)) as (fig, ax):
        a = ax[0, 0]
        im = a.imshow(data, aspect="auto", norm=norm, cmap=colormaps["viridis"].with_extremes(bad="0.8"))
        a.set_xticks(range(len(xlabels)), xlabels, rotation=30, ha="right")
        a.set_yticks(range(len(ylabels)), ylabels)
        a.set(xlabel=xname, ylabel=yname)
        a.grid(False)
        for i in range(values.shape[0]):
            for j in range(values.shape[1]):
                v = values[i, j]
                shade = 0.5 if not np.isfinite(v) else float(im.norm(v))
                a.text(
                    j,
                    i,
                    "—" if not np.isfinite(v) else fmt.format(v),
                    ha="center",
                    va="center",
                    color="k" if shade > 0.6 else "w",
                    fontsize=8,
                )
        colorbar(fig, im, a, cbar_label)
    return fig


def _y_label(label: str, keys: Sequence[str]) -> str:
    """``beta=1e-06, full`` → ``beta=1 µS, full`` (values of known keys SI-formatted with units)."""
    parts = []
    for part in label.split(", "):
        name, eq, value = part.partition("=")
        key = next((k for k in keys if k.split(".")[-1] == name), None)
        parts.append(f"{name}={value_label(key, value)}" if eq and key else part)
    return ", ".join(parts)


def plot_sweep(
    summary: dict[str, Any],
    grid: Sequence[tuple[str, Sequence[Any]]],
    out: Path,
    title: str,
    converged_loss_V2: float,
) -> tuple[Figure, Figure]:
    """``final_loss.png`` (median final loss over the seeds, V², log colour scale) and
    ``convergence.png`` (fraction of seeds whose loss reached ``converged_loss_V2``, colour scale
    fixed to [0, 1]) in ``out``, from :func:`codegen.learn.sweep.summarise`."""
    keys = [k for k, _ in grid]
    xkey = summary["xname"]
    xlabels = [value_label(xkey, v) for v in summary["x"]] if xkey else list(summary["x"])
    ylabels = [_y_label(y, keys) for y in summary["y"]]
    xname = param_label(xkey) if xkey else ""
    rest = list(keys[1:])
    yname = " × ".join([param_label(k) for k in rest] + (["energy"] if "energy" in summary["yname"] else []))
    seeds = "each cell: the training runs of every initial-conductance seed at that grid point"
    loss = plot_heatmap(
        summary["loss"],
        xlabels,
        ylabels,
        xname,
        yname or "-",
        f"median final loss\n{title}",
        out / "final_loss.png",
        log=True,
        cbar_label="median final loss ½Σ(t−y)² (V²)",
        note=f"Median over seeds of the loss after the last epoch ({seeds}); grey: no point solved.",
    )
    conv = plot_heatmap(
        summary["rate"],
        xlabels,
        ylabels,
        xname,
        yname or "-",
        f"fraction converged (loss ≤ {converged_loss_V2:g} V²)\n{title}",
        out / "convergence.png",
        fmt="{:.0%}",
        cbar_label="fraction of seeds converged",
        vmin=0.0,
        vmax=1.0,
        note=f"Fraction of seeds whose final loss is at most {converged_loss_V2:g} V² ({seeds}).",
    )
    return loss, conv
