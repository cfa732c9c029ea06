"""``codegen characterize``: settling against an analytic RC, DC power against the golden model,
energy bookkeeping, and the CLI (outputs, bad input)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import yaml

from codegen.api import example, load_spec
from codegen.characterize.core import SETTLE_ABS_V, SETTLE_REL, phase_energy, run_phase, settling
from codegen.characterize.report import characterize
from codegen.elab import elaborate
from codegen.learn.datasets import load_dataset
from codegen.learn.overrides import override

CAPS = {"interconnect.c_node": 10e-15, "interconnect.c_segment": 1e-15}


def _chip(name: str, sets: dict | None = None):
    spec = load_spec(example(name))
    return elaborate(override(spec, sets or CAPS))


def _rc_chip(c_node_F: float):
    """Two input sources (kiraz_case1: −2 V and +2 V), one output node, no neuron, no amplifier:
    one node with G0 + G1 to the sources and C to ground."""
    d = yaml.safe_load(example("kiraz_case1").read_text())
    d["network"].update(layers=[2, 1], bias=False, doubled_outputs=False)
    d["neuron"]["on_output"] = False
    d["amplifier"] = {"enabled": False}
    d["interconnect"] = {"c_node": c_node_F}
    return elaborate(load_spec(d))


@pytest.mark.ngspice
def test_rc_settling_matches_the_analytic_time_constant(tmp_path):
    """V(t) = V∞(1 − e^(−t/τ)), τ = C/(G0 + G1): settled to 1e-3 of the step at τ·ln(1e3) and to
    1 mV at τ·ln(|V∞|/1 mV).  Tolerance 0.5 %: the transient's time step (τ/25 at most) and the
    linear interpolation of the crossing."""
    C, g0, g1 = 20e-15, 30e-6, 20e-6
    chip = _rc_chip(C)
    ds = load_dataset(chip)
    x, t = ds.x_train[0], ds.t_train[0]
    v_in = chip.source_voltages(x)
    g = {"W01": np.array([[g0, g1]])}
    run = run_phase(chip, g, x, t, "free", workdir=tmp_path)
    tau = C / (g0 + g1)
    v_inf = (g0 * v_in[0] + g1 * v_in[1]) / (g0 + g1)
    assert abs(run.op_v["out0"] - v_inf) < 1e-9
    st = settling(run)
    assert st["rel_s"] == pytest.approx(tau * math.log(1 / SETTLE_REL), rel=5e-3)
    assert st["abs_s"] == pytest.approx(tau * math.log(abs(v_inf) / SETTLE_ABS_V), rel=5e-3)
    # the whole waveform, not only the crossings (1e-3 of the step: trapezoidal integration error)
    analytic = v_inf * (1 - np.exp(-run.time_s / tau))
    assert np.abs(run.waves["out0"] - analytic).max() < 1e-3 * abs(v_inf)
    # energy: the capacitor stores ½C·V(T)², everything sums to zero (Tellegen)
    e = phase_energy(run, st["rel_s"])
    vt = v_inf * (1 - SETTLE_REL)
    assert e["capacitance"] == pytest.approx(0.5 * C * vt * vt, rel=1e-3)
    assert abs(sum(e.values())) < 1e-4 * e["memristors"]


@pytest.mark.ngspice
@pytest.mark.parametrize("name", ["kiraz_case1", "xor"])
def test_dc_power_equals_golden(name, tmp_path):
    """Every element's DC power (ngspice's own @r[p], @e[p], @f[p], V·I of diodes and sources) equals
    GoldenModel.power within 1e-6 relative (per kind, against the kind's largest), in every phase."""
    chip = _chip(name)
    ds = load_dataset(chip)
    k = len(ds.x_train) - 1  # xor: input (1, 1)
    rep, _ = characterize(chip, ds.x_train[k], ds.t_train[k], workdir=tmp_path)
    for ph, p in rep["phases"].items():
        dc = p["dc_vs_golden"]
        assert dc["compared"], ph
        assert dc["max_rel"] <= 1e-6, (ph, dc["rel_by_kind"])
        # and the groups' DC powers sum to zero (Tellegen), as the golden model's do
        assert abs(sum(p["dc_power_W"].values())) <= 1e-9 * max(abs(v) for v in p["dc_power_W"].values())
    assert rep["dc_vs_golden_max_rel"] <= 1e-6


@pytest.mark.ngspice
def test_energy_split_and_training_step(tmp_path):
    chip = _chip("kiraz_case1")
    ds = load_dataset(chip)
    rep, _ = characterize(chip, ds.x_train[0], ds.t_train[0], workdir=tmp_path)
    assert list(rep["phases"]) == ["free", "pos", "neg"]
    for p in rep["phases"].values():
        e = p["energy_J"]
        assert e["memristors"] > 0 and e["sources"] < 0
        assert abs(sum(e.values())) < 1e-4 * p["energy_total_absorbed_J"]
        assert 0 < p["settling_rel_s"] < p["tstop_s"]
    assert rep["phases"]["free"]["energy_J"]["nudging"] == 0.0
    assert rep["phases"]["pos"]["energy_J"]["nudging"] != 0.0
    step = rep["training_step"]["energy_J"]["memristors"]
    assert step == pytest.approx(sum(p["energy_J"]["memristors"] for p in rep["phases"].values()))
    pr = rep["programming"]
    dev = chip.device
    # a set pulse from g_min: ∫V²G dt with G rising from g_min (≥ V²·g_min·T)
    assert pr["set_from_g_min_J"] >= dev.pulse_amplitude_V**2 * dev.g_min_S * dev.pulse_width_s


@pytest.mark.ngspice
def test_cli_writes_json_png_table(tmp_path, capsys):
    from codegen.cli import main

    out = tmp_path / "out"
    rc = main(
        [
            "characterize",
            str(example("xor")),
            "--set",
            "interconnect.c_node=10f",
            "--set",
            "interconnect.c_segment=1f",
            "--update-deck",
            "-o",
            str(out),
        ]
    )
    assert rc == 0
    assert "eqp_sqdiff" in (out / "update" / "update.sp").read_text()
    assert {p.name for p in (out / "update").iterdir()} == {"update.sp", "cells.sp", "eqp_update.sp"}
    rep = json.loads((out / "characterize.json").read_text())
    assert rep["inference"]["settling_s"] > 0  # the default sample has a nonzero input step
    assert (out / "characterize.png").stat().st_size > 10_000
    assert "| settling to 1 mV |" in (out / "characterize.md").read_text()
    assert "energy memristors" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["characterize", "EX"], "has no capacitance"),
        (["characterize", "EX", "--set", "interconnect.c_node=10f", "--sample", "99"], "--sample must be in"),
        (["characterize", "EX", "--set", "interconnect.c_node=-1f"], "interconnect"),
        (["characterize", "nonexistent.yaml"], "nonexistent.yaml"),
    ],
)
def test_cli_bad_input_exits_2_and_writes_nothing(tmp_path, capsys, argv, message):
    from codegen.cli import main

    out = tmp_path / "out"
    argv = [str(example("xor")) if a == "EX" else a for a in argv]
    rc = main([*argv, "-o", str(out)])
    assert rc == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not out.exists()


@pytest.mark.ngspice
def test_wires_are_their_own_energy_group(tmp_path):
    """With line and access resistance the wire resistors absorb energy of their own; the energy
    still balances; DC power of every element, wire segments included, equals the golden model's."""
    chip = _chip(
        "kiraz_case1",
        {**CAPS, "interconnect.r_row": 2.0, "interconnect.r_col": 2.0, "interconnect.r_access": 10.0},
    )
    ds = load_dataset(chip)
    rep, _ = characterize(chip, ds.x_train[0], ds.t_train[0], workdir=tmp_path)
    for p in rep["phases"].values():
        assert p["energy_J"]["wires"] > 0
        assert abs(p["energy_balance_J"]) < 1e-4 * p["energy_total_absorbed_J"]
        assert p["dc_power_W"]["wires"] > 0
        dc = p["dc_vs_golden"]  # the golden model solves the wire nodes too
        assert dc["compared"] and "wire:W01" in dc["rel_by_kind"]
        assert dc["max_rel"] <= 1e-6, dc["rel_by_kind"]
