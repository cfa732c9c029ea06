"""The readout written once (codegen.model.readout): the golden model's vectorised EP estimate,
the per-sample path (ngspice results as node → V dicts) and the (samples, nodes) path of the spice
training backend give the same numbers; the rule owns its thresholds, the trainer its batch order."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from codegen.learn.rules import pulse_codes, pulse_counts, rule_boundaries
from codegen.learn.trainer import epoch_batches
from codegen.model import GoldenModel, readout
from tests.chips import random_chip


def _phases(chip, centered: bool):
    chip = dataclasses.replace(chip, nudge=dataclasses.replace(chip.nudge, centered=centered))
    m = GoldenModel(chip)
    rng = np.random.default_rng(1)
    x = rng.uniform(-3, 3, (9, chip.n_inputs))
    t = rng.uniform(-0.1, 0.1, (9, chip.n_outputs))
    return chip, m, x, t, m.ep_phases(x, t)


def _dicts(eq):
    v = eq.voltages()
    return [{n: float(a[b]) for n, a in v.items()} for b in range(eq.batch)]


@pytest.mark.parametrize("centered", [False, True])
@pytest.mark.parametrize("layers, kw", [([2, 4, 1], {}), ([3, 5, 4, 2], {"skip": [(0, 2)], "gain": 2.0})])
def test_per_sample_and_array_paths_equal_the_golden_estimate(centered, layers, kw):
    chip, m, x, t, (free, first, second) = _phases(random_chip(4, layers, **kw), centered)
    gold = m.ep_gradient(x, t)
    per_sample = readout.ep_from_samples(
        chip, _dicts(free), _dicts(first), _dicts(second) if centered else None, chip.nudge.beta_S
    )
    nodes = sorted({n for d in _dicts(free) for n in d})
    index = {n: i for i, n in enumerate(nodes)}
    arr = lambda eq: np.array([[d[n] for n in nodes] for d in _dicts(eq)])  # noqa: E731
    arrays = readout.ep_from_arrays(chip, arr(first), arr(second), index, chip.nudge.beta_S, centered)
    for name, g in gold.items():
        scale = np.abs(g).max()
        # same formula, same operands, different gathering: equal to rounding (1e-12 of the scale)
        assert np.abs(per_sample[name] - g).max() <= 1e-12 * scale
        assert np.abs(arrays[name] - g).max() <= 1e-12 * scale


def test_ep_estimate_is_the_gradient_at_small_beta():
    """The readout's EP estimate (centered, β = 1e-9 S) against implicit differentiation: within
    1e-4 of the gradient's scale (centered EP errs by O(β²))."""
    chip = random_chip(2, [2, 4, 1])
    chip = dataclasses.replace(chip, nudge=dataclasses.replace(chip.nudge, beta_S=1e-9, centered=True))
    m = GoldenModel(chip)
    rng = np.random.default_rng(0)
    x, t = rng.uniform(-3, 3, (6, chip.n_inputs)), rng.uniform(-0.1, 0.1, (6, chip.n_outputs))
    ep, exact = m.ep_gradient(x, t), m.exact_gradient(x, t)
    for name in exact:
        assert np.abs(ep[name] - exact[name]).max() <= 1e-4 * np.abs(exact[name]).max()


def test_outputs_and_loss_from_dicts_match_the_model():
    chip, m, x, t, (free, _, _) = _phases(random_chip(5, [2, 4, 1]), False)
    y = np.array([readout.outputs_of(chip, d) for d in _dicts(free)])
    assert np.array_equal(y, free.outputs)
    assert np.array_equal(readout.loss(t, y), m.loss(x, t))
    assert readout.mean_loss(t, y) == pytest.approx(0.5 * np.mean(((t - y) ** 2).sum(axis=1)), rel=1e-15)


def test_denominator_and_scale():
    assert readout.ep_denominator(2e-6, True) == 8e-6 and readout.ep_denominator(2e-6, False) == 4e-6
    chip = random_chip(1, [2, 4, 1], gain=2.0)
    full, plain = readout.ep_scale(chip, "full"), readout.ep_scale(chip, "resistors_only")
    assert set(plain.values()) == {1.0} and any(v != 1.0 for v in full.values())


@pytest.mark.parametrize("quantize", [False, True])
def test_pulse_counts_change_only_at_the_rule_boundaries(quantize):
    """Between two consecutive boundaries the code is constant; across each it changes."""
    dz, cap = 0.3, 5
    b = rule_boundaries(dz, quantize, cap)
    assert b[0] == 0.0 and dz in b and (len(b) == cap + 1 if quantize else len(b) == 2)
    edges = np.concatenate([b, [cap + 3.0]])
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        inside = np.linspace(lo, hi, 9)[1:-1]
        codes = pulse_counts(inside, dz, quantize, cap)
        assert len(set(codes.tolist())) == 1, (lo, hi, codes)
        assert np.array_equal(pulse_counts(-inside, dz, quantize, cap), -codes)
    for edge in b[1:]:
        below, above = pulse_counts(np.array([edge - 1e-9, edge + 1e-9]), dz, quantize, cap)
        assert below != above, edge


def test_pulse_codes_is_pulse_counts_of_the_update_in_steps():
    chip = random_chip(0, [2, 4, 1])
    rng = np.random.default_rng(3)
    g = {xb.name: rng.normal(0, 1e3, xb.shape) for xb in chip.crossbars}
    eta, step = chip.training.learning_rate, chip.device.dg_set_S
    codes = pulse_codes(g, chip)
    for k, v in g.items():
        want = pulse_counts(
            -eta * v / step, chip.training.dead_zone, chip.training.quantize, chip.controller.max_pulses
        )
        assert np.array_equal(codes[k], want)


def test_cosim_walks_the_trainers_batch_order():
    from codegen.cosim.loop import batches

    chip = random_chip(0, [2, 4, 1])
    chip = dataclasses.replace(chip, training=dataclasses.replace(chip.training, batch_size=3))
    it = epoch_batches(chip, 7)
    epochs = [next(it) for _ in range(3)]
    flat = [idx for e in epochs for idx in e]
    assert [len(i) for i in epochs[0]] == [3, 3, 1]
    assert all(sorted(np.concatenate(e).tolist()) == list(range(7)) for e in epochs)
    got = batches(chip, 7, 8)
    assert len(got) == 8 and all(np.array_equal(a, b) for a, b in zip(got, flat[:8], strict=True))
