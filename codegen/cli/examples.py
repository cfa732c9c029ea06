"""``codegen examples``: list the example chips shipped with the package (name + description).

The examples live in ``examples/`` of a checkout and in ``codegen/_data/examples`` of an installed
wheel (:func:`codegen.templating.data_dir`); ``codegen init NAME --from EXAMPLE`` copies one.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..errors import CodegenError
from ..templating import data_dir

__all__ = ["Example", "list_examples", "find_example", "register"]


@dataclass(frozen=True)
class Example:
    """One shipped example: ``name`` is its path below examples/ without ``.yaml``
    (``xor``, ``sign_pulse/xor_sign``); ``description`` is its ``description:`` key."""

    name: str
    path: Path
    description: str


def list_examples() -> list[Example]:
    """Every ``*.yaml`` below the examples folder, sorted by name (top level first)."""
    root = data_dir("examples")
    found = []
    for p in sorted(root.rglob("*.yaml"), key=lambda q: (len(q.relative_to(root).parts), str(q))):
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8"))
        except yaml.YAMLError:
            data = None
        desc = str(data.get("description", "")) if isinstance(data, dict) else ""
        found.append(Example(p.relative_to(root).with_suffix("").as_posix(), p, desc))
    return found


def find_example(name: str) -> Example:
    """The example called ``name`` (``xor``, ``xor.yaml`` or ``sign_pulse/xor_sign``; a unique
    file name below examples/ also matches).  Unknown name: :class:`CodegenError` listing them."""
    key = name.removesuffix(".yaml")
    examples = list_examples()
    for ex in examples:
        if ex.name == key:
            return ex
    by_stem = [ex for ex in examples if ex.name.rsplit("/", 1)[-1] == key]
    if len(by_stem) == 1:
        return by_stem[0]
    import difflib

    close = difflib.get_close_matches(key, [ex.name for ex in examples], n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise CodegenError(
        f"no example called {name!r}{hint} Known: {', '.join(ex.name for ex in examples)} (`codegen examples`)"
    )


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "examples",
        help="list the example chips shipped with codegen",
        description="List the example chip.yaml files shipped with codegen, each with its one-line "
        "description.  Start one with `codegen init NAME --from EXAMPLE`.",
    )
    p.add_argument("--path", action="store_true", help="also print where each file lies")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    examples = list_examples()
    width = max(len(ex.name) for ex in examples)
    for ex in examples:
        line = f"{ex.name:<{width}}  {ex.description}"
        print(line + (f"  [{ex.path}]" if args.path else ""))
    from .init import DEFAULT_EXAMPLE

    print(f"\nstart one: codegen init mychip --from {DEFAULT_EXAMPLE}")
    return 0
