"""The deal ledger: both parties' monthly cash flows, NPV, IRR and implied figures.

The lab (the buyer of compute) and the provider (the cloud) each get a monthly
cash-flow table, positive in and negative out:

========================  ====================================  ==============================
line                      lab                                   provider
========================  ====================================  ==============================
``investment_usd``        + investments received in cash        - investments paid in cash
``spend_usd``             - contract spend paid in cash         + the same, as revenue
``shortfall_usd``         - take-or-pay shortfall               + the same
``capex_chips_usd``                                             - chips, servers, network
``capex_datacenter_usd``                                        - build cost x new energized MW
``power_usd``                                                   - facility energy x site price
``opex_usd``                                                    - operations and maintenance
``residual_usd``                                                + book value at the horizon end
========================  ====================================  ==============================

What one party pays the other appears on both sides with opposite signs.
Investments paid as cloud services are a credit the lab draws down against its
spend, so they lower both the lab's cash spend and the provider's cash revenue.
The equity the provider receives for its investment has no cash value in the
ledger (it is not sold within the horizon).

Arrays have the dimensions ``(sample, period)``; there is one summary per sample (``Ledger.sample_summaries``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gigawatt.economics import buyer, finance, tco
from gigawatt.errors import GigawattError
from gigawatt.economics.buyer import SECONDS_PER_HOUR
from gigawatt.units import SECONDS_PER_MONTH, SECONDS_PER_YEAR
from gigawatt.units import month_index as _month_index
from gigawatt.units import month_label, months_in, year_of

__all__ = ["Ledger", "build_ledger", "ledger_json", "resolve_costs"]

LAB_LINES = ("investment_usd", "spend_usd", "shortfall_usd")
PROVIDER_LINES = ("investment_usd", "spend_usd", "shortfall_usd", "capex_chips_usd", "capex_datacenter_usd",
                  "power_usd", "opex_usd", "residual_usd")


@dataclass
class Costs:
    """The provider's cost inputs for one scenario, resolved to SI, with where each came from."""

    discount_lab: float
    discount_provider: float
    capex_per_chip_usd: np.ndarray  # (chip,)
    build_cost_usd_per_w: float
    datacenter_life_months: int
    opex_usd_per_w_year: float
    maintenance_share_per_year: float
    power_load_factor: float
    power_price_usd_per_mwh: np.ndarray  # (site,)
    residual: str
    sources: dict[str, str] = field(default_factory=dict)
    #: the catalog's market prices of each roadmap chip (``chip -> Price record``), for comparison only
    market_prices: dict[str, Any] = field(default_factory=dict)


@dataclass
class Ledger:
    """Monthly cash flows of both parties, and what they add up to."""

    months: list[str]
    period_years: np.ndarray  # (period,) years since the first period
    lab: dict[str, np.ndarray]  # line -> (sample, period) [USD]
    provider: dict[str, np.ndarray]  # line -> (sample, period) [USD]
    depreciation_usd: np.ndarray  # (sample, period) chips + datacenter [USD]
    costs: Costs
    summary: dict[str, Any]  # sample 0's; see sample_summaries
    tco_by_year: list[dict[str, Any]]
    notes: list[str]
    sample_summaries: list[dict[str, Any]] = field(default_factory=list)  # one per sample

    def net_usd(self, party: str) -> np.ndarray:
        """Net cash flow of ``party`` ('lab' or 'provider'), (sample, period) [USD]."""
        lines = self.lab if party == "lab" else self.provider
        return sum(lines.values())

    def yearly(self, party: str, sample: int = 0) -> list[dict[str, float]]:
        """Each line of ``party`` summed per calendar year, with net and cumulative net [USD].

        The provider's rows also carry ``capex_usd`` (chips and data centers)
        and ``power_and_opex_usd`` (power, operations and maintenance).
        """
        lines = self.lab if party == "lab" else self.provider
        years = np.array([year_of(m) for m in self.months])
        rows, cumulative = [], 0.0
        net = self.net_usd(party)[sample]
        for year in np.unique(years):
            idx = years == year
            row: dict[str, float] = {"year": int(year)}
            row.update({name: float(values[sample, idx].sum()) for name, values in lines.items()})
            if "capex_chips_usd" in row:
                row["capex_usd"] = row["capex_chips_usd"] + row.get("capex_datacenter_usd", 0.0)
                row["power_and_opex_usd"] = row.get("power_usd", 0.0) + row.get("opex_usd", 0.0)
            row["net_usd"] = float(net[idx].sum())
            cumulative += row["net_usd"]
            row["cumulative_net_usd"] = cumulative
            rows.append(row)
        return rows




def resolve_costs(inputs, discount: float | None = None) -> Costs:
    """The scenario's ``economics:`` section over the sourced defaults.

    Parameters
    ----------
    inputs : Inputs
        Its ``economics``, ``chips`` and ``sites`` (:func:`gigawatt.scenario.inputs.resolve` calls this once).
    discount : float, optional
        One annual rate for both parties [1/year]; overrides the scenario.

    Returns
    -------
    Costs
        SI values, and in ``sources`` where each came from: ``scenario economics``,
        ``--discount``, or the default's source (``(estimate)`` where it is one).

    Raises
    ------
    GigawattError
        A site or chip named under ``economics`` that the scenario does not have.
    """
    from gigawatt.economics.defaults import cost_defaults

    e = inputs.economics
    picked = _Picked(cost_defaults())
    lab_rate = picked.pick("discount_lab", e.discount.lab if e else None)
    provider_rate = picked.pick("discount_provider", e.discount.provider if e else None)
    if discount is not None:
        lab_rate = provider_rate = float(discount)
        picked.sources["discount_lab"] = picked.sources["discount_provider"] = "--discount"
    capex = _capex_per_chip(inputs, picked)
    site_price = _power_prices(inputs, picked)
    life_s = picked.pick("datacenter_life_s", _scenario_value(e, "datacenter_life_s"))
    return Costs(
        discount_lab=float(lab_rate),
        discount_provider=float(provider_rate),
        capex_per_chip_usd=capex,
        build_cost_usd_per_w=float(picked.pick("build_cost_usd_per_w", _scenario_value(e, "build_cost_usd_per_w"))),
        datacenter_life_months=max(1, months_in(life_s)),
        opex_usd_per_w_year=float(picked.pick("opex_usd_per_w_year", _scenario_value(e, "opex_usd_per_w_year"))),
        maintenance_share_per_year=float(picked.pick("maintenance_share_per_year",
                                                     _scenario_value(e, "maintenance_share_per_year"))),
        power_load_factor=float(picked.pick("power_load_factor", _scenario_value(e, "power_load_factor"))),
        power_price_usd_per_mwh=site_price,
        residual=e.residual if e else "book",
        sources=picked.sources,
        market_prices=_catalog_market_prices(inputs),
    )


