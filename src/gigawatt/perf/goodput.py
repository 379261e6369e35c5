"""Goodput of a long training run: the share of paid chip-time that advances training.

A published "GPU-hours of the whole run" includes interruptions, restarts and
lost work; a steady-state tokens/s does not. :func:`training_goodput` bridges
the two, and it is the one goodput function of gigawatt: ``gigawatt perf train``,
the backtest's chip-hour rows and the fleet (:mod:`gigawatt.fleet.reliability`)
all call it, each with the :class:`Reliability` inputs it states.

- Failure rate per chip: the Llama 3 405B run saw 419 unexpected interruptions
  on 16,384 H100 in 54 days [1]_, i.e. ``λ = 419 / (16,384 · 54 · 24 h)``
  ≈ 1.97e-5 per chip-hour (a mean time between interruptions of about 50,800 h
  per chip, 3.1 h for the whole job).
- Each interruption costs the work since the last checkpoint (half an interval
  on average) plus the restart: ``c/2 + r``.
- The same Llama 3 run kept more than 90% effective training time [1]_: at its
  interruption rate each interruption cost it only about ``0.10 / (16,384·λ)``
  ≈ 0.31 h. Llama 3 publishes the outcome, not its checkpoint interval or restart
  time, so the defaults are calibrated to it: 20-minute checkpoints and an
  8.5-minute restart (``c/2 + r`` = 0.308 h; only the sum is measured), a goodput of
  0.900 on 16,384 chips. They are the scenario schema's defaults too
  (``demand.checkpoint_interval``, ``demand.restart_time``), so ``gigawatt perf
  train``, the backtest's chip-hour rows and a scenario that sets neither get the
  same goodput.
- The loss is linear in the job's size: at the calibrated defaults 0.80 on 32,768
  chips, 0.60 on 65,536, and the floor :data:`MIN_GOODPUT` from about 82,000 chips
  on, where a job on Llama 3's failure rate is interrupted every half hour.

References
----------
.. [1] A. Grattafiori et al., "The Llama 3 Herd of Models", 2024, section 3.3.4
   (Table 5: 466 interruptions, 419 unexpected, 54 days, >90% effective time).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["FAILURES_PER_CHIP_HOUR", "DEFAULT_CHECKPOINT_INTERVAL_S", "DEFAULT_RESTART_S", "MIN_GOODPUT",
           "PUBLISHED_RUN_RELIABILITY", "Reliability", "training_goodput", "run_chip_hours"]

#: Llama 3: 419 unexpected interruptions, 16,384 GPUs, 54 days [1/h]
FAILURES_PER_CHIP_HOUR = 419.0 / (16384.0 * 54.0 * 24.0)
#: the scenario schema's defaults (``demand.checkpoint_interval``, ``demand.restart_time``), calibrated
#: to Llama 3's >90% effective training time on 16,384 H100 [1]_: ``c/2 + r`` = 0.308 h lost per
#: interruption, a goodput of 0.900 at that size. Only the sum is measured; the 20-minute interval
#: is an assumption (10 of the 18.5 minutes lost in rework, the rest in the restart) [s]
DEFAULT_CHECKPOINT_INTERVAL_S = 1200.0
DEFAULT_RESTART_S = 510.0
#: goodput never modeled below this (a run that bad would be re-engineered)
MIN_GOODPUT = 0.5


@dataclass(frozen=True)
class Reliability:
    """What failures cost a training job: the inputs of :func:`training_goodput`.

    Attributes
    ----------
    failures_per_chip_hour : float
        Unexpected interruptions per chip per hour, ``1 / MTBF`` of one chip [1/h].
    checkpoint_interval_s : float
        Time between checkpoints [s]; an interruption loses half of it on average.
    restart_s : float
        Time to detect a failure and restart from the last checkpoint [s].

    >>> r = Reliability()
    >>> round(r.chip_mtbf_s / 3600), round(r.hours_lost_per_interruption, 4)
    (50677, 0.3083)
    """

    failures_per_chip_hour: float = FAILURES_PER_CHIP_HOUR
    checkpoint_interval_s: float = DEFAULT_CHECKPOINT_INTERVAL_S
    restart_s: float = DEFAULT_RESTART_S

    @property
    def chip_mtbf_s(self) -> float:
        """Mean time between unexpected interruptions of one chip [s]."""
        return 3600.0 / self.failures_per_chip_hour

    @property
    def hours_lost_per_interruption(self) -> float:
        """Job time one interruption costs: half a checkpoint interval of work, plus the restart [h]."""
        return self.checkpoint_interval_s / 7200.0 + self.restart_s / 3600.0

    def job_mtbf_s(self, n_chips: float) -> float:
        """Mean time between interruptions of a job on ``n_chips`` chips [s]."""
        return self.chip_mtbf_s / max(float(n_chips), 1.0)

    @classmethod
    def from_mtbf(cls, chip_mtbf_s: float, checkpoint_interval_s: float = DEFAULT_CHECKPOINT_INTERVAL_S,
                  restart_s: float = DEFAULT_RESTART_S) -> "Reliability":
        """Inputs with the failure rate given as one chip's mean time between interruptions [s]."""
        if not chip_mtbf_s > 0:
            raise ValueError(f"a chip's mean time between interruptions must be positive, not {chip_mtbf_s!r} s")
        return cls(3600.0 / chip_mtbf_s, checkpoint_interval_s, restart_s)

    @classmethod
    def matching(cls, goodput: float, n_chips: float, checkpoint_interval_s: float,
                 failures_per_chip_hour: float = FAILURES_PER_CHIP_HOUR) -> "Reliability":
        """The restart time that makes a job of ``n_chips`` keep ``goodput`` with this checkpoint interval."""
        lost_h = (1.0 - goodput) / (n_chips * failures_per_chip_hour)
        return cls(failures_per_chip_hour, checkpoint_interval_s, lost_h * 3600.0 - checkpoint_interval_s / 2.0)


