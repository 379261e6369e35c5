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
    train = next(r for r in rows["training"] if r["chip"].startswith("h100"))
    base = predict_training_row(train)["predicted"]
    slower = predict_training_row(train, cal=calibration_for("h100-sxm", {"hopper": {"matmul_eff": 0.4}}))["predicted"]
    assert slower < base
    assert predict_training_row(train, cal=calibration_for("h100-sxm"))["predicted"] == base
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


def test_group_of():
    assert fit.group_of("trtllm10-llama33-70b-h200-tp1-1000-1000") == "trtllm10-llama33-70b"


@pytest.fixture(scope="module")
def refitted():
    return fit.refit()


def test_refit_reproduces_the_file(refitted):
    # the file's fitted values are what the procedure gives on all rows, from the defaults
    for t in fit.FITTED:
        assert t.coeff in refitted.get(t.scope, {}), (t.scope, t.coeff)
        file_value = getattr(calibration_for(t.scope), t.coeff)
        assert refitted[t.scope][t.coeff] == pytest.approx(file_value, rel=0.01), (t.scope, t.coeff)


def test_refit_respects_physical_limits(refitted):
    values = refitted
    for fam in ("hopper", "blackwell", "neuron", "cdna", "ampere"):
        cal = calibration_for(fam, values)
        assert cal.matmul_eff * cal.serving_eff_ratio <= 0.95 + 1e-9
        assert cal.matmul_eff_fp8 >= cal.matmul_eff / 2.0 - 1e-9


def test_leave_one_group_out():
    # held-out error of a refit without each group (issue 3's "rows the model has not seen")
    res = fit.leave_one_group_out()
    assert res["training"]["n"] == 42 and res["inference"]["n"] == 34
    assert res["training"]["median_abs_error"] <= 0.05  # 0.044 today (0.063 with flat rings across nodes)
    # target 15%: 0.135 today (0.213 before the prior's pull, the TP head sharding and the 405B set's prompt length)
    assert res["inference"]["median_abs_error"] <= 0.15
    assert all(h["error"] is not None and math.isfinite(h["error"]) for p in res.values() for h in p["rows"])


def test_prior_pulls_a_thinly_supported_coefficient_toward_its_default():
    # CDNA's serving efficiency rests on five rows; a strong pull keeps it at the generic 1.0,
    # no pull lets the rows alone set it, and the file's weight lands in between
    target = [t for t in fit.FITTED if (t.scope, t.coeff) == ("cdna", "serving_eff_ratio")]
    default = calibration_for("generic").serving_eff_ratio
    values = {}
    for w in (0.0, fit.PRIOR_WEIGHT, 100.0):
        values[w] = fit.refit(targets=target, prior_weight=w)["cdna"]["serving_eff_ratio"]
    assert values[100.0] == pytest.approx(default)
    assert abs(math.log(values[0.0] / default)) >= abs(math.log(values[fit.PRIOR_WEIGHT] / default))
    assert values[0.0] < 0.9  # the MLPerf MI300X/MI325X rows alone want well below training efficiency


def test_every_fitted_coefficient_rests_on_two_groups_of_rows():
    # issue 3: never a coefficient for a single validation row (or one source's sweep): each fitted
    # coefficient acts on rows of at least two groups; Blackwell's FP8 efficiency, which one
    # DeepSeek-V3 row alone would set, is carried in the file instead
    rows = fit.fit_rows()
    chip_scoped = {(t.scope, t.coeff) for t in fit.FITTED if t.scope not in fit._FAMILIES}
    for t in fit.FITTED:
        groups = {fit.group_of(r["id"]) for r in rows[t.file] if fit.acts_on(t, r, chip_scoped)}
        assert len(groups) >= 2, (t.scope, t.coeff, groups)
    assert ("blackwell", "matmul_eff_fp8") not in {(t.scope, t.coeff) for t in fit.FITTED}
    cal = calibration_for("b200")
    assert cal.matmul_eff_fp8 == pytest.approx(0.75 * cal.matmul_eff, abs=1e-4)
