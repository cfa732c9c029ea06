"""Tool discovery lives in :mod:`codegen.tools` (so that :mod:`codegen.backends` need not import
:mod:`codegen.run`); this module re-exports it for the runners and existing callers."""

from __future__ import annotations

from ..tools import (
    LIBNGSPICE_CANDIDATES,
    ToolMissing,
    iverilog_command,
    libngspice_load_error,
    libngspice_path,
    ngspice_command,
    openvaf_command,
    openvaf_failure,
    tool_version,
    venv_bin,
    verilator_command,
    yosys_command,
)

__all__ = [
    "LIBNGSPICE_CANDIDATES",
    "ToolMissing",
    "iverilog_command",
    "libngspice_load_error",
    "libngspice_path",
    "ngspice_command",
    "openvaf_command",
    "openvaf_failure",
    "tool_version",
    "venv_bin",
    "verilator_command",
    "yosys_command",
]
