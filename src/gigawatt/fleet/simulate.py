"""The time-stepped fleet engine: inference first, then training, month by month.

Each period, on the chips the buildout installed:

1. every inference stream is sized for its peak: it takes chips, oldest
   generation first (the newest are kept for training), until its peak output
   rate is covered or no chip is left; the share of its tokens served follows
   from the capacity and the daily cycle (:func:`served_fraction`);
2. the chips left go to training runs in the order of the policy (earliest
   deadline first by default, :mod:`gigawatt.fleet.policies`). A run needs all
   its chips in one pool, one site and one generation: it starts on the pool
   where it gets the most throughput and stays there; a run that cannot get its
   minimum chips waits. Progress counts goodput (:mod:`gigawatt.fleet.reliability`);
3. power drawn follows utilization between idle and full power; energy and
   spend accumulate.

Arrays keep the architecture's axis order ``(sample, period, site, chip,
workload)``; the sample axis carries independent draws of failures, so a
Monte Carlo run is this function on a wider array, not a loop around it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from gigawatt import power as pw
from gigawatt.economics.buyer import SECONDS_PER_HOUR
from gigawatt.fleet import reliability
from gigawatt.fleet.buildout import Fleet
from gigawatt.fleet.demand import Workloads
from gigawatt.fleet.policies import get_policy

__all__ = ["Simulation", "Throughput", "served_fraction", "simulate"]

_PHASE = np.sin(2 * np.pi * np.arange(96) / 96)  # the daily cycle in quarter-hours
#: the day of ``tokens_per_day`` and of the daily cycle [s]
SECONDS_PER_DAY = 86400.0


@functools.lru_cache(maxsize=64)
def _profile(peak_to_mean: float) -> np.ndarray:
    return daily_profile(peak_to_mean)


def daily_profile(peak_to_mean: float) -> np.ndarray:
    """Demand over a day relative to its mean: mean 1, maximum ``peak_to_mean``, never negative.

    Notes
    -----
    The von Mises shape :math:`s(\\tau) = e^{\\beta \\sin 2\\pi\\tau} / I_0(\\beta)` has mean 1
    and peak :math:`e^{\\beta} / I_0(\\beta)`; :math:`\\beta` is solved for the asked peak.

    Examples
    --------
    >>> p = daily_profile(2.5)
    >>> round(float(p.mean()), 3), round(float(p.max()), 2), bool(p.min() > 0)
    (1.0, 2.5, True)
    """
    if peak_to_mean <= 1.0:
        return np.ones_like(_PHASE)
    lo, hi = 0.0, 50.0
    for _ in range(60):  # bisection: exp(b) / I0(b) grows with b
        mid = 0.5 * (lo + hi)
        if np.exp(mid) / np.i0(mid) < peak_to_mean:
            lo = mid
        else:
            hi = mid
    shape = np.exp(lo * _PHASE)
    return shape / shape.mean()


@dataclass
class Throughput:
    """Per-chip throughput of each workload on each chip, from the performance layer.

    Attributes
    ----------
    training_tokens_per_chip_s : ndarray, (run, chip, bucket)
        Training tokens per second per chip for a job of ``bucket_chips[b]``
        chips; ``nan`` where the run cannot run on that chip at that size (it
        does not fit, is not allowed, or the size was not evaluated).
    inference_output_tokens_per_chip_s : ndarray, (stream, chip)
        Output tokens per second per chip serving the stream's request mix
        within its latency targets; ``nan`` where it cannot be served.
    notes : list of str
        Why a cell is ``nan``, and other caveats.
    """

    training_tokens_per_chip_s: np.ndarray
    inference_output_tokens_per_chip_s: np.ndarray
    notes: list
    bucket_chips: np.ndarray  # (bucket,) job sizes of the training table [1]

    def training_rate(self, run: int, chip, chips):
        """Tokens/s per chip of ``run`` on ``chip`` (index, per sample) with ``chips`` chips.

        Interpolates in log2 of the job size between the evaluated sizes around
        ``chips``; ``nan`` below the smallest evaluated size.
        """
        table = self.training_tokens_per_chip_s[run]  # (chip, bucket)
        n = np.maximum(np.asarray(chips, dtype=float), 1.0)
        b = np.searchsorted(self.bucket_chips, n, side="right") - 1
        b = np.clip(b, 0, len(self.bucket_chips) - 1)
        lo = table[chip, b]
        hi = table[chip, np.minimum(b + 1, len(self.bucket_chips) - 1)]
        # between two evaluated sizes, interpolate in log2 of the job size
        frac = np.clip(np.log2(n / self.bucket_chips[b]), 0.0, 1.0)
        return np.where(np.isfinite(hi), lo + frac * (hi - lo), lo)


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
    profile = d * _profile(float(peak_to_mean))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.minimum(profile, c).mean(axis=-1) / d[..., 0]
    return np.where(d[..., 0] > 0, out, 1.0)


@dataclass
class Simulation:
    """What the engine produced; arrays are ``(sample, period, ...)``."""

    fleet: Fleet
    workloads: Workloads
    stream_chips: np.ndarray  # (sample, period, stream, pool) chips serving each stream
    run_chips: np.ndarray  # (sample, period, run) chips assigned to each run
    run_busy: np.ndarray  # (sample, period, run) chips x share of the period they trained
    moves: np.ndarray  # (sample, run) restarts on another pool after losing the pool it trained on
    run_pool: np.ndarray  # (sample, period, run) pool each run trains on, -1 when it does not
    run_progress: np.ndarray  # (sample, period, run) tokens trained in the period
    run_finish: np.ndarray  # (sample, run) finish time in periods from the horizon start (nan: not finished)
    run_start: np.ndarray  # (sample, run) period of the first month with chips (nan: never)
    demand_tokens: np.ndarray  # (sample, period, stream) tokens demanded in the period
    served_tokens: np.ndarray  # (sample, period, stream)
    power_drawn_w: np.ndarray  # (sample, period, site, chip)
    idle_power_fraction: float
    throughput: Throughput

    @property
    def n_pools(self) -> int:
        return self.fleet.installed.shape[2] * self.fleet.installed.shape[3]

    def allocated(self) -> np.ndarray:
        """Chips per workload, ``(sample, period, site, chip, workload)``: streams, then runs."""
        n_s, n_t, n_i, n_c = self.fleet.installed.shape
        n_w = len(self.workloads.streams) + len(self.workloads.runs)
        out = np.zeros((n_s, n_t, n_i * n_c, n_w))
        n_streams = len(self.workloads.streams)
        out[..., :n_streams] = np.moveaxis(self.stream_chips, 2, 3)
        s_idx, t_idx, r_idx = np.nonzero(self.run_pool >= 0)
        out[s_idx, t_idx, self.run_pool[s_idx, t_idx, r_idx], n_streams + r_idx] = self.run_busy[s_idx, t_idx, r_idx]
        return out.reshape(n_s, n_t, n_i, n_c, n_w)

    def busy_chips(self) -> np.ndarray:
        """Chips in use, ``(sample, period, site, chip)``."""
        n_s, n_t, n_i, n_c = self.fleet.installed.shape
        busy = self.stream_chips.sum(axis=2)  # (s, t, pool)
        s_idx, t_idx, r_idx = np.nonzero(self.run_pool >= 0)
        np.add.at(busy, (s_idx, t_idx, self.run_pool[s_idx, t_idx, r_idx]), self.run_busy[s_idx, t_idx, r_idx])
        return busy.reshape(n_s, n_t, n_i, n_c)

    def utilization(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            u = self.busy_chips() / self.fleet.installed
        return np.where(self.fleet.installed > 0, u, 0.0)

    def energy_drawn_j(self) -> np.ndarray:
        """Facility energy drawn, ``(sample, period, site, chip)`` [J]."""
        fac = pw.facility_power_w(self.power_drawn_w, self.fleet.pue[None, None, :, None])
        return pw.energy_j(fac, self.fleet.period_s[None, :, None, None])

    def training_flop(self) -> np.ndarray:
        """Training FLOP done per run, ``(sample, period, run)`` [FLOP]."""
        fpt = np.array([r.flop / r.tokens for r in self.workloads.runs])
        return self.run_progress * fpt

    def to_dataset(self):
        import xarray as xr

        names = self.workloads.names
        n_streams = len(self.workloads.streams)
        coords = {"workload": names}
        d5 = ("sample", "period", "site", "chip", "workload")
        d4 = ("sample", "period", "site", "chip")
        flop = np.zeros(self.run_chips.shape[:2] + (len(names),))
        flop[..., n_streams:] = self.training_flop()
        demand = np.zeros_like(flop)
        served = np.zeros_like(flop)
        demand[..., :n_streams] = self.demand_tokens
        served[..., :n_streams] = self.served_tokens
        return xr.Dataset(
            {
                "allocated": (d5, self.allocated(), {"units": "1", "long_name": "chips allocated to each workload"}),
                "utilization": (d4, self.utilization(), {"units": "1"}),
                "power_drawn_w": (d4, self.power_drawn_w, {"units": "W", "long_name": "IT power drawn"}),
                "energy_drawn_j": (d4, self.energy_drawn_j(), {"units": "J", "long_name": "facility energy drawn"}),
                "inference_demand_tokens": (("sample", "period", "workload"), demand, {"units": "1"}),
                "inference_served_tokens": (("sample", "period", "workload"), served, {"units": "1"}),
                "inference_unmet_tokens": (("sample", "period", "workload"), demand - served,
                                           {"units": "1", "long_name": "tokens demanded but not served within targets"}),
                "training_flop": (("sample", "period", "workload"), flop, {"units": "FLOP"}),
            },
            coords=coords,
        )

    def events(self, sample: int = 0) -> list[dict]:
        """One row per training run: where, on how many chips, when it started and finished."""
        fleet = self.fleet
        n_c = len(fleet.chips)
        starts = fleet.period_start
        days_per_period = fleet.period_s / SECONDS_PER_DAY
        horizon_end = starts[-1] + np.timedelta64(int(round(days_per_period[-1])), "D")
        rows = []
        for r, run in enumerate(self.workloads.runs):
            trained = np.nonzero(self.run_pool[sample, :, r] >= 0)[0]
            chips = self.run_chips[sample, :, r]
            row = {"name": run.name, "model": run.model, "chip": None, "site": None,
                   "chips": int(chips.max()) if chips.size else 0, "start": None, "finish": None,
                   "deadline": _month_end(run.deadline_month), "delay_days": None, "status": "waiting",
                   "moves": int(self.moves[sample, r])}
            if trained.size:
                pool = int(self.run_pool[sample, trained[-1], r])  # where it trained last
                row["site"] = fleet.sites[pool // n_c]
                row["chip"] = fleet.chips[pool % n_c].chip
                row["start"] = str(starts[int(self.run_start[sample, r])])
                row["status"] = "running" if trained[-1] == len(starts) - 1 else "paused"
            finish = self.run_finish[sample, r]
            if np.isfinite(finish):
                k = min(int(np.floor(finish)), len(starts) - 1)
                day = starts[k] + np.timedelta64(int(round((finish - k) * days_per_period[k])), "D")
                row["finish"] = str(day)
                row["status"] = "done"
                if run.deadline_month is not None:
                    row["delay_days"] = max(0, int((day - np.datetime64(row["deadline"])).astype(int)))
            elif row["deadline"] is not None and np.datetime64(row["deadline"]) < horizon_end:
                row["delay_days"] = int((horizon_end - np.datetime64(row["deadline"])).astype(int))  # at least this late
            rows.append(row)
        return rows

    def summary_dict(self, sample: int = 0) -> dict:
        """The simulation's part of ``gigawatt run --json``: training runs, inference, idle, unit costs."""
        fleet = self.fleet
        installed = fleet.installed[sample]
        busy = self.busy_chips()[sample]
        spend = fleet.spend_usd()[sample]  # (t, i, c)
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where((installed > 0)[..., None], self.allocated()[sample] / installed[..., None], 0.0)
        n_streams = len(self.workloads.streams)
        spend_w = (spend[..., None] * share).sum(axis=(0, 1, 2))  # per workload [USD]
        demand = self.demand_tokens[sample].sum()
        served = self.served_tokens[sample].sum()
        flop = self.training_flop()[sample].sum()
        chip_h = (installed * fleet.period_s[:, None, None] / SECONDS_PER_HOUR).sum()
        busy_h = (busy * fleet.period_s[:, None, None] / SECONDS_PER_HOUR).sum()
        years = fleet.periods.year
        per_year = []
        for y in np.unique(years):
            k = years == y
            d = self.demand_tokens[sample][k].sum()
            per_year.append({
                "year": int(y),
                "demand_tokens": float(d),
                "served_tokens": float(self.served_tokens[sample][k].sum()),
                "served_share": float(self.served_tokens[sample][k].sum() / d) if d > 0 else None,
                "idle_share": float(1 - (busy[k] * fleet.period_s[k, None, None]).sum()
                                    / max((installed[k] * fleet.period_s[k, None, None]).sum(), 1e-9)),
            })
        streams = []
        for w, s in enumerate(self.workloads.streams):
            dw = self.demand_tokens[sample][:, w].sum()
            sw = self.served_tokens[sample][:, w].sum()
            streams.append({"name": s.name, "model": s.model, "demand_tokens": float(dw), "served_tokens": float(sw),
                            "served_share": float(sw / dw) if dw > 0 else None,
                            "spend_usd": float(spend_w[w]),
                            "usd_per_million_tokens": float(spend_w[w] / sw * 1e6) if sw > 0 else None})
        inference_spend = float(spend_w[:n_streams].sum())
        training_spend = float(spend_w[n_streams:].sum())
        return {
            "training_runs": [
                {k: e[k] for k in ("name", "start", "finish", "chips", "chip", "site", "delay_days", "status", "deadline", "moves")}
                for e in self.events(sample)
            ],
            "inference": {
                "served_share": float(served / demand) if demand > 0 else None,
                "demand_tokens": float(demand),
                "served_tokens": float(served),
                "unmet_tokens": float(demand - served),
                "usd_per_million_tokens": inference_spend / served * 1e6 if served > 0 else None,
                "streams": streams,
                "years": per_year,
            },
            "idle_share": float(1 - busy_h / chip_h) if chip_h > 0 else None,
            "usd_per_training_flop": training_spend / flop if flop > 0 else None,
            "training_flop": float(flop),
            "throughput_notes": list(self.throughput.notes),
        }


