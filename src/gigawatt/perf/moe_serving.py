"""What mixture-of-experts and MLA models, and the engines that serve them, add to a serving iteration.

The terms the roofline of one engine iteration (:mod:`gigawatt.perf.serving_iteration`)
takes from a model that routes its tokens to experts or caches a latent, and the layouts
serving engines run such models in:

- routed experts: the parameters a token uses (:func:`routed_expert_params_active`), the
  grouped GEMMs' efficiency at the rows each expert receives (:func:`expert_gemm_efficiency`),
  the token permutation (:func:`moe_permute_bytes`), the expert-parallel all-to-alls
  (:func:`expert_alltoall_time_s`) and FP4 checkpoints' FP8 layers outside the experts
  (:func:`dense_precision`); the busiest expert-parallel rank's load is
  :func:`gigawatt.perf.transformer.expert_load_imbalance`;
- data-parallel attention (DeepSeek-V3 [4]_, sec. 3.4): how a replica splits its attention
  (:func:`attention_sharding`), the ranks that idle with few sequences
  (:func:`attention_idle_factor`), the busiest rank's prefill
  (:func:`attention_dp_prefill_skew`) and the padding some engines apply before the MoE
  layers (:func:`moe_dp_padding`);
- MLA's absorbed decode attention against its latent cache (:func:`mla_decode_attention_flops`);
- multi-token prediction and speculative decoding: the tokens a sequence emits per iteration
  (:func:`spec_accepted_tokens`);
- the expert-parallel and data-parallel-attention layouts an engine offers for a pipeline
  stage (:func:`moe_layouts`).

References
----------
.. [1] A. Agrawal et al., "Vidur: A Large-Scale Simulation Framework for LLM
   Inference", MLSys 2024.
.. [2] A. Bambhaniya et al., "Demystifying Platform Requirements for Diverse
   LLM Inference Use Cases" (GenZ), 2024.
.. [3] Y. Leviathan, M. Kalman, Y. Matias, "Fast Inference from Transformers via
   Speculative Decoding", ICML 2023.
.. [4] DeepSeek-AI, "DeepSeek-V3 Technical Report", arXiv:2412.19437, 2024 (sec. 2.2
   multi-token prediction, sec. 3.4 inference deployment with expert parallelism and
   data-parallel attention, sec. 5.4.3 MTP acceptance).
.. [5] DeepSeek-AI, "DeepSeek-V2: A Strong, Economical, and Efficient Mixture-of-Experts
   Language Model", arXiv:2405.04434, 2024.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gigawatt.perf import transformer as tf
from gigawatt.perf.calibration import Calibration
from gigawatt.perf.hardware import Hardware
from gigawatt.perf.training import alltoall_time_s

__all__ = [
    "dense_precision",
    "routed_expert_params_active",
    "expert_gemm_efficiency",
    "moe_permute_bytes",
    "expert_alltoall_time_s",
    "attention_sharding",
    "attention_idle_factor",
    "attention_dp_prefill_skew",
    "moe_dp_padding",
    "mla_decode_attention_flops",
    "spec_accepted_tokens",
    "moe_layouts",
]


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
            * cal.serving_eff_ratio * float(getattr(cal, "serving_scale", 1.0))
            * float(getattr(cal, "expert_scale", 1.0)))


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


def expert_alltoall_time_s(arch: tf.Arch, hw: Hardware, cal: Calibration, *, ep: int, tokens: Any) -> np.ndarray:
    """Dispatch and combine all-to-alls of the MoE layers of one iteration of a replica [s].

    Parameters
    ----------
    arch : Arch
        Model architecture (MoE).
    hw : Hardware
        Chip in its system.
    cal : Calibration
        Coefficients of the chip.
    ep : int
        Expert-parallel degree, more than 1 [1].
    tokens : ndarray
        Tokens of the iteration [tokens].

    Returns
    -------
    ndarray
        ``L_moe · t_a2a(2·n/ep·k·d·2 B·(ep-1)/ep, ep)`` [s].

    Notes
    -----
    Each MoE layer dispatches every token's ``k`` copies of its ``d`` values (16 bit) to the
    ranks that hold the chosen experts and combines the ``k`` outputs back: a chip holds
    ``n/ep`` of the iteration's tokens and ``(ep-1)/ep`` of their copies leave it, in two
    all-to-all calls per layer (:func:`gigawatt.perf.training.alltoall_time_s`).
    """
    # dispatch and combine of each MoE layer: tokens/ep per chip, k copies of h values, (ep-1)/ep leave the chip
    a2a_bytes = 2.0 * tokens / ep * arch.moe_active * arch.d_model * 2.0 * (ep - 1) / ep
    return arch.moe_layers * alltoall_time_s(a2a_bytes, ep, hw, cal, n_calls=2)


def attention_sharding(arch: tf.Arch, tp: int, attention_dp: bool) -> tuple[float, float, float, float]:
    """(query-head factor, KV factor, extra GEMM parameters, extra weight parameters) of a replica [1].

    Tensor-parallel attention pads heads and copies KV heads
    (:func:`gigawatt.perf.transformer.tp_head_sharding`); the padded and copied
    projections are both computed and stored. Data-parallel attention (each rank runs
    whole sequences, as engines do for MoE models with expert parallelism) splits
    nothing: every rank stores all attention weights, ``(tp-1)`` extra copies, and
    computes them only for its own sequences.

    Parameters
    ----------
    arch : Arch
        Model architecture.
    tp : int
        Tensor parallel degree of the replica: the attention ranks [1].
    attention_dp : bool
        Attention data-parallel over the ``tp`` ranks.
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


def mla_decode_attention_flops(arch: tf.Arch) -> float:
    """FLOPs of one decode token against one cached position under MLA's absorbed attention, all layers [FLOP].

    Notes
    -----
    In decode, engines fold MLA's key and value up-projections into the query and output
    projections and attend to the latent cache itself (DeepSeek-V2 [5]_ sec. 2.1.3; FlashMLA):
    each head scores ``c + r`` values (latent and RoPE key) and sums ``c`` latent values per
    position, ``2·L·H·(2c + r)``, against ``2·L·H·(d_qk + d_v)`` for head-sized keys and values.
    Prefill up-projects the prompt's keys and values and attends at head size.

    >>> a = tf.Arch("ds", 61, 7168, 128, 128, 128, 18432, 129280, attention="mla", kv_lora_rank=512,
    ...             qk_rope_head_dim=64, qk_nope_head_dim=128, v_head_dim=128)
    >>> mla_decode_attention_flops(a) / 1e6
    16.990208
    """
    return float(2.0 * arch.layers * arch.n_heads * (2.0 * arch.kv_lora_rank + arch.qk_rope_head_dim))


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
    expected emitted tokens are ``Σ_{i=0..n} α^i`` (Leviathan et al. 2023 [3]_, eq. 1).

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
