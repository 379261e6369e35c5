"""Buildout: monthly cohorts against numbers worked by hand from the catalog's watts per chip.

The minimal scenario's trn2.48xlarge is one 16-chip server with one 16-chip scale-up domain,
so its whole systems are 16 chips (``unit: system``, the default); ``fits(power, w, n)`` is
the chips that whole ``n``-chip units of ``w`` watts a chip fill.
"""

import math

import numpy as np
import pytest

from gigawatt import catalog, power
from gigawatt.fleet import BINDING, build_fleet
from gigawatt.scenario import load_scenario_text


def it_w(system_id):
    s = catalog.get_system(system_id)
    c = catalog.get_chip(s.chip)
    return float(power.it_power_w_per_chip(c.tdp_w, s.host_power_w or 0, s.node_other_power_w or 0,
                                           s.chips_per_node, s.network_power_w_per_chip or 0))


def fits(power_w, w, n=16):
    """Chips in the whole units of ``n`` chips at ``w`` watts each that ``power_w`` holds."""
    return math.floor(power_w / (n * w)) * n


def fleet_of(text):
    scn = load_scenario_text(text)
    return scn, build_fleet(scn)


def binding_names(fleet):
    return [BINDING[c] for c in fleet.binding[0]]


def test_power_bound_fill_matches_hand_count(minimal_text):
    scn, fleet = fleet_of(minimal_text)
    w = it_w("trn2-48xlarge")
    assert fleet.installed.shape == (1, 24, 1, 1)
    # January 2026: 100 MW energized -> floor(1e8 / (16 w)) whole 16-chip systems
    assert fleet.installed[0, 0, 0, 0] == fits(1e8, w) == 135_808  # 8,488 systems (135,823 single chips)
    # July 2026: halfway up the ramp from 100 to 600 MW -> 350 MW
    assert fleet.installed[0, 6, 0, 0] == fits(3.5e8, w)
    # January 2027 and after: 600 MW
    assert fleet.installed[0, 12, 0, 0] == fits(6e8, w)
    assert fleet.installed[0, 23, 0, 0] == fits(6e8, w)
    assert binding_names(fleet)[:13] == ["power"] * 13
    # spend in January 2026 (31 days): chips x $1.50 x 744 h
    assert fleet.spend_usd()[0, 0].sum() == pytest.approx(fits(1e8, w) * 1.5 * 744)
    # energy at full load: chips x w x PUE x 744 h
    assert fleet.energy_j()[0, 0].sum() == pytest.approx(fits(1e8, w) * w * 1.2 * 744 * 3600)


def test_supply_cap_binds_and_resets_each_year(minimal_text):
    text = minimal_text.replace("lifetime: 5 years}", "lifetime: 5 years, supply_per_year: 200k}")
    scn, fleet = fleet_of(text)
    added = fleet.added[0, :, 0, 0]
    assert added[:12].sum() == 200_000
    assert added[12:].sum() == pytest.approx(min(200_000, fits(6e8, it_w("trn2-48xlarge")) - 200_000))
    names = binding_names(fleet)
    assert names[0] == "power"  # 135k chips fit in January, under the yearly cap
    assert names[6] == "supply"  # by July the year's 200k are used up


def test_capacity_cap_binds(minimal_text):
    text = minimal_text.replace("capacity_cap: 1 GW", "capacity_cap: 50 MW")
    scn, fleet = fleet_of(text)
    w = it_w("trn2-48xlarge")
    it_power = fleet.it_power_w()[0].sum(axis=(1, 2))
    assert it_power.max() <= 50e6
    assert fleet.installed[0, -1, 0, 0] == fits(50e6, w)
    assert set(binding_names(fleet)) == {"cap"}


