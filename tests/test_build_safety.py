"""The build folder cannot be turned against the user; interrupted, full-disk, concurrent and
read-only builds end in exit 2 or recover (issue 16).

* attacks: a manifest naming ``../x`` or an absolute path, and symlinks (``manifest.json``, a
  ``*.codegen-tmp`` file, a generated file, a subfolder) pointing outside: the outside file or folder
  is byte-for-byte untouched, with or without ``--force``;
* ``kill -9`` at every kind of point of the writing phase (``CODEGEN_TEST_KILL_AT`` makes the
  process SIGKILL itself at the N-th point, deterministically; one test kills a real CLI build from
  outside after a random delay): every file is whole (old or new content) and the next plain build
  (no ``--force``) equals a clean build byte for byte;
* a full disk (a small tmpfs, when running as root with ``mount`` allowed; skipped with the reason
  otherwise): exit 2 with a message, then after freeing space a plain build equals a clean one;
* two builds at once: both succeed (the second waits for the lock) or time out with exit 2;
* a read-only folder (a read-only tmpfs: chmod does not stop root): build, train and check exit 2
  up front.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import pickle
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from codegen.backends import BuildOptions
from codegen.build import render_plan
from codegen.elab import elaborate
from codegen.errors import BuildDirError
from codegen.load import load_spec
from codegen.plan import (
    LOCK,
    MANIFEST,
    PENDING,
    TMP_SUFFIX,
    BuildPlan,
    ensure_writable_dir,
    write_atomic,
    write_plan,
)

ROOT = Path(__file__).resolve().parents[1]
KIRAZ = ROOT / "examples" / "kiraz_case1.yaml"
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
for _hook in ("CODEGEN_TEST_KILL_AT", "CODEGEN_TEST_WRITE_DELAY_S"):
    ENV.pop(_hook, None)


def _tree(d: Path) -> dict[str, bytes]:
    """Every entry under ``d`` (hidden ones included): regular files by content; anything else fails."""
    out = {}
    for p in sorted(d.rglob("*")):
        assert not p.is_symlink(), f"unexpected symlink {p}"
        if p.is_file():
            out[str(p.relative_to(d))] = p.read_bytes()
    return out


@pytest.fixture(scope="module")
def plan_a() -> BuildPlan:
    """The real kiraz_case1 build (no compiler)."""
    return render_plan(elaborate(load_spec(KIRAZ)), BuildOptions(compile=False))


@pytest.fixture(scope="module")
def plan_b(plan_a) -> BuildPlan:
    """Another version of it: a third of the files changed, a fifth dropped, a new subfolder."""
    b = BuildPlan(meta={**plan_a.meta, "chip_sha256": "0" * 64})
    for i, (rel, data) in enumerate(sorted(plan_a.files.items())):
        if i % 5 == 4:
            continue
        b.add(rel, data + b"\n# v2\n" if i % 3 == 0 else data)
    b.add("extra/deep/new.txt", "new in b\n")
    return b


@pytest.fixture(scope="module")
def clean(plan_a, plan_b, tmp_path_factory) -> dict[str, dict[str, bytes]]:
    """Trees of clean builds of A and B into empty folders."""
    out = {}
    for name, plan in (("a", plan_a), ("b", plan_b)):
        d = tmp_path_factory.mktemp(f"clean_{name}")
        write_plan(plan, d)
        out[name] = _tree(d)
    return out


def _cli(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 120):
    return subprocess.run(
        [sys.executable, "-m", "codegen", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env or ENV,
        timeout=timeout,
    )


def _no_traceback(proc) -> None:
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.startswith("error:"), proc.stderr


# ---------------------------------------------------------------------------------------------
# manifest paths outside the build folder


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("how", ["dotdot", "deep_dotdot", "absolute", "dot"])
def test_manifest_naming_paths_outside_is_refused_and_nothing_outside_is_deleted(tmp_path, plan_a, how):
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious\n")
    out = tmp_path / "b"
    write_plan(plan_a, out)
    name = {
        "dotdot": "../victim.txt",
        "deep_dotdot": "spice/../../victim.txt",
        "absolute": str(victim),
        "dot": "./../victim.txt",
    }[how]
    manifest = json.loads((out / MANIFEST).read_text())
    manifest["files"][name] = {"sha256": _sha(b"precious\n"), "bytes": 9}
    (out / MANIFEST).write_text(json.dumps(manifest))
    before = _tree(out)
    with pytest.raises(BuildDirError, match=r"not a manifest written by codegen.*outside|absolute|'\.'"):
        write_plan(plan_a, out)
    assert victim.read_bytes() == b"precious\n"
    assert _tree(out) == before, "a refused build writes nothing"
    # --force: the manifest is ignored and replaced, and still nothing it names is deleted
    write_plan(plan_a, out, force=True)
    assert victim.read_bytes() == b"precious\n"
    assert name not in json.loads((out / MANIFEST).read_text())["files"]


def test_cli_refuses_outside_manifest_with_exit_2(tmp_path, plan_a):
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious\n")
    out = tmp_path / "b"
    write_plan(plan_a, out)
    manifest = json.loads((out / MANIFEST).read_text())
    manifest["files"]["../victim.txt"] = {"sha256": _sha(b"precious\n"), "bytes": 9}
    (out / MANIFEST).write_text(json.dumps(manifest))
    for extra in ([], ["--force"]):
        proc = _cli("build", str(KIRAZ), "-o", str(out), "--no-compile", "-q", *extra)
        assert proc.returncode == (0 if extra else 2), proc.stderr
        if not extra:
            _no_traceback(proc)
            assert "../victim.txt" in proc.stderr and str(out / MANIFEST) in proc.stderr
        assert victim.read_bytes() == b"precious\n"


def test_manifest_entry_through_a_symlinked_folder_is_not_deleted(tmp_path, plan_a):
    """A textually harmless ``link/victim.txt`` whose folder is a symlink to outside: left alone."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.txt").write_bytes(b"precious\n")
    out = tmp_path / "b"
    write_plan(plan_a, out)
    (out / "link").symlink_to(outside)
    manifest = json.loads((out / MANIFEST).read_text())
    manifest["files"]["link/victim.txt"] = {"sha256": _sha(b"precious\n"), "bytes": 9}
    (out / MANIFEST).write_text(json.dumps(manifest))
    write_plan(plan_a, out)
    assert (outside / "victim.txt").read_bytes() == b"precious\n"


