"""A two-stage plan under uncertainty: one buildout for every case, the allocation per case.

:func:`two_stage` takes N cases of a scenario's inputs (samples of uncertain demand,
prices or limits, each resolved as :func:`gigawatt.scenario.inputs.resolve` resolves a
scenario) with their probabilities. The systems ordered (chips added per period, site and
generation) are the same in every case; the sharing of the chips between training and
inference, and what is served, are chosen per case. The plan minimizes the expected cost
and keeps every case's limits. Beside it, the plan optimized for the median case alone is
held fixed and priced over the same cases: the difference in expected cost is the value of
the stochastic solution (VSS; J. R. Birge, "The value of the stochastic solution in
stochastic linear programs with fixed recourse", Mathematical Programming 24, 1982).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from gigawatt.optimize.solve import OptimizeError

__all__ = ["two_stage", "TwoStageResult"]


@dataclass
class TwoStageResult:
    """The plan that one buildout makes for every case, and what it is worth against the median case's plan.

    Attributes
    ----------
    added, installed : ndarray, (period, site, chip)
        The buildout, the same in every case [1].
    expected_cost_usd : float
        Expected buyer's cost of the two-stage plan (present value) [USD].
    case_cost_usd : ndarray, (case,)
        Its cost in each case [USD].
    median_plan_expected_cost_usd : float or None
        Expected cost of the median case's plan, held fixed, over the same cases; None
        where that plan breaks a limit of some case (then ``median_plan_note`` says which).
    vss_usd : float or None
        Value of the stochastic solution: the difference of the two [USD].
    weights : ndarray, (case,)
    size, timings_s : dict
    data : ProblemData
        The first case's problem data (periods, sites, chips), for :meth:`years`.
    """

    added: np.ndarray
    installed: np.ndarray
    expected_cost_usd: float
    case_cost_usd: np.ndarray
    median_plan_expected_cost_usd: float | None
    vss_usd: float | None
    weights: np.ndarray
    served_share: np.ndarray  # (case,) share of inference tokens served in each case
    median_case: int
    median_plan_note: str = ""
    size: dict = field(default_factory=dict)
    timings_s: dict = field(default_factory=dict)
    data: object = field(default=None, repr=False)

    def years(self) -> list[dict]:
        """The buildout by calendar year: chips installed at its end and added in it, by generation, and IT power [W]."""
        d = self.data
        if d is None:
            return []
        rows = []
        for y in sorted(set(d.year.tolist())):
            ps = np.flatnonzero(d.year == y)
            last = ps[-1]
            rows.append({"year": int(y),
                         "chips": {c: float(self.installed[last, :, j].sum()) for j, c in enumerate(d.chips)},
                         "chips_added": {c: float(self.added[ps, :, j].sum()) for j, c in enumerate(d.chips)},
                         "it_power_w": float((self.installed[last] * d.it_w_per_chip[None, :]).sum())})
        return rows

    def to_dict(self) -> dict:
        return {"years": self.years(), "expected_cost_usd": self.expected_cost_usd, "case_cost_usd": self.case_cost_usd.tolist(),
                "median_plan_expected_cost_usd": self.median_plan_expected_cost_usd, "vss_usd": self.vss_usd,
                "weights": self.weights.tolist(), "served_share": self.served_share.tolist(),
                "median_case": self.median_case, "median_plan_note": self.median_plan_note,
                "model": self.size, "timings_s": self.timings_s}


def _same_shape(datas) -> None:
    first = datas[0]
    for i, d in enumerate(datas[1:], start=1):
        for name in ("labels", "sites", "chips", "streams", "runs"):
            if list(getattr(d, name)) != list(getattr(first, name)):
                raise OptimizeError(f"case {i} of the two-stage plan has other {name} than case 0",
                                    hint="sample only values (demand, prices, limits), not the scenario's structure")


def _build(datas, weights, fixed_added=None):
    import linopy

    from gigawatt.optimize.model import OBJ_SCALE, first_stage, second_stage

    m = linopy.Model()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        added, installed = first_stage(m, datas[0])
        objective = None
        for i, (d, wt) in enumerate(zip(datas, weights)):
            term = second_stage(m, d, added, installed, tag=f"[{i}]", weight=float(wt))
            objective = term if objective is None else objective + term
        if fixed_added is not None:
            import xarray as xr

            m.add_constraints(added == xr.DataArray(fixed_added, coords=added.coords), name="fixed_plan")
        m.add_objective(objective, sense="min")
    return m, OBJ_SCALE


def _case_cost(m, d, i) -> tuple[float, float]:
    """Cost of case ``i`` of a solved model [USD], and its served share [1]."""
    installed = np.nan_to_num(m.variables["installed"].solution.values)
    chips = installed.sum(axis=1)
    cost = float((chips * d.cost_usd_per_chip).sum())
    if f"shortfall[{i}]" in m.variables:
        cost += float(m.variables[f"shortfall[{i}]"].solution.values) * 1e6 * d.commitment_discount
    share = float("nan")
    if d.streams:
        served = np.nan_to_num(m.variables[f"served[{i}]"].solution.values)
        cost += float((d.unmet_usd_per_output_token * d.demand_output_tokens * (1 - served)).sum())
        tokens = d.demand_output_tokens / d.output_share[None, :]
        share = float((tokens * served).sum() / tokens.sum()) if tokens.sum() > 0 else 1.0
    if d.runs:
        done = np.nan_to_num(m.variables[f"done[{i}]"].solution.values).sum(axis=2)
        undone = np.nan_to_num(m.variables[f"undone[{i}]"].solution.values)
        late = d.late_usd_per_run_month * d.late_discount
        cost += float((done * d.late_months * late[None, :]).sum() + (undone * d.unfinished_late_months * late).sum())
    return cost, share


def two_stage(cases, *, weights=None, median: int | None = None, period: str = "quarter") -> TwoStageResult:
    """One buildout for every case, the allocation per case: the least expected cost, and its VSS.

    Parameters
    ----------
    cases : sequence of Inputs
        The cases (samples) of a scenario's inputs, each from
        :func:`gigawatt.scenario.inputs.resolve`; they must share periods, sites, chips,
        runs and streams, and may differ in any value.
    weights : array_like, optional
        Their probabilities; equal by default. Normalized to sum to 1.
    median : int, optional
        Index of the median case, whose own optimal plan is priced against the two-stage
        plan; by default the case of median total inference demand (training FLOP where
        there is no inference).
    period : {"quarter", "month"}

    Returns
    -------
    TwoStageResult

    Raises
    ------
    GigawattError
        Cases of different structure; no plan meets every case's limits.

    Notes
    -----
    With first-stage decisions :math:`a` (chips added) and second-stage decisions
    :math:`y_i` per case :math:`i` of probability :math:`\\pi_i`,

    .. math:: \\min_a \\sum_i \\pi_i \\big( c_i(a) + \\min_{y_i \\in Y_i(a)} q_i(y_i) \\big)

    every case's limits (power, supply, cap, spend limit) hold for the one buildout. The
    value of the stochastic solution is :math:`\\text{VSS} = \\sum_i \\pi_i z_i(\\bar a) -
    z^*`, with :math:`\\bar a` the median case's optimal buildout held fixed and
    :math:`z^*` the two-stage optimum; it is at least 0.
    """
    from gigawatt.optimize.data import check_inputs
    from gigawatt.optimize.model import build_model, model_size
    from gigawatt.optimize.solve import solve_model

    if not len(cases):
        raise OptimizeError("the two-stage plan needs at least one case")
    t0 = time.perf_counter()
    datas = [check_inputs(c, period=period, relaxation="lp") for c in cases]  # per-sample binaries would multiply
    _same_shape(datas)
    n = len(datas)
    wts = np.full(n, 1.0 / n) if weights is None else np.asarray(weights, dtype=float)
    if wts.shape != (n,) or np.any(wts < 0) or not wts.sum() > 0:
        raise OptimizeError(f"weights: give {n} probabilities, none negative", hint="or leave them out: equal weights")
    wts = wts / wts.sum()
    if median is None:
        size = [d.demand_output_tokens.sum() / max(d.output_share.mean(), 1e-12) if d.streams else d.run_flop.sum()
                for d in datas]
        median = int(np.argsort(size)[(n - 1) // 2])
    timings = {"check_s": time.perf_counter() - t0}
    t0 = time.perf_counter()
    model, _ = _build(datas, wts)
    timings["build_s"] = time.perf_counter() - t0
    out = solve_model(model)
    timings["solve_s"] = out["solve_s"]
    if out["status"] != "ok":
        raise OptimizeError("no single buildout keeps the limits of every case",
                            hint="check each case alone with gigawatt optimize; allow unmet demand at a price")
    costs = [_case_cost(model, d, i) for i, d in enumerate(datas)]
    case_cost = np.array([c for c, _ in costs])
    served = np.array([s for _, s in costs])
    added = np.nan_to_num(model.variables["added"].solution.values)
    installed = np.nan_to_num(model.variables["installed"].solution.values)
    # the median case's own plan, held fixed over every case
    t0 = time.perf_counter()
    alone = build_model(datas[median])
    solve_model(alone)
    ev_plan = np.nan_to_num(alone.variables["added"].solution.values)
    fixed, _ = _build(datas, wts, fixed_added=ev_plan)
    fixed_out = solve_model(fixed)
    timings["median_plan_s"] = time.perf_counter() - t0
    ev_cost, vss, note = None, None, ""
    if fixed_out["status"] == "ok":
        ev_cost = float(sum(w * _case_cost(fixed, d, i)[0] for i, (d, w) in enumerate(zip(datas, wts))))
        vss = ev_cost - float((wts * case_cost).sum())
    else:
        note = "the median case's plan breaks a limit of another case (power, supply, cap or spend limit), so its " \
               "expected cost is not defined"
    return TwoStageResult(added=added, installed=installed, expected_cost_usd=float((wts * case_cost).sum()),
                          case_cost_usd=case_cost, median_plan_expected_cost_usd=ev_cost, vss_usd=vss, weights=wts,
                          served_share=served, median_case=median, median_plan_note=note, size=model_size(model),
                          timings_s=timings, data=datas[0])
