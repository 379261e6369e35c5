"""The fleet: buildout of monthly chip cohorts, and the simulation of demand on them."""

from __future__ import annotations

from gigawatt.fleet.buildout import BINDING, Fleet, build_fleet

__all__ = ["BINDING", "Fleet", "build_fleet", "run_fleet"]


def run_fleet(inputs, n_samples: int = 1, progress=None, rng=None):
    """Buildout, then (when the scenario has demand) the simulation.

    Parameters
    ----------
    inputs : Inputs or Scenario
        From :func:`gigawatt.scenario.inputs.resolve` (a scenario is resolved first).
    n_samples : int
        Width of the sample axis.
    progress : callable, optional
        ``progress(stage, done, total)``.
    rng : numpy.random.Generator, optional
        Default: built from the scenario's seed.

    Returns
    -------
    (Fleet, Simulation or None, dict)
        The buildout, the simulation, and the wall time of each stage [s].
    """
    import time

    from gigawatt.scenario.inputs import as_inputs

    timings = {}
    scn = inputs = as_inputs(inputs)
    t0 = time.perf_counter()
    fleet = build_fleet(inputs, n_samples=n_samples,
                        progress=(lambda d, n: progress("buildout", d, n)) if progress else None)
    timings["buildout_s"] = time.perf_counter() - t0
    if scn.demand is None or not (scn.demand.training or scn.demand.inference):
        return fleet, None, timings
    from gigawatt.fleet.demand import resolve_workloads
    from gigawatt.fleet.simulate import simulate
    from gigawatt.fleet.throughput import fleet_throughput, flop_per_token

    t0 = time.perf_counter()
    workloads = resolve_workloads(inputs, fleet, flop_per_token)
    throughput = fleet_throughput(fleet, workloads)
    timings["throughput_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    sim = simulate(inputs, fleet, workloads, throughput, rng=rng,
                   progress=(lambda d, n: progress("simulation", d, n)) if progress else None)
    timings["simulation_s"] = time.perf_counter() - t0
    return fleet, sim, timings