# ---------------------------------------------------------------------------------------------
# symlinks inside the build folder


@pytest.mark.parametrize("force", [False, True])
def test_symlinked_manifest_is_refused(tmp_path, plan_a, force):
    outside = tmp_path / "outside.json"
    outside.write_bytes(b"user data\n")
    out = tmp_path / "b"
    out.mkdir()
    (out / MANIFEST).symlink_to(outside)
    with pytest.raises(BuildDirError, match=r"manifest\.json: is a symlink"):
        write_plan(plan_a, out, force=force)
    assert outside.read_bytes() == b"user data\n"
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST], "nothing was written"


@pytest.mark.parametrize("force", [False, True])
def test_symlinked_subfolder_is_refused(tmp_path, plan_a, force):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "free.sp").write_bytes(b"user deck\n")
    out = tmp_path / "b"
    write_plan(plan_a, out)
    before = {p.name: p.read_bytes() for p in (out / "spice").iterdir()}
    for p in (out / "spice").iterdir():
        p.unlink()
    (out / "spice").rmdir()
    (out / "spice").symlink_to(outside)
    with pytest.raises(BuildDirError, match=r"spice: is a symlink \(to .*outside\)"):
        write_plan(plan_a, out, force=force)
    assert sorted(p.name for p in outside.iterdir()) == ["free.sp"]
    assert (outside / "free.sp").read_bytes() == b"user deck\n"
    assert before, "the plan has spice/ files"


@pytest.mark.parametrize("force", [False, True])
def test_symlinked_generated_file_is_refused(tmp_path, plan_a, force):
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"user data\n")
    out = tmp_path / "b"
    write_plan(plan_a, out)
    (out / "ir.json").unlink()
    (out / "ir.json").symlink_to(outside)
    with pytest.raises(BuildDirError, match=r"ir\.json: is a symlink"):
        write_plan(plan_a, out, force=force)
    assert outside.read_bytes() == b"user data\n"
    assert (out / "ir.json").is_symlink()


