"""Transformer accounting: parameters, FLOPs, activation and KV-cache bytes, collectives.

Everything here is per layer or per token and knows nothing about chips. The
architecture is an :class:`Arch`, built from a catalog model
(:meth:`Arch.from_model`) or from a row of the validation CSV files
(:meth:`Arch.from_row`).

FLOP convention
---------------
A multiply-add is 2 FLOP. The forward pass of one token costs
``2 * N_matmul`` FLOP, where ``N_matmul`` counts the parameters of every matrix
the token goes through (the active experts only, the output head, but not the
input embedding, which is a lookup), plus the attention core
(``QK^T`` and ``AV``: ``4 * n_heads * head_dim * ctx`` per layer, ``ctx`` the
mean number of keys a query sees: ``(s + 1) / 2`` for a causal sequence of
``s`` tokens). Training counts the backward pass as twice the forward, so
``model_flops = 3 * forward``, i.e. 6·N·D plus attention [1]_ [3]_.
Recomputation is counted apart, never inside the model FLOPs: ``full`` repeats
the whole forward pass, ``selective`` only the attention core [2]_.

References
----------
.. [1] D. Narayanan et al., "Efficient Large-Scale Language Model Training on GPU
   Clusters Using Megatron-LM", SC'21, eq. 3.
.. [2] V. Korthikanti et al., "Reducing Activation Recomputation in Large
   Transformer Models", 2022, section 4 (activation bytes 34·s·b·h per layer).
.. [3] A. Chowdhery et al., "PaLM", 2022, appendix B (6N + 12·L·H·Q·T).
.. [4] DeepSeek-AI, "DeepSeek-V2" (2024) and "DeepSeek-V3 Technical Report"
   (2024): multi-head latent attention, shared and routed experts.
.. [5] M. Raab and A. Steger, "'Balls into Bins' - A Simple and Tight Analysis",
   RANDOM 1998, LNCS 1518: with m ≫ n·ln n balls thrown into n bins the fullest bin holds
   m/n + sqrt(2·(m/n)·ln n)·(1+o(1)).
.. [6] D. Lepikhin et al., "GShard", ICLR 2021, and W. Fedus et al., "Switch Transformers",
   JMLR 2022, sec. 2.2: expert capacity (capacity factor) exists because per-expert loads
   fluctuate around their mean; the busiest expert sets the layer's time.
.. [7] G. Blom, "Statistical Estimates and Transformed Beta-Variables", Wiley 1958: the
   expected largest of m standard normal variables is about Φ⁻¹((m - 0.375)/(m + 0.25)).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import Any, Mapping

import numpy as np
from gigawatt.workload_defaults import DEFAULT_BATCH_TOKENS, DEFAULT_SEQ_LEN  # re-exported

__all__ = [
    "DEFAULT_SEQ_LEN",
    "DEFAULT_BATCH_TOKENS",
    "Arch",
    "attention_core_flops_per_token",
    "attention_params_per_layer",
    "ffn_params_per_layer",
    "forward_flops_per_token",
    "backward_flops_per_token",
    "kv_cache_bytes_per_token",
    "tp_head_sharding",
    "activation_bytes_per_token_layer",
    "training_flops_per_token",
    "recompute_flops_per_token",
    "mla_up_projection_flops_per_token",
    "tp_allreduce_bytes_per_layer",
    "dp_gradient_bytes",
    "ep_alltoall_bytes_per_layer",
    "expert_load_imbalance",
    "pp_p2p_bytes",
]



def _num(value: Any, default: float = 0.0) -> float:
    """A float from a CSV cell or a model field; ``default`` for empty cells."""
    if value is None:
        return default
    if isinstance(value, str):
        value = value.strip()
        if not value:
            return default
    try:
        out = float(value)
    except (TypeError, ValueError):
        return default
    return default if math.isnan(out) else out


@dataclass(frozen=True)
class Arch:
    """The shape of a decoder-only transformer, dense or MoE.

    All sizes are counts [1]. ``head_dim`` may differ from ``d_model / n_heads``
    (PaLM, Qwen3, gpt-oss). MoE layers have ``moe_experts`` routed experts of
    size ``moe_d_ff``, of which ``moe_active`` are used per token, plus
    ``moe_shared`` always-on experts; the first ``dense_layers`` layers use a
    dense FFN of size ``d_ff``. MLA (DeepSeek) uses the ``*_lora_rank`` and
    ``*_head_dim`` fields. ``mtp_layers`` multi-token-prediction modules (DeepSeek-V3: one)
    are trained beside the model: each is one more layer, a ``2d -> d`` projection and a
    second pass through the output head; they are not counted in the parameters or model
    FLOPs (as the published counts leave them out) but cost training time.
    """

    name: str
    layers: int
    d_model: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    d_ff: int
    vocab: int
    ffn_type: str = "swiglu"
    attention: str = "gqa"
    moe_experts: int = 0
    moe_active: int = 0
    moe_shared: int = 0
    moe_d_ff: int = 0
    dense_layers: int = 0
    kv_lora_rank: int = 0
    q_lora_rank: int = 0
    qk_rope_head_dim: int = 0
    qk_nope_head_dim: int = 0
    v_head_dim: int = 0
    tied_embeddings: bool = False
    mtp_layers: int = 0

    # ----------------------------------------------------------------- builders
    @classmethod
    def from_model(cls, model: Any) -> "Arch":
        """Build from a catalog :class:`gigawatt.catalog.Model` record."""
        d_model = int(model.d_model)
        n_heads = int(model.n_heads)
        head_dim = int(_num(getattr(model, "head_dim", None), d_model / n_heads))
        experts = int(_num(model.moe_experts))
        return cls(
            name=str(model.id),
            layers=int(model.layers),
            d_model=d_model,
            n_heads=n_heads,
            n_kv_heads=int(_num(model.n_kv_heads, n_heads)),
            head_dim=head_dim,
            d_ff=int(_num(model.d_ff, _num(model.moe_d_ff))),
            vocab=int(model.vocab),
            ffn_type=str(model.ffn_type),
            attention=str(model.attention),
            moe_experts=experts,
            moe_active=int(_num(model.moe_active)),
            moe_shared=int(_num(model.moe_shared)),
            moe_d_ff=int(_num(model.moe_d_ff)),
            dense_layers=int(_num(getattr(model, "dense_layers", 0))),
            kv_lora_rank=int(_num(getattr(model, "kv_lora_rank", None))),
            q_lora_rank=int(_num(getattr(model, "q_lora_rank", None))),
            qk_rope_head_dim=int(_num(getattr(model, "qk_rope_head_dim", None))),
            qk_nope_head_dim=int(_num(getattr(model, "qk_nope_head_dim", None))),
            v_head_dim=int(_num(getattr(model, "v_head_dim", None))),
            tied_embeddings=bool(getattr(model, "tied_embeddings", False)),
            mtp_layers=int(_num(getattr(model, "mtp_layers", 0))),
        )

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "Arch":
        """Build from one row of the validation CSV files (a dict of cells).

        The CSV has no ``head_dim`` or MLA columns; where the shape departs from
        the defaults, the row's ``conversion`` note states it in words
        (``head_dim 128``, ``64 query heads of dim 64``, ``KV compression dim
        512``, ``First 3 layers dense``, ``interleave_moe_layer_step 2``: every second
        layer MoE), and those phrases are read here. A
        ``head_dim`` column, where a file has one, takes precedence.
        """
        note = str(row.get("conversion") or "")
        d_model = int(_num(row["d_model"]))
        n_heads = int(_num(row["n_heads"]))
        head_dim = _num(row.get("head_dim"), 0.0)
        if not head_dim:
            m = re.search(r"head_dim (\d+)", note) or re.search(r"heads of dim (\d+)", note)
            head_dim = float(m.group(1)) if m else d_model / n_heads
        attention = str(row.get("attention") or "gqa").strip().lower()
        mla: dict[str, int] = {}
        if attention == "mla":
            def grab(pattern: str, default: int) -> int:
                m = re.search(pattern, note, flags=re.IGNORECASE)
                return int(m.group(1)) if m else default

            mla = {
                "kv_lora_rank": grab(r"KV compression dim (\d+)", 512),
                "q_lora_rank": grab(r"q compression (?:dim )?(\d+)", 1536),
                "qk_nope_head_dim": grab(r"qk head dim (\d+)", 128),
                "qk_rope_head_dim": grab(r"qk head dim \d+\+(\d+)", 64),
                "v_head_dim": grab(r"v head dim (\d+)", 128),
            }
        experts = int(_num(row.get("moe_experts")))
        dense_layers = 0
        if experts:
            m = re.search(r"First (\d+|one|two|three) layers? (?:is |are )?dense", note, flags=re.IGNORECASE)
            if m:
                word = m.group(1).lower()
                dense_layers = {"one": 1, "two": 2, "three": 3}.get(word) or int(word)
            elif re.search(r"First layer dense", note, flags=re.IGNORECASE):
                dense_layers = 1
            # MoE every step-th layer (Llama 4 Maverick's interleave_moe_layer_step 2): the rest
            # dense; only the count matters to the cost model
            m = re.search(r"interleave_moe_layer_step (\d+)", note)
            if m and int(m.group(1)) > 1:
                dense_layers = int(_num(row["layers"])) - int(_num(row["layers"])) // int(m.group(1))
        # a model trained with multi-token prediction: "(w/ MTP)", "multi-token-prediction module"
        mtp = 1 if re.search(r"w/ MTP\b|multi-token[- ]prediction module", note, flags=re.IGNORECASE) else 0
        vocab = _num(row.get("vocab"), 0.0)
        if not vocab:  # GPT-2 BPE padded to a multiple of 128 (Megatron default) when not given
            vocab = 50304.0
        return cls(
            name=str(row.get("model") or row.get("id") or "row"),
            layers=int(_num(row["layers"])),
            d_model=d_model,
            n_heads=n_heads,
            n_kv_heads=int(_num(row.get("n_kv_heads"), n_heads)),
            head_dim=int(head_dim),
            d_ff=int(_num(row.get("d_ff"))),
            vocab=int(vocab),
            ffn_type=str(row.get("ffn_type") or "swiglu").strip().lower(),
            attention=attention,
            moe_experts=experts,
            moe_active=int(_num(row.get("moe_active"))),
            moe_shared=int(_num(row.get("moe_shared"))),
            moe_d_ff=int(_num(row.get("moe_d_ff"))),
            dense_layers=dense_layers,
            mtp_layers=mtp,
            **mla,
        )

    def with_(self, **changes: Any) -> "Arch":
        """A copy with some fields changed."""
        return replace(self, **changes)

    # ------------------------------------------------------------- properties
    @property
    def is_moe(self) -> bool:
        return self.moe_experts > 0

    @property
    def moe_layers(self) -> int:
        return self.layers - self.dense_layers if self.is_moe else 0

    @property
    def ffn_matrices(self) -> int:
        """Weight matrices per FFN: 3 for gated (SwiGLU), 2 otherwise."""
        return 3 if self.ffn_type == "swiglu" else 2

    @property
    def qk_head_dim(self) -> int:
        if self.attention == "mla":
            return self.qk_nope_head_dim + self.qk_rope_head_dim
        return self.head_dim

    @property
    def v_dim(self) -> int:
        return self.v_head_dim if self.attention == "mla" else self.head_dim

    @property
    def params_total(self) -> float:
        """All parameters, embeddings included [1]."""
        return self.layers * attention_params_per_layer(self) + self.ffn_params_total + self.embedding_params

    @property
    def params_active(self) -> float:
        """Parameters a token uses: all but the idle routed experts [1]."""
        return self.layers * attention_params_per_layer(self) + self.ffn_params_active + self.embedding_params

    @property
    def embedding_params(self) -> float:
        """Input embedding plus output head (once if tied) [1]."""
        return self.vocab * self.d_model * (1 if self.tied_embeddings else 2)

    @property
    def ffn_params_total(self) -> float:
        dense = (self.layers - self.moe_layers) * ffn_params_per_layer(self, active=False, moe=False)
        return dense + self.moe_layers * ffn_params_per_layer(self, active=False, moe=True)

    @property
    def ffn_params_active(self) -> float:
        dense = (self.layers - self.moe_layers) * ffn_params_per_layer(self, active=True, moe=False)
        return dense + self.moe_layers * ffn_params_per_layer(self, active=True, moe=True)

    @property
    def matmul_params_active(self) -> float:
        """Parameters of the matrices a token multiplies through (no input embedding) [1]."""
        return self.layers * attention_params_per_layer(self) + self.ffn_params_active + self.vocab * self.d_model

    @property
    def expert_params(self) -> float:
        """Parameters of all routed experts (those expert parallelism shards) [1]."""
        return self.moe_layers * self.moe_experts * self.ffn_matrices * self.d_model * self.moe_d_ff


def attention_params_per_layer(arch: Arch) -> float:
    """Parameters of one attention block [1].

    Notes
    -----
    MHA/GQA: ``d·H·hd`` (Q) + ``2·d·KV·hd`` (K, V) + ``H·hd·d`` (O).
    MLA [4]_: ``d·r_q + r_q·H·(nope+rope)`` (Q, or ``d·H·(nope+rope)`` without
    a query latent) + ``d·(r_kv + rope)`` + ``r_kv·H·(nope + v)`` + ``H·v·d``.
    """
    d, h = arch.d_model, arch.n_heads
    if arch.attention == "mla":
        qk = arch.qk_nope_head_dim + arch.qk_rope_head_dim
        q = d * arch.q_lora_rank + arch.q_lora_rank * h * qk if arch.q_lora_rank else d * h * qk
        kv = d * (arch.kv_lora_rank + arch.qk_rope_head_dim) + arch.kv_lora_rank * h * (
            arch.qk_nope_head_dim + arch.v_head_dim
        )
        return float(q + kv + h * arch.v_head_dim * d)
    return float(2 * d * h * arch.head_dim + 2 * d * arch.n_kv_heads * arch.head_dim)


def ffn_params_per_layer(arch: Arch, *, active: bool, moe: bool) -> float:
    """Parameters of one FFN block [1]; for MoE the experts a token uses if ``active``.

    Notes
    -----
    Dense: ``m·d·d_ff`` with ``m`` = 3 (SwiGLU) or 2 (GELU). MoE:
    ``d·E`` (router) + ``(E or k) ·m·d·d_e`` + ``shared·m·d·d_e``.
    """
    m = arch.ffn_matrices
    if not moe:
        return float(m * arch.d_model * arch.d_ff)
    routed = arch.moe_active if active else arch.moe_experts
    return float(arch.d_model * arch.moe_experts + (routed + arch.moe_shared) * m * arch.d_model * arch.moe_d_ff)


def attention_core_flops_per_token(arch: Arch, seq_len: Any, *, causal: bool = True) -> np.ndarray:
    """Forward FLOPs of the attention core (``QK^T`` and ``AV``) per token, all layers [FLOP].

    Parameters
    ----------
    arch : Arch
    seq_len : array_like
        Keys visible to a query, or the training sequence length [tokens].
    causal : bool
        If True the mean query sees ``(s + 1) / 2`` keys.

    Notes
    -----
    ``F = 2·L·H·(d_qk + d_v)·ctx`` with ``ctx = (s+1)/2`` (causal) or ``s``.
    """
    s = np.asarray(seq_len, dtype=float)
    ctx = (s + 1.0) / 2.0 if causal else s
    return 2.0 * arch.layers * arch.n_heads * (arch.qk_head_dim + arch.v_dim) * ctx


def forward_flops_per_token(arch: Arch, seq_len: Any, *, causal: bool = True) -> np.ndarray:
    """Forward FLOPs per token: ``2·N_matmul`` plus the attention core [FLOP].

    Examples
    --------
    >>> a = Arch("t", layers=2, d_model=8, n_heads=2, n_kv_heads=2, head_dim=4, d_ff=32, vocab=10,
    ...          ffn_type="gelu", attention="mha")
    >>> float(forward_flops_per_token(a, 1, causal=False))  # 2*(2*(256+512)+80) + 2*2*2*8*1
    3296.0
    """
    return 2.0 * arch.matmul_params_active + attention_core_flops_per_token(arch, seq_len, causal=causal)


def backward_flops_per_token(arch: Arch, seq_len: Any, *, causal: bool = True) -> np.ndarray:
    """Backward FLOPs per token, ``2 × forward`` (input and weight gradients) [FLOP]."""
    return 2.0 * forward_flops_per_token(arch, seq_len, causal=causal)


def training_flops_per_token(arch: Arch, seq_len: Any, *, causal: bool = True) -> np.ndarray:
    """Model FLOPs of training per token, ``3 × forward`` (6·N·D plus attention) [FLOP].

    Recompute is not included; see :func:`recompute_flops_per_token`.
    """
    return 3.0 * forward_flops_per_token(arch, seq_len, causal=causal)


RECOMPUTE_CODES = {"none": 0, "selective": 1, "full": 2, "unknown": 1}


def recompute_flops_per_token(arch: Arch, seq_len: Any, recompute: Any) -> np.ndarray:
    """Extra forward FLOPs that activation recomputation spends per token [FLOP].

    Parameters
    ----------
    recompute : array_like of int
        0 none, 1 selective (attention core only [2]_), 2 full (whole forward).
    """
    r = np.asarray(recompute)
    fwd = forward_flops_per_token(arch, seq_len)
    # the output head is never recomputed
    full = fwd - 2.0 * arch.vocab * arch.d_model
    sel = attention_core_flops_per_token(arch, seq_len) + mla_up_projection_flops_per_token(arch)
    return np.where(r == 2, full, np.where(r == 1, sel, 0.0))


def mla_up_projection_flops_per_token(arch: Arch) -> float:
    """Forward FLOPs of MLA's key/value up-projection from the latent, all layers; 0 without MLA [FLOP].

    Selective recompute of an MLA model re-runs this small GEMM (``2·r_kv·H·(nope + v)``
    per token and layer) instead of storing the up-projected keys and values, as
    DeepSeek-V2 recomputes "a portion of operators" (sec. 3.2.3) [4]_.
    """
    if arch.attention != "mla":
        return 0.0
    return float(2.0 * arch.layers * arch.kv_lora_rank * arch.n_heads * (arch.qk_nope_head_dim + arch.v_head_dim))


def kv_cache_bytes_per_token(arch: Arch, bytes_per_value: float = 2.0) -> float:
    """KV-cache bytes one token of context holds, all layers [B].

    Notes
    -----
    MHA/GQA: ``2·L·KV·hd·b``. MLA caches the latent and the rotary key:
    ``L·(r_kv + rope)·b`` [4]_.

    Examples
    --------
    Llama 2 70B (80 layers, 8 KV heads of 128) in 16-bit: 2·80·8·128·2 bytes.

    >>> a = Arch("llama2-70b", 80, 8192, 64, 8, 128, 28672, 32000)
    >>> kv_cache_bytes_per_token(a)
    327680.0
    """
    if arch.attention == "mla":
        return float(arch.layers * (arch.kv_lora_rank + arch.qk_rope_head_dim) * bytes_per_value)
    return float(2 * arch.layers * arch.n_kv_heads * arch.head_dim * bytes_per_value)


def tp_head_sharding(arch: Arch, tp: int) -> tuple[float, float, float]:
    """What splitting attention heads over ``tp`` ranks costs beyond an even split [1], [1], [1].

    Returns
    -------
    q_factor : float
        Query heads computed over query heads the model has: ``tp·ceil(H/tp)/H``.
        An engine pads the heads to a multiple of ``tp`` where they do not divide
        (or refuses the layout; none runs a fraction of a head).
    kv_factor : float
        KV-cache bytes held (and read) by the replica over the model's KV bytes per
        token: ``tp·ceil(KV/tp)/KV``. With fewer KV heads than ranks each rank keeps
        a copy of the head its query heads use (vLLM, TensorRT-LLM and NxD Inference
        replicate KV heads); MLA's latent is shared by every head, so every rank holds
        all of it: ``tp``.
    extra_params : float
        Attention projection weights the padding adds, all layers [1].

    Examples
    --------
    Llama 2 13B (40 MHA heads) on 32 NeuronCores pads to 64 heads; Llama 3 70B (8 KV
    heads) on 32 ranks keeps 4 copies of each KV head:

    >>> a = Arch("llama2-13b", 40, 5120, 40, 40, 128, 13824, 32000, attention="mha")
    >>> tp_head_sharding(a, 32)[:2]
    (1.6, 1.6)
    >>> b = Arch("llama3-70b", 80, 8192, 64, 8, 128, 28672, 128256)
    >>> tp_head_sharding(b, 32)[:2], tp_head_sharding(b, 8)[:2]
    ((1.0, 4.0), (1.0, 1.0))
    """
    t = max(int(tp), 1)
    q = math.ceil(arch.n_heads / t) * t / arch.n_heads
    if arch.attention == "mla":
        return q, float(t), 0.0
    kv = math.ceil(arch.n_kv_heads / t) * t / arch.n_kv_heads
    hd, d = arch.head_dim, arch.d_model
    extra = arch.layers * (2.0 * d * arch.n_heads * hd * (q - 1.0) + 2.0 * d * arch.n_kv_heads * hd * (kv - 1.0))
    return q, kv, float(extra)


def activation_bytes_per_token_layer(arch: Arch, tp: Any, recompute: Any, *, sequence_parallel: bool = True) -> np.ndarray:
    """Activation bytes kept for the backward pass per token per layer on one chip [B].

    Parameters
    ----------
    tp : array_like
        Tensor-parallel degree [1].
    recompute : array_like of int
        0 none, 1 selective, 2 full.

    Notes
    -----
    Counted tensor by tensor in 16-bit for a pre-norm block with flash
    attention (which stores ``Q, K, V, O`` and no score matrix), after
    Korthikanti et al. [2]_: norm inputs ``2·2h``, norm outputs ``2·2h``,
    ``Q`` and ``O`` ``2·2h``, ``K, V`` ``4·KV·hd`` (MLA: the latent,
    ``2·(r_kv + rope)`` plus the up-projected ``K, V``), the FFN input and
    its ``m`` hidden outputs ``2·m·f`` (``f`` the FFN width a token uses, ``m`` =
    3 gated or 2). For a GELU FFN with ``f = 4h`` and MHA this is ``32·h``, the
    paper's ``34·h`` without dropout masks. Selective recompute re-runs the
    cheap norms and activation functions and drops ``2·2h + 2·f`` (with MLA also
    the up-projected keys and values, recomputed from the latent); full
    recompute keeps only the layer input ``2h``. Sequence parallelism divides
    all of it by ``tp``.
    """
    t = np.asarray(tp, dtype=float)
    r = np.asarray(recompute)
    if arch.is_moe:
        f = (arch.moe_active + arch.moe_shared) * arch.moe_d_ff
    else:
        f = arch.d_ff
    d = arch.d_model
    q_o = 2.0 * 2.0 * arch.n_heads * arch.v_dim
    if arch.attention == "mla":
        kv = 2.0 * (arch.kv_lora_rank + arch.qk_rope_head_dim) + 2.0 * arch.n_heads * (arch.qk_head_dim + arch.v_dim)
    else:
        kv = 4.0 * arch.n_kv_heads * arch.head_dim
    none = 4.0 * d + 4.0 * d + q_o + kv + 2.0 * arch.ffn_matrices * f
    selective = none - 4.0 * d - 2.0 * f
    if arch.attention == "mla":  # selective recompute re-runs the up-projection from the cached latent
        selective = selective - 2.0 * arch.n_heads * (arch.qk_head_dim + arch.v_dim)
    div = t if sequence_parallel else 1.0
    return np.where(r == 2, 2.0 * d / div, np.where(r == 1, selective, none) / t)


# ---------------------------------------------------------------- collectives
def tp_allreduce_bytes_per_layer(arch: Arch, tokens: Any, tp: Any, bytes_per_value: float = 2.0) -> np.ndarray:
    """Bytes each chip sends for the tensor-parallel collectives of one layer, forward and backward [B].

    Notes
    -----
    Megatron TP [1]_ all-reduces the ``tokens × d`` activation twice in the
    forward pass (after attention and after the FFN) and twice in the backward
    pass; with sequence parallelism each becomes a reduce-scatter plus an
    all-gather of the same volume. A ring all-reduce sends
    ``2·(t-1)/t·size`` per chip: total ``4 · 2(t-1)/t · tokens·d·b``.
    """
    t = np.asarray(tp, dtype=float)
    size = np.asarray(tokens, dtype=float) * arch.d_model * bytes_per_value
    return 4.0 * 2.0 * (t - 1.0) / t * size


def dp_gradient_bytes(params_per_chip: Any, dp: Any, *, bytes_per_value: float = 2.0, fsdp: Any = False) -> np.ndarray:
    """Bytes each chip sends to synchronise gradients once per step [B].

    Notes
    -----
    ZeRO-1/distributed optimizer: reduce-scatter of gradients plus all-gather of
    parameters, ``2·(d-1)/d·P·b``, the same as an all-reduce. FSDP (ZeRO-3)
    all-gathers the parameters again for the backward pass: ``3·(d-1)/d·P·b``.
    """
    d = np.asarray(dp, dtype=float)
    factor = np.where(np.asarray(fsdp, dtype=bool), 3.0, 2.0)
    return factor * (d - 1.0) / d * np.asarray(params_per_chip, dtype=float) * bytes_per_value


def ep_alltoall_bytes_per_layer(arch: Arch, tokens: Any, ep: Any, bytes_per_value: float = 2.0) -> np.ndarray:
    """Bytes each chip sends in the expert-parallel all-to-alls of one MoE layer, forward and backward [B].

    Notes
    -----
    Dispatch and combine each move ``tokens·k·d·b`` of which ``(e-1)/e`` leaves
    the chip; forward and backward: ``4·(e-1)/e·tokens·k·d·b`` [4]_.
    """
    e = np.asarray(ep, dtype=float)
    return 4.0 * (e - 1.0) / e * np.asarray(tokens, dtype=float) * arch.moe_active * arch.d_model * bytes_per_value


def expert_load_imbalance(arch: Arch, tokens: Any, ep: Any) -> np.ndarray:
    """Expected load of the busiest expert-parallel rank over the mean load, for random top-k routing [1].

    Parameters
    ----------
    arch : Arch
        Model architecture (``moe_experts`` E, ``moe_active`` k).
    tokens : array_like
        Tokens one expert-parallel group dispatches per MoE layer and micro-batch [tokens].
    ep : array_like
        Expert-parallel ranks, each holding ``E/ep`` experts [1].

    Returns
    -------
    ndarray
        ``E[max_r L_r] / E[L_r]`` [1]; 1 without expert parallelism or for a dense model.

    Notes
    -----
    Each of the ``n`` tokens picks ``k`` distinct experts uniformly at random (what
    Megatron-Core's ``moe_router_force_load_balancing`` benchmarks do with random router
    logits, and what a perfectly balanced router does on average). The share of a token's
    ``k`` picks landing on one rank's ``g = E/ep`` experts is hypergeometric, so the rank's
    load ``L_r`` has mean ``μ = n·k/ep`` and variance
    ``σ² = n·k·(1/ep)(1-1/ep)(E-k)/(E-1)``. With ``μ`` in the thousands the loads are close
    to normal, and the busiest of ``ep`` ranks carries ``μ + z_ep·σ`` with
    ``z_ep = Φ⁻¹((ep - 0.375)/(ep + 0.25))`` (Blom [7]_; ``sqrt(2·ln ep)`` asymptotically,
    the balls-into-bins bound of Raab and Steger [5]_)::

        f = 1 + z_ep · sqrt((ep-1)(E-k) / ((E-1)·n·k))

    The busiest rank sets the time of the MoE layer (its combine all-to-all waits for
    it) [6]_. A trained router with an auxiliary balancing loss is at least this
    imbalanced; the term is then a lower bound. It agrees with a Monte Carlo of the
    routing (``tests/perf/test_transformer.py``). :func:`gigawatt.perf.training.training_step`
    does not apply it: at training's token counts (8K-131K tokens per EP group on every
    published MoE row) ``f`` is 1.005-1.03 and it did not improve the backtest (docs/perf.md,
    "MoE routing load imbalance"); it matters for decode-sized batches on many ranks.

    Examples
    --------
    >>> a = Arch("qwen3-30b-a3b", 48, 2048, 32, 4, 128, 768, 151936, moe_experts=128, moe_active=8, moe_d_ff=768)
    >>> round(float(expert_load_imbalance(a, 8 * 8192, 8)), 4)  # 16 H100: EP8, 8,192 tokens per rank
    1.0051
    >>> round(float(expert_load_imbalance(a, 8 * 512, 8)), 3)  # 512 tokens per rank
    1.02
    """
    e = np.maximum(np.asarray(ep, dtype=float), 1.0)
    n = np.maximum(np.asarray(tokens, dtype=float), 1.0)
    if not arch.is_moe or arch.moe_experts <= 1:
        return np.ones(np.broadcast(e, n).shape)
    big, k = float(arch.moe_experts), float(max(arch.moe_active, 1))
    from scipy.special import ndtri  # here, not at import: scipy.special costs ~0.25 s to import

    z = ndtri((e - 0.375) / (e + 0.25))
    return 1.0 + np.where(e > 1.0, z, 0.0) * np.sqrt((e - 1.0) * (big - k) / ((big - 1.0) * n * k))


def pp_p2p_bytes(arch: Arch, tokens: Any, tp: Any, bytes_per_value: float = 2.0) -> np.ndarray:
    """Bytes a pipeline stage sends to its neighbour per micro-batch, forward and backward [B].

    Notes
    -----
    ``2·tokens·d·b / t`` (activations forward, gradients backward; with
    sequence parallelism each TP rank sends its slice).
    """
    return 2.0 * np.asarray(tokens, dtype=float) * arch.d_model * bytes_per_value / np.asarray(tp, dtype=float)
