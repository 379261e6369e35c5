"""Training step model: hand-checked pieces and physical invariants."""

import numpy as np
import pytest

from gigawatt.perf.calibration import calibration_for
from gigawatt.perf import transformer as tf
from gigawatt.perf.goodput import PUBLISHED_RUN_RELIABILITY, Reliability, run_chip_hours, training_goodput
from gigawatt.perf.layout import Layout
from gigawatt.perf.training import (
    collective_time_s,
    gemm_efficiency,
    memory_per_chip_bytes,
    pipeline_bubble_fraction,
    training_step,
)


def test_bubble_narayanan():
    # (p - 1) / (v m): p=8, m=32 -> 7/32; interleaving by 4 divides it by 4
    assert float(pipeline_bubble_fraction(8, 32)) == pytest.approx(7 / 32)
    assert float(pipeline_bubble_fraction(8, 32, 4)) == pytest.approx(7 / 128)


def test_gemm_efficiency_saturates():
    e = gemm_efficiency(np.array([64, 256, 4096, 1e9]), 1e9, 0.7, 256, 64)
    assert np.all(np.diff(e) > 0) and e[-1] == pytest.approx(0.7)
    assert e[1] == pytest.approx(0.35)


def test_collective_tier(h100):
    cal = calibration_for("h100-sxm")
    inside = float(collective_time_s(1e9, 8, h100, cal))
    outside = float(collective_time_s(1e9, 16, h100, cal))
    # NVLink one way 450 GB/s vs 50 GB/s network: ~9x slower across nodes
    assert outside / inside == pytest.approx(9.0, rel=0.05)


def test_collective_across_domains_is_hierarchical(h100):
    # 64 consecutive chips over 8 nodes of 8: each chip reduce-scatters inside its node, sends its
    # 1/8 share over the network, all-gathers inside again. A stride-8 group (one chip per node,
    # e.g. data parallelism beside TP8) has nobody to share with: a flat ring over the network.
    cal = calibration_for("h100-sxm")
    up = 450e9 * cal.scaleup_eff
    out = 50e9 * cal.scaleout_eff
    b = 8e9
    t = float(collective_time_s(b, 64, h100, cal, n_calls=0, group_size=64))
    assert t == pytest.approx(b * 7 / 8 / up + b / 8 / out, rel=1e-6)
    flat = float(collective_time_s(b, 64, h100, cal, n_calls=0, group_size=8))
    assert flat == pytest.approx(b / out, rel=1e-6)
    assert flat == pytest.approx(float(collective_time_s(b, 64, h100, cal, n_calls=0)), rel=1e-9)
    assert flat / t == pytest.approx(4.5, rel=1e-3)  # 8 x less network traffic, plus the NVLink legs


def test_step_breakdown_adds_up(h100, llama3_405b):
    r = training_step(llama3_405b, h100, Layout(tp=8, pp=16, vpp=7, recompute="selective"), n_chips=16384,
                      seq_len=8192, global_batch_seqs=2048)
    parts = sum(float(r[k]) for k in ("compute_s", "bubble_s", "tp_comm_s", "ep_comm_s", "pp_comm_s",
                                      "dp_comm_s", "optimizer_s", "overhead_s"))
    assert parts == pytest.approx(float(r["step_time_s"]), rel=1e-9)
    assert float(r["tokens_per_s"]) == pytest.approx(2048 * 8192 / float(r["step_time_s"]))
    # Llama 3 paper table 4: 400 TFLOP/s per GPU, MFU 41%; our MFU within 10 points
    assert 0.31 < float(r["mfu"]) < 0.51


def test_vectorized_equals_scalar(h100, llama2_70b):
    tp = np.array([2, 4, 8])
    vec = training_step(llama2_70b, h100, Layout(tp=tp, pp=4), n_chips=512, seq_len=4096, global_batch_seqs=1024)
    for i, t in enumerate(tp):
        one = training_step(llama2_70b, h100, Layout(tp=int(t), pp=4), n_chips=512, seq_len=4096,
                            global_batch_seqs=1024)
        assert float(one["step_time_s"]) == pytest.approx(float(vec["step_time_s"][i]))


