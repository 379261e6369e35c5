"""Inference model: KV capacity by hand, rooflines, regimes, agentic tasks."""

import pytest

from gigawatt.perf.calibration import calibration_for
from gigawatt.perf.inference import (
    agentic_task,
    decode_step_time_s,
    kv_capacity_tokens,
    prefill_time_s,
    serve,
    weight_bytes,
)
from gigawatt.perf.layout import Layout


def test_weight_bytes(llama2_70b):
    # embeddings stay 16-bit; the rest at the serving precision
    emb = 2 * 32000 * 8192
    assert weight_bytes(llama2_70b, "fp8") == pytest.approx((llama2_70b.params_total - emb) + 2 * emb)
    assert weight_bytes(llama2_70b, "bf16") == pytest.approx(2 * llama2_70b.params_total)


def test_kv_capacity_by_hand(h100, llama2_70b):
    cal = calibration_for("h100-sxm")
    free = cal.usable_hbm_frac * 80e9 * 2 - weight_bytes(llama2_70b, "bf16")
    assert kv_capacity_tokens(llama2_70b, h100, 2, precision="bf16") == pytest.approx(free / (2 * 80 * 8 * 128 * 2))
    assert kv_capacity_tokens(llama2_70b, h100, 1, precision="bf16") < 0  # 138 GB of weights on one 80 GB chip


def test_kv_capacity_with_kv_heads_copied_over_tp(h100, llama2_70b):
    # 8 KV heads on 32 ranks: each rank keeps the KV head its 2 query heads use, so the
    # replica holds 4 copies of the cache, and the K and V projections (2·8192·1024 per
    # layer) are copied 4 times too: 3 extra copies over 80 layers in 16-bit
    cal = calibration_for("h100-sxm")
    extra = 80 * 2 * 8192 * 8 * 128 * 3 * 2.0
    free = cal.usable_hbm_frac * 80e9 * 32 - weight_bytes(llama2_70b, "bf16") - extra
    got = kv_capacity_tokens(llama2_70b, h100, 32, precision="bf16", tp=32)
    assert got == pytest.approx(free / (4 * 2 * 80 * 8 * 128 * 2))
    # at tp 8 every rank has its own KV head: no copies
    assert kv_capacity_tokens(llama2_70b, h100, 8, precision="bf16", tp=8) == pytest.approx(
        kv_capacity_tokens(llama2_70b, h100, 8, precision="bf16"))


def test_padded_heads_cost_prefill_time(h100):
    # 40 heads of 128 on 32 ranks run as 64 heads; 32 heads of 160 have the same width and
    # divide evenly. Unpadded, the two do the same work (ratio 1.0); padded, the attention
    # core and the Q/K/V/O projections do 1.6x, which a very long prompt approaches
    from gigawatt.perf.transformer import Arch

    a40 = Arch("mha-40", 40, 5120, 40, 40, 128, 13824, 32000, attention="mha")
    a32 = Arch("mha-32", 40, 5120, 32, 32, 160, 13824, 32000, attention="mha")
    ratio = float(prefill_time_s(a40, h100, Layout(tp=32), batch=1, input_len=512000)) / float(
        prefill_time_s(a32, h100, Layout(tp=32), batch=1, input_len=512000))
    assert 1.4 < ratio < 1.6
    same = float(prefill_time_s(a40, h100, Layout(tp=8), batch=1, input_len=512000)) / float(
        prefill_time_s(a32, h100, Layout(tp=8), batch=1, input_len=512000))
    assert same == pytest.approx(1.0, abs=0.01)


def test_batch1_decode_is_memory_bound(h100, llama2_70b):
    cal = calibration_for("h100-sxm")
    t = float(decode_step_time_s(llama2_70b, h100, Layout(tp=8), batch=1, context=1000, precision="fp8"))
    floor = weight_bytes(llama2_70b, "fp8") / (8 * 3.35e12 * cal.hbm_eff)
    # at batch 1 a token costs the weight read plus the all-reduces and the engine overhead
    assert floor < t < floor + 2 * 80 * (cal.collective_latency_s + 1e-5) + cal.decode_step_overhead_s + 1e-3


def test_prefill_compute_bound_scales_with_prompt(h100, llama2_70b):
    t1 = float(prefill_time_s(llama2_70b, h100, Layout(tp=8), batch=1, input_len=4000))
    t2 = float(prefill_time_s(llama2_70b, h100, Layout(tp=8), batch=1, input_len=8000))
    assert 1.9 < t2 / t1 < 2.3  # linear in tokens plus a growing attention share


