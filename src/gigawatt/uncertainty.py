"""Monte Carlo over a scenario's uncertain inputs, in one vectorized pass along the ``sample`` axis.

A scenario's distributions (:mod:`gigawatt.scenario.distributions`) are drawn
together by Latin hypercube or scrambled Sobol sampling
(:mod:`scipy.stats.qmc`), given their rank correlations by the Iman-Conover
method, and laid onto the resolved :class:`~gigawatt.scenario.inputs.Inputs` as
arrays with a leading sample axis (:class:`SampledInputs`). The buildout, the
simulation and the ledger then run once on the wide arrays; samples are taken
in chunks so that memory stays bounded, and each chunk is reduced at once to
per-sample figures (:class:`MonteCarlo`): yearly series, the constraint that
binds each year, both parties' NPV, the training runs' finishes.

The same seed gives the same draws and the same results, bit for bit.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

__all__ = ["SampledInputs", "MonteCarlo", "draw", "sampled_inputs", "monte_carlo", "SAMPLERS", "CONSTRAINTS",
           "QUANTILES", "iman_conover", "chunk_size"]

SAMPLERS = ("lhs", "sobol")
#: most samples the engine holds at once (fewer where they would be past the run size limit,
#: :func:`chunk_size`): memory grows with it, speed little beyond it
CHUNK = 1000


def chunk_size(scn, most: int = CHUNK) -> int:
    """Samples of ``scn`` a Monte Carlo holds at once: ``most``, or fewer where a chunk that size would be past
    :data:`gigawatt.scenario.limits.MAX_RUN_CELLS` (at least 1)."""
    from gigawatt.scenario.limits import MAX_RUN_CELLS, run_cells

    return int(max(1, min(most, MAX_RUN_CELLS // max(run_cells(scn, 1), 1))))
#: the quantiles bands report
QUANTILES = (0.10, 0.25, 0.50, 0.75, 0.90)
#: per-sample dates that are NaN where they never come within the horizon (quantiles count them as latest)
NEVER = ("commitment_first_binds_year",)
#: what may bind in a year, as the yearly table names them
CONSTRAINTS = ("power", "supply", "commitment", "spend_limit", "cap", "demand")


def iman_conover(u: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Reorder each column of ``u`` so that its rank correlation approaches ``target``, keeping each column's values.

    Parameters
    ----------
    u : ndarray, (sample, input)
        Draws in (0, 1) [1].
    target : ndarray, (input, input)
        Rank (Spearman) correlation wanted [1].

    Returns
    -------
    ndarray, (sample, input)

    Notes
    -----
    Normal scores :math:`Z = \\Phi^{-1}(u)` with correlation :math:`E = Q Q^T`
    are turned into :math:`T = Z Q^{-T} P^T`, :math:`P P^T = C` the Pearson
    matrix of the target, :math:`C_{ij} = 2 \\sin(\\pi \\rho_{ij} / 6)`; each
    column of ``u`` is then sorted into the rank order of :math:`T`'s column.
    The marginals (and the Latin hypercube's strata) are kept exactly.

    References
    ----------
    .. [1] R. L. Iman, W. J. Conover, "A distribution-free approach to inducing rank
       correlation among input variables", Communications in Statistics B 11(3), 1982.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> u = rng.random((4000, 2))
    >>> v = iman_conover(u, np.array([[1.0, 0.7], [0.7, 1.0]]))
    >>> from scipy.stats import spearmanr
    >>> round(float(spearmanr(v[:, 0], v[:, 1])[0]), 1)
    0.7
    """
    from scipy import stats

    n, d = u.shape
    if d < 2 or n < 3 or np.allclose(target, np.eye(d)):
        return u
    pearson = 2.0 * np.sin(np.pi * np.asarray(target) / 6.0)
    np.fill_diagonal(pearson, 1.0)
    z = stats.norm.ppf((stats.rankdata(u, axis=0) - 0.5) / n)
    p = np.linalg.cholesky(pearson)
    try:  # take out the scores' own chance correlation first (needs more samples than inputs)
        q_inv = np.linalg.inv(np.linalg.cholesky(np.corrcoef(z, rowvar=False))).T
    except np.linalg.LinAlgError:
        q_inv = np.eye(d)
    t = z @ q_inv @ p.T
    out = np.empty_like(u)
    for j in range(d):
        out[np.argsort(t[:, j], kind="stable"), j] = np.sort(u[:, j])
    return out


