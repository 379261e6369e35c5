"""The throughput matrix: tokens/s per chip, per workload and chip. The fleet's one door to the models.

In the spirit of Gavel's throughput matrix [1]_: the fleet never counts a FLOP;
it multiplies chips by these rates. Each cell runs the search that ``gigawatt perf
train`` and ``gigawatt perf serve`` run (:func:`gigawatt.perf.api.train_plan`,
:func:`gigawatt.perf.api.serve_plan`), so a cell and the CLI agree for the same
inputs; :mod:`gigawatt.fleet.throughput` reads its rates from here and nowhere else.

References
----------
.. [1] D. Narayanan et al., "Heterogeneity-Aware Cluster Scheduling Policies for
   Deep Learning Workloads" (Gavel), OSDI 2020.
"""

from __future__ import annotations

import functools
from typing import Any, Iterable, Mapping

from gigawatt.perf.transformer import DEFAULT_SEQ_LEN

__all__ = ["throughput_matrix", "Workload", "evaluate_cell"]

#: a workload is a mapping; these are its keys and defaults
Workload = Mapping[str, Any]

_TRAIN_DEFAULTS = {"seq_len": DEFAULT_SEQ_LEN, "global_batch_seqs": None, "chips": 8192, "precision": None}
_SERVE_DEFAULTS = {"input_len": 2000, "output_len": 200, "chips": None, "precision": "fp8",
                   "ttft_limit_s": None, "tpot_limit_s": None, "agentic": None}


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), _freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    return value


def evaluate_cell(workload: Workload, chip: str, system: str | None = None) -> tuple[float, float, float, str, str]:
    """(tokens/s per chip, MFU, J/token, note, precision) of one workload on one chip.

    NaN and a note where it cannot run; ``precision`` is the one the cell ran in. Cached: the
    same workload on the same chip and system is evaluated once per process.
    """
    return _cell(_freeze(workload), chip, system or None)


@functools.cache
def _cell(frozen: tuple, chip: str, system: str | None) -> tuple[float, float, float, str, str]:
    from gigawatt.errors import GigawattError
    from gigawatt.perf import transformer as tf
    from gigawatt.perf.api import MODEL_PRECISION, resolve, serve_plan, train_plan, training_precision

    w = {k: (dict(v) if k == "agentic" and v is not None else v) for k, v in frozen}
    nan = float("nan")
    kind = str(w.get("kind", "training"))
    defaults = _TRAIN_DEFAULTS if kind == "training" else _SERVE_DEFAULTS
    p = {**defaults, **{k: v for k, v in w.items() if v is not None or k not in defaults}}
    precision = "" if p["precision"] is None else str(p["precision"]).lower()
    try:
        if kind == "training":
            # a run trains in the precision it states, else the chip's catalog default; a chip that
            # does not train in the stated one is no place for the run (the note says why)
            precision = training_precision(chip, p["precision"])
            arch, hw = resolve(str(w["model"]), chip, system, precision)
            r = train_plan(str(w["model"]), chip, int(p["chips"]), search=True, seq_len=int(p["seq_len"]),
                           global_batch_seqs=p["global_batch_seqs"], precision=precision, system=system)
            per_chip = r["tokens_per_s"] / r["chips"]
            return per_chip, r["mfu"], hw.tdp_w / per_chip if hw.tdp_w else nan, "", precision
        arch, hw = resolve(str(w["model"]), chip, system, precision)
        if not hw.peak_flops.get(MODEL_PRECISION.get(precision, precision)):
            precision = "bf16"  # a chip without a peak for the precision serves the workload in BF16
        chips = None if p["chips"] is None else int(p["chips"])
        r = serve_plan(str(w["model"]), chip, chips, input_len=float(p["input_len"]), output_len=float(p["output_len"]),
                       precision=precision, ttft_limit_s=p["ttft_limit_s"], tpot_limit_s=p["tpot_limit_s"],
                       system=system, agentic=p["agentic"])
        per_chip = r["output_tokens_per_s_per_chip"]
        tokens = float(p["input_len"]) + float(p["output_len"])
        flops = float(tf.forward_flops_per_token(arch, tokens / 2.0)) * tokens / float(p["output_len"])
        mfu = per_chip * flops / hw.peak(MODEL_PRECISION.get(precision, precision))
        return per_chip, mfu, hw.tdp_w / per_chip if hw.tdp_w else nan, "", precision
    except (GigawattError, ValueError) as exc:
        return nan, nan, nan, str(exc), precision


@functools.cache
def _interval_factors(model: str, chip: str, kind: str) -> tuple[float, float]:
    """(low, high) factors of a cell's 80% prediction interval; (nan, nan) where the names do not resolve."""
    from gigawatt.catalog import get_model
    from gigawatt.errors import GigawattError
    from gigawatt.perf.calibration import prediction_interval

    try:
        moe = bool(get_model(model).moe_experts)
        iv = prediction_interval(chip, moe=moe, kind="training" if kind == "training" else "serving")
    except GigawattError:
        return float("nan"), float("nan")
    return iv["low_factor"], iv["high_factor"]


