"""Device kinds as registered slices (codegen/kinds/devices), and the second kind, ``yakopcic``.

The Yakopcic golden pulse model (a closed form with the exponential integral) is checked against
an independent numerical integration of the same state equation, and the Verilog-A model in an
ngspice transient against the golden model; tolerances are stated beside each assertion.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from codegen.elab import elaborate
from codegen.kinds import device_kind, device_kinds, kind_of
from codegen.kinds.devices.yakopcic.golden import YakopcicIR, rate, window
from codegen.learn.devices import DeviceArrays
from codegen.load import SpecError, load_spec_text
from codegen.model.device import apply_pulse, apply_pulses, g_from_w, w_from_g
from codegen.spec import Spec

ROOT = Path(__file__).resolve().parents[1]
YAK_TEXT = (ROOT / "examples" / "yakopcic" / "xor_yakopcic.yaml").read_text()


@pytest.fixture(scope="module")
def chip():
    return elaborate(load_spec_text(YAK_TEXT))


def test_registry_lists_both_kinds_and_the_schema_lists_them():
    assert list(device_kinds()) == ["memristor", "yakopcic"]
    schema = str(Spec.model_json_schema())
    assert "'const': 'yakopcic'" in schema and "'const': 'memristor'" in schema


def test_a_chip_without_kind_is_a_memristor_and_elaborates_to_its_ir():
    text = (ROOT / "examples" / "xor.yaml").read_text()
    dev = elaborate(load_spec_text(text)).device
    assert type(dev).kind == "memristor" and kind_of(dev) is device_kind("memristor")


def test_yakopcic_chip_elaborates_to_its_slice(chip):
    assert isinstance(chip.device, YakopcicIR) and kind_of(chip.device) is device_kind("yakopcic")


@pytest.mark.parametrize(
    "old, new, message",
    [
        ("kind: yakopcic", "kind: vteam", "unknown device kind 'vteam'; allowed: memristor, yakopcic"),
        ("kind: yakopcic", "kind: yakopcic\n  soft_bounds: true", "device.soft_bounds: unknown key"),
        ("kind: yakopcic", "kind: yakopcic\n  x_p: 2", "device.x_p: must be < 1"),
        ("step_per_pulse: 0.5u", "step_per_pulse: 40u", "window-free region"),
        ("pulse_amplitude: 5 V", "pulse_amplitude: 9 V", "half-selected cells"),
    ],
)
def test_bad_yakopcic_sections_name_the_yaml_path(old, new, message):
    with pytest.raises(SpecError, match=message):
        load_spec_text(YAK_TEXT.replace(old, new, 1), "chip.yaml")


def test_one_pulse_from_the_bounds_is_one_step(chip):
    d = chip.device
    g = g_from_w(d, apply_pulses(d, np.array([0.0, 1.0]), np.array([1, -1])))
    # the rates are derived so: exact up to rounding
    assert g[0] - d.g_min_S == pytest.approx(d.dg_set_S, rel=1e-12)
    assert d.g_max_S - g[1] == pytest.approx(d.dg_reset_S, rel=1e-12)


def test_g_w_round_trip_and_no_motion_below_thresholds(chip):
    d = chip.device
    w = np.linspace(0, 1, 11)
    assert w_from_g(d, g_from_w(d, w)) == pytest.approx(w, abs=1e-15)
    for v in (d.read_voltage_V, -d.read_voltage_V, d.pulse_amplitude_V / 2, -d.pulse_amplitude_V / 2):
        assert np.array_equal(apply_pulse(d, w, v, 1.0), w)


@pytest.mark.parametrize("sign", [1, -1])
@pytest.mark.parametrize("w0", [0.0, 0.2, 0.5, 0.9, 1.0])
def test_golden_pulse_train_matches_a_numerical_integration(chip, sign, w0):
    """The closed form (E1 inverted by Newton) against LSODA on dx/dt = g(V)·f(x) at rtol 1e-12:
    agreement within 1e-10 in x (measured ≤ 8e-13)."""
    d = chip.device
    v = sign * d.pulse_amplitude_V
    r = float(rate(d, v))
    for n in (1, 7, 100, 3000):
        t = n * d.pulse_width_s
        sol = solve_ivp(
            lambda _t, x: r * window(d, np.clip(x, 0, 1), v > 0), (0, t), [w0], rtol=1e-12, atol=1e-14
        )
        got = apply_pulses(d, np.array([w0]), np.array([sign * n]))[0]
        assert got == pytest.approx(sol.y[0, -1], abs=1e-10), (n, got, sol.y[0, -1])


def test_windows_slow_the_state_near_the_bounds(chip):
    """A set pulse above x_p moves x less than one below it (the window), never past 1."""
    d = chip.device
    low, high = apply_pulses(d, np.array([0.1, 0.9]), np.array([1, 1])) - np.array([0.1, 0.9])
    assert 0 < high < low
    assert apply_pulses(d, np.array([0.99]), np.array([10**6]))[0] <= 1.0


def test_devices_program_and_shape_analog_updates_by_the_kind(chip):
    arrs = DeviceArrays.create(chip)
    g0 = arrs.conductances
    name = next(iter(g0))
    counts = {k: np.ones(v.shape, dtype=np.int64) for k, v in g0.items()}
    arrs.program(counts)
    w0 = w_from_g(chip.device, g0[name])
    assert arrs.conductances[name] == pytest.approx(
        g_from_w(chip.device, apply_pulses(chip.device, w0, counts[name])), rel=1e-15
    )
    # the gradient rule: an increase is scaled by the set window of each cell
    arrs = DeviceArrays.create(chip)
    dg = {k: np.full(v.shape, 1e-7) for k, v in g0.items()}
    arrs.apply_delta(dg)
    want = np.clip(g0[name] + 1e-7 * window(chip.device, w0, True), chip.device.g_min_S, chip.device.g_max_S)
    assert arrs.conductances[name] == pytest.approx(want, rel=1e-15)


def test_verilog_a_text_carries_the_ir_numbers(chip):
    from codegen.backends.veriloga import render_sources
    from codegen.units import spice_float

    text = render_sources(chip)["eqp_memristor"]
    assert "module eqp_memristor(p, n);" in text and "Yakopcic" in text
    assert f"parameter real a_p = {spice_float(chip.device.a_p_per_s)}" in text
    assert f"parameter real x_n = {spice_float(chip.device.x_n)}" in text


@pytest.mark.ngspice
@pytest.mark.openvaf
def test_verilog_a_pulse_response_matches_the_golden_model(chip, tmp_path):
    """openvaf-r + ngspice transient of 40 set then 40 reset pulses from x = 0.2 (through the
    window edge x_p = 0.3 and back): every step within 1 % of the nominal step of the golden model
    (measured 1.7e-5), the codegen device check's limit."""
    from codegen.run.pulse import memristor_pulse_response

    r = memristor_pulse_response(chip, n_set=40, n_reset=40, w0=0.2, workdir=tmp_path)
    assert r["max_rel_err"] < 0.01
    assert np.mean(np.abs(r["dg_spice"][:40])) > 0.5 * chip.device.dg_set_S  # it did move


