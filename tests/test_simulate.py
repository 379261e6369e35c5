"""The fleet engine against numbers worked by hand, with a throughput matrix given directly."""

import math

import numpy as np
import pytest

from gigawatt import catalog, power
from gigawatt.fleet import build_fleet
from gigawatt.fleet.demand import agentic_request_shape, growth_factor, resolve_workloads
from gigawatt.fleet.simulate import daily_profile, served_fraction, simulate
from gigawatt.fleet.simulation import Throughput
from gigawatt.fleet.throughput import BUCKET_CHIPS
from gigawatt.scenario import load_scenario_text
from gigawatt.units import SECONDS_PER_MONTH

BASE = """\
schema_version: 1
name: sim
horizon: {start: 2026-01, end: 2026-12}
seed: 11
deal:
  commitment: {total: $1B, start: 2026-01, term: 1 years}
sites:
  - name: a
    pue: 1.25
    energized: {2026-01: 50 MW}
roadmap:
  - {chip: trainium2, system: trn2-48xlarge, from: 2025-01}
prices:
  trainium2: $2.00/h
demand:
  checkpoint_interval: 1 s
  restart_time: 0 s
  idle_power_fraction: 20%
"""

W = None


def n_chips():
    """Chips the 50 MW site holds in its first month (the buildout's count), and the all-in IT watts per chip."""
    s = catalog.get_system("trn2-48xlarge")
    c = catalog.get_chip(s.chip)
    w = float(power.it_power_w_per_chip(c.tdp_w, s.host_power_w, s.node_other_power_w, s.chips_per_node,
                                        s.network_power_w_per_chip))
    n = int(build_fleet(load_scenario_text(BASE)).installed[0, 0, 0, 0])
    assert 0 < n <= math.floor(50e6 / w)  # no more than the power holds
    return n, w


def setup(demand_yaml, train_rate=100.0, infer_rate=50.0):
    scn = load_scenario_text(BASE + demand_yaml)
    fleet = build_fleet(scn)
    work = resolve_workloads(scn, fleet, lambda model: 6e9)  # 6e9 FLOP per token, by fiat
    train = np.full((len(work.runs), 1, len(BUCKET_CHIPS)), train_rate)
    infer = np.full((len(work.streams), 1), infer_rate)
    th = Throughput(train, infer, [], BUCKET_CHIPS.astype(float))
    return scn, fleet, work, simulate(scn, fleet, work, th)


def test_inference_takes_what_its_peak_needs():
    # 1e12 tokens a day, 900 in / 100 out: 1e11 output tokens a day = 1,157,407.4 tokens/s;
    # peak 1.5x -> 1,736,111.1 tokens/s at 50 per chip -> 34,723 chips (rounded up)
    scn, fleet, work, sim = setup("""  inference:
    - {name: s, model: llama3.1-70b, tokens_per_day: 1e12, at: 2026-01, input_tokens: 900, output_tokens: 100,
       peak_to_mean: 1.5}
""")
    n, _ = n_chips()
    assert n > 34_723
    assert sim.stream_chips[0, 0, 0, 0] == 34_723
    assert sim.served_tokens[0, 0, 0] == pytest.approx(1e12 * 31)  # all of January's tokens
    assert sim.summary_dict()["inference"]["served_share"] == pytest.approx(1.0)


def test_short_capacity_serves_its_share():
    # demand 10x what the site can carry, flat daily profile: the served share is capacity / demand
    n, _ = n_chips()
    per_day = n * 50.0 * 86400 * 10 * 10  # output share 0.1 -> output rate 10x capacity
    scn, fleet, work, sim = setup(f"""  inference:
    - {{name: s, model: llama3.1-70b, tokens_per_day: {per_day}, at: 2026-01, input_tokens: 900, output_tokens: 100}}
""")
    assert sim.stream_chips[0, 0, 0, 0] == n
    assert sim.served_tokens[0, 0, 0] / sim.demand_tokens[0, 0, 0] == pytest.approx(0.1)


def test_training_finishes_when_hand_count_says():
    # 20,000 chips at 100 tokens/s each = 2e6 tokens/s; 5.184e12 tokens take 2,592,000 s = 30 days
    scn, fleet, work, sim = setup("""  training:
    - {name: r, model: llama3.1-8b, tokens: 5.184e12, start: 2026-03, min_chips: 20000, max_chips: 20000}
""")
    (event,) = sim.events()
    assert event["start"] == "2026-03-01"
    assert event["chips"] == 20_000
    # March has 31 days: the run ends on day 30 (goodput ~1: 1 s checkpoints, no restart time)
    assert event["finish"] == "2026-03-31"
    assert sim.run_finish[0, 0] == pytest.approx(2 + 30 / 31, abs=1e-3)
    assert sim.training_flop()[0].sum() == pytest.approx(5.184e12 * 6e9, rel=1e-9)
    # chips are busy only for the 30/31 of March they train
    assert sim.busy_chips()[0, 2, 0, 0] == pytest.approx(20_000 * 30 / 31, rel=1e-3)


