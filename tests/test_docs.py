"""The docs cite only the project's own files.

Users get the repository, nothing beside it: a citation of a file outside it (the notes the project
was started from) is a dead end for them.  The facts those notes held live in
``docs/background.md`` (the reference systems) and ``docs/toolchain.md`` (the tools); these tests
make sure nothing tracked points elsewhere, and that every ``docs/*.md`` (and ``§N`` of the
background page) that something cites exists.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Built from pieces so this file does not match itself.
FOREIGN = ("SEEDS" + ".md", "TOOLCHAIN" + ".md", "../" + "shared", "/work/" + "shared")
# Generated golden files follow the templates; the templates themselves are tracked and checked.
EXCLUDED = (":(exclude)tests/golden",)


def _git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def tracked() -> list[str]:
    if shutil.which("git") is None:
        pytest.skip("git is not installed: cannot list the tracked files")
    r = _git("ls-files", "-z")
    if r.returncode != 0:
        pytest.skip(f"not a git checkout ({r.stderr.strip()}): cannot list the tracked files")
    return [p for p in r.stdout.split("\0") if p]


def test_no_tracked_file_cites_files_outside_the_project(tracked: list[str]) -> None:
    args = ["grep", "-n", "-I", "--no-color", "-F"]
    for s in FOREIGN:
        args += ["-e", s]
    r = _git(*args, "--", ".", *EXCLUDED)
    assert r.returncode in (0, 1), r.stderr  # 1 = no match
    hits = r.stdout.splitlines()
    assert not hits, (
        "tracked files cite files that are not part of the project (use docs/background.md or "
        "docs/toolchain.md):\n" + "\n".join(hits)
    )


_DOC_REF = re.compile(r"\bdocs/([A-Za-z0-9_\-]+\.md)\b")
_SECTION_REF = re.compile(r"docs/background\.md §(\d+)")


def _text_files(tracked: list[str]) -> dict[str, str]:
    out = {}
    for p in tracked:
        if p.startswith("tests/golden/"):
            continue
        path = ROOT / p
        if path.suffix in {".png", ".osdi", ".gz", ".npz"} or not path.is_file():
            continue
        try:
            out[p] = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
    return out


def test_cited_docs_exist(tracked: list[str]) -> None:
    files = _text_files(tracked)
    missing = sorted(
        {
            f"{p}: docs/{name}"
            for p, text in files.items()
            for name in _DOC_REF.findall(text)
            if not (ROOT / "docs" / name).is_file()
        }
    )
    assert not missing, "citations of docs that do not exist:\n" + "\n".join(missing)


def test_cited_background_sections_exist(tracked: list[str]) -> None:
    sections = set(re.findall(r"^## §(\d+) ", (ROOT / "docs" / "background.md").read_text(), re.M))
    assert sections == {"1", "2", "3", "4"}  # the four reference systems
    files = _text_files(tracked)
    bad = sorted(
        f"{p}: §{n}" for p, text in files.items() for n in _SECTION_REF.findall(text) if n not in sections
    )
    assert not bad, "citations of sections docs/background.md does not have:\n" + "\n".join(bad)