@pytest.mark.ngspice
@pytest.mark.openvaf
def test_codegen_device_check_passes_for_yakopcic(capsys):
    from codegen.cli import main

    assert main(["device", str(ROOT / "examples" / "yakopcic" / "xor_yakopcic.yaml")]) == 0
    out = capsys.readouterr().out
    assert "max |step error| / nominal step" in out and "FAIL" not in out


# ---------------------------------------------------------------- neuron kinds
def test_neuron_kinds_are_registered_and_set_their_clamps():
    from codegen.kinds.neurons import NEURON_KIND_NAMES, neuron_kind

    assert NEURON_KIND_NAMES == ("diode_pair", "relu_clamp")
    schema = Spec.model_json_schema()
    members = [m["$ref"].rsplit("/", 1)[1] for m in schema["properties"]["neuron"]["oneOf"]]
    assert members == [neuron_kind(k).spec.__name__ for k in NEURON_KIND_NAMES]
    for k in NEURON_KIND_NAMES:
        assert schema["$defs"][neuron_kind(k).spec.__name__]["properties"]["kind"]["const"] == k

    class N:
        v_low, v_high, alpha = -0.3, 0.4, 2.0

    assert neuron_kind("diode_pair").clamps(N) == (-0.3, 0.4)
    assert neuron_kind("relu_clamp").clamps(N) == (0.0, 2.0)


