"""``codegen init NAME [--from EXAMPLE] [-o DIR]``: write a starting ``NAME.yaml`` from an example.

The file's first line is a ``# yaml-language-server: $schema=chip.schema.json`` modeline, and the
schema is written beside it (the one ``codegen schema`` prints, so it works offline and matches the
installed version), so editors with the YAML language server validate and complete the keys.
An existing ``NAME.yaml`` is never overwritten (exit 2).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from ..errors import CodegenError
from ..load import load_spec_text
from .examples import find_example
from .schema import schema_text

__all__ = ["SCHEMA_FILE", "DEFAULT_EXAMPLE", "format_init", "register"]

#: file name of the schema written next to the new chip.yaml
SCHEMA_FILE = "chip.schema.json"
#: the example ``codegen init`` starts from without ``--from``
DEFAULT_EXAMPLE = "kiraz_case1"

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_NAME_LINE = re.compile(r"^name:.*$", re.MULTILINE)


def format_init(name: str, example: str = DEFAULT_EXAMPLE) -> str:
    """The text of a new chip.yaml called ``name``, copied from ``example`` with its ``name:``
    replaced; validated before it is returned (a bad name or example raises CodegenError)."""
    if not _NAME.match(name):
        raise CodegenError(
            f"chip name {name!r}: use a letter followed by letters, digits or _ "
            "(it names the build folder and the Verilog modules)"
        )
    ex = find_example(example)
    body = ex.path.read_text(encoding="utf-8")
    if not _NAME_LINE.search(body):
        raise CodegenError(f"example {ex.name} has no top-level `name:` line")
    body = _NAME_LINE.sub(f"name: {name}", body, count=1)
    text = (
        f"# yaml-language-server: $schema={SCHEMA_FILE}\n"
        f"# started with `codegen init {name} --from {ex.name}`; keys and units: `codegen schema`\n" + body
    )
    load_spec_text(text, f"{name}.yaml")  # the copy must load as it stands
    return text


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "init",
        help="write a starting NAME.yaml from an example (never overwrites)",
        description=(
            "Write NAME.yaml (a chip.yaml copied from an example, with name: NAME) and chip.schema.json "
            "beside it; the first line of NAME.yaml points editors with the YAML language server at "
            "the schema.  Exits 2 if NAME.yaml exists.  `codegen examples` lists the examples."
        ),
    )
    p.add_argument("name", help="chip name (letters, digits, _; starts with a letter)")
    p.add_argument(
        "--from",
        dest="example",
        default=DEFAULT_EXAMPLE,
        metavar="EXAMPLE",
        help=f"example to start from (default {DEFAULT_EXAMPLE}; see `codegen examples`)",
    )
    p.add_argument("-o", "--out", metavar="DIR", default=".", help="folder to write into (default: here)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    target = out / f"{args.name}.yaml"
    if target.exists() or target.is_symlink():
        raise CodegenError(f"{target}: exists already; not overwritten (remove it or pick another NAME)")
    text = format_init(args.name, args.example)
    if out.exists() and not out.is_dir():
        raise CodegenError(f"{out}: not a folder")
    out.mkdir(parents=True, exist_ok=True)
    with open(target, "x", encoding="utf-8") as fh:  # "x": never replace a file created meanwhile
        fh.write(text)
    print(f"wrote {target}")
    schema = out / SCHEMA_FILE
    want = schema_text()
    if not schema.exists():
        schema.write_text(want, encoding="utf-8")
        print(f"wrote {schema} (the schema editors validate {target.name} against)")
    elif schema.read_text(encoding="utf-8") != want:
        print(
            f"kept {schema}: it differs from this version's schema; refresh with `codegen schema -o {schema}`"
        )
    print(f"next: codegen build {target}")
    return 0
