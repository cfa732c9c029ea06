"""The conductance file: every crossbar's conductances (S) of a chip, one JSON format everywhere.

Written by the ``golden`` backend (``golden/conductances.json``, the seeded initial conductances)
and by ``codegen train`` (``<out>/conductances.json``, the trained ones); read by
``codegen build --conductances FILE`` and ``codegen check --conductances FILE``::

    {
     "crossbars": {
      "W01": {"G": [[...], ...], "cols": ["in0p", ...], "rows": ["h1_0", ...]},
      ...
     },
     "seed": 0,
     "unit": "S"
    }

``G[r][c]`` (S) joins column (source) node ``cols[c]`` and row (destination) node ``rows[r]`` of
the crossbar; ``seed`` is the seed the initial conductances were drawn with; floats are written as
Python's repr (exact round trip), keys sorted, one space of indent, so the same conductances give
the same bytes.

Reading validates against the chip: every crossbar present and no other, ``rows``/``cols`` equal to
the crossbar's node names (when given), ``G`` of the crossbar's shape, finite numbers in
``[g_min_S, g_max_S]``.  Anything else is a :class:`~codegen.errors.CodegenError` naming the file,
the crossbar and what is allowed.

A build or check with a conductance file records the file's sha256 (manifest.json
``conductances_sha256``, check.json ``conductances.sha256``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..errors import CodegenError
from ..ir import Chip

__all__ = [
    "ConductanceSet",
    "BOUND_TOL_REL",
    "conductance_document",
    "write_conductances",
    "parse_conductances",
    "read_conductances",
    "validate_conductances",
    "chip_conductances",
    "conductance_seed",
]

#: slack on the [g_min, g_max] check, relative to g_max − g_min (1): the device model computes
#: ``g = g_min + (g_max − g_min)·w`` and may land an ulp outside the bound at w = 0 or 1
BOUND_TOL_REL = 1e-9

_TOP_KEYS = ("crossbars", "seed", "unit")
_XB_KEYS = ("G", "cols", "rows")


class HasConductances(Protocol):
    """What :func:`chip_conductances` reads of a build's options (``codegen.backends.BuildOptions``
    has it); a protocol, so that this module need not import the backends."""

    @property
    def conductances(self) -> ConductanceSet | None: ...


@dataclass(frozen=True, eq=False)
class ConductanceSet:
    """Conductances (S) of every crossbar, with where they came from.

    ``G``: crossbar name → (rows, cols) array (S), validated against the chip; ``seed``: the seed
    of the initial draw they descend from (the file's ``seed``); ``sha256``: of the file's bytes (or
    of :func:`write_conductances`'s text when built in memory); ``name``: the file's name (no
    folder), for messages."""

    G: dict[str, np.ndarray]
    seed: int
    sha256: str
    name: str = "<memory>"

    @classmethod
    def from_values(cls, chip: Chip, G: Mapping[str, Any], seed: int | None = None) -> ConductanceSet:
        """In-memory conductances (validated); ``sha256`` of their canonical file text."""
        text = write_conductances(chip, G, seed)
        return cls(
            G=validate_conductances(chip, G, "conductances"),
            seed=chip.training.seed if seed is None else int(seed),
            sha256=hashlib.sha256(text.encode()).hexdigest(),
        )


def _allowed(chip: Chip) -> str:
    return ", ".join(f"{xb.name} {xb.shape[0]}×{xb.shape[1]}" for xb in chip.crossbars)


def validate_conductances(chip: Chip, G: Mapping[str, Any], where: str) -> dict[str, np.ndarray]:
    """``G`` as float arrays, after checking names, shapes and bounds; ``where`` prefixes errors."""
    d = chip.device
    names = [xb.name for xb in chip.crossbars]
    unknown = [k for k in G if k not in names]
    if unknown:
        raise CodegenError(
            f"{where}: crossbar {', '.join(map(repr, unknown))} is not in chip {chip.name!r}; "
            f"its crossbars: {_allowed(chip)}"
        )
    missing = [k for k in names if k not in G]
    if missing:
        raise CodegenError(
            f"{where}: crossbar {', '.join(missing)} missing; chip {chip.name!r} needs every one of: "
            f"{_allowed(chip)}"
        )
    slack = BOUND_TOL_REL * (d.g_max_S - d.g_min_S)
    out: dict[str, np.ndarray] = {}
    for xb in chip.crossbars:
        try:
            arr = np.array(G[xb.name], dtype=float)
        except (TypeError, ValueError) as exc:
            raise CodegenError(
                f"{where}: crossbar {xb.name}: G must be a {xb.shape[0]}×{xb.shape[1]} matrix of "
                f"numbers (S), rows {', '.join(xb.dst_nodes)}, cols {', '.join(xb.src_nodes)} ({exc})"
            ) from None
        if arr.shape != xb.shape:
            raise CodegenError(
                f"{where}: crossbar {xb.name}: G has shape {'×'.join(map(str, arr.shape)) or 'scalar'}, "
                f"the chip's {xb.name} is {xb.shape[0]}×{xb.shape[1]} (rows {', '.join(xb.dst_nodes)}; "
                f"cols {', '.join(xb.src_nodes)})"
            )
        bad = ~np.isfinite(arr) | (arr < d.g_min_S - slack) | (arr > d.g_max_S + slack)
        if bad.any():
            r, c = (int(i) for i in np.argwhere(bad)[0])
            raise CodegenError(
                f"{where}: crossbar {xb.name}: G[{r}][{c}] = {float(arr[r, c])!r} S ({int(bad.sum())} "
                f"value{'s' if bad.sum() > 1 else ''} in all) outside the device's "
                f"[g_min, g_max] = [{d.g_min_S:g}, {d.g_max_S:g}] S"
            )
        out[xb.name] = arr
    return out


def conductance_document(chip: Chip, G: Mapping[str, Any], seed: int | None = None) -> dict[str, Any]:
    """The JSON object of the format (validated); ``seed`` defaults to the training seed."""
    g = validate_conductances(chip, G, "conductances")
    return {
        "seed": chip.training.seed if seed is None else int(seed),
        "unit": "S",
        "crossbars": {
            xb.name: {"rows": list(xb.dst_nodes), "cols": list(xb.src_nodes), "G": g[xb.name].tolist()}
            for xb in chip.crossbars
        },
    }


def write_conductances(chip: Chip, G: Mapping[str, Any], seed: int | None = None) -> str:
    """The file text for conductances ``G`` (S) of ``chip``: deterministic, repr-exact floats."""
    return json.dumps(conductance_document(chip, G, seed), indent=1, sort_keys=True) + "\n"


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a conductance")


def _matrix(value: Any, where: str) -> list[list[float]]:
    """``value`` if it is a list of equally long lists of JSON numbers, else CodegenError."""
    ok = (
        isinstance(value, list)
        and all(isinstance(row, list) for row in value)
        and all(isinstance(v, int | float) and not isinstance(v, bool) for row in value for v in row)
    )
    if not ok:
        raise CodegenError(f"{where}: G must be a list of rows, each a list of numbers (S)")
    if len({len(row) for row in value}) > 1:
        lengths = ", ".join(str(len(row)) for row in value)
        raise CodegenError(f"{where}: G's rows have different lengths ({lengths})")
    return value


def parse_conductances(chip: Chip, text: str, where: str) -> ConductanceSet:
    """Parse and validate the file text ``text``; ``where`` (the file) prefixes every error."""
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except ValueError as exc:
        raise CodegenError(f"{where}: not a conductance file: invalid JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("crossbars"), dict):
        raise CodegenError(
            f"{where}: not a conductance file: expected a JSON object with keys {', '.join(_TOP_KEYS)} "
            '("crossbars": {name: {"rows", "cols", "G"}}), as codegen train and the golden '
            "backend write"
        )
    extra = sorted(set(data) - set(_TOP_KEYS))
    if extra:
        raise CodegenError(f"{where}: unknown key {', '.join(extra)}; allowed: {', '.join(_TOP_KEYS)}")
    if data.get("unit", "S") != "S":
        raise CodegenError(f'{where}: unit {data["unit"]!r}; conductances must be in S ("unit": "S")')
    seed = data.get("seed", chip.training.seed)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise CodegenError(f"{where}: seed {seed!r} must be an integer")
    G: dict[str, Any] = {}
    for name, entry in data["crossbars"].items():
        if not isinstance(entry, dict) or "G" not in entry:
            raise CodegenError(f"{where}: crossbar {name}: expected an object with G (and rows, cols)")
        extra = sorted(set(entry) - set(_XB_KEYS))
        if extra:
            raise CodegenError(
                f"{where}: crossbar {name}: unknown key {', '.join(extra)}; allowed: {', '.join(_XB_KEYS)}"
            )
        G[name] = _matrix(entry["G"], f"{where}: crossbar {name}")
    g = validate_conductances(chip, G, where)
    for xb in chip.crossbars:
        entry = data["crossbars"][xb.name]
        for key, nodes in (("rows", xb.dst_nodes), ("cols", xb.src_nodes)):
            if key in entry and entry[key] != list(nodes):
                raise CodegenError(
                    f"{where}: crossbar {xb.name}: {key} {entry[key]!r} do not match the chip's "
                    f"{'destination' if key == 'rows' else 'source'} nodes {list(nodes)!r}"
                )
    sha = hashlib.sha256(text.encode()).hexdigest()
    return ConductanceSet(G=g, seed=seed, sha256=sha, name=Path(where).name)


def read_conductances(chip: Chip, path: str | Path) -> ConductanceSet:
    """Read and validate the conductance file ``path`` for ``chip`` (CodegenError naming the file)."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise CodegenError(f"{p}: cannot read the conductance file ({exc.strerror or exc})") from None
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        raise CodegenError(f"{p}: not a conductance file: not UTF-8 text") from None
    cs = parse_conductances(chip, text, str(p))
    # the sha256 of the bytes on disk, whatever their line endings
    return ConductanceSet(G=cs.G, seed=cs.seed, sha256=hashlib.sha256(raw).hexdigest(), name=cs.name)


def chip_conductances(chip: Chip, options: HasConductances | None = None) -> dict[str, np.ndarray]:
    """The conductances (S) a backend emits: ``options.conductances`` when given, else the chip's
    seeded initial conductances (:meth:`~codegen.ir.Chip.initial_conductances`)."""
    cs = options.conductances if options is not None else None
    if cs is None:
        return chip.initial_conductances()
    # validated again here: a ConductanceSet read for one chip may be handed to a build of another
    return validate_conductances(chip, cs.G, f"conductances {cs.name}")


def conductance_seed(chip: Chip, options: HasConductances | None = None) -> int:
    """The seed to record beside :func:`chip_conductances`'s values."""
    cs = options.conductances if options is not None else None
    return chip.training.seed if cs is None else cs.seed
