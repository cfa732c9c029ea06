"""Co-simulation report: ``cosim.json`` and ``cosim.png`` (golden vs co-simulated loss, conductance
error and pulses per step)."""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["write_report", "plot_report"]


def plot_report(res: dict, path: Path) -> None:
    """Three panels per step: loss (V², both sides), max |G_cosim − G_golden| (steps), pulses."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = res["steps"]
    s = [r["step"] for r in steps]
    fig, ax = plt.subplots(1, 3, figsize=(13, 3.8))
    ax[0].semilogy(
        s, [max(r["loss_golden"], 1e-30) for r in steps], "-", lw=2.5, alpha=0.5, label="golden model"
    )
    ax[0].semilogy(
        s, [max(r["loss_cosim"], 1e-30) for r in steps], "k.", ms=4, label="co-simulation (ngspice)"
    )
    ax[0].set(xlabel="step", ylabel="loss ½Σ(t−y)² (V²)", title="loss at the free phase")
    ax[0].legend(fontsize=8)
    err = [r["g_err_steps"] for r in steps]
    if any(e > 0 for e in err):
        ax[1].semilogy(s, [max(e, 1e-18) for e in err], ".-", label="|G_cosim − G_golden| (trajectory)")
    else:
        ax[1].text(
            0.5,
            0.5,
            "G_cosim = G_golden exactly\nat every step",
            ha="center",
            va="center",
            transform=ax[1].transAxes,
        )
    if res["config"]["device"] == "transient":
        ax[1].semilogy(
            s, [max(r["transient_step_err_steps"], 1e-18) for r in steps], ".-", label="this update"
        )
    ax[1].set(xlabel="step", ylabel="max conductance error (steps)", title="conductance error")
    if ax[1].get_legend_handles_labels()[0]:
        ax[1].legend(fontsize=8)
    ax[2].bar(s, [r["pulses"] for r in steps], label="RTL pulses")
    ax[2].plot(s, [r["pulses_golden"] for r in steps], "r.", label="golden codes")
    ax[2].set(xlabel="step", ylabel="programming pulses", title="pulses per step")
    ax[2].legend(fontsize=8)
    dv = res.get("divergence")
    c = res["config"]
    title = f"{res['chip']}: {c['controller']}, {c['device']} devices, {c['phases']} phases"
    title += f" — DIVERGED at step {dv['step']} ({dv['kind']})" if dv else " — matches the golden model"
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)


def write_report(res: dict, out: Path) -> tuple[Path, Path]:
    """Write ``cosim.json`` and ``cosim.png`` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    js, png = out / "cosim.json", out / "cosim.png"
    js.write_text(json.dumps(res, indent=1) + "\n")
    if res["steps"]:
        plot_report(res, png)
    return js, png
