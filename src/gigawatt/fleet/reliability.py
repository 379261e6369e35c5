"""Failures, checkpoints and restarts: the share of a run's time that trains.

One rule for every run, and the same as ``gigawatt perf train``'s: the goodput
function is :func:`gigawatt.perf.goodput.training_goodput`, with the scenario's
checkpoint interval and restart time as its inputs. Unexpected interruptions
arrive at a rate per chip-hour taken from the Llama 3 405B run (419 unexpected
interruptions in 54 days on 16,384 H100 [1]_, about 1.97e-5 per chip-hour). Each
interruption costs the work since the last checkpoint (half an interval on
average) plus the restart time. In a period of ``h`` hours a job on ``n`` chips
sees ``k ~ Poisson(λ n h)`` interruptions and trains for

.. math:: g = \\max\\left(1 - \\frac{k\\,(c/2 + r)}{h},\\; g_{min}\\right)

of the time, with ``c`` the checkpoint interval and ``r`` the restart time;
:func:`expected_goodput` gives its mean.

References
----------
.. [1] A. Grattafiori et al., "The Llama 3 Herd of Models", arXiv:2407.21783,
   2024, section 3.3.4 and Table 5.
"""

from __future__ import annotations

import numpy as np

from gigawatt.perf.goodput import FAILURES_PER_CHIP_HOUR, MIN_GOODPUT, Reliability, training_goodput

__all__ = ["FAILURES_PER_CHIP_HOUR", "MIN_GOODPUT", "expected_goodput", "hours_lost_per_interruption",
           "sample_goodput"]


def hours_lost_per_interruption(checkpoint_interval_s, restart_s):
    """Job time one interruption costs: half a checkpoint interval of work, plus the restart [h].

    >>> hours_lost_per_interruption(3600, 1800)
    1.0
    """
    return Reliability(checkpoint_interval_s=checkpoint_interval_s, restart_s=restart_s).hours_lost_per_interruption


def expected_goodput(n_chips, checkpoint_interval_s, restart_s, failures_per_chip_hour=FAILURES_PER_CHIP_HOUR):
    """Expected share of wall-clock time that trains [1]: :func:`gigawatt.perf.goodput.training_goodput`.

    Parameters
    ----------
    n_chips : array_like
        Chips in the job [1].
    checkpoint_interval_s : float
        Time between checkpoints [s].
    restart_s : float
        Time to detect a failure and restart from the last checkpoint [s].
    failures_per_chip_hour : float
        Unexpected interruptions per chip-hour [1/h].

    Returns
    -------
    ndarray
        Goodput [1].

    Notes
    -----
    .. math:: E[g] = \\max(1 - \\lambda n (c/2 + r),\\; g_{min})

    Examples
    --------
    16,384 chips, hourly checkpoints and a 10-minute restart: 1 - 0.3233 x (1/2 + 1/6) = 0.784.

    >>> round(float(expected_goodput(16384, 3600, 600)), 3)
    0.784
    """
    return training_goodput(n_chips, Reliability(failures_per_chip_hour, checkpoint_interval_s, restart_s))


def sample_goodput(rng: np.random.Generator, n_chips, hours, checkpoint_interval_s, restart_s,
                   failures_per_chip_hour=FAILURES_PER_CHIP_HOUR):
    """Goodput of one period with a random number of interruptions [1].

    Parameters
    ----------
    rng : numpy.random.Generator
        The run's generator, built from the scenario's seed.
    n_chips : array_like
        Chips in the job, one per sample [1].
    hours : float
        Length of the period [h].
    checkpoint_interval_s, restart_s, failures_per_chip_hour
        As in :func:`expected_goodput`.

    Returns
    -------
    ndarray
        Goodput per sample [1], its mean equal to :func:`expected_goodput`
        where the floor does not bind.
    """
    rel = Reliability(failures_per_chip_hour, checkpoint_interval_s, restart_s)
    n = np.asarray(n_chips, dtype=float)
    k = rng.poisson(rel.failures_per_chip_hour * n * hours)
    lost_h = k * rel.hours_lost_per_interruption
    return np.maximum(1.0 - lost_h / hours, MIN_GOODPUT)
