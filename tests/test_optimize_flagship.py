"""The flagship's optimal plan, run by the simulator, costs and serves what the program says (within 1%)."""

import numpy as np
import pytest

import gigawatt
from gigawatt.optimize import optimize
from gigawatt.scenario.inputs import resolve


@pytest.fixture(scope="module")
def flagship():
    return optimize(resolve(gigawatt.load("scenarios/anthropic-aws-2026.yaml")), simulate=True)


def test_plan_simulated_agrees_within_one_percent(flagship):
    c = flagship.comparison
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


def test_plan_at_the_programs_prices(flagship):
    """The program's objective is a lower bound of both simulations, and the plan spends less than the heuristic.

    The simulated plan is not always cheaper than the heuristic at these prices: the relaxation lets a
    training run use several pools at once and fewer chips than its minimum, so once simulated (one pool
    per run) the plan's runs finish later than the program said. On the flagship the simulated plan
    costs 0.7% more than the heuristic (late training), though its contract spend is 27% lower.
    """
    c = flagship.comparison
    assert flagship.objective_usd <= c.simulated["priced_cost_usd"]
    assert flagship.objective_usd <= c.heuristic["priced_cost_usd"]
    assert c.simulated["contract_usd"] < c.heuristic["contract_usd"]


def test_shadow_prices_and_loosen_table(flagship):
    kinds = {row["constraint"] for row in flagship.shadow}
    assert "power" in kinds  # the sites' power binds in 2026 and once the cap is reached (2033-35)
    for row in flagship.loosen:
        assert row["value_usd"] > 0 and row["mean_value"] <= row["max_value"] * (1 + 1e-12)
