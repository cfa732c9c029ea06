"""``codegen build chip.yaml``."""

from __future__ import annotations

import argparse
from pathlib import PurePosixPath

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..backends import BuildOptions, all_backends
from ..build import build
from ..errors import BuildDirError
from ..plan import BuildPlan, WriteReport, ensure_writable_dir


def register(sub: argparse._SubParsersAction) -> None:
    backends = "\n".join(f"  {name:<10} {cls.summary}" for name, cls in all_backends().items())
    p = sub.add_parser(
        "build",
        help="render every artifact of a chip into a build folder",
        description=(
            "Load chip.yaml, elaborate it and render every backend into memory, then write the files "
            "under DIR (default build/<name>/) with manifest.json (sha256 of each file, chip hash, tool "
            "versions). Deterministic: the same chip.yaml gives byte-identical files. Never overwrites "
            "a file it did not generate unless --force. Writes only regular files inside DIR, never "
            "through a symlink, each atomically (temporary file + rename, manifest.json last), one "
            "build at a time: a build that was killed or ran out of disk space is finished by the next "
            "plain build.\n\nbackends:\n" + backends
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("spec", help="path to chip.yaml")
    p.add_argument("-o", "--out", metavar="DIR", help="build folder (default: build/<name>)")
    p.add_argument("--force", action="store_true", help="overwrite files codegen did not generate")
    p.add_argument("--no-compile", action="store_true", help="do not run external compilers (openvaf-r)")
    p.add_argument(
        "--conductances",
        metavar="FILE",
        help="emit these crossbar conductances (S) instead of the seeded initial ones, e.g. "
        "build/<name>/train/conductances.json from codegen train (the format of golden/conductances.json); "
        "its sha256 goes into manifest.json",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="print only the build folder")
    p.set_defaults(func=run)


#: subcommands suggested after a build, in this order when present (others follow by name)
NEXT_ORDER = ("check", "device", "train", "sweep", "rtl-test", "cosim")
#: subcommands not worth suggesting right after a build
NOT_NEXT = frozenset({"build", "validate", "schema", "examples", "init"})


def _describe(summary: str) -> str:
    """A backend's summary without its leading ``folder/:`` or ``file:`` (the table shows those)."""
    head, sep, rest = summary.partition(": ")
    return rest if sep and " " not in head else summary


def backend_table(chip_name: str, out: str, plan: BuildPlan, report: WriteReport) -> Table:
    """One row per backend: what it is (its ``summary``), its files, bytes and write status."""
    backends = all_backends()
    groups: dict[str, list[str]] = {}
    for path in sorted(plan.files):
        groups.setdefault(plan.origin.get(path, "?"), []).append(path)
    table = Table(title=f"{chip_name}: {len(plan.files)} files in {out}/")
    table.add_column("backend", style="bold", no_wrap=True)
    table.add_column("what / files")
    table.add_column("bytes", justify="right")
    table.add_column("status")
    order = [n for n in backends if n in groups] + sorted(n for n in groups if n not in backends)
    for name in order:
        paths = groups[name]
        folders = {PurePosixPath(p).parts[0] for p in paths if len(PurePosixPath(p).parts) > 1}
        folder = next(iter(folders)) if len(folders) == 1 and len(paths) > 1 else None
        names = [p.removeprefix(f"{folder}/") if folder else p for p in paths]
        listing = (f"{folder}/: " if folder else "") + " ".join(names)
        cls = backends.get(name)
        what = _describe(cls.summary) if cls is not None and cls.summary else ""
        written = sum(p in report.written for p in paths)
        status = (
            "written"
            if written == len(paths)
            else "unchanged"
            if written == 0
            else f"{written} written, {len(paths) - written} unchanged"
        )
        table.add_row(
            name,
            f"{what}\n[dim]{listing}[/]" if what else listing,
            str(sum(len(plan.files[p]) for p in paths)),
            status,
        )
    return table


def next_commands(spec: str) -> list[tuple[str, str]]:
    """``(command line, help)`` for every installed subcommand worth running after a build."""
    from . import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {a.dest: a.help or "" for a in sub._get_subactions()}
    names = [n for n in NEXT_ORDER if n in sub.choices]
    names += sorted(n for n in sub.choices if n not in NEXT_ORDER and n not in NOT_NEXT)
    out = []
    for name in names:
        positional = [a.dest for a in sub.choices[name]._actions if not a.option_strings and a.required]
        if positional == ["spec"]:
            out.append((f"codegen {name} {spec}", helps.get(name, "")))
        elif not positional:
            out.append((f"codegen {name}", helps.get(name, "")))
        else:
            out.append((f"codegen {name} --help", helps.get(name, "")))
    return out


def run(args: argparse.Namespace) -> int:
    if args.out:
        ensure_writable_dir(args.out, "-o folder")
    try:
        chip, out, plan, report = build(
            args.spec,
            args.out,
            force=args.force,
            options=BuildOptions(compile=not args.no_compile),
            conductances=args.conductances,
        )
    except OSError as exc:  # write_plan reports its own; this catches any other file the build touches
        where = exc.filename or args.out or "the build folder"
        raise BuildDirError(f"{where}: {exc.strerror or exc}; nothing more was written") from None
    if args.quiet:
        print(out)
        return 0
    console = Console()
    console.print(backend_table(chip.name, str(out), plan, report))
    sizes = " × ".join(str(layer.size) for layer in chip.layers)
    xbars = ", ".join(f"{xb.name} {xb.shape[0]}×{xb.shape[1]}" for xb in chip.crossbars)
    console.print(f"network {sizes}; crossbars {xbars}; {len(chip.free_nodes)} free nodes")
    sha = plan.meta.get("conductances_sha256")
    console.print(
        f"conductances: {escape(str(args.conductances))} (sha256 {str(sha)[:16]}…)"
        if sha
        else f"conductances: initial, seed {chip.training.seed} (codegen build --conductances FILE for others)"
    )
    console.print(
        f"manifest: {out}/manifest.json (build digest {plan.digest[:16]}; every file with its sha256)"
    )
    if report.removed:
        console.print(f"removed stale generated files: {', '.join(report.removed)}")
    if report.resumed or report.cleaned:
        console.print(
            f"finished an interrupted build in {out}/ (removed {len(report.cleaned)} temporary files)"
        )
    cmds = next_commands(args.spec)
    if args.conductances:  # check the chip at the conductances it was built with
        flag = f" --conductances {args.conductances}"
        cmds = [(c + flag if c.startswith("codegen check ") else c, h) for c, h in cmds]
    if cmds:
        grid = Table.grid(padding=(0, 2))
        grid.add_column(no_wrap=True)
        grid.add_column(style="dim")
        for cmd, helptext in cmds:
            grid.add_row(f"  {escape(cmd)}", escape(helptext))
        console.print("next:")
        console.print(grid)
    return 0
