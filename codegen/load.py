"""Read ``chip.yaml`` once into a :class:`~codegen.spec.Spec`, with errors that point at the line."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from .errors import SpecError, SpecProblem
from .spec import PhysicsError, Spec, data_base_dir

__all__ = ["load_spec", "load_spec_text", "spec_hash"]


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys (PyYAML silently keeps the last one)."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first on line {seen[key] + 1})", key_node.start_mark
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _line_index(node: yaml.Node | None, prefix: tuple = (), out: dict | None = None) -> dict[tuple, int]:
    """Map every YAML path (tuple of keys / indices) to its 1-based line."""
    out = {} if out is None else out
    if node is None:
        return out
    out.setdefault(prefix, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            key = k.value
            out[prefix + (key,)] = k.start_mark.line + 1
            _line_index(v, prefix + (key,), out)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            out[prefix + (i,)] = v.start_mark.line + 1
            _line_index(v, prefix + (i,), out)
    return out


def _model_at(loc: tuple) -> type[BaseModel] | None:
    """The pydantic model class reached by following ``loc`` from Spec (for 'allowed keys')."""
    model: Any = Spec
    for part in loc:
        if isinstance(part, int):
            continue  # list index: the element type was unwrapped below
        if isinstance(model, type) and issubclass(model, BaseModel):
            field = next((f for n, f in model.model_fields.items() if (f.alias or n) == part), None)
            if field is None:
                return None
            model = field.annotation
        else:
            return None
        # unwrap list[...] / Optional[...]
        while get_origin(model) is not None:
            args = [a for a in get_args(model) if a is not type(None)]
            model = args[0] if args else None
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _describe(err: Any) -> tuple[tuple, str]:
    loc = tuple(err["loc"])
    kind = err["type"]
    msg = err["msg"]
    if kind == "value_error" and isinstance(err.get("ctx", {}).get("error"), PhysicsError):
        pe: PhysicsError = err["ctx"]["error"]
        loc = loc + tuple(int(p) if p.isdigit() else p for p in pe.field.split("."))
        return loc, str(pe).split(": ", 1)[1]
    if kind == "extra_forbidden":
        parent = _model_at(loc[:-1])
        allowed = ", ".join(f.alias or n for n, f in parent.model_fields.items()) if parent else "?"
        return loc, f"unknown key {loc[-1]!r}; allowed here: {allowed}"
    if kind == "missing":
        field = None
        parent = _model_at(loc[:-1])
        if parent is not None:
            field = next((f for n, f in parent.model_fields.items() if (f.alias or n) == loc[-1]), None)
        what = f" ({field.description})" if field is not None and field.description else ""
        return loc, f"required key is missing{what}"
    if kind == "literal_error":
        return loc, f"got {err.get('input')!r}; allowed: {err['ctx']['expected']}"
    if kind.startswith("value_error"):
        msg = msg.removeprefix("Value error, ")
    parent = _model_at(loc[:-1]) if loc else None
    field = None
    if parent is not None:
        field = next((f for n, f in parent.model_fields.items() if (f.alias or n) == loc[-1]), None)
    hint = f" [{field.description}]" if field is not None and field.description else ""
    return loc, f"{msg} (got {err.get('input')!r}){hint}"


def _lookup_line(lines: dict[tuple, int], loc: tuple) -> int | None:
    for k in range(len(loc), -1, -1):
        if loc[:k] in lines:
            return lines[loc[:k]]
    return None


def load_spec_text(text: str, file: str = "<string>") -> Spec:
    """Parse and validate chip.yaml text; raise :class:`SpecError` naming ``file``."""
    try:
        node = yaml.compose(text, Loader=_UniqueKeyLoader)
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError(file, [SpecProblem("", line, f"malformed YAML: {problem}")]) from None
    if not isinstance(data, dict):
        raise SpecError(
            file,
            [SpecProblem("", 1, f"the top level must be a mapping of sections, got {type(data).__name__}")],
        )
    lines = _line_index(node)
    try:
        return Spec.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc, message = _describe(err)
            problems.append(SpecProblem(".".join(str(p) for p in loc), _lookup_line(lines, loc), message))
        raise SpecError(file, problems) from None


def load_spec(path: str | Path) -> Spec:
    """Load a chip.yaml file.  The message names the path as given (never made absolute)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(str(path), [SpecProblem("", None, "no such file")]) from None
    except (IsADirectoryError, UnicodeDecodeError, PermissionError) as exc:
        raise SpecError(
            str(path), [SpecProblem("", None, f"cannot read: {exc.__class__.__name__}")]
        ) from None
    with data_base_dir(p.parent):  # training.dataset.file is relative to the chip.yaml's folder
        return load_spec_text(text, str(path))


def spec_hash(spec: Spec) -> str:
    """sha256 of the validated spec in canonical JSON (independent of YAML formatting)."""
    return hashlib.sha256(spec.model_dump_json(by_alias=True).encode()).hexdigest()
