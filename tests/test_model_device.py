"""Golden device model: one pulse moves G by the spec's step; reads and half-selects do nothing."""

import numpy as np
import pytest

from codegen.elab import elaborate
from codegen.load import load_spec_text
from codegen.model.device import apply_pulse, apply_pulses, g_from_w, w_from_g
from tests.test_spec import BASE


@pytest.fixture
def dev():
    return elaborate(load_spec_text(BASE)).device


def test_one_pulse_is_one_step(dev):
    w = np.linspace(0, 0.9, 7)
    assert g_from_w(dev, apply_pulses(dev, w, np.ones(7, int))) - g_from_w(dev, w) == pytest.approx(
        np.full(7, dev.dg_set_S), rel=1e-9
    )
    w = np.linspace(0.1, 1, 7)
    assert g_from_w(dev, w) - g_from_w(dev, apply_pulses(dev, w, -np.ones(7, int))) == pytest.approx(
        np.full(7, dev.dg_reset_S), rel=1e-9
    )


def test_hard_bounds_and_no_change_below_threshold(dev):
    assert apply_pulses(dev, np.array([1.0, 0.0]), np.array([3, -3])).tolist() == [1.0, 0.0]
    w = np.array([0.3])
    assert apply_pulse(dev, w, dev.read_voltage_V, 1.0)[0] == 0.3
    assert apply_pulse(dev, w, dev.pulse_amplitude_V / 2, 1.0)[0] == 0.3  # half-selected cell
    assert apply_pulse(dev, w, -dev.pulse_amplitude_V / 2, 1.0)[0] == 0.3


def test_n_pulses_equal_n_single_pulses(dev):
    w = np.array([0.2, 0.7])
    one = w.copy()
    for _ in range(5):
        one = apply_pulses(dev, one, np.array([1, -1]))
    assert apply_pulses(dev, w, np.array([5, -5])) == pytest.approx(one, abs=1e-15)


def test_soft_bounds_shrink_near_the_bound():
    d = elaborate(load_spec_text(BASE.replace("  g_min: 1u\n", "  g_min: 1u\n  soft_bounds: true\n"))).device
    near_top = g_from_w(d, apply_pulses(d, np.array([0.9]), np.array([1]))) - g_from_w(d, 0.9)
    at_bottom = g_from_w(d, apply_pulses(d, np.array([0.0]), np.array([1]))) - g_from_w(d, 0.0)
    assert 0 < near_top[0] < 0.2 * at_bottom[0]
    assert w_from_g(d, g_from_w(d, 0.25)) == pytest.approx(0.25)