def _catalog_market_prices(inputs) -> dict[str, Any]:
    """The catalog's list and committed prices of the roadmap's chips that have them (looked up once)."""
    from gigawatt import catalog

    by_chip = {p.chip: p for p in catalog.load("prices").values()}
    return {spec.chip: by_chip[spec.chip] for spec in inputs.chips if spec.chip in by_chip}


def _scenario_value(economics, name: str):
    """``economics.<name>``, or None for a scenario without an ``economics:`` section."""
    return getattr(economics, name) if economics else None


class _Picked:
    """Cost inputs taken from the scenario where it gives them, else from the sourced defaults, with their sources."""

    def __init__(self, defaults):
        self.defaults = defaults  # CostDefaults
        self.sources: dict[str, str] = {}

    def pick(self, name: str, scenario_value):
        """The scenario's value if not None, else the default ``name``; its source noted under ``name``."""
        if scenario_value is not None:
            self.sources[name] = "scenario economics"
            return scenario_value
        return self.default(name, self.defaults.values[name])

    def default(self, label: str, sourced):
        """A :class:`~gigawatt.economics.defaults.Sourced` default's value; its source noted under ``label``."""
        self.sources[label] = sourced.source + (" (estimate)" if sourced.estimate else "")
        return sourced.value


def _capex_per_chip(inputs, picked: _Picked) -> np.ndarray:
    """Capex per chip installed, ``(chip,)`` [USD]: the scenario's, the catalog default's, or by IT watts.

    Parameters
    ----------
    inputs : Inputs
        Its ``economics.capex_per_chip_usd`` (by chip name or alias) and ``chips``.
    picked : _Picked
        Notes the source of each chip's figure as ``capex_<chip>``.

    Returns
    -------
    ndarray
        :math:`k_c` per chip of the roadmap [USD].

    Notes
    -----
    Without a scenario or a sourced default figure for the chip, capex scales
    with its all-in IT power: :math:`k_c = \\kappa\\,w_c`, with :math:`\\kappa`
    the IT capex per W [USD/W] and :math:`w_c` the chip's all-in IT watts [W].
    """
    from gigawatt import catalog
    from gigawatt.errors import CatalogError

    e = inputs.economics
    by_id: dict[str, float] = {}
    if e is not None:
        for name, usd in e.capex_per_chip_usd.items():
            try:
                by_id[catalog.resolve("chips", name)] = usd
            except CatalogError:
                raise GigawattError(f"economics.capex_per_chip: unknown chip {name!r}; "
                                    f"use a roadmap chip: {', '.join(inputs.chip_ids)}") from None
    it_capex = picked.pick("it_capex_usd_per_w", _scenario_value(e, "it_capex_usd_per_w"))
    defaults = picked.defaults.capex_per_chip_usd
    capex = np.zeros(len(inputs.chips))
    for j, spec in enumerate(inputs.chips):
        label = f"capex_{spec.chip}"
        if spec.chip in by_id:
            capex[j] = by_id[spec.chip]
            picked.sources[label] = "scenario economics"
        elif spec.chip in defaults:
            capex[j] = picked.default(label, defaults[spec.chip])
        else:
            capex[j] = it_capex * spec.it_w_per_chip
            picked.sources[label] = (f"it_capex_usd_per_w ${it_capex:g}/W x {spec.it_w_per_chip:.0f} W all-in "
                                     f"(catalog system {spec.system})")
    return capex


def _power_prices(inputs, picked: _Picked) -> np.ndarray:
    """Power price of each site, ``(site,)`` [USD/MWh]: its own, else the scenario's default, else the US average.

    Parameters
    ----------
    inputs : Inputs
        Its ``economics.power_price`` (a number [USD/MWh] or a region of the
        sourced defaults, by site and a default) and ``sites``.
    picked : _Picked
        Notes the sources as ``power_price_default`` and ``power_price_<site>``.

    Returns
    -------
    ndarray
        :math:`p_s` [USD/MWh].

    Raises
    ------
    GigawattError
        A price for a site the scenario does not have.
    """
    e = inputs.economics
    prices = e.power_price if e else None
    regions = picked.defaults.power_price_usd_per_mwh

    def price_of(value, label: str) -> float:
        if isinstance(value, str):
            picked.sources[label] = regions[value].source
            return regions[value].value
        picked.sources[label] = "scenario economics"
        return float(value)

    default_price = price_of(prices.default if prices and prices.default is not None else "us-average",
                             "power_price_default")
    if prices is not None:
        unknown = sorted(set(prices.sites) - set(inputs.sites))
        if unknown:
            raise GigawattError(f"economics.power_price.sites: no site named {', '.join(map(repr, unknown))}; "
                                f"sites are {', '.join(inputs.sites)}")
    return np.array([
        price_of(prices.sites[s], f"power_price_{s}") if prices is not None and s in prices.sites else default_price
        for s in inputs.sites
    ])

def with_discount(costs: Costs, discount: float) -> Costs:
    """``costs`` with one annual discount rate for both parties [1/year] (the ledger's ``--discount``)."""
    import dataclasses

    sources = {**costs.sources, "discount_lab": "--discount", "discount_provider": "--discount"}
    return dataclasses.replace(costs, discount_lab=float(discount), discount_provider=float(discount), sources=sources)


