"""Programmable crossbars: the ideal case is exactly the golden device model; non-idealities have
the seeded statistics they claim."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from codegen.elab import elaborate
from codegen.learn.devices import DeviceArrays
from codegen.learn.overrides import override
from codegen.load import load_spec
from codegen.model.device import apply_pulses, g_from_w, w_from_g

ROOT = Path(__file__).resolve().parents[1]


def chip(**sets):
    spec = load_spec(ROOT / "examples" / "digits.yaml")  # 64×64 + 10×64 cells: enough for statistics
    return elaborate(override(spec, sets))


def test_ideal_pulses_are_exactly_the_golden_device_model():
    c = chip()
    arr = DeviceArrays.create(c)
    g0 = arr.conductances
    rng = np.random.default_rng(5)
    counts = {k: rng.integers(-4, 5, size=v.shape) for k, v in g0.items()}
    arr.program(counts)
    for k, g in arr.conductances.items():
        expect = g_from_w(c.device, apply_pulses(c.device, w_from_g(c.device, g0[k]), counts[k]))
        expect = np.where(counts[k] == 0, g0[k], expect)  # untouched cells keep their value bit for bit
        assert np.array_equal(g, expect)
    n = sum(int(np.abs(v).sum()) for v in counts.values())
    assert arr.pulses_total == n


def test_ideal_gradient_update_is_clipped_sum():
    c = chip()
    arr = DeviceArrays.create(c)
    g0 = arr.conductances
    d = {
        k: np.full(v.shape, 3e-6) * np.where(np.arange(v.size).reshape(v.shape) % 2, 1, -1)
        for k, v in g0.items()
    }
    d["W01"][0, 0] = 1.0  # far beyond g_max
    arr.apply_delta(d)
    for k, g in arr.conductances.items():
        expect = np.clip(g0[k] + d[k], c.device.g_min_S, c.device.g_max_S)
        assert g == pytest.approx(expect, rel=1e-12, abs=1e-18)
    assert arr.conductances["W01"][0, 0] == c.device.g_max_S


def test_initial_conductances_follow_init_seed_only():
    c = chip()
    a, b = DeviceArrays.create(c, init_seed=1), DeviceArrays.create(c, init_seed=2)
    assert not np.array_equal(a.conductances["W01"], b.conductances["W01"])
    assert np.array_equal(a.conductances["W01"], c.initial_conductances(1)["W01"])


def test_stuck_at_faults_rate_seeded_and_permanent():
    c = chip(**{"device.faults.stuck_at_gmin": 0.05, "device.faults.stuck_at_gmax": 0.03})
    a, b = DeviceArrays.create(c), DeviceArrays.create(c)
    n = sum(x.g.size for x in a.arrays.values())  # 4810 cells
    smin = sum(int(x.stuck_min.sum()) for x in a.arrays.values())
    smax = sum(int(x.stuck_max.sum()) for x in a.arrays.values())
    # binomial: σ = sqrt(n p (1−p)) ≈ 15 and 12 cells; allow 4σ
    assert abs(smin - 0.05 * n) < 4 * np.sqrt(n * 0.05 * 0.95)
    assert abs(smax - 0.03 * n) < 4 * np.sqrt(n * 0.03 * 0.97)
    assert all(np.array_equal(a.arrays[k].stuck_min, b.arrays[k].stuck_min) for k in a.arrays)
    other = DeviceArrays.create(
        elaborate(
            override(
                load_spec(ROOT / "examples" / "digits.yaml"),
                {
                    "device.faults.stuck_at_gmin": 0.05,
                    "device.faults.stuck_at_gmax": 0.03,
                    "training.seed": 77,
                },
            )
        )
    )
    assert not np.array_equal(a.arrays["W01"].stuck_min, other.arrays["W01"].stuck_min)
    a.program({k: np.full(x.g.shape, 5) for k, x in a.arrays.items()})
    a.apply_delta({k: np.full(x.g.shape, -1e-5) for k, x in a.arrays.items()})
    for x, g in zip(a.arrays.values(), a.conductances.values(), strict=True):
        assert np.all(g[x.stuck_min] == c.device.g_min_S) and np.all(g[x.stuck_max] == c.device.g_max_S)


def test_device_to_device_spread_of_the_step():
    c = chip(
        **{"device.variation.d2d": 0.2, "device.init.distribution": "constant", "device.init.mean": "20u"}
    )
    a = DeviceArrays.create(c)
    a.program({k: np.ones(x.g.shape, int) for k, x in a.arrays.items()})
    steps = np.concatenate([(g - 20e-6).ravel() for g in a.conductances.values()]) / c.device.dg_set_S
    # 4810 cells: the sample mean is within 4σ/√n ≈ 0.012 of 1, the sample σ within ~5 % of 0.2
    assert steps.mean() == pytest.approx(1.0, abs=0.012)
    assert steps.std() == pytest.approx(0.2, rel=0.06)
    # the same cells keep their factor: a second pulse repeats each cell's step
    g1 = a.conductances
    a.program({k: np.ones(x.g.shape, int) for k, x in a.arrays.items()})
    for k, g in a.conductances.items():
        assert g - g1[k] == pytest.approx(g1[k] - 20e-6, rel=1e-9, abs=1e-18)


def test_cycle_to_cycle_spread_shrinks_with_pulse_count():
    c = chip(
        **{"device.variation.c2c": 0.3, "device.init.distribution": "constant", "device.init.mean": "20u"}
    )
    one, four = DeviceArrays.create(c), DeviceArrays.create(c)
    one.program({k: np.ones(x.g.shape, int) for k, x in one.arrays.items()})
    four.program({k: np.full(x.g.shape, 4) for k, x in four.arrays.items()})
    s1 = np.concatenate([(g - 20e-6).ravel() for g in one.conductances.values()]) / c.device.dg_set_S
    s4 = np.concatenate([(g - 20e-6).ravel() for g in four.conductances.values()]) / (4 * c.device.dg_set_S)
    assert s1.std() == pytest.approx(0.3, rel=0.06)
    assert s4.std() == pytest.approx(0.15, rel=0.06)  # mean of 4 pulses: σ/√4
    # seeded: the same chip gives the same draws
    again = DeviceArrays.create(c)
    again.program({k: np.ones(x.g.shape, int) for k, x in again.arrays.items()})
    assert all(np.array_equal(again.conductances[k], one.conductances[k]) for k in again.arrays)


def test_asymmetry_and_soft_bounds():
    c = chip(**{"device.asymmetry": 0.5, "device.init.distribution": "constant", "device.init.mean": "50u"})
    a = DeviceArrays.create(c)
    a.program({k: -np.ones(x.g.shape, int) for k, x in a.arrays.items()})
    assert a.conductances["W01"] == pytest.approx(np.full((64, 128), 50e-6 - 1.5 * 0.5e-6), rel=1e-9)
    s = chip(
        **{"device.soft_bounds": True, "device.init.distribution": "constant", "device.init.mean": "90u"}
    )
    b = DeviceArrays.create(s)
    b.apply_delta({k: np.full(x.g.shape, 1e-6) for k, x in b.arrays.items()})
    w = (90e-6 - 1e-6) / (99e-6)
    assert b.conductances["W12"][0, 0] == pytest.approx(90e-6 + 1e-6 * (1 - w), rel=1e-9)
