"""Discounting: present value, net present value and internal rate of return.

Cash flows are monthly (or any period) arrays whose last axis is ``period``;
times are in years since the first period. Rates are annual and compound
annually, so a flow ``t`` years out is worth :math:`(1+r)^{-t}` today.
"""

from __future__ import annotations

import numpy as np

__all__ = ["brentq", "discount_factor", "irr", "irr_detail", "npv_usd"]


def discount_factor(rate_per_year, period_years):
    """Present value of one dollar received ``period_years`` from now.

    Parameters
    ----------
    rate_per_year : float
        Annual discount rate [1/year]; 0.08 is 8%. Must be above -1.
    period_years : float or array_like
        Time of each flow since the first period [year].

    Returns
    -------
    float or ndarray
        Discount factor [1].

    Notes
    -----
    .. math:: d(t) = (1 + r)^{-t}

    Examples
    --------
    >>> round(float(discount_factor(0.08, 1.0)), 6)
    0.925926
    """
    r = float(rate_per_year)
    if r <= -1.0:
        raise ValueError("rate_per_year must be above -1 (-100%)")
    return (1.0 + r) ** (-np.asarray(period_years, dtype=float))


def npv_usd(cash_flows_usd, rate_per_year, period_years):
    """Net present value of a series of cash flows.

    Parameters
    ----------
    cash_flows_usd : array_like
        Flows, positive in and negative out, last axis ``period`` [USD].
    rate_per_year : float
        Annual discount rate [1/year].
    period_years : array_like
        Time of each period since the first [year], shape ``(period,)``.

    Returns
    -------
    float or ndarray
        NPV over the last axis [USD]; a float for a 1-D series.

    Notes
    -----
    .. math:: NPV = \\sum_t f_t\\,(1 + r)^{-t}

    At :math:`r = 0` this is the plain sum of the flows.

    References
    ----------
    .. [1] R. Brealey, S. Myers, F. Allen, *Principles of Corporate Finance*,
       ch. 2 and 5 (present value, NPV, IRR).

    Examples
    --------
    $100 out now and $110 back in a year, at 8%:

    >>> round(npv_usd([-100.0, 110.0], 0.08, [0.0, 1.0]), 4)
    1.8519
    """
    flows = np.asarray(cash_flows_usd, dtype=float)
    out = (flows * discount_factor(rate_per_year, period_years)).sum(axis=-1)
    return float(out) if np.ndim(out) == 0 else out


def brentq(f, a, b, xtol=2e-12, rtol=4 * np.finfo(float).eps, maxiter=100):
    """A root of ``f`` in ``[a, b]``, where ``f(a)`` and ``f(b)`` differ in sign: Brent's method.

    A line-for-line port of :func:`scipy.optimize.brentq` (scipy's
    ``Zeros/brentq.c``), so that the IRR costs no import of ``scipy.optimize``
    (about 0.45 s). A test checks it against scipy.

    References
    ----------
    .. [1] R. P. Brent, *Algorithms for Minimization without Derivatives*,
       Prentice-Hall, 1973, ch. 4.

    Examples
    --------
    >>> round(brentq(lambda x: x * x - 2.0, 0.0, 2.0), 12)
    1.414213562373
    """
    xpre, xcur = float(a), float(b)
    fpre, fcur = f(xpre), f(xcur)
    if fpre == 0.0:
        return xpre
    if fcur == 0.0:
        return xcur
    if np.signbit(fpre) == np.signbit(fcur):
        raise ValueError("f(a) and f(b) must have different signs")
    xblk = fblk = spre = scur = 0.0
    for _ in range(maxiter):
        if fpre != 0.0 and fcur != 0.0 and np.signbit(fpre) != np.signbit(fcur):
            xblk, fblk = xpre, fpre
            spre = scur = xcur - xpre
        if abs(fblk) < abs(fcur):
            xpre, xcur, xblk = xcur, xblk, xcur
            fpre, fcur, fblk = fcur, fblk, fcur
        delta = (xtol + rtol * abs(xcur)) / 2.0
        sbis = (xblk - xcur) / 2.0
        if fcur == 0.0 or abs(sbis) < delta:
            return xcur
        if abs(spre) > delta and abs(fcur) < abs(fpre):
            if xpre == xblk:  # interpolate
                stry = -fcur * (xcur - xpre) / (fcur - fpre)
            else:  # extrapolate
                dpre = (fpre - fcur) / (xpre - xcur)
                dblk = (fblk - fcur) / (xblk - xcur)
                stry = -fcur * (fblk * dblk - fpre * dpre) / (dblk * dpre * (fblk - fpre))
            if 2.0 * abs(stry) < min(abs(spre), 3.0 * abs(sbis) - delta):  # good short step
                spre, scur = scur, stry
            else:  # bisect
                spre = scur = sbis
        else:  # bisect
            spre = scur = sbis
        xpre, fpre = xcur, fcur
        xcur += scur if abs(scur) > delta else (delta if sbis > 0 else -delta)
        fcur = f(xcur)
    return xcur