def test_memory_zero1_states(llama2_70b):
    # no activations to speak of: 1 token; ZeRO-1 over dp=8 -> 6 + 12/8 bytes per parameter held
    m = memory_per_chip_bytes(llama2_70b, Layout(tp=8, pp=1, dp=8, recompute="full"), seq_len=1)
    params = llama2_70b.params_total / 8
    assert float(m) == pytest.approx(params * (6 + 12 / 8), rel=0.01)


def test_more_chips_more_throughput_less_per_chip(h100, llama2_70b):
    lay = Layout(tp=8, pp=4, vpp=5)
    a = training_step(llama2_70b, h100, lay, n_chips=256, seq_len=4096, global_batch_seqs=1024)
    b = training_step(llama2_70b, h100, lay, n_chips=1024, seq_len=4096, global_batch_seqs=1024)
    assert float(b["tokens_per_s"]) > float(a["tokens_per_s"])
    assert float(b["tokens_per_s"]) / 1024 < float(a["tokens_per_s"]) / 256


def test_fp8_faster_than_bf16(h100, llama2_70b):
    kw = dict(n_chips=64, seq_len=4096, global_batch_seqs=256)
    lay = Layout(tp=8, pp=1)
    assert float(training_step(llama2_70b, h100, lay, precision="fp8", **kw)["step_time_s"]) < float(
        training_step(llama2_70b, h100, lay, precision="bf16", **kw)["step_time_s"])


def test_goodput_llama3_fact():
    # the calibrated defaults reproduce Llama 3's >90% effective training time on 16,384 H100 (419
    # unexpected interruptions in 54 days, arXiv:2407.21783 sec. 3.3.4): 20-minute checkpoints lose
    # 10 min of work per interruption, the restart 8.5 min, so 1 - 16,384 x 419/(16,384 x 1,296 h) x 18.5/60 h
    hand = 1.0 - 419.0 / 1296.0 * (10.0 + 8.5) / 60.0
    assert hand == pytest.approx(0.90032, abs=1e-5)
    assert float(training_goodput(16384)) == pytest.approx(hand, rel=1e-12)
    assert abs(float(training_goodput(16384)) - 0.90) < 0.01  # within 1 point of the published >90%
    assert PUBLISHED_RUN_RELIABILITY == Reliability()  # the backtest's chip-hour rows use the same inputs
    assert Reliability().hours_lost_per_interruption == pytest.approx(18.5 / 60)
    assert float(training_goodput(1)) == pytest.approx(1.0, abs=1e-4)
    # linear in the job size: 32,768 chips lose twice as much; the floor from ~82,000 chips on
    assert float(training_goodput(32768)) == pytest.approx(1.0 - 2 * 419.0 / 1296.0 * 18.5 / 60.0)
    assert float(training_goodput(0.5 / (419.0 / (16384 * 1296.0) * 18.5 / 60.0) - 1)) > 0.5
    assert float(training_goodput(131072)) == float(training_goodput(1e7)) == 0.5
    hours = float(run_chip_hours(15.6e12, 2.5e6, 16384))
    assert hours == pytest.approx(15.6e12 / 2.5e6 / hand * 16384 / 3600)


def test_goodput_defaults_are_the_scenario_schemas():
    # perf.goodput restates the schema's defaults, so `perf train` and a scenario that sets neither agree
    from gigawatt.scenario.demand_schema import Demand

    fields = Demand.model_fields
    default = Reliability()
    assert default.checkpoint_interval_s == fields["checkpoint_interval_s"].default == 1200.0
    assert default.restart_s == fields["restart_s"].default == 510.0
    # the old assumption (hourly checkpoints, a 30-minute restart: 1 h lost) gave 0.68 at Llama 3's size
    old = Reliability(checkpoint_interval_s=3600.0, restart_s=1800.0)
    assert float(training_goodput(16384, old)) == pytest.approx(1.0 - 419 / (54 * 24) * 1.0)
    # an MTBF given per chip is the same rate
    assert Reliability.from_mtbf(default.chip_mtbf_s).failures_per_chip_hour == pytest.approx(
        default.failures_per_chip_hour, rel=1e-12)