def throughput_matrix(workloads: Iterable[Workload] | Mapping[str, Workload], chips: Iterable[str | tuple[str, str]],
                      evaluate: Any = None):
    """Tokens/s per chip for each workload on each chip, as an xarray DataArray.

    Parameters
    ----------
    workloads : iterable of mapping, or mapping name -> mapping
        Each has ``model`` (catalog id) and ``kind`` (``training`` or
        ``inference``), optionally ``name``. Training keys: ``chips`` (job size,
        default 8192), ``seq_len`` (default :data:`~gigawatt.perf.transformer.DEFAULT_SEQ_LEN`),
        ``global_batch_seqs``, ``precision`` (default: the chip's catalog training
        precision, :func:`gigawatt.perf.api.training_precision`; a chip that does not train
        in a stated one gives NaN and a note). Inference keys: ``chips`` (chips of the system; default None, a
        pool as large as needed: one replica of the best size, per chip),
        ``input_len``, ``output_len``, ``precision`` (default ``fp8``),
        ``ttft_limit_s``, ``tpot_limit_s`` [s], ``agentic`` (task keywords of
        :func:`gigawatt.perf.inference.agentic_task`: whole agentic tasks are served).
        An inference precision the chip has no peak for is served in BF16. An inference cell
        is the serving search's best layout (:func:`gigawatt.perf.search.search_serving`:
        tensor, pipeline and expert parallel degrees, split or data-parallel attention,
        continuous batching or disaggregated prefill and decode) under the chip's default
        serving stack, at the batch the latency limits allow.
    chips : iterable of str or (chip, system)
        Catalog chip ids or aliases, or pairs of a chip and the catalog system it is
        deployed in (by default the chip's system with the largest scale-up domain).
    evaluate : array_like of bool, optional
        ``(workload, chip)``: the cells to evaluate; the others are NaN with the note
        ``not evaluated``. By default all.

    Returns
    -------
    xarray.DataArray
        Dimensions ``(workload, chip)``: training tokens/s per chip (steady
        state, best searched layout) or generated tokens/s per chip (inference)
        [tokens/s]. Coordinates of the same shape: ``mfu`` [1] and
        ``joules_per_token`` (chip TDP over the rate, chip power only) [J];
        ``note`` says why a cell is NaN; ``precision`` is the one each cell ran in.
        ``system`` (per chip) is the system asked for ("" for the default one). ``low`` and
        ``high`` [tokens/s] bound the 80% prediction interval of each cell
        (:func:`gigawatt.perf.calibration.prediction_interval`: the held-out errors of its chip
        family x dense/MoE x training/serving class, wider for a chip with no measurement), for
        Monte Carlo to draw per-chip throughput from.

    Examples
    --------
    >>> m = throughput_matrix([{"name": "train-8b", "model": "llama3.1-8b", "chips": 1024}],
    ...                       ["h100-sxm"])  # doctest: +SKIP
    >>> float(m.sel(workload="train-8b", chip="h100-sxm")) > 0  # doctest: +SKIP
    True
    """
    import numpy as np
    import xarray as xr

    if isinstance(workloads, Mapping):
        items = [{"name": k, **v} for k, v in workloads.items()]
    else:
        items = [dict(w) for w in workloads]
    names = [str(w.get("name") or f"{w.get('kind', 'training')}:{w['model']}") for w in items]
    pairs = [(c, "") if isinstance(c, str) else (str(c[0]), str(c[1] or "")) for c in chips]
    rate = np.full((len(items), len(pairs)), np.nan)
    mfu = np.full_like(rate, np.nan)
    jpt = np.full_like(rate, np.nan)
    note = np.full(rate.shape, "", dtype=object)
    prec = np.full(rate.shape, "", dtype=object)
    low = np.full_like(rate, np.nan)
    high = np.full_like(rate, np.nan)
    todo = np.ones(rate.shape, dtype=bool) if evaluate is None else np.asarray(evaluate, dtype=bool)
    for i, w in enumerate(items):
        work = {k: v for k, v in w.items() if k != "name"}
        for j, (c, system) in enumerate(pairs):
            if not todo[i, j]:
                note[i, j] = "not evaluated"
                continue
            rate[i, j], mfu[i, j], jpt[i, j], note[i, j], prec[i, j] = evaluate_cell(work, c, system)
            lo, hi = _interval_factors(str(work["model"]), c, str(work.get("kind", "training")))
            low[i, j], high[i, j] = rate[i, j] * lo, rate[i, j] * hi
    dims = ("workload", "chip")
    return xr.DataArray(
        rate, dims=dims, coords={"workload": names, "chip": [c for c, _ in pairs], "mfu": (dims, mfu),
                                 "joules_per_token": (dims, jpt), "note": (dims, note.astype(str)),
                                 "low": (dims, low), "high": (dims, high),
                                 "precision": (dims, prec.astype(str)),
                                 "system": ("chip", [s for _, s in pairs]),
                                 "kind": ("workload", [str(w.get("kind", "training")) for w in items])},
        name="tokens_per_s_per_chip", attrs={"units": "tokens/s per chip"},
    )
