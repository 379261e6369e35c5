"""Hardware records read from the catalog: stated defaults and refused gaps."""

import math

import pytest

from gigawatt.errors import CatalogError
from gigawatt.perf.hardware import DEFAULT_SCALEOUT_BW_BYTES_PER_S, Hardware


def test_catalog_tdp_is_read():
    assert Hardware.from_catalog("h100-sxm").tdp_w == 700.0  # NVIDIA H100 SXM datasheet, as chips.yaml gives it


def test_chip_without_tdp_is_a_catalog_error(monkeypatch):
    import gigawatt.catalog as catalog

    real = catalog.get_chip
    monkeypatch.setattr(catalog, "get_chip", lambda name: real(name).model_copy(update={"tdp_w": None}))
    with pytest.raises(CatalogError, match=r"'h100-sxm' has no tdp_w"):
        Hardware.from_catalog("h100-sxm")


def test_tdp_not_given_is_nan_not_another_chips():
    hw = Hardware("what-if", {"bf16": 1e15}, 100e9, 4e12, 1e12, 50e9)
    assert math.isnan(hw.tdp_w)


def test_missing_scaleout_takes_the_stated_default():
    # the catalog gives tpu7x's pod no data-center-network figure
    assert Hardware.from_catalog("tpu7x").scaleout_bw_bytes_per_s == DEFAULT_SCALEOUT_BW_BYTES_PER_S
    assert Hardware.from_catalog("h100-sxm").scaleout_bw_bytes_per_s == 50e9
