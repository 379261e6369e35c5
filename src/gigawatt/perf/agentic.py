"""Agentic sessions: many model calls sharing one growing context, with tool calls between them.

A *task* (an agent session) is ``N`` model calls. Call ``i`` (from 0) sees a context
``c_i = P + i·(T + O)``: the first prompt ``P``, then each earlier call's ``O`` output
tokens and its tool's ``T`` tokens of output. Between two calls a tool runs for a time
``W`` drawn from a log-normal distribution (its median and 90th percentile are inputs).
What happens to the session's KV cache during that wait is the *cache policy*:

``hold``
    The KV cache stays in HBM for at most the cache lifetime ``L``; while it waits it
    takes memory that would otherwise batch other sequences, so fewer sequences decode
    at once. A call that comes back within ``L`` finds its context cached.
``offload``
    The KV cache moves to host memory over the host link and comes back for the next
    call when that call arrives within ``L``: no HBM is held, but each hit waits for the
    transfer and the host holds the bytes.
``drop``
    Nothing is kept: every call prefills its whole context again.

A task may span several user *turns*: a call after the first starts a new turn with
probability ``q = (turns - 1)/(N - 1)``, and then the wait before it is the user's idle
time ``U`` (log-normal, median and 90th percentile inputs) rather than a tool's.

The cache hit rate is an output: ``(1 - q)·P(W <= L) + q·P(U <= L)`` of the calls after
the first find their seen context (all but the newest tool output) cached. A fixed hit rate (the older input
``prefix_cache_hit_rate``) is still accepted, with no memory held between calls.

Everything is a sum over calls in closed form or a numpy reduction over the call axis,
followed by one vectorized serving evaluation over a grid of batch sizes: a task of
thousands of calls costs what a task of tens costs, and there is no serving search per
call (see ``benchmarks/agentic_scaling.py``).

References
----------
.. [1] Microsoft/GitHub (Liu, Qiu, Goiri, Fonseca, Bianchini, Choukse), "Agentic Coding in
   the Wild: Characterizing GitHub Copilot Traces at Production Scale", arXiv 2608.00101,
   2026; dataset card github.com/Azure/AzurePublicDataset
   analysis/GitHubCopilotCodingAgents/DATASET_CARD.md.
.. [2] Anthropic, prompt caching (platform.claude.com/docs/en/build-with-claude/prompt-caching):
   5-minute default lifetime, 1 hour on request, refreshed on each hit; writes 1.25x
   (5 min) or 2x (1 h) the input price, reads 0.1x.
.. [3] L. F. Fenton, "The Sum of Log-Normal Probability Distributions in Scatter
   Transmission Systems", IRE Trans. Commun. Syst. 8(1), 1960.
.. [4] W. Kwon et al., "Efficient Memory Management for Large Language Model Serving with
   PagedAttention" (vLLM), SOSP 2023.
.. [5] H. Che, Y. Tung, Z. Wang, "Hierarchical Web Caching Systems: Modeling, Design and
   Experimental Results", IEEE J. Sel. Areas Commun. 20(7), 2002.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gigawatt.perf import transformer as tf
from gigawatt.perf.calibration import Calibration, calibration_for
from gigawatt.perf.hardware import Hardware
from gigawatt.perf.layout import Layout
from gigawatt.workload_defaults import (CACHE_LIFETIME_S, HOST_LINK_BW_BYTES_PER_S, TOOL_TIME_MEDIAN_S,
                                        TOOL_TIME_P90_S, USER_IDLE_MEDIAN_S, USER_IDLE_P90_S)

__all__ = [
    "CACHE_POLICIES",
    "MAX_STEPS",
    "MAX_CONTEXT_TOKENS",
    "Z90",
    "lognormal_from_median_p90",
    "lognormal_cdf",
    "lognormal_quantile",
    "expected_min_s",
    "cache_hit_probability",
    "turn_share",
    "session_tokens",
    "sum_of_lognormals",
    "agentic_session",
    "tool_host_demand",
]

#: cache policies between two calls of a session
CACHE_POLICIES = ("hold", "offload", "drop")

#: most calls of one task the model accepts [1]; the scenario's own limit
#: (``gigawatt.scenario.limits.MAX_AGENTIC_STEPS``) is lower
MAX_STEPS = 1_000_000

#: largest context a call may reach [tokens]: ten times the longest served context window
#: (1M tokens in 2025-26); past it the task is not an agent session but an input error
MAX_CONTEXT_TOKENS = 10_000_000

#: the standard normal's 90th percentile [1]
Z90 = 1.2815515655446004


def lognormal_from_median_p90(median_s: float, p90_s: float) -> tuple[float, float]:
    """Parameters ``(mu, sigma)`` of the log-normal with this median and 90th percentile.

    Parameters
    ----------
    median_s : float
        Median [s], > 0.
    p90_s : float
        90th percentile [s], >= ``median_s`` (equal: no spread).

    Returns
    -------
    tuple of float
        ``mu`` [ln s] and ``sigma`` [1].

    Notes
    -----
    ``mu = ln(median)``, ``sigma = ln(p90 / median) / z_0.9`` with ``z_0.9 = 1.2816``.

    Examples
    --------
    >>> mu, s = lognormal_from_median_p90(2.0, 20.0)
    >>> round(math.exp(mu), 3), round(s, 3)
    (2.0, 1.797)
    """
    if not (median_s > 0 and p90_s >= median_s and math.isfinite(p90_s)):
        raise ValueError(f"tool time needs 0 < median ({median_s}) <= p90 ({p90_s})")
    return math.log(median_s), math.log(p90_s / median_s) / Z90


_ERFC = np.vectorize(math.erfc, otypes=[float])


def _ndtr(x):
    """The standard normal CDF, elementwise, from ``math.erfc`` (accurate in both tails).

    The arrays here are a few dozen values, so this costs nothing, where importing
    ``scipy.special`` costs about 0.15 s on every run.

    >>> [round(float(v), 6) for v in _ndtr([-1.959964, 0.0, 1.281552])]
    [0.025, 0.5, 0.9]
    """
    x = np.asarray(x, dtype=float)
    lo = 0.5 * _ERFC(-x / math.sqrt(2.0))
    return np.where(x < 0, lo, 1.0 - 0.5 * _ERFC(x / math.sqrt(2.0))) if x.ndim else (
        float(lo) if x < 0 else 1.0 - 0.5 * math.erfc(float(x) / math.sqrt(2.0)))


def _ndtri(q):
    """The standard normal quantile, elementwise (``statistics.NormalDist``); -inf at 0 and inf at 1."""
    from statistics import NormalDist

    q = np.asarray(q, dtype=float)
    inv = NormalDist().inv_cdf
    out = np.vectorize(lambda v: -math.inf if v <= 0 else math.inf if v >= 1 else (math.nan if v != v else inv(v)),
                       otypes=[float])(q)
    return out if q.ndim else float(out)


def lognormal_cdf(x_s: Any, mu: float, sigma: float) -> np.ndarray:
    """``P(W <= x)`` of a log-normal ``W`` [1]; ``sigma = 0`` is a point mass at ``exp(mu)``."""
    x = np.asarray(x_s, dtype=float)
    with np.errstate(divide="ignore"):
        lx = np.log(np.maximum(x, 0.0))
    if sigma <= 0:
        return np.where(lx >= mu, 1.0, 0.0)
    return _ndtr((lx - mu) / sigma)


def lognormal_quantile(q: Any, mu: float, sigma: float) -> np.ndarray:
    """The ``q`` quantile of a log-normal ``W`` [s]: ``exp(mu + sigma·Phi^-1(q))``."""
    return np.exp(mu + sigma * _ndtri(np.asarray(q, dtype=float)))


def expected_min_s(mu: float, sigma: float, limit_s: float) -> float:
    """``E[min(W, L)]`` of a log-normal wait ``W`` and a lifetime ``L`` [s].

    Notes
    -----
    .. math::
        E[\\min(W, L)] = e^{\\mu + \\sigma^2/2}\\,\\Phi\\!\\left(\\frac{\\ln L - \\mu - \\sigma^2}{\\sigma}\\right)
        + L\\,\\left(1 - \\Phi\\!\\left(\\frac{\\ln L - \\mu}{\\sigma}\\right)\\right)

    Examples
    --------
    A lifetime far above every wait gives the mean, ``exp(mu + sigma^2/2)``:

    >>> round(expected_min_s(math.log(2.0), 0.5, 1e9), 4), round(2.0 * math.exp(0.125), 4)
    (2.2663, 2.2663)
    """
    if limit_s <= 0:
        return 0.0
    if not math.isfinite(limit_s):
        return math.exp(mu + sigma * sigma / 2.0)
    if sigma <= 0:
        return min(math.exp(mu), limit_s)
    ll = math.log(limit_s)
    below = math.exp(mu + sigma * sigma / 2.0) * float(_ndtr((ll - mu - sigma * sigma) / sigma))
    return below + limit_s * (1.0 - float(_ndtr((ll - mu) / sigma)))


def turn_share(steps: float, turns: float) -> float:
    """Chance ``q = (turns - 1)/(N - 1)`` that a call after the first starts a new user turn [1]."""
    return (float(turns) - 1.0) / (float(steps) - 1.0) if steps > 1 else 0.0


def cache_hit_probability(policy: str, mu: float, sigma: float, lifetime_s: float, *, turn_q: float = 0.0,
                          user_mu: float = 0.0, user_sigma: float = 0.0) -> float:
    """Chance that a call after the first finds its session's seen context cached [1].

    ``hold`` and ``offload``: the wait before the call ended within the lifetime (each hit
    refreshes the lifetime, so only the last wait counts [2]_): ``P(W <= L)`` after a tool,
    ``P(U <= L)`` after a user's idle time, mixed as ``(1 - q)·P(W <= L) + q·P(U <= L)``
    with ``q`` the chance that the call starts a turn (:func:`turn_share`); ``drop``: 0.
    """
    if policy == "drop":
        return 0.0
    if policy not in CACHE_POLICIES:
        raise ValueError(f"cache policy {policy!r} is not one of {', '.join(CACHE_POLICIES)}")
    p = float(lognormal_cdf(lifetime_s, mu, sigma))
    return p if turn_q <= 0 else (1.0 - turn_q) * p + turn_q * float(lognormal_cdf(lifetime_s, user_mu, user_sigma))


def session_tokens(steps: int, prompt_tokens: float, tool_output_tokens: float, output_tokens_per_step: float,
                   hit: float, *, partial: bool = False) -> dict[str, Any]:
    """Tokens of one task, per call and summed: context, new (prefilled), cached, output.

    Parameters
    ----------
    steps : int
        Model calls per task ``N`` [1].
    prompt_tokens : float
        Context of the first call ``P`` [tokens].
    tool_output_tokens : float
        Tokens each tool result adds ``T`` [tokens].
    output_tokens_per_step : float
        Tokens each call generates ``O`` (they join the context) [tokens].
    hit : float
        Probability that a call after the first finds its seen context cached; with
        ``partial``, the share of that seen context found (a fixed hit rate) [1].
    partial : bool
        Read ``hit`` as a share of each call's seen context rather than a probability.

    Returns
    -------
    dict
        ``context`` (per call, ndarray) [tokens], ``new``, ``cached`` (expected, per call)
        [tokens], ``prefill_key_tokens`` (sum over new tokens of the keys each attends to)
        [tokens^2], and the totals ``input_tokens``, ``input_tokens_new``,
        ``input_tokens_cached``, ``output_tokens`` [tokens], ``hit_rate`` (cached over
        input) [1].

    Notes
    -----
    ``c_i = P + i(T+O)``; call ``i >= 1`` has seen ``c_i - T`` before. A hit (probability
    ``h``) prefills the ``T`` newest tokens, each attending to about ``c_i - T/2`` keys; a
    miss prefills all ``c_i``, attending to ``(c_i+1)/2`` on average. Totals:
    ``sum c_i = NP + (T+O)N(N-1)/2``, ``cached = h·sum_{i>=1}(c_i - T)``.

    Examples
    --------
    >>> s = session_tokens(20, 4000, 1500, 400, 0.8, partial=True)
    >>> s["input_tokens"], s["output_tokens"], round(s["input_tokens_cached"])
    (441000.0, 8000.0, 326800)
    """
    n = int(steps)
    i = np.arange(n, dtype=float)
    ctx = prompt_tokens + i * (tool_output_tokens + output_tokens_per_step)
    seen = np.where(i > 0, ctx - tool_output_tokens, 0.0)
    cached = hit * seen
    new = ctx - cached
    if partial:
        keys = new * (ctx - new / 2.0 + 0.5)
    else:
        h = np.where(i > 0, hit, 0.0)
        keys = h * tool_output_tokens * (ctx - tool_output_tokens / 2.0 + 0.5) + (1.0 - h) * ctx * (ctx + 1.0) / 2.0
    total_in = float(ctx.sum())
    return {"context": ctx, "new": new, "cached": cached, "prefill_key_tokens": float(keys.sum()),
            "input_tokens": total_in, "input_tokens_new": float(new.sum()), "input_tokens_cached": float(cached.sum()),
            "output_tokens": float(n * output_tokens_per_step),
            "hit_rate": float(cached.sum() / total_in) if total_in > 0 else 0.0}


def sum_of_lognormals(n: float, mu: float, sigma: float) -> tuple[float, float]:
    """Log-normal ``(mu, sigma)`` of the sum of ``n`` independent log-normal waits (Fenton-Wilkinson).

    Notes
    -----
    Match the sum's mean ``n·m`` and variance ``n·v`` with ``m = e^{mu+sigma^2/2}``,
    ``v = (e^{sigma^2} - 1)·m^2``: ``sigma_S^2 = ln(1 + v/(n m^2))``,
    ``mu_S = ln(n m) - sigma_S^2/2`` [3]_.

    Examples
    --------
    One wait is itself:

    >>> [round(x, 6) for x in sum_of_lognormals(1, 0.7, 0.5)]
    [0.7, 0.5]
    """
    if n <= 0:
        return -math.inf, 0.0
    m = math.exp(mu + sigma * sigma / 2.0)
    v = (math.exp(sigma * sigma) - 1.0) * m * m
    s2 = math.log1p(v / (n * m * m))
    return math.log(n * m) - s2 / 2.0, math.sqrt(s2)


def _check(steps: int, prompt: float, tool: float, out: float, policy: str | None, lifetime_s: float,
           hit_rate: float | None, turns: float = 1.0) -> None:
    """Refuse a task the model cannot describe, naming the input and the fix."""
    if not (isinstance(steps, (int, np.integer)) and 1 <= steps <= MAX_STEPS):
        raise ValueError(f"steps {steps!r} must be a whole number from 1 to {MAX_STEPS:,}; "
                         "a longer job is several tasks (sub-agents)")
    for name, v in (("system_prompt_tokens", prompt), ("tool_output_tokens", tool),
                    ("output_tokens_per_step", out)):
        if not (math.isfinite(v) and v >= 0):
            raise ValueError(f"{name} {v!r} must be a finite number of tokens >= 0")
    if prompt + out <= 0:
        raise ValueError("system_prompt_tokens + output_tokens_per_step must be positive")
    final = prompt + (steps - 1) * (tool + out) + out
    if final > MAX_CONTEXT_TOKENS:
        raise ValueError(f"the last call's context reaches {final:,.0f} tokens, past {MAX_CONTEXT_TOKENS:,} "
                         "(ten times the longest served context window); lower steps or tool_output_tokens, "
                         "or split the job into sub-agent tasks")
    if policy is None and hit_rate is None:
        raise ValueError("give a cache_policy (hold, offload, drop) or a fixed prefix_cache_hit_rate")
    if policy is not None and policy not in CACHE_POLICIES:
        raise ValueError(f"cache_policy {policy!r} is not one of {', '.join(CACHE_POLICIES)}")
    if hit_rate is not None and not 0.0 <= hit_rate <= 1.0:
        raise ValueError(f"prefix_cache_hit_rate {hit_rate!r} must be from 0 to 1")
    if not lifetime_s > 0:
        raise ValueError(f"cache_lifetime_s {lifetime_s!r} must be positive")
    if not (math.isfinite(turns) and 1.0 <= turns <= steps):
        raise ValueError(f"turns {turns!r} must be from 1 to the task's steps ({steps}); each turn has at least "
                         "one model call")


def agentic_session(arch: tf.Arch, hw: Hardware, layout: Layout = Layout(tp=8), *, steps: int,
                    system_prompt_tokens: float, tool_output_tokens: float, output_tokens_per_step: float,
                    cache_policy: str | None = "hold", cache_lifetime_s: float = CACHE_LIFETIME_S,
                    tool_time_median_s: float = TOOL_TIME_MEDIAN_S, tool_time_p90_s: float = TOOL_TIME_P90_S,
                    turns: float = 1.0, user_idle_median_s: float = USER_IDLE_MEDIAN_S,
                    user_idle_p90_s: float = USER_IDLE_P90_S,
                    prefix_cache_hit_rate: float | None = None,
                    host_bw_bytes_per_s: float = HOST_LINK_BW_BYTES_PER_S,
                    n_chips: int | None = None, precision: str = "bf16", kv_bytes_per_value: float | None = None,
                    ttft_limit_s: float | None = None, tpot_limit_s: float | None = None,
                    latency_target_s: float | None = None, latency_quantile: float = 0.9,
                    cal: Calibration | None = None) -> dict[str, Any]:
    """One agentic task served by a replica among many sessions: tokens, chip-seconds, memory, latency.

    Parameters
    ----------
    arch : Arch
        Model architecture.
    hw : Hardware
        Chip in its system.
    layout : Layout
        The replica (``tp``, ``pp``, ``ep``, ``attention_dp``; see
        :func:`gigawatt.perf.inference.serve`).
    steps : int
        Model calls per task ``N``; ``N - 1`` tool calls run between them [1].
    system_prompt_tokens : float
        Context of the first call ``P`` (system prompt, tools, user request) [tokens].
    tool_output_tokens : float
        Tokens each tool result adds to the context ``T`` [tokens].
    output_tokens_per_step : float
        Tokens each call generates ``O`` [tokens].
    cache_policy : {'hold', 'offload', 'drop'} or None
        What happens to a session's KV cache while its tool runs; None with a fixed
        ``prefix_cache_hit_rate`` (no memory held between calls).
    cache_lifetime_s : float
        How long a waiting session's cache is kept, refreshed by each hit ``L`` [s]; default
        Anthropic's 5 minutes (:data:`gigawatt.workload_defaults.CACHE_LIFETIME_S`).
    tool_time_median_s, tool_time_p90_s : float
        Median and 90th percentile of one tool call's time ``W`` (log-normal) [s]; defaults
        1 s and 8 s, assumptions (:mod:`gigawatt.workload_defaults`).
    turns : float
        User turns per task, from 1 (the default: no user between calls) to ``N``; a mean,
        not necessarily whole (the GitHub Copilot trace has 3.95 [1]_).
    user_idle_median_s, user_idle_p90_s : float
        Median and 90th percentile of the user's idle time ``U`` between two turns
        (log-normal) [s]; defaults 1 min and 10 min, assumptions (the trace's card does not
        publish them; :mod:`gigawatt.workload_defaults`).
    prefix_cache_hit_rate : float, optional
        A fixed share of each call's seen context served from cache (replaces the policy) [1].
    host_bw_bytes_per_s : float
        Host-link bandwidth per chip for ``offload`` [B/s]; default one PCIe 5.0 x16 link
        (63 GB/s), an assumption.
    n_chips : int, optional
        Chips of the system (default one replica); chip-seconds per task do not depend on it.
    precision : str
        Weight and matmul precision.
    kv_bytes_per_value : float, optional
        Bytes per cached key or value element [B]; default
        :func:`gigawatt.perf.serving_iteration.default_kv_bytes_per_value`.
    ttft_limit_s, tpot_limit_s : float, optional
        Per-call latency limits (server regime) [s].
    latency_target_s : float, optional
        Task latency target [s]: the share of tasks within it is reported.
    latency_quantile : float
        Quantile the target applies to (0.5 or 0.9) [1].
    cal : Calibration, optional
        Coefficients of the chip.

    Returns
    -------
    dict
        Tokens per task: ``input_tokens_new``, ``input_tokens_cached``, ``output_tokens``,
        ``final_context_tokens`` [tokens]; ``hit_rate`` [1]; ``chip_s`` per task [chip·s];
        ``hit_probability`` [1] and ``effective_lifetime_s`` [s] (below ``cache_lifetime_s``
        where memory forces it); the serving point: ``batch`` [1], ``tpot_s``, ``ttft_s`` [s],
        ``kv_capacity_tokens``
        [tokens], ``held_kv_share`` (of the replica's KV cache held by sessions waiting on
        tools) [1]; ``offload_restore_s`` per task [s] and ``host_memory_bytes_per_chip`` [B]
        (offload); latency: ``llm_time_s``, ``tool_time_mean_s``, ``task_latency_mean_s``,
        ``task_latency_p50_s``, ``task_latency_p90_s`` [s], ``within_target_share`` [1]
        (None without a target).

    Notes
    -----
    Per task (:func:`session_tokens`) the replica prefills ``sum new_i`` tokens and decodes
    ``N·O``. With ``B`` sequences decoding, each iteration decodes ``B`` tokens and
    prefills ``B·rho`` tokens, ``rho = sum new_i / (N O)``, at mean decode context
    ``c_d = mean(c_i) + O/2`` and prefill context ``sum keys / sum new``; its time
    ``t(B)`` is :func:`gigawatt.perf.serving_iteration.iteration_time_s`.

    Memory (Little's law): a session is decoding for ``N·O·t`` seconds and, under
    ``hold``, waiting with ``c_i + O`` tokens in HBM for ``E_w = (1-q)·E[min(W, L)] +
    q·E[min(U, L)]`` (:func:`expected_min_s`; ``q`` the chance that the next call starts a
    user turn, :func:`turn_share`) after each of its first ``N-1`` calls, so the KV cache
    ``K`` must hold

    .. math:: B\\,\\Big(c_d + \\frac{\\sum_{i<N-1}(c_i + O)\\,E_w}{N\\,O\\,t(B)}\\Big) \\le K

    Memory pressure: when holding every waiting session for the whole lifetime does not fit,
    the engine evicts the waiting caches that have waited longest, which acts as a shorter
    effective lifetime ``L' <= L`` (the characteristic time of Che's approximation of an LRU
    cache [5]_); a call then hits with probability ``(1-q)·P(W <= L') + q·P(U <= L')``.
    The model evaluates the grid of 64 batches (spaced geometrically, as
    :func:`gigawatt.perf.inference.serve_continuous`) by 27 effective lifetimes (0, the
    wait's 2nd to 98th percentiles, ``L``; with turns, the user idle time's percentiles
    too; the task's tokens are linear in the hit probability) and takes the pair of highest ``B/t(B, L')`` that fits and meets the
    limits; under limits the rate runs at ``server_utilization``. Chip time per task:
    ``chip_s = R·N·O·t / (B·u)`` for ``R`` chips per replica.

    ``offload`` holds the same bytes in host memory instead: per chip
    ``kv·sum_{i<N-1}(c_i+O)·E[min(W,L)] / chip_s``; each hit waits for its seen context to
    come back, ``(c_i - T)·kv / (R·bw_host)`` (the copy out overlaps the tool's run; the
    copies use the chips' DMA engines, not their compute). ``drop`` holds nothing and
    prefills every context again.

    Task latency: ``N·(TTFT + O·t) + restores`` plus the sum of the ``(N-1)(1-q) = N - turns``
    tool waits, log-normal by Fenton-Wilkinson (:func:`sum_of_lognormals`); the share
    within the target is that sum's CDF at ``target - LLM time``. It excludes the user's
    own idle time between turns (the system is not working then). TTFT is the prefill of a mean call's
    new tokens plus one iteration of waiting [4]_.
    """
    from gigawatt.perf.inference import (default_kv_bytes_per_value, iteration_time_s, kv_capacity_tokens,
                                         replica_problem, within_latency_limits)

    steps = int(steps) if isinstance(steps, (float, np.floating)) and float(steps).is_integer() else steps
    _check(steps, system_prompt_tokens, tool_output_tokens, output_tokens_per_step, cache_policy,
           cache_lifetime_s, prefix_cache_hit_rate, float(turns))
    cal = cal or calibration_for(hw.chip)
    kvb = default_kv_bytes_per_value(precision) if kv_bytes_per_value is None else kv_bytes_per_value
    lay = layout.complete()
    tp, pp, ep, adp = int(lay.tp), int(lay.pp), int(lay.ep), bool(lay.attention_dp)
    replica = tp * pp
    cap = kv_capacity_tokens(arch, hw, replica, precision=precision, kv_bytes_per_value=kvb, cal=cal, tp=tp,
                             attention_dp=adp)
    problem = replica_problem(arch, hw, kv_capacity=cap, chips=replica, ep=ep, precision=precision)
    if problem:
        raise ValueError(problem)

    mu, sigma = lognormal_from_median_p90(tool_time_median_s, tool_time_p90_s)
    tq = turn_share(steps, turns)
    umu, usig = 0.0, 0.0
    if tq > 0:
        if not (user_idle_median_s > 0 and math.isfinite(user_idle_p90_s) and user_idle_p90_s >= user_idle_median_s):
            raise ValueError(f"user idle time needs 0 < user_idle_median ({user_idle_median_s!r} s) <= "
                             f"user_idle_p90 ({user_idle_p90_s!r} s)")
        umu, usig = lognormal_from_median_p90(user_idle_median_s, user_idle_p90_s)
    fixed = prefix_cache_hit_rate is not None and cache_policy is None
    policy = "fixed" if fixed else cache_policy
    n, out = float(steps), float(output_tokens_per_step)
    # the task's tokens are linear in the hit probability: evaluate at 0 and 1 and mix
    t0 = session_tokens(steps, system_prompt_tokens, tool_output_tokens, output_tokens_per_step, 0.0)
    t1 = session_tokens(steps, system_prompt_tokens, tool_output_tokens, output_tokens_per_step, 1.0, partial=fixed)
    ctx = t0["context"]
    decode_ctx = float(ctx.mean()) + out / 2.0
    waiting_tokens = float((ctx[:-1] + out).sum())  # context of the calls that wait on a tool

    # effective lifetimes: the policy's own, or under hold any shorter one that memory forces
    if policy == "hold":
        q = lognormal_quantile(np.linspace(0.02, 0.98, 25), mu, sigma)
        if tq > 0:
            q = np.concatenate([q, lognormal_quantile(np.linspace(0.02, 0.98, 25), umu, usig)])
        # longest first, so that of equally fast choices the one keeping caches longest is taken
        life = np.unique(np.clip(np.concatenate([[0.0], q, [cache_lifetime_s]]), 0.0, cache_lifetime_s))[::-1]
    elif policy == "offload":
        life = np.array([cache_lifetime_s])
    else:
        life = np.array([0.0])
    if fixed:
        hit = np.array([float(prefix_cache_hit_rate)])
    else:
        hit = np.where(life > 0, lognormal_cdf(np.maximum(life, 1e-300), mu, sigma), 0.0)
        if tq > 0:
            hit = (1.0 - tq) * hit + tq * np.where(life > 0, lognormal_cdf(np.maximum(life, 1e-300), umu, usig), 0.0)
    wait = np.array([expected_min_s(mu, sigma, float(x)) for x in life]) if policy in ("hold", "offload") else \
        np.zeros_like(life)
    if tq > 0 and policy in ("hold", "offload"):
        wait = (1.0 - tq) * wait + tq * np.array([expected_min_s(umu, usig, float(x)) for x in life])
    new = t0["input_tokens_new"] + hit * (t1["input_tokens_new"] - t0["input_tokens_new"])
    keys = t0["prefill_key_tokens"] + hit * (t1["prefill_key_tokens"] - t0["prefill_key_tokens"])
    cached = t0["input_tokens"] - new

    bcap = cal.max_decode_batch * (tp if adp else 1)
    bmax = min(bcap, cap / max(decode_ctx, 1.0))
    if bmax < 1:
        raise ValueError(f"one call's context of {decode_ctx:,.0f} tokens does not fit the KV cache "
                         f"({cap:,.0f} tokens); raise tp or use a smaller KV precision")
    b = np.unique(np.concatenate([np.geomspace(1.0, bmax, 64), [bmax]]))[:, None]  # (batch, lifetime)
    rho = new / (n * out) if out > 0 else np.zeros_like(new)
    prefill_ctx = keys / np.maximum(new, 1.0)
    common = dict(precision=precision, kv_bytes_per_value=kvb, cal=cal)
    it = iteration_time_s(arch, hw, lay, decode_tokens=b + 0.0 * rho, decode_context=decode_ctx,
                          prefill_tokens=b * rho, prefill_context=prefill_ctx + 0.0 * b, sequences=b + 0.0 * rho,
                          **common)
    t_iter = it["time_s"]
    t_prefill = iteration_time_s(arch, hw, lay, decode_tokens=0.0 * new, decode_context=0.0, prefill_tokens=new / n,
                                 prefill_context=prefill_ctx, sequences=1.0, **common)["time_s"]
    kv_token_bytes = tf.kv_cache_bytes_per_token(arch, kvb)
    restore = cached * kv_token_bytes / (replica * host_bw_bytes_per_s) if policy == "offload" else 0.0 * cached
    # a call's TTFT: its prefill, one iteration of waiting and, offloaded, its share of the restores
    ttft = t_prefill + t_iter + restore / n
    held_per_seq = waiting_tokens * wait / (n * out * t_iter) if (policy == "hold" and out > 0) else 0.0 * t_iter
    fits = b * (decode_ctx + held_per_seq) <= cap
    ok = fits & within_latency_limits(t_iter, ttft, ttft_limit_s, tpot_limit_s)
    if not ok.any():
        why = ("no batch meets the latency limits; relax the TTFT or TPOT limit" if fits.any() else
               "sessions holding their KV cache while tools run leave no room for one call; use cache_policy "
               "offload or drop, or a shorter cache lifetime")
        raise ValueError(why)
    rate = np.where(ok, b / t_iter, -np.inf)
    kb, kl = np.unravel_index(int(np.argmax(rate)), rate.shape)
    util = cal.server_utilization if (ttft_limit_s or tpot_limit_s) else 1.0
    tk, bk = float(t_iter[kb, kl]), float(b[kb, 0])
    chip_s = replica * n * out * tk / (bk * util)
    held_share = float(bk * held_per_seq[kb, kl] / cap) if policy == "hold" else 0.0
    host_bytes = (waiting_tokens * float(wait[kl]) * kv_token_bytes / chip_s) if policy == "offload" else 0.0
    restore_s = float(restore[kl])
    tok = {"input_tokens_new": float(new[kl]), "input_tokens_cached": float(cached[kl]),
           "output_tokens": t0["output_tokens"], "input_tokens": t0["input_tokens"],
           "hit_rate": float(cached[kl] / t0["input_tokens"])}
    ttft_k = float(ttft[kb, kl])

    llm_s = n * (ttft_k + out * tk)
    m_tool = math.exp(mu + sigma * sigma / 2.0)
    n_tool = (n - 1.0) * (1.0 - tq)  # the waits on tools; the user's idle time is not the task's latency
    ms, ss = sum_of_lognormals(n_tool, mu, sigma)
    if n_tool > 0:
        p50, p90 = (llm_s + float(lognormal_quantile(q, ms, ss)) for q in (0.5, 0.9))
    else:
        p50 = p90 = llm_s
    within = None
    if latency_target_s is not None:
        within = float(lognormal_cdf(latency_target_s - llm_s, ms, ss)) if n_tool > 0 else \
            float(llm_s <= latency_target_s)
    return {
        "policy": policy, "steps": int(n), "tool_calls": int(n - 1),
        "input_tokens_new": tok["input_tokens_new"], "input_tokens_cached": tok["input_tokens_cached"],
        "output_tokens": tok["output_tokens"], "input_tokens": tok["input_tokens"],
        "final_context_tokens": float(ctx[-1]), "hit_rate": tok["hit_rate"], "hit_probability": float(hit[kl]),
        "effective_lifetime_s": float(life[kl]),
        "chip_s": chip_s, "batch": bk, "tpot_s": tk, "ttft_s": ttft_k,
        "kv_capacity_tokens": float(cap), "held_kv_share": held_share, "replica_chips": replica,
        "offload_restore_s": restore_s, "host_memory_bytes_per_chip": host_bytes,
        "llm_time_s": llm_s, "tool_time_mean_s": n_tool * m_tool, "turns": float(turns),
        "task_latency_mean_s": llm_s + n_tool * m_tool, "task_latency_p50_s": p50, "task_latency_p90_s": p90,
        "latency_target_s": latency_target_s, "latency_quantile": latency_quantile, "within_target_share": within,
        "meets_target": None if latency_target_s is None else bool(
            (p50 if latency_quantile <= 0.5 else p90) <= latency_target_s),
        "n_chips": int(n_chips or replica),
    }


def tool_host_demand(tasks_per_s: Any, tool_calls_per_task: float, cpu_s_per_tool_call: float,
                     sandbox_memory_bytes: float, task_latency_mean_s: float, *, cores_per_cpu: float,
                     utilization: float, memory_per_cpu_bytes: float | None = None) -> dict[str, Any]:
    """CPU cores, CPUs and sandbox memory that agent tasks' tools need at a task rate.

    Parameters
    ----------
    tasks_per_s : array_like
        Tasks started per second [1/s].
    tool_calls_per_task : float
        Tool calls of one task, ``N - 1`` [1].
    cpu_s_per_tool_call : float
        CPU time of one tool call [core·s].
    sandbox_memory_bytes : float
        Memory of one session's sandbox, held for the whole task [B].
    task_latency_mean_s : float
        Mean task duration (model calls and tools) [s].
    cores_per_cpu : float
        Cores of one CPU (socket) [1].
    utilization : float
        Busy share of the cores at which the pool is sized [1].
    memory_per_cpu_bytes : float, optional
        Host memory per CPU for sandboxes [B]; None: the pool is sized by cores only.

    Returns
    -------
    dict
        ``cores`` (busy cores / utilization) [1], ``cpus`` (the larger of the cores' and the
        memory's need) [1], ``cpus_for_cores``, ``cpus_for_memory`` [1],
        ``sandbox_memory_bytes`` (concurrent sessions x memory) [B], ``sessions`` (in flight) [1].

    Notes
    -----
    Busy cores ``lambda·(N-1)·s_cpu``; sessions in flight ``lambda·E[T_task]`` (Little's law),
    each holding its sandbox; CPUs ``max(cores / (c·u), lambda·E[T]·m_sandbox / m_cpu)``.

    Examples
    --------
    A million tasks a day of 30 tool calls at half a core-second, on 96-core CPUs at 50%:

    >>> d = tool_host_demand(1e6 / 86400, 30, 0.5, 2 * 2**30, 900.0, cores_per_cpu=96, utilization=0.5)
    >>> round(float(d["cores"])), round(float(d["cpus"]), 1), round(float(d["sessions"]))
    (347, 3.6, 10417)
    """
    rate = np.asarray(tasks_per_s, dtype=float)
    cores = rate * tool_calls_per_task * cpu_s_per_tool_call / utilization
    sessions = rate * task_latency_mean_s
    memory = sessions * sandbox_memory_bytes
    for_cores = cores / cores_per_cpu
    for_memory = memory / memory_per_cpu_bytes if memory_per_cpu_bytes else np.zeros_like(for_cores)
    return {"cores": cores, "cpus": np.maximum(for_cores, for_memory), "cpus_for_cores": for_cores,
            "cpus_for_memory": for_memory, "sessions": sessions, "sandbox_memory_bytes": memory}
