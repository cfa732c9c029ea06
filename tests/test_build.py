"""`codegen build`: plan/write mechanism, determinism, refusal to overwrite foreign files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from codegen.backends import BuildOptions
from codegen.build import build, render_plan
from codegen.elab import elaborate
from codegen.errors import CodegenError
from codegen.load import load_spec
from codegen.plan import BuildPlan, write_plan

ROOT = Path(__file__).resolve().parents[1]
KIRAZ = ROOT / "examples" / "kiraz_case1.yaml"
OPTS = BuildOptions(compile=False)


def _tree(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def test_two_builds_are_byte_identical(tmp_path):
    build(KIRAZ, tmp_path / "a", options=OPTS)
    build(KIRAZ, tmp_path / "b", options=OPTS)
    a, b = _tree(tmp_path / "a"), _tree(tmp_path / "b")
    assert a == b
    assert "manifest.json" in a and "ir.json" in a


def test_outputs_hold_no_absolute_paths_or_timestamps(tmp_path):
    build(KIRAZ, tmp_path / "a", options=OPTS)
    for rel, data in _tree(tmp_path / "a").items():
        text = data.decode(errors="ignore")
        assert str(tmp_path) not in text, rel
        assert str(ROOT) not in text, rel


def test_manifest_lists_every_file_with_sha256(tmp_path):
    import hashlib

    build(KIRAZ, tmp_path, options=OPTS)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    files = {p for p in _tree(tmp_path) if p != "manifest.json"}
    assert set(manifest["files"]) == files
    for rel, entry in manifest["files"].items():
        assert entry["sha256"] == hashlib.sha256((tmp_path / rel).read_bytes()).hexdigest()
    assert manifest["chip"] == "kiraz_case1" and len(manifest["chip_sha256"]) == 64
    assert "eqprop-codegen" in manifest["tools"]


def test_refuses_to_overwrite_foreign_file(tmp_path):
    (tmp_path / "ir.json").write_text("my own notes\n")
    with pytest.raises(CodegenError, match="did not generate"):
        build(KIRAZ, tmp_path, options=OPTS)
    assert (tmp_path / "ir.json").read_text() == "my own notes\n"
    assert not (tmp_path / "manifest.json").exists(), "nothing is half-written"
    build(KIRAZ, tmp_path, force=True, options=OPTS)
    assert (tmp_path / "ir.json").read_text() != "my own notes\n"


def test_refuses_to_overwrite_edited_generated_file(tmp_path):
    build(KIRAZ, tmp_path, options=OPTS)
    (tmp_path / "ir.json").write_text("hand edit\n")
    with pytest.raises(CodegenError, match="edited since"):
        build(KIRAZ, tmp_path, options=OPTS)
    assert (tmp_path / "ir.json").read_text() == "hand edit\n"


def test_refuses_foreign_manifest(tmp_path):
    (tmp_path / "manifest.json").write_text("{}")
    with pytest.raises(CodegenError, match="not a manifest written by codegen"):
        build(KIRAZ, tmp_path, options=OPTS)


def test_unchanged_files_are_not_rewritten_and_stale_ones_removed(tmp_path):
    plan = BuildPlan()
    plan.add("a.txt", "1")
    plan.add("sub/b.txt", "2")
    write_plan(plan, tmp_path)
    foreign = tmp_path / "notes.txt"
    foreign.write_text("keep me")
    mtime = (tmp_path / "a.txt").stat().st_mtime_ns
    plan2 = BuildPlan()
    plan2.add("a.txt", "1")
    report = write_plan(plan2, tmp_path)
    assert report.unchanged == ["a.txt"] and report.removed == ["sub/b.txt"]
    assert (tmp_path / "a.txt").stat().st_mtime_ns == mtime
    assert foreign.read_text() == "keep me", "never deletes a file it did not generate"


@pytest.mark.parametrize(
    "bad",
    [
        "/etc/x",
        "../x",
        "a/../../x",
        "manifest.json",
        ".codegen-pending.json",
        ".codegen.lock",
        "s/x.codegen-tmp",
    ],
)
def test_plan_paths_stay_inside(bad):
    with pytest.raises(ValueError):
        BuildPlan().add(bad, "x")


def test_every_example_renders(example):
    plan = render_plan(elaborate(load_spec(example)), OPTS)
    assert "ir.json" in plan.files


def test_cli_build_default_dir_and_version(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "codegen", "build", str(KIRAZ), "--no-compile"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "build" / "kiraz_case1" / "manifest.json").exists()
    assert "kiraz_case1" in proc.stdout
    v = subprocess.run([sys.executable, "-m", "codegen", "--version"], capture_output=True, text=True)
    assert v.stdout.startswith("codegen ")


def test_every_subcommand_has_help():
    from codegen.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert {"build", "schema", "validate"} <= set(sub.choices)
    for name, p in sub.choices.items():
        assert p.description, f"{name} has no description"
        assert len(p.format_help()) > 200, name


def test_cli_build_summary_groups_files_by_backend_and_suggests_next_commands(tmp_path, capsys):
    from codegen.backends import all_backends
    from codegen.cli import main

    out = tmp_path / "b"
    assert main(["build", str(KIRAZ), "-o", str(out), "--no-compile"]) == 0
    first = capsys.readouterr().out
    plan = render_plan(elaborate(load_spec(KIRAZ)), OPTS)
    # every backend that rendered files has its row, with the body of its summary
    for name in sorted(set(plan.origin.values())):
        assert name in first
        words = all_backends()[name].summary.split(": ", 1)[-1].split()[:3]
        assert " ".join(words) in " ".join(first.split()), name
    assert set(plan.origin) == set(plan.files), "every file knows its backend"
    assert plan.origin["spice/free.sp"] == "spice" and plan.origin["ir.json"] == "ir"
    assert "written" in first and f"{len(plan.files)} files" in first
    # next steps: the installed commands that take the chip, on this chip
    assert f"codegen check {KIRAZ}" in first and f"codegen device {KIRAZ}" in first
    assert "codegen build" not in first.split("next:")[1]
    # a second build: nothing rewritten, same digest line (deterministic output)
    assert main(["build", str(KIRAZ), "-o", str(out), "--no-compile"]) == 0
    second = capsys.readouterr().out
    assert "unchanged" in second and "written" not in second.replace("unchanged", "")
    digest = [ln for ln in first.splitlines() if "build digest" in ln]
    assert digest and digest == [ln for ln in second.splitlines() if "build digest" in ln]
