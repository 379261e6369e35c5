"""Training step time, memory per chip, tokens/s and MFU.

:func:`training_step` takes an architecture, a chip in its system, a
calibration and a parallel layout; every layout argument may be a numpy array,
so the same function evaluates one layout or millions of them at once (see
:mod:`gigawatt.perf.search`).

The model follows Megatron-LM [1]_ and Calculon [2]_: one step runs
``m = B / (dp·mb)`` micro-batches through ``pp`` pipeline stages with the
1F1B schedule (``vpp`` virtual stages per chip); a micro-batch costs its
compute plus the exposed tensor-, context- and expert-parallel communication;
the pipeline adds ``(pp-1)/vpp`` micro-batch times of bubble; gradient
synchronisation over data parallelism (ZeRO-1, or FSDP) is exposed where the
backward pass cannot hide it; the optimizer step streams its state through HBM.
Each collective runs on the tier its group spans: the scale-up links when the
group fits in one scale-up domain, the network otherwise.

References
----------
.. [1] D. Narayanan et al., "Efficient Large-Scale Language Model Training on GPU
   Clusters Using Megatron-LM", SC'21 (pipeline bubble (p-1)/(v·m), eq. 3).
.. [2] M. Isaev et al., "Calculon: a Methodology and Tool for High-Level
   Co-Design of Systems and Large Language Models", SC'23.
.. [3] V. Korthikanti et al., "Reducing Activation Recomputation in Large
   Transformer Models", 2022.
.. [4] A. Grattafiori et al., "The Llama 3 Herd of Models", 2024, section 3.3.
.. [5] P. Qi et al., "Zero Bubble Pipeline Parallelism", ICLR 2024 (ZB-H1: bubble
   (p-1)(T_F + T_B - T_W) at 1F1B's activation memory).
.. [6] DeepSeek-AI, "DeepSeek-V3 Technical Report", 2024, section 3.2.1 and table 2 (DualPipe:
   bubble (p/2-1)(T_F&B + T_B - 3T_W), 2x parameters, p+1 micro-batches of activations,
   all-to-all hidden behind computation).
.. [7] D. Liu et al., "MoE Parallel Folding: Heterogeneous Parallelism Mappings for Efficient
   Large-Scale MoE Model Training with Megatron Core", arXiv:2504.14960, 2025 (expert layers
   laid out ETP x EP x EDP over the attention's TP x CP x DP ranks).
.. [8] NVIDIA Transformer Engine, ``GroupedLinear`` (``transformer_engine/pytorch/module/grouped_linear.py``):
   one GEMM per local expert, issued over several CUDA streams; Megatron-Core's dropless
   all-to-all dispatcher copies the tokens per expert to the host (MoE README, "CUDA graph"
   and "moe_pad_expert_input_to_capacity" notes).
.. [9] Megatron-Core MoE README (github.com/NVIDIA/Megatron-LM, megatron/core/transformer/moe),
   MCore v0.14: batch-level overlapping to hide the EP all-to-all
   (``--overlap-moe-expert-parallel-comm --delay-wgrad-compute``), the forward of one
   micro-batch run beside the backward of another.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gigawatt.perf import transformer as tf
from gigawatt.perf.calibration import Calibration, calibration_for
from gigawatt.perf.hardware import Hardware
from gigawatt.perf.layout import SCHEDULES, Layout

__all__ = [
    "gemm_efficiency",
    "pipeline_bubble_fraction",
    "collective_time_s",
    "alltoall_time_s",
    "expert_alltoall_s",
    "expert_launch_time_s",
    "exposed_expert_alltoall_s",
    "grouped_gemm_efficiency",
    "router_imbalance_factor",
    "training_peak_eff",
    "layer_time_parts",
    "DUALPIPE_COMM_SM_SHARE",
    "training_step",
    "memory_per_chip_bytes",
    "flops_per_token_by_kernel",
    "gemm_efficiencies",
    "elementwise_hbm_bytes",
    "layers_time_s",
    "output_head_time_s",
    "microbatch_comm_s",
    "gradient_sync_time_s",
    "exposed_gradient_sync_s",
    "optimizer_time_s",
    "pipeline_bubble_s",
    "RECOMPUTE",
    "SCHEDULES",
]

RECOMPUTE = tf.RECOMPUTE_CODES

#: pipeline schedules (:data:`gigawatt.perf.layout.SCHEDULES`): 1F1B (interleaved with virtual
#: stages) [1]_, zero-bubble ZB-H1 [5]_, DualPipe [6]_

#: bytes per parameter held by mixed-precision Adam: bf16 weight, fp32 gradient,
#: fp32 master weight and two moments (Megatron distributed optimizer).
WEIGHT_BYTES = 2.0
GRAD_BYTES = 4.0
OPTIMIZER_BYTES = 12.0

#: HBM traffic of the loss per vocabulary entry per token [B]: the 16-bit logits written and
#: read back as fp32 for the max and the sum of exponentials, the softmax kept for the backward
#: pass and the gradient written (Megatron's vocabulary-parallel cross-entropy); an estimate
#: from the kernel's passes, not fitted
LOGITS_BYTES_PER_ENTRY = 16.0

#: HBM traffic of the optimizer step per locally owned parameter [B]: Adam reads and writes the
#: fp32 master weight and two moments, reads the fp32 gradient and writes the bf16 weight
#: (4·3·2 + 4 + 2 = 30, rounded up for the update's temporaries); an estimate, not fitted
OPTIMIZER_TRAFFIC_BYTES = 32.0


def gemm_efficiency(width: Any, tokens: Any, peak_eff: float, half_width: float, half_tokens: float) -> np.ndarray:
    """Achieved fraction of peak of a GEMM with ``width`` columns and ``tokens`` rows [1].

    Parameters
    ----------
    width : array_like
        Smaller weight dimension of the GEMM on one chip, e.g. ``d_model / tp`` [1].
    tokens : array_like
        Rows of the GEMM (tokens of a micro-batch on one chip) [tokens].
    peak_eff : float
        Efficiency of a very large GEMM [1].
    half_width, half_tokens : float
        Sizes at which each factor halves [1], [tokens].

    Notes
    -----
    ``eff = e_max · w/(w + w_½) · n/(n + n_½)``: small GEMMs fill fewer tiles
    and spend more of their time in prologue and epilogue (a saturating fit in
    the spirit of Calculon's per-size efficiency tables [2]_).
    """
    w = np.asarray(width, dtype=float)
    n = np.asarray(tokens, dtype=float)
    return peak_eff * w / (w + half_width) * n / (n + half_tokens)


def training_peak_eff(cal: Calibration, precision: str) -> float:
    """Largest fraction of the ``precision`` peak a training GEMM reaches [1].

    The family's prior (:meth:`Calibration.matmul_peak_eff`) times the fitted precision factor
    (``fp8_scale``, ``fp4_scale``) for low-precision GEMMs.

    >>> training_peak_eff(Calibration(matmul_eff_fp8=0.6, fp8_scale=0.9), "fp8")
    0.54
    """
    p = precision.lower()
    scale = cal.fp8_scale if p in ("fp8", "mxfp8") else (cal.fp4_scale if p == "fp4" else 1.0)
    return cal.matmul_peak_eff(p) * scale


def grouped_gemm_efficiency(width: Any, tokens_per_expert: Any, peak_eff: float, cal: Calibration) -> np.ndarray:
    """Achieved fraction of peak of the routed experts' grouped GEMMs [1].

    Parameters
    ----------
    width : array_like
        Smaller side of one expert's weight on one chip, ``min(d_ff_expert/etp, d)`` [1].
    tokens_per_expert : array_like
        Rows each expert's GEMM gets in one micro-batch, ``n·k/E`` [tokens].
    peak_eff : float
        Efficiency of a very large GEMM at the run's precision [1].
    cal : Calibration
        ``expert_half_width``, ``matmul_half_tokens`` and the fitted ``expert_scale``.

    Notes
    -----
    ``eff = e_max·f_exp·w/(w + w_½,exp)·n_e/(n_e + n_½)``: small experts and few tokens per
    expert fill fewer tiles, and grouped GEMMs pay token permutation and padding to the tile
    (``w_½,exp`` larger than a dense GEMM's); ``f_exp`` is the fitted expert factor of the
    stack (MegaBlocks, Gale et al. 2023, measures the same fall of grouped-GEMM efficiency at
    small per-expert batch).

    Examples
    --------
    >>> cal = Calibration(expert_half_width=2048.0, matmul_half_tokens=64.0)
    >>> round(float(grouped_gemm_efficiency(2048, 4096, 0.7, cal)), 3), round(float(grouped_gemm_efficiency(768, 256, 0.7, cal)), 3)
    (0.345, 0.153)
    """
    return gemm_efficiency(width, tokens_per_expert, peak_eff * cal.expert_scale, cal.expert_half_width,
                           cal.matmul_half_tokens)


def router_imbalance_factor(assignments_per_rank: Any, ep: Any, skew: float = 1.0) -> np.ndarray:
    """Load of the busiest expert-parallel rank over the mean load [1].

    Parameters
    ----------
    assignments_per_rank : array_like
        Mean token-to-expert assignments one rank's experts receive per micro-batch,
        ``n_group·k/ep`` [1].
    ep : array_like
        Expert-parallel degree [1].
    skew : float
        The router's skew beyond sampling noise, as a multiple of it (Calibration
        ``router_imbalance``; 1: a balanced router's multinomial noise alone) [1].

    Notes
    -----
    With balanced routing each rank's load is about Poisson with mean ``μ``; the largest of
    ``ep`` such loads exceeds the mean by about ``sqrt(2 ln ep · μ)`` (the Gaussian maximum),
    so ``f = 1 + s·sqrt(2 ln(ep)/μ)``. Every rank waits for the busiest at the next
    all-to-all.

    Examples
    --------
    >>> round(float(router_imbalance_factor(1024, 8)), 4), float(router_imbalance_factor(1024, 1))
    (1.0637, 1.0)
    """
    mu = np.maximum(np.asarray(assignments_per_rank, dtype=float), 1.0)
    e = np.maximum(np.asarray(ep, dtype=float), 1.0)
    return 1.0 + skew * np.sqrt(2.0 * np.log(e) / mu)


def expert_alltoall_s(arch: tf.Arch, hw: Hardware, cal: Calibration, *, tokens_mb: Any, tp: Any, ep: Any,
                      moe_layers: Any, etp: Any = None) -> np.ndarray:
    """Expert-parallel all-to-all time of one micro-batch over ``moe_layers`` MoE layers [s].

    Parameters
    ----------
    arch : Arch
        Model architecture.
    hw : Hardware
        Chip in its system (``chips_per_scaleup``: the tier split).
    cal : Calibration
        Coefficients of the chip.
    tokens_mb : array_like
        Tokens of one micro-batch on one chip [tokens].
    tp, ep : array_like
        Tensor and expert parallel degrees [1].
    moe_layers : array_like
        MoE layers of the stage [1].
    etp : array_like or None
        Tensor parallelism of the experts; None: 1 with expert parallelism, else ``tp`` [1].

    Notes
    -----
    Four all-to-alls per MoE layer (dispatch and combine, forward and backward), each rank
    sending its sequence-parallel share ``tokens_mb/tp`` of the tokens. The expert-parallel
    group spans ``etp·ep`` consecutive chips: Megatron-Core's MoE parallel folding [7]_ orders
    the expert layers' ranks expert-TP first, then EP, over the same chips as the attention's
    TP and DP, so with ``etp = 1`` the ``ep`` peers are neighbours, not ``tp`` apart (without
    folding, ``etp = tp``, the span is ``tp·ep`` as before). Peers within the scale-up domain
    go over its links, the rest over the network, both tiers at once (:func:`alltoall_time_s`):
    a group inside one NVLink domain is bound by NVLink, a group across domains by the
    network share ``1 - S/span`` of its traffic.
    """
    ep = np.asarray(ep, dtype=float)
    ep_bytes = tf.ep_alltoall_bytes_per_layer(arch, tokens_mb / tp, ep) * moe_layers
    span = _expert_tp(np.asarray(tp, dtype=float), ep, etp) * ep
    return alltoall_time_s(ep_bytes, span, hw, cal, n_calls=np.where(ep > 1, 4.0 * moe_layers, 0.0))


def exposed_expert_alltoall_s(ep_s: Any, compute_mb_s: Any, schedule: Any, ep_overlap: float,
                              a2a_overlap: Any = False) -> np.ndarray:
    """The part of the expert all-to-all compute does not hide [s].

    Parameters
    ----------
    ep_s : array_like
        All-to-all time of one micro-batch (:func:`expert_alltoall_s`) [s].
    compute_mb_s : array_like
        Compute time of one micro-batch on one stage [s].
    schedule : array_like
        Schedule code; DualPipe overlaps each chunk's all-to-all with the other direction's
        computation [6]_.
    ep_overlap : float
        Share hidden by other schedules (Calibration ``ep_overlap``) [1].
    a2a_overlap : array_like of bool
        The stack pairs micro-batches as DualPipe does under 1F1B (Calibration
        ``ep_a2a_overlap``: Megatron-Core's batch-level EP overlap [9]_).

    Notes
    -----
    DualPipe, or 1F1B with batch-level overlap: ``max(0, t_a2a - t_compute)``, all hidden
    while the paired micro-batch's compute is longer; otherwise ``t_a2a·(1 - o_ep)``.

    >>> float(exposed_expert_alltoall_s(1.0, 0.75, 2, 0.3)), float(exposed_expert_alltoall_s(1.0, 0.75, 0, 0.3))
    (0.25, 0.7)
    """
    ep_s = np.asarray(ep_s, dtype=float)
    paired = (np.asarray(schedule) == SCHEDULES["dualpipe"]) | np.asarray(a2a_overlap, dtype=bool)
    return np.where(paired, np.maximum(ep_s - np.asarray(compute_mb_s), 0.0), ep_s * (1.0 - ep_overlap))


def expert_launch_time_s(arch: tf.Arch, cal: Calibration, *, ep: Any, pp: Any) -> np.ndarray:
    """Host-bound time of the per-expert kernels of one micro-batch on one stage, forward and backward [s].

    Parameters
    ----------
    arch : Arch
        Model architecture (``moe_experts``, ``moe_layers``).
    cal : Calibration
        ``expert_launch_s``: host time of one local expert's kernels in one MoE layer's
        forward and backward pass (0 for a stack that compiles the step).
    ep, pp : array_like
        Expert- and pipeline-parallel degrees [1].

    Notes
    -----
    ``t = c_launch·(E/ep)·(L_moe/pp)``. An eager PyTorch stack runs a rank's grouped GEMM as
    a loop of per-expert GEMMs on several streams (Transformer Engine's default on Hopper
    [8]_), each with its own low-precision casts, and a dropless all-to-all dispatcher waits on
    the host for the tokens per expert before it can size them: once per MoE layer and
    direction the GPU idles until the host has launched every local expert's kernels. The
    time grows with the experts a rank holds, not with their tokens, so it is a large share
    of a step of many small experts and a negligible one of a few large ones.

    The time is added to the step, not hidden under the expert GEMMs' own GPU time: after the
    dispatcher's host synchronization the GPU's queue is empty, and the same 8 B200 running
    Qwen3-30B-A3B token-drop (Megatron-Bridge 25.09, no synchronization) and dropless (25.11)
    differ by ~0.27 ms per local expert and layer on top of the whole step, not by the excess of
    host over kernel time. A form that hides the host's time under the expert GEMMs,
    ``max(0, c·n - t_expert)``, needs ``c`` ~0.65 ms to fit the Megatron rows, twice the
    kernel-count estimate, and leaves them 65-86% fast held out.

    >>> from gigawatt.perf.transformer import Arch
    >>> a = Arch("m", 4, 1024, 8, 8, 128, 512, 1000, moe_experts=64, moe_active=4, moe_d_ff=512)
    >>> round(float(expert_launch_time_s(a, Calibration(expert_launch_s=1e-4), ep=8, pp=2)), 6)
    0.0016
    """
    if not arch.is_moe:
        return np.zeros_like(np.asarray(ep, dtype=float) * np.asarray(pp, dtype=float))
    local = arch.moe_experts / np.maximum(np.asarray(ep, dtype=float), 1.0)
    return cal.expert_launch_s * local * arch.moe_layers / np.asarray(pp, dtype=float)


#: share of the streaming multiprocessors a DualPipe-style schedule gives to communication kernels
#: while they overlap compute: DeepSeek-V3 dedicates 20 of the H800's 132 SMs to all-to-all
#: dispatch and combine [6]_ (sec. 3.2.2); compute runs on the rest
DUALPIPE_COMM_SM_SHARE = 20.0 / 132.0


def pipeline_bubble_fraction(pp: Any, n_microbatches: Any, vpp: Any = 1) -> np.ndarray:
    """Pipeline bubble as a fraction of the ideal step time, ``(p-1)/(v·m)`` [1].

    Examples
    --------
    >>> float(pipeline_bubble_fraction(8, 32, 1))
    0.21875
    """
    return (np.asarray(pp, dtype=float) - 1.0) / (np.asarray(vpp, dtype=float) * np.asarray(n_microbatches, dtype=float))


def collective_time_s(bytes_per_chip: Any, group_span: Any, hw: Hardware, cal: Calibration, n_calls: Any = 1,
                      group_size: Any = None) -> np.ndarray:
    """Time for collectives that send ``bytes_per_chip`` over the tier the group spans [s].

    Parameters
    ----------
    bytes_per_chip : array_like
        Bytes each chip sends in a flat ring [B].
    group_span : array_like
        Consecutive chips the group covers (size × stride) [1].
    n_calls : array_like
        Number of collective calls, each paying the latency once [1].
    group_size : array_like, optional
        Chips in the group; with it, a group that spans several scale-up domains with
        ``g`` members in each runs hierarchically [1].

    Notes
    -----
    Inside one scale-up domain (``span ≤ S``): ``t = bytes / bw_up``. Across domains a
    hierarchical all-reduce (NCCL's tree and NVLS paths; the TPU ICI-then-DCN split)
    reduce-scatters inside each domain, sends only the ``1/g`` share each chip then
    owns over the network, and all-gathers inside again:
    ``t = bytes·(g-1)/g / bw_up + bytes/g / bw_out``, with ``g = min(N, S·N/span)``
    members of the ``N``-chip group per domain (``g = 1``, a flat ring over the
    network, without ``group_size``). Each call adds the latency once.
    """
    span = np.asarray(group_span, dtype=float)
    up = hw.scaleup_bw_one_way_bytes_per_s * cal.scaleup_eff
    out = hw.scaleout_bw_bytes_per_s * cal.scaleout_eff
    b = np.asarray(bytes_per_chip, dtype=float)
    if group_size is None:
        g = np.ones_like(span)
    else:
        n = np.maximum(np.asarray(group_size, dtype=float), 1.0)
        g = np.clip(hw.chips_per_scaleup * n / np.maximum(span, 1.0), 1.0, n)
    t = np.where(span <= hw.chips_per_scaleup, b / up, b * (g - 1.0) / g / up + b / g / out)
    return np.where(b > 0, t + np.asarray(n_calls, dtype=float) * cal.collective_latency_s, 0.0)


def alltoall_time_s(bytes_per_chip: Any, group_span: Any, hw: Hardware, cal: Calibration, n_calls: Any = 1) -> np.ndarray:
    """Time of all-to-alls whose peers are spread evenly over ``group_span`` chips [s].

    Notes
    -----
    A share ``min(1, S/span)`` of the traffic stays in the scale-up domain of
    ``S`` chips; the two tiers run concurrently, so
    ``t = max(b·f_in / bw_up, b·(1-f_in) / bw_out) + n_calls·latency``.
    """
    span = np.maximum(np.asarray(group_span, dtype=float), 1.0)
    f_in = np.minimum(1.0, hw.chips_per_scaleup / span)
    b = np.asarray(bytes_per_chip, dtype=float)
    up = hw.scaleup_bw_one_way_bytes_per_s * cal.scaleup_eff
    out = hw.scaleout_bw_bytes_per_s * cal.scaleout_eff
    t = np.maximum(b * f_in / up, b * (1.0 - f_in) / out)
    return np.where(b > 0, t + np.asarray(n_calls, dtype=float) * cal.collective_latency_s, 0.0)


def _expert_tp(tp: np.ndarray, ep: np.ndarray, etp: Any) -> np.ndarray:
    """Tensor parallelism of the experts: given, else 1 with expert parallelism and ``tp`` without."""
    if etp is None:
        return np.where(ep > 1, 1.0, tp)
    return np.asarray(etp, dtype=float)


def _params_per_chip(arch: tf.Arch, tp: np.ndarray, pp: np.ndarray, ep: np.ndarray,
                     etp: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """(dense, expert) parameters one chip holds before ZeRO/FSDP sharding [1]."""
    dense = (arch.params_total - arch.expert_params) / (tp * pp)
    expert = arch.expert_params / (ep * _expert_tp(tp, ep, etp) * pp)
    return dense, expert


def _sharded_params(arch: tf.Arch, tp: np.ndarray, pp: np.ndarray, cp: np.ndarray, ep: np.ndarray, etp: Any,
                    dp: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(dense, expert) parameters one chip holds and the (dense, expert) data-parallel groups over them [1].

    Dense parameters are replicated over ``dp·cp`` chips; expert parameters over the
    ``dp·cp·tp / (ep·etp)`` chips left once experts are carved out (at least 1).
    """
    dense, expert = _params_per_chip(arch, tp, pp, ep, etp)
    dense_dp = dp * cp
    expert_dp = np.maximum(dp * cp * tp / (ep * _expert_tp(tp, ep, etp)), 1.0)
    return dense, expert, dense_dp, expert_dp


def memory_per_chip_bytes(arch: tf.Arch, layout: Layout, *, seq_len: Any, n_microbatches: Any = 1) -> np.ndarray:
    """Bytes of HBM one chip needs: weights, gradients, optimizer state, activations [B].

    Notes
    -----
    Weights 2 B, gradients 4 B and Adam state 12 B per parameter; ZeRO-1 shards
    the optimizer state over data parallelism, FSDP shards all three.
    Activations of the 1F1B schedule: the first stage holds ``min(m, pp)``
    micro-batches of its ``L/pp`` layers, times ``1 + (pp-1)/(pp·v)`` with
    interleaving [1]_ [3]_; plus the fp32 logits of one micro-batch. Zero-bubble ZB-H1 [5]_
    keeps 1F1B's memory; DualPipe [6]_ holds two copies of the stage's weights and gradients
    and ``pp + 1`` micro-batches of activations.
    """
    lay = layout.complete()
    dp = 1 if lay.dp is None else lay.dp
    tp, pp, dp, ep, cp, vpp, mb, m = (np.asarray(x, dtype=float) for x in (lay.tp, lay.pp, dp, lay.ep, lay.cp, lay.vpp,
                                                                             lay.micro_batch, n_microbatches))
    fsdp = np.asarray(lay.fsdp, dtype=bool)
    etp, recompute = lay.etp, lay.recompute
    dense, expert, dense_dp, expert_dp = _sharded_params(arch, tp, pp, cp, ep, etp, dp)
    shard_dense = np.where(fsdp, dense_dp, 1.0)
    shard_expert = np.where(fsdp, expert_dp, 1.0)
    sch = np.asarray(lay.schedule)
    copies = np.where(sch == SCHEDULES["dualpipe"], 2.0, 1.0)
    states = copies * (WEIGHT_BYTES + GRAD_BYTES) * (dense / shard_dense + expert / shard_expert)
    states = states + OPTIMIZER_BYTES * (dense / dense_dp + expert / expert_dp)
    tokens_mb = mb * np.asarray(seq_len, dtype=float) / cp
    act_layer = tf.activation_bytes_per_token_layer(arch, tp, recompute)
    inflight = np.minimum(m, pp) * np.where(vpp > 1, 1.0 + (pp - 1.0) / (pp * vpp), 1.0)
    inflight = np.where(sch == SCHEDULES["dualpipe"], np.minimum(m, pp + 1.0), inflight)
    acts = act_layer * tokens_mb * (arch.layers / pp) * inflight
    # one layer's full working set is live during its backward pass under recompute
    acts = acts + tf.activation_bytes_per_token_layer(arch, tp, 0) * tokens_mb
    logits = tokens_mb * arch.vocab / tp * 4.0
    gathered = np.where(fsdp, WEIGHT_BYTES * 2.0 * (dense + expert) / arch.layers * 1.0, 0.0)
    return states + acts + logits + gathered


# ----------------------------------------------------------------- stages of one step
def flops_per_token_by_kernel(arch: tf.Arch, seq_len: Any, recompute: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Training FLOPs per token of the dense GEMMs, the expert GEMMs and the attention core [FLOP].

    Parameters
    ----------
    arch : Arch
        Model architecture.
    seq_len : array_like
        Tokens per sequence [tokens].
    recompute : array_like
        Recompute code (:data:`RECOMPUTE`: 0 none, 1 selective, 2 full) [1].

    Returns
    -------
    tuple of ndarray
        ``(dense, expert, attention)`` [FLOP/token]: forward, backward and recomputed
        FLOPs of all layers, the output head apart (:func:`output_head_time_s`).

    Notes
    -----
    Each kernel costs ``3·F_fwd + F_rc``: backward is twice the forward [1]_. Selective
    recompute [3]_ repeats the attention core (and MLA's key/value up-projection, a dense
    GEMM); full recompute repeats the whole forward pass, its GEMMs split between dense and
    expert layers in proportion to their forward FLOPs.
    """
    rc = np.asarray(recompute)
    attn_fwd = tf.attention_core_flops_per_token(arch, seq_len)
    dense_matmul_fwd = 2.0 * (arch.matmul_params_active - _expert_active_params(arch))
    expert_fwd = 2.0 * _expert_active_params(arch)
    recompute_fwd = tf.recompute_flops_per_token(arch, seq_len, rc)
    # split recompute between attention core and matmuls
    rc_attn = np.where(rc >= 1, attn_fwd, 0.0)
    rc_matmul = recompute_fwd - rc_attn
    # full recompute splits its GEMMs between dense and expert layers; selective recompute's only
    # GEMM is MLA's key/value up-projection, a dense one
    rc_dense = rc_matmul * np.where(rc == 2, dense_matmul_fwd / np.maximum(dense_matmul_fwd + expert_fwd, 1.0), 1.0)
    rc_expert = rc_matmul - rc_dense
    head_fwd = 2.0 * arch.vocab * arch.d_model
    return 3.0 * (dense_matmul_fwd - head_fwd) + rc_dense, 3.0 * expert_fwd + rc_expert, 3.0 * attn_fwd + rc_attn


def gemm_efficiencies(arch: tf.Arch, cal: Calibration, *, tp: Any, ep: Any, etp: Any, tokens_mb: Any,
                      precision: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Achieved fraction of peak of the dense GEMMs, the expert GEMMs and the attention core [1].

    Parameters
    ----------
    arch : Arch
        Model architecture.
    cal : Calibration
        Coefficients of the chip.
    tp, ep : array_like
        Tensor and expert parallel degrees [1].
    etp : array_like or None
        Tensor parallelism of the experts; None: 1 with expert parallelism, else ``tp`` [1].
    tokens_mb : array_like
        Tokens of one micro-batch on one chip, ``mb·s/cp`` [tokens].
    precision : str
        Matmul precision.

    Returns
    -------
    tuple of ndarray
        ``(dense, expert, attention)`` efficiencies [1].

    Notes
    -----
    Dense GEMMs: :func:`gemm_efficiency` at width ``d/tp``. Expert GEMMs: width
    ``min(d_ff_expert/etp, d)`` and ``n·k/E`` rows, where ``n = tokens_mb·ep·etp/tp`` are the
    tokens an expert-parallel group dispatches. Attention: ``e_max·r_attn``, at the run's
    GEMM rate.
    """
    e_max = training_peak_eff(cal, precision)
    eff_dense = gemm_efficiency(arch.d_model / tp, tokens_mb, e_max, cal.matmul_half_width, cal.matmul_half_tokens)
    if arch.is_moe:
        expert_tp = _expert_tp(tp, ep, etp)
        # tokens one expert-parallel group dispatches: each of its ep ranks brings its (sequence-
        # parallel) share tokens_mb/tp, all-gathered over the expert-TP group of etp ranks
        tokens_ep_group = tokens_mb * ep * expert_tp / tp
        # M dimension of each expert's GEMM (its n/(n + n_half) factor is the row-tile padding)
        tokens_per_expert = tokens_ep_group * arch.moe_active / arch.moe_experts
        eff_expert = grouped_gemm_efficiency(np.minimum(arch.moe_d_ff / expert_tp, arch.d_model),  # smaller side
                                             tokens_per_expert, e_max, cal)
        # the slowest expert-parallel rank sets the pace of the grouped GEMMs
        eff_expert = eff_expert / router_imbalance_factor(tokens_ep_group * arch.moe_active / np.maximum(ep, 1.0),
                                                          ep, cal.router_imbalance)
    else:
        eff_expert = eff_dense
    # the attention core at the run's GEMM rate: with FP8 GEMMs it is modeled at the FP8 rate, though
    # Transformer Engine keeps it in BF16 unless asked (fp8_dpa); holding it at the BF16 rate
    # (with a refit ratio) fits the Hopper FP8 rows worse, the ratio fitted on BF16 rows being low
    eff_attn = e_max * cal.attention_eff_ratio * np.ones_like(eff_dense)
    return eff_dense, eff_expert, eff_attn


def elementwise_hbm_bytes(arch: tf.Arch, cal: Calibration, *, tp: Any, tokens_mb: Any, precision: str) -> np.ndarray:
    """HBM traffic of the memory-bound elementwise work of one micro-batch, all layers [B].

    Parameters
    ----------
    arch : Arch
        Model architecture.
    cal : Calibration
        Coefficients of the chip (``fp8_cast_traffic``).
    tp : array_like
        Tensor parallel degree [1].
    tokens_mb : array_like
        Tokens of one micro-batch on one chip [tokens].
    precision : str
        Matmul precision; ``fp8`` and ``fp4`` add the casts of the GEMM inputs.

    Returns
    -------
    ndarray
        Bytes read and written [B], before full recompute's extra forward pass.

    Notes
    -----
    Norms, activations and residuals: each activation byte is written and read in the
    forward pass and about twice in the backward, ``a·n·L·2·3``. MoE adds the permutation
    around the experts, ``4·k·d·2 B·3·n/tp`` per MoE layer. Low-precision GEMMs scale the
    total by ``1 + f_cast``.
    """
    elem_bytes = tf.activation_bytes_per_token_layer(arch, tp, 0) * tokens_mb * arch.layers * 2.0 * 3.0
    if arch.is_moe:
        # token permutation and unpermutation around the experts: k copies of each token's
        # d-vector read and written twice in the forward pass (4 passes), twice that backward
        elem_bytes = elem_bytes + 4.0 * arch.moe_active * arch.d_model * 2.0 * 3.0 * tokens_mb / tp * arch.moe_layers
    if precision.lower() in ("fp8", "fp4"):
        # low-precision GEMMs quantize each input and output gradient: read the 16-bit tensor
        # for its scale and again to cast it, write row- and column-wise copies (~6 B per
        # element, as much traffic again as the elementwise passes above)
        elem_bytes = elem_bytes * (1.0 + cal.fp8_cast_traffic)
    return elem_bytes


def layers_time_s(arch: tf.Arch, hw: Hardware, cal: Calibration, *, tp: Any, cp: Any, ep: Any, etp: Any,
                  micro_batch: Any, seq_len: Any, recompute: Any, precision: str) -> np.ndarray:
    """Compute time of all transformer layers for one micro-batch on one tensor- and context-parallel group [s].

    Parameters
    ----------
    arch : Arch
        Model architecture.
    hw : Hardware
        Chip in its system.
    cal : Calibration
        Coefficients of the chip.
    tp, cp, ep : array_like
        Tensor, context and expert parallel degrees [1].
    etp : array_like or None
        Tensor parallelism of the experts [1].
    micro_batch : array_like
        Sequences per micro-batch [1].
    seq_len : array_like
        Tokens per sequence [tokens].
    recompute : array_like
        Recompute code [1].
    precision : str
        Matmul precision.

    Returns
    -------
    ndarray
        Forward, backward and recompute time of the layers, output head apart [s].

    Notes
    -----
    ``t = Σ_k F_k·mb·s/(tp·cp) / (peak·e_k) + B_elem·r / (HBM·e_hbm)`` over the dense, expert
    and attention kernels (:func:`flops_per_token_by_kernel`, :func:`gemm_efficiencies`),
    with ``B_elem`` from :func:`elementwise_hbm_bytes` and ``r = 4/3`` under full recompute.
    """
    parts = layer_time_parts(arch, hw, cal, tp=tp, cp=cp, ep=ep, etp=etp, micro_batch=micro_batch, seq_len=seq_len,
                             recompute=recompute, precision=precision)
    return parts["dense"] + parts["expert"] + parts["attention"] + parts["memory"]


def layer_time_parts(arch: tf.Arch, hw: Hardware, cal: Calibration, *, tp: Any, cp: Any, ep: Any, etp: Any,
                     micro_batch: Any, seq_len: Any, recompute: Any, precision: str) -> dict[str, np.ndarray]:
    """:func:`layers_time_s` by kernel class: ``dense``, ``expert`` and ``attention`` GEMM time and
    ``memory`` (elementwise HBM traffic) [s], before the stack's ``compute_scale``."""
    rc = np.asarray(recompute)
    tokens_mb = micro_batch * seq_len / cp  # tokens one chip's micro-batch holds
    tokens_replica_mb = micro_batch * seq_len  # tokens of one micro-batch of one replica
    group = tp * cp
    peak = hw.peak(precision)
    dense, expert, attn = flops_per_token_by_kernel(arch, seq_len, rc)
    eff_dense, eff_expert, eff_attn = gemm_efficiencies(arch, cal, tp=tp, ep=ep, etp=etp, tokens_mb=tokens_mb,
                                                        precision=precision)
    hbm_rate = hw.hbm_bw_bytes_per_s * cal.hbm_eff
    elem_bytes = elementwise_hbm_bytes(arch, cal, tp=tp, tokens_mb=tokens_mb, precision=precision)
    return {"dense": dense * tokens_replica_mb / group / (peak * eff_dense),
            "expert": expert * tokens_replica_mb / group / (peak * eff_expert),
            "attention": attn * tokens_replica_mb / group / (peak * eff_attn),
            "memory": elem_bytes * np.where(rc == 2, 4.0 / 3.0, 1.0) / hbm_rate}


def output_head_time_s(arch: tf.Arch, hw: Hardware, cal: Calibration, *, tp: Any, cp: Any, micro_batch: Any,
                       seq_len: Any, per_layer_s: Any, precision: str) -> np.ndarray:
    """Time of the output head and the multi-token-prediction modules for one micro-batch [s].

    Parameters
    ----------
    arch : Arch
        Model architecture (``vocab``, ``mtp_layers``).
    hw : Hardware
        Chip in its system.
    cal : Calibration
        Coefficients of the chip.
    tp, cp : array_like
        Tensor and context parallel degrees [1].
    micro_batch : array_like
        Sequences per micro-batch [1].
    seq_len : array_like
        Tokens per sequence [tokens].
    per_layer_s : array_like
        Time of one transformer layer (:func:`layers_time_s` over ``L``) [s].
    precision : str
        Matmul precision of the layers (the head itself stays in BF16).

    Returns
    -------
    ndarray
        Head time [s].

    Notes
    -----
    ``t_head = 3·2·V·d·mb·s/(tp·cp) / (peak_bf16·e_head) + 16 B·V/tp·n / (HBM·e_hbm)``: the
    GEMM in 16 bits (Megatron's output layer is not a Transformer Engine module; DeepSeek-V3
    [6]_ sec. 3.3.1 keeps it in BF16) and the cross-entropy passes
    (:data:`LOGITS_BYTES_PER_ENTRY`). Each MTP module [6]_ adds one layer, a ``2d -> d``
    projection and the head again: ``t = t_head + n_mtp·(t_layer + t_proj + t_head)``.
    """
    tokens_mb = micro_batch * seq_len / cp
    tokens_replica_mb = micro_batch * seq_len
    group = tp * cp
    peak = hw.peak(precision)
    eff_dense = gemm_efficiency(arch.d_model / tp, tokens_mb, training_peak_eff(cal, precision), cal.matmul_half_width,
                                cal.matmul_half_tokens)
    peak16, e16 = hw.peak("bf16"), cal.matmul_peak_eff("bf16")
    eff_head = gemm_efficiency(arch.d_model / tp, tokens_mb, e16, cal.matmul_half_width, cal.matmul_half_tokens)
    head_fwd = 2.0 * arch.vocab * arch.d_model
    hbm_rate = hw.hbm_bw_bytes_per_s * cal.hbm_eff
    head = (3.0 * head_fwd * tokens_replica_mb / group / (peak16 * eff_head)
            + LOGITS_BYTES_PER_ENTRY * arch.vocab / tp * tokens_mb / hbm_rate)
    proj = 3.0 * 2.0 * 2.0 * arch.d_model * arch.d_model * tokens_replica_mb / group / (peak * eff_dense)
    return head + arch.mtp_layers * (per_layer_s + proj + head)


def microbatch_comm_s(arch: tf.Arch, hw: Hardware, cal: Calibration, *, tp: Any, pp: Any, cp: Any, ep: Any, dp: Any,
                      vpp: Any, micro_batch: Any, seq_len: Any,
                      recompute: Any, etp: Any = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Tensor-, context-, expert- and pipeline-parallel communication of one micro-batch on one stage [s].

    Parameters
    ----------
    arch : Arch
        Model architecture.
    hw : Hardware
        Chip in its system.
    cal : Calibration
        Coefficients of the chip.
    tp, pp, cp, ep, dp : array_like
        Parallel degrees [1].
    vpp : array_like
        Virtual pipeline stages per chip [1].
    micro_batch : array_like
        Sequences per micro-batch [1].
    seq_len : array_like
        Tokens per sequence [tokens].
    recompute : array_like
        Recompute code [1].

    Returns
    -------
    tuple of ndarray
        ``(tp, cp, ep, pp)`` times before overlap [s].

    Notes
    -----
    Four tensor-parallel collectives per layer (six under full recompute) over ``tp`` chips;
    the context-parallel ring passes ``3·(cp-1)/cp`` of the micro-batch's keys and values over
    ``tp·cp`` chips; four all-to-alls per MoE layer over ``etp·ep`` chips
    (:func:`expert_alltoall_s`); ``vpp`` point-to-point sends to a stage ``tp·cp·dp`` chips
    away [1]_ [2]_.
    """
    rc = np.asarray(recompute)
    tokens_mb = micro_batch * seq_len / cp
    layers_stage = arch.layers / pp
    tp_passes = np.where(rc == 2, 1.5, 1.0)  # full recompute repeats the 2 forward of the 4 all-reduces
    tp_bytes = tf.tp_allreduce_bytes_per_layer(arch, tokens_mb, tp) * layers_stage * tp_passes
    tp_t = collective_time_s(tp_bytes, tp, hw, cal, n_calls=np.where(tp > 1, 4.0 * layers_stage, 0.0))
    cp_bytes = np.where(
        cp > 1, 3.0 * (cp - 1.0) / cp * micro_batch * seq_len * 2.0 * arch.n_kv_heads * arch.head_dim * 2.0
        * layers_stage / tp, 0.0
    )
    cp_t = collective_time_s(cp_bytes, tp * cp, hw, cal)
    if arch.is_moe:
        ep_t = expert_alltoall_s(arch, hw, cal, tokens_mb=tokens_mb, tp=tp, ep=ep, moe_layers=arch.moe_layers / pp,
                                 etp=etp)
    else:
        ep_t = np.zeros_like(tp_t)
    # each micro-batch crosses vpp stage boundaries per chip; neighbouring stages sit tp·cp·dp chips apart
    pp_bytes = np.where(pp > 1, tf.pp_p2p_bytes(arch, tokens_mb, tp) * vpp, 0.0)
    pp_t = collective_time_s(pp_bytes, 2.0 * tp * cp * dp, hw, cal, n_calls=np.where(pp > 1, 2.0 * vpp, 0.0))
    return tp_t, cp_t, ep_t, pp_t


def gradient_sync_time_s(arch: tf.Arch, hw: Hardware, cal: Calibration, *, tp: Any, pp: Any, cp: Any, ep: Any,
                         etp: Any, dp: Any, fsdp: Any, n_microbatches: Any) -> np.ndarray:
    """Time of the data-parallel gradient reduction and parameter gathering of one step [s].

    Parameters
    ----------
    arch : Arch
        Model architecture.
    hw : Hardware
        Chip in its system.
    cal : Calibration
        Coefficients of the chip.
    tp, pp, cp, ep, dp : array_like
        Parallel degrees [1].
    etp : array_like or None
        Tensor parallelism of the experts [1].
    fsdp : array_like of bool
        Fully sharded data parallelism (else ZeRO-1).
    n_microbatches : array_like
        Micro-batches per step [1].

    Returns
    -------
    ndarray
        Collective time before overlap with compute [s].

    Notes
    -----
    ZeRO-1 reduce-scatters gradients and all-gathers parameters once per step, FSDP once per
    micro-batch (:func:`gigawatt.perf.transformer.dp_gradient_bytes`). The dense group spans
    every chip of a stage's replicas, ``tp·cp·dp``; the expert group the same chips with one
    member per expert-parallel group, so fewer members per scale-up domain
    (:func:`collective_time_s` with ``group_size``).
    """
    dense_p, expert_p, dense_dp, expert_dp = _sharded_params(arch, tp, pp, cp, ep, etp, dp)
    layers_stage = arch.layers / pp
    per_step = np.where(fsdp, n_microbatches, 1.0)
    dense_bytes = tf.dp_gradient_bytes(dense_p, dense_dp, fsdp=fsdp) * per_step
    expert_bytes = tf.dp_gradient_bytes(expert_p, expert_dp, fsdp=fsdp) * per_step
    return (collective_time_s(dense_bytes, tp * cp * dp, hw, cal, n_calls=np.where(dp > 1, 2.0 * layers_stage, 0.0),
                              group_size=dense_dp)
            + collective_time_s(expert_bytes, tp * cp * dp, hw, cal, n_calls=0.0, group_size=expert_dp))


def exposed_gradient_sync_s(sync_s: Any, microbatch_compute_s: Any, step_compute_s: Any, fsdp: Any,
                            dp_overlap: float) -> np.ndarray:
    """The part of the gradient synchronisation that compute does not hide [s].

    Parameters
    ----------
    sync_s : array_like
        Collective time of :func:`gradient_sync_time_s` [s].
    microbatch_compute_s : array_like
        Compute time of one micro-batch on one stage [s].
    step_compute_s : array_like
        Compute time of all micro-batches of the step [s].
    fsdp : array_like of bool
        Fully sharded data parallelism.
    dp_overlap : float
        Share of the collective that overlaps at best (:class:`Calibration` ``dp_overlap``) [1].

    Returns
    -------
    ndarray
        Exposed time [s].

    Notes
    -----
    ``t_exposed = max(t·(1 - o_dp), t - window)``. ZeRO-1 reduces gradients once they are
    final, during the backward pass of the last micro-batch, and gathers parameters during
    the forward pass of the first one: one micro-batch of compute is its window, however many
    micro-batches the step runs. FSDP gathers and reduces every micro-batch, so the whole
    step's compute is its window.
    """
    window = np.where(fsdp, step_compute_s, microbatch_compute_s)
    return np.maximum(sync_s * (1.0 - dp_overlap), sync_s - window)


def optimizer_time_s(arch: tf.Arch, hw: Hardware, cal: Calibration, *, tp: Any, pp: Any, cp: Any, ep: Any, etp: Any,
                     dp: Any) -> np.ndarray:
    """Time of the optimizer step: its state streamed through HBM [s].

    Parameters
    ----------
    arch : Arch
        Model architecture.
    hw : Hardware
        Chip in its system.
    cal : Calibration
        Coefficients of the chip (``hbm_eff``).
    tp, pp, cp, ep, dp : array_like
        Parallel degrees [1].
    etp : array_like or None
        Tensor parallelism of the experts [1].

    Returns
    -------
    ndarray
        Optimizer time [s].

    Notes
    -----
    ``t = 32 B·(P_dense/dp_dense + P_expert/dp_expert) / (HBM·e_hbm)``: each locally owned
    parameter's Adam state (:data:`OPTIMIZER_TRAFFIC_BYTES`) read and written once.
    """
    dense_p, expert_p, dense_dp, expert_dp = _sharded_params(arch, tp, pp, cp, ep, etp, dp)
    return OPTIMIZER_TRAFFIC_BYTES * (dense_p / dense_dp + expert_p / expert_dp) / (hw.hbm_bw_bytes_per_s * cal.hbm_eff)


def pipeline_bubble_s(pp: Any, vpp: Any, schedule: Any, microbatch_s: Any) -> np.ndarray:
    """Idle time of the pipeline in one step, by schedule [s].

    Parameters
    ----------
    pp : array_like
        Pipeline stages [1].
    vpp : array_like
        Virtual stages per chip (1F1B interleaving) [1].
    schedule : array_like
        Schedule code (:data:`SCHEDULES`) [1].
    microbatch_s : array_like
        Time of one micro-batch on one stage, compute and exposed communication [s].

    Returns
    -------
    ndarray
        Bubble time [s].

    Notes
    -----
    1F1B: ``(p-1)/v·t_mb`` [1]_. ZB-H1 splits the backward pass into input and weight
    gradients and fills the bubble with the latter, ``(p-1)(T_F + T_B - T_W)``, a third of
    1F1B's with equal passes [5]_. DualPipe: ``(p/2-1)(T_F&B + T_B - 3T_W)``, about zero with
    equal passes [6]_.
    """
    sch = np.asarray(schedule)
    pp = np.asarray(pp, dtype=float)
    vpp = np.asarray(vpp, dtype=float)
    return np.where(sch == SCHEDULES["zero-bubble"], (pp - 1.0) * microbatch_s / 3.0,
                    np.where(sch == SCHEDULES["dualpipe"], 0.0, (pp - 1.0) / vpp * microbatch_s))


def training_step(arch: tf.Arch, hw: Hardware, layout: Layout, *, n_chips: Any, seq_len: Any, global_batch_seqs: Any,
                  precision: str = "bf16", cal: Calibration | None = None) -> dict[str, np.ndarray]:
    """Step time and its breakdown, memory per chip, tokens/s and MFU of one training layout.

    Parameters
    ----------
    arch : Arch
        Model architecture.
    hw : Hardware
        Chip in its system.
    layout : Layout
        The parallel layout (:class:`gigawatt.perf.layout.Layout`); its fields may be arrays,
        one entry per layout, and free fields take their defaults. ``dp`` is derived:
        ``n_chips / (tp·pp·cp)``; ``ep`` is carved out of data parallelism; ``schedule`` 0 is
        1F1B, interleaved when ``vpp > 1`` [1]_, 1 zero-bubble ZB-H1 [5]_, 2 DualPipe [6]_ (both
        with ``vpp = 1``); ``etp`` left free is 1 with expert parallelism, else ``tp``.
    n_chips : array_like
        Chips in the job [1].
    seq_len : array_like
        Tokens per sequence [tokens].
    global_batch_seqs : array_like
        Sequences per optimizer step [1].
    precision : str
        Matmul precision: ``bf16``, ``fp16``, ``fp8`` or ``fp4``.
    cal : Calibration, optional
        Coefficients; by default those of ``hw.chip``.

    Returns
    -------
    dict of ndarray
        ``step_time_s``, ``compute_s``, ``bubble_s``, ``tp_comm_s``, ``ep_comm_s``,
        ``pp_comm_s``, ``dp_comm_s`` (exposed parts), ``overhead_s`` [s];
        ``memory_bytes`` [B], ``fits`` [bool], ``tokens_per_s`` [tokens/s],
        ``mfu`` [1] (model FLOPs, 6·N·D plus causal attention, over the peak of
        ``precision``), ``dp``, ``n_microbatches`` [1].

    Notes
    -----
    With ``t_mb`` the time of one micro-batch on one stage,
    ``T = (m + (pp-1)/vpp)·t_mb + t_dp,exposed + t_opt + overhead`` where
    ``t_mb = F_mb / (peak·eff) + t_tp·(1-o_tp) + t_ep·(1-o_ep) + t_pp`` [1]_ [2]_.
    The stages: :func:`layers_time_s` and :func:`output_head_time_s` (compute),
    :func:`microbatch_comm_s` (communication), :func:`gradient_sync_time_s` and
    :func:`exposed_gradient_sync_s` (data parallelism), :func:`optimizer_time_s`,
    :func:`pipeline_bubble_s`, :func:`memory_per_chip_bytes`.

    Examples
    --------
    >>> from gigawatt.perf.hardware import Hardware
    >>> hw = Hardware("a100-80gb", {"bf16": 312e12}, 80e9, 2.0e12, 600e9, 25e9)
    >>> a = tf.Arch("gpt-7.5b", 36, 4096, 32, 32, 128, 16384, 51200, ffn_type="gelu", attention="mha")
    >>> cal = Calibration(family="ampere", matmul_eff=0.7, attention_eff_ratio=0.5)  # fixed, not the file's
    >>> r = training_step(a, hw, Layout(tp=4, micro_batch=4, recompute="full"), n_chips=128, seq_len=2048,
    ...                   global_batch_seqs=512, cal=cal)
    >>> print(f"{float(r['tokens_per_s']):,.0f} tokens/s, MFU {float(r['mfu']):.0%}")  # Megatron: 283,680
    273,548 tokens/s, MFU 32%
    """
    cal = cal or calibration_for(hw.chip)
    lay = layout.complete()
    n = np.asarray(n_chips, dtype=float)
    s = np.asarray(seq_len, dtype=float)
    gbs = np.asarray(global_batch_seqs, dtype=float)
    tp, pp, ep, cp, vpp, mb = (np.asarray(x, dtype=float) for x in (lay.tp, lay.pp, lay.ep, lay.cp, lay.vpp,
                                                                     lay.micro_batch))
    rc = np.asarray(lay.recompute)
    fsdp = np.asarray(lay.fsdp, dtype=bool)
    etp, sch = lay.etp, np.asarray(lay.schedule)
    dp = n / (tp * pp * cp)
    m = np.maximum(gbs / (dp * mb), 1.0)

    parts = layer_time_parts(arch, hw, cal, tp=tp, cp=cp, ep=ep, etp=etp, micro_batch=mb, seq_len=s, recompute=rc,
                             precision=precision)
    layers = parts["dense"] + parts["expert"] + parts["attention"] + parts["memory"]
    # the last stage also runs the output head, spread evenly over the stages: frameworks balance
    # it by giving the last stage fewer layers (Megatron's pipeline_model_parallel_layout; Llama 3's
    # first and last stages are one layer short [4]_). Whole layers per stage with the head on the
    # last one fit the published rows worse (training median |error| 2.9% -> 3.8%).
    head = output_head_time_s(arch, hw, cal, tp=tp, cp=cp, micro_batch=mb, seq_len=s, per_layer_s=layers / arch.layers,
                              precision=precision)
    # the stack's fitted compute factor; DualPipe's communication kernels hold a share of the SMs [6]_
    # DualPipe, and 1F1B whose stack overlaps micro-batches' all-to-alls (ep_a2a_overlap), run
    # communication kernels beside compute: they hold a share of the SMs [6]_ [9]_
    paired = (sch == SCHEDULES["dualpipe"]) | ((cal.ep_a2a_overlap > 0) & (ep > 1))
    slow = np.where(paired & arch.is_moe, 1.0 / (1.0 - DUALPIPE_COMM_SM_SHARE), 1.0) / cal.compute_scale
    compute_mb = (layers + head) / pp * slow
    tp_t, cp_t, ep_t, pp_t = microbatch_comm_s(arch, hw, cal, tp=tp, pp=pp, cp=cp, ep=ep, dp=dp, vpp=vpp,
                                               micro_batch=mb, seq_len=s, recompute=rc, etp=etp)
    ep_exposed = exposed_expert_alltoall_s(ep_t, compute_mb, sch, cal.ep_overlap, cal.ep_a2a_overlap > 0)
    exposed_mb = (tp_t * (1.0 - cal.tp_overlap) + cp_t * (1.0 - cal.tp_overlap) + ep_exposed + pp_t) / cal.comm_scale
    launch_mb = expert_launch_time_s(arch, cal, ep=ep, pp=pp)
    t_mb = compute_mb + exposed_mb + launch_mb

    dp_t = gradient_sync_time_s(arch, hw, cal, tp=tp, pp=pp, cp=cp, ep=ep, etp=etp, dp=dp, fsdp=fsdp, n_microbatches=m)
    compute_total = m * compute_mb
    dp_exposed = exposed_gradient_sync_s(dp_t, compute_mb, compute_total, fsdp, cal.dp_overlap) / cal.comm_scale
    opt_t = optimizer_time_s(arch, hw, cal, tp=tp, pp=pp, cp=cp, ep=ep, etp=etp, dp=dp)
    bubble = pipeline_bubble_s(pp, vpp, sch, t_mb)
    overhead = cal.step_overhead_frac * compute_total
    step = m * t_mb + bubble + dp_exposed + opt_t + overhead
    tokens_per_s = gbs * s / step
    mfu = tf.training_flops_per_token(arch, s) * tokens_per_s / (n * hw.peak(precision))
    memory = memory_per_chip_bytes(arch, lay.with_(dp=dp), seq_len=s, n_microbatches=m)
    scale = m * slow / pp
    return {"step_time_s": step, "compute_s": compute_total, "bubble_s": bubble,
            "tp_comm_s": m * (tp_t + cp_t) * (1.0 - cal.tp_overlap) / cal.comm_scale,
            "ep_comm_s": m * ep_exposed / cal.comm_scale,
            "pp_comm_s": m * pp_t / cal.comm_scale, "dp_comm_s": dp_exposed, "optimizer_s": opt_t, "overhead_s": overhead,
            "expert_launch_s": m * launch_mb * np.ones_like(step),
            # compute by kernel class, every micro-batch of the step: what the stack factors scale
            "dense_gemm_s": scale * (parts["dense"] + parts["attention"]), "expert_gemm_s": scale * parts["expert"],
            "memory_s": scale * parts["memory"], "head_s": scale * head,
            "memory_bytes": memory, "fits": memory <= cal.usable_hbm_frac * hw.hbm_bytes,
            "tokens_per_s": tokens_per_s, "mfu": mfu, "dp": dp, "n_microbatches": m}


def _expert_active_params(arch: tf.Arch) -> float:
    """Parameters of the routed and shared experts a token uses, all MoE layers [1]."""
    if not arch.is_moe:
        return 0.0
    return float(arch.moe_layers * (arch.moe_active + arch.moe_shared) * arch.ffn_matrices * arch.d_model * arch.moe_d_ff)
