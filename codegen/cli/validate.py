"""``codegen validate chip.yaml``: load and elaborate only; report problems."""

from __future__ import annotations

import argparse

from ..elab import elaborate
from ..load import load_spec


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "validate",
        help="check a chip.yaml without writing anything",
        description="Load chip.yaml, run the physical checks and elaborate it; print a one-line summary or the problems (exit 2).",
    )
    p.add_argument("spec", nargs="+", help="chip.yaml files")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    for path in args.spec:
        chip = elaborate(load_spec(path))
        n_g = sum(xb.size for xb in chip.crossbars)
        print(
            f"{path}: ok ({chip.name}: {' × '.join(str(layer.size) for layer in chip.layers)}, {n_g} conductances)"
        )
    return 0
