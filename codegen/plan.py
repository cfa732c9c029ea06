"""Build plans: render everything in memory, then write only inside the build folder.

A :class:`BuildPlan` maps relative POSIX paths to bytes.  :func:`write_plan` writes a plan under a
build directory together with ``manifest.json`` (sha256 of every file, the chip's hash and the tool
versions).  It never overwrites or deletes a file it did not generate: a file is ours only if the
previous ``manifest.json`` lists it with the sha256 it still has.  Unchanged files are not rewritten.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .errors import CodegenError

__all__ = ["BuildPlan", "WriteReport", "write_plan", "MANIFEST", "sha256"]

MANIFEST = "manifest.json"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class BuildPlan:
    """In-memory build: ``files[relative_path] = bytes``; ``meta`` goes into the manifest."""

    files: dict[str, bytes] = field(default_factory=dict)
    meta: dict[str, object] = field(default_factory=dict)
    #: relative path → name of the backend that rendered it (for the build summary; not in the manifest)
    origin: dict[str, str] = field(default_factory=dict)

    def add(self, path: str, content: str | bytes, backend: str | None = None) -> None:
        p = PurePosixPath(path)
        if p.is_absolute() or ".." in p.parts or str(p) == MANIFEST:
            raise ValueError(
                f"plan paths must be relative, inside the build dir and not {MANIFEST}: {path!r}"
            )
        if str(p) in self.files:
            raise ValueError(f"two backends produce {path!r}")
        self.files[str(p)] = content.encode() if isinstance(content, str) else content
        if backend is not None:
            self.origin[str(p)] = backend

    def manifest(self) -> dict[str, object]:
        return {
            "files": {p: {"sha256": sha256(b), "bytes": len(b)} for p, b in sorted(self.files.items())},
            **self.meta,
        }

    def manifest_bytes(self) -> bytes:
        return (json.dumps(self.manifest(), indent=1, sort_keys=True) + "\n").encode()

    @property
    def digest(self) -> str:
        """sha256 over every path and content: equal digests mean byte-identical builds."""
        return sha256(self.manifest_bytes())


@dataclass
class WriteReport:
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def _previous(build_dir: Path) -> dict[str, str]:
    try:
        old = json.loads((build_dir / MANIFEST).read_text())
        return {p: v["sha256"] for p, v in old.get("files", {}).items()}
    except (FileNotFoundError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def write_plan(plan: BuildPlan, build_dir: str | Path, force: bool = False) -> WriteReport:
    """Write ``plan`` under ``build_dir``; refuse (CodegenError) to touch foreign files unless ``force``."""
    root = Path(build_dir)
    ours = _previous(root)
    manifest_path = root / MANIFEST
    if manifest_path.exists() and not ours and not force:
        raise CodegenError(
            f"{manifest_path}: not a manifest written by codegen; refusing to overwrite it (use --force)"
        )
    foreign = []
    for rel in plan.files:
        target = root / rel
        if target.is_dir() or (
            target.exists() and (rel not in ours or sha256(target.read_bytes()) != ours[rel])
        ):
            if (
                target.exists()
                and target.is_file()
                and sha256(target.read_bytes()) == sha256(plan.files[rel])
            ):
                continue  # identical content: nothing is lost by claiming it
            foreign.append(rel)
    if foreign and not force:
        listed = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise CodegenError(
            f"{root}: would overwrite files codegen did not generate (or that were edited since): {listed}; "
            "nothing was written. Move them away or pass --force."
        )
    report = WriteReport()
    root.mkdir(parents=True, exist_ok=True)
    for rel, data in sorted(plan.files.items()):
        target = root / rel
        if target.is_file() and target.read_bytes() == data:
            report.unchanged.append(rel)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".codegen-tmp")
        tmp.write_bytes(data)
        tmp.replace(target)
        report.written.append(rel)
    for rel, digest in sorted(ours.items()):
        target = root / rel
        if rel not in plan.files and target.is_file() and sha256(target.read_bytes()) == digest:
            target.unlink()
            report.removed.append(rel)
    manifest = plan.manifest_bytes()
    if not (manifest_path.is_file() and manifest_path.read_bytes() == manifest):
        manifest_path.write_bytes(manifest)
    return report
