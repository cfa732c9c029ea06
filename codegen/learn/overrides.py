"""Override spec values by dotted path (``training.learning_rate=1e-4``) and re-validate."""

from __future__ import annotations

import copy
from typing import Any

import yaml
from pydantic import ValidationError

from ..errors import CodegenError
from ..spec import Spec

__all__ = ["override", "parse_value", "parse_param", "parse_sets"]


def parse_value(text: str) -> Any:
    """A YAML scalar: ``1e-4`` → float, ``true`` → bool, ``10u`` stays a string (SI, parsed by the spec)."""
    v = yaml.safe_load(text)
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
        msgs = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise CodegenError(f"override {values} gives an invalid spec: {msgs}") from None
