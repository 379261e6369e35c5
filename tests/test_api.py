"""The public API: gigawatt.load, gigawatt.run, gigawatt.open_run and Results."""

import json

import numpy as np
import pytest

import gigawatt
from gigawatt.scenario import apply_overrides, parse_override, scenario_text


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from tests.conftest import MINIMAL

    path = tmp_path_factory.mktemp("api") / "tiny.yaml"
    path.write_text(MINIMAL)
    return path


def test_exports():
    assert {"load", "run", "open_run", "GigawattError", "ScenarioError", "Results"} <= set(gigawatt.__all__)
    assert issubclass(gigawatt.ScenarioError, gigawatt.GigawattError)
    assert gigawatt.Results.__name__ == "Results"


def test_overrides_validate_like_the_file(tiny):
    base = gigawatt.load(tiny)
    scn = gigawatt.load(tiny, set={"sites[0].pue": "1.5", "deal.capacity_cap": "2 GW"})
    assert base.sites[0].pue == pytest.approx(1.2) and scn.sites[0].pue == pytest.approx(1.5)
    assert scn.deal.capacity_cap_w == pytest.approx(2e9)
    # a new mapping on the way is created; the saved text says what ran
    scn = gigawatt.load(tiny, set={"deal.spend_limit.per_year": "$3B"})
    assert scn.deal.spend_limit.per_year_usd == pytest.approx(3e9)
    assert "--set deal.spend_limit.per_year=$3B" in scenario_text(scn)
    with pytest.raises(gigawatt.ScenarioError) as err:
        gigawatt.load(tiny, set={"deal.capacity_cap": "5 GB"})
    assert err.value.problems[0].path == "deal.capacity_cap"
    with pytest.raises(gigawatt.ScenarioError) as err:
        gigawatt.load(tiny, set={"sites[3].pue": 1.1})
    assert "no item [3]" in err.value.problems[0].message


def test_override_paths_and_values():
    data = {"a": {"b": 1}, "l": [{"x": 1}, {"x": 2}]}
    assert apply_overrides(data, {"a.b": 2, "l[1].x": 5, "a.c.d": "e"}) == {
        "a": {"b": 2, "c": {"d": "e"}}, "l": [{"x": 1}, {"x": 5}]}
    assert data["a"] == {"b": 1}  # the input is not changed
    assert parse_override("deal.spend_limit.per_year=$40B") == ("deal.spend_limit.per_year", "$40B")
    assert parse_override("sites[0].pue=1.2") == ("sites[0].pue", 1.2)
    assert parse_override("demand=null") == ("demand", None)
    with pytest.raises(gigawatt.ScenarioError):
        parse_override("no-equals-sign")


def test_load_from_a_mapping_and_a_library_name(tiny):
    import yaml

    data = yaml.safe_load(tiny.read_text())
    assert gigawatt.load(data).name == "tiny"
    assert gigawatt.load("anthropic-aws-2026").name == "anthropic-aws-2026"
    with pytest.raises(gigawatt.ScenarioError, match="no such file or library deal"):
        gigawatt.load("anthropic-aws-2062")


def test_run_and_its_frames(tiny):
    res = gigawatt.run(tiny)
    years = res.years()
    assert list(years["year"]) == [2026, 2027]
    # the frame's numbers are the summary's
    assert years["it_power_w"].tolist() == [y["it_power_w"] for y in res.summary()["years"]]
    assert years["chips_trainium2"].iloc[-1] == res.summary()["years"][-1]["chips"]["trainium2"]
    ledger = res.ledger()
    assert set(ledger["party"]) == {"lab", "provider"} and sorted(set(ledger["year"])) == [2026, 2027]
    # the lab pays what the buyer spends: its spend line, summed, is minus the run's spend
    lab_spend = ledger.loc[ledger["party"] == "lab", "spend_usd"].sum()
    assert lab_spend == pytest.approx(-res.summary()["totals"]["spend_usd"], rel=1e-9)
    assert np.allclose(ledger.drop(columns=["year", "party", "net_usd"]).sum(axis=1), ledger["net_usd"])
    assert res.training_runs().empty  # the tiny scenario has no demand


def test_seed_override_and_determinism():
    a = gigawatt.run("anthropic-aws-2026", seed=11)
    b = gigawatt.run(gigawatt.load("anthropic-aws-2026"), seed=11)
    assert a.seed == 11 and a.summary()["seed"] == 11
    assert a.summary()["training_runs"] == b.summary()["training_runs"]
    with pytest.raises(gigawatt.GigawattError, match="seed"):
        gigawatt.run("anthropic-aws-2026", seed=-1)


def test_save_open_and_store_round_trip(tiny, tmp_path):
    res = gigawatt.run(tiny)
    folder = res.save(tmp_path / "out")
    again = gigawatt.open_run(folder)
    assert again.summary() == json.loads(json.dumps(res.summary()))
    assert float(again.dataset["installed"].sum()) == pytest.approx(float(res.dataset["installed"].sum()))
    run_id = res.to_store(tmp_path / "s.duckdb")
    stored = gigawatt.open_run(run_id[:8], db=tmp_path / "s.duckdb")
    assert stored.summary()["totals"] == res.summary()["totals"]
    with pytest.raises(gigawatt.GigawattError):
        gigawatt.open_run(tmp_path)  # a folder gigawatt did not write
