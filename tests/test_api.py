"""The public API re-exported from ``codegen`` (codegen/api.py) and its example in docs/api.md."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

import codegen
from codegen.errors import CodegenError, SpecError

ROOT = Path(__file__).resolve().parents[1]
XOR = ROOT / "examples" / "xor.yaml"


def _doc_blocks() -> list[str]:
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "api.md").read_text(), re.S)
    assert len(blocks) == 2, "docs/api.md: the example and its ngspice part"
    return blocks


def _run_python(code: str, cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    return out


def test_docs_example_runs(tmp_path):
    out = _run_python(_doc_blocks()[0], tmp_path)
    assert "<dict>: device.g_mni: unknown key 'g_mni'; did you mean 'g_min'? allowed here: kind, g_min" in out
    assert re.search(r"train loss \S+ → \S+ V², accuracy 100%", out)
    assert (tmp_path / "build" / "myxor" / "manifest.json").is_file()
    assert (tmp_path / "build" / "myxor" / "cocotb" / "Makefile").is_file()


@pytest.mark.ngspice
def test_docs_example_with_ngspice(tmp_path):
    out = _run_python("\n".join(_doc_blocks()), tmp_path)
    assert "ngspice matches the golden model: True" in out and "co-simulation: PASS" in out
    assert (tmp_path / "build" / "myxor" / "cosim" / "cosim.png").is_file()


def test_public_names_are_listed_and_import_lazily():
    assert sorted(codegen.__all__) == sorted(["__version__", *codegen._LAZY])
    for name in codegen.__all__:
        assert getattr(codegen, name) is not None, name
    for name in ("load_spec", "load_chip", "write_build", "golden_model", "train", "run_check", "run_cosim"):
        assert callable(getattr(codegen, name)) and name in codegen.__all__
    code = "import sys, codegen; print(sorted(m for m in ('numpy', 'pydantic', 'scipy') if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
    )
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
    with pytest.raises(AttributeError):
        codegen.no_such_name  # noqa: B018


def test_public_names_are_not_shadowed_by_submodules():
    """Importing a submodule sets it as an attribute of the package: a public function named like a
    submodule (codegen/build.py, codegen/cosim/) would turn into that module once it is imported."""
    import pkgutil

    import codegen.build  # noqa: F401 - the imports that would shadow
    import codegen.cosim.report  # noqa: F401

    submodules = {m.name for m in pkgutil.iter_modules(codegen.__path__)}
    assert submodules & set(codegen.__all__) == set()
    assert callable(codegen.write_build) and callable(codegen.run_cosim) and callable(codegen.train)


def test_load_from_dict_equals_load_from_file():
    data = yaml.safe_load(XOR.read_text())
    assert codegen.load_spec(data) == codegen.load_spec(XOR)
    assert codegen.load_chip(data).spec_hash == codegen.load_chip(XOR).spec_hash
    spec = codegen.load_spec(XOR)
    assert codegen.load_spec(spec) is spec
    chip = codegen.load_chip(spec)
    assert codegen.load_chip(chip) is chip


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda d: d["device"].update(colour="red"),
            "<dict>: device.colour: unknown key 'colour'; allowed here: kind, g_min",
        ),
        (
            lambda d: d["device"].pop("g_min"),
            "<dict>: device.g_min: required key is missing (lower conductance bound (S, ",
        ),
        (
            lambda d: d["neuron"].update(kind="sigmoid"),
            "<dict>: neuron.kind: unknown neuron kind 'sigmoid'; allowed: diode_pair, relu_clamp",
        ),
        (lambda d: d["device"].update(g_min="1 V"), "<dict>: device.g_min: "),
    ],
)
def test_dict_errors_are_the_loaders_messages(change, expected):
    data = yaml.safe_load(XOR.read_text())
    change(data)
    with pytest.raises(SpecError) as info:
        codegen.load_spec(data)
    text = str(info.value)
    assert text.startswith(expected), text
    assert "validation error" not in text and "pydantic" not in text  # not pydantic's raw report
    assert all(p.line is None for p in info.value.problems)


def test_dict_errors_name_the_source():
    with pytest.raises(SpecError, match=r"^mine: network: required key is missing"):
        codegen.load_spec({"name": "x"}, name="mine")
    with pytest.raises(CodegenError, match="path to chip.yaml, a dict"):
        codegen.load_spec(42)  # type: ignore[arg-type]


def test_train_on_arrays_checks_shapes():
    x = np.zeros((4, 3))
    with pytest.raises(CodegenError, match=r"takes 2 inputs and gives 1 outputs"):
        codegen.train(XOR, x, np.zeros((4, 1)), epochs=1)


def test_train_on_arrays_matches_the_chip_dataset():
    """The xor dataset given as arrays trains exactly as the chip's own dataset does."""
    from codegen.learn.datasets import load_dataset

    chip = codegen.load_chip(XOR)
    ds = load_dataset(chip)
    a = codegen.train(chip, epochs=3)
    b = codegen.train(chip, ds.x_train, ds.t_train, labels_train=ds.labels_train, epochs=3)
    assert [m.train_loss for m in a.history] == [m.train_loss for m in b.history]
    assert [m.train_acc for m in a.history] == [m.train_acc for m in b.history]
    for k in a.g_final:
        np.testing.assert_array_equal(a.g_final[k], b.g_final[k])


def test_examples_and_example():
    assert "xor" in codegen.examples() and codegen.example("xor") == codegen.example("xor.yaml")
    assert codegen.example("xor").read_text() == XOR.read_text()
