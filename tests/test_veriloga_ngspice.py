"""The Verilog-A models in ngspice against the golden device model and closed forms.

Tolerances are stated beside each assertion.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from codegen.backends.veriloga import compile_va, render_sources
from codegen.elab import elaborate
from codegen.load import load_spec_text
from codegen.model.device import g_from_w
from codegen.run.ngspice_tran import run_ngspice
from codegen.run.pulse import crossbar_half_select, memristor_pulse_response, memristor_read_disturb

pytestmark = [pytest.mark.ngspice, pytest.mark.openvaf]

ROOT = Path(__file__).resolve().parents[1]
XOR_TEXT = (ROOT / "examples" / "xor.yaml").read_text()


def _chip(device_extra: str = "", text: str = XOR_TEXT):
    """xor.yaml with extra ``device:`` keys (e.g. ``soft_bounds: true``)."""
    if device_extra:
        text = text.replace("device:\n", f"device:\n  {device_extra}\n", 1)
    return elaborate(load_spec_text(text))


def _osdi(chip, mod: str) -> dict[str, bytes]:
    osdi, _ = compile_va(render_sources(chip)[mod], mod)
    return {f"{mod}.osdi": osdi}


# ---------------------------------------------------------------- memristor, transient
# Δg per pulse within 1 % of the chip's step (the brief's requirement).  Measured: 1.4e-5 (trapezoidal
# integration across the 1e-4·width edges), 2.7e-4 on the pulse that reaches a hard bound.
REL_TOL = 0.01
#: regression guard, 70× the measured 1.4e-5, 3.7× the hard-bound case: catches a model that is
#: off by a fraction of a percent while the 1 % requirement still passes
GUARD_TOL = 1e-3


@pytest.mark.parametrize(
    "extra,w0",
    [
        ("", 0.5),  # hard bounds, symmetric
        ("soft_bounds: true", 0.5),
        ("asymmetry: 0.5", 0.5),  # reset step 1.5× the set step
        ("exponent: 3", 0.5),
        ("soft_bounds: true\n  asymmetry: -0.3", 0.2),
    ],
    ids=["hard", "soft", "asym", "exp3", "soft-asym"],
)
def test_pulse_response_matches_golden(extra, w0, tmp_path):
    chip = _chip(extra)
    r = memristor_pulse_response(chip, n_set=20, n_reset=20, w0=w0, workdir=tmp_path)
    assert r["g_spice"].shape == (41,)
    assert r["max_rel_err"] < REL_TOL, (r["dg_spice"], r["dg_golden"])
    assert r["max_rel_err"] < GUARD_TOL
    # the train really moved the device: 20 set pulses raise G by ~20 steps
    assert r["g_spice"][20] - r["g_spice"][0] > 10 * chip.device.dg_set_S * (
        0.5 if chip.device.soft_bounds else 1
    )


def test_pulse_response_stops_at_hard_bounds(tmp_path):
    # 10× the xor step: 20 set pulses from w0 = 0.5 saturate at g_max, 20 reset pulses reach g_min
    chip = _chip(text=XOR_TEXT.replace("step_per_pulse: 0.5u", "step_per_pulse: 5u"))
    r = memristor_pulse_response(chip, w0=0.5, workdir=tmp_path)
    d = chip.device
    assert r["max_rel_err"] < REL_TOL, (r["dg_spice"], r["dg_golden"])
    assert r["max_rel_err"] < GUARD_TOL
    # clipped at the bounds to 1e-9 relative of g_max (G is computed from w clipped to [0, 1])
    assert r["g_spice"][20] == pytest.approx(d.g_max_S, rel=1e-9)
    assert r["g_spice"][40] == pytest.approx(d.g_min_S, rel=1e-9)


def test_read_and_half_select_do_not_disturb(tmp_path):
    chip = _chip()
    d = chip.device
    dg = memristor_read_disturb(chip, workdir=tmp_path)
    assert set(dg) == {
        d.read_voltage_V,
        -d.read_voltage_V,
        chip.controller.v_program_V / 2,
        -chip.controller.v_program_V / 2,
    }
    for v, change in dg.items():
        # the rate is exactly 0 between the thresholds: allow 1e-9 of one step (float noise)
        assert abs(change) < 1e-9 * d.dg_set_S, (v, change)


def test_above_threshold_bias_does_disturb(tmp_path):
    # the disturb check can fail: a bias just above v_set for the same time moves the state
    chip = _chip()
    dg = memristor_read_disturb(chip, voltages_V=[1.1 * chip.device.v_set_V], workdir=tmp_path)
    assert next(iter(dg.values())) > chip.device.dg_set_S


@pytest.mark.parametrize("sign", [1, -1], ids=["set", "reset"])
def test_half_select_programs_only_the_target(sign, tmp_path):
    chip = _chip()
    d = chip.device
    r = crossbar_half_select(chip, rows=2, cols=3, target=(0, 1), n_pulses=5, sign=sign, workdir=tmp_path)
    moved = r["g_after"] - r["g_before"]
    # the target moved by 5 steps as the golden model says: within 1 % of one step (measured 7e-5)
    assert abs(r["g_after"][0, 1] - r["g_golden_after"][0, 1]) < REL_TOL * d.dg_set_S
    assert abs(moved[0, 1]) > 4 * d.dg_set_S
    # half-selected (row 0, column 1) and unselected cells: no change beyond 1e-9 of a step
    others = np.delete(moved.ravel(), 1)
    assert np.all(np.abs(others) < 1e-9 * d.dg_set_S), moved


# ---------------------------------------------------------------- operating points
def _op(netlist_body: str, osdi: dict[str, bytes], vectors: list[str], tmp_path: Path) -> dict[str, float]:
    loads = "\n".join(f"pre_osdi {name}" for name in osdi)
    net = f"* op check\n.control\n{loads}\n.endc\n{netlist_body}\n.control\nop\nwrdata op.txt {' '.join(vectors)}\n.endc\n.end\n"
    res = run_ngspice(net, tmp_path, osdi=osdi, outputs={"op.txt": vectors})["op.txt"]
    return {k: float(v[0]) for k, v in res.items() if k != "time"}


def test_memristor_op_holds_initial_state(tmp_path):
    chip = _chip()
    d = chip.device
    v = d.read_voltage_V
    body = f".model mem eqp_memristor\nV1 a 0 {v}\nN1 a 0 mem w0=0.3\nV2 b 0 {v}\nN2 b 0 mem g0=7e-05\n"
    r = _op(body, _osdi(chip, "eqp_memristor"), ["i(V1)", "i(V2)", "@n1[w]", "@n2[g]"], tmp_path)
    # linear resistor at a fixed state: exact to ngspice's reltol-free linear solve (1e-12 relative)
    assert -r["i(V1)"] == pytest.approx(float(g_from_w(d, 0.3)) * v, rel=1e-12)
    assert -r["i(V2)"] == pytest.approx(7e-05 * v, rel=1e-12)
    assert r["@n1[w]"] == pytest.approx(0.3, rel=1e-12)
    assert r["@n2[g]"] == pytest.approx(7e-05, rel=1e-12)


@pytest.mark.parametrize("gain", [4.0, 16.0])
def test_amplifier_op(gain, tmp_path):
    chip = _chip()
    # source 0.3 V through 10 kΩ into inp; out loaded by 2 kΩ to ground
    body = f".model amp eqp_amplifier\nVs s 0 0.3\nRs s in 10k\nNa in out amp gain={gain}\nRl out 0 2k\n"
    r = _op(body, _osdi(chip, "eqp_amplifier"), ["v(in)", "v(out)", "i(Vs)", "@na[i_out]"], tmp_path)
    # closed form: inp sees the load itself (gain·V_in across 2 kΩ is gain·V_in/2k, drawn /gain)
    r_in = 2e3
    v_in = 0.3 * r_in / (r_in + 10e3)
    # linear circuit: agreement to 1e-9 relative (ngspice solves it exactly up to rounding)
    assert r["v(in)"] == pytest.approx(v_in, rel=1e-9)
    assert r["v(out)"] == pytest.approx(gain * r["v(in)"], rel=1e-9)
    i_out = r["v(out)"] / 2e3
    assert r["@na[i_out]"] == pytest.approx(i_out, rel=1e-9)
    assert -r["i(Vs)"] == pytest.approx(i_out / gain, rel=1e-9)  # input current = I_out / gain


def test_nudge_op(tmp_path):
    chip = _chip()
    beta, t = 1e-3, 0.7
    body = f".model ndg eqp_nudge\nVp p 0 0.5\nVn n 0 -0.1\nNn p n ndg beta={beta} t={t}\n"
    r = _op(body, _osdi(chip, "eqp_nudge"), ["i(Vp)", "i(Vn)", "@nn[i_nudge]"], tmp_path)
    i = beta * (t - (0.5 - (-0.1)))
    # the nudge pushes current into p: the source Vp absorbs it (its branch current is +i, into its + node)
    assert r["i(Vp)"] == pytest.approx(i, rel=1e-12)
    assert r["i(Vn)"] == pytest.approx(-i, rel=1e-12)
    assert r["@nn[i_nudge]"] == pytest.approx(i, rel=1e-12)


def test_neuron_op_matches_the_golden_diodes(example, tmp_path):
    """eqp_neuron in ngspice against the golden model's own diode function over a bias sweep that
    covers both clamps' forward, Shockley-reverse and SPICE3 reverse branches (below −3·N·Vt) and
    the joins at v_high − 3·N·Vt and v_low + 3·N·Vt."""
    from codegen.load import load_spec
    from codegen.model import GoldenModel

    chip = elaborate(load_spec(example))
    nrn = next(layer.neuron for layer in chip.layers if layer.neuron is not None)
    model = GoldenModel(chip)
    nvt3 = 3 * nrn.diode.n * nrn.diode.vt_V
    joins = [j + d for j in (nrn.v_high_V - nvt3, nrn.v_low_V + nvt3) for d in (-1e-3, -1e-6, 1e-6, 1e-3)]
    vs = sorted({*np.round(np.linspace(-0.9, 0.9, 19), 12).tolist(), *joins})
    body = ".model nrn eqp_neuron\n" + "".join(
        f"V{k} x{k} 0 {v!r}\nN{k} x{k} nrn\n" for k, v in enumerate(vs)
    )
    r = _op(body, _osdi(chip, "eqp_neuron"), [f"i(V{k})" for k in range(len(vs))], tmp_path)
    v = np.array(vs)
    # the golden model's neuron current (GoldenModel._eval): upper diode at V − v_high minus lower
    # diode at v_low − V, each from GoldenModel._diode (ngspice's dioload.c branches, GMIN included)
    i_hi, _, _ = model._diode(v - nrn.v_high_V)
    i_lo, _, _ = model._diode(nrn.v_low_V - v)
    expected = i_hi - i_lo
    got = -np.array([r[f"i(V{k})"] for k in range(len(vs))])  # drawn from the source = drawn by x
    # each node is held by a voltage source, so ngspice evaluates the model at exactly that voltage
    # and the branch current enters linearly: what is left is float rounding of the same formula
    # (1e-9 relative; the old Shockley-only model was 2e-3 off at ±0.2 V), and 1e-21 A absolute
    # where the two reverse currents of ≈ −IS cancel between the clamps (rounding of IS ≤ 1e-8 A)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-21, err_msg=example.stem)
    assert int(np.sum(np.abs(v - nrn.v_high_V) > nvt3)) > 10  # the sweep exercises the reverse branch


def test_pulse_response_every_example(example, tmp_path):
    from codegen.load import load_spec

    chip = elaborate(load_spec(example))
    r = memristor_pulse_response(chip, workdir=tmp_path)
    assert r["max_rel_err"] < REL_TOL, (example.stem, r["dg_spice"], r["dg_golden"])
    assert r["max_rel_err"] < GUARD_TOL


def test_cli_device_check(tmp_path, capsys):
    from codegen.cli import main

    rc = main(
        [
            "device",
            str(ROOT / "examples" / "xor.yaml"),
            "--set",
            "5",
            "--reset",
            "5",
            "--workdir",
            str(tmp_path),
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "max |step error| / nominal step" in out and "FAIL" not in out
    assert (tmp_path / "pulses" / "circuit.cir").is_file()
