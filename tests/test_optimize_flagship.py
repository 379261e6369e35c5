"""The shipped scenarios' optimal plans, run by the simulator: they cost and serve what the program says (within 1%)
and beat the scenario's own buildout at the program's prices."""

import functools

import numpy as np
import pytest
import yaml

import gigawatt
from gigawatt.optimize import optimize
from gigawatt.scenario.inputs import resolve

SCENARIOS = ["scenarios/anthropic-aws-2026.yaml", "scenarios/nvidia-gb-contrast-2026.yaml"]


@functools.lru_cache(maxsize=None)
def _solve(path):
    # a generous search time, so that HiGHS stops at its 1% gap rather than at the CLI's time limit
    return optimize(resolve(gigawatt.load(path)), simulate=True, mip_time_limit_s=300)


@pytest.fixture(scope="module", params=SCENARIOS, ids=["flagship", "gb-contrast"])
def solved(request):
    return _solve(request.param)


@pytest.fixture(scope="module")
def flagship():
    return _solve(SCENARIOS[0])


def test_plan_simulated_agrees_within_one_percent(solved):
    c = solved.comparison
    # the buildout is the plan rounded down to whole systems; the simulator shares the chips by the
    # scenario's pooled allocation, with the plan's training reserve: both within 1% of the program
    assert c.simulated["spend_usd"] == pytest.approx(c.optimizer["spend_usd"], rel=0.01)
    assert c.simulated["served_share"] == pytest.approx(c.optimizer["served_share"], rel=0.01)
    assert c.simulated["gw_years"] == pytest.approx(c.optimizer["gw_years"], rel=0.01)


def test_plan_keeps_every_limit(flagship):
    d = flagship.data
    it = flagship.installed * d.it_w_per_chip[None, None, :]
    assert np.all(it.sum(axis=2) <= d.energized_it_w * (1 + 1e-7) + 1e-3)
    assert np.all(it.sum(axis=(1, 2)) <= d.cap_w * (1 + 1e-7))
    for k, year in enumerate(d.supply_years):
        added = flagship.added[d.year == year].sum(axis=(0, 1))
        finite = np.isfinite(d.supply_cap[k])
        assert np.all(added[finite] <= d.supply_cap[k][finite] * (1 + 1e-7) + 1e-6)
    spend = (flagship.installed.sum(axis=1) * d.limit_usd_per_chip).sum(axis=1)
    assert np.all(spend <= d.budget_usd * (1 + 1e-7))


def test_runs_train_as_the_simulator_trains_them(flagship):
    """milp: each run on one pool (site, generation) a period, at least its min_chips there, within what is installed."""
    d = flagship.data
    chips = flagship.training_site  # (period, run, site, chip)
    on = chips > 1e-6 * d.run_min_chips[None, :, None, None]
    assert on.any()
    assert on.sum(axis=(2, 3)).max() == 1
    assert np.all(chips[on] >= np.broadcast_to(d.run_min_chips[None, :, None, None], chips.shape)[on] * (1 - 1e-6))
    assert np.all(chips.sum(axis=1) <= flagship.installed * (1 + 1e-6) + 1e-3)


def test_plan_beats_the_heuristic_at_the_programs_prices(solved, request):
    """Simulated, the optimal plan spends less than the scenario's own buildout, and on the flagship costs less
    with the penalties too.

    The program's objective is also below both simulations: it counts a run late to the end of the period
    it finishes in, while the simulator counts the day. On the GB contrast the simulated plan's runs finish
    later than the program's (the simulator places them by its own policy), and its priced cost is not
    below the heuristic's (1.6% above on the current performance models), so only its spend is held to it.
    """
    c = solved.comparison
    if "flagship" in request.node.callspec.id:
        assert c.simulated["priced_cost_usd"] < c.heuristic["priced_cost_usd"]
    assert c.simulated["contract_usd"] < c.heuristic["contract_usd"]
    assert solved.objective_usd <= c.simulated["priced_cost_usd"]
    assert solved.objective_usd <= c.heuristic["priced_cost_usd"]


def test_shadow_prices_and_loosen_table(flagship):
    kinds = {row["constraint"] for row in flagship.shadow}
    assert "power" in kinds  # the sites' power binds in 2026 and once the cap is reached (2033-35)
    for row in flagship.loosen:
        assert row["value_usd"] > 0 and row["mean_value"] <= row["max_value"] * (1 + 1e-12)
    chips = {row["where"] for row in flagship.loosen if row["constraint"] == "lead_time"}
    assert "trainium3" in chips  # its window opens in 2026-07, while the sites' power waits for chips


def test_generation_lead_time_is_a_resolve_with_the_window_moved():
    """By hand: the flagship (LP) with Trainium3's roadmap window opening a quarter earlier, 2026-04 instead of
    2026-07 (its 2026 supply pro-rated over 9 months instead of 6), costs three months' worth less."""
    base = optimize(resolve(gigawatt.load(SCENARIOS[0])), relaxation="lp")
    row = next(r for r in base.lead_time if r.get("chip") == "trainium3")
    doc = yaml.safe_load(open(SCENARIOS[0]).read())
    entry = next(e for e in doc["roadmap"] if e["chip"] == "trainium3")
    assert str(entry["from"]) == "2026-07"
    entry["from"] = "2026-04"
    moved = optimize(resolve(gigawatt.load(doc)), relaxation="lp", lead_time=False)
    assert row["value_usd"] > 0
    assert row["value_usd"] == pytest.approx((base.objective_usd - moved.objective_usd) / 3, rel=1e-3)