def test_capacity_cap_on_facility_basis(minimal_text):
    text = minimal_text.replace("capacity_cap: 1 GW", "capacity_cap: 60 MW\n  capacity_basis: facility")
    scn, fleet = fleet_of(text)
    assert fleet.facility_power_w()[0].sum(axis=(1, 2)).max() <= 60e6
    # 60 MW of facility power at PUE 1.2 is 50 MW of IT power
    assert fleet.installed[0, -1, 0, 0] == fits(50e6, it_w("trn2-48xlarge"))


def test_spend_limit_binds(minimal_text):
    text = minimal_text.replace("capacity_cap: 1 GW", "capacity_cap: 1 GW\n  spend_limit: {per_year: $1B}")
    scn, fleet = fleet_of(text)
    spend = fleet.spend_usd()[0].sum(axis=(1, 2))
    month_budget = 1e9 * fleet.period_s / (365.25 * 86400)
    assert np.all(spend <= month_budget + 1e-6)
    # $1B a year buys 1e9 / (1.5 * 8766 h) = 76,054 chips at any time, in 16-chip systems
    assert fleet.installed[0, -1, 0, 0] == pytest.approx(1e9 / (1.5 * 8766), rel=0.002)
    assert fleet.installed[0, -1, 0, 0] % 16 == 0
    assert binding_names(fleet)[-1] == "spend_limit"


def test_retirement_frees_power_for_the_newest_generation(minimal_text):
    text = minimal_text.replace(
        "  - {chip: trainium2, system: trn2-48xlarge, from: 2025-01, lifetime: 5 years}",
        "  - {chip: trainium2, system: trn2-48xlarge, from: 2025-01, until: 2026-03, lifetime: 6 months}\n"
        "  - {chip: trainium3, system: trn3-ultraserver-64, from: 2026-06, lifetime: 6 years}",
    ).replace("  trainium2: $1.50/h", "  trainium2: $1.50/h\n  trainium3: {price: $2.50/h, decline: -10%/year}")
    scn, fleet = fleet_of(text)
    inst = fleet.installed[0, :, 0, :]
    # cohorts of January 2026 retire in July 2026, six months later
    assert fleet.retired[0, 6, 0, 0] == fleet.added[0, 0, 0, 0] > 0
    assert inst[9, 0] == 0  # every Trainium2 cohort (Jan-Mar 2026) is gone by October
    # after that the site is all Trainium3, filling the 600 MW from 2027
    assert inst[12, 1] == fits(6e8, it_w("trn3-ultraserver-64"), 64)  # whole 64-chip UltraServers
    # Trainium3 price falls 10% a year from the horizon start
    assert fleet.price_usd_per_chip_h[12, 1] == pytest.approx(2.5 * 0.9)


def test_newest_generation_fills_first(minimal_text):
    text = minimal_text.replace(
        "  - {chip: trainium2, system: trn2-48xlarge, from: 2025-01, lifetime: 5 years}",
        "  - {chip: trainium2, system: trn2-48xlarge, from: 2025-01}\n"
        "  - {chip: trainium3, system: trn3-ultraserver-64, from: 2025-12, supply_per_year: 50k}",
    ).replace("  trainium2: $1.50/h", "  trainium2: $1.50/h\n  trainium3: $2.50/h")
    scn, fleet = fleet_of(text)
    jan = fleet.added[0, 0, 0]
    assert jan[1] == 49_984  # Trainium3 first, up to its supply: 781 whole 64-chip UltraServers of 50k
    w2, w3 = it_w("trn2-48xlarge"), it_w("trn3-ultraserver-64")
    assert jan[0] == fits(1e8 - 49_984 * w3, w2)  # Trainium2 takes the rest
    roadmap_order = build_fleet(load_scenario_text(text + "fill: roadmap\n"))
    assert roadmap_order.added[0, 0, 0, 1] == 0  # Trainium2 fills all the power first


def test_to_dataset_dims(minimal_text):
    scn, fleet = fleet_of(minimal_text)
    ds = fleet.to_dataset()
    assert ds["installed"].dims == ("sample", "period", "site", "chip")
    assert str(ds["period"].dtype).startswith("datetime64")
    assert ds.sizes["period"] == 24


