"""The time-stepped fleet engine: inference and training on the installed chips, month by month.

Each period, on the chips the buildout installed, under the allocation the
scenario names (``demand.allocation``, docs/allocation.md):

1. reserves: the share of the chips held for training (newest generation first)
   or for inference (oldest first); the other workload never runs on them;
2. with ``priority: training`` (or ``deadline``, for runs that can still make
   their deadline) those runs take chips for the whole day first;
3. inference. ``pooled`` (the default): the streams are sized together on their
   combined daily peak (:func:`gigawatt.fleet.policies.pooled_profile`), take
   chips oldest generation first and share a short pool pro rata; the share
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

Arrays keep the architecture's axis order ``(sample, period, site, chip,
workload)``; the sample axis carries independent draws of failures, so a
Monte Carlo run is this function on a wider array, not a loop around it.
Samples in the same state (the same chips installed, runs on the same pools,
the same runs left) share the engine's decisions, which are computed once per
group of samples.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gigawatt import power as pw
from gigawatt.economics.buyer import SECONDS_PER_HOUR
from gigawatt.fleet import policies as pol
from gigawatt.fleet import reliability
from gigawatt.fleet.buildout import Fleet
from gigawatt.fleet.demand import Workloads
from gigawatt.fleet.policies import daily_profile, get_policy
from gigawatt.units import SECONDS_PER_MONTH

__all__ = ["Allocation", "Simulation", "Throughput", "daily_profile", "served_fraction", "simulate"]

#: the day of ``tokens_per_day`` and of the daily cycle [s]
SECONDS_PER_DAY = 86400.0

# why a training run did not train in a period (Simulation.run_reason)
TRAINED, BEFORE_START, NO_POOL, RESERVE, INFERENCE, RUNS_AHEAD, DONE = range(7)
#: pause reasons: (key in the summary, sentence)
PAUSE_REASONS = {
    NO_POOL: ("min_chips", "no pool had its min_chips"),
    RESERVE: ("reserve", "the chips it needs are held in reserve for inference"),
    INFERENCE: ("inference", "inference took its chips"),
    RUNS_AHEAD: ("runs_ahead", "runs ahead of it took its chips"),
}
# what limited an inference stream in a period (Simulation.stream_limit)
SERVED, CHIPS, TRAINING_RESERVE, TRAINING_FIRST, NO_CHIP = range(5)
LIMITS = {SERVED: "demand", CHIPS: "chips", TRAINING_RESERVE: "training_reserve",
          TRAINING_FIRST: "training_priority", NO_CHIP: "no_chip"}


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
    training_mfu : ndarray, (run, chip, bucket), optional
        Model FLOPs utilization of each training cell, in the precision it
        trains in [1]; without it a run's history gives MFU against the BF16 peak.
    """

    training_tokens_per_chip_s: np.ndarray
    inference_output_tokens_per_chip_s: np.ndarray
    notes: list
    bucket_chips: np.ndarray  # (bucket,) job sizes of the training table [1]
    training_mfu: np.ndarray | None = None

    def training_rate(self, run: int, chip, chips, table=None):
        """Tokens/s per chip of ``run`` on ``chip`` (index, per sample) with ``chips`` chips.

        Interpolates in log2 of the job size between the evaluated sizes around
        ``chips``; ``nan`` below the smallest evaluated size. ``table`` reads
        another ``(run, chip, bucket)`` table the same way (MFU).
        """
        table = (self.training_tokens_per_chip_s if table is None else table)[run]  # (chip, bucket)
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
    profile = d * pol._profile(float(peak_to_mean))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.minimum(profile, c).mean(axis=-1) / d[..., 0]
    return np.where(d[..., 0] > 0, out, 1.0)


