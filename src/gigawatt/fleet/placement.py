"""Training runs on the engine's free chips: where each run trains in a period, on how many chips, for
which hours of the day, and what it trains (:mod:`gigawatt.fleet.simulate` steps the periods).

A run needs all its chips in one pool (one site, one generation). Each period it
takes chips free all day, or, with backfill, the chips inference leaves idle in
the hours of the day it is off its peak (:func:`place`); it picks the job size
that trains fastest (:func:`choose_size`), trains with the goodput its failures
leave (:func:`train_one`, :func:`advance`), and where it gets no chips the engine
records why (:func:`reason`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from gigawatt.economics.buyer import SECONDS_PER_HOUR
from gigawatt.fleet import reliability
from gigawatt.fleet.simulation import INFERENCE, NO_POOL, RESERVE, RUNS_AHEAD, Throughput

if TYPE_CHECKING:
    from gigawatt.fleet.simulate import _State

__all__ = ["advance", "choose_size", "peak_sizes", "place", "reason", "train_one"]


def peak_sizes(throughput: Throughput, run: int, pool_chip: np.ndarray, min_chips: float):
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


def choose_size(throughput: Throughput, run: int, pool_chip, most, peak_size, peak_rate):
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


def train_one(state: _State, t: int, r: int, F: np.ndarray, active: np.ndarray, here: np.ndarray, inv,
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
    pool, chips, rate, k = place(state, r, F, active, here)
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


def place(state: _State, r: int, F: np.ndarray, active: np.ndarray, here: np.ndarray):
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
    by :func:`choose_size`. It trains
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
    # hour (every stretch of hours starts there, so none has more chips free through it): evaluate only the
    # groups where the run is to be placed and can be
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
    """:func:`place` on the groups of ``F``; ``factor`` their throughput factor per pool, or None."""
    run = state.runs[r]
    pool_chip = state.pool_chip
    n_h, n_u, n_p = F.shape
    rows = np.arange(n_u)
    cap_p = np.minimum(run.max_chips, state.max_cluster[pool_chip])
    size_p, rate_p = state.peaks[r]
    # a pool qualifies only where some group has the run's minimum chips free in its least loaded hour
    # (every stretch of hours starts there): the others score -1 and are not evaluated
    live = run.allowed[pool_chip] & (cap_p >= run.min_chips) & (F[0].max(axis=0) >= run.min_chips)
    idx = np.nonzero(live)[0]
    score_p = np.full((n_u, n_p), -1.0)
    k = np.zeros((n_u, n_p), dtype=int)  # each pool's best number of hours, less one
    if idx.size:
        avail = F[:, :, idx]  # (h, u, live pool): chips free through the k least loaded hours
        uneven = np.ones(idx.size, dtype=bool) if state.uneven is None else state.uneven[idx]
        if n_h > 1 and uneven.any():  # the running minimum leaves the other pools' falling hours as they are
            for h in range(1, n_h):  # hour by hour on whole (group, pool) slices: faster than accumulate here
                np.minimum(avail[h], avail[h - 1], out=avail[h])
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
        cells = np.flatnonzero(last)  # ascending: hour, then group, then live pool
        n_l = idx.size
        l_at, u_at, h_at = cells % n_l, (cells // n_l) % n_u, cells // (n_l * n_u)
        cand_c, rate_c = choose_size(state.throughput, r, pool_chip[idx][l_at], avail.ravel()[cells],
                                     size_p[idx][l_at], rate_p[idx][l_at])
        if factor is not None:  # the performance model's error, drawn per sample
            rate_c *= factor[u_at, idx[l_at]]
        ok = (cand_c >= run.min_chips) & np.isfinite(rate_c)
        score = np.full(avail.shape, -1.0)
        score.ravel()[cells] = np.where(ok, cand_c * np.where(ok, rate_c, 0.0) * eff[h_at], -1.0)
        k[:, idx] = np.argmax(score, axis=0)
        score_p[:, idx] = score.max(axis=0)
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
    # the chosen size and rate: those of the chosen cell, one of the evaluated cells wherever the choice scores
    if cells.size:
        flat = (kk * n_u + rows) * n_l + jj
        pos = np.minimum(np.searchsorted(cells, flat), cells.size - 1)
        found = cells[pos] == flat
        cand, rate = np.where(found, cand_c[pos], 0.0), np.where(found, rate_c[pos], np.nan)
    else:
        cand, rate = np.zeros(n_u), np.full(n_u, np.nan)
    chips = np.where(has & (j >= 0), cand, 0.0)
    chips = np.where(chips >= run.min_chips, chips, 0.0)
    return pool, chips, np.where(j >= 0, rate, np.nan), kk + 1


def _commit(state: _State, t: int, r: int, pool, chips, rate, hours, n_h: int, rng: np.random.Generator,
            settings) -> None:
    """Train run ``r`` in period ``t`` on the placement of each sample: start, move, goodput, progress.

    Parameters
    ----------
    pool, chips, rate, hours : ndarray, (sample,)
        From :func:`place`, per sample.
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
    :math:`n\\,r\\,\\max(g\\,k/H - [k<H]\\,\\ell/24,\\; 0)` tokens/s over the period (:func:`advance`).
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
    advance(state, t, r, chips, tokens_per_s, share)


def _record_pool(state: _State, t: int, r: int, pool: np.ndarray, go: np.ndarray) -> None:
    """Note where run ``r`` trains in period ``t`` where it goes: its start, and a move to another pool."""
    first = go & (state.last_pool[:, r] < 0)
    state.run_start[first, r] = t
    state.moved[go & (state.last_pool[:, r] >= 0) & (pool != state.last_pool[:, r]), r] += 1
    state.last_pool[go, r] = pool[go]
    state.run_pool[go, t, r] = pool[go]


def advance(state: _State, t: int, r: int, chips: np.ndarray, tokens_per_s: np.ndarray, share=1.0) -> None:
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


def reason(state: _State, r: int, inst, res_i, F0, went_first: bool, taken_first) -> np.ndarray:
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
