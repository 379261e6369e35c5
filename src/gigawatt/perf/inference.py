"""Inference: prefill and decode step times, KV capacity, continuous batching, regimes.

One *replica* is the group of ``tp·pp`` chips that holds one copy of the
weights; a system of ``n_chips`` runs ``n_chips / (tp·pp)`` replicas. Times
come from a roofline per engine iteration, in the spirit of Vidur [1]_ and
GenZ [2]_: an iteration reads the weights it touches and the KV cache of its
batch from HBM, and does the FLOPs of its decode tokens and of the prompt
tokens it prefills; it takes the larger of the two times at the chip's
calibrated efficiencies, plus the tensor-parallel all-reduces (two per layer)
and a fixed engine overhead.

MoE models add the routed experts' grouped GEMMs at the rows each expert receives, the
busiest expert-parallel rank's share, the token permutation and the all-to-alls
(:func:`gemm_time_s`, :func:`iteration_comm_s`); MLA models cache their latent
(:func:`gigawatt.perf.transformer.kv_cache_bytes_per_token`), and data-parallel attention
keeps one copy of it per sequence; pipeline stages share compute but reread their weights
every step; speculative drafts (:func:`decode_iteration_s`) and prefill/decode
disaggregation (:func:`serve_disaggregated`) are options of :func:`serve`.

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
.. [4] Y. Leviathan, M. Kalman, Y. Matias, "Fast Inference from Transformers via
   Speculative Decoding", ICML 2023.
.. [5] DeepSeek-AI, "DeepSeek-V3 Technical Report", arXiv:2412.19437, 2024 (sec. 2.2
   multi-token prediction, sec. 3.4 inference deployment with expert parallelism and
   data-parallel attention, sec. 5.4.3 MTP acceptance).
.. [6] Y. Zhong et al., "DistServe: Disaggregating Prefill and Decoding for
   Goodput-optimized Large Language Model Serving", OSDI 2024.
.. [7] P. Patel et al., "Splitwise: Efficient Generative LLM Inference Using Phase
   Splitting", ISCA 2024.
.. [8] DeepSeek-AI, "DeepSeek-V2: A Strong, Economical, and Efficient Mixture-of-Experts
   Language Model", arXiv:2405.04434, 2024.
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


def dense_precision(arch: tf.Arch, precision: str) -> str:
    """Precision of the GEMMs other than the routed experts: FP8 where an MoE model's weights are FP4.

    NVIDIA's FP4 checkpoints of MoE models quantize the routed experts' linear layers to
    NVFP4 and keep attention, dense and shared-expert layers in FP8 (model cards of
    nvidia/DeepSeek-R1-FP4 and nvidia/Qwen3-235B-A22B-FP4: "only the weights and activations
    of the linear operators within transformer blocks in MoE are quantized"; the validation
    README: "the FP4 rows run some layers in FP8").

    >>> moe = tf.Arch("m", 2, 64, 4, 4, 16, 64, 100, moe_experts=8, moe_active=2, moe_d_ff=32)
    >>> dense_precision(moe, "fp4"), dense_precision(moe.with_(moe_experts=0), "fp4"), dense_precision(moe, "fp8")
    ('fp8', 'fp4', 'fp8')
    """
    return "fp8" if (precision == "fp4" and arch.is_moe) else precision


def weight_bytes(arch: tf.Arch, precision: str = "bf16") -> float:
    """Bytes of all weights at ``precision`` (embeddings at 16 bit; see :func:`dense_precision`) [B]."""
    other = arch.params_total - arch.embedding_params - arch.expert_params
    return (other * bytes_per_param(dense_precision(arch, precision)) + arch.expert_params * bytes_per_param(precision)
            + arch.embedding_params * 2.0)


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
    weights = weight_bytes(arch, precision) + extra * bytes_per_param(dense_precision(arch, precision))
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


def routed_expert_params_active(arch: tf.Arch) -> float:
    """Parameters of the routed experts one token uses, all MoE layers [1]; 0 for a dense model."""
    if not arch.is_moe:
        return 0.0
    return float(arch.moe_layers * arch.moe_active * arch.ffn_matrices * arch.d_model * arch.moe_d_ff)


def expert_gemm_efficiency(arch: tf.Arch, cal: Calibration, *, tp: int, ep: int, tokens: Any,
                           precision: str) -> np.ndarray:
    """Achieved fraction of peak of the grouped expert GEMMs of one serving iteration [1].

    Parameters
    ----------
    arch : Arch
        Model architecture (MoE).
    cal : Calibration
        Coefficients of the chip (``expert_half_width``, ``matmul_half_tokens``,
        ``serving_eff_ratio``) and the stack's fitted ``serving_scale`` and ``expert_scale``.
    tp, ep : int
        Chips of a pipeline stage and the expert-parallel degree over them; each expert is
        split over ``etp = tp / ep`` chips [1].
    tokens : array_like
        Tokens of the iteration, decode and prefill [tokens].
    precision : str
        Matmul precision.

    Returns
    -------
    ndarray
        ``e_serve·s_serve·s_exp · m / (m/(e_max·w/(w + w_½e)) + m_½/(e_max·w/(w + w_½)))`` [1], with the fitted
        serving and expert factors ``s_serve``, ``s_exp`` of the stack.

    Notes
    -----
    Training's grouped-GEMM law (:func:`gigawatt.perf.training.gemm_efficiency` with
    ``expert_half_width`` and ``matmul_half_tokens``, the same kernels) at the shape of one
    expert's GEMM: width ``w = min(d_ff_e / etp, d)`` and ``m = n·k/E_hit`` rows per expert
    that receives tokens, since each of the ``n`` tokens picks ``k`` of ``E`` experts and
    ``E_hit = E·(1 - (1 - k/E)^n)`` of them receive any. Decode batches leave few rows per
    expert (a batch of 256 on a 128-expert top-8 model: 16 rows), so a small-batch MoE step
    runs its experts far below the dense GEMM rate [1]_ [2]_. The width law is the one fitted
    to the MoE training rows, not refitted to serving: with it the held-out MoE serving rows
    are predicted better (median |error| 29% against 38% with the dense tile law's
    ``matmul_half_width``), narrow experts (Qwen3's 768) losing more than the tile law says.
    What a stack's grouped-GEMM kernels lose beyond it is the stack's fitted ``expert_scale``.
    That law's losses (permutation, imbalance, small tiles) scale with the rows an expert
    really has; the padding of its last row tile (``m_½`` rows) runs at the dense tile rate
    of its width (``matmul_half_width``):
    ``e = m / (m / (e_max·w/(w + w_½e)) + m_½ / (e_max·w/(w + w_½)))``, which tends to
    training's ``e_max·w/(w + w_½e)`` for many rows and, for a token or two per expert, leaves
    the GEMM bound by its weight reads rather than by a compounding of both losses.
    """
    etp = max(float(tp) / max(float(ep), 1.0), 1.0)
    n = np.maximum(np.asarray(tokens, dtype=float), 1.0)
    big = float(max(arch.moe_experts, 1))
    hit = big * (1.0 - (1.0 - arch.moe_active / big) ** n)  # experts with at least one token
    rows = n * arch.moe_active / np.maximum(hit, 1.0)
    width = min(arch.moe_d_ff / etp, float(arch.d_model))
    e_max = cal.matmul_peak_eff(precision)
    # the rows an expert really has run at the grouped-GEMM rate; the padding of its last row tile
    # (about m_half rows) at the tile rate of its width
    real = rows / (e_max * width / (width + cal.expert_half_width))
    padding = cal.matmul_half_tokens / (e_max * width / (width + cal.matmul_half_width))
    return (rows / (real + padding)
            * cal.serving_eff_ratio * _serving_scale(cal) * float(getattr(cal, "expert_scale", 1.0)))


def moe_permute_bytes(arch: tf.Arch, tokens: Any, bytes_per_value: float = 2.0) -> np.ndarray:
    """HBM traffic of routing tokens to their experts and back, all MoE layers of one iteration [B].

    Notes
    -----
    Dispatch writes and the expert GEMM reads ``k`` copies of each token's ``d`` values;
    the experts write ``k`` outputs of ``d`` values that the combine reads and sums:
    ``4·n·k·d·b`` per MoE layer, at 16 bits. Memory-bound kernels apart from the GEMMs,
    so their time adds to the layer's [2]_.
    """
    if not arch.is_moe:
        return np.zeros_like(np.asarray(tokens, dtype=float))
    return 4.0 * np.asarray(tokens, dtype=float) * arch.moe_active * arch.d_model * bytes_per_value * arch.moe_layers


def gemm_time_s(arch: tf.Arch, hw: Hardware, cal: Calibration, *, tp: int, pp: int, attention_dp: bool, tokens: Any,
                precision: str, idle: Any = 1.0, ep: int = 1, microbatches: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Time of the GEMMs of one iteration of a replica, dense and routed-expert [s].

    Parameters
    ----------
    arch : Arch
        Model architecture.
    hw : Hardware
        Chip in its system.
    cal : Calibration
        Coefficients of the chip.
    tp, pp : int
        Chips of a pipeline stage and pipeline stages of the replica [1].
    attention_dp : bool
        Attention data-parallel over the ``tp`` ranks.
    tokens : ndarray
        Tokens of the iteration, decode and prefill [tokens].
    precision : str
        Weight and matmul precision.
    idle : float or ndarray
        :func:`attention_idle_factor` [1].
    ep : int
        Expert-parallel degree over the ``tp`` chips of a stage (MoE) [1].
    microbatches : array_like, optional
        Micro-batches in flight through the ``pp`` stages, at most ``pp`` (default ``pp``) [1].

    Returns
    -------
    tuple of ndarray
        ``(dense, expert)`` times [s], each the larger of its compute and weight-read time;
        ``expert`` adds the routing traffic (:func:`moe_permute_bytes`).

    Notes
    -----
    Dense GEMMs (attention projections, dense and shared-expert FFNs, output head):
    ``max(n·2(N_d + N_pad + A·(idle-1)) / (chips·peak·e_mm·e_serve), W_d / (chips·HBM·e_hbm))``
    with ``e_mm`` of :func:`gigawatt.perf.training.gemm_efficiency` at width ``d/tp``.
    Routed experts: ``max(f_imb·n·2·N_e / (chips·peak·e_exp), W_e,touched / (chips·HBM·e_hbm))
    + permute / (chips·HBM·e_hbm)``, with ``e_exp`` of :func:`expert_gemm_efficiency`, the
    busiest expert-parallel rank's load ``f_imb``
    (:func:`gigawatt.perf.transformer.expert_load_imbalance`) and only the experts the
    iteration's tokens hit read [1]_ [2]_.

    Pipeline stages: an iteration takes ``pp`` stage steps (every micro-batch passes every
    stage), so ``m`` micro-batches share the compute of ``chips = tp·m`` chips, while each
    step reads its stage's weights again: weight reads take ``W / (tp·HBM·e_hbm)`` whatever
    ``pp``. Pipelining holds larger models and their KV cache; it does not multiply weight
    bandwidth in decode.
    """
    m = np.clip(np.asarray(pp if microbatches is None else microbatches, dtype=float), 1.0, float(pp))
    chips = tp * m
    tokens = np.asarray(tokens, dtype=float)
    _, _, extra_params, extra_weights = _attention_sharding(arch, tp, attention_dp)
    routed = routed_expert_params_active(arch)
    dense_matmul = 2.0 * (arch.matmul_params_active - routed + extra_params)
    peak = hw.peak(dense_precision(arch, precision))
    eff = gemm_efficiency(arch.d_model / tp, np.maximum(tokens / m, 1.0),
                          cal.matmul_peak_eff(dense_precision(arch, precision)),
                          cal.matmul_half_width, cal.matmul_half_tokens)
    eff = eff * cal.serving_eff_ratio * _serving_scale(cal)
    hbm = tp * hw.hbm_bw_bytes_per_s * cal.hbm_eff  # weight reads: one stage's weights per stage step
    # with data-parallel attention, attention runs on at most one rank per sequence
    attn_params = tf.attention_params_per_layer(arch) * arch.layers
    dense_matmul = dense_matmul + 2.0 * attn_params * (idle - 1.0)
    per = bytes_per_param(precision)
    expert_bytes = arch.expert_params * per
    dense_bytes = weight_bytes(arch, precision) - expert_bytes + extra_weights * bytes_per_param(
        dense_precision(arch, precision))
    dense = np.maximum(tokens * dense_matmul / (eff * chips * peak), dense_bytes / hbm)
    if not arch.is_moe:
        return dense, np.zeros_like(dense)
    e_exp = expert_gemm_efficiency(arch, cal, tp=tp, ep=ep, tokens=tokens / m, precision=precision)
    imbalance = tf.expert_load_imbalance(arch, tokens / m, max(int(ep), 1))
    expert_compute = imbalance * tokens * 2.0 * routed / (e_exp * chips * hw.peak(precision))
    expert_memory = (_touched_weight_bytes(arch, precision, tokens) - (weight_bytes(arch, precision) - expert_bytes)) / hbm
    expert = np.maximum(expert_compute, expert_memory) + moe_permute_bytes(arch, tokens) / (hbm * m)
    return dense, expert


def mla_decode_attention_flops(arch: tf.Arch) -> float:
    """FLOPs of one decode token against one cached position under MLA's absorbed attention, all layers [FLOP].

    Notes
    -----
    In decode, engines fold MLA's key and value up-projections into the query and output
    projections and attend to the latent cache itself (DeepSeek-V2 [8]_ sec. 2.1.3; FlashMLA):
    each head scores ``c + r`` values (latent and RoPE key) and sums ``c`` latent values per
    position, ``2·L·H·(2c + r)``, against ``2·L·H·(d_qk + d_v)`` for head-sized keys and values.
    Prefill up-projects the prompt's keys and values and attends at head size.

    >>> a = tf.Arch("ds", 61, 7168, 128, 128, 128, 18432, 129280, attention="mla", kv_lora_rank=512,
    ...             qk_rope_head_dim=64, qk_nope_head_dim=128, v_head_dim=128)
    >>> mla_decode_attention_flops(a) / 1e6
    16.990208
    """
    return float(2.0 * arch.layers * arch.n_heads * (2.0 * arch.kv_lora_rank + arch.qk_rope_head_dim))


def attention_time_s(arch: tf.Arch, hw: Hardware, cal: Calibration, *, tp: int, pp: int, attention_dp: bool,
                     decode_tokens: Any, decode_context: Any, prefill_tokens: Any, prefill_context: Any,
                     precision: str, kv_bytes_per_value: float, idle: Any = 1.0,
                     microbatches: Any = None) -> tuple[np.ndarray, np.ndarray]:
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
    microbatches : array_like, optional
        Micro-batches in flight through the ``pp`` stages (default ``pp``): the chips that
        share the work are ``tp·m`` (:func:`gemm_time_s`) [1].

    Returns
    -------
    tuple of ndarray
        ``(compute, memory)`` times [s]; the kernel takes the larger.

    Notes
    -----
    ``t_compute = (d·c_d + p·c_p)·2·L·H·(d_qk + d_v)·f_q / (chips·peak·e_mm·r_attn·e_serve)·idle``
    and ``t_memory = (d·c_d + p)·kv·f_kv / (chips·HBM·e_hbm)·idle``, with the query and KV
    factors ``f_q``, ``f_kv`` of :func:`gigawatt.perf.transformer.tp_head_sharding` [1]_ [3]_.
    MLA decodes against its latent cache directly (:func:`mla_decode_attention_flops`), so a
    decode token's FLOPs per cached position are those of the latent, not of the heads.
    """
    chips = tp * np.clip(np.asarray(pp if microbatches is None else microbatches, dtype=float), 1.0, float(pp))
    q_factor, kv_factor, _, _ = _attention_sharding(arch, tp, attention_dp)
    attn_per_ctx = 2.0 * arch.layers * arch.n_heads * (arch.qk_head_dim + arch.v_dim) * q_factor
    decode_per_ctx = mla_decode_attention_flops(arch) * q_factor if arch.attention == "mla" else attn_per_ctx
    peak = hw.peak(precision)
    eff_attn = cal.matmul_peak_eff(precision) * cal.attention_eff_ratio * cal.serving_eff_ratio * _serving_scale(cal)
    hbm = chips * hw.hbm_bw_bytes_per_s * cal.hbm_eff
    kv_token = tf.kv_cache_bytes_per_token(arch, kv_bytes_per_value) * kv_factor
    d, p = decode_tokens, prefill_tokens
    compute = (d * decode_context * decode_per_ctx + p * prefill_context * attn_per_ctx) / (eff_attn * chips * peak) * idle
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


def attention_dp_prefill_skew(prompts: Any, ranks: int) -> np.ndarray:
    """Prefill load of the busiest data-parallel attention rank over the mean, per iteration [1].

    Parameters
    ----------
    prompts : array_like
        Prompts a replica admits per iteration, its batch over the output length in steady
        state [1].
    ranks : int
        Data-parallel attention ranks of the replica [1].

    Returns
    -------
    ndarray
        ``E[max_r N_r] / E[N_r]`` with ``N_r ~ Poisson(prompts / ranks)`` (at least 1; 1 for
        one rank).

    Notes
    -----
    Under data-parallel attention each prompt is prefilled whole by the rank that owns its
    sequence, and every MoE layer's all-to-all waits for the slowest rank, so the dense and
    attention work of an iteration runs at the busiest rank's prompt count. Prompts arrive
    independently over ranks, so a rank's count is Poisson with mean ``μ = prompts/ranks``
    and ``E[max] = Σ_k (1 - F(k)^ranks)``: with a prompt every few iterations per rank
    (``μ`` ≪ 1) one rank carries a whole prompt while the mean is a fraction of one, the
    imbalance that engines' attention-DP balancing addresses (TensorRT-LLM
    ``attention_dp_config``, SGLang DP-attention load balancing).

    >>> round(float(attention_dp_prefill_skew(8.0, 8)), 2)  # one prompt per rank on average
    2.58
    >>> float(attention_dp_prefill_skew(8.0, 1))
    1.0
    """
    from scipy.special import pdtr  # the Poisson CDF; here, not at import (scipy.special's import cost)

    n = np.maximum(np.asarray(prompts, dtype=float), 1e-9)
    if ranks <= 1:
        return np.ones_like(n)
    mu = n / ranks
    # E[max] = k_lo + sum_{k >= k_lo} (1 - F(k)^ranks), with F(k) ~ 0 below k_lo = mu - 10 sqrt(mu)
    lo = np.floor(np.maximum(mu - 10.0 * np.sqrt(mu), 0.0))
    span = int(np.ceil(float(np.max(20.0 * np.sqrt(mu) + 30.0))))
    k = lo[..., None] + np.arange(span, dtype=float)
    expected_max = lo + np.sum(1.0 - pdtr(k, mu[..., None]) ** ranks, axis=-1)
    return np.maximum(expected_max / mu, 1.0)


def iteration_time_s(arch: tf.Arch, hw: Hardware, layout: Layout = Layout(), *, decode_tokens: Any,
                     decode_context: Any, prefill_tokens: Any = 0.0, prefill_context: Any = 0.0,
                     precision: str = "bf16", kv_bytes_per_value: float = 2.0,
                     cal: Calibration | None = None, sequences: Any = None,
                     prefill_skew: Any = 1.0, dp_padding: bool = False) -> dict[str, np.ndarray]:
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
    prefill_skew : array_like
        With ``attention_dp``, the busiest rank's prefill over the mean
        (:func:`attention_dp_prefill_skew`): the dense GEMMs and attention of the prompt
        tokens run at the busiest rank's count; the routed experts see every rank's [1].
    dp_padding : bool
        With ``attention_dp``, every rank pads its tokens to the busiest rank's count before
        the MoE layers (:func:`moe_dp_padding`), so the routed experts and the expert-parallel
        collectives run on ``tp`` times the busiest rank's tokens.

    Returns
    -------
    dict of ndarray
        ``time_s`` and its parts ``dense_gemm_s``, ``expert_gemm_s`` (:func:`gemm_time_s`),
        ``attention_s``, ``comm_s``, ``overhead_s`` [s].

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
    idle = attention_idle_factor(tp, None if sequences is None else np.asarray(sequences, dtype=float)
                                 / min(pp, 1 if sequences is None else pp), attention_dp)
    # micro-batches in flight through the pipeline: one per sequence up to one per stage
    m = float(pp) if sequences is None else np.clip(np.asarray(sequences, dtype=float), 1.0, float(pp))
    # GEMMs and attention are separate kernels, each bound by compute or by its own memory traffic
    gemm_dense, gemm_expert = gemm_time_s(arch, hw, cal, tp=tp, pp=pp, attention_dp=attention_dp, tokens=tokens,
                                          precision=precision, idle=idle, ep=ep, microbatches=m)
    skew = np.asarray(prefill_skew, dtype=float) if attention_dp else np.asarray(1.0)
    if np.any(skew != 1.0):
        # the busiest attention rank's prompts set the dense and attention work; experts see all tokens
        gemm_dense, gemm_padded = gemm_time_s(arch, hw, cal, tp=tp, pp=pp, attention_dp=attention_dp,
                                              tokens=d + p * skew, precision=precision, idle=idle, ep=ep,
                                              microbatches=m)
        if dp_padding:  # the MoE layers run every rank at the busiest rank's token count
            gemm_expert = gemm_padded
        p = p * skew
    attn_compute, attn_memory = attention_time_s(
        arch, hw, cal, tp=tp, pp=pp, attention_dp=attention_dp, decode_tokens=d,
        decode_context=np.asarray(decode_context, dtype=float), prefill_tokens=p,
        prefill_context=np.asarray(prefill_context, dtype=float), precision=precision,
        kv_bytes_per_value=kv_bytes_per_value, idle=idle, microbatches=m)
    attention = np.maximum(attn_compute, attn_memory)
    comm = iteration_comm_s(arch, hw, cal, tp=tp, pp=pp, ep=ep, attention_dp=attention_dp,
                            tokens=d + p if (dp_padding and attention_dp) else tokens)
    overhead = np.full_like(tokens, cal.decode_step_overhead_s + cal.moe_layer_overhead_s * arch.moe_layers)
    time = gemm_dense + gemm_expert + attention + comm + overhead
    return {"time_s": time, "dense_gemm_s": gemm_dense, "expert_gemm_s": gemm_expert, "attention_s": attention,
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
        KV cache left after the weights (:func:`kv_capacity_tokens`) [tokens].
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


def spec_accepted_tokens(spec_tokens: int, acceptance: float) -> float:
    """Tokens a sequence emits per decode iteration with ``spec_tokens`` draft tokens [tokens].

    Parameters
    ----------
    spec_tokens : int
        Draft tokens proposed per iteration (DeepSeek's MTP next-n layers) [1].
    acceptance : float
        Probability each draft token is accepted given the ones before it were [1].

    Returns
    -------
    float
        ``(1 - α^(n+1)) / (1 - α)``: the verified token plus the accepted run of drafts [tokens].

    Notes
    -----
    Speculative decoding verifies ``n`` drafts with one pass of the main model; the run of
    accepted drafts stops at the first rejection, so with independent acceptances ``α`` the
    expected emitted tokens are ``Σ_{i=0..n} α^i`` (Leviathan et al. 2023 [4]_, eq. 1).

    >>> round(spec_accepted_tokens(3, 0.85), 3)
    3.187
    >>> spec_accepted_tokens(0, 0.85)
    1.0
    """
    n = max(int(spec_tokens), 0)
    a = float(acceptance)
    if n == 0:
        return 1.0
    return float(n + 1) if a >= 1.0 else (1.0 - a ** (n + 1)) / (1.0 - a)


def decode_iteration_s(arch: tf.Arch, hw: Hardware, layout: Layout, *, batch: Any, context: Any,
                       prefill_tokens: Any = 0.0, prefill_context: Any = 0.0, spec_tokens: int = 0,
                       precision: str = "bf16", kv_bytes_per_value: float = 2.0,
                       cal: Calibration | None = None, prefill_skew: Any = 1.0,
                       dp_padding: bool = False) -> tuple[dict[str, np.ndarray], float]:
    """One decode iteration of ``batch`` sequences, with speculative drafts where asked.

    Parameters
    ----------
    batch : array_like
        Decoding sequences [1].
    context : array_like
        Mean context they attend to [tokens].
    prefill_tokens, prefill_context : array_like
        Prompt tokens prefilled in the same iteration and the keys each attends to [tokens].
    spec_tokens : int
        Draft tokens per sequence and iteration (0: no speculative decoding) [1].
    prefill_skew : array_like
        Busiest data-parallel attention rank's prefill over the mean (:func:`iteration_time_s`) [1].
    dp_padding : bool
        MoE tokens padded to the busiest attention rank's (:func:`iteration_time_s`).

    Returns
    -------
    tuple
        (:func:`iteration_time_s` parts with ``time_s`` including the drafts, tokens each
        sequence emits per iteration, :func:`spec_accepted_tokens`).

    Notes
    -----
    With ``n`` drafts the main model verifies ``1 + n`` tokens per sequence in one pass
    (their weights read once, their FLOPs and KV reads ``1 + n`` times), and the ``n``
    drafts come from ``n`` sequential passes of a one-layer MTP module with the output
    head (DeepSeek-V3 [5]_): ``t = t_main(B(1+n)) + n·(t_1layer(B) - t_0)``.
    """
    cal = cal or calibration_for(hw.chip)
    b = np.asarray(batch, dtype=float)
    n = max(int(spec_tokens), 0)
    common = dict(precision=precision, kv_bytes_per_value=kv_bytes_per_value, cal=cal)
    it = iteration_time_s(arch, hw, layout, decode_tokens=b * (1 + n), decode_context=context,
                          prefill_tokens=prefill_tokens, prefill_context=prefill_context, sequences=b,
                          prefill_skew=prefill_skew, dp_padding=dp_padding, **common)
    if n == 0:
        return it, 1.0
    mtp = arch.with_(layers=1, dense_layers=0, mtp_layers=0)
    draft = iteration_time_s(mtp, hw, layout, decode_tokens=b, decode_context=context, sequences=b, **common)
    extra = n * (draft["time_s"] - draft["overhead_s"])
    out = dict(it)
    out["time_s"] = it["time_s"] + extra
    out["spec_draft_s"] = extra
    return out, spec_accepted_tokens(n, cal.spec_acceptance)


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
        Speculative draft tokens per iteration (:func:`decode_iteration_s`) [1].

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
        MoE tokens padded to the busiest attention rank's (:func:`moe_dp_padding`).

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
    ``a`` tokens per iteration (:func:`spec_accepted_tokens`): TPOT ``t_iter / a``, throughput
    ``B·a / t_iter``. With data-parallel attention the iteration's prompts fall unevenly on
    the ranks (:func:`attention_dp_prefill_skew`), the busiest prefilling at most
    ``cal.prefill_chunk_tokens`` per iteration.
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
    spec_tokens : int
        Speculative draft tokens per iteration (DeepSeek MTP next-n layers; 0 none), accepted
        at ``cal.spec_acceptance`` each (:func:`decode_iteration_s`) [1].
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
        (:func:`moe_dp_padding`).

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


def moe_dp_padding(stack: str | None, precision: str, moe_backend: str | None = None) -> bool:
    """Whether a serving stack pads each data-parallel attention rank's tokens to the busiest rank's before MoE.

    Parameters
    ----------
    stack : str or None
        Serving software (``tensorrt-llm``, ``vllm``, ...).
    precision : str
        Weight precision of the routed experts.
    moe_backend : str, optional
        The engine's MoE kernel backend where published (``cutlass``, ``deepgemm``, ...);
        None is the stack's default (CUTLASS in TensorRT-LLM).

    Returns
    -------
    bool
        True for TensorRT-LLM with NVFP4 experts or a MoE backend other than CUTLASS.

    Notes
    -----
    Under attention data parallelism TensorRT-LLM's MoE modules gather every rank's tokens
    for the experts; where the experts take NVFP4 activations (quantized before the
    all-gather) or run outside the CUTLASS fused-MoE path, each rank first pads its tokens to
    ``max(all_rank_num_tokens)``, so the routed experts and their collectives process ``tp``
    times the busiest rank's count (TensorRT-LLM 1.0, ``tensorrt_llm/_torch/models/
    modeling_qwen3_moe.py`` and ``modeling_deepseekv3.py``, ``use_dp_padding``); the FP8
    CUTLASS path gathers the ranks' true counts. Other stacks: no padding assumed (none
    published).

    >>> moe_dp_padding("tensorrt-llm", "fp4"), moe_dp_padding("tensorrt-llm", "fp8")
    (True, False)
    >>> moe_dp_padding("tensorrt-llm", "fp8", "deepgemm"), moe_dp_padding("vllm", "fp4")
    (True, False)
    """
    if (stack or "").strip().lower() not in ("tensorrt-llm", "trtllm", "tensorrt_llm"):
        return False
    backend = (moe_backend or "cutlass").strip().lower()
    return precision.strip().lower() == "fp4" or backend != "cutlass"


def serving_calibration(chip: str, stack: str | None = None) -> Calibration:
    """The calibration of ``chip`` under the serving software ``stack`` (None: the chip's default).

    Passes ``stack`` to :func:`gigawatt.perf.calibration.calibration_for` as the serving stack;
    its fitted factors (``serving_scale`` of the family and stack, ``expert_scale``) then apply
    to every serving efficiency (:func:`gemm_time_s`, :func:`attention_time_s`).
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


def _serving_scale(cal: Calibration) -> float:
    """The fitted speed factor of the serving stack and chip family (1 where the calibration has none)."""
    return float(getattr(cal, "serving_scale", 1.0))


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
    (DistServe [6]_, Mooncake), so only this tail adds to TTFT, not to throughput.
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
    prefill chunks, so its TPOT holds at larger batches (DistServe [6]_, Splitwise [7]_).
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


def moe_layouts(arch: tf.Arch, ranks: int, tp: int) -> list[tuple[int, bool]]:
    """``(ep, attention_dp)`` pairs a serving engine offers for a pipeline stage of ``ranks`` chips.

    A dense model: ``(1, False)``. An MoE model also spreads its experts over the stage:
    every ``ep`` that divides both the expert count and ``ranks`` (the experts of one rank
    split over ``ranks/ep`` chips), with attention split by heads, or run data-parallel over
    the ranks (vLLM and SGLang data-parallel attention, TensorRT-LLM ``enable_attention_dp``),
    which keeps one copy of each sequence's KV cache where head-split attention copies the
    KV heads (or MLA's latent) that ``tp`` exceeds.

    >>> gqa = tf.Arch("moe", 4, 1024, 8, 8, 128, 4096, 1000, moe_experts=8, moe_active=2, moe_d_ff=1024)
    >>> moe_layouts(gqa, 8, 8)
    [(1, False), (2, False), (2, True), (4, False), (4, True), (8, False), (8, True)]
    >>> moe_layouts(gqa, 1, 1)
    [(1, False)]
    """
    if not arch.is_moe or ranks <= 1:
        return [(1, False)]
    out = [(1, False)]
    for e in range(2, int(ranks) + 1):
        if ranks % e == 0 and arch.moe_experts % e == 0:
            out += [(e, False)] + ([(e, True)] if tp > 1 else [])
    return out


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


def row_layout(row: dict[str, Any], arch: tf.Arch) -> tuple[Layout, bool]:
    """A serving row's replica layout, and whether its expert-parallel degree is to be searched.

    ``tp``, ``pp`` and ``ep`` as published; with ``attention_dp`` 1 the stage is the
    ``max(tp, ep)`` ranks that run attention data-parallel and share the experts (TensorRT-LLM
    lists ``--tp 8 --ep 8`` with attention DP as attention TP 1). An MoE row with no ``ep``
    (the source does not publish it) is searched over the degrees the engine offers
    (:func:`moe_layouts`), as the backtest searches a training row's missing layout.
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
    (``kv_precision``, else the note, else :func:`default_kv_bytes_per_value`), speculative
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
