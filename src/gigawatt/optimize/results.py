"""Stage 4 of the optimizer: read the solution and the shadow prices back into user units.

:func:`assign_results` returns :class:`OptimizeResult`: the plan (chips added and
installed by period, site and generation), the allocation (chips held for and busy on
each inference stream, chips on each training run), what it serves and when each run
finishes, what it costs, and the shadow prices of every binding constraint in the units
a planner thinks in: dollars per MW-month of energized power at a site, per chip of a
generation's supply, per dollar of the spend limit, and the value of a site's power
arriving one month earlier. Every dollar figure of the objective and of the shadow prices
is a present value at the horizon's start, at the view's discount rate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gigawatt.optimize.data import ProblemData
from gigawatt.optimize.model import OBJ_SCALE, ROW_SCALE
from gigawatt.units import SECONDS_PER_YEAR

__all__ = ["OptimizeResult", "assign_results", "shadow_prices", "loosen_table"]

#: a shadow price counts as binding above this share of a dollar per row unit
_TOL = 1e-7


@dataclass
class OptimizeResult:
    """The optimal plan and what it is worth.

    Attributes
    ----------
    data : ProblemData
    added, installed : ndarray, (period, site, chip)
        Chips added in the period and installed through it [1] (continuous: the LP relaxation).
    held, busy : ndarray, (period, stream, chip)
        Chips held for each stream at its daily peak, and busy on it on average [1].
    training : ndarray, (period, run, chip)
        Chips on each training run, on average over the period [1].
    served_share : ndarray, (period, stream)
        Share of each stream's tokens served [1].
    run_done : ndarray, (period, run)
        Share of each run's FLOP done in the period [1].
    objective_usd : float
        The view's objective: the buyer's discounted cost, or minus the provider's margin [USD].
    costs : dict
        ``contract_usd`` (discounted contract spend), ``spend_usd`` (undiscounted),
        ``shortfall_usd``, ``unmet_inference_usd``, ``late_training_usd`` [USD].
    shadow : list of dict
        One row per binding constraint and period (:func:`shadow_prices`).
    loosen : list of dict
        What would loosen the plan most (:func:`loosen_table`).
    size : dict
        ``variables``, ``constraints``; ``timings_s``: ``check_s``, ``build_s``, ``solve_s``, ``results_s``.
    """

    data: ProblemData
    added: np.ndarray
    installed: np.ndarray
    held: np.ndarray
    busy: np.ndarray
    training: np.ndarray
    served_share: np.ndarray
    run_done: np.ndarray
    objective_usd: float
    costs: dict
    shadow: list
    loosen: list
    lead_time: list
    size: dict = field(default_factory=dict)
    timings_s: dict = field(default_factory=dict)
    status: str = "optimal"
    comparison: Any = None  # gigawatt.optimize.plan.Comparison, once the plan is simulated
    #: (period, run, site, chip) chips on each run at each site (``milp``; None for ``lp``) [1]
    training_site: Any = None
    #: (period, run, chip) of those chips, the ones backfilling inference's idle hours (``milp``) [1]
    backfill: Any = None

    @property
    def labels(self) -> list[str]:
        return self.data.labels

    def served_total_share(self) -> float:
        """Share of all inference tokens (input + output) over the horizon that the plan serves [1]."""
        d = self.data
        if not d.streams:
            return float("nan")
        tokens = d.demand_output_tokens / d.output_share[None, :]
        return float((tokens * self.served_share).sum() / tokens.sum()) if tokens.sum() > 0 else 1.0

    def run_finish(self) -> list[dict]:
        """Each run: the period its FLOP is done in (None if not by the horizon's end), its deadline, months late."""
        d = self.data
        out = []
        for r, name in enumerate(d.runs):
            cum = np.cumsum(self.run_done[:, r])
            done = np.flatnonzero(cum >= 1 - 1e-6)
            p = int(done[0]) if len(done) else None
            late = float(d.late_months[p, r]) if p is not None else None
            out.append({"name": name, "finish_period": d.labels[p] if p is not None else None,
                        "deadline": d.run_deadline_month[r] if d.run_deadline_month else None,
                        "months_late": late, "share_done": float(min(cum[-1], 1.0)) if len(cum) else 0.0,
                        "on_time": bool(p is not None and late == 0)})
        return out

    def gw_years(self) -> float:
        """IT capacity installed over the horizon [GW-year]."""
        d = self.data
        it = (self.installed * d.it_w_per_chip[None, None, :]).sum(axis=(1, 2))
        return float((it * d.seconds).sum() / SECONDS_PER_YEAR / 1e9)

    def years(self) -> list[dict]:
        """One row per calendar year: chips installed at its end by generation, IT GW, spend, served share."""
        d = self.data
        rows = []
        tokens = d.demand_output_tokens / np.where(d.output_share > 0, d.output_share, 1.0)[None, :] if d.streams else None
        for y in sorted(set(d.year.tolist())):
            ps = np.flatnonzero(d.year == y)
            last = ps[-1]
            row = {"year": int(y),
                   "chips": {c: float(self.installed[last, :, j].sum()) for j, c in enumerate(d.chips)},
                   "chips_added": {c: float(self.added[ps, :, j].sum()) for j, c in enumerate(d.chips)},
                   "it_power_w": float((self.installed[last] * d.it_w_per_chip[None, :]).sum()),
                   "spend_usd": float((self.installed[ps].sum(axis=1) * d.spend_usd_per_chip[ps]).sum())}
            if tokens is not None and tokens[ps].sum() > 0:
                row["inference_served_share"] = float((tokens[ps] * self.served_share[ps]).sum() / tokens[ps].sum())
            rows.append(row)
        return rows

    def to_dict(self) -> dict:
        """The result as plain JSON types (SI units, US dollars)."""
        d = self.data
        out = {
            "scenario": d.inputs.name, "view": d.view, "period": d.period, "status": self.status,
            "relaxation": d.relaxation, "relaxation_text": relaxation_text(d),
            "objective_usd": self.objective_usd, "costs": self.costs,
            "served_share": self.served_total_share(), "gw_years": self.gw_years(),
            "training_runs": self.run_finish(), "years": self.years(),
            "shadow_prices": self.shadow, "loosen": self.loosen, "lead_time": self.lead_time,
            "model": self.size, "timings_s": self.timings_s,
            "values": {"unmet_inference_usd_per_million_tokens": d.unmet_usd_per_mtok,
                       "late_training_usd_per_run_month": d.late_usd_per_run_month,
                       "allow_unmet": d.allow_unmet, "defaults": d.defaults},
            "notes": list(d.notes),
        }
        if self.comparison is not None:
            out["comparison"] = self.comparison.to_dict()
        return out


def relaxation_text(data: ProblemData) -> str:
    """What the program relaxes, in words, for the output."""
    head = "systems and chips are continuous (the plan the simulator runs is rounded down to whole systems)"
    if data.relaxation == "milp":
        return (f"MILP: {head}; each training run on one pool (site, generation) a period with at least its "
                "min_chips, newest generations first, on chips free of inference all day or backfilling its least "
                "loaded hours for part of the day, and late by the period it finishes in")
    return (f"LP: {head}; a training run may spread over generations and sites, take fewer chips than its "
            "min_chips and train on inference's idle chip-time all day, and is late by the share of its FLOP done late")


def _sol(model, name, shape):
    if name not in model.variables:
        return np.zeros(shape)
    return np.nan_to_num(np.asarray(model.variables[name].solution.values, dtype=float))


def _dual(model, name):
    if name not in model.constraints:
        return None
    return np.nan_to_num(np.asarray(model.constraints[name].dual.values, dtype=float))


def shadow_prices(model, data: ProblemData) -> list[dict]:
    """Shadow prices of the binding limits, in user units, one row per constraint, place and period.

    Parameters
    ----------
    model : linopy.Model
        Solved.
    data : ProblemData

    Returns
    -------
    list of dict
        ``constraint`` (``power``, ``supply``, ``cap``, ``spend_limit``, ``commitment``),
        ``site`` / ``chip`` where it applies, ``period`` (or ``year`` for supply),
        ``value`` and ``unit``: what one more unit of the limit is worth to the
        objective, as a present value: ``USD/MW-month`` of energized IT power at a
        site or of the capacity cap, ``USD/chip`` of a generation's yearly supply,
        ``USD/USD`` of the spend limit or of the commitment (for the commitment,
        one dollar less of it).

    Notes
    -----
    For a row :math:`g(x) \\le b` of a minimization, the dual :math:`\\lambda \\le 0`
    gives :math:`\\partial z^* / \\partial b = \\lambda`, so one more unit of :math:`b`
    is worth :math:`-\\lambda`. A period's power row holds for all of its
    :math:`m` months, so a MW-month is worth :math:`-\\lambda / m`.
    """
    rows = []
    months = data.months_per_period
    dual = _dual(model, "power")
    if dual is not None:
        value = -dual * OBJ_SCALE / ROW_SCALE["power"] * 1e6 / months  # USD per MW-month
        for p, s in zip(*np.nonzero(value > _TOL)):
            rows.append({"constraint": "power", "site": data.sites[s], "period": data.labels[p],
                         "value": float(value[p, s]), "unit": "USD/MW-month"})
    dual = _dual(model, "supply")
    if dual is not None:
        value = -dual * OBJ_SCALE / ROW_SCALE["supply"]
        for y, c in zip(*np.nonzero(value > _TOL)):
            rows.append({"constraint": "supply", "chip": data.chips[c], "year": int(data.supply_years[y]),
                         "value": float(value[y, c]), "unit": "USD/chip"})
    dual = _dual(model, "cap")
    if dual is not None:
        value = -dual * OBJ_SCALE / ROW_SCALE["cap"] * 1e6 / months
        for p in np.flatnonzero(value > _TOL):
            rows.append({"constraint": "cap", "period": data.labels[p], "value": float(value[p]),
                         "unit": "USD/MW-month"})
    dual = _dual(model, "spend_limit")
    if dual is not None:
        value = -dual * OBJ_SCALE / ROW_SCALE["spend_limit"]
        for p in np.flatnonzero(value > _TOL):
            rows.append({"constraint": "spend_limit", "period": data.labels[p], "value": float(value[p]),
                         "unit": "USD/USD"})
    dual = _dual(model, "commitment")
    if dual is not None and float(dual) * OBJ_SCALE / ROW_SCALE["commitment"] > _TOL:
        rows.append({"constraint": "commitment", "value": float(dual) * OBJ_SCALE / ROW_SCALE["commitment"],
                     "unit": "USD/USD"})
    return rows


def lead_time_values(model, data: ProblemData) -> list[dict]:
    """The value of each site's energized power arriving one month earlier [USD, present value].

    Notes
    -----
    To first order, :math:`\\sum_p -\\lambda_{p,s} (E^{+1}_{p,s} - E_{p,s})`: each period's
    shadow price of power at the site times the power the site would have one month
    later in its ramp (:attr:`ProblemData.energized_next_month_it_w`).
    """
    dual = _dual(model, "power")
    if dual is None:
        return []
    value_per_w = -dual * OBJ_SCALE / ROW_SCALE["power"]
    gain = (data.energized_next_month_it_w - data.energized_it_w)
    out = []
    for s, site in enumerate(data.sites):
        out.append({"site": site, "value_usd": float((value_per_w[:, s] * gain[:, s]).sum()),
                    "unit": "USD per month of lead time (all of the site's ramp one month earlier)"})
    return out


def generation_lead_time_values(model, data: ProblemData) -> list[dict]:
    r"""The value of each chip generation's roadmap window opening one month earlier [USD, present value].

    Parameters
    ----------
    model : linopy.Model
        Solved (for ``milp``, with its binaries fixed at the plan's placement of runs,
        as :func:`gigawatt.optimize.solve.solve_model` leaves it).
    data : ProblemData

    Returns
    -------
    list of dict
        One row per generation whose window opens after the horizon's first period:
        ``chip``, ``value_usd`` (what the buyer's cost falls by, or the provider's
        margin rises by), ``opens`` (the period it opens in now), ``solve_s``.

    Notes
    -----
    A re-solve per generation: the period before the one its window opens in may add
    the chip (at the sites that take it, its year's supply raised by the months gained,
    as the roadmap pro-rates it), and the objective's fall over the period's
    :math:`m` months is one month's worth, :math:`(z^* - z^*_{-1}) / m` (exact by month;
    by quarter the mean of the three months). With ``milp`` the runs stay on the
    pools the plan put them on (the binaries fixed), so the value counts the buildout
    and the allocation that follow, not a re-placement of runs.
    """
    import time

    from gigawatt.optimize.solve import solve_model

    if "added" not in model.variables or model.objective.value is None:
        return []
    base = float(model.objective.value)
    added = model.variables["added"]
    out = []
    for j, chip in enumerate(data.chips):
        can = data.can_add[:, :, j]
        opens = np.flatnonzero(can.any(axis=1))
        if not len(opens) or opens[0] == 0:
            continue
        p0 = int(opens[0])
        sites = [data.sites[s] for s in np.flatnonzero(can[p0])]
        old = added.upper.copy()
        upper = old.copy()
        for site in sites:
            upper.loc[{"period": p0 - 1, "site": site, "chip": chip}] = np.inf
        added.update(upper=upper)
        # the year's supply is pro-rated by the months on offer: the months gained add theirs
        supply = model.constraints["supply"] if "supply" in model.constraints else None
        year = int(data.year[p0 - 1])
        per_year = float(data.inputs.chips[j].supply_per_year)
        old_rhs = supply.rhs.copy() if supply is not None else None
        if supply is not None and np.isfinite(per_year) and year in data.supply_years:
            rhs = old_rhs.copy()
            more = per_year * data.months_per_period / 12.0 / ROW_SCALE["supply"]
            rhs.loc[{"year": year, "chip": chip}] = rhs.loc[{"year": year, "chip": chip}] + more
            supply.update(rhs=rhs)
        t0 = time.perf_counter()
        try:
            solved = solve_model(model)
            value = (base - float(model.objective.value)) * OBJ_SCALE / data.months_per_period \
                if solved["status"] == "ok" else None
        finally:
            added.update(upper=old)
            if supply is not None:
                supply.update(rhs=old_rhs)
        out.append({"chip": chip, "opens": data.labels[p0], "value_usd": value,
                    "unit": "USD per month of lead time (the roadmap window opening one month earlier)",
                    "solve_s": time.perf_counter() - t0})
    if out:
        solve_model(model)  # the solution read back later is the plan's again
    return out


def loosen_table(shadow: list[dict], lead_time: list[dict], data: ProblemData) -> list[dict]:
    """What would loosen the plan: each binding limit with where and when it binds and what it is worth.

    Returns
    -------
    list of dict
        ``constraint``, ``where``, ``binds`` (its periods as stretches), ``periods`` (how
        many), ``mean_value`` and ``max_value`` in ``unit``, and ``value_usd``: what one
        more unit in every binding period (a MW at the site for the whole horizon, a chip
        of supply in every binding year, a dollar of budget per binding period) is worth,
        present value. Sorted by ``value_usd``, largest first; the sites' lead time follows.
    """
    from gigawatt.optimize.solve import _stretches

    groups: dict[tuple, list[dict]] = {}
    for row in shadow:
        where = row.get("site") or row.get("chip") or ""
        groups.setdefault((row["constraint"], where), []).append(row)
    out = []
    for (name, where), rows in groups.items():
        values = np.array([r["value"] for r in rows])
        if name == "supply":
            when = ", ".join(str(r["year"]) for r in rows)
            total = float(values.sum())
        elif name == "commitment":
            when, total = "term", float(values.sum())
        else:
            mask = np.isin(data.labels, [r["period"] for r in rows])
            when = _stretches(data.labels, mask)
            scale = data.months_per_period if rows[0]["unit"].endswith("month") else 1.0
            total = float(values.sum() * scale)
        out.append({"constraint": name, "where": where or "deal", "binds": when, "periods": len(rows),
                    "mean_value": float(values.mean()), "max_value": float(values.max()), "unit": rows[0]["unit"],
                    "value_usd": total, "what": _what(name, where)})
    out.sort(key=lambda r: -r["value_usd"])
    for row in lead_time:
        if row.get("value_usd") is not None and row["value_usd"] > _TOL:
            where = row.get("site") or row.get("chip")
            what = (f"{where}'s power one month earlier" if "site" in row
                    else f"{where}'s roadmap window one month earlier (now {row.get('opens')})")
            out.append({"constraint": "lead_time", "where": where, "binds": row.get("opens", ""), "periods": 0,
                        "mean_value": row["value_usd"], "max_value": row["value_usd"], "unit": "USD/month",
                        "value_usd": row["value_usd"], "what": what})
    return out


def _what(name: str, where: str) -> str:
    return {"power": f"+1 MW of energized IT power at {where}", "supply": f"+1 {where} of yearly supply",
            "cap": "+1 MW of capacity cap", "spend_limit": "+$1 of spend limit",
            "commitment": "-$1 of commitment"}.get(name, name)


def assign_results(model, data: ProblemData, timings_s: dict | None = None) -> OptimizeResult:
    """Read a solved model back: the plan, the allocation, the costs and the shadow prices.

    Parameters
    ----------
    model : linopy.Model
        Solved by :func:`gigawatt.optimize.solve.solve_model`.
    data : ProblemData
    timings_s : dict, optional
        Stage times so far [s].

    Returns
    -------
    OptimizeResult
    """
    from gigawatt.optimize.model import model_size

    n_p, n_s, n_c = data.energized_it_w.shape[0], len(data.sites), len(data.chips)
    n_w, n_r = len(data.streams), len(data.runs)
    added = _sol(model, "added", (n_p, n_s, n_c))
    installed = _sol(model, "installed", (n_p, n_s, n_c))
    held = _sol(model, "held", (n_p, n_w, n_c))
    busy = _sol(model, "busy", (n_p, n_w, n_c))
    training = _sol(model, "training", (n_p, n_r, n_c))
    training_site = _sol(model, "pool_chips", (n_p, n_r, n_s, n_c)) if "pool_chips" in model.variables else None
    backfill = _sol(model, "backfill", (n_p, n_r, n_c)) if "backfill" in model.variables else None
    served = _sol(model, "served", (n_p, n_w))
    undone = _sol(model, "undone", (n_r,))
    shortfall = float(_sol(model, "shortfall", ()).sum()) * OBJ_SCALE if data.commitment_usd is not None else None
    run_done = _sol(model, "done", (n_p, n_r, n_c)).sum(axis=2)
    chips = installed.sum(axis=1)
    contract = float((chips * data.cost_usd_per_chip).sum())
    spend = float((chips * data.spend_usd_per_chip).sum())
    unmet = float((data.unmet_usd_per_output_token * data.demand_output_tokens * (1 - served)).sum()) if n_w else 0.0
    late_price = data.late_usd_per_run_month * data.late_discount
    late = float((run_done * data.late_months * late_price[None, :]).sum()
                 + (undone * data.unfinished_late_months * late_price).sum()) if n_r else 0.0
    if n_r and "finished" in model.variables:
        # milp: lateness from the period each run's FLOP is all done in (the program's binaries say at most that;
        # a plan the solver stopped on before the optimum may leave one unset)
        from gigawatt.optimize.model import run_lateness

        finished = (np.cumsum(run_done, axis=0) >= 1 - 1e-6).astype(float)
        late = float((run_lateness(data, finished) * late_price).sum())
    margin = float((installed * data.provider_margin_usd_per_chip).sum() - (added * data.provider_capex_usd_per_chip).sum())
    costs = {"contract_usd": contract, "spend_usd": spend, "shortfall_usd": shortfall,
             "unmet_inference_usd": unmet, "late_training_usd": late,
             "buyer_cost_usd": contract + (shortfall or 0.0) * data.commitment_discount + unmet + late,
             "provider_margin_usd": margin if data.view == "provider" else None}
    objective = costs["buyer_cost_usd"] if data.view == "buyer" else -margin
    shadow = shadow_prices(model, data)
    lead = lead_time_values(model, data)
    return OptimizeResult(
        data=data, added=added, installed=installed, held=held, busy=busy, training=training, served_share=served,
        run_done=run_done, objective_usd=objective, costs=costs, shadow=shadow, loosen=loosen_table(shadow, lead, data),
        lead_time=lead, size=model_size(model), timings_s=dict(timings_s or {}), training_site=training_site,
        backfill=backfill,
    )
