"""``build``: spec → IR → in-memory plan from every backend → written build folder."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from . import __version__
from .backends import BuildOptions, all_backends
from .elab import elaborate
from .ir import Chip
from .load import load_spec
from .plan import BuildPlan, WriteReport, ensure_writable_dir, write_plan

__all__ = ["render_plan", "build", "default_build_dir"]


def default_build_dir(chip_name: str) -> Path:
    return Path("build") / chip_name


def render_plan(chip: Chip, options: BuildOptions | None = None, only: list[str] | None = None) -> BuildPlan:
    """Render every (or the ``only``) backend into one plan; nothing touches the disk."""
    options = options or BuildOptions()
    plan = BuildPlan()
    versions: dict[str, str] = {"eqprop-codegen": __version__}
    for name, cls in all_backends().items():
        if only is not None and name not in only:
            continue
        backend = cls()
        for path, content in sorted(backend.render(chip, options).items()):
            plan.add(path, content, backend=name)
        versions.update(backend.tool_versions())
    plan.meta = {"chip": chip.name, "chip_sha256": chip.spec_hash, "tools": dict(sorted(versions.items()))}
    if options.conductances is not None:
        # the conductance file the build's values came from (absent: the seeded initial conductances)
        plan.meta["conductances_sha256"] = options.conductances.sha256
    return plan


def build(
    spec_path: str | Path,
    out_dir: str | Path | None = None,
    force: bool = False,
    options: BuildOptions | None = None,
    conductances: str | Path | None = None,
) -> tuple[Chip, Path, BuildPlan, WriteReport]:
    """Build ``spec_path`` into ``out_dir``; ``conductances``: a conductance file (S) to emit instead
    of the seeded initial conductances (read and validated before anything is written).

    Writing follows :func:`codegen.plan.write_plan`: only regular files inside ``out_dir``, never
    through a symlink, atomically, one build at a time; problems raise
    :class:`~codegen.errors.BuildDirError` (exit 2)."""
    from .model.conductances import read_conductances

    chip = elaborate(load_spec(spec_path))
    if conductances is not None:
        options = replace(options or BuildOptions(), conductances=read_conductances(chip, conductances))
    out = Path(out_dir) if out_dir is not None else default_build_dir(chip.name)
    ensure_writable_dir(out, "build folder")  # before rendering (openvaf-r may take a while)
    plan = render_plan(chip, options)
    report = write_plan(plan, out, force=force)
    return chip, out, plan, report
