"""Properties of the buildout and the engine on random valid scenarios (hypothesis)."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gigawatt.fleet import build_fleet
from gigawatt.fleet.demand import resolve_workloads
from gigawatt.fleet.simulate import simulate
from gigawatt.fleet.simulation import Throughput
from gigawatt.fleet.throughput import BUCKET_CHIPS
from gigawatt.scenario import load_scenario_text

CHIPS = [("trainium2", "trn2-ultraserver", "2024-12"), ("trainium3", "trn3-ultraserver-144", "2025-12"),
         ("gb200", "gb200-nvl72", "2025-02")]


@st.composite
def scenarios(draw):
    n_sites = draw(st.integers(1, 3))
    sites = []
    for i in range(n_sites):
        m1 = draw(st.integers(1, 12))
        p1, p2 = draw(st.integers(5, 300)), draw(st.integers(0, 600))
        sites.append(f"  - {{name: s{i}, pue: {draw(st.floats(1.05, 1.6)):.3f}, "
                     f"energized: {{2026-{m1:02d}: {p1} MW, 2027-06: {p1 + p2} MW}}, "
                     f"ramp: {draw(st.sampled_from(['linear', 'step']))}}}")
    chips = draw(st.lists(st.sampled_from(CHIPS), min_size=1, max_size=3, unique=True))
    roadmap, prices = [], []
    for chip, system, frm in chips:
        supply = draw(st.one_of(st.none(), st.integers(1000, 400_000)))
        life = draw(st.integers(6, 48))
        roadmap.append(f"  - {{chip: {chip}, system: {system}, from: {frm}, lifetime: {life} months"
                       + (f", supply_per_year: {supply}" if supply else "") + "}")
        prices.append(f"  {chip}: {{price: ${draw(st.floats(0.5, 6.0)):.2f}/h, decline: -{draw(st.integers(0, 30))}%/year}}")
    deal = ["  commitment: {total: $5B, start: 2026-01, term: 3 years}"]
    if draw(st.booleans()):
        deal.append(f"  capacity_cap: {draw(st.integers(10, 800))} MW")
        deal.append(f"  capacity_basis: {draw(st.sampled_from(['it', 'facility']))}")
    if draw(st.booleans()):
        deal.append(f"  spend_limit: {{per_year: ${draw(st.integers(1, 20)) / 10:.1f}B}}")
    runs = []
    for k in range(draw(st.integers(0, 3))):
        runs.append(f"    - {{name: r{k}, model: llama3.1-70b, tokens: {draw(st.integers(1, 200))}e11, "
                    f"start: 2026-{draw(st.integers(1, 12)):02d}, min_chips: {draw(st.integers(8, 50_000))}}}")
    streams = []
    for name in ("api", "agents")[:draw(st.integers(0, 2))]:
        streams.append(f"    - {{name: {name}, model: llama3.1-70b, tokens_per_day: {draw(st.integers(1, 500))}e9, "
                       f"at: 2026-01, growth: {draw(st.integers(1, 5))}x/year, input_tokens: 1000, output_tokens: 200, "
                       f"peak_to_mean: {draw(st.floats(1.0, 3.0)):.2f}}}")
    allocation = []  # the allocation: legacy by name, or pooled with a priority, a reserve, a coincidence, backfill
    if draw(st.booleans()):
        allocation.append("  allocation: legacy")
    else:
        allocation.append(f"  priority: {draw(st.sampled_from(['inference', 'training', 'deadline']))}")
        train, infer = draw(st.integers(0, 60)), draw(st.integers(0, 40))
        if train or infer:
            allocation.append(f"  reserve: {{training: {{2026-0{draw(st.integers(1, 9))}: {train}%}}, inference: {infer}%}}")
        allocation.append(f"  inference_coincidence: {draw(st.floats(0.3, 1.0)):.2f}")
        allocation.append(f"  backfill: {draw(st.sampled_from(['true', 'false']))}")
    demand = ["demand:", *allocation, "  training:", *(runs or ["    []"]), "  inference:", *(streams or ["    []"])]
    demand = [line for line in demand if line != "    []"]
    if not runs:
        demand[demand.index("  training:")] = "  training: []"
    if not streams:
        demand[demand.index("  inference:")] = "  inference: []"
    text = "\n".join([
        "schema_version: 1", "name: prop", "horizon: {start: 2026-01, end: 2028-12}",
        f"seed: {draw(st.integers(0, 10_000))}", "deal:", *deal, "sites:", *sites, "roadmap:", *roadmap,
        "prices:", *prices, *demand, "",
    ])
    rates = draw(st.tuples(st.floats(10, 500), st.floats(5, 300)))
    return text, rates


def run(text, rates):
    scn = load_scenario_text(text)
    fleet = build_fleet(scn)
    work = resolve_workloads(scn, fleet, lambda m: 8.5e11)
    n_c = len(fleet.chips)
    th = Throughput(np.full((len(work.runs), n_c, len(BUCKET_CHIPS)), rates[0]),
                    np.full((len(work.streams), n_c), rates[1]), [], BUCKET_CHIPS.astype(float))
    return scn, fleet, simulate(scn, fleet, work, th)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_invariants(case):
    text, rates = case
    scn, fleet, sim = run(text, rates)
    inst = fleet.installed
    # chips are conserved: what is installed is what was added less what retired
    assert np.array_equal(np.cumsum(fleet.added - fleet.retired, axis=1), inst)
    assert inst.min() >= 0
    # allocation never exceeds capacity
    assert np.all(sim.busy_chips() <= inst + 1e-6)
    assert np.all(sim.allocated().sum(axis=-1) <= inst + 1e-6)
    # installed IT power stays within energized power, and within the cap
    assert np.all(fleet.it_power_w().sum(axis=3) <= fleet.energized_it_w + 1e-6)
    if fleet.capacity_cap_w is not None:
        drawn = fleet.facility_power_w() if fleet.capacity_basis == "facility" else fleet.it_power_w()
        assert drawn.sum(axis=(2, 3)).max() <= fleet.capacity_cap_w * (1 + 1e-12)
    # energy is power times time
    period = fleet.period_s[None, :, None, None]
    assert np.allclose(fleet.energy_j(), fleet.facility_power_w() * period)
    assert np.allclose(sim.energy_drawn_j(), sim.power_drawn_w * fleet.pue[None, None, :, None] * period)
    assert np.all(sim.power_drawn_w <= fleet.it_power_w() + 1e-6)
    # spend is exactly what the prices and the installed chips imply, and within the spend limit
    implied = inst * fleet.price_usd_per_chip_h[None, :, None, :] * period / 3600
    assert np.allclose(fleet.spend_usd(), implied)
    if scn.deal.spend_limit is not None:
        limit = scn.deal.spend_limit.per_year_usd * fleet.period_s / (365.25 * 86400)
        assert np.all(fleet.spend_usd().sum(axis=(2, 3))[0] <= limit * (1 + 1e-9))
    # served tokens never exceed demand
    assert np.all(sim.served_tokens <= sim.demand_tokens * (1 + 1e-12))
    # a stream serves at most what its chips hold, busy at most all day; a run holds its chips at most all day
    assert np.all(sim.stream_busy <= sim.stream_chips + 1e-6)
    assert np.all((sim.run_share >= 0) & (sim.run_share <= 1))
    # the streams hold at most the chips installed in each pool
    n_s, n_t, n_i, n_c = inst.shape
    held = sim.stream_chips.sum(axis=2)  # (s, t, pool)
    assert np.all(held <= inst.reshape(n_s, n_t, -1) + 1e-6)
    summary = sim.summary_dict()
    assert summary["allocation"]["mode"] in ("pooled", "legacy") and summary["allocation"]["text"]
    for r in summary["training_runs"]:
        # a run's chip-months come from its placements; it is done or not finished, late only when done
        got = sum(p["chip_months"] for p in r["history"]["placements"])
        assert got == pytest.approx(r["chip_months_received"], rel=1e-9, abs=1e-9)
        assert r["status"] in ("done", "not finished")
        assert (r["delay_days"] is None) or r["status"] == "done"
    # the same seed gives the same results
    _, _, again = run(text, rates)
    assert np.array_equal(again.run_finish, sim.run_finish, equal_nan=True)
    assert np.array_equal(again.served_tokens, sim.served_tokens)
