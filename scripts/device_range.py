"""Device-range sweep in the spirit of Döll, Müller & Ulmann (2025): does EP still learn when the
memristor's conductance range g_max/g_min shrinks?

For each dataset (xor, digits: the shipped examples, with initial conductances uniform over the
whole range so every ratio starts alike), each device model (:data:`MODELS`: the threshold memristor
with hard and with soft bounds, Yakopcic's memristor with the paper's windows and with a milder
reset window) and each ratio g_max/g_min in :data:`RATIOS` (g_max fixed at the
example's 100 µS, g_min = g_max/ratio), EP trains with the example's rule and budget from
:data:`SEEDS` initial-conductance seeds, through :func:`codegen.learn.sweep.run_sweep` (the engine
of ``codegen sweep``; its per-point CSV is kept).  A run *learns* when it meets
:data:`CRITERIA`: xor, final training loss ≤ 5e-5 V² (the sweep's convergence criterion); digits,
test accuracy ≥ 0.8 (chance is 0.1).

Writes, under ``--out`` (default docs/results): ``device_range_<dataset>.csv`` (one row per run),
``device_range.csv`` (one row per dataset × model × ratio), ``device_range.png`` and
``device_range.md`` (the table).  Runs resume from ``--work`` (default build/device_range).
``--models`` runs only the models named; the other models' runs are kept from the per-run CSVs
already in ``--out`` (so a new model does not retrain the recorded ones)::

    PYTHONPATH=$PWD .venv/bin/python scripts/device_range.py [--workers 2] [--datasets xor digits] \
        [--models yakopcic ...]
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from codegen.api import load_spec  # noqa: E402
from codegen.learn.sweep import run_sweep  # noqa: E402
from codegen.plotting import figure  # noqa: E402

#: g_max/g_min of the sweep (dimensionless)
RATIOS = (2, 3, 5, 10, 20, 50, 100)
#: upper conductance bound of every point (S): the examples' g_max
G_MAX_S = 100e-6
#: initial-conductance seeds per point, per dataset (digits runs take ~10 s each on a quiet core)
SEEDS: dict[str, tuple[int, ...]] = {"xor": (0, 1, 2), "digits": (0, 1)}
#: device models: label → keys set in the example's ``device:`` section (a new device kind is one
#: more line here).  "hard bounds"/"soft bounds": the threshold memristor (kind ``memristor``);
#: "yakopcic": Yakopcic et al. 2011 with the paper's windows (x_p 0.3, x_n 0.5, α_p 1, α_n 5, the
#: kind's defaults); "yakopcic mild reset": its reset window relaxed to α_n = 1 below x = 1 − x_n = 0.3
MODELS: dict[str, dict[str, Any]] = {
    "hard bounds": {"soft_bounds": False},
    "soft bounds": {"soft_bounds": True},
    "yakopcic": {"kind": "yakopcic"},
    "yakopcic mild reset": {"kind": "yakopcic", "alpha_n": 1.0, "x_n": 0.7},
}
#: dataset → (example chip, what a run that learns reaches, the column it is judged on)
CRITERIA: dict[str, tuple[str, str, Callable[[dict], bool]]] = {
    "xor": ("examples/xor.yaml", "final training loss ≤ 5e-5 V²", lambda r: r["converged"] in (True, "True")),
    "digits": ("examples/digits.yaml", "test accuracy ≥ 0.8", lambda r: float(r["final_test_acc"]) >= 0.8),
}


def g_min_values() -> list[str]:
    """g_min (S) of each ratio, as written in the grid (``repr`` of g_max/ratio)."""
    return [repr(G_MAX_S / r) for r in RATIOS]


#: training settings the recorded sweep ran with, where the example has changed since: xor's
#: learning rate went from 5e-9 to 1e-8 S²/V² (docs/results/xor_seeds.md) after the sweep was run
PINNED_TRAINING: dict[str, dict[str, Any]] = {"xor": {"learning_rate": 5e-9}}


def chip_data(dataset: str, model: str) -> dict[str, Any]:
    """The example chip of ``dataset`` with device ``model`` and initial conductances uniform in
    [g_min, g_max]."""
    data = yaml.safe_load((ROOT / CRITERIA[dataset][0]).read_text(encoding="utf-8"))
    data["device"]["init"] = {"distribution": "uniform"}
    data["device"]["g_max"] = G_MAX_S
    data["device"].update(MODELS[model])
    data["training"].update(PINNED_TRAINING.get(dataset, {}))
    return data


def grid() -> list[tuple[str, list[Any]]]:
    """Sweep grid of every device model: g_min (S) over :data:`RATIOS`."""
    return [("device.g_min", [float(v) for v in g_min_values()])]


def run_dataset(dataset: str, work: Path, workers: int, models: list[str], kept: list[dict]) -> list[dict]:
    """Every run of ``dataset`` (rows as :func:`codegen.learn.sweep.run_point` returns them, plus
    ``model`` and ``ratio``): ``models`` are trained (or resumed from ``work``), the other models'
    rows come from ``kept`` (a per-run CSV already written)."""
    rows = []
    for model in MODELS:
        if model not in models:
            old = [r for r in kept if r["model"] == model]
            if not old:
                raise SystemExit(f"{dataset} {model}: no recorded runs to keep; run it (--models)")
            print(f"{dataset} {model}: {len(old)} runs kept", flush=True)
            rows += old
            continue
        spec = load_spec(chip_data(dataset, model), name=f"device_range/{dataset}")
        out = work / dataset / model.replace(" ", "_")
        out.mkdir(parents=True, exist_ok=True)
        got, ran = run_sweep(spec, grid(), SEEDS[dataset], out, workers=workers)
        print(f"{dataset} {model}: {len(got)} runs ({ran} new)", flush=True)
        for r in got:
            rows.append({"model": model, "ratio": round(G_MAX_S / float(r["device.g_min"])), **r})
    return rows


COLUMNS = (
    "model",
    "ratio",
    "device.g_min",
    "init_seed",
    "initial_loss",
    "final_loss",
    "final_test_loss",
    "final_test_acc",
    "converged",
    "steps",
    "error",
)


def write_runs(rows: list[dict], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({c: r.get(c, "") for c in COLUMNS})


def summary(dataset: str, rows: list[dict]) -> list[dict]:
    """One row per model × ratio: runs that learn, median loss and accuracy."""
    learns = CRITERIA[dataset][2]
    out = []
    for model in MODELS:
        for ratio in RATIOS:
            rs = [r for r in rows if r["model"] == model and int(r["ratio"]) == ratio]
            out.append(
                {
                    "dataset": dataset,
                    "model": model,
                    "ratio": ratio,
                    "runs": len(rs),
                    "learned": sum(bool(learns(r)) for r in rs),
                    "median_final_loss_V2": float(np.median([float(r["final_loss"]) for r in rs])),
                    "median_test_acc": float(np.median([float(r["final_test_acc"]) for r in rs])),
                }
            )
    return out


def threshold(rows: list[dict], model: str) -> int | None:
    """Smallest ratio from which every larger ratio has all its runs learning (None: never)."""
    best = None
    for s in sorted((r for r in rows if r["model"] == model), key=lambda r: -r["ratio"]):
        if s["learned"] < s["runs"]:
            break
        best = s["ratio"]
    return best


def write_png(summ: dict[str, list[dict]], path: Path) -> None:
    ds = list(summ)
    note = (
        f"g_max = {G_MAX_S * 1e6:g} µS, g_min = g_max/ratio; medians over the initial-conductance seeds "
        f"({', '.join(f'{d}: {len(SEEDS[d])}' for d in summ)}). xor: final training loss; digits: test accuracy. Dashed: the learning criterion."
    )
    with figure(path, 1, len(ds), title="EP training against the device's conductance range", note=note) as (
        fig,
        ax,
    ):
        for k, d in enumerate(ds):
            a = ax[0, k]
            key = "median_final_loss_V2" if d == "xor" else "median_test_acc"
            for model, color in zip(MODELS, ("tab:blue", "tab:red", "tab:green", "tab:purple"), strict=False):
                s = [r for r in summ[d] if r["model"] == model]
                a.plot([r["ratio"] for r in s], [r[key] for r in s], "o-", color=color, label=model)
            a.set_xscale("log")
            a.set_xticks(RATIOS, [str(r) for r in RATIOS])
            a.set_xlabel("g_max / g_min")
            if d == "xor":
                a.set_yscale("log")
                a.axhline(5e-5, color="0.4", ls="--", lw=0.8)
                a.set_ylabel("final training loss (V²)")
            else:
                a.axhline(0.8, color="0.4", ls="--", lw=0.8)
                a.set_ylabel("test accuracy")
                a.set_ylim(0, 1)
            a.set_title(d)
            a.legend(loc="best")


def markdown(summ: dict[str, list[dict]]) -> str:
    lines = [
        "| dataset | device model | " + " | ".join(f"{r}×" for r in RATIOS) + " | learns from |",
        "|---|---|" + "---|" * len(RATIOS) + "---|",
    ]
    for d, rows in summ.items():
        for model in MODELS:
            s = [r for r in rows if r["model"] == model]
            if d == "xor":
                cells = [f"{r['learned']}/{r['runs']} ({r['median_final_loss_V2']:.1e} V²)" for r in s]
            else:
                cells = [f"{r['learned']}/{r['runs']} ({r['median_test_acc']:.2f})" for r in s]
            t = threshold(rows, model)
            lines.append(
                f"| {d} | {model} | " + " | ".join(cells) + f" | {'never' if t is None else f'{t}×'} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict[str, list[dict]]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="+", default=list(CRITERIA), choices=list(CRITERIA))
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--work", type=Path, default=ROOT / "build" / "device_range")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "results")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    summ = {}
    for d in args.datasets:
        runs = args.out / f"device_range_{d}.csv"
        kept = []
        if set(args.models) != set(MODELS):
            with runs.open(encoding="utf-8", newline="") as fh:
                kept = list(csv.DictReader(fh))
        rows = run_dataset(d, args.work, args.workers, args.models, kept)
        write_runs(rows, runs)
        summ[d] = summary(d, rows)
    with (args.out / "device_range.csv").open("w", newline="", encoding="utf-8") as fh:
        cols = list(next(iter(summ.values()))[0])
        w = csv.DictWriter(fh, fieldnames=cols, lineterminator="\n")
        w.writeheader()
        for rows in summ.values():
            w.writerows(rows)
    write_png(summ, args.out / "device_range.png")
    table = markdown(summ)
    (args.work / "table.md").write_text(table, encoding="utf-8")
    print(table)
    return summ


if __name__ == "__main__":
    main()
