"""Distributions in the scenario language, and the Monte Carlo over them."""

import math

import numpy as np
import pytest
import yaml

import gigawatt
from gigawatt.errors import ScenarioError
from gigawatt.scenario.distributions import Uncertain
from gigawatt.uncertainty import draw, iman_conover, monte_carlo

FLAGSHIP = "scenarios/anthropic-aws-2026.yaml"


def _tiny(minimal_text, **changes):
    data = yaml.safe_load(minimal_text)
    for path, value in changes.items():
        node = data
        steps = path.split(".")
        for s in steps[:-1]:
            node = node[int(s)] if s.isdigit() else node[s]
        node[steps[-1]] = value
    return data


def _problems(data):
    with pytest.raises(ScenarioError) as exc:
        gigawatt.load(data)
    return {(p.path, p.message) for p in exc.value.problems}


# ---------------------------------------------------------------- the distributions


def test_lognormal_passes_through_its_percentiles():
    # p10 1, p90 4: the median is their geometric mean, 2
    u = Uncertain("x", ("x",), "", "lognormal", {}, {"p10": 1.0, "p90": 4.0})
    assert u.ppf([0.1, 0.5, 0.9]) == pytest.approx([1.0, 2.0, 4.0], rel=1e-12)


def test_normal_from_percentiles_or_moments():
    a = Uncertain("x", ("x",), "", "normal", {}, {"p10": 8.0, "p90": 12.0})
    b = Uncertain("x", ("x",), "", "normal", {}, {"mean": 10.0, "sd": 2.0 / 1.2815515655446004})
    assert a.ppf([0.1, 0.5, 0.9]) == pytest.approx([8.0, 10.0, 12.0])
    assert a.ppf([0.3]) == pytest.approx(b.ppf([0.3]))


def test_triangular_and_pert_means():
    u = np.linspace(0.0005, 0.9995, 2000)
    tri = Uncertain("x", ("x",), "", "triangular", {}, {"low": 0.0, "mode": 3.0, "high": 6.0})
    # symmetric triangle: median at the mode; the CDF at 1.5 is (1.5)^2 / (6 * 3) = 0.125
    assert tri.quantile(0.5) == pytest.approx(3.0)
    assert tri.quantile(0.125) == pytest.approx(1.5)
    pert = Uncertain("x", ("x",), "", "pert", {}, {"low": 0.0, "mode": 1.0, "high": 10.0})
    # PERT mean (a + 4m + b) / 6 = 14 / 6; the grid's midpoint mean is within 0.1%
    assert pert.ppf(u).mean() == pytest.approx(14 / 6, rel=1e-3)


def test_date_range_draws_whole_months_in_range():
    u = Uncertain("d", ("d",), "", "uniform", {}, {"low": 100.0, "high": 111.0}, is_date=True)
    months = u.ppf(np.linspace(0.0, 0.999999, 1200))
    assert set(months) == set(float(m) for m in range(100, 112))
    assert np.bincount(months.astype(int) - 100).tolist() == [100] * 12  # 12 months, equally likely


def test_iman_conover_keeps_marginals_and_sets_rank_correlation():
    from scipy.stats import spearmanr

    rng = np.random.default_rng(1)
    u = rng.random((2000, 3))
    target = np.array([[1.0, 0.8, 0.0], [0.8, 1.0, 0.0], [0.0, 0.0, 1.0]])
    v = iman_conover(u, target)
    for j in range(3):
        assert np.array_equal(np.sort(v[:, j]), np.sort(u[:, j]))
    rho = spearmanr(v).statistic
    # the method reaches the target within sampling error of 2,000 draws (about 0.02)
    assert rho[0, 1] == pytest.approx(0.8, abs=0.03)
    assert abs(rho[0, 2]) < 0.05


# ---------------------------------------------------------------- the scenario language


def test_no_distribution_means_no_uncertain_inputs(minimal_text):
    assert gigawatt.load(yaml.safe_load(minimal_text)).uncertain is None


def test_a_distribution_runs_at_its_base_value(minimal_text):
    plain = gigawatt.run(yaml.safe_load(minimal_text)).summary()
    data = _tiny(minimal_text, **{"prices.trainium2": {"dist": "lognormal", "p10": "$1.00/h", "p90": "$2.00/h",
                                                          "base": "$1.50/h"}})
    scn = gigawatt.load(data)
    assert scn.uncertain.names() == ["prices.trainium2.price"]
    assert scn.prices["trainium2"].price_usd_per_chip_h == 1.5
    same = gigawatt.run(scn).summary()
    assert same["years"] == plain["years"] and same["totals"] == plain["totals"]


def test_without_base_the_median(minimal_text):
    data = _tiny(minimal_text, **{"deal.capacity_cap": {"dist": "lognormal", "p10": "0.5 GW", "p90": "2 GW"}})
    assert gigawatt.load(data).deal.capacity_cap_w == pytest.approx(1e9)  # sqrt(0.5 * 2) GW


