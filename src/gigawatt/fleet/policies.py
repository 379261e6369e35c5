"""Allocation policies: the order in which training runs get the chips left over.

A policy is a plain function ``policy(runs, t) -> order`` that returns the
indices of the runs in the order they are served in period ``t``. It is named in
the scenario (``demand.policy``) and looked up in :data:`POLICIES`, so a new
policy is one function and one line here.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

__all__ = ["POLICIES", "earliest_deadline_first", "first_come_first_served", "largest_first", "get_policy"]


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
