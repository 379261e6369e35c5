"""Performance models of LLM training and inference on every catalog chip.

Plain vectorized numpy functions, one topic module each:

- :mod:`~gigawatt.perf.transformer`: parameters, FLOPs, activation and KV bytes, collectives.
- :mod:`~gigawatt.perf.hardware`: a chip and its system as the numbers the models use.
- :mod:`~gigawatt.perf.calibration`: achievable fractions of peak per chip family.
- :mod:`~gigawatt.perf.layout`: :class:`Layout`, the one record of a parallel layout.
- :mod:`~gigawatt.perf.training`: training step time, memory, tokens/s, MFU.
- :mod:`~gigawatt.perf.search`: the training and serving searches over parallel layouts.
- :mod:`~gigawatt.perf.moe_serving`: what MoE and MLA models add to a serving iteration (experts,
  all-to-alls, data-parallel attention, speculative tokens) and the layouts engines offer them.
- :mod:`~gigawatt.perf.serving_iteration`: a serving replica's weights and KV cache; the roofline of
  one engine iteration, prefill and decode.
- :mod:`~gigawatt.perf.inference`: continuous batching, regimes, disaggregation, agentic tasks.
- :mod:`~gigawatt.perf.goodput`: the one goodput function (failures, checkpoints, restarts).
- :mod:`~gigawatt.perf.backtest`: predictions against published measurements.
- :mod:`~gigawatt.perf.matrix`: the throughput matrix, the fleet's only source of rates.

Heavy imports (pandas, xarray) happen inside the functions that need them.
"""

from __future__ import annotations

from gigawatt.perf.layout import Layout

__all__ = ["Layout", "throughput_matrix"]


def throughput_matrix(*args, **kwargs):
    """See :func:`gigawatt.perf.matrix.throughput_matrix`."""
    from gigawatt.perf.matrix import throughput_matrix as _tm

    return _tm(*args, **kwargs)