def irr_detail(cash_flows_usd, period_years, low=-0.99, high=100.0):
    """Internal rate of return, with the reason where there is none.

    Parameters and method as :func:`irr`.

    Returns
    -------
    (float or None, str or None)
        The IRR [1/year] and ``None``; or ``None`` and why there is no IRR.

    Examples
    --------
    >>> irr_detail([100.0, 50.0], [0.0, 1.0])
    (None, 'the flows never change sign')
    """
    flows = np.asarray(cash_flows_usd, dtype=float)
    t = np.asarray(period_years, dtype=float)
    if flows.ndim != 1:
        raise ValueError("irr takes one series of flows; loop over samples")
    if flows.shape != t.shape:
        raise ValueError(f"{flows.size} flows but {t.size} times")
    if not (np.all(np.isfinite(flows)) and np.all(np.isfinite(t))):
        return None, "the flows or their times are not all finite"
    scale = np.abs(flows).max(initial=0.0)
    if scale == 0.0 or not (np.any(flows > 0) and np.any(flows < 0)):
        return None, "the flows never change sign"
    flows = flows / scale

    def f(r):
        return float((flows * (1.0 + r) ** (-t)).sum())

    grid = np.unique(np.concatenate([np.linspace(low, 0.0, 60, endpoint=False), np.geomspace(1e-4, high, 120), [0.0]]))
    grid = grid[(grid >= low) & (grid <= high)]
    with np.errstate(over="ignore", invalid="ignore"):
        values = np.array([f(r) for r in grid])
        for k in np.nonzero(np.sign(values[:-1]) * np.sign(values[1:]) <= 0)[0]:
            if values[k] == 0.0:
                return float(grid[k]), None
            if np.isfinite(values[k]) and np.isfinite(values[k + 1]):
                return float(brentq(f, grid[k], grid[k + 1], xtol=1e-13)), None
        if values[-1] == 0.0:
            return float(grid[-1]), None
    return None, f"the NPV does not change sign for rates from {low:.0%} to {high:.0%} a year"


def irr(cash_flows_usd, period_years, low=-0.99, high=100.0):
    """Internal rate of return: the annual rate at which the NPV is zero.

    Parameters
    ----------
    cash_flows_usd : array_like
        One series of flows, shape ``(period,)`` [USD].
    period_years : array_like
        Time of each period since the first [year].
    low, high : float
        Range of rates searched [1/year].

    Returns
    -------
    float or None
        The IRR [1/year], or ``None`` where none exists in the range: the flows
        never change sign, or the NPV keeps one sign over the whole range
        (:func:`irr_detail` says which). Where several rates solve the
        equation (flows that change sign more than once), the lowest one that
        a grid of 180 rates brackets is returned.

    Notes
    -----
    Solves :math:`\\sum_t f_t (1 + r)^{-t} = 0` by Brent's method
    (:func:`brentq`) on the first interval of a grid of rates (60 from
    ``low`` to 0, 120 geometric from 1e-4 to ``high``) where the NPV changes
    sign. Each NPV costs one pass over the flows, so a long horizon costs
    time linear in its periods (a polynomial in the periods, solved by its
    companion matrix, would take a matrix of periods squared).

    References
    ----------
    .. [1] R. Brealey, S. Myers, F. Allen, *Principles of Corporate Finance*, ch. 5.

    Examples
    --------
    >>> round(irr([-100.0, 110.0], [0.0, 1.0]), 9)
    0.1
    """
    return irr_detail(cash_flows_usd, period_years, low, high)[0]
