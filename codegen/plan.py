"""Build plans: render everything in memory, then write only inside the build folder.

A :class:`BuildPlan` maps relative POSIX paths to bytes.  :func:`write_plan` writes a plan under a
build directory together with ``manifest.json`` (sha256 of every file, the chip's hash and the tool
versions).  It never overwrites or deletes a file it did not generate: a file is ours only if
``manifest.json`` (or the pending journal of an interrupted build, below) lists it with the sha256
it still has, or if it already holds exactly the bytes the plan wants.  Unchanged files are not
rewritten.

The build folder cannot be turned against the user:

* every path, from the plan or from an existing manifest, must be relative with no ``..``, ``.`` or
  empty part; a manifest naming anything else is refused (with ``--force`` it is ignored, and no
  file it names is deleted);
* the folder is walked one component at a time from an open descriptor of the build folder with
  ``O_NOFOLLOW``, so no symlink inside it (a subfolder, a file, ``manifest.json``) is ever followed
  for a read, a write or a delete: such a build is refused with the link named;
* only regular files are created, replaced or deleted.

Interrupted builds recover on their own:

* each file is written to a unique temporary name in its own folder
  (``.NAME.PID-RANDOM.codegen-tmp``), fsync'd and renamed over the target, so every file is either
  its old or its new content;
* before the first file changes, the new manifest is written (atomically) as the journal
  ``.codegen-pending.json``; ``manifest.json`` is renamed in last and the journal removed after
  it.  A build killed (or out of disk space) at any point therefore leaves files that the next
  plain build recognises as its own (their sha256 is in the manifest or the journal) and finishes;
  temporary files are recognised by their name and removed;
* one build at a time: an exclusive ``flock`` on ``.codegen.lock`` in the build folder (waits up to
  ``lock_timeout_s``, then refuses); the lock file is removed when the build ends.

This needs POSIX (``fcntl``, ``O_NOFOLLOW`` and ``dir_fd`` support), as does the rest of the tool
chain (ngspice, Icarus, openvaf-r).
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import re
import secrets
import signal
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .errors import BuildDirError

__all__ = [
    "BuildPlan",
    "WriteReport",
    "write_plan",
    "ensure_writable_dir",
    "write_atomic",
    "check_relpath",
    "MANIFEST",
    "PENDING",
    "LOCK",
    "sha256",
]

MANIFEST = "manifest.json"
#: journal of a build in progress: the manifest it is about to write (removed once it is written)
PENDING = ".codegen-pending.json"
#: lock file taken (flock) for the duration of a build, removed when the build ends
LOCK = ".codegen.lock"
TMP_SUFFIX = ".codegen-tmp"
#: names of codegen's own temporary files: ``.NAME.PID-16HEX.codegen-tmp``
_TMP_RE = re.compile(r"^\..+\.[0-9]+-[0-9a-f]{16}\.codegen-tmp$")
_RESERVED = frozenset({MANIFEST, PENDING, LOCK})
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | _CLOEXEC


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_relpath(path: object) -> str | None:
    """Why ``path`` may not name a file of a build folder, or None if it may.

    Allowed: a relative POSIX path of non-empty parts, none of them ``.`` or ``..``, without NUL or
    backslash, each part at most 200 bytes, not one of codegen's own names (``manifest.json``,
    ``.codegen-pending.json``, ``.codegen.lock``, ``*.codegen-tmp``).
    """
    if not isinstance(path, str) or not path:
        return "not a non-empty string"
    if "\x00" in path or "\\" in path:
        return "contains a NUL or backslash character"
    if path.startswith("/"):
        return "is an absolute path"
    parts = path.split("/")
    if ".." in parts:
        return "has a '..' part (outside the build folder)"
    if any(p in ("", ".") for p in parts):
        return "has an empty or '.' part"
    if any(len(p.encode("utf-8", "surrogateescape")) > 200 for p in parts):
        return "has a part longer than 200 bytes"
    if path in _RESERVED or parts[-1].endswith(TMP_SUFFIX):
        return "is one of codegen's own bookkeeping names"
    return None


@dataclass
class BuildPlan:
    """In-memory build: ``files[relative_path] = bytes``; ``meta`` goes into the manifest."""

    files: dict[str, bytes] = field(default_factory=dict)
    meta: dict[str, object] = field(default_factory=dict)
    #: relative path → name of the backend that rendered it (for the build summary; not in the manifest)
    origin: dict[str, str] = field(default_factory=dict)

    def add(self, path: str, content: str | bytes, backend: str | None = None) -> None:
        p = PurePosixPath(path)
        why = "is an absolute path" if p.is_absolute() else check_relpath(str(p))
        if why:
            raise ValueError(
                f"plan paths must be relative, inside the build dir and not {MANIFEST}: {path!r} {why}"
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
    #: codegen's own leftovers of an interrupted build that were removed (temporary files)
    cleaned: list[str] = field(default_factory=list)
    #: True when an interrupted build's journal was found (and this build finished the job)
    resumed: bool = False


# --------------------------------------------------------------------------------------------
# test hook: CODEGEN_TEST_KILL_AT=N sends SIGKILL to this process at the N-th (1-based) point of
# the writing phase; CODEGEN_TEST_WRITE_DELAY_S=T sleeps T seconds at each point.  Used by
# tests/test_build_safety.py to interrupt a build deterministically; unset in normal use.
_points_passed = 0


def _test_point() -> None:
    global _points_passed
    kill_at = os.environ.get("CODEGEN_TEST_KILL_AT")
    delay = os.environ.get("CODEGEN_TEST_WRITE_DELAY_S")
    if kill_at is None and delay is None:
        return
    _points_passed += 1
    if delay:
        time.sleep(float(delay))
    if kill_at and _points_passed == int(kill_at):
        os.kill(os.getpid(), signal.SIGKILL)


# --------------------------------------------------------------------------------------------
class _Unsafe(Exception):
    """A path inside the build folder that codegen must not read, write or delete through."""

    def __init__(self, rel: str, why: str):
        super().__init__(rel, why)
        self.rel, self.why = rel, why


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "symlink"
    if stat.S_ISDIR(mode):
        return "folder"
    if stat.S_ISREG(mode):
        return "file"
    return "special file"


class _Tree:
    """Descriptors of the build folder and its subfolders, each opened relative to its parent with
    ``O_NOFOLLOW``: paths are never resolved through a symlink inside the build folder."""

    def __init__(self, root: Path, root_fd: int):
        self.root = root
        self.fds: dict[str, int] = {"": root_fd}

    def close(self) -> None:
        for fd in self.fds.values():
            os.close(fd)
        self.fds.clear()

    def _describe_link(self, pfd: int, name: str) -> str:
        try:
            return f"is a symlink (to {os.readlink(name, dir_fd=pfd)})"
        except OSError:
            return "is a symlink"

    def dir_fd(self, rel_dir: str, create: bool = False) -> int | None:
        """Descriptor of folder ``rel_dir`` ('' = the build folder); None if it does not exist and
        not ``create``.  Raises :class:`_Unsafe` if a part of it is a symlink or not a folder."""
        if rel_dir in self.fds:
            return self.fds[rel_dir]
        parent, _, name = rel_dir.rpartition("/")
        pfd = self.dir_fd(parent, create)
        if pfd is None:
            return None
        try:
            st = os.stat(name, dir_fd=pfd, follow_symlinks=False)
        except FileNotFoundError:
            if not create:
                return None
            os.mkdir(name, 0o777, dir_fd=pfd)
            st = os.stat(name, dir_fd=pfd, follow_symlinks=False)
        if stat.S_ISLNK(st.st_mode):
            raise _Unsafe(rel_dir, self._describe_link(pfd, name))
        if not stat.S_ISDIR(st.st_mode):
            raise _Unsafe(rel_dir, f"is a {_kind(st.st_mode)} where codegen needs a folder")
        try:
            fd = os.open(name, _DIR_FLAGS, dir_fd=pfd)
        except OSError as exc:  # swapped for a symlink since the stat: O_NOFOLLOW refuses it
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                raise _Unsafe(rel_dir, "changed into a symlink or non-folder while building") from exc
            raise
        self.fds[rel_dir] = fd
        return fd

    def locate(self, rel: str, create_dirs: bool = False) -> tuple[int | None, str]:
        parent, _, name = rel.rpartition("/")
        return self.dir_fd(parent, create_dirs), name

    def inspect(self, rel: str) -> tuple[str, bytes | None]:
        """``(kind, content)`` of ``rel`` without following symlinks: kind is ``missing``, ``file``
        (content read), ``symlink``, ``folder`` or ``special file``."""
        dfd, name = self.locate(rel)
        if dfd is None:
            return "missing", None
        try:
            st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
        except FileNotFoundError:
            return "missing", None
        if not stat.S_ISREG(st.st_mode):
            if stat.S_ISLNK(st.st_mode):
                return "symlink", self._describe_link(dfd, name).encode()
            return _kind(st.st_mode), None
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | _CLOEXEC, dir_fd=dfd)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return "special file", None
            chunks = []
            while chunk := os.read(fd, 1 << 20):
                chunks.append(chunk)
            return "file", b"".join(chunks)
        finally:
            os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    """Write ``data`` (os.write may write less than asked), with a test point half way."""
    view = memoryview(data)
    half = len(view) // 2
    for i, span in enumerate((view[:half], view[half:])):
        while span:
            span = span[os.write(fd, span) :]
        if i == 0:
            _test_point()  # half a file written: the state a kill or a full disk leaves most often


def _atomic_write(dfd: int, name: str, data: bytes) -> None:
    """Write ``data`` to a fresh temporary file next to ``name``, fsync it, rename it over ``name``.

    The temporary file is created with ``O_EXCL | O_NOFOLLOW`` (never an existing file or link) and
    removed again if anything fails; the rename replaces the directory entry, never a link's target.
    """
    tmp = f".{name[:120]}.{os.getpid()}-{secrets.token_hex(8)}{TMP_SUFFIX}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | _CLOEXEC, 0o666, dir_fd=dfd)
    try:
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
    except BaseException:
        try:
            os.unlink(tmp, dir_fd=dfd)
        except OSError:
            pass
        raise
    _test_point()


def _fsync_dir(fd: int) -> None:
    try:
        os.fsync(fd)
    except OSError as exc:  # some file systems cannot fsync a folder; the data files are synced
        if exc.errno not in (errno.EINVAL, errno.EBADF, errno.ENOTSUP):
            raise


@contextmanager
def _locked(root: Path, root_fd: int, timeout_s: float) -> Iterator[None]:
    """Hold an exclusive flock on ``LOCK`` in the build folder; the file is removed on release.

    After locking, the name must still refer to the locked file (a build that finished may have
    removed it meanwhile): otherwise retry, so two builds never hold locks on different files.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            fd = os.open(LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | _CLOEXEC, 0o666, dir_fd=root_fd)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise _Unsafe(LOCK, "is a symlink") from exc
            raise
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise _Unsafe(LOCK, "is not a regular file")
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                fd = -1
                if time.monotonic() >= deadline:
                    raise BuildDirError(
                        f"{root}: another codegen build is writing this folder (it holds "
                        f"{root / LOCK}); waited {timeout_s:g} s. Let it finish and build again, "
                        "or build into another folder with -o."
                    ) from None
                time.sleep(0.05)
                continue
            try:
                st = os.stat(LOCK, dir_fd=root_fd, follow_symlinks=False)
            except FileNotFoundError:
                st = None
            mine = os.fstat(fd)
            if st is None or (st.st_dev, st.st_ino) != (mine.st_dev, mine.st_ino):
                os.close(fd)
                fd = -1
                continue
        except BaseException:
            if fd >= 0:
                os.close(fd)
            raise
        break
    try:
        yield
    finally:
        try:
            os.unlink(LOCK, dir_fd=root_fd)
        except OSError:
            pass
        os.close(fd)