def test_bad_distributions_name_the_field(minimal_text):
    data = _tiny(minimal_text, **{
        "deal.capacity_cap": {"dist": "lognormal", "p10": "2 GW", "p90": "1 GW"},
        "prices.trainium2": {"dist": "uniform", "low": "1 GW", "high": "2 GW"},
    })
    problems = _problems(data)
    # the price's unit is reported first (its field cannot read the scenario without it) ...
    assert any(path == "prices.trainium2.price.low" and "expected price_per_hour" in msg for path, msg in problems)
    data["prices"]["trainium2"] = "$1.50/h"
    # ... and the order of a range once the fields read
    assert ("deal.capacity_cap", "p90 1 GW is not above p10 2 GW") in _problems(data)


def test_negative_power_and_unsupported_field_and_unknown_kind(minimal_text):
    data = _tiny(minimal_text, **{
        "sites.0.energized": {"2026-01": "100 MW", "2027-01": {"dist": "uniform", "low": "-1 GW", "high": "1 GW"}},
        "roadmap.0.lifetime": {"dist": "uniform", "low": "4 years", "high": "6 years"},
        "deal.commitment.total": {"dist": "gamma", "low": "$5B", "high": "$10B"},
    })
    problems = _problems(data)
    paths = {p for p, _ in problems}
    assert "roadmap[0].lifetime" not in paths  # any number may take a distribution (drawn sample by sample)
    assert "deal.commitment.total.dist" in paths  # an unknown kind
    assert any("negative" in m for p, m in problems if p.startswith("sites[0].energized"))


def test_correlate_names_must_exist(minimal_text):
    data = _tiny(minimal_text, **{"prices.trainium2": {"dist": "lognormal", "p10": "$1/h", "p90": "$2/h"}})
    data["uncertainty"] = {"correlate": [{"inputs": ["prices.trainium2.price", "deal.capcity_cap"], "rank": 0.5}]}
    assert any("deal.capcity_cap" in m for _, m in _problems(data))  # a misspelt path


def test_check_inputs_lists_each_input_with_reason(tmp_path):
    from typer.testing import CliRunner

    from gigawatt.cli import app

    res = CliRunner().invoke(app, ["check", FLAGSHIP, "--inputs", "--wide"])
    assert res.exit_code == 0, res.output
    assert "20 uncertain input(s)" in res.output
    assert "prices.trainium2.price" in res.output and "committed-use" in res.output
    bad = tmp_path / "bad.yaml"
    text = open(FLAGSHIP).read().replace("p10: $0.70/h, p90: $1.40/h", "p10: $1.70/h, p90: $1.40/h")
    bad.write_text(text)
    res = CliRunner().invoke(app, ["check", str(bad)])
    assert res.exit_code == 2
    assert "prices.trainium2.price" in res.output and "not above p10" in res.output


# ---------------------------------------------------------------- the Monte Carlo


def _set_value(u, x):
    """A drawn value [SI] written as the field takes it, for a deterministic run of the same sample."""
    from gigawatt.scenario.distributions import field_value

    return field_value(u, x)


def test_each_sample_is_the_run_of_its_drawn_values():
    """The vectorized pass gives, sample by sample, what a run of the scenario with those values gives."""
    scn = gigawatt.load(FLAGSHIP)
    mc = monte_carlo(scn, 3, seed=11)
    inputs = [u for u in scn.uncertain.inputs if not u.pattern.startswith("uncertainty.")]
    for i in range(3):
        overrides = {u.path: _set_value(u, mc.values[i, scn.uncertain.inputs.index(u)]) for u in inputs}
        overrides["uncertainty.correlate"] = []  # its inputs are plain values now
        # a run has no throughput error; compare with the sample only where those factors are 1
        one = gigawatt.load(FLAGSHIP, set=overrides)
        plain = gigawatt.run(one).summary()
        years = [r["year"] for r in plain["years"]]
        assert years == mc.years.tolist()
        assert mc.yearly["it_power_w"][i] == pytest.approx([r["it_power_w"] for r in plain["years"]], rel=1e-9)
        # spend: the run's price is parsed from the written value, the sample's scaled from the base
        assert mc.yearly["spend_usd"][i] == pytest.approx([r["spend_usd"] for r in plain["years"]], rel=1e-9)
        assert mc.binding[i].tolist() == [r["binding"] for r in plain["years"]]


def test_throughput_factor_of_one_changes_nothing():
    scn = gigawatt.load(FLAGSHIP)
    names = scn.uncertain.names()
    values = np.array([[u.base for u in scn.uncertain.inputs]] * 2)
    mc = monte_carlo(scn, 2, values=values)
    base = gigawatt.run(scn).summary()
    served = [r["inference_served_share"] for r in base["years"]]
    assert mc.yearly["inference_served_share"][0] == pytest.approx(served, rel=1e-9)
    slow = values.copy()
    slow[:, [k for k, n in enumerate(names) if n.startswith("uncertainty.throughput")]] = 0.5
    worse = monte_carlo(scn, 2, values=slow)
    # half the throughput on every chip serves less where capacity was short
    assert worse.scalars["inference_served_share"][0] < mc.scalars["inference_served_share"][0]


