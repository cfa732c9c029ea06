"""Tiny structural readers of the emitted netlists (SPICE/Xyce and Spectre syntax), for tests only.

They flatten subcircuit instances and count primitive elements, and collect the node names that
appear on element and instance lines, independently of the templates that wrote the files.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["flatten_count", "node_names"]

SPECTRE_PRIMITIVES = {"resistor", "vsource", "vcvs", "cccs", "vccs", "eqp_memristor"}


def _logical_lines(text: str, spectre: bool) -> list[str]:
    out: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("*") or line.startswith("//"):
            continue
        if line.startswith("+") and out:
            out[-1] += " " + line[1:]
        else:
            out.append(line)
    return out


def _parse(files: Mapping[str, str], spectre: bool) -> tuple[dict[str, list[str]], list[str], set[str]]:
    """Subckt bodies, top-level lines (of every file) and model names."""
    subckts: dict[str, list[str]] = {}
    top: list[str] = []
    models: set[str] = set()
    for text in files.values():
        cur: list[str] | None = None
        for line in _logical_lines(text, spectre):
            low = line.lower()
            toks = low.replace("(", " ").replace(")", " ").split()
            if spectre:
                if toks[0] == "subckt":
                    cur = subckts.setdefault(toks[1], [])
                    continue
                if toks[0] == "ends":
                    cur = None
                    continue
                if toks[0] == "model":
                    models.add(toks[1])
                    continue
                if (
                    toks[0] in ("simulator", "global", "include", "ahdl_include", "parameters")
                    or "options" in toks[:2]
                    or toks[1:2] == ["dc"]
                ):
                    continue
            else:
                if toks[0] == ".subckt":
                    cur = subckts.setdefault(toks[1], [])
                    continue
                if toks[0] == ".ends":
                    cur = None
                    continue
                if toks[0] == ".model":
                    models.add(toks[1])
                    continue
                if toks[0].startswith(".") or toks[0] == "pre_osdi":
                    continue
            (cur if cur is not None else top).append(line)
    return subckts, top, models


def _master(line: str, spectre: bool) -> tuple[str, list[str]]:
    """(master or element letter, node names) of one element/instance line."""
    low = line.lower()
    if spectre:
        m = re.match(r"^(\S+)\s*\(([^)]*)\)\s*(\S+)", low)
        assert m, line
        return m.group(3), m.group(2).split()
    toks = low.split()
    kind = toks[0][0]
    if kind == "x":
        return toks[-1], toks[1:-1]
    n_nodes = {"r": 2, "d": 2, "v": 2, "e": 4, "g": 4, "f": 2, "n": 2}[kind]
    return kind, toks[1 : 1 + n_nodes]


def flatten_count(files: Mapping[str, str], top: str, spectre: bool = False) -> int:
    """Primitive elements (R, D, V, E, F, G, N) of ``files[top]`` with its includes, subckts flattened."""
    subckts, _, models = _parse(files, spectre)
    _, top_lines, _ = _parse({top: files[top]}, spectre)

    def count(lines: list[str]) -> int:
        n = 0
        for line in lines:
            master, _ = _master(line, spectre)
            if master in subckts:
                n += count(subckts[master])
            elif spectre:
                assert master in SPECTRE_PRIMITIVES or master in models, line
                n += 1
            else:
                n += 1
        return n

    return count(top_lines)


def node_names(files: Mapping[str, str], spectre: bool = False) -> set[str]:
    """Every node name on an element or instance line, or in a subckt's port list (lower case)."""
    subckts, top, _ = _parse(files, spectre)
    names: set[str] = set()
    for lines in [top, *subckts.values()]:
        for line in lines:
            names.update(_master(line, spectre)[1])
    return names