def test_symlinked_temporary_file_is_never_written_through(tmp_path, plan_a, clean):
    """The old fixed name ``spice/free.sp.codegen-tmp`` as a symlink to outside: never opened,
    not deleted (it is not a regular file of ours); the build itself completes."""
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"user data\n")
    out = tmp_path / "b"
    write_plan(plan_a, out)
    (out / "spice" / "free.sp").unlink()  # so the build has to write spice/free.sp again
    (out / "spice" / "free.sp.codegen-tmp").symlink_to(outside)
    write_plan(plan_a, out)
    assert outside.read_bytes() == b"user data\n"
    (out / "spice" / "free.sp.codegen-tmp").unlink()
    assert _tree(out) == clean["a"]


@pytest.mark.parametrize("name", [MANIFEST, "ir.json"])
def test_hard_links_to_outside_files_are_replaced_not_written_through(tmp_path, plan_a, plan_b, name):
    """Every write is a rename of a fresh file, so a hard link (same inode as a file outside) is
    replaced as a directory entry and the outside file keeps its bytes."""
    out = tmp_path / "b"
    write_plan(plan_a, out)
    outside = tmp_path / "outside"
    os.link(out / name, outside)
    before = outside.read_bytes()
    b = BuildPlan(files={**plan_b.files, "ir.json": plan_b.files["ir.json"] + b" "}, meta=plan_b.meta)
    write_plan(b, out)
    assert outside.read_bytes() == before
    assert (out / name).read_bytes() != before


def test_lock_file_symlink_is_refused(tmp_path, plan_a):
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"user data\n")
    out = tmp_path / "b"
    out.mkdir()
    (out / LOCK).symlink_to(outside)
    with pytest.raises(BuildDirError, match="is a symlink"):
        write_plan(plan_a, out)
    assert outside.read_bytes() == b"user data\n"


def test_fifo_in_place_of_a_file_is_refused_without_hanging(tmp_path, plan_a):
    out = tmp_path / "b"
    (out / "spice").mkdir(parents=True)
    os.mkfifo(out / "ir.json")
    t = time.perf_counter()
    with pytest.raises(BuildDirError, match=r"ir\.json: is a special file"):
        write_plan(plan_a, out, force=True)
    assert time.perf_counter() - t < 10


def test_plan_paths_are_checked_even_when_set_directly(tmp_path):
    plan = BuildPlan(files={"../escape.txt": b"x"})
    with pytest.raises(BuildDirError, match="outside the build folder"):
        write_plan(plan, tmp_path / "b")
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path / "b").exists()


# ---------------------------------------------------------------------------------------------
# -o that is not a folder


def test_cli_out_naming_a_regular_file_exits_2(tmp_path):
    f = tmp_path / "afile"
    f.write_bytes(b"mine\n")
    for target in (f, f / "sub"):
        proc = _cli("build", str(KIRAZ), "-o", str(target), "--no-compile")
        assert proc.returncode == 2, proc.stderr
        _no_traceback(proc)
        assert str(target) in proc.stderr and "a folder" in proc.stderr.replace("not a folder", "a folder")
    assert f.read_bytes() == b"mine\n"


def test_ensure_writable_dir(tmp_path):
    ensure_writable_dir(tmp_path)
    ensure_writable_dir(tmp_path / "new" / "deeper")
    assert sorted(tmp_path.iterdir()) == [], "checks, creates nothing"
    (tmp_path / "f").write_text("x")
    with pytest.raises(BuildDirError, match="is a file"):
        ensure_writable_dir(tmp_path / "f")
    with pytest.raises(BuildDirError, match="a part of this path is a file"):
        ensure_writable_dir(tmp_path / "f" / "sub")


def test_write_atomic(tmp_path):
    target = tmp_path / "report.json"
    write_atomic(target, "one\n")
    outside = tmp_path / "outside"
    outside.write_text("keep\n")
    target.unlink()
    target.symlink_to(outside)
    write_atomic(target, b"two\n")  # the link is replaced, its target untouched
    assert not target.is_symlink() and target.read_text() == "two\n" and outside.read_text() == "keep\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["outside", "report.json"], "no temporary left"
    (tmp_path / "d").mkdir()
    with pytest.raises(BuildDirError, match="is a folder"):
        write_atomic(tmp_path / "d", "x")
    with pytest.raises(BuildDirError, match="cannot write it"):
        write_atomic(tmp_path / "missing" / "x.json", "x")


