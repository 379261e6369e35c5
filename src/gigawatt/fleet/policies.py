"""Allocation between training and inference: who gets the chips, when in the day, in what order.

Two kinds of rules live here, as plain functions on arrays:

- the order in which training runs are served (``demand.policy``): a policy is
  ``policy(runs, t) -> order``, looked up by name in :data:`POLICIES`, so a new
  one is one function and one line;
- how capacity is split between inference and training (``demand.allocation``,
  ``priority``, ``reserve``, ``inference_coincidence``, ``backfill``;
  docs/allocation.md): the pooled daily profile of the inference streams
  (:func:`pooled_profile`), their pro-rata share of the chips
  (:func:`pooled_take`), the chips they leave idle off their peak
  (:func:`serving_load`, :func:`idle_by_hour`), and the chips a reserve holds
  (:func:`reserve_share`, :func:`carve`).

The day is 96 quarter-hours. Every daily profile here rises and falls with
``sin(2 pi tau)``, so one ranking of the quarter-hours, from the least loaded
to the most (:data:`LOAD_ORDER`), holds for every stream and every mix of
streams: the ``k`` least loaded hours of the day are one stretch around the
trough, which is why a run backfilling them is preempted once a day.
"""

from __future__ import annotations

import functools
import math
from typing import Callable, Sequence

import numpy as np

__all__ = ["ALLOCATIONS", "HOURS", "LOAD_ORDER", "POLICIES", "PRIORITIES", "carve", "daily_profile",
           "earliest_deadline_first", "first_come_first_served", "get_policy", "idle_by_hour", "largest_first",
           "pooled_profile", "pooled_take", "reserve_share", "serving_busy", "serving_load"]

#: the daily cycle in quarter-hours: every profile is an increasing function of it
_PHASE = np.sin(2 * np.pi * np.arange(96) / 96)
#: quarter-hours from the least loaded to the most (ties, a quarter-hour and its mirror, in clock order)
LOAD_ORDER = np.argsort(_PHASE, kind="stable")
#: hours of the day a run may backfill, ranked from the least inference load to the most
HOURS = 24
#: how capacity is split: ``pooled`` (what planners do, the default) or ``legacy`` (each stream on its own peak,
#: training only on chips free all day)
ALLOCATIONS = ("pooled", "legacy")
#: which workload yields when capacity is short
PRIORITIES = ("inference", "training", "deadline")


# ---------------------------------------------------------------- the order of training runs


def earliest_deadline_first(runs: Sequence, t: int) -> np.ndarray:
    """Runs with the earliest deadline first; no deadline goes last; ties by earliest start, then priority.

    The sort key puts "has no deadline" before the deadline itself, so that no
    stand-in month is needed for a run without one.

    >>> from types import SimpleNamespace as R
    >>> earliest_deadline_first([R(deadline=30, start=0, priority=0), R(deadline=20, start=5, priority=0)], 0).tolist()
    [1, 0]
    >>> runs = [R(deadline=None, start=0, priority=0), R(deadline=10**12, start=5, priority=0)]
    >>> earliest_deadline_first(runs, 0).tolist()  # any deadline comes before none
    [1, 0]
    """
    keys = [(r.deadline is None, r.deadline if r.deadline is not None else 0, r.start, -r.priority, i)
            for i, r in enumerate(runs)]
    return np.array([k[-1] for k in sorted(keys)], dtype=int)


def first_come_first_served(runs: Sequence, t: int) -> np.ndarray:
    """Runs in order of their earliest start, then their order in the scenario."""
    return np.array(sorted(range(len(runs)), key=lambda i: (runs[i].start, i)), dtype=int)


def largest_first(runs: Sequence, t: int) -> np.ndarray:
    """The biggest run (most FLOP) first: it is the hardest to place."""
    return np.array(sorted(range(len(runs)), key=lambda i: (-runs[i].flop, i)), dtype=int)


POLICIES: dict[str, Callable[[Sequence, int], np.ndarray]] = {
    "earliest_deadline_first": earliest_deadline_first,
    "first_come_first_served": first_come_first_served,
    "largest_first": largest_first,
}


def get_policy(name: str) -> Callable[[Sequence, int], np.ndarray]:
    """The policy function of a name; ValueError listing the names if unknown."""
    try:
        return POLICIES[name]
    except KeyError:
        raise ValueError(f"unknown policy {name!r}; choose one of {', '.join(POLICIES)}") from None


