"""The public API: load a scenario, run it, open a saved run.

This is the one place where the stages are chained (scenario -> resolved
inputs -> buildout -> simulation -> ledger -> results); the command line, the scripts, the
benchmarks and the tests call these functions::

    import gigawatt
    scn = gigawatt.load("scenarios/anthropic-aws-2026.yaml",
                        set={"deal.spend_limit.per_year": "$40B"})
    res = gigawatt.run(scn)
    res.years()            # one row per year (pandas)
    res.training_runs()    # one row per training run
    res.ledger()           # both parties' yearly cash flows by line
    res.summary()          # the dict that `gigawatt run --json` prints
    res.save("out/")       # the results folder
    run_id = res.to_store("gigawatt.duckdb")
    same = gigawatt.open_run(run_id, db="gigawatt.duckdb")
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Mapping

from gigawatt.errors import GigawattError

__all__ = ["load", "run", "open_run"]

#: most samples one run draws (memory grows linearly with them)
MAX_SAMPLES = 1000
#: most samples a Monte Carlo run over uncertain inputs draws (memory stays bounded: it runs in chunks)
MAX_UNCERTAIN_SAMPLES = 100_000

#: ``progress(stage, done, total)``: called as each stage advances
Progress = Callable[[str, int, int], None]


def load(source: str | Path | Mapping[str, Any], *, set: Mapping[str, Any] | None = None):  # noqa: A002
    """Read and validate a scenario.

    Parameters
    ----------
    source : str, Path or mapping
        A scenario YAML file, the name of a deal in the shipped library
        (``gigawatt deals``), or the scenario as a mapping (as YAML would give it).
    set : mapping of str to value, optional
        Values to override, by dotted path, written as in the file:
        ``{"deal.spend_limit.per_year": "$40B", "sites[0].pue": 1.2}``.
        They are validated like the file; a path the schema does not know is
        an error naming it.

    Returns
    -------
    gigawatt.scenario.schema.Scenario
        Every quantity in SI. Its source text (with the overrides applied) is
        kept for the results' provenance.

    Raises
    ------
    ScenarioError
        Every problem found, each with its path, line (for files) and a hint.
    """
    from gigawatt.scenario import load_scenario_source

    return load_scenario_source(source, overrides=set)


def _as_scenario(scenario):
    from gigawatt.scenario.schema import Scenario

    return scenario if isinstance(scenario, Scenario) else load(scenario)


def run(scenario, *, seed: int | None = None, samples: int = 1, progress: Progress | None = None,
        sampler: str = "lhs", jobs: int = 1):
    """Run a scenario: buildout, then (with demand) the simulation, the deal ledger and the results.

    Parameters
    ----------
    scenario : Scenario, str, Path or mapping
        A scenario from :func:`load`, or anything :func:`load` accepts.
    seed : int, optional
        Overrides the scenario's seed (it draws the training runs' failures).
    samples : int
        Independent draws of the random inputs (today: the training runs'
        failures), run as one wide array on the ``sample`` axis. With more than
        one, the summary gives each figure's mean and its 10th, 50th and 90th
        percentiles (:func:`gigawatt.results.summarize_samples`). Where the
        scenario has uncertain inputs (distributions), the run is that of
        their base values and ``samples`` draws of them run as a Monte Carlo
        (:func:`gigawatt.uncertainty.monte_carlo`): ``Results.uncertainty``
        and the summary's ``uncertainty`` block hold the per-sample figures
        and their quantiles.
    progress : callable, optional
        ``progress(stage, done, total)`` as the buildout and the simulation advance.
    sampler : {"lhs", "sobol"}
        How a Monte Carlo over uncertain inputs draws them (Latin hypercube or
        scrambled Sobol, :mod:`scipy.stats.qmc`).
    jobs : int
        Local processes a Monte Carlo over uncertain inputs runs its chunks in
        (joblib); the results do not depend on it.

    Returns
    -------
    gigawatt.results.Results
    """
    from gigawatt.economics.ledger import build_ledger
    from gigawatt.fleet import run_fleet
    from gigawatt.results import build_results
    from gigawatt.scenario import attach_source, scenario_text
    from gigawatt.scenario.inputs import resolve

    scn = _as_scenario(scenario)
    if seed is not None and seed != scn.seed:
        if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**63:
            raise GigawattError(f"seed: {seed!r} is not an integer in [0, 2**63)")
        text = scenario_text(scn)
        scn = scn.model_copy(update={"seed": seed})
        attach_source(scn, text)
    uncertain = scn.uncertain is not None and samples > 1 if isinstance(samples, int) else False
    top = MAX_UNCERTAIN_SAMPLES if uncertain else MAX_SAMPLES
    if not isinstance(samples, int) or isinstance(samples, bool) or not 1 <= samples <= top:
        why = ("; more draws need uncertain inputs (docs/uncertainty.md)"
               if not uncertain and isinstance(samples, int) and samples > MAX_SAMPLES else "")
        raise GigawattError(f"samples: {samples!r} is not an integer from 1 to {top:,}{why}")
    if sampler not in ("lhs", "sobol"):
        raise GigawattError(f"sampler: {sampler!r} is not lhs or sobol")
    from gigawatt.scenario.limits import check_run_size

    if uncertain:
        # a Monte Carlo holds one chunk of samples at a time, as many as fit the limit: one must
        check_run_size(scn, 1)
        base = run(scn, samples=1, progress=progress)
        return _with_monte_carlo(base, scn, samples, sampler, progress, jobs)
    check_run_size(scn, samples)  # memory grows with the samples: refuse a run past the documented limit
    t0 = time.perf_counter()
    inputs = resolve(scn)
    _add_unmeasured_notes(inputs)
    resolve_s = time.perf_counter() - t0
    fleet, sim, timings = run_fleet(inputs, n_samples=samples, progress=progress)
    timings["resolve_s"] = resolve_s
    t1 = time.perf_counter()
    ledger = build_ledger(inputs, fleet)
    timings["ledger_s"] = time.perf_counter() - t1
    t1 = time.perf_counter()
    results = build_results(inputs, fleet, scenario_text(scn), timings, simulation=sim, ledger=ledger)
    if sim is not None:
        _add_tool_hosts(results, fleet, sim)
        _add_served_by(results, sim)
    results.timings_s["results_s"] = time.perf_counter() - t1
    results.timings_s["total_s"] = time.perf_counter() - t0
    return results


def _add_unmeasured_notes(inputs) -> None:
    """Name the roadmap's chips that have no published measurement of the work the run gives them."""
    from gigawatt.perf.calibration import unmeasured_notes

    demand = getattr(inputs.scenario, "demand", None)
    kinds = [k for k, present in (("training", bool(getattr(demand, "training", None))),
                                  ("serving", bool(getattr(demand, "inference", None)))) if present]
    inputs.notes.extend(unmeasured_notes([c.chip for c in inputs.chips], kinds))