def test_regimes(h100, llama2_70b):
    kw = dict(n_chips=8, input_len=2000, output_len=200, precision="fp8")
    tp8 = Layout(tp=8)
    off = serve(llama2_70b, h100, tp8, regime="offline", **kw)
    srv = serve(llama2_70b, h100, tp8, regime="server", ttft_limit_s=2.0, tpot_limit_s=0.05, **kw)
    lat = serve(llama2_70b, h100, tp8, regime="latency", batch=1, **kw)
    assert off["output_tokens_per_s"] > srv["output_tokens_per_s"] > lat["output_tokens_per_s"] > 0
    assert srv["tpot_s"] <= 0.05 and srv["ttft_s"] <= 2.0
    assert lat["tpot_s"] < off["tpot_s"]
    tight = serve(llama2_70b, h100, tp8, regime="server", ttft_limit_s=2.0, tpot_limit_s=0.001, **kw)
    assert tight["output_tokens_per_s"] is None and "latency limits" in tight["error"]


def test_weights_do_not_fit(h100, llama3_405b):
    r = serve(llama3_405b, h100, Layout(tp=1), n_chips=1, input_len=100, output_len=100)
    assert r["output_tokens_per_s"] is None and "raise tp" in r["error"]


def test_agentic_task_tokens(h100, llama2_70b):
    r = agentic_task(llama2_70b, h100, Layout(tp=8), steps=3, system_prompt_tokens=1000, tool_output_tokens=500,
                     output_tokens_per_step=100, prefix_cache_hit_rate=1.0, n_chips=8, precision="fp8")
    # contexts 1000, 1600, 2200; seen before: 0, 1100, 1700 -> new 1000 + 500 + 500
    assert r["input_tokens_new"] == pytest.approx(2000)
    assert r["input_tokens_cached"] == pytest.approx(2800)
    assert r["output_tokens"] == 300 and r["final_context_tokens"] == 2200
    assert r["chip_s"] > 0
    no_cache = agentic_task(llama2_70b, h100, Layout(tp=8), steps=3, system_prompt_tokens=1000, tool_output_tokens=500,
                            output_tokens_per_step=100, prefix_cache_hit_rate=0.0, n_chips=8, precision="fp8")
    assert no_cache["chip_s"] > r["chip_s"]


def test_expert_parallel_and_kv_precision(h100):
    from gigawatt.perf.transformer import Arch

    moe = Arch("moe", 32, 4096, 32, 8, 128, 14336, 32000, moe_experts=8, moe_active=2, moe_d_ff=14336)
    kw = dict(n_chips=8, input_len=1000, output_len=200, precision="fp8")
    tp_only = serve(moe, h100, Layout(tp=8), **kw)
    with_ep = serve(moe, h100, Layout(tp=8, ep=8), **kw)
    assert with_ep["output_tokens_per_s"] > 0 and with_ep["comm_s"] != tp_only["comm_s"]
    assert serve(moe, h100, Layout(tp=8, ep=16), **kw)["output_tokens_per_s"] is None
    # an FP8 KV cache holds twice the tokens of a BF16 one
    a = serve(moe, h100, Layout(tp=8), kv_bytes_per_value=1.0, **kw)["kv_capacity_tokens"]
    b = serve(moe, h100, Layout(tp=8), kv_bytes_per_value=2.0, **kw)["kv_capacity_tokens"]
    assert a == pytest.approx(2 * b)


def test_mla_latent_copied_over_tp_unless_attention_is_data_parallel(h100):
    # MLA's latent is shared by all heads, so tensor-parallel attention keeps it whole on every
    # rank (8 copies on TP8); data-parallel attention keeps one copy but stores every rank's
    # attention weights: capacity = (HBM - W - 7 x attention weights) / latent bytes
    from gigawatt.perf.transformer import Arch, attention_params_per_layer, kv_cache_bytes_per_token

    a = Arch("mla-moe", 8, 2048, 16, 16, 128, 4096, 32000, attention="mla", moe_experts=64, moe_active=6,
             moe_d_ff=1024, kv_lora_rank=512, qk_rope_head_dim=64, qk_nope_head_dim=128, v_head_dim=128)
    cal = calibration_for("h100-sxm")
    per_token = kv_cache_bytes_per_token(a, 1.0)
    free = cal.usable_hbm_frac * 80e9 * 8 - weight_bytes(a, "fp8")
    assert kv_capacity_tokens(a, h100, 8, precision="fp8", kv_bytes_per_value=1.0, tp=8) == pytest.approx(
        free / (8 * per_token))
    copies = 7 * attention_params_per_layer(a) * 8 * 1.0
    assert kv_capacity_tokens(a, h100, 8, precision="fp8", kv_bytes_per_value=1.0, tp=8, attention_dp=True) == \
        pytest.approx((free - copies) / per_token)


