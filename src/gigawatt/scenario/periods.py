"""The time axis of a run: monthly periods by default, weekly on request.

Inputs are dated by month (``2026-04``); the engine steps by period. A period
knows its start date, its length, its calendar year and its position in
fractional months, through which every month-dated input is read.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gigawatt.units import SECONDS_PER_MONTH, month_index

__all__ = ["Periods", "make_periods"]


@dataclass(frozen=True)
class Periods:
    """The periods of a run.

    Attributes
    ----------
    start : ndarray of datetime64[D]
        First day of each period.
    seconds : ndarray
        Length of each period [s].
    month_pos : ndarray
        Start of each period in fractional months since year 0
        (``12*year + month - 1 + (day - 1) / days_in_month``) [month].
    step : str
        ``month`` or ``week``.
    """

    start: np.ndarray
    seconds: np.ndarray
    month_pos: np.ndarray
    step: str

    @property
    def labels(self) -> list[str]:
        """``YYYY-MM`` for monthly periods, ``YYYY-MM-DD`` for weekly ones."""
        unit = "M" if self.step == "month" else "D"
        return [str(d) for d in self.start.astype(f"datetime64[{unit}]")]

    @property
    def year(self) -> np.ndarray:
        """Calendar year of each period's start."""
        return self.start.astype("datetime64[Y]").astype(int) + 1970

    @property
    def month(self) -> np.ndarray:
        """Whole month index of each period's start (``12*year + month - 1``)."""
        return np.floor(self.month_pos).astype(int)

    def __len__(self) -> int:
        return len(self.start)

    def first_at_or_after(self, month: str) -> int:
        """Index of the first period starting in or after a month (``len`` if none)."""
        return int(np.searchsorted(self.month_pos, month_index(month) - 1e-9, side="left"))

    def last_in_or_before(self, month: str) -> int:
        """Index of the last period starting in or before a month (-1 if none)."""
        return int(np.searchsorted(self.month, month_index(month), side="right")) - 1

    @property
    def nominal_s(self) -> float:
        """Length of a period in the step's own terms: a Julian month (30.4375 days) or 7 days [s]."""
        return SECONDS_PER_MONTH if self.step == "month" else 7 * 86400.0

    def periods_in(self, seconds: float) -> int:
        """Whole periods in a duration, at least one.

        >>> make_periods("2026-02", "2026-02").periods_in(6 * 365.25 * 86400 / 12)
        6
        """
        return max(1, int(round(seconds / self.nominal_s)))


def make_periods(start_month: str, end_month: str, step: str = "month") -> Periods:
    """Periods from the first day of ``start_month`` to the end of ``end_month``.

    Examples
    --------
    >>> p = make_periods("2026-01", "2026-03")
    >>> p.labels, (p.seconds / 86400).tolist()
    (['2026-01', '2026-02', '2026-03'], [31.0, 28.0, 31.0])
    >>> w = make_periods("2026-01", "2026-01", step="week")
    >>> w.labels[:2], len(w), round(float(w.month_pos[1] - w.month_pos[0]) * 31, 9)
    (['2026-01-01', '2026-01-08'], 5, 7.0)
    """
    first = np.datetime64(start_month, "M")
    end = np.datetime64(end_month, "M") + np.timedelta64(1, "M")  # exclusive
    if step == "month":
        months = np.arange(first, end, dtype="datetime64[M]")
        start = months.astype("datetime64[D]")
        stop = (months + np.timedelta64(1, "M")).astype("datetime64[D]")
    elif step == "week":
        start = np.arange(first.astype("datetime64[D]"), end.astype("datetime64[D]"), np.timedelta64(7, "D"))
        stop = start + np.timedelta64(7, "D")
    else:
        raise ValueError(f"step must be 'month' or 'week', not {step!r}")
    seconds = (stop - start).astype("timedelta64[s]").astype(float)
    month_of = start.astype("datetime64[M]")
    day = (start - month_of.astype("datetime64[D]")).astype(int)
    days_in = ((month_of + np.timedelta64(1, "M")).astype("datetime64[D]") - month_of.astype("datetime64[D]")).astype(int)
    whole = (month_of.astype(int) + 1970 * 12).astype(float)
    return Periods(start=start, seconds=seconds, month_pos=whole + day / days_in, step=step)
