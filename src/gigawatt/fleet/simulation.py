"""What the fleet engine reads and what it produces: the throughput it runs on, the allocation in force, the simulation.

:class:`Throughput` holds the per-chip rates of each workload (from
:mod:`gigawatt.fleet.throughput`); :class:`Allocation` the way training and
inference share the chips (``demand.allocation``, docs/allocation.md);
:class:`Simulation` the engine's arrays and what they add up to: each training
run's placements and pauses and why, each inference stream's limits by year,
and the summary of ``gigawatt run --json``. The engine itself is
:func:`gigawatt.fleet.simulate.simulate`.
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
from gigawatt.units import SECONDS_PER_MONTH

__all__ = ["Allocation", "Simulation", "Throughput", "PAUSE_REASONS", "LIMITS"]

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

    def _doubling_origin(self) -> int | None:
        """``e`` where the evaluated sizes are ``2^e, 2^(e+1), ...`` (as the throughput matrix makes them), else None."""
        origin = self.__dict__.get("_origin", False)
        if origin is False:
            sizes = np.asarray(self.bucket_chips, dtype=float)
            mant, ex = np.frexp(sizes)
            doubling = sizes.size > 0 and bool((mant == 0.5).all() and (np.diff(ex) == 1).all())
            origin = int(ex[0]) - 1 if doubling else None
            self.__dict__["_origin"] = origin
        return origin

    def _steps(self, table) -> tuple[np.ndarray, np.ndarray]:
        """A ``(run, chip, bucket)`` table flattened, and the step to the next size (0 past the last
        evaluated size or where the next is not finite): what :meth:`training_rate` interpolates."""
        key = "_steps_rate" if table is None else ("_steps_mfu" if table is self.training_mfu else None)
        got = self.__dict__.get(key) if key else None
        if got is None:
            tab = np.asarray(self.training_tokens_per_chip_s if table is None else table, dtype=float)
            step = np.zeros_like(tab)
            if tab.shape[-1] > 1:
                nxt = tab[..., 1:]
                step[..., :-1] = np.where(np.isfinite(nxt), nxt - tab[..., :-1], 0.0)
            got = (tab.ravel(), step.ravel())
            if key:
                self.__dict__[key] = got
        return got

    def training_rate(self, run: int, chip, chips, table=None):
        """Tokens/s per chip of ``run`` on ``chip`` (index, per sample) with ``chips`` chips.

        Interpolates in log2 of the job size between the evaluated sizes around
        ``chips``; the smallest evaluated size's rate below it, the largest's above
        it. ``table`` reads another ``(run, chip, bucket)`` table the same way (MFU).
        """
        tab = self.training_tokens_per_chip_s if table is None else table
        base, step = self._steps(table)
        n_c, n_b = tab.shape[1], tab.shape[2]
        n = np.maximum(np.asarray(chips, dtype=float), 1.0)
        origin = self._doubling_origin()
        if origin is not None:  # sizes 2^(origin + b): the bucket is the exponent of n, exactly
            mant, exp = np.frexp(n)
            b = exp - (origin + 1)
            # n over its bucket's size is 2 mant exactly; below the smallest size, no step up
            frac = np.where(b < 0, 0.0, np.log2(mant * 2.0))
            b = np.clip(b, 0, n_b - 1)
        else:
            b = np.clip(np.searchsorted(self.bucket_chips, n, side="right") - 1, 0, n_b - 1)
            frac = np.clip(np.log2(n / np.take(self.bucket_chips, b)), 0.0, 1.0)
        # one flat gather per array (faster than indexing by (chip, bucket) on wide sample arrays)
        at = (run * n_c + np.asarray(chip)) * n_b + b
        return np.take(base, at) + frac * np.take(step, at)


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
    run_peaks: list = field(default_factory=list)  # per run, (size, rate) over pools from gigawatt.fleet.placement.peak_sizes
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
        """The simulation's arrays as an ``xarray.Dataset``."""
        return self.to_arrays().to_xarray()

    def to_arrays(self):
        """The simulation's arrays (:class:`gigawatt.arrays.ArrayData`): allocation, power, tokens, FLOP."""
        from gigawatt.arrays import ArrayData

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
        return ArrayData.build(
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
