"""Measured pulse traces: conductance read after every programming pulse of a set/reset train.

CSV format (docs/devices.md, "Fitting a device to measured pulses"): a header row, then one row per
pulse, in the order the pulses were applied::

    pulse,polarity,conductance_S,cycle
    0,reset,1.02e-05,0
    1,set,1.17e-05,0
    ...

* ``pulse``: pulse number, whole numbers strictly increasing down the file;
* ``polarity``: ``set``/``reset`` (also ``+1``/``-1``, ``+``/``-``, ``up``/``down``, ``potentiation``
  /``depression``) — the pulse applied just before the reading of that row;
* ``conductance_S``: conductance read after that pulse (S, > 0, finite);
* ``cycle`` (optional): whole-number index of the set/reset cycle the row belongs to (non-decreasing);
  without it every set train starting after a reset train begins a new cycle.

Any other column is ignored.  The first row's reading is the starting state of the second pulse;
its own pulse is not used by the fit.  Parsed with :mod:`csv`: nothing in the file is executed.
"""

from __future__ import annotations

import csv
import io
import math
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import CodegenError
from ..ir import DeviceIR
from ..model.device import apply_pulse, g_from_w

__all__ = ["PulseTrace", "read_trace", "parse_trace", "simulate_trace", "POLARITY_WORDS", "MAX_TRACE_BYTES"]

#: the largest trace file read (bytes): ~1.5 million rows
MAX_TRACE_BYTES = 64 * 1024 * 1024
#: spellings of a pulse polarity (lower-cased, stripped) → +1 set, −1 reset
POLARITY_WORDS: dict[str, int] = {
    "set": 1,
    "+1": 1,
    "1": 1,
    "+": 1,
    "up": 1,
    "potentiation": 1,
    "reset": -1,
    "-1": -1,
    "-": -1,
    "down": -1,
    "depression": -1,
}
_REQUIRED = ("pulse", "polarity", "conductance_S")


@dataclass(frozen=True)
class PulseTrace:
    """A conductance-vs-pulse trace of one device.

    ``pulse``: (N,) pulse numbers; ``polarity``: (N,) +1 set / −1 reset, the pulse before each
    reading; ``g_S``: (N,) conductance read after it (S); ``cycle``: (N,) cycle index;
    ``lines``: (N,) line of each row in its file (0 for a simulated trace).
    """

    pulse: np.ndarray
    polarity: np.ndarray
    g_S: np.ndarray
    cycle: np.ndarray
    lines: np.ndarray

    def __len__(self) -> int:
        return len(self.g_S)

    @property
    def n_cycles(self) -> int:
        return int(np.unique(self.cycle).size)

    def to_csv(self) -> str:
        """The trace in the documented CSV format (``repr`` floats: reading it back is exact)."""
        out = ["pulse,polarity,conductance_S,cycle"]
        for p, s, g, c in zip(self.pulse, self.polarity, self.g_S, self.cycle, strict=True):
            out.append(f"{int(p)},{'set' if s > 0 else 'reset'},{float(g)!r},{int(c)}")
        return "\n".join(out) + "\n"


def _cycles_from_polarity(polarity: np.ndarray) -> np.ndarray:
    """Cycle index of each row: a new cycle starts at every set pulse that follows a reset pulse
    (the first row, whose own pulse is not used, belongs to the cycle of the second)."""
    starts = np.zeros(len(polarity), dtype=np.int64)
    starts[2:] = (polarity[2:] > 0) & (polarity[1:-1] < 0)
    return np.cumsum(starts)


