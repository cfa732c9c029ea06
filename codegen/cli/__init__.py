"""The ``codegen`` command.  Each subcommand is a module here with ``register(subparsers)``.

Subcommand modules are discovered (sorted by name), so adding a command never edits this file.
Errors a user can fix (:class:`~codegen.errors.CodegenError`) print one message and exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from .. import __version__
from ..errors import CodegenError

__all__ = ["main", "build_parser"]

DESCRIPTION = """\
eqprop-codegen turns a chip.yaml (network shape, memristor device, neurons, amplifiers, nudging,
learning rule, pulse controller) into a golden model, Verilog-A, SPICE netlists, pulse-controller
RTL and testbenches for an analog chip that learns with equilibrium propagation.

start here:
  codegen examples                            the example chips shipped with codegen
  codegen init mychip --from kiraz_case1      write mychip.yaml (+ chip.schema.json for editors)
  codegen build mychip.yaml                   write build/mychip/ and list what is in it
  codegen schema                              the JSON schema of chip.yaml
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="codegen", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"codegen {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not mod.name.startswith("_"):
            importlib.import_module(f"{__name__}.{mod.name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        rc = args.func(args)
    except CodegenError as exc:
        print(f"error: {exc}" if "\n" not in str(exc) else f"error:\n{exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return int(rc or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
