"""Throughput matrix: shape, coordinates, NaN with a note where a cell cannot run."""

import numpy as np

from gigawatt import perf


def test_matrix():
    m = perf.throughput_matrix(
        {"train-8b": {"model": "llama3.1-8b", "chips": 256},
         "chat-70b": {"kind": "inference", "model": "llama3.1-70b", "input_len": 2000, "output_len": 200}},
        ["h100-sxm", "trainium2", "no-such-chip"],
    )
    assert m.dims == ("workload", "chip") and m.shape == (2, 3)
    assert np.all(m.sel(chip=["h100-sxm", "trainium2"]).values > 0)
    assert np.isnan(m.sel(chip="no-such-chip")).all() and "no-such-chip" in str(m.note.values[0, 2])
    mfu = m.mfu.sel(chip="h100-sxm").values
    assert np.all((mfu > 0) & (mfu < 1))
    # J/token = TDP / rate (chip power only): 700 W on H100
    j = float(m.joules_per_token.sel(workload="train-8b", chip="h100-sxm"))
    assert np.isclose(j, 700.0 / float(m.sel(workload="train-8b", chip="h100-sxm")))