# ---------------------------------------------------------------------------------------------
# leftovers of interrupted builds


def test_own_leftovers_are_cleaned_and_foreign_ones_kept(tmp_path, plan_a, clean):
    out = tmp_path / "b"
    write_plan(plan_a, out)
    (out / f".ir.json.4242-0123456789abcdef{TMP_SUFFIX}").write_bytes(b"half")
    (out / "spice" / f"free.sp{TMP_SUFFIX}").write_bytes(b"half")  # the name older versions used
    (out / f"notes{TMP_SUFFIX}").write_bytes(b"the user's")  # not next to a file codegen writes
    report = write_plan(plan_a, out)
    assert sorted(report.cleaned) == [
        f".ir.json.4242-0123456789abcdef{TMP_SUFFIX}",
        f"spice/free.sp{TMP_SUFFIX}",
    ]
    assert (out / f"notes{TMP_SUFFIX}").read_bytes() == b"the user's"
    (out / f"notes{TMP_SUFFIX}").unlink()
    assert _tree(out) == clean["a"]


def test_files_written_but_not_yet_in_the_manifest_are_ours(tmp_path, plan_a, plan_b, clean):
    """The pending journal: a build of B stopped after writing its files (manifest still A's);
    a plain build of A (the user went back) must claim B's files, not call them foreign."""
    out = tmp_path / "b"
    write_plan(plan_a, out)
    env = {**ENV, "CODEGEN_TEST_KILL_AT": str(_points(plan_a, plan_b) - 2)}  # before manifest rename
    assert _write_in_child(plan_b, out, env, tmp_path).returncode == -signal.SIGKILL
    assert (out / PENDING).exists() and (out / "extra" / "deep" / "new.txt").exists()
    assert json.loads((out / MANIFEST).read_text())["chip_sha256"] == plan_a.meta["chip_sha256"]
    report = write_plan(plan_a, out)
    assert report.resumed and "extra/deep/new.txt" in report.removed
    assert _tree(out) == clean["a"]
    assert not (out / "extra").exists(), "folders left empty by removed stale files go too"


# ---------------------------------------------------------------------------------------------
# kill -9 during a build


def _variant(plan: BuildPlan, tag: str, change: int, drop: int) -> BuildPlan:
    out = BuildPlan(meta={**plan.meta, "chip_sha256": sha_of(tag)})
    for i, (rel, data) in enumerate(sorted(plan.files.items())):
        if i % drop == drop - 1:
            continue
        out.add(rel, data + f"\n# {tag}\n".encode() if i % change == 0 else data)
    out.add(f"{tag}/only.txt", f"only in {tag}\n")
    return out


def sha_of(tag: str) -> str:
    return hashlib.sha256(tag.encode()).hexdigest()


@pytest.mark.parametrize("final", ["a", "c"])
def test_two_interrupted_builds_in_a_row_forget_nothing(tmp_path, plan_a, plan_b, clean, final):
    """A built; B killed half way; C killed half way (its journal carries B's entries along);
    then a plain build of A (or of C) equals a clean one: B's files are still recognised."""
    plan_c = _variant(plan_a, "c", change=4, drop=7)
    out = tmp_path / "b"
    write_plan(plan_a, out)
    for plan, old in ((plan_b, plan_a), (plan_c, plan_b)):
        k = _points(old, plan) // 2
        proc = _write_in_child(plan, out, {**ENV, "CODEGEN_TEST_KILL_AT": str(k)}, tmp_path)
        assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert (out / "extra" / "deep" / "new.txt").exists(), "B got as far as its new file"
    target = plan_a if final == "a" else plan_c
    write_plan(target, out)
    ref = tmp_path / "clean"
    write_plan(target, ref)
    assert _tree(out) == _tree(ref)


_CHILD = (
    "import pickle, sys\n"
    "from codegen.plan import write_plan\n"
    "write_plan(pickle.load(open(sys.argv[1], 'rb')), sys.argv[2])\n"
)


def _write_in_child(plan: BuildPlan, out: Path, env: dict, tmp: Path) -> subprocess.CompletedProcess:
    pk = tmp / f"plan-{plan.digest[:8]}.pickle"
    if not pk.exists():
        pk.write_bytes(pickle.dumps(plan))
    return subprocess.run(
        [sys.executable, "-c", _CHILD, str(pk), str(out)], env=env, capture_output=True, text=True, timeout=60
    )


