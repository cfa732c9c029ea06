"""``codegen build chip.yaml``."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from ..backends import BuildOptions, all_backends
from ..build import build


def register(sub: argparse._SubParsersAction) -> None:
    backends = "\n".join(f"  {name:<10} {cls.summary}" for name, cls in all_backends().items())
    p = sub.add_parser(
        "build",
        help="render every artifact of a chip into a build folder",
        description=(
            "Load chip.yaml, elaborate it and render every backend into memory, then write the files "
            "under DIR (default build/<name>/) with manifest.json (sha256 of each file, chip hash, tool "
            "versions). Deterministic: the same chip.yaml gives byte-identical files. Never overwrites "
            "a file it did not generate unless --force.\n\nbackends:\n" + backends
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("spec", help="path to chip.yaml")
    p.add_argument("-o", "--out", metavar="DIR", help="build folder (default: build/<name>)")
    p.add_argument("--force", action="store_true", help="overwrite files codegen did not generate")
    p.add_argument("--no-compile", action="store_true", help="do not run external compilers (openvaf-r)")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the build folder")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    chip, out, plan, report = build(
        args.spec, args.out, force=args.force, options=BuildOptions(compile=not args.no_compile)
    )
    if args.quiet:
        print(out)
        return 0
    console = Console()
    table = Table(title=f"{chip.name}: {len(plan.files)} files in {out}/", show_lines=False)
    table.add_column("file")
    table.add_column("bytes", justify="right")
    table.add_column("status")
    for path, data in sorted(plan.files.items()):
        status = "written" if path in report.written else "unchanged"
        table.add_row(path, str(len(data)), status)
    console.print(table)
    sizes = " × ".join(str(layer.size) for layer in chip.layers)
    xbars = ", ".join(f"{xb.name} {xb.shape[0]}×{xb.shape[1]}" for xb in chip.crossbars)
    console.print(f"network {sizes}; crossbars {xbars}; {len(chip.free_nodes)} free nodes")
    console.print(f"manifest: {out}/manifest.json (build digest {plan.digest[:16]})")
    if report.removed:
        console.print(f"removed stale generated files: {', '.join(report.removed)}")
    return 0