def _investments(scn, fleet, n_s: int, amounts=None):
    """Expected flows by period: cash provider->lab, cash lab->provider, cash other->lab, services credit,
    prepayment credit. ``amounts`` ``(sample, investment)`` [USD], where given, replaces each investment's amount."""
    n_t = len(fleet.months)
    periods = fleet.periods
    cash_from_provider = np.zeros((n_s, n_t))
    cash_from_lab = np.zeros((n_s, n_t))
    cash_from_other = np.zeros((n_s, n_t))
    services = np.zeros((n_s, n_t))
    prepaid = np.zeros((n_s, n_t))
    notes = []
    for k, inv in enumerate(scn.deal.investments):
        if not inv.include:
            continue
        month = inv.date or scn.deal.commitment.start
        # an investment lands in the first period of its month; one dated before the horizon, in the first
        t = periods.first_at_or_after(month)
        if t >= n_t:
            notes.append(f"investment of ${inv.amount_usd / 1e9:,.1f}B dated {month} falls after the horizon; "
                         "left out")
            continue
        amount = (inv.amount_usd if amounts is None else amounts[:, k]) * inv.probability
        if inv.instrument == "services":
            if inv.from_party != "provider":
                raise GigawattError("deal.investments: instrument 'services' must come from the provider; "
                                    "use instrument: cash for other investors")
            services[:, t] += amount
        elif inv.instrument == "prepayment":
            if inv.from_party != "buyer":
                raise GigawattError("deal.investments: instrument 'prepayment' is paid by the buyer; "
                                    "write from: buyer")
            cash_from_lab[:, t] += amount
            prepaid[:, t] += amount
        elif inv.from_party == "provider":
            cash_from_provider[:, t] += amount
        elif inv.from_party == "buyer":
            cash_from_lab[:, t] += amount
        else:
            cash_from_other[:, t] += amount
    return cash_from_provider, cash_from_lab, cash_from_other, services, prepaid, notes


def _shortfall(scn, fleet, spend: np.ndarray, total=None, minimum=None) -> tuple[np.ndarray, list[str]]:
    """Take-or-pay: yearly minimum per calendar year (pro rata in the term), then the total at term end.

    ``total`` and ``minimum`` [USD], ``(sample,)`` each, replace the deal's commitment total and yearly
    minimum where given (Monte Carlo).
    """
    n_s, n_t = spend.shape
    out = np.zeros_like(spend)
    notes: list[str] = []
    deal = scn.deal
    if not (deal.take_or_pay and deal.binding):
        return out, notes
    term = fleet.in_commitment
    years = fleet.periods.year
    minimum = deal.commitment.min_per_year_usd if minimum is None else minimum
    if minimum is not None and np.any(minimum):
        for year in np.unique(years):
            idx = np.nonzero((years == year) & term)[0]
            if idx.size == 0:
                continue
            owed = minimum * fleet.period_s[idx].sum() / SECONDS_PER_YEAR
            out[:, idx[-1]] += buyer.commitment_shortfall_usd(spend[:, idx].sum(axis=1), owed)
    c = deal.commitment
    end = _month_index(c.start) + months_in(c.term_s) - 1
    t_end = fleet.periods.last_in_or_before(month_label(end)) if end <= fleet.periods.month[-1] else n_t
    if 0 <= t_end < n_t:
        paid = spend[:, term].sum(axis=1) + out[:, term].sum(axis=1)
        out[:, t_end] += np.maximum((c.total_usd if total is None else total) - paid, 0.0)
    else:
        notes.append("the commitment's term ends after the horizon, so no end-of-term shortfall is booked")
    return out, notes


def _drawdown(credit: np.ndarray, spend: np.ndarray, share: float = 1.0) -> np.ndarray:
    """Credit used against spend each period: min(balance, share x spend), balance carried forward."""
    used = np.zeros_like(spend)
    balance = np.zeros(spend.shape[0])
    for t in range(spend.shape[1]):
        balance += credit[:, t]
        used[:, t] = np.minimum(balance, share * spend[:, t])
        balance -= used[:, t]
    return used


