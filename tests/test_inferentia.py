"""Inference-only generations (roadmap ``use: inference``): never a training run, inference placed on
them first and the cheapest per token first, and inference served by chip in the results."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import gigawatt
from gigawatt.cli import app
from gigawatt.errors import ScenarioError
from gigawatt.fleet import run_fleet
from gigawatt.fleet.served_by import served_by_summary, served_tokens_by_chip
from gigawatt.fleet.serving_order import cost_per_token_usd, inference_orders, training_order
from gigawatt.scenario import load_scenario_text
from gigawatt.scenario.inputs import resolve

# one 20 MW site; 6,000 Trainium2 and 12,000 Inferentia2 fit in its first month (supply caps)
BASE = """\
schema_version: 1
name: inf
horizon: {start: 2026-01, end: 2026-06}
seed: 3
deal:
  commitment: {total: $1B, start: 2026-01, term: 1 years}
sites:
  - {name: a, pue: 1.2, energized: {2026-01: 20 MW}}
roadmap:
  - {chip: trainium2, system: trn2-48xlarge, from: 2025-01, supply_per_year: 12000, use: TRN_USE}
  - {chip: inferentia2, from: 2025-01, supply_per_year: 24000, use: INF_USE}
prices: {trainium2: TRN_PRICE, inferentia2: $1.08/h}
demand:
  inference:
    - {name: chat, model: llama3.1-8b, tokens_per_day: 1e11, at: 2026-01, input_tokens: 2000,
       output_tokens: 400, ttft: 2 s, tpot: 50 ms}
"""
RUN = """\
  training:
    - {name: run, model: llama3.1-8b, tokens: 300B, start: 2026-02, min_chips: 64}
