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
from gigawatt.fleet import reliability
from gigawatt.fleet.buildout import Fleet
from gigawatt.fleet.demand import Workloads
from gigawatt.fleet.policies import get_policy

__all__ = ["Simulation", "Throughput", "served_fraction", "simulate"]

_PHASE = np.sin(2 * np.pi * np.arange(96) / 96)  # the daily cycle in quarter-hours


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
        days_per_period = fleet.period_s / 86400.0
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
        chip_h = (installed * fleet.period_s[:, None, None] / 3600).sum()
        busy_h = (busy * fleet.period_s[:, None, None] / 3600).sum()
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
        For the demand settings (policy, checkpoint interval, restart time, idle power) and the seed.
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
    """
    rng = rng if rng is not None else np.random.default_rng(scn.seed)
    demand = scn.demand
    policy = get_policy(demand.policy if demand else "earliest_deadline_first")
    ckpt_s = demand.checkpoint_interval_s if demand else 3600.0
    restart_s = demand.restart_s if demand else 1800.0
    idle = demand.idle_power_fraction if demand else 0.3

    n_s, n_t, n_i, n_c = fleet.installed.shape
    n_p = n_i * n_c
    pool_chip = np.tile(np.arange(n_c), n_i)  # chip index of each pool
    streams, runs = workloads.streams, workloads.runs
    n_w, n_r = len(streams), len(runs)
    installed = fleet.installed.reshape(n_s, n_t, n_p)
    period_s = fleet.period_s

    # inference takes the oldest generations first, keeping the newest for training
    avail = [c.available for c in fleet.chips]
    inf_order = np.array(sorted(range(n_p), key=lambda p: (avail[pool_chip[p]], p // n_c)))
    tps_inf = throughput.inference_output_tokens_per_chip_s  # (w, c)

    stream_chips = np.zeros((n_s, n_t, n_w, n_p))
    demand_tokens = np.zeros((n_s, n_t, n_w))
    served_tokens = np.zeros((n_s, n_t, n_w))
    run_chips = np.zeros((n_s, n_t, n_r))
    run_busy = np.zeros((n_s, n_t, n_r))
    run_progress = np.zeros((n_s, n_t, n_r))
    run_pool = np.full((n_s, n_t, n_r), -1, dtype=int)
    last_pool = np.full((n_s, n_r), -1, dtype=int)  # where each run last trained
    run_start = np.full((n_s, n_r), np.nan)
    run_finish = np.full((n_s, n_r), np.nan)
    moved = np.zeros((n_s, n_r), dtype=int)
    remaining = np.tile(np.array([r.tokens for r in runs], dtype=float), (n_s, 1))
    rows = np.arange(n_s)

    # per-run allowed pools and chip caps from the system's cluster limits
    max_cluster = np.array([c.max_chips_per_run for c in fleet.chips], dtype=float)

    peaks = [_peak_sizes(throughput, r, pool_chip, run.min_chips) for r, run in enumerate(runs)]
    for t in range(n_t):
        free = installed[:, t, :].copy()  # (s, p)
        days = period_s[t] / 86400.0
        # 1. inference, sized for the peak
        for w, st in enumerate(streams):
            mean_out = st.tokens_per_day[t] * st.output_share / 86400.0  # output tokens/s
            need = np.full(n_s, mean_out * st.peak_to_mean)
            cap = np.zeros(n_s)
            for p in inf_order:
                c = pool_chip[p]
                rate = tps_inf[w, c]
                if not st.allowed[c] or not np.isfinite(rate) or rate <= 0:
                    continue
                take = np.minimum(free[:, p], np.ceil(np.maximum(need - cap, 0.0) / rate))
                stream_chips[:, t, w, p] = take
                free[:, p] -= take
                cap += take * rate
            demand_tokens[:, t, w] = st.tokens_per_day[t] * days
            served_tokens[:, t, w] = demand_tokens[:, t, w] * served_fraction(cap, mean_out, st.peak_to_mean)

        # 2. training, in policy order
        if n_r:
            hours = period_s[t] / 3600.0
            for r in policy(runs, t):
                run = runs[r]
                if t < run.start:
                    continue
                active = remaining[:, r] > 0
                if not active.any():
                    continue
                cap_p = np.minimum(run.max_chips, max_cluster[pool_chip])
                cand, rate_sp = _choose_size(throughput, r, pool_chip, np.minimum(free, cap_p), *peaks[r])  # (s, p)
                ok = (cand >= run.min_chips) & np.isfinite(rate_sp) & run.allowed[pool_chip][None, :]
                score = np.where(ok, cand * np.where(ok, rate_sp, 0.0), -1.0)
                best = np.argmax(score, axis=1)
                # a run stays where it trained last while that pool can hold it; otherwise it
                # restarts from its checkpoint on the best pool that can (or waits)
                here = last_pool[:, r]
                stay = (here >= 0) & (score[rows, np.maximum(here, 0)] > 0)
                pool = np.where(stay, here, np.where(score[rows, best] > 0, best, -1))
                has = active & (pool >= 0)
                chips = np.where(has, cand[rows, np.maximum(pool, 0)], 0.0)
                chips = np.where(chips >= run.min_chips, chips, 0.0)
                go = chips > 0
                if not go.any():
                    continue
                first = go & (last_pool[:, r] < 0)
                run_start[first, r] = t
                moved[go & (last_pool[:, r] >= 0) & (pool != last_pool[:, r]), r] += 1
                last_pool[go, r] = pool[go]
                run_pool[go, t, r] = pool[go]
                g = reliability.sample_goodput(rng, chips, hours, ckpt_s, restart_s)
                rate_now = rate_sp[rows, np.maximum(pool, 0)]
                tokens_per_s = chips * np.where(np.isfinite(rate_now), rate_now, 0.0) * g
                # a run that finishes mid-month uses its chips only for the part of the month it needs
                needed_s = np.where(tokens_per_s > 0, remaining[:, r] / np.maximum(tokens_per_s, 1e-30), np.inf)
                used_s = np.where(go, np.minimum(needed_s, period_s[t]), 0.0)
                done = go & (needed_s <= period_s[t])
                progress_tokens = tokens_per_s * used_s
                run_progress[:, t, r] = progress_tokens
                remaining[:, r] = np.where(go, remaining[:, r] - progress_tokens, remaining[:, r])
                remaining[done, r] = 0.0
                run_finish[done, r] = t + used_s[done] / period_s[t]
                # chips count as busy for the share of the month they train
                run_busy[:, t, r] = np.where(go, chips * used_s / period_s[t], 0.0)
                run_chips[:, t, r] = chips
                free[rows[go], pool[go]] -= chips[go]
        if progress is not None:
            progress(t + 1, n_t)

    sim = Simulation(
        fleet=fleet, workloads=workloads, stream_chips=stream_chips, run_chips=run_chips, run_busy=run_busy, moves=moved, run_pool=run_pool,
        run_progress=run_progress, run_finish=run_finish, run_start=run_start, demand_tokens=demand_tokens,
        served_tokens=served_tokens, power_drawn_w=np.zeros((n_s, n_t, n_i, n_c)), idle_power_fraction=idle,
        throughput=throughput,
    )
    util = sim.utilization()
    sim.power_drawn_w = fleet.it_power_w() * (idle + (1.0 - idle) * util)
    return sim
