"""Built-in datasets that need no download, split deterministically and turned into targets (V).

* ``kiraz_case1``: one pattern, x = [−2, 2] (×``input_scale`` V), target ``target_high`` (1 V in
  the seed); Kiraz, Pham, Desgreys 2023, case 1.
* ``xor``: the four patterns of {0, 1}², target ``target_high`` where x0 XOR x1, else ``target_low``.
* ``iris``: scikit-learn's bundled copy, 4 features standardised with the *training* split's mean and
  standard deviation (so a feature of 1 is one σ, driven as ``input_scale`` V).
* ``digits``: scikit-learn's bundled 8×8 digits, 64 pixels in their raw units 0..16 (an
  ``input_scale`` of 1/16 V maps a full pixel to 1 V).

Targets: one output per class (``target_high`` for the true class, ``target_low`` for the others);
a single-output binary task (XOR) has one output.  Splits are stratified and seeded by
``training.seed``; with ``test_fraction = 0`` the test set is the training set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import CodegenError
from ..ir import Chip

__all__ = ["Dataset", "load_dataset", "NAMES"]

NAMES = ("kiraz_case1", "xor", "iris", "digits")


@dataclass(frozen=True)
class Dataset:
    """Features (feature units, see module doc), integer labels and targets (V) of both splits.

    ``labels`` are class indices (XOR: 0/1; Kiraz: 0).  ``classify`` says whether accuracy means
    argmax over outputs (``n_outputs > 1``) or thresholding the single output half-way between
    ``target_low`` and ``target_high``.
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


def _targets(labels: np.ndarray, n_out: int, lo: float, hi: float) -> np.ndarray:
    if n_out == 1:
        return np.where(labels[:, None] == 1, hi, lo).astype(float)
    t = np.full((labels.size, n_out), lo, dtype=float)
    t[np.arange(labels.size), labels] = hi
    return t


def _raw(name: str) -> tuple[np.ndarray, np.ndarray]:
    if name == "kiraz_case1":
        return np.array([[-2.0, 2.0]]), np.array([1])
    if name == "xor":
        x = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
        return x, np.array([0, 1, 1, 0])
    try:
        from sklearn import datasets as skd
    except ImportError as exc:  # pragma: no cover - sklearn is in the `learn` extra
        raise CodegenError(
            f"dataset {name!r} needs scikit-learn (pip install 'eqprop-codegen[learn]')"
        ) from exc
    if name == "iris":
        d = skd.load_iris()
    elif name == "digits":
        d = skd.load_digits()
    else:
        raise CodegenError(f"unknown dataset {name!r}; built-in: {', '.join(NAMES)}")
    return np.asarray(d.data, dtype=float), np.asarray(d.target, dtype=int)


def load_dataset(chip: Chip) -> Dataset:
    """The chip's training dataset (``chip.training``), split and scaled deterministically."""
    tr = chip.training
    name = tr.dataset
    x, labels = _raw(name)
    n_out = chip.n_outputs
    if name in ("kiraz_case1", "xor") or tr.test_fraction == 0:
        x_tr, l_tr, x_te, l_te = x, labels, x, labels
    else:
        from sklearn.model_selection import train_test_split

        x_tr, x_te, l_tr, l_te = train_test_split(
            x, labels, test_size=tr.test_fraction, random_state=tr.seed, stratify=labels, shuffle=True
        )
    if name == "iris":
        mu, sd = x_tr.mean(axis=0), x_tr.std(axis=0)
        x_tr, x_te = (x_tr - mu) / sd, (x_te - mu) / sd
    if chip.n_inputs != x.shape[1]:
        raise CodegenError(
            f"dataset {name!r} has {x.shape[1]} features but the chip has {chip.n_inputs} inputs"
        )
    lo, hi = tr.target_low_V, tr.target_high_V
    if name == "kiraz_case1":
        t_tr = np.full((1, n_out), hi)
        t_te = t_tr.copy()
    else:
        t_tr, t_te = _targets(l_tr, n_out, lo, hi), _targets(l_te, n_out, lo, hi)
    return Dataset(
        name=name,
        x_train=np.ascontiguousarray(x_tr, dtype=float),
        labels_train=np.asarray(l_tr, dtype=int),
        t_train=t_tr,
        x_test=np.ascontiguousarray(x_te, dtype=float),
        labels_test=np.asarray(l_te, dtype=int),
        t_test=t_te,
        target_low_V=lo,
        target_high_V=hi,
        classify=name != "kiraz_case1",
    )
