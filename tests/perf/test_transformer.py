"""Accounting checked against hand computation and published parameter counts."""

import numpy as np
import pytest

from gigawatt.perf import transformer as tf
from gigawatt.perf.backtest import packaged_path, load_rows


def test_kv_bytes_llama2_70b_by_hand(llama2_70b):
    # 2 (K and V) x 80 layers x 8 KV heads x 128 head size x 2 bytes
    assert tf.kv_cache_bytes_per_token(llama2_70b) == 2 * 80 * 8 * 128 * 2
    assert tf.kv_cache_bytes_per_token(llama2_70b, 1.0) == 2 * 80 * 8 * 128


def test_kv_bytes_mla_deepseek_v3():
    # MLA caches the 512 latent plus the 64 rotary key per layer: 61 x 576 x 2 bytes
    a = tf.Arch("dsv3", 61, 7168, 128, 128, 56, 18432, 129280, attention="mla", moe_experts=256, moe_active=8,
                moe_shared=1, moe_d_ff=2048, dense_layers=3, kv_lora_rank=512, q_lora_rank=1536,
                qk_rope_head_dim=64, qk_nope_head_dim=128, v_head_dim=128)
    assert tf.kv_cache_bytes_per_token(a) == 61 * 576 * 2
    # DeepSeek-V3 report: 671B total, 37B active (within 2%: norms and MTP module not counted)
    assert a.params_total == pytest.approx(671e9, rel=0.02)
    assert a.params_active == pytest.approx(37e9, rel=0.03)


def test_llama3_405b_parameters(llama3_405b):
    # Llama 3 paper: 405B; 126 x (attention 570M + FFN 2.617B) + 2 x 128256 x 16384
    assert llama3_405b.params_total == pytest.approx(405.8e9, rel=0.002)


def test_training_flops_6nd_plus_attention(llama3_405b):
    s = 8192
    n_matmul = llama3_405b.matmul_params_active
    attn = 2 * 126 * 128 * (128 + 128) * (s + 1) / 2  # QK^T and AV, causal mean context
    assert float(tf.training_flops_per_token(llama3_405b, s)) == pytest.approx(3 * (2 * n_matmul + attn))
    assert float(tf.backward_flops_per_token(llama3_405b, s)) == pytest.approx(2 * (2 * n_matmul + attn))
    # PaLM convention (non-causal, 6N + 12 L H Q T): within 5% of ours with causal=False
    palm = 6 * 405e9 + 12 * 126 * 128 * 128 * s
    assert float(tf.training_flops_per_token(llama3_405b, s, causal=False)) == pytest.approx(palm, rel=0.01)


def test_recompute_counted_apart(llama2_70b):
    fwd = float(tf.forward_flops_per_token(llama2_70b, 4096))
    full = float(tf.recompute_flops_per_token(llama2_70b, 4096, 2))
    head = 2 * 32000 * 8192
    assert full == pytest.approx(fwd - head)
    assert float(tf.recompute_flops_per_token(llama2_70b, 4096, 0)) == 0.0
    sel = float(tf.recompute_flops_per_token(llama2_70b, 4096, 1))
    assert sel == pytest.approx(float(tf.attention_core_flops_per_token(llama2_70b, 4096)))


def test_activation_bytes_korthikanti_gelu_mha():
    # GELU FFN of 4h, MHA: 32 h bytes per token per layer (Korthikanti's 34 h less dropout masks)
    a = tf.Arch("g", 1, 1024, 8, 8, 128, 4096, 10, ffn_type="gelu", attention="mha")
    assert float(tf.activation_bytes_per_token_layer(a, 1, 0)) == 32 * 1024
    assert float(tf.activation_bytes_per_token_layer(a, 8, 0)) == 4 * 1024
    assert float(tf.activation_bytes_per_token_layer(a, 1, 2)) == 2 * 1024
    assert float(tf.activation_bytes_per_token_layer(a, 1, 1)) < 32 * 1024