#: Inputs that reproduce the Llama 3 405B run's measured >90% effective time on 16,384 chips
#: (0.31 h lost per interruption): the calibrated defaults. The backtest predicts published
#: chip-hours with them.
PUBLISHED_RUN_RELIABILITY = Reliability()


def training_goodput(n_chips: Any, reliability: Reliability = Reliability()) -> np.ndarray:
    """Expected share of wall-clock chip-time that trains, for a job on ``n_chips`` [1].

    Parameters
    ----------
    n_chips : array_like
        Chips in the job [1].
    reliability : Reliability
        Failure rate, checkpoint interval and restart time; by default the Llama 3
        failure rate with the calibrated 20-minute checkpoints and 8.5-minute restart
        (the scenario schema's defaults).

    Notes
    -----
    ``goodput = max(1 - n·λ·(c/2 + r), 0.5)``.

    Examples
    --------
    >>> round(float(training_goodput(16384)), 3)
    0.9
    >>> round(float(training_goodput(16384, Reliability(checkpoint_interval_s=3600, restart_s=1800))), 3)
    0.677
    >>> float(training_goodput(131072))
    0.5
    """
    n = np.asarray(n_chips, dtype=float)
    lost = reliability.failures_per_chip_hour * reliability.hours_lost_per_interruption
    return np.maximum(1.0 - n * lost, MIN_GOODPUT)


def run_chip_hours(tokens: Any, tokens_per_s: Any, n_chips: Any,
                   reliability: Reliability = Reliability()) -> np.ndarray:
    """Chip-hours to train ``tokens`` at a steady ``tokens_per_s`` on ``n_chips``, goodput included [h].

    Notes
    -----
    ``H = tokens / (tokens_per_s · goodput(n)) · n / 3600``.
    """
    n = np.asarray(n_chips, dtype=float)
    good = training_goodput(n, reliability)
    return np.asarray(tokens, dtype=float) / (np.asarray(tokens_per_s, dtype=float) * good) * n / 3600.0
