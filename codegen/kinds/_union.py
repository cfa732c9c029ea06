"""The spec union of a kind registry: a pydantic type that picks a kind's sub-model by the section's
``kind`` key (a discriminated union, so the JSON schema lists the kinds as ``oneOf``) and reports
errors at the YAML path, naming the allowed kinds and keys.  Device and neuron kinds both use it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Union

from pydantic import Discriminator, Tag, ValidationError, ValidatorFunctionWrapHandler, WrapValidator
from pydantic_core import InitErrorDetails

from ..errors import unknown_key_message
from ..spec_types import PhysicsError

__all__ = ["kind_union"]


def kind_union(models: Callable[[], dict[str, type]], default: str, what: str) -> Any:
    """The union of ``models()`` (kind → pydantic sub-model with ``kind: Literal[<kind>]``),
    discriminated on ``kind`` (``default`` where the section has none); ``what`` names the section
    in messages (``"device"``, ``"neuron"``)."""

    def tag(v: object) -> str | None:
        if isinstance(v, dict):
            k = v.get("kind", default)
            return k if isinstance(k, str) else None
        return getattr(v, "kind", None)

    def errors(v: object, handler: ValidatorFunctionWrapHandler) -> object:
        kinds = models()
        t = tag(v)
        if isinstance(v, dict) and t not in kinds:
            raise PhysicsError(
                "kind",
                f"unknown {what} kind {v.get('kind')!r}; allowed: {', '.join(kinds)} (default {default})",
            )
        try:
            return handler(v)
        except ValidationError as exc:
            if t not in kinds:
                raise
            model = kinds[t]
            details: list[InitErrorDetails] = []
            for err in exc.errors():
                loc = tuple(err["loc"])
                loc = loc[1:] if loc and loc[0] == t else loc
                if err["type"] == "extra_forbidden":
                    allowed = [f.alias or n for n, f in model.model_fields.items()]  # type: ignore[attr-defined]
                    key = str(loc[-1])
                    details.append(
                        InitErrorDetails(
                            type="value_error",
                            loc=loc[:-1],
                            input=err["input"],
                            ctx={"error": PhysicsError(key, unknown_key_message(key, allowed))},
                        )
                    )
                    continue
                d = InitErrorDetails(type=err["type"], loc=loc, input=err["input"])
                if "ctx" in err:
                    d["ctx"] = err["ctx"]
                details.append(d)
            raise ValidationError.from_exception_data(exc.title, details) from None

    members = tuple(Annotated[m, Tag(name)] for name, m in models().items())
    return Annotated[Union[members], Discriminator(tag), WrapValidator(errors)]  # noqa: UP007
