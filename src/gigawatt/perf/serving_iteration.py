"""One engine iteration of a serving replica: its weights and KV cache, and the roofline of its time.

One *replica* is the group of ``tp·pp`` chips that holds one copy of the
weights; a system of ``n_chips`` runs ``n_chips / (tp·pp)`` replicas. Times
come from a roofline per engine iteration, in the spirit of Vidur [1]_ and
GenZ [2]_: an iteration reads the weights it touches and the KV cache of its
batch from HBM, and does the FLOPs of its decode tokens and of the prompt
tokens it prefills; it takes the larger of the two times at the chip's
calibrated efficiencies, plus the tensor-parallel all-reduces (two per layer)
and a fixed engine overhead (and one per MoE layer).

MoE models add the routed experts' grouped GEMMs at the rows each expert receives, the
busiest expert-parallel rank's share, the token permutation and the all-to-alls
(:func:`gemm_time_s`, :func:`iteration_comm_s`, with the terms of
:mod:`gigawatt.perf.moe_serving`); MLA models cache their latent
(:func:`gigawatt.perf.transformer.kv_cache_bytes_per_token`), and data-parallel attention
keeps one copy of it per sequence; pipeline stages share compute but reread their weights
every step; speculative drafts add to a decode iteration (:func:`decode_iteration_s`).

What a replica holds: the weights at a precision (:func:`weight_bytes`) and the KV cache left
after them (:func:`kv_capacity_tokens`). What an iteration takes: :func:`iteration_time_s`
(stages :func:`gemm_time_s`, :func:`attention_time_s`, :func:`iteration_comm_s`), and for a
prefill or a decode step :func:`prefill_time_s`, :func:`decode_step_time_s`,
:func:`decode_iteration_s`. The batches and regimes a system serves at are in
:mod:`gigawatt.perf.inference`.

References
----------
.. [1] A. Agrawal et al., "Vidur: A Large-Scale Simulation Framework for LLM
   Inference", MLSys 2024.
.. [2] A. Bambhaniya et al., "Demystifying Platform Requirements for Diverse
   LLM Inference Use Cases" (GenZ), 2024.
.. [3] W. Kwon et al., "Efficient Memory Management for Large Language Model
   Serving with PagedAttention" (vLLM), SOSP 2023.
.. [4] DeepSeek-AI, "DeepSeek-V3 Technical Report", arXiv:2412.19437, 2024 (sec. 2.2
   multi-token prediction, sec. 3.4 inference deployment with expert parallelism and
   data-parallel attention, sec. 5.4.3 MTP acceptance).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gigawatt.perf import transformer as tf
from gigawatt.perf.calibration import Calibration, calibration_for
from gigawatt.perf.hardware import Hardware
from gigawatt.perf.layout import Layout
from gigawatt.perf.moe_serving import (attention_idle_factor, attention_sharding, dense_precision,
                                       expert_alltoall_time_s, expert_gemm_efficiency, mla_decode_attention_flops,
                                       moe_permute_bytes, routed_expert_params_active, spec_accepted_tokens)
from gigawatt.perf.training import gemm_efficiency

__all__ = [
    "BYTES_PER_PARAM",
    "DEFAULT_BYTES_PER_PARAM",
    "bytes_per_param",
    "default_kv_bytes_per_value",
    "weight_bytes",
    "kv_capacity_tokens",
    "gemm_time_s",
    "attention_time_s",
    "iteration_comm_s",
    "iteration_time_s",
    "prefill_time_s",
    "decode_step_time_s",
    "decode_iteration_s",
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
    """Bytes of all weights at ``precision`` (embeddings at 16 bit; see
    :func:`~gigawatt.perf.moe_serving.dense_precision`) [B].
    """
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
    _, kv_factor, _, extra = attention_sharding(arch, tp, attention_dp)
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


def _serving_scale(cal: Calibration) -> float:
    """The fitted speed factor of the serving stack and chip family (1 where the calibration has none)."""
    return float(getattr(cal, "serving_scale", 1.0))


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
        :func:`~gigawatt.perf.moe_serving.attention_idle_factor` [1].
    ep : int
        Expert-parallel degree over the ``tp`` chips of a stage (MoE) [1].
    microbatches : array_like, optional
        Micro-batches in flight through the ``pp`` stages, at most ``pp`` (default ``pp``) [1].

    Returns
    -------
    tuple of ndarray
        ``(dense, expert)`` times [s], each the larger of its compute and weight-read time;
        ``expert`` adds the routing traffic (:func:`~gigawatt.perf.moe_serving.moe_permute_bytes`).

    Notes
    -----
    Dense GEMMs (attention projections, dense and shared-expert FFNs, output head):
    ``max(n·2(N_d + N_pad + A·(idle-1)) / (chips·peak·e_mm·e_serve), W_d / (chips·HBM·e_hbm))``
    with ``e_mm`` of :func:`gigawatt.perf.training.gemm_efficiency` at width ``d/tp``.
    Routed experts: ``max(f_imb·n·2·N_e / (chips·peak·e_exp), W_e,touched / (chips·HBM·e_hbm))
    + permute / (chips·HBM·e_hbm)``, with ``e_exp`` of :func:`~gigawatt.perf.moe_serving.expert_gemm_efficiency`, the
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
    _, _, extra_params, extra_weights = attention_sharding(arch, tp, attention_dp)
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
        :func:`~gigawatt.perf.moe_serving.attention_idle_factor` [1].
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
    MLA decodes against its latent cache directly (:func:`~gigawatt.perf.moe_serving.mla_decode_attention_flops`), so a
    decode token's FLOPs per cached position are those of the latent, not of the heads.
    """
    chips = tp * np.clip(np.asarray(pp if microbatches is None else microbatches, dtype=float), 1.0, float(pp))
    q_factor, kv_factor, _, _ = attention_sharding(arch, tp, attention_dp)
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
    all-to-alls (:func:`~gigawatt.perf.moe_serving.expert_alltoall_time_s`); each of ``pp - 1`` stage
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
        comm = comm + expert_alltoall_time_s(arch, hw, cal, ep=ep, tokens=tokens)
    if pp > 1:
        comm = comm + (pp - 1) * (cal.collective_latency_s + tokens * arch.d_model * 2.0 / hw.scaleout_bw_bytes_per_s)
    return comm


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
        (:func:`~gigawatt.perf.moe_serving.attention_dp_prefill_skew`): the dense GEMMs and
        attention of the prompt tokens run at the busiest rank's count; the routed experts see
        every rank's [1].
    dp_padding : bool
        With ``attention_dp``, every rank pads its tokens to the busiest rank's count before
        the MoE layers (:func:`~gigawatt.perf.moe_serving.moe_dp_padding`), so the routed
        experts and the expert-parallel collectives run on ``tp`` times the busiest rank's tokens.

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
        sequence emits per iteration, :func:`~gigawatt.perf.moe_serving.spec_accepted_tokens`).

    Notes
    -----
    With ``n`` drafts the main model verifies ``1 + n`` tokens per sequence in one pass
    (their weights read once, their FLOPs and KV reads ``1 + n`` times), and the ``n``
    drafts come from ``n`` sequential passes of a one-layer MTP module with the output
    head (DeepSeek-V3 [4]_): ``t = t_main(B(1+n)) + n·(t_1layer(B) - t_0)``.
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
