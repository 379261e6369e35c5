"""The deal ledger: identities between the parties, totals, NPV, sensitivities, CLI."""

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest

from gigawatt.economics.ledger import build_ledger, ledger_json
from gigawatt.fleet import build_fleet
from gigawatt.scenario.inputs import resolve
from gigawatt.scenario.loader import load_scenario, load_scenario_text

SCENARIOS = sorted((Path(__file__).resolve().parents[1] / "scenarios").glob("*.yaml"))

DEAL = textwrap.dedent(
    """\
    schema_version: 1
    name: ledger-test
    horizon: {start: 2026-01, end: 2028-12}
    seed: 1
    deal:
      buyer: Lab
      provider: Cloud
      commitment: {total: $20B, start: 2026-01, term: 3 years, min_per_year: $4B}
      capacity_cap: 1 GW
      investments:
        - {date: 2026-03, amount: $2B, from: provider}
        - {date: 2026-06, amount: $1B, from: provider, instrument: services}
        - {date: 2027-01, amount: $4B, from: provider, contingent: true, probability: 0.5}
        - {date: 2027-06, amount: $9B, from: provider, contingent: true, include: false}
        - {date: 2026-02, amount: $3B, from: other}
    sites:
      - {name: a, pue: 1.2, energized: {2026-01: 100 MW, 2027-01: 400 MW}}
      - {name: b, pue: 1.1, energized: {2026-06: 0 MW, 2027-06: 300 MW}}
    roadmap:
      - {chip: trainium2, system: trn2-48xlarge, from: 2025-01, lifetime: 2 years}
    prices:
      trainium2: $1.50/h
    """
)


def _econ(text, block):
    return text + "economics:\n" + textwrap.indent(textwrap.dedent(block), "  ")


@pytest.fixture(scope="module")
def deal():
    scn = load_scenario_text(DEAL)
    fleet = build_fleet(scn)
    return scn, fleet, build_ledger(resolve(scn), fleet)


def test_what_one_pays_the_other_appears_on_both_sides(deal):
    _, _, led = deal
    assert np.allclose(led.lab["spend_usd"], -led.provider["spend_usd"])
    assert np.allclose(led.lab["shortfall_usd"], -led.provider["shortfall_usd"])
    # the lab also gets $3B from a third party, which the provider never sees
    other = np.zeros_like(led.lab["investment_usd"])
    other[0, 1] = 3e9
    assert np.allclose(led.lab["investment_usd"] - other, -led.provider["investment_usd"])


def test_investments_expected_and_switched(deal):
    _, _, led = deal
    # $2B cash + $4B x 0.5 probability; the $9B is switched off; services are not cash
    assert -led.provider["investment_usd"].sum() == pytest.approx(2e9 + 2e9)
    assert led.summary["flows"]["investment_usd"] == pytest.approx(2e9 + 2e9 + 1e9)


def test_services_credit_reduces_cash_spend(deal):
    _, fleet, led = deal
    spend = fleet.spend_usd().sum(axis=(2, 3))
    assert -led.lab["spend_usd"].sum() == pytest.approx(spend.sum() - 1e9)
    t = led.months.index("2026-06")
    assert -led.lab["spend_usd"][0, t] < spend[0, t]  # credit is drawn from its month on
    assert np.allclose(led.lab["spend_usd"][0, :t], -spend[0, :t])


def test_take_or_pay_matches_summary(deal):
    from gigawatt.results import summarize

    scn, fleet, led = deal
    rows = summarize(scn, fleet).years
    yearly = led.yearly("lab")
    for row, y in zip(rows, yearly[:-1]):  # the last year also carries the end-of-term top-up
        assert -y["shortfall_usd"] == pytest.approx(row["shortfall_usd"])
    total_paid = -(led.lab["spend_usd"] + led.lab["shortfall_usd"]).sum() + 1e9  # + services credit used
    assert total_paid >= scn.deal.commitment.total_usd - 1.0  # take-or-pay: the total is owed at term end


def test_cumulative_flows_match_totals(deal):
    _, _, led = deal
    for party in ("lab", "provider"):
        rows = led.yearly(party)
        assert rows[-1]["cumulative_net_usd"] == pytest.approx(led.net_usd(party)[0].sum())
        assert led.summary[party]["total_usd"] == pytest.approx(led.net_usd(party)[0].sum())
        for line in (led.lab if party == "lab" else led.provider):
            assert sum(r[line] for r in rows) == pytest.approx((led.lab if party == "lab" else led.provider)[line].sum())


