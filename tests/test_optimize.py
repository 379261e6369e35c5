"""The optimizer (gigawatt.optimize): checked against brute force and a hand calculation.

The toy and the budget-bound case are small enough to check every number by hand or by
enumeration; the flagship checks that the plan, run by the simulator, costs and serves
what the program says.
"""

import itertools
import json
import textwrap

import numpy as np
import pytest
import yaml

import gigawatt
from gigawatt.optimize import check_inputs, optimize
from gigawatt.scenario.inputs import resolve

# 2 sites x 2 chips x 4 months, whole chips: site a takes Trainium2 (736.25 W of IT each, a
# 3-month lifetime, so what is added in January retires in April), site b Trainium3 (1,030 W);
# energized power in whole chips; Trainium3 supply 6 a year pro-rated to the 4-month
# horizon = 2; a spend limit of $4.80 an hour ($42,076.80 a year over 8,766 h), less than
# 3 Trainium2 + 2 Trainium3 ($5.80/h). Demand far above capacity, priced at $5 per million
# tokens, no discounting.
TOY = textwrap.dedent("""\
    schema_version: 1
    name: toy
    horizon: {start: 2026-01, end: 2026-04}
    deal:
      commitment: {total: $1, start: 2026-01, term: 4 months}
      spend_limit: {per_year: $42076.8}
    sites:
      - {name: a, pue: 1.2, ramp: step, chips: [trainium2], energized: {2026-01: 1472.5 W, 2026-03: 2208.75 W}}
      - {name: b, pue: 1.1, ramp: step, chips: [trainium3], energized: {2026-02: 2060 W, 2026-04: 3090 W}}
    roadmap:
      - {chip: trainium2, system: trn2-48xlarge, unit: chip, from: 2025-01, lifetime: 3 months}
      - {chip: trainium3, system: trn3-ultraserver-144, unit: chip, from: 2026-01, supply_per_year: 6, lifetime: 5 years}
    prices:
      trainium2: $1.00/h
      trainium3: $1.40/h
    economics: {discount: 0%}
    optimize: {unmet_inference: $5}
    demand:
      inference:
        - {name: s, model: llama3.1-70b, tokens_per_day: 1e12, at: 2026-01, input_tokens: 900, output_tokens: 100,
           peak_to_mean: 1}
    """)

HOURS = np.array([31, 28, 31, 30]) * 24.0  # January to April 2026 [h]


@pytest.fixture(scope="module")
def toy_inputs():
    return resolve(gigawatt.load(yaml.safe_load(TOY)))


def test_toy_lp_matches_brute_force(toy_inputs):
    r = optimize(toy_inputs, period="month")
    d = r.data
    rate2, rate3 = d.inference_rate[0]  # output tokens/s per chip, from the throughput matrix
    w2, w3 = d.it_w_per_chip
    e_a = np.array([1472.5, 1472.5, 2208.75, 2208.75])
    e_b = np.array([0.0, 2060.0, 2060.0, 3090.0])
    demand = 1e12 * HOURS / 24.0  # tokens (input + output) a month
    best, best_plan = np.inf, None
    # every plan of 0-3 whole chips added per month and site
    for add2 in itertools.product(range(4), repeat=4):
        inst2 = np.array([sum(add2[max(0, p - 2):p + 1]) for p in range(4)])  # 3-month lifetime
        if np.any(inst2 * w2 > e_a + 1e-9):
            continue
        for add3 in itertools.product(range(3), repeat=4):
            if sum(add3) > 2:  # supply
                continue
            inst3 = np.cumsum(add3)
            if np.any(inst3 * w3 > e_b + 1e-9) or np.any(inst2 * 1.0 + inst3 * 1.4 > 4.8 + 1e-9):
                continue
            served = np.minimum(demand, (inst2 * rate2 + inst3 * rate3) * HOURS * 3600 / 0.1)
            cost = ((inst2 * 1.0 + inst3 * 1.4) * HOURS).sum() + 5e-6 * (demand - served).sum()
            if cost < best:
                best, best_plan = cost, (inst2, inst3)
    assert r.objective_usd == pytest.approx(best, rel=1e-7)
    np.testing.assert_allclose(r.installed[:, 0, 0], best_plan[0], atol=1e-6)
    np.testing.assert_allclose(r.installed[:, 1, 1], best_plan[1], atol=1e-6)
    # by hand: 2 Trainium2 all along (the January pair retires in April and is replaced), 2 Trainium3
    # from February (supply); in March and April the spend limit leaves no room for a third Trainium2
    np.testing.assert_allclose(best_plan[0], [2, 2, 2, 2])
    np.testing.assert_allclose(best_plan[1], [0, 2, 2, 2])
    np.testing.assert_allclose(r.added[:, 0, 0], [2, 0, 0, 2], atol=1e-6)


BUDGET = textwrap.dedent("""\
    schema_version: 1
    name: budget
    horizon: {start: 2026-01, end: 2026-03}
    deal:
      commitment: {total: $1, start: 2026-01, term: 3 months}
      spend_limit: {per_year: $87660}
    sites:
      - {name: a, pue: 1.2, energized: {2026-01: 1 MW}}
    roadmap:
      - {chip: trainium2, system: trn2-48xlarge, unit: chip, from: 2025-01, lifetime: 5 years}
    prices:
      trainium2: $1.00/h
    economics: {discount: 0%}
    optimize: {unmet_inference: $5}
    demand:
      inference:
        - {name: s, model: llama3.1-70b, tokens_per_day: 1e15, at: 2026-01, input_tokens: 900, output_tokens: 100,
           peak_to_mean: 1}
    """)


