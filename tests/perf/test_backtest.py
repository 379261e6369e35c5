"""The backtest on the packaged published rows: leave-one-source-out headline, in-sample beside it.

The guards hold what the model achieves today; the issue 18 targets are named in the comments
(``gigawatt backtest`` reports them, met or not).
"""

import json
import math

import pytest

from gigawatt.perf.backtest import load_rows, packaged_path, predict_training_row, row_block, row_stack, run_backtest


@pytest.fixture(scope="module")
def result():
    return run_backtest()


def test_json_shape(result):
    assert set(result) == {"training", "inference", "held_out"}
    for name in ("training", "inference"):
        part = result[name]
        assert {"n", "median_abs_error", "max_abs_error", "rows"} <= set(part)
        for row in part["rows"]:
            assert {"id", "measured_kind", "measured", "predicted", "error", "low", "high", "stack", "block",
                    "held_out_error"} <= set(row)
            if row["predicted"] is None:
                assert row["reason"]
            else:
                assert row["error"] == pytest.approx((row["predicted"] - row["measured"]) / row["measured"])
                assert row["low"] <= row["predicted"] <= row["high"] and row["low"] < row["high"]
    json.dumps(result)  # plain JSON types only
    assert {t["target"] for t in result["held_out"]["targets"]} >= {"training tokens/s median",
                                                                    "80% intervals cover 70-90% of held-out rows"}


def test_every_row_predicted_in_sample_and_held_out(result):
    for name in ("training", "inference"):
        assert all(r["predicted"] is not None and r["held_out_error"] is not None for r in result[name]["rows"])


def test_blocks_are_publisher_and_stack():
    rows = {r["id"]: r for r in load_rows(packaged_path("training_runs.csv"))}
    assert row_block(rows["mbridge2602-llama3-70b-fp8cs-h100-64"]) == "nvidia-nemo/megatron"
    # the Llama papers and model cards are one publisher's
    assert row_block(rows["llama1-65b-throughput"]) == row_block(rows["llama31-405b-gpuhours"]) == "meta/meta"
    # a row without a stack column: named from its source
    assert row_stack({"source": "AI-Hypercomputer/maxtext MaxText/configs/v5p.yml"}) == "maxtext"
    assert row_stack({"engine": "trtllm"}) == "tensorrt-llm"


def test_held_out_differs_from_in_sample(result):
    # a held-out row is predicted by factors its own block did not set
    rows = result["training"]["rows"]
    assert sum(abs(r["held_out_error"] - r["error"]) > 1e-3 for r in rows) > len(rows) / 2


def test_training_held_out_guards(result):
    by = {t["target"]: t for t in result["held_out"]["targets"]}
    # target median <= 10%: met (8.9% today)
    assert by["training tokens/s median"]["held_out"] <= 0.10
    # target p90 <= 30%: missed by a little (31% today: Trainium1 has one source, so its family factor is
    # the prior when that source is held out, and its Neuron 2.18-2.21 rows run 40-60% slower than it)
    assert by["training tokens/s p90"]["held_out"] <= 0.40
    assert by["MoE training median"]["held_out"] <= 0.15  # target 15%: met (11% today)
    assert by["whole-run chip-hours median"]["held_out"] <= 0.15  # target 15%: met (12% today)
    # in sample the fit carries the rows it saw
    assert by["training tokens/s median"]["in_sample"] <= 0.08


def test_the_rows_expert_overlap_feature_is_read():
    # Qwen3-235B on 256 H100: the published configuration overlaps the expert all-to-all (moe_a2a_overlap);
    # with the column blanked the stack default (off) exposes 70% of it (ep_overlap 0.3)
    row = {r["id"]: r for r in load_rows(packaged_path("training_runs.csv"))}[
        "mbridge2511-qwen3-235b-a22b-fp8-h100-256"]
    assert row["ep_a2a_overlap"] == "1"
    on = predict_training_row(dict(row))
    off = predict_training_row(dict(row, ep_a2a_overlap=""))
    assert on["detail"]["ep_comm_s"] < 0.7 * off["detail"]["ep_comm_s"]
    assert on["predicted"] > off["predicted"]


def test_interval_coverage_is_reported(result):
    cov = result["held_out"]["coverage_80"]
    assert cov["n"] == 123
    assert 0.55 <= cov["coverage"] <= 0.95  # target 70-90%: 66% today


def test_bad_rows_are_misses_not_crashes(tmp_path):
    import csv

    rows = load_rows(packaged_path("training_runs.csv"))[:2]
    rows[0]["chip"] = "no-such-chip"
    rows[1]["measured_kind"] = "joules"
    path = tmp_path / "t.csv"
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    out = run_backtest(training_csv=path, inference_csv=packaged_path("inference_runs.csv"))["training"]
    assert out["n"] == 2 and all(r["predicted"] is None and r["reason"] for r in out["rows"])
    assert out["max_abs_error"] == 1.0


def test_a_batch_no_layout_divides_is_rounded_not_forced_to_micro_batch_1():
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
    from gigawatt.perf.backtest import predict_inference_row

    row = {r["id"]: r for r in load_rows(packaged_path("inference_runs.csv"))}["mlperf41-llama2-70b-h100x8-server"]
    server = predict_inference_row(row)["predicted"]
    tight = predict_inference_row(dict(row, scenario="interactive", ttft_slo_s="0.45", tpot_slo_s="0.04"))["predicted"]
    loose = predict_inference_row(dict(row, scenario="interactive", ttft_slo_s="", tpot_slo_s=""))["predicted"]
    assert tight < server < loose


def test_stored_factors_are_the_fit_of_the_packaged_rows():
    # calibration.yaml's fitted section is what `python -m gigawatt.perf.fit --write` gives on these rows
    from gigawatt.perf import fit
    from gigawatt.perf.calibration import fitted_factors

    theta = fit.fit_factors(fit.decompose())
    stored = fitted_factors()
    for (level, scope, cls), v in theta.items():
        assert stored[level][scope][cls]["value"] == pytest.approx(math.exp(v), abs=2e-4), (level, scope, cls)
