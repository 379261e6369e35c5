"""Refits, the held-out check, and the row conventions that feed them (chip counts, prompt lengths)."""

import math

import pytest

from gigawatt.perf import fit
from gigawatt.perf.backtest import packaged_path, fill_chip_counts, load_rows, source_document
from gigawatt.perf.calibration import calibration_for
from gigawatt.perf.inference import benchmark_datasets, row_input_len


def test_overrides_are_passed_not_stored():
    before = calibration_for("h100-sxm").matmul_eff
    values = {"hopper": {"matmul_eff": 0.5}, "tpu-v6e": {"matmul_eff": 0.4}}
    assert calibration_for("h100-sxm", values).matmul_eff == 0.5
    assert calibration_for("h200", values).matmul_eff == 0.5
    assert calibration_for("tpu-v6e", values).matmul_eff == 0.4
    assert calibration_for("tpu-v5p", values).matmul_eff != 0.4
    # fitted factors are passed the same way
    assert calibration_for("h100-sxm", stack="megatron", fitted={"stack": {"megatron": {"comm": 2.0}}}).comm_scale == 2.0
    # a chip's own value wins over its family's
    assert calibration_for("tpu-v6e", {"tpu": {"matmul_eff": 0.3}, "tpu-v6e": {"matmul_eff": 0.4}}).matmul_eff == 0.4
    assert calibration_for("h100-sxm").matmul_eff == before
    # no module state a caller could set: the models' calibrations come in as arguments
    import gigawatt.perf.calibration as C
    import gigawatt.perf.fit as F

    assert not hasattr(C, "overridden") and not hasattr(C, "_OVERRIDES")
    assert not [k for k, v in vars(C).items() if isinstance(v, dict) and not k.startswith("__")]
    assert "overridden" not in vars(F)


def test_a_row_predicted_with_a_calibration_passed_in():
    from gigawatt.perf.backtest import predict_inference_row, predict_training_row

    rows = fit.fit_rows()
    train = next(r for r in rows["training"] if r["chip"].startswith("h100") and r["measured_kind"] == "tokens_per_s")
    base = predict_training_row(train)["predicted"]
    slower = predict_training_row(train, cal=calibration_for("h100-sxm", {"hopper": {"matmul_eff": 0.4}}))["predicted"]
    assert slower < base
    from gigawatt.perf.backtest import row_stack

    assert predict_training_row(train, cal=calibration_for("h100-sxm", stack=row_stack(train)))["predicted"] == base
    infer = next(r for r in rows["inference"] if r["chip"].startswith("h100"))
    assert predict_inference_row(infer, cal=calibration_for(
        "h100-sxm", {"hopper": {"decode_step_overhead_s": 0.1}}))["predicted"] != predict_inference_row(infer)["predicted"]


def test_missing_chip_counts_follow_the_source_not_the_value():
    rows = load_rows(packaged_path("training_runs.csv"))
    filled = {r["id"]: r for r in fill_chip_counts(rows)}
    # the Llama 3.1 model card gives 16,384 GPUs for the 405B run; 8B and 70B come from the same card
    assert filled["llama31-8b-gpuhours"]["n_chips"] == "16384"
    assert filled["llama31-70b-gpuhours"]["n_chips"] == "16384"
    # no other row of the Llama 2 card or the DeepSeek-V2 paper gives a count: the stated default
    assert filled["llama2-70b-gpuhours"]["n_chips"] == "2048"
    assert filled["deepseek-v2-gpuhours-per-1t"]["n_chips"] == "2048"
    assert filled["llama31-405b-gpuhours"]["n_chips"] == "16384"  # given, untouched
    # blind to the measured value
    changed = [dict(r, measured_value=str(float(r["measured_value"]) * 7)) for r in rows]
    assert [r["n_chips"] for r in fill_chip_counts(changed)] == [r["n_chips"] for r in fill_chip_counts(rows)]
    assert source_document({"source": "Doc A, x.md (commit 1): table"}) == "Doc A, x.md"


def test_sourced_dataset_prompt_length():
    sets = benchmark_datasets()
    assert sets and all(e["source"] and e["mean_input_tokens"] > 0 and e["match"] for e in sets.values())
    rows = {r["id"]: r for r in load_rows(packaged_path("inference_runs.csv"))}
    # 5,463,976 prompt tokens over 24,576 samples
    assert row_input_len(rows["mlperf41-llama2-70b-h100x8-offline"]) == pytest.approx(5463976 / 24576, rel=1e-3)
    # MLCommons' own figure for the 8,313-sample Llama 3.1 405B set (rounded to the hundred)
    assert row_input_len(rows["mlperf51-llama31-405b-b200x8-offline"]) == 9400
    # a set without a sourced mean keeps the stated fallback (4 x output without a cap)
    assert row_input_len({"output_len": "650", "conversion": "Dataset: some other set"}) == pytest.approx(2600)
    assert row_input_len({"output_len": "650", "conversion": "prompts capped at 1,024 tokens"}) == 512
    # the sets are named by their sample counts too, however a note words the rest
    assert row_input_len({"conversion": "MLPerf v5.1 server, 8,313 samples, FP4", "output_len": "600"}) == 9400
    assert row_input_len({"conversion": "OpenOrca 24,576-sample set", "output_len": "300"}) == pytest.approx(222.33, rel=1e-3)
    # a given input length wins
    assert row_input_len({"input_len": "1000", "conversion": "24,576 OpenOrca samples"}) == 1000


def test_the_fit_scales_the_host_launch_part_of_a_fine_grained_moe_row():
    # Qwen3-30B-A3B on 16 H100 (Megatron): its step has a per-expert host launch part that the global
    # launch factor scales, and the fast model reproduces the full model at every factor 1
    import math

    from gigawatt.perf.fit import decompose, fit_rows, predict_parts

    rows = fit_rows()
    rows = {"training": [r for r in rows["training"] if r["id"] in ("mbridge2511-qwen3-30b-a3b-fp8-h100-16",
                                                                   "tpurec-mixtral-8x7b-v6e-256")],
            "inference": []}
    parts = {p.row["id"]: p for p in decompose(rows)}
    qwen, mixtral = parts["mbridge2511-qwen3-30b-a3b-fp8-h100-16"], parts["tpurec-mixtral-8x7b-v6e-256"]
    assert qwen.parts["launch"] > 0.1 * qwen.parts["step"]
    assert mixtral.parts["launch"] == 0.0  # MaxText compiles the step: no per-expert launches
    assert predict_parts(qwen, {}) == pytest.approx(qwen.base, rel=1e-9)
    # doubling the launch factor lengthens the step by exactly the launch part
    doubled = predict_parts(qwen, {("global", "all", "launch"): math.log(2.0)})
    step = qwen.parts["step"]
    assert qwen.base * step / doubled == pytest.approx(step + qwen.parts["launch"], rel=1e-9)
