"""A device given in aihwkit's terms (``device: {aihwkit: {...}}``) pulses like aihwkit's documented
device equations, written out here independently of the project's mapping.

aihwkit (``PulsedDevice`` docstrings; ``ConstantStepDevice``, ``SoftBoundsDevice``), for one pulse of
direction d = ±1, without noise::

    Δw_up   = dw_min·(1 + up_down)                    w clipped to [w_min, w_max]   (constant step)
    Δw_down = dw_min·(1 − up_down)
    Δw_up   = dw_min·(1 + up_down)·(1 − w/w_max)                                     (soft bounds)
    Δw_down = dw_min·(1 − up_down)·(1 − w/w_min)
    Δw_ij   = dw_min·(1 + σ_dtod·ξ_ij) per device,  ·(1 + dw_min_std·ξ) per pulse

Weights map linearly onto conductances: G = g_min + (w − w_min)·(g_max − g_min)/(w_max − w_min).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from codegen.cli import main
from codegen.elab import elaborate
from codegen.learn.devices import DeviceArrays
from codegen.load import load_spec, load_spec_text

ROOT = Path(__file__).resolve().parents[1]
XOR = (ROOT / "examples" / "xor.yaml").read_text()
G_MIN, G_MAX = 1e-6, 100e-6  # xor.yaml's bounds (S)


def chip_text(device_lines: str) -> str:
    """xor.yaml with its ``step_per_pulse`` line replaced by ``device_lines`` (device-indented)."""
    text, n = re.subn(r"^  step_per_pulse: .*$", device_lines.rstrip("\n"), XOR, flags=re.M)
    assert n == 1
    return text


def aihwkit_chip(soft: bool = False, **a: float):
    lines = (
        ("  soft_bounds: true\n" if soft else "")
        + "  aihwkit: {"
        + ", ".join(f"{k}: {v}" for k, v in a.items())
        + "}"
    )
    return elaborate(load_spec_text(chip_text(lines), "aihwkit.yaml"))


def w_of_g(g, w_min, w_max):
    return w_min + (np.asarray(g) - G_MIN) * (w_max - w_min) / (G_MAX - G_MIN)


def g_of_w(w, w_min, w_max):
    return G_MIN + (np.asarray(w) - w_min) * (G_MAX - G_MIN) / (w_max - w_min)


PULSES = [+1] * 30 + [-1] * 55 + [+1] * 12  # crosses both bounds with the steps below


def project_trajectory(c, w0: np.ndarray, w_min: float, w_max: float) -> np.ndarray:
    """Weights after each pulse of PULSES, one pulse at a time through the project's device arrays."""
    arr = DeviceArrays.create(c)
    name = next(iter(arr.arrays))
    a = arr.arrays[name]
    a.g = g_of_w(np.broadcast_to(w0, a.g.shape), w_min, w_max).astype(float).copy()
    out = []
    for d in PULSES:
        arr.program({name: np.full(a.g.shape, d)})
        out.append(w_of_g(a.g, w_min, w_max))
    return np.array(out)


def test_constant_step_matches_aihwkit_formula_exactly():
    dw_min, up_down, w_min, w_max = 0.05, 0.3, -0.6, 0.6
    c = aihwkit_chip(dw_min=dw_min, up_down=up_down, w_min=w_min, w_max=w_max, dw_min_dtod=0, dw_min_std=0)
    got = project_trajectory(c, np.array([-0.55]), w_min, w_max)
    # aihwkit's ConstantStepDevice, written from its documentation
    w = np.full(got.shape[1:], -0.55)
    expect = []
    for d in PULSES:
        step = dw_min * (1 + up_down) if d > 0 else -dw_min * (1 - up_down)
        w = np.clip(w + step, w_min, w_max)
        expect.append(w.copy())
    # exact up to the float rounding of the weight ↔ conductance map (1e-12 of the range)
    np.testing.assert_allclose(got, np.array(expect), rtol=0, atol=1e-12 * (w_max - w_min))
    # one up pulse from the middle is dw_min·(1 + up_down), one down pulse dw_min·(1 − up_down)
    assert c.device.dg_set_S == pytest.approx(dw_min * 1.3 * (G_MAX - G_MIN) / 1.2, rel=1e-12)
    assert c.device.dg_reset_S == pytest.approx(dw_min * 0.7 * (G_MAX - G_MIN) / 1.2, rel=1e-12)


def test_soft_bounds_match_aihwkit_formula():
    dw_min, up_down, w_min, w_max = 0.01, 0.2, -0.75, 1.25
    c = aihwkit_chip(
        soft=True, dw_min=dw_min, up_down=up_down, w_min=w_min, w_max=w_max, dw_min_dtod=0, dw_min_std=0
    )
    got = project_trajectory(c, np.array([0.3]), w_min, w_max)
    w = np.full(got.shape[1:], 0.3)
    expect, steps = [], []
    for d in PULSES:
        step = (
            dw_min * (1 + up_down) * (1 - w / w_max) if d > 0 else -dw_min * (1 - up_down) * (1 - w / w_min)
        )
        steps.append(step.copy())
        w = w + step
        expect.append(w.copy())
    expect_a = np.array(expect)
    got_steps = np.diff(np.concatenate([np.full((1, *got.shape[1:]), 0.3), got]), axis=0)
    # The project integrates the soft-bound ODE exactly over a pulse (step ∝ 1 − e^{−s}), aihwkit takes
    # the Euler step s; s ≤ dw_min·1.2/0.75 = 0.016 in state units, so each step agrees within s/2 = 0.8 %.
    s_max = dw_min * (1 + up_down) / min(w_max, -w_min)
    np.testing.assert_allclose(got_steps, np.array(steps), rtol=s_max / 2 + 1e-9)
    # and the trajectory within 1 % of the weight range
    np.testing.assert_allclose(got, expect_a, rtol=0, atol=0.01 * (w_max - w_min))