def _add_tool_hosts(results, fleet, sim) -> None:
    """The tool CPU pool of the agentic streams (:mod:`gigawatt.fleet.hosts`): ``tool_hosts`` in the
    summary and its yearly figures in each year's row (and so in ``years.csv``)."""
    from gigawatt.fleet.hosts import tool_host_pool, yearly

    pool = tool_host_pool(fleet, sim)
    if pool is None:
        return
    results.summary_dict["tool_hosts"] = pool.summary(fleet)
    by_year = yearly(pool, fleet)
    for row in results.summary_dict.get("years", []):
        row.update(by_year.get(int(row.get("year", 0)), {}))


def _add_served_by(results, sim) -> None:
    """Inference served by chip (:mod:`gigawatt.fleet.served_by`): ``served_by`` (each chip's share of
    the served tokens) in the summary's ``inference`` and in each year's row (``served_by_<chip>_share`` in
    ``years.csv``)."""
    from gigawatt.fleet.served_by import served_by_summary

    inf = results.summary_dict.get("inference")
    if not sim.workloads.streams or inf is None:
        return
    total, by_year = served_by_summary(sim)
    inf["served_by"] = total
    for row in results.summary_dict.get("years", []):
        if int(row.get("year", 0)) in by_year:
            row["served_by"] = by_year[int(row["year"])]


def _with_monte_carlo(results, scn, samples: int, sampler: str, progress, jobs: int = 1):
    """The base run's results with a Monte Carlo over the scenario's uncertain inputs attached."""
    from gigawatt.uncertainty import monte_carlo

    t0 = time.perf_counter()
    mc = monte_carlo(scn, samples, sampler=sampler, progress=progress, jobs=jobs)
    results.uncertainty = mc
    results.summary_dict["uncertainty"] = mc.summary()
    results.summary_dict["seed_matters"] = True
    results.timings_s["monte_carlo_s"] = time.perf_counter() - t0
    results.timings_s["total_s"] = results.timings_s.get("total_s", 0.0) + results.timings_s["monte_carlo_s"]
    return results


def open_run(run_id_or_folder: str | Path, *, db: str | Path | None = None):
    """A saved run: a results folder written by ``gigawatt run``, or a run id in the results store.

    Parameters
    ----------
    run_id_or_folder : str or Path
        A folder (with gigawatt's ``manifest.json``), or a run id or a unique
        prefix of one (``gigawatt runs list``).
    db : str or Path, optional
        The results store to look the id up in; default ``./gigawatt.duckdb``.

    Returns
    -------
    gigawatt.results.Results

    Raises
    ------
    GigawattError
        When the folder is not a results folder, or the store has no such run.
    """
    from gigawatt.outputs import read_outputs

    path = Path(run_id_or_folder)
    if path.is_dir():
        return read_outputs(path)
    from gigawatt import store

    return store.load_run(Path(db) if db is not None else store.DEFAULT_DB, str(run_id_or_folder))
