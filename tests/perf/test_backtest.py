"""The backtest on the packaged published rows.

The thresholds are guards on what the model achieves today (issue 3 targets in
brackets); tighten them as the model improves. Where today's figure misses the
target, the guard holds the current level and the target is named in the comment.
"""

import json
import statistics

import pytest

from gigawatt.perf.backtest import packaged_path, load_rows, run_backtest, summary_by_chip


@pytest.fixture(scope="module")
def result():
    return run_backtest()


def _abs(rows, kind=None):
    return [1.0 if r["error"] is None else abs(r["error"]) for r in rows if kind is None or r["measured_kind"] == kind]


def test_json_shape(result):
    assert set(result) == {"training", "inference"}
    for part in result.values():
        assert set(part) == {"n", "median_abs_error", "max_abs_error", "rows"}
        assert part["n"] == len(part["rows"]) > 0
        for row in part["rows"]:
            assert {"id", "measured_kind", "measured", "predicted", "error"} <= set(row)
            if row["predicted"] is None:
                assert row["reason"]
            else:
                assert row["error"] == pytest.approx((row["predicted"] - row["measured"]) / row["measured"])
    json.dumps(result)  # plain JSON types only


def test_every_row_predicted(result):
    assert all(r["predicted"] is not None for part in result.values() for r in part["rows"])


def test_training_tokens_per_s(result):
    errs = _abs(result["training"]["rows"], "tokens_per_s")
    assert len(errs) == 42
    assert statistics.median(errs) <= 0.03  # target median <= 10%: met (0.022 today)
    # target: none worse than 25%; today three MoE rows of Megatron-Bridge 25.11 miss it:
    # Qwen3-30B-A3B on 16 H100 (+92%) and gpt-oss-120b on B200 (+64%), fine-grained MoE on few
    # GPUs far below its roofline, and DeepSeek-V3 on B200 (+46%), whose FP8 efficiency is
    # carried from Blackwell's BF16 one rather than fitted on that one row
    assert sum(e > 0.25 for e in errs) <= 3
    assert max(errs) <= 1.0
    by_id = {r["id"]: r for r in result["training"]["rows"]}
    # the MoE rows the model explains (fp8 quantization traffic, EP overlap, DP window)
    for rid in ("mbridge2511-qwen3-235b-a22b-fp8-h100-256", "mbridge2511-qwen3-235b-a22b-bf16-gb200-256",
                "dgxc-grok1-fp8-h100-512", "dgxc-grok1-bf16-gb200-128"):
        assert abs(by_id[rid]["error"]) <= 0.15, rid
    assert 0.25 < by_id["mbridge2511-deepseek-v3-fp8-b200-256"]["error"] <= 0.55  # +45.9% today


def test_training_chip_hours(result):
    errs = _abs(result["training"]["rows"], "chip_hours")
    assert len(errs) == 6
    assert statistics.median(errs) <= 0.11  # target median <= 15%: met (0.096 today)
    by_id = {r["id"]: r for r in result["training"]["rows"]}
    for rid in ("llama1-65b-gpuhours", "llama2-70b-gpuhours", "llama31-405b-gpuhours"):
        assert abs(by_id[rid]["error"]) <= 0.10, rid
    # Llama 3.1 70B takes its chip count from the 405B row of the same model card (16,384);
    # DeepSeek-V2 is MLA with selective recompute of the up-projection
    assert abs(by_id["llama31-70b-gpuhours"]["error"]) <= 0.25  # -22% today
    assert abs(by_id["deepseek-v2-gpuhours-per-1t"]["error"]) <= 0.20
    # still missed: the model card's 8B hours imply half the MFU the model predicts (-44% today)
    assert abs(by_id["llama31-8b-gpuhours"]["error"]) <= 0.45


