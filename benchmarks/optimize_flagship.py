"""Build and solve time of the optimizer on the flagship, quarterly and monthly.

Targets (issue "What to build instead", item 5): the flagship over ten years builds and
solves in under 10 s by quarter and under 60 s by month. Each repetition resolves the
scenario, lays out the program's data, builds the linopy model and solves it with HiGHS
(for ``milp``, the search within its time limit by period and the linear program with the
binaries fixed, for the shadow prices); the figure is the median over the repetitions of
check + build + solve (the throughput matrix is read from its cache after the first call,
as in a second ``gigawatt run``). The generations' lead-time re-solves are timed apart.
Prints one line per period and relaxation with the model's size, the gap HiGHS reached,
the objective and whether the target is met.

    python benchmarks/optimize_flagship.py [--repeat 3] [--scenario NAME_OR_PATH] [--relaxation milp lp]
"""

from __future__ import annotations

import argparse
import statistics
import time

TARGETS_S = {"quarter": 10.0, "month": 60.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scenario", default="scenarios/anthropic-aws-2026.yaml")
    parser.add_argument("--relaxation", nargs="+", default=["milp", "lp"])
    args = parser.parse_args()

    import gigawatt
    from gigawatt.optimize import assign_results, build_model, check_inputs, solve_model
    from gigawatt.optimize.model import model_size
    from gigawatt.optimize.results import generation_lead_time_values
    from gigawatt.optimize.solve import MIP_TIME_LIMIT_S
    from gigawatt.scenario.inputs import resolve

    scn = gigawatt.load(args.scenario)
    check_inputs(resolve(scn))  # warm the throughput cache, as any earlier run of the scenario does
    for relaxation in args.relaxation:
        for period, target in TARGETS_S.items():
            rows = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                data = check_inputs(resolve(scn), period=period, relaxation=relaxation)
                t1 = time.perf_counter()
                model = build_model(data)
                t2 = time.perf_counter()
                solved = solve_model(model, mip_time_limit_s=MIP_TIME_LIMIT_S[period])
                t3 = time.perf_counter()
                result = assign_results(model, data)
                t4 = time.perf_counter()
                generation_lead_time_values(model, data)
                rows.append((t1 - t0, t2 - t1, solved["solve_s"], t3 - t0, time.perf_counter() - t4))
            check_s, build_s, solve_s, total_s, lead_s = (statistics.median(col) for col in zip(*rows))
            size = model_size(model)
            gap = solved.get("mip_gap")
            print(f"{relaxation:>4} {period:>7}: {size['variables']:,} variables, {size['constraints']:,} constraints; "
                  f"inputs {check_s:.2f} s, build {build_s:.2f} s, solve {solve_s:.2f} s (HiGHS"
                  + (f", gap {gap:.2%}" if gap is not None else "") + f"), total {total_s:.2f} s "
                  f"(target < {target:.0f} s: {'met' if total_s < target else 'NOT met'}); lead-time re-solves "
                  f"{lead_s:.2f} s; objective ${result.objective_usd / 1e9:,.1f}B, served "
                  f"{result.served_total_share():.1%}", flush=True)


if __name__ == "__main__":
    main()