def test_serve_plan_searches_expert_parallel_and_data_parallel_attention_for_moe():
    # DeepSeek-V3 (MLA) on 8 B200: head-split attention keeps the whole latent cache on all 8
    # ranks, so the search prefers experts over the 8 ranks with data-parallel attention
    from gigawatt.perf.api import serve_plan

    best = serve_plan("deepseek-v3", "b200", 8, input_len=4000, output_len=1000, precision="fp8")
    split = serve_plan("deepseek-v3", "b200", 8, input_len=4000, output_len=1000, precision="fp8",
                       layout=Layout(tp=8, ep=8, attention_dp=False))
    assert best["ep"] > 1 and best["attention_dp"]
    assert best["kv_capacity_tokens"] > 5 * split["kv_capacity_tokens"]
    assert best["output_tokens_per_s"] > split["output_tokens_per_s"]
    # a dense model keeps ep 1 and head-split attention
    dense = serve_plan("llama3.1-70b", "h100-sxm", 8, input_len=2000, output_len=200)
    assert (dense["ep"], dense["attention_dp"]) == (1, False)


def test_data_parallel_attention_one_prompt_uses_one_attention_rank(h100):
    # one sequence occupies one of 8 data-parallel attention ranks: its attention (core and
    # projections) takes 8x the time it takes split over 8 ranks; the MoE part does not change
    from gigawatt.perf.inference import iteration_time_s
    from gigawatt.perf.transformer import Arch

    a = Arch("gqa-moe", 8, 4096, 32, 8, 128, 8192, 32000, moe_experts=64, moe_active=4, moe_d_ff=1024)
    kw = dict(decode_tokens=0.0, decode_context=0.0, prefill_tokens=8000.0, prefill_context=4000.5)
    lay = Layout(tp=8, ep=8, attention_dp=True)
    busy = iteration_time_s(a, h100, lay, sequences=8, **kw)
    one = iteration_time_s(a, h100, lay, sequences=1, **kw)
    assert float(one["time_s"]) > 2.0 * float(busy["time_s"])
    assert float(iteration_time_s(a, h100, lay, **kw)["time_s"]) == pytest.approx(float(busy["time_s"]))


def test_kv_reservation_whole_request_or_mean_context(h100, llama2_70b):
    # KV-bound (TP2 BF16 on two 80 GB H100, 1000 in / 3000 out): the largest batch is the KV capacity
    # over the tokens a sequence holds, in + out/2 = 2,500 on average (vLLM) or the whole
    # in + out = 4,000 reserved up front (TensorRT-LLM's GUARANTEED_NO_EVICT)
    kw = dict(n_chips=2, input_len=1000, output_len=3000, precision="bf16")
    cap = kv_capacity_tokens(llama2_70b, h100, 2, precision="bf16", tp=2)
    mean = serve(llama2_70b, h100, Layout(tp=2), **kw)
    full = serve(llama2_70b, h100, Layout(tp=2), kv_reservation="full", **kw)
    assert mean["batch"] == pytest.approx(cap / 2500.0)
    assert full["batch"] == pytest.approx(cap / 4000.0)
    assert full["output_tokens_per_s"] < mean["output_tokens_per_s"]
    with pytest.raises(ValueError, match="kv_reservation"):
        serve(llama2_70b, h100, Layout(tp=2), kv_reservation="lazy", **kw)
    from gigawatt.perf.inference import row_kv_reservation
    assert row_kv_reservation({"engine": "trtllm"}) == "full" and row_kv_reservation({"engine": "vllm"}) == "mean"


