"""Read ``chip.yaml`` once into a :class:`~codegen.spec.Spec`, with errors that point at the line.

Hostile input is refused before it can cost time or memory: the file is read up to
:data:`MAX_FILE_BYTES`; one streaming pass over the YAML events (no recursion, no alias expansion)
then bounds the nesting depth (:data:`MAX_DEPTH`), the node count after alias expansion
(:data:`MAX_NODES`, so a "billion laughs" alias bomb is refused in milliseconds), integer literals
(:data:`MAX_INT_DIGITS`) and keys (plain scalars only), before PyYAML builds any object.  Every
problem is a :class:`~codegen.errors.SpecError` naming the file, line and YAML path.
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable
from pathlib import Path
from typing import Any, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from .errors import SpecError, SpecProblem, unknown_key_message
from .spec import PhysicsError, Spec, data_base_dir
from .units import format_quantity

__all__ = [
    "load_spec",
    "load_spec_text",
    "spec_hash",
    "MAX_FILE_BYTES",
    "MAX_DEPTH",
    "MAX_NODES",
    "MAX_INT_DIGITS",
]

#: largest chip.yaml read (bytes); the examples are under 3 KiB
MAX_FILE_BYTES = 1 << 20
#: deepest nesting of lists / mappings; the schema needs 4 levels
MAX_DEPTH = 64
#: most YAML nodes after expanding every alias; the examples have under 200
MAX_NODES = 20_000
#: most characters of an integer literal (Python refuses int() of 4300+ digits; no field needs 20)
MAX_INT_DIGITS = 100

#: spec fields that bound the cost of a run but do not change the chip: left out of :func:`spec_hash`
_LIMIT_FIELDS = {"simulation": {"max_cells", "max_nodes", "allow_extreme"}}

#: libyaml's parser where PyYAML has it (30× faster than the pure-Python one); both are safe loaders
_SAFE: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_RESOLVER = yaml.resolver.Resolver()
_INT_TAG = "tag:yaml.org,2002:int"
_SHORT = 80


def _short(value: Any) -> str:
    """``repr(value)`` cut to 80 characters (a hostile value must not flood the terminal)."""
    text = repr(value)
    return text if len(text) <= _SHORT else text[: _SHORT - 1] + "…"


class _Frame:
    """An open YAML collection during :func:`_scan`."""

    __slots__ = ("is_map", "n", "key", "anchor")

    def __init__(self, is_map: bool, anchor: str | None):
        self.is_map = is_map
        self.n = 0  # children finished (keys and values both count in a mapping)
        self.key: str | None = None  # last key read (mappings)
        self.anchor = anchor


def _path(stack: list[_Frame]) -> str:
    parts = []
    for f in stack:
        if not f.is_map:
            parts.append(str(f.n))
        elif f.n % 2 == 1 and f.key is not None:
            parts.append(f.key)
    if len(parts) > 8:  # a hostile nesting: show where it starts
        parts = parts[:6] + [f"…({len(parts) - 6} more)"]
    return ".".join(parts)


def _char_at(text: str, line: int, column: int) -> str:
    """The character at 0-based ``line``/``column`` of ``text`` ('' past the end)."""
    start = 0
    for _ in range(line):
        start = text.find("\n", start) + 1
        if start == 0:
            return ""
    return text[start + column : start + column + 1]


def _scan(text: str, file: str) -> None:
    """Stream the YAML events once and refuse what would be costly or crash PyYAML/pydantic."""
    stack: list[_Frame] = []
    sizes: dict[str, int] = {}  # anchor → node count of the anchored node, aliases expanded
    open_sizes: list[int] = []  # running node count of each open collection
    total = 0

    def fail(event: Any, message: str, path: str | None = None) -> None:
        line = event.start_mark.line + 1 if getattr(event, "start_mark", None) is not None else None
        raise SpecError(file, [SpecProblem(_path(stack) if path is None else path, line, message)])

    def finish(size: int) -> None:
        if stack:
            parent = stack[-1]
            open_sizes[-1] += size
            parent.n += 1

    def at_key() -> bool:
        return bool(stack) and stack[-1].is_map and stack[-1].n % 2 == 0

    events = yaml.parse(text, Loader=_SAFE)
    while True:
        try:
            event = next(events)
        except StopIteration:
            break
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            problem = exc.problem or str(exc)
            if "'\\t'" in problem or (mark is not None and _char_at(text, mark.line, mark.column) == "\t"):
                problem += " (YAML indents with spaces, not tabs: use spaces instead of the tab)"
            raise SpecError(
                file,
                [SpecProblem(_path(stack), mark.line + 1 if mark else None, f"malformed YAML: {problem}")],
            ) from None
        except yaml.reader.ReaderError as exc:
            line = text.count("\n", 0, exc.position) + 1
            char = exc.character
            shown = f"{chr(char)!r} (U+{char:04X})" if isinstance(char, int) else repr(char)
            raise SpecError(
                file, [SpecProblem(_path(stack), line, f"malformed YAML: {exc.reason}: {shown}")]
            ) from None
        if isinstance(event, yaml.ScalarEvent):
            if at_key():
                stack[-1].key = event.value
            elif (
                event.implicit[0]
                and len(event.value) > MAX_INT_DIGITS
                and _RESOLVER.resolve(yaml.ScalarNode, event.value, (True, False)) == _INT_TAG
            ):
                fail(
                    event,
                    f"an integer of {len(event.value)} characters; at most {MAX_INT_DIGITS} are allowed "
                    "(write large values as floats, e.g. 1e30)",
                )
            total += 1
            if total > MAX_NODES:
                fail(event, f"more than {MAX_NODES} YAML nodes; a chip.yaml has a few hundred")
            if event.anchor is not None:
                sizes[event.anchor] = 1
            finish(1)
        elif isinstance(event, yaml.AliasEvent):
            if at_key():
                fail(event, f"a key must be a plain name, got the alias *{event.anchor}")
            if any(f.anchor == event.anchor for f in stack):
                fail(event, f"recursive alias *{event.anchor}: a node cannot contain itself")
            size = sizes.get(event.anchor, 1)  # undefined aliases are reported by the composer
            total += size
            if total > MAX_NODES:
                fail(
                    event,
                    f"expanding alias *{event.anchor} makes more than {MAX_NODES} YAML nodes "
                    "(an alias bomb?); write the values out or use fewer aliases",
                )
            finish(size)
        elif isinstance(event, yaml.CollectionStartEvent):
            kind = "mapping" if isinstance(event, yaml.MappingStartEvent) else "list"
            if at_key():
                fail(event, f"a key must be a plain name, got a {kind}")
            if len(stack) >= MAX_DEPTH:
                fail(event, f"nesting deeper than {MAX_DEPTH} levels of lists/mappings; chip.yaml needs 4")
            total += 1
            if total > MAX_NODES:
                fail(event, f"more than {MAX_NODES} YAML nodes; a chip.yaml has a few hundred")
            stack.append(_Frame(isinstance(event, yaml.MappingStartEvent), event.anchor))
            open_sizes.append(1)
        elif isinstance(event, yaml.CollectionEndEvent):
            frame = stack.pop()
            size = open_sizes.pop()
            if frame.anchor is not None:
                sizes[frame.anchor] = size
            finish(size)


class _UniqueKeyLoader(_SAFE):  # type: ignore[valid-type,misc]
    """SafeLoader that rejects duplicate keys (PyYAML silently keeps the last one)."""


def _construct_mapping(loader: Any, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if not isinstance(key, Hashable):  # _scan refuses non-scalar keys; a tag could still build one
            raise yaml.constructor.ConstructorError(
                None, None, f"a key must be a plain name, got {type(key).__name__}", key_node.start_mark
            )
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


#: pydantic's bound errors, said with the limit in short notation ("must be ≥ 1e-15", not 0.000000000000001)
_BOUNDS = {
    "greater_than": (">", "gt"),
    "greater_than_equal": ("≥", "ge"),
    "less_than": ("<", "lt"),
    "less_than_equal": ("≤", "le"),
}


def _field_unit(field: Any) -> str:
    """The unit symbol a field's values are in (``"S"``, ``"Hz"`` …; ``""`` when dimensionless),
    read from the ``x-unit`` its SI type puts in the JSON schema."""
    for m in getattr(field, "metadata", ()):
        schema = getattr(m, "json_schema", None)
        if isinstance(schema, dict) and schema.get("x-unit") not in (None, "1"):
            return str(schema["x-unit"])
    return ""


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
        allowed = [f.alias or n for n, f in parent.model_fields.items()] if parent else []
        return loc, unknown_key_message(loc[-1], allowed)
    if kind == "missing":
        field = None
        parent = _model_at(loc[:-1])
        if parent is not None:
            field = next((f for n, f in parent.model_fields.items() if (f.alias or n) == loc[-1]), None)
        what = f" ({field.description})" if field is not None and field.description else ""
        return loc, f"required key is missing{what}"
    if kind == "literal_error":
        return loc, f"got {_short(err.get('input'))}; allowed: {err['ctx']['expected']}"
    if kind.startswith("value_error"):
        msg = msg.removeprefix("Value error, ")
    parent = _model_at(loc[:-1]) if loc else None
    field = None
    if parent is not None:
        field = next((f for n, f in parent.model_fields.items() if (f.alias or n) == loc[-1]), None)
    unit = _field_unit(field)
    got = err.get("input")
    shown = _short(got)  # an SI string is shown as the user wrote it
    if kind in _BOUNDS:
        op, key = _BOUNDS[kind]
        msg = f"must be {op} {format_quantity(err['ctx'][key], unit)}"
        if isinstance(got, int | float) and not isinstance(got, bool):
            shown = format_quantity(got, unit)
    hint = f" [{field.description}]" if field is not None and field.description else ""
    return loc, f"{msg} (got {shown}){hint}"


def _lookup_line(lines: dict[tuple, int], loc: tuple) -> int | None:
    for k in range(len(loc), -1, -1):
        if loc[:k] in lines:
            return lines[loc[:k]]
    return None


def _too_big(file: str, size: int) -> SpecError:
    return SpecError(
        file,
        [SpecProblem("", None, f"file is {size} bytes; a chip.yaml may have at most {MAX_FILE_BYTES} bytes")],
    )


def load_spec_text(text: str, file: str = "<string>") -> Spec:
    """Parse and validate chip.yaml text; raise :class:`SpecError` naming ``file``."""
    if len(text) > MAX_FILE_BYTES // 4 and len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        raise _too_big(file, len(text.encode("utf-8", "surrogatepass")))
    _scan(text, file)
    loader = _UniqueKeyLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError(file, [SpecProblem("", line, f"malformed YAML: {problem}")]) from None
    finally:
        loader.dispose()
    sections = ", ".join(f.alias or n for n, f in Spec.model_fields.items())
    if data is None:
        raise SpecError(
            file,
            [
                SpecProblem(
                    "", 1, f"the file holds no YAML document; expected a mapping of sections: {sections}"
                )
            ],
        )
    if not isinstance(data, dict):
        raise SpecError(
            file,
            [
                SpecProblem(
                    "",
                    1,
                    f"the top level must be a mapping of sections ({sections}), got {type(data).__name__}",
                )
            ],
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
    p, file = Path(path), str(path)
    try:
        with p.open("rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)  # never more: the file may be huge or endless
    except FileNotFoundError:
        raise SpecError(file, [SpecProblem("", None, "no such file")]) from None
    except OSError as exc:  # a directory, no permission, a name too long, a loop of links …
        why = exc.strerror or exc.__class__.__name__
        raise SpecError(
            file, [SpecProblem("", None, f"cannot read: {exc.__class__.__name__}: {why}")]
        ) from None
    if len(raw) > MAX_FILE_BYTES:
        try:
            size = p.stat().st_size
        except OSError:
            size = 0
        raise _too_big(file, size if size > MAX_FILE_BYTES else len(raw))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise SpecError(
            file,
            [
                SpecProblem(
                    "",
                    line,
                    f"not UTF-8 text: byte 0x{raw[exc.start]:02x} at column {col}; save the file as UTF-8",
                )
            ],
        ) from None
    with data_base_dir(p.parent):  # training.dataset.file is relative to the chip.yaml's folder
        return load_spec_text(text, file)


def spec_hash(spec: Spec) -> str:
    """sha256 of the validated spec in canonical JSON (independent of YAML formatting).

    The cost limits (``simulation.max_cells``, ``max_nodes``, ``allow_extreme``) are left out: raising
    a limit lets a chip load but does not change it."""
    exclude: dict[str, Any] = dict(_LIMIT_FIELDS)
    if spec.interconnect.ideal:  # ideal wires: the same chip, and the same hash, as without the section
        exclude["interconnect"] = True
    return hashlib.sha256(spec.model_dump_json(by_alias=True, exclude=exclude).encode()).hexdigest()
