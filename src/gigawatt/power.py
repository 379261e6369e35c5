"""The power chain: from one chip's TDP to the facility's draw.

Plain vectorized functions on numpy arrays or floats.

The chain::

    it_w_per_chip  = tdp_w + (host_power_w + node_other_power_w) / chips_per_node
                     + network_power_w_per_chip
    facility_w     = it_w * pue
    chips_in(P)    = floor(P / it_w_per_chip)
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "chips_in_power",
    "energized_power_w",
    "facility_power_w",
    "it_power_w_per_chip",
    "energy_j",
]


def it_power_w_per_chip(tdp_w, host_power_w=0.0, node_other_power_w=0.0, chips_per_node=1.0, network_power_w_per_chip=0.0):
    """All-in IT power of one accelerator with its share of the system around it.

    Parameters
    ----------
    tdp_w : float or array_like
        Thermal design power of the accelerator [W].
    host_power_w : float or array_like
        Host CPUs, memory, NICs and storage of one node [W].
    node_other_power_w : float or array_like
        Fans, power conversion losses and in-node switches of one node [W].
    chips_per_node : float or array_like
        Accelerators per node [1].
    network_power_w_per_chip : float or array_like
        Share of the scale-out fabric (switches, optics) per accelerator [W].

    Returns
    -------
    float or ndarray
        IT power per accelerator at full load [W].

    Notes
    -----
    .. math:: P_{IT} = P_{TDP} + (P_{host} + P_{other}) / n_{node} + P_{net}

    Cooling outside the IT load (chillers, CRAH) is not here: it is in the PUE.

    Examples
    --------
    A DGX H100: 8 x 700 W GPUs, and 4,600 W for the rest of the 10.2 kW box:

    >>> float(it_power_w_per_chip(700.0, 3000.0, 1600.0, 8))
    1275.0
    """
    chips_per_node = np.asarray(chips_per_node, dtype=float)
    if np.any(chips_per_node <= 0):
        raise ValueError("chips_per_node must be positive")
    return np.asarray(tdp_w, dtype=float) + (np.asarray(host_power_w, dtype=float) + node_other_power_w) / chips_per_node + network_power_w_per_chip


def facility_power_w(it_power_w, pue):
    """Facility (grid) power for an IT load.

    Parameters
    ----------
    it_power_w : float or array_like
        IT load [W].
    pue : float or array_like
        Power usage effectiveness, facility power over IT power [1], at least 1.

    Returns
    -------
    float or ndarray
        Facility power [W].

    Notes
    -----
    .. math:: P_{facility} = P_{IT} \\cdot PUE

    References
    ----------
    .. [1] The Green Grid, "PUE: a comprehensive examination of the metric", WP#49, 2012.

    Examples
    --------
    >>> float(facility_power_w(1e9, 1.15))
    1150000000.0
    """
    return np.asarray(it_power_w, dtype=float) * np.asarray(pue, dtype=float)


def chips_in_power(power_w, it_w_per_chip):
    """Whole chips that fit in an IT power envelope.

    Parameters
    ----------
    power_w : float or array_like
        IT power available [W].
    it_w_per_chip : float or array_like
        All-in IT power per chip [W].

    Returns
    -------
    ndarray
        Chips [1], rounded down, never negative.

    Notes
    -----
    .. math:: n = \\lfloor P / P_{IT,chip} \\rfloor

    Examples
    --------
    >>> float(chips_in_power(1e9, 1275.0))
    784313.0
    """
    n = np.floor(np.maximum(np.asarray(power_w, dtype=float), 0.0) / np.asarray(it_w_per_chip, dtype=float) + 1e-9)
    return n


def energized_power_w(period_month_index, point_month_index, point_power_w, ramp="linear"):
    """IT power online at each period, from a site's energization points.

    Parameters
    ----------
    period_month_index : array_like of int
        Months of the periods, as months since year 0 (``12*year + month - 1``).
    point_month_index : array_like of int
        Months of the energization points, increasing.
    point_power_w : array_like of float
        Cumulative IT power online at each point [W].
    ramp : {"linear", "step"}
        ``linear`` interpolates between points; ``step`` holds each point's
        power until the next. Zero before the first point, the last value after.

    Returns
    -------
    ndarray
        IT power online per period [W].

    Examples
    --------
    >>> energized_power_w([0, 6, 12, 18], [0, 12], [0.0, 1.2e9]).tolist()
    [0.0, 600000000.0, 1200000000.0, 1200000000.0]
    """
    t = np.asarray(period_month_index, dtype=float)
    x = np.asarray(point_month_index, dtype=float)
    y = np.asarray(point_power_w, dtype=float)
    if ramp == "step":
        idx = np.searchsorted(x, t, side="right") - 1
        out = np.where(idx >= 0, y[np.clip(idx, 0, len(y) - 1)], 0.0)
    else:
        out = np.interp(t, x, y, left=0.0, right=y[-1])
        out = np.where(t < x[0], 0.0, out)
    return out


def energy_j(power_w, duration_s):
    """Energy of a constant power over a duration.

    Parameters
    ----------
    power_w : float or array_like
        Power [W].
    duration_s : float or array_like
        Duration [s].

    Returns
    -------
    float or ndarray
        Energy [J].

    Notes
    -----
    .. math:: E = P \\cdot t

    Examples
    --------
    >>> float(energy_j(1e9, 3600.0)) / 3.6e12  # 1 GW for one hour is 1 GWh
    1.0
    """
    return np.asarray(power_w, dtype=float) * np.asarray(duration_s, dtype=float)
