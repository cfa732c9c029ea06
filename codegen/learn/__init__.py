"""On-chip learning: datasets, update rules, device non-idealities, training loops and sweeps.

* :mod:`~codegen.learn.datasets` — XOR, Iris, 8×8 digits, Kiraz case 1 (no download)
* :mod:`~codegen.learn.rules` — gradient rule and sign-pulse rule (:func:`pulse_codes`)
* :mod:`~codegen.learn.devices` — programmable crossbars with aihwkit-like non-idealities
* :mod:`~codegen.learn.backends` — golden model / ngspice in the loop
* :mod:`~codegen.learn.trainer` — the training loop
* :mod:`~codegen.learn.sweep` — robustness sweeps on Dask
"""

from .rules import gradient_step, pulse_codes

__all__ = ["pulse_codes", "gradient_step"]