def test_npv_at_zero_rate_is_plain_sum(deal):
    scn, fleet, _ = deal
    led = build_ledger(resolve(scn), fleet, discount=0.0)
    for party in ("lab", "provider"):
        assert led.summary[party]["npv_usd"] == pytest.approx(led.net_usd(party)[0].sum(), rel=1e-12)


def test_residual_plus_depreciation_equals_capex(deal):
    _, _, led = deal
    p = led.provider
    capex = -(p["capex_chips_usd"] + p["capex_datacenter_usd"]).sum()
    assert led.depreciation_usd.sum() + p["residual_usd"].sum() == pytest.approx(capex)


def test_higher_power_price_lowers_provider_npv_only(deal):
    scn, fleet, base = deal
    dear = load_scenario_text(_econ(DEAL, "power_price: $200/MWh\n"))
    led = build_ledger(resolve(dear), fleet)
    assert led.summary["provider"]["npv_usd"] < base.summary["provider"]["npv_usd"]
    assert led.summary["lab"]["npv_usd"] == pytest.approx(base.summary["lab"]["npv_usd"])


def test_other_sensitivity_signs(deal):
    scn, fleet, base = deal
    b = base.summary["provider"]
    build = build_ledger(resolve(load_scenario_text(_econ(DEAL, "build_cost: $20M/MW\n"))), fleet).summary["provider"]
    assert build["npv_usd"] < b["npv_usd"]
    chips = build_ledger(resolve(load_scenario_text(_econ(DEAL, "capex_per_chip: {trainium2: $40k}\n"))), fleet)
    assert chips.summary["provider"]["npv_usd"] < b["npv_usd"]
    # dearer chips need more use to break even; past 100% no use does, and the ledger says so in words
    dear = chips.summary["provider"]
    if dear["breakeven_utilization"] is None:
        assert dear["breakeven_note"] == "never at these prices"
    else:
        assert dear["breakeven_utilization"] > b["breakeven_utilization"]
    higher_rate = build_ledger(resolve(scn), fleet, discount=0.20).summary["lab"]["npv_usd"]
    assert higher_rate > base.summary["lab"]["npv_usd"]  # the lab's payments lie in the future


def test_site_power_prices_and_regions(deal):
    _, fleet, _ = deal
    scn = load_scenario_text(_econ(DEAL, "power_price: {default: $50/MWh, sites: {b: indiana}}\n"))
    led = build_ledger(resolve(scn), fleet)
    assert led.costs.power_price_usd_per_mwh.tolist() == pytest.approx([50.0, 80.5])


def test_unknown_site_in_economics_is_an_error(deal):
    from gigawatt.errors import GigawattError

    # caught when the scenario is read, before any ledger is built
    with pytest.raises(GigawattError, match="economics.power_price.sites"):
        load_scenario_text(_econ(DEAL, "power_price: {sites: {c: $50/MWh}}\n"))


def test_economics_typo_gets_a_hint():
    from gigawatt.errors import ScenarioError

    with pytest.raises(ScenarioError) as exc:
        load_scenario_text(_econ(DEAL, "buld_cost: $10M/MW\npower_price: {default: indianna}\n"))
    text = str(exc.value)
    assert "did you mean 'build_cost'" in text and "indiana" in text


def test_provider_irr_solves_its_npv(deal):
    from gigawatt.economics import finance

    _, _, led = deal
    irr = led.summary["provider"]["irr"]
    if irr is not None:
        assert finance.npv_usd(led.net_usd("provider")[0], irr, led.period_years) == pytest.approx(0.0, abs=1e3)
    assert led.summary["lab"]["irr"] is None  # the lab buys compute: its return is not in the ledger


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.name for p in SCENARIOS])
def test_every_shipped_scenario_runs_through_the_ledger(path):
    scn = load_scenario(path)
    out = ledger_json(resolve(scn), build_fleet(scn))
    json.dumps(out, allow_nan=False)
    assert isinstance(out["lab"]["npv_usd"], float)
    assert isinstance(out["provider"]["npv_usd"], float)
    assert out["provider"]["irr"] is None or isinstance(out["provider"]["irr"], float)
    assert out["implied_usd_per_chip_hour"] is None or out["implied_usd_per_chip_hour"] > 0


def _app():
    import typer

    from gigawatt.cli.ledger import deals_command, ledger_command

    app = typer.Typer()
    app.command("ledger")(ledger_command)
    app.command("deals")(deals_command)
    return app


