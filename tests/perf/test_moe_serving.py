"""MoE serving: expert GEMMs, load imbalance, pipeline stages, speculative decoding, disaggregation, layouts."""

import numpy as np
import pytest

from gigawatt.perf.calibration import calibration_for
from gigawatt.perf.layout import Layout
from gigawatt.perf.transformer import Arch


@pytest.fixture
def qwen3_30b():
    # Qwen3-30B-A3B: 48 layers, d 2048, 32 heads of 128, 4 KV heads, 128 experts top-8 of 768
    return Arch("qwen3-30b-a3b", 48, 2048, 32, 4, 128, 768, 151936, moe_experts=128, moe_active=8, moe_d_ff=768)


@pytest.fixture
def deepseek_r1():
    return Arch("deepseek-r1", 61, 7168, 128, 128, 128, 18432, 129280, attention="mla", moe_experts=256, moe_active=8,
                moe_shared=1, moe_d_ff=2048, dense_layers=3, kv_lora_rank=512, q_lora_rank=1536,
                qk_rope_head_dim=64, qk_nope_head_dim=128, v_head_dim=128)


def test_spec_accepted_tokens_by_hand():
    from gigawatt.perf.inference import spec_accepted_tokens

    # 1 + a + a^2 + a^3 with a = 0.85 (Leviathan et al. eq. 1)
    assert spec_accepted_tokens(3, 0.85) == pytest.approx(1 + 0.85 + 0.7225 + 0.614125)
    assert spec_accepted_tokens(0, 0.85) == 1.0 and spec_accepted_tokens(2, 1.0) == 3.0


def test_expert_rows_are_those_of_the_experts_hit(qwen3_30b):
    # one token hits k = 8 experts with one row each; 1,024 tokens hit nearly all 128 with 64 rows; the
    # real rows run at the grouped-GEMM rate, one half-tile of padding at the dense tile rate
    from gigawatt.perf.inference import expert_gemm_efficiency

    cal = calibration_for("h100-sxm")
    scale = cal.serving_eff_ratio * getattr(cal, "serving_scale", 1.0) * getattr(cal, "expert_scale", 1.0)

    def by_hand(m):
        real = m / (cal.matmul_eff * 768 / (768 + cal.expert_half_width))
        pad = cal.matmul_half_tokens / (cal.matmul_eff * 768 / (768 + cal.matmul_half_width))
        return m / (real + pad) * scale

    one = float(expert_gemm_efficiency(qwen3_30b, cal, tp=1, ep=1, tokens=1.0, precision="bf16"))
    assert one == pytest.approx(by_hand(1.0))
    hit = 128 * (1 - (1 - 8 / 128) ** 1024)
    big = float(expert_gemm_efficiency(qwen3_30b, cal, tp=1, ep=1, tokens=1024.0, precision="bf16"))
    assert big == pytest.approx(by_hand(1024 * 8 / hit))
    assert big > 5 * one
    # many rows: training's grouped-GEMM law
    many = float(expert_gemm_efficiency(qwen3_30b, cal, tp=1, ep=1, tokens=1e7, precision="bf16"))
    assert many == pytest.approx(cal.matmul_eff * 768 / (768 + cal.expert_half_width) * scale, rel=1e-3)


def test_pipeline_stages_reread_their_weights(h100, llama2_70b):
    # one decode token: the weight read is the same with pp = 1 and pp = 4 at the same tp (each
    # pipeline step reads its stage's weights), so pipelining adds capacity, not bandwidth
    from gigawatt.perf.inference import decode_step_time_s

    cal = calibration_for("h100-sxm")
    t1 = float(decode_step_time_s(llama2_70b, h100, Layout(tp=2, pp=1), batch=1, context=1000.0, cal=cal))
    t4 = float(decode_step_time_s(llama2_70b, h100, Layout(tp=2, pp=4), batch=1, context=1000.0, cal=cal))
    assert t4 >= t1 * 0.99
    # at a batch of 256 the compute does spread over the 4 stages' micro-batches
    c1 = float(decode_step_time_s(llama2_70b, h100, Layout(tp=2, pp=1), batch=256, context=1000.0, cal=cal))
    c4 = float(decode_step_time_s(llama2_70b, h100, Layout(tp=2, pp=4), batch=256, context=1000.0, cal=cal))
    assert c4 < c1


