"""Inference served by chip: which generations carried the tokens the simulation served.

Each stream's served tokens are split over the pools it ran on in proportion to the output
rate each pool delivered over the day: its busy chips there (averaged over the day) times its
output tokens/s per chip on that pool's chip. Summed over streams and sites, that gives the
tokens each roadmap chip served, and each chip's share of the year's served tokens (the
``served_by`` breakdown of the summary, its years and ``years.csv``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["served_tokens_by_chip", "served_by_summary"]


def served_tokens_by_chip(sim) -> np.ndarray:
    """Tokens served on each chip, ``(sample, period, chip)`` [tokens].

    Parameters
    ----------
    sim : Simulation
        ``served_tokens`` ``(sample, period, stream)``, ``stream_busy`` (or ``stream_chips``)
        ``(sample, period, stream, pool)`` with pools ``site * n_chip + chip``, and the throughput
        matrix's output tokens/s per chip ``(stream, chip)``.

    Returns
    -------
    ndarray, (sample, period, chip)

    Notes
    -----
    With :math:`b_{wp}` chips of stream :math:`w` busy on pool :math:`p` (chip :math:`c(p)`) and
    :math:`r_{wc}` its output rate per chip, stream :math:`w`'s served tokens :math:`S_w` go to
    pool :math:`p` in the share :math:`b_{wp} r_{w c(p)} / \\sum_q b_{wq} r_{w c(q)}`.
    """
    fleet = sim.fleet
    n_s, n_t, n_i, n_c = fleet.installed.shape
    busy = sim.stream_busy if sim.stream_busy is not None else sim.stream_chips  # (s, t, w, p)
    out = np.zeros((n_s, n_t, n_c))
    if busy is None or busy.shape[2] == 0:
        return out
    rates = np.nan_to_num(np.asarray(sim.throughput.inference_output_tokens_per_chip_s, dtype=float))  # (w, c)
    pool_chip = np.tile(np.arange(n_c), n_i)
    delivered = busy * rates[:, pool_chip][None, None]  # (s, t, w, p) [tokens/s]
    total = delivered.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(total > 0, delivered / total, 0.0)
    by_pool = (share * sim.served_tokens[..., None]).sum(axis=2)  # (s, t, p)
    return by_pool.reshape(n_s, n_t, n_i, n_c).sum(axis=2)


def served_by_summary(sim, sample: int = 0) -> tuple[dict[str, float], dict[int, dict[str, float]]]:
    """Each chip's share of the served tokens over the horizon, and per calendar year.

    Returns
    -------
    (dict, dict)
        ``{chip: share}`` over the horizon, and ``{year: {chip: share}}`` [1]; a chip that served
        nothing in a year has share 0; a year with nothing served has no entry.
    """
    fleet = sim.fleet
    tokens = served_tokens_by_chip(sim)[sample]  # (t, c)
    chips = fleet.chip_ids
    years = np.array([int(m[:4]) for m in fleet.months])

    def shares(x: np.ndarray) -> dict[str, float]:
        total = float(x.sum())
        return {c: float(v / total) for c, v in zip(chips, x)} if total > 0 else {}

    by_year = {}
    for y in np.unique(years):
        s = shares(tokens[years == y].sum(axis=0))
        if s:
            by_year[int(y)] = s
    return shares(tokens.sum(axis=0)), by_year