def draw(uncertainty, n: int, seed: int, sampler: str = "lhs") -> np.ndarray:
    """``(sample, input)`` values of a scenario's uncertain inputs [SI].

    Parameters
    ----------
    uncertainty : gigawatt.scenario.distributions.Uncertainty
    n : int
        Samples.
    seed : int
        Seeds the sampler; the same seed gives the same draws.
    sampler : {"lhs", "sobol"}
        Latin hypercube (:class:`scipy.stats.qmc.LatinHypercube`) or scrambled
        Sobol (:class:`scipy.stats.qmc.Sobol`).
    """
    import warnings

    from scipy.stats import qmc

    d = len(uncertainty.inputs)
    rng = np.random.default_rng(seed)
    if sampler == "sobol":
        engine = qmc.Sobol(d, scramble=True, seed=rng)
        with warnings.catch_warnings():  # balance needs a power of two; other sizes are still valid draws
            warnings.simplefilter("ignore", UserWarning)
            u = engine.random(n)
    elif sampler == "lhs":
        u = qmc.LatinHypercube(d, seed=rng).random(n)
    else:
        raise ValueError(f"sampler {sampler!r}: use one of {', '.join(SAMPLERS)}")
    u = np.clip(u, 1e-12, 1 - 1e-12)
    u = iman_conover(u, uncertainty.rank_matrix())
    return np.column_stack([inp.ppf(u[:, k]) for k, inp in enumerate(uncertainty.inputs)])


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


@dataclass
class MonteCarlo:
    """Per-sample figures of a Monte Carlo run, and their quantiles.

    Attributes
    ----------
    names : list of str
        The uncertain inputs' paths.
    values : ndarray, (sample, input)
        Their draws [SI].
    years : ndarray, (year,)
    yearly : dict of str to ndarray (sample, year)
        ``it_power_w`` (at the year's end) [W], ``spend_usd`` and
        ``cumulative_spend_usd`` [USD], ``inference_served_share`` [1],
        ``lab_cash_flow_usd`` and ``provider_cash_flow_usd`` and their
        ``cumulative_`` sums [USD].
    binding : ndarray of str, (sample, year)
        The buildout's binding label of each year (most months).
    binds : dict of str to ndarray of bool (sample, year)
        Whether each of :data:`CONSTRAINTS` binds in the year.
    scalars : dict of str to ndarray (sample,)
        ``lab_npv_usd``, ``provider_npv_usd``, ``inference_served_share``,
        ``spend_usd``, ``commitment_first_binds_year`` (nan: never),
        ``runs_on_time`` and ``runs_finished`` [1], and
        ``finish_<run>`` (months after the horizon's start, nan: not finished).
    """

    names: list
    values: np.ndarray
    years: np.ndarray
    yearly: dict
    binding: np.ndarray
    binds: dict
    scalars: dict
    sampler: str = "lhs"
    seed: int = 0
    timings_s: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        return int(self.values.shape[0])

    def binding_probability(self) -> dict[str, list[float]]:
        """Per constraint, the share of samples in which it binds, per year [1]."""
        return {c: self.binds[c].mean(axis=0).tolist() for c in CONSTRAINTS}

    def quantiles(self, qs=QUANTILES) -> dict:
        """``{"scalars": {name: {"p10": ...}}, "yearly": {name: {"p10": [per year]}}}``, NaN where undefined.

        A date that may never come (``commitment_first_binds_year``, a run's ``finish_``) counts as later
        than any date: where a quantile falls among the samples in which it never comes, it is NaN
        ("never"); the other figures leave out the samples where they are undefined.
        """
        def q(a, axis=0, never=False):
            a = np.asarray(a, dtype=float)
            if never:
                a = np.where(np.isnan(a), np.inf, a)
            with np.errstate(all="ignore"), _quiet():
                out = {f"p{round(p * 100)}": np.nanquantile(a, p, axis=axis) for p in qs}
            return {k: np.where(np.isinf(v), np.nan, v) for k, v in out.items()} if never else out

        return {"scalars": {k: {p: float(v) for p, v in q(a, never=k in NEVER or k.startswith("finish_")).items()}
                            for k, a in self.scalars.items()},
                "yearly": {k: {p: v.tolist() for p, v in q(a).items()} for k, a in self.yearly.items()}}

    def summary(self) -> dict:
        """The ``uncertainty`` block of a run's summary (SI units)."""
        qs = self.quantiles()
        return {
            "n": self.n, "sampler": self.sampler, "seed": self.seed,
            "inputs": self.names,
            "years": [int(y) for y in self.years],
            "scalars": qs["scalars"], "yearly": qs["yearly"],
            "binding_probability": self.binding_probability(),
            "timings_s": dict(self.timings_s),
        }

    def samples_frame(self):
        """One row per sample (pandas): the inputs drawn and the per-sample scalars [SI]."""
        import pandas as pd

        cols = {"sample": np.arange(self.n)}
        cols.update({f"input:{name}": self.values[:, k] for k, name in enumerate(self.names)})
        cols.update(self.scalars)
        return pd.DataFrame(cols)


