"""Backend ``veriloga``: rendering, golden files, openvaf-r compilation (no warnings, deterministic)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from codegen.backends import BuildOptions, get_backend
from codegen.backends.veriloga import MODULES, compile_va, render_sources
from codegen.elab import elaborate
from codegen.load import load_spec
from codegen.units import spice_float

ROOT = Path(__file__).resolve().parents[1]
XOR = ROOT / "examples" / "xor.yaml"


def _chip(path: Path):
    return elaborate(load_spec(path))


def test_render_lists_every_module_without_compiling():
    files = get_backend("veriloga").render(_chip(XOR), BuildOptions(compile=False))
    assert sorted(files) == sorted(f"veriloga/{m}.va" for m in MODULES)
    for path, text in files.items():
        mod = Path(path).stem
        assert re.search(rf"^module {mod}\(", text, re.M), path
        assert "module memristor" not in text  # ngspice built-in name (docs/toolchain.md)


@pytest.mark.parametrize("case", ["xor"])
def test_golden_veriloga(case, golden):
    chip = _chip(ROOT / "examples" / f"{case}.yaml")
    for mod, text in render_sources(chip).items():
        golden(f"veriloga/{case}/{mod}.va", text)


def test_parameter_defaults_come_from_the_ir(example):
    chip = _chip(example)
    src = render_sources(chip)
    d = chip.device
    mem = src["eqp_memristor"]
    for name, value in [
        ("g_min", d.g_min_S),
        ("g_max", d.g_max_S),
        ("v_set", d.v_set_V),
        ("v_reset", d.v_reset_V),
        ("k_set", d.k_set_per_s),
        ("k_reset", d.k_reset_per_s),
        ("exponent", d.exponent),
    ]:
        assert f"parameter real {name} = {spice_float(value)} " in mem, name
    assert f"parameter integer soft_bounds = {int(d.soft_bounds)} " in mem
    assert f"parameter real beta = {spice_float(chip.nudge.beta_S)};" in src["eqp_nudge"]
    nrn = next(layer.neuron for layer in chip.layers if layer.neuron is not None)
    assert f"parameter real is = {spice_float(nrn.diode.is_A)} " in src["eqp_neuron"]
    assert f"parameter real v_high = {spice_float(nrn.v_high_V)};" in src["eqp_neuron"]


def test_per_instance_parameters_are_marked():
    src = render_sources(_chip(XOR))
    for mod, names in {
        "eqp_memristor": ("w0", "g0"),
        "eqp_amplifier": ("gain",),
        "eqp_nudge": ("beta", "t"),
    }.items():
        for name in names:
            assert re.search(rf'\(\*type="instance"[^*]*\*\)\s*\n\s*parameter real {name} =', src[mod]), (
                mod,
                name,
            )


@pytest.mark.openvaf
def test_every_model_compiles_without_warnings(example):
    for mod, text in render_sources(_chip(example)).items():
        osdi, diagnostics = compile_va(text, mod)
        assert diagnostics == "", f"{example.stem}/{mod}: openvaf-r said:\n{diagnostics}"
        assert osdi[:4] == b"\x7fELF", mod


@pytest.mark.openvaf
def test_compile_reports_warnings():
    # the no-warnings check above can fail: openvaf-r warns about a redefined macro
    src = (
        '`include "disciplines.vams"\n`define S 1e-3\n`define S 2e-3\n'
        "module w(p); inout p; electrical p; analog I(p) <+ V(p)*`S; endmodule\n"
    )
    _, diagnostics = compile_va(src, "w")
    assert "warning" in diagnostics and "overwritten" in diagnostics
    assert "\x1b[" not in diagnostics  # colour codes stripped


@pytest.mark.openvaf
def test_compile_error_is_a_codegen_error():
    from codegen.errors import CodegenError

    with pytest.raises(CodegenError, match="openvaf-r failed on bad.va"):
        compile_va("module bad(p); analog I(p) <+ ; endmodule\n", "bad")


@pytest.mark.openvaf
def test_compiled_build_is_byte_deterministic():
    chip = _chip(XOR)
    backend = get_backend("veriloga")
    a = backend.render(chip, BuildOptions())
    compile_va.cache_clear()  # compile again for real
    b = backend.render(chip, BuildOptions())
    assert sorted(a) == sorted([f"veriloga/{m}.{ext}" for m in MODULES for ext in ("va", "osdi")])
    assert a == b  # compiled in two different temporary folders
    for path, content in a.items():
        data = content.encode() if isinstance(content, str) else content
        assert b"eqp-openvaf-" not in data and b"/tmp/" not in data, path  # no temporary paths
    assert (
        "openvaf-r" in backend.tool_versions()["openvaf-r"].lower()
        or "openvaf" in backend.tool_versions()["openvaf-r"].lower()
    )
