"""``codegen examples`` / ``codegen init`` and the package data an installed wheel needs
(examples, schema, templates, rtl, sim, analog)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import jsonschema
import pytest
import yaml

from codegen.cli import main
from codegen.cli.examples import find_example, list_examples
from codegen.cli.init import SCHEMA_FILE, format_init
from codegen.cli.schema import schema_text
from codegen.errors import CodegenError
from codegen.load import load_spec

ROOT = Path(__file__).resolve().parents[1]


def test_examples_lists_every_example_with_its_description(capsys):
    assert main(["examples"]) == 0
    out = capsys.readouterr().out
    files = sorted(
        p.relative_to(ROOT / "examples").with_suffix("").as_posix()
        for p in (ROOT / "examples").rglob("*.yaml")
    )
    assert sorted(ex.name for ex in list_examples()) == files
    for ex in list_examples():
        desc = yaml.safe_load(ex.path.read_text())["description"]
        assert desc and any(line.split() == [ex.name, *desc.split()] for line in out.splitlines()), ex.name
    assert "codegen init" in out


def test_find_example_accepts_short_names_and_suggests():
    assert find_example("xor.yaml").name == "xor"
    assert find_example("xor_sign").name == "sign_pulse/xor_sign"
    with pytest.raises(CodegenError, match=r"did you mean 'iris'"):
        find_example("irs")


def test_init_writes_a_chip_editors_can_validate(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["init", "mychip", "--from", "xor"]) == 0
    text = (tmp_path / "mychip.yaml").read_text()
    assert text.splitlines()[0] == f"# yaml-language-server: $schema={SCHEMA_FILE}"
    # the modeline's path is relative to the yaml file and the schema lies there: works offline
    schema = tmp_path / SCHEMA_FILE
    assert schema.read_text() == schema_text()
    data = yaml.safe_load(text)
    jsonschema.validate(data, json.loads(schema.read_text()))
    spec = load_spec(tmp_path / "mychip.yaml")
    assert spec.name == "mychip"
    # the rest is the example, unchanged
    xor = load_spec(ROOT / "examples" / "xor.yaml")
    assert spec.model_dump(exclude={"name"}) == xor.model_dump(exclude={"name"})
    assert "codegen build" in capsys.readouterr().out
    assert format_init("mychip", "xor") == text  # deterministic


def test_init_default_and_out_dir(tmp_path):
    assert main(["init", "k1", "-o", str(tmp_path / "new" / "dir")]) == 0
    spec = load_spec(tmp_path / "new" / "dir" / "k1.yaml")
    assert spec.name == "k1" and spec.training.dataset.name == "kiraz_case1"


def test_init_refuses_to_overwrite(tmp_path, capsys):
    target = tmp_path / "mychip.yaml"
    target.write_text("mine\n")
    assert main(["init", "mychip", "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert str(target) in err and "not overwritten" in err and "Traceback" not in err
    assert target.read_text() == "mine\n"
    assert not (tmp_path / SCHEMA_FILE).exists()


def test_init_keeps_a_different_schema_file(tmp_path, capsys):
    (tmp_path / SCHEMA_FILE).write_text("{}\n")
    assert main(["init", "a1", "-o", str(tmp_path)]) == 0
    assert (tmp_path / SCHEMA_FILE).read_text() == "{}\n"
    assert "codegen schema -o" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["init", "9lives"], "chip name '9lives'"),
        (["init", "my-chip"], "chip name 'my-chip'"),
        (["init", "ok", "--from", "xorr"], "did you mean 'xor'"),
    ],
)
def test_init_bad_input_exits_2_and_writes_nothing(tmp_path, capsys, argv, message):
    assert main([*argv, "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- the wheel
DATA = ("examples", "schema", "templates", "rtl", "sim", "analog")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """``pip wheel . --no-deps`` of this checkout (about 10 s; hatchling comes from the index)."""
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (whl,) = out.glob("eqprop_codegen-*.whl")
    return whl


def test_wheel_ships_the_data_folders(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder in DATA:
        src = sorted(
            p.relative_to(ROOT / folder).as_posix()
            for p in (ROOT / folder).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        )
        assert src, folder
        missing = [f for f in src if f"codegen/_data/{folder}/{f}" not in names]
        assert missing == [], f"{folder}: not in the wheel: {missing}"
    assert "codegen/py.typed" in names
    schema = zipfile.ZipFile(wheel).read("codegen/_data/schema/chip.schema.json").decode()
    assert schema == schema_text()


def _run(argv: list[str], cwd: Path, env: dict[str, str], timeout: int = 900) -> str:
    proc = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{' '.join(argv)} exited {proc.returncode}:\n{out[-3000:]}"
    return out


@pytest.mark.slow
@pytest.mark.ngspice
@pytest.mark.icarus
def test_installed_wheel_newcomer_flow(wheel, tmp_path):
    """A fresh venv with only the wheel (and its dependencies), outside the checkout: init, build,
    check, rtl-test, train, and ``make`` in the generated cocotb folder (several minutes)."""
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    _run([str(py), "-m", "pip", "install", "-q", f"{wheel}[spice,rtl,learn]"], tmp_path, dict(os.environ))
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "VIRTUAL_ENV") and not k.startswith("PYTEST_")
    }
    env["PATH"] = f"{env_dir / 'bin'}{os.pathsep}/usr/local/bin:/usr/bin:/bin"
    work = tmp_path / "work"
    work.mkdir()
    where = _run([str(py), "-c", "import codegen; print(codegen.__file__)"], work, env)
    assert str(env_dir) in where and str(ROOT) not in where
    codegen = str(env_dir / "bin" / "codegen")
    assert "xor" in _run([codegen, "examples"], work, env)
    _run([codegen, "init", "mychip", "--from", "xor"], work, env)
    _run([codegen, "build", "mychip.yaml"], work, env)
    assert (work / "build" / "mychip" / "cocotb" / "Makefile").is_file()
    _run([codegen, "check", "mychip.yaml"], work, env)
    _run([codegen, "rtl-test", "mychip.yaml"], work, env)
    _run([codegen, "train", "mychip.yaml", "--epochs", "5"], work, env)
    assert (work / "build" / "mychip" / "train" / "training.png").is_file()
    assert "TESTS=5 PASS=5 FAIL=0" in _run(["make"], work / "build" / "mychip" / "cocotb", env)
    _run([codegen, "schema", "-o", "s.json"], work, env)
    assert (work / "s.json").read_text() == schema_text()