# ---------------------------------------------------------------- the stages of an iteration and of serve
def test_iteration_is_its_stages(h100, llama2_70b):
    # the iteration is max(compute, memory) of the GEMMs and of attention, plus communication and overhead
    import numpy as np

    from gigawatt.perf.inference import attention_time_s, gemm_time_s, iteration_comm_s, iteration_time_s

    cal = calibration_for("h100-sxm")
    d, p = np.array([1.0, 64.0, 256.0]), np.array([0.0, 2000.0, 8000.0])
    it = iteration_time_s(llama2_70b, h100, Layout(tp=4, pp=2), decode_tokens=d, decode_context=1500.0,
                          prefill_tokens=p, prefill_context=500.0, cal=cal)
    kw = dict(tp=4, pp=2, attention_dp=False)
    dense, expert = gemm_time_s(llama2_70b, h100, cal, tokens=d + p, precision="bf16", **kw)
    ac, am = attention_time_s(llama2_70b, h100, cal, decode_tokens=d, decode_context=np.asarray(1500.0),
                              prefill_tokens=p, prefill_context=np.asarray(500.0), precision="bf16",
                              kv_bytes_per_value=2.0, **kw)
    comm = iteration_comm_s(llama2_70b, h100, cal, ep=1, tokens=d + p, **kw)
    expected = dense + expert + np.maximum(ac, am) + comm + cal.decode_step_overhead_s
    assert np.array_equal(it["time_s"], expected)
    assert not expert.any()  # a dense model has no routed experts
    # one decode token: reading the 138 GB of weights binds, and each pipeline step reads its stage's
    # weights over the tp = 4 chips of the stage: 138 GB / (4 x 3.35 TB/s x e_hbm), not over all 8 chips
    from gigawatt.perf.inference import weight_bytes

    assert dense[0] == pytest.approx(weight_bytes(llama2_70b, "bf16") / (4 * h100.hbm_bw_bytes_per_s * cal.hbm_eff))


def test_max_decode_batch_by_reservation():
    from gigawatt.perf.inference import max_decode_batch

    cal = calibration_for("h100-sxm")
    kw = dict(kv_capacity=1e6, tp=8, attention_dp=False, input_len=1500.0, output_len=1000.0)
    # mean: a sequence holds in + out/2 = 2,000 tokens; full: in + out = 2,500
    assert max_decode_batch(cal, kv_reservation="mean", **kw) == pytest.approx(min(cal.max_decode_batch, 500.0))
    assert max_decode_batch(cal, kv_reservation="full", **kw) == pytest.approx(min(cal.max_decode_batch, 400.0))


def test_within_latency_limits():
    import numpy as np

    from gigawatt.perf.inference import within_latency_limits

    tpot, ttft = np.array([0.01, 0.03, 0.05]), np.array([0.5, 1.0, 3.0])
    assert within_latency_limits(tpot, ttft, None, None).all()
    assert within_latency_limits(tpot, ttft, 2.0, 0.04).tolist() == [True, True, False]
    assert within_latency_limits(tpot, ttft, 0.8, None).tolist() == [True, False, False]


def test_replica_problem_names_the_cause(h100, llama2_70b):
    from gigawatt.perf.inference import replica_problem

    assert "do not fit on 1 chips of 80 GB" in replica_problem(llama2_70b, h100, kv_capacity=-1.0, chips=1, ep=1,
                                                               precision="bf16")
    assert replica_problem(llama2_70b, h100, kv_capacity=1e5, chips=2, ep=4, precision="bf16").startswith("ep 4")
    assert replica_problem(llama2_70b, h100, kv_capacity=1e5, chips=2, ep=1, precision="bf16") == ""


def test_default_kv_bytes(h100, llama2_70b):
    from gigawatt.perf.inference import bytes_per_param, default_kv_bytes_per_value

    assert [default_kv_bytes_per_value(p) for p in ("bf16", "fp8", "fp4")] == [2.0, 1.0, 1.0]
    assert bytes_per_param("FP8") == 1.0 and bytes_per_param("w4a16") == 2.0  # unlisted: 16 bit
    # serve() with no KV precision uses FP8 for FP8 weights: the same as asking for it
    a = serve(llama2_70b, h100, Layout(tp=2), n_chips=2, input_len=2000, output_len=200, precision="fp8")
    b = serve(llama2_70b, h100, Layout(tp=2), n_chips=2, input_len=2000, output_len=200, precision="fp8",
              kv_bytes_per_value=1.0)
    assert a == b
