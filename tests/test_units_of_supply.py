"""Whole units, pro-rated supply, roadmap dates and the basis of power, against numbers worked by hand.

Watts per chip (catalog systems.yaml, IT per chip = TDP + (host + node other) / chips per node + network):
trn2-ultraserver 500 + 3,000 / 16 + 55 = 742.5 W; trn3-ultraserver-144 700 + 1,100 / 4 + 55 = 1,030 W;
trn2-48xlarge 500 + 2,900 / 16 + 55 = 736.25 W.
"""

import textwrap
import warnings

import numpy as np
import pytest

from gigawatt.errors import ScenarioError
from gigawatt.fleet import BINDING, build_fleet
from gigawatt.scenario import load_scenario_text
from gigawatt.scenario.inputs import resolve
from gigawatt.scenario.loader import ScenarioWarning

TINY = textwrap.dedent(
    """\
    schema_version: 1
    name: units
    horizon: {start: 2026-01, end: 2027-12}
    deal:
      commitment: {total: $1B, start: 2026-01, term: 2 years}
    sites:
      - name: a
        pue: 1.15
        energized: {2026-01: 10 MW}
    roadmap:
      - {chip: trainium2, system: trn2-ultraserver, from: 2024-12}
    prices:
      trainium2: $1.00/h
    """
)


def run(text):
    return build_fleet(load_scenario_text(text))


def test_the_watts_per_chip_used_below():
    chips = {c.system: c.it_w_per_chip for c in resolve(load_scenario_text(TINY)).chips}
    assert chips == {"trn2-ultraserver": pytest.approx(742.5)}
    trn3 = TINY.replace("{chip: trainium2, system: trn2-ultraserver, from: 2024-12}",
                        "{chip: trainium3, system: trn3-ultraserver-144, from: 2025-12}").replace("trainium2: $1", "trainium3: $1")
    assert resolve(load_scenario_text(trn3)).chips[0].it_w_per_chip == pytest.approx(1030.0)


def test_whole_64_chip_ultraservers_fill_the_power():
    fleet = run(TINY)
    # 10 MW / (64 x 742.5 W) = 210.4 -> 210 UltraServers = 13,440 chips
    assert fleet.installed[0, 0, 0, 0] == 210 * 64 == 13_440
    assert fleet.chips[0].unit == "system" and fleet.chips[0].chips_per_unit == 64
    # what is left, 10 MW - 210 x 47,520 W = 20,800 W, is less than a system: power binds
    assert BINDING[fleet.binding[0, 0]] == "power"
    assert fleet.to_dataset()["chips_per_unit"].values.tolist() == [64.0]


@pytest.mark.parametrize("unit, chips", [
    ("system", 13_440),  # 210 x 64
    ("node", 13_456),  # 10 MW / (16 x 742.5 W) = 841.75 -> 841 servers x 16
    ("chip", 13_468),  # 10 MW / 742.5 W = 13,468.0 -> 13,468
])
def test_the_unit_a_roadmap_entry_adds(unit, chips):
    fleet = run(TINY.replace("from: 2024-12}", f"from: 2024-12, unit: {unit}}}"))
    assert fleet.installed[0, 0, 0, 0] == chips


def test_whole_144_chip_ultraservers():
    text = TINY.replace("{chip: trainium2, system: trn2-ultraserver, from: 2024-12}",
                        "{chip: trainium3, system: trn3-ultraserver-144, from: 2025-12}").replace("trainium2: $1", "trainium3: $1")
    # 10 MW / (144 x 1,030 W) = 67.4 -> 67 systems = 9,648 chips (9,708 one chip at a time)
    assert run(text).installed[0, 0, 0, 0] == 67 * 144 == 9_648


def test_money_buys_whole_systems():
    # $5M a year: January (31 days) has 5e6 x 744 / 8,766 h = $424,367; a 64-chip system costs
    # 64 x $1.00 x 744 h = $47,616 in it -> 8 systems (8.9), 512 chips
    fleet = run(TINY.replace("term: 2 years}", "term: 2 years}\n  spend_limit: {per_year: $5M}"))
    assert fleet.installed[0, 0, 0, 0] == 8 * 64
    assert BINDING[fleet.binding[0, 0]] == "spend_limit"


def test_a_cap_offered_from_july_gives_half_that_year():
    text = TINY.replace("from: 2024-12}", "from: 2026-07, supply_per_year: 120, unit: chip}")
    fleet = run(text)
    added = fleet.added[0, :, 0, 0]
    assert added[:6].sum() == 0  # not on offer before July
    assert added[6] == 60  # 120 x 6 / 12, all of it in the first month on offer
    assert added[:12].sum() == 60
    assert added[12:].sum() == 120  # a full year on offer in 2027
    assert fleet.inputs.supply_in_year[[0, 6, 11, 12], 0].tolist() == [60.0, 60.0, 60.0, 120.0]
    assert BINDING[fleet.binding[0, 7]] == "supply"


