"""SI-prefixed numbers: ``"1u"``, ``"10k"``, ``"2.5 mV"``, ``"1meg"``, ``"1e-6"`` and plain floats alike.

Written by hand because no well-kept library parses SPICE-style suffixes *and* checks the unit
against the field it is given to (``"2 A"`` for a voltage is an error, not 2 V).

The SPICE suffix trap: SPICE reads ``M`` as *milli* and ``MEG`` as mega, SI reads ``M`` as mega.
A chip.yaml is read by both kinds of user, so a bare ``M`` (``"1M"``, ``"1MS"``) is refused with a
message that offers ``1m``, ``1meg`` and ``1e6``; ``meg`` (any case) is mega.  The one spelling
kept is ``MHz``, which no SPICE parameter here uses and nobody reads as millihertz.
"""

from __future__ import annotations

import math
import re

__all__ = ["SI_PREFIXES", "PREFIX_PATTERN", "parse_si", "format_si", "format_quantity", "spice_float"]

#: SI prefixes accepted after a number (``u`` and ``µ`` are micro, ``m`` milli, ``meg`` mega in any
#: case as in SPICE; ``M`` only in ``MHz``, see the module docstring).
SI_PREFIXES: dict[str, float] = {
    "f": 1e-15,
    "p": 1e-12,
    "n": 1e-9,
    "u": 1e-6,
    "µ": 1e-6,
    "m": 1e-3,
    "": 1.0,
    "k": 1e3,
    "meg": 1e6,
    "G": 1e9,
}

#: the prefix alternatives of :data:`_NUM`, ``meg`` first so ``1megS`` is not read as milli
PREFIX_PATTERN = r"(?:[mM][eE][gG]|[fpnuµmkMG])?"

_NUM = re.compile(
    r"^\s*(?P<num>[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*(?P<prefix>"
    + PREFIX_PATTERN
    + r")(?P<unit>[A-Za-zΩ]*)\s*$"
)


def parse_si(value: object, unit: str = "") -> float:
    """Parse ``value`` (number or SI string) into a float in base units of ``unit``.

    ``unit`` is the field's unit symbol (``"S"``, ``"V"``, ``"A"``, ``"s"``, ``"Hz"``, or ``""`` for
    dimensionless); a string may repeat it (``"1 uS"``) but may not name another unit.
    Raises ``ValueError`` with a message that says what is allowed.
    """
    if isinstance(value, bool):
        raise ValueError("expected a number, got a boolean")
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:
            raise ValueError(f"{_short(value)} is too large for a float (limit ~1.8e308)") from None
        if not math.isfinite(number):
            raise ValueError("expected a finite number")
        return number
    if not isinstance(value, str):
        raise ValueError(f"expected a number or an SI string like '1u' or '10k', got {type(value).__name__}")
    m = _NUM.match(value)
    if m is None:
        raise ValueError(
            f"cannot read {value!r} as a number; write e.g. 1e-6, '1u', '10k'"
            + (f" or '1u{unit}'" if unit else "")
        )
    prefix, suffix = m.group("prefix"), m.group("unit")
    if prefix == "M" and not (suffix == "Hz" == unit):
        num = m.group("num")
        raise ValueError(
            f"{value!r} is ambiguous: SPICE reads 'M' as milli (1e-3), SI as mega (1e6); "
            f"write '{num}m' for milli, or '{num}meg' or '{num}e6' for mega"
        )
    if prefix.lower() == "meg":
        prefix = "meg"
    elif prefix == "M":
        prefix = "meg"  # MHz
    # "1m" alone is milli; "1mS" is milli-siemens; but "1s" for a time field means 1 second, and
    # "1meg" is not SPICE-ambiguous here because we reject unknown suffixes.
    if suffix and suffix != unit:
        # a bare unit letter may have been read as a prefix ("2 m" vs "2 ms"): try without prefix
        if not (prefix == "" and suffix == unit):
            allowed = f"'{unit}'" if unit else "no unit (dimensionless)"
            raise ValueError(f"unit {suffix!r} in {value!r} is wrong here; allowed: {allowed}")
    number = float(m.group("num")) * SI_PREFIXES[prefix]
    if not math.isfinite(number):
        raise ValueError("expected a finite number")
    return number


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:20]}…({len(text)} characters)"


def format_si(value: float, unit: str = "", digits: int = 4) -> str:
    """Human-readable SI string, e.g. ``format_si(4.95e-5, "S") == "49.5 µS"``."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g} {unit}".strip()
    exp3 = int(math.floor(math.log10(abs(value)) / 3))
    exp3 = max(-5, min(3, exp3))
    names = {-5: "f", -4: "p", -3: "n", -2: "µ", -1: "m", 0: "", 1: "k", 2: "M", 3: "G"}
    scaled = value / 10 ** (3 * exp3)
    return f"{scaled:.{digits}g} {names[exp3]}{unit}".strip()


#: units :func:`format_quantity` writes with an SI prefix (others, e.g. °C or V/V, get plain ``:g``)
_PREFIXED_UNITS = frozenset({"S", "V", "A", "s", "Hz", "Ω", "F", "W", "J"})


def format_quantity(value: float, unit: str = "") -> str:
    """A value for a message: SI-prefixed where ``unit`` is an SI unit (``format_quantity(5e7, "Hz")
    == "50 MHz"``, ``format_quantity(1e-15, "S") == "1 fS"``), else ``:g`` with the unit after it
    (``"0.5"``, ``"-55 °C"``); ints stay exact (``"3"``)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"{value} {unit}".strip()
    if isinstance(value, int) and (unit not in _PREFIXED_UNITS or abs(value) < 1000):
        return f"{value} {unit}".strip() if abs(value) < 10**15 else f"{float(value):g} {unit}".strip()
    if unit in _PREFIXED_UNITS and (unit == "Hz" or abs(value) < 1e6):
        # mega only in MHz: SPICE reads "MS" / "MV" as milli (see the module docstring)
        return format_si(float(value), unit)
    return f"{value:g} {unit}".strip()


def spice_float(value: float) -> str:
    """Exact, locale-free float literal for netlists (``repr`` round-trips; no SPICE suffixes,
    since SPICE reads ``M`` as milli)."""
    if value == 0:
        return "0"
    return repr(float(value))