def test_mtp_speeds_up_batch_one_decode(h100, deepseek_r1):
    # at batch 1 decode reads the weights once for 1 + n verified tokens: MTP3 emits ~3.2 tokens per
    # step for a step a little longer than without it
    from gigawatt.perf.inference import serve

    kw = dict(n_chips=8, input_len=1024, output_len=2048, precision="fp8", regime="latency", batch=1)
    plain = serve(deepseek_r1, h100.with_(hbm_bytes=141e9), Layout(tp=8, ep=8), **kw)
    mtp = serve(deepseek_r1, h100.with_(hbm_bytes=141e9), Layout(tp=8, ep=8), spec_tokens=3, **kw)
    assert 1.5 < plain["tpot_s"] / mtp["tpot_s"] < 3.2


def test_disaggregated_serving_splits_the_chips(h100, llama2_70b):
    from gigawatt.perf.inference import serve

    kw = dict(n_chips=64, input_len=2000, output_len=200, precision="fp8", regime="server", ttft_limit_s=2.0,
              tpot_limit_s=0.05)
    r = serve(llama2_70b, h100, Layout(tp=8), disaggregated=True, **kw)
    assert 0.0 < r["prefill_share"] < 1.0 and r["tpot_s"] <= 0.05 and r["ttft_s"] <= 2.0
    assert r["output_tokens_per_s"] > 0


def test_every_moe_serving_row_is_predicted():
    from gigawatt.perf.backtest import load_rows, packaged_path, predict_inference_row

    rows = [r for r in load_rows(packaged_path("inference_runs.csv")) if r["moe_experts"] not in ("", "0")]
    assert len(rows) >= 28
    for row in rows:
        res = predict_inference_row(row)
        assert res["predicted"] is not None and res["predicted"] > 0, (row["id"], res.get("reason"))


def test_deepseek_r1_ep_row_runs_its_published_layout():
    # TensorRT-LLM lists --tp 8 --ep 8 with attention DP as tp 1, ep 8: a stage of 8 ranks, data-parallel attention
    from gigawatt.perf.backtest import load_rows, packaged_path, predict_inference_row

    row = {r["id"]: r for r in load_rows(packaged_path("inference_runs.csv"))}["trtllm-dsr1-h200x8-maxtput"]
    lay = predict_inference_row(row)["detail"]["layout"]
    assert (lay["tp"], lay["ep"], lay["attention_dp"]) == (8, 8, True)


def test_frontier_moe_on_a_trainium3_ultraserver_lays_out():
    # 4 TB of BF16 weights need ~30 chips: the search finds TP x PP x EP over 144 chips, and --pp 4 is kept
    from gigawatt.perf.api import serve_plan

    r = serve_plan("frontier-moe-2t", "trainium3", 144, input_len=2000, output_len=200)
    assert 144 % (r["tp"] * r["pp"]) == 0 and r["tp"] * r["pp"] >= 30 and r["output_tokens_per_s_per_chip"] > 0
    r4 = serve_plan("frontier-moe-2t", "trainium3", 144, input_len=2000, output_len=200, layout=Layout(pp=4))
    assert r4["pp"] == 4 and r4["output_tokens_per_s_per_chip"] <= r["output_tokens_per_s_per_chip"]


def test_too_few_chips_says_what_is_missing():
    from gigawatt.perf.api import LayoutError, serve_plan

    with pytest.raises(LayoutError, match=r"need at least 30 chips"):
        serve_plan("frontier-moe-2t", "trainium3", 16, input_len=2000, output_len=200)


