"""Stage 5 of the optimizer: the plan written as a scenario, run by the simulator, beside the heuristic.

:func:`plan_scenario` writes the optimal buildout as a scenario the simulator runs
unchanged: each (site, generation) pair the plan uses becomes a site of its own that
takes only that generation, with the plan's IT power as its energized power, stepped
at the start of each period. The simulator's buildout then adds exactly the plan's
chips, rounded down to whole systems, and its engine shares them between training and
inference by the scenario's own allocation policy. :func:`simulate_plan` runs that and
the scenario as given (its heuristic buildout) and compares cost, served share,
training runs on time and GW-years.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from gigawatt.units import SECONDS_PER_YEAR, month_index, month_label

#: days in an average month [day]
DAYS_PER_MONTH = 365.25 / 12

__all__ = ["plan_scenario", "simulate_plan", "Comparison", "figures"]


def plan_scenario(result) -> dict:
    """The optimal plan as a scenario mapping (what YAML would give).

    Parameters
    ----------
    result : OptimizeResult

    Returns
    -------
    dict
        The scenario as written, with ``sites`` replaced by one site per (site,
        generation) the plan uses, named ``SITE--CHIP``, ``basis: it``, ``ramp: step``,
        ``chips: [CHIP]`` and ``energized`` the plan's installed IT power at the start
        of each period [W]; the name gets ``-optimal``. Power prices by site carry
        over to the new sites.
    """
    import yaml

    from gigawatt.scenario import scenario_text

    data = result.data
    inputs = data.inputs
    doc = yaml.safe_load(scenario_text(inputs.scenario))
    month = inputs.periods.month
    by_name = {s["name"]: s for s in doc["sites"]}
    sites = []
    renamed: dict[str, str] = {}
    for s, site in enumerate(data.sites):
        for j, chip in enumerate(data.chips):
            it_w = result.installed[:, s, j] * data.it_w_per_chip[j]
            if not (it_w > 1e-6 * data.it_w_per_chip[j]).any():
                continue
            points: dict[str, str] = {}
            last = None
            for p, w in enumerate(it_w):
                w = float(max(w, 0.0))
                if last is None or abs(w - last) > 1e-9 * max(w, 1.0):
                    points[month_label(int(month[data.first_month[p]]))] = f"{w:.9g} W"
                    last = w
            name = f"{site}--{chip}"
            renamed[name] = site
            sites.append({"name": name, "pue": float(by_name[site].get("pue", inputs.pue[s])), "basis": "it",
                          "ramp": "step", "chips": [chip], "energized": points})
    site_training = getattr(result, "training_site", None)
    if site_training is not None and site_training.size:
        # the simulator carves a training reserve from the newest generation's sites, the last listed first:
        # list the sites the program trains on most last, so that the reserve lands where its runs are
        use = site_training.sum(axis=(0, 1))  # (site, chip) chip-periods of training
        key = {f"{site}--{chip}": float(use[s, j]) for s, site in enumerate(data.sites) for j, chip in enumerate(data.chips)}
        sites.sort(key=lambda x: key.get(x["name"], 0.0))
    if not sites:  # a plan that builds nothing still needs a site
        sites.append({"name": data.sites[0], "pue": float(inputs.pue[0]), "energized": {inputs.months[0]: "0 W"}})
    doc["sites"] = sites
    demand = doc.get("demand")
    if isinstance(demand, dict) and data.runs and demand.get("allocation", "pooled") != "legacy":
        # the chips the plan does not hold for inference at its peak are kept for training, as the program
        # allocated them; training also backfills what inference leaves idle (with backfill on)
        chips = result.installed.sum(axis=(1, 2))
        if getattr(data, "relaxation", "lp") == "milp":
            # the chips the program trains on, all day; chips it leaves idle go to inference in the simulator
            used = result.training.sum(axis=(1, 2))
            if getattr(result, "backfill", None) is not None:
                used = used - result.backfill.sum(axis=(1, 2))
            share = np.where(chips > 0, np.clip(used / np.where(chips > 0, chips, 1.0), 0.0, 1.0), 0.0)
        else:
            held = result.held.sum(axis=(1, 2))
            share = np.where(chips > 0, np.clip(1.0 - held / np.where(chips > 0, chips, 1.0), 0.0, 1.0), 0.0)
        share = np.floor(share * 1e4) / 1e4
        points, last = {}, None
        for p, value in enumerate(share):
            if last is None or value != last:
                points[month_label(int(month[data.first_month[p]]))] = float(value)
                last = value
        demand["reserve"] = {"training": points}
    doc["name"] = f"{doc['name']}-optimal"[:120]
    econ = doc.get("economics") or {}
    prices = (econ.get("power_price") or {}) if isinstance(econ, dict) else {}
    if isinstance(prices, dict) and isinstance(prices.get("sites"), dict):
        old = prices["sites"]
        prices["sites"] = {new: old[site] for new, site in renamed.items() if site in old}
    return doc


def figures(fleet, sim, discount_rate: float, unmet_usd_per_mtok: float, late_usd_per_run_month: float,
            commitment_usd: float | None = None, commitment_discount: float = 1.0) -> dict:
    """The headline figures of a simulated run, measured as the optimizer measures a plan.

    Parameters
    ----------
    fleet : gigawatt.fleet.Fleet
        The buildout.
    sim : gigawatt.fleet.simulation.Simulation or None
        The simulation of its demand.
    discount_rate : float
        The buyer's discount rate per year [1].
    unmet_usd_per_mtok, late_usd_per_run_month : float
        The optimizer's prices of unmet inference [USD per million tokens] and of a
        run-month late [USD].
    commitment_usd : float, optional
        The commitment, where the program holds the plan to it (its term ends inside the
        horizon) [USD]; ``commitment_discount`` its discount factor at the term's end [1].

    Returns
    -------
    dict
        ``spend_usd`` (undiscounted), ``contract_usd`` (discounted at the buyer's rate
        from the horizon's start), ``served_share`` (inference tokens, input and output),
        ``runs_on_time`` and ``runs``, ``run_months_late`` (summed; a run unfinished at
        the horizon's end counts to the horizon's end and a year more, as the program
        counts it), ``gw_years`` (IT capacity installed), ``unmet_inference_usd`` and
        ``late_training_usd`` (at the optimizer's prices, discounted as the program
        discounts them: unmet tokens in their month, a run's lateness at its deadline)
        ``shortfall_usd`` (of the commitment, undiscounted) and ``priced_cost_usd``, the
        contract cost, the discounted shortfall and the two penalties: the program's
        objective, measured on the simulation.
    """
    spend = fleet.spend_usd()[0].sum(axis=(1, 2))
    period_s = fleet.period_s
    start_month = int(fleet.periods.month[0])
    disc = (1.0 + discount_rate) ** (-(fleet.periods.month - start_month) / 12.0)
    it = fleet.it_power_w()[0].sum(axis=(1, 2))
    summary = sim.summary_dict(0) if sim is not None else {}
    inf = summary.get("inference") or {}
    runs = summary.get("training_runs") or []
    on_time = sum(1 for r in runs if r.get("status") == "done" and (r.get("delay_days") or 0) <= 0)
    late_total, late_usd = 0.0, 0.0
    for r in runs:
        if r.get("status") == "done":
            late = max(r.get("delay_days") or 0, 0) / DAYS_PER_MONTH
        else:
            late = max(r.get("overdue_days_at_horizon") or 0, 0) / DAYS_PER_MONTH + 12.0
        late_total += late
        k = 0
        if r.get("deadline"):
            k = int(np.clip(month_index(str(r["deadline"])[:7]) - start_month, 0, len(disc) - 1))
        late_usd += late * late_usd_per_run_month * (disc[k] if r.get("deadline") else 1.0)
    unmet_usd = 0.0
    if sim is not None and inf:
        unmet = (sim.demand_tokens[0] - sim.served_tokens[0]).sum(axis=-1)
        unmet_usd = float((unmet * disc).sum() * unmet_usd_per_mtok / 1e6)
    contract = float((spend * disc).sum())
    shortfall = None  # not counted where the term ends after the horizon, as in the program
    if commitment_usd is not None:
        shortfall = max(commitment_usd - float(spend[np.asarray(fleet.in_commitment, dtype=bool)].sum()), 0.0)
    return {"spend_usd": float(spend.sum()), "contract_usd": contract, "shortfall_usd": shortfall,
            "served_share": inf.get("served_share"), "runs_on_time": on_time, "runs": len(runs),
            "run_months_late": late_total, "gw_years": float((it * period_s).sum() / SECONDS_PER_YEAR / 1e9),
            "unmet_inference_usd": unmet_usd, "late_training_usd": late_usd,
            "priced_cost_usd": contract + (shortfall or 0.0) * commitment_discount + unmet_usd + late_usd}


@dataclass
class Comparison:
    """The scenario's heuristic buildout, the optimizer's plan as it solved, and the plan as simulated.

    Attributes
    ----------
    heuristic, simulated : dict
        :func:`figures` of the scenario as given and of the plan scenario.
    optimizer : dict
        The same figures as the program computed them.
    plan : dict
        The plan scenario (:func:`plan_scenario`).
    """

    heuristic: dict
    optimizer: dict
    simulated: dict
    plan: dict
    heuristic_run: Any = None  # (Fleet, Simulation) of the scenario as given
    plan_run: Any = None  # (Fleet, Simulation) of the plan

    def agreement(self) -> dict:
        """Relative gaps between the program and its simulation: spend and served share [1]."""
        out = {}
        for key in ("spend_usd", "served_share"):
            a, b = self.optimizer.get(key), self.simulated.get(key)
            out[key] = None if a is None or b is None or not a else abs(b - a) / abs(a)
        return out

    def to_dict(self) -> dict:
        return {"heuristic": self.heuristic, "optimizer": self.optimizer, "simulated_plan": self.simulated,
                "agreement": self.agreement()}


def simulate_plan(result) -> Comparison:
    """Run the plan as a scenario, and the scenario as given, through the buildout and the simulation, and compare.

    Parameters
    ----------
    result : OptimizeResult

    Returns
    -------
    Comparison
    """
    from gigawatt.fleet import run_fleet
    from gigawatt.scenario import load_scenario_source
    from gigawatt.scenario.inputs import resolve

    data = result.data
    inputs = data.inputs
    plan = plan_scenario(result)
    heuristic = run_fleet(inputs)[:2]
    planned = run_fleet(resolve(load_scenario_source(plan)))[:2]
    args = (inputs.costs.discount_lab, data.unmet_usd_per_mtok, data.late_usd_per_run_month, data.commitment_usd,
            data.commitment_discount)
    runs = result.run_finish()
    late = sum(r["months_late"] if r["months_late"] is not None else
               data.unfinished_late_months[i] for i, r in enumerate(runs))
    opt = {"spend_usd": result.costs["spend_usd"], "served_share": result.served_total_share() if data.streams else None,
           "runs_on_time": sum(1 for r in runs if r["on_time"]), "runs": len(runs), "run_months_late": float(late),
           "gw_years": result.gw_years(), "contract_usd": result.costs["contract_usd"],
           "shortfall_usd": result.costs["shortfall_usd"], "unmet_inference_usd": result.costs["unmet_inference_usd"],
           "late_training_usd": result.costs["late_training_usd"],
           "priced_cost_usd": result.costs["buyer_cost_usd"]}
    return Comparison(heuristic=figures(*heuristic, *args), optimizer=opt, simulated=figures(*planned, *args),
                      plan=plan, heuristic_run=heuristic, plan_run=planned)