def parse_trace(text: str, where: str) -> PulseTrace:
    """Parse the CSV text of a trace; ``where`` names the file in messages (file:line: what is allowed)."""
    rows = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(rows)]
    except StopIteration:
        raise CodegenError(
            f"{where}: empty file; a header row naming the columns {', '.join(_REQUIRED)} (and optionally cycle) is needed"
        ) from None
    except csv.Error as exc:
        raise CodegenError(f"{where}:1: {exc}") from None
    for name in (*_REQUIRED, "cycle"):
        if header.count(name) > 1:
            raise CodegenError(f"{where}:1: column {name!r} appears {header.count(name)} times")
    missing = [c for c in _REQUIRED if c not in header]
    if missing:
        raise CodegenError(
            f"{where}:1: no column {', '.join(repr(m) for m in missing)}; the header must name "
            f"{', '.join(_REQUIRED)} (and optionally cycle), got: {', '.join(header) or '(nothing)'}"
        )
    col = {name: header.index(name) for name in (*_REQUIRED, "cycle") if name in header}
    pulse: list[int] = []
    pol: list[int] = []
    g: list[float] = []
    cyc: list[int] = []
    lines: list[int] = []

    def whole(value: str, line: int, name: str) -> int:
        try:
            f = float(value)
        except ValueError:
            f = math.nan
        if not math.isfinite(f) or f != int(f) or abs(f) > 2**53:
            raise CodegenError(f"{where}:{line}: column {name!r}: {value!r} is not a whole number")
        return int(f)

    try:
        for row in rows:
            line = rows.line_num
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != len(header):
                raise CodegenError(f"{where}:{line}: {len(row)} columns, the header has {len(header)}")
            p = whole(row[col["pulse"]].strip(), line, "pulse")
            if pulse and p <= pulse[-1]:
                raise CodegenError(
                    f"{where}:{line}: column 'pulse': {p} after {pulse[-1]}; pulse numbers must increase strictly"
                )
            word = row[col["polarity"]].strip().lower()
            if word not in POLARITY_WORDS:
                raise CodegenError(
                    f"{where}:{line}: column 'polarity': {row[col['polarity']].strip()[:40]!r} is not a polarity; "
                    "allowed: set, reset (or +1/-1, +/-, up/down, potentiation/depression)"
                )
            raw = row[col["conductance_S"]].strip()
            try:
                gv = float(raw)
            except ValueError:
                gv = math.nan
            if not (math.isfinite(gv) and 0 < gv <= 1e3):
                raise CodegenError(
                    f"{where}:{line}: column 'conductance_S': {raw[:40]!r} is not a conductance; "
                    "allowed: a finite number of siemens in (0, 1000] (e.g. 1.5e-05)"
                )
            if "cycle" in col:
                c = whole(row[col["cycle"]].strip(), line, "cycle")
                if cyc and c < cyc[-1]:
                    raise CodegenError(
                        f"{where}:{line}: column 'cycle': {c} after {cyc[-1]}; cycle numbers must not decrease"
                    )
                cyc.append(c)
            pulse.append(p)
            pol.append(POLARITY_WORDS[word])
            g.append(gv)
            lines.append(line)
    except csv.Error as exc:
        raise CodegenError(f"{where}:{rows.line_num}: {exc}") from None
    if len(g) < 8:
        raise CodegenError(
            f"{where}: {len(g)} data rows; a fit needs at least 8 pulses, with both set and reset pulses"
        )
    polarity = np.array(pol, dtype=np.int64)
    if not ((polarity[1:] > 0).any() and (polarity[1:] < 0).any()):
        raise CodegenError(
            f"{where}: only {'set' if polarity[1:].max() > 0 else 'reset'} pulses; a fit needs set and reset trains"
        )
    cycle = np.array(cyc, dtype=np.int64) if cyc else _cycles_from_polarity(polarity)
    return PulseTrace(
        np.array(pulse, dtype=np.int64),
        polarity,
        np.array(g, dtype=float),
        cycle,
        np.array(lines, dtype=np.int64),
    )


def read_trace(path: str | Path, display: str | None = None) -> PulseTrace:
    """Read a trace CSV (module doc).  A missing file, a non-regular file, one over
    :data:`MAX_TRACE_BYTES`, non-UTF-8 text or a malformed row is a :class:`CodegenError` naming the
    file (and line)."""
    where = display or str(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise CodegenError(f"{where}: no such file") from None
    except OSError as exc:
        raise CodegenError(f"{where}: cannot open: {exc.strerror or exc.__class__.__name__}") from None
    if stat.S_ISDIR(st.st_mode):
        raise CodegenError(f"{where}: is a directory; a pulse-trace .csv file is needed")
    if not stat.S_ISREG(st.st_mode):
        raise CodegenError(f"{where}: not a regular file; a pulse-trace .csv file is needed")
    if st.st_size > MAX_TRACE_BYTES:
        raise CodegenError(
            f"{where}: {st.st_size} bytes, over the limit of {MAX_TRACE_BYTES} bytes for a trace"
        )
    try:
        data = Path(path).read_bytes()[: MAX_TRACE_BYTES + 1]
    except OSError as exc:
        raise CodegenError(f"{where}: cannot read: {exc.strerror or exc.__class__.__name__}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CodegenError(f"{where}: not UTF-8 text (byte {exc.start})") from None
    return parse_trace(text, where)


def simulate_trace(
    dev: DeviceIR,
    n_set: int,
    n_reset: int,
    cycles: int,
    *,
    w0: float = 0.0,
    read_noise_S: float = 0.0,
    seed: int = 0,
) -> PulseTrace:
    """A trace of ``cycles`` × (``n_set`` set then ``n_reset`` reset pulses) of the golden device
    model (:func:`codegen.model.device.apply_pulse`) from state ``w0``: each pulse's rate scaled by
    ``max(0, 1 + dev.c2c_sigma·ξ)`` (the cycle-to-cycle variation of :mod:`codegen.learn.devices`),
    each reading plus Gaussian read noise of σ ``read_noise_S`` (S).  The first row is the reading
    before the first pulse (marked reset).  Seeded: the same arguments give the same trace."""
    rng = np.random.default_rng(seed)
    pol = [-1]
    cyc = [0]
    for c in range(cycles):
        pol += [1] * n_set + [-1] * n_reset
        cyc += [c] * (n_set + n_reset)
    polarity = np.array(pol, dtype=np.int64)
    w = np.empty(len(pol))
    w[0] = w0
    for i in range(1, len(pol)):
        scale = max(0.0, 1.0 + dev.c2c_sigma * rng.standard_normal()) if dev.c2c_sigma > 0 else 1.0
        v = dev.pulse_amplitude_V * polarity[i]
        w[i] = float(apply_pulse(dev, w[i - 1], v, dev.pulse_width_s, scale))
    g = np.asarray(g_from_w(dev, w)) + read_noise_S * rng.standard_normal(len(w))
    g = np.maximum(g, dev.g_min_S * 1e-3)  # a reading stays positive
    n = len(w)
    return PulseTrace(
        np.arange(n, dtype=np.int64), polarity, g, np.array(cyc, dtype=np.int64), np.zeros(n, dtype=np.int64)
    )
