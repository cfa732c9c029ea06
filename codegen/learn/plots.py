"""PNG plots of a training run and a sweep (matplotlib, Agg backend, no timestamps in the files)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["plot_history", "plot_conductances", "plot_heatmap"]


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    # no creation date / software metadata: same data → same bytes
    fig.savefig(path, dpi=100, metadata={"Software": None})


def plot_history(
    rows: list[dict], path: Path, title: str, baseline: list[dict] | None = None, pulses_label: str = "pulses"
) -> None:
    """Loss (V², log scale), accuracy and pulses (or Σ|ΔG|) per epoch, EP beside the baseline."""
    plt = _plt()
    ep = [r["epoch"] for r in rows]
    fig, ax = plt.subplots(1, 3, figsize=(13, 3.8))
    ax[0].semilogy(ep, [max(r["train_loss"], 1e-30) for r in rows], label="EP train")
    ax[0].semilogy(ep, [max(r["test_loss"], 1e-30) for r in rows], label="EP test")
    ax[1].plot(ep, [r["train_acc"] for r in rows], label="EP train")
    ax[1].plot(ep, [r["test_acc"] for r in rows], label="EP test")
    if baseline:
        bep = [r["epoch"] for r in baseline]
        ax[0].semilogy(bep, [max(r["test_loss"], 1e-30) for r in baseline], "--", label="exact-gradient test")
        ax[1].plot(bep, [r["test_acc"] for r in baseline], "--", label="exact-gradient test")
    ax[0].set(xlabel="epoch", ylabel="loss ½Σ(t−y)² (V²)", title="loss")
    ax[1].set(xlabel="epoch", ylabel="accuracy", title="accuracy", ylim=(-0.02, 1.02))
    if pulses_label == "pulses":
        ax[2].bar(ep[1:], [r["pulses"] for r in rows[1:]])
        ax[2].set(xlabel="epoch", ylabel="programming pulses", title="pulses per epoch")
    else:
        ax[2].bar(ep[1:], [r["update_S"] * 1e6 for r in rows[1:]])
        ax[2].set(xlabel="epoch", ylabel="Σ|ΔG| (µS)", title="conductance change per epoch")
    for a in ax[:2]:
        a.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


def plot_conductances(
    g0: dict[str, np.ndarray], g1: dict[str, np.ndarray], path: Path, g_range_S: tuple[float, float]
) -> None:
    """Histogram of each crossbar's conductances (µS) before and after training."""
    plt = _plt()
    names = list(g0)
    fig, ax = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3), squeeze=False)
    bins = np.linspace(g_range_S[0] * 1e6, g_range_S[1] * 1e6, 31)
    for a, k in zip(ax[0], names, strict=True):
        a.hist(g0[k].ravel() * 1e6, bins=bins, alpha=0.6, label="before")
        a.hist(g1[k].ravel() * 1e6, bins=bins, alpha=0.6, label="after")
        a.set(title=f"{k} {g0[k].shape[0]}×{g0[k].shape[1]}", xlabel="G (µS)")
    ax[0][0].legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


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
) -> None:
    """A heatmap (rows = ``ylabels``) annotated with each cell's value; NaN cells are grey."""
    plt = _plt()
    from matplotlib.colors import LogNorm

    fig, ax = plt.subplots(figsize=(1.2 * len(xlabels) + 2.5, 0.7 * len(ylabels) + 1.8))
    data = np.ma.masked_invalid(values)
    norm = None
    if log and data.count() and np.ma.min(data) > 0:
        norm = LogNorm(vmin=float(np.ma.min(data)), vmax=float(np.ma.max(data)) * (1 + 1e-9))
    im = ax.imshow(data, aspect="auto", cmap="viridis", norm=norm)
    ax.set_xticks(range(len(xlabels)), xlabels, rotation=30)
    ax.set_yticks(range(len(ylabels)), ylabels)
    ax.set(xlabel=xname, ylabel=yname, title=title)
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            v = values[i, j]
            ax.text(
                j,
                i,
                "—" if not np.isfinite(v) else fmt.format(v),
                ha="center",
                va="center",
                color="w",
                fontsize=8,
            )
    fig.colorbar(im, ax=ax)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
