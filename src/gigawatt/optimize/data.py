"""Stage 1 of the optimizer: check the inputs and lay them out as the linear program's data.

:func:`check_inputs` reads a resolved :class:`~gigawatt.scenario.inputs.Inputs`, the
throughput matrix of its workloads (:mod:`gigawatt.fleet.throughput`, the same rates the
simulator runs on) and the optimizer's settings, and returns :class:`ProblemData`: numpy
arrays on the optimizer's period axis (quarters by default, or months), in SI units and US
dollars. Nothing here builds a constraint; :mod:`gigawatt.optimize.model` does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gigawatt.optimize.solve import OptimizeError
from gigawatt.units import SECONDS_PER_YEAR

__all__ = ["ProblemData", "check_inputs", "DEFAULT_UNMET_INFERENCE_USD_PER_MTOK",
           "DEFAULT_LATE_TRAINING_USD_PER_RUN_MONTH", "PERIODS", "RELAXATIONS"]

#: how training is modeled: ``milp`` (the default) places each run on one pool (one site, one generation) per
#: period with at least its minimum chips, on chips free of inference all day; ``lp`` is the linear relaxation
RELAXATIONS = ("milp", "lp")

#: the optimizer's period lengths [months]
PERIODS = {"quarter": 3, "month": 1}

#: Default price of a token of inference left unserved: $2 per million tokens (input + output).
#: Basis (an estimate): Anthropic's list prices for Claude Opus 4.5 are $5 per million input
#: tokens, $25 per million output and $0.50 per million cached input (platform.claude.com
#: pricing, read 2026); with most input cached, as in agentic and chat traffic, the blend is
#: about $2 per million, which is also what Anthropic's May 2026 run-rate revenue (>$47B a
#: year, about $130M a day) over an estimated ~60T tokens a day gives (the flagship scenario's
#: demand notes). It is the revenue lost on a token not served.
DEFAULT_UNMET_INFERENCE_USD_PER_MTOK = 2.0

#: Default cost of a training run one month past its deadline: $1B per run-month.
#: Basis (an assumption): a frontier model a month late defers a month of what it adds to the
#: lab's revenue. Anthropic's run-rate revenue passed $47B a year in May 2026 (Series H, as
#: reported; about $3.9B a month); the default takes a quarter of a month's revenue as the part
#: one model generation carries. No lab publishes this figure.
DEFAULT_LATE_TRAINING_USD_PER_RUN_MONTH = 1.0e9


@dataclass
class ProblemData:
    """The linear program's data: arrays on the optimizer's period axis.

    Dimensions: ``p`` period, ``s`` site, ``c`` chip, ``w`` inference stream, ``r``
    training run, ``k`` piece of a stream's served-share curve.

    Attributes
    ----------
    inputs : Inputs
        What was resolved.
    period : str
        ``quarter`` or ``month``.
    labels : list of str
        Period labels (``2026-Q1`` or ``2026-01``).
    months : list of ndarray
        Indices into the monthly axis of ``inputs`` of each period's months.
    first_month : ndarray, (p,)
        Index of each period's first month on the monthly axis.
    seconds : ndarray, (p,)
        Length of each period [s].
    year : ndarray, (p,)
        Calendar year of each period.
    energized_it_w : ndarray, (p, s)
        Least IT power online in the period's months [W].
    cost_usd_per_chip : ndarray, (p, c)
        Discounted buyer's cost of one chip installed for the whole period:
        :math:`\\sum_m d_m p_{c,m} h_m` [USD].
    spend_usd_per_chip : ndarray, (p, c)
        The same undiscounted [USD].
    term_spend_usd_per_chip : ndarray, (p, c)
        Undiscounted spend in the commitment's term [USD].
    limit_usd_per_chip : ndarray, (p, c)
        Spend of one chip over the period at the period's highest monthly price,
        the spend limit's measure [USD].
    budget_usd : ndarray, (p,) or None
        The spend limit's share of the period [USD]; None without a limit.
    can_add : ndarray of bool, (p, s, c)
        Whether the period's first month is in the chip's roadmap window and the site takes it.
    life_periods : ndarray of int, (c,)
        Periods a chip stays installed.
    supply_years : list of int
        Calendar years with a period in the horizon.
    supply_cap : ndarray, (year, c)
        Most chips added in the year (infinite when unlimited) [1].
    cap_w : float or None
        The deal's capacity cap [W]; ``cap_k`` (s,) the cap's watts per IT watt.
    commitment_usd : float or None
        Committed spend when the term ends inside the horizon, else None.
    commitment_discount : float
        Discount factor at the term's end [1].
    demand_output_tokens : ndarray, (p, w)
        Output tokens demanded [1]; ``output_share`` (w,) output per token of traffic.
    inference_rate : ndarray, (w, c)
        Output tokens/s per chip (0 where the chip cannot serve the stream) [1/s].
    curve_a, curve_b : ndarray, (p, w, k)
        Pieces of the served-share curve: served ≤ seconds (a r̄ + b C), with r̄
        the mean output rate and C the serving capacity [1/s].
    unmet_usd_per_output_token : ndarray, (p, w)
        Discounted price of an unserved output token (with its share of input) [USD].
    run_flop : ndarray, (r,)
        Training FLOP of each run [FLOP].
    train_flop_per_chip_s : ndarray, (r, c)
        FLOP a chip delivers per second to the run, goodput included [FLOP/s].
    run_first_period : ndarray of int, (r,)
        First period the run may train in.
    late_months : ndarray, (p, r)
        Months from the run's deadline to the end of the period, 0 on time [month].
    unfinished_late_months : ndarray, (r,)
        Lateness charged to FLOP not done by the horizon's end [month].
    late_usd_per_run_month : float
        Price of a run-month late [USD]; ``unmet_usd_per_mtok`` its inference counterpart.
    allow_unmet : bool
    backfill : bool
        Whether training may use the chips inference leaves idle off its peak.
    view : str
        ``buyer`` or ``provider``.
    provider_margin_usd_per_chip : ndarray, (p, s, c)
        Provider's discounted revenue less running costs per chip installed for the period [USD].
    provider_capex_usd_per_chip : ndarray, (p, s, c)
        Provider's discounted capex per chip added [USD].
    defaults : dict
        Which prices came from the defaults, with their basis.
    notes : list of str
    """

    inputs: Any
    period: str
    labels: list
    months: list
    first_month: np.ndarray
    seconds: np.ndarray
    year: np.ndarray
    sites: list
    chips: list
    streams: list
    runs: list
    it_w_per_chip: np.ndarray
    pue: np.ndarray
    energized_it_w: np.ndarray
    energized_next_month_it_w: np.ndarray
    cost_usd_per_chip: np.ndarray
    spend_usd_per_chip: np.ndarray
    term_spend_usd_per_chip: np.ndarray
    limit_usd_per_chip: np.ndarray
    budget_usd: np.ndarray | None
    can_add: np.ndarray
    life_periods: np.ndarray
    supply_years: list
    supply_cap: np.ndarray
    cap_w: float | None
    cap_k: np.ndarray
    commitment_usd: float | None
    commitment_discount: float
    demand_output_tokens: np.ndarray
    output_share: np.ndarray
    inference_rate: np.ndarray
    curve_a: np.ndarray
    curve_b: np.ndarray
    unmet_usd_per_output_token: np.ndarray
    run_flop: np.ndarray
    train_flop_per_chip_s: np.ndarray
    run_first_period: np.ndarray
    run_deadline_period: np.ndarray
    late_months: np.ndarray
    unfinished_late_months: np.ndarray
    late_usd_per_run_month: float
    late_discount: np.ndarray
    unmet_usd_per_mtok: float
    allow_unmet: bool
    backfill: bool
    view: str
    provider_margin_usd_per_chip: np.ndarray
    provider_capex_usd_per_chip: np.ndarray
    discount: np.ndarray
    defaults: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    #: each run's deadline month (``YYYY-MM``) or None
    run_deadline_month: list = field(default_factory=list)
    #: every stream served the same share in a period, as the simulator's pooled allocation shares a short fleet
    equal_share: bool = False
    #: (r, c, k) pieces of each run's FLOP/s over its chips on a generation: slopes [FLOP/s per chip]
    #: and intercepts [FLOP/s] (:func:`_job_curve`)
    train_slope: Any = None
    train_intercept: Any = None
    #: ``milp`` or ``lp`` (:data:`RELAXATIONS`)
    relaxation: str = "milp"
    #: (r, c, k) pieces of each run's FLOP/s from its min_chips up (no line through the origin), for ``milp``
    train_slope_min: Any = None
    train_intercept_min: Any = None
    #: (r,) each run's min_chips; (r, c) the most chips a run takes on a generation (its max_chips, the
    #: system's largest cluster, and the most the largest site's power could hold) [1]
    run_min_chips: Any = None
    run_max_chips: Any = None
    #: (s, c) whether a site takes a chip
    site_allowed: Any = None
    #: (p,) backfill (milp): inference's load, relative to its daily mean, in the hours training backfills, and
    #: the share of the day a run backfilling then trains (after its daily preemption) [1]; None without backfill
    backfill_load: Any = None
    backfill_share: Any = None

    @property
    def months_per_period(self) -> int:
        return PERIODS[self.period]


def _groups(inputs, period: str) -> tuple[list[np.ndarray], list[str]]:
    """Months of each optimizer period: calendar quarters (the first may be partial) or single months."""
    month = inputs.periods.month
    if period == "month":
        return [np.array([i]) for i in range(len(month))], list(inputs.periods.labels)
    key = (month // 12) * 4 + (month % 12) // 3
    out, labels = [], []
    for q in np.unique(key):
        out.append(np.flatnonzero(key == q))
        labels.append(f"{int(q) // 4}-Q{int(q) % 4 + 1}")
    return out, labels


def _curve(profile: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The served share of a daily profile as the minimum of lines: f(z) = min_k (a_k + b_k z).

    Notes
    -----
    With the day's load :math:`S(\\tau)` relative to its mean (mean 1) and a capacity
    :math:`z` relative to the mean, the share served is
    :math:`f(z) = \\overline{\\min(S(\\tau), z)}`, concave and piecewise linear with a
    kink at each value of :math:`S`. Each piece is :math:`f(v) + g(v)(z - v)` with
    :math:`g(v)` the share of the day with :math:`S > v`; the line :math:`z` (nothing
    above capacity) and the line 1 (everything served) close it.

    Examples
    --------
    Half the day at half the mean load, half at 1.5 times it: a capacity of the mean
    serves (0.5 + 1) / 2 = 75% of the tokens, a capacity of twice the mean all of them.

    >>> a, b = _curve(np.array([0.5, 1.5]))
    >>> float(min(a + b * 1.0)), float(min(a + b * 2.0))
    (0.75, 1.0)
    """
    v = np.unique(np.round(profile, 12))
    f = np.array([np.minimum(profile, x).mean() for x in v])
    g = np.array([(profile > x).mean() for x in v])
    a = np.concatenate([[0.0], f - g * v])
    b = np.concatenate([[1.0], g])
    return a, b


