"""The optional ``economics:`` section of a scenario: the provider's costs and the
parties' discount rates.

Every field is optional; what is left out comes from the sourced defaults in
``gigawatt/economics/data/costs.yaml`` (see :func:`gigawatt.economics.defaults.cost_defaults`).

.. code-block:: yaml

    economics:
      discount: {lab: 12%, provider: 8%}     # or one rate for both: 8%
      power_price:
        default: $80.6/MWh                   # or a region key: us-average
        sites: {new-carlisle-in: indiana, pennsylvania: $77.9/MWh}
      build_cost: $11M/MW                    # datacenter shell per MW of IT
      datacenter_life: 14 years
      capex_per_chip: {trainium2: $18k}      # chip + server + network share
      it_capex_per_w: $25/W                  # for chips not listed above
      opex_per_mw_year: $0.3M/MW             # non-energy operations, per MW of IT per year
      maintenance_share: 0%                  # of chip capex per year, on top of opex
      load_factor: 100%                      # average power draw / full load
      residual: book                         # value at the horizon's end: book | none
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from gigawatt import units
from gigawatt.errors import UnitError
from gigawatt.scenario import limits
from gigawatt.scenario.fields import Duration, Fraction, quantity

Money = quantity("money")
MoneyPerPower = quantity("money_per_power")


def _power_price(value: Any) -> float | str:
    """A price like '$80/MWh' -> USD/MWh, or a region key of the cost defaults."""
    if isinstance(value, str) and value.strip() and not value.strip().startswith(("$", "-", "+")) \
            and not value.strip()[0].isdigit():
        from gigawatt.economics.defaults import power_price_regions

        key = value.strip().lower()
        regions = power_price_regions()
        if key not in regions:
            import difflib

            close = difflib.get_close_matches(key, regions, n=3, cutoff=0.5)
            hint = f"did you mean {', '.join(close)}?" if close else f"regions: {', '.join(regions)}"
            raise ValueError(f"unknown power-price region {value!r}; {hint} Or give a price like '$80/MWh'")
        return key
    out = units.parse(value, "price_per_energy")
    top, top_text, why = limits.QUANTITY_MAX["price_per_energy"]
    if abs(out) > top:
        raise UnitError(f"{value!r} is past the limit of {top_text}", hint=f"{why}; check the number and its unit")
    return out


PowerPrice = Annotated[float | str, BeforeValidator(_power_price)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, allow_inf_nan=False)


class Discount(_Strict):
    """Annual discount rate of each party [1/year]."""

    lab: Fraction | None = Field(default=None, ge=-0.5, le=2.0)
    provider: Fraction | None = Field(default=None, ge=-0.5, le=2.0)


def _discount_short_form(value: Any) -> Any:
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return {"lab": value, "provider": value}
    return value


class PowerPrices(_Strict):
    """Power price of the sites [USD/MWh] (or region keys of the cost defaults)."""

    default: PowerPrice | None = None
    sites: dict[str, PowerPrice] = Field(default_factory=dict, max_length=limits.MAX_SITES)


def _power_short_form(value: Any) -> Any:
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return {"default": value}
    return value


class Economics(_Strict):
    """The provider's costs and the parties' discount rates; all optional."""

    discount: Annotated[Discount, BeforeValidator(_discount_short_form)] = Field(default_factory=Discount)
    power_price: Annotated[PowerPrices, BeforeValidator(_power_short_form)] = Field(default_factory=PowerPrices)
    build_cost_usd_per_w: MoneyPerPower | None = Field(
        default=None, validation_alias=AliasChoices("build_cost", "build_cost_usd_per_w"), ge=0)
    datacenter_life_s: Duration | None = Field(
        default=None, validation_alias=AliasChoices("datacenter_life", "datacenter_life_s"), gt=0)
    capex_per_chip_usd: dict[str, Money] = Field(
        default_factory=dict, validation_alias=AliasChoices("capex_per_chip", "capex_per_chip_usd"),
        max_length=limits.MAX_ROADMAP_ENTRIES)
    it_capex_usd_per_w: MoneyPerPower | None = Field(
        default=None, validation_alias=AliasChoices("it_capex_per_w", "it_capex_usd_per_w"), ge=0)
    opex_usd_per_w_year: MoneyPerPower | None = Field(
        default=None, validation_alias=AliasChoices("opex_per_mw_year", "opex_usd_per_w_year"), ge=0)
    maintenance_share_per_year: Fraction | None = Field(
        default=None, validation_alias=AliasChoices("maintenance_share", "maintenance_share_per_year"), ge=0, le=1)
    power_load_factor: Fraction | None = Field(
        default=None, validation_alias=AliasChoices("load_factor", "power_load_factor"), ge=0, le=1)
    residual: Literal["book", "none"] = "book"

    @field_validator("capex_per_chip_usd")
    @classmethod
    def _positive(cls, value: dict[str, float]) -> dict[str, float]:
        for chip, usd in value.items():
            if usd < 0:
                raise ValueError(f"capex of {chip} is negative; give it like '$20k'")
        return value