def test_inference(result):
    errs = _abs(result["inference"]["rows"])
    assert statistics.median(errs) <= 0.07  # target median <= 15%: met (0.063 today)
    # target: none worse than 35%; today 2 rows miss it (trn1 Llama 2 13B TTFT at -66% and -74%)
    assert sum(e > 0.35 for e in errs) <= 2
    assert max(errs) <= 0.75
    by_id = {r["id"]: r for r in result["inference"]["rows"]}
    # the fixed-batch Llama 2 13B rows on 32 NeuronCores: 40 heads padded to 64 (+47%, +53% unpadded)
    for rid in ("aws-trn1-llama2-13b-b8-4096-4096-throughput", "aws-trn1-llama2-13b-b4-8192-8192-throughput"):
        assert abs(by_id[rid]["error"]) <= 0.32, rid
    # MLPerf Llama 3.1 405B on B200, with MLCommons' published mean prompt of its set (9,400 tokens)
    assert abs(by_id["mlperf51-llama31-405b-b200x8-offline"]["error"]) <= 0.10
    # the MLPerf OpenOrca rows, with the set's published mean prompt (222 tokens)
    for rid in ("mlperf41-llama2-70b-h100x8-offline", "mlperf41-llama2-70b-h100x8-server",
                "mlperf51-llama2-70b-b200x8-offline", "mlperf51-llama2-70b-gb200x4-server",
                "mlperf51-llama2-70b-h200x8-offline-google"):
        assert abs(by_id[rid]["error"]) <= 0.12, rid


def test_per_chip_guards(result):
    rows = load_rows(packaged_path("training_runs.csv"))
    by_chip = summary_by_chip(result["training"], rows)
    assert by_chip["a100-80gb"]["median_abs_error"] <= 0.03
    assert by_chip["h100-sxm"]["median_abs_error"] <= 0.06  # 0.049 today
    assert by_chip["trn1"]["median_abs_error"] <= 0.07
    assert by_chip["tpu-v6e"]["median_abs_error"] <= 0.03
    inf = summary_by_chip(result["inference"], load_rows(packaged_path("inference_runs.csv")))
    assert inf["mi300x"]["median_abs_error"] <= 0.04
    assert inf["h100-sxm"]["median_abs_error"] <= 0.06
    assert inf["h200"]["median_abs_error"] <= 0.05  # 0.047 today (TensorRT-LLM reserving whole requests: -0.9% -> -4.7% at 1000/1000)
    assert inf["trn2"]["median_abs_error"] <= 0.13  # 0.122 today


def test_bad_rows_are_misses_not_crashes(tmp_path):
    rows = load_rows(packaged_path("training_runs.csv"))[:2]
    rows[0]["chip"] = "no-such-chip"
    rows[1]["measured_kind"] = "joules"
    path = tmp_path / "t.csv"
    import csv

    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    out = run_backtest(training_csv=path, inference_csv=packaged_path("inference_runs.csv"))["training"]
    assert out["n"] == 2 and all(r["predicted"] is None and r["reason"] for r in out["rows"])
    assert out["max_abs_error"] == 1.0


def test_a_batch_no_layout_divides_is_rounded_not_forced_to_micro_batch_1():
    # a published "2M tokens" batch rarely divides by the data-parallel degree; the row is run at
    # the nearest batch that does, with the micro-batch still searched
    from gigawatt.perf.backtest import predict_training_row

    row = {r["id"]: r for r in load_rows(packaged_path("training_runs.csv"))}["nemo2407-llama3-70b-64"]
    exact = predict_training_row(row)
    odd = dict(row, global_batch_seqs=str(int(row["global_batch_seqs"]) + 1), micro_batch="")
    got = predict_training_row(odd)
    assert "note" not in got["detail"]
    free = predict_training_row(dict(row, micro_batch=""))
    assert got["predicted"] == pytest.approx(free["predicted"], rel=0.02)
    assert exact["predicted"] > 0


def test_other_scenario_names_keep_their_latency_limits():
    # MLPerf's "interactive" scenario is a server scenario with tighter limits: the limits apply
    from gigawatt.perf.backtest import predict_inference_row

    row = {r["id"]: r for r in load_rows(packaged_path("inference_runs.csv"))}["mlperf41-llama2-70b-h100x8-server"]
    server = predict_inference_row(row)["predicted"]
    tight = predict_inference_row(dict(row, scenario="interactive", ttft_slo_s="0.45", tpot_slo_s="0.04"))["predicted"]
    loose = predict_inference_row(dict(row, scenario="interactive", ttft_slo_s="", tpot_slo_s=""))["predicted"]
    assert tight < server < loose