def test_variation_maps_onto_the_project_fields():
    c = aihwkit_chip(dw_min=0.01, dw_min_dtod=0.25, dw_min_std=0.4)
    assert (c.device.d2d_sigma, c.device.c2c_sigma) == (0.25, 0.4)
    # digits-sized statistics are not needed: 36 cells, the seeded d2d factors have the stated spread
    arr = DeviceArrays.create(c)
    f = np.concatenate([a.d2d.ravel() for a in arr.arrays.values()])
    assert 0.1 < f.std() < 0.4  # σ = 0.25 from 36 samples (its 99.9 % interval)


def test_up_down_is_not_the_project_asymmetry():
    # the same number means another device: asymmetry 0.3 → down/up = 1.3, up_down 0.3 → 0.7/1.3
    ours = elaborate(load_spec_text(chip_text("  step_per_pulse: 0.5u\n  asymmetry: 0.3"), "a.yaml"))
    theirs = aihwkit_chip(dw_min=0.01, up_down=0.3)
    assert ours.device.dg_reset_S / ours.device.dg_set_S == pytest.approx(1.3)
    assert theirs.device.dg_reset_S / theirs.device.dg_set_S == pytest.approx(0.7 / 1.3)


@pytest.mark.parametrize(
    "lines, ours, theirs",
    [
        ("  step_per_pulse: 0.5u\n  aihwkit: {dw_min: 0.01}", "step_per_pulse", "aihwkit.dw_min"),
        ("  asymmetry: 0.1\n  aihwkit: {dw_min: 0.01}", "asymmetry", "aihwkit.up_down"),
        ("  variation: {d2d: 0.1}\n  aihwkit: {dw_min: 0.01}", "variation.d2d", "aihwkit.dw_min_dtod"),
        ("  variation: {c2c: 0.1}\n  aihwkit: {dw_min: 0.01}", "variation.c2c", "aihwkit.dw_min_std"),
    ],
)
def test_mixing_both_spellings_is_refused(tmp_path, capsys, lines, ours, theirs):
    p = tmp_path / "mixed.yaml"
    p.write_text(chip_text(lines))
    before = sorted(tmp_path.iterdir())
    assert main(["validate", str(p)]) == 2
    err = capsys.readouterr().err
    assert "mixed.yaml" in err and f"device.{ours}" in err and theirs in err, err
    assert re.search(r"mixed\.yaml:\d+", err), err  # the line of the device section
    assert "Traceback" not in err
    assert sorted(tmp_path.iterdir()) == before


def test_soft_bounds_need_a_zero_inside_the_weight_range(tmp_path, capsys):
    p = tmp_path / "pcm.yaml"
    p.write_text(chip_text("  soft_bounds: true\n  aihwkit: {dw_min: 0.01, w_min: 0, w_max: 2}"))
    assert main(["validate", str(p)]) == 2
    err = capsys.readouterr().err
    assert "device.aihwkit.w_min" in err and "w_min < 0 < w_max" in err, err


def test_step_per_pulse_required_without_aihwkit(tmp_path, capsys):
    p = tmp_path / "nostep.yaml"
    p.write_text(chip_text(""))
    assert main(["validate", str(p)]) == 2
    assert "step_per_pulse" in capsys.readouterr().err


@pytest.mark.parametrize(
    "preset", sorted((ROOT / "examples" / "devices").glob("*.yaml")), ids=lambda p: p.stem
)
def test_presets_load_cite_their_source_and_map_as_documented(preset):
    text = preset.read_text()
    assert re.search(r"aihwkit \w+PresetDevice", text) and re.search(r"(https?://|arXiv:)", text)
    spec = load_spec(preset)
    a, d = spec.device.aihwkit, elaborate(spec).device
    assert a is not None
    span = d.g_max_S - d.g_min_S
    if spec.device.soft_bounds:
        up, down = span * a.dw_min * (1 + a.up_down) / a.w_max, span * a.dw_min * (1 - a.up_down) / -a.w_min
    else:
        up = span * a.dw_min * (1 + a.up_down) / (a.w_max - a.w_min)
        down = span * a.dw_min * (1 - a.up_down) / (a.w_max - a.w_min)
    assert (d.dg_set_S, d.dg_reset_S) == pytest.approx((up, down), rel=1e-12)
    assert (d.d2d_sigma, d.c2c_sigma) == (a.dw_min_dtod, a.dw_min_std)
