"""Crossbars of programmable conductances with the non-idealities of analog-training simulators.

Vocabulary as in aihwkit's pulsed devices, mapped onto :class:`~codegen.ir.DeviceIR`:

* step per pulse: ``dg_set_S`` up, ``dg_reset_S`` down, from ``device.step_per_pulse`` /
  ``device.asymmetry`` or from aihwkit's ``dw_min`` / ``up_down`` in ``device.aihwkit`` (mapped once,
  in :meth:`codegen.spec.Device.steps_S`; table in docs/devices.md);
* hard bounds (clip at ``g_min_S``/``g_max_S``) or soft bounds (the step shrinks linearly to zero
  at the bound it approaches), as in :func:`codegen.model.device.apply_pulse`;
* device-to-device variation (``d2d_sigma``): each cell's step is scaled by a factor
  ``max(0, 1 + d2d·N(0,1))`` drawn once;
* cycle-to-cycle variation (``c2c_sigma``): each pulse's step is scaled by ``max(0, 1 + c2c·N(0,1))``;
  ``n`` pulses in one update move the state by the sum of ``n`` such steps (its mean is drawn as
  ``1 + c2c·N(0,1)/√n``, the exact mean of ``n`` normals, clipped at 0);
* stuck-at faults: a fraction ``stuck_at_gmin`` of cells sit at ``g_min_S`` and ``stuck_at_gmax`` at
  ``g_max_S`` whatever is programmed.

Programming pulses go through :func:`codegen.model.device.apply_pulses` with a per-cell
``rate_scale``; with every non-ideality off, the rate scale is exactly 1 and the result is exactly
the golden device model (which the Verilog-A memristor is checked against).

Every random draw comes from ``numpy.random.default_rng`` seeded by ``(seed, stream)``: stream 0
faults, 1 device-to-device factors, 2 cycle-to-cycle draws; the same seed gives the same array.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..ir import Chip, PulsedDeviceIR
from ..kinds.devices import kind_of
from ..model.device import apply_pulses, g_from_w, w_from_g

__all__ = ["CrossbarArray", "DeviceArrays"]

_FAULTS, _D2D, _C2C = 0, 1, 2


@dataclass
class CrossbarArray:
    """State of one crossbar: conductance per cell, its variation factors and fault masks.

    The conductance ``g`` (S) is the state kept (so untouched cells keep their value bit for bit);
    pulses act on ``w = w_from_g(g)`` through the golden device model.
    """

    name: str
    g: np.ndarray  # (rows, cols) conductance (S)
    g_min_S: float
    g_max_S: float
    d2d: np.ndarray  # (rows, cols) step factor per cell (1)
    stuck_min: np.ndarray  # (rows, cols) bool
    stuck_max: np.ndarray  # (rows, cols) bool
    pulses_set: int = 0  # set pulses sent so far
    pulses_reset: int = 0  # reset pulses sent so far

    def pin(self) -> None:
        """Force stuck cells to their stuck conductance."""
        self.g[self.stuck_min] = self.g_min_S
        self.g[self.stuck_max] = self.g_max_S


@dataclass
class DeviceArrays:
    """Every crossbar of a chip as programmable devices.

    ``conductances`` (dict name → (rows, cols) S) is what the network sees; :meth:`program` applies
    signed pulse counts, :meth:`apply_delta` applies an analog conductance change (gradient rule).
    """

    dev: PulsedDeviceIR
    arrays: dict[str, CrossbarArray]
    seed: int
    _c2c_rng: np.random.Generator = field(repr=False, default_factory=lambda: np.random.default_rng(0))

    @classmethod
    def create(cls, chip: Chip, init_seed: int | None = None, seed: int | None = None) -> DeviceArrays:
        """Devices of ``chip`` at conductances drawn by ``chip.initial_conductances(init_seed)``.

        ``seed`` (default ``chip.training.seed``) seeds faults and variation; ``init_seed``
        (default the training seed) seeds only the initial conductances, so a robustness sweep over
        initial conductances keeps the same faulty cells.
        """
        dev = chip.device
        seed = chip.training.seed if seed is None else seed
        g0 = chip.initial_conductances(init_seed)
        rf = np.random.default_rng([seed, _FAULTS])
        rd = np.random.default_rng([seed, _D2D])
        arrays = {}
        for xb in chip.crossbars:
            u = rf.random(xb.shape)
            smin = u < dev.stuck_at_gmin
            smax = (u >= dev.stuck_at_gmin) & (u < dev.stuck_at_gmin + dev.stuck_at_gmax)
            d2d = (
                np.maximum(0.0, 1.0 + dev.d2d_sigma * rd.standard_normal(xb.shape))
                if dev.d2d_sigma > 0
                else np.ones(xb.shape)
            )
            arr = CrossbarArray(
                xb.name, np.array(g0[xb.name], dtype=float), dev.g_min_S, dev.g_max_S, d2d, smin, smax
            )
            arr.pin()
            arrays[xb.name] = arr
        return cls(dev, arrays, seed, np.random.default_rng([seed, _C2C]))

    # ----------------------------------------------------------------- views
    @property
    def conductances(self) -> dict[str, np.ndarray]:
        """Conductances (S) of every crossbar (fresh arrays)."""
        return {k: a.g.copy() for k, a in self.arrays.items()}

    @property
    def pulses_total(self) -> int:
        return sum(a.pulses_set + a.pulses_reset for a in self.arrays.values())

    def stuck_fraction(self) -> float:
        n = sum(a.g.size for a in self.arrays.values())
        return sum(int(a.stuck_min.sum() + a.stuck_max.sum()) for a in self.arrays.values()) / n

    # ----------------------------------------------------------------- updates
    def _c2c_scale(self, n: np.ndarray) -> np.ndarray | float:
        if self.dev.c2c_sigma <= 0:
            return 1.0
        z = self._c2c_rng.standard_normal(n.shape)
        return np.maximum(0.0, 1.0 + self.dev.c2c_sigma * z / np.sqrt(np.maximum(n, 1)))

    def program(self, counts: dict[str, np.ndarray]) -> None:
        """Apply signed pulse counts (positive = set pulses, negative = reset) per crossbar."""
        for name, c in counts.items():
            a = self.arrays[name]
            c = np.asarray(c)
            scale = a.d2d * self._c2c_scale(np.abs(c))
            w = apply_pulses(self.dev, w_from_g(self.dev, a.g), c, rate_scale=scale)
            a.g = np.where(c == 0, a.g, g_from_w(self.dev, w))
            a.pin()
            a.pulses_set += int(np.sum(np.where(c > 0, c, 0)))
            a.pulses_reset += int(np.sum(np.where(c < 0, -c, 0)))

    def apply_delta(self, delta_g: dict[str, np.ndarray]) -> None:
        """Apply an analog conductance change ``ΔG`` (S) per crossbar (the gradient rule).

        Ideal devices: ``G ← clip(G + ΔG, g_min, g_max)`` exactly.  Otherwise the change is shaped
        like a pulse train of the same size: reset changes scaled by ``dg_reset/dg_set``
        (asymmetry), the device kind's window (``shape_delta``; soft bounds scale an increase by
        ``1 − w`` and a decrease by ``w``), and the
        variation factors multiply it (one cycle-to-cycle draw per cell and update).
        """
        d = self.dev
        for name, dg in delta_g.items():
            a = self.arrays[name]
            dg = np.asarray(dg, dtype=float)
            if d.dg_reset_S != d.dg_set_S:
                dg = np.where(dg < 0, dg * (d.dg_reset_S / d.dg_set_S), dg)
            dg = kind_of(d).shape_delta(d, w_from_g(d, a.g), dg)  # e.g. soft bounds: ·(1 − w) up, ·w down
            if d.d2d_sigma > 0 or d.c2c_sigma > 0:
                dg = dg * a.d2d * self._c2c_scale(np.ones(dg.shape))
            a.g = np.clip(a.g + dg, d.g_min_S, d.g_max_S)
            a.pin()
