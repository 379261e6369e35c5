"""Stage 3 of the optimizer: solve with HiGHS, and say in words why a program has no solution.

HiGHS comes with the ``highspy`` package; no solver binary is installed by hand. The
solver's log stays off the terminal (``--verbose`` prints the model's size and the solve
time instead), so ``--json`` output is one JSON object.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time

import numpy as np

from gigawatt.errors import GigawattError

__all__ = ["solve_model", "OptimizeInfeasible", "explain_infeasible"]


class OptimizeError(GigawattError):
    """Bad input to the optimizer, or no plan from the solver; ``hint`` says what to do."""

    def __init__(self, message: str, *, hint: str | None = None):
        self.hint = hint
        super().__init__(message)


class OptimizeInfeasible(GigawattError):
    """No plan meets every constraint; the message names the constraints in conflict."""


@contextlib.contextmanager
def _quiet():
    """Silence what the solver writes on the process's stdout (HiGHS prints a banner even with its log off)."""
    import sys

    try:
        sys.stdout.flush()
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # a captured stdout without a file descriptor
        yield
        return
    saved = os.dup(fd)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), fd)
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, fd)
        os.close(saved)


#: relative gap at which HiGHS stops a mixed-integer solve [1]: the plan's cost is within 1% of the best possible
MIP_REL_GAP = 1e-2
#: how long HiGHS searches a mixed-integer program by period before it keeps the best plan found [s]; the gap then
#: reached is reported (``mip_gap``). Sized so that the flagship builds and solves within its speed targets.
MIP_TIME_LIMIT_S = {"quarter": 6.0, "month": 40.0}
#: HiGHS's share of branch-and-bound effort on primal heuristics (its default 0.05): good plans early
MIP_HEURISTIC_EFFORT = 0.7


def solve_model(model, time_limit_s: float = 300.0, mip_rel_gap: float = MIP_REL_GAP,
                mip_time_limit_s: float | None = None) -> dict:
    """Solve a built model with HiGHS.

    Parameters
    ----------
    model : linopy.Model
        From :func:`gigawatt.optimize.model.build_model`.
    time_limit_s : float
        The solver's time limit [s].
    mip_rel_gap : float
        Where the model has binaries: the relative gap between the plan's objective
        and the solver's bound at which it stops [1].
    mip_time_limit_s : float, optional
        Where the model has binaries: the search's time limit, after which the best
        plan found is kept [s] (``time_limit_s`` when left out).

    Returns
    -------
    dict
        ``status`` and ``condition`` (linopy's words: ``ok``/``optimal``,
        ``warning``/``infeasible``...), ``solve_s``, the wall time [s], and for a
        mixed-integer model ``mip_gap`` (the gap reached [1]) and ``fixed_lp_s``.

    Notes
    -----
    A mixed-integer program has no duals. As PyPSA and GenX do, its binaries are then
    fixed at the solution and the remaining linear program solved again, so the
    shadow prices are those of the plan's placement of training runs (how much a
    limit is worth with the runs where they are).

    Raises
    ------
    GigawattError
        The solver stopped without a solution for another reason than infeasibility
        (time limit, numerical trouble).
    """
    import logging

    t0 = time.perf_counter()
    log = logging.getLogger("linopy")
    level = log.level
    log.setLevel(logging.ERROR)  # linopy logs a solver report as a warning where there is no solution
    mip = len(model.binaries) > 0
    opts = dict(output_flag=False, log_to_console=False, time_limit=float(time_limit_s), presolve="on")
    out = {}
    try:
        with _quiet():
            if mip and mip_time_limit_s is not None:
                opts["time_limit"] = float(min(mip_time_limit_s, time_limit_s))
            status, condition = model.solve(solver_name="highs", progress=False, **opts,
                                            **({"mip_rel_gap": mip_rel_gap, "mip_heuristic_effort": MIP_HEURISTIC_EFFORT}
                                               if mip else {}))
            if mip and status == "ok":
                out["mip_gap"] = _mip_gap(model)
                t1 = time.perf_counter()
                opts["time_limit"] = float(time_limit_s)
                for name in list(model.binaries):
                    var = model.variables[name]
                    var.fix(value=var.solution.fillna(0.0).round().clip(0, 1))
                    var.relax()
                status, condition = model.solve(solver_name="highs", progress=False, **opts)
                out["fixed_lp_s"] = time.perf_counter() - t1
    finally:
        log.setLevel(level)
    out.update({"status": str(status), "condition": str(condition), "solve_s": time.perf_counter() - t0})
    if status == "ok":
        return out
    if "infeasible" in str(condition):
        return out
    raise OptimizeError(f"the optimizer's solver stopped without a plan ({condition})",
                        hint="try --period quarter (a smaller program), or report the scenario as a bug")


