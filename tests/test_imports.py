"""The import graph of codegen/ (module-level imports, read with ast): no cycle, and the layers
point one way: codegen.backends never imports codegen.run (tool discovery is codegen.tools), and
model/conductances.py does not import the backends (the old backends ↔ conductances circle)."""

from __future__ import annotations

import ast
from pathlib import Path

import codegen

ROOT = Path(codegen.__file__).resolve().parent


def _modules() -> dict[str, Path]:
    out = {}
    for f in sorted(ROOT.rglob("*.py")):
        parts = list(f.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = f
    return out


def _imports(
    mod: str, path: Path, mods: dict[str, Path], type_checking: bool, everywhere: bool = False
) -> set[str]:
    """codegen modules ``mod`` imports at module level (``if TYPE_CHECKING:`` blocks too when
    ``type_checking``; with ``everywhere`` every import statement in the file, inside functions and
    classes too); ``from pkg import sub`` counts as the submodule, ``import a.b.c`` as a.b.c
    and its packages; a module's own packages are left out (Python imports them first anyway)."""
    is_pkg = path.name == "__init__.py"
    tree = ast.parse(path.read_text())
    body = list(tree.body)
    nodes: list[ast.stmt] = []
    if everywhere:
        nodes = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
        body = []
    while body:
        n = body.pop(0)
        if isinstance(n, ast.If):
            test = ast.unparse(n.test)
            if "TYPE_CHECKING" in test:
                if type_checking:
                    body[:0] = n.body
                continue
            body[:0] = n.body + n.orelse
        elif isinstance(n, ast.Try):
            body[:0] = n.body + n.orelse + n.finalbody + [s for h in n.handlers for s in h.body]
        else:
            nodes.append(n)
    found: set[str] = set()
    for n in nodes:
        if isinstance(n, ast.Import):
            found |= {a.name for a in n.names}
        elif isinstance(n, ast.ImportFrom):
            if n.level:
                base = mod.split(".") if is_pkg else mod.split(".")[:-1]
                base = base[: len(base) - (n.level - 1)]
                prefix = ".".join(base + ([n.module] if n.module else []))
            else:
                prefix = n.module or ""
            for a in n.names:
                sub = f"{prefix}.{a.name}"
                found.add(sub if sub in mods else prefix)
    full = set()
    for d in found:
        p = d.split(".")
        full |= {".".join(p[:i]) for i in range(2, len(p) + 1)}
    own = {".".join(mod.split(".")[:i]) for i in range(1, len(mod.split(".")) + 1)}
    return {d for d in full if d in mods and d not in own}


def graph(type_checking: bool = False, everywhere: bool = False) -> dict[str, set[str]]:
    mods = _modules()
    return {m: _imports(m, p, mods, type_checking, everywhere) for m, p in mods.items()}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(g[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def _edges(g: dict[str, set[str]], src: str, dst: str) -> list[str]:
    def under(m: str, p: str) -> bool:
        return m == p or m.startswith(p + ".")

    return sorted(f"{m} -> {d}" for m, ds in g.items() if under(m, src) for d in ds if under(d, dst))


def test_the_graph_sees_the_imports_it_should():
    g = graph()
    assert "codegen.model.readout" in g["codegen.model.network"]
    assert "codegen.ir" in g["codegen.model.network"]
    assert "codegen.tools" in g["codegen.backends.veriloga"]


def test_no_import_cycle_among_modules():
    for tc in (False, True):
        assert cycles(graph(type_checking=tc)) == [], f"type_checking={tc}"


def test_no_cycle_between_packages():
    """Collapse modules to their top-level package under codegen (codegen.run.x → codegen.run)."""
    g = graph(type_checking=True)

    def top(m: str) -> str:
        return ".".join(m.split(".")[:2])

    pk: dict[str, set[str]] = {}
    for m, ds in g.items():
        pk.setdefault(top(m), set()).update(top(d) for d in ds if top(d) != top(m))
    for m in list(pk):
        for d in pk[m]:
            pk.setdefault(d, set())
    assert cycles(pk) == []


def test_backends_do_not_import_the_runners():
    assert _edges(graph(type_checking=True), "codegen.backends", "codegen.run") == []


def test_conductances_and_backends_no_longer_form_a_circle():
    g = graph(type_checking=True)
    assert _edges(g, "codegen.model.conductances", "codegen.backends") == []


def test_model_and_readout_do_not_import_runners_or_backends():
    g = graph(type_checking=True)
    for dst in ("codegen.run", "codegen.backends", "codegen.learn", "codegen.cosim"):
        assert _edges(g, "codegen.model", dst) == []


def test_the_full_walk_sees_function_level_imports():
    """The walk behind the next test finds imports inside functions (``codegen.build`` imports
    ``codegen.tools`` only inside a function, if at all, and the module-level graph misses those)."""
    full, top = graph(type_checking=True, everywhere=True), graph(type_checking=True)
    assert all(top[m] <= full[m] for m in top)
    assert any(full[m] - top[m] for m in top)  # some function-level import exists and is seen


def test_runners_do_not_import_the_backends_anywhere():
    """codegen.run takes its decks and sources from the layers below both (codegen.circuit: netlist
    files; codegen.veriloga: Verilog-A sources; codegen.controller.rtl: the RTL), never from codegen.backends, not
    even inside a function."""
    g = graph(type_checking=True, everywhere=True)
    assert _edges(g, "codegen.run", "codegen.backends") == []
    assert _edges(g, "codegen.backends", "codegen.run") == []
    assert _edges(g, "codegen.circuit", "codegen.backends") == []
    assert _edges(g, "codegen.controller", "codegen.backends") == []
