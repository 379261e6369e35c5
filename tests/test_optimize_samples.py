"""``gigawatt optimize --samples N``: the two-stage plan over draws of a scenario's uncertain inputs."""

import json

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

import gigawatt
from gigawatt.cli import app
from gigawatt.optimize import check_inputs, two_stage
from gigawatt.optimize.samples import cases_from_samples
from gigawatt.scenario.inputs import resolve
from test_optimize_two_stage import NEWSVENDOR as TWO_STAGE_NEWSVENDOR

# the newsvendor of test_optimize_two_stage.py, its demand a range: one chip, one month (744 h),
# inference only, flat over the day, 1 to 3 billion tokens a day
NEWSVENDOR = TWO_STAGE_NEWSVENDOR.replace(
    "tokens_per_day: 1e9,", 'tokens_per_day: {dist: uniform, low: 1e9, high: 3e9, reason: "a test range"},')
assert NEWSVENDOR != TWO_STAGE_NEWSVENDOR


@pytest.fixture(scope="module")
def priced(tmp_path_factory):
    """The scenario with tokens priced so that a chip-month serves $750 of them (a chip-month costs $744)."""
    doc = yaml.safe_load(NEWSVENDOR)
    plain = yaml.safe_load(NEWSVENDOR)
    plain["demand"]["inference"][0]["tokens_per_day"] = 1e9
    rho = check_inputs(resolve(gigawatt.load(plain)), period="month").inference_rate[0, 0] / 0.1  # tokens/s per chip
    price = float(750.0 / (rho * 744 * 3600.0) * 1e6)
    doc["optimize"]["unmet_inference"] = f"${price!r}"
    path = tmp_path_factory.mktemp("samples") / "newsvendor.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path, rho


def test_samples_plan_is_one_buildout_and_vss_is_the_difference(priced):
    path, rho = priced
    scn = gigawatt.load(path)
    cases, values, held = cases_from_samples(scn, 4, seed=3)
    # the performance model's error on the chip is drawn by default; the plan holds it at its base (1)
    assert held == ["uncertainty.throughput.trainium2"] and values.shape == (4, 2)
    demand = [c.scenario.demand.inference[0].tokens_per_day for c in cases]
    assert demand == pytest.approx(values[:, 0].tolist(), rel=1e-12)  # each case carries its own draw
    assert len(set(demand)) == 4 and all(1e9 <= x <= 3e9 for x in demand)
    r = two_stage(cases, period="month")
    # one buildout for every case: the plan has no case axis, and every case is priced on it
    assert r.installed.shape == (1, 1, 1) and len(r.case_cost_usd) == 4
    # newsvendor: a chip beyond what the lowest demand uses serves in at most 3 cases of 4, worth
    # 3/4 * $750 < $744, so the plan buys the chips of the lowest case
    n_low = min(demand) * 31 / (rho * 744 * 3600.0)
    assert r.installed[0, 0, 0] == pytest.approx(n_low, rel=1e-6)
    assert r.vss_usd >= 0
    assert r.vss_usd == pytest.approx(r.median_plan_expected_cost_usd - r.expected_cost_usd, rel=1e-12)
    # the median case (second lowest of 4 here) buys its own demand's chips; each chip beyond n_low
    # costs $744 and earns $750 in the cases of higher demand only
    mid = sorted(demand)[1]
    n_mid = mid * 31 / (rho * 744 * 3600.0)
    assert r.vss_usd == pytest.approx((n_mid - n_low) * (744.0 - 3.0 / 4.0 * 750.0), rel=1e-5)


def test_cli_samples_json_and_errors(priced):
    path, _ = priced
    res = CliRunner().invoke(app, ["optimize", str(path), "--samples", "4", "--seed", "3", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["samples"] == 4 and out["relaxation"] == "lp"
    assert out["vss_usd"] == pytest.approx(out["median_plan_expected_cost_usd"] - out["expected_cost_usd"], rel=1e-9)
    assert [row["year"] for row in out["years"]] == [2026]
    assert any("LP relaxation" in n for n in out["notes"])
    text = CliRunner().invoke(app, ["optimize", str(path), "--samples", "4", "--sampler", "sobol"])
    assert text.exit_code == 0, text.output
    words = " ".join(text.output.split()).lower()
    assert "value of the stochastic solution" in words and "lp relaxation" in words
    for args, words in ((["--samples", "1"], "out of range"), (["--samples", "65"], "out of range"),
                        (["--samples", "4", "--view", "provider"], "not available")):
        bad = CliRunner().invoke(app, ["optimize", str(path), *args])
        assert bad.exit_code == 2 and words in bad.output, bad.output
    plain = yaml.safe_load(path.read_text())
    plain["demand"]["inference"][0]["tokens_per_day"] = 2e9
    path.with_name("plain.yaml").write_text(yaml.safe_dump(plain))
    none = CliRunner().invoke(app, ["optimize", str(path.with_name("plain.yaml")), "--samples", "4"])
    assert none.exit_code == 2 and "no uncertain inputs" in none.output


def test_flagship_fields_write_back():
    """Every uncertain field of the flagship but the throughput factors is written back as its draw."""
    scn = gigawatt.load("anthropic-aws-2026")
    cases, values, held = cases_from_samples(scn, 2, seed=1)
    assert held == [u.path for u in scn.uncertain.inputs if u.pattern == "uncertainty.throughput.*"]
    k = scn.uncertain.names().index("deal.spend_limit.per_year")
    assert [c.scenario.deal.spend_limit.per_year_usd for c in cases] == pytest.approx(values[:, k].tolist(), rel=1e-9)
    assert not np.allclose(cases[0].price_usd_per_chip_h, cases[1].price_usd_per_chip_h)
