"""Benchmark of the vectorized parallelism search (issue 3, item 4).

Prints (1) training layouts evaluated per second on one core, on a batch of
about a million layouts, and (2) the wall time of the full search for Llama 3.1
405B on 16,384 H100 (targets: >= 1,000,000 layouts/s and < 1 s).

Run: ``OMP_NUM_THREADS=1 python benchmarks/perf_search.py``
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core

import numpy as np  # noqa: E402

from gigawatt.catalog import get_model  # noqa: E402
from gigawatt.perf.hardware import Hardware  # noqa: E402
from gigawatt.perf.layout import Layout  # noqa: E402
from gigawatt.perf.search import layout_grid, search_training  # noqa: E402
from gigawatt.perf.training import training_step  # noqa: E402
from gigawatt.perf.transformer import Arch  # noqa: E402


def main() -> None:
    h100 = Hardware.from_catalog("h100-sxm")
    llama405 = Arch.from_model(get_model("llama3.1-405b"))
    llama70 = Arch("llama2-70b", 80, 8192, 64, 8, 128, 28672, 32000)

    # (1) evaluation rate on a large batch of feasible layouts
    g, _ = layout_grid(llama70, h100, n_chips=4096, seq_len=4096, global_batch_seqs=4096)
    reps = 1_000_000 // g.tp.size + 1
    g = Layout(**{k: np.tile(v, reps) for k, v in g.fixed().items() if k != "dp"})
    n = g.tp.size
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        training_step(llama70, h100, g, n_chips=4096, seq_len=4096, global_batch_seqs=4096)
        best = min(best, time.perf_counter() - t)
    print(f"layouts evaluated per second (one core, batch of {n:,}): {n / best:,.0f}")

    # (2) the full search: grid, divisibility, evaluation, memory filter, argmin
    search_training(llama405, h100, n_chips=16384, seq_len=8192, global_batch_seqs=2048)
    times = []
    for _ in range(5):
        t = time.perf_counter()
        r = search_training(llama405, h100, n_chips=16384, seq_len=8192, global_batch_seqs=2048)
        times.append(time.perf_counter() - t)
    lay = r["layout"]
    print(f"search Llama 3.1 405B on 16,384 H100: {min(times) * 1e3:.1f} ms "
          f"({r['n_candidates']:,} candidates, {r['n_evaluated']:,} divide and are evaluated, "
          f"{r['n_feasible']:,} fit in memory)")
    print(f"  best: TP{lay.tp} PP{lay.pp} v{lay.vpp} CP{lay.cp} DP{lay.dp} mb{lay.micro_batch} "
          f"recompute {lay.recompute}: {r['result']['tokens_per_s']:,.0f} tokens/s, MFU {r['result']['mfu']:.1%}")


if __name__ == "__main__":
    main()
