"""The buildout and allocation optimizer: the least-cost plan for a scenario, and its shadow prices.

A multi-period program written with linopy and solved with HiGHS, staged as
PyPSA's ``optimize()`` is, each stage a function that can be called alone:

1. :func:`check_inputs` (:mod:`.data`): the resolved scenario and the throughput
   matrix laid out on the optimizer's periods (quarters by default, or months);
2. :func:`build_model` (:mod:`.model`): the program;
3. :func:`solve_model` (:mod:`.solve`): HiGHS; a program with no solution is
   explained by :func:`explain_infeasible`, naming the constraints in conflict;
4. :func:`assign_results` (:mod:`.results`): the plan, the allocation, the costs and
   the shadow prices in user units;
5. :func:`simulate_plan` (:mod:`.plan`): the plan written as a scenario and run by
   the simulator, beside the scenario's own (heuristic) buildout.

:func:`two_stage` (:mod:`.stochastic`) plans one buildout for several cases of the
inputs, the allocation per case, and prices it against the median case's plan (VSS).

Systems are continuous (the linear relaxation of whole systems); the plan written as
a scenario is rounded to whole systems by the simulator's buildout. Training is
mixed-integer by default (``relaxation="milp"``: each run on one pool, at least its
``min_chips``, late by the period it finishes in), or relaxed (``"lp"``).
"""

from __future__ import annotations

import sys
import time
import types

from gigawatt.optimize.data import ProblemData, check_inputs
from gigawatt.optimize.model import build_model
from gigawatt.optimize.plan import Comparison, plan_scenario, simulate_plan
from gigawatt.optimize.results import OptimizeResult, assign_results
from gigawatt.optimize.solve import OptimizeInfeasible, explain_infeasible, solve_model
from gigawatt.optimize.stochastic import TwoStageResult, two_stage

__all__ = ["optimize", "check_inputs", "build_model", "solve_model", "assign_results", "explain_infeasible",
           "plan_scenario", "simulate_plan", "two_stage", "OptimizeResult", "OptimizeInfeasible", "ProblemData",
           "Comparison", "TwoStageResult"]


def optimize(scenario, *, period: str = "quarter", view: str = "buyer", allow_unmet: bool | None = None,
             simulate: bool = False, throughput=None, workloads=None, relaxation: str = "milp",
             lead_time: bool = True, mip_time_limit_s: float | None = None) -> OptimizeResult:
    """The least-cost buildout and allocation of a resolved scenario.

    Parameters
    ----------
    scenario : Inputs, Scenario, str, Path or mapping
        Resolved inputs (:func:`gigawatt.scenario.inputs.resolve`), a scenario from
        :func:`gigawatt.load`, or anything :func:`gigawatt.load` accepts.
    period : {"quarter", "month"}
        The optimizer's period.
    view : {"buyer", "provider"}
        ``buyer``: minimize the buyer's discounted cost of meeting demand, unmet
        inference and late training priced (``optimize:`` in the scenario, or the
        documented defaults). ``provider``: maximize the provider's discounted margin
        under the same constraints.
    allow_unmet : bool, optional
        Overrides the scenario's ``optimize.allow_unmet``.
    simulate : bool
        Also write the plan as a scenario and run it, beside the scenario's own
        buildout (:func:`simulate_plan`); the result's ``comparison``.
    throughput, workloads : optional
        The throughput matrix and workloads, when already computed.
    relaxation : {"milp", "lp"}
        ``milp`` (the default): each training run on one pool (one site, one
        generation) a period, on at least its min_chips, on chips inference does not
        hold at its peak. ``lp``: the linear relaxation (a run may spread over pools,
        use fewer chips than its minimum and count inference's idle hours).
    mip_time_limit_s : float, optional
        How long HiGHS searches the mixed-integer program before keeping the best plan
        found [s]; :data:`gigawatt.optimize.solve.MIP_TIME_LIMIT_S` by period when left
        out. The gap reached is in ``size["mip_gap"]``.
    lead_time : bool
        Also value one more month of lead time for each generation (a re-solve per
        generation with its roadmap window opening a month earlier).

    Returns
    -------
    OptimizeResult

    Raises
    ------
    OptimizeInfeasible
        No plan meets every constraint (only possible with unmet demand disallowed);
        the message names the demand and the limits in conflict.
    """
    from gigawatt.scenario.inputs import Inputs, resolve

    timings = {}
    t0 = time.perf_counter()
    if isinstance(scenario, Inputs):
        inputs = scenario
    else:
        from gigawatt.scenario import load_scenario_source
        from gigawatt.scenario.schema import Scenario

        inputs = resolve(scenario if isinstance(scenario, Scenario) else load_scenario_source(scenario))
    timings["resolve_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    data = check_inputs(inputs, throughput, workloads, period=period, view=view, allow_unmet=allow_unmet,
                        relaxation=relaxation)
    timings["check_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    model = build_model(data)
    timings["build_s"] = time.perf_counter() - t0
    from gigawatt.optimize.solve import MIP_TIME_LIMIT_S

    out = solve_model(model, mip_time_limit_s=mip_time_limit_s if mip_time_limit_s is not None
                      else MIP_TIME_LIMIT_S[period])
    timings["solve_s"] = out["solve_s"]
    if out["status"] != "ok":
        raise explain_infeasible(data)
    t0 = time.perf_counter()
    result = assign_results(model, data, timings)
    if "mip_gap" in out:
        result.size["mip_gap"] = out["mip_gap"]
    result.timings_s["results_s"] = time.perf_counter() - t0
    if lead_time:
        from gigawatt.optimize.results import generation_lead_time_values, loosen_table

        t1 = time.perf_counter()
        rows = generation_lead_time_values(model, data)
        result.lead_time = result.lead_time + rows
        result.loosen = loosen_table(result.shadow, result.lead_time, data)
        result.timings_s["lead_time_s"] = time.perf_counter() - t1
    if simulate:
        t0 = time.perf_counter()
        result.comparison = simulate_plan(result)
        result.timings_s["simulate_s"] = time.perf_counter() - t0
    return result


class _CallableModule(types.ModuleType):
    """``gigawatt.optimize`` is this package and the function: ``gigawatt.optimize(scenario)`` calls :func:`optimize`."""

    def __call__(self, *args, **kwargs):
        return optimize(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
