"""Allocation between inference and training, against numbers worked by hand (docs/allocation.md).

The fleet is one 50 MW site of Trainium2 (67,904 chips, tests/test_simulate.py's
BASE); the throughput matrix is given directly: every stream serves 50 output
tokens/s per chip, every run trains at 100 tokens/s per chip, so that chips
and tokens convert by hand. Requests are 900 tokens in and 100 out: an output
share of 0.1, so a stream whose mean load is ``m`` chips has ``m x 50 x 86,400 /
0.1`` tokens a day.
"""

import math

import numpy as np
import pytest

from gigawatt.errors import ScenarioError
from gigawatt.fleet import build_fleet
from gigawatt.fleet.demand import resolve_workloads
from gigawatt.fleet.policies import daily_profile, pooled_profile, reserve_share
from gigawatt.fleet.simulate import simulate
from gigawatt.fleet.simulation import Throughput
from gigawatt.fleet.throughput import BUCKET_CHIPS
from gigawatt.scenario import load_scenario_text
from gigawatt.units import SECONDS_PER_MONTH

BASE = """\
schema_version: 1
name: alloc
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
  idle_power_fraction: 20%
"""
N = 67_904  # chips the site holds (tests/test_simulate.py: n_chips)
SHAPE = "input_tokens: 900, output_tokens: 100"


def per_day(mean_chips: float) -> float:
    """Tokens a day of a stream whose mean load is ``mean_chips`` chips at 50 output tokens/s each."""
    return mean_chips * 50.0 * 86400 / 0.1


def stream(name: str, mean_chips: float, peak: float, extra: str = "") -> str:
    return (f"    - {{name: {name}, model: llama3.1-70b, tokens_per_day: {per_day(mean_chips)!r}, at: 2026-01, "
            f"{SHAPE}, peak_to_mean: {peak}{extra}}}\n")


def run(demand: str, reliability: str = "  checkpoint_interval: 1 s\n  restart_time: 0 s\n", infer_rate=50.0,
        notes=()):
    scn = load_scenario_text(BASE + reliability + demand)
    fleet = build_fleet(scn)
    assert fleet.installed[0, 0, 0, 0] == N
    work = resolve_workloads(scn, fleet, lambda model: 6e9)
    th = Throughput(np.full((len(work.runs), 1, len(BUCKET_CHIPS)), 100.0),
                    np.full((len(work.streams), 1), infer_rate), list(notes), BUCKET_CHIPS.astype(float))
    return simulate(scn, fleet, work, th)


# ---------------------------------------------------------------- sizing inference on its combined peak


def test_pooled_peak_by_hand():
    # two streams of mean 100 chips, peaks 2x and 1x: coinciding, the pool peaks at (200 + 100) / 200 = 1.5x
    profile, peak = pooled_profile([100, 100], [2.0, 1.0])
    assert peak == pytest.approx(1.5) and profile.mean() == pytest.approx(1.0)
    # a coincidence factor of 0.8: the combined peak is 0.8 x 300 = 240 chips, 1.2x the summed mean
    profile, peak = pooled_profile([100, 100], [2.0, 1.0], 0.8)
    assert peak == pytest.approx(1.2) and profile.max() == pytest.approx(1.2) and profile.mean() == pytest.approx(1.0)
    # never below the mean
    assert pooled_profile([100, 100], [2.0, 1.0], 0.1)[1] == 1.0


@pytest.mark.parametrize("how, chips", [
    ("  allocation: legacy\n", [200, 100]),  # each on its own peak: 2 x 100 and 1 x 100
    ("", [150, 150]),  # pooled, peaks coincide: 1.5 x 100 each, the same 300 chips in all
    ("  inference_coincidence: 0.8\n", [120, 120]),  # pooled at 1.2 x 100 each: 240 chips
])
def test_two_streams_coinciding_or_pooled(how, chips):
    sim = run(how + "  inference:\n" + stream("a", 100, 2.0) + stream("b", 100, 1.0))
    assert sim.stream_chips[0, 0, :, 0].tolist() == chips
    assert sim.served_tokens[0, 0].tolist() == pytest.approx(sim.demand_tokens[0, 0].tolist())  # all served
    summary = sim.summary_dict()
    assert summary["allocation"]["mode"] == ("legacy" if "legacy" in how else "pooled")
    if "legacy" not in how:
        # pooled, both streams keep 100 chips busy on average: what they hold beyond that is idle off-peak
        assert sim.stream_busy[0, 0, :, 0].tolist() == pytest.approx([100.0, 100.0])
        assert summary["allocation"]["years"][0]["pooled_peak_to_mean"] == pytest.approx(sum(chips) / 200)
        assert summary["idle_share"] == pytest.approx(1 - 200 / N)
    else:  # legacy counts every chip a stream holds as busy
        assert summary["idle_share"] == pytest.approx(1 - 300 / N)