def test_budget_bound_case_by_hand():
    r = optimize(gigawatt.load(yaml.safe_load(BUDGET)), period="month")
    # a $87,660 yearly limit over 8,766 hours a year is $10 an hour: 10 chips at $1/h
    np.testing.assert_allclose(r.installed[:, 0, 0], 10.0, rtol=1e-9)
    assert r.costs["contract_usd"] == pytest.approx(10 * 1.0 * (744 + 672 + 744), rel=1e-9)  # $21,600
    # one more dollar of budget in a month buys 1/(p h) chip-months, which serve rho / 0.1 * 3600 h tokens
    # each worth $5e-6, less the dollar: 5e-6 * rho * 10 * 3600 - 1 per dollar
    rho = r.data.inference_rate[0, 0]
    limit = [row for row in r.shadow if row["constraint"] == "spend_limit"]
    assert len(limit) == 3
    for row in limit:
        assert row["unit"] == "USD/USD"
        assert row["value"] == pytest.approx(5e-6 * rho / 0.1 * 3600 - 1.0, rel=1e-6)
    assert not [row for row in r.shadow if row["constraint"] == "power"]  # 1 MW is far more than 10 chips


def test_shadow_price_of_power_in_user_units(toy_inputs):
    """$ per MW-month of site a in January: a MW more there holds 1e6 / 736.25 more Trainium2 for the month."""
    r = optimize(toy_inputs, period="month")
    rho = r.data.inference_rate[0, 0]
    row = next(x for x in r.shadow if x["constraint"] == "power" and x["site"] == "a" and x["period"] == "2026-01")
    per_chip = 5e-6 * rho / 0.1 * 744 * 3600 - 1.0 * 744  # value of a Trainium2-month in January less its price
    assert row["unit"] == "USD/MW-month"
    assert row["value"] == pytest.approx(per_chip * 1e6 / r.data.it_w_per_chip[0], rel=1e-6)


def test_provider_view_margin(toy_inputs):
    provider = optimize(toy_inputs, period="month", view="provider")
    buyer = optimize(toy_inputs, period="month")
    d = provider.data
    margin_of = lambda res: float((res.installed * d.provider_margin_usd_per_chip).sum()  # noqa: E731
                                  - (res.added * d.provider_capex_usd_per_chip).sum())
    assert provider.costs["provider_margin_usd"] == pytest.approx(margin_of(provider))
    assert margin_of(provider) >= max(margin_of(buyer), 0.0) - 1e-6  # building nothing earns 0


def test_infeasible_names_the_constraints(toy_inputs):
    from gigawatt.optimize import OptimizeInfeasible

    with pytest.raises(OptimizeInfeasible) as err:
        optimize(toy_inputs, period="month", allow_unmet=False)
    text = str(err.value)
    assert "inference demand of s in 2026-01..2026-04" in text
    assert "energized power at a" in text and "supply of trainium3 in 2026" in text
    assert "spend limit" in text and "HiGHS" not in text
    assert "allow_unmet" in err.value.hint


def test_cli_infeasible_exit_2(write_scenario):
    """Exit 2 with the constraints in conflict; nothing of the solver on stdout or stderr (a real process)."""
    import subprocess
    import sys

    path = write_scenario(TOY)
    proc = subprocess.run([sys.executable, "-c", "from gigawatt.cli import main; main()", "optimize", str(path),
                           "--period", "month", "--no-unmet", "--no-simulate"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.startswith("error: ") and "no plan meets every constraint" in proc.stderr
    assert "energized power at a" in proc.stderr and "hint: " in proc.stderr
    for solver_text in ("Traceback", "HiGHS", "Running", "Termination", "Optimization", "Solver"):
        assert solver_text not in proc.stderr


def test_cli_verbose_and_json(write_scenario):
    from typer.testing import CliRunner

    from gigawatt.cli import app

    path = write_scenario(TOY)
    res = CliRunner().invoke(app, ["optimize", str(path), "--period", "month", "--verbose", "--no-simulate",
                                   "--time-limit", "30"])
    assert res.exit_code == 0, res.output
    assert "variables" in res.output and "constraints" in res.output and "solve" in res.output
    assert "What would loosen it" in res.output and "MILP:" in res.output and "(HiGHS, milp" in res.output
    res = CliRunner().invoke(app, ["optimize", str(path), "--period", "month", "--json", "--no-simulate",
                                   "--relaxation", "lp"])
    assert res.exit_code == 0
    doc = json.loads(res.stdout)
    assert doc["model"]["variables"] > 0 and doc["relaxation"] == "lp" and doc["relaxation_text"].startswith("LP")
    assert {r["constraint"] for r in doc["loosen"]} >= {"power", "supply", "spend_limit"}


def test_scenario_prices_unmet_demand():
    scn = gigawatt.load(yaml.safe_load(BUDGET), set={"optimize.unmet_inference": "$3", "optimize.late_training": "$2B"})
    d = check_inputs(resolve(scn), period="month")
    assert d.unmet_usd_per_mtok == 3.0 and d.late_usd_per_run_month == 2e9 and not d.defaults
    d = check_inputs(resolve(gigawatt.load(yaml.safe_load(BUDGET.replace("optimize: {unmet_inference: $5}\n", "")))))
    assert d.unmet_usd_per_mtok == 2.0 and set(d.defaults) == {"unmet_inference", "late_training"}
    assert d.labels == ["2026-Q1"]


def test_callable_package():
    assert callable(gigawatt.optimize) and gigawatt.optimize.check_inputs is check_inputs