def build_ledger(inputs, fleet, discount: float | None = None, summaries: bool = True, sampled=None) -> Ledger:
    """Both parties' monthly cash flows, their NPV and IRR, and the deal's implied figures.

    Parameters
    ----------
    inputs : Inputs
        The resolved scenario (:func:`gigawatt.scenario.inputs.resolve`): its
        deal, and its cost inputs (``inputs.costs``).
    fleet : Fleet
        Its buildout, from :func:`gigawatt.fleet.build_fleet`.
    discount : float, optional
        One annual discount rate for both parties [1/year]; by default the
        scenario's ``economics.discount``, else the sourced defaults.
    summaries : bool
        Whether to make each sample's summary and the yearly TCO (Monte Carlo
        over many samples reads the cash-flow lines only).
    sampled : gigawatt.uncertainty.SampledInputs, optional
        Per-sample values of the ledger's own inputs (Monte Carlo): its
        ``costs`` (each a :class:`Costs` field with a leading sample axis),
        ``pue`` (the facility energy scales by the drawn PUE over the
        resolved one, site by site), ``commitment_total_usd``,
        ``commitment_min_per_year_usd`` and ``investment_usd``. Only with
        ``summaries=False``; the ledger's ``costs`` then hold those arrays.

    Returns
    -------
    Ledger

    Notes
    -----
    For the provider, per period :math:`t`, site :math:`s` and chip :math:`c`:

    .. math::
        F^{prov}_t = I^{in}_t - I^{out}_t + S_t - U_t + Y_t
          - k_c\\,a_{t,s,c} - b\\,\\max(\\Delta E_{t,s}, 0)
          - \\lambda\\,E^{fac}_{t,s,c}\\,p_s / 3.6\\times10^9
          - o\\,E_{t,s}\\,\\Delta t / \\mathrm{yr} - m\\,K_t\\,\\Delta t / \\mathrm{yr}
          + B_T\\,[t = T]

    with :math:`S` the contract spend, :math:`U` the services credit used,
    :math:`Y` the take-or-pay shortfall, :math:`k_c` capex per chip,
    :math:`a` chips added, :math:`b` build cost per W, :math:`E` energized IT
    power, :math:`\\lambda` the load factor, :math:`E^{fac}` facility energy
    at full load, :math:`p_s` the site's power price, :math:`o` operations per
    W-year, :math:`m` the maintenance share of the gross chip capex in service
    :math:`K_t`, and :math:`B_T` the book value at the horizon's end. The lab's
    flow is :math:`F^{lab}_t = I^{cash}_t - (S_t - U_t) - Y_t`. NPV discounts
    a period starting :math:`y` years after the first by :math:`(1 + r)^{-y}`.

    The stages: :func:`_payments` (what the lab pays in cash, investments,
    take-or-pay), :func:`_provider_costs` (capex, depreciation, power,
    operations, book value), :func:`_party_lines`, :func:`_tco_by_year` and
    :func:`_summary` per sample.
    """
    costs = inputs.costs if discount is None else with_discount(inputs.costs, discount)
    pue_ratio = None
    if sampled is not None:
        if summaries:
            raise ValueError("build_ledger: per-sample inputs (sampled=) give cash-flow lines only; "
                             "pass summaries=False")
        costs, pue_ratio = _sampled_costs(inputs, costs, sampled)
    period_years = (fleet.periods.month_pos - fleet.periods.month_pos[0]) / 12.0
    pay = _payments(inputs, fleet, sampled)
    pc = _provider_costs(fleet, costs, pue_ratio)
    lab, provider = _party_lines(pay, pc)
    ledger = Ledger(list(fleet.months), period_years, lab, provider, pc.chip_dep.sum(axis=2) + pc.dc_dep, costs, {},
                    [], pay.notes)
    if not summaries:
        return ledger
    ledger.tco_by_year = _tco_by_year(fleet, pc.chip_dep, pc.dc_dep, pc.power, pc.opex_ops, pc.maintenance)
    ledger.sample_summaries = [_summary(inputs, fleet, ledger, pay, pc, sample=s) for s in range(pay.spend.shape[0])]
    ledger.summary = ledger.sample_summaries[0]
    return ledger


def _sampled_costs(inputs, costs: Costs, sampled) -> tuple[Costs, np.ndarray | None]:
    """``costs`` with the fields ``sampled.costs`` draws per sample, and the drawn PUE over the resolved one.

    Returns
    -------
    Costs
        Scalars drawn become ``(sample,)`` arrays, ``capex_per_chip_usd``
        ``(sample, chip)`` and ``power_price_usd_per_mwh`` ``(sample, site)``.
    ndarray or None
        ``(sample, site)`` [1], None where the PUE is not drawn.
    """
    import dataclasses

    drawn = dict(getattr(sampled, "costs", None) or {})
    unknown = set(drawn) - {f.name for f in dataclasses.fields(Costs)}
    if unknown:
        raise ValueError(f"build_ledger: no cost input named {', '.join(sorted(unknown))}")
    pue = getattr(sampled, "pue", None)
    ratio = None if pue is None else np.asarray(pue, dtype=float) / np.asarray(inputs.pue, dtype=float)[None, :]
    return dataclasses.replace(costs, **{k: np.asarray(v, dtype=float) for k, v in drawn.items()}), ratio


def _lead(x, ndim: int):
    """``x`` shaped to broadcast against a ``(sample, ...)`` array of ``ndim`` dimensions: a ``(sample,)``
    array gains trailing axes; a plain number stays one."""
    x = np.asarray(x, dtype=float)
    return x.reshape(x.shape + (1,) * (ndim - x.ndim)) if x.ndim == 1 else x


@dataclass
class _Payments:
    """What passes between the parties, ``(sample, period)`` each [USD]."""

    spend: np.ndarray  # contract spend, at the contract prices
    spend_cash: np.ndarray  # spend less the services credit and the prepayment drawn down
    shortfall: np.ndarray  # take-or-pay shortfall
    from_provider: np.ndarray  # investments the provider pays in cash
    from_lab: np.ndarray  # investments (and prepayments) the lab pays in cash
    from_other: np.ndarray  # investments others pay the lab in cash
    credit: np.ndarray  # services credit granted
    notes: list[str]


def _payments(scn, fleet, sampled=None) -> _Payments:
    """The contract spend, what of it is paid in cash, the investments and the take-or-pay shortfall.

    Parameters
    ----------
    scn : Inputs
        Its ``deal`` (investments, commitment, take-or-pay).
    fleet : Fleet
        Its spend (:meth:`~gigawatt.fleet.buildout.Fleet.spend_usd`) and periods.
    sampled : gigawatt.uncertainty.SampledInputs, optional
        Per-sample commitment total and yearly minimum, and investment amounts [USD].

    Returns
    -------
    _Payments

    Notes
    -----
    A services credit :math:`U` is drawn down against spend first, then a
    prepayment of a share :math:`q` of the commitment offsets :math:`q` of each
    remaining invoice (:func:`_drawdown`):
    :math:`S^{cash}_t = S_t - U_t - \\min(P_t, q\\,(S_t - U_t))`, with :math:`P_t`
    the prepayment left.
    """
    spend = fleet.spend_usd().sum(axis=(2, 3))  # (sample, period)
    n_s = spend.shape[0]
    notes: list[str] = []
    total = getattr(sampled, "commitment_total_usd", None)
    from_provider, from_lab, from_other, credit, prepaid, inv_notes = _investments(
        scn, fleet, n_s, getattr(sampled, "investment_usd", None))
    notes += inv_notes
    credit_used = _drawdown(credit, spend)
    if credit.sum() - credit_used.sum() > 0.01 * credit.sum():
        notes.append(f"${(credit.sum() - credit_used.sum()) / n_s / 1e9:,.1f}B of services credit is unused "
                     "at the horizon's end")
    # a prepayment of p% of the commitment offsets p% of each invoice until it is used up
    if total is None and getattr(sampled, "investment_usd", None) is None:
        prepay_share = min(float(prepaid[0].sum()) / scn.deal.commitment.total_usd, 1.0)
    else:  # per sample
        prepay_share = np.minimum(prepaid.sum(axis=1) / (scn.deal.commitment.total_usd if total is None else total), 1.0)
    prepaid_used = _drawdown(prepaid, spend - credit_used, prepay_share)
    if prepaid.sum() - prepaid_used.sum() > 0.01 * prepaid.sum():
        notes.append(f"${(prepaid.sum() - prepaid_used.sum()) / n_s / 1e9:,.1f}B of prepayment is not yet "
                     "offset at the horizon's end")
    shortfall, sf_notes = _shortfall(scn, fleet, spend, total, getattr(sampled, "commitment_min_per_year_usd", None))
    notes += sf_notes
    return _Payments(spend=spend, spend_cash=spend - credit_used - prepaid_used, shortfall=shortfall,
                     from_provider=from_provider, from_lab=from_lab, from_other=from_other, credit=credit,
                     notes=notes)


