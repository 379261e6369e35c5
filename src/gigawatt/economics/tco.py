"""The provider's total cost of ownership: capex, depreciation, power, operations.

Plain vectorized functions on SI floats. The scenario-level assembly (which
chips were installed when, at which site) is in :mod:`gigawatt.economics.ledger`;
the sourced defaults are in ``economics/data/costs.yaml``.
"""

from __future__ import annotations

import numpy as np

from gigawatt.units import HOURS_PER_YEAR

__all__ = [
    "breakeven_utilization",
    "capital_recovery_factor",
    "energy_cost_usd",
    "levelized_cost_usd_per_chip_h",
    "straight_line_depreciation_usd",
]

J_PER_MWH = 3.6e9


def straight_line_depreciation_usd(capex_usd, life_periods):
    """Straight-line depreciation of capex spent in each period.

    Each period's capex is written off in equal parts over ``life_periods``
    periods, starting with the period it is spent in.

    Parameters
    ----------
    capex_usd : array_like
        Capex spent per period, last axis ``period`` [USD].
    life_periods : int or array_like of int
        Useful life in periods [1]; an array broadcasts against
        ``capex_usd[..., 0]`` (for example one life per chip).

    Returns
    -------
    ndarray
        Depreciation per period, same shape as ``capex_usd`` [USD].

    Notes
    -----
    With :math:`C_t` the cumulative capex up to period :math:`t` and :math:`L`
    the life,

    .. math:: D_t = \\frac{C_t - C_{t-L}}{L}, \\qquad C_{t} = 0 \\text{ for } t < 0

    References
    ----------
    .. [1] IAS 16, *Property, Plant and Equipment*, paragraphs 60-62
       (depreciation methods; the straight-line method).

    Examples
    --------
    $1200 spent in the first month, written off over 12 months:

    >>> straight_line_depreciation_usd([1200.0] + [0.0] * 13, 12).tolist()[:3], \
straight_line_depreciation_usd([1200.0] + [0.0] * 13, 12).tolist()[-2:]
    ([100.0, 100.0, 100.0], [0.0, 0.0])
    """
    capex = np.asarray(capex_usd, dtype=float)
    life = np.broadcast_to(np.asarray(life_periods, dtype=int), capex.shape[:-1])
    if np.any(life < 1):
        raise ValueError("life_periods must be at least 1")
    cum = np.cumsum(capex, axis=-1)
    out = np.empty_like(capex)
    n = capex.shape[-1]
    for lv in np.unique(life):
        mask = life == lv
        c = cum[mask]
        lagged = np.zeros_like(c)
        if lv < n:
            lagged[..., lv:] = c[..., : n - lv]
        out[mask] = (c - lagged) / lv
    return out


def energy_cost_usd(energy_j, price_usd_per_mwh):
    """Cost of electricity.

    Parameters
    ----------
    energy_j : float or array_like
        Energy drawn from the grid [J].
    price_usd_per_mwh : float or array_like
        Price [USD/MWh].

    Returns
    -------
    float or ndarray
        Cost [USD].

    Notes
    -----
    .. math:: c = E / (3.6 \\times 10^9\\ \\mathrm{J/MWh}) \\cdot p

    Examples
    --------
    1 MW for a (365.25-day) year at $80/MWh:

    >>> round(float(energy_cost_usd(1e6 * 365.25 * 86400, 80.0)))
    701280
    """
    return np.asarray(energy_j, dtype=float) / J_PER_MWH * np.asarray(price_usd_per_mwh, dtype=float)


def capital_recovery_factor(rate_per_year, life_years):
    """Share of an investment to recover each year to earn ``rate`` over its life.

    Parameters
    ----------
    rate_per_year : float or array_like
        Annual cost of capital [1/year].
    life_years : float or array_like
        Life of the asset [year], positive.

    Returns
    -------
    float or ndarray
        Capital recovery factor [1/year].

    Notes
    -----
    .. math:: CRF = \\frac{r}{1 - (1 + r)^{-n}}, \\qquad CRF = 1/n \\text{ at } r = 0

    References
    ----------
    .. [1] W. Short, D. J. Packey, T. Holt, *A Manual for the Economic
       Evaluation of Energy Efficiency and Renewable Energy Technologies*,
       NREL/TP-462-5173 (1995), section 4.

    Examples
    --------
    >>> round(float(capital_recovery_factor(0.08, 5)), 5)
    0.25046
    """
    r = np.asarray(rate_per_year, dtype=float)
    n = np.asarray(life_years, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        crf = np.where(np.abs(r) < 1e-12, 1.0 / n, r / (1.0 - (1.0 + r) ** (-n)))
    return float(crf) if crf.ndim == 0 else crf


def levelized_cost_usd_per_chip_h(capex_usd, life_years, rate_per_year, opex_usd_per_year, utilization=1.0):
    """Levelized cost of one chip-hour sold: capital recovery plus yearly opex.

    Parameters
    ----------
    capex_usd : float or array_like
        Up-front cost per chip: chip, server, network, and its share of the
        datacenter [USD].
    life_years : float or array_like
        Life over which the capex is recovered [year].
    rate_per_year : float
        Cost of capital [1/year].
    opex_usd_per_year : float or array_like
        Power, operations and maintenance per chip per year [USD/year].
    utilization : float or array_like
        Share of the chip's hours that are sold [1], in (0, 1].

    Returns
    -------
    float or ndarray
        Cost per chip-hour sold [USD/h].

    Notes
    -----
    .. math:: c = \\frac{K \\cdot CRF(r, n) + O}{8766\\,u}

    Examples
    --------
    A $20k chip over 5 years at 8% with $1k a year of power and operations:

    >>> round(float(levelized_cost_usd_per_chip_h(20e3, 5, 0.08, 1e3)), 3)
    0.686
    """
    u = np.asarray(utilization, dtype=float)
    if np.any(u <= 0):
        raise ValueError("utilization must be positive")
    annual = np.asarray(capex_usd, dtype=float) * capital_recovery_factor(rate_per_year, life_years) + np.asarray(
        opex_usd_per_year, dtype=float)
    out = annual / (HOURS_PER_YEAR * u)
    return float(out) if np.ndim(out) == 0 else out


def breakeven_utilization(fixed_cost_usd, revenue_at_full_use_usd, variable_cost_at_full_use_usd=0.0):
    """Share of capacity the provider must sell to cover its costs.

    Parameters
    ----------
    fixed_cost_usd : float or array_like
        Costs that do not scale with use: capex, operations, less residual
        value [USD] (present values where the others are).
    revenue_at_full_use_usd : float or array_like
        Revenue if every installed chip-hour is sold at the contract price [USD].
    variable_cost_at_full_use_usd : float or array_like
        Costs that scale with use, at full use: power [USD].

    Returns
    -------
    float or ndarray
        Break-even utilization [1]; above 1 means the prices cannot cover the
        costs even at full use, ``inf`` where each sold hour loses money.

    Notes
    -----
    Revenue and variable cost scale with utilization :math:`u`, so
    :math:`u R = F + u V` gives

    .. math:: u^* = \\frac{F}{R - V}

    Examples
    --------
    >>> breakeven_utilization(60.0, 100.0, 20.0)
    0.75
    """
    f = np.asarray(fixed_cost_usd, dtype=float)
    margin = np.asarray(revenue_at_full_use_usd, dtype=float) - np.asarray(variable_cost_at_full_use_usd, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(margin > 0, f / np.where(margin > 0, margin, 1.0), np.inf)
    return float(out) if np.ndim(out) == 0 else out