class _quiet:
    def __enter__(self):
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        self._w.__exit__(*exc)


def monte_carlo(scn, n: int, *, seed: int | None = None, sampler: str = "lhs", chunk: int | None = None,
                progress: Callable[[str, int, int], None] | None = None, values: np.ndarray | None = None,
                inputs=None, jobs: int = 1) -> MonteCarlo:
    """Run a scenario over ``n`` draws of its uncertain inputs, ``chunk`` samples at a time.

    Parameters
    ----------
    scn : Scenario
        With distributions (:attr:`Scenario.uncertain`).
    n : int
        Samples.
    seed : int, optional
        Default the scenario's; seeds the draws and the failures.
    sampler : {"lhs", "sobol"}
    chunk : int, optional
        Samples run at once (memory grows with it); default :func:`chunk_size`. Chunk ``k`` draws its
        failures from ``numpy.random.default_rng([seed, k])``, so results
        depend on the seed and the chunk size, not on ``jobs``.
    progress : callable, optional
        ``progress("samples", done, n)``.
    values : ndarray, (n, input), optional
        Given draws (sensitivity designs) instead of sampled ones [SI].
    inputs : Inputs, optional
        The resolved scenario, if already at hand.
    jobs : int
        Local processes to run chunks in (joblib); 1 runs them here.

    Returns
    -------
    MonteCarlo
    """
    import time

    from gigawatt.scenario.inputs import resolve

    unc = scn.uncertain
    if unc is None:
        raise ValueError(f"{scn.name}: the scenario has no uncertain inputs to draw")
    seed = scn.seed if seed is None else seed
    t0 = time.perf_counter()
    inputs = inputs if inputs is not None else resolve(scn)
    if values is None:
        values = draw(unc, n, seed, sampler)
    n = values.shape[0]
    timings = {"draw_s": time.perf_counter() - t0}
    if unc.each_run():
        parts = _run_each(scn, inputs, unc, values, seed, progress, jobs)
        return _monte_carlo(unc, values, parts, sampler, seed, timings, t0)
    chunk = chunk_size(scn) if chunk is None else chunk
    tasks = [(min(n, lo + chunk), _run_chunk, (inputs, unc, values[lo:lo + chunk], np.random.default_rng([seed, k])))
             for k, lo in enumerate(range(0, n, chunk))]
    parts = _in_processes(tasks, jobs, progress, n)
    return _monte_carlo(unc, values, parts, sampler, seed, timings, t0)


