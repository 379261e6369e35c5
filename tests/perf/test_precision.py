"""Training precision: each chip's default from the catalog, refusals, and what FP8 buys a training cell."""

import numpy as np
import pytest

from gigawatt import catalog, perf
from gigawatt.errors import GigawattError
from gigawatt.perf.api import LayoutError, train_plan, training_precision


@pytest.mark.parametrize("chip, default", [
    ("trainium2", "bf16"), ("trainium3", "mxfp8"), ("trainium4", "mxfp8"), ("trn1", "bf16"),
    ("h100-sxm", "fp8"), ("h200", "fp8"), ("h800", "fp8"), ("b200", "mxfp8"), ("gb200", "mxfp8"),
    ("gb300", "mxfp8"), ("a100-80gb", "bf16"), ("tpu7x", "bf16"), ("mi300x", "bf16")])
def test_default_is_the_catalogs_with_its_source(chip, default):
    assert training_precision(chip) == default
    c = catalog.get_chip(chip)
    prov = c.provenance("training_precision")
    assert c.training_precision == default and len(prov.source) > 20 and prov.as_of
    assert default in c.training_formats()


def test_projected_or_beta_defaults_are_marked_estimates():
    # Trainium3's MXFP8 training is a beta release (Neuron 2.34); Trainium4's is a projection
    for chip in ("trainium3", "trainium4"):
        assert catalog.get_chip(chip).is_estimate("training_precision")
    assert not catalog.get_chip("h100-sxm").is_estimate("training_precision")


def test_every_accelerator_states_its_training_precision():
    for c in catalog.chips().values():
        if c.kind == "accelerator":
            assert c.training_precision in c.training_formats(), c.id
            assert c.provenance("training_precision").source, c.id


@pytest.mark.parametrize("chip, precision, why", [
    ("a100-80gb", "fp8", "no FP8 peak"),  # Ampere has no FP8 tensor cores
    ("tpu-v4", "fp4", "no FP4 peak"),
    ("h100-sxm", "mxfp8", "no microscaling"),  # MXFP8 needs Blackwell's hardware scaling
    ("trainium2", "mxfp8", "no microscaling"),
    ("trainium3", "fp8", "microscaled (MX) inputs only"),  # its 2,517 TFLOP/s is for MX formats
])
def test_a_chip_refuses_a_precision_it_does_not_train_in(chip, precision, why):
    with pytest.raises(LayoutError) as info:
        training_precision(chip, precision)
    msg = str(info.value)
    assert info.value.flag == "--precision" and why in msg and f"does not train in {precision.upper()}" in msg
    assert "it trains in bf16" in msg and training_precision(chip) in info.value.hint
    # train_plan refuses it the same way (no silent fallback to BF16)
    with pytest.raises(LayoutError, match=f"does not train in {precision.upper()}"):
        train_plan("llama3.1-8b", chip, 64, search=True, precision=precision)


def test_unknown_precision_is_refused():
    with pytest.raises(LayoutError, match="is not one of"):
        training_precision("h100-sxm", "int4")


def test_fp8_layer_compute_is_faster_by_the_calibration_ratio():
    # Hopper's calibration: BF16 GEMMs reach the prior 0.70 of 989 TFLOP/s, FP8 ones the prior 0.60 of
    # 1,979 times the fitted FP8 factor; every GEMM and the attention core of an FP8 cell run
    # 1,979 x 0.60 x f8 / (989 x 0.70) as fast, the memory-bound elementwise work does not (FP8 adds casts)
    from gigawatt.perf import training
    from gigawatt.perf.api import resolve
    from gigawatt.perf.calibration import calibration_for

    arch, hw = resolve("llama3.1-70b", "h100-sxm")
    cal = calibration_for("h100-sxm")
    assert (cal.matmul_eff, cal.matmul_eff_fp8) == (0.70, 0.60)
    ratio = 1979.0 * 0.60 * cal.fp8_scale / (989.0 * 0.70)
    assert 1.5 < ratio < 2.5
    kw = dict(tp=8, cp=1, ep=1, etp=None, micro_batch=1, seq_len=8192, recompute=0)
    hbm = hw.hbm_bw_bytes_per_s * cal.hbm_eff
    gemm = {}
    for p in ("bf16", "fp8"):
        total = float(training.layers_time_s(arch, hw, cal, precision=p, **kw))
        elem = float(training.elementwise_hbm_bytes(arch, cal, tp=8, tokens_mb=8192, precision=p)) / hbm
        gemm[p] = total - elem
    assert gemm["bf16"] / gemm["fp8"] == pytest.approx(ratio, rel=1e-9)


