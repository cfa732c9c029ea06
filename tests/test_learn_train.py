"""Training with the golden model: Kiraz case 1 and XOR converge with both rules; the CLI writes
its metrics and plots."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from codegen.elab import elaborate
from codegen.learn.backends import GoldenBackend
from codegen.learn.datasets import load_dataset
from codegen.learn.trainer import evaluate, train
from codegen.load import load_spec
from tests.signals import ctrl_c_default

ROOT = Path(__file__).resolve().parents[1]


def example_path(name: str) -> Path:
    """examples/<name>.yaml, or the sign-pulse variant examples/sign_pulse/<name>.yaml."""
    p = ROOT / "examples" / f"{name}.yaml"
    return p if p.exists() else ROOT / "examples" / "sign_pulse" / f"{name}.yaml"


def run(example: str, epochs: int | None = None, **kw):
    chip = elaborate(load_spec(example_path(example)))
    ds = load_dataset(chip)
    b = GoldenBackend(chip)
    return chip, ds, b, train(chip, b, ds, epochs=epochs, **kw)


@pytest.mark.parametrize("example", ["kiraz_case1", "kiraz_case1_sign"])
def test_kiraz_case1_reaches_10_mV(example):
    chip, ds, b, r = run(example, epochs=60)
    _, _, y = evaluate(b, ds, ds.x_test, ds.labels_test, ds.t_test)
    # the seed's criterion: |output − 1 V| ≤ 10 mV
    assert abs(y[0, 0] - 1.0) <= 0.010
    assert r.history[0].train_loss > 0.1  # it really had to learn (starts ≈ 0.31 V²)
    if chip.training.rule == "sign-pulse":
        assert sum(m.pulses for m in r.history) > 0
        assert r.history[-1].pulses == 0  # settled inside the dead zone


@pytest.mark.parametrize("example", ["xor", "xor_sign"])
def test_xor_all_four_patterns(example):
    chip, ds, b, r = run(example, epochs=150)
    _, acc, y = evaluate(b, ds, ds.x_train, ds.labels_train, ds.t_train)
    assert acc == 1.0, y.ravel()
    assert r.history[0].train_acc < 1.0


def test_ep_and_exact_gradient_training_agree_on_kiraz():
    """At β = 1e-6 S centered EP matches the exact gradient to a few 1e-4 (relative, measured on this
    chip): after 5 steps the two trajectories differ by < 0.3 % of the distance each cell moved."""
    chip = elaborate(load_spec(ROOT / "examples" / "kiraz_case1.yaml"))
    ds = load_dataset(chip)
    a = train(chip, GoldenBackend(chip), ds, epochs=5)
    e = train(chip, GoldenBackend(chip), ds, epochs=5, gradient_source="exact")
    for k in a.g_final:
        moved = np.abs(e.g_final[k] - e.g_initial[k])
        assert moved.max() > 1e-7  # the cells really moved (S)
        assert np.all(np.abs(a.g_final[k] - e.g_final[k]) <= 3e-3 * moved + 1e-12)


NONIDEAL = {
    "device.variation.d2d": 0.2,
    "device.variation.c2c": 0.2,
    "device.asymmetry": 0.3,
    "device.soft_bounds": True,
    "device.faults.stuck_at_gmin": 0.05,
}


@pytest.mark.parametrize(("example", "faults"), [("kiraz_case1_sign", False), ("xor_sign", True)])
def test_sign_pulse_learns_with_non_ideal_devices(example, faults):
    """20 % device-to-device and cycle-to-cycle spread, 30 % up/down asymmetry, soft bounds (and for
    XOR 5 % cells stuck at g_min): the sign-pulse rule still meets the task.  (Kiraz case 1 with a
    stuck cell out of its 12 ends at 10.8 mV, just outside the 10 mV criterion.)"""
    from codegen.learn.overrides import override

    sets = {k: v for k, v in NONIDEAL.items() if faults or "faults" not in k}
    chip = elaborate(override(load_spec(example_path(example)), sets))
    ds = load_dataset(chip)
    b = GoldenBackend(chip)
    r = train(chip, b, ds, epochs=150)
    _, acc, y = evaluate(b, ds, ds.x_train, ds.labels_train, ds.t_train)
    assert acc == 1.0, y.ravel()  # Kiraz: |y − 1 V| ≤ 10 mV; XOR: all four patterns
    assert r.final.train_loss < 0.5 * r.history[0].train_loss


def test_vanilla_ep_trains_kiraz_too():
    from codegen.learn.overrides import override

    chip = elaborate(override(load_spec(example_path("kiraz_case1")), {"nudge.centered": False}))
    ds = load_dataset(chip)
    r = train(chip, GoldenBackend(chip), ds, epochs=40)
    assert not chip.nudge.centered and r.final.train_loss <= 5e-5  # |y − t| ≤ 10 mV


def test_train_cli_bad_override_is_a_clear_error(capsys):
    from codegen.cli import main

    assert main(["train", str(example_path("xor")), "--set", "training.learnin_rate=1e-9", "-q"]) == 2
    assert "unknown spec path 'training.learnin_rate'" in capsys.readouterr().err


def test_train_cli_writes_metrics_and_plots(tmp_path):
    from codegen.cli import main

    assert (
        main(
            [
                "train",
                str(ROOT / "examples" / "kiraz_case1.yaml"),
                "--epochs",
                "20",
                "-q",
                "-o",
                str(tmp_path),
            ]
        )
        == 0
    )
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert m["history"][-1]["train_loss"] < 5e-5 and m["baseline"]["history"][-1]["train_loss"] < 5e-5
    assert len(m["history"]) == 21 and m["complete"] is True and m["epochs_done"] == 20
    assert (tmp_path / "metrics.csv").read_text().startswith("run,epoch,train_loss")
    for f in ("training.png", "conductances.png"):
        assert (tmp_path / f).read_bytes()[:4] == b"\x89PNG"
    # same chip + seed → byte-identical results and plots (wall times live in timing.json)
    again = tmp_path / "again"
    assert (
        main(["train", str(ROOT / "examples" / "kiraz_case1.yaml"), "--epochs", "20", "-q", "-o", str(again)])
        == 0
    )
    for f in ("metrics.csv", "metrics.json", "training.png", "conductances.png"):
        assert (again / f).read_bytes() == (tmp_path / f).read_bytes(), f
    assert json.loads((tmp_path / "timing.json").read_text())["ep"]["samples_per_s"] > 0


def test_training_is_deterministic():
    _, _, _, a = run("xor_sign", epochs=10)
    _, _, _, b = run("xor_sign", epochs=10)
    assert all(np.array_equal(a.g_final[k], b.g_final[k]) for k in a.g_final)
    assert [m.train_loss for m in a.history] == [m.train_loss for m in b.history]


@pytest.mark.parametrize(
    "path", sorted((ROOT / "examples" / "sign_pulse").glob("*.yaml")), ids=lambda p: p.stem
)
def test_sign_pulse_variants_are_the_same_circuits(path):
    """examples/sign_pulse/<base>_sign.yaml differ from examples/<base>.yaml only in name, text and training."""
    import yaml

    var = load_spec(path)
    base = load_spec(ROOT / "examples" / f"{path.stem.removesuffix('_sign')}.yaml")
    assert var.name == path.stem and var.training.rule == "sign-pulse"
    for section in ("network", "device", "neuron", "amplifier", "nudge", "controller", "simulation"):
        assert getattr(var, section) == getattr(base, section), section
    assert var.training.dataset == base.training.dataset
    schema = json.loads((ROOT / "schema" / "chip.schema.json").read_text())
    import jsonschema

    jsonschema.validate(yaml.safe_load(path.read_text()), schema)


@pytest.mark.slow
@pytest.mark.parametrize("example", ["iris", "digits"])
def test_real_data_accuracy(example):
    """Iris and 8×8 digits with the tuned examples (gradient rule, golden model): ≥ 93 % test
    accuracy (recorded: iris 95.6 % after 80 epochs, ~17 s; digits 96.0 % after 20 epochs, ~8 s)."""
    chip, ds, b, r = run(example)
    assert r.final.test_acc >= 0.93, [round(m.test_acc, 3) for m in r.history]


def test_set_option_needs_path_equals_value(capsys):
    from codegen.cli import main
    from codegen.learn.overrides import parse_sets

    assert parse_sets(["training.epochs=3", "nudge.beta=1u"]) == {"training.epochs": 3, "nudge.beta": "1u"}
    assert main(["train", str(example_path("xor")), "--set", "training.epochs", "-q"]) == 2
    assert "--set needs PATH=VALUE" in capsys.readouterr().err


def test_checkpoint_gets_every_finished_epoch():
    """``train(checkpoint=…)`` sees the history and the conductances after each epoch (0 included);
    the last one is the final result."""
    chip = elaborate(load_spec(example_path("xor")))
    ds = load_dataset(chip)
    seen = []
    r = train(chip, GoldenBackend(chip), ds, epochs=3, checkpoint=seen.append)
    assert [len(s.history) for s in seen] == [1, 2, 3, 4]
    assert [s.samples for s in seen] == [0, 4, 8, 12] and seen[-1].samples == r.samples
    assert seen[-1].history == r.history
    for k in r.g_final:
        np.testing.assert_array_equal(seen[-1].g_final[k], r.g_final[k])
        np.testing.assert_array_equal(seen[0].g_final[k], r.g_initial[k])
    assert any(not np.array_equal(seen[1].g_final[k], r.g_initial[k]) for k in r.g_final)


def test_ctrl_c_during_training_keeps_the_finished_epochs(tmp_path):
    """SIGINT to the process group mid-training (Ctrl-C): exit 130, a message saying where, and the
    folder holds metrics of every finished epoch and conductances that load (it used to be empty)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from codegen.model.conductances import parse_conductances

    out = tmp_path / "train"
    argv = [sys.executable, "-m", "codegen", "train", str(example_path("iris")), "--epochs", "400"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [*argv, "-q", "-o", str(out)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=ctrl_c_default,  # Ctrl-C as in a terminal, also where the runner ignores SIGINT
    )
    csv_path = out / "metrics.csv"
    deadline = time.monotonic() + 60
    try:
        while not (csv_path.exists() and csv_path.read_text().count("\n") >= 4):  # header, epochs 0..2
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no epoch written to metrics.csv within 60 s"
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)
        # a guard against a hang, not a speed check: on a loaded 2-core machine (CI at load ~18)
        # writing the partial run (metrics, conductances, the convergence PNG) took over 60 s
        _, err = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()  # reap it and close its pipes (a leftover Popen fails a later test)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    lines = csv_path.read_text().splitlines()
    done = len(lines) - 2  # header, epoch 0
    assert 2 <= done < 400
    assert [ln.split(",")[1] for ln in lines[1:]] == [str(i) for i in range(done + 1)]
    assert f"interrupted after epoch {done} of 400 of the EP run" in err
    assert f"{out}/metrics.csv" in err and f"{out}/conductances.json" in err
    m = json.loads((out / "metrics.json").read_text())
    assert m["complete"] is False and m["epochs_done"] == done and len(m["history"]) == done + 1
    chip = elaborate(load_spec(example_path("iris")))
    g = parse_conductances(chip, (out / "conductances.json").read_text(), "conductances.json")
    assert g is not None
    assert not list(out.glob(".*.tmp"))  # no temporary file left behind