def _mip_gap(model) -> float | None:
    """The relative gap HiGHS reached on a mixed-integer solve [1], where linopy kept the solver."""
    h = getattr(model, "solver_model", None)
    try:
        return float(h.getInfo().mip_gap)
    except Exception:  # noqa: BLE001 - an older linopy or another solver interface
        return None


def _stretches(labels, mask) -> str:
    """Period labels where ``mask`` holds, as ``A..B`` stretches."""
    idx = np.flatnonzero(mask)
    if not len(idx):
        return ""
    out, start = [], idx[0]
    for a, b in zip(idx, list(idx[1:]) + [None]):
        if b is None or b != a + 1:
            out.append(labels[start] if start == a else f"{labels[start]}..{labels[a]}")
            start = b
    return ", ".join(out)


def explain_infeasible(data) -> OptimizeInfeasible:
    """Why a program with unmet demand disallowed has no solution: the demand it cannot meet and the limits that stop it.

    Parameters
    ----------
    data : ProblemData
        The program's data, with ``allow_unmet`` false.

    Returns
    -------
    OptimizeInfeasible
        Its message names each demand constraint that cannot hold (stream and periods,
        run and deadline) and each limit that binds against it (power by site, supply
        by generation and year, the capacity cap, the spend limit), with a hint.

    Notes
    -----
    An elastic program: the same constraints with unmet demand allowed and priced a
    thousand times higher, so that it serves all it can. What it leaves unserved is
    the demand in conflict; the limits with a shadow price in those periods are what
    conflicts with it.
    """
    from gigawatt.optimize.model import build_model

    elastic = dataclasses.replace(data, allow_unmet=True, view="buyer",
                                  unmet_usd_per_output_token=data.unmet_usd_per_output_token * 1e3,
                                  late_usd_per_run_month=max(data.late_usd_per_run_month, 1e9) * 1e3)
    model = build_model(elastic)
    solve_model(model)
    labels = data.labels
    demand, limits = [], []
    bad_periods = np.zeros(len(labels), dtype=bool)
    if data.streams:
        served = model.variables["served"].solution.values
        has = data.demand_output_tokens > 0
        for w, name in enumerate(data.streams):
            short = has[:, w] & (served[:, w] < 1 - 1e-6)
            if short.any():
                bad_periods |= short
                worst = served[short, w].min()
                demand.append(f"inference demand of {name} in {_stretches(labels, short)} (at most "
                              f"{'under 1%' if worst < 0.01 else format(worst, '.0%')} of it can be served in its "
                              "worst period)")
    if data.runs:
        share = np.nan_to_num(model.variables["done"].solution.values).sum(axis=2)
        for r, name in enumerate(data.runs):
            by_deadline = share[: data.run_deadline_period[r] + 1, r].sum()
            if by_deadline < 1 - 1e-6:
                bad_periods[: data.run_deadline_period[r] + 1] |= share[: data.run_deadline_period[r] + 1, r] > 0
                when = data.run_deadline_month[r] or "the horizon's end"
                demand.append(f"training run {name} by its deadline {when} "
                              f"(at most {by_deadline:.0%} of its FLOP by then)")
    if not bad_periods.any():
        bad_periods[:] = True
    for name, where in (("power", "site"), ("cap", None), ("spend_limit", None), ("supply", "chip")):
        if name not in model.constraints:
            continue
        dual = model.constraints[name].dual
        if name == "supply":
            years = np.array(data.supply_years)
            bad_years = set(data.year[bad_periods].tolist())
            for c, chip in enumerate(data.chips):
                hit = np.abs(dual.sel(chip=chip).fillna(0).values) > 1e-9
                hit &= np.isin(years, list(bad_years))
                if hit.any():
                    limits.append(f"supply of {chip} in {', '.join(str(y) for y in years[hit])}")
            continue
        values = np.abs(dual.fillna(0).values) > 1e-9
        if where == "site":
            for s, site in enumerate(data.sites):
                hit = values[:, s] & bad_periods
                if hit.any():
                    limits.append(f"energized power at {site} in {_stretches(labels, hit)}")
        else:
            hit = values & bad_periods
            if hit.any():
                label = "the deal's capacity cap" if name == "cap" else "the buyer's spend limit"
                limits.append(f"{label} in {_stretches(labels, hit)}")
    text = ("no plan meets every constraint: with unmet demand disallowed (optimize.allow_unmet: false), "
            "these demands cannot be met: " + "; ".join(demand or ["(none found)"]))
    if limits:
        text += ". They conflict with: " + "; ".join(limits)
    err = OptimizeInfeasible(text)
    err.hint = ("raise those limits (sites' energized power, roadmap supply_per_year, deal.capacity_cap, "
                "deal.spend_limit), lower the demand, or allow unmet demand at a price "
                "(optimize: {allow_unmet: true}, the default)")
    return err