def test_pooled_take_one_group_is_the_array_path():
    from gigawatt.fleet.policies import pooled_take

    rng = np.random.default_rng(0)
    for _ in range(300):
        w, p = rng.integers(1, 5), rng.integers(1, 8)
        avail = np.floor(rng.uniform(0, 1000, (2, p))) * (rng.uniform(size=(2, p)) > 0.2)
        usable = rng.uniform(size=(w, p)) > 0.3
        rates = np.where(usable, rng.uniform(0.5, 20, (w, p)), 0.0)
        need, order = rng.uniform(0, 3000, w), rng.permutation(p)
        both = pooled_take(avail, need, rates, usable, order)
        one = [pooled_take(avail[i:i + 1], need, rates, usable, order)[0] for i in range(2)]
        assert np.array_equal(both, np.stack(one))
        assert np.all(both.sum(axis=1) <= avail + 1e-9)


def test_serving_busy_is_serving_load_reduced(monkeypatch):
    """The engine's busy chips (a daily mean) and idle hours, computed from sorted loads and at each hour's
    quarter-hour of highest load, against the full quarter-hour array they summarize: the idle hours
    exactly, the mean to rounding."""
    from gigawatt.fleet import policies
    from gigawatt.fleet.policies import idle_by_hour, pooled_profiles, serving_busy, serving_load

    monkeypatch.setattr(policies, "DIRECT_MOST", 0)  # every size by the sorted loads

    rng = np.random.default_rng(1)
    for trial in range(200):
        u, w, p = rng.integers(1, 6), rng.integers(1, 4), rng.integers(1, 7)
        chips = np.floor(rng.random((u, w, p)) * 1000) * (rng.random((u, w, p)) < 0.7)
        rates = rng.random((u, w, p)) * 100 * (rng.random((u, w, p)) < 0.9)
        rates = rates[0] if trial % 2 else rates
        mean_out = rng.random((u, w)) * 30000 * (rng.random((u, w)) < 0.9)
        profile, _ = pooled_profiles(rng.random((u, w)), list(1 + 2 * rng.random(w)))
        capacity = (chips * (rates if rates.ndim == 3 else rates[None])).sum(axis=-1)
        order = rng.permutation(p)
        load = np.minimum(mean_out[:, :, None] * profile[:, None, :], capacity[..., None])
        full = serving_load(chips, rates, load, order)
        busy, idle = serving_busy(chips, rates, mean_out, profile, capacity, order)
        assert np.array_equal(idle, idle_by_hour((chips[..., None] - full).sum(axis=1)))
        np.testing.assert_allclose(busy, full.mean(axis=-1), rtol=1e-12, atol=1e-9)


def test_a_short_fleet_is_shared_pro_rata_when_pooled():
    # two flat streams each needing 0.75 N chips = 50,928: legacy serves the first whole and the second
    # with what is left (16,976 chips, 1/3); pooled gives each N / 2 = 33,952 chips, 2/3 of its tokens
    demand = "  inference:\n" + stream("a", 50_928, 1.0) + stream("b", 50_928, 1.0)
    legacy = run("  allocation: legacy\n" + demand)
    assert legacy.stream_chips[0, 0, :, 0].tolist() == [50_928, 16_976]
    assert (legacy.served_tokens[0, 0] / legacy.demand_tokens[0, 0]).tolist() == pytest.approx([1.0, 1 / 3])
    pooled = run(demand)
    assert pooled.stream_chips[0, 0, :, 0].tolist() == [33_952, 33_952]
    assert (pooled.served_tokens[0, 0] / pooled.demand_tokens[0, 0]).tolist() == pytest.approx([2 / 3, 2 / 3])
    years = pooled.summary_dict()["inference"]["streams"][0]["years"]
    assert years[0]["limited_by"] == "chips"
    assert years[0]["capacity_tokens_per_s"] == pytest.approx(33_952 * 50)
    assert years[0]["peak_demand_tokens_per_s"] == pytest.approx(50_928 * 50)