def test_take_or_pay_shortfall_in_summary(minimal_text):
    from gigawatt.results import summarize

    text = minimal_text.replace("term: 2 years}", "term: 2 years, min_per_year: $6B}")
    scn, fleet = fleet_of(text)
    summary = summarize(scn, fleet)
    y2026, y2027 = summary.years
    # 2026 is wholly inside the term: the minimum is $6B x 365 / 365.25 days
    assert y2026["commitment_min_usd"] == pytest.approx(6e9 * 365 / 365.25)
    assert y2026["shortfall_usd"] == pytest.approx(max(y2026["commitment_min_usd"] - y2026["spend_usd"], 0.0))
    assert y2026["shortfall_usd"] > 0  # about $4.3B of spend in 2026 against $6B
    assert summary.totals["shortfall_usd"] == pytest.approx(y2026["shortfall_usd"] + y2027["shortfall_usd"])
    chip_h = (fleet.installed[0].sum(axis=(1, 2)) * fleet.period_s / 3600).sum()
    assert summary.implied["contract_usd_per_chip_hour"] == pytest.approx(1.5)
    # the term's spend ($1.50 x the chip-hours) passes the $10B commitment: it buys 10e9 / 1.5 chip-hours,
    # and the commitment implies no price of its own
    assert 1.5 * chip_h > 10e9
    assert summary.commitment_buys["chip_hours"] == pytest.approx(10e9 / 1.5)
    assert summary.implied["usd_per_chip_hour"] is None
    # with a larger commitment the term's spend stays under it, and the implied price is the commitment per chip-hour
    big = summarize(*fleet_of(text.replace("total: $10B", "total: $100B")))
    assert big.implied["usd_per_chip_hour"] == pytest.approx(100e9 / chip_h)


def test_weekly_step(minimal_text):
    text = minimal_text.replace("horizon: {start: 2026-01, end: 2027-12}", "horizon: {start: 2026-01, end: 2027-12, step: week}")
    scn, fleet = fleet_of(text)
    assert fleet.months[:2] == ["2026-01-01", "2026-01-08"]
    assert fleet.period_s[0] == 7 * 86400
    # weeks cover the horizon from 2026-01-01 to at least the end of 2027
    assert len(fleet.months) == 105  # 730 days / 7 = 104.3 -> 105 weeks
    w = it_w("trn2-48xlarge")
    # the week starting 2026-12-31 sits at 600 MW less 1/31 of the month's ramp; the next one is full
    jan = fleet.months.index("2027-01-07")
    assert fleet.installed[0, jan, 0, 0] == fits(6e8, w)
    # 5-year lifetime in weeks: 5 x 365.25 / 7 = 260.9 -> 261 weeks, past the horizon: nothing retires
    assert fleet.retired.sum() == 0
    # the yearly figures agree with the monthly run to within the ramp's weekly sampling
    from gigawatt.results import summarize

    weekly = summarize(scn, fleet)
    monthly = summarize(*fleet_of(minimal_text))
    assert weekly.years[1]["it_power_w"] == pytest.approx(monthly.years[1]["it_power_w"], rel=1e-6)
    # 2027 is at full power all year; the 52 weeks that start in 2027 cover 364 of its days
    assert weekly.years[1]["energy_j"] == pytest.approx(monthly.years[1]["energy_j"] * 364 / 365, rel=1e-9)


def test_nothing_on_offer_binds_as_supply(minimal_text):
    text = minimal_text.replace("from: 2025-01, lifetime: 5 years}", "from: 2025-01, until: 2026-06, lifetime: 6 months}")
    scn, fleet = fleet_of(text)
    names = binding_names(fleet)
    assert fleet.installed[0, -1].sum() == 0  # the last cohort retired, none replaced it
    assert names[-1] == "supply"
