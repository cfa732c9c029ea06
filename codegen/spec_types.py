"""Building blocks of the ``chip.yaml`` schema shared by :mod:`codegen.spec` and the kind slices
(:mod:`codegen.kinds`): the frozen base model, SI-unit number types and :class:`PhysicsError`.

A separate module so that a kind's spec sub-model can use them while :mod:`codegen.spec` imports
the kinds to build its discriminated unions (no import cycle).
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, WithJsonSchema

from .units import PREFIX_PATTERN, parse_si

__all__ = [
    "PhysicsError",
    "Siemens",
    "Volts",
    "Amperes",
    "Seconds",
    "Hertz",
    "Number",
    "Ohms",
    "Farads",
    "SpecModel",
]


class PhysicsError(ValueError):
    """A non-physical value.  ``field`` names the offending key relative to the model that raised."""

    def __init__(self, field: str, message: str):
        super().__init__(f"@{field}: {message}")
        self.field = field


#: spellings of the ohm accepted after a number and its prefix (``"1 kohm"``, ``"0.5 Ω"``, ``"2 Ohms"``)
_OHM_ALIASES = ("Ω", "ohm", "Ohm", "ohms", "Ohms")
_OHM_SUFFIX = re.compile(r"(?:ohms?|Ohms?)\s*$")


def _parse_ohms(value: object) -> float:
    """:func:`parse_si` for resistances: ``ohm`` / ``Ohm(s)`` are read as ``Ω``."""
    if isinstance(value, str):
        value = _OHM_SUFFIX.sub("Ω", value)
    return parse_si(value, "Ω")


def _si(unit: str):
    # the strings parse_si accepts: a bare "M" is refused (SPICE milli vs SI mega), "MHz" is kept
    unit_part = f"(?:{unit})?" if unit else ""
    if unit == "Ω":
        unit_part = "(?:" + "|".join(_OHM_ALIASES) + ")?"
    prefixed = PREFIX_PATTERN.replace("MG]", "G]") + unit_part
    if unit == "Hz":
        prefixed = f"(?:{prefixed}|MHz)"
    pattern = r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*" + prefixed + r"\s*$"
    return (
        BeforeValidator(_parse_ohms if unit == "Ω" else (lambda v: parse_si(v, unit))),
        WithJsonSchema(
            {"anyOf": [{"type": "number"}, {"type": "string", "pattern": pattern}], "x-unit": unit or "1"}
        ),
    )


Siemens = Annotated[float, *_si("S")]
Volts = Annotated[float, *_si("V")]
Amperes = Annotated[float, *_si("A")]
Seconds = Annotated[float, *_si("s")]
Hertz = Annotated[float, *_si("Hz")]
Number = Annotated[float, *_si("")]
Ohms = Annotated[float, *_si("Ω")]
Farads = Annotated[float, *_si("F")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


#: the public name of the frozen, ``extra="forbid"`` base of every spec model
SpecModel = _Model
