"""``codegen schema``: print (or write) the JSON schema of chip.yaml."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..spec import Spec


def schema_text() -> str:
    return (
        json.dumps(Spec.model_json_schema(by_alias=True), indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    )


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "schema",
        help="print the JSON schema of chip.yaml",
        description="Print the JSON schema of chip.yaml (units in each description).",
    )
    p.add_argument("-o", "--out", metavar="FILE", help="write to FILE instead of stdout")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    text = schema_text()
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        print(text, end="")
    return 0
