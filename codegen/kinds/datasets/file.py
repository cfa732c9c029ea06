"""Dataset kind ``file``: a user's ``.npz`` or ``.csv`` (``training.dataset.file``, relative to the
chip.yaml's folder), read with every safety check, and the checks of features, labels and targets
that files and arrays from Python share.

* ``.npz``: arrays ``x`` (N, n_in) of features and either ``y`` (N,) integer class labels
  0..K−1 or ``t`` (N, n_out) regression targets (V).  Read with ``allow_pickle=False``.
* ``.csv``: a header row naming the columns, one sample per row; ``label: COLUMN`` names the class
  column (integers, or names mapped to 0..K−1 in sorted order), every other column is a feature.
  Parsed with the :mod:`csv` module: nothing in the file is executed.

A file is read only if it is a regular file (not a directory, device or FIFO) of at most
:data:`MAX_FILE_BYTES`; its feature matrix may hold at most :data:`MAX_ARRAY_BYTES` as float64 and
every value must be finite.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ...errors import CodegenError
from . import DatasetKind, register

if TYPE_CHECKING:
    from ...ir import Chip

__all__ = ["DataFile", "read_data_file", "FileKind", "MAX_FILE_BYTES", "MAX_ARRAY_BYTES"]

#: largest data file read (bytes)
MAX_FILE_BYTES = 256 * 2**20
#: largest array in a data file, and the feature matrix N×n_in as float64 (bytes)
MAX_ARRAY_BYTES = 512 * 2**20
_NPZ_KEYS = ("x", "y", "t")


# --------------------------------------------------------------------------- checks shared by files and arrays
def _as_features(x: np.ndarray, where: str) -> np.ndarray:
    if x.dtype.hasobject or x.dtype.kind not in "biuf":
        raise CodegenError(f"{where}: x must hold numbers, got dtype {x.dtype}")
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
        raise CodegenError(f"{where}: x must have shape (N, n_in) with N, n_in ≥ 1, got shape {x.shape}")
    if x.size * 8 > MAX_ARRAY_BYTES:
        raise CodegenError(
            f"{where}: x of shape {x.shape} needs {x.size * 8} bytes as float64, over the limit of "
            f"{MAX_ARRAY_BYTES} bytes"
        )
    xa = np.ascontiguousarray(x, dtype=float)
    _check_finite(xa, "x", where)
    return xa


def _check_finite(a: np.ndarray, what: str, where: str) -> None:
    bad = ~np.isfinite(a)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise CodegenError(
            f"{where}: {what} holds {int(bad.sum())} non-finite values (NaN or ±inf), the first at index "
            f"{first}; only finite numbers are allowed"
        )


def _as_labels_or_targets(
    y: np.ndarray | None, t: np.ndarray | None, n: int, where: str
) -> tuple[np.ndarray | None, np.ndarray | None]:
    if (y is None) == (t is None):
        raise CodegenError(
            f"{where}: give either y (N,) class labels or t (N, n_out) targets (V), not both or neither"
        )
    if y is not None:
        ya = np.asarray(y)
        if ya.dtype.hasobject or ya.dtype.kind not in "biuf":
            raise CodegenError(f"{where}: y must hold integer class labels, got dtype {ya.dtype}")
        if ya.ndim != 1 or len(ya) != n:
            raise CodegenError(f"{where}: y must have shape ({n},) to match x, got shape {ya.shape}")
        _check_finite(ya.astype(float), "y", where)
        if ya.dtype.kind == "f" and not np.all(ya == np.round(ya)):
            raise CodegenError(f"{where}: y must hold integer class labels, got non-integer values")
        if ya.min() < 0:
            raise CodegenError(f"{where}: y must hold class labels ≥ 0, got {ya.min():g}")
        return ya.astype(int), None
    ta = np.asarray(t)
    if ta.dtype.hasobject or ta.dtype.kind not in "biuf":
        raise CodegenError(f"{where}: t must hold target voltages (V), got dtype {ta.dtype}")
    if ta.ndim != 2 or len(ta) != n:
        raise CodegenError(f"{where}: t must have shape ({n}, n_out) to match x, got shape {ta.shape}")
    ta = np.ascontiguousarray(ta, dtype=float)
    _check_finite(ta, "t", where)
    return None, ta


def _check_outputs(
    labels: np.ndarray | None, targets: np.ndarray | None, n_out: int | None, where: str
) -> int:
    """The number of outputs the data needs; an error naming both when ``n_out`` (the chip's) differs."""
    if targets is not None:
        if n_out is not None and targets.shape[1] != n_out:
            raise CodegenError(
                f"{where}: t has shape {targets.shape} ({targets.shape[1]} targets) but the chip has "
                f"{n_out} outputs (network.layers[-1])"
            )
        return targets.shape[1]
    assert labels is not None
    k = int(labels.max()) + 1
    if n_out is None:
        return k
    if n_out == 1 and k > 2:
        raise CodegenError(
            f"{where}: y has {k} classes (labels 0..{k - 1}) but the chip has 1 output, which can "
            "tell only 2 classes (labels 0/1)"
        )
    if n_out > 1 and k > n_out:
        raise CodegenError(
            f"{where}: y has labels 0..{k - 1} ({k} classes) but the chip has {n_out} outputs "
            "(network.layers[-1]); one output per class"
        )
    return n_out


# --------------------------------------------------------------------------- files
@dataclass(frozen=True)
class DataFile:
    """The arrays of a user's data file: features ``x`` (N, n_in), labels ``y`` (N,) or targets
    ``t`` (N, n_out, V), and the file's sha256."""

    x: np.ndarray
    y: np.ndarray | None
    t: np.ndarray | None
    sha256: str

    @property
    def n_outputs_needed(self) -> int:
        """Outputs the data needs: target columns, or classes (2 classes fit 1 output too)."""
        return self.t.shape[1] if self.t is not None else int(self.y.max()) + 1  # type: ignore[union-attr]


def _kind_of(st_mode: int) -> str:
    for test, what in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(st_mode):
            return what
    return "not a regular file"


def _read_bytes(path: str, where: str) -> tuple[bytes | None, tuple]:
    """The bytes of ``path`` (None when the file is unchanged since the last read, by device,
    inode, size and mtime) and that stat key; anything but a regular file of at most
    MAX_FILE_BYTES is refused.

    Opened non-blocking (a FIFO does not hang) and checked on the open descriptor, so a symlink to
    a device (``/dev/zero``) is refused before one byte is read.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise CodegenError(f"{where}: no such file") from None
    except IsADirectoryError:
        raise CodegenError(f"{where}: is a directory; a data file (.npz or .csv) is needed") from None
    except OSError as exc:
        raise CodegenError(f"{where}: cannot open: {exc.strerror or exc.__class__.__name__}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise CodegenError(f"{where}: is {_kind_of(st.st_mode)}; only a regular file is read")
        if st.st_size > MAX_FILE_BYTES:
            raise CodegenError(
                f"{where}: {st.st_size} bytes, over the limit of {MAX_FILE_BYTES} bytes for a data file"
            )
        key = (os.path.abspath(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        if key in _SHA_BY_STAT:
            return None, key
        chunks, total = [], 0
        while True:
            b = os.read(fd, 1 << 20)
            if not b:
                break
            total += len(b)
            if total > MAX_FILE_BYTES:
                raise CodegenError(f"{where}: grew past the limit of {MAX_FILE_BYTES} bytes while being read")
            chunks.append(b)
        return b"".join(chunks), key
    finally:
        os.close(fd)


def _read_npz(data: bytes, where: str) -> dict[str, np.ndarray]:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise CodegenError(f"{where}: not a valid .npz file ({exc})") from None
    arrays: dict[str, np.ndarray] = {}
    for info in infos:
        key = info.filename.removesuffix(".npy")
        if key not in _NPZ_KEYS or not info.filename.endswith(".npy"):
            raise CodegenError(
                f"{where}: unexpected array {info.filename!r}; allowed: x (N, n_in), and y (N,) or t (N, n_out)"
            )
        if info.file_size > MAX_ARRAY_BYTES + 4096:
            raise CodegenError(
                f"{where}: array {key!r} unpacks to {info.file_size} bytes, over the limit of "
                f"{MAX_ARRAY_BYTES} bytes"
            )
        try:
            with zf.open(info) as f:
                version = np.lib.format.read_magic(f)
                header = (
                    np.lib.format.read_array_header_1_0
                    if version == (1, 0)
                    else np.lib.format.read_array_header_2_0
                )
                shape, _fortran, dtype = header(f)
            if dtype.hasobject:
                raise CodegenError(
                    f"{where}: array {key!r} holds Python objects (a pickle); only numeric arrays are read"
                )
            nbytes = int(np.prod(shape, dtype=np.int64)) * max(dtype.itemsize, 8)
            if nbytes > MAX_ARRAY_BYTES:
                raise CodegenError(
                    f"{where}: array {key!r} of shape {tuple(shape)} needs {nbytes} bytes as float64, over "
                    f"the limit of {MAX_ARRAY_BYTES} bytes"
                )
            with zf.open(info) as f:
                arrays[key] = np.lib.format.read_array(f, allow_pickle=False)
        except CodegenError:
            raise
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
            raise CodegenError(f"{where}: array {key!r} cannot be read: {exc}") from None
    if "x" not in arrays:
        raise CodegenError(f"{where}: no array 'x'; an .npz needs x (N, n_in) and y (N,) or t (N, n_out)")
    return arrays


def _read_csv(data: bytes, label: str | None, where: str) -> tuple[np.ndarray, np.ndarray]:
    if label is None:
        raise CodegenError(f"{where}: a .csv file needs `label: COLUMN` naming its class-label column")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CodegenError(f"{where}: not UTF-8 text (byte {exc.start})") from None
    rows = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(rows)]
    except StopIteration:
        raise CodegenError(f"{where}: empty file; a header row naming the columns is needed") from None
    except csv.Error as exc:
        raise CodegenError(f"{where}:1: {exc}") from None
    if label not in header:
        raise CodegenError(f"{where}: no column {label!r} (label); columns: {', '.join(header)}")
    if header.count(label) > 1:
        raise CodegenError(f"{where}: column {label!r} appears {header.count(label)} times")
    li = header.index(label)
    ncol = len(header)
    if ncol < 2:
        raise CodegenError(f"{where}: needs at least one feature column besides {label!r}")
    max_rows = MAX_ARRAY_BYTES // (8 * (ncol - 1))
    # one float64 row per line at most, filled in place (no Python list of every value)
    x = np.empty((min(text.count("\n") + 1, max_rows), ncol - 1))
    cols = [j for j in range(ncol) if j != li]
    labels: list[str] = []
    n = 0
    try:
        for row in rows:
            line = rows.line_num
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != ncol:
                raise CodegenError(f"{where}:{line}: {len(row)} columns, the header has {ncol}")
            if n >= len(x):
                raise CodegenError(
                    f"{where}: more than {max_rows} rows of {ncol - 1} features exceed the limit of "
                    f"{MAX_ARRAY_BYTES} bytes as float64"
                )
            for k, j in enumerate(cols):
                try:
                    x[n, k] = float(row[j])
                except ValueError:
                    raise CodegenError(
                        f"{where}:{line}: column {header[j]!r}: {row[j]!r} is not a number"
                    ) from None
            labels.append(row[li].strip())
            n += 1
    except csv.Error as exc:
        raise CodegenError(f"{where}:{rows.line_num}: {exc}") from None
    if n == 0:
        raise CodegenError(f"{where}: no data rows after the header")
    x = x[:n]
    try:
        y = np.array([int(v) for v in labels])
    except ValueError:
        _, y = np.unique(np.array(labels), return_inverse=True)  # names → 0..K−1, sorted
    return x, y


#: file stat key → sha256, and (sha256, suffix, label) → parsed file: a file read once per change
_SHA_BY_STAT: dict[tuple, str] = {}
_PARSED: dict[tuple, DataFile] = {}
_CACHE_ENTRIES = 4


def _parse(data: bytes, suffix: str, label: str | None, where: str) -> DataFile:
    if suffix == ".npz":
        if label is not None:
            raise CodegenError(f"{where}: `label` is for .csv files; an .npz holds y (N,) or t (N, n_out)")
        arrays = _read_npz(data, where)
        x, y, t = arrays["x"], arrays.get("y"), arrays.get("t")
    else:
        x, y = _read_csv(data, label, where)
        t = None
    xa = _as_features(x, where)
    labels, targets = _as_labels_or_targets(y, t, len(xa), where)
    for a in (xa, labels, targets):
        if a is not None:
            a.setflags(write=False)
    return DataFile(x=xa, y=labels, t=targets, sha256=hashlib.sha256(data).hexdigest())


def read_data_file(path: str | Path, label: str | None = None, display: str | None = None) -> DataFile:
    """Read a user's ``.npz`` or ``.csv`` data file (see module doc) with every safety check.

    ``label``: the class column of a CSV; ``display``: the name errors use for the file (default
    the path).  Raises :class:`~codegen.errors.CodegenError` with a message naming the file.  An
    unchanged file (same inode, size and mtime) is parsed once.
    """
    where = display or str(path)
    suffix = Path(path).suffix.lower()
    if suffix not in (".npz", ".csv"):
        raise CodegenError(f"{where}: unknown data file type {suffix or '(none)'!r}; allowed: .npz, .csv")
    data, key = _read_bytes(str(path), where)
    if data is None:
        cached = _PARSED.get((_SHA_BY_STAT[key], suffix, label))
        if cached is not None:
            return cached
        data, key = _read_bytes_uncached(str(path), where)
    f = _parse(data, suffix, label, where)
    _SHA_BY_STAT[key] = f.sha256
    _PARSED[(f.sha256, suffix, label)] = f
    for cache in (_SHA_BY_STAT, _PARSED):
        while len(cache) > _CACHE_ENTRIES:
            cache.pop(next(iter(cache)))
    return f


def _read_bytes_uncached(path: str, where: str) -> tuple[bytes, tuple]:
    _SHA_BY_STAT.clear()
    data, key = _read_bytes(path, where)
    assert data is not None
    return data, key


@register
class FileKind(DatasetKind):
    """A user's data file; the chip's hash holds its sha256 (pass ``dataset``), checked again here."""

    name = "file"
    summary = "your own .npz or .csv (training.dataset.file)"
    order = 1000

    @classmethod
    def raw(cls, chip: Chip) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        tr = chip.training
        assert tr.dataset_path is not None
        f = read_data_file(tr.dataset_path, tr.dataset_label, display=tr.dataset)
        if f.sha256 != tr.dataset_sha256:
            raise CodegenError(
                f"{tr.dataset}: changed since the chip was elaborated (sha256 {f.sha256[:16]}…, "
                f"expected {str(tr.dataset_sha256)[:16]}…); load chip.yaml again"
            )
        if f.x.shape[1] != chip.n_inputs:
            raise CodegenError(
                f"{tr.dataset}: x has shape {f.x.shape} but the chip has {chip.n_inputs} inputs "
                f"(network.layers[0]); it takes x of shape (N, {chip.n_inputs})"
            )
        return f.x, f.y, f.t
