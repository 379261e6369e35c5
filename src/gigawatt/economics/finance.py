"""Discounting: present value, net present value and internal rate of return.

Cash flows are monthly (or any period) arrays whose last axis is ``period``;
times are in years since the first period. Rates are annual and compound
annually, so a flow ``t`` years out is worth :math:`(1+r)^{-t}` today.
"""

from __future__ import annotations

import numpy as np

__all__ = ["discount_factor", "irr", "npv_usd"]


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
        never change sign, or the NPV keeps one sign over the whole range.
        Where several rates solve the equation (flows that change sign more
        than once), the lowest one is returned.

    Notes
    -----
    Solves :math:`\\sum_t f_t (1 + r)^{-t} = 0`. For evenly spaced periods
    :math:`t_k = k\\,\\Delta t` this is the polynomial
    :math:`\\sum_k f_k x^k = 0` in :math:`x = (1 + r)^{-\\Delta t}`, whose roots
    :func:`numpy.roots` finds (eigenvalues of the companion matrix); each real
    positive root gives :math:`r = x^{-1/\\Delta t} - 1`, kept if it solves the
    NPV equation to a relative 1e-9. Uneven periods, or a root the polynomial
    misses, go to Brent's method (:func:`scipy.optimize.brentq`) on the first
    bracket where the NPV changes sign on a grid of rates. numpy alone keeps
    the common case free of scipy's import time (about 0.7 s).

    References
    ----------
    .. [1] R. Brealey, S. Myers, F. Allen, *Principles of Corporate Finance*, ch. 5.

    Examples
    --------
    >>> round(irr([-100.0, 110.0], [0.0, 1.0]), 9)
    0.1
    """
    flows = np.asarray(cash_flows_usd, dtype=float)
    t = np.asarray(period_years, dtype=float)
    if flows.ndim != 1:
        raise ValueError("irr takes one series of flows; loop over samples")
    scale = np.abs(flows).max(initial=0.0)
    if scale == 0.0 or not (np.any(flows > 0) and np.any(flows < 0)):
        return None
    flows = flows / scale

    def f(r):
        return float((flows * (1.0 + r) ** (-t)).sum())

    steps = np.diff(t)
    if t.size > 1 and np.allclose(steps, steps[0]) and steps[0] > 0 and t[0] == 0.0:
        dt = float(steps[0])
        with np.errstate(all="ignore"):
            x = np.roots(flows[::-1])
            x = x[(np.abs(x.imag) < 1e-9 * np.maximum(np.abs(x), 1.0)) & (x.real > 0)].real
            rates = np.sort(x ** (-1.0 / dt) - 1.0)
        ok = [r for r in rates if low <= r <= high and np.isfinite(r)
              and abs(f(r)) <= 1e-9 * np.abs(flows).sum()]
        if ok:
            return float(ok[0])

    grid = np.unique(np.concatenate([np.linspace(low, 0.0, 60, endpoint=False), np.geomspace(1e-4, high, 120), [0.0]]))
    values = np.array([f(r) for r in grid])
    for k in np.nonzero(np.sign(values[:-1]) * np.sign(values[1:]) <= 0)[0]:
        if values[k] == 0.0:
            return float(grid[k])
        if np.isfinite(values[k]) and np.isfinite(values[k + 1]):
            from scipy.optimize import brentq

            return float(brentq(f, grid[k], grid[k + 1], xtol=1e-12, rtol=1e-10))
    return None
