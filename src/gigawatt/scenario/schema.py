"""The scenario file, version 1: a pydantic schema.

Quantities are written with units in the YAML ("5 GW", "$1.80/h") and parsed
here into SI floats; every field name ends in the unit it holds once parsed
(the YAML key ``pue`` stays ``pue``, ``capacity_cap`` is stored in W). Unknown
keys are errors. Cross-field rules (a price for every roadmap chip, known chip
and system names) are checked in :mod:`gigawatt.scenario.loader`, which also
attaches a line number and a hint to every problem.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, Strict,
                      ValidationInfo, field_validator, model_validator)

from gigawatt import units
from gigawatt.errors import UnitError
from gigawatt.scenario import limits
from gigawatt.scenario.demand_schema import Demand
from gigawatt.scenario.economics_schema import Economics
from gigawatt.scenario.fields import Duration, Month, count, distinct_months, quantity
from gigawatt.scenario.fields import Growth as GrowthPerYear

SCHEMA_VERSION = 1

Power = quantity("power")
Money = quantity("money")
PricePerHour = quantity("price_per_hour")
Chips = count("chips")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, allow_inf_nan=False)


class Horizon(_Strict):
    """The months a run covers, both ends included; at most ``limits.MAX_HORIZON_YEARS`` long."""

    start: Month
    end: Month
    step: Literal["month", "week"] = "month"

    @field_validator("end")
    @classmethod
    def _not_too_long(cls, end: str, info: ValidationInfo) -> str:
        start = info.data.get("start")
        if start is not None and limits.horizon_months(start, end) > limits.MAX_HORIZON_YEARS * 12:
            years = limits.horizon_months(start, end) / 12
            raise UnitError(f"the horizon {start} to {end} is {years:,.0f} years, longer than the limit of "
                            f"{limits.MAX_HORIZON_YEARS} years",
                            hint=f"end the horizon within {limits.MAX_HORIZON_YEARS} years of its start")
        return end

    @model_validator(mode="after")
    def _ordered(self) -> "Horizon":
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}; swap them")
        return self


class Commitment(_Strict):
    """The buyer's committed spend."""

    total_usd: Money = Field(validation_alias=AliasChoices("total", "total_usd"), gt=0)
    start: Month
    term_s: Duration = Field(validation_alias=AliasChoices("term", "term_s"), gt=0)
    min_per_year_usd: Money | None = Field(default=None, validation_alias=AliasChoices("min_per_year", "min_per_year_usd"), ge=0)


class SpendLimit(_Strict):
    """The most the buyer will spend on the deal."""

    per_year_usd: Money | None = Field(default=None, validation_alias=AliasChoices("per_year", "per_year_usd"), gt=0)

    @model_validator(mode="after")
    def _one(self) -> "SpendLimit":
        if self.per_year_usd is None:
            raise ValueError("give per_year, for example {per_year: $20B}")
        return self


class Investment(_Strict):
    """Cash from one party to the other, possibly contingent."""

    date: Month | None = None
    amount_usd: Money = Field(validation_alias=AliasChoices("amount", "amount_usd"), gt=0)
    from_party: Literal["provider", "buyer", "other"] = Field(default="provider", validation_alias=AliasChoices("from", "from_party"))
    contingent: bool = False
    condition: str | None = None
    include: bool = True
    note: str | None = None
    #: chance the tranche is paid [1]; the ledger counts amount x probability (non-binding deals < 1)
    probability: float = Field(default=1.0, ge=0.0, le=1.0)
    #: cash, convertible_note and equity are paid in cash at ``date``; services is a credit from
    #: the provider that the buyer draws down against its spend; prepayment is cash from the
    #: buyer at ``date`` that offsets the same share of each later invoice until used up
    instrument: Literal["cash", "convertible_note", "equity", "services", "prepayment"] = "cash"


class Deal(_Strict):
    """The terms of the deal."""

    buyer: str | None = None
    provider: str | None = None
    commitment: Commitment
    capacity_cap_w: Power | None = Field(default=None, validation_alias=AliasChoices("capacity_cap", "capacity_cap_w"), gt=0)
    capacity_basis: Literal["it", "facility"] = "it"
    spend_limit: SpendLimit | None = None
    investments: list[Investment] = Field(default_factory=list, max_length=limits.MAX_INVESTMENTS)
    #: false for a letter of intent or term sheet; the ledger then enforces no take-or-pay
    binding: bool = True
    #: the buyer pays any shortfall against the yearly minimum and, at the term's end, the total
    take_or_pay: bool = True


class Site(_Strict):
    """A datacenter site with its energization ramp.

    ``energized`` is the power the site has online at each point; ``basis``
    says which power that is: ``it`` (the default) the IT (critical) load the
    chips, hosts and network may draw, or ``facility`` the site's draw from
    the grid, which :func:`gigawatt.scenario.inputs.resolve` turns into IT
    power by dividing by the site's PUE.
    """

    name: str = Field(min_length=1)
    pue: float = Field(default=1.2, ge=1.0, le=3.0)
    energized_w: Annotated[dict[Month, Power], BeforeValidator(distinct_months)] = Field(
        validation_alias=AliasChoices("energized", "energized_w"), max_length=limits.MAX_ENERGIZED_POINTS)
    #: the basis of ``energized``: IT load (default, as before the field existed) or facility (grid) draw
    energized_basis: Literal["it", "facility"] = Field(default="it",
                                                        validation_alias=AliasChoices("basis", "energized_basis"))
    ramp: Literal["linear", "step"] = "linear"
    chips: list[str] | None = Field(default=None, max_length=limits.MAX_ROADMAP_ENTRIES)

    @field_validator("energized_w")
    @classmethod
    def _ramp_ok(cls, value: dict[str, float]) -> dict[str, float]:
        if not value:
            raise ValueError("give at least one point, for example {2026-01: 1 GW}")
        for month, power in value.items():
            if power < 0:
                raise ValueError(f"power at {month} is negative ({power:g} W); power online cannot be below zero")
        return dict(sorted(value.items()))