def test_run_waits_for_its_minimum():
    n, _ = n_chips()
    scn, fleet, work, sim = setup(f"""  training:
    - {{name: big, model: llama3.1-8b, tokens: 1e12, start: 2026-01, min_chips: {n + 1}}}
""")
    (event,) = sim.run_rows()
    assert event["status"] == "not finished" and event["at_horizon"] == "waiting" and event["start"] is None
    assert event["delay_days"] is None and event["finish"] is None
    assert sim.run_chips.sum() == 0
    # every month from its start it waited because no pool has its minimum chips installed
    (run,) = sim.summary_dict()["training_runs"]
    assert [p["reason"] for p in run["history"]["pauses"]] == ["min_chips"]
    assert run["paused_months"] == {"min_chips": round(365 * 86400 / SECONDS_PER_MONTH, 2)}  # all of 2026


def test_earliest_deadline_first():
    n, _ = n_chips()
    half = n // 2 + 1  # two runs cannot both fit
    scn, fleet, work, sim = setup(f"""  training:
    - {{name: late, model: llama3.1-8b, tokens: 1e18, start: 2026-01, deadline: 2026-12, min_chips: {half}, max_chips: {half}}}
    - {{name: soon, model: llama3.1-8b, tokens: 1e18, start: 2026-01, deadline: 2026-06, min_chips: {half}, max_chips: {half}}}
""")
    late, soon = sim.events()
    assert soon["start"] == "2026-01-01" and late["start"] is None


def test_power_drawn_between_idle_and_full():
    n, w = n_chips()
    scn, fleet, work, sim = setup("""  training:
    - {name: r, model: llama3.1-8b, tokens: 1e18, start: 2026-01, min_chips: 1000, max_chips: 1000}
""")
    util = 1000 / n
    expected = n * w * (0.2 + 0.8 * util)
    assert sim.power_drawn_w[0, 0, 0, 0] == pytest.approx(expected)
    # energy drawn = power x PUE x the month's seconds
    assert sim.energy_drawn_j()[0, 0, 0, 0] == pytest.approx(expected * 1.25 * 31 * 86400)


def test_daily_profile_and_served_fraction():
    p = daily_profile(3.5)
    assert p.mean() == pytest.approx(1.0) and p.max() == pytest.approx(3.5, rel=1e-3) and p.min() > 0
    # capacity at the peak serves everything; at the mean it serves less than all
    assert float(served_fraction(3.5, 1.0, 3.5)) == pytest.approx(1.0)
    assert 0.5 < float(served_fraction(1.0, 1.0, 3.5)) < 1.0


def test_growth_schedule_and_agentic_shape():
    assert growth_factor([0, 6, 12], 0, 4.0).tolist() == pytest.approx([1.0, 2.0, 4.0])
    shape = agentic_request_shape(20000, 530, 31, 3000, 0.857)
    # 31 x 20,000 + 3,530 x 31 x 30 / 2 = 2,261,450 input tokens per task
    assert shape["task_input_tokens"] == pytest.approx(2_261_450)
    assert shape["task_output_tokens"] == pytest.approx(31 * 530)


def test_same_seed_same_results_and_samples_differ():
    demand = """  training:
    - {name: r, model: llama3.1-8b, tokens: 2e12, start: 2026-01, min_chips: 5000, max_chips: 5000}
"""
    scn = load_scenario_text(BASE.replace("checkpoint_interval: 1 s", "checkpoint_interval: 2 hours") + demand)
    fleet = build_fleet(scn, n_samples=64)
    work = resolve_workloads(scn, fleet, lambda m: 6e9)
    th = Throughput(np.full((1, 1, len(BUCKET_CHIPS)), 100.0), np.zeros((0, 1)), [], BUCKET_CHIPS.astype(float))
    a = simulate(scn, fleet, work, th)
    b = simulate(scn, fleet, work, th)
    assert np.array_equal(a.run_finish, b.run_finish)
    assert np.unique(a.run_finish).size > 1  # failures differ from sample to sample


# ---------------------------------------------------------------- the engine's stages, by hand


def _stages(demand_yaml, train_rate=100.0, infer_rate=50.0):
    """A fresh engine state for a BASE scenario with ``demand_yaml``, and its fleet."""
    from gigawatt.fleet.simulate import _State

    scn, fleet, work, _ = setup(demand_yaml, train_rate, infer_rate)
    th = Throughput(np.full((len(work.runs), 1, len(BUCKET_CHIPS)), train_rate),
                    np.full((len(work.streams), 1), infer_rate), [], BUCKET_CHIPS.astype(float))
    return fleet, _State.start(fleet, work, th)


