"""Quantity strings in, SI floats out.

Inputs (scenario YAML, catalog data files, CLI flags) carry their units as text:
``"5 GW"``, ``"$100B"``, ``"$1.80/h"``, ``"2.9 TB/s"``, ``"96 GiB"``, ``"6 years"``,
``"3x/year"``. Inside the code every quantity is a float in SI units (W, J, s,
bytes, FLOP, FLOP/s, USD) and the variable name ends with its unit. This module
is the only place that converts between the two.

Parsing is done by pint [1]_ with two additions: ``FLOP`` and ``USD`` are base
dimensions of their own, and ``bit``/``byte`` carry an ``[information]``
dimension so that "5 GB" can never pass for a power or a plain number.

References
----------
.. [1] pint, https://pint.readthedocs.io
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from typing import Any

from gigawatt.errors import UnitError

__all__ = [
    "DIMENSIONS",
    "parse",
    "parse_count",
    "parse_fraction",
    "parse_growth_per_year",
    "parse_month",
    "month_index",
    "month_label",
    "registry",
]


@dataclass(frozen=True)
class Dimension:
    """A kind of quantity the inputs use, with the SI unit it is stored in."""

    name: str
    si_unit: str  # what the float means once parsed
    pint_unit: str  # the pint unit to convert into
    example: str


#: Dimensions known to the input layer, by name. ``si_unit`` is the unit of the
#: float that ``parse`` returns; it is what a field name's suffix says.
DIMENSIONS: dict[str, Dimension] = {
    d.name: d
    for d in [
        Dimension("power", "W", "W", "5 GW"),
        Dimension("energy", "J", "J", "3 TWh"),
        Dimension("time", "s", "s", "6 years"),
        Dimension("data", "B", "B", "96 GiB"),
        Dimension("bandwidth", "B/s", "B/s", "2.9 TB/s"),
        Dimension("compute_rate", "FLOP/s", "FLOP/s", "667 TFLOP/s"),
        Dimension("compute", "FLOP", "FLOP", "3.8e25 FLOP"),
        Dimension("money", "USD", "USD", "$100B"),
        Dimension("price_per_hour", "USD/h", "USD/h", "$1.80/h"),
        Dimension("price_per_energy", "USD/MWh", "USD/MWh", "$80/MWh"),
        Dimension("money_per_power", "USD/W", "USD/W", "$10M/MW"),
        Dimension("dimensionless", "1", "dimensionless", "1.15"),
    ]
}


@functools.cache
def registry():
    """The shared pint registry, built once on first use.

    pint's default definitions are patched so that ``bit`` has an
    ``[information]`` dimension (pint makes it dimensionless), ``FLOP`` and
    ``USD`` are base units, and ``Gb`` is not read as a gilbert.
    """
    import pathlib
    import tempfile

    import pint

    src = pathlib.Path(pint.__file__).parent
    text = (src / "default_en.txt").read_text(encoding="utf-8")
    text = text.replace("\nbit = []", "\nbit = [information]", 1)
    text += "\nFLOP = [flop] = flop = flops\nUSD = [currency] = dollar = usd\n"
    with tempfile.TemporaryDirectory(prefix="gigawatt-units-") as tmp:
        tmpdir = pathlib.Path(tmp)
        (tmpdir / "default_en.txt").write_text(text, encoding="utf-8")
        (tmpdir / "constants_en.txt").write_text(
            (src / "constants_en.txt").read_text(encoding="utf-8"), encoding="utf-8"
        )
        ureg = pint.UnitRegistry(str(tmpdir / "default_en.txt"), cache_folder=None)
    return ureg


#: a Julian year, the year of every rate "per year" in gigawatt [s]
SECONDS_PER_YEAR = 365.25 * 86400.0
#: a month as a twelfth of a Julian year (30.4375 days), for durations given in months or years [s]
SECONDS_PER_MONTH = SECONDS_PER_YEAR / 12.0
#: hours in a Julian year [h]
HOURS_PER_YEAR = SECONDS_PER_YEAR / 3600.0


def months_in(seconds: float) -> int:
    """Whole months in a duration (a term, a lifetime), rounded: ``10 years`` -> 120.

    >>> months_in(10 * SECONDS_PER_YEAR), months_in(6 * SECONDS_PER_YEAR)
    (120, 72)
    """
    return int(round(seconds / SECONDS_PER_MONTH))


def year_of(label: str) -> int:
    """The calendar year of a period label (``2026-04`` or ``2026-04-15``).

    >>> year_of("2031-07")
    2031
    """
    return int(str(label)[:4])


_MONEY = re.compile(
    r"^\s*(?P<sign>-?)\s*\$\s*(?P<num>[0-9][0-9_,]*\.?[0-9]*(?:[eE][-+]?[0-9]+)?)\s*"
    r"(?P<mult>[kKmMbBtT])?(?![a-zA-Z])\s*(?P<rest>.*)$"
)
_MULT = {"k": 1e3, "m": 1e6, "b": 1e9, "t": 1e12}
_BITS = re.compile(r"(?<![A-Za-z])([kKMGTP]?)b(?:ps|/s)\b")
_LEADING_NUMBER = re.compile(r"^\s*[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?(?![0-9])")
_NON_FINITE = re.compile(r"^\s*[-+]?(?:inf|nan)\b", re.IGNORECASE)
_HOURLY = {"/h": "/hour", "/hr": "/hour", "/yr": "/year", "/y": "/year", "/mo": "/month"}


def _normalize(text: str) -> str:
    """Rewrite money shorthand and network bit rates into pint syntax."""
    m = _MONEY.match(text)
    if m:
        num = float(m.group("num").replace(",", "").replace("_", ""))
        if m.group("mult"):
            num *= _MULT[m.group("mult").lower()]
        if m.group("sign"):
            num = -num
        rest = m.group("rest").strip()
        for short, long in _HOURLY.items():
            if rest == short or rest.startswith(short + " "):
                rest = long + rest[len(short) :]
        # "$10M/MW": the money part sits before the slash
        return (f"{num!r} USD{rest}" if rest.startswith("/") else f"{num!r} USD {rest}").strip()
    text = _BITS.sub(lambda mm: f"{mm.group(1)}bit/s", text)
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text)
    return text


def _fast_units() -> dict[str, tuple[str, float]]:
    """Common unit spellings -> (dimension, factor to SI), without pint.

    Building pint's registry costs about 0.3 s, most of ``gigawatt check``. The
    units that inputs use nearly always are read from this table instead; a test
    checks every entry against pint, and anything else goes to pint.
    """
    si = {"": 1.0, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}
    binary = {"Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40, "Pi": 2.0**50}
    year = SECONDS_PER_YEAR
    table: dict[str, tuple[str, float]] = {}
    for p, f in si.items():
        table[f"{p}W"] = ("power", f)
        table[f"{p}Wh"] = ("energy", f * 3600.0)
        table[f"{p}J"] = ("energy", f)
        table[f"{p}FLOP/s"] = ("compute_rate", f)
        table[f"{p}FLOP"] = ("compute", f)
        table[f"{p}bit/s"] = ("bandwidth", f / 8.0)
        table[f"USD/{p}W"] = ("money_per_power", 1.0 / f)
        table[f"USD/{p}Wh"] = ("price_per_energy", 1e6 / (f * 1.0))
        for kb in ({p, "K"} if p == "k" else {p}):  # "KB" is common for kilobyte
            table[f"{kb}B"] = ("data", f)
            table[f"{kb}B/s"] = ("bandwidth", f)
    for p, f in binary.items():
        table[f"{p}B"] = ("data", f)
        table[f"{p}B/s"] = ("bandwidth", f)
    for names, secs in [(("s", "second", "seconds"), 1.0), (("ms",), 1e-3), (("us",), 1e-6),
                        (("min", "minute", "minutes"), 60.0), (("h", "hour", "hours"), 3600.0),
                        (("day", "days"), 86400.0), (("week", "weeks"), 7 * 86400.0),
                        (("month", "months"), year / 12), (("year", "years"), year)]:
        for name in names:
            table[name] = ("time", secs)
    table["USD"] = ("money", 1.0)
    table["USD/hour"] = ("price_per_hour", 1.0)
    table["USD/MWh"] = ("price_per_energy", 1.0)
    return table


_FAST = _fast_units()
_FAST_RE = re.compile(r"^\s*([-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?)\s*([A-Za-z/]+)\s*$")


def _finite(out: float, value: Any, field: str | None, example: str) -> float:
    """``out`` if it is a finite number; else a UnitError naming the value and a fix."""
    if math.isfinite(out):
        return out
    where = f"{field}: " if field else ""
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
    raise UnitError(
        f"{where}{shown} is not a finite number ({out})",
        field_name=field,
        hint=f"write a finite value like '{example}'; check the exponent and the unit",
    )


def _describe(dimensionality: Any) -> str:
    for dim in DIMENSIONS.values():
        if dim.name == "dimensionless":
            continue
        if registry().Quantity(1, dim.pint_unit).dimensionality == dimensionality:
            return dim.name
    return str(dimensionality)


def parse(value: Any, dimension: str, *, field: str | None = None) -> float:
    """Parse a quantity into an SI float of the expected dimension.

    Parameters
    ----------
    value : str or float
        A quantity string such as ``"5 GW"`` or ``"$1.80/h"``. A bare number
        is accepted only for ``dimensionless``.
    dimension : str
        A key of :data:`DIMENSIONS`, for example ``"power"``.
    field : str, optional
        The input field being parsed; named in the error message.

    Returns
    -------
    float
        The value in the dimension's SI unit (``DIMENSIONS[dimension].si_unit``).

    Raises
    ------
    UnitError
        If the text does not parse, has another dimension, or is not finite
    (``"1e400 GW"``, ``.inf``, ``.nan``).

    Examples
    --------
    >>> parse("5 GW", "power")
    5000000000.0
    >>> parse("$1.80/h", "price_per_hour")
    1.8
    >>> parse("96 GiB", "data")
    103079215104.0
    """
    dim = DIMENSIONS[dimension]
    where = f"{field}: " if field else ""
    if isinstance(value, bool):
        raise UnitError(f"{where}expected {dim.name} like '{dim.example}', got {value!r}", field_name=field)
    if isinstance(value, (int, float)):
        if dim.name == "dimensionless":
            return _finite(float(value), value, field, dim.example)
        raise UnitError(
            f"{where}a bare number {value!r} has no unit; expected {dim.name} in {dim.si_unit}",
            field_name=field,
            hint=f"write it with its unit, for example '{dim.example}'",
        )
    if not isinstance(value, str) or not value.strip():
        raise UnitError(f"{where}expected {dim.name} like '{dim.example}', got {value!r}", field_name=field)
    text = _normalize(value)
    non_finite = _NON_FINITE.match(text)
    if non_finite:  # "inf GW", or "$1e400B" become "inf USD"
        _finite(float(non_finite.group(0)), value, field, dim.example)
    if not _LEADING_NUMBER.match(text):
        raise UnitError(
            f"{where}{value!r} has no number; expected {dim.name} like '{dim.example}'",
            field_name=field,
            hint=f"write it like '{dim.example}'",
        )
    fast = _FAST_RE.match(text)
    if fast and fast.group(2) in _FAST:
        found, factor = _FAST[fast.group(2)]
        if found != dim.name:
            raise UnitError(
                f"{where}{value!r} is {found}, expected {dim.name} "
                f"(a quantity in {dim.si_unit}, like '{dim.example}')",
                field_name=field,
                hint=f"write it like '{dim.example}'",
            )
        return _finite(float(fast.group(1)) * factor, value, field, dim.example)
    ureg = registry()
    try:
        q = ureg.Quantity(text)
    except Exception as exc:  # pint raises several unrelated types
        raise UnitError(
            f"{where}cannot read {value!r} as {dim.name}: {exc}",
            field_name=field,
            hint=f"write it like '{dim.example}'",
        ) from None
    if not hasattr(q, "magnitude"):
        q = ureg.Quantity(q)
    target = ureg.Quantity(1, dim.pint_unit)
    if q.dimensionality != target.dimensionality:
        raise UnitError(
            f"{where}{value!r} is {_describe(q.dimensionality)}, expected {dim.name} "
            f"(a quantity in {dim.si_unit}, like '{dim.example}')",
            field_name=field,
            hint=f"write it like '{dim.example}'",
        )
    return _finite(float(q.to(dim.pint_unit).magnitude), value, field, dim.example)


_COUNT = re.compile(r"^\s*(?P<num>[0-9][0-9_,]*\.?[0-9]*(?:[eE][-+]?[0-9]+)?)\s*(?P<mult>[kKMBT])?\s*$")
_COUNT_MULT = {"k": 1e3, "K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}


def parse_count(value: Any, *, field: str | None = None) -> float:
    """Parse a plain count: ``40T`` tokens, ``2e12``, ``1,000,000``, ``500k``.

    >>> parse_count("40T")
    40000000000000.0
    """
    if isinstance(value, bool):
        raise UnitError(f"{field or 'value'}: expected a number, got {value!r}", field_name=field)
    if isinstance(value, (int, float)):
        try:
            return _finite(float(value), value, field, "2e12")
        except OverflowError:  # an int past the float range
            return _finite(math.inf, value, field, "2e12")
    m = _COUNT.match(str(value))
    if not m:
        raise UnitError(
            f"{field or 'value'}: cannot read {value!r} as a count",
            field_name=field,
            hint="write a number like 2e12, 40T, 500k or 1,000,000",
        )
    num = float(m.group("num").replace(",", "").replace("_", ""))
    return _finite(num * _COUNT_MULT.get(m.group("mult") or "", 1.0), value, field, "2e12")


def parse_fraction(value: Any, *, field: str | None = None) -> float:
    """Parse a share: ``"8%"`` or ``0.08`` -> 0.08.

    >>> parse_fraction("12.5%")
    0.125
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _finite(float(value), value, field, "8%")
    text = str(value).strip()
    if text.endswith("%"):
        try:
            return _finite(float(text[:-1]) / 100.0, value, field, "8%")
        except ValueError:
            pass
    try:
        return _finite(float(text), value, field, "8%")
    except UnitError:
        raise
    except ValueError:
        raise UnitError(
            f"{field or 'value'}: cannot read {value!r} as a share",
            field_name=field,
            hint="write a percentage like '8%' or a fraction like 0.08",
        ) from None


