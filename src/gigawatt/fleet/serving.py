"""Inference on the engine's chips each period: how many chips each stream holds, what it serves, and the
chips it leaves idle through the day for training to backfill (:mod:`gigawatt.fleet.simulate` steps the periods).

``pooled`` (the default, :func:`serve_pooled`): the streams are sized together on
their combined daily peak and share a short pool pro rata; ``legacy``
(:func:`serve_legacy`): each stream on its own peak, one after another.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from gigawatt.fleet import policies as pol
from gigawatt.fleet.simulation import (CHIPS, NO_CHIP, SECONDS_PER_DAY, SERVED, TRAINING_FIRST,
                                       TRAINING_RESERVE)

if TYPE_CHECKING:
    from gigawatt.fleet.simulate import _State

__all__ = ["serve_legacy", "serve_pooled", "served_fraction", "take_for_stream"]


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


def serve_legacy(state: _State, t: int, avail: np.ndarray, reps, inv, res_t_left, taken_first):
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
        The groups of :func:`gigawatt.fleet.simulate._groups`.
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
    peak :math:`P\\,\\bar r` (:func:`take_for_stream`). Of the period's
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
        capacity, take = take_for_stream(state, w, need, free)
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


def take_for_stream(state: _State, w: int, need: np.ndarray, free: np.ndarray):
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


def serve_pooled(state: _State, t: int, avail: np.ndarray, reps, inv, res_t_left, taken_first):
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
        The groups of :func:`gigawatt.fleet.simulate._groups`.
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
    """:func:`serve_pooled` where each group of samples has its own demand (``state.demand_scale``).

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
