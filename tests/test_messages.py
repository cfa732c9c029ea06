"""The wording of the user-facing messages: "did you mean", SI values, tabs, the file name, the
dataset line of ``train``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from codegen.errors import SpecError, unknown_key_message
from codegen.load import load_spec_text
from codegen.units import format_quantity

ROOT = Path(__file__).resolve().parents[1]
XOR = (ROOT / "examples" / "xor.yaml").read_text()


def _problems(text: str, file: str = "chip.yaml") -> str:
    with pytest.raises(SpecError) as exc:
        load_spec_text(text, file)
    return str(exc.value)


def _edit(old: str, new: str) -> str:
    assert old in XOR
    return XOR.replace(old, new)


# --------------------------------------------------------------------------- did you mean
def test_unknown_key_suggests_the_closest_allowed_key():
    msg = _problems(_edit("  g_min: 1u", "  g_mn: 1u"))
    assert "device.g_mn: unknown key 'g_mn'; did you mean 'g_min'? allowed here: kind, g_min," in msg


def test_unknown_key_in_the_dataset_suggests_too():
    msg = _problems(_edit("test_fraction: 0,", "test_fractin: 0,"))
    assert "unknown key 'test_fractin'; did you mean 'test_fraction'?" in msg


def test_unknown_key_far_from_every_allowed_key_has_no_guess():
    msg = _problems(_edit("  g_min: 1u", "  g_min: 1u\n  zzzzzz: 1"))
    assert "unknown key 'zzzzzz'; allowed here:" in msg
    assert "did you mean" not in msg


def test_unknown_key_message_helper():
    assert unknown_key_message("epochz", ["epochs", "seed"]).startswith(
        "unknown key 'epochz'; did you mean 'epochs'? allowed here: epochs, seed"
    )
    assert unknown_key_message(3, ["a"]) == "unknown key 3; allowed here: a"


# --------------------------------------------------------------------------- SI values
@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [(5e7, "Hz", "50 MHz"), (1e-15, "S", "1 fS"), (2.5e-3, "V", "2.5 mV"), (0.5, "", "0.5"), (3, "", "3")],
)
def test_format_quantity(value, unit, text):
    assert format_quantity(value, unit) == text


def test_bound_message_in_si_units():
    msg = _problems(_edit("clock_hz: 50 MHz", "clock_hz: 0.5"))
    assert "controller.clock_hz: must be ≥ 1 Hz (got 500 mHz)" in msg


def test_bound_message_keeps_the_value_as_written():
    msg = _problems(_edit("beta: 1e-6", "beta: 0"))
    assert "nudge.beta: must be ≥ 1 fS (got 0 S)" in msg


def test_plausible_range_message_in_si_units():
    msg = _problems(_edit("clock_hz: 50 MHz", "clock_hz: 50000 MHz"))
    assert "50 GHz is outside the physically plausible 1 kHz … 10 GHz" in msg
    assert "e+" not in msg


def test_physics_message_in_si_units():
    msg = _problems(_edit("  g_max: 100u", "  g_max: 0.5u"))
    assert "g_min=1 µS ≥ g_max=500 nS" in msg


def test_pulse_width_message_in_si_units():
    msg = _problems(_edit("pulse_width_cycles: 50", "pulse_width_cycles: 60"))
    assert "60 cycles at 50 MHz last 1.2 µs, but device.pulse_width is 1 µs" in msg
    assert "5e+07" not in msg


# --------------------------------------------------------------------------- tabs, file name
@pytest.mark.parametrize("text", ["name: x\n\tnetwork: 1\n", "network:\n\tlayers: [2, 1]\n"])
def test_tab_indent_says_use_spaces(text):
    msg = _problems(text)
    assert "use spaces instead of the tab" in msg
    assert msg.startswith("chip.yaml:2: ")


def test_whole_file_problems_name_the_file_not_top(tmp_path):
    for text, what in (("- 1\n", "the top level must be a mapping"), ("", "the file holds no YAML document")):
        msg = _problems(text, "my_chip.yaml")
        assert msg.startswith(f"my_chip.yaml:1: {what}"), msg
        assert "<top>" not in msg
    path = tmp_path / "bad.yaml"
    path.write_text("\tname: x\n")
    proc = subprocess.run(
        [sys.executable, "-m", "codegen", "build", str(path), "-o", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "<top>" not in proc.stderr
    assert f"{path}:1: " in proc.stderr and "use spaces" in proc.stderr
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- train's dataset line
def test_train_prints_the_dataset_name_once(tmp_path):
    spec = tmp_path / "chip.yaml"
    spec.write_text(XOR.replace("name: xor\n", "name: gate\n", 1))
    proc = subprocess.run(
        [sys.executable, "-m", "codegen", "train", str(spec), "--epochs", "1", "--no-baseline"]
        + ["-o", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("dataset xor") == 1, proc.stdout
    assert proc.stdout.startswith("gate: dataset xor, 4 train / 4 test samples"), proc.stdout
