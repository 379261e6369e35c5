"""A scenario resolved once into Inputs: the numbers every later stage reads."""

import numpy as np
import pytest

import gigawatt
from gigawatt import catalog
from gigawatt.fleet import build_fleet
from gigawatt.scenario import load_scenario_text
from gigawatt.scenario.inputs import Inputs, resolve


def test_tiny_resolved_by_hand(minimal_text):
    inputs = resolve(load_scenario_text(minimal_text))
    assert isinstance(inputs, Inputs)
    assert inputs.months[0] == "2026-01" and len(inputs.months) == 24
    # January has 31 days, February 2026 28
    assert inputs.periods.seconds[:2].tolist() == [31 * 86400.0, 28 * 86400.0]
    (chip,) = inputs.chips
    sys_ = catalog.get_system("trn2-48xlarge")
    c = catalog.get_chip("trainium2")
    per_chip = (c.tdp_w + ((sys_.host_power_w or 0) + (sys_.node_other_power_w or 0)) / sys_.chips_per_node
                + (sys_.network_power_w_per_chip or 0))
    assert chip.it_w_per_chip == pytest.approx(per_chip)
    assert chip.lifetime_months == 60  # lifetime: 5 years
    # energized: 100 MW from 2026-01, 600 MW from 2027-01 (no ramp given: steps)
    assert inputs.energized_it_w[0, 0] == pytest.approx(1e8) and inputs.energized_it_w[-1, 0] == pytest.approx(6e8)
    # a flat $1.50/h with no decline
    assert np.allclose(inputs.price_usd_per_chip_h, 1.5)
    # the commitment: 2 years from 2026-01, all 24 months of the horizon
    assert inputs.commitment_months == 24 and inputs.in_commitment.sum() == 24
    assert inputs.costs.capex_per_chip_usd.shape == (1,)
    assert "chips.trainium2.it_w_per_chip" in inputs.provenance
    assert inputs.chips[0].hardware.hbm_bytes == pytest.approx(c.hbm_bytes)


def test_stages_read_inputs_and_a_scenario_alike(minimal_text):
    scn = load_scenario_text(minimal_text)
    a, b = build_fleet(scn), build_fleet(resolve(scn))
    assert np.array_equal(a.installed, b.installed) and np.array_equal(a.binding, b.binding)
    assert b.inputs is not None and b.chips[0].chip == "trainium2"


def test_the_pipeline_resolves_once_and_records_provenance():
    res = gigawatt.run("anthropic-aws-2026")
    assert "resolve_s" in res.timings_s
    prov = res.resolved["provenance"]
    assert prov["chips.trainium3.price_usd_per_chip_h"] == "scenario prices"
    assert any(k.startswith("economics.") for k in prov)


def test_a_chip_without_power_is_an_error(minimal_text, monkeypatch):
    from gigawatt.errors import GigawattError

    scn = load_scenario_text(minimal_text)
    real = catalog.get_chip

    def no_tdp(name):
        return real(name).model_copy(update={"tdp_w": None})

    monkeypatch.setattr(catalog, "get_chip", no_tdp)
    with pytest.raises(GigawattError, match="no TDP"):
        resolve(scn)


def test_the_flagship_power_and_supply_as_resolved():
    inputs = resolve(gigawatt.load("anthropic-aws-2026"))
    site = inputs.sites.index("new-carlisle-in")
    # New Carlisle is given as grid draw: 1.69 GW at PUE 1.15 is 1.4696 GW of IT
    assert inputs.scenario.sites[site].energized_basis == "facility"
    assert inputs.energized_it_w[-1, site] == pytest.approx(1.69e9 / 1.15)
    assert inputs.energized_facility_w[-1, site] == pytest.approx(1.69e9)
    # the four sites add up to the 5 GW cap of IT power (to within 50 kW)
    assert inputs.energized_it_w[-1].sum() == pytest.approx(5e9, abs=5e4)
    # 2026: Trainium3 on offer from July, half its 1M a year; 2027: Trainium4 from October, a quarter
    chips = inputs.chip_ids
    y2026, y2027 = 0, 12
    assert inputs.supply_in_year[y2026, chips.index("trainium3")] == 500_000
    assert inputs.supply_in_year[y2027, chips.index("trainium4")] == 250_000
    assert inputs.supply_in_year[y2026, chips.index("trainium2")] == 600_000
    # whole systems: 64-chip Trn2 UltraServers, 144-chip Trn3 Gen2 UltraServers, 72-chip trn4-nvl72 racks
    assert inputs.chips_per_unit.tolist() == [64.0, 144.0, 72.0]


def test_catalog_names_are_resolved_once():
    inputs = resolve(gigawatt.load("anthropic-aws-2026"))
    # every model and chip name the scenario writes has its catalog id in Inputs; the fleet reads these
    assert inputs.model_id("frontier-moe-2t") == catalog.get_model("frontier-moe-2t").id
    assert {inputs.chip_id(c) for c in ("trainium2", "trainium3", "trainium4")} == set(inputs.chip_ids)
