"""The ``codegen characterize`` report: every phase run, settled, integrated and checked; JSON,
a Markdown table and a PNG (see :mod:`codegen.characterize.core` for the definitions)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import CodegenError
from ..ir import Chip
from .core import (
    SETTLE_ABS_V,
    SETTLE_REL,
    PhaseRun,
    dc_power_check,
    phase_energy,
    programming_energy,
    run_phase,
    settling,
)
from .deck import GROUPS

__all__ = ["characterize", "format_table", "write_report", "PHASE_TITLES"]

PHASE_TITLES = {"free": "free (inference)", "pos": "nudged +β", "neg": "nudged −β"}
#: a phase that has not settled by the end of its transient is rerun this many times, 4× longer
RETRIES = 3


def _phases(chip: Chip) -> list[str]:
    return ["free", "pos", "neg"] if chip.nudge.centered else ["free", "pos"]


def characterize(
    chip: Chip,
    x: np.ndarray,
    target: np.ndarray,
    conductances: dict[str, np.ndarray] | None = None,
    *,
    workdir: str | Path | None = None,
) -> tuple[dict, dict[str, PhaseRun]]:
    """Run every phase of one sample (``x`` feature units, ``target`` V) and return the report
    (a JSON-able dict) and the phase runs (for the plot)."""
    g = chip.initial_conductances() if conductances is None else conductances
    runs: dict[str, PhaseRun] = {}
    phases: dict[str, dict] = {}
    for ph in _phases(chip):
        wd = None if workdir is None else Path(workdir) / ph
        run = run_phase(chip, g, x, target, ph, workdir=wd)
        st = settling(run)
        for _ in range(RETRIES):
            if st["settled"] and st["rel_s"] < 0.5 * run.tstop_s:
                break
            run = run_phase(chip, g, x, target, ph, workdir=wd, tstop_s=4.0 * run.tstop_s)
            st = settling(run)
        if not st["settled"]:
            raise CodegenError(
                f"characterize: phase {ph} has not settled within {run.tstop_s:.3g} s "
                f"(node {st['rel_node']}); the network may be unstable (amplifier gains?)"
            )
        energy = phase_energy(run, st["rel_s"])
        dc = dc_power_check(chip, g, run, x, target)
        p_dc = {grp: 0.0 for grp in GROUPS}
        for e in run.deck.elements:
            p_dc[e.group] += run.op_power[e.name]
        runs[ph] = run
        phases[ph] = {
            "beta_S": run.deck.beta_S,
            "settling_abs_s": st["abs_s"],
            "settling_abs_node": st["abs_node"],
            "settling_rel_s": st["rel_s"],
            "settling_rel_node": st["rel_node"],
            "tstop_s": run.tstop_s,
            "time_points": len(run.time_s),
            "energy_J": energy,
            "energy_total_absorbed_J": sum(v for v in energy.values() if v > 0),
            "energy_balance_J": sum(energy.values()),
            "dc_power_W": p_dc,
            "dc_vs_golden": dc,
            "ngspice_s": run.seconds,
        }
    step = {grp: sum(phases[p]["energy_J"][grp] for p in phases) for grp in GROUPS}
    report = {
        "chip": chip.name,
        "settle_abs_V": SETTLE_ABS_V,
        "settle_rel": SETTLE_REL,
        "interconnect": {
            "r_row_ohm": chip.interconnect.r_row_ohm,
            "r_col_ohm": chip.interconnect.r_col_ohm,
            "r_access_ohm": chip.interconnect.r_access_ohm,
            "c_segment_F": chip.interconnect.c_segment_F,
            "c_node_F": chip.interconnect.c_node_F,
        },
        "phases": phases,
        "inference": {
            "settling_s": phases["free"]["settling_rel_s"],
            "energy_J": phases["free"]["energy_J"],
            # what the passive elements absorb = what the sources, amplifiers and nudging supply
            "energy_supplied_J": phases["free"]["energy_total_absorbed_J"],
        },
        "training_step": {
            "phases": list(phases),
            "settling_s": sum(phases[p]["settling_rel_s"] for p in phases),
            "energy_J": step,
            "energy_supplied_J": sum(phases[p]["energy_total_absorbed_J"] for p in phases),
            "note": "phases run one after another, each held until settled to settle_rel; programming "
            "energy per pulse below (times the pulses of the step)",
        },
        "programming": programming_energy(chip),
        "dc_vs_golden_max_rel": max(
            (p["dc_vs_golden"]["max_rel"] for p in phases.values() if p["dc_vs_golden"]["compared"]),
            default=None,
        ),
    }
    return report, runs


def _eng(v: float, unit: str) -> str:
    from ..units import format_si

    return format_si(v, unit)


def format_table(report: dict) -> str:
    """A Markdown table: settling times and energy by group per phase, then programming energy."""
    phases = report["phases"]
    head = ["", *[PHASE_TITLES[p] for p in phases], "training step"]
    rows = [
        ["settling to 1 mV", *[_eng(phases[p]["settling_abs_s"], "s") for p in phases], ""],
        [
            f"settling to {report['settle_rel']:g} of the step",
            *[_eng(phases[p]["settling_rel_s"], "s") for p in phases],
            _eng(report["training_step"]["settling_s"], "s"),
        ],
    ]
    rows.append(
        [
            "energy supplied",
            *[_eng(phases[p]["energy_total_absorbed_J"], "J") for p in phases],
            _eng(report["training_step"]["energy_supplied_J"], "J"),
        ]
    )
    for grp in GROUPS:
        rows.append(
            [
                f"energy {grp}",
                *[_eng(phases[p]["energy_J"][grp], "J") for p in phases],
                _eng(report["training_step"]["energy_J"][grp], "J"),
            ]
        )
    rows.append(
        [
            "DC power vs golden (max rel)",
            *[
                f"{phases[p]['dc_vs_golden']['max_rel']:.1e}"
                if phases[p]["dc_vs_golden"]["compared"]
                else "n/a"
                for p in phases
            ],
            "",
        ]
    )
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    pr = report["programming"]
    lines += [
        "",
        f"Programming energy per pulse ({_eng(pr['pulse_amplitude_V'], 'V')}, {_eng(pr['pulse_width_s'], 's')}), "
        "selected cell:",
        "",
        "| start | set | reset |",
        "|---|---|---|",
    ]
    for lab in ("g_min", "g_mid", "g_max"):
        lines.append(
            f"| {lab} | {_eng(pr[f'set_from_{lab}_J'], 'J')} | {_eng(pr[f'reset_from_{lab}_J'], 'J')} |"
        )
    return "\n".join(lines) + "\n"


def _plot(report: dict, runs: dict[str, PhaseRun], path: Path) -> None:
    from ..plotting import figure

    n = len(runs)
    with figure(
        path,
        1,
        n + 1,
        title=f"{report['chip']}: settling and energy per phase",
        note=(
            "Left panels: distance of every state node from its operating point (V, log scale) during "
            "each phase; dashed: 1 mV, dotted lines: settling times (1 mV and 1e-3 of the step). "
            "Right: energy absorbed per element group over each phase (J; sources and amplifiers deliver)."
        ),
    ) as (fig, ax):
        for i, (ph, run) in enumerate(runs.items()):
            a = ax[0, i]
            t = run.time_s
            for node in run.deck.state_nodes:
                v = run.waves.get(node.lower())
                if v is not None:
                    a.semilogy(t * 1e9, np.maximum(np.abs(v - run.op_v[node]), 1e-12), lw=0.8)
            a.axhline(SETTLE_ABS_V, ls="--", color="k", lw=0.8)
            p = report["phases"][ph]
            for key, c in (("settling_abs_s", "C3"), ("settling_rel_s", "C2")):
                a.axvline(p[key] * 1e9, ls=":", color=c, lw=1.2)
            a.set_xlabel("t (ns)")
            a.set_ylabel("|V − V_op| (V)")
            a.set_title(PHASE_TITLES[ph])
            a.set_ylim(1e-10, None)
        a = ax[0, n]
        groups = list(GROUPS)
        width = 0.8 / n
        for i, ph in enumerate(runs):
            e = report["phases"][ph]["energy_J"]
            a.bar(np.arange(len(groups)) + i * width, [e[g] for g in groups], width, label=PHASE_TITLES[ph])
        a.set_xticks(np.arange(len(groups)) + 0.4 - width / 2, groups, rotation=45, ha="right")
        a.set_yscale("symlog", linthresh=1e-18)
        a.set_ylabel("energy (J)")
        a.legend(fontsize=7)


def write_report(report: dict, runs: dict[str, PhaseRun], out: str | Path) -> list[Path]:
    """Write ``characterize.json``, ``characterize.md`` (the table) and ``characterize.png``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "characterize.json", out / "characterize.md", out / "characterize.png"]
    paths[0].write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
    paths[1].write_text(f"# {report['chip']}: settling time and energy\n\n" + format_table(report))
    _plot(report, runs, paths[2])
    return paths
