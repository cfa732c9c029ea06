"""chip.yaml loading: examples, JSON schema, and the clear-error contract for bad input."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pydantic
import pytest
import yaml

from codegen.cli.schema import schema_text
from codegen.elab import elaborate
from codegen.errors import SpecError
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
    ("beta_zero", _edit("beta: 1e-6", "beta: 0"), "nudge.beta", "must be ≥ 1 fS (got 0 S)", "nudge:"),
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
        re.sub(r"^device:\n(?:  .*\n)+", "", BASE, count=1, flags=re.MULTILINE),
        "device",
        "required key is missing",
        None,
    ),
    (
        "malformed_yaml",
        _edit("layers: [2, 4, 1]", "layers: [2, 4, 1"),
        "network.layers.3",  # the path the parser had reached (the 4th item is where it broke)
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
        re.sub(r"^  pulse_amplitude: .*$", "  pulse_amplitude: 9 V", BASE, count=1, flags=re.MULTILINE),
        "device.pulse_amplitude",
        "half-selected",
        "pulse_amplitude: 9 V",
    ),
    (
        "duplicate_key",
        _edit("  g_min: 1u\n", "  g_min: 1u\n  g_min: 2u\n"),
        "",
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
    ("top_not_mapping", "- 1\n- 2\n", "", "must be a mapping", "- 1"),
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
    assert "nope.yaml: no such file" in proc.stderr
    assert not (tmp_path / "build").exists()


def test_si_strings_and_floats_are_equivalent():
    a = load_spec_text(BASE)
    b = load_spec_text(BASE.replace("g_min: 1u", "g_min: 1.0e-6").replace("g_max: 100u", "g_max: '100 uS'"))
    assert a.device == b.device


def test_spec_is_frozen():
    spec = load_spec_text(BASE)
    with pytest.raises(pydantic.ValidationError):
        spec.device.g_min = 1.0  # type: ignore[misc]


# --------------------------------------------------------------------------- bounds (issue 16)
# (id, yaml text, YAML path in the message, fragment, text on the reported line)
EXTREME = [
    (
        "diode_n_1e-300",
        _edit("diode: {is: 1n}}", "diode: {is: 1n, n: 1e-300}}"),
        "neuron.diode.n",
        "must be ≥ 0.1",
        "neuron:",
    ),
    (
        "exponent_1e308",
        _edit("  g_min: 1u\n", "  g_min: 1u\n  exponent: 1e308\n"),
        "device.exponent",
        "must be ≤ 100",
        "exponent: 1e308",
    ),
    (
        "seed_negative",
        _edit("seed: 0", "seed: -1"),
        "training.seed",
        "must be ≥ 0",
        "seed: -1",
    ),
    (
        "seed_2_70",
        _edit("seed: 0", f"seed: {2**70}"),
        "training.seed",
        "must be ≤ 4294967295",
        "seed: 1180",
    ),
    (
        "absolute_zero",
        _edit("diode: {is: 1n}}", "diode: {is: 1n, temperature: -273.15}}"),
        "neuron.diode.temperature",
        "must be ≥ -200",
        "neuron:",
    ),
    (
        "gain_1e-308",
        _edit("gain: 4}", "gain: 1e-308}"),
        "amplifier.gain",
        "must be ≥ 0.001",
        "amplifier:",
    ),
    ("gain_nan", _edit("gain: 4}", "gain: .nan}"), "amplifier.gain", "finite", "amplifier:"),
    ("beta_inf", _edit("beta: 1e-6", "beta: .inf"), "nudge.beta", "finite", "nudge:"),
    (
        "epochs_2_70",
        _edit("epochs: 300", f"epochs: {2**70}"),
        "training.epochs",
        "must be ≤ 1000000",
        "epochs: 1180",
    ),
    ("list_for_number", _edit("gain: 4}", "gain: []}"), "amplifier.gain", "expected a number", "amplifier:"),
    ("map_for_number", _edit("g_max: 100u", "g_max: {}"), "device.g_max", "expected a number", "g_max: {}"),
    (
        "step_1e-300",
        _edit("step_per_pulse: 0.5u", "step_per_pulse: 1e-300"),
        "device.step_per_pulse",
        "more than 1e12 pulses",
        "step_per_pulse:",
    ),
    (
        "rate_overflow",
        _edit("  g_min: 1u\n", "  g_min: 1u\n  exponent: 100\n").replace(
            "pulse_amplitude: 5 V", "pulse_amplitude: 4.0001 V"
        ),
        "device.exponent",
        "outside the float range",
        "exponent: 100",
    ),
    (
        "test_fraction_1e-308",
        _edit("test_fraction: 0,", "test_fraction: 1e-308,"),
        "training.dataset.test_fraction",
        "0.05 … 0.95",
        "dataset:",
    ),
    (
        "g_max_1M",
        _edit("g_max: 100u", "g_max: 1M"),
        "device.g_max",
        "write '1m' for milli, or '1meg' or '1e6'",
        "g_max: 1M",
    ),
    (
        "g_max_1meg",
        _edit("g_max: 100u", "g_max: 1meg"),
        "device.g_max",
        "must be ≤ 1 kS",
        "g_max: 1meg",
    ),
    (
        "g_max_10",
        _edit("g_max: 100u", "g_max: 10"),
        "device.g_max",
        "simulation.allow_extreme: true",
        "g_max: 10",
    ),
    (
        "pulse_width_2s",
        _edit("  g_min: 1u\n", "  g_min: 1u\n  pulse_width: 2 s\n"),
        "device.pulse_width",
        "1 ps … 1 s",
        "pulse_width: 2 s",
    ),
    (
        "gain_layers",
        _edit("gain: 4}", "gain: 1000}").replace("layers: [2, 4, 1]", "layers: [2" + ", 4" * 20 + ", 1]")
        + "simulation: {allow_extreme: true}\n",
        "amplifier.gain",
        "within 1e100",
        "amplifier:",
    ),
    (
        "max_cells_0",
        BASE + "simulation: {max_cells: 0}\n",
        "simulation.max_cells",
        "must be ≥ 1",
        "simulation:",
    ),
]


@pytest.mark.parametrize(
    ("text", "path", "fragment", "line"), [e[1:] for e in EXTREME], ids=[e[0] for e in EXTREME]
)
def test_extreme_values_are_refused_at_load_time(text, path, fragment, line):
    """Values that crashed the elaboration or the golden model (ZeroDivisionError, OverflowError,
    ValueError) or were physically absurd are refused with the YAML path and line."""
    with pytest.raises(SpecError) as exc:
        load_spec_text(text, "chip.yaml")
    message = str(exc.value)
    lineno = next(i for i, t in enumerate(text.splitlines(), 1) if line in t)
    assert f"chip.yaml:{lineno}: {path}:" in message, message
    assert fragment in message, message


def test_allow_extreme_admits_plausibility_but_not_hard_bounds():
    absurd = _edit("g_max: 100u", "g_max: 10")  # a 0.1 Ω cell
    with pytest.raises(SpecError, match="allow_extreme"):
        load_spec_text(absurd)
    spec = load_spec_text(absurd + "simulation: {allow_extreme: true}\n")
    assert spec.device.g_max == 10.0
    elaborate(spec)
    with pytest.raises(SpecError, match="must be ≤ 1 kS"):
        load_spec_text(_edit("g_max: 100u", "g_max: 1e4") + "simulation: {allow_extreme: true}\n")


def test_limits_do_not_change_the_spec_hash():
    """Raising a cost limit lets a chip load; it is the same chip (same hash, same build)."""
    from codegen.load import spec_hash

    a = load_spec_text(BASE)
    b = load_spec_text(BASE + "simulation: {max_cells: 20000000, max_nodes: 300000, allow_extreme: true}\n")
    assert spec_hash(a) == spec_hash(b)
    assert spec_hash(a) != spec_hash(load_spec_text(BASE + "simulation: {reltol: 1e-5}\n"))


# --------------------------------------------------------------------------- cost (issue 16)
def _shape(layers, **net) -> str:
    text = BASE.replace("layers: [2, 4, 1]", f"layers: {layers}")
    for key, value in net.items():
        if f"\n  {key}: " in text:
            text = re.sub(rf"^  {key}: .*$", f"  {key}: {value}", text, count=1, flags=re.MULTILINE)
        else:
            text = text.replace("  doubled_outputs: true\n", f"  doubled_outputs: true\n  {key}: {value}\n")
    return text


@pytest.mark.parametrize(
    ("layers", "net"),
    [
        ("[2, 4, 1]", {}),
        ("[2, 3, 5, 1]", {"skip": "[{src: 0, dst: 2}, {src: 1, dst: 3}, {src: 0, dst: 3}]"}),
        (
            "[2, 3, 5, 4, 1]",
            {"skip": "[{src: 1, dst: 3}, {src: 1, dst: 4}, {src: 2, dst: 4}]", "bias": "false"},
        ),
        ("[2, 1]", {"input_doubling": "false", "doubled_outputs": "false"}),
        ("[2, 6, 1]", {"input_doubling": "false"}),
    ],
)
def test_cost_estimate_equals_the_elaborated_chip(layers, net, example):
    """network_cost counts from the numbers alone what elaboration builds: if the elaboration
    changes, this fails and the estimate must follow."""
    from codegen.spec import network_cost

    for spec in (load_spec_text(_shape(layers, **net)), load_spec(example)):
        for enabled in (True, False):
            s = spec.model_copy(update={"amplifier": spec.amplifier.model_copy(update={"enabled": enabled})})
            chip = elaborate(s)
            c = network_cost(s.network, enabled, s.neuron.on_output)
            assert c.cells == sum(xb.size for xb in chip.crossbars)
            assert c.free_nodes == len(chip.free_nodes)
            assert c.nodes == len(chip.sources) + len(chip.free_nodes) + len(chip.amplifiers)
            assert c.largest_array == max([len(chip.free_nodes) ** 2] + [xb.size for xb in chip.crossbars])


def test_default_limits_admit_mnist_and_a_deep_net():
    """784×100×10 with doubled inputs (MNIST) and 100×300×300×300×10 load under the default limits
    (the dataset check after the cost check is the only complaint: no such built-in dataset)."""
    for layers in ("[784, 100, 10]", "[100, 300, 300, 300, 10]"):
        with pytest.raises(SpecError, match="dataset 'xor' needs 2 inputs"):
            load_spec_text(_shape(layers))


@pytest.mark.parametrize(
    ("layers", "limit"),
    [
        ("[2, 100000000, 1]", "beyond what codegen handles"),
        ("[2, 1180591620717411303424, 1]", "beyond what codegen handles"),
        ("[2, 20000, 1]", "simulation: {max_cells: 400080004}"),
        ("[100000, 1000, 1]", "simulation: {max_cells: 200004004}"),
        ("[2, 150000, 1]", "simulation: {max_cells: 22500600004}"),  # the Hessian, before the nodes
    ],
)
def test_huge_networks_are_refused_fast_before_allocating(layers, limit):
    import tracemalloc

    tracemalloc.start()
    t0 = time.perf_counter()
    with pytest.raises(SpecError) as exc:
        load_spec_text(_shape(layers), "chip.yaml")
    elapsed = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    message = str(exc.value)
    assert "chip.yaml:6: network.layers:" in message and "simulation.max_cells" in message, message
    assert limit in message, message
    assert elapsed < 1.0, f"{elapsed:.2f} s"  # [2, 1e8, 1] took minutes, [2, 2**70, 1] 7 GB
    assert peak < 20e6, f"peak {peak / 1e6:.1f} MB"


def test_max_nodes_limit():
    text = _shape("[2, 3000, 1]") + "simulation: {max_nodes: 1000}\n"
    with pytest.raises(SpecError, match="circuit nodes, above the limit simulation.max_nodes = 1000"):
        load_spec_text(text)


def test_elaboration_is_linear_in_layer_width():
    """20 000 hidden nodes took 5.6 s (a list membership test per amplifier): now well under 1 s
    on a quiet machine; 3 s leaves room for a busy one while a quadratic pass would need 20+ s."""
    text = _shape("[2, 20000, 20000, 1]") + "simulation: {max_cells: 10000000000, max_nodes: 1000000}\n"
    spec = load_spec_text(text)
    t0 = time.perf_counter()
    chip = elaborate(spec)
    elapsed = time.perf_counter() - t0
    assert len(chip.amplifiers) == 40000
    assert elapsed < 3.0, f"{elapsed:.2f} s"