def _stream_profiles(inputs, streams, rate_best: np.ndarray, mean_rate: np.ndarray) -> list[list[np.ndarray]]:
    """Each period's daily profile of each stream, as the simulator sizes inference (docs/allocation.md)."""
    from gigawatt.fleet import policies as pol

    demand = inputs.demand
    mode = getattr(demand, "allocation", "pooled")
    coincidence = float(getattr(demand, "inference_coincidence", 1.0) or 1.0)
    peaks = np.array([s.peak_to_mean for s in streams])
    out = []
    for p in range(mean_rate.shape[0]):
        if mode == "pooled" and len(streams) > 1:
            weights = np.where(rate_best > 0, mean_rate[p] / np.where(rate_best > 0, rate_best, 1.0), 0.0)
            shape, _ = pol.pooled_profile(weights, peaks, coincidence)
            out.append([shape] * len(streams))
        else:
            out.append([pol.daily_profile(float(pk)) for pk in peaks])
    return out


def _backfill_window(profile: np.ndarray, lost_h: float) -> tuple[float, float]:
    r"""The stretch of the day training backfills on chips inference holds for its peak: its load and its use.

    Parameters
    ----------
    profile : ndarray
        Inference's load over the day relative to its mean (mean 1) [1].
    lost_h : float
        Hours a daily preemption costs (half a checkpoint interval and a restart) [h].

    Returns
    -------
    (float, float)
        :math:`S_{(k)}`, the highest load in the :math:`k` least loaded steps, and
        :math:`e_k = k/N - \ell/24`, the share of the day a backfilling run trains [1].

    Notes
    -----
    Chips held at the peak :math:`x` with mean load :math:`u` have at least
    :math:`x - S_{(k)} u` idle in each of the :math:`k` least loaded steps of the
    day; a run on them trains :math:`e_k` of the day (:func:`gigawatt.fleet.placement.place`).
    :math:`k` maximizes :math:`e_k (1 - S_{(k)} / \max S)`, the backfill a fully
    served day leaves.

    Examples
    --------
    A flat day leaves nothing idle to backfill (its share is then that of the whole day):

    >>> _backfill_window(np.ones(24), 0.5)
    (1.0, 1.0)
    """
    srt = np.sort(np.asarray(profile, dtype=float))
    n = len(srt)
    k = np.arange(1, n + 1)
    e = k / n - np.where(k < n, lost_h / 24.0, 0.0)
    top = srt.max()
    score = e * (1.0 - srt / top) if top > 0 else np.zeros(n)
    if not (score > 1e-12).any():
        return float(srt[-1]), 1.0
    i = int(np.argmax(score))
    return float(srt[i]), float(e[i])