def test_cli_ledger_json_and_errors(write_scenario):
    from typer.testing import CliRunner

    path = write_scenario(DEAL)
    runner = CliRunner()
    res = runner.invoke(_app(), ["ledger", str(path), "--json", "--discount", "0%"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["lab"]["npv_usd"] == pytest.approx(out["lab"]["total_usd"])
    res = runner.invoke(_app(), ["ledger", str(path), "--discount", "eight"])
    assert res.exit_code == 2 and "--discount" in res.output
    res = runner.invoke(_app(), ["ledger", str(path), "--party", "provider"])
    assert res.exit_code == 0 and "NPV" in res.output


def test_cli_deals_lists_every_scenario():
    from typer.testing import CliRunner

    folder = SCENARIOS[0].parent
    res = CliRunner().invoke(_app(), ["deals", "--dir", str(folder)])
    assert res.exit_code == 0, res.output
    assert len(res.stdout.strip().splitlines()) == len(SCENARIOS)


def test_prepayment_is_offset_against_later_invoices():
    old = "    - {date: 2026-02, amount: $3B, from: other}\n"
    assert old in DEAL
    text = DEAL.replace(old, "    - {date: 2026-01, amount: $2B, from: buyer, instrument: prepayment}\n")
    scn = load_scenario_text(text)
    fleet = build_fleet(scn)
    led = build_ledger(resolve(scn), fleet)
    gross = fleet.spend_usd().sum()
    prepaid = 2e9
    # the lab pays the prepayment up front, then 10% ($2B of $20B) less of each invoice until it is used
    lab_out = -(led.lab["spend_usd"] + led.lab["shortfall_usd"]).sum()
    assert lab_out == pytest.approx(gross - 1e9 - prepaid + led.provider["shortfall_usd"].sum())
    assert led.lab["investment_usd"][0, 0] == pytest.approx(-prepaid + 0.0)
    assert np.allclose(led.lab["investment_usd"], -led.provider["investment_usd"])


def test_economics_short_forms_and_defaults():
    from gigawatt.economics.defaults import cost_defaults

    scn = load_scenario_text(_econ(DEAL, "discount: 12%\npower_price: ohio\nbuild_cost: $9M/MW\n"))
    e = scn.economics
    assert (e.discount.lab, e.discount.provider) == (pytest.approx(0.12), pytest.approx(0.12))
    assert e.power_price.default == "ohio" and e.build_cost_usd_per_w == pytest.approx(9.0)
    led = build_ledger(resolve(scn), build_fleet(scn))
    assert led.costs.power_price_usd_per_mwh.tolist() == pytest.approx([71.3, 71.3])
    assert led.costs.opex_usd_per_w_year == cost_defaults()["opex_usd_per_w_year"]
    assert led.costs.sources["build_cost_usd_per_w"] == "scenario economics"


def test_cli_deals_json():
    from typer.testing import CliRunner

    res = CliRunner().invoke(_app(), ["deals", "--json", "--dir", str(SCENARIOS[0].parent)])
    rows = json.loads(res.stdout)
    assert {r["name"] for r in rows} >= {"anthropic-aws-2026", "amazon-openai-2026"}
    assert all(r["commitment_usd"] > 0 for r in rows)


# ---------------------------------------------------------------- the ledger's stages, by hand


def test_drawdown_by_hand():
    from gigawatt.economics.ledger import _drawdown

    credit = np.array([[0.0, 10.0, 0.0, 0.0]])
    spend = np.array([[3.0, 4.0, 5.0, 6.0]])
    # balance 10 from t = 1: 4 + 5 + the 1 left
    assert _drawdown(credit, spend).tolist() == [[0.0, 4.0, 5.0, 1.0]]
    # a prepayment share of 0.5 offsets half of each invoice: 2 + 2.5 + 3, 2.5 left
    assert _drawdown(credit, spend, 0.5).tolist() == [[0.0, 2.0, 2.5, 3.0]]


def test_provider_cost_lines_by_hand(deal):
    from gigawatt.economics.ledger import _provider_costs
    from gigawatt.units import SECONDS_PER_YEAR

    scn, fleet, _ = deal
    costs = resolve(scn).costs
    pc = _provider_costs(fleet, costs)
    jan, feb = fleet.period_s[0], fleet.period_s[1]
    # site a energizes 100 MW in January and 125 MW in February; site b nothing yet
    assert pc.dc_capex[0, 0] == pytest.approx(100e6 * costs.build_cost_usd_per_w)
    assert pc.dc_capex[0, 1] == pytest.approx(25e6 * costs.build_cost_usd_per_w)
    assert pc.opex_ops[0, 0] == pytest.approx(100e6 * costs.opex_usd_per_w_year * jan / SECONDS_PER_YEAR)
    assert pc.opex_ops[0, 1] == pytest.approx(125e6 * costs.opex_usd_per_w_year * feb / SECONDS_PER_YEAR)
    # chips bought in January: their count x capex per chip; straight-line over 24 months
    bought = fleet.added[0, 0].sum() * costs.capex_per_chip_usd[0]
    assert pc.added_capex[0, 0].sum() == pytest.approx(bought)
    assert pc.chip_dep[0, 0].sum() == pytest.approx(bought / 24)
    # power: facility energy at full load x load factor x $/MWh, 3.6e9 J per MWh
    energy_j = fleet.energy_j()[0, 0].sum()
    assert pc.power[0, 0].sum() == pytest.approx(energy_j * costs.power_load_factor * 80.6 / 3.6e9)
    # book value: everything bought less everything depreciated, in the last period only
    book = (pc.added_capex.sum() + pc.dc_capex.sum()) - (pc.chip_dep.sum() + pc.dc_dep.sum())
    assert pc.residual[0, -1] == pytest.approx(book) and not pc.residual[0, :-1].any()


def test_term_prices_by_hand(deal):
    from gigawatt.economics.ledger import _term_prices
    from gigawatt.units import SECONDS_PER_YEAR

    scn, fleet, _ = deal
    spend = fleet.spend_usd().sum(axis=(2, 3))
    term = _term_prices(scn, fleet, spend, 0)
    chip_h = (fleet.installed[0].sum(axis=(1, 2)) * fleet.period_s / 3600.0).sum()  # the horizon is the term
    mw_years = (fleet.it_power_w()[0].sum(axis=(1, 2)) * fleet.period_s).sum() / 1e6 / SECONDS_PER_YEAR
    if spend.sum() <= 20e9:  # the commitment prices the capacity only where the term's spend stays under it
        assert term["implied_usd_per_chip_hour"] == pytest.approx(20e9 / chip_h)
        assert term["implied_usd_per_mw_year"] == pytest.approx(20e9 / mw_years)
    else:
        assert term["implied_usd_per_chip_hour"] is None and term["implied_usd_per_mw_year"] is None
    big = _term_prices(scn, fleet, spend * 20e9 / spend.sum() * 0.5, 0)  # half the commitment spent
    assert big["implied_usd_per_chip_hour"] == pytest.approx(20e9 / chip_h)
    assert big["implied_usd_per_mw_year"] == pytest.approx(20e9 / mw_years)
    assert term["contract_usd_per_chip_hour"] == pytest.approx(spend.sum() / chip_h)
    # $1.50 per chip-hour by contract, every chip priced alike
    assert term["contract_usd_per_chip_hour"] == pytest.approx(1.5)
    # the share of the 1 GW cap over 3 years the $20B pays for at the contract's $/MW-year
    assert term["capacity_cap_share"] == pytest.approx(20e9 / (1e3 * 3 * spend.sum() / mw_years))


def test_capex_per_chip_by_it_watts_or_given():
    scn = load_scenario_text(_econ(DEAL, "it_capex_per_w: $20/W\n"))
    inputs = resolve(scn)
    w = inputs.chips[0].it_w_per_chip
    assert inputs.costs.capex_per_chip_usd[0] == pytest.approx(20.0 * w)  # k = kappa x w
    assert inputs.costs.sources["capex_trainium2"].startswith("it_capex_usd_per_w $20/W x ")
    given = resolve(load_scenario_text(_econ(DEAL, "capex_per_chip: {trn2: $30k}\n"))).costs
    assert given.capex_per_chip_usd.tolist() == [30e3] and given.sources["capex_trainium2"] == "scenario economics"


def test_year_shortfall_and_implied_by_hand(deal):
    from gigawatt.results import _implied, summarize

    scn, fleet, _ = deal
    first = summarize(scn, fleet).years[0]
    # 2026 lies wholly in the term: the $4B minimum over 365 of the Julian year's 365.25 days
    assert first["commitment_min_usd"] == pytest.approx(4e9 * 365 / 365.25)
    assert first["shortfall_usd"] == pytest.approx(max(first["commitment_min_usd"] - first["spend_usd"], 0.0))
    implied, notes = _implied(20e9, 0.0, 0.0, 0.0)  # nothing installed in the term
    assert implied["usd_per_chip_hour"] is None and implied["commitment_buys_chip_hours"] == 0.0
    assert notes and "undefined" in notes[0]
