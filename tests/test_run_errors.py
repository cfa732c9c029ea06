"""The runners' error messages say what happened: a bad ``NGSPICE_LIBRARY_PATH``, openvaf-r without
a linker, and ngspice failures quote ngspice's error lines (never a success note such as
"Transient op finished successfully")."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from codegen.errors import CodegenError
from codegen.run.ngspice_tran import NgspiceError, NgspiceFailed, error_lines, run_ngspice
from codegen.run.tools import ToolMissing, openvaf_failure

ROOT = Path(__file__).resolve().parents[1]

# --------------------------------------------------------------------------- NGSPICE_LIBRARY_PATH


def _not_ngspice_library() -> str:
    """A real shared library that is not libngspice (numpy's C core)."""
    return str(next(Path(np.__file__).parent.rglob("_multiarray_umath*.so")))


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda tmp: str(tmp / "nowhere" / "libngspice.so.0"), "no such file"),
        (lambda tmp: str(tmp), "is a folder"),
        (lambda tmp: (tmp / "junk.so").write_text("junk") and str(tmp / "junk.so"), "could not be loaded"),
        (lambda tmp: _not_ngspice_library(), "is a shared library but not libngspice"),
    ],
    ids=["missing", "folder", "junk", "other-library"],
)
def test_bad_ngspice_library_path_is_a_clear_error(tmp_path, make, message):
    """``train --backend spice`` loads libngspice (PySpice shared mode): a bad variable gets exit 2
    and a message naming it, the path tried and the fix, instead of a cffi traceback."""
    lib = make(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NGSPICE_LIBRARY_PATH": lib}
    argv = [sys.executable, "-m", "codegen", "train", str(ROOT / "examples" / "kiraz_case1.yaml")]
    argv += ["--backend", "spice", "--epochs", "1", "--no-baseline", "-q", "-o", str(tmp_path / "out")]
    proc = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert message in proc.stderr and "NGSPICE_LIBRARY_PATH" in proc.stderr and lib in proc.stderr
    assert "libngspice.so.0" in proc.stderr  # what it must name
    assert not list((tmp_path / "out").glob("*")) if (tmp_path / "out").exists() else True


# --------------------------------------------------------------------------- openvaf-r


@pytest.mark.openvaf
def test_openvaf_without_a_linker_says_which_package_gives_one(tmp_path, monkeypatch):
    """openvaf-r exits 0 and prints "linker not found" when ``ld`` is not on PATH; the message
    used to read "openvaf-r failed … (exit 0)"."""
    from codegen.backends.veriloga import compile_va

    monkeypatch.setenv("PATH", str(tmp_path))  # no ld, no cc
    src = '`include "disciplines.vams"\nmodule r(a, b); inout a, b; electrical a, b;\n'
    src += f"analog I(a, b) <+ V(a, b) / 1e3; // {tmp_path.name}\nendmodule\n"  # unique: not cached
    with pytest.raises(ToolMissing) as exc:
        compile_va(src, "nolinker")
    text = str(exc.value)
    assert "nolinker.va" in text and "could not link" in text
    assert "`ld`" in text and "binutils" in text and "apt-get install binutils" in text
    assert "exit 0" not in text and "failed on" not in text
    assert "linker not found" in text  # openvaf-r's own words are quoted


def test_openvaf_failure_never_reports_exit_0_as_a_failure_status():
    e = openvaf_failure("m.va", 0, "")
    assert "exited with status 0 but wrote no .osdi file" in str(e) and "(exit 0)" not in str(e)
    e = openvaf_failure("m.va", 1, "error: unexpected token\n  --> m.va:3:1")
    assert "exited with status 1" in str(e) and "unexpected token" in str(e)
    assert not isinstance(e, ToolMissing) and isinstance(e, CodegenError)


# --------------------------------------------------------------------------- ngspice logs

# what ngspice 46 prints when the transient operating point succeeds (optran) and the
# transient itself then fails; batch mode adds its generic "no simulations run" lines
FAILED_TRAN_LOG = """\
Circuit: * fails

Doing analysis at TEMP = 27.000000 and TNOM = 27.000000
Note: Starting dynamic gmin stepping
Note: Dynamic gmin stepping completed
Note: Transient op started
Transient op finished successfully
doAnalyses: TRAN:  Timestep too small; time = 5.5496e-10, timestep = 1.25e-24: trouble with node "2"

run simulation(s) aborted
Error: no such vector v(2)
Error: incomplete or empty netlist
       or no ".plot", ".print", or ".fourier" lines in batch mode;
no simulations run!
No. of Data Rows : 567
Note: Simulation executed from .control section
"""


def test_error_lines_are_the_errors_not_the_success_notes():
    lines = error_lines(FAILED_TRAN_LOG)
    assert lines == [
        'doAnalyses: TRAN:  Timestep too small; time = 5.5496e-10, timestep = 1.25e-24: trouble with node "2"',
        "run simulation(s) aborted",
        "Error: no such vector v(2)",
    ]


def _fake_ngspice(tmp_path: Path, log: str, status: int) -> list[str]:
    """An ``ngspice`` that prints ``log`` (success notes last, as a real log may end) and exits ``status``."""
    (tmp_path / "fake.log").write_text(log)
    exe = tmp_path / "ngspice"
    exe.write_text(f"#!/bin/sh\ncat {tmp_path / 'fake.log'}\nexit {status}\n")
    exe.chmod(0o755)
    return [str(exe)]


@pytest.mark.parametrize("status", [1, 0])
def test_run_ngspice_failure_quotes_the_error_lines(tmp_path, monkeypatch, status):
    import codegen.run.ngspice_tran as nt

    log = FAILED_TRAN_LOG + "Note: Transient op finished successfully\n"  # ends on a success note
    monkeypatch.setattr(nt, "ngspice_command", lambda: _fake_ngspice(tmp_path, log, status))
    wd = tmp_path / "run"
    wd.mkdir()
    with pytest.raises(NgspiceFailed) as exc:
        run_ngspice("* deck\n.end\n", wd, outputs={"g.txt": ["v(2)"]})
    text = str(exc.value)
    assert "Timestep too small" in text and 'trouble with node "2"' in text
    assert "finished successfully" not in text and "completed" not in text
    assert "no simulations run" not in text and "No. of Data Rows" not in text
    assert ("exited with status 1" in text) if status else ("reported errors" in text)
    assert "(exit 0)" not in text


def test_run_batch_without_an_operating_point_quotes_the_error_lines(tmp_path, monkeypatch):
    """The operating-point runner of the spice backend: no values printed → the error lines, and
    no "exit 0" beside "no operating point"."""
    import codegen.run.ngspice_tran as nt
    from codegen.elab import elaborate
    from codegen.load import load_spec
    from codegen.run.ngspice import netlist_files, run_batch

    log = (
        "Note: Transient op started\nError: Transient op failed, timestep too small\n"
        "doAnalyses: OP:  Timestep too small; trouble with dm-instance d1\nop simulation(s) aborted\n"
        "Note: Transient op finished successfully\n"
    )
    monkeypatch.setattr(nt, "ngspice_command", lambda: _fake_ngspice(tmp_path, log, 0))
    chip = elaborate(load_spec(ROOT / "examples" / "xor.yaml"))
    with pytest.raises(NgspiceError) as exc:
        run_batch(chip, netlist_files(chip), "free", x=np.zeros(chip.n_inputs), workdir=tmp_path / "run")
    text = str(exc.value)
    assert "found no operating point for phase free" in text and "printed no value of" in text
    assert "Transient op failed, timestep too small" in text and "trouble with dm-instance d1" in text
    assert "finished successfully" not in text and "(exit 0" not in text


@pytest.mark.ngspice
def test_real_ngspice_transient_failure_quotes_its_errors(tmp_path):
    """A transient whose operating point cannot be found (real ngspice 46)."""
    deck = """* runaway
V1 1 0 PULSE(0 1 0 1e-12 1e-12 1n 2n)
R1 1 2 1k
C1 2 0 1e-12
B1 0 2 I=1e-3*exp(40*V(2))
.options itl1=2 gminsteps=0 srcsteps=0
.tran 1p 10n
.control
run
wrdata g.txt v(2)
.endc
.end
"""
    with pytest.raises(NgspiceFailed) as exc:
        run_ngspice(deck, tmp_path, outputs={"g.txt": ["v(2)"]})
    text = str(exc.value)
    assert "Timestep too small" in text and "trouble with node" in text
    assert "No. of Data Rows" not in text and "no simulations run" not in text


def test_shared_session_quotes_only_what_this_op_printed(monkeypatch):
    """libngspice (PySpice) keeps every line of the process' session: an earlier analysis'
    "Transient op finished successfully" must not be quoted as the reason this ``op`` failed."""
    import codegen.run.ngspice as ngmod
    from codegen.elab import elaborate
    from codegen.load import load_spec

    class FakeShared:
        def __init__(self):
            self._stdout = ["Transient op finished successfully", "No. of Data Rows : 10"]
            self._stderr = ["Note: Transient op finished successfully"]
            self.last_plot = "tran1"

        def exec_command(self, cmd):
            if cmd == "op":
                self._stderr += ["Warning: singular matrix:  check node 2", "op simulation(s) aborted"]
                raise RuntimeError("Command 'op' failed")
            return ""

    chip = elaborate(load_spec(ROOT / "examples" / "xor.yaml"))
    s = object.__new__(ngmod.SharedSession)
    s.chip, s.top, s.where, s.ng, s._state = chip, "free", "spice/free.sp", FakeShared(), {}
    monkeypatch.setattr(ngmod, "_ACTIVE", id(s))
    with pytest.raises(NgspiceError) as exc:
        s.op(np.zeros(chip.n_inputs))
    text = str(exc.value)
    assert "found no operating point for phase free of spice/free.sp" in text
    assert "singular matrix" in text and "op simulation(s) aborted" in text
    assert "finished successfully" not in text and "Data Rows" not in text