_GROWTH = re.compile(
    r"^\s*(?P<num>[-+]?[0-9]*\.?[0-9]+)\s*(?P<kind>x|%)\s*(?:/|per)\s*(?P<per>year|yr|y|month|mo)\s*$"
)


def parse_growth_per_year(value: Any, *, field: str | None = None) -> float:
    """Parse a growth or decline rate into a factor per year.

    ``"3x/year"`` -> 3.0; ``"-10%/year"`` -> 0.9; ``"10%/year"`` -> 1.1;
    ``"1.1x/month"`` -> 1.1**12. A bare number is a factor per year.

    >>> parse_growth_per_year("3x/year")
    3.0
    >>> round(parse_growth_per_year("-10%/year"), 6)
    0.9
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        factor = _finite(float(value), value, field, "3x/year")
    else:
        m = _GROWTH.match(str(value))
        if not m:
            raise UnitError(
                f"{field or 'value'}: cannot read {value!r} as a rate per year",
                field_name=field,
                hint="write a factor like '3x/year' or a change like '-10%/year'",
            )
        num = float(m.group("num"))
        factor = num if m.group("kind") == "x" else 1.0 + num / 100.0
        if m.group("per") in ("month", "mo"):
            factor = factor**12 if factor < 1e25 else math.inf
        factor = _finite(factor, value, field, "3x/year")
    if factor <= 0:
        raise UnitError(
            f"{field or 'value'}: a growth factor must be positive, got {value!r}",
            field_name=field,
            hint="a decline of 10% a year is '-10%/year' (factor 0.9)",
        )
    return factor


_MONTH = re.compile(r"^\s*(?P<y>\d{4})-(?P<m>\d{1,2})(?:-(?P<d>\d{1,2}))?\s*$")


def parse_month(value: Any, *, field: str | None = None) -> str:
    """Parse a date into a ``YYYY-MM`` month string (days are dropped).

    A month outside 1-12 or a day the month does not have (``2026-02-30``) is
    an error.

    >>> parse_month("2026-04-20")
    '2026-04'
    """
    import calendar
    import datetime as _dt

    if isinstance(value, (_dt.date, _dt.datetime)):
        return f"{value.year:04d}-{value.month:02d}"
    m = _MONTH.match(str(value)) if isinstance(value, str) else None
    if not m or not 1 <= int(m.group("m")) <= 12:
        raise UnitError(
            f"{field or 'value'}: cannot read {value!r} as a month",
            field_name=field,
            hint="write a month as YYYY-MM, for example 2026-04",
        )
    year, month = int(m.group("y")), int(m.group("m"))
    if m.group("d") is not None:
        days = calendar.monthrange(year, month)[1] if year >= 1 else 31
        if not 1 <= int(m.group("d")) <= days:
            raise UnitError(
                f"{field or 'value'}: {value!r} is not a date: {year:04d}-{month:02d} has {days} days",
                field_name=field,
                hint="write a month as YYYY-MM, for example 2026-04, or a real date",
            )
    return f"{year:04d}-{month:02d}"


def month_index(month: str) -> int:
    """Months since year 0 of a ``YYYY-MM`` label: ``12*year + month - 1``.

    >>> month_index("2026-04") - month_index("2025-12")
    4
    """
    y, m = month.split("-")[:2]
    return int(y) * 12 + int(m) - 1


def month_label(index: int) -> str:
    """The ``YYYY-MM`` label of a month index (the inverse of :func:`month_index`).

    >>> month_label(month_index("2026-04"))
    '2026-04'
    """
    return f"{index // 12:04d}-{index % 12 + 1:02d}"
