"""Training loop: EP gradients from a backend, an update rule, programmable devices.

One step: the backend gives the EP gradient estimate (batch mean of ∂L/∂G, V²/S) at the present
conductances; the rule turns it into ``ΔG`` (gradient rule) or signed pulse counts (sign-pulse
rule, :func:`codegen.learn.rules.pulse_codes`); :class:`~codegen.learn.devices.DeviceArrays`
applies it with the device's non-idealities; the new conductances go back to the backend.

``gradient_source="exact"`` trains the same circuit with exact gradients (implicit
differentiation in the golden model) instead of EP: the software baseline.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..errors import CodegenError
from ..ir import Chip
from ..model import readout
from .backends import TrainBackend
from .datasets import Dataset
from .devices import DeviceArrays
from .rules import RULES, gradient_step, pulse_codes

__all__ = ["EpochMetrics", "TrainResult", "train", "evaluate", "progress_total", "write_text_atomic"]

_SHUFFLE = 3  # rng stream of the shuffling (devices use 0..2)


def epoch_batches(chip: Chip, n: int) -> Iterator[list[np.ndarray]]:
    """The batch order of training, written once: an endless sequence of epochs, each a list of
    sample-index arrays of ``min(training.batch_size, n)`` samples (the last may be shorter), a
    fresh permutation of ``range(n)`` per epoch from the rng stream ``(training.seed, 3)``.
    :func:`train` and the co-simulation (:func:`codegen.cosim.loop.batches`) both walk it."""
    rng = np.random.default_rng([chip.training.seed, _SHUFFLE])
    bs = min(chip.training.batch_size, n)
    while True:
        order = rng.permutation(n)
        yield [order[i : i + bs] for i in range(0, n, bs)]


@dataclass(frozen=True)
class EpochMetrics:
    """Metrics after ``epoch`` epochs (epoch 0 = before training).

    Losses are means over samples of ``½·Σ(t − y)²`` (V²); accuracies are fractions; ``pulses`` are
    programming pulses sent during the epoch (sign-pulse rule) and ``update_S`` the summed
    ``|ΔG|`` applied during the epoch (S, both rules).
    """

    epoch: int
    train_loss: float
    test_loss: float
    train_acc: float
    test_acc: float
    pulses: int
    update_S: float
    seconds: float


@dataclass
class TrainResult:
    history: list[EpochMetrics]
    g_initial: dict[str, np.ndarray]
    g_final: dict[str, np.ndarray]
    rule: str
    gradient_source: str
    steps: int = 0
    samples: int = 0
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)

    @property
    def final(self) -> EpochMetrics:
        return self.history[-1]

    def rows(self) -> list[dict]:
        return [asdict(m) for m in self.history]


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically: :func:`codegen.plan.write_atomic` (temporary
    file, fsync, rename; never through a symlink; an ``OSError`` becomes a clear ``BuildDirError``)."""
    from ..plan import write_atomic

    write_atomic(path, text)


def evaluate(
    backend: TrainBackend,
    ds: Dataset,
    x: np.ndarray,
    labels: np.ndarray,
    t: np.ndarray,
    chunk: int = 256,
    on_chunk: Callable[[int], None] | None = None,
) -> tuple[float, float, np.ndarray]:
    """Mean loss (V²), accuracy and outputs (V) of ``backend`` on a split, solved in chunks;
    ``on_chunk`` gets the number of samples of each chunk solved (for a progress display)."""
    ys = []
    for i in range(0, len(x), chunk):
        ys.append(backend.outputs(x[i : i + chunk]))
        if on_chunk is not None:
            on_chunk(len(x[i : i + chunk]))
    y = np.concatenate([np.atleast_2d(v) for v in ys], axis=0)
    loss = readout.mean_loss(t, y)
    return loss, ds.accuracy(y, labels, t), y


def progress_total(epochs: int, n_train: int, n_test: int, per_train_sample: int = 1) -> int:
    """Samples :func:`train` reports through ``step_callback`` and ``eval_callback`` together: each
    epoch's training samples, and the evaluation of both splits before the first and after every
    epoch.  ``per_train_sample``: units a training sample counts for against one evaluated sample
    (e.g. 3 for centered EP: free, +β and −β operating points against one), so the ETA of a display
    that advances by the same weights stays even."""
    return epochs * n_train * per_train_sample + (epochs + 1) * (n_train + n_test)


