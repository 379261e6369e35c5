"""Inference: prefill and decode step times, KV capacity, continuous batching, regimes.

One *replica* is the group of ``tp·pp`` chips that holds one copy of the
weights; a system of ``n_chips`` runs ``n_chips / (tp·pp)`` replicas. Times
come from a roofline per engine iteration, in the spirit of Vidur [1]_ and
GenZ [2]_: an iteration reads the weights it touches and the KV cache of its
batch from HBM, and does the FLOPs of its decode tokens and of the prompt
tokens it prefills; it takes the larger of the two times at the chip's
calibrated efficiencies, plus the tensor-parallel all-reduces (two per layer)
and a fixed engine overhead.

Regimes (the validation README's): ``offline`` picks the batch with the
highest throughput that fits the KV cache; ``server`` picks the highest
throughput whose iteration time and prefill meet the TPOT and TTFT limits, and
runs at ``server_utilization`` of it (queueing headroom for tail latency);
``latency`` runs a fixed batch.

References
----------
.. [1] A. Agrawal et al., "Vidur: A Large-Scale Simulation Framework for LLM
   Inference", MLSys 2024.
.. [2] A. Bambhaniya et al., "Demystifying Platform Requirements for Diverse
   LLM Inference Use Cases" (GenZ), 2024.
.. [3] W. Kwon et al., "Efficient Memory Management for Large Language Model
   Serving with PagedAttention" (vLLM), SOSP 2023.
"""

from __future__ import annotations

import functools
import math
import re
from importlib import resources
from typing import Any

import numpy as np

from gigawatt.perf.backtest import row_float
from gigawatt.perf import transformer as tf
from gigawatt.perf.calibration import Calibration, calibration_for
from gigawatt.perf.hardware import Hardware
from gigawatt.perf.layout import Layout
from gigawatt.perf.training import alltoall_time_s, gemm_efficiency

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
]