def _open_root(root: Path) -> int:
    """Descriptor of the build folder, created (with its parents) if missing.  ``root`` itself may
    be a symlink to a folder (the user named it); what is inside it is never followed."""
    try:
        st = os.stat(root)
    except FileNotFoundError:
        root.mkdir(parents=True, exist_ok=True)
        st = os.stat(root)
    except NotADirectoryError:
        raise BuildDirError(
            f"{root}: cannot be created: a part of this path is a file, not a folder"
        ) from None
    if not stat.S_ISDIR(st.st_mode):
        raise BuildDirError(
            f"{root}: exists and is a {_kind(st.st_mode)}, not a folder; the build folder (-o) must be "
            "a folder, existing or new"
        )
    return os.open(root, os.O_RDONLY | os.O_DIRECTORY | _CLOEXEC)


#: key of the pending journal listing the files of still earlier interrupted builds
_EARLIER = "_earlier_pending"


def _parse_journal(data: bytes) -> dict[str, set[str]] | str:
    """``{path: {sha256, ...}}`` of a manifest / pending journal, or why it is not one codegen wrote."""
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        return "not valid JSON"
    files = doc.get("files") if isinstance(doc, dict) else None
    if not isinstance(files, dict):
        return "has no 'files' table"
    earlier = doc.get(_EARLIER, {})
    if not isinstance(earlier, dict):
        return f"has a malformed {_EARLIER!r} table"
    out: dict[str, set[str]] = {}
    entries = [(rel, [e.get("sha256") if isinstance(e, dict) else None]) for rel, e in files.items()]
    entries += [(rel, d if isinstance(d, list) else [None]) for rel, d in earlier.items()]
    for rel, digests in entries:
        why = check_relpath(rel)
        if why:
            return f"lists {rel!r}, which {why}"
        for digest in digests:
            if not isinstance(digest, str) or not _HEX64.match(digest):
                return f"lists {rel!r} without a sha256"
            out.setdefault(rel, set()).add(digest)
    return out


