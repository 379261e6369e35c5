"""Where inference is placed first: inference-only generations, the cheapest per token first.

A roadmap generation marked ``use: inference`` (an Inferentia generation) never takes a
training run. The engine's inference order (:mod:`gigawatt.fleet.simulate`) is the oldest
generation first, so that the newest stay free for training; with inference-only pools in the
fleet the order becomes, in each period:

1. the inference-only pools, the cheapest per output token first (:func:`cost_per_token_usd`:
   the pool's contract price per chip-hour over its output tokens per chip-hour from the
   throughput matrix, which holds only layouts that meet the stream's latency targets);
2. then the other pools in the engine's order (oldest generation first, site by site).

Inference-only pools can serve nothing else, so each token they serve frees a chip that can
train; among them the cheapest per token serves first. Training's reserve never carves them.
Without an inference-only generation the order is the engine's own, unchanged.

With ``demand.inference_order: cheapest`` every pool is taken the cheapest per output token first
(:func:`cheapest_orders`; at equal cost inference-only pools first, then the engine's order),
whether or not the roadmap has inference-only generations: the newest generation, often the
cheapest per token, then serves first and training gets what inference leaves.

Every chip installed is paid for by the hour whether busy or not (the contract's price per
chip-hour), so the order changes which chips serve, how busy each pool is, the power drawn and
what training may backfill, not the spend.
"""

from __future__ import annotations

import numpy as np

__all__ = ["cheapest_orders", "cost_per_token_usd", "inference_orders", "training_order"]


def cost_per_token_usd(price_usd_per_chip_h, rates, usable, mean_out):
    """Contract cost of an output token on each chip, weighted over the streams that may use it.

    Parameters
    ----------
    price_usd_per_chip_h : ndarray, (period, chip)
        Contract price [USD/h].
    rates : ndarray, (stream, chip)
        Output tokens/s per chip within the stream's latency targets (the throughput matrix) [tokens/s].
    usable : ndarray of bool, (stream, chip)
        Whether the stream may run on the chip at a finite, positive rate.
    mean_out : ndarray, (period, stream)
        Each stream's mean output rate, the weights [tokens/s].

    Returns
    -------
    ndarray, (period, chip)
        USD per output token; ``inf`` where no stream with demand may use the chip.

    Notes
    -----
    .. math:: k_{tc} = \\frac{\\sum_w m_{tw}\\,[u_{wc}]\\; p_{tc} / (3600\\,r_{wc})}{\\sum_w m_{tw}\\,[u_{wc}]}

    Examples
    --------
    $1.20/h at 100 output tokens/s per chip is $1.20 / 360,000 tokens:

    >>> float(cost_per_token_usd(np.array([[1.2]]), np.array([[100.0]]), np.array([[True]]),
    ...                          np.array([[5.0]]))[0, 0] * 1e6)
    3.3333333333333335
    """
    price = np.asarray(price_usd_per_chip_h, dtype=float)
    rates = np.asarray(rates, dtype=float)
    usable = np.asarray(usable, dtype=bool)
    weight = np.asarray(mean_out, dtype=float)[:, :, None] * usable[None]  # (t, w, c)
    per_token = price[:, None, :] / (3600.0 * np.where(usable, rates, 1.0))[None]  # (t, w, c)
    total = weight.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cost = (weight * per_token).sum(axis=1) / total
    return np.where(total > 0, cost, np.inf)


def inference_orders(base_order, pool_chip, inference_only, cost) -> np.ndarray | None:
    """Per period, the order inference takes the pools in; None when no pool is inference-only.

    Parameters
    ----------
    base_order : ndarray of int, (pool,)
        The engine's order (oldest generation first).
    pool_chip : ndarray of int, (pool,)
        Chip index of each pool.
    inference_only : ndarray of bool, (chip,)
        Generations the roadmap marks ``use: inference``.
    cost : ndarray, (period, chip)
        USD per output token (:func:`cost_per_token_usd`).

    Returns
    -------
    ndarray of int, (period, pool) or None
        Inference-only pools first, cheapest per token first (ties in the engine's order), then the
        other pools in the engine's order.

    Examples
    --------
    Pools of chips 0 (can train), 1 and 2 (inference only; chip 2 cheaper per token):

    >>> inference_orders(np.array([0, 1, 2]), np.array([0, 1, 2]), np.array([False, True, True]),
    ...                  np.array([[1.0, 3.0, 2.0]])).tolist()
    [[2, 1, 0]]
    """
    base_order = np.asarray(base_order, dtype=int)
    only = np.asarray(inference_only, dtype=bool)[np.asarray(pool_chip)[base_order]]  # in base order
    if not only.any():
        return None
    first, rest = base_order[only], base_order[~only]
    c = np.asarray(cost, dtype=float)[:, np.asarray(pool_chip)[first]]  # (t, inference-only pools)
    ranked = first[np.argsort(c, axis=1, kind="stable")]
    return np.concatenate([ranked, np.broadcast_to(rest, (c.shape[0], len(rest)))], axis=1)


def cheapest_orders(base_order, pool_chip, inference_only, cost) -> np.ndarray:
    """Per period, every pool the cheapest per output token first (``inference_order: cheapest``).

    Parameters
    ----------
    base_order, pool_chip, inference_only, cost
        As for :func:`inference_orders`.

    Returns
    -------
    ndarray of int, (period, pool)
        Pools by cost per token; at equal cost inference-only pools first, then the engine's order.

    Examples
    --------
    >>> cheapest_orders(np.array([0, 1, 2]), np.array([0, 1, 2]), np.array([False, True, False]),
    ...                 np.array([[2.0, 3.0, 1.0]])).tolist()
    [[2, 0, 1]]
    """
    base_order = np.asarray(base_order, dtype=int)
    chip = np.asarray(pool_chip)[base_order]
    later = (~np.asarray(inference_only, dtype=bool)[chip]).astype(float)  # inference-only first at a tie
    cost = np.asarray(cost, dtype=float)[:, chip]  # (t, pools in base order)
    out = np.empty(cost.shape, dtype=int)
    for t in range(cost.shape[0]):  # cost, then inference-only first, then the engine's order
        out[t] = base_order[np.lexsort((np.arange(len(base_order)), later, cost[t]))]
    return out


def training_order(base_order, pool_chip, inference_only) -> np.ndarray:
    """The order training's reserve takes pools in: the engine's, reversed (newest first), without
    the inference-only pools, which a reserve for training never holds."""
    order = np.asarray(base_order, dtype=int)[::-1]
    keep = ~np.asarray(inference_only, dtype=bool)[np.asarray(pool_chip)[order]]
    return order[keep].copy()