# ---------------------------------------------------------------- the daily profile of inference


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


def pooled_profile(mean_chips, peak_to_mean, coincidence: float = 1.0):
    """The daily profile of several streams served from one pool of chips, and its peak over its mean.

    Parameters
    ----------
    mean_chips : array_like, (stream,)
        Each stream's mean load in chips (mean output rate over its tokens/s
        per chip) [1]: the weights of the pool.
    peak_to_mean : array_like, (stream,)
        Each stream's own daily peak over its mean [1].
    coincidence : float
        The pool's peak over the sum of the streams' own peaks [1], in (0, 1]:
        1 when their peaks coincide, lower when they fall at different hours.

    Returns
    -------
    profile : ndarray, (96,)
        Load over the day relative to its mean: mean 1 [1].
    peak : float
        Its maximum, the pooled peak-to-mean :math:`P` [1].

    Notes
    -----
    With stream weights :math:`m_w` and shapes :math:`s_w` (:func:`daily_profile`,
    all peaking at the same hour), the coincident pool is

    .. math:: S(\\tau) = \\sum_w m_w s_w(\\tau) \\Big/ \\sum_w m_w,
              \\qquad \\max S = \\sum_w m_w P_w \\Big/ \\sum_w m_w = P_1

    A coincidence factor :math:`k` (the peak of the combined load over the sum
    of the individual peaks, the utility planner's term [1]_) gives a pooled peak
    :math:`P = \\max(1, k P_1)`, and the profile is flattened to it,
    :math:`1 + a (S - 1)` with :math:`a = (P - 1) / (P_1 - 1)`.

    References
    ----------
    .. [1] T. Gönen, *Electric Power Distribution Engineering*, CRC Press, the chapter on
       load characteristics (coincidence factor; its inverse is the diversity factor).

    Examples
    --------
    Two streams of equal mean, peaks 2x and 1x: the coincident pool peaks at 1.5x
    their summed mean; with a coincidence factor of 0.8 at 1.2x.

    >>> round(pooled_profile([100, 100], [2.0, 1.0])[1], 6), round(pooled_profile([100, 100], [2.0, 1.0], 0.8)[1], 6)
    (1.5, 1.2)
    """
    m = np.asarray(mean_chips, dtype=float)
    peaks = np.asarray(peak_to_mean, dtype=float)
    total = m.sum()
    if not total > 0:
        return np.ones_like(_PHASE), 1.0
    shape = sum(mw * _profile(float(pw)) for mw, pw in zip(m, peaks) if mw > 0) / total
    p1 = float(shape.max())
    peak = max(1.0, float(coincidence) * p1)
    if p1 <= 1.0 + 1e-12:
        return np.ones_like(_PHASE), 1.0
    return 1.0 + (peak - 1.0) / (p1 - 1.0) * (shape - 1.0), peak


def pooled_profiles(mean_chips, peak_to_mean, coincidence: float = 1.0):
    """:func:`pooled_profile` for many groups at once: weights ``(group, stream)``.

    Returns
    -------
    profile : ndarray, (group, 96)
    peak : ndarray, (group,)

    Examples
    --------
    >>> p, k = pooled_profiles([[100, 100], [0, 0]], [2.0, 1.0])
    >>> [round(float(x), 6) for x in k]
    [1.5, 1.0]
    """
    m = np.asarray(mean_chips, dtype=float)
    shapes = np.stack([_profile(float(p)) for p in peak_to_mean])  # (w, 96)
    total = m.sum(axis=1)
    some = total > 0
    shape = (m @ shapes) / np.where(some, total, 1.0)[:, None]
    p1 = shape.max(axis=1)
    varies = some & (p1 > 1.0 + 1e-12)
    peak = np.where(varies, np.maximum(1.0, float(coincidence) * p1), 1.0)
    scale = np.where(varies, (peak - 1.0) / np.where(varies, p1 - 1.0, 1.0), 0.0)
    return 1.0 + scale[:, None] * (shape - 1.0), peak


