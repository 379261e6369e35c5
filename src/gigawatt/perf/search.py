"""Parallelism search: the one place where training and serving layouts are chosen.

:func:`layout_grid` lists the candidate training layouts (tensor, pipeline, context,
expert parallel degrees, virtual stages, micro-batch, recompute, ZeRO-1 or
FSDP) as one :class:`~gigawatt.perf.layout.Layout` of flat numpy arrays and drops those
that break divisibility; :func:`search_training` evaluates them all with one call of
:func:`gigawatt.perf.training.training_step` and returns the fastest layout
that fits in memory, with its breakdown. Calculon [1]_ evaluates one layout in
about 2 ms; a vectorized evaluation does about a million per second.

:func:`serving_layouts` lists the layouts of one serving replica (tensor-parallel
degree, expert parallelism, data-parallel attention) and :func:`search_serving`
keeps the one with the most output tokens per second per chip. ``gigawatt perf
train|serve`` (:mod:`gigawatt.perf.api`), the throughput matrix and through it the
fleet all search here.

References
----------
.. [1] M. Isaev et al., "Calculon", SC'23.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gigawatt.perf import transformer as tf
from gigawatt.perf.calibration import Calibration, calibration_for
from gigawatt.perf.hardware import Hardware
from gigawatt.perf.layout import Layout
from gigawatt.perf.training import SCHEDULES, training_step

__all__ = ["layout_grid", "search_training", "serving_layouts", "search_serving", "LAYOUT_KEYS", "SERVING_TP",
           "SERVING_PP", "SERVING_PP_EXTRA", "SERVING_MAX_EP_STAGE", "SERVING_AGENTIC_SHORTLIST"]

#: the training layout's searched fields, in the grid's order
LAYOUT_KEYS = ("tp", "pp", "cp", "ep", "vpp", "micro_batch", "recompute", "fsdp", "schedule")

#: tensor-parallel degrees of the serving search that are powers of two; it tries every divisor
#: of the heads up to the scale-up domain and the largest of these (engines split heads evenly)
SERVING_TP = (1, 2, 4, 8, 16, 32, 64, 128)

#: pipeline depths the serving search tries, where the weights need them
SERVING_PP = (1, 2, 3, 4, 5, 6, 8, 9, 10, 12, 16, 18, 24, 32)

#: deeper pipelines the serving search tries beyond the shallowest that holds the weights: a
#: bound of the search, not fitted
SERVING_PP_EXTRA = 2

#: layouts an agentic task is evaluated on, the best by one request at the task's mean context:
#: a bound of the search (each agentic evaluation serves every step of the task), not fitted
SERVING_AGENTIC_SHORTLIST = 48

#: largest pipeline stage the serving search spreads an MoE model's experts over beyond one
#: scale-up domain, with data-parallel attention [chips]: DeepSeek's decode deployment runs
#: EP 144-320 (DeepSeek-V3 report sec. 3.4.2: 40 nodes, 320 GPUs); a bound of the search
SERVING_MAX_EP_STAGE = 256

_POW2 = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]

#: fewest tokens of a sequence each context-parallel rank keeps for the search to try that
#: degree [tokens]: below it, a rank's attention blocks are too small to hide the ring's
#: transfers; a bound of the search (half of :data:`~gigawatt.perf.transformer.DEFAULT_SEQ_LEN`),
#: not fitted
MIN_TOKENS_PER_CP_RANK = 4096


def _candidates(arch: tf.Arch, hw: Hardware, n_chips: int, seq_len: int) -> dict[str, list[int]]:
    tp_max = min(max(hw.chips_per_scaleup, 1), 64)
    tp = [t for t in _POW2 if t <= tp_max and arch.n_heads % t == 0 and t <= n_chips]
    pp = sorted({p for p in list(range(1, 17)) + [20, 24, 28, 32, 40, 48, 64, 96, 128] if p <= arch.layers and p <= n_chips})
    cp = [c for c in (1, 2, 4, 8, 16, 32) if c == 1 or seq_len >= MIN_TOKENS_PER_CP_RANK * c]
    ep = [e for e in _POW2 if arch.is_moe and arch.moe_experts % e == 0] or [1]
    return {
        "tp": tp, "pp": pp, "cp": cp, "ep": ep, "vpp": [1, 2, 3, 4, 5, 6, 7, 8],
        "micro_batch": [1, 2, 4, 8, 16], "recompute": [0, 1, 2], "fsdp": [0, 1], "schedule": [0],
    }


def layout_grid(arch: tf.Arch, hw: Hardware, *, n_chips: int, seq_len: int, global_batch_seqs: int,
                fixed: Layout | None = None, schedules: tuple[str, ...] = ("1f1b",)) -> tuple[Layout, int]:
    """All layouts that satisfy divisibility, as one Layout of flat arrays, and the grid's size.

    Parameters
    ----------
    n_chips : int
        Chips in the job [1].
    seq_len : int
        Tokens per sequence [tokens].
    global_batch_seqs : int
        Sequences per step [1].
    fixed : Layout, optional
        Fields to hold fixed (e.g. ``Layout(tp=8)``); its free fields are searched.
    schedules : tuple of str
        Pipeline schedules to consider (keys of ``training.SCHEDULES``); by default 1F1B
        only, what Megatron-LM, NeMo, NxD and MaxText run.

    Notes
    -----
    Kept: ``tp·pp·cp`` divides ``n_chips``; ``dp·mb`` divides the global
    batch; ``ep`` divides ``tp·cp·dp`` (Megatron-Core's expert
    grid with expert TP 1) and the expert count; ``pp·vpp ≤ L`` and
    ``vpp = 1`` without pipelining; FSDP only without pipelining; zero-bubble and
    DualPipe need pipelining, ``vpp = 1`` and at least ``pp`` micro-batches, DualPipe an
    even ``pp`` and an even number of micro-batches. The second value returned is the
    size of the grid before filtering.
    """
    cand = _candidates(arch, hw, n_chips, seq_len)
    cand["schedule"] = sorted({SCHEDULES[name] for name in schedules})
    held = (fixed or Layout()).fixed()
    for key in LAYOUT_KEYS:
        if key in held:
            cand[key] = [int(held[key])]
    # The degrees (tp, pp, cp, ep) are crossed and filtered first; only the survivors are
    # crossed with the rest (vpp, micro-batch, recompute, FSDP, schedule). The result is the
    # full grid's filtered rows in the same (lexicographic) order, at a fraction of the work.
    outer, inner = LAYOUT_KEYS[:4], LAYOUT_KEYS[4:]
    n_total = int(np.prod([len(cand[k]) for k in LAYOUT_KEYS]))
    mesh = np.meshgrid(*(np.asarray(cand[k], dtype=np.int64) for k in outer), indexing="ij")
    head = {k: a.ravel() for k, a in zip(outer, mesh)}
    model = head["tp"] * head["pp"] * head["cp"]
    keep = (n_chips % model) == 0
    dp_head = np.where(keep, n_chips // np.maximum(model, 1), 0)
    keep &= dp_head >= 1
    keep &= ((dp_head * head["cp"] * head["tp"]) % head["ep"]) == 0  # experts are carved out of tp x cp x dp (etp = 1)
    head = {k: v[keep] for k, v in head.items()}
    mesh = np.meshgrid(*(np.asarray(cand[k], dtype=np.int64) for k in inner), indexing="ij")
    tail = {k: a.ravel() for k, a in zip(inner, mesh)}
    n_head, n_tail = head["tp"].size, tail["vpp"].size
    g = {k: np.repeat(v, n_tail) for k, v in head.items()}
    g.update({k: np.tile(v, n_head) for k, v in tail.items()})
    dp = np.repeat(dp_head[keep], n_tail)
    ok = np.ones(n_head * n_tail, dtype=bool)
    ok &= (global_batch_seqs % np.maximum(dp * g["micro_batch"], 1)) == 0
    ok &= g["pp"] * g["vpp"] <= arch.layers
    ok &= (g["pp"] > 1) | (g["vpp"] == 1)
    ok &= (g["fsdp"] == 0) | (g["pp"] == 1)
    m = global_batch_seqs // np.maximum(dp * g["micro_batch"], 1)
    ok &= (g["vpp"] == 1) | (m % np.maximum(g["pp"], 1) == 0)  # interleaving needs m % pp == 0
    other = g["schedule"] != SCHEDULES["1f1b"]
    ok &= ~other | ((g["pp"] > 1) & (g["vpp"] == 1) & (m >= g["pp"]))
    dual = g["schedule"] == SCHEDULES["dualpipe"]
    ok &= ~dual | ((g["pp"] % 2 == 0) & (m % 2 == 0))
    out = {k: v[ok] for k, v in g.items()}
    out["fsdp"] = out["fsdp"].astype(bool)
    return Layout(**out, dp=dp[ok], etp=held.get("etp")), n_total


def search_training(arch: tf.Arch, hw: Hardware, *, n_chips: int, seq_len: int, global_batch_seqs: int,
                    precision: str = "bf16", cal: Calibration | None = None, fixed: Layout | None = None,
                    schedules: tuple[str, ...] = ("1f1b",)) -> dict[str, Any]:
    """The fastest layout that fits, with its breakdown.

    ``fixed`` holds some fields of the layout (its ``etp`` applies to every candidate);
    ``schedules`` widens the search to zero-bubble (``"zero-bubble"``, Qi et al. 2024) or
    DualPipe (``"dualpipe"``, DeepSeek-V3) pipelines; the layout's ``schedule`` is the code
    of ``training.SCHEDULES`` (0 = 1F1B).

    Returns
    -------
    dict
        ``layout`` (a complete :class:`~gigawatt.perf.layout.Layout`, ``dp`` included),
        ``result`` (``training_step`` outputs as floats), ``n_candidates`` (the full grid),
        ``n_evaluated`` (layouts that divide, all evaluated) and ``n_feasible`` (those that
        fit); or ``layout`` None when nothing fits (``reason`` says why).

    Examples
    --------
    >>> from gigawatt.perf.hardware import Hardware
    >>> hw = Hardware("h100-sxm", {"bf16": 989e12}, 80e9, 3.35e12, 900e9, 50e9)
    >>> a = tf.Arch("llama-8b", 32, 4096, 32, 8, 128, 14336, 128256)
    >>> r = search_training(a, hw, n_chips=64, seq_len=8192, global_batch_seqs=512)
    >>> r["layout"] is not None and r["result"]["mfu"] > 0.3
    True
    """
    cal = cal or calibration_for(hw.chip)
    g, n_cand = layout_grid(arch, hw, n_chips=n_chips, seq_len=seq_len, global_batch_seqs=global_batch_seqs,
                            fixed=fixed, schedules=schedules)
    n_eval = int(g.tp.size)
    if n_eval == 0:
        return {"layout": None, "result": None, "n_evaluated": 0, "n_feasible": 0,
                "reason": f"no layout of {n_chips} chips divides the batch of {global_batch_seqs} sequences"}
    r = training_step(arch, hw, g, n_chips=n_chips, seq_len=seq_len, global_batch_seqs=global_batch_seqs,
                      precision=precision, cal=cal)
    fits = np.asarray(r["fits"], dtype=bool)
    n_fit = int(fits.sum())
    if n_fit == 0:
        return {"layout": None, "result": None, "n_evaluated": n_eval, "n_feasible": 0,
                "reason": f"no layout fits in {hw.hbm_bytes / 1e9:.0f} GB per chip; use more chips"}
    t = np.where(fits, r["step_time_s"], np.inf)
    i = int(np.argmin(t))
    best = {k: int(getattr(g, k)[i]) for k in LAYOUT_KEYS + ("dp",)}
    best["fsdp"] = bool(best["fsdp"])
    layout = Layout(**best, etp=None if g.etp is None else int(g.etp), attention_dp=False)
    result = {k: (bool(v[i]) if k == "fits" else float(np.broadcast_to(v, t.shape)[i])) for k, v in r.items()}
    return {"layout": layout, "result": result, "n_evaluated": n_eval, "n_feasible": n_fit, "n_candidates": n_cand}


def serving_layouts(arch: tf.Arch, hw: Hardware, *, chips: int | None = None, fixed: Layout | None = None,
                    batch: int | None = None, precision: str = "bf16",
                    cal: Calibration | None = None) -> list[Layout]:
    """The layouts of one serving replica the search tries, in order.

    Parameters
    ----------
    chips : int, optional
        Chips of the system. Given, a replica's ``tp·pp`` must divide them; None (a pool
        as large as needed, as the fleet's) sets no such limit.
    fixed : Layout, optional
        Fields held: ``tp`` (the chips of a pipeline stage), ``pp``, ``ep``, ``attention_dp``.
    batch : int, optional
        A fixed batch per replica (latency regime): too small to keep every data-parallel
        attention rank busy, so data-parallel attention is not offered unless asked for.
    precision : str
        Weight precision: sets which pipeline depths hold the weights.
    cal : Calibration, optional
        Coefficients of the chip (``usable_hbm_frac``).

    Notes
    -----
    Stage sizes ``tp``: every divisor of the model's heads up to the scale-up domain (and
    128), since head-split attention all-reduces twice per layer over the scale-up links
    (:data:`SERVING_TP` lists the powers of two). An MoE model also spreads its experts over
    the stage (:func:`gigawatt.perf.moe_serving.moe_layouts`: every ``ep`` dividing the experts
    and the stage, attention split by heads or data-parallel), and, with data-parallel
    attention, which splits no heads, over stages of any size that divides the expert count
    or is a power of two, up to :data:`SERVING_MAX_EP_STAGE` and across scale-up domains, so
    long as each expert's ``tp/ep`` chips share a domain: expert parallelism across nodes, as
    DeepSeek's and SGLang's large-EP decode runs.
    Pipeline depths ``pp`` (free unless held): the smallest of :data:`SERVING_PP` at which the
    weights fit on ``tp·pp`` chips and the next :data:`SERVING_PP_EXTRA` above it, since
    deeper pipelines add capacity for KV cache but no weight bandwidth
    (:func:`gigawatt.perf.serving_iteration.gemm_time_s`). A dense model keeps ``ep = 1`` and
    head-split attention.

    >>> from gigawatt.perf.hardware import Hardware
    >>> hw = Hardware("h100-sxm", {"bf16": 989e12}, 80e9, 3.35e12, 900e9, 50e9, chips_per_scaleup=8)
    >>> a = tf.Arch("llama-70b", 80, 8192, 64, 8, 128, 28672, 128256)
    >>> sorted({(lay.tp, lay.pp) for lay in serving_layouts(a, hw)})[:6]
    [(1, 2), (1, 3), (1, 4), (2, 1), (2, 2), (2, 3)]
    """
    from gigawatt.perf.inference import moe_layouts, weight_bytes

    cal = cal or calibration_for(hw.chip)
    held = fixed or Layout()
    domain = max(int(hw.chips_per_scaleup), 1)
    if held.tp is not None:
        worlds = [int(held.tp)]
    else:
        worlds = [t for t in range(1, min(domain, max(SERVING_TP)) + 1) if arch.n_heads % t == 0]
        if arch.is_moe:
            # data-parallel attention needs no head split: stages of any expert count's divisor or power of two
            worlds = sorted(set(worlds) | {t for t in range(2, SERVING_MAX_EP_STAGE + 1)
                                           if arch.moe_experts % t == 0 or t in _POW2})
    need = weight_bytes(arch, precision) / max(cal.usable_hbm_frac * hw.hbm_bytes, 1.0)  # chips the weights fill
    out = []
    for t in worlds:
        if held.pp is not None:
            pps = [int(held.pp)]
        else:
            ok = [p for p in SERVING_PP if p <= arch.layers and (chips is None or chips % (t * p) == 0)]
            fit = [p for p in ok if t * p >= need]
            pps = fit[:1 + SERVING_PP_EXTRA]
        split_ok = held.tp is not None or (t <= domain and arch.n_heads % t == 0)
        for pp in pps:
            if chips is not None and chips % (t * pp):
                continue
            if held.ep is None and held.attention_dp is None:
                pairs = [(e, x) for e, x in moe_layouts(arch, t, t) if not (x and batch is not None)]
            else:
                e = 1 if held.ep is None else int(held.ep)
                adps = [bool(held.attention_dp)] if held.attention_dp is not None else (
                    [False, True] if (e > 1 and t > 1) else [False])
                pairs = [(e, x) for x in adps]
            for e, x in pairs:
                # head-split attention needs heads that divide the stage, within one scale-up domain;
                # data-parallel attention needs each expert's tp/ep chips within one domain
                if held.tp is None and ((not x and not split_ok) or (x and t // max(e, 1) > domain)):
                    continue
                out.append(Layout(tp=t, pp=pp, ep=e, attention_dp=bool(x)))
    return out


def search_serving(arch: tf.Arch, hw: Hardware, *, input_len: float, output_len: float, chips: int | None = None,
                   fixed: Layout | None = None, precision: str = "bf16", regime: str = "offline",
                   batch: int | None = None, ttft_limit_s: float | None = None, tpot_limit_s: float | None = None,
                   kv_bytes_per_value: float | None = None, kv_reservation: str = "mean",
                   agentic: dict[str, Any] | None = None, cal: Calibration | None = None,
                   spec_tokens: int = 0, disaggregated: bool | None = False,
                   stack: str | None = None) -> dict[str, Any]:
    """The serving layout with the most output tokens per second per chip.

    Each layout of :func:`serving_layouts` runs :func:`gigawatt.perf.inference.serve` on
    ``chips`` chips (one replica where ``chips`` is None), or, with ``agentic`` (the keyword
    arguments of :func:`gigawatt.perf.inference.agentic_task` that describe the task), one
    agentic task on one replica (on the :data:`SERVING_AGENTIC_SHORTLIST` layouts that serve
    one request at the task's mean context best). ``spec_tokens`` (speculative drafts per step),
    ``disaggregated`` (prefill and decode pools; None tries both, with continuous batching
    first) and ``stack`` (the serving software, whose calibration applies where ``cal`` is
    not given) pass to :func:`gigawatt.perf.inference.serve`.

    Returns
    -------
    dict
        ``layout`` (None when no layout serves), ``result`` (``serve`` outputs, or
        ``agentic_task`` outputs), ``output_tokens_per_s_per_chip`` [tokens/s],
        ``n_chips`` (the chips the result is for), ``n_evaluated``; ``reason`` (the last
        layout's error) where none serves.
    """
    from gigawatt.perf.inference import agentic_task, serve, serving_calibration, weight_bytes

    cal = cal or serving_calibration(hw.chip, stack)
    candidates = serving_layouts(arch, hw, chips=chips, fixed=fixed, batch=batch, precision=precision, cal=cal)
    best: dict[str, Any] | None = None
    need = weight_bytes(arch, precision) / (cal.usable_hbm_frac * hw.hbm_bytes)
    held = (fixed or Layout()).fixed()
    reason = (f"no layout of {arch.name} serves" + (f" on {chips} chips" if chips else "") +
              f" with {', '.join(f'{k} {v}' for k, v in held.items()) or 'any tp, pp, ep'}: its weights "
              f"({weight_bytes(arch, precision) / 1e9:,.0f} GB at {precision}) need at least {math.ceil(need)} chips "
              f"of {hw.hbm_bytes / 1e9:.0f} GB per replica, and a replica (tp x pp) must divide the chips; "
              f"heads {arch.n_heads} must divide a head-split tp within the {hw.chips_per_scaleup}-chip scale-up domain")
    if agentic is not None and len(candidates) > SERVING_AGENTIC_SHORTLIST:
        # an agentic task is one serve() per step: shortlist the layouts by one request at the task's
        # mean context first
        mean_ctx = float(agentic["system_prompt_tokens"]) + (float(agentic["steps"]) - 1.0) / 2.0 * (
            float(agentic["tool_output_tokens"]) + float(agentic["output_tokens_per_step"]))
        proxy = []
        for lay in candidates:
            n = int(chips or lay.tp * lay.pp)
            r = serve(arch, hw, lay, n_chips=n, input_len=mean_ctx, output_len=float(agentic["output_tokens_per_step"]),
                      precision=precision, cal=cal)
            proxy.append(-1.0 if r.get("output_tokens_per_s") is None else r["output_tokens_per_s"] / n)
        order = np.argsort(-np.asarray(proxy), kind="stable")[:SERVING_AGENTIC_SHORTLIST]
        candidates = [candidates[i] for i in sorted(order)]
    for lay in candidates:
        n = int(chips or lay.tp * lay.pp)
        if agentic is not None:
            try:
                r = agentic_task(arch, hw, lay, n_chips=n, precision=precision, cal=cal, **agentic)
            except ValueError as exc:
                reason = str(exc)
                continue
            rate = r["output_tokens"] / r["chip_s"] if r["chip_s"] > 0 else float("nan")
            if np.isfinite(rate) and (best is None or rate > best["output_tokens_per_s_per_chip"]):
                best = {"layout": lay, "result": r, "output_tokens_per_s_per_chip": float(rate), "n_chips": n}
        else:
            modes = [False, True] if disaggregated is None else [bool(disaggregated)]
            for mode in modes if batch is None else [False]:
                r = serve(arch, hw, lay, n_chips=n, input_len=input_len, output_len=output_len, precision=precision,
                          regime=regime, batch=batch, ttft_limit_s=ttft_limit_s, tpot_limit_s=tpot_limit_s,
                          kv_bytes_per_value=kv_bytes_per_value, kv_reservation=kv_reservation, cal=cal,
                          spec_tokens=spec_tokens, disaggregated=mode)
                if r.get("output_tokens_per_s") is None:
                    reason = r.get("error", "") or reason
                    continue
                rate = r["output_tokens_per_s"] / n
                if np.isfinite(rate) and (best is None or rate > best["output_tokens_per_s_per_chip"]):
                    best = {"layout": lay, "result": {**r, "disaggregated": mode},
                            "output_tokens_per_s_per_chip": float(rate), "n_chips": n}
    if best is None:
        return {"layout": None, "result": None, "output_tokens_per_s_per_chip": float("nan"),
                "n_evaluated": len(candidates), "reason": reason}
    return {**best, "n_evaluated": len(candidates)}
