"""User-facing errors: one clear message naming the file, the YAML path and line, and what is allowed."""

from __future__ import annotations

__all__ = ["BuildDirError", "CodegenError", "SpecError", "SpecProblem", "unknown_key_message"]

import difflib
from collections.abc import Iterable
from dataclasses import dataclass


def unknown_key_message(key: object, allowed: Iterable[str]) -> str:
    """``unknown key 'g_mn'; did you mean 'g_min'? allowed here: g_min, g_max, …``: the suggestion
    is :func:`difflib.get_close_matches`' closest allowed key, left out when none is close."""
    names = list(allowed)
    close = difflib.get_close_matches(key, names, n=1, cutoff=0.6) if isinstance(key, str) else []
    shown = repr(key) if len(repr(key)) <= 80 else repr(key)[:79] + "…"
    guess = f"; did you mean {close[0]!r}?" if close else ";"
    return f"unknown key {shown}{guess} allowed here: {', '.join(names) or '?'}"


class CodegenError(Exception):
    """An error the CLI reports as one message and exit code 2 (no traceback)."""

    exit_code = 2


@dataclass(frozen=True)
class SpecProblem:
    """One problem in a chip.yaml: ``path`` is dotted (``device.g_min``), ``line`` is 1-based or None."""

    path: str
    line: int | None
    message: str

    def format(self, file: str) -> str:
        where = f"{file}:{self.line}" if self.line else file
        # a problem of the whole file (no YAML path) is said against the file name alone
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class SpecError(CodegenError):
    """chip.yaml could not be loaded; carries every problem found."""

    def __init__(self, file: str, problems: list[SpecProblem]):
        self.file = file
        self.problems = problems
        super().__init__("\n".join(p.format(file) for p in problems))


class BuildDirError(CodegenError):
    """The build (or output) folder cannot be written safely: a path outside it, a symlink or
    non-regular file in the way, a foreign manifest, another build holding the lock, or an
    ``OSError`` (read-only, full disk) while writing.  Nothing outside the folder was touched."""