@dataclass
class _ProviderCosts:
    """The provider's costs [USD]; ``(sample, period)`` unless marked."""

    added_capex: np.ndarray  # (sample, period, chip) chips bought
    chip_dep: np.ndarray  # (sample, period, chip) their straight-line depreciation
    dc_capex: np.ndarray  # data centers built
    dc_dep: np.ndarray  # their depreciation
    power: np.ndarray  # (sample, period, site, chip) energy bought
    opex_ops: np.ndarray  # site operations
    maintenance: np.ndarray  # (sample, period, chip) chip maintenance
    residual: np.ndarray  # book value, in the last period


def _provider_costs(fleet, costs: Costs, pue_ratio=None) -> _ProviderCosts:
    """Capex, depreciation, power, operations and maintenance, and the book value left at the horizon's end.

    Parameters
    ----------
    fleet : Fleet
        Chips added and installed, energized IT power, facility energy, periods.
    costs : Costs
        The cost inputs (:func:`resolve_costs`); under Monte Carlo some with a
        leading sample axis (:func:`_sampled_costs`).
    pue_ratio : ndarray, (sample, site), optional
        The drawn PUE over the fleet's: the facility energy scales by it [1].

    Returns
    -------
    _ProviderCosts

    Notes
    -----
    Chips and data centers depreciate straight-line over their lives
    (:func:`gigawatt.economics.tco.straight_line_depreciation_usd`); data-center
    capex is :math:`b\\,\\max(\\Delta E_{t,s}, 0)`; power is
    :math:`\\lambda\\,E^{fac}\\,p_s` (:func:`gigawatt.economics.tco.energy_cost_usd`);
    operations :math:`o\\,E_t\\,\\Delta t / \\mathrm{yr}`; maintenance
    :math:`m\\,K_t\\,\\Delta t / \\mathrm{yr}`. With ``residual: book`` the book
    value :math:`B_T = \\sum_t (\\text{capex}_t - \\text{depreciation}_t)` is
    returned in the last period.
    """
    n_s, n_t = fleet.installed.shape[:2]
    capex = np.asarray(costs.capex_per_chip_usd, dtype=float)
    capex = capex[:, None, None, :] if capex.ndim == 2 else capex  # (chip,) or (sample, 1, 1, chip)
    added_capex = (fleet.added * capex).sum(axis=2)  # (sample, period, chip)
    life = np.array([fleet.periods.periods_in(c.lifetime_months * SECONDS_PER_MONTH) for c in fleet.chips])
    chip_dep = tco.straight_line_depreciation_usd(np.moveaxis(added_capex, 1, -1), life)  # (sample, chip, period)
    chip_dep = np.moveaxis(chip_dep, -1, 1)  # (sample, period, chip)
    energized = fleet.energized_it_w  # (sample, period, site)
    new_w = np.diff(energized, axis=1, prepend=0.0).clip(min=0.0)
    dc_capex = new_w.sum(axis=2) * _lead(costs.build_cost_usd_per_w, 2)  # (sample, period)
    dc_dep = tco.straight_line_depreciation_usd(
        dc_capex, fleet.periods.periods_in(costs.datacenter_life_months * SECONDS_PER_MONTH))
    energy = fleet.energy_j() * _lead(costs.power_load_factor, 4)  # (sample, period, site, chip)
    if pue_ratio is not None:
        energy = energy * pue_ratio[:, None, :, None]
    price = np.asarray(costs.power_price_usd_per_mwh, dtype=float)
    price = price[:, None, :, None] if price.ndim == 2 else price[None, None, :, None]
    power = tco.energy_cost_usd(energy, price)  # same shape
    opex_ops = energized.sum(axis=2) * _lead(costs.opex_usd_per_w_year, 2) * fleet.period_s / SECONDS_PER_YEAR
    in_service_capex = (fleet.installed * capex).sum(axis=2)  # (sample, period, chip)
    year_share = (fleet.period_s / SECONDS_PER_YEAR)[None, :, None]  # (1, period, 1) [1]
    maintenance = in_service_capex * _lead(costs.maintenance_share_per_year, 3) * year_share
    residual = np.zeros((n_s, n_t))
    if costs.residual == "book":
        book = (np.cumsum(added_capex.sum(axis=2) + dc_capex, axis=1)
                - np.cumsum(chip_dep.sum(axis=2) + dc_dep, axis=1))
        residual[:, -1] = book[:, -1]
    return _ProviderCosts(added_capex=added_capex, chip_dep=chip_dep, dc_capex=dc_capex, dc_dep=dc_dep, power=power,
                          opex_ops=opex_ops, maintenance=maintenance, residual=residual)