def test_collective_bytes_by_hand(llama2_70b):
    tokens = 4096
    size = tokens * 8192 * 2
    assert float(tf.tp_allreduce_bytes_per_layer(llama2_70b, tokens, 8)) == pytest.approx(4 * 2 * 7 / 8 * size)
    assert float(tf.tp_allreduce_bytes_per_layer(llama2_70b, tokens, 1)) == 0.0
    assert float(tf.dp_gradient_bytes(1e9, 4)) == pytest.approx(2 * 0.75 * 1e9 * 2)
    assert float(tf.dp_gradient_bytes(1e9, 4, fsdp=True)) == pytest.approx(3 * 0.75 * 1e9 * 2)
    assert float(tf.pp_p2p_bytes(llama2_70b, tokens, 8)) == pytest.approx(2 * size / 8)


def test_validation_rows_parameter_counts():
    # Our count from the row's shape against the published total: within 4% (published
    # figures round, and some omit position embeddings or norms).
    for path in ("training_runs.csv", "inference_runs.csv"):
        for row in load_rows(packaged_path(path)):
            arch = tf.Arch.from_row(row)
            assert arch.params_total == pytest.approx(float(row["params_b_total"]) * 1e9, rel=0.04), row["id"]


def test_from_row_reads_shape_notes():
    rows = {r["id"]: r for r in load_rows(packaged_path("training_runs.csv"))}
    qwen = tf.Arch.from_row(rows["mbridge2511-qwen3-235b-a22b-fp8-h100-256"])
    assert qwen.head_dim == 128 and qwen.is_moe and qwen.dense_layers == 0
    dsv3 = tf.Arch.from_row(rows["mbridge2511-deepseek-v3-fp8-b200-256"])
    assert dsv3.attention == "mla" and dsv3.kv_lora_rank == 512 and dsv3.dense_layers == 3
    assert np.isclose(dsv3.qk_head_dim, 192)


def test_from_model_matches_catalog():
    from gigawatt.catalog import models

    for model in models().values():
        arch = tf.Arch.from_model(model)
        assert arch.params_total == pytest.approx(model.params_total, rel=0.06), model.id


def test_expert_load_imbalance_matches_random_routing():
    # Monte Carlo of random top-k routing (Megatron's force-balanced benchmarks): the busiest
    # of ep ranks, each holding E/ep experts, against the closed form
    rng = np.random.default_rng(0)
    for n, experts, k, ep in [(2048, 128, 8, 8), (512, 128, 8, 32), (4096, 8, 2, 8)]:
        a = tf.Arch("moe", 1, 1024, 8, 8, 128, 1024, 1000, moe_experts=experts, moe_active=k, moe_d_ff=512)
        ratios = []
        for _ in range(40):
            picks = np.argsort(rng.random((n, experts)), axis=1)[:, :k]
            load = np.bincount(picks.ravel() // (experts // ep), minlength=ep)
            ratios.append(load.max() / load.mean())
        # the normal approximation of the busiest rank's excess load holds within 20% of it
        assert float(tf.expert_load_imbalance(a, n, ep)) - 1.0 == pytest.approx(np.mean(ratios) - 1.0, rel=0.2)
    a = tf.Arch("moe", 1, 1024, 8, 8, 128, 1024, 1000, moe_experts=128, moe_active=8, moe_d_ff=512)
    assert float(tf.expert_load_imbalance(a, 4096, 1)) == 1.0  # one rank holds every expert
    dense = tf.Arch("dense", 1, 1024, 8, 8, 128, 1024, 1000)
    assert float(tf.expert_load_imbalance(dense, 4096, 8)) == 1.0


def test_default_sequence_length_has_one_home():
    # the perf CLI's, the throughput matrix's and the fleet's default sequence length are one constant
    from gigawatt.fleet import throughput
    from gigawatt.perf import matrix, transformer

    assert transformer.DEFAULT_SEQ_LEN == 8192
    assert throughput.DEFAULT_SEQ_LEN is transformer.DEFAULT_SEQ_LEN
    assert matrix._TRAIN_DEFAULTS["seq_len"] is transformer.DEFAULT_SEQ_LEN