def test_zero1_gradient_sync_hides_behind_one_microbatch(h100, llama2_70b):
    # ZeRO-1 reduces gradients once they are final: only the last micro-batch's compute hides it
    from gigawatt.perf.calibration import Calibration

    cal = Calibration(family="t", dp_overlap=0.9)
    kw = dict(n_chips=512, seq_len=4096, cal=cal)
    lay = Layout(tp=8, pp=1, micro_batch=1, recompute="none")
    few = training_step(llama2_70b, h100, lay, global_batch_seqs=128, **kw)  # 2 micro-batches
    t_mb = float(few["compute_s"]) / float(few["n_microbatches"])
    dense_p = llama2_70b.params_total / 8
    dp_t = 2 * 63 / 64 * dense_p * 2 / (50e9 * cal.scaleout_eff) + 2 * 80 * cal.collective_latency_s
    assert float(few["dp_comm_s"]) == pytest.approx(max(dp_t * 0.1, dp_t - t_mb), rel=1e-6)
    # the window is one micro-batch whatever the step's length: a larger batch hides no more
    many = training_step(llama2_70b, h100, lay, global_batch_seqs=1024, **kw)
    assert float(many["dp_comm_s"]) == pytest.approx(float(few["dp_comm_s"]), rel=1e-6)


def test_fp8_quantization_traffic(h100):
    from gigawatt.perf.calibration import Calibration

    small = tf.Arch("small", 24, 2048, 16, 4, 128, 6144, 32000)
    kw = dict(n_chips=8, seq_len=4096, global_batch_seqs=64, precision="fp8")
    lay = Layout(tp=1, pp=1, micro_batch=1, recompute="none")
    with_cast = training_step(small, h100, lay, cal=Calibration(family="t", fp8_cast_traffic=1.0), **kw)
    without = training_step(small, h100, lay, cal=Calibration(family="t", fp8_cast_traffic=0.0), **kw)
    assert float(with_cast["step_time_s"]) > float(without["step_time_s"])
    bf16 = dict(kw, precision="bf16")
    assert float(training_step(small, h100, lay, cal=Calibration(family="t", fp8_cast_traffic=1.0), **bf16)["step_time_s"]) \
        == pytest.approx(float(training_step(small, h100, lay, cal=Calibration(family="t", fp8_cast_traffic=0.0), **bf16)["step_time_s"]))


def test_mla_selective_recompute_drops_up_projected_kv():
    mla = tf.Arch("dsv2", 60, 5120, 128, 128, 128, 12288, 102400, attention="mla", moe_experts=160, moe_active=6,
                  moe_shared=2, moe_d_ff=1536, dense_layers=1, kv_lora_rank=512, q_lora_rank=1536,
                  qk_rope_head_dim=64, qk_nope_head_dim=128, v_head_dim=128)
    none, sel = (float(tf.activation_bytes_per_token_layer(mla, 1, r)) for r in (0, 1))
    assert none - sel == pytest.approx(4 * 5120 + 2 * 8 * 1536 + 2 * 128 * (192 + 128))
    up = tf.mla_up_projection_flops_per_token(mla)
    assert up == pytest.approx(2 * 60 * 512 * 128 * 256)
    assert float(tf.recompute_flops_per_token(mla, 4096, 1)) == pytest.approx(
        float(tf.attention_core_flops_per_token(mla, 4096)) + up)


