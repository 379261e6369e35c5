"""Calibration file: every coefficient has a provenance; families cover the validation chips."""

import pytest

from gigawatt.perf.backtest import packaged_path, load_rows
from gigawatt.perf.calibration import Calibration, calibration_for, load_calibration_file, provenance
from gigawatt.perf.hardware import chip_family


def test_every_coefficient_has_a_source():
    doc = load_calibration_file()
    blocks = [doc["defaults"]] + list(doc["families"].values()) + list((doc.get("chips") or {}).values())
    for block in blocks:
        for key, item in (block or {}).items():
            if key in ("family", "notes"):
                continue
            assert isinstance(item, dict) and len(item.get("source", "")) > 10, key


def test_defaults_cover_every_field():
    from gigawatt.perf.calibration import SCALES

    fields = set(Calibration.__dataclass_fields__) - {"family", "training_stack", "serving_stack"} - set(SCALES)
    assert fields == set(load_calibration_file()["defaults"])


def test_validation_chips_have_a_family():
    families = set(load_calibration_file()["families"])
    for name in ("training_runs.csv", "inference_runs.csv"):
        for row in load_rows(packaged_path(name)):
            assert chip_family(row["chip"]) in families, row["chip"]


def test_family_is_the_catalog_field():
    # the calibration family is the catalog chip's `family` field, sourced to the vendor's architecture name
    from gigawatt import catalog
    from gigawatt.perf.hardware import Hardware

    families = set(load_calibration_file()["families"])
    for chip in catalog.chips().values():
        if chip.kind != "accelerator":
            assert chip.family is None and chip_family(chip.id) == "generic"
            continue
        assert chip.family in families, chip.id
        assert chip_family(chip.id) == chip.family
        assert calibration_for(chip.id).family == chip.family
        assert Hardware.from_catalog(chip.id).family == chip.family
        assert chip.provenance("family").source, chip.id
    assert catalog.get_chip("trainium3").family == "neuron" and "NeuronCore" in catalog.get_chip(
        "trainium3").provenance("family").source
    assert chip_family("no-such-chip") == "generic"


def test_chip_override_and_provenance():
    assert calibration_for("tpu-v6e").family == "tpu"
    # the family coefficients are priors; what the rows set lives in the fitted factors
    assert "prior" in provenance("h100-sxm")["matmul_eff"]


def test_fractions_in_range():
    for fam in load_calibration_file()["families"]:
        cal = calibration_for(fam)
        for name in ("matmul_eff", "matmul_eff_fp8", "matmul_eff_fp4", "hbm_eff", "scaleup_eff", "scaleout_eff",
                     "tp_overlap", "dp_overlap", "ep_overlap", "usable_hbm_frac", "server_utilization"):
            assert 0.0 <= getattr(cal, name) <= 1.0, (fam, name)
        assert cal.matmul_eff * cal.serving_eff_ratio <= 1.0


def test_unknown_coefficient_rejected(monkeypatch):
    import gigawatt.perf.calibration as C

    doc = {"defaults": {}, "families": {"hopper": {"matmul_efff": 0.5}}}
    monkeypatch.setattr(C, "load_calibration_file", lambda: doc)
    C._calibration.cache_clear()
    try:
        with pytest.raises(Exception, match="unknown coefficient"):
            C.calibration_for("h100-sxm")
    finally:
        C._calibration.cache_clear()
    with pytest.raises(Exception, match="unknown coefficient"):
        C.calibration_for("h100-sxm", {"hopper": {"matmul_efff": 0.5}})