@dataclass
class Allocation:
    """The allocation in force: how inference is sized, what training gets, who yields (docs/allocation.md).

    Attributes
    ----------
    mode : str
        ``pooled`` or ``legacy`` (:data:`gigawatt.fleet.policies.ALLOCATIONS`).
    priority : str
        ``inference``, ``training`` or ``deadline``.
    coincidence : float
        The streams' combined peak over the sum of their own peaks [1].
    backfill : bool
        Whether training runs in the hours inference leaves chips idle.
    training_reserve, inference_reserve : ndarray, (period,)
        Share of the installed chips held for each workload [1].
    reserve : dict or None
        The reserve as the scenario writes it (shares, or ``{month: share}``).
    run_order : str
        The run policy (``demand.policy``).
    lost_h_per_preemption : float
        Hours of work a daily preemption costs: half a checkpoint interval and a restart [h].
    """

    mode: str = "pooled"
    priority: str = "inference"
    coincidence: float = 1.0
    backfill: bool = True
    training_reserve: np.ndarray = field(default_factory=lambda: np.zeros(0))
    inference_reserve: np.ndarray = field(default_factory=lambda: np.zeros(0))
    reserve: dict | None = None
    run_order: str = "earliest_deadline_first"
    lost_h_per_preemption: float = 0.0

    @classmethod
    def of(cls, settings, months: np.ndarray) -> "Allocation":
        """The allocation of a scenario's ``demand:`` settings over periods of month index ``months``."""
        reserve = getattr(settings, "reserve", None)
        spec = None if reserve is None else {"training": reserve.training, "inference": reserve.inference}
        return cls(
            mode=getattr(settings, "allocation", "pooled"), priority=getattr(settings, "priority", "inference"),
            coincidence=float(getattr(settings, "inference_coincidence", 1.0)),
            backfill=bool(getattr(settings, "backfill", True)),
            training_reserve=pol.reserve_share(None if reserve is None else reserve.training, months),
            inference_reserve=pol.reserve_share(None if reserve is None else reserve.inference, months),
            reserve=spec, run_order=settings.policy,
            lost_h_per_preemption=float(reliability.hours_lost_per_interruption(settings.checkpoint_interval_s,
                                                                                settings.restart_s)),
        )

    @property
    def pooled(self) -> bool:
        return self.mode == "pooled"

    @property
    def hours(self) -> int:
        """Hours of the day a run's window is counted in: 24 with backfill, else 1 (the whole day)."""
        return pol.HOURS if self.pooled and self.backfill else 1

    def goes_first(self, run, month: int) -> bool:
        """Whether ``run`` takes its chips before inference in the period of month index ``month``."""
        if not self.pooled or self.priority == "inference":
            return False
        if self.priority == "training":
            return True
        return run.deadline is not None and month <= run.deadline  # deadline: while it can still make it

    def describe(self) -> str:
        """One line for the results: the policy in force."""
        order = f"runs in {self.run_order.replace('_', ' ')} order"
        if not self.pooled:
            return (f"legacy: each inference stream sized on its own peak, one after another; training only on chips "
                    f"free all day; inference first; {order}")
        peaks = ("their peaks coincide" if self.coincidence >= 1.0
                 else f"coincidence {self.coincidence:.2f} of the sum of their peaks")
        fill = (f"training backfills the hours inference leaves chips idle ({self.lost_h_per_preemption * 60:.0f} "
                "min lost a day to preemption)") if self.backfill else "training only on chips free all day"
        first = {"inference": "inference first", "training": "training first",
                 "deadline": "runs that can still make their deadline first, then inference"}[self.priority]
        return f"pooled: inference sized on its combined peak ({peaks}); {fill}; {first}; {self._reserve_text()}; {order}"

    def _reserve_text(self) -> str:
        if not self.reserve or not any(self.reserve.values()):
            return "no reserve"
        parts = []
        for name in ("training", "inference"):
            v = self.reserve[name]
            if isinstance(v, dict):
                parts.append(f"{name} reserve " + ", ".join(f"{s:.0%} from {m}" for m, s in sorted(v.items())))
            elif v:
                parts.append(f"{v:.0%} held for {name}")
        return "; ".join(parts)

    def to_dict(self) -> dict:
        return {"mode": self.mode, "priority": self.priority if self.pooled else "inference",
                "inference_coincidence": self.coincidence if self.pooled else 1.0,
                "backfill": bool(self.backfill and self.pooled), "reserve": self.reserve if self.pooled else None,
                "run_order": self.run_order, "preemption_lost_hours": self.lost_h_per_preemption if self.pooled else None,
                "text": self.describe()}


