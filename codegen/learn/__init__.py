"""On-chip learning: datasets, update rules, device non-idealities, training loops and sweeps.

* :mod:`~codegen.learn.datasets` — XOR, Iris, 8×8 digits, MNIST (5000), Kiraz case 1 (no
  download), a user's .npz/.csv file, or :meth:`Dataset.from_arrays`
* :mod:`~codegen.learn.rules` — gradient rule and sign-pulse rule (:func:`pulse_codes`)
* :mod:`~codegen.learn.devices` — programmable crossbars with aihwkit-like non-idealities
* :mod:`~codegen.learn.backends` — golden model / ngspice in the loop
* :mod:`~codegen.learn.trainer` — the training loop
* :mod:`~codegen.learn.sweep` — robustness sweeps on Dask

For scripts::

    from codegen.elab import elaborate
    from codegen.load import load_spec
    from codegen.learn import Dataset, train

    chip = elaborate(load_spec("chip.yaml"))
    ds = Dataset.from_arrays(x, y, chip=chip)      # x (N, n_in) features, y (N,) labels
    result = train(chip, ds, epochs=5)             # golden model; result.final.test_acc
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .datasets import Dataset
from .rules import gradient_step, pulse_codes

if TYPE_CHECKING:
    from ..ir import Chip
    from .trainer import TrainResult

__all__ = ["pulse_codes", "gradient_step", "Dataset", "train"]


def train(
    chip: Chip, dataset: Dataset | None = None, *, backend: str = "golden", **kwargs: Any
) -> TrainResult:
    """Train ``chip`` on ``dataset`` (default: the chip's own, :func:`~codegen.learn.datasets.load_dataset`)
    with the circuit solver ``backend`` (``golden`` or ``spice``).

    ``kwargs`` go to :func:`codegen.learn.trainer.train` (``epochs``, ``rule``, ``learning_rate``
    in S²/V², ``init_seed``, ``gradient_source``, ``callback`` …).
    """
    from .backends import make_backend
    from .datasets import load_dataset
    from .trainer import train as _train

    ds = load_dataset(chip) if dataset is None else dataset
    return _train(chip, make_backend(backend, chip), ds, **kwargs)