def test_expert_gemm_rows_follow_the_sequence_parallel_shard(h100, monkeypatch):
    # with expert TP 1, each TP rank dispatches its own sequence-parallel shard: an expert's GEMM
    # sees tokens_mb/tp·ep·k/E rows; with expert TP = TP the shards are gathered: tokens_mb·ep·k/E
    import gigawatt.perf.training as tr

    rows = []
    real = tr.gemm_efficiency

    def spy(width, tokens, *args):
        rows.append(float(np.asarray(tokens)))
        return real(width, tokens, *args)

    monkeypatch.setattr(tr, "gemm_efficiency", spy)
    a = tf.Arch("moe", 4, 2048, 16, 4, 128, 768, 32000, moe_experts=128, moe_active=8, moe_d_ff=768)
    kw = dict(n_chips=64, seq_len=4096, global_batch_seqs=64, cal=calibration_for("h100-sxm"))
    lay = Layout(tp=2, ep=8, micro_batch=1, recompute="none")
    training_step(a, h100, lay.with_(etp=1), **kw)
    assert rows[1] == 4096 / 2 * 8 * 8 / 128  # dense layers first, experts second, output head last
    rows.clear()
    training_step(a, h100, lay.with_(etp=2), **kw)
    assert rows[1] == 4096 * 8 * 8 / 128


def test_multi_token_prediction_module_costs_a_layer_a_projection_and_the_head(h100):
    # with size-independent GEMM efficiency and free HBM traffic, an MTP module adds exactly the
    # FLOPs of one layer (matmuls and attention core), a 2d -> d projection and one more head pass
    from gigawatt.perf.calibration import Calibration

    cal = Calibration(family="t", matmul_eff=0.5, matmul_half_width=0.0, matmul_half_tokens=0.0,
                      attention_eff_ratio=1.0, hbm_eff=1e12, step_overhead_frac=0.0)
    a = tf.Arch("t", 4, 1024, 8, 8, 128, 4096, 32000, ffn_type="gelu", attention="mha")
    kw = dict(n_chips=1, seq_len=2048, global_batch_seqs=1, cal=cal)
    lay = Layout(tp=1, pp=1, micro_batch=1, recompute="none")
    base = float(training_step(a, h100, lay, **kw)["compute_s"])
    mtp = float(training_step(a.with_(mtp_layers=1), h100, lay, **kw)["compute_s"])
    d, L, V, s = 1024, 4, 32000, 2048
    layer_fwd = 2 * (4 * d * d + 2 * d * 4096) + 2 * 8 * 256 * (s + 1) / 2  # matmuls + causal attention core
    extra_fwd = layer_fwd + 2 * 2 * d * d + 2 * d * V
    assert mtp - base == pytest.approx(3 * extra_fwd * s / (989e12 * 0.5), rel=1e-6)
    assert tf.Arch.from_row({"layers": 61, "d_model": 7168, "n_heads": 128, "conversion":
                             'Table row is "DeepSeekV3 (w/ MTP)": the one multi-token-prediction module'}).mtp_layers == 1


# ---------------------------------------------------------------- the stages of one step
def test_kernel_flops_add_up_to_the_model_flops(llama2_70b):
    # without recompute the three kernels and the output head are the whole 6·N + attention
    from gigawatt.perf.training import flops_per_token_by_kernel

    dense, expert, attn = flops_per_token_by_kernel(llama2_70b, 4096.0, 0)
    head = 3.0 * 2.0 * llama2_70b.vocab * llama2_70b.d_model
    total = float(dense + expert + attn) + head
    assert total == pytest.approx(float(tf.training_flops_per_token(llama2_70b, 4096.0)), rel=1e-12)
    assert float(expert) == 0.0
    # full recompute adds one forward pass of the layers (forward is a third of forward + backward)
    dense2, _, attn2 = flops_per_token_by_kernel(llama2_70b, 4096.0, 2)
    assert float(dense2 - dense) == pytest.approx(float(dense) / 3.0, rel=1e-12)
    assert float(attn2) == pytest.approx(4.0 / 3.0 * float(attn), rel=1e-12)


def test_pipeline_bubble_by_schedule():
    from gigawatt.perf.training import SCHEDULES, pipeline_bubble_s

    t_mb = 0.1
    one_f_one_b = float(pipeline_bubble_s(8, 1, SCHEDULES["1f1b"], t_mb))
    assert one_f_one_b == pytest.approx(7 * t_mb)  # (p-1)/v micro-batch times, Narayanan et al. eq. 3
    assert float(pipeline_bubble_s(8, 4, SCHEDULES["1f1b"], t_mb)) == pytest.approx(one_f_one_b / 4)
    assert float(pipeline_bubble_s(8, 1, SCHEDULES["zero-bubble"], t_mb)) == pytest.approx(one_f_one_b / 3)
    assert float(pipeline_bubble_s(8, 1, SCHEDULES["dualpipe"], t_mb)) == 0.0


