"""The IR-drop study: a chip trained without wire resistance, evaluated with it, and trained in situ.

1. Train ``--spec`` (default examples/digits.yaml) with ideal wires: the golden model, EP and the
   spec's rule and schedule (``codegen train`` does the same).
2. Evaluate those trained conductances on the same chip with ``interconnect.r_row = r_col = R``
   (Ω per segment) for every R of ``--r``: test and train accuracy, and the largest output shift
   from the ideal chip's (V).
3. In situ: for each R of ``--insitu`` (default: the R values of ``--r`` that lost at least one
   point of test accuracy, at most three, largest first), continue training the chip *with* wires by
   EP (the golden model solves the wired network; the rule uses the drops across the memristors)
   for ``--insitu-epochs`` epochs, starting from the ideal-trained conductances, and evaluate again.

Writes a JSON document (``--json``) with one row per R; docs/wires.md shows the table.

    PYTHONPATH=$PWD .venv/bin/python bench/ir_drop_study.py [--r 0,0.5,1,2,5,10,20,50,100]
        [--insitu-epochs 2] [--json bench/results/ir_drop.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.bench_equilibrium import machine_conditions  # noqa: E402
from codegen.elab import elaborate  # noqa: E402
from codegen.learn import gradient_step  # noqa: E402
from codegen.learn.backends import GoldenBackend  # noqa: E402
from codegen.learn.datasets import load_dataset  # noqa: E402
from codegen.learn.devices import DeviceArrays  # noqa: E402
from codegen.learn.overrides import override  # noqa: E402
from codegen.learn.trainer import evaluate, train  # noqa: E402
from codegen.load import load_spec  # noqa: E402
from codegen.model import GoldenModel  # noqa: E402

#: shuffling stream of the in-situ epochs (distinct from the trainer's)
_SHUFFLE_INSITU = 0x1D


def wired_spec(spec, r_ohm: float):
    return override(spec, {"interconnect.r_row": r_ohm, "interconnect.r_col": r_ohm}) if r_ohm else spec


def accuracies(chip, g, ds) -> tuple[float, float, np.ndarray]:
    """(test accuracy, train accuracy, test outputs (V)) of ``chip`` at conductances ``g`` (S)."""
    be = GoldenBackend(chip)
    be.set_conductances(g)
    _, test_acc, y = evaluate(be, ds, ds.x_test, ds.labels_test, ds.t_test)
    _, train_acc, _ = evaluate(be, ds, ds.x_train, ds.labels_train, ds.t_train)
    return test_acc, train_acc, y


def insitu(chip, g0, ds, epochs: int, log) -> tuple[dict, float]:
    """EP training of the wired ``chip`` from conductances ``g0`` (S) for ``epochs``; returns the
    conductances and the wall time (s).  Same rule step, learning rate and batch size as the spec."""
    dev = DeviceArrays.create(chip)
    for name, a in dev.arrays.items():
        a.g = np.array(g0[name], dtype=float)
        a.pin()
    model = GoldenModel(chip, conductances=dev.conductances)
    tr = chip.training
    rng = np.random.default_rng([tr.seed, _SHUFFLE_INSITU])
    n = len(ds.x_train)
    t0 = time.perf_counter()
    for epoch in range(epochs):
        order = rng.permutation(n)
        for i in range(0, n, tr.batch_size):
            idx = order[i : i + tr.batch_size]
            grads = model.ep_gradient(ds.x_train[idx], ds.t_train[idx])
            dev.apply_delta(gradient_step(grads, chip))
            model.set_conductances(dev.conductances)
        log(f"  in situ epoch {epoch + 1}/{epochs}: {time.perf_counter() - t0:.0f} s")
    return dev.conductances, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", default=str(ROOT / "examples" / "digits.yaml"))
    ap.add_argument("--r", default="0,0.5,1,2,5,10,20,50,100", help="wire resistances R (Ω per segment)")
    ap.add_argument("--insitu", default=None, help="R values to train in situ (default: see the docstring)")
    ap.add_argument("--insitu-epochs", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=None, help="override training.epochs of the ideal run")
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    before = machine_conditions()
    spec = load_spec(a.spec)
    ideal_chip = elaborate(spec)
    ds = load_dataset(ideal_chip)
    t0 = time.perf_counter()
    res = train(ideal_chip, GoldenBackend(ideal_chip), ds, epochs=a.epochs)
    g = res.g_final
    log(f"ideal training: {time.perf_counter() - t0:.0f} s, test accuracy {res.history[-1].test_acc:.4f}")
    rs = [float(v) for v in a.r.split(",")]
    rows = []
    y0 = None
    for r in rs:
        chip = elaborate(wired_spec(spec, r))
        test_acc, train_acc, y = accuracies(chip, g, ds)
        y0 = y if r == 0 else y0
        shift = float(np.abs(y - y0).max()) if y0 is not None else float("nan")
        rows.append(
            {
                "r_ohm": r,
                "test_acc_ideal_trained": test_acc,
                "train_acc_ideal_trained": train_acc,
                "max_output_shift_V": shift,
            }
        )
        log(f"R = {r:g} Ω: test {test_acc:.4f}, train {train_acc:.4f}, output shift {shift:.3g} V")
    ideal_acc = rows[0]["test_acc_ideal_trained"] if rs[0] == 0 else None
    if a.insitu is not None:
        chosen = [float(v) for v in a.insitu.split(",") if v]
    else:
        lost = [
            row["r_ohm"]
            for row in rows
            if ideal_acc is not None and ideal_acc - row["test_acc_ideal_trained"] >= 0.01
        ]
        chosen = sorted(lost, reverse=True)[:3]

    def document() -> dict:
        return {
            "bench": "bench/ir_drop_study.py",
            "argv": list(argv if argv is not None else sys.argv[1:]),
            "spec": Path(a.spec).name,
            "ideal_epochs": len(res.history) - 1,
            "ideal_test_acc": res.history[-1].test_acc,
            "machine_before": before,
            "machine_after": machine_conditions(),
            "rows": rows,
        }

    def write() -> None:  # after every stage: an interrupted run keeps what it finished
        if a.json:
            Path(a.json).write_text(json.dumps(document(), indent=1) + "\n", encoding="utf-8")

    write()
    for row in rows:
        if row["r_ohm"] not in chosen:
            continue
        chip = elaborate(wired_spec(spec, row["r_ohm"]))
        log(f"R = {row['r_ohm']:g} Ω: in situ")
        g_ws, secs = insitu(chip, g, ds, a.insitu_epochs, log)
        test_acc, train_acc, _ = accuracies(chip, g_ws, ds)
        row.update(
            {
                "test_acc_insitu": test_acc,
                "train_acc_insitu": train_acc,
                "insitu_epochs": a.insitu_epochs,
                "insitu_s": secs,
            }
        )
        log(f"R = {row['r_ohm']:g} Ω: in situ test {test_acc:.4f}, train {train_acc:.4f}")
        write()
    write()
    return document()


if __name__ == "__main__":
    main()
