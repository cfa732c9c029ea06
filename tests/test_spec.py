"""chip.yaml loading: examples, JSON schema, and the clear-error contract for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pydantic
import pytest
import yaml

from codegen.cli.schema import schema_text
from codegen.elab import elaborate
from codegen.load import load_spec, load_spec_text

ROOT = Path(__file__).resolve().parents[1]


def test_example_loads_and_elaborates(example):
    chip = elaborate(load_spec(example))
    assert chip.name == example.stem
    assert chip.layers[0].size == chip.n_inputs
    for xb in chip.crossbars:
        assert all(n in chip.free_nodes for n in xb.dst_nodes)


def test_examples_match_committed_schema(example):
    schema = json.loads((ROOT / "schema" / "chip.schema.json").read_text())
    jsonschema.validate(yaml.safe_load(example.read_text()), schema)


def test_committed_schema_is_current():
    assert (ROOT / "schema" / "chip.schema.json").read_text() == schema_text(), "run `make schema`"


def test_schema_rejects_what_the_loader_rejects():
    schema = json.loads((ROOT / "schema" / "chip.schema.json").read_text())
    data = yaml.safe_load((ROOT / "examples" / "xor.yaml").read_text())
    data["device"]["colour"] = "red"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, schema)


BASE = (ROOT / "examples" / "xor.yaml").read_text()


def _edit(old: str, new: str) -> str:
    assert old in BASE, old
    return BASE.replace(old, new, 1)


# (case id, yaml text, expected YAML path in the message, expected fragment of the message,
#  text on the line the message must point at, or None where the problem has no single line)
BAD = [
    (
        "unknown_key",
        _edit("  g_min: 1u\n", "  g_min: 1u\n  colour: red\n"),
        "device.colour",
        "allowed here: kind, g_min",
        "colour: red",
    ),
    ("wrong_type", _edit("epochs: 300", "epochs: lots"), "training.epochs", "integer", "epochs: lots"),
    (
        "gmin_ge_gmax",
        _edit("g_max: 100u", "g_max: 0.5u"),
        "device.g_min",
        "must be smaller than g_max",
        "g_min: 1u",
    ),
    (
        "negative_width",
        _edit("  g_min: 1u\n", "  g_min: 1u\n  pulse_width: -1us\n"),
        "device.pulse_width",
        "must be > 0 s",
        "pulse_width: -1us",
    ),
    ("beta_zero", _edit("beta: 1e-6", "beta: 0"), "nudge.beta", "greater than 0", "nudge:"),
    (
        "layer_zero",
        _edit("layers: [2, 4, 1]", "layers: [2, 0, 1]"),
        "network.layers.1",
        "at least 1 neuron",
        "layers:",
    ),
    (
        "bad_rule",
        _edit("rule: gradient", "rule: magic"),
        "training.rule",
        "allowed: 'gradient' or 'sign-pulse'",
        "rule: magic",
    ),
    (
        "bad_unit",
        _edit("bias_voltage: 1 V", "bias_voltage: 1 A"),
        "network.bias_voltage",
        "unit 'A'",
        "bias_voltage: 1 A",
    ),
    (
        "missing_device",
        BASE.replace(
            "device:\n  g_min: 1u\n  g_max: 100u\n  step_per_pulse: 0.5u\n  init: {distribution: uniform, low: 1u, high: 100u}\n",
            "",
        ),
        "device",
        "required key is missing",
        None,
    ),
    (
        "malformed_yaml",
        _edit("layers: [2, 4, 1]", "layers: [2, 4, 1"),
        "<top>",
        "malformed YAML",
        "input_doubling:",
    ),
    (
        "skip_adjacent",
        _edit("doubled_outputs: true", "doubled_outputs: true\n  skip: [{src: 0, dst: 1}]"),
        "network.skip.0.dst",
        "non-adjacent",
        "skip:",
    ),
    (
        "half_select",
        _edit("  g_min: 1u\n", "  g_min: 1u\n  pulse_amplitude: 2.4 V\n"),
        "device.pulse_amplitude",
        "half-selected",
        "pulse_amplitude: 2.4 V",
    ),
    (
        "duplicate_key",
        _edit("  g_min: 1u\n", "  g_min: 1u\n  g_min: 2u\n"),
        "<top>",
        "duplicate key 'g_min'",
        "g_min: 2u",
    ),
    (
        "init_outside",
        _edit("low: 1u,", "low: 0.1u,"),
        "device.init.low",
        "must lie in [g_min, g_max]",
        "init:",
    ),
    (
        "pulse_cycles",
        _edit("pulse_width_cycles: 50", "pulse_width_cycles: 40"),
        "controller.pulse_width_cycles",
        "device.pulse_width",
        None,
    ),
    (
        "dataset_shape",
        _edit("layers: [2, 4, 1]", "layers: [3, 4, 1]"),
        "network.layers",
        "needs 2 inputs",
        None,
    ),
    ("top_not_mapping", "- 1\n- 2\n", "<top>", "must be a mapping", "- 1"),
    ("bad_name", _edit("name: xor", "name: 9lives"), "name", "pattern", "name: 9lives"),
]


@pytest.mark.parametrize(("text", "path", "fragment", "line"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_gives_clear_error_exit_2_and_writes_nothing(tmp_path, text, path, fragment, line):
    spec = tmp_path / "chip.yaml"
    spec.write_text(text)
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "codegen", "build", "chip.yaml", "-o", "out"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"{path}:" in proc.stderr, proc.stderr
    assert fragment in proc.stderr, proc.stderr
    if line is not None:
        lineno = next(i for i, t in enumerate(text.splitlines(), 1) if line in t)
        expected_where = f"chip.yaml:{lineno}:"
    else:
        expected_where = "chip.yaml"
    assert expected_where in proc.stderr, proc.stderr
    assert not out.exists(), "nothing may be written for bad input"


def test_missing_file(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "codegen", "build", "nope.yaml"], cwd=tmp_path, capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert "nope.yaml: <top>: no such file" in proc.stderr
    assert not (tmp_path / "build").exists()


def test_si_strings_and_floats_are_equivalent():
    a = load_spec_text(BASE)
    b = load_spec_text(BASE.replace("g_min: 1u", "g_min: 1.0e-6").replace("g_max: 100u", "g_max: '100 uS'"))
    assert a.device == b.device


def test_spec_is_frozen():
    spec = load_spec_text(BASE)
    with pytest.raises(pydantic.ValidationError):
        spec.device.g_min = 1.0  # type: ignore[misc]