def pooled_take(avail: np.ndarray, need: np.ndarray, rates: np.ndarray, usable: np.ndarray,
                order: np.ndarray) -> np.ndarray:
    """Chips each stream takes from each pool, pool by pool, sharing a pool pro rata when it is short.

    Parameters
    ----------
    avail : ndarray, (group, pool)
        Chips inference may take [1].
    need : ndarray, (stream,) or (group, stream)
        Output rate each stream is sized for [tokens/s].
    rates : ndarray, (stream, pool) or (group, stream, pool)
        Output tokens/s per chip [tokens/s].
    usable : ndarray of bool, (stream, pool)
        Whether the stream may run on the pool's chip at a finite, positive rate.
    order : ndarray of int, (pool,)
        The order inference takes pools in (oldest generation first).

    Returns
    -------
    ndarray, (group, stream, pool)
        Chips taken [1].

    Notes
    -----
    On pool :math:`p` each stream wants :math:`q_w = \\lceil \\max(N_w - C_w, 0) / r_{wp} \\rceil`
    chips (:math:`C_w` the capacity it holds already); when :math:`\\sum_w q_w` exceeds
    the :math:`f_p` chips there, each gets :math:`\\lfloor q_w f_p / \\sum q \\rfloor`, so a
    short fleet is shared in proportion to need instead of stream by stream.

    Examples
    --------
    Two streams each needing 100 chips' worth, 150 chips in the only pool: 75 each.

    >>> pooled_take(np.array([[150.0]]), np.array([100.0, 100.0]), np.ones((2, 1)), np.ones((2, 1), bool),
    ...             np.array([0]))[0, :, 0].tolist()
    [75.0, 75.0]
    """
    n_u = avail.shape[0]
    n_w, n_p = rates.shape[-2:]
    need = np.asarray(need, dtype=float)
    if n_u == 1:
        return _pooled_take_one(avail[0], need if need.ndim == 1 else need[0], rates if rates.ndim == 2 else rates[0],
                                usable, order)[None]
    need = need if need.ndim == 2 else need[None, :]
    rates = rates if rates.ndim == 3 else rates[None]  # (1 or group, stream, pool)
    chips = np.zeros((n_u, n_w, n_p))
    capacity = np.zeros((n_u, n_w))
    open_pools = ((avail > 0).any(axis=0) & usable.any(axis=0)).tolist()
    gate = usable.astype(float)
    per_chip = np.where(usable, rates, 0.0)
    divide = np.where(usable, rates, 1.0)
    for p in order:
        if not open_pools[p]:
            continue
        left = need - capacity
        if not (left > 0).any():
            break
        want = np.ceil(np.maximum(left, 0.0) / divide[:, :, p] - 1e-9) * gate[:, p]  # no chip for a rounding error
        total = want.sum(axis=1)
        short = total > avail[:, p]
        if short.any():
            scale = np.where(short, avail[:, p] / np.maximum(total, 1.0), 1.0)
            want = np.where(short[:, None], np.floor(want * scale[:, None] + 1e-9), want)
        chips[:, :, p] = want
        capacity += want * per_chip[:, :, p]
    return chips


def _pooled_take_one(avail: np.ndarray, need: np.ndarray, rates: np.ndarray, usable: np.ndarray,
                     order: np.ndarray) -> np.ndarray:
    """:func:`pooled_take` for one group, in Python floats: the same arithmetic, without numpy's per-call cost."""
    n_w, n_p = rates.shape
    chips = np.zeros((n_w, n_p))
    need_l, avail_l, rates_l, use = need.tolist(), avail.tolist(), rates.tolist(), usable.tolist()
    streams = range(n_w)
    capacity = [0.0] * n_w
    for p in order.tolist():
        if not (avail_l[p] > 0 and any(use[w][p] for w in streams)):
            continue
        left = [need_l[w] - capacity[w] for w in streams]
        if not any(x > 0 for x in left):
            break
        want = [float(math.ceil(max(left[w], 0.0) / rates_l[w][p] - 1e-9)) if use[w][p] else 0.0 for w in streams]
        total = sum(want)
        if total > avail_l[p]:
            scale = avail_l[p] / max(total, 1.0)
            want = [float(math.floor(x * scale + 1e-9)) for x in want]
        for w in streams:
            chips[w, p] = want[w]
            if use[w][p]:
                capacity[w] += want[w] * rates_l[w][p]
    return chips


