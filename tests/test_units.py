import pytest

from codegen.units import format_si, parse_si, spice_float


@pytest.mark.parametrize(
    ("text", "unit", "value"),
    [
        ("1u", "S", 1e-6),
        ("10k", "", 1e4),
        ("2.5 mV", "V", 2.5e-3),
        ("1e-6", "s", 1e-6),
        (3, "V", 3.0),
        ("50 MHz", "Hz", 5e7),
        ("1us", "s", 1e-6),
        ("-1.0 V", "V", -1.0),
        ("100uS", "S", 1e-4),
        ("1meg", "", 1e6),
        ("1 MEG", "", 1e6),
        ("2Meg", "S", 2e6),
        ("1megS", "S", 1e6),
        ("50 MHz", "Hz", 5e7),
        ("3 GHz", "Hz", 3e9),
        (2**70, "", float(2**70)),
    ],
)
def test_parse_si(text, unit, value):
    assert parse_si(text, unit) == pytest.approx(value, rel=1e-12)


@pytest.mark.parametrize(
    ("text", "unit"),
    [
        ("2 A", "V"),
        ("abc", "S"),
        (True, "V"),
        ("nan", "V"),
        (float("inf"), "V"),
        ([1], "V"),
        (10**400, ""),  # int → float overflows: a ValueError, not an OverflowError
        ("1e999", "V"),
        ("1 MS", "S"),
    ],
)
def test_parse_si_rejects(text, unit):
    with pytest.raises(ValueError):
        parse_si(text, unit)


def test_format_and_spice_float():
    assert format_si(4.95e-5, "S") == "49.5 µS"
    assert spice_float(1e-3) == "0.001"
    assert float(spice_float(0.1 + 0.2)) == 0.1 + 0.2  # exact round trip, no SPICE 'M' suffix


@pytest.mark.parametrize(
    ("text", "unit"), [("1M", "S"), ("1M", ""), ("2.5M", "V"), ("1MS", "S"), ("1 Ms", "s")]
)
def test_bare_M_is_refused_with_the_three_spellings(text, unit):
    """SPICE reads M as milli, SI as mega: a bare M is refused, naming 1m, 1meg and 1e6."""
    num = text.rstrip("MSs ").strip()
    with pytest.raises(ValueError, match="ambiguous") as exc:
        parse_si(text, unit)
    for spelling in (f"'{num}m'", f"'{num}meg'", f"'{num}e6'"):
        assert spelling in str(exc.value), str(exc.value)


def test_schema_pattern_matches_parse_si():
    """The JSON-schema pattern of an SI field accepts exactly what parse_si accepts (on a sample)."""
    import re

    from codegen.spec import _si

    samples = ["1u", "1M", "1meg", "1MEG", "2.5 mV", "1e-6", "50 MHz", "1 G", "1mS", "1MS", "1 x", "1megS"]
    for unit in ("S", "V", "Hz", ""):
        pattern = _si(unit)[1].json_schema["anyOf"][1]["pattern"]
        for s in samples:
            try:
                parse_si(s, unit)
                ok = True
            except ValueError:
                ok = False
            assert bool(re.match(pattern, s)) == ok, (unit, s, pattern)
