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
    ],
)
def test_parse_si(text, unit, value):
    assert parse_si(text, unit) == pytest.approx(value, rel=1e-12)


@pytest.mark.parametrize(
    ("text", "unit"),
    [("2 A", "V"), ("abc", "S"), ("1 meg", "S"), (True, "V"), ("nan", "V"), (float("inf"), "V"), ([1], "V")],
)
def test_parse_si_rejects(text, unit):
    with pytest.raises(ValueError):
        parse_si(text, unit)


def test_format_and_spice_float():
    assert format_si(4.95e-5, "S") == "49.5 µS"
    assert spice_float(1e-3) == "0.001"
    assert float(spice_float(0.1 + 0.2)) == 0.1 + 0.2  # exact round trip, no SPICE 'M' suffix