def test_exposed_gradient_sync_window():
    from gigawatt.perf.training import exposed_gradient_sync_s

    # ZeRO-1: one micro-batch of compute hides at most (overlap) of the collective
    assert float(exposed_gradient_sync_s(1.0, 10.0, 100.0, False, 0.7)) == pytest.approx(0.3)
    # a window shorter than the hidden share leaves the rest exposed
    assert float(exposed_gradient_sync_s(1.0, 0.2, 100.0, False, 0.7)) == pytest.approx(0.8)
    # FSDP: the whole step is the window
    assert float(exposed_gradient_sync_s(1.0, 0.2, 100.0, True, 0.7)) == pytest.approx(0.3)


def test_optimizer_streams_32_bytes_per_owned_parameter(h100, llama2_70b):
    from gigawatt.perf.training import OPTIMIZER_TRAFFIC_BYTES, optimizer_time_s

    cal = calibration_for("h100-sxm")
    one = float(optimizer_time_s(llama2_70b, h100, cal, tp=1.0, pp=1.0, cp=1.0, ep=1.0, etp=None, dp=1.0))
    expected = OPTIMIZER_TRAFFIC_BYTES * llama2_70b.params_total / (h100.hbm_bw_bytes_per_s * cal.hbm_eff)
    assert one == pytest.approx(expected, rel=1e-12)
    # ZeRO-1 over 8 data-parallel ranks: each owns an eighth
    eight = float(optimizer_time_s(llama2_70b, h100, cal, tp=1.0, pp=1.0, cp=1.0, ep=1.0, etp=None, dp=8.0))
    assert eight == pytest.approx(one / 8, rel=1e-12)


@pytest.mark.parametrize("layout", [Layout(tp=8, pp=4, vpp=2), Layout(tp=4, pp=8, schedule=1, recompute="full"),
                                    Layout(tp=2, cp=2, fsdp=True, micro_batch=2)])
def test_training_step_is_its_stages(h100, llama3_405b, layout):
    # the step is the sum of its stages, exactly as the stage functions give them
    from gigawatt.perf import training as tr

    cal = calibration_for("h100-sxm")
    n, s, gbs = 1024, 8192.0, 512
    r = training_step(llama3_405b, h100, layout, n_chips=n, seq_len=s, global_batch_seqs=gbs, cal=cal)
    lay = layout.complete()
    tp, pp, cp, vpp, mb = (float(x) for x in (lay.tp, lay.pp, lay.cp, lay.vpp, lay.micro_batch))
    rc = tf.RECOMPUTE_CODES[lay.recompute] if isinstance(lay.recompute, str) else lay.recompute
    dp = n / (tp * pp * cp)
    m = max(gbs / (dp * mb), 1.0)
    layers = tr.layers_time_s(llama3_405b, h100, cal, tp=tp, cp=cp, ep=1.0, etp=None, micro_batch=mb, seq_len=s,
                              recompute=rc, precision="bf16")
    head = tr.output_head_time_s(llama3_405b, h100, cal, tp=tp, cp=cp, micro_batch=mb, seq_len=s,
                                 per_layer_s=layers / llama3_405b.layers, precision="bf16")
    compute_mb = (layers + head) / pp / cal.compute_scale
    assert float(r["compute_s"]) == pytest.approx(m * float(compute_mb), rel=1e-12)
    parts = ("bubble_s", "tp_comm_s", "ep_comm_s", "pp_comm_s", "dp_comm_s", "optimizer_s", "overhead_s")
    assert float(r["step_time_s"]) == pytest.approx(float(r["compute_s"]) + sum(float(r[k]) for k in parts), rel=1e-9)
