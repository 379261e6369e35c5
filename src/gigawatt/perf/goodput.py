"""Goodput of a long training run: the share of paid chip-time that advances training.

A published "GPU-hours of the whole run" includes interruptions, restarts and
lost work; a steady-state tokens/s does not. :func:`training_goodput` bridges
the two with one model applied the same way to every run, built from the
reliability facts in ``shared/reference/hardware.md``:

- failure rate per chip: the Llama 3 405B run saw 419 unexpected interruptions
  on 16,384 H100 in 54 days [1]_, i.e. ``λ = 419 / (16,384 · 54 · 24 h)``
  ≈ 1.97e-5 per chip-hour;
- the same run kept more than 90% effective training time [1]_, which at that
  interruption rate (one every ~3 h) means each interruption cost about
  ``0.10 / (16,384·λ)`` ≈ 0.31 h of the whole job (lost work since the last
  checkpoint plus restart), consistent with hourly-or-better checkpoints
  losing about half an interval.

References
----------
.. [1] A. Grattafiori et al., "The Llama 3 Herd of Models", 2024, section 3.3.4
   (Table 5: 466 interruptions, 419 unexpected, 54 days, >90% effective time).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["FAILURES_PER_CHIP_HOUR", "HOURS_LOST_PER_INTERRUPTION", "training_goodput", "run_chip_hours"]

#: unexpected interruptions per chip-hour (Llama 3: 419 on 16,384 GPUs over 54 days)
FAILURES_PER_CHIP_HOUR = 419.0 / (16384.0 * 54.0 * 24.0)
#: job-hours lost per interruption, from Llama 3's >90% effective training time
HOURS_LOST_PER_INTERRUPTION = 0.10 / (16384.0 * FAILURES_PER_CHIP_HOUR)
#: goodput never modeled below this (a run that bad would be re-engineered)
MIN_GOODPUT = 0.5


def training_goodput(n_chips: Any, failures_per_chip_hour: float = FAILURES_PER_CHIP_HOUR,
                     hours_lost_per_interruption: float = HOURS_LOST_PER_INTERRUPTION) -> np.ndarray:
    """Fraction of wall-clock chip-time that trains, for a job on ``n_chips`` [1].

    Parameters
    ----------
    n_chips : array_like
        Chips in the job [1].
    failures_per_chip_hour : float
        Unexpected interruptions per chip per hour [1/h].
    hours_lost_per_interruption : float
        Job time lost per interruption: work since the last checkpoint and restart [h].

    Notes
    -----
    ``goodput = max(1 - n·λ·t_lost, 0.5)``.

    Examples
    --------
    >>> round(float(training_goodput(16384)), 3)
    0.9
    """
    n = np.asarray(n_chips, dtype=float)
    return np.maximum(1.0 - n * failures_per_chip_hour * hours_lost_per_interruption, MIN_GOODPUT)


def run_chip_hours(tokens: Any, tokens_per_s: Any, n_chips: Any) -> np.ndarray:
    """Chip-hours to train ``tokens`` at a steady ``tokens_per_s`` on ``n_chips``, goodput included [h].

    Notes
    -----
    ``H = tokens / (tokens_per_s · goodput(n)) · n / 3600``.
    """
    n = np.asarray(n_chips, dtype=float)
    return np.asarray(tokens, dtype=float) / (np.asarray(tokens_per_s, dtype=float) * training_goodput(n)) * n / 3600.0
