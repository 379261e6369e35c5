"""Inference: throughput and latency of serving a request mix, continuous batching, regimes.

A system of ``n_chips`` runs ``n_chips / (tp·pp)`` replicas of one layout; each runs
engine iterations whose time is the roofline of :mod:`gigawatt.perf.serving_iteration`,
in the spirit of Vidur [1]_ and GenZ [2]_, with the terms that mixture-of-experts and MLA
models and data-parallel attention add from :mod:`gigawatt.perf.moe_serving`. This module
chooses the batch a replica runs: the largest the KV cache and the engine allow
(:func:`max_decode_batch`), the best under continuous batching with chunked prefill
(:func:`serve_continuous`) or a fixed one (:func:`serve_fixed_batch`); speculative drafts
and prefill/decode disaggregation (:func:`serve_disaggregated`) are options of
:func:`serve`. Agentic tasks are served through :mod:`gigawatt.perf.agentic`
(:func:`agentic_task`), and a row of the inference validation file is predicted by
:func:`predict_row`.

Regimes (the validation README's): ``offline`` picks the batch with the
highest throughput that fits the KV cache; ``server`` picks the highest
throughput whose iteration time and prefill meet the TPOT and TTFT limits, and
runs at ``server_utilization`` of it (queueing headroom for tail latency);
``latency`` runs a fixed batch.

The names of those two modules that :data:`__all__` lists (such as
:func:`~gigawatt.perf.serving_iteration.iteration_time_s` and
:func:`~gigawatt.perf.moe_serving.moe_layouts`) are importable from here as well.

References
----------
.. [1] A. Agrawal et al., "Vidur: A Large-Scale Simulation Framework for LLM
   Inference", MLSys 2024.
.. [2] A. Bambhaniya et al., "Demystifying Platform Requirements for Diverse
   LLM Inference Use Cases" (GenZ), 2024.
.. [3] W. Kwon et al., "Efficient Memory Management for Large Language Model
   Serving with PagedAttention" (vLLM), SOSP 2023.
.. [4] Y. Zhong et al., "DistServe: Disaggregating Prefill and Decoding for
   Goodput-optimized Large Language Model Serving", OSDI 2024.
.. [5] P. Patel et al., "Splitwise: Efficient Generative LLM Inference Using Phase
   Splitting", ISCA 2024.
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from typing import Any

import numpy as np

from gigawatt.perf.backtest import row_float
from gigawatt.perf import transformer as tf
from gigawatt.perf.calibration import Calibration, calibration_for
from gigawatt.perf.hardware import Hardware
from gigawatt.perf.layout import Layout
from gigawatt.perf.moe_serving import (attention_dp_prefill_skew, attention_idle_factor, dense_precision,
                                       expert_gemm_efficiency, mla_decode_attention_flops, moe_dp_padding,
                                       moe_layouts, moe_permute_bytes, routed_expert_params_active,
                                       spec_accepted_tokens)
from gigawatt.perf.serving_iteration import (BYTES_PER_PARAM, DEFAULT_BYTES_PER_PARAM, attention_time_s,
                                             bytes_per_param, decode_iteration_s, decode_step_time_s,
                                             default_kv_bytes_per_value, gemm_time_s, iteration_comm_s,
                                             iteration_time_s, kv_capacity_tokens, prefill_time_s, weight_bytes)

__all__ = [
    "BYTES_PER_PARAM",
    "DEFAULT_BYTES_PER_PARAM",
    "bytes_per_param",
    "default_kv_bytes_per_value",
    "weight_bytes",
    "kv_capacity_tokens",
    "attention_idle_factor",
    "gemm_time_s",
    "attention_time_s",
    "iteration_comm_s",
    "iteration_time_s",
    "prefill_time_s",
    "decode_step_time_s",
    "serve",
    "replica_problem",
    "serve_fixed_batch",
    "max_decode_batch",
    "within_latency_limits",
    "serve_continuous",
    "moe_layouts",
    "agentic_task",
    "predict_row",
    "row_layout",
    "dense_precision",
    "routed_expert_params_active",
    "expert_gemm_efficiency",
    "moe_permute_bytes",
    "mla_decode_attention_flops",
    "attention_dp_prefill_skew",
    "moe_dp_padding",
    "spec_accepted_tokens",
    "decode_iteration_s",
    "serving_calibration",
    "kv_transfer_time_s",
    "serve_disaggregated",
]


def replica_problem(arch: tf.Arch, hw: Hardware, *, kv_capacity: float, chips: int, ep: int, precision: str,
                    pp: int = 1) -> str:
    """Why a replica cannot serve at all, or ``""``: the weights do not fit, or ``ep`` exceeds its chips.

    Parameters
    ----------
    arch : Arch
        Model architecture.
    hw : Hardware
        Chip in its system.
    kv_capacity : float
        KV cache left after the weights (:func:`~gigawatt.perf.serving_iteration.kv_capacity_tokens`) [tokens].
    chips : int
        Chips of the replica, ``tp·pp`` [1].
    ep : int
        Expert parallel degree, over the chips of one pipeline stage [1].
    precision : str
        Weight precision.
    pp : int
        Pipeline stages of the replica [1].

    Returns
    -------
    str
        The message, or ``""`` when the replica can run.
    """
    if kv_capacity <= 0:
        return (f"the weights ({weight_bytes(arch, precision) / 1e9:.0f} GB at {precision}) do not fit "
                f"on {chips} chips of {hw.hbm_bytes / 1e9:.0f} GB; raise tp, pp or ep, or use a smaller --precision")
    if ep > max(chips // max(pp, 1), 1):
        return f"ep {ep} exceeds the {chips // max(pp, 1)} chips of a pipeline stage (tp)"
    return ""


def serve_fixed_batch(arch: tf.Arch, hw: Hardware, layout: Layout, *, batch: float, input_len: float,
                      output_len: float, replicas: float, kv_capacity: float, precision: str,
                      kv_bytes_per_value: float, cal: Calibration, spec_tokens: int = 0) -> dict[str, Any]:
    """Throughput and latency of a replica that runs one fixed batch at a time (latency regime).

    Parameters
    ----------
    arch, hw, layout
        Model, chip in its system, replica (see :func:`serve`).
    batch : float
        Requests per batch [1].
    input_len, output_len : float
        Prompt and generated tokens per request [tokens].
    replicas : float
        Replicas in the system [1].
    kv_capacity : float
        KV cache of one replica [tokens].
    precision : str
        Weight and matmul precision.
    kv_bytes_per_value : float
        Bytes per cached key or value element [B].
    cal : Calibration
        Coefficients of the chip.
    spec_tokens : int
        Speculative draft tokens per iteration (:func:`~gigawatt.perf.serving_iteration.decode_iteration_s`) [1].

    Returns
    -------
    dict
        ``output_tokens_per_s`` [tokens/s], ``batch`` [1], ``ttft_s``, ``tpot_s`` [s],
        ``kv_capacity_tokens`` [tokens], ``replicas`` [1], ``fits`` [bool], and the decode
        iteration's parts (``dense_gemm_s``, ``expert_gemm_s``, ``attention_s``, ``comm_s``,
        ``overhead_s``) [s].

    Notes
    -----
    The batch prefills together, then decodes at the mean context ``in + out/2``: a request
    takes ``t = TTFT + out·TPOT`` and the system delivers ``replicas·B·out / t``; with
    speculative decoding TPOT is the iteration over the tokens it emits.
    """
    common = dict(precision=precision, kv_bytes_per_value=kv_bytes_per_value, cal=cal)
    ctx = input_len + output_len / 2.0
    ttft = float(prefill_time_s(arch, hw, layout, batch=batch, input_len=input_len, **common))
    it, accepted = decode_iteration_s(arch, hw, layout, batch=batch, context=ctx, spec_tokens=spec_tokens, **common)
    tpot = float(it["time_s"]) / accepted
    per_request = ttft + output_len * tpot
    return {"output_tokens_per_s": replicas * batch * output_len / per_request, "batch": batch, "ttft_s": ttft,
            "tpot_s": tpot, "kv_capacity_tokens": kv_capacity, "replicas": replicas,
            "fits": batch * (input_len + output_len) <= kv_capacity,
            **{k: float(it[k]) for k in ("dense_gemm_s", "expert_gemm_s", "attention_s", "comm_s", "overhead_s")}}


def max_decode_batch(cal: Calibration, *, kv_capacity: float, tp: int, attention_dp: bool, input_len: float,
                     output_len: float, kv_reservation: str = "mean") -> float:
    """Largest batch a replica's scheduler runs: the engine's cap or the KV cache, the smaller [1].

    Parameters
    ----------
    cal : Calibration
        Coefficients of the chip (``max_decode_batch``, the engine's cap per scheduler).
    kv_capacity : float
        KV cache of one replica [tokens].
    tp : int
        Tensor parallel degree; with ``attention_dp`` each of the ``tp`` ranks schedules its
        own batch [1].
    attention_dp : bool
        Attention data-parallel over the ``tp`` ranks.
    input_len, output_len : float
        Prompt and generated tokens per request [tokens].
    kv_reservation : str
        ``mean`` (a sequence holds ``in + out/2`` tokens on average) or ``full`` (``in + out``).

    Returns
    -------
    float
        ``min(B_cap·(tp if attention_dp else 1), capacity / held)`` [1]; below 1, one request
        does not fit.
    """
    held = input_len + output_len if kv_reservation == "full" else input_len + output_len / 2.0
    return min(cal.max_decode_batch * (tp if attention_dp else 1), kv_capacity / max(held, 1.0))


def within_latency_limits(tpot_s: np.ndarray, ttft_s: np.ndarray, ttft_limit_s: float | None,
                          tpot_limit_s: float | None) -> np.ndarray:
    """Which batches meet the TPOT and TTFT limits of the server regime (a limit of None or 0 is none).

    Parameters
    ----------
    tpot_s, ttft_s : ndarray
        Time per output token and time to first token of each candidate batch [s].
    ttft_limit_s, tpot_limit_s : float or None
        Limits [s].

    Returns
    -------
    ndarray of bool
    """
    ok = np.ones_like(tpot_s, dtype=bool)
    if tpot_limit_s:
        ok &= tpot_s <= tpot_limit_s
    if ttft_limit_s:
        ok &= ttft_s <= ttft_limit_s
    return ok


def serve_continuous(arch: tf.Arch, hw: Hardware, layout: Layout, *, max_batch: float, input_len: float,
                     output_len: float, regime: str, ttft_limit_s: float | None, tpot_limit_s: float | None,
                     replicas: float, kv_capacity: float, precision: str, kv_bytes_per_value: float,
                     cal: Calibration, spec_tokens: int = 0, dp_padding: bool = False) -> dict[str, Any]:
    """Best throughput of continuous batching over batches from 1 to ``max_batch`` (offline and server regimes).

    Parameters
    ----------
    arch, hw, layout
        Model, chip in its system, replica (see :func:`serve`).
    max_batch : float
        Largest batch (:func:`max_decode_batch`) [1].
    input_len, output_len : float
        Prompt and generated tokens per request [tokens].
    regime : str
        ``offline`` or ``server`` (limits apply, and the rate is scaled by
        ``cal.server_utilization``).
    ttft_limit_s, tpot_limit_s : float or None
        Latency limits of the server regime [s].
    replicas : float
        Replicas in the system [1].
    kv_capacity : float
        KV cache of one replica [tokens].
    precision : str
        Weight and matmul precision.
    kv_bytes_per_value : float
        Bytes per cached key or value element [B].
    cal : Calibration
        Coefficients of the chip.
    dp_padding : bool
        MoE tokens padded to the busiest attention rank's (:func:`~gigawatt.perf.moe_serving.moe_dp_padding`).

    Returns
    -------
    dict
        As :func:`serve`, with the chosen iteration's parts (``dense_gemm_s``,
        ``expert_gemm_s``, ``attention_s``, ``comm_s``, ``overhead_s``) [s]; ``error`` where no batch meets the limits.

    Notes
    -----
    64 batches spaced geometrically from 1 to ``max_batch``. In steady state a batch of
    ``B`` decodes ``B`` tokens and prefills ``B·in/out`` prompt tokens per iteration
    (chunked prefill): TPOT is ``t_iter``, TTFT the prefill of one prompt plus ``t_iter``, and
    the throughput ``B / t_iter`` per replica. With ``spec_tokens`` drafts each sequence emits
    ``a`` tokens per iteration (:func:`~gigawatt.perf.moe_serving.spec_accepted_tokens`): TPOT
    ``t_iter / a``, throughput ``B·a / t_iter``. With data-parallel attention the iteration's
    prompts fall unevenly on the ranks (:func:`~gigawatt.perf.moe_serving.attention_dp_prefill_skew`),
    the busiest prefilling at most ``cal.prefill_chunk_tokens`` per iteration.
    """
    common = dict(precision=precision, kv_bytes_per_value=kv_bytes_per_value, cal=cal)
    b = np.unique(np.concatenate([np.geomspace(1.0, max_batch, 64), [max_batch]]))
    accepted = spec_accepted_tokens(spec_tokens, cal.spec_acceptance)
    lay = layout.complete()
    skew = np.ones_like(b)
    if bool(lay.attention_dp):
        # the busiest rank prefills whole prompts, at most its scheduler's chunk per iteration
        mean_rank_prefill = b * accepted * input_len / output_len / int(lay.tp)
        skew = np.minimum(attention_dp_prefill_skew(b * accepted / output_len, int(lay.tp)),
                          np.maximum(cal.prefill_chunk_tokens / np.maximum(mean_rank_prefill, 1e-9), 1.0))
    it, accepted = decode_iteration_s(arch, hw, layout, batch=b, context=input_len + output_len / 2.0,
                                      prefill_tokens=b * accepted * input_len / output_len,
                                      prefill_context=(input_len + 1.0) / 2.0, spec_tokens=spec_tokens,
                                      prefill_skew=skew, dp_padding=dp_padding, **common)
    t_iter = it["time_s"]
    tpot = t_iter / accepted
    ttft = float(prefill_time_s(arch, hw, layout, batch=1, input_len=input_len, **common)) + t_iter
    ok = np.ones_like(b, dtype=bool)
    if regime == "server":
        ok = within_latency_limits(tpot, ttft, ttft_limit_s, tpot_limit_s)
        if not ok.any():
            return {"error": "no batch meets the latency limits; relax --ttft/--tpot or add chips per replica",
                    "output_tokens_per_s": None}
    rate = np.where(ok, b * accepted / t_iter, -np.inf)
    i = int(np.argmax(rate))
    util = cal.server_utilization if regime == "server" else 1.0
    return {"output_tokens_per_s": float(rate[i]) * replicas * util, "batch": float(b[i]), "ttft_s": float(ttft[i]),
            "tpot_s": float(tpot[i]), "kv_capacity_tokens": kv_capacity, "replicas": replicas,
            **{k: float(it[k][i]) for k in ("dense_gemm_s", "expert_gemm_s", "attention_s", "comm_s", "overhead_s")}}


def serve(arch: tf.Arch, hw: Hardware, layout: Layout = Layout(), *, n_chips: int, input_len: float,
          output_len: float, precision: str = "bf16", kv_bytes_per_value: float | None = None,
          regime: str = "offline", batch: int | None = None, ttft_limit_s: float | None = None,
          tpot_limit_s: float | None = None, cal: Calibration | None = None,
          kv_reservation: str = "mean", spec_tokens: int = 0, max_batch: float | None = None,
          disaggregated: bool = False, stack: str | None = None,
          dp_padding: bool | None = None) -> dict[str, Any]:
    """Throughput and latency of serving one request mix under continuous batching.

    Parameters
    ----------
    layout : Layout
        One replica: ``tp``, ``pp``, ``ep`` (expert parallel degree inside the replica, at
        most ``tp·pp``) and ``attention_dp`` (see :func:`~gigawatt.perf.serving_iteration.iteration_time_s`).
    n_chips : int
        Chips in the system; ``n_chips / (tp·pp)`` replicas [1].
    input_len, output_len : float
        Prompt and generated tokens per request [tokens].
    kv_bytes_per_value : float, optional
        Bytes per cached key or value element [B]; by default
        :func:`~gigawatt.perf.serving_iteration.default_kv_bytes_per_value` of ``precision``.
    regime : str
        ``offline``, ``server`` or ``latency`` (needs ``batch``).
    batch : int, optional
        Fixed batch (``latency`` regime, or an offline run at a fixed batch) [1].
    ttft_limit_s, tpot_limit_s : float, optional
        Latency limits of the ``server`` regime [s].
    kv_reservation : str
        How the scheduler admits requests against the KV cache: ``mean`` (by the blocks
        sequences hold now, preempting when it runs out: vLLM, SGLang; a sequence holds
        ``in + out/2`` tokens on average) or ``full`` (a request is admitted only when its
        whole ``in + out`` fits: TensorRT-LLM's default ``GUARANTEED_NO_EVICT``).
    spec_tokens : int
        Speculative draft tokens per iteration (DeepSeek MTP next-n layers; 0 none), accepted
        at ``cal.spec_acceptance`` each (:func:`~gigawatt.perf.serving_iteration.decode_iteration_s`) [1].
    max_batch : float, optional
        Requests in flight per replica the client or engine allows (a benchmark's
        concurrency over the replicas); by default the engine's cap
        (:func:`max_decode_batch`) [1].
    disaggregated : bool
        Prefill and decode on separate pools of replicas of this layout, the KV cache moved
        between them (:func:`serve_disaggregated`).
    stack : str, optional
        Serving software (``tensorrt-llm``, ``vllm``, ``sglang``, ``neuron``, ...): the
        calibration of the chip under that stack where ``cal`` is not given
        (:func:`serving_calibration`).
    dp_padding : bool, optional
        Whether the engine pads every data-parallel attention rank's tokens to the busiest
        rank's before the MoE layers; by default the serving stack's rule at ``precision``
        (:func:`~gigawatt.perf.moe_serving.moe_dp_padding`).

    Returns
    -------
    dict
        ``output_tokens_per_s`` (whole system) [tokens/s], ``batch`` (per
        replica) [1], ``ttft_s``, ``tpot_s`` [s], ``kv_capacity_tokens``
        [tokens], ``replicas`` [1]; ``error`` where nothing fits.

    Notes
    -----
    In steady state a replica with ``B`` sequences in flight finishes
    ``B/out`` requests per iteration, so each iteration decodes ``B`` tokens
    and prefills ``B·in/out`` prompt tokens (chunked prefill). Throughput is
    ``B / t_iter`` per replica; TPOT is ``t_iter``; TTFT is the prefill of one
    prompt plus one iteration of waiting. The stages: :func:`~gigawatt.perf.serving_iteration.kv_capacity_tokens`,
    :func:`replica_problem`, :func:`serve_fixed_batch` (a fixed batch),
    :func:`max_decode_batch` and :func:`serve_continuous` (continuous batching) [1]_ [3]_.
    """
    cal = cal or serving_calibration(hw.chip, stack)
    if regime not in ("offline", "server", "latency"):
        raise ValueError(f"regime {regime!r} is not one of offline, server, latency")
    if kv_reservation not in ("mean", "full"):
        raise ValueError(f"kv_reservation {kv_reservation!r} is not one of mean, full")
    if kv_bytes_per_value is None:
        kv_bytes_per_value = default_kv_bytes_per_value(precision)
    layout = layout.complete()
    tp, pp, ep, attention_dp = int(layout.tp), int(layout.pp), int(layout.ep), bool(layout.attention_dp)
    chips = tp * pp
    replicas = n_chips / chips
    cap = kv_capacity_tokens(arch, hw, chips, precision=precision, kv_bytes_per_value=kv_bytes_per_value, cal=cal,
                             tp=tp, attention_dp=attention_dp)
    problem = replica_problem(arch, hw, kv_capacity=cap, chips=chips, ep=ep, precision=precision, pp=pp)
    if problem:
        return {"error": problem, "output_tokens_per_s": None}
    common = dict(replicas=replicas, kv_capacity=cap, precision=precision, kv_bytes_per_value=kv_bytes_per_value,
                  cal=cal, spec_tokens=spec_tokens)
    if regime == "latency" or batch is not None:
        return serve_fixed_batch(arch, hw, layout, batch=float(batch or 1), input_len=input_len,
                                 output_len=output_len, **common)
    max_b = max_decode_batch(cal, kv_capacity=cap, tp=tp, attention_dp=attention_dp, input_len=input_len,
                             output_len=output_len, kv_reservation=kv_reservation)
    if max_batch is not None:
        max_b = min(max_b, float(max_batch))
    if disaggregated:
        return serve_disaggregated(arch, hw, layout, max_batch=max_b, input_len=input_len, output_len=output_len,
                                   ttft_limit_s=ttft_limit_s, tpot_limit_s=tpot_limit_s, n_chips=n_chips, **common)
    if max_b < 1:
        return {"error": f"one request of {input_len + output_len:.0f} tokens does not fit the KV cache "
                         f"({cap:.0f} tokens); raise tp or use a smaller KV precision", "output_tokens_per_s": None}
    if dp_padding is None:
        dp_padding = moe_dp_padding(getattr(cal, "serving_stack", "") or stack, precision)
    return serve_continuous(arch, hw, layout, max_batch=max_b, input_len=input_len, output_len=output_len,
                            regime=regime, ttft_limit_s=ttft_limit_s, tpot_limit_s=tpot_limit_s,
                            dp_padding=bool(dp_padding), **common)


def serving_calibration(chip: str, stack: str | None = None) -> Calibration:
    """The calibration of ``chip`` under the serving software ``stack`` (None: the chip's default).

    Passes ``stack`` to :func:`gigawatt.perf.calibration.calibration_for` as the serving stack;
    its fitted factors (``serving_scale`` of the family and stack, ``expert_scale``) then apply
    to every serving efficiency (:func:`~gigawatt.perf.serving_iteration.gemm_time_s`,
    :func:`~gigawatt.perf.serving_iteration.attention_time_s`).
    """
    import inspect

    from gigawatt.perf import calibration as calibration_module

    params = inspect.signature(calibration_for).parameters
    if "serving_stack" in params:
        if not stack and hasattr(calibration_module, "default_stacks"):
            stack = calibration_module.default_stacks(chip)[1] or None  # the chip's serving stack
        if stack:
            # the stack's kernel-class factors (its grouped expert GEMMs) as well as its serving speed
            return calibration_for(chip, stack=stack, serving_stack=stack)
    if stack and "stack" in params:
        return calibration_for(chip, stack=stack)
    return calibration_for(chip)


def kv_transfer_time_s(arch: tf.Arch, hw: Hardware, cal: Calibration, *, input_len: float,
                       kv_bytes_per_value: float, same_domain: bool) -> float:
    """Time to move one prompt's KV cache from a prefill replica to a decode replica [s].

    Parameters
    ----------
    input_len : float
        Prompt tokens [tokens].
    kv_bytes_per_value : float
        Bytes per cached key or value element [B].
    same_domain : bool
        Both replicas in one scale-up domain (the copy runs over its links) or not (over the
        scale-out network, one NIC share per chip).

    Notes
    -----
    ``t = in·kv_token / (bw·e) + latency``; the sender streams layer by layer as it prefills
    (DistServe [4]_, Mooncake), so only this tail adds to TTFT, not to throughput.
    """
    size = input_len * tf.kv_cache_bytes_per_token(arch, kv_bytes_per_value)
    bw = hw.scaleup_bw_one_way_bytes_per_s * cal.scaleup_eff if same_domain else hw.scaleout_bw_bytes_per_s * cal.scaleout_eff
    return float(size / bw + cal.collective_latency_s)


def serve_disaggregated(arch: tf.Arch, hw: Hardware, layout: Layout, *, max_batch: float, input_len: float,
                        output_len: float, ttft_limit_s: float | None, tpot_limit_s: float | None, n_chips: int,
                        replicas: float, kv_capacity: float, precision: str, kv_bytes_per_value: float,
                        cal: Calibration, spec_tokens: int = 0) -> dict[str, Any]:
    """Throughput per chip with prefill and decode on separate pools of replicas (disaggregated serving).

    Parameters
    ----------
    arch, hw, layout
        Model, chip in its system, replica (both pools use it; see :func:`serve`).
    max_batch : float
        Largest decode batch per replica (:func:`max_decode_batch`) [1].
    input_len, output_len : float
        Prompt and generated tokens per request [tokens].
    ttft_limit_s, tpot_limit_s : float or None
        Latency limits [s]: TTFT bounds the prefill batch, TPOT the decode batch.
    n_chips : int
        Chips of the whole system, both pools [1].
    replicas, kv_capacity, precision, kv_bytes_per_value, cal, spec_tokens
        As :func:`serve_continuous`.

    Returns
    -------
    dict
        As :func:`serve`, plus ``prefill_share`` (share of the chips prefilling) [1].

    Notes
    -----
    The prefill pool runs whole prompts, ``b`` per iteration (up to ``cal.prefill_chunk_tokens``
    per scheduler), at ``P = b·in / t_p`` prompt tokens/s per replica with TTFT ``t_p + t_kv``
    (:func:`kv_transfer_time_s`); the decode
    pool runs decode-only iterations, ``D = B·a / t_d`` output tokens/s per replica at TPOT
    ``t_d / a``. Serving ``in`` prompt tokens per ``out`` output tokens, a share
    ``s = (in/P) / (in/P + out/D)`` of the replicas prefills, and the system delivers
    ``replicas·D·(1 - s)`` output tokens/s: the decode pool no longer shares iterations with
    prefill chunks, so its TPOT holds at larger batches (DistServe [4]_, Splitwise [5]_).
    """
    common = dict(precision=precision, kv_bytes_per_value=kv_bytes_per_value, cal=cal)
    lay = layout.complete()
    t_kv = kv_transfer_time_s(arch, hw, cal, input_len=input_len, kv_bytes_per_value=kv_bytes_per_value,
                              same_domain=n_chips <= hw.chips_per_scaleup)
    # a prefill iteration runs at most each scheduler's token budget (one scheduler per attention
    # rank under data-parallel attention), and never more prompts than the KV cache holds
    budget = cal.prefill_chunk_tokens * (int(lay.tp) if bool(lay.attention_dp) else 1)
    top = max(1.0, min(max_batch, budget / max(input_len, 1.0), kv_capacity / max(input_len, 1.0)))
    pb = np.unique(np.concatenate([np.geomspace(1.0, top, 32), [top]]))
    t_p = prefill_time_s(arch, hw, lay, batch=pb, input_len=input_len, **common)
    ttft = t_p + t_kv
    ok_p = ttft <= ttft_limit_s if ttft_limit_s else np.ones_like(pb, dtype=bool)
    if not ok_p.any():
        return {"error": "no prefill batch meets the TTFT limit; relax --ttft or add chips per replica",
                "output_tokens_per_s": None}
    prefill_rate = np.where(ok_p, pb * input_len / t_p, -np.inf)
    ip = int(np.argmax(prefill_rate))
    b = np.unique(np.concatenate([np.geomspace(1.0, max(max_batch, 1.0), 64), [max(max_batch, 1.0)]]))
    it, accepted = decode_iteration_s(arch, hw, lay, batch=b, context=input_len + output_len / 2.0,
                                      spec_tokens=spec_tokens, **common)
    tpot = it["time_s"] / accepted
    ok_d = tpot <= tpot_limit_s if tpot_limit_s else np.ones_like(b, dtype=bool)
    if not ok_d.any():
        return {"error": "no decode batch meets the TPOT limit; relax --tpot or add chips per replica",
                "output_tokens_per_s": None}
    decode_rate = np.where(ok_d, b * accepted / it["time_s"], -np.inf)
    i = int(np.argmax(decode_rate))
    p_rate, d_rate = float(prefill_rate[ip]), float(decode_rate[i])
    share = (input_len / p_rate) / (input_len / p_rate + output_len / d_rate)
    return {"output_tokens_per_s": replicas * d_rate * (1.0 - share), "batch": float(b[i]),
            "ttft_s": float(ttft[ip]), "tpot_s": float(tpot[i]), "kv_capacity_tokens": kv_capacity,
            "replicas": replicas, "prefill_share": float(share), "prefill_batch": float(pb[ip]),
            **{k: float(it[k][i]) for k in ("dense_gemm_s", "expert_gemm_s", "attention_s", "comm_s", "overhead_s")}}


def agentic_task(arch: tf.Arch, hw: Hardware, layout: Layout = Layout(tp=8), *, steps: int,
                 system_prompt_tokens: float, tool_output_tokens: float, output_tokens_per_step: float,
                 prefix_cache_hit_rate: float = 0.9, n_chips: int | None = None, precision: str = "bf16",
                 cal: Calibration | None = None, **session: Any) -> dict[str, Any]:
    """Tokens and chip-seconds of one agentic task of ``steps`` tool-calling steps.

    The session model of :func:`gigawatt.perf.agentic.agentic_session`: with a
    ``cache_policy`` (``hold``, ``offload``, ``drop``) in ``session`` the hit rate follows
    from the tool time and the cache lifetime and ``prefix_cache_hit_rate`` is not used;
    without one, a fixed ``prefix_cache_hit_rate`` of each step's seen context is cached
    and nothing is held between steps.

    Parameters
    ----------
    layout : Layout
        The replica that runs the task (``tp``, ``pp``, ``ep``, ``attention_dp``; see :func:`serve`).
    steps : int
        Model calls per task [1].
    system_prompt_tokens : float
        Prompt at the first step (system prompt, tools, user request) [tokens].
    tool_output_tokens : float
        Tokens each tool result adds to the context [tokens].
    output_tokens_per_step : float
        Tokens the model generates per step (they also join the context) [tokens].
    prefix_cache_hit_rate : float
        Share of a step's already-seen context served from the prefix cache, when no
        ``cache_policy`` is given [1].
    n_chips : int, optional
        Chips of the system; by default one replica. The chip-seconds per task do not
        depend on it.
    **session
        Keywords of :func:`gigawatt.perf.agentic.agentic_session` (``cache_policy``,
        ``cache_lifetime_s``, ``tool_time_median_s``, ``tool_time_p90_s``, ...).

    Returns
    -------
    dict
        ``input_tokens_new``, ``input_tokens_cached``, ``output_tokens`` [tokens],
        ``chip_s`` [chip·s], ``final_context_tokens`` [tokens], and the rest of
        :func:`gigawatt.perf.agentic.agentic_session`'s figures.

    Notes
    -----
    Step ``i`` (from 0) sees context ``c_i = P + i·(T + O)``; see
    :func:`gigawatt.perf.agentic.agentic_session` for the serving equations.
    """
    from gigawatt.perf.agentic import agentic_session

    policy = session.pop("cache_policy", None)
    return agentic_session(arch, hw, layout, steps=steps, system_prompt_tokens=system_prompt_tokens,
                           tool_output_tokens=tool_output_tokens, output_tokens_per_step=output_tokens_per_step,
                           cache_policy=policy, prefix_cache_hit_rate=None if policy else prefix_cache_hit_rate,
                           n_chips=n_chips, precision=precision, cal=cal, **session)


# --------------------------------------------------------------------- backtest rows
#: output length of a validation row that gives none [tokens]: an assumption, applied the same
#: way to every such row (and, times four, its prompt length where nothing else gives one)
ROW_DEFAULT_OUTPUT_LEN = 256.0

#: prompt tokens per output token of a row that states neither its prompt nor its benchmark set
#: [1]: an assumption, applied the same way to every such row
ROW_DEFAULT_INPUT_PER_OUTPUT = 4.0

@functools.cache
def benchmark_datasets() -> dict[str, dict[str, Any]]:
    """Sourced facts about benchmark request sets (``perf/data/datasets.yaml``), by set name."""
    from gigawatt.datafiles import load_yaml

    text = (resources.files("gigawatt.perf") / "data" / "datasets.yaml").read_text(encoding="utf-8")
    return dict((load_yaml(text) or {}).get("datasets") or {})


def row_input_len(row: dict[str, Any]) -> float:
    """A row's mean prompt length [tokens].

    In order: the row's ``input_len``; the published mean of the benchmark set its note
    names by one of the set's phrases, such as its sample count
    (``perf/data/datasets.yaml``, e.g. MLPerf's 24,576-sample OpenOrca set, 222
    tokens); half the prompt cap the note states; :data:`ROW_DEFAULT_INPUT_PER_OUTPUT` times
    the output length (:data:`ROW_DEFAULT_OUTPUT_LEN` where none is given). The last two are
    assumptions, applied the same way to every row that needs them.
    """
    value = row_float(row, "input_len")
    if value:
        return value
    note = str(row.get("conversion") or "")
    for entry in benchmark_datasets().values():
        phrases = entry.get("match") or []
        phrases = [phrases] if isinstance(phrases, str) else list(phrases)
        if entry.get("mean_input_tokens") and any(str(p) in note for p in phrases):
            return float(entry["mean_input_tokens"])
    m = re.search(r"capped at ([\d,]+) tokens", note) or re.search(r"at most ([\d,]+) tokens", note)
    if m:
        return float(m.group(1).replace(",", "")) / 2.0
    return ROW_DEFAULT_INPUT_PER_OUTPUT * (row_float(row, "output_len") or ROW_DEFAULT_OUTPUT_LEN)


def row_kv_reservation(row: dict[str, Any]) -> str:
    """``full`` for a TensorRT-LLM row (its scheduler reserves each request's whole length), else ``mean``."""
    engine = str(row.get("engine") or "").strip().lower()
    return "full" if engine in ("trtllm", "tensorrt-llm", "tensorrt_llm") else "mean"


def row_layout(row: dict[str, Any], arch: tf.Arch) -> tuple[Layout, bool]:
    """A serving row's replica layout, and whether its expert-parallel degree is to be searched.

    ``tp``, ``pp`` and ``ep`` as published; with ``attention_dp`` 1 the stage is the
    ``max(tp, ep)`` ranks that run attention data-parallel and share the experts (TensorRT-LLM
    lists ``--tp 8 --ep 8`` with attention DP as attention TP 1). An MoE row with no ``ep``
    (the source does not publish it) is searched over the degrees the engine offers
    (:func:`~gigawatt.perf.moe_serving.moe_layouts`), as the backtest searches a training row's missing layout.
    """
    tp = int(row_float(row, "tp") or 1)
    pp = int(row_float(row, "pp") or 1)
    ep_cell = row_float(row, "ep")
    ep = int(ep_cell or 1) if arch.is_moe else 1
    cell = str(row.get("attention_dp") or "").strip().lower()
    if cell in ("1", "true", "yes"):
        attention_dp = True
    elif cell in ("0", "false", "no"):
        attention_dp = False
    else:  # a file without the column: a note that names data-parallel attention
        note = str(row.get("conversion") or "")
        attention_dp = bool(re.search(r"attention[ _-]?dp|attention data[ -]parallel|dp[ _-]attention", note, re.I))
    world = max(tp, ep) if attention_dp else tp
    attention_dp = attention_dp and world > 1 and arch.is_moe
    search_ep = arch.is_moe and ep_cell is None and world > 1
    return Layout(tp=world, pp=pp, ep=None if search_ep else min(ep, world), attention_dp=attention_dp), search_ep


def predict_row(row: dict[str, Any], hw: Hardware, *, devices_per_chip: float = 1.0,
                cal: Calibration | None = None) -> dict[str, Any]:
    """Predict one row of the inference validation file (see :mod:`gigawatt.perf.backtest`).

    ``cal`` is the chip's calibration, by default the file's under the row's ``stack``
    (:func:`serving_calibration`). The row's layout (:func:`row_layout`), KV precision
    (``kv_precision``, else the note, else
    :func:`~gigawatt.perf.serving_iteration.default_kv_bytes_per_value`), speculative
    drafts (``spec_decode_tokens``) and client concurrency (``concurrency``, spread over the
    replicas, caps the batch) are used as published; an expert-parallel degree the row does not
    give is searched (the best the engine offers).
    """
    arch = tf.Arch.from_row(row)
    n = (row_float(row, "n_chips") or 1.0) * devices_per_chip
    stack = str(row.get("stack") or "").strip().lower() or None
    cal = cal or serving_calibration(hw.chip, stack)
    precision = (row.get("precision") or "bf16").strip().lower()
    note = str(row.get("conversion") or "")
    kv_cell = str(row.get("kv_precision") or "").strip().lower()
    if kv_cell:
        kv = 1.0 if kv_cell in ("fp8", "int8") else 2.0
    else:
        kv = 1.0 if re.search(r"fp8 kv|kv_cache_dtype fp8", note, re.I) else default_kv_bytes_per_value(precision)
    regime = (row.get("scenario") or "offline").strip().lower()
    if regime not in ("offline", "server", "latency"):
        # e.g. MLPerf's "interactive": a server scenario with tighter limits, which the row gives
        regime = "server" if (row_float(row, "ttft_slo_s") or row_float(row, "tpot_slo_s")) else "offline"
    out_len = row_float(row, "output_len") or ROW_DEFAULT_OUTPUT_LEN
    layout, search_ep = row_layout(row, arch)
    replica = int(layout.tp) * int(layout.pp)
    n_chips = int(round(n))
    concurrency = row_float(row, "concurrency")
    batch = int(row_float(row, "batch")) if row_float(row, "batch") else None
    kw = dict(n_chips=n_chips, input_len=row_input_len(row), output_len=out_len, precision=precision,
              kv_bytes_per_value=kv, regime=regime, batch=batch, ttft_limit_s=row_float(row, "ttft_slo_s"),
              tpot_limit_s=row_float(row, "tpot_slo_s"), cal=cal, kv_reservation=row_kv_reservation(row),
              spec_tokens=int(row_float(row, "spec_decode_tokens") or 0),
              max_batch=None if (concurrency is None or batch) else concurrency * replica / max(n_chips, 1),
              dp_padding=moe_dp_padding(stack, precision, "deepgemm" if re.search(r"deepgemm", note, re.I) else None))
    layouts = ([layout.with_(ep=e) for e, x in moe_layouts(arch, int(layout.tp), int(layout.tp))
                if x == bool(layout.attention_dp) or e == 1] if search_ep else [layout])
    res: dict[str, Any] = {"error": "no layout", "output_tokens_per_s": None}
    for lay in layouts:
        r = serve(arch, hw, lay, **kw)
        if r.get("output_tokens_per_s") is not None and (res.get("output_tokens_per_s") is None
                                                         or r["output_tokens_per_s"] > res["output_tokens_per_s"]):
            res = {**r, "layout": lay.to_dict()}
        elif res.get("output_tokens_per_s") is None:
            res = r
    if res.get("output_tokens_per_s") is None:
        return {"predicted": None, "reason": res.get("error", "no prediction"), "detail": res}
    kind = (row.get("measured_kind") or "").strip()
    key = {"output_tokens_per_s": "output_tokens_per_s", "tpot_s": "tpot_s", "ttft_s": "ttft_s"}.get(kind)
    if key is None:
        return {"predicted": None, "reason": f"unknown measured_kind {kind!r}", "detail": res}
    return {"predicted": float(res[key]), "detail": res}
