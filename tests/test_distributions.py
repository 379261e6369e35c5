"""Which scenario values take a distribution, and what each draw moves: the performance model's default
throughput ranges, a site's PUE and the ledger's inputs (commitment, investments, discount rates, power
prices, costs)."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

import gigawatt
from gigawatt.errors import ScenarioError
from gigawatt.scenario.distributions import field_value
from gigawatt.uncertainty import monte_carlo, sampled_inputs

ROOT = Path(__file__).resolve().parents[1]
FLAGSHIP = str(ROOT / "scenarios" / "anthropic-aws-2026.yaml")
#: the flagship with its own throughput ranges taken out, so that the defaults apply
NO_OWN_THROUGHPUT = {"uncertainty.throughput": {}}


def _problems(data):
    with pytest.raises(ScenarioError) as exc:
        gigawatt.load(data)
    return {(p.path, p.message) for p in exc.value.problems}


# ---------------------------------------------------------------- the performance model's default ranges


def test_default_throughput_is_the_perf_models_interval():
    from gigawatt.perf.calibration import prediction_interval

    unc = gigawatt.load(FLAGSHIP, set=NO_OWN_THROUGHPUT).uncertain
    defaults = {u.path: u for u in unc.inputs if u.path.startswith("uncertainty.throughput.")}
    assert sorted(defaults) == [f"uncertainty.throughput.trainium{k}" for k in (2, 3, 4)]
    # the flagship trains and serves one MoE model (frontier-moe-2t): the factor spans the lower end and the
    # upper end of the chip's training and serving intervals
    for chip in ("trainium2", "trainium3", "trainium4"):
        u = defaults[f"uncertainty.throughput.{chip}"]
        train = prediction_interval(chip, moe=True, kind="training")
        serve = prediction_interval(chip, moe=True, kind="serving")
        assert u.dist == "lognormal" and u.base == 1.0
        assert u.params["p10"] == min(train["low_factor"], serve["low_factor"])
        assert u.params["p90"] == max(train["high_factor"], serve["high_factor"])
        # the drawn factor passes through them at p10 and p90
        assert u.ppf([0.1, 0.9]) == pytest.approx([u.params["p10"], u.params["p90"]], rel=1e-12)
        assert u.reason.startswith("default: the performance model's 80% interval from held-out backtest errors")
    # Trainium3 has no published measurement: its serving interval is the pooled MoE one widened 1.5x,
    # exp(-1.5 q90) .. exp(-1.5 q10) of the held-out log errors
    assert "widened: trainium3 has no published serving measurement" in defaults["uncertainty.throughput.trainium3"].reason
    assert defaults["uncertainty.throughput.trainium3"].params["p90"] > defaults["uncertainty.throughput.trainium2"].params["p90"]


def test_default_throughput_only_where_the_scenario_gives_none():
    own = gigawatt.load(FLAGSHIP).uncertain
    # the flagship writes none of its own: each of its three chips gets the default
    factors = {u.path: u.reason for u in own.inputs if u.path.startswith("uncertainty.throughput.")}
    assert len(factors) == 3 and all(r.startswith("default:") for r in factors.values())
    partial = gigawatt.load(FLAGSHIP, set={"uncertainty.throughput": {
        "trainium2": {"dist": "lognormal", "p10": 0.9, "p90": 1.1}}}).uncertain
    reasons = {u.path: u.reason or "" for u in partial.inputs if u.path.startswith("uncertainty.throughput.")}
    assert not reasons["uncertainty.throughput.trainium2"].startswith("default:")
    assert reasons["uncertainty.throughput.trainium3"].startswith("default:")


def test_no_default_without_distributions_or_demand(minimal_text):
    # no distribution: a single run, nothing drawn
    assert gigawatt.load(yaml.safe_load(minimal_text)).uncertain is None
    # a distribution but no demand: a throughput factor would move nothing, so none is added
    data = yaml.safe_load(minimal_text)
    data["deal"]["capacity_cap"] = {"dist": "lognormal", "p10": "0.5 GW", "p90": "2 GW"}
    assert gigawatt.load(data).uncertain.names() == ["deal.capacity_cap"]


def test_inference_only_generation_takes_the_serving_interval():
    from gigawatt.scenario.model_error import default_throughput
    from gigawatt.perf.calibration import prediction_interval

    data = {"roadmap": [{"chip": "trainium2", "use": "inference"}, {"chip": "h100"}],
            "demand": {"training": [{"name": "r", "model": "frontier-moe-2t"}],
                       "inference": [{"model": "frontier-moe-2t"}]}}
    out = {u.path: u for u in default_throughput(data)}
    serve = prediction_interval("trainium2", moe=True, kind="serving")
    trn2 = out["uncertainty.throughput.trainium2"]
    assert (trn2.params["p10"], trn2.params["p90"]) == (serve["low_factor"], serve["high_factor"])
    assert "uncertainty.throughput.h100-sxm" in out  # an alias is listed by its catalog id


def test_check_lists_the_defaults_without_numpy():
    code = ("import sys, gigawatt; "
            f"s = gigawatt.load({FLAGSHIP!r}, set={{'uncertainty.throughput': {{}}}}); "
            "print(sum(u.reason.startswith('default:') for u in s.uncertain.inputs), 'numpy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.stdout.split() == ["3", "False"], out.stderr
    from typer.testing import CliRunner

    from gigawatt.cli import app

    res = CliRunner().invoke(app, ["check", FLAGSHIP, "--inputs", "--wide", "--set", "uncertainty.throughput={}"])
    assert res.exit_code == 0, res.output
    assert "uncertainty.throughput.trainium3" in res.output and "held-out backtest errors" in res.output


# ---------------------------------------------------------------- a site's PUE


def _facility_site(minimal_text, pue):
    data = yaml.safe_load(minimal_text)
    data["sites"][0]["basis"] = "facility"  # 100 MW then 600 MW of grid draw
    data["sites"][0]["pue"] = pue
    return data


def test_pue_draw_scales_a_facility_sites_it_power(minimal_text):
    scn = gigawatt.load(_facility_site(minimal_text, {"dist": "uniform", "low": 1.1, "high": 1.5, "base": 1.2}))
    u = scn.uncertain.inputs[0]
    assert u.path == "sites[0].pue" and scn.sites[0].pue == 1.2
    from gigawatt.scenario.inputs import resolve

    inputs = resolve(scn)
    p10, p90 = u.quantile(0.1), u.quantile(0.9)
    assert (p10, p90) == pytest.approx((1.14, 1.46))  # uniform: 1.1 + 0.1 x 0.4, 1.1 + 0.9 x 0.4
    s = sampled_inputs(inputs, scn.uncertain, np.array([[p10], [1.2], [p90]]))
    # IT power = grid draw / PUE: 1.2 / 1.14 and 1.2 / 1.46 times the base's, the base unchanged
    ratio = s.energized_it_w[:, :, 0] / inputs.energized_it_w[None, :, 0]
    assert ratio[:, -1] == pytest.approx([1.2 / 1.14, 1.0, 1.2 / 1.46], rel=1e-12)
    assert inputs.energized_it_w[-1, 0] == pytest.approx(600e6 / 1.2)
    assert s.pue[:, 0] == pytest.approx([1.14, 1.2, 1.46])


def test_pue_draw_scales_the_power_bill(minimal_text):
    """On an IT-basis site the chips are the same; the provider's power line scales by PUE / base PUE."""
    from gigawatt.economics.ledger import build_ledger
    from gigawatt.fleet.buildout import build_fleet
    from gigawatt.scenario.inputs import resolve

    data = yaml.safe_load(minimal_text)
    data["sites"][0]["pue"] = {"dist": "lognormal", "p10": 1.1, "p90": 1.4, "base": 1.2}
    scn = gigawatt.load(data)
    inputs = resolve(scn)
    s = sampled_inputs(inputs, scn.uncertain, np.array([[1.1], [1.4]]))
    fleet = build_fleet(inputs, n_samples=2, sampled=s)
    assert np.array_equal(fleet.installed[0], fleet.installed[1])
    base = build_ledger(inputs, fleet, summaries=False).provider["power_usd"]
    drawn = build_ledger(inputs, fleet, summaries=False, sampled=s).provider["power_usd"]
    assert drawn[0] == pytest.approx(base[0] * 1.1 / 1.2, rel=1e-12)
    assert drawn[1] == pytest.approx(base[1] * 1.4 / 1.2, rel=1e-12)


