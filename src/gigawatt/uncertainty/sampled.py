"""Drawn values laid onto the resolved inputs: arrays with a leading sample axis (:class:`SampledInputs`) that
the buildout, the simulation and the ledger read in place of the scenario's one value."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["SampledInputs", "sampled_inputs"]


@dataclass
class SampledInputs:
    """The inputs that differ between samples; None where all samples share the resolved value.

    Attributes
    ----------
    energized_it_w : ndarray, (sample, period, site) [W]
    supply_in_year : ndarray, (sample, period, chip) [1]
    from_month : ndarray, (sample, chip) month index of each generation's first month
    price_usd_per_chip_h : ndarray, (sample, period, chip) [USD/h]
    spend_limit_usd_per_year : ndarray, (sample,) [USD/year]
    capacity_cap_w : ndarray, (sample,) [W]
    demand_scale : ndarray, (sample, period, stream) inference demand over the scenario's [1]
    throughput_factor : ndarray, (sample, chip) throughput over the performance model's [1]
    pue : ndarray, (sample, site) each site's PUE [1]; the ledger scales the facility energy by it over the
        resolved PUE (a facility-basis site's IT power is already in ``energized_it_w``)
    costs : dict of str to ndarray
        Per-sample values of the ledger's cost inputs, by :class:`gigawatt.economics.ledger.Costs` field:
        ``discount_lab``, ``discount_provider`` (sample,) [1/year]; ``power_price_usd_per_mwh``
        (sample, site) [USD/MWh]; ``capex_per_chip_usd`` (sample, chip) [USD];
        ``build_cost_usd_per_w`` [USD/W], ``opex_usd_per_w_year`` [USD/(W year)],
        ``maintenance_share_per_year`` [1/year], ``power_load_factor`` [1], each (sample,)
    commitment_total_usd : ndarray, (sample,) [USD]
    commitment_min_per_year_usd : ndarray, (sample,) [USD/year]
    investment_usd : ndarray, (sample, investment) each investment's amount [USD]
    """

    n: int
    energized_it_w: np.ndarray | None = None
    supply_in_year: np.ndarray | None = None
    from_month: np.ndarray | None = None
    price_usd_per_chip_h: np.ndarray | None = None
    spend_limit_usd_per_year: np.ndarray | None = None
    capacity_cap_w: np.ndarray | None = None
    demand_scale: np.ndarray | None = None
    throughput_factor: np.ndarray | None = None
    pue: np.ndarray | None = None
    costs: dict = field(default_factory=dict)
    commitment_total_usd: np.ndarray | None = None
    commitment_min_per_year_usd: np.ndarray | None = None
    investment_usd: np.ndarray | None = None


def _chip_index(inputs, name: str) -> int:
    from gigawatt import catalog

    chip = catalog.resolve("chips", name)
    return inputs.chip_ids.index(chip)


def sampled_inputs(inputs, uncertainty, values: np.ndarray) -> SampledInputs:
    """Lay drawn values onto the resolved inputs as arrays with a sample axis.

    Parameters
    ----------
    inputs : Inputs
        Resolved at the inputs' base values.
    uncertainty : Uncertainty
    values : ndarray, (sample, input)
        From :func:`draw` [SI].

    Returns
    -------
    SampledInputs

    Notes
    -----
    Each input moves what it sets, from its base value :math:`b` to the draw
    :math:`x`: a chip's price and its decline give its price series as
    :func:`gigawatt.scenario.inputs.contract_prices` does; an energized point adds :math:`(x - b)` times its weight in the ramp's
    interpolation; a supply cap scales the chip's yearly supply by :math:`x/b`;
    a generation's first month moves its roadmap window and re-prorates its
    supply; a stream's level scales its demand by :math:`x/b`, its growth by
    :math:`(x/b)^{Y(t)}`, :math:`Y(t)` the years spent in that growth segment by
    period :math:`t`; a throughput factor multiplies the chip's training and
    inference rates.

    The ledger's inputs are drawn as they are: a site's PUE scales its
    facility energy by :math:`x/b` and, where its power is given as facility
    power (``basis: facility``), divides its energized IT power by
    :math:`x/b`; a commitment's total or yearly minimum, an investment's
    amount, a discount rate, a power price (the default one for every site
    without its own), a build, capex, operations or maintenance cost and the
    load factor replace the resolved value sample by sample (shares clipped to
    [0, 1], a PUE to at least 1).
    """
    from gigawatt import power as pw
    from gigawatt.scenario.distributions import ANY
    from gigawatt.scenario.inputs import supply_in_year
    from gigawatt.units import month_index

    n = values.shape[0]
    scn = inputs.scenario
    periods = inputs.periods
    out = SampledInputs(n=n)
    n_t, n_c = inputs.price_usd_per_chip_h.shape

    def price():
        if out.price_usd_per_chip_h is None:
            out.price_usd_per_chip_h = np.repeat(inputs.price_usd_per_chip_h[None], n, axis=0)
        return out.price_usd_per_chip_h

    def demand():
        if out.demand_scale is None:
            n_w = len(scn.demand.inference)
            out.demand_scale = np.ones((n, n_t, n_w))
        return out.demand_scale

    prices: dict[str, dict[str, np.ndarray]] = {}  # chip name -> drawn "price" and "decline"
    for k, u in enumerate(uncertainty.inputs):
        x, b, s = values[:, k], u.base, u.steps
        pat = u.pattern
        if pat in ("prices.*", "prices.*.price"):
            prices.setdefault(s[1], {})["price"] = x
        elif pat == "prices.*.decline":
            prices.setdefault(s[1], {})["decline"] = x
        elif pat == "deal.spend_limit.per_year":
            out.spend_limit_usd_per_year = x.copy()
        elif pat == "deal.capacity_cap":
            out.capacity_cap_w = x.copy()
        elif pat == "roadmap[*].from":
            j = s[1]
            if out.from_month is None:
                out.from_month = np.repeat(np.array([[month_index(c.from_month) for c in inputs.chips]]), n, axis=0)
            out.from_month[:, j] = x.astype(int)
            if out.supply_in_year is None:
                out.supply_in_year = np.repeat(np.asarray(inputs.supply_in_year, dtype=float)[None], n, axis=0)
            for m in np.unique(out.from_month[:, j]):
                moved = _replace(inputs.chips[j], from_month=_label(int(m)))
                out.supply_in_year[out.from_month[:, j] == m, :, j] = supply_in_year(scn, periods, [moved])[:, 0]
        elif pat == "roadmap[*].supply_per_year":
            j = s[1]
            if out.supply_in_year is None:
                out.supply_in_year = np.repeat(np.asarray(inputs.supply_in_year, dtype=float)[None], n, axis=0)
            out.supply_in_year[:, :, j] *= (x / b)[:, None]
        elif pat == "sites[*].energized.*":
            i = s[1]
            site = scn.sites[i]
            pts = list(site.energized_w.items())
            key = list(site.energized_w)[[str(m) for m, _ in pts].index(_month_key(s[3], site))]
            weight = pw.energized_power_w(periods.month_pos, [month_index(m) for m, _ in pts],
                                          [1.0 if m == key else 0.0 for m, _ in pts], site.ramp)
            if getattr(site, "energized_basis", "it") == "facility":
                weight = weight / site.pue
            if out.energized_it_w is None:
                out.energized_it_w = np.repeat(inputs.energized_it_w[None], n, axis=0)
            out.energized_it_w[:, :, i] += (x - b)[:, None] * weight[None, :]
            np.maximum(out.energized_it_w, 0.0, out=out.energized_it_w)
        elif pat in ("demand.inference[*].tokens_per_day", "demand.inference[*].agentic.tasks_per_day"):
            stream = scn.demand.inference[s[2]]
            if stream.tokens_per_day is not None and stream.agentic is not None:
                raise ValueError(f"{u.path}: a stream with both tokens_per_day and agentic tasks cannot be "
                                 "scaled by one of them; give the range on a stream with one")
            demand()[:, :, s[2]] *= (x / b)[:, None]
        elif pat in ("demand.inference[*].growth", "demand.inference[*].growth.*"):
            demand()[:, :, s[2]] *= (x / b)[:, None] ** _growth_years(inputs, s)[None, :]
        elif pat == "sites[*].pue":
            if out.pue is None:
                out.pue = np.repeat(np.asarray(inputs.pue, dtype=float)[None], n, axis=0)
            out.pue[:, s[1]] = np.maximum(x, 1.0)
        elif pat in _LEDGER:
            _ledger_input(inputs, out, pat, s, np.asarray(x, dtype=float))
        elif pat == ANY:  # any other number: written into the scenario of each sample (_run_each)
            continue
        elif pat == "uncertainty.throughput.*":
            if out.throughput_factor is None:
                out.throughput_factor = np.ones((n, n_c))
            for j, chip in enumerate(inputs.chip_ids):
                if chip == s[2] or chip.startswith(s[2]):
                    out.throughput_factor[:, j] *= x
        else:  # pragma: no cover - the loader admits only the patterns above
            raise ValueError(f"{u.path}: no sampler for {pat}")
    if out.pue is not None:  # a site given as facility power has IT power F / PUE: scale by the base over the draw
        facility = [i for i, site in enumerate(scn.sites) if getattr(site, "energized_basis", "it") == "facility"]
        if facility:
            if out.energized_it_w is None:
                out.energized_it_w = np.repeat(inputs.energized_it_w[None], n, axis=0)
            ratio = np.asarray(inputs.pue, dtype=float)[None, facility] / out.pue[:, facility]
            out.energized_it_w[:, :, facility] *= ratio[:, None, :]
    from gigawatt.economics import buyer

    for name, drawn in prices.items():  # the price series as resolve makes it, from each sample's values
        spec = scn.prices[name]
        years = (periods.month_pos - month_index(spec.from_month or scn.horizon.start)) / 12.0
        base = drawn.get("price", np.full(n, spec.price_usd_per_chip_h))
        factor = drawn.get("decline", np.full(n, spec.decline_factor_per_year))
        price()[:, :, _chip_index(inputs, name)] = buyer.price_usd_per_chip_h(base[:, None], factor[:, None],
                                                                               years[None, :])
    return out


#: the ledger's uncertain inputs: pattern -> the Costs field or SampledInputs attribute it sets
_LEDGER = {
    "deal.commitment.total": "commitment_total_usd",
    "deal.commitment.min_per_year": "commitment_min_per_year_usd",
    "deal.investments[*].amount": "investment_usd",
    "economics.discount": "discount",
    "economics.discount.lab": "discount_lab",
    "economics.discount.provider": "discount_provider",
    "economics.power_price.default": "power_price_usd_per_mwh",
    "economics.power_price.sites.*": "power_price_usd_per_mwh",
    "economics.build_cost": "build_cost_usd_per_w",
    "economics.it_capex_per_w": "capex_per_chip_usd",
    "economics.capex_per_chip.*": "capex_per_chip_usd",
    "economics.opex_per_mw_year": "opex_usd_per_w_year",
    "economics.maintenance_share": "maintenance_share_per_year",
    "economics.load_factor": "power_load_factor",
}


def _ledger_input(inputs, out: SampledInputs, pat: str, steps: tuple, x: np.ndarray) -> None:
    """Lay one drawn ledger input ``x`` (sample,) [SI] onto ``out``."""
    n = x.shape[0]
    costs = inputs.costs
    name = _LEDGER[pat]
    if pat == "deal.commitment.total":
        out.commitment_total_usd = x.copy()
    elif pat == "deal.commitment.min_per_year":
        out.commitment_min_per_year_usd = x.copy()
    elif pat == "deal.investments[*].amount":
        if out.investment_usd is None:
            amounts = [inv.amount_usd for inv in inputs.scenario.deal.investments]
            out.investment_usd = np.repeat(np.asarray(amounts, dtype=float)[None], n, axis=0)
        out.investment_usd[:, steps[2]] = x
    elif pat == "economics.discount":  # one rate for both parties
        out.costs["discount_lab"] = x.copy()
        out.costs["discount_provider"] = x.copy()
    elif name == "power_price_usd_per_mwh":
        if name not in out.costs:
            out.costs[name] = np.repeat(np.asarray(costs.power_price_usd_per_mwh, dtype=float)[None], n, axis=0)
        own = inputs.scenario.economics.power_price.sites
        if pat == "economics.power_price.default":  # every site without a price of its own
            idx = [i for i, site in enumerate(inputs.sites) if site not in own]
        else:
            idx = [list(inputs.sites).index(steps[3])]
        out.costs[name][:, idx] = x[:, None]
    elif name == "capex_per_chip_usd":
        if name not in out.costs:
            out.costs[name] = np.repeat(np.asarray(costs.capex_per_chip_usd, dtype=float)[None], n, axis=0)
        if pat == "economics.capex_per_chip.*":
            out.costs[name][:, _chip_index(inputs, steps[2])] = x
        else:  # the chips whose capex scales with their IT watts (no figure of their own)
            for j, spec in enumerate(inputs.chips):
                if costs.sources.get(f"capex_{spec.chip}", "").startswith("it_capex_usd_per_w"):
                    out.costs[name][:, j] = x * spec.it_w_per_chip
    elif name in ("maintenance_share_per_year", "power_load_factor"):
        out.costs[name] = np.clip(x, 0.0, 1.0)
    else:
        out.costs[name] = x.copy()


def _replace(chip, **changes):
    import dataclasses

    return dataclasses.replace(chip, **changes)


def _label(index: int) -> str:
    from gigawatt.units import month_label

    return month_label(index)


def _month_key(key, site) -> str:
    from gigawatt.units import parse_month

    return parse_month(key)


def _growth_years(inputs, steps) -> np.ndarray:
    """``(period,)`` years a stream has grown at the rate the path names, by each period [year].

    For one rate from the stream's start, the years since it (negative before);
    for a segment of a piecewise growth, the years spent in that segment so far.
    """
    from gigawatt.fleet.demand import growth_factor
    from gigawatt.units import month_index, parse_month

    stream = inputs.scenario.demand.inference[steps[2]]
    months = inputs.periods.month_pos
    at = month_index(stream.at)
    growth = stream.growth
    if not isinstance(growth, dict):
        return (months - at) / 12.0
    key = parse_month(steps[4])
    bumped = {m: (g * math.e if parse_month(m) == key else g) for m, g in growth.items()}
    return np.log(growth_factor(months, at, bumped) / growth_factor(months, at, growth))