#: bytes per weight by precision; FP4 (NVFP4) adds one FP8 scale per 16 values
BYTES_PER_PARAM = {"fp32": 4.0, "bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0, "fp4": 0.5625}

#: bytes per weight of a precision :data:`BYTES_PER_PARAM` does not list: 16 bits, the format
#: checkpoints ship in and engines load unless told otherwise
DEFAULT_BYTES_PER_PARAM = 2.0


def bytes_per_param(precision: str) -> float:
    """Bytes per weight at ``precision`` (:data:`BYTES_PER_PARAM`, else :data:`DEFAULT_BYTES_PER_PARAM`) [B]."""
    return BYTES_PER_PARAM.get(precision.lower(), DEFAULT_BYTES_PER_PARAM)


def default_kv_bytes_per_value(precision: str) -> float:
    """Bytes per cached key or value element an engine uses for weights at ``precision`` [B].

    FP8 (1 B) with FP8 or FP4 weights, as the published FP8 and FP4 runs configure it; 16 bits
    (2 B) otherwise.
    """
    return 1.0 if precision in ("fp8", "fp4") else 2.0


def weight_bytes(arch: tf.Arch, precision: str = "bf16") -> float:
    """Bytes of all weights at ``precision`` (embeddings at 16 bit) [B]."""
    per = bytes_per_param(precision)
    return (arch.params_total - arch.embedding_params) * per + arch.embedding_params * 2.0


def kv_capacity_tokens(arch: tf.Arch, hw: Hardware, chips: float, *, precision: str = "bf16",
                       kv_bytes_per_value: float = 2.0, cal: Calibration | None = None, tp: int = 1,
                       attention_dp: bool = False) -> float:
    """Tokens of KV cache that fit on ``chips`` chips after the weights [tokens].

    Notes
    -----
    ``(f_usable · HBM · chips - W) / (kv_bytes_per_token · f_kv)``; negative means the
    weights do not fit. ``W`` includes the attention weights that padding heads to a
    multiple of ``tp`` adds, and ``f_kv`` is the KV replication of
    :func:`gigawatt.perf.transformer.tp_head_sharding` (KV heads copied when there are
    fewer than ``tp``; MLA's latent on every rank). With ``attention_dp`` the attention
    weights are copied on every rank instead and the KV cache is not.

    Examples
    --------
    Llama 2 70B in FP8 with an FP8 KV cache on one 141 GB H200:

    >>> hw = Hardware("h200", {"bf16": 989e12, "fp8": 1979e12}, 141e9, 4.8e12, 900e9, 50e9)
    >>> a = tf.Arch("llama2-70b", 80, 8192, 64, 8, 128, 28672, 32000)
    >>> round(kv_capacity_tokens(a, hw, 1, precision="fp8", kv_bytes_per_value=1.0) / 1e3)
    350
    """
    cal = cal or calibration_for(hw.chip)
    _, kv_factor, _, extra = _attention_sharding(arch, tp, attention_dp)
    weights = weight_bytes(arch, precision) + extra * bytes_per_param(precision)
    free = cal.usable_hbm_frac * hw.hbm_bytes * chips - weights
    return free / (tf.kv_cache_bytes_per_token(arch, kv_bytes_per_value) * kv_factor)


def _touched_weight_bytes(arch: tf.Arch, precision: str, tokens: np.ndarray) -> np.ndarray:
    """Weight bytes an iteration of ``tokens`` tokens reads: idle experts are skipped [B]."""
    total = weight_bytes(arch, precision)
    if not arch.is_moe:
        return np.full_like(tokens, total, dtype=float)
    per = bytes_per_param(precision)
    expert_bytes = arch.expert_params * per
    # expected share of experts hit by `tokens` tokens each choosing k of E
    hit = 1.0 - (1.0 - arch.moe_active / arch.moe_experts) ** np.maximum(tokens, 0.0)
    return total - expert_bytes + expert_bytes * hit


def _attention_sharding(arch: tf.Arch, tp: int, attention_dp: bool) -> tuple[float, float, float, float]:
    """(query-head factor, KV factor, extra GEMM parameters, extra weight parameters) of a replica [1].

    Tensor-parallel attention pads heads and copies KV heads
    (:func:`gigawatt.perf.transformer.tp_head_sharding`); the padded and copied
    projections are both computed and stored. Data-parallel attention (each rank runs
    whole sequences, as engines do for MoE models with expert parallelism) splits
    nothing: every rank stores all attention weights, ``(tp-1)`` extra copies, and
    computes them only for its own sequences.
    """
    if attention_dp:
        return 1.0, 1.0, 0.0, tf.attention_params_per_layer(arch) * arch.layers * (max(tp, 1) - 1.0)
    q, kv, extra = tf.tp_head_sharding(arch, tp)
    return q, kv, extra, extra


def attention_idle_factor(tp: int, sequences: Any, attention_dp: bool) -> Any:
    """How much longer data-parallel attention takes when sequences leave ranks idle [1].

    Parameters
    ----------
    tp : int
        Tensor parallel degree of the replica: the attention ranks [1].
    sequences : array_like or None
        Sequences in the iteration [1]; None: every rank busy.
    attention_dp : bool
        Attention data-parallel over the ``tp`` ranks (whole sequences per rank).

    Returns
    -------
    float or ndarray
        ``tp / clip(sequences, 1, tp)`` with data-parallel attention, else 1 [1].
    """
    if attention_dp and sequences is not None:
        return tp / np.clip(np.asarray(sequences, dtype=float), 1.0, float(tp))
    return 1.0


def gemm_time_s(arch: tf.Arch, hw: Hardware, cal: Calibration, *, tp: int, pp: int, attention_dp: bool, tokens: Any,
                precision: str, idle: Any = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Compute and weight-read time of the GEMMs of one iteration of a replica [s].

    Parameters
    ----------
    arch : Arch
        Model architecture.
    hw : Hardware
        Chip in its system.
    cal : Calibration
        Coefficients of the chip.
    tp, pp : int
        Tensor and pipeline degrees of the replica [1].
    attention_dp : bool
        Attention data-parallel over the ``tp`` ranks.
    tokens : ndarray
        Tokens of the iteration, decode and prefill [tokens].
    precision : str
        Weight and matmul precision.
    idle : float or ndarray
        :func:`attention_idle_factor` [1].

    Returns
    -------
    tuple of ndarray
        ``(compute, memory)`` times [s]; the kernels take the larger.

    Notes
    -----
    ``t_compute = n·2(N + N_pad + A·(idle-1)) / (chips·peak·e_mm·e_serve)`` with ``e_mm`` from
    :func:`gigawatt.perf.training.gemm_efficiency` at width ``d/tp``, ``N_pad`` the head padding
    of :func:`gigawatt.perf.transformer.tp_head_sharding`, ``A`` the attention parameters;
    ``t_memory = (W_touched + W_extra) / (chips·HBM·e_hbm)``: idle experts are not read [1]_ [2]_.
    """
    chips = float(tp * pp)
    _, _, extra_params, extra_weights = _attention_sharding(arch, tp, attention_dp)
    matmul = 2.0 * (arch.matmul_params_active + extra_params)
    peak = hw.peak(precision)
    eff = gemm_efficiency(arch.d_model / tp, np.maximum(tokens, 1.0), cal.matmul_peak_eff(precision),
                          cal.matmul_half_width, cal.matmul_half_tokens)
    eff = eff * cal.serving_eff_ratio
    hbm = chips * hw.hbm_bw_bytes_per_s * cal.hbm_eff
    # with data-parallel attention, attention runs on at most one rank per sequence
    attn_params = tf.attention_params_per_layer(arch) * arch.layers
    matmul = matmul + 2.0 * attn_params * (idle - 1.0)
    compute = tokens * matmul / (eff * chips * peak)
    extra_bytes = extra_weights * bytes_per_param(precision)
    memory = (_touched_weight_bytes(arch, precision, tokens) + extra_bytes) / hbm
    return compute, memory


def attention_time_s(arch: tf.Arch, hw: Hardware, cal: Calibration, *, tp: int, pp: int, attention_dp: bool,
                     decode_tokens: Any, decode_context: Any, prefill_tokens: Any, prefill_context: Any,
                     precision: str, kv_bytes_per_value: float, idle: Any = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Compute and KV-read time of the attention core of one iteration of a replica [s].

    Parameters
    ----------
    arch : Arch
        Model architecture.
    hw : Hardware
        Chip in its system.
    cal : Calibration
        Coefficients of the chip.
    tp, pp : int
        Tensor and pipeline degrees of the replica [1].
    attention_dp : bool
        Attention data-parallel over the ``tp`` ranks.
    decode_tokens, prefill_tokens : ndarray
        Decoding sequences and prefilled prompt tokens [tokens].
    decode_context, prefill_context : ndarray
        Mean keys a decode and a prompt token attend to [tokens].
    precision : str
        Matmul precision.
    kv_bytes_per_value : float
        Bytes per cached key or value element [B].
    idle : float or ndarray
        :func:`attention_idle_factor` [1].

    Returns
    -------
    tuple of ndarray
        ``(compute, memory)`` times [s]; the kernel takes the larger.

    Notes
    -----
    ``t_compute = (d·c_d + p·c_p)·2·L·H·(d_qk + d_v)·f_q / (chips·peak·e_mm·r_attn·e_serve)·idle``
    and ``t_memory = (d·c_d + p)·kv·f_kv / (chips·HBM·e_hbm)·idle``, with the query and KV
    factors ``f_q``, ``f_kv`` of :func:`gigawatt.perf.transformer.tp_head_sharding` [1]_ [3]_.
    """
    chips = float(tp * pp)
    q_factor, kv_factor, _, _ = _attention_sharding(arch, tp, attention_dp)
    attn_per_ctx = 2.0 * arch.layers * arch.n_heads * (arch.qk_head_dim + arch.v_dim) * q_factor
    peak = hw.peak(precision)
    eff_attn = cal.matmul_peak_eff(precision) * cal.attention_eff_ratio * cal.serving_eff_ratio
    hbm = chips * hw.hbm_bw_bytes_per_s * cal.hbm_eff
    kv_token = tf.kv_cache_bytes_per_token(arch, kv_bytes_per_value) * kv_factor
    d, p = decode_tokens, prefill_tokens
    compute = (d * decode_context + p * prefill_context) * attn_per_ctx / (eff_attn * chips * peak) * idle
    memory = (d * decode_context + p) * kv_token / hbm * idle
    return compute, memory


def iteration_comm_s(arch: tf.Arch, hw: Hardware, cal: Calibration, *, tp: int, pp: int, ep: int, attention_dp: bool,
                     tokens: Any) -> np.ndarray:
    """Tensor-, expert- and pipeline-parallel communication of one iteration of a replica [s].

    Parameters
    ----------
    arch : Arch
        Model architecture.
    hw : Hardware
        Chip in its system.
    cal : Calibration
        Coefficients of the chip.
    tp, pp, ep : int
        Tensor, pipeline and expert degrees of the replica [1].
    attention_dp : bool
        Attention data-parallel over the ``tp`` ranks (no attention all-reduce).
    tokens : ndarray
        Tokens of the iteration [tokens].

    Returns
    -------
    ndarray
        Exposed communication time [s].

    Notes
    -----
    ``t_tp = n_ar·(latency + (1-o_tp)·2(t-1)/t·n·d·2 B / bw_up)`` with two all-reduces per
    layer (less the MoE layers under expert parallelism and the attention ones under
    data-parallel attention); each MoE layer with ``ep > 1`` adds its dispatch and combine
    all-to-alls (:func:`gigawatt.perf.training.alltoall_time_s`); each of ``pp - 1`` stage
    boundaries adds ``latency + n·d·2 B / bw_out``.
    """
    if tp > 1:
        size = tokens * arch.d_model * 2.0
        transfer = 2.0 * (tp - 1) / tp * size / (hw.scaleup_bw_one_way_bytes_per_s * cal.scaleup_eff)
        # the transfer part overlaps with compute as in training; the call latency does not
        # two all-reduces per layer; an expert-parallel MoE layer replaces the FFN one with its all-to-alls
        n_allreduce = 2.0 * arch.layers - (arch.moe_layers if (ep > 1 and arch.is_moe) else 0)
        if attention_dp:  # no attention all-reduce; whole sequences stay on their rank
            n_allreduce -= arch.layers
        comm = n_allreduce * (transfer * (1.0 - cal.tp_overlap) + cal.collective_latency_s)
    else:
        comm = np.zeros_like(tokens)
    if ep > 1 and arch.is_moe:
        # dispatch and combine of each MoE layer: tokens/ep per chip, k copies of h values, (ep-1)/ep leave the chip
        a2a_bytes = 2.0 * tokens / ep * arch.moe_active * arch.d_model * 2.0 * (ep - 1) / ep
        comm = comm + arch.moe_layers * alltoall_time_s(a2a_bytes, ep, hw, cal, n_calls=2)
    if pp > 1:
        comm = comm + (pp - 1) * (cal.collective_latency_s + tokens * arch.d_model * 2.0 / hw.scaleout_bw_bytes_per_s)
    return comm


def iteration_time_s(arch: tf.Arch, hw: Hardware, layout: Layout = Layout(), *, decode_tokens: Any,
                     decode_context: Any, prefill_tokens: Any = 0.0, prefill_context: Any = 0.0,
                     precision: str = "bf16", kv_bytes_per_value: float = 2.0,
                     cal: Calibration | None = None, sequences: Any = None) -> dict[str, np.ndarray]:
    """Time of one engine iteration of a replica: decode tokens plus prefilled prompt tokens [s].

    Parameters
    ----------
    layout : Layout
        The replica: ``tp``, ``pp`` (tensor and pipeline degrees), ``ep`` (expert parallel
        degree inside the replica, MoE only) and ``attention_dp`` (attention data-parallel
        over the ``tp`` ranks, whole sequences per rank and attention weights on every rank,
        instead of split heads); free fields take their defaults (1, 1, 1, False).
    decode_tokens : array_like
        Sequences that each generate one token this iteration [1].
    decode_context : array_like
        Mean context those sequences attend to [tokens].
    prefill_tokens : array_like
        Prompt tokens processed this iteration [tokens].
    prefill_context : array_like
        Mean keys a prompt token attends to (half the prompt, causal) [tokens].
    kv_bytes_per_value : float
        Bytes per cached key or value element [B].
    sequences : array_like, optional
        Sequences in the iteration; with ``attention_dp``, fewer than ``tp`` leave
        attention ranks idle, so attention takes ``tp / sequences`` times longer [1].

    Returns
    -------
    dict of ndarray
        ``time_s`` and its parts ``compute_s``, ``memory_s``, ``comm_s``, ``overhead_s`` [s].

    Notes
    -----
    GEMMs and attention each take the larger of their compute and memory time:
    ``t = max((d+p)·2N / R, W_touched / BW) + max(A / R_attn, (d·c_d + p)·kv / BW) + t_tp + t_0``
    with ``A = (d·c_d + p·c_p)·2·L·H·(d_qk + d_v)``, ``R = n·peak·e_mm·e_serve``,
    ``BW = n·HBM·e_hbm`` (the head padding and KV copies of tensor parallelism,
    :func:`gigawatt.perf.transformer.tp_head_sharding`, enter ``N``, ``W``, ``H`` and
    ``kv``) and ``t_tp = 2L·(latency + (1-o_tp)·2(t-1)/t·(d+p)·h·2 / bw)``. The stages:
    :func:`gemm_time_s`, :func:`attention_time_s`, :func:`iteration_comm_s`.
    """
    cal = cal or calibration_for(hw.chip)
    lay = layout.complete()
    tp, pp, ep, attention_dp = int(lay.tp), int(lay.pp), int(lay.ep), bool(lay.attention_dp)
    d = np.asarray(decode_tokens, dtype=float)
    p = np.asarray(prefill_tokens, dtype=float)
    tokens = d + p
    idle = attention_idle_factor(tp, sequences, attention_dp)
    # GEMMs and attention are separate kernels, each bound by compute or by its own memory traffic
    gemm_compute, gemm_memory = gemm_time_s(arch, hw, cal, tp=tp, pp=pp, attention_dp=attention_dp, tokens=tokens,
                                            precision=precision, idle=idle)
    attn_compute, attn_memory = attention_time_s(
        arch, hw, cal, tp=tp, pp=pp, attention_dp=attention_dp, decode_tokens=d,
        decode_context=np.asarray(decode_context, dtype=float), prefill_tokens=p,
        prefill_context=np.asarray(prefill_context, dtype=float), precision=precision,
        kv_bytes_per_value=kv_bytes_per_value, idle=idle)
    busy = np.maximum(gemm_compute, gemm_memory) + np.maximum(attn_compute, attn_memory)
    comm = iteration_comm_s(arch, hw, cal, tp=tp, pp=pp, ep=ep, attention_dp=attention_dp, tokens=tokens)
    overhead = np.full_like(tokens, cal.decode_step_overhead_s)
    time = busy + comm + overhead
    return {"time_s": time, "compute_s": gemm_compute + attn_compute, "memory_s": gemm_memory + attn_memory,
            "comm_s": comm, "overhead_s": overhead}


def prefill_time_s(arch: tf.Arch, hw: Hardware, layout: Layout = Layout(), *, batch: Any, input_len: Any,
                   precision: str = "bf16", kv_bytes_per_value: float = 2.0,
                   cal: Calibration | None = None) -> np.ndarray:
    """Time to first token of a batch of prompts run in one prefill [s].

    Notes
    -----
    One iteration with ``p = batch·input_len`` prompt tokens attending to
    ``(input_len+1)/2`` keys on average, plus one decode iteration for the
    first token.
    """
    b = np.asarray(batch, dtype=float)
    s = np.asarray(input_len, dtype=float)
    pre = iteration_time_s(arch, hw, layout, decode_tokens=0.0, decode_context=0.0, prefill_tokens=b * s,
                           prefill_context=(s + 1.0) / 2.0, precision=precision,
                           kv_bytes_per_value=kv_bytes_per_value, cal=cal, sequences=b)["time_s"]
    return pre


def decode_step_time_s(arch: tf.Arch, hw: Hardware, layout: Layout = Layout(), *, batch: Any, context: Any,
                       precision: str = "bf16", kv_bytes_per_value: float = 2.0,
                       cal: Calibration | None = None) -> np.ndarray:
    """Time per output token of a fixed batch decoding at ``context`` tokens [s]."""
    return iteration_time_s(arch, hw, layout, decode_tokens=batch, decode_context=context, precision=precision,
                            kv_bytes_per_value=kv_bytes_per_value, cal=cal, sequences=batch)["time_s"]


def replica_problem(arch: tf.Arch, hw: Hardware, *, kv_capacity: float, chips: int, ep: int, precision: str) -> str:
    """Why a replica cannot serve at all, or ``""``: the weights do not fit, or ``ep`` exceeds its chips.

    Parameters
    ----------
    arch : Arch
        Model architecture.
    hw : Hardware
        Chip in its system.
    kv_capacity : float
        KV cache left after the weights (:func:`kv_capacity_tokens`) [tokens].
    chips : int
        Chips of the replica, ``tp·pp`` [1].
    ep : int
        Expert parallel degree [1].
    precision : str
        Weight precision.

    Returns
    -------
    str
        The message, or ``""`` when the replica can run.
    """
    if kv_capacity <= 0:
        return (f"the weights ({weight_bytes(arch, precision) / 1e9:.0f} GB at {precision}) do not fit "
                f"on {chips} chips of {hw.hbm_bytes / 1e9:.0f} GB; raise tp or pp")
    if ep > chips:
        return f"ep {ep} exceeds the {chips} chips of a replica (tp x pp)"
    return ""


def serve_fixed_batch(arch: tf.Arch, hw: Hardware, layout: Layout, *, batch: float, input_len: float,
                      output_len: float, replicas: float, kv_capacity: float, precision: str,
                      kv_bytes_per_value: float, cal: Calibration) -> dict[str, Any]:
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

    Returns
    -------
    dict
        ``output_tokens_per_s`` [tokens/s], ``batch`` [1], ``ttft_s``, ``tpot_s`` [s],
        ``kv_capacity_tokens`` [tokens], ``replicas`` [1], ``fits`` [bool].

    Notes
    -----
    The batch prefills together, then decodes at the mean context ``in + out/2``: a request
    takes ``t = TTFT + out·TPOT`` and the system delivers ``replicas·B·out / t``.
    """
    common = dict(precision=precision, kv_bytes_per_value=kv_bytes_per_value, cal=cal)
    ctx = input_len + output_len / 2.0
    ttft = float(prefill_time_s(arch, hw, layout, batch=batch, input_len=input_len, **common))
    tpot = float(decode_step_time_s(arch, hw, layout, batch=batch, context=ctx, **common))
    per_request = ttft + output_len * tpot
    return {"output_tokens_per_s": replicas * batch * output_len / per_request, "batch": batch, "ttft_s": ttft,
            "tpot_s": tpot, "kv_capacity_tokens": kv_capacity, "replicas": replicas,
            "fits": batch * (input_len + output_len) <= kv_capacity}


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
                     cal: Calibration) -> dict[str, Any]:
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

    Returns
    -------
    dict
        As :func:`serve`, with the chosen iteration's ``compute_s``, ``memory_s``,
        ``comm_s`` [s]; ``error`` where no batch meets the limits.

    Notes
    -----
    64 batches spaced geometrically from 1 to ``max_batch``. In steady state a batch of
    ``B`` decodes ``B`` tokens and prefills ``B·in/out`` prompt tokens per iteration
    (chunked prefill): TPOT is ``t_iter``, TTFT the prefill of one prompt plus ``t_iter``, and
    the throughput ``B / t_iter`` per replica.
    """
    common = dict(precision=precision, kv_bytes_per_value=kv_bytes_per_value, cal=cal)
    b = np.unique(np.concatenate([np.geomspace(1.0, max_batch, 64), [max_batch]]))
    it = iteration_time_s(arch, hw, layout, decode_tokens=b, decode_context=input_len + output_len / 2.0,
                          prefill_tokens=b * input_len / output_len, prefill_context=(input_len + 1.0) / 2.0,
                          sequences=b, **common)
    t_iter = it["time_s"]
    ttft = float(prefill_time_s(arch, hw, layout, batch=1, input_len=input_len, **common)) + t_iter
    ok = np.ones_like(b, dtype=bool)
    if regime == "server":
        ok = within_latency_limits(t_iter, ttft, ttft_limit_s, tpot_limit_s)
        if not ok.any():
            return {"error": "no batch meets the latency limits; relax --ttft/--tpot or add chips per replica",
                    "output_tokens_per_s": None}
    rate = np.where(ok, b / t_iter, -np.inf)
    i = int(np.argmax(rate))
    util = cal.server_utilization if regime == "server" else 1.0
    return {"output_tokens_per_s": float(rate[i]) * replicas * util, "batch": float(b[i]), "ttft_s": float(ttft[i]),
            "tpot_s": float(t_iter[i]), "kv_capacity_tokens": kv_capacity, "replicas": replicas,
            "compute_s": float(it["compute_s"][i]), "memory_s": float(it["memory_s"][i]),
            "comm_s": float(it["comm_s"][i])}


def serve(arch: tf.Arch, hw: Hardware, layout: Layout = Layout(), *, n_chips: int, input_len: float,
          output_len: float, precision: str = "bf16", kv_bytes_per_value: float | None = None,
          regime: str = "offline", batch: int | None = None, ttft_limit_s: float | None = None,
          tpot_limit_s: float | None = None, cal: Calibration | None = None,
          kv_reservation: str = "mean") -> dict[str, Any]:
    """Throughput and latency of serving one request mix under continuous batching.

    Parameters
    ----------
    layout : Layout
        One replica: ``tp``, ``pp``, ``ep`` (expert parallel degree inside the replica, at
        most ``tp·pp``) and ``attention_dp`` (see :func:`iteration_time_s`).
    n_chips : int
        Chips in the system; ``n_chips / (tp·pp)`` replicas [1].
    input_len, output_len : float
        Prompt and generated tokens per request [tokens].
    kv_bytes_per_value : float, optional
        Bytes per cached key or value element [B]; by default
        :func:`default_kv_bytes_per_value` of ``precision``.
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
    prompt plus one iteration of waiting. The stages: :func:`kv_capacity_tokens`,
    :func:`replica_problem`, :func:`serve_fixed_batch` (a fixed batch),
    :func:`max_decode_batch` and :func:`serve_continuous` (continuous batching) [1]_ [3]_.
    """
    cal = cal or calibration_for(hw.chip)
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
    problem = replica_problem(arch, hw, kv_capacity=cap, chips=chips, ep=ep, precision=precision)
    if problem:
        return {"error": problem, "output_tokens_per_s": None}
    common = dict(replicas=replicas, kv_capacity=cap, precision=precision, kv_bytes_per_value=kv_bytes_per_value,
                  cal=cal)
    if regime == "latency" or batch is not None:
        return serve_fixed_batch(arch, hw, layout, batch=float(batch or 1), input_len=input_len,
                                 output_len=output_len, **common)
    max_b = max_decode_batch(cal, kv_capacity=cap, tp=tp, attention_dp=attention_dp, input_len=input_len,
                             output_len=output_len, kv_reservation=kv_reservation)
    if max_b < 1:
        return {"error": f"one request of {input_len + output_len:.0f} tokens does not fit the KV cache "
                         f"({cap:.0f} tokens); raise tp or use a smaller KV precision", "output_tokens_per_s": None}
    return serve_continuous(arch, hw, layout, max_batch=max_b, input_len=input_len, output_len=output_len,
                            regime=regime, ttft_limit_s=ttft_limit_s, tpot_limit_s=tpot_limit_s, **common)


def moe_layouts(arch: tf.Arch, ranks: int, tp: int) -> list[tuple[int, bool]]:
    """``(ep, attention_dp)`` pairs a serving engine offers for a replica of ``ranks`` chips at ``tp``.

    A dense model: ``(1, False)``. An MoE model also spreads its experts over the
    replica (``ep = ranks``) with attention split by heads; an MoE model with MLA also
    runs attention data-parallel over the ``tp`` ranks (vLLM and SGLang data-parallel
    attention, TensorRT-LLM ``enable_attention_dp``), which keeps one copy of its latent KV
    cache where head-split attention copies it to every rank.

    Data-parallel attention is not offered for GQA models: TensorRT-LLM's published
    Qwen3-235B-A22B runs on 8 GPUs (perf overview of release 1.0, not CSV rows) are matched
    by head-split attention (median |error| about 18%) while the data-parallel prediction is
    about twice the published throughput; a caller can still ask for it.

    >>> gqa = tf.Arch("moe", 4, 1024, 8, 8, 128, 4096, 1000, moe_experts=8, moe_active=2, moe_d_ff=1024)
    >>> moe_layouts(gqa, 8, 8)
    [(1, False), (8, False)]
    >>> moe_layouts(gqa.with_(attention="mla", kv_lora_rank=512, qk_rope_head_dim=64, qk_nope_head_dim=64,
    ...                       v_head_dim=64), 8, 8)
    [(1, False), (8, False), (8, True)]
    """
    if not arch.is_moe or ranks <= 1:
        return [(1, False)]
    return [(1, False), (int(ranks), False)] + ([(int(ranks), True)] if (tp > 1 and arch.attention == "mla") else [])


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
    import yaml

    text = (resources.files("gigawatt.perf") / "data" / "datasets.yaml").read_text(encoding="utf-8")
    return dict((yaml.safe_load(text) or {}).get("datasets") or {})


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


def predict_row(row: dict[str, Any], hw: Hardware, *, devices_per_chip: float = 1.0,
                cal: Calibration | None = None) -> dict[str, Any]:
    """Predict one row of the inference validation file (see :mod:`gigawatt.perf.backtest`).

    ``cal`` is the chip's calibration, by default the file's (:func:`calibration_for`).
    """
    arch = tf.Arch.from_row(row)
    n = (row_float(row, "n_chips") or 1.0) * devices_per_chip
    tp = int(row_float(row, "tp") or 1)
    pp = int(row_float(row, "pp") or 1)
    ep = int(row_float(row, "ep") or 1) if arch.is_moe else 1
    precision = (row.get("precision") or "bf16").strip().lower()
    note = str(row.get("conversion") or "")
    kv = 1.0 if re.search(r"fp8 kv|kv_cache_dtype fp8", note, re.I) else default_kv_bytes_per_value(precision)
    regime = (row.get("scenario") or "offline").strip().lower()
    if regime not in ("offline", "server", "latency"):
        # e.g. MLPerf's "interactive": a server scenario with tighter limits, which the row gives
        regime = "server" if (row_float(row, "ttft_slo_s") or row_float(row, "tpot_slo_s")) else "offline"
    out_len = row_float(row, "output_len") or ROW_DEFAULT_OUTPUT_LEN
    # a note that names data-parallel attention (TensorRT-LLM enable_attention_dp, SGLang/vLLM DP attention)
    attention_dp = bool(re.search(r"attention[ _-]?dp|attention data[ -]parallel|dp[ _-]attention", note, re.I))
    layout = Layout(tp=tp, pp=pp, ep=min(ep, tp * pp), attention_dp=attention_dp and tp > 1)
    res = serve(arch, hw, layout, n_chips=int(round(n)), input_len=row_input_len(row), output_len=out_len,
                precision=precision, kv_bytes_per_value=kv, regime=regime,
                batch=int(row_float(row, "batch")) if row_float(row, "batch") else None,
                ttft_limit_s=row_float(row, "ttft_slo_s"), tpot_limit_s=row_float(row, "tpot_slo_s"), cal=cal,
                kv_reservation=row_kv_reservation(row))
    if res.get("output_tokens_per_s") is None:
        return {"predicted": None, "reason": res.get("error", "no prediction"), "detail": res}
    kind = (row.get("measured_kind") or "").strip()
    key = {"output_tokens_per_s": "output_tokens_per_s", "tpot_s": "tpot_s", "ttft_s": "ttft_s"}.get(kind)
    if key is None:
        return {"predicted": None, "reason": f"unknown measured_kind {kind!r}", "detail": res}
    return {"predicted": float(res[key]), "detail": res}