def test_pue_range_where_the_cap_counts_facility_power_is_drawn_sample_by_sample(minimal_text):
    data = yaml.safe_load(minimal_text)
    data["deal"]["capacity_basis"] = "facility"
    data["sites"][0]["pue"] = {"dist": "uniform", "low": 1.1, "high": 1.3}
    unc = gigawatt.load(data).uncertain
    assert [u.path for u in unc.each_run()] == ["sites[0].pue"]


# ---------------------------------------------------------------- the ledger's inputs


def _ledger_ranges(minimal_text):
    data = yaml.safe_load(minimal_text)
    data["sites"][0]["pue"] = {"dist": "uniform", "low": 1.1, "high": 1.4, "base": 1.2}
    data["sites"][0]["basis"] = "facility"
    # a point of the same site's ramp, drawn too: its IT power is the drawn grid draw over the drawn PUE
    data["sites"][0]["energized"]["2027-01"] = {"dist": "uniform", "low": "400 MW", "high": "800 MW"}
    c = data["deal"]["commitment"]
    c["total"] = {"dist": "lognormal", "p10": "$5B", "p90": "$20B"}
    c["min_per_year"] = {"dist": "uniform", "low": "$1B", "high": "$3B"}
    data["deal"]["investments"] = [{"date": "2026-03", "amount": {"dist": "uniform", "low": "$1B", "high": "$2B"}}]
    data["economics"] = {
        "discount": {"lab": {"dist": "uniform", "low": "5%", "high": "15%"}, "provider": "8%"},
        "power_price": {"sites": {"a": {"dist": "lognormal", "p10": "$50/MWh", "p90": "$120/MWh"}}},
        "build_cost": {"dist": "uniform", "low": "$8/W", "high": "$14/W"},
        "it_capex_per_w": {"dist": "uniform", "low": "$20/W", "high": "$30/W"},
        "capex_per_chip": {"trainium2": {"dist": "uniform", "low": "$15k", "high": "$25k"}},
        "opex_per_mw_year": {"dist": "uniform", "low": "$0.2M/MW", "high": "$0.4M/MW"},
        "maintenance_share": {"dist": "uniform", "low": "1%", "high": "3%"},
        "load_factor": {"dist": "triangular", "low": 0.6, "mode": 0.8, "high": 1.0},
    }
    return data


