"""Update rules: the sign-pulse rule's dead zone, cap and quantisation, and the gradient rule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from codegen.elab import elaborate
from codegen.learn.overrides import override
from codegen.learn.rules import gradient_step, pulse_codes
from codegen.load import load_spec

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def spec():
    return load_spec(ROOT / "examples" / "xor.yaml")


def chip_with(spec, **training):
    return elaborate(override(spec, {f"training.{k}": v for k, v in training.items()}))


def test_sign_pulse_direction_is_minus_gradient_sign(spec):
    chip = chip_with(spec, learning_rate=1.0, dead_zone=0.0, quantize=False)
    g = {"W01": np.array([[2.0, -3.0], [0.0, -1e-30]])}
    assert pulse_codes(g, chip)["W01"].tolist() == [[-1, 1], [0, 1]]


def test_dead_zone_in_steps(spec):
    chip = chip_with(spec, learning_rate=1e-9, dead_zone=0.5, quantize=False)
    step = chip.device.dg_set_S
    # wanted |ΔG| = η|g|: 0.49 and 0.51 steps
    g = {"B1": np.array([[0.49 * step / 1e-9, -0.51 * step / 1e-9]])}
    assert pulse_codes(g, chip)["B1"].tolist() == [[0, 1]]


def test_quantise_rounds_and_caps(spec):
    chip = chip_with(spec, learning_rate=1.0, dead_zone=0.3, quantize=True)
    step, cap = chip.device.dg_set_S, chip.controller.max_pulses
    ratios = np.array([0.2, 0.4, 1.4, 2.6, 7.0, cap + 0.4, 1000.0])
    codes = pulse_codes({"W12": (-ratios * step)[None, :]}, chip)["W12"][0]
    # 0.2 < dead zone → 0; 0.4 → at least one pulse; rounding; capped at max_pulses
    assert codes.tolist() == [0, 1, 1, 3, 7, cap, cap]
    assert codes.dtype == np.int64
    neg = pulse_codes({"W12": (ratios * step)[None, :]}, chip)["W12"][0]
    assert neg.tolist() == [-c for c in codes.tolist()]


def test_keyword_overrides_beat_the_chip(spec):
    chip = chip_with(spec, learning_rate=1.0, dead_zone=0.0, quantize=False)
    step = chip.device.dg_set_S
    g = {"W01": np.array([[-5.0 * step]])}
    assert pulse_codes(g, chip)["W01"][0, 0] == 1
    assert pulse_codes(g, chip, quantize=True)["W01"][0, 0] == 5
    assert pulse_codes(g, chip, dead_zone=6.0)["W01"][0, 0] == 0
    assert pulse_codes(g, chip, quantize=True, learning_rate=2.0)["W01"][0, 0] == 10


def test_gradient_step_is_minus_eta_gradient(spec):
    chip = chip_with(spec, learning_rate=3e-9)
    g = {"W01": np.array([[1.0, -2.0]])}
    assert gradient_step(g, chip)["W01"] == pytest.approx(np.array([[-3e-9, 6e-9]]), rel=1e-15)
    assert gradient_step(g, chip, 1e-6)["W01"] == pytest.approx(np.array([[-1e-6, 2e-6]]), rel=1e-15)