def _monte_carlo(unc, values, parts: list[dict], sampler: str, seed: int, timings: dict, t0: float) -> MonteCarlo:
    """The :class:`MonteCarlo` of the reduced chunks ``parts``, in sample order."""
    import time

    timings["run_s"] = time.perf_counter() - t0 - timings["draw_s"]
    first = parts[0]
    return MonteCarlo(
        names=unc.names(), values=values, years=first["years"],
        yearly={k: np.concatenate([p["yearly"][k] for p in parts]) for k in first["yearly"]},
        binding=np.concatenate([p["binding"] for p in parts]),
        binds={k: np.concatenate([p["binds"][k] for p in parts]) for k in first["binds"]},
        scalars={k: np.concatenate([p["scalars"][k] for p in parts]) for k in first["scalars"]},
        sampler=sampler, seed=seed, timings_s=timings,
    )


@contextlib.contextmanager
def _reuse_freed_memory():
    """Let the C allocator keep the memory of freed arrays for the next ones while a chunk runs (glibc only).

    The engine makes and frees arrays of a few MB each period; by default glibc
    hands such blocks back to the system at once, and each new array then pays a
    page fault per 4 kB page (a fifth of a chunk's time on a virtual machine).
    Raising the mmap and trim thresholds keeps them in the heap for reuse; the
    defaults (128 kB) are restored, and the heap trimmed, afterwards.
    """
    import ctypes
    import platform

    libc = None
    if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL("libc.so.6")
    m_trim_threshold, m_mmap_threshold = -1, -3
    kept = bool(libc is not None and libc.mallopt(m_mmap_threshold, 32 << 20)
                and libc.mallopt(m_trim_threshold, 1 << 30))
    try:
        yield kept
    finally:
        if kept:
            libc.mallopt(m_mmap_threshold, 128 << 10)
            libc.mallopt(m_trim_threshold, 128 << 10)
            libc.malloc_trim(0)


def _run_each(scn, inputs, unc, values: np.ndarray, seed: int, progress, jobs: int) -> list[dict]:
    """Each sample on its own: its draws of the inputs outside the vectorized samplers written into the
    scenario, which is resolved again; the others laid on as in a chunk of one. Sample ``i`` draws its
    failures from ``numpy.random.default_rng([seed, i])``."""
    from gigawatt.scenario.distributions import ANY

    cols = [k for k, u in enumerate(unc.inputs) if u.pattern != ANY]
    rest = unc.only([unc.inputs[k] for k in cols])
    at = [k for k, u in enumerate(unc.inputs) if u.pattern == ANY]
    n = values.shape[0]
    tasks = [(min(n, lo + 8), _run_batch, (scn, unc, rest, cols, at, values, list(range(lo, min(n, lo + 8))), seed))
             for lo in range(0, n, 8)]
    return [part for batch in _in_processes(tasks, jobs, progress, n) for part in batch]


def _in_processes(tasks: list, jobs: int, progress, n: int) -> list:
    """Results of ``tasks``, each ``(samples done after it, function, arguments)``, in order: in ``jobs`` local
    processes (joblib) where there are several tasks, else here; ``progress("samples", done, n)`` after each."""
    if jobs > 1 and len(tasks) > 1:
        from joblib import Parallel, delayed

        results = Parallel(n_jobs=jobs, return_as="generator")(delayed(f)(*args) for _, f, args in tasks)
    else:
        results = (f(*args) for _, f, args in tasks)
    out = []
    for (done, _, _), got in zip(tasks, results):
        out.append(got)
        if progress is not None:
            progress("samples", done, n)
    return out


