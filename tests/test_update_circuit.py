"""The peripheral update circuit (analog/eqp_update.sp) against the Python sign-pulse rule.

Tolerances: with zero comparator offset the circuit's accumulated input equals the golden model's
wanted update to ~1e-6 step (ngspice's node tolerance on the drops), so codes agree exactly except
within 1e-6 step of a rule boundary; with an offset every disagreement must lie within the offset
band (the largest |voff|, 1 V = 1 step) of a boundary.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from codegen.api import example, load_chip
from codegen.cosim.codes_analog import AnalogCodes, track_training
from codegen.learn.rules import pulse_codes

XOR = example("sign_pulse/xor_sign")
KIRAZ = example("sign_pulse/kiraz_case1_sign")


def _comparator_deck(values, quantize: bool, dz: float, nmax: int, voff: float) -> str:
    from codegen.templating import data_dir

    lines = ["* comparator sweep", (data_dir("analog") / "eqp_update.sp").read_text()]
    cell = "eqp_qcode" if quantize else "eqp_cmp3"
    extra = f" vstep=1 nmax={nmax}" if quantize else ""
    for i, v in enumerate(values):
        lines.append(f"V{i} in{i} 0 DC {float(v)!r}")
        lines.append(f"X{i} in{i} code{i} {cell} vth={dz!r} voff={voff!r}{extra}")
    lines += [".control", "option numdgt=17", "op", "print all", ".endc", ".end"]
    return "\n".join(lines) + "\n"


def _run_deck(deck: str, tmp_path) -> dict[str, float]:
    from codegen.run.ngspice import parse_print_all
    from codegen.run.ngspice_tran import run_deck

    proc = run_deck(deck, tmp_path, "cmp.sp", "set num_threads=1\n", 60)
    return parse_print_all(proc.stdout)


@pytest.mark.ngspice
@pytest.mark.parametrize("quantize", [False, True])
def test_comparator_cells_decide_like_the_rule(tmp_path, quantize):
    """Fed the wanted update directly (V = steps), the comparator/quantiser gives the rule's code."""
    chip = load_chip(KIRAZ)
    chip = replace(chip, training=replace(chip.training, dead_zone=0.5, quantize=quantize))
    rng = np.random.default_rng(3)
    u = np.concatenate([rng.uniform(-20, 20, 60), rng.uniform(-1.2, 1.2, 60)])
    u = u[np.abs(np.abs(u) - np.rint(np.abs(u) - 0.5) - 0.5) > 1e-6]  # off the boundaries
    eta, step = chip.training.learning_rate, chip.device.dg_set_S
    want = pulse_codes({"W01": (-u * step / eta)[None, :]}, chip)["W01"][0]
    raw = _run_deck(_comparator_deck(u, quantize, 0.5, chip.controller.max_pulses, 0.0), tmp_path)
    got = np.array([raw[f"code{i}"] for i in range(len(u))])
    assert np.array_equal(np.rint(got).astype(int), want)
    assert np.abs(got - np.rint(got)).max() < 1e-12  # codes are exact integers of volts


@pytest.mark.ngspice
@pytest.mark.parametrize("path", [XOR, KIRAZ], ids=["xor", "kiraz_case1"])
def test_circuit_codes_equal_python_decision(path):
    """Zero offset: over the first training steps every cell's code equals pulse_codes'."""
    chip = load_chip(path)
    ac = AnalogCodes(chip)
    res = track_training(chip, ac, 6)
    assert res["cells"] == 6 * sum(xb.shape[0] * xb.shape[1] for xb in chip.crossbars)
    assert res["agree"] == res["cells"], res
    assert res["out_of_band"] == []


@pytest.mark.ngspice
def test_circuit_accumulates_the_wanted_update():
    """V(acc) is −η·∂C/∂G/step of the golden model's batch-mean EP gradient (1 V = 1 step)."""
    from codegen.learn.datasets import load_dataset
    from codegen.model import GoldenModel

    chip = load_chip(XOR)
    ds = load_dataset(chip)
    g = chip.initial_conductances()
    x, t = ds.x_train[:4], ds.t_train[:4]
    res = AnalogCodes(chip).codes(g, x, t)
    grad = GoldenModel(chip, conductances=g).ep_gradient(x, t)
    for k, v in grad.items():
        want = -chip.training.learning_rate * v / chip.device.dg_set_S
        # 1e-5 steps: ngspice's node tolerance (vntol 1e-9 V) on mV-sized phase differences
        assert np.abs(res.analog_steps[k] - want).max() <= 1e-5 * max(1.0, np.abs(want).max())


@pytest.mark.ngspice
def test_offset_disagreements_lie_in_the_offset_band():
    """With comparator offsets some codes differ from Python, all within the offset band."""
    chip = load_chip(XOR)
    ac = AnalogCodes(chip, offset_V=0.02, offset_sigma_V=0.02, seed=1)
    res = track_training(chip, ac, 10)
    assert res["disagree_in_band"] > 0  # the offset acts
    assert res["out_of_band"] == []
    assert res["worst_boundary_distance_steps"] <= ac.offset_band_V + 1e-6


