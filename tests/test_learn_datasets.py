"""Built-in datasets: shapes, targets, deterministic splits, scaling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from codegen.elab import elaborate
from codegen.learn.datasets import load_dataset
from codegen.learn.overrides import override
from codegen.load import load_spec

ROOT = Path(__file__).resolve().parents[1]


def chip(name: str, **sets):
    return elaborate(override(load_spec(ROOT / "examples" / f"{name}.yaml"), sets))


def test_kiraz_case1_single_pattern():
    c = chip("kiraz_case1")
    ds = load_dataset(c)
    assert ds.x_train.tolist() == [[-2.0, 2.0]]
    assert ds.t_train.tolist() == [[c.training.target_high_V]]
    assert c.source_voltages(ds.x_train)[0].tolist() == [-2.0, 2.0]  # input_scale 1 V, no doubling
    assert not ds.classify
    assert ds.accuracy(np.array([[1.009]]), ds.labels_train, np.array([[1.0]])) == 1.0
    assert ds.accuracy(np.array([[1.011]]), ds.labels_train, np.array([[1.0]])) == 0.0


def test_xor_targets_and_threshold():
    ds = load_dataset(chip("xor"))
    hi, lo = ds.target_high_V, ds.target_low_V
    assert ds.labels_train.tolist() == [0, 1, 1, 0]
    assert ds.t_train[:, 0].tolist() == [lo, hi, hi, lo]
    mid = 0.5 * (hi + lo)
    y = np.array([[mid - 0.01], [mid + 0.01], [mid + 0.2], [mid - 0.3]])
    assert ds.accuracy(y, ds.labels_train, ds.t_train) == 1.0


@pytest.mark.parametrize("name,n_in,n_out", [("iris", 4, 3), ("digits", 64, 10)])
def test_split_is_deterministic_stratified_and_seeded(name, n_in, n_out):
    a, b = load_dataset(chip(name)), load_dataset(chip(name))
    assert np.array_equal(a.x_train, b.x_train) and np.array_equal(a.labels_test, b.labels_test)
    other = load_dataset(chip(name, **{"training.seed": 99}))
    assert not np.array_equal(a.labels_train, other.labels_train)
    n = len(a.x_train) + len(a.x_test)
    tf = chip(name).training.test_fraction
    assert len(a.x_test) == pytest.approx(tf * n, abs=1)
    assert a.x_train.shape[1] == n_in and a.t_train.shape[1] == n_out
    # one-hot targets in volts
    assert np.all(a.t_train.max(axis=1) == a.target_high_V)
    assert np.all(np.argmax(a.t_train, axis=1) == a.labels_train)
    # stratified: every class in the test split in proportion (±1 sample)
    counts = np.bincount(a.labels_test, minlength=n_out)
    assert counts.max() - counts.min() <= max(2, int(0.05 * len(a.x_test)))


def test_iris_standardised_on_training_split_digits_raw():
    ds = load_dataset(chip("iris"))
    assert ds.x_train.mean(axis=0) == pytest.approx(np.zeros(4), abs=1e-12)
    assert ds.x_train.std(axis=0) == pytest.approx(np.ones(4), rel=1e-12)
    dg = load_dataset(chip("digits"))
    assert dg.x_train.min() == 0.0 and dg.x_train.max() == 16.0


def test_builtin_shapes_agree_with_the_spec():
    from codegen.learn.datasets import NAMES, SHAPES
    from codegen.spec import _BUILTIN_SHAPES, BuiltinDataset

    assert SHAPES == _BUILTIN_SHAPES and tuple(SHAPES) == NAMES
    assert set(BuiltinDataset.model_fields["name"].annotation.__args__) == set(NAMES)


# ------------------------------------------------------------------ Dataset.from_arrays
def _arrays(n=60, n_in=4, k=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, n_in)), np.arange(n) % k


def test_from_arrays_splits_like_the_builtins():
    from codegen.learn.datasets import Dataset

    x, y = _arrays()
    a = Dataset.from_arrays(x, y, test_fraction=0.25, seed=1)
    b = Dataset.from_arrays(x, y, test_fraction=0.25, seed=1)
    c = Dataset.from_arrays(x, y, test_fraction=0.25, seed=2)
    assert np.array_equal(a.x_train, b.x_train) and not np.array_equal(a.labels_train, c.labels_train)
    assert len(a.x_test) == 15 and np.bincount(a.labels_test).tolist() == [5, 5, 5]  # stratified
    assert a.n_outputs == 3 and np.all(np.argmax(a.t_train, axis=1) == a.labels_train)
    assert a.target_high_V == 1.0 and a.target_low_V == 0.0
    # the chip's options are the defaults: iris chip → its seed, fraction, targets and outputs
    ci = chip("iris")
    d = Dataset.from_arrays(x, y, chip=ci)
    assert d.target_high_V == ci.training.target_high_V and d.n_outputs == 3
    assert len(d.x_test) == pytest.approx(ci.training.test_fraction * 60, abs=1)
    # regression: targets kept (V), not stratified, accuracy by tolerance
    t = np.linspace(-0.5, 0.5, 120).reshape(60, 2)
    r = Dataset.from_arrays(x, t=t, test_fraction=0.5)
    assert not r.classify and r.n_outputs == 2
    assert sorted(map(tuple, np.concatenate([r.t_train, r.t_test]))) == sorted(map(tuple, t))


@pytest.mark.parametrize(
    "kw,message",
    [
        ({"x": np.full((4, 2), np.nan), "y": [0, 1, 0, 1]}, "non-finite"),
        ({"x": np.ones((4, 2)), "y": [0, 1, 0]}, r"y must have shape \(4,\)"),
        ({"x": np.ones((4, 2)), "y": [0, 1, 0, 1.5]}, "integer class labels"),
        ({"x": np.ones((4, 2)), "y": [0, -1, 0, 1]}, "labels ≥ 0"),
        ({"x": np.ones(4), "y": [0, 1, 0, 1]}, r"shape \(N, n_in\)"),
        ({"x": np.array([["a", "b"]] * 4), "y": [0, 1, 0, 1]}, "must hold numbers"),
        ({"x": np.ones((4, 2)), "y": [0, 1, 2, 1], "n_outputs": 1}, "only 2 classes"),
        ({"x": np.ones((4, 2)), "y": [0, 1, 3, 1], "n_outputs": 3}, r"labels 0..3 \(4 classes\)"),
        ({"x": np.ones((4, 2))}, "either y"),
        ({"x": np.ones((4, 2)), "y": [0, 1, 0, 1], "t": np.ones((4, 1))}, "either y"),
        ({"x": np.ones((4, 2)), "t": np.ones((4, 2)), "n_outputs": 3}, r"t has shape \(4, 2\)"),
    ],
)
def test_from_arrays_refuses_bad_arrays(kw, message):
    from codegen.errors import CodegenError
    from codegen.learn.datasets import Dataset

    kw = dict(kw)
    x = kw.pop("x")
    with pytest.raises(CodegenError, match=message):
        Dataset.from_arrays(x, kw.pop("y", None), **kw)


def test_from_arrays_checks_the_chip_inputs():
    from codegen.errors import CodegenError
    from codegen.learn.datasets import Dataset

    x, y = _arrays(n_in=5)
    with pytest.raises(CodegenError, match=r"x has shape \(60, 5\).*4 inputs"):
        Dataset.from_arrays(x, y, chip=chip("iris"))