def test_each_sample_is_the_run_of_its_drawn_ledger_inputs(minimal_text):
    """Sample by sample, the vectorized pass gives both parties' NPV and the IT power of a run of those values."""
    data = _ledger_ranges(minimal_text)
    scn = gigawatt.load(data)
    assert len(scn.uncertain.inputs) == 13
    mc = monte_carlo(scn, 3, seed=1)
    npv = []
    for i in range(3):
        values = {u.path: field_value(u, mc.values[i, k]) for k, u in enumerate(scn.uncertain.inputs)}
        one = gigawatt.run(gigawatt.load(data, set=values)).summary()
        ledger = one["ledger"]
        assert mc.scalars["lab_npv_usd"][i] == pytest.approx(ledger["lab"]["npv_usd"], rel=1e-9)
        assert mc.scalars["provider_npv_usd"][i] == pytest.approx(ledger["provider"]["npv_usd"], rel=1e-9)
        assert mc.yearly["it_power_w"][i] == pytest.approx([r["it_power_w"] for r in one["years"]], rel=1e-9)
        npv.append(ledger["provider"]["npv_usd"])
    assert len(set(npv)) == 3  # the draws differ, and so do the answers


def test_commitment_draw_moves_the_shortfall(minimal_text):
    """The buildout is the same; the end-of-term shortfall is the drawn total less what was paid."""
    from gigawatt.economics.ledger import build_ledger
    from gigawatt.fleet.buildout import build_fleet
    from gigawatt.scenario.inputs import resolve

    data = yaml.safe_load(minimal_text)
    # the tiny deal spends about $16.6B in its two-year term
    data["deal"]["commitment"]["total"] = {"dist": "uniform", "low": "$10B", "high": "$30B", "base": "$10B"}
    scn = gigawatt.load(data)
    inputs = resolve(scn)
    s = sampled_inputs(inputs, scn.uncertain, np.array([[20e9], [24e9]]))
    fleet = build_fleet(inputs, n_samples=2, sampled=s)
    short = build_ledger(inputs, fleet, summaries=False, sampled=s).lab["shortfall_usd"].sum(axis=1)
    paid = fleet.spend_usd().sum(axis=(1, 2, 3))
    assert -short == pytest.approx(np.maximum(np.array([20e9, 24e9]) - paid, 0.0), rel=1e-12)
    assert short[0] < 0
    assert -short[1] == pytest.approx(-short[0] + 4e9, rel=1e-9)  # $4B more committed, $4B more owed


def test_one_discount_rate_for_both_parties(minimal_text):
    data = yaml.safe_load(minimal_text)
    data["economics"] = {"discount": {"dist": "uniform", "low": "4%", "high": "12%"},
                         "power_price": {"dist": "lognormal", "p10": "$50/MWh", "p90": "$120/MWh"}}
    scn = gigawatt.load(data)
    assert scn.uncertain.names() == ["economics.discount", "economics.power_price.default"]
    assert scn.economics.discount.lab == scn.economics.discount.provider == pytest.approx(0.08)
    mc = monte_carlo(scn, 2, values=np.array([[0.04, 80.0], [0.12, 80.0]]))
    for i, rate in enumerate((0.04, 0.12)):
        one = gigawatt.run(gigawatt.load(data, set={"economics.discount": rate,
                                                    "economics.power_price": "$80/MWh"})).summary()["ledger"]
        assert one["lab"]["discount_rate"] == one["provider"]["discount_rate"] == rate
        assert mc.scalars["lab_npv_usd"][i] == pytest.approx(one["lab"]["npv_usd"], rel=1e-9)
        assert mc.scalars["provider_npv_usd"][i] == pytest.approx(one["provider"]["npv_usd"], rel=1e-9)