@pytest.mark.ngspice
def test_bad_offset_is_refused():
    from codegen.errors import CodegenError

    with pytest.raises(CodegenError, match="offset_sigma_V"):
        AnalogCodes(load_chip(XOR), offset_sigma_V=-1.0)


@pytest.mark.ngspice
@pytest.mark.slow
@pytest.mark.parametrize("path", [XOR, KIRAZ], ids=["xor", "kiraz_case1"])
def test_training_run_agreement_and_accuracy(path):
    """A whole training run (the spec's epochs): ≥ 99 % of cell codes equal, all differences in
    band (offset 1e-3 V fixed + 1e-3 V σ per cell), and the chip following the circuit's codes
    trains to 100 %."""
    chip = load_chip(path)
    ac = AnalogCodes(chip, offset_V=1e-3, offset_sigma_V=1e-3, seed=0)
    res = track_training(chip, ac, follow="analog")
    assert res["agreement"] >= 0.99, res["agreement"]
    assert res["out_of_band"] == []
    assert res["train_accuracy"] == 1.0


@pytest.mark.ngspice
def test_cli_cosim_codes_analog_short(tmp_path):
    from codegen.cli import main

    rc = main(
        [
            "cosim",
            str(XOR),
            "--codes",
            "analog",
            "--controller",
            "model",
            "--steps",
            "4",
            "-o",
            str(tmp_path),
            "-q",
        ]
    )
    assert rc == 0
    rep = json.loads((tmp_path / "cosim.json").read_text())
    assert rep["passed"] and rep["config"]["codes"] == "analog"


@pytest.mark.ngspice
@pytest.mark.slow
def test_cli_cosim_codes_analog_trains_xor(tmp_path):
    """300 co-simulated steps with the circuit's codes: final mean loss L small enough that every
    sample is classified right (per sample ½(t − y)² ≤ 4L, so |t − y| ≤ √(8L) < 0.3 V = |t|)."""
    from codegen.cli import main

    rc = main(
        [
            "cosim",
            str(XOR),
            "--codes",
            "analog",
            "--controller",
            "model",
            "--steps",
            "300",
            "-o",
            str(tmp_path),
            "-q",
        ]
    )
    assert rc == 0
    rep = json.loads((tmp_path / "cosim.json").read_text())
    assert rep["passed"]
    loss = rep["steps"][-1]["loss_cosim"]
    assert np.sqrt(8 * loss) < 0.3, loss


@pytest.mark.ngspice
def test_cosim_loop_takes_codes_from_the_circuit(tmp_path, monkeypatch):
    """With --codes analog every step's codes come from AnalogCodes (and the step passes)."""
    from codegen.cli import main

    calls = []
    orig = AnalogCodes.codes

    def counted(self, *a, **kw):
        res = orig(self, *a, **kw)
        calls.append(res)
        return res

    monkeypatch.setattr(AnalogCodes, "codes", counted)
    rc = main(
        [
            "cosim",
            str(KIRAZ),
            "--codes",
            "analog",
            "--controller",
            "model",
            "--steps",
            "3",
            "-o",
            str(tmp_path),
            "-q",
        ]
    )
    assert rc == 0
    assert len(calls) == 3
    rep = json.loads((tmp_path / "cosim.json").read_text())
    assert [s["pulses"] for s in rep["steps"]] == [
        int(sum(np.abs(v).sum() for v in r.codes.values())) for r in calls
    ]


@pytest.mark.ngspice
def test_cosim_reports_a_circuit_that_decides_wrong(tmp_path, monkeypatch):
    """A broken update circuit (every code 0) is caught by the loop's code check: the loop uses the
    circuit's codes, not Python's."""
    from codegen.cli import main
    from codegen.cosim.codes_analog import AnalogCodesResult

    orig = AnalogCodes.codes

    def dead(self, *a, **kw):
        res = orig(self, *a, **kw)
        zero = {k: np.zeros_like(v) for k, v in res.codes.items()}
        return AnalogCodesResult(
            zero, {k: np.zeros_like(v) for k, v in res.analog_steps.items()}, res.seconds
        )

    monkeypatch.setattr(AnalogCodes, "codes", dead)
    rc = main(
        [
            "cosim",
            str(KIRAZ),
            "--codes",
            "analog",
            "--controller",
            "model",
            "--steps",
            "3",
            "-o",
            str(tmp_path),
            "-q",
        ]
    )
    assert rc == 1
    rep = json.loads((tmp_path / "cosim.json").read_text())
    assert rep["divergence"]["kind"] == "codes"


def test_wire_resistance_is_refused():
    from codegen.api import load_spec
    from codegen.elab import elaborate
    from codegen.errors import CodegenError
    from codegen.learn.overrides import override

    chip = elaborate(override(load_spec(XOR), {"interconnect.r_row": 1.0}))
    with pytest.raises(CodegenError, match="wire"):
        AnalogCodes(chip)