# ---------------------------------------------------------------- training backfills the off-peak hours


def test_training_backfills_the_hours_below_the_mean():
    # one stream of mean 33,950 chips with a 2x peak holds 67,900 chips; 4 are free all day. A run of exactly
    # 4 + 33,950 chips fits wherever the stream keeps at most its mean busy: where the profile is at most 1
    s = daily_profile(2.0)
    quarters = int((s <= 1.0).sum())
    assert quarters == 55
    hours = quarters // 4  # whole hours free through all four quarter-hours: 13 of 24
    # by the formula: exp(b sin 2 pi t) / I0(b) <= 1 where sin 2 pi t <= x = ln I0(b) / b, a share 1/2 + asin(x) / pi
    lo, hi = 0.0, 10.0
    for _ in range(100):  # b with exp(b) / I0(b) = 2
        b = (lo + hi) / 2
        lo, hi = (b, hi) if math.exp(b) / float(np.i0(b)) < 2.0 else (lo, b)
    x = math.log(float(np.i0(b))) / b
    assert 0.5 + math.asin(x) / math.pi == pytest.approx(quarters / 96, abs=1 / 96)
    assert abs(hours / 24 - (0.5 + math.asin(x) / math.pi)) < 1 / 24
    sim = run("  inference:\n" + stream("s", 33_950, 2.0)
              + f"  training:\n    - {{name: r, model: llama3.1-8b, tokens: 1e18, start: 2026-01, "
                f"min_chips: {4 + 33_950}, max_chips: {4 + 33_950}}}\n")
    assert sim.stream_chips[0, 0, 0, 0] == 67_900
    assert sim.served_tokens[0, 0, 0] == pytest.approx(sim.demand_tokens[0, 0, 0])  # inference loses nothing
    assert sim.run_chips[0, 0, 0] == 33_954
    assert sim.run_share[0, 0, 0] == pytest.approx(hours / 24)
    assert sim.run_busy[0, 0, 0] == pytest.approx(33_954 * hours / 24)
    # of its chip-time, all but the 4 chips free all day was lent by inference
    assert sim.lent[0, 0, 0] == pytest.approx(33_950 * hours / 24)
    summary = sim.summary_dict()
    (r,) = summary["training_runs"]
    assert r["history"]["placements"][0]["day_share"] == pytest.approx(hours / 24)
    assert r["backfill_share"] == pytest.approx(1.0)
    assert summary["allocation"]["training_on_inference_chips_share"] == pytest.approx(33_950 / 33_954)


def test_a_daily_preemption_costs_half_a_checkpoint_and_a_restart():
    # the stream holds 67,900 chips at its 2x peak; an 8-chip run finds 8 free in every hour but the peak hour
    # (4 free all day, and inference leaves at least 4 idle except in the quarter-hour of its peak): 23 hours.
    # Hourly checkpoints and a 30-minute restart lose 30 + 30 minutes each day it is preempted: it trains
    # 23/24 - 1/24 = 22/24 of January, 8 x 100 tokens/s at that share (8 chips seldom fail: within 0.5%)
    sim = run("  inference:\n" + stream("s", 33_950, 2.0)
              + "  training:\n    - {name: r, model: llama3.1-8b, tokens: 1e18, start: 2026-01, min_chips: 8,"
                " max_chips: 8}\n",
              reliability="  checkpoint_interval: 1 hour\n  restart_time: 30 minutes\n")
    assert sim.run_share[0, 0, 0] == pytest.approx(23 / 24)
    assert sim.run_progress[0, 0, 0] == pytest.approx(8 * 100 * 22 / 24 * 31 * 86400, rel=5e-3)
    assert sim.summary_dict()["allocation"]["preemption_lost_hours"] == pytest.approx(1.0)


def test_without_backfill_training_waits_for_chips_free_all_day():
    sim = run("  backfill: false\n  inference:\n" + stream("s", 33_950, 2.0)
              + "  training:\n    - {name: r, model: llama3.1-8b, tokens: 1e18, start: 2026-01, min_chips: 8,"
                " max_chips: 8}\n")
    assert sim.run_chips[0, 0, 0] == 0
    (r,) = sim.summary_dict()["training_runs"]
    assert r["history"]["pauses"][0]["reason"] == "inference"
    assert r["paused_months"]["inference"] == pytest.approx(365 * 86400 / SECONDS_PER_MONTH, abs=0.01)