def test_perf_serve_cli_lays_out_frontier_moe_and_keeps_pp():
    import json

    from typer.testing import CliRunner

    from gigawatt.cli import app

    base = ["perf", "serve", "--model", "frontier-moe-2t", "--chip", "trainium3"]
    r = CliRunner().invoke(app, base + ["--chips", "144", "--pp", "4", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["pp"] == 4 and 144 % (out["tp"] * 4) == 0 and out["output_tokens_per_s_per_chip"] > 0
    r = CliRunner().invoke(app, base + ["--chips", "16"])
    assert r.exit_code == 2 and "need at least 30 chips" in r.output


def test_attention_dp_prefill_skew_by_hand():
    # 8 ranks, one prompt per rank on average: E[max of 8 Poisson(1)] = sum_k (1 - F(k)^8) = 2.578
    from scipy.stats import poisson

    from gigawatt.perf.inference import attention_dp_prefill_skew

    by_hand = sum(1 - poisson.cdf(k, 1.0) ** 8 for k in range(40))
    assert float(attention_dp_prefill_skew(8.0, 8)) == pytest.approx(by_hand, rel=1e-9)
    assert float(attention_dp_prefill_skew(8.0, 1)) == 1.0
    # many prompts per rank: the busiest rank is close to the mean
    assert 1.0 < float(attention_dp_prefill_skew(8000.0, 8)) < 1.1


def test_dp_padding_runs_the_experts_at_the_busiest_rank(h100, deepseek_r1):
    # 8 attention ranks, 800 decode tokens and 400 prompt tokens with the busiest rank prefilling 3x the mean:
    # padded, the experts and the expert all-to-alls see 8 x the busiest rank's tokens, 800 + 3 x 400 = 2,000,
    # which is gemm_time_s and iteration_comm_s at 2,000 tokens; unpadded, the 1,200 tokens there are
    from gigawatt.perf.inference import gemm_time_s, iteration_comm_s, iteration_time_s, moe_dp_padding

    cal = calibration_for("h100-sxm")
    lay = Layout(tp=8, ep=8, attention_dp=True)
    kw = dict(decode_tokens=800.0, decode_context=1500.0, prefill_tokens=400.0, prefill_context=500.0,
              precision="fp8", kv_bytes_per_value=1.0, cal=cal, prefill_skew=3.0)
    padded = iteration_time_s(deepseek_r1, h100, lay, dp_padding=True, **kw)
    plain = iteration_time_s(deepseek_r1, h100, lay, **kw)
    g = dict(tp=8, pp=1, attention_dp=True, precision="fp8", ep=8, microbatches=1)
    assert float(padded["expert_gemm_s"]) == pytest.approx(float(gemm_time_s(deepseek_r1, h100, cal, tokens=2000.0, **g)[1]))
    assert float(plain["expert_gemm_s"]) == pytest.approx(float(gemm_time_s(deepseek_r1, h100, cal, tokens=1200.0, **g)[1]))
    c = dict(tp=8, pp=1, ep=8, attention_dp=True)
    assert float(padded["comm_s"]) == pytest.approx(float(iteration_comm_s(deepseek_r1, h100, cal, tokens=2000.0, **c)))
    assert float(plain["comm_s"]) == pytest.approx(float(iteration_comm_s(deepseek_r1, h100, cal, tokens=1200.0, **c)))
    assert float(padded["dense_gemm_s"]) == float(plain["dense_gemm_s"])  # dense work was already the busiest rank's
    # TensorRT-LLM pads for NVFP4 experts or a non-CUTLASS MoE backend; its FP8 CUTLASS path and other stacks do not
    assert moe_dp_padding("tensorrt-llm", "fp4") and moe_dp_padding("TensorRT-LLM", "fp8", "DeepGEMM")
    assert not moe_dp_padding("tensorrt-llm", "fp8") and not moe_dp_padding("sglang", "fp4")