# ---------------------------------------------------------------- what cannot take a distribution, and why


def test_any_other_number_is_drawn_sample_by_sample(minimal_text):
    """Numbers outside the vectorized samplers (here the checkpoint interval and a stream's prompt length) are
    written into each sample's scenario: the samples equal plain runs with those values, given as the user
    writes them."""
    data = yaml.safe_load(minimal_text)
    data["demand"] = {"checkpoint_interval": {"dist": "uniform", "low": "10 min", "high": "30 min"},
                      "training": [{"name": "r", "model": "llama3.1-8b", "tokens": 1e12, "start": "2026-01",
                                    "min_chips": 1000}],
                      "inference": [{"model": "llama3.1-8b", "tokens_per_day": 2e11, "at": "2026-01",
                                     "input_tokens": {"dist": "uniform", "low": 1000, "high": 4000},
                                     "output_tokens": 500}]}
    data["uncertainty"] = {"throughput": False}  # plain runs have no throughput factor to compare with
    scn = gigawatt.load(data)
    assert [u.path for u in scn.uncertain.each_run()] == ["demand.checkpoint_interval",
                                                          "demand.inference[0].input_tokens"]
    mc = monte_carlo(scn, 2, values=np.array([[600.0, 1000.0], [1800.0, 4000.0]]))
    for i, (interval, prompt) in enumerate([("10 min", 1000), ("30 min", 4000)]):
        data["demand"]["checkpoint_interval"] = interval
        data["demand"]["inference"][0]["input_tokens"] = prompt
        one = gigawatt.run(gigawatt.load(data)).summary()
        assert mc.scalars["inference_served_share"][i] == pytest.approx(one["inference"]["served_share"], rel=1e-12)
        assert mc.yearly["spend_usd"][i] == pytest.approx([r["spend_usd"] for r in one["years"]], rel=1e-12)
    assert mc.scalars["inference_served_share"][0] != mc.scalars["inference_served_share"][1]


def test_the_horizon_cannot_take_a_distribution(minimal_text):
    data = yaml.safe_load(minimal_text)
    data["horizon"]["end"] = {"dist": "uniform", "from": "2027-06", "to": "2027-12"}
    assert ("horizon.end", "this field cannot take a distribution: the run's periods are the same for all "
            "samples") in _problems(data)


def test_a_power_price_range_must_be_prices(minimal_text):
    data = yaml.safe_load(minimal_text)
    data["economics"] = {"power_price": {"dist": "uniform", "low": "us-average", "high": "$120/MWh"}}
    problems = _problems(data)
    assert ("economics.power_price.default.low", "'us-average' is a name, not a number") in problems
    data["economics"] = {"discount": {"lab": {"dist": "uniform", "low": "5 GW", "high": "10%"}}}
    assert any(p == "economics.discount.lab.low" for p, _ in _problems(data))  # a unit the field refuses


def test_throughput_false_draws_no_model_error():
    unc = gigawatt.load(FLAGSHIP, set={"uncertainty.throughput": False}).uncertain
    assert not any(n.startswith("uncertainty.throughput") for n in unc.names())
    with pytest.raises(ScenarioError) as exc:
        gigawatt.load(FLAGSHIP, set={"uncertainty.throughput": 3})
    assert any(p.path == "uncertainty.throughput" for p in exc.value.problems)


def test_run_says_when_samples_run_one_by_one(minimal_text, tmp_path):
    from typer.testing import CliRunner

    from gigawatt.cli import app

    data = yaml.safe_load(minimal_text)
    data["demand"] = {"checkpoint_interval": {"dist": "uniform", "low": "10 min", "high": "30 min"},
                      "inference": [{"model": "llama3.1-8b", "tokens_per_day": 2e11, "at": "2026-01",
                                     "input_tokens": 1000, "output_tokens": 500}]}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    res = CliRunner().invoke(app, ["run", str(path), "--samples", "3", "--no-write", "--no-store", "--jobs", "1"])
    assert res.exit_code == 0, res.output
    assert "(demand.checkpoint_interval): each of the 3 samples runs on its own" in res.output