def test_fp8_training_cell_is_faster_but_not_beyond_the_ratio():
    # a whole cell also waits on communication, elementwise work and the BF16 output head: faster
    # than BF16, by less than the GEMM ratio
    from gigawatt.perf.calibration import calibration_for

    ratio = 1979.0 * 0.60 * calibration_for("h100-sxm").fp8_scale / (989.0 * 0.70)
    m = perf.throughput_matrix([{"name": p, "model": "llama3.1-70b", "chips": 64, "precision": p}
                                for p in ("bf16", "fp8")], ["h100-sxm"])
    bf16, fp8 = m.values[0, 0], m.values[1, 0]
    assert 1.0 < fp8 / bf16 < ratio
    assert list(m.precision.values[:, 0]) == ["bf16", "fp8"]


def test_mxfp8_runs_at_the_fp8_peak_and_the_default_is_used_when_none_is_stated():
    # the models do not tell MX block scaling from per-tensor scaling: same peak, same efficiency
    mx = train_plan("llama3.1-70b", "gb200", 64, search=True, precision="mxfp8")
    fp8 = train_plan("llama3.1-70b", "gb200", 64, search=True, precision="fp8")
    assert mx["precision"] == "mxfp8" and mx["tokens_per_s"] == fp8["tokens_per_s"]
    default = train_plan("llama3.1-70b", "gb200", 64, search=True)
    assert default["precision"] == "mxfp8" and default["tokens_per_s"] == mx["tokens_per_s"]
    # Trainium3 uses its MXFP8 rate, 3.75x its BF16 peak, by default
    t3 = train_plan("llama3.1-70b", "trainium3", 256, search=True)
    t3_bf16 = train_plan("llama3.1-70b", "trainium3", 256, search=True, precision="bf16")
    assert t3["precision"] == "mxfp8" and t3["tokens_per_s"] > 1.5 * t3_bf16["tokens_per_s"]


def test_matrix_cell_of_a_refused_precision_is_nan_with_the_reason():
    m = perf.throughput_matrix([{"name": "t", "model": "llama3.1-8b", "chips": 64, "precision": "fp8"}],
                               ["a100-80gb", "h100-sxm"])
    assert np.isnan(m.values[0, 0]) and "does not train in FP8" in str(m.note.values[0, 0])
    assert m.values[0, 1] > 0 and str(m.precision.values[0, 1]) == "fp8"


def test_fleet_passes_a_runs_precision_to_the_matrix():
    # a run that states no precision trains in each chip's default; one that states a precision the
    # chip lacks gets no rate there, and the notes say why
    from gigawatt.fleet.throughput import compute_fleet_throughput

    from .test_matrix import _flagship

    scn, fleet, work, th = _flagship()
    chips = [c.chip for c in fleet.chips]
    t3 = chips.index("trainium3")
    assert any("trains in MXFP8 on trainium3" in n for n in th.notes)
    assert any("trains in BF16 on trainium2" in n for n in th.notes)
    run = work.runs[0]
    b = int(np.flatnonzero(np.isfinite(th.training_tokens_per_chip_s[0, t3]))[0])
    run.precision = "bf16"  # as demand.training[].precision: bf16 would set it
    bf16 = compute_fleet_throughput(fleet, type(work)(runs=[run], streams=[]))
    assert bf16.training_tokens_per_chip_s[0, t3, b] < th.training_tokens_per_chip_s[0, t3, b]
    run.precision = "fp8"
    fp8 = compute_fleet_throughput(fleet, type(work)(runs=[run], streams=[]))
    assert np.isnan(fp8.training_tokens_per_chip_s[0, t3]).all()
    assert any("trainium3" in n and "does not train in FP8" in n for n in fp8.notes)


def test_scenario_schema_takes_a_precision_on_runs_and_generated_runs():
    from gigawatt.scenario.demand_schema import Demand

    d = Demand.model_validate({"training": [
        {"name": "a", "model": "llama3.1-8b", "tokens": 1e12, "start": "2026-01", "min_chips": 8, "precision": "fp8"},
        {"generate": {"model": "llama3.1-8b", "first": "2026-01", "every": "6 months", "compute": 1e24,
                      "min_chips": 8, "precision": "mxfp8"}}]})
    assert d.training[0].precision == "fp8" and d.training[1].generate.precision == "mxfp8"
    assert Demand.model_validate({"training": [
        {"name": "a", "model": "llama3.1-8b", "tokens": 1e12, "start": "2026-01", "min_chips": 8}]}).training[0].precision is None
    with pytest.raises(Exception, match="precision"):
        Demand.model_validate({"training": [{"name": "a", "model": "llama3.1-8b", "tokens": 1e12, "start": "2026-01",
                                             "min_chips": 8, "precision": "int8"}]})


def test_catalog_refuses_a_default_the_chip_does_not_train_in():
    from gigawatt.catalog.schema import Chip

    with pytest.raises(ValueError, match="not among the chip's training formats"):
        Chip(id="x", name="x", source="a test entry", as_of="2026-11", vendor="v", available="2026-01",
             peak_bf16_flops=1e15, training_precision="fp8")
    assert issubclass(LayoutError, GigawattError)