def _points(old: BuildPlan | None, new: BuildPlan) -> int:
    """Test points of the writing phase of ``new`` over ``old``: the journal (2), each changed file
    (2: half written, renamed), each stale file (1), the manifest (2)."""
    before = old.files if old else {}
    changed = sum(before.get(rel) != data for rel, data in new.files.items())
    stale = sum(rel not in new.files for rel in before)
    return 2 + 2 * changed + stale + 2


def _check_whole(out: Path, olds: list[BuildPlan], new: BuildPlan) -> None:
    """After a kill: every file of either plan is whole (one plan's content) and the manifest too."""
    for rel in set(new.files).union(*(o.files for o in olds)):
        p = out / rel
        if p.exists():
            allowed = {pl.files[rel] for pl in [*olds, new] if rel in pl.files}
            assert p.read_bytes() in allowed, f"{rel} is half written"
    if (out / MANIFEST).exists():
        assert (out / MANIFEST).read_bytes() in {pl.manifest_bytes() for pl in [*olds, new]}


def _kill_points(n: int, k: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    return sorted({1, 2, 3, n - 1, n, *rng.sample(range(1, n + 1), min(k, n))})


def test_kill_point_count_is_exact(tmp_path, plan_a, plan_b):
    """The point count used below is right: killed at the last point, complete one past it."""
    n = _points(plan_a, plan_b)
    for k, rc in ((n, -signal.SIGKILL), (n + 1, 0)):
        out = tmp_path / f"k{k}"
        write_plan(plan_a, out)
        proc = _write_in_child(plan_b, out, {**ENV, "CODEGEN_TEST_KILL_AT": str(k)}, tmp_path)
        assert proc.returncode == rc, proc.stderr


@pytest.mark.parametrize("scenario", ["fresh", "update", "revert"])
def test_kill_9_at_random_points_then_plain_build_equals_clean(tmp_path, plan_a, plan_b, clean, scenario):
    """fresh: A into an empty folder, killed, then A.  update: A → B killed, then B.  revert: A → B
    killed, then A.  Never needs --force; every file is whole after the kill."""
    old, new, final = {
        "fresh": (None, plan_a, "a"),
        "update": (plan_a, plan_b, "b"),
        "revert": (plan_a, plan_b, "a"),
    }[scenario]
    final_plan = plan_a if final == "a" else plan_b
    n = _points(old, new)
    for k in _kill_points(n, 6, seed={"fresh": 1, "update": 2, "revert": 3}[scenario]):
        out = tmp_path / f"k{k}"
        if old is not None:
            write_plan(old, out)
        proc = _write_in_child(new, out, {**ENV, "CODEGEN_TEST_KILL_AT": str(k)}, tmp_path)
        assert proc.returncode == -signal.SIGKILL, (k, proc.stderr)
        _check_whole(out, [old] if old else [], new)
        write_plan(final_plan, out)  # no force
        assert _tree(out) == clean[final], f"killed at point {k} of {n}"


@pytest.mark.slow
@pytest.mark.parametrize("scenario", ["fresh", "update", "revert"])
def test_kill_9_at_every_point(tmp_path, plan_a, plan_b, clean, scenario):
    old, new, final = {
        "fresh": (None, plan_a, "a"),
        "update": (plan_a, plan_b, "b"),
        "revert": (plan_a, plan_b, "a"),
    }[scenario]
    final_plan = plan_a if final == "a" else plan_b
    n = _points(old, new)
    for k in range(1, n + 1):
        out = tmp_path / f"k{k}"
        if old is not None:
            write_plan(old, out)
        proc = _write_in_child(new, out, {**ENV, "CODEGEN_TEST_KILL_AT": str(k)}, tmp_path)
        assert proc.returncode == -signal.SIGKILL, (k, proc.stderr)
        _check_whole(out, [old] if old else [], new)
        write_plan(final_plan, out)
        assert _tree(out) == clean[final], f"killed at point {k} of {n}"


@pytest.mark.slow
def test_cli_build_killed_from_outside_after_random_delays(tmp_path):
    """A real ``codegen build`` (slowed by CODEGEN_TEST_WRITE_DELAY_S between writes) gets SIGKILL
    a random time after it started writing; then a plain ``codegen build`` equals a clean one."""
    rng = random.Random(16)
    env = {**ENV, "CODEGEN_TEST_WRITE_DELAY_S": "0.01"}
    clean_tree = _clean_cli_tree(tmp_path)
    for attempt in range(3):
        out = tmp_path / f"o{attempt}"
        proc = subprocess.Popen(
            [sys.executable, "-m", "codegen", "build", str(KIRAZ), "-o", str(out), "--no-compile", "-q"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            while not (out / PENDING).exists() and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.005)
            assert proc.poll() is None, "the build ended before it could be killed"
            time.sleep(rng.uniform(0.0, 0.6))  # the writing phase takes ~0.8 s at this delay
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.wait(timeout=60)
        assert proc.returncode == -signal.SIGKILL
        again = _cli("build", str(KIRAZ), "-o", str(out), "--no-compile", "-q")
        assert again.returncode == 0, again.stderr
        assert _tree(out) == clean_tree, f"attempt {attempt}"


def _clean_cli_tree(tmp_path: Path) -> dict[str, bytes]:
    ref = tmp_path / "clean_cli"
    proc = _cli("build", str(KIRAZ), "-o", str(ref), "--no-compile", "-q")
    assert proc.returncode == 0, proc.stderr
    return _tree(ref)


# ---------------------------------------------------------------------------------------------
# concurrency


def test_two_concurrent_cli_builds_both_succeed(tmp_path):
    """Two builds into one folder at once: the second waits for the first's lock; no traceback."""
    clean_tree = _clean_cli_tree(tmp_path)
    out = tmp_path / "shared"
    env = {**ENV, "CODEGEN_TEST_WRITE_DELAY_S": "0.005"}
    cmd = [sys.executable, "-m", "codegen", "build", str(KIRAZ), "-o", str(out), "--no-compile", "-q"]
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    results = [p.communicate(timeout=120) for p in procs]
    for p, (_, err) in zip(procs, results, strict=True):
        assert p.returncode == 0, err.decode()
    assert _tree(out) == clean_tree


def test_concurrent_threads_writing_one_folder(tmp_path, plan_a, plan_b, clean):
    out = tmp_path / "shared"
    errors: list[BaseException] = []

    def go(plan: BuildPlan) -> None:
        try:
            write_plan(plan, out)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(p,)) for p in (plan_a, plan_a, plan_a)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert _tree(out) == clean["a"]


def test_a_held_lock_makes_the_build_wait_then_exit_2(tmp_path, plan_a):
    out = tmp_path / "b"
    out.mkdir()
    fd = os.open(out / LOCK, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        t = time.perf_counter()
        with pytest.raises(BuildDirError, match="another codegen build is writing this folder"):
            write_plan(plan_a, out, lock_timeout_s=0.3)
        assert 0.3 <= time.perf_counter() - t < 5
        assert sorted(p.name for p in out.iterdir()) == [LOCK], "nothing was written"
    finally:
        os.close(fd)
    write_plan(plan_a, out)
    assert not (out / LOCK).exists(), "the lock file goes when the build ends"


# ---------------------------------------------------------------------------------------------
# full disk and read-only folders (tmpfs mounts: root only)


def _mount_tmpfs(where: Path, options: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a tmpfs (full-disk and read-only folders); chmod does not stop root")
    where.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True, text=True
    )
    if proc.returncode != 0:
        pytest.skip(f"mount -t tmpfs not permitted here: {proc.stderr.strip()[:120]}")


def _umount(where: Path) -> None:
    subprocess.run(["umount", "-l", str(where)], capture_output=True)


@pytest.fixture
def small_disk(tmp_path):
    mnt = tmp_path / "disk"
    _mount_tmpfs(mnt, "size=2m,mode=0755")
    yield mnt
    _umount(mnt)


def _fill(disk: Path, leave_bytes: int) -> Path:
    """A filler file that leaves about ``leave_bytes`` (B) free on ``disk``."""
    filler = disk / "filler.bin"
    st = os.statvfs(disk)
    size = max(0, st.f_bavail * st.f_frsize - leave_bytes)
    with open(filler, "wb") as f:
        f.write(b"\0" * size)
    return filler


def _pages(data: bytes) -> int:
    """tmpfs space (B) of a file holding ``data``: whole 4 KiB pages (folders take none)."""
    return -(-len(data) // 4096) * 4096


@pytest.mark.parametrize("where", ["journal", "first_file", "middle_file", "manifest", "update", "enough"])
def test_full_disk_fails_with_exit_2_then_a_plain_build_recovers(small_disk, plan_a, plan_b, clean, where):
    """Free space is set so that ENOSPC hits the journal, the first file, a file half way, the
    manifest (A into an empty folder), or the first changed file of B over A; ``enough`` is the
    control (exactly the space needed, the build succeeds).  On ENOSPC: BuildDirError (exit 2), no
    temporary file left, every file whole; after freeing space a plain build equals a clean one."""
    out = small_disk / "b"
    old, new = (plan_a, plan_b) if where == "update" else (None, plan_a)
    if old is not None:
        write_plan(old, out)
    journal = _pages(new.manifest_bytes())
    files = [_pages(d) for _, d in sorted(new.files.items())]
    leave = {
        "journal": journal - 4096,
        "first_file": journal,
        "middle_file": journal + sum(files[: len(files) // 2]),
        "manifest": journal + sum(files),
        "update": journal,
        "enough": 2 * journal + sum(files),
    }[where]
    filler = _fill(small_disk, leave)
    if where == "enough":
        write_plan(new, out)  # the space computed above is exactly enough
        assert _tree(out) == clean["a"]
        return
    with pytest.raises(BuildDirError, match="No space left on device.*no --force needed") as info:
        write_plan(new, out)
    expect = {"journal": PENDING, "manifest": MANIFEST}.get(where)
    if expect:
        assert f"while writing {expect}" in str(info.value)
    else:
        assert "while writing " in str(info.value) and PENDING not in str(info.value)
    _check_whole(out, [old] if old else [], new)
    assert not [p for p in out.rglob(f"*{TMP_SUFFIX}")], "no temporary file left behind"
    filler.unlink()
    write_plan(new, out)
    assert _tree(out) == clean["b" if where == "update" else "a"]


def test_cli_full_disk_exit_2_and_recovery(small_disk, tmp_path):
    clean_tree = _clean_cli_tree(tmp_path)
    out = small_disk / "b"
    filler = _fill(small_disk, 48 * 1024)
    proc = _cli("build", str(KIRAZ), "-o", str(out), "--no-compile", "-q")
    assert proc.returncode == 2, proc.stderr
    _no_traceback(proc)
    assert "No space left on device" in proc.stderr and str(out) in proc.stderr
    filler.unlink()
    proc = _cli("build", str(KIRAZ), "-o", str(out), "--no-compile", "-q")
    assert proc.returncode == 0, proc.stderr
    assert _tree(out) == clean_tree


@pytest.fixture
def read_only(tmp_path):
    mnt = tmp_path / "ro"
    _mount_tmpfs(mnt, "ro,size=1m")
    yield mnt
    _umount(mnt)


def test_read_only_folder_build_train_check_exit_2_up_front(read_only, tmp_path):
    """Each command refuses before it renders, trains or simulates (so within seconds)."""
    with pytest.raises(OSError) as info:
        (read_only / "probe").write_text("x")
    assert info.value.errno == errno.EROFS, "the mount really is read-only, even for root"
    runs = {
        "build": ["build", str(KIRAZ), "-o", str(read_only / "b"), "--no-compile"],
        "build_root": ["build", str(KIRAZ), "-o", str(read_only), "--no-compile"],
        "train": ["train", str(KIRAZ), "-o", str(read_only / "train"), "--epochs", "1", "-q"],
        "check": ["check", str(KIRAZ), "--json", str(read_only / "check.json")],
    }
    for name, args in runs.items():
        t = time.perf_counter()
        proc = _cli(*args, cwd=tmp_path)
        took = time.perf_counter() - t
        assert proc.returncode == 2, (name, proc.stdout[-2000:], proc.stderr)
        _no_traceback(proc)
        assert "Read-only file system" in proc.stderr and str(read_only) in proc.stderr, (name, proc.stderr)
        assert took < 30, (name, took)
    assert list(read_only.iterdir()) == []
