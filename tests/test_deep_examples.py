"""The deep Hopfield-ResNet examples and the XOR operating point (issue 10).

* ``examples/hopfield_resnet_digits.yaml``: 64-32-32-32-10 on scikit-learn's digits, skip crossbars
  1→3 and 2→4, ReLUα clamp neurons, centered EP; ``hopfield_resnet_digits_noskip.yaml`` the same
  chip without the skips.  Recorded in docs/results/deep.md.
* ``examples/xor.yaml``: every one of 10 initial-conductance seeds reaches 100 % with every read
  below the memristor thresholds.  Recorded in docs/results/xor_seeds.md.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from codegen.analysis.operating_point import analyze, dataset_arrays
from codegen.cli import main
from codegen.elab import elaborate
from codegen.learn.backends import GoldenBackend
from codegen.learn.datasets import load_dataset
from codegen.learn.trainer import evaluate, train
from codegen.load import load_spec

ROOT = Path(__file__).resolve().parent.parent
DEEP = ROOT / "examples" / "hopfield_resnet_digits.yaml"
NOSKIP = ROOT / "examples" / "hopfield_resnet_digits_noskip.yaml"
XOR = ROOT / "examples" / "xor.yaml"
#: the XOR budget of the slow tests: every seed of the recorded 300-epoch sweep is at 100 %
#: accuracy by epoch 100 (docs/results/xor_seeds.md), so the test trains 100 epochs
XOR_EPOCHS = 100
XOR_SEEDS = 10


# --------------------------------------------------------------------------- deep chips: shape
def test_deep_chip_is_a_hopfield_resnet():
    """≥ 4 weight layers, skip crossbars between non-adjacent layers (each a real crossbar of the
    IR, driven through an amplifier of gain A^distance), ReLUα clamp neurons, centered EP."""
    spec = load_spec(DEEP)
    chip = elaborate(spec)
    assert len(spec.network.layers) - 1 >= 4
    assert spec.network.skip and all(s.dst >= s.src + 2 for s in spec.network.skip)
    assert spec.neuron.kind == "relu_clamp" and spec.nudge.centered
    assert spec.training.dataset.name == "digits"
    skips = [x for x in chip.crossbars if x.kind == "skip"]
    assert {(x.src_layer, x.dst_layer) for x in skips} == {(s.src, s.dst) for s in spec.network.skip}
    A = spec.amplifier.gain
    for x in skips:
        assert x.gain == pytest.approx(A ** (x.dst_layer - x.src_layer))
        assert x.shape == (len(chip.layers[x.dst_layer].nodes), len(chip.layers[x.src_layer].nodes))
    hidden = [la for la in chip.layers if la.role == "hidden"]
    assert all(
        la.neuron and la.neuron.v_low_V == 0.0 and la.neuron.v_high_V == spec.neuron.alpha for la in hidden
    )


def test_noskip_chip_is_the_same_chip_without_skips():
    deep, flat = load_spec(DEEP), load_spec(NOSKIP)
    assert flat.network.skip == [] and deep.network.skip
    assert flat.network.model_copy(update={"skip": deep.network.skip}) == deep.network
    for section in ("device", "neuron", "amplifier", "nudge", "training", "controller", "simulation"):
        assert getattr(flat, section) == getattr(deep, section), section


@pytest.mark.parametrize("path", [DEEP, NOSKIP], ids=lambda p: p.stem)
def test_deep_operating_point_is_nonlinear_and_reads_are_safe(path):
    """``codegen analyze`` at the seeded initial conductances: every hidden layer in its nonlinear
    region (status ok, not linear, saturated or loaded) and every read, free and nudged, below the
    ±4 V memristor thresholds over all 1797 digits."""
    chip = elaborate(load_spec(path))
    x, t = dataset_arrays(chip)
    op = analyze(chip, x, t, power=False)
    hidden = [la for la in op.layers if la.role == "hidden"]
    assert len(hidden) == 3 and all(la.status == "ok" for la in hidden), [
        (la.index, la.status, la.frac_nonlinear) for la in hidden
    ]
    assert op.read.passed and op.read.margin_V > 0.4, op.read


def _deep_metrics(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return [r for r in csv.DictReader(fh) if r["run"] == "ep"]


@pytest.mark.slow
def test_deep_skip_chip_reaches_95_percent_on_digits():
    """Golden backend, the example's own recipe (training.epochs); recorded in docs/results/deep.md.
    The skip-free chip, trained the same way, stays far below (recorded there too)."""
    chip = elaborate(load_spec(DEEP))
    ds = load_dataset(chip)
    b = GoldenBackend(chip)
    r = train(chip, b, ds)
    assert r.final.test_acc >= 0.95, [round(m.test_acc, 3) for m in r.history]
    # the committed record is this run, epoch for epoch
    rec = _deep_metrics(ROOT / "docs" / "results" / "deep_hopfield_resnet_digits_metrics.csv")
    assert [float(row["test_acc"]) for row in rec] == [m.test_acc for m in r.history]


# --------------------------------------------------------------------------- XOR robustness
@pytest.mark.slow
def test_xor_ten_initial_seeds_reach_100_percent(tmp_path):
    """``codegen sweep examples/xor.yaml --init-seeds 10`` (100 epochs): ≥ 9 of 10 initial
    conductance draws classify all four patterns (recorded: 10/10 at 100 and at 300 epochs)."""
    out = tmp_path / "sweep"
    argv = ["sweep", str(XOR), "--init-seeds", str(XOR_SEEDS), "--epochs", str(XOR_EPOCHS)]
    assert main([*argv, "--workers", "1", "-o", str(out), "-q"]) == 0
    with (out / "sweep.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == XOR_SEEDS and not any(r["error"] for r in rows)
    assert all(float(r["initial_loss"]) > 0.04 for r in rows)  # every draw had to learn (V²)
    perfect = [int(r["init_seed"]) for r in rows if float(r["final_test_acc"]) == 1.0]
    assert len(perfect) >= 9, perfect


@pytest.mark.slow
def test_xor_trained_chips_read_below_the_thresholds():
    """Read disturb at the trained conductances of every seed: the largest drop across any weight
    over the four patterns, free and nudged ±β phases, stays below the ±4 V thresholds (golden model,
    the same definition as ``codegen check``'s read-disturb row), and the trained chip is right."""
    chip = elaborate(load_spec(XOR))
    ds = load_dataset(chip)
    x, t = dataset_arrays(chip)
    worst = []
    for seed in range(XOR_SEEDS):
        b = GoldenBackend(chip)
        r = train(chip, b, ds, epochs=XOR_EPOCHS, init_seed=seed)
        _, acc, _ = evaluate(b, ds, ds.x_train, ds.labels_train, ds.t_train)
        op = analyze(chip, x, t, conductances=r.g_final, power=False)
        assert op.read.passed, (seed, op.read)
        worst.append((op.read.max_abs_dv_V, seed, acc))
    assert max(w[0] for w in worst) < 3.6, worst  # recorded ≤ 3.4 V: the clamps bound the nodes
    assert sum(w[2] == 1.0 for w in worst) >= 9, worst


def test_xor_untrained_reads_are_safe_for_every_seed():
    """The same bound before training, for the 10 seeded draws (fast)."""
    chip = elaborate(load_spec(XOR))
    x, t = dataset_arrays(chip)
    from codegen.learn.devices import DeviceArrays

    for seed in range(XOR_SEEDS):
        g = DeviceArrays.create(chip, init_seed=seed).conductances
        op = analyze(chip, x, t, conductances=g, power=False)
        assert op.read.passed and op.read.max_abs_dv_V < 3.6, (seed, op.read)
        assert np.isfinite(op.read.margin_V)