def _run_batch(scn, unc, rest, cols, at, values, samples: list[int], seed: int) -> list[dict]:
    """:func:`_run_each` for some samples."""
    from gigawatt.scenario.inputs import resolve

    out = []
    for i in samples:
        one = unc.written(scn, [(unc.inputs[k], values[i, k]) for k in at])
        out.append(_run_chunk(resolve(one), rest, values[i:i + 1, cols], np.random.default_rng([seed, i]), keep=False))
    return out


def _run_chunk(inputs, unc, values: np.ndarray, rng: np.random.Generator, keep: bool = True) -> dict:
    """Buildout, simulation and ledger on one chunk of samples, reduced to per-sample figures; ``keep``:
    whether a throughput matrix computed here goes to the disk cache."""
    with _reuse_freed_memory():
        return _chunk(inputs, unc, values, rng, keep)


def _chunk(inputs, unc, values: np.ndarray, rng: np.random.Generator, keep: bool = True) -> dict:
    from gigawatt.economics.ledger import build_ledger
    from gigawatt.fleet.buildout import build_fleet

    n = values.shape[0]
    sampled = sampled_inputs(inputs, unc, values)
    fleet = build_fleet(inputs, n_samples=n, sampled=sampled)
    sim = None
    demand = inputs.demand
    if demand is not None and (demand.training or demand.inference):
        from gigawatt.fleet.demand import resolve_workloads
        from gigawatt.fleet.simulate import simulate
        from gigawatt.fleet.throughput import fleet_throughput, flop_per_token

        workloads = resolve_workloads(inputs, fleet, flop_per_token)
        throughput = fleet_throughput(fleet, workloads, keep=keep)
        sim = simulate(inputs, fleet, workloads, throughput, rng=rng, demand_scale=sampled.demand_scale,
                       throughput_factor=sampled.throughput_factor, detail=False)
    ledger = build_ledger(inputs, fleet, summaries=False, sampled=sampled)
    return reduce_samples(inputs, fleet, sim, ledger)


def _by_year(year: np.ndarray, x: np.ndarray, how: str) -> tuple[np.ndarray, np.ndarray]:
    """``(sample, year)`` from ``(sample, period)``: the sum or the last period of each year."""
    years = np.unique(year)
    if how == "sum":
        out = np.stack([x[:, year == y].sum(axis=1) for y in years], axis=1)
    else:
        out = np.stack([x[:, np.nonzero(year == y)[0][-1]] for y in years], axis=1)
    return years, out


def _npv_usd(flows: np.ndarray, rate, period_years: np.ndarray) -> np.ndarray:
    """``(sample,)`` NPV of ``(sample, period)`` flows [USD] at one rate or a rate per sample [1/year].

    Notes
    -----
    :math:`\\sum_t F_{s,t} (1 + r_s)^{-y_t}`, as :func:`gigawatt.economics.finance.npv_usd` with a rate per sample.
    """
    from gigawatt.economics import finance

    rate = np.asarray(rate, dtype=float)
    if rate.ndim == 0:
        return np.asarray(finance.npv_usd(flows, float(rate), period_years), dtype=float)
    if np.any(rate <= -1.0):
        raise ValueError("a discount rate must be above -1 (-100%)")
    return (flows * (1.0 + rate[:, None]) ** (-np.asarray(period_years, dtype=float))[None, :]).sum(axis=-1)


