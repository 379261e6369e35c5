"""Monte Carlo over the flagship's uncertain inputs: wall time, CPU time and peak memory by sample count.

Targets (issue "Planning under uncertainty", item 3): the flagship at 10,000 samples in under
10 s on two cores (goal beyond: 2 s), peak resident memory under 2 GB, and one sample no
slower than a run of the scenario without its distributions. Each size runs in a fresh
process (so that peak memory is its own) through the library (:func:`gigawatt.uncertainty.monte_carlo`
on the resolved scenario: the draws, buildout, simulation, ledger and per-sample reduction,
not the base run, the files or the store). "run today" is ``gigawatt.run`` of the scenario
with one sample.

    python benchmarks/monte_carlo.py [--samples 1 1000 10000] [--jobs 1 2] [--scenario NAME_OR_PATH]

Prints one line per (samples, jobs): wall [s], CPU of all processes [s], per sample [ms],
peak resident memory [MB] of the largest process, and the median provider NPV as a check
that the runs agree across jobs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

_CHILD = r"""
import json, resource, sys, time
import numpy as np
import gigawatt
from gigawatt.scenario.inputs import resolve
from gigawatt.uncertainty import monte_carlo

scenario, n, jobs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
scn = gigawatt.load(scenario)
inputs = resolve(scn)
if n == 0:  # a run as today: one sample, through the public pipeline
    gigawatt.run(scn)  # warm: imports and caches
    t0, c0 = time.perf_counter(), time.process_time()
    gigawatt.run(scn)
    wall, cpu, npv = time.perf_counter() - t0, time.process_time() - c0, None
else:
    monte_carlo(scn, min(n, 8), inputs=inputs)  # warm: imports and caches
    t0, c0 = time.perf_counter(), time.process_time()
    mc = monte_carlo(scn, n, inputs=inputs, jobs=jobs)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    npv = float(np.nanmedian(mc.scalars["provider_npv_usd"]))
    if jobs > 1:  # end joblib's worker processes so that their CPU time and memory count below
        from joblib.externals.loky import get_reusable_executor

        get_reusable_executor().shutdown(wait=True)
children = resource.getrusage(resource.RUSAGE_CHILDREN)
own = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"wall_s": wall, "cpu_s": cpu + children.ru_utime + children.ru_stime,
                  "peak_mb": max(own.ru_maxrss, children.ru_maxrss) / 1024, "npv": npv}))
"""


def measure(scenario: str, n: int, jobs: int) -> dict:
    proc = subprocess.run([sys.executable, "-c", _CHILD, scenario, str(n), str(jobs)], capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"{n} samples, {jobs} jobs failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, nargs="+", default=[1, 1000, 10000])
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--scenario", default="scenarios/anthropic-aws-2026.yaml")
    args = parser.parse_args()

    today = measure(args.scenario, 0, 1)
    print(f"run today (1 sample, no draws): wall {today['wall_s']:.3f} s, peak {today['peak_mb']:.0f} MB")
    print(f"{'samples':>8} {'jobs':>4} {'wall s':>8} {'cpu s':>8} {'ms/sample':>10} {'peak MB':>8}  median provider NPV")
    results = {}
    for n in args.samples:
        for jobs in (args.jobs if n > 1 else [1]):
            r = measure(args.scenario, n, jobs)
            results[(n, jobs)] = r
            print(f"{n:>8,} {jobs:>4} {r['wall_s']:>8.2f} {r['cpu_s']:>8.2f} {1e3 * r['wall_s'] / n:>10.2f} "
                  f"{r['peak_mb']:>8.0f}  ${r['npv'] / 1e9:,.2f}B")
    big = [r for (n, _), r in results.items() if n >= 10_000]
    if big:
        best = min(big, key=lambda r: r["wall_s"])
        print(f"target 10,000 samples < 10 s: {'met' if best['wall_s'] < 10 else 'NOT met'} ({best['wall_s']:.1f} s)")
        print(f"target peak memory < 2 GB: {'met' if max(r['peak_mb'] for r in big) < 2048 else 'NOT met'}")
    one = results.get((1, 1))
    if one:
        print(f"target one sample no slower than a run today: {'met' if one['wall_s'] <= today['wall_s'] else 'NOT met'} "
              f"({one['wall_s']:.3f} s vs {today['wall_s']:.3f} s)")


if __name__ == "__main__":
    main()
