"""Co-simulation report: ``cosim.json`` and ``cosim.png`` (golden vs co-simulated loss, conductance
error and pulses per step).

Every run owns the files it reports through: :func:`clear_artifacts` removes those of an earlier
run before a new one starts, and :func:`write_report` always writes both the JSON and the plot, so
a failed run never sits beside an earlier run's "matches the golden model" plot.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

__all__ = ["write_report", "plot_report", "clear_artifacts", "REPORT_FILES"]

#: files of one run in the output folder (the VCD is ``<top>.vcd``, see :func:`clear_artifacts`)
REPORT_FILES = ("cosim.json", "cosim.png", "result.json", "cosim_config.json")


def clear_artifacts(out: Path, top: str) -> list[Path]:
    """Remove what an earlier ``codegen cosim`` run left in ``out``: the report, the simulator's
    result and configuration, the controller VCD ``<top>.vcd``, ``divergence_step*/`` and
    ``transient/``.  Symbolic links are removed, never followed.  Returns what was removed."""
    out = Path(out)
    gone: list[Path] = []
    if not out.is_dir():
        return gone
    for name in (*REPORT_FILES, f"{top}.vcd"):
        p = out / name
        if p.is_symlink() or p.is_file():
            p.unlink()
            gone.append(p)
    for p in sorted([*out.glob("divergence_step*"), out / "transient"]):
        if p.is_symlink():
            p.unlink()
            gone.append(p)
        elif p.is_dir():
            shutil.rmtree(p)
            gone.append(p)
    return gone


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
    if not steps:
        for a in ax:
            a.text(0.5, 0.5, "no step completed", ha="center", va="center", transform=a.transAxes)
    fig.suptitle(title)
    fig.tight_layout()
    # the verdict also in the PNG's text chunk (``Title``), where a script can read it
    fig.savefig(path, dpi=100, metadata={"Software": None, "Title": title})
    plt.close(fig)


def write_report(res: dict, out: Path) -> tuple[Path, Path]:
    """Write ``cosim.json`` and ``cosim.png`` into ``out`` (both, also when no step completed)."""
    out.mkdir(parents=True, exist_ok=True)
    js, png = out / "cosim.json", out / "cosim.png"
    js.write_text(json.dumps(res, indent=1) + "\n")
    plot_report(res, png)
    return js, png
