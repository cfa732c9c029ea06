"""The co-simulation's pure per-step checks (codegen.cosim.loop): each returns a Finding naming the
worst cell when, and only when, its tolerance is exceeded."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from codegen.cosim.loop import (
    TOL_G_REL_BEHAVIORAL,
    TOL_STEP_TRANSIENT,
    GoldenStep,
    check_behavioral_conductances,
    check_loss,
    check_transient_conductances,
    loss_tolerance,
)
from codegen.elab import elaborate
from codegen.load import load_spec
from codegen.model.device import apply_pulses, g_from_w, w_from_g

XOR = Path(__file__).resolve().parents[1] / "examples" / "xor.yaml"


def test_behavioral_conductance_check_names_the_worst_cell_beyond_tolerance():
    g_max = 1e-4
    g = {"A": np.full((2, 3), 5e-5), "B": np.full((1, 2), 2e-5)}
    near = {k: v + 0.5 * TOL_G_REL_BEHAVIORAL * g_max for k, v in g.items()}
    err, found = check_behavioral_conductances(near, g, g_max)
    assert found is None and 0 < err < TOL_G_REL_BEHAVIORAL * g_max
    far = {k: v.copy() for k, v in g.items()}
    far["B"][0, 1] += 3 * TOL_G_REL_BEHAVIORAL * g_max
    err, found = check_behavioral_conductances(far, g, g_max)
    assert found is not None and (found.kind, found.xbar, found.cell) == ("conductance", "B", (0, 1))
    assert found.cosim == far["B"][0, 1] and found.golden == g["B"][0, 1]


def test_transient_conductance_check_per_update_and_along_the_trajectory():
    chip = elaborate(load_spec(XOR))
    dev = chip.device
    g0 = {xb.name: np.full(xb.shape, 3e-5) for xb in chip.crossbars}
    pulses = {k: np.ones(v.shape, dtype=np.int64) for k, v in g0.items()}
    exact = {k: g_from_w(dev, apply_pulses(dev, w_from_g(dev, v), pulses[k])) for k, v in g0.items()}
    received = {k: np.abs(p) for k, p in pulses.items()}
    err, found = check_transient_conductances(chip, g0, exact, exact, pulses, received)
    assert found is None and err == 0.0
    name = chip.crossbars[0].name
    off = {k: v.copy() for k, v in exact.items()}
    off[name][0, 0] += 2 * TOL_STEP_TRANSIENT * dev.dg_set_S  # this update off by 2 % of a step
    err, found = check_transient_conductances(chip, g0, off, exact, pulses, received)
    assert found is not None and (found.xbar, found.cell) == (name, (0, 0))
    assert "this update" in found.message and abs(err - 2 * TOL_STEP_TRANSIENT) < 1e-9
    # right for this update, but the golden trajectory has drifted 3 % of a step after one pulse
    drift = {k: v + 3 * TOL_STEP_TRANSIENT * dev.dg_set_S for k, v in exact.items()}
    err, found = check_transient_conductances(chip, g0, exact, drift, pulses, received)
    assert found is not None and "trajectory" in found.message and err == 0.0


def test_loss_check_at_its_tolerance():
    t = np.array([[0.3], [-0.3]])
    y = np.array([[0.1], [-0.2]])
    grad = {"A": np.array([[2.0, -1.0]])}
    g = {"A": np.array([[1e-5, 2e-5]])}
    gold = GoldenStep(grad, y, 0.0125, {}, grad, g)
    tol = loss_tolerance(t, gold, g, 1e-9)
    assert abs(tol - (2 * 1e-9 * 0.15 + 1e-12)) < 1e-24
    moved = {"A": g["A"] + np.array([[1e-9, 0.0]])}  # the chip 1 nS off at the first cell
    assert abs(loss_tolerance(t, gold, moved, 1e-9) - (tol + 2 * 2.0 * 1e-9)) < 1e-18
    assert check_loss(0.0125 + 0.9 * tol, 0.0125, tol) is None
    found = check_loss(0.0125 + 1.1 * tol, 0.0125, tol)
    assert found is not None and found.kind == "loss"
