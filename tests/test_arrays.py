"""A run's arrays without xarray: the netCDF file, the tables and the store match what xarray and pandas write."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy.io import netcdf_file

from gigawatt.arrays import ArrayData
from gigawatt.outputs import write_table


def sample_arrays() -> ArrayData:
    """Every kind of value a run holds: floats with NaN, integers, text (non-ASCII too), dates, attributes."""
    rng = np.random.default_rng(3)
    values = rng.normal(size=(2, 3, 2))
    values[0, 1, 1] = np.nan
    return ArrayData.build(
        {"power_w": (("sample", "period", "site"), values, {"units": "W", "long_name": "power"}),
         "count": (("site",), np.array([3, 4]), {"units": "1"}),
         "binding": (("sample", "period"), np.array([["power", "supply", "none"], ["cap", "spend_limit", "none"]])),
         "share": (("period",), np.array([0.5, 0.25, 1.0], dtype=np.float32), {})},
        coords={"sample": np.arange(2), "period": np.array(["2026-01-01", "2026-02-01", "2026-03-01"],
                                                           dtype="datetime64[D]"),
                "site": ["Rainier – Indiana", "b"]},
        attrs={"seed": 7, "capacity_basis": "it", "capacity_cap_w": np.nan, "growth": 0.25},
    )


def test_netcdf_reads_back_as_xarray_writes_it(tmp_path):
    arrays = sample_arrays()
    ours, theirs = tmp_path / "ours.nc", tmp_path / "theirs.nc"
    arrays.write_netcdf(ours)
    arrays.to_xarray().to_netcdf(theirs, engine="scipy")
    for decode in (True, False):  # decoded values, and the raw encoding (types, fill values, char arrays)
        with xr.open_dataset(ours, decode_cf=decode) as a, xr.open_dataset(theirs, decode_cf=decode) as b:
            xr.testing.assert_identical(a.load(), b.load())
    with xr.open_dataset(ours) as back:
        assert str(back["site"].values[0]) == "Rainier – Indiana"
        assert np.isnan(back["power_w"].values[0, 1, 1])
        assert back["period"].values[2] == np.datetime64("2026-03-01")
        assert back.attrs["seed"] == 7
    # a second reader of the format
    with netcdf_file(ours, "r", mmap=False) as f:
        assert f.variables["count"].data.tolist() == [3, 4]
        assert f.dimensions["string19"] == len("Rainier – Indiana".encode("utf-8"))


def test_netcdf_falls_back_to_xarray_for_what_netcdf3_cannot_hold(tmp_path):
    arrays = ArrayData.build({"flag": (("x",), np.array([True, False]))})
    arrays.write_netcdf(tmp_path / "f.nc")
    with xr.open_dataset(tmp_path / "f.nc") as back:
        assert back["flag"].values.tolist() == [True, False]


def test_merge_keeps_both_and_refuses_conflicting_coordinates():
    a = ArrayData.build({"x": (("site",), [1.0, 2.0])}, coords={"site": ["a", "b"]}, attrs={"seed": 1})
    b = ArrayData.build({"y": (("site",), [3.0, 4.0])}, coords={"site": ["a", "b"]}, attrs={"seed": 2})
    merged = a.merge(b)
    assert list(merged.variables) == ["x", "y"] and merged.attrs["seed"] == 1
    xr.testing.assert_identical(merged.to_xarray(), a.to_xarray().merge(b.to_xarray()))
    with pytest.raises(ValueError, match="site"):
        a.merge(ArrayData.build({"y": (("site",), [3.0])}, coords={"site": ["c"]}))


@pytest.mark.parametrize("rows", [
    [[2026, 1.5, None, "power", True, 3], [2027, 2.0, 4, None, False, 5]],
    [[2026, 1e20, 0.1 + 0.2, "a,b", None, 7], [2027, -3.0, 1e-7, 'quote"d', True, 8]],
])
def test_csv_is_what_pandas_writes(tmp_path, rows):
    cols = ["year", "x", "y", "label", "flag", "n"]
    write_table(tmp_path / "t.csv", cols, rows)
    expected = pd.DataFrame(rows, columns=cols).to_csv(index=False)
    assert (tmp_path / "t.csv").read_text() == expected
    write_table(tmp_path / "t.parquet", cols, rows)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "t.parquet"), pd.DataFrame(rows, columns=cols),
                                  check_dtype=False)


def test_a_run_that_writes_its_files_and_store_imports_neither_xarray_nor_pandas(tmp_path):
    code = (
        "import sys, gigawatt\n"
        "res = gigawatt.run(gigawatt.load('anthropic-aws-2026'))\n"
        f"res.save({str(tmp_path / 'out')!r}); res.to_store({str(tmp_path / 'g.duckdb')!r})\n"
        "print(sorted(m for m in ('xarray', 'pandas') if m in sys.modules))\n"
        "print(res.dataset.sizes['period'] > 0, 'xarray' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "[]"
    assert out[1] == "True True"  # the dataset is still there, built on first read