def reduce_samples(inputs, fleet, sim, ledger) -> dict:
    """Per-sample yearly series and scalars of one chunk (see :class:`MonteCarlo`).

    Notes
    -----
    A constraint binds in a year where the buildout's label of most of its
    months names it (power, supply, spend limit, cap); the commitment binds
    where the lab pays a take-or-pay shortfall in the year; demand binds where
    every inference stream is served in full all year (capacity, not demand,
    is then left over).
    """
    from gigawatt.fleet.buildout import BINDING

    year = fleet.periods.year
    years, it_w = _by_year(year, fleet.it_power_w().sum(axis=(2, 3)), "last")
    _, spend = _by_year(year, fleet.spend_usd().sum(axis=(2, 3)), "sum")
    n, n_y = spend.shape
    codes = fleet.binding  # (sample, period)
    counts = np.stack([np.stack([(codes[:, year == y] == k).sum(axis=1) for y in years], axis=1)
                       for k in range(len(BINDING))], axis=-1)  # (sample, year, code)
    label = np.array(BINDING)[counts.argmax(axis=-1)]
    binds = {c: label == c for c in ("power", "supply", "spend_limit", "cap")}
    shortfall = ledger.lab.get("shortfall_usd")
    short_y = _by_year(year, -shortfall if shortfall is not None else np.zeros_like(fleet.binding, float), "sum")[1]
    binds["commitment"] = np.abs(short_y) > 0
    yearly = {"it_power_w": it_w, "spend_usd": spend, "cumulative_spend_usd": np.cumsum(spend, axis=1)}
    costs, t_years = ledger.costs, ledger.period_years
    lab, prov = ledger.net_usd("lab"), ledger.net_usd("provider")
    yearly["lab_cash_flow_usd"] = _by_year(year, lab, "sum")[1]
    yearly["provider_cash_flow_usd"] = _by_year(year, prov, "sum")[1]
    yearly["cumulative_lab_cash_flow_usd"] = np.cumsum(yearly["lab_cash_flow_usd"], axis=1)
    yearly["cumulative_provider_cash_flow_usd"] = np.cumsum(yearly["provider_cash_flow_usd"], axis=1)
    scalars = {
        "lab_npv_usd": _npv_usd(lab, costs.discount_lab, t_years),
        "provider_npv_usd": _npv_usd(prov, costs.discount_provider, t_years),
        "spend_usd": spend.sum(axis=1),
        "it_power_w_end": it_w[:, -1],
    }
    first = np.where(binds["commitment"].any(axis=1), years[np.argmax(binds["commitment"], axis=1)], np.nan)
    scalars["commitment_first_binds_year"] = first.astype(float)
    if sim is not None and sim.demand_tokens.shape[-1] > 0:
        _, dem = _by_year(year, sim.demand_tokens.sum(axis=-1), "sum")
        _, srv = _by_year(year, sim.served_tokens.sum(axis=-1), "sum")
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(dem > 0, srv / np.where(dem > 0, dem, 1.0), np.nan)
        yearly["inference_served_share"] = share
        binds["demand"] = (dem > 0) & (srv >= dem * (1 - 1e-6))
        total_dem = sim.demand_tokens.sum(axis=(1, 2))
        scalars["inference_served_share"] = np.where(total_dem > 0, sim.served_tokens.sum(axis=(1, 2))
                                                     / np.where(total_dem > 0, total_dem, 1.0), np.nan)
    else:
        binds["demand"] = np.zeros((n, n_y), dtype=bool)
    if sim is not None and len(sim.workloads.runs):
        runs = sim.workloads.runs
        finish = sim.run_finish  # (sample, run) in periods, nan: not finished
        month = fleet.periods.month
        done = np.isfinite(finish)
        last = np.clip(np.ceil(np.nan_to_num(finish, nan=0.0)).astype(int) - 1, 0, len(month) - 1)
        deadline = np.array([r.deadline if r.deadline is not None else np.iinfo(np.int64).max for r in runs])
        on_time = done & (month[last] <= deadline[None, :])
        scalars["runs_finished"] = done.sum(axis=1).astype(float)
        scalars["runs_on_time"] = on_time.sum(axis=1).astype(float)
        start_month = fleet.periods.month_pos[0]
        for r, run in enumerate(runs):
            months_after = (fleet.periods.month_pos[last[:, r]] - start_month) + (finish[:, r] - np.floor(
                np.nan_to_num(finish[:, r], nan=0.0)))
            scalars[f"finish_{run.name}"] = np.where(done[:, r], months_after, np.nan)
    return {"years": years, "yearly": yearly, "binding": label, "binds": binds, "scalars": scalars}
