"""Benchmark of the agentic session model: a task's cost does not grow with its calls (issue 19, item 2).

Prints the wall time of one :func:`gigawatt.perf.agentic.agentic_session` evaluation
(frontier-moe-2t on a Trainium3 replica, hold policy) for tasks of 10 to 100,000 calls, and
of the one-time serving search of ``perf agent``. Target: 1,000 calls cost no more than
about twice 30 calls (the sums over calls are numpy reductions; the serving grid is fixed).

Run: ``OMP_NUM_THREADS=1 python benchmarks/agentic_scaling.py``
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core

from gigawatt.perf.agentic import agentic_session  # noqa: E402
from gigawatt.perf.api import agent_plan, resolve  # noqa: E402
from gigawatt.perf.layout import Layout  # noqa: E402


def best_of(fn, repeat: int = 20) -> float:
    """Fastest of ``repeat`` runs [s]."""
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    arch, hw = resolve("frontier-moe-2t", "trainium3", None, "fp8")
    lay = Layout(tp=32, pp=1, ep=1, attention_dp=False)
    agentic_session(arch, hw, lay, steps=31, system_prompt_tokens=20_000, tool_output_tokens=3_000,
                    output_tokens_per_step=527, precision="fp8")  # warm imports
    for steps in (10, 31, 100, 1_000, 10_000, 100_000):
        t = best_of(lambda: agentic_session(arch, hw, lay, steps=steps, system_prompt_tokens=2_000,
                                            tool_output_tokens=5, output_tokens_per_step=20, precision="fp8"))
        print(f"{steps:>7,} calls: {t * 1e3:6.2f} ms per task evaluation")
    t = best_of(lambda: agent_plan("frontier-moe-2t", "trainium3"), repeat=3)
    print(f"perf agent's layout search and policy comparison (31 calls): {t * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
