"""Time the fleet simulation of the flagship scenario, in process.

Targets: one sample in under 100 ms, and 10,000 samples as one wide array in
under 10 s on a 2-core machine (interpreter start and imports excluded; the
throughput matrix from the performance layer is computed once, before timing,
as the engine takes it as an input).

    python benchmarks/simulate_flagship.py [--samples 10000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--scenario", default=str(ROOT / "scenarios" / "anthropic-aws-2026.yaml"))
    args = parser.parse_args()

    from gigawatt.fleet import build_fleet
    from gigawatt.fleet.demand import resolve_workloads
    from gigawatt.fleet.simulate import simulate
    from gigawatt.fleet.throughput import compute_fleet_throughput, flop_per_token
    from gigawatt.scenario import load_scenario

    scn = load_scenario(args.scenario)
    fleet = build_fleet(scn)
    work = resolve_workloads(scn, fleet, flop_per_token)
    t0 = time.perf_counter()
    th = compute_fleet_throughput(fleet, work)  # without the on-disk cache
    print(f"throughput matrix (perf layer, once): {time.perf_counter() - t0:.3f} s")

    one = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        f1 = build_fleet(scn, n_samples=1)
        sim = simulate(scn, f1, work, th)
        sim.summary_dict()
        one.append(time.perf_counter() - t0)
    print(f"1 sample (buildout + simulation + summary): best {1e3 * min(one):.1f} ms (target < 100 ms)")

    t0 = time.perf_counter()
    wide = build_fleet(scn, n_samples=args.samples)
    t1 = time.perf_counter()
    sim = simulate(scn, wide, work, th)
    t2 = time.perf_counter()
    finish = sim.run_finish
    print(f"{args.samples} samples: buildout {t1 - t0:.2f} s, simulation {t2 - t1:.2f} s, total {t2 - t0:.2f} s "
          f"(target < 10 s); peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    print(f"  first run's finish, in months from the start: mean {float(finish[:, 0].mean()):.2f}, "
          f"5-95% {float(__import__('numpy').nanpercentile(finish[:, 0], 5)):.2f}-"
          f"{float(__import__('numpy').nanpercentile(finish[:, 0], 95)):.2f}")


if __name__ == "__main__":
    main()
