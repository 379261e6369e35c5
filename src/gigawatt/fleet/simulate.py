"""The time-stepped fleet engine: inference and training on the installed chips, month by month.

Each period, on the chips the buildout installed, under the allocation the
scenario names (``demand.allocation``, docs/allocation.md):

1. reserves: the share of the chips held for training (newest generation first)
   or for inference (oldest first); the other workload never runs on them;
2. with ``priority: training`` (or ``deadline``, for runs that can still make
   their deadline) those runs take chips for the whole day first;
3. inference. ``pooled`` (the default): the streams are sized together on their
   combined daily peak (:func:`gigawatt.fleet.policies.pooled_profile`), take
   chips oldest generation first (generations the roadmap marks ``use:
   inference`` before all others, the cheapest per output token first:
   :mod:`gigawatt.fleet.serving_order`) and share a short pool pro rata; the share
   served follows from the capacity and the pooled daily profile. ``legacy``:
   each stream is sized on its own peak, one stream after another;
4. training runs, in the order of the run policy (earliest deadline first by
   default, :mod:`gigawatt.fleet.policies`). A run needs all its chips in one
   pool (one site, one generation). It takes chips free all day, or, with
   backfill, the chips inference leaves idle in the hours of the day it is off
   its peak: preemptible work that pays one checkpoint and restart a day. A run
   that cannot get its minimum chips waits, and the engine records why.
   Progress counts goodput (:mod:`gigawatt.fleet.reliability`);
5. power drawn follows utilization between idle and full power; energy and
   spend accumulate.

What the engine reads and produces (:class:`~gigawatt.fleet.simulation.Throughput`,
:class:`~gigawatt.fleet.simulation.Allocation`, :class:`~gigawatt.fleet.simulation.Simulation`)
lives in :mod:`gigawatt.fleet.simulation`.

Arrays keep the architecture's axis order ``(sample, period, site, chip,
workload)``; the sample axis carries independent draws of failures, so a
Monte Carlo run is this function on a wider array, not a loop around it.
Samples in the same state (the same chips installed, runs on the same pools,
the same runs left) share the engine's decisions, which are computed once per
group of samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gigawatt.economics.buyer import SECONDS_PER_HOUR
from gigawatt.fleet import policies as pol
from gigawatt.fleet import reliability
from gigawatt.fleet.buildout import Fleet
from gigawatt.fleet.demand import Workloads
from gigawatt.fleet.policies import daily_profile, get_policy
from gigawatt.fleet.simulation import (BEFORE_START, CHIPS, DONE, INFERENCE, NO_CHIP, NO_POOL, RESERVE,
                                       RUNS_AHEAD, SECONDS_PER_DAY, SERVED, TRAINED, TRAINING_FIRST,
                                       TRAINING_RESERVE, Allocation, Simulation, Throughput)

__all__ = ["daily_profile", "served_fraction", "simulate"]

def served_fraction(capacity, mean_demand, peak_to_mean):
    """Share of a day's demand that a fixed capacity serves.

    Parameters
    ----------
    capacity : array_like
        Serving capacity [tokens/s].
    mean_demand : array_like
        Mean demand over the day [tokens/s].
    peak_to_mean : float
        Peak over mean of the daily cycle [1].

    Returns
    -------
    ndarray
        Served share [1]; 1 where there is no demand.

    Notes
    -----
    The day follows :math:`d(\\tau) = \\bar d\\, s_P(\\tau)` with the shape of
    :func:`daily_profile` (mean 1, peak :math:`P`), and what exceeds the
    capacity :math:`C` is not served:

    .. math:: f = \\frac{\\int_0^1 \\min(d(\\tau), C)\\,d\\tau}{\\bar d}

    Examples
    --------
    >>> round(float(served_fraction(1.0, 1.0, 1.0)), 3), round(float(served_fraction(0.5, 1.0, 1.0)), 3)
    (1.0, 0.5)
    >>> float(served_fraction(1.5, 1.0, 1.5))  # sized for the peak: all served
    1.0
    """
    c = np.asarray(capacity, dtype=float)[..., None]
    d = np.asarray(mean_demand, dtype=float)[..., None]
    profile = d * pol._profile(float(peak_to_mean))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.minimum(profile, c).mean(axis=-1) / d[..., 0]
    return np.where(d[..., 0] > 0, out, 1.0)


def _peak_sizes(throughput: Throughput, run: int, pool_chip: np.ndarray, min_chips: float):
    """Per pool, the evaluated job size with the most total throughput, and that throughput.

    Returns ``(size, rate)`` arrays over pools; size 0 where no size at or above
    ``min_chips`` was evaluated.
    """
    sizes = throughput.bucket_chips
    table = throughput.training_tokens_per_chip_s[run][pool_chip]  # (p, k)
    totals = np.where(np.isfinite(table) & (sizes >= min_chips), sizes * np.where(np.isfinite(table), table, 0.0), -1.0)
    k = np.argmax(totals, axis=1)
    rows = np.arange(len(pool_chip))
    ok = totals[rows, k] > 0
    return np.where(ok, sizes[k], 0.0), np.where(ok, table[rows, k], np.nan)


def _choose_size(throughput: Throughput, run: int, pool_chip, most, peak_size, peak_rate):
    """Chips a run takes in each pool, and its tokens/s per chip there.

    A fixed global batch makes per-chip throughput fall with the job's size, so
    past some size more chips add little or even slow the job. Total throughput
    ``n x rate(n)`` is taken to rise up to its peak and fall after it: a run
    takes every chip it may have up to the peak size, and past it either the
    peak size or all it may have, whichever trains faster. ``pool_chip``,
    ``peak_size`` and ``peak_rate`` broadcast against ``most`` (pools on its last axis).
    """
    rate_most = throughput.training_rate(run, pool_chip, most)  # (..., p)
    with np.errstate(invalid="ignore"):
        take_all = (most <= peak_size) | (most * rate_most >= peak_size * peak_rate)
    size = np.where(take_all, most, peak_size)
    rate = np.where(take_all, rate_most, peak_rate)
    return size, rate


def simulate(scn, fleet: Fleet, workloads: Workloads, throughput: Throughput,
             rng: np.random.Generator | None = None, progress=None, demand_scale=None,
             throughput_factor=None, detail: bool = True) -> Simulation:
    """Run the fleet month by month against the scenario's demand.

    Parameters
    ----------
    scn : Inputs or Scenario
        For the demand settings (allocation, priority, reserve, run policy,
        checkpoint interval, restart time, idle power) and the seed; without a
        ``demand:`` section, the schema's defaults
        (:class:`gigawatt.scenario.demand_schema.Demand`).
    fleet : Fleet
        The buildout; its sample axis sets the number of samples.
    workloads : Workloads
        Resolved demand (:func:`gigawatt.fleet.demand.resolve_workloads`).
    throughput : Throughput
        Per-chip throughput of each workload on each chip.
    rng : numpy.random.Generator, optional
        For failures; default ``numpy.random.default_rng(scn.seed)``.
    progress : callable, optional
        ``progress(done, total)`` after each period.
    demand_scale : ndarray, (sample, period, stream), optional
        Each sample's inference demand over the scenario's [1] (Monte Carlo
        draws of the streams' level and growth); None: the scenario's demand.
    throughput_factor : ndarray, (sample, chip), optional
        Each sample's training and inference throughput per chip over the
        performance model's [1] (its error, drawn); None: the model's.
        Needs ``allocation: pooled``.
    detail : bool
        False: only the outcomes (tokens demanded and served, training
        progress, starts and finishes), as a Monte Carlo reads them; the
        diagnostics (busy chips, what limited each stream, why a run waits,
        chips lent to training) stay empty and the power drawn is ``nan``.

    Returns
    -------
    Simulation

    Notes
    -----
    Each period :func:`_step` groups the samples that are in the same state
    (:func:`_groups`), carves the reserves, lets runs with priority go first
    (:func:`_train_one` on chips free all day), sizes inference
    (:func:`_serve_pooled` or :func:`_serve_legacy`), places the other runs on
    what is left over the day (:func:`_place`, :func:`_commit`,
    :func:`_advance`) and records why a run waits (:func:`_reason`);
    :func:`_simulation` turns utilization into power drawn.
    """
    rng = rng if rng is not None else np.random.default_rng(scn.seed)
    settings = _demand_settings(scn)
    policy = get_policy(settings.policy)
    alloc = Allocation.of(settings, fleet.periods.month)
    state = _State.start(fleet, workloads, throughput, alloc)
    state.detail = detail
    state.demand_scale = demand_scale
    if throughput_factor is not None:
        if not alloc.pooled:
            raise ValueError("a throughput factor per sample needs demand.allocation: pooled")
        state.throughput_factor = np.asarray(throughput_factor, dtype=float)
        n_s = state.throughput_factor.shape[0]
        state.distinct = n_s > 1 and np.unique(state.throughput_factor, axis=0).shape[0] == n_s
        if demand_scale is None:
            state.demand_scale = np.ones((fleet.installed.shape[0], fleet.installed.shape[1], len(workloads.streams)))
    n_t = fleet.installed.shape[1]
    for t in range(n_t):
        _step(state, t, policy, rng, settings)
        if progress is not None:
            progress(t + 1, n_t)
    return _simulation(state, fleet, workloads, settings)


def _demand_settings(scn):
    """The scenario's ``demand:`` settings, or the schema's defaults where it has none (their one home)."""
    if scn.demand is not None:
        return scn.demand
    from gigawatt.scenario.demand_schema import Demand

    return Demand()


@dataclass
class _State:
    """The engine's arrays and running totals while it steps through the periods; pools are (site, chip) pairs."""

    throughput: Throughput
    alloc: Allocation
    runs: list
    streams: list
    period_s: np.ndarray  # (period,) [s]
    months: np.ndarray  # (period,) month index
    installed: np.ndarray  # (sample, period, pool) chips installed
    pool_chip: np.ndarray  # (pool,) chip index of each pool
    inference_order: np.ndarray  # (pool,) pools in the order inference takes them
    training_order: np.ndarray  # (pool,) pools in the order a training reserve takes them (newest first)
    max_cluster: np.ndarray  # (chip,) most chips one run may use on the chip's system
    peaks: list  # per run, (size, rate) over pools from _peak_sizes
    stream_rates: np.ndarray  # (stream, pool) output tokens/s per chip, 0 where it cannot run [tokens/s]
    stream_usable: np.ndarray  # (stream, pool) bool
    stream_best: np.ndarray  # (stream,) its best rate on any chip it may use [tokens/s]
    stream_chips: np.ndarray  # (sample, period, stream, pool)
    stream_busy: np.ndarray  # (sample, period, stream, pool)
    stream_capacity: np.ndarray  # (sample, period, stream) [tokens/s]
    stream_need: np.ndarray  # (sample, period, stream) [tokens/s]
    stream_limit: np.ndarray  # (sample, period, stream) LIMITS code
    pooled_peak: np.ndarray  # (sample, period)
    lent: np.ndarray  # (sample, period, pool)
    demand_tokens: np.ndarray  # (sample, period, stream)
    served_tokens: np.ndarray  # (sample, period, stream)
    run_chips: np.ndarray  # (sample, period, run)
    run_busy: np.ndarray  # (sample, period, run)
    run_share: np.ndarray  # (sample, period, run)
    run_rate: np.ndarray  # (sample, period, run) [tokens/s]
    run_reason: np.ndarray  # (sample, period, run)
    run_progress: np.ndarray  # (sample, period, run) [tokens]
    run_pool: np.ndarray  # (sample, period, run), -1 when it does not train
    last_pool: np.ndarray  # (sample, run) where each run last trained, -1 before it starts
    run_start: np.ndarray  # (sample, run) [period]
    run_finish: np.ndarray  # (sample, run) [period]
    moved: np.ndarray  # (sample, run) restarts on another pool
    remaining: np.ndarray  # (sample, run) tokens left to train
    #: (period, pool) inference order of each period where the roadmap has inference-only
    #: generations (:func:`gigawatt.fleet.serving_order.inference_orders`); None: ``inference_order``
    inference_orders: np.ndarray | None = None
    demand_scale: np.ndarray | None = None  # (sample, period, stream) inference demand over the scenario's [1]
    throughput_factor: np.ndarray | None = None  # (sample, chip) throughput over the performance model's [1]
    group_factor: np.ndarray | None = None  # (group, pool) the throughput factor of each group this period [1]
    distinct: bool = False  # every sample has its own throughput factors, so each is its own group
    detail: bool = True  # record the diagnostics, not only the outcomes
    backfill_rows: np.ndarray | None = None  # (group,) where a run looks for chips after inference this period
    #: (pool,) pools whose free chips may rise from one ranked hour to the next (a run took some for its first
    #: hours); None: any pool may. Inference leaves the fewest chips idle in the busiest hours, so the others fall.
    uneven: np.ndarray | None = None

    @classmethod
    def start(cls, fleet: Fleet, workloads: Workloads, throughput: Throughput,
              alloc: Allocation | None = None) -> "_State":
        """Empty arrays for the fleet's samples and periods, and the per-pool constants."""
        n_s, n_t, n_i, n_c = fleet.installed.shape
        n_p = n_i * n_c
        pool_chip = np.tile(np.arange(n_c), n_i)
        runs, streams = workloads.runs, workloads.streams
        n_w, n_r = len(streams), len(runs)
        alloc = alloc if alloc is not None else Allocation(training_reserve=np.zeros(n_t),
                                                           inference_reserve=np.zeros(n_t))
        # inference takes the oldest generations first, keeping the newest for training
        avail = [c.available for c in fleet.chips]
        order = np.array(sorted(range(n_p), key=lambda p: (avail[pool_chip[p]], p // n_c)))
        rates = throughput.inference_output_tokens_per_chip_s  # (stream, chip)
        allowed = np.array([s.allowed for s in streams], dtype=bool).reshape(n_w, n_c)
        usable_c = allowed & np.isfinite(rates) & (np.nan_to_num(rates) > 0)
        only = _inference_only_orders(fleet, streams, order, pool_chip, rates, usable_c)
        return cls(
            throughput=throughput, alloc=alloc, runs=runs, streams=streams, period_s=fleet.period_s,
            months=fleet.periods.month if fleet.periods is not None else np.zeros(n_t, dtype=int),
            installed=fleet.installed.reshape(n_s, n_t, n_p), pool_chip=pool_chip, inference_order=order,
            training_order=only.get("training_order", order[::-1].copy()),
            max_cluster=np.array([c.max_chips_per_run for c in fleet.chips], dtype=float),
            peaks=[_peak_sizes(throughput, r, pool_chip, run.min_chips) for r, run in enumerate(runs)],
            stream_rates=np.where(usable_c, np.nan_to_num(rates), 0.0)[:, pool_chip],
            stream_usable=usable_c[:, pool_chip],
            stream_best=np.where(usable_c, np.nan_to_num(rates), 0.0).max(axis=1, initial=0.0),
            stream_chips=np.zeros((n_s, n_t, n_w, n_p)), stream_busy=np.zeros((n_s, n_t, n_w, n_p)),
            stream_capacity=np.zeros((n_s, n_t, n_w)), stream_need=np.zeros((n_s, n_t, n_w)),
            stream_limit=np.zeros((n_s, n_t, n_w), dtype=np.int8), pooled_peak=np.ones((n_s, n_t)),
            lent=np.zeros((n_s, n_t, n_p)),
            demand_tokens=np.zeros((n_s, n_t, n_w)), served_tokens=np.zeros((n_s, n_t, n_w)),
            run_chips=np.zeros((n_s, n_t, n_r)), run_busy=np.zeros((n_s, n_t, n_r)),
            run_share=np.zeros((n_s, n_t, n_r)), run_rate=np.full((n_s, n_t, n_r), np.nan),
            run_reason=np.full((n_s, n_t, n_r), BEFORE_START, dtype=np.int8),
            run_progress=np.zeros((n_s, n_t, n_r)), run_pool=np.full((n_s, n_t, n_r), -1, dtype=int),
            last_pool=np.full((n_s, n_r), -1, dtype=int),
            run_start=np.full((n_s, n_r), np.nan), run_finish=np.full((n_s, n_r), np.nan),
            moved=np.zeros((n_s, n_r), dtype=int),
            remaining=np.tile(np.array([r.tokens for r in runs], dtype=float), (n_s, 1)),
            inference_orders=only.get("inference_orders"),
        )


def _inference_only_orders(fleet: Fleet, streams, order, pool_chip, rates, usable) -> dict:
    """With generations the roadmap marks ``use: inference``: inference takes their pools first, the
    cheapest per output token first, and training's reserve never holds them; with
    ``demand.inference_order: cheapest``, every pool the cheapest per token first
    (:mod:`gigawatt.fleet.serving_order`); an empty dict (the engine's order) otherwise."""
    from gigawatt.fleet import serving_order as so

    only = np.array([getattr(c, "use", "any") == "inference" for c in fleet.chips], dtype=bool)
    cheapest = getattr(getattr(fleet.inputs, "demand", None), "inference_order", "oldest") == "cheapest"
    if not (only.any() or cheapest):
        return {}
    mean_out = np.array([s.tokens_per_day * s.output_share / SECONDS_PER_DAY for s in streams]).reshape(
        len(streams), -1).T if streams else np.zeros((len(fleet.period_s), 0))
    cost = so.cost_per_token_usd(fleet.price_usd_per_chip_h, np.nan_to_num(rates), usable, mean_out)
    orders = so.cheapest_orders if cheapest else so.inference_orders
    return {"inference_orders": orders(order, pool_chip, only, cost),
            "training_order": so.training_order(order, pool_chip, only)}


def _groups(state: _State, t: int):
    """Samples in the same state in period ``t``: one representative each, and each sample's group.

    Returns
    -------
    reps : ndarray of int, (group,)
        A sample of each group.
    inv : ndarray of int, (sample,)
        The group of each sample.

    Notes
    -----
    The engine's decisions in a period depend only on the chips installed, the
    pool each run last trained on and which runs have work left; failures make
    samples differ only through the last two, so most periods have one group.
    """
    n_s = state.installed.shape[0]
    if n_s == 1:
        return np.zeros(1, dtype=int), np.zeros(1, dtype=int)
    if state.distinct:  # samples whose draws differ in a continuous input are never in one state
        every = np.arange(n_s)
        return every, every
    parts = [state.installed[:, t, :], state.last_pool.astype(float), (state.remaining > 0).astype(float)]
    if state.demand_scale is not None:
        parts.append(state.demand_scale[:, t, :])
    if state.throughput_factor is not None:
        parts.append(state.throughput_factor)
    key = np.concatenate(parts, axis=1)
    if (key == key[0]).all():
        return np.zeros(1, dtype=int), np.zeros(n_s, dtype=int)
    _, reps, inv = np.unique(key, axis=0, return_index=True, return_inverse=True)
    return reps, inv.reshape(-1)


def _step(state: _State, t: int, policy, rng: np.random.Generator, settings) -> None:
    """One period: reserves, runs with priority, inference, then the other runs on what is left over the day.

    Parameters
    ----------
    state : _State
        Receives every array of period ``t``.
    t : int
        Period index.
    policy : callable
        ``policy(runs, t) -> order`` (:mod:`gigawatt.fleet.policies`).
    rng : numpy.random.Generator
        For the interruptions of :func:`gigawatt.fleet.reliability.sample_goodput`.
    settings : Demand
        Checkpoint interval and restart time.

    Notes
    -----
    Decisions are made per group of samples (:func:`_groups`) on the chips free
    in each hour of the day, ``F`` of shape ``(hour, group, pool)``, hours ranked
    from the least inference load (:data:`gigawatt.fleet.policies.LOAD_ORDER`);
    without backfill there is one "hour", the whole day.
    """
    alloc = state.alloc
    if state.inference_orders is not None:  # inference-only pools first, cheapest per token first
        state.inference_order = state.inference_orders[t]
    reps, inv = _groups(state, t)
    if state.throughput_factor is not None:
        state.group_factor = state.throughput_factor[reps][:, state.pool_chip]
    inst = state.installed[reps, t, :]  # (u, p)
    total = inst.sum(axis=1)
    res_t = pol.carve(inst, np.ceil(alloc.training_reserve[t] * total), state.training_order)
    res_i = pol.carve(inst, np.ceil(alloc.inference_reserve[t] * total), state.inference_order)
    here = state.last_pool[reps]  # (u, r)
    active = state.remaining[reps] > 0  # (u, r)
    order = [int(r) for r in policy(state.runs, t) if t >= state.runs[r].start]
    for r in range(len(state.runs)):
        if t >= state.runs[r].start:
            state.run_reason[:, t, r] = np.where(active[inv, r], TRAINED, DONE)
    first = [r for r in order if alloc.goes_first(state.runs[r], int(state.months[t]))]
    placed = np.zeros(active.shape, dtype=bool)
    free = inst.copy()
    taken_first = np.zeros_like(inst)
    if first:  # runs with priority take chips for the whole day before inference
        F = (free - res_i)[None].copy()
        for r in first:
            if active[:, r].any():
                placed[:, r] = _train_one(state, t, r, F, active[:, r], here[:, r], inv, rng, settings)
        taken_first = (free - res_i) - F[0]
        free = free - taken_first
    res_t_left = np.maximum(res_t - taken_first, 0.0)
    serve = _serve_pooled if alloc.pooled else _serve_legacy
    # the groups where a run still looks for chips: inference's idle hours are wanted there alone
    state.backfill_rows = np.logical_or.reduce([active[:, r] & ~placed[:, r] for r in order]) if order else (
        np.zeros(len(reps), dtype=bool))
    held, idle = serve(state, t, np.maximum(free - res_t_left, 0.0), reps, inv, res_t_left, taken_first)
    free = free - held
    base = np.maximum(free - np.maximum(res_i - held, 0.0), 0.0)  # chips free all day, outside inference's reserve
    F = base[None] + idle.transpose(2, 0, 1) if idle is not None else base[None].copy()
    state.uneven = np.zeros(F.shape[2], dtype=bool)
    F0 = F.copy() if state.detail else None
    for r in order:
        todo = active[:, r] & ~placed[:, r]
        if todo.any():
            placed[:, r] |= _train_one(state, t, r, F, todo, here[:, r], inv, rng, settings)
    state.uneven = None
    if not state.detail:
        return
    if idle is not None:  # training on chips inference holds for its peak, averaged over the day
        state.lent[:, t] = np.maximum((F0 - F) - base[None], 0.0).mean(axis=0)[inv]
    for r in order:
        miss = active[:, r] & ~placed[:, r]
        if miss.any():
            code = _reason(state, r, inst, res_i, F0, r in first, taken_first)
            state.run_reason[:, t, r] = np.where(miss[inv], code[inv], state.run_reason[:, t, r])


def _reason(state: _State, r: int, inst, res_i, F0, went_first: bool, taken_first) -> np.ndarray:
    """Why run ``r`` got no chips, per group: NO_POOL, RESERVE, INFERENCE or RUNS_AHEAD.

    The first test that fails names the reason: no pool has its minimum chips
    installed; none has them outside inference's reserve; none had them after
    inference (a run that went before inference, or came after runs that did,
    lost them to those runs instead).
    """
    n_u = inst.shape[0]
    run = state.runs[r]
    size_p, rate_p = state.peaks[r]
    cap_p = np.minimum(run.max_chips, state.max_cluster[state.pool_chip])
    can = run.allowed[state.pool_chip] & (size_p > 0) & np.isfinite(rate_p) & (cap_p >= run.min_chips)

    def fits(F):  # some pool has its minimum chips through some stretch of hours worth training in
        n_h = F.shape[0]
        hours = np.arange(1, n_h + 1)
        worth = hours / n_h - np.where(hours < n_h, state.alloc.lost_h_per_preemption / 24.0, 0.0) > 0
        # the chips free through k hours fall with k and the hours worth it are the longest stretches,
        # so the shortest stretch worth training in decides
        most = F[:int(np.argmax(worth)) + 1].min(axis=0)  # (u, p)
        return ((most >= run.min_chips) & can[None, :]).any(axis=1)

    code = np.full(n_u, RUNS_AHEAD, dtype=np.int8)
    fits_installed = fits(inst[None].astype(float))
    fits_outside = fits((inst - res_i)[None])
    code[~fits_outside] = RESERVE
    code[~fits_installed] = NO_POOL
    if not went_first:
        after = ~fits(F0) & fits_outside
        by_inference = after & (taken_first.sum(axis=1) == 0)
        code[by_inference] = INFERENCE
    return code


def _serve_legacy(state: _State, t: int, avail: np.ndarray, reps, inv, res_t_left, taken_first):
    """Each inference stream sized on its own peak, one stream after another (``allocation: legacy``).

    Parameters
    ----------
    state : _State
        Receives the streams' chips, capacity, need, limits, demand and served tokens of period ``t``.
    t : int
        Period index.
    avail : ndarray, (group, pool)
        Chips inference may take [1].
    reps, inv : ndarray
        The groups of :func:`_groups`.
    res_t_left, taken_first : ndarray, (group, pool)
        Unused here (no reserve, no priority under ``legacy``).

    Returns
    -------
    held : ndarray, (group, pool)
        Chips the streams took [1].
    idle : None
        No backfill.

    Notes
    -----
    A stream of :math:`D` tokens a day with output share :math:`o` has a mean
    output rate :math:`\\bar r = D\\,o / 86400` [tokens/s] and is sized for its
    peak :math:`P\\,\\bar r` (:func:`_take_for_stream`). Of the period's
    :math:`D\\,\\Delta t / 86400` tokens it serves the share
    :func:`served_fraction` of its capacity.
    """
    days = state.period_s[t] / SECONDS_PER_DAY
    n_u = avail.shape[0]
    free = avail.copy()
    weights, peaks, served_u, capacity_u = [], [], [], []
    scaled = state.demand_scale is not None
    for w, stream in enumerate(state.streams):
        per_day = stream.tokens_per_day[t] * state.demand_scale[reps, t, w] if scaled else stream.tokens_per_day[t]
        mean_out = per_day * stream.output_share / SECONDS_PER_DAY  # output tokens/s
        need = np.broadcast_to(mean_out * stream.peak_to_mean, (n_u,)).astype(float)
        capacity, take = _take_for_stream(state, w, need, free)
        state.stream_chips[:, t, w] = take[inv]
        state.stream_busy[:, t, w] = take[inv]
        state.stream_capacity[:, t, w] = capacity[inv]
        state.stream_need[:, t, w] = need[inv] if scaled else mean_out * stream.peak_to_mean
        state.demand_tokens[:, t, w] = (per_day * days)[inv] if scaled else per_day * days
        served = served_fraction(capacity, mean_out, stream.peak_to_mean)
        state.served_tokens[:, t, w] = state.demand_tokens[:, t, w] * served[inv]
        served_u.append(served)
        capacity_u.append(capacity)
        weights.append(mean_out / state.stream_best[w] if state.stream_best[w] > 0 else 0.0 * mean_out)
        peaks.append(stream.peak_to_mean)
    if state.streams and scaled:
        state.pooled_peak[:, t] = pol.pooled_profiles(np.stack(weights, axis=1), peaks)[1][inv]
    elif state.streams:
        state.pooled_peak[:, t] = pol.pooled_profile(weights, peaks)[1]
        state.stream_limit[:, t] = _limit_codes(state, np.stack(served_u, axis=1), np.stack(capacity_u, axis=1),
                                                avail, None, None)[inv]
    return avail - free, None


def _take_for_stream(state: _State, w: int, need: np.ndarray, free: np.ndarray):
    """Chips stream ``w`` takes, pool by pool in inference order, until its need is covered.

    Parameters
    ----------
    state : _State
    w : int
        Stream index.
    need : ndarray, (group,)
        Output rate to cover [tokens/s].
    free : ndarray, (group, pool)
        Chips not yet taken [1]; updated in place.

    Returns
    -------
    capacity : ndarray, (group,)
        Serving capacity taken [tokens/s].
    take : ndarray, (group, pool)
        Chips taken [1].

    Notes
    -----
    On pool :math:`p` of per-chip rate :math:`r_p` with :math:`f_p` chips free,
    holding capacity :math:`C` already, the stream takes
    :math:`\\min(f_p, \\lceil \\max(N - C, 0) / r_p \\rceil)` chips. Pools whose
    chip the stream may not use, or cannot serve it on, are skipped.
    """
    stream = state.streams[w]
    rates = state.throughput.inference_output_tokens_per_chip_s[w]  # (chip,) [tokens/s]
    capacity = np.zeros(len(need))
    taken = np.zeros_like(free)
    for p in state.inference_order:
        c = state.pool_chip[p]
        rate = rates[c]
        if not stream.allowed[c] or not np.isfinite(rate) or rate <= 0:
            continue
        take = np.minimum(free[:, p], np.ceil(np.maximum(need - capacity, 0.0) / rate))
        taken[:, p] = take
        free[:, p] -= take
        capacity += take * rate
    return capacity, taken


def _serve_pooled(state: _State, t: int, avail: np.ndarray, reps, inv, res_t_left, taken_first):
    """The inference streams sized together on their pooled peak (``allocation: pooled``).

    Parameters
    ----------
    state : _State
        Receives the streams' chips, busy chips, capacity, need, limits, demand
        and served tokens, and the pooled peak, of period ``t``.
    t : int
        Period index.
    avail : ndarray, (group, pool)
        Chips inference may take [1].
    reps, inv : ndarray
        The groups of :func:`_groups`.
    res_t_left, taken_first : ndarray, (group, pool)
        Chips still held in training's reserve, and chips taken by runs that
        went first [1]: what limited a short stream.

    Returns
    -------
    held : ndarray, (group, pool)
        Chips the streams hold [1].
    idle : ndarray, (group, pool, 24) or None
        Chips they leave idle through each hour of the day, hours ranked from
        the least loaded (:func:`gigawatt.fleet.policies.idle_by_hour`); None without backfill.

    Notes
    -----
    Stream :math:`w` has mean output rate :math:`\\bar r_w` and weighs
    :math:`m_w = \\bar r_w / \\rho_w` chips in the pool (:math:`\\rho_w` its best
    rate per chip). The pooled profile :math:`S` (:func:`gigawatt.fleet.policies.pooled_profile`)
    has peak :math:`P`; each stream is sized for :math:`N_w = P\\,\\bar r_w` and
    the pools are shared pro rata (:func:`gigawatt.fleet.policies.pooled_take`).
    With capacity :math:`C_w` it serves :math:`\\overline{\\min(\\bar r_w S, C_w)} / \\bar r_w`
    of its tokens, and its load fills its pools in inference order over the day
    (:func:`gigawatt.fleet.policies.serving_busy`), so the last pools empty first off-peak.
    """
    days = state.period_s[t] / SECONDS_PER_DAY
    streams = state.streams
    n_u, n_p = avail.shape
    if not streams:
        return np.zeros_like(avail), (np.zeros((n_u, n_p, pol.HOURS)) if state.alloc.backfill else None)
    per_day = np.array([s.tokens_per_day[t] for s in streams])
    if state.demand_scale is not None:
        return _serve_pooled_scaled(state, t, avail, reps, inv, res_t_left, taken_first, per_day, days)
    mean_out = per_day * np.array([s.output_share for s in streams]) / SECONDS_PER_DAY  # (w,) [tokens/s]
    weights = np.where(state.stream_best > 0, mean_out / np.where(state.stream_best > 0, state.stream_best, 1.0), 0.0)
    profile, peak = pol.pooled_profile(weights, [s.peak_to_mean for s in streams], state.alloc.coincidence)
    need = peak * mean_out
    chips = pol.pooled_take(avail, need, state.stream_rates, state.stream_usable, state.inference_order)
    capacity = (chips * state.stream_rates[None]).sum(axis=-1)  # (u, w)
    load = np.minimum(mean_out[None, :, None] * profile[None, None, :], capacity[..., None])  # (u, w, 96)
    with np.errstate(invalid="ignore", divide="ignore"):
        served = np.where(mean_out[None, :] > 0, load.mean(axis=-1) / mean_out[None, :], 1.0)
    busy, idle = pol.serving_busy(chips, state.stream_rates, mean_out, profile, capacity, state.inference_order,
                                  hours=state.alloc.backfill, mean=state.detail, rows=state.backfill_rows)
    state.demand_tokens[:, t] = per_day[None, :] * days
    state.served_tokens[:, t] = state.demand_tokens[:, t] * served[inv]
    if state.detail:
        state.stream_chips[:, t] = chips[inv]
        state.stream_busy[:, t] = busy[inv]
        state.stream_capacity[:, t] = capacity[inv]
        state.stream_need[:, t] = need[None, :]
        state.pooled_peak[:, t] = peak
        state.stream_limit[:, t] = _limit_codes(state, served, capacity, avail, res_t_left, taken_first)[inv]
    return chips.sum(axis=1), idle


def _serve_pooled_scaled(state: _State, t: int, avail, reps, inv, res_t_left, taken_first, per_day, days):
    """:func:`_serve_pooled` where each group of samples has its own demand (``state.demand_scale``).

    The same arithmetic with the streams' mean rates of shape ``(group, stream)``
    and one pooled profile per group (:func:`gigawatt.fleet.policies.pooled_profiles`).
    """
    streams = state.streams
    per_day_u = per_day[None, :] * state.demand_scale[reps, t, :]  # (u, w)
    mean_out = per_day_u * np.array([s.output_share for s in streams])[None, :] / SECONDS_PER_DAY  # (u, w) [tokens/s]
    if state.group_factor is not None:
        rates = state.stream_rates[None] * state.group_factor[:, None, :]  # (u, w, p)
        best = rates.max(axis=-1, initial=0.0)
    else:
        rates, best = state.stream_rates, state.stream_best[None, :]
    weights = np.where(best > 0, mean_out / np.where(best > 0, best, 1.0), 0.0)
    profile, peak = pol.pooled_profiles(weights, [s.peak_to_mean for s in streams], state.alloc.coincidence)
    need = peak[:, None] * mean_out  # (u, w)
    chips = pol.pooled_take(avail, need, rates, state.stream_usable, state.inference_order)
    capacity = (chips * (rates if rates.ndim == 3 else rates[None])).sum(axis=-1)  # (u, w)
    load = np.minimum(mean_out[:, :, None] * profile[:, None, :], capacity[..., None])  # (u, w, 96)
    with np.errstate(invalid="ignore", divide="ignore"):
        served = np.where(mean_out > 0, load.mean(axis=-1) / np.where(mean_out > 0, mean_out, 1.0), 1.0)
    busy, idle = pol.serving_busy(chips, rates, mean_out, profile, capacity, state.inference_order,
                                  hours=state.alloc.backfill, mean=state.detail, rows=state.backfill_rows)
    state.demand_tokens[:, t] = (per_day_u * days)[inv]
    state.served_tokens[:, t] = state.demand_tokens[:, t] * served[inv]
    if state.detail:
        state.stream_chips[:, t] = chips[inv]
        state.stream_busy[:, t] = busy[inv]
        state.stream_capacity[:, t] = capacity[inv]
        state.stream_need[:, t] = need[inv]
        state.pooled_peak[:, t] = peak[inv]
        state.stream_limit[:, t] = _limit_codes(state, served, capacity, avail, res_t_left, taken_first)[inv]
    return chips.sum(axis=1), idle


def _limit_codes(state: _State, served, capacity, avail, res_t_left, taken_first) -> np.ndarray:
    """What limited each stream in each group, ``(group, stream)``: SERVED, CHIPS, TRAINING_RESERVE, TRAINING_FIRST or NO_CHIP.

    A short stream is limited by training's reserve where chips it could use
    were still held for training; else by training's priority where runs that
    went first took such chips; else by the chips (inference holds all it may
    use); NO_CHIP where no chip it can be served on is there at all.
    """
    usable = state.stream_usable.T.astype(float)  # (pool, stream)
    short = served < 1.0 - 1e-9
    code = np.where(short, CHIPS, SERVED).astype(np.int8)
    if res_t_left is not None:
        code[short & (taken_first @ usable > 0)] = TRAINING_FIRST
        code[short & (res_t_left @ usable > 0)] = TRAINING_RESERVE
    code[short & (capacity <= 0) & ((avail > 0) @ usable == 0)] = NO_CHIP
    return code


def _train_one(state: _State, t: int, r: int, F: np.ndarray, active: np.ndarray, here: np.ndarray, inv,
               rng: np.random.Generator, settings) -> np.ndarray:
    """Place run ``r`` on the chips ``F`` of each group, train it for the period, and take its chips from ``F``.

    Parameters
    ----------
    F : ndarray, (hour, group, pool)
        Chips free in each hour (ranked least loaded first) [1]; its chips are
        subtracted in place over the hours it runs.
    active : ndarray of bool, (group,)
        Groups where the run is to be placed.
    here : ndarray of int, (group,)
        Pool it trained on last, -1 before it starts.
    inv : ndarray of int, (sample,)
        The group of each sample.

    Returns
    -------
    ndarray of bool, (group,)
        Where it got chips.
    """
    pool, chips, rate, k = _place(state, r, F, active, here)
    go = chips > 0
    if not go.any():
        return go
    n_h = F.shape[0]
    rows = np.nonzero(go)[0]
    runs_then = np.arange(n_h)[:, None] < k[None, rows]  # (hour, group where it goes)
    F[:, rows, pool[rows]] -= np.where(runs_then, chips[None, rows], 0.0)
    if state.uneven is not None:
        state.uneven[pool[go & (k < n_h)]] = True
    _commit(state, t, r, pool[inv], chips[inv], rate[inv], k[inv], n_h, rng, settings)
    return go


def _place(state: _State, r: int, F: np.ndarray, active: np.ndarray, here: np.ndarray):
    """Where run ``r`` trains this period, on how many chips, at what rate per chip, for how many hours.

    Parameters
    ----------
    state : _State
    r : int
        Run index.
    F : ndarray, (hour, group, pool)
        Chips free in each hour of the day, hours ranked from the least
        inference load (one "hour", the whole day, without backfill) [1].
    active : ndarray of bool, (group,)
        Groups where the run has tokens left.
    here : ndarray of int, (group,)
        Pool it trained on last, -1 before it starts.

    Returns
    -------
    pool : ndarray of int, (group,)
        The pool, -1 where the run waits.
    chips : ndarray, (group,)
        Chips it takes there [1]; 0 where it waits.
    rate : ndarray, (group,)
        Tokens/s per chip there [tokens/s]; ``nan`` where it cannot train.
    hours : ndarray of int, (group,)
        How many of the ``H`` ranked hours it holds them (``H``: all day).

    Notes
    -----
    Holding the :math:`k` least loaded of :math:`H` hours, the run may take
    :math:`n_{pk} = \\min(\\min_{j \\le k} F_{pj}, N^{max}, N^{cluster}_c)` chips, sized
    by :func:`_choose_size`. It trains
    :math:`e_k = k/H - [k < H]\\,\\ell / 24` of the day, :math:`\\ell` the hours a
    preemption costs (half a checkpoint interval and a restart, once a day: the
    :math:`k` hours are one stretch around the trough of the daily profile). A
    choice qualifies with at least the run's minimum chips, a finite rate, a chip
    it may use and :math:`e_k > 0`, and scores :math:`n\\,r(n)\\,e_k`; each pool
    offers its best :math:`k`. ``legacy`` keeps the run where it trained last
    while that pool qualifies; ``pooled`` moves it when another pool trains it at
    least twice as fast (a move costs one restart). Otherwise it restarts from
    its checkpoint on the best pool, or waits.
    """
    n_u = F.shape[1]
    factor = state.group_factor
    run = state.runs[r]
    usable = run.allowed[state.pool_chip] & (np.minimum(run.max_chips, state.max_cluster[state.pool_chip])
                                             >= run.min_chips)
    # a group can place the run only where some pool it may use has its minimum free in the least loaded
    # hour (the most free of any hour): evaluate only the groups where the run is to be placed and can be
    can = active & (F[0][:, usable] >= run.min_chips).any(axis=1)
    if can.all():
        return _place_rows(state, r, F, active, here, factor)
    sub = np.nonzero(can)[0]
    pool, chips = np.full(n_u, -1), np.zeros(n_u)
    rate, hours = np.full(n_u, np.nan), np.ones(n_u, dtype=int)
    if sub.size:
        got = _place_rows(state, r, F[:, sub], active[sub], here[sub], None if factor is None else factor[sub])
        for out, part in zip((pool, chips, rate, hours), got):
            out[sub] = part
    return pool, chips, rate, hours


def _place_rows(state: _State, r: int, F: np.ndarray, active: np.ndarray, here: np.ndarray, factor):
    """:func:`_place` on the groups of ``F``; ``factor`` their throughput factor per pool, or None."""
    run = state.runs[r]
    pool_chip = state.pool_chip
    n_h, n_u, n_p = F.shape
    rows = np.arange(n_u)
    cap_p = np.minimum(run.max_chips, state.max_cluster[pool_chip])
    size_p, rate_p = state.peaks[r]
    # a pool qualifies only where some group has the run's minimum chips free in its least loaded hour
    # (the first ranked hour holds the most): the others score -1 and are not evaluated
    live = run.allowed[pool_chip] & (cap_p >= run.min_chips) & (F[0].max(axis=0) >= run.min_chips)
    idx = np.nonzero(live)[0]
    score_p = np.full((n_u, n_p), -1.0)
    k = np.zeros((n_u, n_p), dtype=int)  # each pool's best number of hours, less one
    if idx.size:
        avail = F[:, :, idx]  # (h, u, live pool): chips free through the k least loaded hours
        uneven = np.ones(idx.size, dtype=bool) if state.uneven is None else state.uneven[idx]
        if n_h > 1 and uneven.any():
            avail[:, :, uneven] = np.minimum.accumulate(avail[:, :, uneven], axis=0)
        np.minimum(avail, cap_p[idx], out=avail)
        hours = np.arange(1, n_h + 1)
        eff = hours / n_h - np.where(hours < n_h, state.alloc.lost_h_per_preemption / 24.0, 0.0)
        # a choice can qualify only where the run's minimum is free through hours worth training in, and
        # of the hours with as many chips free, the most hours train the most: the sizes and rates are
        # evaluated at the last hour of each such stretch alone
        last = np.ones(avail.shape, dtype=bool)
        np.not_equal(avail[:-1], avail[1:], out=last[:-1])
        last &= avail >= run.min_chips
        last &= (eff > 0)[:, None, None]
        at = np.flatnonzero(last)
        n_l = idx.size
        l_at, u_at, h_at = at % n_l, (at // n_l) % n_u, at // (n_l * n_u)
        cand, rate = _choose_size(state.throughput, r, pool_chip[idx][l_at], avail.ravel()[at],
                                  size_p[idx][l_at], rate_p[idx][l_at])
        if factor is not None:  # the performance model's error, drawn per sample
            rate *= factor[u_at, idx[l_at]]
        ok = (cand >= run.min_chips) & np.isfinite(rate)
        score = np.full(avail.shape, -1.0)
        score.ravel()[at] = np.where(ok, cand * np.where(ok, rate, 0.0) * eff[h_at], -1.0)
        k_l = np.argmax(score, axis=0)
        score_p[:, idx] = np.take_along_axis(score, k_l[None], axis=0)[0]
        k[:, idx] = k_l
    best = np.argmax(score_p, axis=1)
    here_score = score_p[rows, np.maximum(here, 0)]
    stay = (here >= 0) & (here_score > 0)
    if state.alloc.pooled:
        stay &= 2.0 * here_score >= score_p[rows, best]
    pool = np.where(stay, here, np.where(score_p[rows, best] > 0, best, -1))
    has = active & (pool >= 0)
    at = np.maximum(pool, 0)
    kk = k[rows, at]
    if not idx.size:
        return pool, np.zeros(n_u), np.full(n_u, np.nan), kk + 1
    column = np.full(n_p, -1)
    column[idx] = np.arange(idx.size)
    j = column[at]  # the chosen pool among the live ones, -1 where it is not one
    jj = np.maximum(j, 0)
    # the chosen size and rate, evaluated again at the choice
    cand, rate = _choose_size(state.throughput, r, pool_chip[idx][jj], avail[kk, rows, jj], size_p[idx][jj],
                              rate_p[idx][jj])
    if factor is not None:
        rate *= factor[rows, idx[jj]]
    chips = np.where(has & (j >= 0), cand, 0.0)
    chips = np.where(chips >= run.min_chips, chips, 0.0)
    return pool, chips, np.where(j >= 0, rate, np.nan), kk + 1


def _commit(state: _State, t: int, r: int, pool, chips, rate, hours, n_h: int, rng: np.random.Generator,
            settings) -> None:
    """Train run ``r`` in period ``t`` on the placement of each sample: start, move, goodput, progress.

    Parameters
    ----------
    pool, chips, rate, hours : ndarray, (sample,)
        From :func:`_place`, per sample.
    n_h : int
        Hours the day is ranked in (1: whole days).
    settings : Demand
        Checkpoint interval and restart time.

    Notes
    -----
    Holding :math:`k` of :math:`H` hours, a run of :math:`n` chips at :math:`r`
    tokens/s per chip with failure goodput :math:`g` over the hours it runs
    (:func:`gigawatt.fleet.reliability.sample_goodput`) and :math:`\\ell` hours
    lost to each daily preemption trains at
    :math:`n\\,r\\,\\max(g\\,k/H - [k<H]\\,\\ell/24,\\; 0)` tokens/s over the period (:func:`_advance`).
    """
    go = chips > 0
    _record_pool(state, t, r, pool, go)
    share = hours / n_h
    period_h = state.period_s[t] / SECONDS_PER_HOUR
    goodput = reliability.sample_goodput(rng, chips, period_h * share, settings.checkpoint_interval_s, settings.restart_s)
    lost = np.where(hours < n_h, state.alloc.lost_h_per_preemption / 24.0, 0.0)
    trains = np.maximum(share * goodput - lost, 0.0)
    tokens_per_s = chips * np.where(np.isfinite(rate), rate, 0.0) * trains
    state.run_share[:, t, r] = np.where(go, share, 0.0)
    state.run_rate[:, t, r] = np.where(go, rate, np.nan)
    _advance(state, t, r, chips, tokens_per_s, share)


def _record_pool(state: _State, t: int, r: int, pool: np.ndarray, go: np.ndarray) -> None:
    """Note where run ``r`` trains in period ``t`` where it goes: its start, and a move to another pool."""
    first = go & (state.last_pool[:, r] < 0)
    state.run_start[first, r] = t
    state.moved[go & (state.last_pool[:, r] >= 0) & (pool != state.last_pool[:, r]), r] += 1
    state.last_pool[go, r] = pool[go]
    state.run_pool[go, t, r] = pool[go]


def _advance(state: _State, t: int, r: int, chips: np.ndarray, tokens_per_s: np.ndarray, share=1.0) -> None:
    """Train run ``r`` for period ``t``: tokens done, a finish within the period, chips busy.

    Parameters
    ----------
    state : _State
        Receives ``run_progress``, ``run_busy``, ``run_chips`` of period ``t`` and
        the run's ``remaining`` and ``run_finish``.
    t, r : int
        Period and run index.
    chips : ndarray, (sample,)
        Chips it trains on [1]; 0 where it waits.
    tokens_per_s : ndarray, (sample,)
        Its training rate over the period, after goodput and preemptions [tokens/s].
    share : float or ndarray, (sample,)
        Share of the day it holds its chips [1].

    Notes
    -----
    With :math:`R` tokens left, a run needs :math:`R / (n\\,r\\,g)` seconds and
    uses :math:`u = \\min(R / (n\\,r\\,g), \\Delta t)` of the period: it finishes
    at :math:`t + u / \\Delta t` when :math:`u < \\Delta t` or exactly at the end,
    trains :math:`n\\,r\\,g\\,u` tokens and counts :math:`s\\,n\\,u / \\Delta t` chips
    busy, :math:`s` its share of the day.
    """
    go = chips > 0
    period_s = state.period_s[t]
    remaining = state.remaining[:, r]
    # a run that finishes mid-month uses its chips only for the part of the month it needs
    needed_s = np.where(tokens_per_s > 0, remaining / np.maximum(tokens_per_s, 1e-30), np.inf)
    used_s = np.where(go, np.minimum(needed_s, period_s), 0.0)
    done = go & (needed_s <= period_s)
    progress_tokens = tokens_per_s * used_s
    state.run_progress[:, t, r] = progress_tokens
    state.remaining[:, r] = np.where(go, remaining - progress_tokens, remaining)
    state.remaining[done, r] = 0.0
    state.run_finish[done, r] = t + used_s[done] / period_s
    # chips count as busy for the share of the month they train
    state.run_busy[:, t, r] = np.where(go, chips * used_s / period_s * share, 0.0)
    state.run_chips[:, t, r] = chips


def _simulation(state: _State, fleet: Fleet, workloads: Workloads, settings) -> Simulation:
    """The engine's result, with the IT power drawn between idle and full power.

    Parameters
    ----------
    settings : Demand
        Its ``idle_power_fraction``, the power an idle chip draws as a share of its full power [1].

    Notes
    -----
    .. math:: P^{drawn} = P^{IT} \\big(i + (1 - i)\\,u\\big)

    with :math:`u` the utilization (:meth:`Simulation.utilization`).
    """
    n_s, n_t, n_i, n_c = fleet.installed.shape
    idle = settings.idle_power_fraction
    sim = Simulation(
        fleet=fleet, workloads=workloads, stream_chips=state.stream_chips, run_chips=state.run_chips,
        run_busy=state.run_busy, moves=state.moved, run_pool=state.run_pool, run_progress=state.run_progress,
        run_finish=state.run_finish, run_start=state.run_start, demand_tokens=state.demand_tokens,
        served_tokens=state.served_tokens, power_drawn_w=np.zeros((n_s, n_t, n_i, n_c)), idle_power_fraction=idle,
        throughput=state.throughput, allocation=state.alloc, stream_busy=state.stream_busy,
        stream_capacity=state.stream_capacity, stream_need=state.stream_need, stream_limit=state.stream_limit,
        pooled_peak=state.pooled_peak, lent=state.lent if state.alloc.pooled else None, run_share=state.run_share,
        run_rate=state.run_rate, run_reason=state.run_reason, run_peaks=state.peaks,
        reliability_s=(settings.checkpoint_interval_s, settings.restart_s),
    )
    if state.detail:
        sim.power_drawn_w = fleet.it_power_w() * (idle + (1.0 - idle) * sim.utilization())
    else:
        sim.power_drawn_w.fill(np.nan)
    return sim
