"""The throughput matrix the fleet simulation reads: tokens/s per chip, per workload and chip.

In the spirit of Gavel's throughput matrix [1]_: the fleet never counts a FLOP;
it multiplies chips by these rates.

References
----------
.. [1] D. Narayanan et al., "Heterogeneity-Aware Cluster Scheduling Policies for
   Deep Learning Workloads" (Gavel), OSDI 2020.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

__all__ = ["throughput_matrix", "Workload"]

#: a workload is a mapping; these are its keys and defaults
Workload = Mapping[str, Any]

_TRAIN_DEFAULTS = {"seq_len": 8192, "global_batch_seqs": None, "chips": 8192, "precision": "bf16"}
_SERVE_DEFAULTS = {"input_len": 2000, "output_len": 200, "chips": None, "precision": "fp8",
                   "ttft_limit_s": None, "tpot_limit_s": None}


def _evaluate(w: Workload, chip: str) -> tuple[float, float, float, str]:
    """(tokens/s per chip, MFU, J/token, note) of one workload on one chip; NaN where it cannot run."""
    from gigawatt.errors import GigawattError
    from gigawatt.perf import transformer as tf
    from gigawatt.perf.api import resolve, serve_plan, train_plan

    nan = float("nan")
    kind = str(w.get("kind", "training"))
    try:
        arch, hw = resolve(str(w["model"]), chip, precision=str(w.get("precision", "bf16" if kind == "training" else "fp8")))
        if kind == "training":
            p = {**_TRAIN_DEFAULTS, **w}
            r = train_plan(str(w["model"]), chip, int(p["chips"]), search=True, seq_len=int(p["seq_len"]),
                           global_batch_seqs=p["global_batch_seqs"], precision=str(p["precision"]))
            per_chip = r["tokens_per_s"] / r["chips"]
            return per_chip, r["mfu"], hw.tdp_w / per_chip if hw.tdp_w else nan, ""
        p = {**_SERVE_DEFAULTS, **w}
        chips = int(p["chips"] or max(hw.chips_per_node, 1))
        r = serve_plan(str(w["model"]), chip, chips, input_len=float(p["input_len"]), output_len=float(p["output_len"]),
                       precision=str(p["precision"]), ttft_limit_s=p["ttft_limit_s"], tpot_limit_s=p["tpot_limit_s"])
        per_chip = r["output_tokens_per_s_per_chip"]
        tokens = float(p["input_len"]) + float(p["output_len"])
        flops = float(tf.forward_flops_per_token(arch, tokens / 2.0)) * tokens / float(p["output_len"])
        mfu = per_chip * flops / hw.peak(str(p["precision"]))
        return per_chip, mfu, hw.tdp_w / per_chip if hw.tdp_w else nan, ""
    except (GigawattError, ValueError) as exc:
        return nan, nan, nan, str(exc)


def throughput_matrix(workloads: Iterable[Workload] | Mapping[str, Workload], chips: Iterable[str]):
    """Tokens/s per chip for each workload on each chip, as an xarray DataArray.

    Parameters
    ----------
    workloads : iterable of mapping, or mapping name -> mapping
        Each has ``model`` (catalog id) and ``kind`` (``training`` or
        ``inference``), optionally ``name``. Training keys: ``chips`` (job size,
        default 8192), ``seq_len``, ``global_batch_seqs``, ``precision``.
        Inference keys: ``chips`` (system size, default one node),
        ``input_len``, ``output_len``, ``precision``, ``ttft_limit_s``,
        ``tpot_limit_s`` [s].
    chips : iterable of str
        Catalog chip ids or aliases.

    Returns
    -------
    xarray.DataArray
        Dimensions ``(workload, chip)``: training tokens/s per chip (steady
        state, best searched layout) or generated tokens/s per chip (inference)
        [tokens/s]. Coordinates of the same shape: ``mfu`` [1] and
        ``joules_per_token`` (chip TDP over the rate, chip power only) [J];
        ``note`` says why a cell is NaN.

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
    chip_ids = list(chips)
    rate = np.full((len(items), len(chip_ids)), np.nan)
    mfu = np.full_like(rate, np.nan)
    jpt = np.full_like(rate, np.nan)
    note = np.full(rate.shape, "", dtype=object)
    for i, w in enumerate(items):
        for j, c in enumerate(chip_ids):
            rate[i, j], mfu[i, j], jpt[i, j], note[i, j] = _evaluate(w, c)
    dims = ("workload", "chip")
    return xr.DataArray(
        rate, dims=dims, coords={"workload": names, "chip": chip_ids, "mfu": (dims, mfu),
                                 "joules_per_token": (dims, jpt), "note": (dims, note.astype(str)),
                                 "kind": ("workload", [str(w.get("kind", "training")) for w in items])},
        name="tokens_per_s_per_chip", attrs={"units": "tokens/s per chip"},
    )