def _party_lines(pay: _Payments, pc: _ProviderCosts) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Both parties' cash-flow lines (:data:`LAB_LINES`, :data:`PROVIDER_LINES`), ``(sample, period)`` [USD].

    What one party pays the other appears on both sides with opposite signs; the
    provider's costs are negative, its book value at the end positive.
    """
    lab = {
        "investment_usd": pay.from_provider + pay.from_other - pay.from_lab,
        "spend_usd": -pay.spend_cash,
        "shortfall_usd": -pay.shortfall,
    }
    provider = {
        "investment_usd": pay.from_lab - pay.from_provider,
        "spend_usd": pay.spend_cash.copy(),
        "shortfall_usd": pay.shortfall.copy(),
        "capex_chips_usd": -pc.added_capex.sum(axis=2),
        "capex_datacenter_usd": -pc.dc_capex,
        "power_usd": -pc.power.sum(axis=(2, 3)),
        "opex_usd": -(pc.opex_ops + pc.maintenance.sum(axis=2)),
        "residual_usd": pc.residual,
    }
    return lab, provider

def _tco_by_year(fleet, chip_dep, dc_dep, power, opex_ops, maintenance, sample: int = 0) -> list[dict[str, Any]]:
    """Provider's accounting cost per chip-hour by chip and year, against the contract price.

    Datacenter depreciation and site operations are shared over the chips by
    their share of installed IT power; idle energized power is carried by the
    chips installed.
    """
    years = fleet.periods.year
    hours = fleet.period_s / SECONDS_PER_HOUR
    chips = fleet.installed[sample].sum(axis=1)  # (period, chip)
    it_w = fleet.it_power_w()[sample].sum(axis=1)  # (period, chip)
    total_w = it_w.sum(axis=1, keepdims=True)
    share = np.divide(it_w, total_w, out=np.zeros_like(it_w), where=total_w > 0)
    shared = (dc_dep[sample] + opex_ops[sample])[:, None] * share
    cost = chip_dep[sample] + shared + power[sample].sum(axis=1) + maintenance[sample]  # (period, chip)
    spend = fleet.spend_usd()[sample].sum(axis=1)  # (period, chip)
    rows = []
    for year in np.unique(years):
        idx = years == year
        for j, spec in enumerate(fleet.chips):
            chip_h = float((chips[idx, j] * hours[idx]).sum())
            if chip_h <= 0:
                continue
            c = float(cost[idx, j].sum()) / chip_h
            p = float(spend[idx, j].sum()) / chip_h
            rows.append({"year": int(year), "chip": spec.chip, "chip_hours": chip_h, "cost_usd_per_chip_h": c,
                         "price_usd_per_chip_h": p, "margin_usd_per_chip_h": p - c,
                         "margin_share": (p - c) / p if p > 0 else None})
    return rows


def _market_prices(fleet, chip_h_by_chip: np.ndarray, by_chip: dict[str, Any]) -> dict[str, Any]:
    """Chip-hour-weighted list and committed catalog prices for the chips that have them (``Costs.market_prices``)."""
    out: dict[str, Any] = {"by_chip": {}}
    weights, lists, committed = [], [], []
    for j, spec in enumerate(fleet.chips):
        p = by_chip.get(spec.chip)
        if p is None:
            continue
        out["by_chip"][spec.chip] = {"list_usd_per_chip_h": p.list_usd_per_chip_h,
                                     "committed_usd_per_chip_h": p.committed_usd_per_chip_h, "source": p.source}
        if p.list_usd_per_chip_h is not None and p.committed_usd_per_chip_h is not None:
            weights.append(chip_h_by_chip[j])
            lists.append(p.list_usd_per_chip_h)
            committed.append(p.committed_usd_per_chip_h)
    w = np.array(weights, dtype=float)
    total = float(chip_h_by_chip.sum())
    out["coverage_share"] = float(w.sum() / total) if total > 0 else 0.0
    out["list_usd_per_chip_h"] = float(np.dot(w, lists) / w.sum()) if w.sum() > 0 else None
    out["committed_usd_per_chip_h"] = float(np.dot(w, committed) / w.sum()) if w.sum() > 0 else None
    return out


def _summary(scn, fleet, ledger: Ledger, pay: _Payments, pc: _ProviderCosts, sample: int = 0) -> dict[str, Any]:
    """One sample's ledger summary: both parties' NPV, the implied and contract prices, market prices, flows.

    Parameters
    ----------
    scn : Inputs
        Its ``deal`` (commitment, capacity cap).
    fleet : Fleet
    ledger : Ledger
        Its lines, costs and period years.
    pay : _Payments
    pc : _ProviderCosts
    sample : int

    Returns
    -------
    dict
        ``lab``, ``provider`` (:func:`_party_summary`, with the provider's break-even
        utilization and cost per chip-hour and per MW-year), the implied and
        contract prices (:func:`_term_prices`), ``market`` (:func:`_market_prices`),
        the commitment and ``flows`` (:func:`_investment_flows`) [USD, 1].
    """
    def _f(x):
        return None if x is None or not np.isfinite(x) else float(x)

    term = _term_prices(scn, fleet, pay.spend, sample)
    market = _market_prices(fleet, term["chip_h_by_chip"], ledger.costs.market_prices)
    lab, provider = _party_summary(ledger, sample)
    breakeven = _f(float(_breakeven_utilization(ledger, pay.spend, sample)))
    if breakeven is not None and breakeven > 1.0:
        # no utilization up to 100% pays the provider's costs back at these prices
        provider["breakeven_utilization"] = None
        provider["breakeven_note"] = "never at these prices"
    else:
        provider["breakeven_utilization"] = breakeven
    provider.update(_provider_unit_costs(fleet, pc, sample))
    return {
        "lab": lab,
        "provider": provider,
        "implied_usd_per_chip_hour": _f(term["implied_usd_per_chip_hour"]),
        "implied_usd_per_mw_year": _f(term["implied_usd_per_mw_year"]),
        "contract_usd_per_chip_hour": _f(term["contract_usd_per_chip_hour"]),
        "contract_usd_per_mw_year": _f(term["contract_usd_per_mw_year"]),
        "market": {
            "list_usd_per_chip_hour": market["list_usd_per_chip_h"],
            "committed_usd_per_chip_hour": market["committed_usd_per_chip_h"],
            "chip_hour_share_with_catalog_price": market["coverage_share"],
            "by_chip": market["by_chip"],
            "epoch_tco_usd_per_mw_year": _epoch_tco() * 1e6,
        },
        "commitment_usd": float(scn.deal.commitment.total_usd),
        "spend_in_term_usd": term["spend_usd"],
        "capacity_cap_share_paid_by_commitment": _f(term["capacity_cap_share"]),
        "flows": _investment_flows(fleet, ledger, pay, sample),
    }


def _party_summary(ledger: Ledger, sample: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Each party's NPV at its own discount rate, its IRR (the provider's) and its total net flow [USD].

    Notes
    -----
    .. math:: \\mathrm{NPV} = \\sum_t F_t\\,(1 + r)^{-y_t}

    with :math:`y_t` the years from the first period to period :math:`t`. The
    lab's IRR is None: its return is what it earns with the compute, which the
    ledger does not value.
    """
    costs, t_years = ledger.costs, ledger.period_years
    lab_net = ledger.net_usd("lab")[sample]
    prov_net = ledger.net_usd("provider")[sample]
    lab = {
        "npv_usd": float(finance.npv_usd(lab_net, costs.discount_lab, t_years)),
        "irr": None,
        "discount_rate": costs.discount_lab,
        "total_usd": float(lab_net.sum()),
    }
    provider = {
        "npv_usd": float(finance.npv_usd(prov_net, costs.discount_provider, t_years)),
        "irr": finance.irr(prov_net, t_years),
        "discount_rate": costs.discount_provider,
        "total_usd": float(prov_net.sum()),
    }
    return lab, provider


