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

Inference is sized in :mod:`gigawatt.fleet.serving`, training runs are placed and
trained in :mod:`gigawatt.fleet.placement`; this module steps the periods and
groups the samples. What the engine reads and produces (:class:`~gigawatt.fleet.simulation.Throughput`,
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

from gigawatt.fleet import policies as pol
from gigawatt.fleet.buildout import Fleet
from gigawatt.fleet.demand import Workloads
from gigawatt.fleet.placement import peak_sizes, reason, train_one
from gigawatt.fleet.policies import daily_profile, get_policy
from gigawatt.fleet.serving import serve_legacy, serve_pooled, served_fraction
from gigawatt.fleet.simulation import (BEFORE_START, DONE, SECONDS_PER_DAY, TRAINED, Allocation, Simulation,
                                       Throughput)

__all__ = ["daily_profile", "served_fraction", "simulate"]
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
    (:func:`~gigawatt.fleet.placement.train_one` on chips free all day), sizes inference
    (:func:`~gigawatt.fleet.serving.serve_pooled` or :func:`~gigawatt.fleet.serving.serve_legacy`), places the other runs on
    what is left over the day (:func:`~gigawatt.fleet.placement.place`, :func:`~gigawatt.fleet.placement.commit`,
    :func:`~gigawatt.fleet.placement.advance`) and records why a run waits (:func:`~gigawatt.fleet.placement.reason`);
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
    peaks: list  # per run, (size, rate) over pools from peak_sizes
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
            peaks=[peak_sizes(throughput, r, pool_chip, run.min_chips) for r, run in enumerate(runs)],
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
                placed[:, r] = train_one(state, t, r, F, active[:, r], here[:, r], inv, rng, settings)
        taken_first = (free - res_i) - F[0]
        free = free - taken_first
    res_t_left = np.maximum(res_t - taken_first, 0.0)
    serve = serve_pooled if alloc.pooled else serve_legacy
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
            placed[:, r] |= train_one(state, t, r, F, todo, here[:, r], inv, rng, settings)
    state.uneven = None
    if not state.detail:
        return
    if idle is not None:  # training on chips inference holds for its peak, averaged over the day
        state.lent[:, t] = np.maximum((F0 - F) - base[None], 0.0).mean(axis=0)[inv]
    for r in order:
        miss = active[:, r] & ~placed[:, r]
        if miss.any():
            code = reason(state, r, inst, res_i, F0, r in first, taken_first)
            state.run_reason[:, t, r] = np.where(miss[inv], code[inv], state.run_reason[:, t, r])


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