def _month_end(month: str | None) -> str | None:
    if month is None:
        return None
    m = np.datetime64(month, "M")
    return str((m + np.timedelta64(1, "M")).astype("datetime64[D]") - np.timedelta64(1, "D"))


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
    peak size or all it may have, whichever trains faster.
    """
    rate_most = throughput.training_rate(run, pool_chip[None, :], most)  # (s, p)
    with np.errstate(invalid="ignore"):
        take_all = (most <= peak_size) | (most * rate_most >= peak_size * peak_rate)
    size = np.where(take_all, most, peak_size)
    rate = np.where(take_all, rate_most, peak_rate)
    return size, rate


def simulate(scn, fleet: Fleet, workloads: Workloads, throughput: Throughput,
             rng: np.random.Generator | None = None, progress=None) -> Simulation:
    """Run the fleet month by month against the scenario's demand.

    Parameters
    ----------
    scn : Inputs or Scenario
        For the demand settings (policy, checkpoint interval, restart time, idle power) and the seed;
        without a ``demand:`` section, the schema's defaults (:class:`gigawatt.scenario.demand_schema.Demand`).
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

    Returns
    -------
    Simulation

    Notes
    -----
    Each period: :func:`_serve` sizes the inference streams for their peaks,
    :func:`_train` places the runs on the chips left in policy order
    (:func:`_place`, :func:`_record_pool`, :func:`_advance`), and
    :func:`_simulation` turns utilization into power drawn.
    """
    rng = rng if rng is not None else np.random.default_rng(scn.seed)
    settings = _demand_settings(scn)
    policy = get_policy(settings.policy)
    state = _State.start(fleet, workloads, throughput)
    n_t = fleet.installed.shape[1]
    for t in range(n_t):
        free = state.installed[:, t, :].copy()  # (sample, pool) chips not yet taken
        _serve(state, t, free)
        if state.runs:
            _train(state, t, free, policy, rng, settings.checkpoint_interval_s, settings.restart_s)
        if progress is not None:
            progress(t + 1, n_t)
    return _simulation(state, fleet, workloads, settings.idle_power_fraction)


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
    runs: list
    streams: list
    period_s: np.ndarray  # (period,) [s]
    installed: np.ndarray  # (sample, period, pool) chips installed
    pool_chip: np.ndarray  # (pool,) chip index of each pool
    inference_order: np.ndarray  # (pool,) pools in the order inference takes them
    max_cluster: np.ndarray  # (chip,) most chips one run may use on the chip's system
    peaks: list  # per run, (size, rate) over pools from _peak_sizes
    rows: np.ndarray  # (sample,) 0..n-1, to index one pool per sample
    stream_chips: np.ndarray  # (sample, period, stream, pool)
    demand_tokens: np.ndarray  # (sample, period, stream)
    served_tokens: np.ndarray  # (sample, period, stream)
    run_chips: np.ndarray  # (sample, period, run)
    run_busy: np.ndarray  # (sample, period, run)
    run_progress: np.ndarray  # (sample, period, run) [tokens]
    run_pool: np.ndarray  # (sample, period, run), -1 when it does not train
    last_pool: np.ndarray  # (sample, run) where each run last trained, -1 before it starts
    run_start: np.ndarray  # (sample, run) [period]
    run_finish: np.ndarray  # (sample, run) [period]
    moved: np.ndarray  # (sample, run) restarts on another pool
    remaining: np.ndarray  # (sample, run) tokens left to train

    @classmethod
    def start(cls, fleet: Fleet, workloads: Workloads, throughput: Throughput) -> "_State":
        """Empty arrays for the fleet's samples and periods, and the per-pool constants."""
        n_s, n_t, n_i, n_c = fleet.installed.shape
        n_p = n_i * n_c
        pool_chip = np.tile(np.arange(n_c), n_i)
        runs, streams = workloads.runs, workloads.streams
        n_w, n_r = len(streams), len(runs)
        # inference takes the oldest generations first, keeping the newest for training
        avail = [c.available for c in fleet.chips]
        order = np.array(sorted(range(n_p), key=lambda p: (avail[pool_chip[p]], p // n_c)))
        return cls(
            throughput=throughput, runs=runs, streams=streams, period_s=fleet.period_s,
            installed=fleet.installed.reshape(n_s, n_t, n_p), pool_chip=pool_chip, inference_order=order,
            max_cluster=np.array([c.max_chips_per_run for c in fleet.chips], dtype=float),
            peaks=[_peak_sizes(throughput, r, pool_chip, run.min_chips) for r, run in enumerate(runs)],
            rows=np.arange(n_s),
            stream_chips=np.zeros((n_s, n_t, n_w, n_p)),
            demand_tokens=np.zeros((n_s, n_t, n_w)), served_tokens=np.zeros((n_s, n_t, n_w)),
            run_chips=np.zeros((n_s, n_t, n_r)), run_busy=np.zeros((n_s, n_t, n_r)),
            run_progress=np.zeros((n_s, n_t, n_r)), run_pool=np.full((n_s, n_t, n_r), -1, dtype=int),
            last_pool=np.full((n_s, n_r), -1, dtype=int),
            run_start=np.full((n_s, n_r), np.nan), run_finish=np.full((n_s, n_r), np.nan),
            moved=np.zeros((n_s, n_r), dtype=int),
            remaining=np.tile(np.array([r.tokens for r in runs], dtype=float), (n_s, 1)),
        )


def _serve(state: _State, t: int, free: np.ndarray) -> None:
    """Size each inference stream of period ``t`` for its peak, and count what it serves.

    Parameters
    ----------
    state : _State
        Receives ``stream_chips``, ``demand_tokens`` and ``served_tokens`` of period ``t``.
    t : int
        Period index.
    free : ndarray, (sample, pool)
        Chips not yet taken [1]; what the streams take is subtracted in place.

    Notes
    -----
    A stream of :math:`D` tokens a day with output share :math:`o` has a mean
    output rate :math:`\\bar r = D\\,o / 86400` [tokens/s] and is sized for its
    peak :math:`P\\,\\bar r` (:func:`_take_for_stream`). Of the period's
    :math:`D\\,\\Delta t / 86400` tokens it serves the share
    :func:`served_fraction` of its capacity.
    """
    days = state.period_s[t] / SECONDS_PER_DAY
    n_s = free.shape[0]
    for w, stream in enumerate(state.streams):
        mean_out = stream.tokens_per_day[t] * stream.output_share / SECONDS_PER_DAY  # output tokens/s
        capacity = _take_for_stream(state, t, w, np.full(n_s, mean_out * stream.peak_to_mean), free)
        state.demand_tokens[:, t, w] = stream.tokens_per_day[t] * days
        state.served_tokens[:, t, w] = state.demand_tokens[:, t, w] * served_fraction(
            capacity, mean_out, stream.peak_to_mean)


def _take_for_stream(state: _State, t: int, w: int, need: np.ndarray, free: np.ndarray) -> np.ndarray:
    """Chips stream ``w`` takes, pool by pool in inference order, until its need is covered.

    Parameters
    ----------
    state : _State
        Receives ``stream_chips[:, t, w]``.
    t, w : int
        Period and stream index.
    need : ndarray, (sample,)
        Output rate to cover [tokens/s].
    free : ndarray, (sample, pool)
        Chips not yet taken [1]; updated in place.

    Returns
    -------
    ndarray, (sample,)
        Serving capacity taken [tokens/s].

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
    for p in state.inference_order:
        c = state.pool_chip[p]
        rate = rates[c]
        if not stream.allowed[c] or not np.isfinite(rate) or rate <= 0:
            continue
        take = np.minimum(free[:, p], np.ceil(np.maximum(need - capacity, 0.0) / rate))
        state.stream_chips[:, t, w, p] = take
        free[:, p] -= take
        capacity += take * rate
    return capacity


def _train(state: _State, t: int, free: np.ndarray, policy, rng: np.random.Generator,
           checkpoint_interval_s: float, restart_s: float) -> None:
    """Give the chips left in period ``t`` to the training runs in the policy's order.

    Parameters
    ----------
    state : _State
        Receives the runs' chips, pools, progress, starts and finishes of period ``t``.
    t : int
        Period index.
    free : ndarray, (sample, pool)
        Chips not yet taken [1]; updated in place.
    policy : callable
        ``policy(runs, t) -> order`` (:mod:`gigawatt.fleet.policies`).
    rng : numpy.random.Generator
        For the interruptions of :func:`gigawatt.fleet.reliability.sample_goodput`.
    checkpoint_interval_s : float
        Time between checkpoints [s].
    restart_s : float
        Time to restart from a checkpoint [s].

    Notes
    -----
    A run of :math:`n` chips at :math:`r` tokens/s per chip with goodput
    :math:`g` trains at :math:`n\\,r\\,g` tokens/s (:func:`_advance`).
    """
    hours = state.period_s[t] / SECONDS_PER_HOUR
    for r in policy(state.runs, t):
        active = state.remaining[:, r] > 0
        if t < state.runs[r].start or not active.any():
            continue
        pool, chips, rate = _place(state, r, free, active)
        go = chips > 0
        if not go.any():
            continue
        _record_pool(state, t, r, pool, go)
        goodput = reliability.sample_goodput(rng, chips, hours, checkpoint_interval_s, restart_s)
        tokens_per_s = chips * np.where(np.isfinite(rate), rate, 0.0) * goodput
        _advance(state, t, r, pool, chips, tokens_per_s, free)


def _place(state: _State, r: int, free: np.ndarray, active: np.ndarray):
    """Where run ``r`` trains this period, on how many chips, at what rate per chip.

    Parameters
    ----------
    state : _State
    r : int
        Run index.
    free : ndarray, (sample, pool)
        Chips not yet taken [1].
    active : ndarray of bool, (sample,)
        Samples where the run has tokens left.

    Returns
    -------
    pool : ndarray of int, (sample,)
        The pool, -1 where the run waits.
    chips : ndarray, (sample,)
        Chips it takes there [1]; 0 where it waits.
    rate : ndarray, (sample,)
        Tokens/s per chip there [tokens/s]; ``nan`` where it cannot train.

    Notes
    -----
    In each pool the run may take :math:`n_p = \\min(f_p, N^{max}, N^{cluster}_c)`
    chips, sized by :func:`_choose_size`; a pool qualifies with at least its
    minimum chips, a finite rate and a chip it may use, and scores
    :math:`n_p\\,r_p(n_p)`. The run stays where it trained last while that pool
    qualifies; otherwise it restarts from its checkpoint on the best pool (or waits).
    """
    run = state.runs[r]
    pool_chip, rows = state.pool_chip, state.rows
    cap_p = np.minimum(run.max_chips, state.max_cluster[pool_chip])
    cand, rate_sp = _choose_size(state.throughput, r, pool_chip, np.minimum(free, cap_p), *state.peaks[r])  # (s, p)
    ok = (cand >= run.min_chips) & np.isfinite(rate_sp) & run.allowed[pool_chip][None, :]
    score = np.where(ok, cand * np.where(ok, rate_sp, 0.0), -1.0)
    best = np.argmax(score, axis=1)
    here = state.last_pool[:, r]
    stay = (here >= 0) & (score[rows, np.maximum(here, 0)] > 0)
    pool = np.where(stay, here, np.where(score[rows, best] > 0, best, -1))
    has = active & (pool >= 0)
    chips = np.where(has, cand[rows, np.maximum(pool, 0)], 0.0)
    chips = np.where(chips >= run.min_chips, chips, 0.0)
    return pool, chips, rate_sp[rows, np.maximum(pool, 0)]


def _record_pool(state: _State, t: int, r: int, pool: np.ndarray, go: np.ndarray) -> None:
    """Note where run ``r`` trains in period ``t`` where it goes: its start, and a move to another pool."""
    first = go & (state.last_pool[:, r] < 0)
    state.run_start[first, r] = t
    state.moved[go & (state.last_pool[:, r] >= 0) & (pool != state.last_pool[:, r]), r] += 1
    state.last_pool[go, r] = pool[go]
    state.run_pool[go, t, r] = pool[go]


def _advance(state: _State, t: int, r: int, pool: np.ndarray, chips: np.ndarray, tokens_per_s: np.ndarray,
             free: np.ndarray) -> None:
    """Train run ``r`` for period ``t``: tokens done, a finish within the period, chips busy and taken.

    Parameters
    ----------
    state : _State
        Receives ``run_progress``, ``run_busy``, ``run_chips`` of period ``t`` and
        the run's ``remaining`` and ``run_finish``.
    t, r : int
        Period and run index.
    pool : ndarray of int, (sample,)
        Pool it trains on, -1 where it waits.
    chips : ndarray, (sample,)
        Chips it trains on [1]; 0 where it waits.
    tokens_per_s : ndarray, (sample,)
        Its training rate after goodput [tokens/s].
    free : ndarray, (sample, pool)
        Chips not yet taken [1]; its chips are subtracted in place.

    Notes
    -----
    With :math:`R` tokens left, a run needs :math:`R / (n\\,r\\,g)` seconds and
    uses :math:`u = \\min(R / (n\\,r\\,g), \\Delta t)` of the period: it finishes
    at :math:`t + u / \\Delta t` when :math:`u < \\Delta t` or exactly at the end,
    trains :math:`n\\,r\\,g\\,u` tokens and counts :math:`n\\,u / \\Delta t` chips busy.
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
    state.run_busy[:, t, r] = np.where(go, chips * used_s / period_s, 0.0)
    state.run_chips[:, t, r] = chips
    free[state.rows[go], pool[go]] -= chips[go]


def _simulation(state: _State, fleet: Fleet, workloads: Workloads, idle: float) -> Simulation:
    """The engine's result, with the IT power drawn between idle and full power.

    Parameters
    ----------
    idle : float
        Power drawn by an idle chip as a share of its full power [1].

    Notes
    -----
    .. math:: P^{drawn} = P^{IT} \\big(i + (1 - i)\\,u\\big)

    with :math:`u` the utilization (:meth:`Simulation.utilization`).
    """
    n_s, n_t, n_i, n_c = fleet.installed.shape
    sim = Simulation(
        fleet=fleet, workloads=workloads, stream_chips=state.stream_chips, run_chips=state.run_chips,
        run_busy=state.run_busy, moves=state.moved, run_pool=state.run_pool, run_progress=state.run_progress,
        run_finish=state.run_finish, run_start=state.run_start, demand_tokens=state.demand_tokens,
        served_tokens=state.served_tokens, power_drawn_w=np.zeros((n_s, n_t, n_i, n_c)), idle_power_fraction=idle,
        throughput=state.throughput,
    )
    sim.power_drawn_w = fleet.it_power_w() * (idle + (1.0 - idle) * sim.utilization())
    return sim