"""


def scenario(trn_use="any", inf_use="inference", trn_price="$1.50/h", training=False):
    text = BASE.replace("TRN_USE", trn_use).replace("INF_USE", inf_use).replace("TRN_PRICE", trn_price)
    return text + (RUN if training else "")


def simulate(text):
    fleet, sim, _ = run_fleet(resolve(load_scenario_text(text)))
    return fleet, sim


def test_cost_per_token_by_hand():
    # two streams: 100 and 300 tokens/s mean; chip 0 serves both (at 1,000 and 500 tokens/s per chip),
    # chip 1 only the first (at 2,000); prices $3.60/h and $7.20/h
    price = np.array([[3.6, 7.2]])
    rates = np.array([[1000.0, 2000.0], [500.0, 0.0]])
    usable = np.array([[True, True], [True, False]])
    cost = cost_per_token_usd(price, rates, usable, np.array([[100.0, 300.0]]))
    # chip 0: $1e-6 and $2e-6 a token, weighted 1:3; chip 1: $1e-6 a token
    assert cost[0] == pytest.approx([(1e-6 * 100 + 2e-6 * 300) / 400, 1e-6])
    # no stream with demand may use a chip: infinite cost, last
    assert np.isinf(cost_per_token_usd(price, rates, np.zeros((2, 2), bool), np.array([[1.0, 1.0]]))).all()


def test_orders():
    base = np.array([0, 1, 2, 3])  # pools of chips 0, 1 at two sites
    pool_chip = np.array([0, 1, 0, 1])
    only = np.array([False, True])
    # without an inference-only chip the engine's order stays
    assert inference_orders(base, pool_chip, np.array([False, False]), np.ones((1, 2))) is None
    # chip 1 inference-only: its pools first (ties in the engine's order), then the others
    assert inference_orders(base, pool_chip, only, np.array([[5.0, 9.0]])).tolist() == [[1, 3, 0, 2]]
    # training's reserve takes the others only, newest first
    assert training_order(base, pool_chip, only).tolist() == [2, 0]


def test_training_never_on_an_inference_only_chip():
    fleet, sim = simulate(scenario(training=True))
    inf2 = fleet.chip_ids.index("inferentia2")
    # no training rate is even evaluated on it, and the run trains on Trainium2
    assert np.isnan(sim.throughput.training_tokens_per_chip_s[0, inf2]).all()
    pools = sim.run_pool[0, :, 0]
    assert (pools >= 0).any() and all(p % len(fleet.chips) != inf2 for p in pools[pools >= 0])
    # the same roadmap without 'use: inference' evaluates training there (the mask is what kept it off)
    fleet_any, sim_any = simulate(scenario(inf_use="any", training=True))
    assert np.isfinite(sim_any.throughput.training_tokens_per_chip_s[0, inf2]).any()


def test_inference_on_the_cheapest_inference_only_pool_first():
    # both generations inference-only: the order between them is the cost per output token
    fleet, sim = simulate(scenario(trn_use="inference"))
    rates = sim.throughput.inference_output_tokens_per_chip_s[0]
    trn, inf = fleet.chip_ids.index("trainium2"), fleet.chip_ids.index("inferentia2")
    per_token = np.array([1.50, 1.08]) / (3600 * rates)
    assert per_token[trn] < per_token[inf]  # Trainium2 is cheaper per token at $1.50/h
    # demand fits in either pool: all of it is served where it is cheapest
    total, by_year = served_by_summary(sim)
    assert total == pytest.approx({"trainium2": 1.0, "inferentia2": 0.0})
    # Trainium2 at $9/h costs more per token than Inferentia2: the order flips
    assert 9.0 / rates[trn] > 1.08 / rates[inf]
    _, dear = simulate(scenario(trn_use="inference", trn_price="$9/h"))
    assert served_by_summary(dear)[0] == pytest.approx({"trainium2": 0.0, "inferentia2": 1.0})
    # with no inference-only generation the engine's order (oldest first: Inferentia2, 2023) holds
    _, plain = simulate(scenario(inf_use="any"))
    assert served_by_summary(plain)[0] == pytest.approx({"trainium2": 0.0, "inferentia2": 1.0})


def test_served_tokens_split_by_delivered_rate():
    fleet, sim = simulate(scenario(trn_use="inference"))
    by_chip = served_tokens_by_chip(sim)
    # every served token is counted once, on some chip
    assert by_chip.sum(axis=-1) == pytest.approx(sim.served_tokens.sum(axis=-1))


def test_loader_refuses_training_on_inference_only():
    bad = scenario(training=True).replace("min_chips: 64}", "min_chips: 64, chips: [trainium2, inf2]}")
    with pytest.raises(ScenarioError) as e:
        load_scenario_text(bad)
    (p,) = e.value.problems
    assert p.path == "demand.training[0].chips[1]" and "inference only" in p.message and "use: inference" in p.hint
    # every generation inference-only: the run has nowhere to train
    with pytest.raises(ScenarioError) as e:
        load_scenario_text(scenario(trn_use="inference", training=True))
    (p,) = e.value.problems
    assert p.path == "demand.training[0]" and "no chip to train on" in p.message
    with pytest.raises(ScenarioError) as e:
        load_scenario_text(scenario(inf_use="serving"))
    assert "roadmap[1].use" in str(e.value)


def test_served_by_in_json_csv_and_table(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(scenario(trn_use="inference").replace("tokens_per_day: 1e11", "tokens_per_day: 2e13"))
    res = gigawatt.run(path)
    summ = res.summary()
    shares = summ["inference"]["served_by"]
    assert set(shares) == {"trainium2", "inferentia2"} and sum(shares.values()) == pytest.approx(1.0)
    assert 0 < shares["inferentia2"] < 1  # more than the Trainium2 pool holds: both serve
    years = res.years()
    assert {"served_by_trainium2_share", "served_by_inferentia2_share"} <= set(years.columns)
    assert years["served_by_trainium2_share"][0] == pytest.approx(summ["years"][0]["served_by"]["trainium2"])
    import pandas as pd

    res.save(tmp_path / "out")
    csv = pd.read_csv(tmp_path / "out" / "years.csv")
    assert csv["served_by_inferentia2_share"][0] == pytest.approx(summ["years"][0]["served_by"]["inferentia2"])
    out = CliRunner().invoke(app, ["run", str(path)])
    assert out.exit_code == 0 and "inference served by chip" in out.output
    data = json.loads(CliRunner().invoke(app, ["run", str(path), "--json"]).output)
    assert data["years"][0]["served_by"] == pytest.approx(summ["years"][0]["served_by"])


def test_cheapest_order_over_every_pool():
    # Inferentia2 may train too ('any'): the engine's order (oldest first) serves on it; with
    # inference_order: cheapest, Trainium2 ($0.09 a million output tokens against $0.41) serves first
    text = scenario(inf_use="any")
    _, oldest = simulate(text)
    assert served_by_summary(oldest)[0] == pytest.approx({"trainium2": 0.0, "inferentia2": 1.0})
    _, cheapest = simulate(text.replace("demand:\n", "demand:\n  inference_order: cheapest\n"))
    assert served_by_summary(cheapest)[0] == pytest.approx({"trainium2": 1.0, "inferentia2": 0.0})
    # and the order follows the price: at $9/h Trainium2 is dearer per token
    _, dear = simulate(scenario(inf_use="any", trn_price="$9/h").replace("demand:\n", "demand:\n  inference_order: cheapest\n"))
    assert served_by_summary(dear)[0] == pytest.approx({"trainium2": 0.0, "inferentia2": 1.0})