def _term_prices(scn, fleet, spend: np.ndarray, sample: int) -> dict[str, Any]:
    """What the commitment and the contract spend pay per chip-hour and per MW-year of IT over the term.

    Parameters
    ----------
    scn : Inputs
        Its commitment (total [USD], term [s]) and capacity cap [W].
    fleet : Fleet
    spend : ndarray, (sample, period)
        Contract spend [USD].
    sample : int

    Returns
    -------
    dict
        ``chip_h_by_chip`` (chip-hours in the term per chip [h]), ``spend_usd``
        (in the term), ``implied_usd_per_chip_hour``, ``implied_usd_per_mw_year``
        (None where the term's spend exceeds the commitment: the commitment is then
        a floor, not a price), ``contract_usd_per_chip_hour``,
        ``contract_usd_per_mw_year`` (nan where nothing was installed) and
        ``capacity_cap_share`` (None without a cap).

    Notes
    -----
    With :math:`C` the commitment, :math:`H` the chip-hours and :math:`M` the
    IT MW-years installed in the term, :math:`S` the spend in the term:
    implied :math:`C / H` and :math:`C / M`, contract :math:`S / H` and
    :math:`S / M`; the share of the cap :math:`K` [W] the commitment pays for
    over a term of :math:`T` years is :math:`C / (K / 10^6 \\cdot T \\cdot S / M)`.
    """
    term = fleet.in_commitment
    hours = fleet.period_s / SECONDS_PER_HOUR
    chips = fleet.installed[sample].sum(axis=1)  # (period, chip)
    chip_h_term_by_chip = (chips[term] * hours[term, None]).sum(axis=0)
    chip_h_term = float(chip_h_term_by_chip.sum())
    it_w = fleet.it_power_w()[sample].sum(axis=(1, 2))
    it_ws_term = float((it_w[term] * fleet.period_s[term]).sum())
    spend_term = float(spend[sample, term].sum())
    commitment = scn.deal.commitment.total_usd
    mw_years_term = it_ws_term / (1e6 * SECONDS_PER_YEAR)
    contract_mw_year = spend_term / mw_years_term if mw_years_term > 0 else float("nan")
    # how much of the capacity cap the commitment pays for over its term, at the run's prices
    cap_w = scn.deal.capacity_cap_w
    term_years = scn.deal.commitment.term_s / SECONDS_PER_YEAR
    cap_share = None
    if cap_w and mw_years_term > 0:
        cap_share = commitment / (cap_w / 1e6 * term_years * contract_mw_year)
    # where the term's spend exceeds the commitment, the commitment is a floor under it, not a price
    priced = spend_term <= commitment * (1 + 1e-9)
    return {
        "chip_h_by_chip": chip_h_term_by_chip,
        "spend_usd": spend_term,
        "implied_usd_per_chip_hour": buyer.implied_usd_per_chip_hour(commitment, chip_h_term) if priced else None,
        "implied_usd_per_mw_year": buyer.implied_usd_per_gw_year(commitment, it_ws_term) / 1e3 if priced else None,
        "contract_usd_per_chip_hour": spend_term / chip_h_term if chip_h_term > 0 else float("nan"),
        "contract_usd_per_mw_year": contract_mw_year,
        "capacity_cap_share": cap_share,
    }


def _provider_unit_costs(fleet, pc: _ProviderCosts, sample: int) -> dict[str, float | None]:
    """The provider's accounting cost over the whole horizon per chip-hour and per MW-year of IT installed.

    Notes
    -----
    Cost is depreciation (chips and data centers), power, operations and
    maintenance: :math:`c = \\sum_t (D_t + P_t + O_t + M_t)`, divided by the
    chip-hours :math:`\\sum_t n_t\\,\\Delta t` or the IT MW-years installed.
    """
    hours = fleet.period_s / SECONDS_PER_HOUR
    chips = fleet.installed[sample].sum(axis=1)  # (period, chip)
    it_w = fleet.it_power_w()[sample].sum(axis=(1, 2))
    chip_h_all = float((chips * hours[:, None]).sum())
    mw_years_all = float((it_w * fleet.period_s).sum()) / (1e6 * SECONDS_PER_YEAR)
    cost_all = float(pc.chip_dep[sample].sum() + pc.dc_dep[sample].sum() + pc.power[sample].sum()
                     + pc.opex_ops[sample].sum() + pc.maintenance[sample].sum())
    return {
        "cost_usd_per_chip_hour": cost_all / chip_h_all if chip_h_all > 0 else None,
        "cost_usd_per_mw_year": cost_all / mw_years_all if mw_years_all > 0 else None,
    }