def test_take_for_stream_rounds_chips_up_to_cover_the_need():
    from gigawatt.fleet.serving import take_for_stream

    fleet, state = _stages("""  inference:
    - {name: s, model: llama3.1-70b, tokens_per_day: 1e12, at: 2026-01, input_tokens: 900, output_tokens: 100}
""")
    free = state.installed[:, 0, :].copy()
    # 1,000.5 tokens/s at 50 per chip: ceil(20.01) = 21 chips, 1,050 tokens/s of capacity
    capacity, take = take_for_stream(state, 0, np.array([1000.5]), free)
    assert capacity.tolist() == [1050.0]
    assert take[0, 0] == 21
    assert free[0, 0] == state.installed[0, 0, 0] - 21


def test_advance_finishes_within_the_period_by_hand():
    from gigawatt.fleet.placement import advance

    fleet, state = _stages("""  training:
    - {name: r, model: llama3.1-8b, tokens: 1e12, start: 2026-01, min_chips: 1000}
""")
    period_s = fleet.period_s[0]  # January: 31 days
    tokens_per_s = 1000 * 100.0  # 1,000 chips at 100 tokens/s, goodput 1
    state.remaining[:, 0] = 0.25 * tokens_per_s * period_s  # a quarter of the month's work is left
    advance(state, 0, 0, np.array([1000.0]), np.array([tokens_per_s]))
    # u = R / (n r g) = period / 4: it finishes at t + 1/4, busy 1,000 x 1/4 chips, all its tokens done
    assert state.run_finish[0, 0] == pytest.approx(0.25)
    assert state.run_busy[0, 0, 0] == pytest.approx(250.0)
    assert state.run_progress[0, 0, 0] == pytest.approx(0.25 * tokens_per_s * period_s)
    assert state.remaining[0, 0] == 0.0 and state.run_chips[0, 0, 0] == 1000.0
    # holding its chips half the day, it counts half as many busy
    state.remaining[:, 0] = 0.25 * tokens_per_s * period_s
    advance(state, 0, 0, np.array([1000.0]), np.array([tokens_per_s]), 0.5)
    assert state.run_busy[0, 0, 0] == pytest.approx(125.0)


def test_advance_runs_the_whole_period_when_work_is_left():
    from gigawatt.fleet.placement import advance

    fleet, state = _stages("""  training:
    - {name: r, model: llama3.1-8b, tokens: 1e18, start: 2026-01, min_chips: 1000}
""")
    period_s = fleet.period_s[0]
    advance(state, 0, 0, np.array([1000.0]), np.array([1e5]))
    assert np.isnan(state.run_finish[0, 0]) and state.run_busy[0, 0, 0] == 1000.0
    assert state.remaining[0, 0] == pytest.approx(1e18 - 1e5 * period_s)


def test_place_stays_on_its_pool_and_waits_below_its_minimum():
    from gigawatt.fleet.placement import place

    n, _ = n_chips()
    fleet, state = _stages("""  training:
    - {name: r, model: llama3.1-8b, tokens: 1e18, start: 2026-01, min_chips: 1000, max_chips: 4000}
""")
    active, nowhere = np.array([True]), np.array([-1])
    pool, chips, rate, hours = place(state, 0, state.installed[None, :, 0, :].copy(), active, nowhere)
    assert pool.tolist() == [0] and chips.tolist() == [4000.0] and rate.tolist() == [100.0] and hours.tolist() == [1]
    pool, chips, _, _ = place(state, 0, np.array([[[999.0]]]), active, nowhere)  # fewer free chips than its minimum
    assert pool.tolist() == [-1] and chips.tolist() == [0.0]
    assert n > 4000


def test_without_a_demand_section_the_schema_defaults_apply():
    from gigawatt.fleet.demand import Workloads
    from gigawatt.perf.goodput import DEFAULT_CHECKPOINT_INTERVAL_S, DEFAULT_RESTART_S
    from gigawatt.scenario.demand_schema import Demand

    # perf.goodput restates the schema's defaults for perf train (perf cannot import the schema)
    assert (DEFAULT_CHECKPOINT_INTERVAL_S, DEFAULT_RESTART_S) == (Demand().checkpoint_interval_s, Demand().restart_s)
    scn = load_scenario_text(BASE.split("demand:")[0])
    assert scn.demand is None
    fleet = build_fleet(scn)
    th = Throughput(np.zeros((0, 1, len(BUCKET_CHIPS))), np.zeros((0, 1)), [], BUCKET_CHIPS.astype(float))
    sim = simulate(scn, fleet, Workloads(), th)
    # nothing runs: every chip idles at the schema's idle power fraction
    assert sim.idle_power_fraction == Demand().idle_power_fraction
    assert np.array_equal(sim.power_drawn_w, fleet.it_power_w() * Demand().idle_power_fraction)


def test_runs_without_a_deadline_go_last_however_late_the_others_are():
    from types import SimpleNamespace as R

    from gigawatt.fleet.policies import earliest_deadline_first

    runs = [R(deadline=None, start=0, priority=5), R(deadline=10**12, start=3, priority=0),
            R(deadline=None, start=0, priority=9), R(deadline=24_000, start=9, priority=0)]
    assert earliest_deadline_first(runs, 0).tolist() == [3, 1, 2, 0]