@pytest.mark.parametrize(
    "section, message",
    [
        (
            "{kind: relu_clamp, v_low: 1 V}",
            "neuron.v_low: unknown key 'v_low'; allowed here: kind, diode, on_output, alpha",
        ),
        (
            "{alpha: 2 V}",
            "neuron.alpha: unknown key 'alpha'; allowed here: kind, diode, on_output, v_low, v_high",
        ),
        (
            "{kind: foo}",
            "neuron.kind: unknown neuron kind 'foo'; allowed: diode_pair, relu_clamp (default diode_pair)",
        ),
        ("{kind: relu_clamp, alpha: -1 V}", "neuron.alpha: must be > 0"),
        ("{v_low: 1 V, v_high: 0.5 V}", "neuron.v_low: must be smaller than v_high"),
    ],
)
def test_bad_neuron_sections_name_the_yaml_path_and_the_kinds(section, message):
    import re

    text = (ROOT / "examples" / "xor.yaml").read_text()
    text = re.sub(r"^neuron:.*$", "neuron: " + section, text, count=1, flags=re.M)
    with pytest.raises(SpecError) as exc:
        load_spec_text(text)
    assert message in str(exc.value)


@pytest.mark.parametrize("kind", ["diode_pair", "relu_clamp"])
def test_each_neuron_kind_elaborates_and_renders_through_its_slice(kind, monkeypatch):
    """The IR clamps come from the kind's spec sub-model; the Verilog-A file from the kind's template
    and context (a slice pointing at another template changes the file)."""
    from codegen.backends.veriloga import render_sources
    from codegen.kinds.neurons import neuron_kind
    from tests.chips import random_chip

    chip = random_chip(3, [2, 3, 1], neuron=kind, v_low_V=-0.2, v_high_V=0.3, alpha_V=0.7)
    n = chip.layers[1].neuron
    assert (n.kind, n.v_low_V, n.v_high_V) == (
        (kind, -0.2, 0.3) if kind == "diode_pair" else (kind, 0.0, 0.7)
    )
    text = render_sources(chip)["eqp_neuron"]
    assert f"parameter real v_high = {0.3 if kind == 'diode_pair' else 0.7:g};" in text.replace(
        "0.7e0", "0.7"
    )
    monkeypatch.setattr(neuron_kind(kind), "va_template", "veriloga/eqp_nudge.va.j2")
    monkeypatch.setattr(neuron_kind(kind), "va_context", classmethod(lambda cls, c, n: {"beta_S": 1e-6}))
    assert "module eqp_nudge" in render_sources(chip)["eqp_neuron"]


@pytest.mark.parametrize("reverse", ["spice3", "shockley"])
@pytest.mark.parametrize("kind", ["diode_pair", "relu_clamp"])
def test_clamp_diode_current_is_the_derivative_of_its_co_content(kind, reverse):
    """Newton's line search needs W' = I and I' = dI/dV: central differences at h = 1e-6 V agree
    within 1e-6 relative (plus 1e-18 absolute) on both branches (reverse below −3·N·Vt), for both
    reverse laws (DiodeIR.reverse)."""
    from codegen.ir import DiodeIR
    from codegen.kinds.neurons import neuron_kind

    d = DiodeIR(is_A=1e-9, n=1.0, vt_V=0.025852, temperature_C=27.0, gmin_S=1e-12, reverse=reverse)
    f = neuron_kind(kind).clamp_diode
    x = np.array([-1.0, -0.2, -0.09, -0.05, 0.0, 0.1, 0.3, 0.5])
    h = 1e-6
    i, g, _ = f(x, d)
    wp, wm = f(x + h, d)[2], f(x - h, d)[2]
    ip, im = f(x + h, d)[0], f(x - h, d)[0]
    assert (wp - wm) / (2 * h) == pytest.approx(i, rel=1e-6, abs=1e-18)
    assert (ip - im) / (2 * h) == pytest.approx(g, rel=1e-6, abs=1e-18)
    assert i[4] == 0.0 and np.all(np.diff(i) > 0)


