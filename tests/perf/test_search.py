"""Parallelism search: divisibility, memory, and speed."""

import time

import numpy as np

from gigawatt.perf.search import layout_grid, search_training
from gigawatt.perf.training import training_step


def test_grid_divisibility(h100, llama2_70b):
    g = layout_grid(llama2_70b, h100, n_chips=512, seq_len=4096, global_batch_seqs=1024)
    assert g["tp"].size > 1000 and int(g.pop("n_candidates")) > g["tp"].size
    assert np.all(512 % (g["tp"] * g["pp"] * g["cp"]) == 0)
    assert np.all(g["tp"] * g["pp"] * g["cp"] * g["dp"] == 512)
    assert np.all(1024 % (g["dp"] * g["micro_batch"]) == 0)
    assert np.all((g["pp"] > 1) | (g["vpp"] == 1))


def test_search_finds_fitting_layout(h100, llama3_405b):
    r = search_training(llama3_405b, h100, n_chips=16384, seq_len=8192, global_batch_seqs=2048)
    assert r["layout"] is not None and r["result"]["fits"]
    assert r["result"]["memory_bytes"] <= 0.9 * 80e9
    assert r["layout"]["tp"] * r["layout"]["pp"] * r["layout"]["cp"] * r["layout"]["dp"] == 16384
    # Llama 3 ran TP8 PP16 at 41% MFU; the searched layout should be at least comparable
    assert r["result"]["mfu"] > 0.35


def test_search_fixed_degrees(h100, llama2_70b):
    r = search_training(llama2_70b, h100, n_chips=256, seq_len=4096, global_batch_seqs=512, fixed={"tp": 4, "pp": 2})
    assert r["layout"]["tp"] == 4 and r["layout"]["pp"] == 2


def test_search_nothing_fits(h100, llama3_405b):
    r = search_training(llama3_405b, h100, n_chips=8, seq_len=8192, global_batch_seqs=64)
    assert r["layout"] is None and "use more chips" in r["reason"]


def test_search_speed(h100, llama3_405b, llama2_70b):
    # issue targets: >= 1e6 layouts/s on one core, 405B on 16,384 H100 in < 1 s; the test
    # allows 4x slack for loaded CI machines (benchmarks/perf_search.py reports the real figures)
    search_training(llama3_405b, h100, n_chips=16384, seq_len=8192, global_batch_seqs=2048)
    t = time.perf_counter()
    search_training(llama3_405b, h100, n_chips=16384, seq_len=8192, global_batch_seqs=2048)
    assert time.perf_counter() - t < 4.0
    g = layout_grid(llama2_70b, h100, n_chips=4096, seq_len=4096, global_batch_seqs=4096)
    g.pop("n_candidates")
    g = {k: np.tile(v, 200_000 // v.size + 1) for k, v in g.items()}  # a batch as large as big searches
    n = g["tp"].size
    t = time.perf_counter()
    training_step(llama2_70b, h100, n_chips=4096, seq_len=4096, global_batch_seqs=4096, tp=g["tp"], pp=g["pp"],
                  cp=g["cp"], ep=g["ep"], vpp=g["vpp"], micro_batch=g["micro_batch"], recompute=g["recompute"],
                  fsdp=g["fsdp"].astype(bool))
    assert n / (time.perf_counter() - t) > 250_000
