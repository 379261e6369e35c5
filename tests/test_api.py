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


def test_summaries_of_several_samples_by_hand():
    from gigawatt.results import summarize_samples

    per = [{"v": float(x), "runs": [{"finish": f, "status": st}], "n": 4}
           for x, f, st in [(1, "2030-01-05", "done"), (2, None, "paused"), (3, "2029-02-01", "done"),
                            (4, "2031-07-01", "done"), (10, "2030-06-01", "done")]]
    s = summarize_samples(per)
    assert s["v"] == pytest.approx(4.0)  # (1+2+3+4+10)/5
    assert s["samples"]["p10"]["v"] == pytest.approx(1.4)  # numpy's linear percentile: 1 + 0.4*(2-1)
    assert s["samples"]["p50"]["v"] == pytest.approx(3.0)
    assert s["samples"]["p90"]["v"] == pytest.approx(7.6)  # 4 + 0.6*(10-4)
    # dates: order statistics, a run that never finished sorts last
    assert s["runs"][0]["finish"] == "2030-06-01"
    assert s["samples"]["p10"]["runs"][0]["finish"] == "2029-02-01"
    assert s["samples"]["p90"]["runs"][0]["finish"] is None
    assert s["runs"][0]["status"] == "done" and s["n"] == 4 and s["samples"]["n"] == 5


def test_several_samples_through_the_pipeline(tiny):
    one = gigawatt.run(tiny)
    three = gigawatt.run(tiny, samples=3)
    assert three.dataset.sizes["sample"] == 3
    assert three.summary()["samples"]["n"] == 3 and "samples" not in one.summary()
    # the tiny scenario draws nothing random: every sample is the same, and so is every percentile
    assert three.summary()["totals"] == one.summary()["totals"]
    assert three.summary()["samples"]["p90"]["totals"] == one.summary()["totals"]
    assert one.summary()["seed_matters"] is False
    assert gigawatt.run("anthropic-aws-2026").summary()["seed_matters"] is True  # failures of training runs
    with pytest.raises(gigawatt.GigawattError, match="samples"):
        gigawatt.run(tiny, samples=0)


def test_the_seed_is_shown_only_where_it_matters(tiny):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "gigawatt.cli", "run", str(tiny), "--no-store", "--no-write",
                           "--samples", "2"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    first = proc.stdout.splitlines()[0]
    assert first.strip().startswith("tiny (2 samples; means") and "seed" not in first
    assert "spread over 2 samples" in proc.stdout