@pytest.mark.parametrize("kind", ["diode_pair", "relu_clamp"])
def test_clamp_diode_reverse_laws(kind):
    """``shockley`` is IS·(exp(V/(N·Vt)) − 1) + GMIN·V at every V (VACASK's diode.osdi);
    ``spice3`` equals it from −3·N·Vt up and differs below, by at most 0.00404·IS at V ≈ −5.2·N·Vt
    (sampled every 1e-4·N·Vt): the gap the spectre dialects showed before the law switch."""
    from dataclasses import replace

    from codegen.ir import DiodeIR
    from codegen.kinds.neurons import neuron_kind

    nvt = 0.025852
    d3 = DiodeIR(is_A=1e-5, n=1.0, vt_V=nvt, temperature_C=27.0, gmin_S=1e-12)
    ds = replace(d3, reverse="shockley")
    f = neuron_kind(kind).clamp_diode
    x = np.linspace(-20 * nvt, 0.3, 230_001)
    i3, g3, w3 = f(x, d3)
    i_s, g_s, w_s = f(x, ds)
    e = np.exp(x / nvt)
    assert i_s == pytest.approx(1e-5 * (e - 1) + 1e-12 * x, rel=1e-12, abs=1e-20)
    assert g_s == pytest.approx(1e-5 / nvt * e + 1e-12, rel=1e-12)
    assert w_s == pytest.approx(1e-5 * nvt * (e - 1) - 1e-5 * x + 0.5e-12 * x * x, rel=1e-9, abs=1e-22)
    up = x >= -3 * nvt
    assert np.array_equal(i3[up], i_s[up]) and np.array_equal(w3[up], w_s[up])
    gap = np.abs(i3 - i_s) / 1e-5
    assert gap.max() == pytest.approx(0.004044, rel=1e-3)
    assert x[gap.argmax()] / nvt == pytest.approx(-5.2, abs=0.01)
    with pytest.raises(ValueError, match="spice3"):
        f(x, replace(d3, reverse="spectre"))  # type: ignore[arg-type]


@pytest.mark.slow
def test_xor_trains_on_yakopcic_devices(chip):
    """docs/devices.md's training row: examples/yakopcic/xor_yakopcic.yaml, sign-pulse rule,
    golden model, 300 epochs → 100 % accuracy (first reached at epoch 38 in the recorded run)."""
    from codegen.learn.backends import GoldenBackend
    from codegen.learn.datasets import load_dataset
    from codegen.learn.trainer import train

    r = train(chip, GoldenBackend(chip), load_dataset(chip), epochs=300)
    assert r.history[-1].train_acc == 1.0 and r.history[-1].test_acc == 1.0


# ---------------------------------------------------------------- dataset kinds
def test_dataset_slices_are_the_one_list_of_names_and_shapes():
    from codegen.kinds.datasets import builtin_shapes, dataset_kinds
    from codegen.learn.datasets import NAMES, SHAPES

    assert list(dataset_kinds()) == ["kiraz_case1", "xor", "iris", "digits", "mnist", "file"]
    assert SHAPES == builtin_shapes() and NAMES == tuple(SHAPES)
    schema = Spec.model_json_schema()
    assert schema["$defs"]["BuiltinDataset"]["properties"]["name"]["enum"] == list(NAMES)