def _breakeven_utilization(ledger: Ledger, spend: np.ndarray, sample: int) -> float:
    """The utilization at which the provider's present values break even, at its discount rate [1].

    Notes
    -----
    Fixed costs (chips, data centers, operations, less the book value) against
    revenue at full use less power (:func:`gigawatt.economics.tco.breakeven_utilization`),
    each a present value at the provider's rate.
    """
    r = ledger.costs.discount_provider
    pv = lambda x: finance.npv_usd(x, r, ledger.period_years)  # noqa: E731
    p = ledger.provider
    fixed = -pv(p["capex_chips_usd"][sample] + p["capex_datacenter_usd"][sample] + p["opex_usd"][sample]
                + p["residual_usd"][sample])
    return tco.breakeven_utilization(fixed, pv(spend[sample]), -pv(p["power_usd"][sample]))


def _investment_flows(fleet, ledger: Ledger, pay: _Payments, sample: int) -> dict[str, Any]:
    """How the provider's investment comes back as cloud revenue.

    Returns
    -------
    dict
        ``investment_usd`` (cash and services credit [USD]), ``lab_paid_provider_usd``
        (spend in cash and shortfall [USD]), ``investment_returned_by`` (the first
        month when cumulative payments reach cumulative investment, once all of it
        is in; None if never) and ``revenue_per_investment_dollar`` [1].
    """
    invested = float(pay.from_provider[sample].sum() + pay.credit[sample].sum())
    paid = np.cumsum(ledger.provider["spend_usd"][sample] + ledger.provider["shortfall_usd"][sample])
    cum_inv = np.cumsum(pay.from_provider[sample] + pay.credit[sample])
    back = np.nonzero((paid >= cum_inv) & (cum_inv >= invested - 1.0) & (invested > 0))[0]
    return {
        "investment_usd": invested,
        "lab_paid_provider_usd": float(paid[-1]),
        "investment_returned_by": fleet.months[int(back[0])] if back.size else None,
        "revenue_per_investment_dollar": float(paid[-1]) / invested if invested > 0 else None,
    }

def _epoch_tco() -> float:
    from gigawatt.economics.defaults import cost_defaults

    return cost_defaults()["epoch_tco_usd_per_w_year"]


def cost_and_price_by_chip(tco_by_year: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    r"""The provider's cost and the contract price per chip-hour of each chip over the horizon.

    Parameters
    ----------
    tco_by_year : list of dict
        ``Ledger.tco_by_year``: rows with ``chip``, ``chip_hours``,
        ``cost_usd_per_chip_h`` and ``price_usd_per_chip_h``.

    Returns
    -------
    dict
        ``{chip: {"chip_hours", "cost_usd_per_chip_h", "price_usd_per_chip_h"}}``
        for chips with chip-hours.

    Notes
    -----
    Each figure is the chip-hour-weighted mean of the yearly ones:
    :math:`\bar c = \sum_y c_y h_y / \sum_y h_y`.

    Examples
    --------
    >>> rows = [{"chip": "a", "chip_hours": 1.0, "cost_usd_per_chip_h": 1.0, "price_usd_per_chip_h": 2.0},
    ...         {"chip": "a", "chip_hours": 3.0, "cost_usd_per_chip_h": 2.0, "price_usd_per_chip_h": 2.0}]
    >>> cost_and_price_by_chip(rows)["a"]["cost_usd_per_chip_h"]
    1.75
    """
    acc: dict[str, list[float]] = {}
    for r in tco_by_year:
        a = acc.setdefault(r["chip"], [0.0, 0.0, 0.0])
        a[0] += r["chip_hours"]
        a[1] += r["cost_usd_per_chip_h"] * r["chip_hours"]
        a[2] += r["price_usd_per_chip_h"] * r["chip_hours"]
    return {chip: {"chip_hours": a[0], "cost_usd_per_chip_h": a[1] / a[0], "price_usd_per_chip_h": a[2] / a[0]}
            for chip, a in acc.items() if a[0] > 0}


def ledger_json(scn, fleet, discount: float | None = None, detail: bool = True,
                ledger: Ledger | None = None, sample: int = 0) -> dict[str, Any]:
    """The ledger's summary as plain JSON-ready values (SI; None where undefined).

    Parameters
    ----------
    scn : Scenario
    fleet : Fleet
    discount : float, optional
        One annual rate for both parties [1/year].
    detail : bool
        Add the yearly lines of both parties, the provider's cost by chip and
        year, the source of each cost input, and notes.
    ledger : Ledger, optional
        One already built by :func:`build_ledger` for the same inputs.
    sample : int
        Which sample's summary (the yearly lines are sample 0's).

    Returns
    -------
    dict
        ``{"lab": {"npv_usd", "irr", ...}, "provider": {"npv_usd", "irr", ...},
        "implied_usd_per_chip_hour", "implied_usd_per_mw_year", ...,
        "years": {"lab": [...], "provider": [...]}, "tco_by_year": [...], "notes": [...]}``
    """
    ledger = ledger if ledger is not None else build_ledger(scn, fleet, discount)
    out = dict(ledger.sample_summaries[sample] if ledger.sample_summaries else ledger.summary)
    if not detail:
        return out
    out["years"] = {"lab": ledger.yearly("lab"), "provider": ledger.yearly("provider")}
    out["tco_by_year"] = ledger.tco_by_year
    out["tco_by_chip"] = cost_and_price_by_chip(ledger.tco_by_year)
    out["cost_sources"] = ledger.costs.sources
    out["notes"] = ledger.notes
    return out
