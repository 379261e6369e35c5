"""Bad scenario files: every problem reported at once, each with its path, line and a hint."""

import pytest

from gigawatt.errors import ScenarioError
from gigawatt.scenario import load_scenario, load_scenario_text


def problems(text):
    with pytest.raises(ScenarioError) as err:
        load_scenario_text(text, "bad.yaml")
    return err.value.problems


def test_minimal_is_valid(minimal_text):
    scn = load_scenario_text(minimal_text)
    assert scn.deal.capacity_cap_w == 1e9
    assert scn.sites[0].energized_w == {"2026-01": 1e8, "2027-01": 6e8}
    assert scn.prices["trainium2"].price_usd_per_chip_h == 1.5
    assert scn.roadmap[0].lifetime_s == pytest.approx(5 * 365.25 * 86400)
    assert len(scn.months()) == 24


def test_yaml_syntax_error_has_line(minimal_text):
    text = minimal_text.replace("  capacity_cap: 1 GW", "  capacity_cap: [1 GW")
    (p,) = problems(text)
    assert "YAML syntax" in p.message
    assert p.line is not None and 7 <= p.line <= 8


def test_unknown_key_did_you_mean(minimal_text):
    text = minimal_text.replace("    pue: 1.2", "    peu: 1.2")
    (p,) = problems(text)
    assert p.path == "sites[0].peu"
    assert p.line == 10
    assert "unknown key" in p.message and "'pue'" in p.hint


def test_unknown_chip_lists_close_names(minimal_text):
    text = minimal_text.replace("{chip: trainium2,", "{chip: trainum2,")
    ps = problems(text)
    p = next(p for p in ps if p.path == "roadmap[0].chip")
    assert "unknown chip 'trainum2'" in p.message
    assert "trainium2" in p.hint
    assert p.line == 13


def test_negative_power(minimal_text):
    text = minimal_text.replace("2027-01: 600 MW", "2027-01: -600 MW")
    (p,) = problems(text)
    assert p.path == "sites[0].energized"
    assert "negative" in p.message
    assert p.line == 11


def test_wrong_dimension_for_power(minimal_text):
    text = minimal_text.replace("capacity_cap: 1 GW", "capacity_cap: 5 GB")
    (p,) = problems(text)
    assert p.path == "deal.capacity_cap"
    assert "power" in p.message and "data" in p.message
    assert p.line == 7


def test_missing_required_field(minimal_text):
    text = minimal_text.replace("      commitment: {total: $10B, start: 2026-01, term: 2 years}\n", "")
    text = text.replace("  commitment: {total: $10B, start: 2026-01, term: 2 years}\n", "")
    (p,) = problems(text)
    assert p.path == "deal.commitment"
    assert "missing" in p.message
    assert p.line == 5


def test_all_problems_at_once(minimal_text):
    text = (minimal_text.replace("    pue: 1.2", "    peu: 1.2")
            .replace("capacity_cap: 1 GW", "capacity_cap: 5 GB")
            .replace("{chip: trainium2,", "{chip: trainum2,"))
    paths = {p.path for p in problems(text)}
    assert {"sites[0].peu", "deal.capacity_cap", "roadmap[0].chip"} <= paths


def test_missing_price_and_schema_version(minimal_text):
    text = minimal_text.replace("schema_version: 1\n", "").replace("  trainium2: $1.50/h", "  {}")
    paths = {p.path for p in problems(text.replace("prices:\n  {}", "prices: {}"))}
    assert "schema_version" in paths


def test_missing_price_for_roadmap_chip(minimal_text):
    text = minimal_text.replace("prices:\n  trainium2: $1.50/h", "prices: {}")
    (p,) = problems(text)
    assert p.path == "roadmap[0].chip" and "no contract price" in p.message


def test_system_of_another_chip(minimal_text):
    text = minimal_text.replace("system: trn2-48xlarge", "system: dgx-h100")
    (p,) = problems(text)
    assert p.path == "roadmap[0].system" and "trn2" in p.hint


def test_missing_file(tmp_path):
    with pytest.raises(ScenarioError) as err:
        load_scenario(tmp_path / "nope.yaml")
    assert "no such file" in str(err.value)


def test_demand_names_are_checked(minimal_text):
    text = minimal_text + (
        "demand:\n"
        "  training:\n"
        "    - {name: r, model: llama3-405b, tokens: 1T, start: 2026-02, min_chips: 1000, chips: [trainium3]}\n"
        "  inference:\n"
        "    - {model: llama3.1-70b, tokens_per_day: 1e9, at: 2026-01, input_tokens: 10, output_tokens: 10, ttfts: 2 s}\n"
        "  policy: edf\n"
    )
    ps = {p.path: p for p in problems(text)}
    assert "demand.inference[0].ttfts" in ps and "'ttft'" in ps["demand.inference[0].ttfts"].hint


def test_demand_model_chip_and_policy(minimal_text):
    text = minimal_text + (
        "demand:\n"
        "  training:\n"
        "    - {name: r, model: llama3-405b, tokens: 1T, start: 2026-02, min_chips: 1000, chips: [trainium3]}\n"
        "  policy: earliest_deadline\n"
    )
    ps = {p.path: p for p in problems(text)}
    assert "llama3.1-405b" in ps["demand.training[0].model"].hint
    assert ps["demand.training[0].model"].line == 18
    assert "not in the roadmap" in ps["demand.training[0].chips[0]"].message
    assert "earliest_deadline_first" in ps["demand.policy"].hint


def test_economics_names_are_the_scenarios_own(minimal_text):
    text = minimal_text + (
        "economics:\n"
        "  power_price: {default: $80/MWh, sites: {b: $70/MWh}}\n"
        "  capex_per_chip: {trainium3: $20k}\n"
    )
    ps = {p.path: p for p in problems(text)}
    assert "no site named 'b'" in ps["economics.power_price.sites.b"].message
    assert "not in the roadmap" in ps["economics.capex_per_chip.trainium3"].message


def test_duplicate_key_is_an_error(minimal_text):
    (p,) = problems(minimal_text.replace("    pue: 1.2\n", "    pue: 1.2\n    pue: 1.3\n"))
    assert p.path == "sites[0].pue" and p.line == 11 and "lines 10 and 11" in p.message


def test_negative_seed(minimal_text):
    (p,) = problems(minimal_text.replace("seed: 3", "seed: -1"))
    assert p.path == "seed" and p.line == 4


def test_infinite_power_is_an_error(minimal_text):
    (p,) = problems(minimal_text.replace("capacity_cap: 1 GW", "capacity_cap: 1e400 GW"))
    assert p.path == "deal.capacity_cap" and p.line == 7 and "finite" in p.message


def test_roadmap_date_before_the_catalog_among_every_problem(minimal_text):
    # trainium2 was first available 2024-12 (catalog chips.yaml); an unknown key is reported in the same pass
    text = minimal_text.replace("from: 2025-01", "from: 2024-06").replace("    pue: 1.2", "    peu: 1.2")
    ps = problems(text)
    assert [p.path for p in ps] == ["sites[0].peu"]  # the schema fails first; names and dates follow on a valid file
    ps = problems(minimal_text.replace("from: 2025-01", "from: 2024-06").replace("trainium2: $1.50/h", "trainum2: $1.50/h"))
    early = next(p for p in ps if p.path == "roadmap[0].from")
    assert early.line == 13 and "2024-06 is before trainium2's first availability in the catalog, 2024-12" in early.message
    assert any(p.path == "prices.trainum2" for p in ps)