@pytest.mark.parametrize("name", ["kiraz_case1", "xor", "iris", "digits"])
def test_each_dataset_loads_through_its_slice_with_its_options(name):
    """The slice's raw arrays have its shape; its options (iris standardised on the training split,
    xor without a held-out split, kiraz a regression) reach the loaded dataset."""
    from codegen.kinds.datasets import dataset_kind
    from codegen.learn.datasets import load_dataset
    from tests.chips import random_chip

    kind = dataset_kind(name)
    n_in, n_out = kind.shape
    chip = random_chip(0, [n_in, 3, n_out])
    object.__setattr__(chip.training, "dataset", name)  # the chip's arrays do not depend on the name
    object.__setattr__(chip.training, "test_fraction", 0.25)
    x, labels, _ = kind.raw(chip)
    assert x.shape[1] == n_in and len(labels) == len(x)
    d = load_dataset(chip)
    assert d.classify is (name != "kiraz_case1")
    whole = len(d.x_train) == len(x) and np.array_equal(d.x_train, d.x_test)
    assert whole is (name in ("kiraz_case1", "xor"))  # others hold out 25 %
    if name == "iris":  # mean 0, σ 1 on the training split (to 1e-12)
        assert np.allclose(d.x_train.mean(axis=0), 0.0, atol=1e-12)
        assert np.allclose(d.x_train.std(axis=0), 1.0, atol=1e-12)
    else:
        assert set(map(tuple, d.x_train)) <= set(map(tuple, x))


def _clamp_branch_by_branch(x, i_s, nvt, gmin, reverse):
    """The diode equations evaluated branch by branch on their own elements (the reference the
    faster whole-array form of ``shockley_clamp`` must equal bit for bit)."""
    x0 = -3.0 * nvt
    c3 = (3.0 * nvt / np.e) ** 3
    flat = x.reshape(-1)
    fwd = flat >= x0 if reverse == "spice3" else np.ones(flat.shape, dtype=bool)
    fi, ri = np.flatnonzero(fwd), np.flatnonzero(~fwd)
    i, gd, w = np.empty_like(flat), np.empty_like(flat), np.empty_like(flat)
    with np.errstate(over="ignore", invalid="ignore"):
        xf = flat[fi]
        e = np.exp(xf / nvt)
        i[fi] = i_s * (e - 1.0)
        gd[fi] = i_s / nvt * e
        w[fi] = i_s * nvt * (e - 1.0) - i_s * xf
        xr = flat[ri]
        inv2 = 1.0 / (xr * xr)
        arg = c3 / (xr * xr * xr)
        i[ri] = -i_s * (1.0 + arg)
        gd[ri] = 3.0 * i_s * arg / xr
        w0 = i_s * nvt * (np.exp(-3.0) - 1.0) - i_s * x0
        w[ri] = w0 - i_s * (xr - x0) + 0.5 * i_s * c3 * (inv2 - x0**-2)
    return i + gmin * flat, gd + gmin, w + 0.5 * gmin * flat * flat


@pytest.mark.parametrize("reverse", ["spice3", "shockley"])
def test_clamp_diode_is_bit_for_bit_the_branch_by_branch_equations(reverse):
    """``shockley_clamp`` writes the reverse branch over the whole array and scatters the forward one
    (speed, issue 15): every element still gets exactly the operations of its own branch, so the
    golden model's numbers did not move by one ulp — also at the branch point, ±0, NaN and ±inf."""
    from codegen.kinds.neurons.diode_pair.golden import SMALL, shockley_clamp

    nvt, i_s, gmin = 0.025852, 1e-12, 1e-12
    x0 = -3 * nvt
    rng = np.random.default_rng(7)
    special = [x0, np.nextafter(x0, 0), np.nextafter(x0, -1), 0.0, -0.0, 1.0, 30.0, -1e-300, -1e300]
    x = np.concatenate(
        [rng.uniform(-2, 0.5, 5000), rng.normal(x0, 0.01, 2000), special, [np.nan, np.inf, -np.inf]]
    ).reshape(-1, 4)
    small = np.concatenate([x.reshape(-1)[:300], x.reshape(-1)[-12:]]).reshape(-1, 2)
    assert small.size <= SMALL < x.size  # both layouts of the function
    for xs in (x, small):
        with np.errstate(all="ignore"):
            got = shockley_clamp(xs, i_s, nvt, gmin, reverse)
            ref = _clamp_branch_by_branch(xs, i_s, nvt, gmin, reverse)
        for g, r, what in zip(got, ref, ("current", "conductance", "co-content"), strict=True):
            assert g.shape == xs.shape
            assert np.array_equal(g.reshape(-1), r, equal_nan=True), (what, xs.size)