def _journal_bytes(plan: BuildPlan, earlier: dict[str, set[str]]) -> bytes:
    """The pending journal: the manifest about to be written, plus (``_earlier_pending``) what the
    journal of a still earlier interrupted build listed, so a second interruption forgets nothing."""
    if not earlier:
        return plan.manifest_bytes()
    doc = {**plan.manifest(), _EARLIER: {rel: sorted(d) for rel, d in sorted(earlier.items())}}
    return (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode()


_UNSAFE_HINT = (
    "codegen creates, replaces and deletes only regular files strictly inside the build folder and "
    "never reads or writes through a symlink (not even with --force); nothing was written. Remove it "
    "or build into another folder with -o."
)


def write_plan(
    plan: BuildPlan, build_dir: str | Path, force: bool = False, lock_timeout_s: float = 60.0
) -> WriteReport:
    """Write ``plan`` under ``build_dir`` (see the module docstring for the guarantees).

    ``force``: overwrite regular files codegen did not generate (or that were edited since) and a
    manifest that codegen did not write (it is then ignored: nothing it lists is deleted); symlinks
    and non-regular files in the way are refused even so.  ``lock_timeout_s``: how long (s) to wait
    for another build writing the same folder.  Every problem is a :class:`BuildDirError`
    (exit 2), an ``OSError`` included; on a refusal nothing was written.
    """
    root = Path(build_dir)
    for rel in plan.files:
        why = check_relpath(rel)
        if why:
            raise BuildDirError(f"plan path {rel!r} {why}")
    doing = _Doing("opening the build folder")
    try:
        root_fd = _open_root(root)
        tree = _Tree(root, root_fd)
        try:
            with _locked(root, root_fd, lock_timeout_s):
                doing.what = "reading the build folder"
                return _write_steps(plan, tree, force, doing)
        finally:
            tree.close()
    except _Unsafe as exc:
        raise BuildDirError(f"{root / exc.rel}: {exc.why}; {_UNSAFE_HINT}") from None
    except OSError as exc:
        raise BuildDirError(_os_message(root, doing, exc)) from None


@dataclass
class _Doing:
    """What the writer is doing now, for the message if the OS refuses (e.g. ``writing spice/x.sp``);
    ``started``: whether the folder has begun to change."""

    what: str
    started: bool = False


def _os_message(root: Path, doing: _Doing, exc: OSError) -> str:
    reason = exc.strerror or str(exc)
    again = "run the same codegen build again: it finishes this one (no --force needed)"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        hint = f"Free some space, then {again}."
    elif exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        hint = "The build folder must be writable; choose another one with -o."
    else:
        hint = f"Fix that, then {again}."
    state = (
        "every file in the folder is complete, with its old or its new content"
        if doing.started
        else "nothing was written"
    )
    return f"{root}: {reason} while {doing.what}; {state}. {hint}"


def _read_journal(tree: _Tree, name: str, force: bool) -> tuple[bool, dict[str, set[str]]]:
    """``(exists, {path: {sha256, ...}})`` of ``manifest.json`` or the pending journal."""
    kind, data = tree.inspect(name)
    if kind == "missing":
        return False, {}
    if kind != "file":
        raise _Unsafe(name, (data or b"").decode() or f"is a {kind}")
    assert data is not None
    parsed = _parse_journal(data)
    if isinstance(parsed, str):
        if force:
            return True, {}  # --force: a foreign manifest is ignored, nothing it lists is deleted
        raise BuildDirError(
            f"{tree.root / name}: not a manifest written by codegen ({parsed}); refusing to use or "
            "overwrite it, nothing was written or deleted. A manifest may list only relative paths "
            "inside the build folder, each with its sha256. Move it away or pass --force (it is then "
            "ignored and replaced; no file it lists is deleted)."
        )
    return True, parsed


def _write_steps(plan: BuildPlan, tree: _Tree, force: bool, doing: _Doing) -> WriteReport:
    root = tree.root
    has_manifest, old = _read_journal(tree, MANIFEST, force)
    has_pending, pending = _read_journal(tree, PENDING, force)
    ours: dict[str, set[str]] = {}
    for table in (old, pending):
        for rel, digests in table.items():
            ours.setdefault(rel, set()).update(digests)

    report = WriteReport(resumed=has_pending)
    foreign: list[str] = []
    changed: list[str] = []
    for rel in sorted(plan.files):
        data = plan.files[rel]
        kind, current = tree.inspect(rel)
        if kind == "missing":
            changed.append(rel)
        elif kind != "file":
            raise _Unsafe(rel, (current or b"").decode() if kind == "symlink" else f"is a {kind}")
        elif current == data:
            report.unchanged.append(rel)
        else:
            assert current is not None
            if sha256(current) not in ours.get(rel, set()):
                foreign.append(rel)
            changed.append(rel)
    if foreign and not force:
        listed = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise BuildDirError(
            f"{root}: would overwrite files codegen did not generate (or that were edited since): {listed}; "
            "nothing was written. Move them away or pass --force."
        )
    stale: list[str] = []
    for rel, digests in sorted(ours.items()):
        if rel in plan.files:
            continue
        try:
            kind, current = tree.inspect(rel)
        except _Unsafe:
            continue  # reachable only through a symlink or a non-folder: not ours, left alone
        if kind == "file" and current is not None and sha256(current) in digests:
            stale.append(rel)
    new_manifest = plan.manifest_bytes()
    kind, current_manifest = tree.inspect(MANIFEST)
    manifest_changes = current_manifest != new_manifest

    # ---- from here on the folder changes; each step leaves it recoverable -------------------
    doing.started = True
    _clean_leftovers(tree, plan, ours, report)
    if changed or stale:
        doing.what = f"writing {PENDING}"
        _atomic_write(tree.fds[""], PENDING, _journal_bytes(plan, pending))
        has_pending = True
    for rel in changed:
        doing.what = f"writing {rel}"
        dfd, name = tree.locate(rel, create_dirs=True)
        assert dfd is not None
        _atomic_write(dfd, name, plan.files[rel])
        report.written.append(rel)
    for rel in stale:
        doing.what = f"removing stale {rel}"
        dfd, name = tree.locate(rel)
        assert dfd is not None
        os.unlink(name, dir_fd=dfd)
        report.removed.append(rel)
        _test_point()
    _remove_empty_dirs(tree, report.removed)
    doing.what = "syncing the build folder"
    for fd in tree.fds.values():
        _fsync_dir(fd)
    if manifest_changes:
        doing.what = f"writing {MANIFEST}"
        _atomic_write(tree.fds[""], MANIFEST, new_manifest)
    if has_pending:
        doing.what = f"removing {PENDING}"
        os.unlink(PENDING, dir_fd=tree.fds[""])
    if manifest_changes or has_pending:
        _fsync_dir(tree.fds[""])
    return report


def _clean_leftovers(tree: _Tree, plan: BuildPlan, ours: dict[str, set[str]], report: WriteReport) -> None:
    """Remove codegen's temporary files (regular files only) in every folder it has opened.

    Ours are ``.NAME.PID-16HEX.codegen-tmp`` and the ``NAME.codegen-tmp`` of older versions, the
    latter only next to a file the plan or a manifest names.  Safe because the build holds the lock:
    no other build is writing them now.
    """
    known = {*plan.files, *ours, MANIFEST, PENDING}
    for rel_dir, fd in list(tree.fds.items()):
        with os.scandir(fd) as entries:
            names = [e.name for e in entries if e.is_file(follow_symlinks=False)]
        for name in sorted(names):
            rel = f"{rel_dir}/{name}" if rel_dir else name
            legacy = name.endswith(TMP_SUFFIX) and rel[: -len(TMP_SUFFIX)] in known
            if _TMP_RE.match(name) or legacy:
                try:
                    os.unlink(name, dir_fd=fd)
                except FileNotFoundError:  # an ensure_writable_dir probe, already gone
                    continue
                report.cleaned.append(rel)


def _remove_empty_dirs(tree: _Tree, removed: list[str]) -> None:
    """Remove folders left empty by removing stale files (deepest first); others are kept."""
    dirs = {rel.rpartition("/")[0] for rel in removed}
    for rel_dir in list(dirs):
        while "/" in rel_dir:
            rel_dir = rel_dir.rpartition("/")[0]
            dirs.add(rel_dir)
    for rel_dir in sorted(dirs - {""}, key=lambda d: -d.count("/")):
        parent, _, name = rel_dir.rpartition("/")
        pfd = tree.fds.get(parent)
        if pfd is None:
            continue
        try:
            os.rmdir(name, dir_fd=pfd)
        except OSError:
            continue  # not empty (the user's files, or files of this plan): kept
        fd = tree.fds.pop(rel_dir, None)
        if fd is not None:
            os.close(fd)


def ensure_writable_dir(path: str | Path, what: str = "output folder") -> None:
    """Raise :class:`~codegen.errors.BuildDirError` unless codegen can create files in ``path``.

    ``path`` is a folder that exists or can be created (its nearest existing ancestor must be a
    writable folder).  Checked by creating and removing a probe file, so a read-only mount is
    caught even for root.  Creates nothing that stays.  ``what`` names the folder in the message
    (e.g. ``"-o folder"``).
    """
    p = Path(path)
    probe = p
    while True:
        try:
            st = os.stat(probe)
            break
        except FileNotFoundError:
            if probe.parent == probe:
                raise BuildDirError(f"{p}: the {what} cannot be created (no existing parent)") from None
            probe = probe.parent
        except NotADirectoryError:
            raise BuildDirError(
                f"{p}: the {what} cannot be created: a part of this path is a file, not a folder"
            ) from None
        except OSError as exc:
            raise BuildDirError(f"{p}: the {what} cannot be used: {exc.strerror}") from None
    if not stat.S_ISDIR(st.st_mode):
        if probe == p:
            raise BuildDirError(f"{p}: exists and is a {_kind(st.st_mode)}; the {what} must be a folder")
        raise BuildDirError(f"{p}: the {what} cannot be created: {probe} is a {_kind(st.st_mode)}")
    name = f".codegen-probe.{os.getpid()}-{secrets.token_hex(8)}{TMP_SUFFIX}"
    try:
        fd = os.open(probe / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | _CLOEXEC, 0o600)
        os.close(fd)
        try:
            os.unlink(probe / name)
        except FileNotFoundError:  # a build holding the folder's lock cleaned it up
            pass
    except OSError as exc:
        where = "" if probe == p else f" ({probe}, where it would be created)"
        raise BuildDirError(
            f"{p}: the {what} is not writable{where}: {exc.strerror}; choose a writable folder"
        ) from None


def write_atomic(path: str | Path, data: bytes | str) -> None:
    """Replace the file ``path`` by ``data`` atomically (a temporary file in its folder, fsync'd,
    renamed over it): readers and a killed process see the old or the new content, never half.

    For single outputs outside a build plan (reports, metrics written as training goes).  The
    folder must exist; ``path`` itself may not be a folder, a symlink is replaced (not followed).
    An ``OSError`` becomes a :class:`~codegen.errors.BuildDirError` naming the file.
    """
    p = Path(path)
    payload = data.encode() if isinstance(data, str) else data
    try:
        dfd = os.open(p.parent, os.O_RDONLY | os.O_DIRECTORY | _CLOEXEC)
        try:
            try:
                is_dir = stat.S_ISDIR(os.stat(p.name, dir_fd=dfd, follow_symlinks=False).st_mode)
            except FileNotFoundError:
                is_dir = False
            if is_dir:
                raise BuildDirError(f"{p}: is a folder; cannot write a file there")
            _atomic_write(dfd, p.name, payload)
            _fsync_dir(dfd)
        finally:
            os.close(dfd)
    except OSError as exc:
        raise BuildDirError(f"{p}: cannot write it: {exc.strerror or exc}") from None