def serving_load(chips: np.ndarray, rates: np.ndarray, load: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Chips each stream keeps busy in each quarter-hour, filling its pools in inference order.

    Parameters
    ----------
    chips : ndarray, (group, stream, pool)
        Chips each stream holds [1].
    rates : ndarray, (stream, pool) or (group, stream, pool)
        Output tokens/s per chip (0 where it cannot run) [tokens/s].
    load : ndarray, (group, stream, 96)
        Output rate served in each quarter-hour [tokens/s].
    order : ndarray of int, (pool,)
        Inference order: load goes to the first pools, so the last pools empty first off-peak.

    Returns
    -------
    ndarray, (group, stream, pool, 96)
        Busy chips [1].

    Notes
    -----
    With the pools' capacities :math:`c_{wp} r_{wp}` summed in order before pool
    :math:`p` as :math:`B_{wp}`, the pool is busy with
    :math:`\\min(c_{wp}, \\max(L_w(\\tau) - B_{wp}, 0) / r_{wp})` chips.
    """
    rates = rates if rates.ndim == 3 else rates[None, :, :]  # (1 or group, stream, pool)
    cap = chips * rates
    before = np.zeros_like(cap)
    run = np.zeros(cap.shape[:2])
    for p in order:
        before[:, :, p] = run
        run = run + cap[:, :, p]
    held = np.nonzero(chips.any(axis=(0, 1)))[0]  # a pool no stream holds chips in is idle all day
    out = np.zeros(chips.shape + load.shape[-1:])
    if held.size == 0:
        return out
    r_h = np.broadcast_to(rates, chips.shape)[:, :, held]
    busy = load[:, :, None, :] - before[:, :, held, None]
    busy /= np.where(r_h > 0, r_h, 1.0)[..., None]
    np.clip(busy, 0.0, chips[:, :, held, None], out=busy)  # at least 0, so a 0 factor below leaves +0.0
    if not (r_h > 0).all():
        busy *= (r_h > 0)[..., None]
    out[:, :, held] = busy
    return out


def idle_by_hour(idle: np.ndarray) -> np.ndarray:
    """Idle chips per quarter-hour as whole chips free through each hour, hours ranked least loaded first.

    Parameters
    ----------
    idle : ndarray, (..., 96)
        Chips idle in each quarter-hour of the day [1].

    Returns
    -------
    ndarray, (..., 24)
        Hour :math:`j` holds the chips free through the :math:`j`-th least loaded hour
        (the fewest of its four quarter-hours), rounded down [1].
    """
    ranked = idle[..., LOAD_ORDER]
    return np.floor(ranked.reshape(ranked.shape[:-1] + (HOURS, 96 // HOURS)).min(axis=-1) + 1e-9)


#: the most cells (group x stream x pool x quarter-hour) :func:`serving_busy` computes the whole day for; above
#: it, the sorted loads (the same figures, to rounding, in fewer operations per cell)
DIRECT_MOST = 20_000


def serving_busy(chips: np.ndarray, rates: np.ndarray, mean_out: np.ndarray, profile: np.ndarray,
                 capacity: np.ndarray, order: np.ndarray, hours: bool = True, mean: bool = True,
                 rows: np.ndarray | None = None):
    """Chips each stream keeps busy over the day, and the chips free through each ranked hour.

    The result of :func:`serving_load` reduced as the engine reads it, without the
    ``(group, stream, pool, 96)`` array: the daily mean of each stream's busy chips
    in each pool, and :func:`idle_by_hour` of the chips the streams leave idle.

    Parameters
    ----------
    chips : ndarray, (group, stream, pool)
        Chips each stream holds [1].
    rates : ndarray, (stream, pool) or (group, stream, pool)
        Output tokens/s per chip (0 where it cannot run) [tokens/s].
    mean_out : ndarray, (stream,) or (group, stream)
        Each stream's mean output rate :math:`\\bar r_w` [tokens/s].
    profile : ndarray, (96,) or (group, 96)
        The pooled daily profile :math:`S(\\tau)` (mean 1), an increasing function of
        the daily phase like every profile here [1].
    capacity : ndarray, (group, stream)
        Serving capacity each stream holds, :math:`C_w = \\sum_p c_{wp} r_{wp}` [tokens/s].
    order : ndarray of int, (pool,)
        Inference order: load goes to the first pools, so the last pools empty first off-peak.
    hours : bool
        Whether to compute the idle chips by hour (training backfills them).
    mean : bool
        Whether to compute the busy chips' daily mean.
    rows : ndarray of bool, (group,), optional
        The groups whose idle hours are wanted (the others' are left at 0); default all.

    Returns
    -------
    busy : ndarray, (group, stream, pool) or None
        Busy chips, the mean over the day's 96 quarter-hours [1]; None without ``mean``.
    idle : ndarray, (group, pool, 24) or None
        Chips free through each hour, hours ranked least loaded first, rounded down [1].

    Notes
    -----
    With the load :math:`L_w(\\tau) = \\min(\\bar r_w S(\\tau), C_w)` and the
    capacity in pools before :math:`p` in inference order :math:`B_{wp}`, pool
    :math:`p` is busy with :math:`b_{wp}(\\tau) = \\min(c_{wp}, \\max(L_w(\\tau) - B_{wp}, 0) / r_{wp})`
    chips. Over the sorted loads :math:`y_1 \\le \\dots \\le y_{96}` with prefix
    sums :math:`Y_k`, :math:`n_0` of them at most :math:`B_{wp}` and :math:`n_1` below
    :math:`B_{wp} + c_{wp} r_{wp}`, the daily mean is

    .. math:: \\bar b_{wp} = \\frac{1}{96}\\Big(\\frac{Y_{n_1} - Y_{n_0} - (n_1 - n_0) B_{wp}}{r_{wp}}
              + (96 - n_1)\\, c_{wp}\\Big)

    Busy chips rise with :math:`S`, so the idle chips of an hour (the fewest over its
    four quarter-hours) are those of its quarter-hour of highest load.
    """
    n_u, n_w, n_p = chips.shape
    n_q = _PHASE.size
    r = np.broadcast_to(rates if rates.ndim == 3 else rates[None], chips.shape)
    m = np.broadcast_to(np.asarray(mean_out, dtype=float).reshape(-1, n_w), (n_u, n_w))
    s = np.broadcast_to(np.asarray(profile, dtype=float).reshape(-1, n_q), (n_u, n_q))
    if chips.size * n_q <= DIRECT_MOST:  # a few groups: the whole day at once takes fewer steps
        full = serving_load(chips, rates, np.minimum(m[:, :, None] * s[:, None, :], capacity[:, :, None]), order)
        return (full.mean(axis=-1) if mean else None,
                idle_by_hour((chips[..., None] - full).sum(axis=1)) if hours else None)
    held = np.nonzero(chips.any(axis=(0, 1)))[0]  # a pool no stream holds chips in is idle all day
    busy = np.zeros(chips.shape) if mean else None
    idle = np.zeros((n_u, n_p, HOURS)) if hours else None
    if held.size == 0:
        return busy, idle
    cap = chips * r
    before = np.zeros_like(cap)
    ordered = np.cumsum(cap[:, :, order], axis=-1)
    before[:, :, order[1:]] = ordered[:, :, :-1]
    b, c, r_h = before[:, :, held], chips[:, :, held], r[:, :, held]
    runs = r_h > 0
    divide = np.where(runs, r_h, 1.0)
    if mean:
        ranked = np.sort(s[:, LOAD_ORDER], axis=-1, kind="stable")  # sorted already but for rounding
        busy[:, :, held] = _mean_busy(m, ranked, capacity, b, c, r_h, divide, runs)
    if hours:  # idle through each ranked hour, hours first as the engine reads them
        some = slice(None) if rows is None or rows.all() else np.nonzero(rows)[0]
        free = _idle_hours(m[some], s[some], capacity[some], b[some], c[some], divide[some], runs[some])
        if held.size == n_p and isinstance(some, slice):
            idle = free.transpose(1, 2, 0)
        else:
            idle_h = np.zeros((HOURS, n_u, n_p))
            if isinstance(some, slice):
                idle_h[:, :, held] = free
            else:
                idle_h[:, some[:, None], held[None, :]] = free
            idle = idle_h.transpose(1, 2, 0)
    return busy, idle


def _idle_hours(m, s, capacity, b, c, divide, runs) -> np.ndarray:
    """``(24, group, pool)`` chips :func:`serving_busy` leaves free through each ranked hour: at the hour's
    quarter-hour of highest load (the last of its four in :data:`LOAD_ORDER`), rounded down [1]."""
    n_u, n_w = m.shape
    n_q = s.shape[-1]
    peak = s[:, LOAD_ORDER].reshape(n_u, HOURS, n_q // HOURS).max(axis=-1).T  # (24, u)
    load = np.minimum(m[None] * peak[:, :, None], capacity[None])  # (24, u, w)
    free = np.empty((HOURS, n_u, b.shape[-1]))
    at = np.empty_like(free)
    for w in range(n_w):
        b_w, c_w = np.ascontiguousarray(b[:, w]), np.ascontiguousarray(c[:, w])
        part = free if w == 0 else at
        np.subtract(load[:, :, w, None], b_w, out=part)
        part /= np.ascontiguousarray(divide[:, w])
        np.maximum(part, 0.0, out=part)
        np.minimum(part, c_w, out=part)
        if not runs[:, w].all():
            part *= runs[:, w]
        np.subtract(c_w, part, out=part)
        if w:
            free += part
    free += 1e-9
    return np.floor(free, out=free)


def _mean_busy(m, ranked, capacity, b, c, r_h, divide, runs) -> np.ndarray:
    """The daily mean of :func:`serving_busy`'s busy chips, from the sorted loads and their prefix sums."""
    n_u, n_w = m.shape
    n_q = ranked.shape[-1]
    y = m[:, :, None] * ranked[:, None, :]
    np.minimum(y, capacity[:, :, None], out=y)  # (u, w, 96), ascending
    prefix = np.empty((n_u, n_w, n_q + 1))
    prefix[:, :, 0] = 0.0
    np.cumsum(y, axis=-1, out=prefix[:, :, 1:])
    scale = np.where(capacity > 0, capacity, 1.0)[:, :, None]  # each row to [0, 1], rows 2 apart: one sorted array
    row = 2.0 * np.arange(n_u * n_w, dtype=float).reshape(n_u, n_w, 1)
    y /= scale
    y += row
    flat = y.ravel()
    first = (n_q * np.arange(n_u * n_w)).reshape(n_u, n_w, 1)
    n0 = np.searchsorted(flat, (b / scale + row).ravel(), side="right").reshape(b.shape) - first
    n1 = np.searchsorted(flat, ((b + c * r_h) / scale + row).ravel(), side="left").reshape(b.shape) - first
    n1 = np.maximum(n1, n0)
    inside = np.take_along_axis(prefix, n1, axis=-1) - np.take_along_axis(prefix, n0, axis=-1) - (n1 - n0) * b
    mean = (inside / divide + (n_q - n1) * c) / n_q
    return np.clip(mean, 0.0, c) * runs


# ---------------------------------------------------------------- reserves


def reserve_share(spec, months: np.ndarray) -> np.ndarray:
    """Share of the installed chips a reserve holds in each period [1].

    Parameters
    ----------
    spec : float, dict or None
        A share, or ``{month label: share}``: each share holds from its month to
        the next; before the first month there is no reserve.
    months : ndarray of int, (period,)
        Month index of each period (``12*year + month - 1``).

    Examples
    --------
    >>> reserve_share({"2026-03": 0.2, "2026-05": 0.4}, np.arange(24312, 24318)).tolist()
    [0.0, 0.0, 0.2, 0.2, 0.4, 0.4]
    """
    from gigawatt.units import month_index

    months = np.asarray(months, dtype=int)
    if spec is None:
        return np.zeros(len(months))
    if not isinstance(spec, dict):
        return np.full(len(months), float(spec))
    points = sorted((month_index(m), float(v)) for m, v in spec.items())
    starts = np.array([p[0] for p in points])
    values = np.array([0.0] + [p[1] for p in points])
    return values[np.searchsorted(starts, months, side="right")]


def carve(installed: np.ndarray, chips: np.ndarray, order: np.ndarray) -> np.ndarray:
    """The chips a reserve of ``chips`` holds in each pool, taking whole pools in ``order``.

    Parameters
    ----------
    installed : ndarray, (group, pool)
        Chips installed [1].
    chips : ndarray, (group,)
        Chips the reserve holds in all [1].
    order : ndarray of int, (pool,)
        Pools in the order the reserve takes them (training: newest generation first).

    Returns
    -------
    ndarray, (group, pool)
        Reserved chips [1].

    Examples
    --------
    >>> carve(np.array([[10.0, 30.0]]), np.array([35.0]), np.array([1, 0])).tolist()
    [[5.0, 30.0]]
    """
    out = np.zeros_like(installed, dtype=float)
    left = np.asarray(chips, dtype=float).copy()
    if not (left > 0).any():
        return out
    for p in order:
        take = np.minimum(installed[:, p], left)
        out[:, p] = take
        left = left - take
    return out
