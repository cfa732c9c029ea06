"""Override spec values by dotted path (``training.learning_rate=1e-4``) and re-validate."""

from __future__ import annotations

import copy
from typing import Any

import yaml
from pydantic import ValidationError

from ..errors import CodegenError
from ..spec import Spec

__all__ = ["override", "parse_value", "parse_param", "parse_sets"]


#: longest VALUE of ``--set PATH=VALUE`` / ``--param PATH=V1,…`` (characters): every number, SI
#: string or flag of a chip.yaml fits; the cap keeps a pasted blob from reaching the YAML parser
MAX_VALUE_CHARS = 200


def _scalar(v: Any) -> bool:
    return v is None or isinstance(v, bool | int | float | str)


def parse_value(text: str) -> Any:
    """A YAML scalar: ``1e-4`` → float, ``true`` → bool, ``10u`` stays a string (SI, parsed by the spec);
    or a flat list of scalars (``[784, 100, 10]``).  Anything longer than :data:`MAX_VALUE_CHARS`,
    malformed, nested or with aliases is a :class:`CodegenError` (exit 2), never a traceback."""
    if len(text) > MAX_VALUE_CHARS:
        raise CodegenError(
            f"value of {len(text)} characters; at most {MAX_VALUE_CHARS} are allowed: {text[:40]!r}…"
        )
    if any(tok.startswith(("&", "*")) for tok in text.replace("[", " ").replace(",", " ").split()):
        raise CodegenError(f"value {text!r}: YAML anchors and aliases are not allowed here")
    try:
        v = yaml.safe_load(text)
    except (
        yaml.YAMLError,
        ValueError,
        RecursionError,
    ) as exc:  # ValueError: int digits beyond Python's limit
        first = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        raise CodegenError(f"value {text!r} is not a YAML scalar or list: {first}") from None
    if isinstance(v, list):
        if not all(_scalar(e) for e in v):
            raise CodegenError(f"value {text!r}: a list of plain values (numbers, strings), not nested")
        return v
    if not _scalar(v):
        raise CodegenError(f"value {text!r}: a number, a string, true/false or a list of them")
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return v
    return v


def parse_sets(items: list[str]) -> dict[str, Any]:
    """``--set PATH=VALUE`` options → ``{path: value}`` (values as :func:`parse_value`)."""
    sets: dict[str, Any] = {}
    for s in items:
        if "=" not in s:
            raise CodegenError(f"--set needs PATH=VALUE, got {s!r}")
        k, v = s.split("=", 1)
        sets[k.strip()] = parse_value(v.strip())
    return sets


def parse_param(text: str) -> tuple[str, list[Any]]:
    """``path=v1,v2,…`` → (path, [values])."""
    if "=" not in text:
        raise CodegenError(f"--param needs PATH=V1,V2,…, got {text!r}")
    path, vals = text.split("=", 1)
    values = [parse_value(v.strip()) for v in vals.split(",") if v.strip()]
    if not path.strip() or not values:
        raise CodegenError(f"--param needs PATH=V1,V2,…, got {text!r}")
    return path.strip(), values


def override(spec: Spec, values: dict[str, Any]) -> Spec:
    """A new, validated Spec with each dotted path set (the path must exist in the spec)."""
    data = spec.model_dump(by_alias=True)
    for path, value in values.items():
        keys = path.split(".")
        node: Any = data
        for i, k in enumerate(keys[:-1]):
            if not isinstance(node, dict) or k not in node:
                raise CodegenError(f"unknown spec path {'.'.join(keys[: i + 1])!r} in override {path!r}")
            if node[k] is None:
                node[k] = {}
            node = node[k]
        if not isinstance(node, dict) or keys[-1] not in node:
            raise CodegenError(f"unknown spec path {path!r}")
        node[keys[-1]] = copy.deepcopy(value)
    try:
        return Spec.model_validate(data)
    except ValidationError as exc:
        from ..load import _describe  # the one formatter of pydantic errors (codegen/load.py)

        msgs = []
        for e in exc.errors():
            loc, message = _describe(e)
            msgs.append(f"{'.'.join(map(str, loc))}: {message}")
        given = ", ".join(f"{k}={_short(v)}" for k, v in values.items())
        raise CodegenError(f"override {given} gives an invalid spec: " + "; ".join(msgs)) from None


def _short(v: Any) -> str:
    t = repr(v)
    return t if len(t) <= 60 else t[:57] + "..."
