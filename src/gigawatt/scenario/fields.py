"""Field types of the scenario schema: quantities, counts, rates and months, parsed and bounded.

Each type parses what the YAML says (``"5 GW"``, ``"40T"``, ``"3x/year"``,
``2026-04``) into an SI float with :mod:`gigawatt.units`, and rejects values
that are not finite or lie past the limits of :mod:`gigawatt.scenario.limits`,
with a hint that says where the limit comes from. Errors are ``UnitError``
(a ``ValueError``), which pydantic reports at the field's path; the loader
adds the line.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator

from gigawatt import units
from gigawatt.errors import UnitError
from gigawatt.scenario import limits

__all__ = ["Compute", "Count", "Duration", "Fraction", "Growth", "Month", "quantity", "count", "distinct_months"]


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _bounded_quantity(dimension: str):
    top, top_text, why = limits.QUANTITY_MAX[dimension]

    def parse(value: Any) -> float:
        out = units.parse(value, dimension)
        if abs(out) > top:
            raise UnitError(f"{_shown(value)} is past the limit of {top_text}",
                            hint=f"{why}; check the number and its unit")
        return out

    return BeforeValidator(parse)


def quantity(dimension: str):
    """A quantity of ``dimension`` (a key of :data:`gigawatt.units.DIMENSIONS`), in SI, bounded."""
    return Annotated[float, _bounded_quantity(dimension)]


def count(kind: str):
    """A plain count of ``kind`` (a key of :data:`gigawatt.scenario.limits.COUNT_MAX`), bounded."""
    top, why = limits.COUNT_MAX[kind]

    def parse(value: Any) -> float:
        out = units.parse_count(value)
        if abs(out) > top:
            raise UnitError(f"{_shown(value)} is past the limit of {top:,.0f}", hint=f"the limit is {top:g} {why}")
        return out

    return Annotated[float, BeforeValidator(parse)]


def _growth(value: Any) -> float:
    out = units.parse_growth_per_year(value)
    if not limits.GROWTH_MIN <= out <= limits.GROWTH_MAX:
        raise UnitError(
            f"{_shown(value)} is a factor of {out:.3g} a year, outside {limits.GROWTH_MIN:g}-{limits.GROWTH_MAX:g}",
            hint=f"write a rate per year between {limits.GROWTH_MIN:g}x/year (-99%/year) and "
                 f"{limits.GROWTH_MAX:g}x/year; kept for a century, faster growth overflows any number")
    return out


def _compute(value: Any) -> float:
    """FLOP written as '3e26 FLOP' or a bare number."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value_si = units.parse_count(value)
    else:
        try:  # YAML reads 1e24 (no dot) as text
            value_si = units.parse_count(value)
        except UnitError:
            value_si = units.parse(value, "compute")
    top, top_text, why = limits.QUANTITY_MAX["compute"]
    if abs(value_si) > top:
        raise UnitError(f"{_shown(value)} is past the limit of {top_text}", hint=f"{why}; check the exponent")
    return value_si


def distinct_months(value: Any) -> Any:
    """A mapping keyed by month whose keys name different months (``2026-1`` and ``2026-01`` are one)."""
    if isinstance(value, dict):
        seen: dict[str, Any] = {}
        for key in value:
            try:
                month = units.parse_month(key)
            except UnitError:
                continue  # reported where the key is validated
            if month in seen:
                raise UnitError(f"{key!r} and {seen[month]!r} are the same month, {month}",
                                hint="give each month once")
            seen[month] = key
    return value


Month = Annotated[str, BeforeValidator(lambda v: units.parse_month(v))]
Duration = quantity("time")
Compute = Annotated[float, BeforeValidator(_compute)]
Growth = Annotated[float, BeforeValidator(_growth)]
Fraction = Annotated[float, BeforeValidator(lambda v: units.parse_fraction(v))]
Count = count