def train(
    chip: Chip,
    backend: TrainBackend,
    ds: Dataset,
    *,
    epochs: int | None = None,
    rule: str | None = None,
    learning_rate: float | None = None,
    init_seed: int | None = None,
    gradient_source: str = "ep",
    callback: Callable[[EpochMetrics], None] | None = None,
    step_callback: Callable[[int], None] | None = None,
    eval_callback: Callable[[int], None] | None = None,
    checkpoint: Callable[[TrainResult], None] | None = None,
) -> TrainResult:
    """Train ``chip`` on ``ds`` for ``epochs`` (default ``training.epochs``) and return the history.

    ``rule`` and ``learning_rate`` (S²/V²) override ``chip.training``; ``init_seed`` seeds only
    the initial conductances (default: the training seed).  ``callback`` gets each epoch's
    metrics, ``step_callback`` the number of samples of each step, ``eval_callback`` the number of
    samples of each evaluated chunk (both splits, every epoch; :func:`progress_total` is the sum
    of both callbacks over the run).  ``checkpoint`` gets, after
    each finished epoch (epoch 0 included), the result so far: the history up to that epoch and
    the conductances then (``g_final``), so a caller can save them as training goes (an
    interrupted run then leaves every finished epoch behind).
    """
    tr = chip.training
    epochs = tr.epochs if epochs is None else epochs
    rule = tr.rule if rule is None else rule
    eta = tr.learning_rate if learning_rate is None else learning_rate
    if rule not in RULES:
        raise CodegenError(f"unknown rule {rule!r}; choose from {', '.join(RULES)}")
    if gradient_source not in ("ep", "exact"):
        raise CodegenError(f"gradient_source must be 'ep' or 'exact', got {gradient_source!r}")
    grad_fn = backend.ep_gradient if gradient_source == "ep" else backend.exact_gradient
    devices = DeviceArrays.create(chip, init_seed=init_seed)
    g0 = devices.conductances
    backend.set_conductances(g0)
    n = len(ds.x_train)
    epoch_order = epoch_batches(chip, n)
    history: list[EpochMetrics] = []
    t_start = time.perf_counter()

    def record(epoch: int, pulses: int, upd: float, secs: float) -> None:
        trl, tra, _ = evaluate(backend, ds, ds.x_train, ds.labels_train, ds.t_train, on_chunk=eval_callback)
        tel, tea, _ = evaluate(backend, ds, ds.x_test, ds.labels_test, ds.t_test, on_chunk=eval_callback)
        m = EpochMetrics(epoch, trl, tel, tra, tea, pulses, upd, secs)
        history.append(m)
        if callback is not None:
            callback(m)

    steps = 0

    def result() -> TrainResult:
        return TrainResult(
            history=list(history),
            g_initial=g0,
            g_final=devices.conductances,
            rule=rule,
            gradient_source=gradient_source,
            steps=steps,
            samples=(len(history) - 1) * n,
            seconds=time.perf_counter() - t_start,
            extra={"stuck_fraction": devices.stuck_fraction()},
        )

    record(0, 0, 0.0, 0.0)
    if checkpoint is not None:
        checkpoint(result())
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        pulses0 = devices.pulses_total
        upd = 0.0
        for idx in next(epoch_order):
            grads = grad_fn(ds.x_train[idx], ds.t_train[idx])
            before = devices.conductances
            if rule == "gradient":
                devices.apply_delta(gradient_step(grads, chip, eta))
            else:
                devices.program(pulse_codes(grads, chip, learning_rate=eta))
            after = devices.conductances
            upd += float(sum(np.abs(after[k] - before[k]).sum() for k in after))
            backend.set_conductances(after)
            steps += 1
            if step_callback is not None:
                step_callback(len(idx))
        record(epoch, devices.pulses_total - pulses0, upd, time.perf_counter() - t0)
        if checkpoint is not None:
            checkpoint(result())
    return result()
