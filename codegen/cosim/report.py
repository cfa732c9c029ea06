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


def plot_report(res: dict, path: Path):
    """Loss per step (V², golden model and co-simulation), pulses per step (RTL and golden codes),
    and — only when there is one — the conductance error (device steps).  A run without a step
    gets one panel saying so.  Returns the saved Figure."""
    from matplotlib.ticker import MaxNLocator

    from ..plotting import LOSS_LABEL, figure

    steps = res["steps"]
    s = [r["step"] for r in steps]
    c = res["config"]
    dv = res.get("divergence")
    title = f"{res['chip']}: {c['controller']}, {c['device']} devices, {c['phases']} phases"
    title += f" — DIVERGED at step {dv['step']} ({dv['kind']})" if dv else " — matches the golden model"
    meta = {"Title": title}  # the verdict also in the PNG's text chunk, where a script can read it
    if not steps:
        with figure(
            path, 1, 1, title=title, note="No learning step completed.", metadata=meta, size_in=(9.0, 1.6)
        ) as (fig, ax):
            ax[0, 0].text(
                0.5, 0.5, "no step completed", ha="center", va="center", transform=ax[0, 0].transAxes
            )
            ax[0, 0].set_axis_off()
        return fig
    err = [r["g_err_steps"] for r in steps]
    transient = c["device"] == "transient"
    show_err = transient or any(e > 0 for e in err)
    note = (
        "Loss of the free phase after each learning step (golden model vs co-simulation) and the "
        "pulses the controller sent per step (bars) against the golden model's codes (dots)."
    )
    if show_err:
        note += "\nConductance error: largest |G_cosim − G_golden| over all cells, in device steps (step_per_pulse)."
    else:
        note += "\nG_cosim equals G_golden exactly at every step (no conductance-error panel)."
    with figure(path, 1, 3 if show_err else 2, title=title, note=note, metadata=meta) as (fig, axes):
        ax = list(axes[0])
        ax[0].semilogy(
            s, [max(r["loss_golden"], 1e-30) for r in steps], "-", lw=2.5, alpha=0.5, label="golden model"
        )
        ax[0].semilogy(
            s, [max(r["loss_cosim"], 1e-30) for r in steps], "k.", ms=4, label="co-simulation (ngspice)"
        )
        ax[0].set(xlabel="learning step", ylabel=LOSS_LABEL, title="loss at the free phase")
        ax[0].legend()
        pulses_ax = ax[-1]
        if show_err:
            if any(e > 0 for e in err):
                ax[1].semilogy(s, [max(e, 1e-18) for e in err], ".-", label="trajectory")
            if transient:
                ax[1].semilogy(
                    s, [max(r["transient_step_err_steps"], 1e-18) for r in steps], ".-", label="this update"
                )
            ax[1].set(
                xlabel="learning step",
                ylabel="max |G_cosim − G_golden| (device steps)",
                title="conductance error",
            )
            ax[1].legend()
        pulses_ax.bar(s, [r["pulses"] for r in steps], label="RTL pulses")
        pulses_ax.plot(s, [r["pulses_golden"] for r in steps], "r.", label="golden codes")
        pulses_ax.set(xlabel="learning step", ylabel="programming pulses", title="pulses per step")
        top = max([r["pulses"] for r in steps] + [r["pulses_golden"] for r in steps] + [1])
        pulses_ax.set_ylim(0, 1.3 * top)  # room for the legend above the bars
        pulses_ax.legend(loc="upper center", ncols=2)
        for a in ax:
            a.xaxis.set_major_locator(MaxNLocator(integer=True))
    return fig


def write_report(res: dict, out: Path) -> tuple[Path, Path]:
    """Write ``cosim.json`` and ``cosim.png`` into ``out`` (both, also when no step completed)."""
    out.mkdir(parents=True, exist_ok=True)
    js, png = out / "cosim.json", out / "cosim.png"
    js.write_text(json.dumps(res, indent=1) + "\n")
    plot_report(res, png)
    return js, png