# ---------------------------------------------------------------- reserves and priority


def test_a_training_reserve_is_never_served_from():
    # 30% of 67,904 chips held for training: ceil(20,371.2) = 20,372; a flat stream 10x too big gets the rest
    sim = run("  reserve: {training: 30%}\n  inference:\n" + stream("s", 10 * N, 1.0)
              + "  training:\n    - {name: r, model: llama3.1-8b, tokens: 1e18, start: 2026-01, min_chips: 1000,"
                " max_chips: 20000}\n")
    assert sim.stream_chips[0, 0, 0, 0] == N - 20_372
    assert sim.served_tokens[0, 0, 0] / sim.demand_tokens[0, 0, 0] == pytest.approx((N - 20_372) / (10 * N))
    assert sim.run_chips[0, 0, 0] == 20_000
    summary = sim.summary_dict()
    assert summary["inference"]["streams"][0]["years"][0]["limited_by"] == "training_reserve"
    assert summary["allocation"]["reserve"] == {"training": 0.3, "inference": 0.0}
    assert "30% held for training" in summary["allocation"]["text"]


def test_a_reserve_schedule_holds_from_its_month():
    sim = run("  reserve: {training: {2026-07: 50%}}\n  inference:\n" + stream("s", 10 * N, 1.0))
    held = sim.stream_chips[0, :, 0, 0]
    assert held[:6].tolist() == [N] * 6 and held[6:].tolist() == [N - N // 2] * 6
    assert reserve_share({"2026-07": 0.5}, np.arange(24312, 24324)).tolist() == [0.0] * 6 + [0.5] * 6


def test_priority_inference_training_and_deadline():
    demand = ("  inference:\n" + stream("s", 10 * N, 1.0)
              + "  training:\n    - {name: r, model: llama3.1-8b, tokens: 1e18, start: 2026-01, deadline: 2026-03,"
                " min_chips: 10000, max_chips: 10000}\n")
    # inference first (the default): a flat stream 10x too big takes every chip, the run waits
    first = run(demand)
    assert first.run_chips.sum() == 0
    assert first.summary_dict()["training_runs"][0]["history"]["pauses"][0]["reason"] == "inference"
    # training first: the run holds its 10,000 chips all day, inference gets the rest
    train = run("  priority: training\n" + demand)
    assert train.run_chips[0, :, 0].tolist() == [10_000] * 12 and train.run_share[0, :, 0].tolist() == [1.0] * 12
    assert train.stream_chips[0, 0, 0, 0] == N - 10_000
    assert train.summary_dict()["inference"]["streams"][0]["years"][0]["limited_by"] == "training_priority"
    # deadline: first while it can still make its deadline (January to March), then it yields to inference
    late = run("  priority: deadline\n" + demand)
    assert late.run_chips[0, :, 0].tolist() == [10_000] * 3 + [0] * 9
    (r,) = late.summary_dict()["training_runs"]
    assert [(p["from"], p["to"]) for p in r["history"]["placements"]] == [("2026-01-01", "2026-03-31")]
    assert [(p["from"], p["to"], p["reason"], p["started"]) for p in r["history"]["pauses"]] == [
        ("2026-04-01", "2026-12-31", "inference", True)]
    assert r["chip_months_received"] == pytest.approx(10_000 * 90 * 86400 / SECONDS_PER_MONTH)


def test_runs_ahead_take_the_chips():
    half = N // 2 + 1  # two runs cannot both fit
    sim = run(f"""  training:
    - {{name: a, model: llama3.1-8b, tokens: 1e18, start: 2026-01, deadline: 2026-06, min_chips: {half}, max_chips: {half}}}
    - {{name: b, model: llama3.1-8b, tokens: 1e18, start: 2026-01, deadline: 2026-12, min_chips: {half}, max_chips: {half}}}
""")
    a, b = sim.summary_dict()["training_runs"]
    assert a["history"]["pauses"] == []
    assert [(p["reason"], p["started"]) for p in b["history"]["pauses"]] == [("runs_ahead", False)]


def test_legacy_takes_no_new_settings():
    with pytest.raises(ScenarioError, match="legacy"):
        load_scenario_text(BASE + "  allocation: legacy\n  priority: training\n")
    with pytest.raises(ScenarioError, match="100%"):
        load_scenario_text(BASE + "  reserve: {training: 60%, inference: 50%}\n")


# ---------------------------------------------------------------- results that explain themselves


def test_a_run_not_finished_by_the_horizon():
    sim = run(f"  training:\n    - {{name: big, model: llama3.1-8b, tokens: 1e12, start: 2026-01, deadline: 2026-06,"
              f" min_chips: {N + 1}}}\n")
    (event,) = sim.run_rows()
    assert event["status"] == "not finished" and event["at_horizon"] == "waiting"
    assert event["finish"] is None and event["delay_days"] is None
    assert event["overdue_days_at_horizon"] == 1 + 184  # 2026-06-30 to 07-01, then July to December
    (r,) = sim.summary_dict()["training_runs"]
    assert r["first_start"] is None and r["last_chip"] is None
    assert [(p["reason"], p["started"]) for p in r["history"]["pauses"]] == [("min_chips", False)]
    assert r["chip_months_received"] == 0.0 and r["share_done"] == 0.0
    # its minimum chips on its only chip, all day: 1e12 tokens / (67,905 x 100 tokens/s) at ~1 goodput
    assert r["chip_months_needed"] == pytest.approx(1e12 / 100 / SECONDS_PER_MONTH, rel=1e-3)


def test_first_start_and_last_chip():
    # the run trains from March; January and February it has not started (no pause), then it finishes
    sim = run("  training:\n    - {name: r, model: llama3.1-8b, tokens: 5.184e12, start: 2026-03, min_chips: 20000,"
              " max_chips: 20000}\n")
    (r,) = sim.summary_dict()["training_runs"]
    assert r["first_start"] == r["start"] == "2026-03-01"
    assert r["last_chip"] == r["chip"] == "trainium2" and r["last_site"] == "a"
    assert r["status"] == "done" and r["history"]["pauses"] == []
    (p,) = r["history"]["placements"]
    assert (p["from"], p["to"], p["chips"]) == ("2026-03-01", "2026-03-31", 20_000)
    assert p["goodput"] == pytest.approx(1.0, abs=1e-3) and p["day_share"] == 1.0
    # MFU against the BF16 peak where the matrix gives none: 100 tokens/s x 6e9 FLOP / 667 TFLOP/s
    assert p["mfu"] == pytest.approx(100 * 6e9 / sim.fleet.chips[0].peak_bf16_flops) and p["mfu_of"] == "bf16_peak"


def test_a_stream_no_chip_can_serve_says_why():
    note = "llama3.1-70b on trainium2: no batch meets the latency limits; relax --ttft/--tpot or add chips per replica"
    sim = run("  inference:\n" + stream("s", 100, 1.0, ", ttft: 10 ms"), infer_rate=np.nan, notes=[note])
    (s,) = sim.summary_dict()["inference"]["streams"]
    assert s["served_share"] == 0.0
    assert s["years"][0]["limited_by"] == "latency_targets"
    assert s["cannot_serve_on"] == [{"chip": "trainium2", "reason": "latency_targets", "note": note}]


def test_runs_show_prints_a_training_runs_history(tmp_path):
    from typer.testing import CliRunner

    import gigawatt
    from gigawatt.cli.runs import app

    scn = tmp_path / "s.yaml"
    scn.write_text(BASE + "  training:\n    - {name: r, model: llama3.1-8b, tokens: 1e17, start: 2026-03,"
                   " deadline: 2026-06, min_chips: 20000, max_chips: 20000}\n")
    db = tmp_path / "runs.duckdb"
    run_id = gigawatt.run(scn).to_store(db)
    out = CliRunner().invoke(app, ["show", run_id, "--db", str(db), "--run", "r"])
    assert out.exit_code == 0, out.output
    assert "training run r: first trained 2026-03-01" in out.stdout and "placements" in out.stdout
    assert "trainium2" in out.stdout and "2026-03-01" in out.stdout
    as_json = CliRunner().invoke(app, ["show", run_id, "--db", str(db), "--run", "r", "--json"])
    assert '"history"' in as_json.stdout and '"first_start"' in as_json.stdout
    missing = CliRunner().invoke(app, ["show", run_id, "--db", str(db), "--run", "nope"])
    assert missing.exit_code == 2 and "no training run named nope" in missing.output