@dataclass
class Simulation:
    """What the engine produced; arrays are ``(sample, period, ...)``."""

    fleet: Fleet
    workloads: Workloads
    stream_chips: np.ndarray  # (sample, period, stream, pool) chips each stream holds for its peak
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
    allocation: Allocation = field(default_factory=Allocation)
    stream_busy: np.ndarray | None = None  # (sample, period, stream, pool) chips serving, averaged over the day
    stream_capacity: np.ndarray | None = None  # (sample, period, stream) output rate of its chips [tokens/s]
    stream_need: np.ndarray | None = None  # (sample, period, stream) output rate it is sized for [tokens/s]
    stream_limit: np.ndarray | None = None  # (sample, period, stream) LIMITS code
    pooled_peak: np.ndarray | None = None  # (sample, period) peak over mean of the streams' pooled profile [1]
    lent: np.ndarray | None = None  # (sample, period, pool) training on chips inference holds, averaged over the day
    run_share: np.ndarray | None = None  # (sample, period, run) share of the day it held its chips [1]
    run_rate: np.ndarray | None = None  # (sample, period, run) tokens/s per chip of its layout [tokens/s]
    run_reason: np.ndarray | None = None  # (sample, period, run) TRAINED, BEFORE_START, ... DONE
    run_peaks: list = field(default_factory=list)  # per run, (size, rate) over pools from _peak_sizes
    reliability_s: tuple = (3600.0, 1800.0)  # checkpoint interval and restart time [s]

    @property
    def n_pools(self) -> int:
        return self.fleet.installed.shape[2] * self.fleet.installed.shape[3]

    def allocated(self) -> np.ndarray:
        """Chips per workload, ``(sample, period, site, chip, workload)``: streams, then runs.

        A stream counts the chips it holds for its peak less the chip-time it
        lends training off-peak; a run counts its chips times the share of the
        period it held them. They add up to at most the chips installed.
        """
        n_s, n_t, n_i, n_c = self.fleet.installed.shape
        n_w = len(self.workloads.streams) + len(self.workloads.runs)
        out = np.zeros((n_s, n_t, n_i * n_c, n_w))
        n_streams = len(self.workloads.streams)
        held = np.moveaxis(self.stream_chips, 2, 3)  # (s, t, pool, stream)
        if self.lent is not None and n_streams:
            total = held.sum(axis=-1, keepdims=True)
            with np.errstate(invalid="ignore", divide="ignore"):
                lent = np.where(total > 0, self.lent[..., None] * held / total, 0.0)
            held = held - lent
        out[..., :n_streams] = held
        s_idx, t_idx, r_idx = np.nonzero(self.run_pool >= 0)
        out[s_idx, t_idx, self.run_pool[s_idx, t_idx, r_idx], n_streams + r_idx] = self.run_busy[s_idx, t_idx, r_idx]
        return out.reshape(n_s, n_t, n_i, n_c, n_w)

    def busy_chips(self) -> np.ndarray:
        """Chips in use, averaged over each period, ``(sample, period, site, chip)``."""
        n_s, n_t, n_i, n_c = self.fleet.installed.shape
        serving = self.stream_chips if self.stream_busy is None else self.stream_busy
        busy = serving.sum(axis=2)  # (s, t, pool)
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

    # ------------------------------------------------------------ what happened, run by run

    def _period_ends(self) -> np.ndarray:
        """Last day of each period, datetime64[D]."""
        days = np.rint(self.fleet.period_s / SECONDS_PER_DAY).astype(int)
        return self.fleet.period_start + days.astype("timedelta64[D]") - np.timedelta64(1, "D")

    def _finish_day(self, sample: int, r: int):
        """The day run ``r`` finished, datetime64[D], or None."""
        finish = self.run_finish[sample, r]
        if not np.isfinite(finish):
            return None
        starts = self.fleet.period_start
        days_per_period = self.fleet.period_s / SECONDS_PER_DAY
        k = min(int(np.floor(finish)), len(starts) - 1)
        return starts[k] + np.timedelta64(int(round((finish - k) * days_per_period[k])), "D")

    #: the keys of :meth:`events` (the results folder's and the store's training-run columns)
    EVENT_KEYS = ("name", "model", "chip", "site", "chips", "start", "finish", "deadline", "delay_days", "status",
                  "moves")

    def events(self, sample: int = 0) -> list[dict]:
        """One row per training run: where, on how many chips, when it first started and finished.

        ``start`` is the first day it trained; ``chip`` and ``site`` where it
        trained last; ``chips`` the most chips it held. A run not finished by the
        horizon has ``finish`` and ``delay_days`` None and ``status`` "not
        finished" (:meth:`run_rows` says more).
        """
        return [{k: row[k] for k in self.EVENT_KEYS} for row in self.run_rows(sample)]

    def run_rows(self, sample: int = 0) -> list[dict]:
        """:meth:`events` with the keys that say which end of the run each figure is from.

        ``first_start`` (= ``start``), ``last_chip`` and ``last_site`` (= ``chip``,
        ``site``); for a run not finished by the horizon, ``at_horizon`` says
        whether it was still training then (``running``), had trained before
        (``paused``) or never had chips (``waiting``), and
        ``overdue_days_at_horizon`` how far past its deadline the horizon is.
        """
        fleet = self.fleet
        n_c = len(fleet.chips)
        starts = fleet.period_start
        horizon_end = self._period_ends()[-1] + np.timedelta64(1, "D")
        rows = []
        for r, run in enumerate(self.workloads.runs):
            trained = np.nonzero(self.run_pool[sample, :, r] >= 0)[0]
            chips = self.run_chips[sample, :, r]
            row = {"name": run.name, "model": run.model, "chip": None, "site": None,
                   "chips": int(chips.max()) if chips.size else 0, "start": None, "finish": None,
                   "deadline": _month_end(run.deadline_month), "delay_days": None, "status": "not finished",
                   "at_horizon": "waiting", "overdue_days_at_horizon": None, "moves": int(self.moves[sample, r])}
            if trained.size:
                pool = int(self.run_pool[sample, trained[-1], r])  # where it trained last
                row["site"] = fleet.sites[pool // n_c]
                row["chip"] = fleet.chips[pool % n_c].chip
                row["start"] = str(starts[int(self.run_start[sample, r])])
                row["at_horizon"] = "running" if trained[-1] == len(starts) - 1 else "paused"
            day = self._finish_day(sample, r)
            if day is not None:
                row["finish"] = str(day)
                row["status"] = row["at_horizon"] = "done"
                if run.deadline_month is not None:
                    row["delay_days"] = max(0, int((day - np.datetime64(row["deadline"])).astype(int)))
            elif row["deadline"] is not None and np.datetime64(row["deadline"]) < horizon_end:
                row["overdue_days_at_horizon"] = int((horizon_end - np.datetime64(row["deadline"])).astype(int))
            row.update(first_start=row["start"], last_chip=row["chip"], last_site=row["site"])
            rows.append(row)
        return rows

    def run_history(self, sample: int, r: int) -> dict:
        """Run ``r``'s placements and pauses, and the chip-months it needed and got.

        Returns
        -------
        dict
            ``placements``: one per stretch of periods on one pool, with ``chip``,
            ``site``, ``from``, ``to`` (dates), ``months``, ``chips`` (most),
            ``mean_chips``, ``day_share`` (share of the day it held them; below 1
            when it backfilled off-peak hours), ``tokens``, ``mfu`` (of its
            layout in the precision it trains in, ``mfu_of: layout``, where the
            throughput matrix gives it; else model FLOP/s over the chip's BF16
            peak, ``mfu_of: bf16_peak``) and ``goodput`` (tokens trained over what
            its chips would train in the time it held them: failures and preemptions).
            ``pauses``: one per stretch of periods after its earliest start in
            which it did not train, with ``from``, ``to``, ``months``, ``reason``
            (``min_chips``, ``reserve``, ``inference``, ``runs_ahead``), ``why``
            and ``started`` (false before its first placement).
            ``chip_months_needed`` (its tokens on the layouts it trained on,
            all day, at their expected goodput: :meth:`_chip_months_needed`),
            ``chip_months_received`` and ``paused_months`` by reason.
        """
        fleet, run = self.fleet, self.workloads.runs[r]
        n_c, n_t = len(fleet.chips), len(fleet.period_s)
        starts, ends = fleet.period_start, self._period_ends()
        pool, share = self.run_pool[sample, :, r], self.run_share[sample, :, r]
        busy_s = self.run_busy[sample, :, r] * fleet.period_s  # chip-seconds held
        rate = np.where(pool >= 0, self.run_rate[sample, :, r], 0.0)
        progress = self.run_progress[sample, :, r]
        months = fleet.period_s / SECONDS_PER_MONTH
        fpt = run.flop / run.tokens
        finish = self._finish_day(sample, r)
        placements = []
        for a, b in _stretches(pool >= 0, pool):
            c = int(pool[a]) % n_c
            seg = slice(a, b + 1)
            ideal = float((rate[seg] * busy_s[seg]).sum())
            held = float(busy_s[seg].sum())
            mfu = self._mfu(r, c, self.run_chips[sample, seg, r], busy_s[seg], rate[seg], fpt)
            ends_here = finish is not None and a <= int(np.ceil(self.run_finish[sample, r])) - 1 <= b
            last = finish if ends_here else ends[b]
            placements.append({
                "chip": fleet.chips[c].chip, "site": fleet.sites[int(pool[a]) // n_c], "from": str(starts[a]),
                "to": str(last), "months": round(float(months[seg].sum()), 2),
                "chips": int(self.run_chips[sample, seg, r].max()),
                "mean_chips": float(self.run_chips[sample, seg, r].mean()),
                "day_share": float((share[seg] * months[seg]).sum() / months[seg].sum()),
                "tokens": float(progress[seg].sum()), "mfu": mfu,
                "mfu_of": "layout" if self.throughput.training_mfu is not None else "bf16_peak",
                "goodput": float(progress[seg].sum() / ideal) if ideal > 0 else None,
                "chip_months": held / SECONDS_PER_MONTH,
            })
        reason = self.run_reason[sample, :, r]
        first = int(self.run_start[sample, r]) if np.isfinite(self.run_start[sample, r]) else n_t
        pauses, paused = [], {}
        for a, b in _stretches(np.isin(reason, list(PAUSE_REASONS)), reason):
            key, why = PAUSE_REASONS[int(reason[a])]
            m = round(float(months[a:b + 1].sum()), 2)
            pauses.append({"from": str(starts[a]), "to": str(ends[b]), "months": m, "reason": key, "why": why,
                           "started": bool(a > first)})
            paused[key] = round(paused.get(key, 0.0) + m, 2)
        received = float(busy_s.sum() / SECONDS_PER_MONTH)
        off_peak = float(busy_s[share < 1.0].sum() / SECONDS_PER_MONTH)
        return {
            "placements": placements, "pauses": pauses, "paused_months": paused,
            "chip_months_needed": self._chip_months_needed(sample, r),
            "chip_months_received": received,
            "backfill_share": off_peak / received if received > 0 else None,
            "share_done": float(progress.sum() / run.tokens) if run.tokens > 0 else None,
        }

    def _mfu(self, r: int, c: int, chips, busy_s, rate, fpt) -> float | None:
        """MFU of a run's layout over a stretch, weighted by the chip-time it held [1]."""
        if not busy_s.sum() > 0:
            return None
        th = self.throughput
        if th.training_mfu is not None:
            mfu = th.training_rate(r, c, chips, table=th.training_mfu)
        else:  # against the BF16 peak where the matrix gives no MFU
            mfu = rate * fpt / self.fleet.chips[c].peak_bf16_flops
        mfu = np.where(np.isfinite(mfu), mfu, 0.0)
        return float((mfu * busy_s).sum() / busy_s.sum())

    def _chip_months_needed(self, sample: int, r: int) -> float | None:
        """Chip-months run ``r`` needs, all day, on the layout it trained on (else its smallest on its best chip).

        Notes
        -----
        .. math:: M = \\frac{T}{\\bar r\\, g(\\bar n)\\, \\Delta t_{month}}

        with :math:`T` its tokens, :math:`\\bar r` and :math:`\\bar n` the tokens/s per
        chip and the chips of its layouts weighted by the chip-time it held them,
        and :math:`g` the expected goodput (:func:`gigawatt.fleet.reliability.expected_goodput`).
        A run that never trained is counted at its minimum chips on the chip that
        trains it fastest there.
        """
        run = self.workloads.runs[r]
        held = self.run_busy[sample, :, r] * self.fleet.period_s
        if held.sum() > 0:
            on = held > 0
            chips = float((self.run_chips[sample, on, r] * held[on]).sum() / held[on].sum())
            rate = float((self.run_rate[sample, on, r] * held[on]).sum() / held[on].sum())
        else:
            chip = np.arange(len(self.fleet.chips))
            rates = self.throughput.training_rate(r, chip, np.full(len(chip), run.min_chips))
            rates = np.where(run.allowed & np.isfinite(rates), rates, 0.0)
            if not (rates > 0).any():
                return None
            chips, rate = float(run.min_chips), float(rates.max())
        g = float(reliability.expected_goodput(chips, *self.reliability_s))
        return float(run.tokens / (rate * g) / SECONDS_PER_MONTH)

    # ------------------------------------------------------------ what happened, stream by stream

    def _stream_years(self, sample: int, w: int) -> list[dict]:
        """Per year: demand, served, the capacity held against the rate it was sized for, and what limited it."""
        stream = self.workloads.streams[w]
        years = self.fleet.periods.year
        out = []
        for y in np.unique(years):
            k = years == y
            demand = self.demand_tokens[sample, k, w]
            served = self.served_tokens[sample, k, w]
            unmet = demand - served
            codes = self.stream_limit[sample, k, w]
            if unmet.sum() > 1e-9 * max(demand.sum(), 1.0):
                weights = np.bincount(codes, weights=unmet, minlength=len(LIMITS))
                weights[SERVED] = 0.0
                code = int(np.argmax(weights))
            else:
                code = SERVED
            out.append({
                "year": int(y), "demand_tokens": float(demand.sum()), "served_tokens": float(served.sum()),
                "served_share": float(served.sum() / demand.sum()) if demand.sum() > 0 else None,
                "peak_demand_tokens_per_s": float(self.stream_need[sample, k, w].mean()),
                "capacity_tokens_per_s": float(self.stream_capacity[sample, k, w].mean()),
                "chips": float(self.stream_chips[sample, k, w].sum(axis=-1).mean()),
                "busy_chips": float(self.stream_busy[sample, k, w].sum(axis=-1).mean()),
                "limited_by": self._limit_label(w, code, stream),
            })
        return out

    def _limit_label(self, w: int, code: int, stream) -> str:
        if code != NO_CHIP:
            return LIMITS[code]
        reasons = {c["reason"] for c in self._cannot_serve(w)}
        for key in ("latency_targets", "memory", "not_allowed"):
            if key in reasons:
                return key
        return "no_chip"

    def _cannot_serve(self, w: int) -> list[dict]:
        """The fleet's chips stream ``w`` cannot be served on, and why, from the throughput matrix's notes."""
        stream = self.workloads.streams[w]
        rates = self.throughput.inference_output_tokens_per_chip_s[w]
        out = []
        for c, spec in enumerate(self.fleet.chips):
            if np.isfinite(rates[c]) and rates[c] > 0:
                continue
            if not stream.allowed[c]:
                out.append({"chip": spec.chip, "reason": "not_allowed", "note": "not among the stream's chips"})
                continue
            note = next((n for n in self.throughput.notes if n.startswith(f"{stream.model} on {spec.chip}:")), "")
            text = note.lower()
            reason = ("latency_targets" if any(s in text for s in ("latency", "ttft", "tpot")) else
                      "memory" if any(s in text for s in ("kv cache", "memory", " gb ", "fit")) else "other")
            out.append({"chip": spec.chip, "reason": reason, "note": note})
        return out

    def _allocation_years(self, sample: int) -> list[dict]:
        """Per year: the streams' pooled peak over mean, and the share of training's chip-time lent by inference."""
        years = self.fleet.periods.year
        period_s = self.fleet.period_s
        out = []
        for y in np.unique(years):
            k = years == y
            train_s = (self.run_busy[sample, k] * period_s[k, None]).sum()
            lent_s = (self.lent[sample, k] * period_s[k, None]).sum() if self.lent is not None else 0.0
            out.append({"year": int(y),
                        "pooled_peak_to_mean": float(self.pooled_peak[sample, k].mean())
                        if self.workloads.streams else None,
                        "training_on_inference_chips_share": float(lent_s / train_s) if train_s > 0 else None})
        return out

    def summary_dict(self, sample: int = 0) -> dict:
        """The simulation's part of ``gigawatt run --json``: allocation, training runs, inference, idle, unit costs."""
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
                            "usd_per_million_tokens": float(spend_w[w] / sw * 1e6) if sw > 0 else None,
                            "peak_to_mean": float(s.peak_to_mean),
                            "cannot_serve_on": self._cannot_serve(w),
                            "years": self._stream_years(sample, w)})
        inference_spend = float(spend_w[:n_streams].sum())
        training_spend = float(spend_w[n_streams:].sum())
        train_s = (self.run_busy[sample] * fleet.period_s[:, None]).sum()
        lent_s = (self.lent[sample] * fleet.period_s[:, None]).sum() if self.lent is not None else 0.0
        keys = ("name", "start", "first_start", "finish", "chips", "chip", "site", "last_chip", "last_site",
                "delay_days", "status", "at_horizon", "overdue_days_at_horizon", "deadline", "moves")
        runs = []
        for r, e in enumerate(self.run_rows(sample)):
            row = {k: e[k] for k in keys}
            history = self.run_history(sample, r)
            for k in ("chip_months_needed", "chip_months_received", "share_done", "backfill_share", "paused_months"):
                row[k] = history.pop(k)
            row["history"] = history
            runs.append(row)
        return {
            "allocation": {**self.allocation.to_dict(),
                           "training_on_inference_chips_share": float(lent_s / train_s) if train_s > 0 else None,
                           "years": self._allocation_years(sample)},
            "training_runs": runs,
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


def _stretches(mask: np.ndarray, key: np.ndarray):
    """``(first, last)`` index of each run of consecutive ``mask`` entries with the same ``key``."""
    out, t, n = [], 0, len(mask)
    while t < n:
        if not mask[t]:
            t += 1
            continue
        u = t
        while u + 1 < n and mask[u + 1] and key[u + 1] == key[t]:
            u += 1
        out.append((t, u))
        t = u + 1
    return out


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
    peak size or all it may have, whichever trains faster. ``pool_chip``,
    ``peak_size`` and ``peak_rate`` broadcast against ``most`` after a leading
    axis (samples) is put before them.
    """
    rate_most = throughput.training_rate(run, pool_chip[None, :], most)  # (s, p, ...)
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
        return cls(
            throughput=throughput, alloc=alloc, runs=runs, streams=streams, period_s=fleet.period_s,
            months=fleet.periods.month if fleet.periods is not None else np.zeros(n_t, dtype=int),
            installed=fleet.installed.reshape(n_s, n_t, n_p), pool_chip=pool_chip, inference_order=order,
            training_order=order[::-1].copy(),
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
        )


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
    key = np.concatenate([state.installed[:, t, :], state.last_pool.astype(float),
                          (state.remaining > 0).astype(float)], axis=1)
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
    in each hour of the day, ``F`` of shape ``(group, pool, hour)``, hours ranked
    from the least inference load (:data:`gigawatt.fleet.policies.LOAD_ORDER`);
    without backfill there is one "hour", the whole day.
    """
    alloc = state.alloc
    reps, inv = _groups(state, t)
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
        F = (free - res_i)[..., None].copy()
        for r in first:
            if active[:, r].any():
                placed[:, r] = _train_one(state, t, r, F, active[:, r], here[:, r], inv, rng, settings)
        taken_first = (free - res_i) - F[..., 0]
        free = free - taken_first
    res_t_left = np.maximum(res_t - taken_first, 0.0)
    serve = _serve_pooled if alloc.pooled else _serve_legacy
    held, idle = serve(state, t, np.maximum(free - res_t_left, 0.0), reps, inv, res_t_left, taken_first)
    free = free - held
    base = np.maximum(free - np.maximum(res_i - held, 0.0), 0.0)  # chips free all day, outside inference's reserve
    F = base[..., None] + idle if idle is not None else base[..., None].copy()
    F0 = F.copy()
    for r in order:
        todo = active[:, r] & ~placed[:, r]
        if todo.any():
            placed[:, r] |= _train_one(state, t, r, F, todo, here[:, r], inv, rng, settings)
    if idle is not None:  # training on chips inference holds for its peak, averaged over the day
        state.lent[:, t] = np.maximum((F0 - F) - base[..., None], 0.0).mean(axis=-1)[inv]
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
        n_h = F.shape[-1]
        hours = np.arange(1, n_h + 1)
        worth = hours / n_h - np.where(hours < n_h, state.alloc.lost_h_per_preemption / 24.0, 0.0) > 0
        avail = np.minimum.accumulate(F, axis=-1) if n_h > 1 else F
        return ((avail >= run.min_chips) & can[None, :, None] & worth[None, None, :]).any(axis=(1, 2))

    code = np.full(n_u, RUNS_AHEAD, dtype=np.int8)
    fits_installed = fits(inst[..., None].astype(float))
    fits_outside = fits((inst - res_i)[..., None])
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
    for w, stream in enumerate(state.streams):
        mean_out = stream.tokens_per_day[t] * stream.output_share / SECONDS_PER_DAY  # output tokens/s
        need = np.full(n_u, mean_out * stream.peak_to_mean)
        capacity, take = _take_for_stream(state, w, need, free)
        state.stream_chips[:, t, w] = take[inv]
        state.stream_busy[:, t, w] = take[inv]
        state.stream_capacity[:, t, w] = capacity[inv]
        state.stream_need[:, t, w] = mean_out * stream.peak_to_mean
        state.demand_tokens[:, t, w] = stream.tokens_per_day[t] * days
        served = served_fraction(capacity, mean_out, stream.peak_to_mean)
        state.served_tokens[:, t, w] = state.demand_tokens[:, t, w] * served[inv]
        served_u.append(served)
        capacity_u.append(capacity)
        weights.append(mean_out / state.stream_best[w] if state.stream_best[w] > 0 else 0.0)
        peaks.append(stream.peak_to_mean)
    if state.streams:
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
    idle : ndarray, (group, pool, hour) or None
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
    (:func:`gigawatt.fleet.policies.serving_load`), so the last pools empty first off-peak.
    """
    days = state.period_s[t] / SECONDS_PER_DAY
    streams = state.streams
    n_u, n_p = avail.shape
    if not streams:
        return np.zeros_like(avail), (np.zeros((n_u, n_p, pol.HOURS)) if state.alloc.backfill else None)
    per_day = np.array([s.tokens_per_day[t] for s in streams])
    mean_out = per_day * np.array([s.output_share for s in streams]) / SECONDS_PER_DAY  # (w,) [tokens/s]
    weights = np.where(state.stream_best > 0, mean_out / np.where(state.stream_best > 0, state.stream_best, 1.0), 0.0)
    profile, peak = pol.pooled_profile(weights, [s.peak_to_mean for s in streams], state.alloc.coincidence)
    need = peak * mean_out
    chips = pol.pooled_take(avail, need, state.stream_rates, state.stream_usable, state.inference_order)
    capacity = (chips * state.stream_rates[None]).sum(axis=-1)  # (u, w)
    load = np.minimum(mean_out[None, :, None] * profile[None, None, :], capacity[..., None])  # (u, w, 96)
    with np.errstate(invalid="ignore", divide="ignore"):
        served = np.where(mean_out[None, :] > 0, load.mean(axis=-1) / mean_out[None, :], 1.0)
    busy = pol.serving_load(chips, state.stream_rates, load, state.inference_order)  # (u, w, p, 96)
    state.stream_chips[:, t] = chips[inv]
    state.stream_busy[:, t] = busy.mean(axis=-1)[inv]
    state.stream_capacity[:, t] = capacity[inv]
    state.stream_need[:, t] = need[None, :]
    state.pooled_peak[:, t] = peak
    state.demand_tokens[:, t] = per_day[None, :] * days
    state.served_tokens[:, t] = state.demand_tokens[:, t] * served[inv]
    state.stream_limit[:, t] = _limit_codes(state, served, capacity, avail, res_t_left, taken_first)[inv]
    held = chips.sum(axis=1)
    if not state.alloc.backfill:
        return held, None
    return held, pol.idle_by_hour((chips[..., None] - busy).sum(axis=1))


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
    F : ndarray, (group, pool, hour)
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
    n_h = F.shape[-1]
    runs_then = np.arange(n_h)[None, :] < k[:, None]
    F[np.arange(len(go)), np.maximum(pool, 0), :] -= np.where(go[:, None] & runs_then, chips[:, None], 0.0)
    _commit(state, t, r, pool[inv], chips[inv], rate[inv], k[inv], n_h, rng, settings)
    return go


def _place(state: _State, r: int, F: np.ndarray, active: np.ndarray, here: np.ndarray):
    """Where run ``r`` trains this period, on how many chips, at what rate per chip, for how many hours.

    Parameters
    ----------
    state : _State
    r : int
        Run index.
    F : ndarray, (group, pool, hour)
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
    run = state.runs[r]
    pool_chip = state.pool_chip
    n_u, n_p, n_h = F.shape
    rows = np.arange(n_u)
    cap_p = np.minimum(run.max_chips, state.max_cluster[pool_chip])
    avail = np.minimum.accumulate(F, axis=-1) if n_h > 1 else F
    size_p, rate_p = state.peaks[r]
    cand, rate = _choose_size(state.throughput, r, pool_chip[:, None], np.minimum(avail, cap_p[:, None]),
                              size_p[:, None], rate_p[:, None])  # (u, p, h)
    hours = np.arange(1, n_h + 1)
    eff = hours / n_h - np.where(hours < n_h, state.alloc.lost_h_per_preemption / 24.0, 0.0)
    ok = (cand >= run.min_chips) & np.isfinite(rate) & run.allowed[pool_chip][None, :, None] & (eff > 0)[None, None, :]
    score = np.where(ok, cand * np.where(ok, rate, 0.0) * eff, -1.0)
    k = np.argmax(score, axis=-1)  # (u, p): each pool's best number of hours, less one
    score_p = np.take_along_axis(score, k[..., None], axis=-1)[..., 0]
    best = np.argmax(score_p, axis=1)
    here_score = score_p[rows, np.maximum(here, 0)]
    stay = (here >= 0) & (here_score > 0)
    if state.alloc.pooled:
        stay &= 2.0 * here_score >= score_p[rows, best]
    pool = np.where(stay, here, np.where(score_p[rows, best] > 0, best, -1))
    has = active & (pool >= 0)
    at = np.maximum(pool, 0)
    kk = k[rows, at]
    chips = np.where(has, cand[rows, at, kk], 0.0)
    chips = np.where(chips >= run.min_chips, chips, 0.0)
    return pool, chips, rate[rows, at, kk], kk + 1


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
    sim.power_drawn_w = fleet.it_power_w() * (idle + (1.0 - idle) * sim.utilization())
    return sim
