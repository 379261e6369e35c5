"""Demand resolved for the engine: training runs and inference streams as arrays.

The scenario's ``demand:`` section names models and chips; this module expands
generated runs, turns dates into period indices and volumes into per-period
arrays, so that the engine itself never reads the scenario.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from gigawatt.units import SECONDS_PER_MONTH
from gigawatt.units import month_index as _month_index
from gigawatt.units import month_label as _label
from gigawatt.workload_defaults import DEFAULT_BATCH_TOKENS

__all__ = ["RunSpec", "StreamSpec", "Workloads", "resolve_workloads", "agentic_request_shape"]


@dataclass
class RunSpec:
    """One training run, as the engine sees it."""

    name: str
    model: str
    flop: float  # total training FLOP [FLOP]
    tokens: float  # training tokens [1]
    start: int  # earliest start, period index
    deadline: int | None  # month index of the deadline month (the run is due by its end), None if none
    min_chips: float
    max_chips: float
    allowed: np.ndarray  # (chip,) bool
    priority: int = 0
    batch_tokens: float = DEFAULT_BATCH_TOKENS  # tokens per optimizer step
    generated: bool = False
    start_month: str = ""
    deadline_month: str | None = None
    precision: str | None = None  # matmul precision it trains in; None: each chip's catalog training precision


@dataclass
class StreamSpec:
    """One inference stream, as the engine sees it."""

    name: str
    model: str
    tokens_per_day: np.ndarray  # (period,) input + output tokens per day
    input_tokens: float  # per request, new (uncached) prompt tokens the chips must prefill
    context_tokens: float  # per request, whole context the decode attends to
    output_tokens: float  # per request
    ttft_s: float | None
    tpot_s: float | None
    peak_to_mean: float
    precision: str
    allowed: np.ndarray  # (chip,) bool
    agentic: dict | None = None  # steps, prompt, tool output, output per step, cache hit rate or policy
    tools: dict | None = None  # agentic: tool calls, CPU-seconds per call, sandbox memory per task

    @property
    def output_share(self) -> float:
        """Output tokens per token of traffic (input counted whole, cached or not)."""
        return self.output_tokens / (self.context_tokens + self.output_tokens)


@dataclass
class Workloads:
    runs: list[RunSpec] = field(default_factory=list)
    streams: list[StreamSpec] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.streams] + [r.name for r in self.runs]


def agentic_request_shape(input_tokens, output_tokens, steps, context_growth, cache_hit_rate):
    r"""Tokens of one agentic task, and the average shape of one of its steps.

    A task of ``N`` steps starts from a prompt of ``P`` tokens; each step
    generates ``O`` tokens, and its tool returns ``T`` tokens; both join the
    context. Of what a step has seen before, a share ``h`` is served from the
    prefix cache and is not prefilled again. This is the accounting of
    :func:`gigawatt.perf.inference.agentic_task`.

    Parameters
    ----------
    input_tokens : float
        Prompt of the first step, ``P`` [tokens].
    output_tokens : float
        Tokens generated per step, ``O`` [tokens].
    steps : float
        Steps per task, ``N`` [1].
    context_growth : float
        Tool output added to the context per step, ``T`` [tokens].
    cache_hit_rate : float
        Share of already-seen context found in the prefix cache, ``h`` [1].

    Returns
    -------
    dict
        Per task: ``task_input_tokens`` (all context read), ``task_cached_tokens``,
        ``task_new_input_tokens`` (prefilled), ``task_output_tokens``; per step on
        average: ``context_tokens``, ``new_input_tokens``, ``output_tokens``.

    Notes
    -----
    .. math::
        c_i = P + i\,(T + O), \quad
        \text{cached} = h \sum_{i \ge 1} (c_i - T), \quad
        \text{input} = \sum_{i=0}^{N-1} c_i = N P + (T+O)\,N(N-1)/2

    Examples
    --------
    >>> s = agentic_request_shape(4000, 400, 20, 1500, 0.8)
    >>> s["task_input_tokens"], s["task_output_tokens"]
    (441000.0, 8000.0)
    >>> round(s["task_cached_tokens"])  # 0.8 * (441000 - 4000 - 19 * 1500)
    326800
    """
    n = float(steps)
    total_in = n * input_tokens + (context_growth + output_tokens) * n * (n - 1) / 2.0
    seen = total_in - input_tokens - (n - 1) * context_growth  # sum over i >= 1 of (c_i - T)
    cached = cache_hit_rate * seen
    return {
        "task_input_tokens": float(total_in),
        "task_cached_tokens": float(cached),
        "task_new_input_tokens": float(total_in - cached),
        "task_output_tokens": float(n * output_tokens),
        "context_tokens": float(total_in / n),
        "new_input_tokens": float((total_in - cached) / n),
        "output_tokens": float(output_tokens),
    }


def growth_factor(t_idx, at_idx: int, growth) -> np.ndarray:
    r"""Demand at months ``t_idx`` relative to its level at month ``at_idx``.

    Parameters
    ----------
    t_idx : array_like of int
        Months (``12*year + month - 1``).
    at_idx : int
        The month the level is given for.
    growth : float or dict
        A factor per year, or ``{month label: factor per year}``: each rate
        holds from its month to the next; the first also holds before it.

    Returns
    -------
    ndarray
        Multipliers [1].

    Notes
    -----
    .. math:: D(t) = D(t_0)\, \exp\Big(\sum_{m=t_0}^{t-1} \ln g(m) / 12\Big)

    Examples
    --------
    >>> growth_factor([0, 12, 24], 0, 3.0).tolist()
    [1.0, 3.0, 9.0]
    >>> [round(float(x), 6) for x in growth_factor([0, 12, 24], 0, {"0000-01": 3.0, "0001-01": 2.0})]
    [1.0, 3.0, 6.0]
    """
    t = np.asarray(t_idx, dtype=int)
    if not isinstance(growth, dict):
        return np.asarray(float(growth), dtype=float) ** ((t - at_idx) / 12.0)
    points = sorted((_month_index(m), float(g)) for m, g in growth.items())
    lo = min(int(t.min()), at_idx, points[0][0])
    hi = max(int(t.max()), at_idx) + 1
    months = np.arange(lo, hi)
    starts = np.array([p[0] for p in points])
    k = np.clip(np.searchsorted(starts, months, side="right") - 1, 0, len(points) - 1)
    log_rate = np.log(np.array([p[1] for p in points]))[k] / 12.0
    cum = np.concatenate([[0.0], np.cumsum(log_rate)])  # cum[i]: growth from lo to lo + i
    return np.exp(cum[t - lo] - cum[at_idx - lo])


def resolve_workloads(scn, fleet, flop_per_token) -> Workloads:
    """Expand the scenario's demand into run and stream specs.

    Parameters
    ----------
    scn : Inputs or Scenario
        Its ``demand``.
    fleet : Fleet or Inputs
        The chips (in the fleet's order) and the periods.
    flop_per_token : callable
        ``flop_per_token(model_id) -> float``: training FLOP per token of a model [FLOP].

    Returns
    -------
    Workloads
        Runs in the scenario's order (a ``generate`` item expanded in place,
        :func:`_generated_runs`), then streams (:func:`_stream`); names made
        unique by a ``-2``, ``-3``... suffix, runs named first.
    """
    from gigawatt.scenario.inputs import as_inputs

    out = Workloads()
    demand = scn.demand
    if demand is None:
        return out
    inputs = as_inputs(scn)  # catalog names resolved once, with the rest of the inputs
    periods = fleet.periods
    allowed = functools.partial(_chip_mask, fleet.chip_ids, inputs.chip_id)
    # a generation the roadmap marks ``use: inference`` never takes a training run
    trains = np.array([getattr(c, "use", "any") != "inference" for c in fleet.chips], dtype=bool)
    train_allowed = lambda names: allowed(names) & trains  # noqa: E731
    unique = _UniqueNames()
    for item in demand.training:
        if hasattr(item, "generate"):
            out.runs.extend(_generated_runs(item.generate, periods, flop_per_token, train_allowed, unique,
                                            inputs.model_id(item.generate.model)))
        else:
            out.runs.append(_listed_run(item, periods, flop_per_token, train_allowed, unique,
                                        inputs.model_id(item.model)))
    for i, s in enumerate(demand.inference):
        out.streams.append(_stream(s, i, periods.month, allowed, unique, inputs.model_id(s.model)))
    return out


def _chip_mask(chip_ids: list[str], chip_id, names) -> np.ndarray:
    """``(chip,)`` bool: the fleet's chips among ``names`` (catalog names or aliases, resolved by ``chip_id``);
    all when none are named."""
    if not names:
        return np.ones(len(chip_ids), dtype=bool)
    ids = {chip_id(n) for n in names}
    return np.array([c in ids for c in chip_ids], dtype=bool)


class _UniqueNames:
    """Hands out each name once: a name already given gets ``-2``, ``-3``... appended."""

    def __init__(self):
        self.used: set[str] = set()

    def __call__(self, name: str) -> str:
        base, k = name, 2
        while name in self.used:
            name, k = f"{base}-{k}", k + 1
        self.used.add(name)
        return name


def _generated_runs(g, periods, flop_per_token, allowed, unique, model: str) -> list[RunSpec]:
    """The runs of one ``generate:`` item: one every ``every`` months from ``first``.

    Parameters
    ----------
    g : GeneratedRuns
        The item (schema, SI).
    periods : Periods
        The horizon; a run that would start after it, or after ``until``, is not made.
    flop_per_token : callable
        Training FLOP per token of a model [FLOP].
    allowed : callable
        ``allowed(chip names) -> (chip,) bool``.
    unique : callable
        Makes a name unique among the workloads.
    model : str
        The model's catalog id (:meth:`gigawatt.scenario.inputs.Inputs.model_id`).

    Returns
    -------
    list of RunSpec
        At most ``g.count`` runs, named ``{name}-1``, ``{name}-2``...

    Notes
    -----
    Run :math:`k` (from 0) starts in month :math:`m_k = m_0 + k\\,e`, is due by
    the end of month :math:`m_k + d - 1` and has

    .. math:: F_k = F_0\\, G^{k e / 12}

    FLOP, with :math:`e` and :math:`d` the interval and the duration in whole
    months (at least 1) and :math:`G` the compute growth per year.
    """
    every_m = max(1, int(round(g.every_s / SECONDS_PER_MONTH)))
    dur_m = max(1, int(round(g.duration_s / SECONDS_PER_MONTH)))
    start = _month_index(g.first)
    last = _month_index(g.until) if g.until else int(periods.month[-1])
    runs = []
    k = 0
    while start + k * every_m <= last and (g.count is None or k < g.count):
        s = start + k * every_m
        flop = g.compute_flop * g.compute_growth ** (k * every_m / 12.0)
        fpt = flop_per_token(model)
        runs.append(RunSpec(
            name=unique(f"{g.name}-{k + 1}"), model=model, flop=flop, tokens=flop / fpt,
            start=periods.first_at_or_after(_label(s)), deadline=s + dur_m - 1, min_chips=g.min_chips,
            max_chips=g.max_chips if g.max_chips is not None else np.inf, allowed=allowed(g.chips),
            generated=True, start_month=_label(s), deadline_month=_label(s + dur_m - 1),
            batch_tokens=g.batch_tokens, precision=g.precision,
        ))
        k += 1
    return runs


def _listed_run(item, periods, flop_per_token, allowed, unique, model: str) -> RunSpec:
    """One run listed by name: its tokens given, or its compute divided by the model's FLOP per token.

    Parameters
    ----------
    item : TrainingRun
        The item (schema, SI).
    periods, flop_per_token, allowed, unique, model
        As for :func:`_generated_runs`.

    Returns
    -------
    RunSpec

    Notes
    -----
    Tokens :math:`T` and FLOP :math:`F` follow one from the other through the
    model's training FLOP per token :math:`f`: :math:`F = T f`, or
    :math:`T = F / f` when the compute is given.
    """
    fpt = flop_per_token(model)
    tokens = item.tokens if item.tokens is not None else item.compute_flop / fpt
    return RunSpec(
        name=unique(item.name), model=model, flop=tokens * fpt, tokens=tokens,
        start=periods.first_at_or_after(item.start),
        deadline=_month_index(item.deadline) if item.deadline else None,
        min_chips=item.min_chips, max_chips=item.max_chips if item.max_chips is not None else np.inf,
        allowed=allowed(item.chips), priority=item.priority, start_month=item.start,
        batch_tokens=item.batch_tokens,
        deadline_month=item.deadline,
        precision=item.precision,
    )


def _stream(s, i: int, months: np.ndarray, allowed, unique, model: str) -> StreamSpec:
    """One inference stream: its traffic per period, and the shape of one request.

    Parameters
    ----------
    s : InferenceStream
        The item (schema, SI).
    i : int
        Its position, for a default name ``inference-{i + 1}``.
    months : ndarray of int, (period,)
        Month index of each period, for growth.
    allowed, unique, model
        As for :func:`_generated_runs`.

    Returns
    -------
    StreamSpec

    Notes
    -----
    Tokens per day grow from their level at ``s.at`` by :func:`growth_factor`.
    An agentic stream adds :math:`n\\,(I_{task} + O_{task})` tokens a day for
    :math:`n` tasks a day, and its requests take the average step's context and
    new input (:func:`agentic_request_shape`).
    """
    factor = growth_factor(months, _month_index(s.at), s.growth)
    if s.agentic is not None:
        a = s.agentic
        shape = agentic_request_shape(s.input_tokens, s.output_tokens, a.steps_per_task,
                                      a.context_growth_tokens, _hit_rate(a))
        per_day = a.tasks_per_day * (shape["task_input_tokens"] + shape["task_output_tokens"])
        if s.tokens_per_day is not None:
            per_day += s.tokens_per_day
        context, new_in = shape["context_tokens"], shape["new_input_tokens"]
    else:
        per_day = s.tokens_per_day
        context = new_in = s.input_tokens
    return StreamSpec(
        name=unique(s.name or f"inference-{i + 1}"), model=model,
        tokens_per_day=per_day * factor, input_tokens=new_in, context_tokens=context,
        output_tokens=s.output_tokens, ttft_s=s.ttft_s, tpot_s=s.tpot_s, peak_to_mean=s.peak_to_mean,
        precision=s.precision, allowed=allowed(s.chips),
        agentic=None if s.agentic is None else _session(s),
        tools=None if s.agentic is None else {
            "tasks_per_day": s.agentic.tasks_per_day * factor,
            "tool_calls_per_task": float(round(s.agentic.steps_per_task) - 1),
            "cpu_s_per_tool_call": s.agentic.cpu_s_per_tool_call,
            "sandbox_memory_bytes": s.agentic.sandbox_memory_bytes,
            "input_tokens_new": shape["task_new_input_tokens"], "input_tokens_cached": shape["task_cached_tokens"],
            "output_tokens": shape["task_output_tokens"], "task_latency_s": s.agentic.task_latency_s,
            "task_latency_quantile": 0.5 if s.agentic.task_latency_quantile == "p50" else 0.9},
    )


def _hit_rate(a) -> float:
    """Share of a step's seen context cached: the fixed input, or, with a cache policy, the
    chance that the wait before a step (a tool's, or the user's idle time at a turn) ends within
    the cache lifetime (before memory pressure, which the throughput matrix's session model adds)."""
    if a.cache_policy is None:
        return a.cache_hit_rate
    from gigawatt.perf.agentic import cache_hit_probability, lognormal_from_median_p90, turn_share

    mu, sigma = lognormal_from_median_p90(a.tool_time_median_s, a.tool_time_p90_s)
    umu, usig = lognormal_from_median_p90(a.user_idle_median_s, a.user_idle_p90_s)
    return cache_hit_probability(a.cache_policy, mu, sigma, a.cache_lifetime_s,
                                 turn_q=turn_share(round(a.steps_per_task), a.turns), user_mu=umu, user_sigma=usig)


def _session(s) -> dict:
    """Keywords of :func:`gigawatt.perf.inference.agentic_task` for an agentic stream."""
    a = s.agentic
    out = {"steps": int(round(a.steps_per_task)), "system_prompt_tokens": s.input_tokens,
           "tool_output_tokens": a.context_growth_tokens, "output_tokens_per_step": s.output_tokens}
    if a.cache_policy is None:
        return {**out, "prefix_cache_hit_rate": a.cache_hit_rate}
    return {**out, "cache_policy": a.cache_policy, "cache_lifetime_s": a.cache_lifetime_s,
            "tool_time_median_s": a.tool_time_median_s, "tool_time_p90_s": a.tool_time_p90_s,
            "turns": a.turns, "user_idle_median_s": a.user_idle_median_s, "user_idle_p90_s": a.user_idle_p90_s}