#: what the buildout adds at a time: single chips, the system's nodes (servers), or whole systems
#: (the system's scale-up domain: an UltraServer, an NVL72 rack, an 8-GPU server, a TPU pod)
UNITS = ("chip", "node", "system")


class RoadmapEntry(_Strict):
    """A chip generation the deal may deploy, and when.

    ``supply_per_year`` is the most chips of the generation deployable in a
    calendar year in which it is on offer all year; a year in which the
    roadmap offers it for fewer months gets that share of it (pro-rated by
    months). ``unit`` is what the buildout adds at a time (default ``system``:
    whole systems as the catalog defines them). ``estimate: true`` marks the
    entry as the scenario's own projection: a ``from`` before the catalog's
    first availability is then a warning instead of an error. ``use:
    inference`` marks a generation that serves inference only (an Inferentia
    generation): no training run is placed on it, and inference takes its pools
    first, the cheapest per token first (:mod:`gigawatt.fleet.serving_order`).
    """

    chip: str
    system: str | None = None
    from_month: Month = Field(validation_alias=AliasChoices("from", "from_month"))
    until: Month | None = None
    supply_per_year: Chips | None = Field(default=None, ge=0)
    lifetime_s: Duration = Field(default=6 * units.SECONDS_PER_YEAR, validation_alias=AliasChoices("lifetime", "lifetime_s"), gt=0)
    estimate: bool = False
    unit: Literal["chip", "node", "system"] = "system"
    #: what the generation runs: ``any`` workload, or ``inference`` only (never a training run)
    use: Literal["any", "inference"] = "any"

    @model_validator(mode="after")
    def _ordered(self) -> "RoadmapEntry":
        if self.until is not None and self.until < self.from_month:
            raise ValueError(f"until {self.until} is before from {self.from_month}")
        return self


class Price(_Strict):
    """Contract price per chip-hour of one chip."""

    price_usd_per_chip_h: PricePerHour = Field(validation_alias=AliasChoices("price", "price_usd_per_chip_h"), gt=0)
    decline_factor_per_year: GrowthPerYear = Field(default=1.0, validation_alias=AliasChoices("decline", "decline_factor_per_year"))
    from_month: Month | None = Field(default=None, validation_alias=AliasChoices("from", "from_month"))


def _price_short_form(value: Any) -> Any:
    if isinstance(value, (str, int, float)):
        return {"price": value}
    return value


class OptimizeValues(_Strict):
    """What ``gigawatt optimize`` prices demand left unmet at (docs/optimize.md); a default where left out."""

    #: revenue lost on a token of inference not served, per million tokens (input + output) [USD]
    unmet_inference_per_million_tokens_usd: Money | None = Field(
        default=None, ge=0, validation_alias=AliasChoices("unmet_inference", "unmet_inference_per_million_tokens_usd"))
    #: cost of one training run finishing one month after its deadline [USD]
    late_training_per_run_month_usd: Money | None = Field(
        default=None, ge=0, validation_alias=AliasChoices("late_training", "late_training_per_run_month_usd"))
    #: whether demand may go unserved at that price (false: every token served, every run by its deadline)
    allow_unmet: bool = True


class Scenario(_Strict):
    """A validated scenario: every quantity in SI, names still as written."""

    schema_version: Literal[1]
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    title: str | None = None
    description: str | None = None
    horizon: Horizon
    #: a whole number in [0, 2**63 - 1] (``numpy.random.default_rng`` takes no negative seed; the
    #: results store keeps it in a signed 64-bit column)
    seed: Annotated[int, Strict()] = Field(default=0, ge=0, le=limits.SEED_MAX)
    deal: Deal
    sites: list[Site] = Field(min_length=1, max_length=limits.MAX_SITES)
    roadmap: list[RoadmapEntry] = Field(min_length=1, max_length=limits.MAX_ROADMAP_ENTRIES)
    prices: dict[str, Annotated[Price, BeforeValidator(_price_short_form)]] = Field(
        max_length=limits.MAX_ROADMAP_ENTRIES)
    fill: Literal["newest", "roadmap"] = "newest"
    demand: Demand | None = None
    economics: Economics | None = None
    optimize: OptimizeValues | None = None
    #: the YAML text the scenario was read from (overrides applied), kept for the results' provenance
    _source_text: str | None = PrivateAttr(default=None)
    #: what the loader found worth saying that is not an error (``gigawatt.errors.Problem``, with line and hint)
    _warnings: list = PrivateAttr(default_factory=list)
    #: the uncertain inputs (``gigawatt.scenario.distributions.Uncertainty``), None where it has none
    _uncertain: Any = PrivateAttr(default=None)

    @property
    def uncertain(self):
        """The scenario's uncertain inputs and correlations (:class:`gigawatt.scenario.distributions.Uncertainty`), or None."""
        return self._uncertain if self._uncertain else None

    @property
    def warnings(self) -> list:
        """Problems the loader reports without refusing the file, such as a roadmap date it marks as its own estimate."""
        return list(self._warnings)

    def months(self) -> list[str]:
        """The period labels (YYYY-MM) of the horizon."""
        y0, m0 = map(int, self.horizon.start.split("-"))
        y1, m1 = map(int, self.horizon.end.split("-"))
        n = (y1 - y0) * 12 + (m1 - m0) + 1
        return [f"{y0 + (m0 - 1 + i) // 12:04d}-{(m0 - 1 + i) % 12 + 1:02d}" for i in range(n)]


month_index = units.month_index
