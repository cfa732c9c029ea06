"""``--set PATH=VALUE`` / ``--param`` values from the command line: hostile text is a clear exit 2,
and an override is checked against the same bounds, with the same messages, as chip.yaml."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from codegen.errors import CodegenError
from codegen.learn.overrides import MAX_VALUE_CHARS, override, parse_param, parse_sets, parse_value
from codegen.load import load_spec

ROOT = Path(__file__).resolve().parent.parent
XOR = ROOT / "examples" / "xor.yaml"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1e-4", 1e-4), ("true", True), ("10u", "10u"), ("[784, 100, 10]", [784, 100, 10]), ("7", 7)],
)
def test_plain_values(text, expected):
    assert parse_value(text) == expected


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("9" * 5000, "characters"),  # Python refuses int() of > 4300 digits with a ValueError
        ("9" * MAX_VALUE_CHARS + "9", "characters"),
        ("&a [*a]", "aliases"),
        ("[1, [2]]", "not nested"),
        ("{a: 1}", "a number, a string"),
        ("[1, 2", "not a YAML scalar"),
    ],
)
def test_hostile_values_are_clear_errors(text, why):
    with pytest.raises(CodegenError, match=why):
        parse_value(text)


def test_parse_sets_and_params_use_the_same_guard():
    with pytest.raises(CodegenError, match="characters"):
        parse_sets(["training.seed=" + "9" * 5000])
    with pytest.raises(CodegenError, match="aliases"):
        parse_param("nudge.beta=1e-6,*x")


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("training.seed", -1, "training.seed: must be ≥ 0"),
        ("amplifier.gain", 1e-308, "amplifier.gain: must be ≥ 0.001"),
        ("training.epochs", 10**7, "training.epochs: must be ≤ 1000000"),
        ("network.layers", [2, 100_000_000, 1], "simulation.max_cells"),
    ],
)
def test_overrides_meet_the_spec_bounds_with_the_loaders_messages(path, value, message):
    with pytest.raises(CodegenError, match="gives an invalid spec") as info:
        override(load_spec(XOR), {path: value})
    assert message in str(info.value)
    assert "Input should be" not in str(info.value)  # the loader's wording, not pydantic's


@pytest.mark.parametrize(
    "args",
    [
        ["--set", "training.seed=" + "9" * 5000],
        ["--set", "nudge.beta=&a [*a]"],
        ["--epochs", "10000000"],
        ["--set", "amplifier.gain=1e-308"],
    ],
)
def test_cli_train_refuses_bad_overrides_with_exit_2(args, tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "codegen", "train", str(XOR), "-o", str(tmp_path / "out"), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and r.stderr.startswith("error:"), r.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