def test_pro_rated_supply_in_whole_systems():
    # 1,200 a year offered 2026-07 on: 600 in 2026 -> 9 whole 64-chip systems (576); 1,200 in 2027 -> 18 (1,152)
    fleet = run(TINY.replace("from: 2024-12}", "from: 2026-07, supply_per_year: 1200}"))
    added = fleet.added[0, :, 0, 0]
    assert added[:12].sum() == 576 and added[12:].sum() == 1_152


def test_supply_until_and_a_horizon_that_starts_mid_year():
    # on offer January to March 2026 at 1,200 a year: 300 that year
    fleet = run(TINY.replace("from: 2024-12}", "from: 2024-12, until: 2026-03, supply_per_year: 1200, unit: chip}"))
    assert fleet.added[0, :, 0, 0].sum() == 300
    # a horizon from 2026-07 covers six months of 2026: 600 of 1,200
    fleet = run(TINY.replace("from: 2024-12}", "from: 2024-12, supply_per_year: 1200, unit: chip}")
                .replace("start: 2026-01, end: 2027-12", "start: 2026-07, end: 2027-12")
                .replace("2026-01: 10 MW", "2026-07: 10 MW").replace("start: 2026-01, term", "start: 2026-07, term"))
    assert fleet.added[0, :6, 0, 0].sum() == 600 and fleet.added[0, 6:, 0, 0].sum() == 1_200


def test_a_roadmap_date_before_the_catalog_is_an_error_naming_field_line_and_date():
    text = TINY.replace("{chip: trainium2, system: trn2-ultraserver, from: 2024-12}",
                        "{chip: trainium2, system: trn2-ultraserver, from: 2024-12}\n"
                        "  - {chip: trainium4, from: 2024-01}").replace("trainium2: $1.00/h", "trainium2: $1.00/h\n  trainium4: $2/h")
    with pytest.raises(ScenarioError) as err:
        load_scenario_text(text, "early.yaml")
    (p,) = err.value.problems
    assert p.path == "roadmap[1].from" and p.line == 12
    assert "2024-01 is before trainium4's first availability in the catalog, 2027-01" in p.message
    assert "estimate: true" in p.hint
    # marked as the scenario's own estimate, the date is kept and the same text is a warning
    with pytest.warns(ScenarioWarning, match=r"roadmap\[1\]\.from: 2024-01 is before trainium4"):
        scn = load_scenario_text(text.replace("from: 2024-01}", "from: 2024-01, estimate: true}"), "early.yaml")
    (w,) = scn.warnings
    assert w.path == "roadmap[1].from" and w.line == 12
    inputs = resolve(scn)
    assert inputs.notes[0].startswith("roadmap[1].from: 2024-01 is before trainium4")
    assert build_fleet(inputs).notes == inputs.notes


def test_a_date_at_or_after_the_catalog_says_nothing():
    with warnings.catch_warnings():
        warnings.simplefilter("error", ScenarioWarning)
        scn = load_scenario_text(TINY)
    assert scn.warnings == []


def test_the_notes_name_the_estimated_catalog_figures():
    (note,) = resolve(load_scenario_text(TINY)).notes
    # AWS publishes no Trainium2 power: the chip's TDP and the system's host, node and network power are estimates
    assert "trainium2 tdp_w" in note
    assert "trn2-ultraserver host_power_w, node_other_power_w, network_power_w_per_chip" in note
    assert "peak_bf16_flops" not in note  # AWS's own figure
    inputs = resolve(load_scenario_text(TINY))
    assert inputs.provenance["chips.trainium2.estimated_figures"].startswith("trainium2.tdp_w")


def test_facility_basis_energization_is_divided_by_the_pue():
    # 11.5 MW of grid draw at PUE 1.15 is 10 MW of IT: the same 210 systems as 10 MW on an IT basis
    text = TINY.replace("    energized: {2026-01: 10 MW}", "    basis: facility\n    energized: {2026-01: 11.5 MW}")
    fleet = run(text)
    assert fleet.energized_it_w[0, 0, 0] == pytest.approx(10e6)
    assert fleet.energized_facility_w[0, 0, 0] == pytest.approx(11.5e6)
    assert fleet.installed[0, 0, 0, 0] == 13_440
    ds = fleet.to_dataset()
    assert float(ds["energized_facility_w"][0, 0, 0]) == pytest.approx(11.5e6)
    assert fleet.inputs.provenance["sites.a.energized_it_w"] == "scenario sites (basis facility, divided by PUE 1.15)"
    # the IT basis is the default, and gives facility power as IT x PUE
    plain = run(TINY)
    assert plain.energized_it_w[0, 0, 0] == pytest.approx(10e6)
    assert plain.energized_facility_w[0, 0, 0] == pytest.approx(11.5e6)
    assert np.allclose(plain.facility_power_w(), plain.it_power_w() * 1.15)


@pytest.mark.parametrize("old, new, path", [
    ("from: 2024-12}", "from: 2024-12, unit: rack}", "roadmap[0].unit"),
    ("    energized:", "    basis: grid\n    energized:", "sites[0].basis"),
])
def test_bad_unit_or_basis_is_reported_with_its_path(old, new, path):
    with pytest.raises(ScenarioError) as err:
        load_scenario_text(TINY.replace(old, new), "bad.yaml")
    assert [p.path for p in err.value.problems] == [path]
