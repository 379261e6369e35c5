"""Quantity parsing: each example against its value in SI, computed by hand."""

import pytest

from gigawatt import units
from gigawatt.errors import UnitError


@pytest.mark.parametrize(
    "text, dimension, expected",
    [
        ("5 GW", "power", 5e9),
        ("1.2 GW", "power", 1.2e9),
        ("700 W", "power", 700.0),
        ("500 MW", "power", 5e8),
        ("$100B", "money", 100e9),
        ("$5B", "money", 5e9),
        ("$2.5M", "money", 2.5e6),
        ("$1.80/h", "price_per_hour", 1.80),
        ("$80/MWh", "price_per_energy", 80.0),
        ("$10M/MW", "money_per_power", 10.0),  # 1e7 USD / 1e6 W
        ("2.9 TB/s", "bandwidth", 2.9e12),
        ("400 Gb/s", "bandwidth", 50e9),  # bits: 400e9 / 8
        ("3.2 Tbps", "bandwidth", 400e9),
        ("96 GiB", "data", 96 * 2**30),
        ("96 GB", "data", 96e9),
        ("667 TFLOP/s", "compute_rate", 667e12),
        ("1,299 TFLOP/s", "compute_rate", 1299e12),
        ("6 years", "time", 6 * 365.25 * 86400),
        ("18 months", "time", 1.5 * 365.25 * 86400),
        ("50 ms", "time", 0.05),
        ("3 TWh", "energy", 3e12 * 3600),
    ],
)
def test_parse_si(text, dimension, expected):
    assert units.parse(text, dimension) == pytest.approx(expected, rel=1e-12)


def test_growth_and_shares():
    assert units.parse_growth_per_year("3x/year") == 3.0
    assert units.parse_growth_per_year("-10%/year") == pytest.approx(0.9)
    assert units.parse_growth_per_year("10%/year") == pytest.approx(1.1)
    assert units.parse_growth_per_year("2x/month") == pytest.approx(4096.0)
    assert units.parse_fraction("8%") == pytest.approx(0.08)
    assert units.parse_count("40T") == 40e12
    assert units.parse_count("1,000,000") == 1e6
    assert units.parse_count("500k") == 5e5
    assert units.parse_month("2026-04-20") == "2026-04"


def test_wrong_dimension_names_field_and_expected_dimension():
    with pytest.raises(UnitError) as err:
        units.parse("5 GB", "power", field="sites[0].energized")
    text = str(err.value)
    assert "sites[0].energized" in text
    assert "power" in text and "data" in text


@pytest.mark.parametrize("bad", ["5", "GW", "five GW", "", "5 GW GW"])
def test_unparseable_or_unitless_power_is_an_error(bad):
    with pytest.raises(UnitError):
        units.parse(bad, "power", field="capacity_cap")


def test_bare_number_needs_a_unit():
    with pytest.raises(UnitError, match="no unit"):
        units.parse(5, "power", field="capacity_cap")
    assert units.parse(1.15, "dimensionless") == 1.15


@pytest.mark.parametrize("bad", ["0x/year", "-100%/year", "fast"])
def test_bad_growth(bad):
    with pytest.raises(UnitError):
        units.parse_growth_per_year(bad)


def test_fast_unit_table_agrees_with_pint():
    """Every unit read without pint gives the value pint gives, in the same dimension."""
    ureg = units.registry()
    for text, (dimension, factor) in units._FAST.items():
        target = units.DIMENSIONS[dimension].pint_unit
        expected = ureg.Quantity(1.0, ureg.parse_units(text.replace("KB", "kB"))).to(target).magnitude
        assert factor == pytest.approx(expected, rel=1e-12), text


def test_fast_path_wrong_dimension_message():
    with pytest.raises(UnitError, match="is data, expected power"):
        units.parse("5 GB", "power")


@pytest.mark.parametrize("text, dimension", [("1e400 GW", "power"), ("$1e400B", "money"), ("inf GW", "power"),
                                             ("nan s", "time"), ("1e999 TB/s", "bandwidth")])
def test_non_finite_quantities_are_errors(text, dimension):
    with pytest.raises(UnitError, match="not a finite number") as err:
        units.parse(text, dimension, field="deal.capacity_cap")
    assert "deal.capacity_cap" in str(err.value) and text in str(err.value) and "finite" in err.value.hint


@pytest.mark.parametrize("parse, value", [
    (units.parse_count, float("inf")), (units.parse_count, "1e400"), (units.parse_count, float("nan")),
    (units.parse_fraction, float("nan")), (units.parse_fraction, "inf"),
    (units.parse_growth_per_year, float("inf")), (units.parse_growth_per_year, float("nan")),
])
def test_non_finite_counts_shares_and_rates(parse, value):
    with pytest.raises(UnitError, match="finite"):
        parse(value)


@pytest.mark.parametrize("bad", ["2026-02-30", "2026-13", "2026-00", "2025-02-29", "2026-04-31", "2026-4-0"])
def test_impossible_months_and_dates(bad):
    with pytest.raises(UnitError) as err:
        units.parse_month(bad)
    assert err.value.hint


def test_real_dates():
    assert units.parse_month("2024-02-29") == "2024-02"
    assert units.parse_month("2026-4") == "2026-04"
