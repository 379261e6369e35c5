"""Prices, spend and commitments as the buyer of compute sees them."""

from __future__ import annotations

import numpy as np

from gigawatt.units import SECONDS_PER_YEAR  # the Julian year of every rate per year

__all__ = [
    "chip_hours_for_budget",
    "commitment_shortfall_usd",
    "implied_usd_per_chip_hour",
    "implied_usd_per_gw_year",
    "price_usd_per_chip_h",
    "spend_usd",
]

SECONDS_PER_HOUR = 3600.0


def price_usd_per_chip_h(base_usd_per_chip_h, factor_per_year, years_since_base):
    """Contract price per chip-hour after a steady yearly change.

    Parameters
    ----------
    base_usd_per_chip_h : float or array_like
        Price at the base date [USD/h].
    factor_per_year : float or array_like
        Price multiplier per year [1]; 0.9 is a 10% yearly decline.
    years_since_base : float or array_like
        Time since the base date [year]; negative times keep the base price.

    Returns
    -------
    float or ndarray
        Price per chip-hour [USD/h].

    Notes
    -----
    .. math:: p(t) = p_0 \\cdot f^{\\max(t, 0)}

    Examples
    --------
    >>> round(float(price_usd_per_chip_h(2.0, 0.9, 2.0)), 4)
    1.62
    """
    t = np.maximum(np.asarray(years_since_base, dtype=float), 0.0)
    return np.asarray(base_usd_per_chip_h, dtype=float) * np.asarray(factor_per_year, dtype=float) ** t


def spend_usd(chips, price_usd_per_chip_h, duration_s):
    """What the buyer pays for dedicated chips over a period.

    Parameters
    ----------
    chips : float or array_like
        Chips rented [1].
    price_usd_per_chip_h : float or array_like
        Contract price [USD/h].
    duration_s : float or array_like
        Length of the period [s].

    Returns
    -------
    float or ndarray
        Spend [USD].

    Notes
    -----
    .. math:: S = n \\cdot p \\cdot t / 3600

    Examples
    --------
    >>> float(spend_usd(1000, 1.5, 30 * 86400))
    1080000.0
    """
    return np.asarray(chips, dtype=float) * price_usd_per_chip_h * np.asarray(duration_s, dtype=float) / SECONDS_PER_HOUR


def chip_hours_for_budget(budget_usd, price_usd_per_chip_h):
    """Chip-hours a budget buys at a price.

    Parameters
    ----------
    budget_usd : float or array_like
        Money [USD].
    price_usd_per_chip_h : float or array_like
        Price per chip-hour [USD/h], positive.

    Returns
    -------
    float or ndarray
        Chip-hours [h].

    Examples
    --------
    >>> float(chip_hours_for_budget(100e9, 2.0)) / 1e9
    50.0
    """
    price = np.asarray(price_usd_per_chip_h, dtype=float)
    if np.any(price <= 0):
        raise ValueError("price_usd_per_chip_h must be positive")
    return np.asarray(budget_usd, dtype=float) / price


def implied_usd_per_chip_hour(commitment_usd, chip_hours):
    """Price per chip-hour at which a commitment pays for the capacity it buys.

    Parameters
    ----------
    commitment_usd : float
        Committed spend [USD].
    chip_hours : float
        Chip-hours installed over the commitment's term [h].

    Returns
    -------
    float
        Implied price [USD/h]; ``nan`` when no chip-hours were installed.

    Notes
    -----
    .. math:: p_{implied} = C / \\sum_t n_t \\Delta t_t

    Examples
    --------
    >>> implied_usd_per_chip_hour(100e9, 50e9)
    2.0
    """
    return float(commitment_usd) / float(chip_hours) if chip_hours > 0 else float("nan")


def implied_usd_per_gw_year(commitment_usd, it_energy_capacity_w_s):
    """Dollars per GW-year of IT capacity that a commitment implies.

    Parameters
    ----------
    commitment_usd : float
        Committed spend [USD].
    it_energy_capacity_w_s : float
        Installed IT capacity integrated over the commitment's term,
        :math:`\\sum_t P_{IT,t} \\Delta t_t` [W s].

    Returns
    -------
    float
        [USD per GW-year]; ``nan`` when nothing was installed.

    Examples
    --------
    1 GW held for 10 years under a $100B commitment is $10B per GW-year:

    >>> implied_usd_per_gw_year(100e9, 1e9 * 10 * 365.25 * 86400) / 1e9
    10.0
    """
    gw_years = float(it_energy_capacity_w_s) / (1e9 * SECONDS_PER_YEAR)
    return float(commitment_usd) / gw_years if gw_years > 0 else float("nan")


def commitment_shortfall_usd(spend_usd_per_year, min_usd_per_year):
    """Take-or-pay shortfall: what is owed when yearly spend is under the minimum.

    Parameters
    ----------
    spend_usd_per_year : array_like
        Spend in each contract year [USD].
    min_usd_per_year : float or array_like
        Committed minimum per year [USD].

    Returns
    -------
    ndarray
        Shortfall per year [USD], zero where spend meets the minimum.

    Notes
    -----
    .. math:: s_y = \\max(m_y - S_y, 0)

    Examples
    --------
    >>> commitment_shortfall_usd([5e9, 12e9], 10e9).tolist()
    [5000000000.0, 0.0]
    """
    return np.maximum(np.asarray(min_usd_per_year, dtype=float) - np.asarray(spend_usd_per_year, dtype=float), 0.0)