def test_same_seed_same_draws_and_results():
    scn = gigawatt.load(FLAGSHIP)
    a = draw(scn.uncertain, 64, seed=5, sampler="sobol")
    b = draw(scn.uncertain, 64, seed=5, sampler="sobol")
    c = draw(scn.uncertain, 64, seed=6, sampler="sobol")
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    lhs = draw(scn.uncertain, 50, seed=5)
    # Latin hypercube: each input has one draw in each of the 50 strata of its distribution
    k = scn.uncertain.names().index("prices.trainium2.price")
    u = scn.uncertain.inputs[k]
    strata = np.floor(_cdf_lognormal(lhs[:, k], u) * 50).astype(int)
    assert sorted(strata.tolist()) == list(range(50))


def _cdf_lognormal(x, u):
    from scipy import stats

    mu = 0.5 * (math.log(u.params["p10"]) + math.log(u.params["p90"]))
    sigma = (math.log(u.params["p90"]) - math.log(u.params["p10"])) / (2 * 1.2815515655446004)
    return stats.norm.cdf((np.log(x) - mu) / sigma)


def test_run_with_samples_gives_bands_and_binding_probabilities(tmp_path):
    res = gigawatt.run(FLAGSHIP, samples=40)
    unc = res.summary()["uncertainty"]
    assert unc["n"] == 40 and len(unc["inputs"]) == 20
    assert len(unc["years"]) == 10
    it = unc["yearly"]["it_power_w"]
    assert all(a <= b <= c for a, b, c in zip(it["p10"], it["p50"], it["p90"]))
    for c, shares in unc["binding_probability"].items():
        assert all(0.0 <= s <= 1.0 for s in shares), c
    # the buildout's four labels (and none) share each year
    prob = unc["binding_probability"]
    for y in range(10):
        assert sum(prob[c][y] for c in ("power", "supply", "spend_limit", "cap")) <= 1.0 + 1e-12
    folder = res.save(tmp_path / "out")
    import pandas as pd

    frame = pd.read_parquet(folder / "samples.parquet")
    assert len(frame) == 40 and "input:prices.trainium2.price" in frame and "provider_npv_usd" in frame
    from gigawatt import report, store

    html = report.render_html(res)
    for key in ("fan-capacity", "fan-spend", "fan-served", "fan-cash", "binding-odds", "npv", "fan-finish"):
        assert f'id="chart-{key}"' in html, key
    run_id = res.to_store(tmp_path / "g.duckdb")
    back = store.load_samples(tmp_path / "g.duckdb", run_id)
    assert back["provider_npv_usd"].tolist() == frame["provider_npv_usd"].tolist()


def test_run_command_prints_bands(tmp_path):
    from typer.testing import CliRunner

    from gigawatt.cli import app

    res = CliRunner().invoke(app, ["run", FLAGSHIP, "--samples", "12", "--no-write", "--no-store"])
    assert res.exit_code == 0, res.output
    assert "12 samples (lhs, seed 7); p50 [p10, p90]" in res.output
    assert "over 12 draws of 20 uncertain inputs" in res.output
    res = CliRunner().invoke(app, ["run", FLAGSHIP, "--samples", "4", "--sampler", "halton", "--no-write",
                                   "--no-store"])
    assert res.exit_code == 2 and "lhs or sobol" in res.output


def test_a_plain_value_by_set_leaves_its_correlation_group():
    scn = gigawatt.load(FLAGSHIP, set={"prices.trainium2.price": "$1.20/h"})
    assert scn.prices["trainium2"].price_usd_per_chip_h == 1.2
    assert "prices.trainium2.price" not in scn.uncertain.names()
    assert scn.uncertain.correlations[0].inputs == ["prices.trainium3.price", "prices.trainium4.price"]


def test_a_date_that_never_comes_counts_as_latest_in_the_quantiles():
    """6 of 10 draws bind the commitment in 2033 and 4 never do: the median is 2033 and the 75th percentile
    "never" (NaN), not 2033 as it would be were the four left out; a share served that is undefined in
    half the draws is left out instead."""
    from gigawatt.uncertainty import MonteCarlo

    mc = MonteCarlo(names=[], values=np.zeros((10, 0)), years=np.array([2033]), yearly={},
                    binding=np.zeros((10, 1)), binds={},
                    scalars={"commitment_first_binds_year": np.array([2033.0] * 6 + [np.nan] * 4),
                             "finish_r": np.array([5.0] * 8 + [np.nan] * 2),
                             "inference_served_share": np.array([0.5] * 5 + [np.nan] * 5)})
    q = mc.quantiles()["scalars"]
    assert q["commitment_first_binds_year"]["p50"] == 2033.0 and np.isnan(q["commitment_first_binds_year"]["p75"])
    assert q["finish_r"]["p75"] == 5.0 and np.isnan(q["finish_r"]["p90"])
    assert q["inference_served_share"]["p90"] == 0.5
