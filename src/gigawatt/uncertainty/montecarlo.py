"""A Monte Carlo run: the draws in chunks of samples (in local processes where there are several), each
chunk's buildout, simulation and ledger on the sample axis, reduced at once to per-sample figures
(:class:`MonteCarlo`); draws without a sampler on the sample axis run sample by sample."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from gigawatt.uncertainty.draws import draw
from gigawatt.uncertainty.sampled import sampled_inputs

__all__ = ["CHUNK", "CONSTRAINTS", "MonteCarlo", "NEVER", "QUANTILES", "chunk_size", "monte_carlo",
           "reduce_samples"]

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
