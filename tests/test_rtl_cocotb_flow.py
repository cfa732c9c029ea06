"""The generated cocotb/ folder runs on its own: ``make`` (cocotb's makefile flow) and
``python test_runner.py`` (cocotb_tools.runner), without ``codegen rtl-test``."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

from codegen.backends import BuildOptions, get_backend
from codegen.backends.rtl import design
from codegen.elab import elaborate
from codegen.load import load_spec

ROOT = Path(__file__).resolve().parents[1]


def _write_rtl(tmp_path: Path, name: str = "xor") -> Path:
    """The rtl backend's files of an example under ``tmp_path`` (as ``codegen build`` lays them out)."""
    chip = elaborate(load_spec(ROOT / "examples" / f"{name}.yaml"))
    for rel, text in get_backend("rtl").render(chip, BuildOptions()).items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text if isinstance(text, str) else text.decode())
    return tmp_path / "cocotb"


def _env() -> dict[str, str]:
    """PATH with this interpreter's bin first (cocotb-config), and the checkout importable as codegen."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COCOTB_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(ROOT)
    return env


def _results(path: Path) -> dict[str, bool]:
    root = ElementTree.parse(path).getroot()
    return {
        c.get("name", "?"): c.find("failure") is None and c.find("error") is None
        for c in root.iter("testcase")
    }


@pytest.mark.parametrize("name", ["xor", "kiraz_case1"])
def test_makefile_follows_cocotb_conventions(tmp_path, name):
    cocotb = _write_rtl(tmp_path, name)
    text = (cocotb / "Makefile").read_text()
    d = design(name, elaborate(load_spec(ROOT / "examples" / f"{name}.yaml")).controller)
    assert re.search(r"^SIM \?= icarus$", text, re.M)
    assert re.search(r"^TOPLEVEL_LANG \?= verilog$", text, re.M)
    assert re.search(rf"^COCOTB_TOPLEVEL = {d.top}$", text, re.M)
    assert re.search(rf"^COCOTB_TEST_MODULES = {d.test_module}$", text, re.M)
    assert text.rstrip().endswith("include $(shell cocotb-config --makefiles)/Makefile.sim")
    # every source, in compile order, relative to the Makefile; each exists there
    sources = re.findall(r"^VERILOG_SOURCES \+= \$\(HERE\)(\S+)$", text, re.M)
    assert sources == [f"../{p}" for p in d.rtl_files]
    assert all((cocotb / s).is_file() for s in sources)
    assert str(tmp_path) not in text and str(ROOT) not in text
    runner = (cocotb / "test_runner.py").read_text()
    assert "cocotb_tools.runner" in runner and '"verilator"' in runner
    assert (cocotb / "eqp_pulse_tb.py").is_file() and (cocotb / f"{d.test_module}.py").is_file()


@pytest.mark.icarus
@pytest.mark.slow
def test_make_runs_every_test(tmp_path):
    """``make`` in the generated folder, as a cocotb user would type it (about 30 s)."""
    if not shutil.which("make"):
        pytest.skip("make not on PATH")
    cocotb = _write_rtl(tmp_path)
    proc = subprocess.run(
        ["make"], cwd=cocotb, env=_env(), capture_output=True, text=True, timeout=600, check=False
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    res = _results(cocotb / "results.xml")
    assert res == {
        "test_reset_state": True,
        "test_random_codes": True,
        "test_back_to_back": True,
        "test_extreme_codes": True,
        "test_reset_mid_update": True,
    }


@pytest.mark.icarus
def test_test_runner_icarus(tmp_path):
    """``python test_runner.py icarus test_reset_state test_random_codes`` from another folder."""
    cocotb = _write_rtl(tmp_path)
    proc = subprocess.run(
        [sys.executable, str(cocotb / "test_runner.py"), "icarus", "test_reset_state", "test_random_codes"],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "xor_pulse_ctrl under icarus: 2/2 tests passed" in out
    assert _results(cocotb / "sim_build" / "icarus" / "results.xml") == {
        "test_reset_state": True,
        "test_random_codes": True,
    }


@pytest.mark.icarus
def test_test_runner_fails_on_a_broken_design(tmp_path):
    """A DUT that never leaves reset fails the run (exit 1), it is not reported as passing."""
    cocotb = _write_rtl(tmp_path)
    top = tmp_path / "rtl" / "xor_pulse_ctrl.v"
    text = top.read_text()
    broken = re.sub(r"assign\s+busy\s*=[^;]*;", "assign busy = 1'b1;", text, count=1)
    assert broken != text
    top.write_text(broken)
    proc = subprocess.run(
        [sys.executable, str(cocotb / "test_runner.py"), "icarus", "test_random_codes"],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 1, (proc.stdout + proc.stderr)[-3000:]


@pytest.mark.verilator
@pytest.mark.slow
def test_test_runner_verilator(tmp_path):
    """The same tests under Verilator (the Verilator build takes about two minutes here)."""
    cocotb = _write_rtl(tmp_path)
    proc = subprocess.run(
        [sys.executable, str(cocotb / "test_runner.py"), "verilator", "test_reset_state"],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "under verilator: 1/1 tests passed" in out