def _upper_hull(x: np.ndarray, y: np.ndarray, origin: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Slopes and intercepts of the upper concave envelope of points (x, y), x increasing, with the origin.

    With ``origin`` false the envelope starts at the first point (no line through the origin).

    The last piece is flat at the last point's height.

    Examples
    --------
    >>> s, i = _upper_hull(np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.5, 1.6]))
    >>> s.round(3).tolist(), i.round(3).tolist()
    ([1.0, 0.5, 0.1, 0.0], [0.0, 0.5, 1.3, 1.6])
    """
    pts = ([(0.0, 0.0)] if origin else []) + list(zip(x.tolist(), y.tolist()))
    hull: list[tuple[float, float]] = []
    for px, py in pts:
        while len(hull) >= 2:
            (ax, ay), (bx, by) = hull[-2], hull[-1]
            if (by - ay) * (px - ax) <= (py - ay) * (bx - ax):  # b lies on or under the chord a-p
                hull.pop()
            else:
                break
        hull.append((px, py))
    slopes, intercepts = [], []
    for (ax, ay), (bx, by) in zip(hull[:-1], hull[1:]):
        if bx > ax:
            g = (by - ay) / (bx - ax)
            slopes.append(g)
            intercepts.append(ay - g * ax)
    slopes.append(0.0)
    intercepts.append(hull[-1][1] if hull else 0.0)
    return np.array(slopes), np.array(intercepts)


def _job_curve(throughput, r: int, j: int, run, fpt: float, settings, origin: bool = True) -> tuple[np.ndarray, np.ndarray]:
    r"""A run's FLOP/s on one generation as a function of its chips, as the minimum of lines.

    Returns
    -------
    (ndarray, ndarray)
        Slopes [FLOP/s per chip] and intercepts [FLOP/s] of the pieces; empty where
        the run cannot train on the chip.

    Notes
    -----
    A job of :math:`n` chips trains at :math:`G(n) = n\,r(n)\,g(n)\,f` FLOP/s, with
    :math:`r(n)` tokens/s per chip from the throughput matrix (falling as the job
    grows, a fixed global batch), :math:`g(n)` the expected goodput
    (:func:`gigawatt.fleet.reliability.expected_goodput`) and :math:`f` FLOP per
    token. :math:`G` is sampled from ``min_chips`` to the largest evaluated job, taken
    as flat beyond its maximum (a run does not grow past its size of greatest
    throughput), and replaced by its upper concave envelope through the origin, so
    that :math:`G(n) \le \min_k (\alpha_k n + \beta_k)` is linear. Between zero and
    ``min_chips`` the envelope is the line through the origin: the relaxation lets a
    run train on fewer chips than its minimum, at its minimum's rate per chip.
    """
    from gigawatt.fleet import reliability

    lo = max(run.min_chips, 8.0)
    table = throughput.training_tokens_per_chip_s[r, j]
    known = throughput.bucket_chips[np.isfinite(table)]
    if not len(known):
        return np.zeros(0), np.zeros(0)
    hi = max(min(float(known.max()), run.max_chips), lo)
    sizes = np.geomspace(lo, hi, 48) if hi > lo else np.array([lo])
    rate = np.asarray(throughput.training_rate(r, np.full(len(sizes), j), sizes), dtype=float)
    ok = np.isfinite(rate) & (rate > 0)
    if not ok.any():
        return np.zeros(0), np.zeros(0)
    sizes, rate = sizes[ok], rate[ok]
    good = np.asarray(reliability.expected_goodput(sizes, settings.checkpoint_interval_s, settings.restart_s))
    flops = sizes * rate * good * fpt
    top = int(np.argmax(flops))
    return _upper_hull(sizes[: top + 1], flops[: top + 1], origin=origin)


def check_inputs(inputs, throughput=None, workloads=None, *, period: str = "quarter", view: str = "buyer",
                 allow_unmet: bool | None = None, relaxation: str = "milp") -> ProblemData:
    """Check a resolved scenario for the optimizer and lay it out as the program's data.

    Parameters
    ----------
    inputs : Inputs
        From :func:`gigawatt.scenario.inputs.resolve`; a monthly horizon.
    throughput : gigawatt.fleet.simulation.Throughput, optional
        Per-chip rates of the workloads; computed as the simulator does when left out.
    workloads : gigawatt.fleet.demand.Workloads, optional
        The scenario's runs and streams; resolved when left out.
    period : {"quarter", "month"}
        The optimizer's period.
    view : {"buyer", "provider"}
        Whose objective: the buyer's discounted cost, or the provider's margin.
    allow_unmet : bool, optional
        Overrides the scenario's ``optimize.allow_unmet``.
    relaxation : {"milp", "lp"}
        How training is modeled (:data:`RELAXATIONS`).

    Returns
    -------
    ProblemData

    Raises
    ------
    GigawattError
        A weekly horizon, an unknown period or view.

    Notes
    -----
    Discount factors are monthly, :math:`d_m = (1 + i)^{-m/12}` from the horizon's start,
    at the buyer's rate (``economics.discount.lab``) in the buyer's view and the
    provider's in the provider's view.
    """
    if period not in PERIODS:
        raise OptimizeError(f"period: {period!r} is not one of {', '.join(PERIODS)}", hint="use --period quarter or month")
    if relaxation not in RELAXATIONS:
        raise OptimizeError(f"relaxation: {relaxation!r} is not one of {', '.join(RELAXATIONS)}",
                            hint="use --relaxation milp (one pool per run) or --relaxation lp")
    if view not in ("buyer", "provider"):
        raise OptimizeError(f"view: {view!r} is not buyer or provider", hint="use --view buyer or --view provider")
    if inputs.periods.step != "month":
        raise OptimizeError("horizon.step: the optimizer plans on a monthly horizon, this one is weekly",
                            hint="set horizon.step: month (or leave it out) to optimize this scenario")
    notes: list[str] = []
    groups, labels = _groups(inputs, period)
    n_p, n_s, n_c = len(groups), len(inputs.sites), len(inputs.chips)
    month = inputs.periods.month
    seconds_m = inputs.periods.seconds
    hours_m = seconds_m / 3600.0
    costs = inputs.costs
    rate = costs.discount_lab if view == "buyer" else costs.discount_provider
    disc_m = (1.0 + rate) ** (-(month - month[0]) / 12.0)
    first = np.array([g[0] for g in groups])
    seconds = np.array([seconds_m[g].sum() for g in groups])
    year = month[first] // 12
    price = inputs.price_usd_per_chip_h  # (month, chip)
    cost = np.array([(disc_m[g, None] * price[g] * hours_m[g, None]).sum(axis=0) for g in groups])
    spend = np.array([(price[g] * hours_m[g, None]).sum(axis=0) for g in groups])
    term = np.array([(inputs.in_commitment[g, None] * price[g] * hours_m[g, None]).sum(axis=0) for g in groups])
    limit_cost = np.array([price[g].max(axis=0) * hours_m[g].sum() for g in groups])
    deal = inputs.deal
    budget = None
    if deal.spend_limit is not None:
        budget = deal.spend_limit.per_year_usd * seconds / SECONDS_PER_YEAR
    energized = np.array([inputs.energized_it_w[g].min(axis=0) for g in groups])
    nxt = np.minimum(first + 1, len(month) - 1)
    energized_next = np.array([inputs.energized_it_w[np.minimum(g + 1, len(month) - 1)].min(axis=0) for g in groups])
    del nxt
    from gigawatt.scenario.inputs import NO_END_MONTH
    from gigawatt.units import month_index

    frm = np.array([month_index(c.from_month) for c in inputs.chips])
    until = np.array([month_index(c.until) if c.until else NO_END_MONTH for c in inputs.chips])
    in_window = (month[first][:, None] >= frm[None, :]) & (month[first][:, None] <= until[None, :])
    can_add = in_window[:, None, :] & inputs.allowed[None, :, :]
    months_per = PERIODS[period]
    life = np.array([max(1, c.lifetime_months // months_per) for c in inputs.chips])
    if any(c.lifetime_months % months_per for c in inputs.chips):
        notes.append(f"a lifetime that is not a whole number of {period}s is rounded down to one")
    supply_years = sorted(int(y) for y in np.unique(year))
    supply_cap = np.array([inputs.supply_in_year[np.flatnonzero(month // 12 == y)[0]] for y in supply_years])
    cap_k = inputs.pue if deal.capacity_basis == "facility" else np.ones(n_s)
    commitment, commitment_disc = None, 1.0
    c = deal.commitment
    end_month = inputs.commitment_start_month + inputs.commitment_months - 1
    if c is not None and getattr(c, "total_usd", None):
        if end_month <= month[-1]:
            commitment = float(c.total_usd)
            commitment_disc = float(disc_m[np.searchsorted(month, end_month)])
        else:
            notes.append("the commitment's term ends after the horizon, so its shortfall is not counted: "
                         "the plan is not held to the committed spend")
    # workloads and rates: the simulator's, from the performance layer
    if workloads is None or throughput is None:
        from gigawatt.fleet import build_fleet
        from gigawatt.fleet.demand import resolve_workloads
        from gigawatt.fleet.throughput import fleet_throughput, flop_per_token

        fleet = build_fleet(inputs)
        workloads = resolve_workloads(inputs, fleet, flop_per_token) if inputs.demand is not None else None
        throughput = fleet_throughput(fleet, workloads) if workloads is not None else None
    streams = list(workloads.streams) if workloads is not None else []
    runs = list(workloads.runs) if workloads is not None else []
    values = getattr(inputs.scenario, "optimize", None)
    defaults = {}
    unmet_mtok = getattr(values, "unmet_inference_per_million_tokens_usd", None)
    if unmet_mtok is None:
        unmet_mtok = DEFAULT_UNMET_INFERENCE_USD_PER_MTOK
        defaults["unmet_inference"] = (f"${unmet_mtok:g} per million tokens: the default, the revenue of a token "
                                       "at a blend of Anthropic's 2026 list prices (docs/optimize.md)")
    late = getattr(values, "late_training_per_run_month_usd", None)
    if late is None:
        late = DEFAULT_LATE_TRAINING_USD_PER_RUN_MONTH
        defaults["late_training"] = (f"${late / 1e9:g}B per run-month: the default, a quarter of a month of "
                                     "Anthropic's 2026 run-rate revenue (an assumption, docs/optimize.md)")
    if allow_unmet is None:
        allow_unmet = bool(getattr(values, "allow_unmet", True))
    n_w, n_r = len(streams), len(runs)
    if not n_w and not n_r:
        notes.append("the scenario states no demand, so the least-cost plan buys no chips (only what the commitment "
                     "forces is paid); add a demand: section to plan for one")
    infer_rate = np.zeros((n_w, n_c))
    if n_w:
        infer_rate = np.nan_to_num(throughput.inference_output_tokens_per_chip_s, nan=0.0)
    output_share = np.array([s.output_share for s in streams])
    days_m = seconds_m / 86400.0
    demand_out = np.zeros((n_p, n_w))
    for w, s in enumerate(streams):
        per_month = s.tokens_per_day * days_m * s.output_share
        demand_out[:, w] = [per_month[g].sum() for g in groups]
    mean_rate = demand_out / seconds[:, None]
    rate_best = infer_rate.max(axis=1) if n_w else np.zeros(0)
    for w, s in enumerate(streams):
        if rate_best[w] <= 0 and demand_out[:, w].sum() > 0:
            notes.append(f"inference stream {s.name} cannot be served on any roadmap chip within its latency targets")
    profiles = _stream_profiles(inputs, streams, rate_best, mean_rate) if n_w else []
    pieces = [[_curve(profiles[p][w]) for w in range(n_w)] for p in range(n_p)]
    backfill_load = backfill_share = None
    settings_d = inputs.demand
    if (n_w and settings_d is not None and bool(getattr(settings_d, "backfill", True))
            and getattr(settings_d, "allocation", "pooled") == "pooled"):
        from gigawatt.fleet import reliability

        lost_h = float(reliability.hours_lost_per_interruption(settings_d.checkpoint_interval_s, settings_d.restart_s))
        backfill_load, backfill_share = np.zeros(n_p), np.zeros(n_p)
        for p in range(n_p):
            weight = mean_rate[p] / np.where(rate_best > 0, rate_best, 1.0)
            shape = np.average(np.array(profiles[p]), axis=0, weights=weight if weight.sum() > 0 else None)
            backfill_load[p], backfill_share[p] = _backfill_window(shape, lost_h)
    n_k = max((len(a) for row in pieces for a, _ in row), default=1)
    curve_a = np.ones((n_p, n_w, n_k))  # padding: the line "everything served", a = 1, b = 0
    curve_b = np.zeros((n_p, n_w, n_k))
    for p in range(n_p):
        for w in range(n_w):
            a, b = pieces[p][w]
            curve_a[p, w, :len(a)], curve_b[p, w, :len(b)] = a, b
    disc_p = np.array([disc_m[g].mean() for g in groups])
    unmet_price = np.zeros((n_p, n_w))
    if n_w:
        unmet_price = disc_p[:, None] * unmet_mtok / 1e6 / output_share[None, :]
    # training: FLOP per chip-second at the job size of each run on each generation (_job)
    from gigawatt.fleet.throughput import flop_per_token

    settings = inputs.demand
    curves, curves_min = {}, {}
    for r, run in enumerate(runs):
        fpt = run.flop / run.tokens if run.tokens else flop_per_token(run.model)
        for j in range(n_c):
            if run.allowed[j]:
                curves[r, j] = _job_curve(throughput, r, j, run, fpt, settings)
                curves_min[r, j] = _job_curve(throughput, r, j, run, fpt, settings, origin=False)

    def _pad(cv):
        n_k = max((len(a) for a, _ in cv.values()), default=1)
        slope, icept = np.zeros((n_r, n_c, n_k)), np.zeros((n_r, n_c, n_k))
        for (r, j), (a, b) in cv.items():
            if len(a):
                slope[r, j] = np.concatenate([a, np.repeat(a[-1:], n_k - len(a))])
                icept[r, j] = np.concatenate([b, np.repeat(b[-1:], n_k - len(b))])
        return slope, icept

    train_slope, train_intercept = _pad(curves)
    train_slope_min, train_intercept_min = _pad(curves_min)
    run_min = np.array([max(float(r.min_chips), 1.0) for r in runs])
    # the most chips of a generation one site could hold: its largest energized IT power over the chip's power
    site_most = (energized.max(axis=0)[:, None] / inputs.it_w_per_chip[None, :]).max(axis=0) if n_s else np.zeros(n_c)
    run_max = np.array([[min(float(run.max_chips), float(inputs.chips[j].max_chips_per_run), float(site_most[j]))
                         for j in range(n_c)] for run in runs]).reshape(n_r, n_c)
    if n_r and relaxation == "milp":
        notes.append("training (milp): each run trains on one pool (one site, one generation) a period, on at least "
                     "its min_chips or none, newest generations first, on chips that inference does not hold at its "
                     "daily peak (all day, as a training reserve gives them) and, with backfill, on chips it holds but "
                     "leaves idle in the least loaded hours (counted for the share of the day it trains then, after "
                     "its daily preemption); its FLOP/s the concave envelope from min_chips up of the throughput "
                     "matrix's rate times the expected goodput, its lateness from the period it finishes in")
    elif n_r:
        notes.append("training: a run is one job per generation and period, its FLOP/s the concave envelope of the "
                     "throughput matrix's rate times the expected goodput over the job's size; the relaxation lets a "
                     "run use several generations at once, fewer chips than its min_chips, and chips at several sites, "
                     "which the simulator does not (it trains a run on one pool: one site, one generation), and counts "
                     "a run's chips as training all day")
    run_flop = np.array([r.flop for r in runs])
    last_month = np.array([month[g[-1]] for g in groups])
    first_period = np.array([int(np.searchsorted(first, r.start, side="left")) for r in runs], dtype=int)
    late_months = np.zeros((n_p, n_r))
    unfinished = np.zeros(n_r)
    deadline_period = np.full(n_r, n_p, dtype=int)
    late_disc = np.ones(n_r)
    for r, run in enumerate(runs):
        if run.deadline is None:
            unfinished[r] = 12.0  # a run with no deadline left unfinished counts a year late
            continue
        late_months[:, r] = np.maximum(last_month - run.deadline, 0)
        unfinished[r] = max(month[-1] - run.deadline, 0) + 12.0
        deadline_period[r] = int(np.searchsorted(last_month, run.deadline, side="left"))
        k = min(max(run.deadline - month[0], 0), len(month) - 1)
        late_disc[r] = disc_m[k]
    # the provider's view: revenue less running costs (power, operations, the datacenter's straight-line
    # depreciation while the chip occupies it); chip capex when a chip is added, less its book value left at
    # the horizon's end (the ledger's residual: book)
    w_c = inputs.it_w_per_chip
    power_usd_per_wh = costs.power_price_usd_per_mwh / 1e6  # (s,)
    run_cost = np.zeros((n_p, n_s, n_c))
    capex = np.zeros((n_p, n_s, n_c))
    life_m = np.array([c.lifetime_months for c in inputs.chips], dtype=float)
    end_disc = (1.0 + rate) ** (-(month[-1] + 1 - month[0]) / 12.0)
    book = 1.0 if getattr(costs, "residual", "book") == "book" else 0.0
    for p, g in enumerate(groups):
        h = hours_m[g]
        d = disc_m[g]
        energy = (d * h).sum() * w_c[None, :] * inputs.pue[:, None] * costs.power_load_factor * power_usd_per_wh[:, None]
        years = (d * seconds_m[g]).sum() / SECONDS_PER_YEAR
        opex = years * (w_c * costs.opex_usd_per_w_year + costs.maintenance_share_per_year * costs.capex_per_chip_usd)
        building = (d.sum() / costs.datacenter_life_months) * costs.build_cost_usd_per_w * w_c
        run_cost[p] = energy + (opex + building)[None, :]
        left = np.clip(month[g[0]] + life_m - (month[-1] + 1), 0.0, life_m) / life_m  # share of life past the horizon
        capex[p] = (disc_m[g[0]] - book * end_disc * left)[None, :] * costs.capex_per_chip_usd[None, :]
    margin = cost[:, None, :] - run_cost
    return ProblemData(
        inputs=inputs, period=period, labels=labels, months=groups, first_month=first, seconds=seconds, year=year,
        sites=list(inputs.sites), chips=inputs.chip_ids, streams=[s.name for s in streams], runs=[r.name for r in runs],
        it_w_per_chip=w_c, pue=inputs.pue, energized_it_w=energized, energized_next_month_it_w=energized_next,
        cost_usd_per_chip=cost, spend_usd_per_chip=spend, term_spend_usd_per_chip=term, limit_usd_per_chip=limit_cost,
        budget_usd=budget, can_add=can_add, life_periods=life, supply_years=supply_years, supply_cap=supply_cap,
        cap_w=deal.capacity_cap_w, cap_k=cap_k, commitment_usd=commitment, commitment_discount=commitment_disc,
        demand_output_tokens=demand_out, output_share=output_share, inference_rate=infer_rate,
        curve_a=curve_a, curve_b=curve_b, unmet_usd_per_output_token=unmet_price, run_flop=run_flop,
        train_flop_per_chip_s=train_slope[:, :, 0] if n_r else np.zeros((0, n_c)), run_first_period=first_period, run_deadline_period=deadline_period,
        late_months=late_months, unfinished_late_months=unfinished, late_usd_per_run_month=float(late),
        late_discount=late_disc, unmet_usd_per_mtok=float(unmet_mtok), allow_unmet=bool(allow_unmet),
        backfill=bool(getattr(settings, "backfill", True)) if settings is not None else True, view=view,
        provider_margin_usd_per_chip=margin, provider_capex_usd_per_chip=capex, discount=disc_p,
        defaults=defaults, notes=notes, run_deadline_month=[r.deadline_month for r in runs],
        train_slope=train_slope, train_intercept=train_intercept, relaxation=relaxation,
        train_slope_min=train_slope_min, train_intercept_min=train_intercept_min, run_min_chips=run_min,
        run_max_chips=run_max, site_allowed=np.asarray(inputs.allowed, dtype=bool),
        backfill_load=backfill_load, backfill_share=backfill_share, equal_share=bool(n_w > 1 and getattr(settings, "allocation", "pooled") == "pooled"),
    )
