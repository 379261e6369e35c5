"""Sweeps: variants from --set grids and CSV tables, run locally or on Ray, saved and compared."""

import functools
import json

import pytest

from gigawatt import sweep as sw
from gigawatt.cli.sweep import run_variant


def test_grid_is_every_combination():
    v = sw.grid(["deal.capacity_cap=1 GW,2 GW", "sites[0].pue=[1.1, 1.2, 1.3]"])
    assert len(v) == 6
    assert v[0] == {"deal.capacity_cap": "1 GW", "sites[0].pue": 1.1}
    assert v[-1] == {"deal.capacity_cap": "2 GW", "sites[0].pue": 1.3}
    with pytest.raises(ValueError):
        sw.grid(["a=1", "a=2"])
    with pytest.raises(ValueError):
        sw.parse_values("a=")


def test_from_table(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("deal.capacity_cap,sites[0].pue\n1 GW,1.1\n2 GW,\n")
    assert sw.from_table(path) == [{"deal.capacity_cap": "1 GW", "sites[0].pue": 1.1}, {"deal.capacity_cap": "2 GW"}]


def _task(params):
    if params.get("x") == 2:
        raise ValueError("two is refused")
    return params["x"] * 10


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_failing_variant_reports_and_the_others_go_on(jobs):
    out = sw.run_variants(_task, [{"x": i} for i in range(5)], jobs=jobs, batch=2)
    assert [o.result for o in out] == [0, 10, None, 30, 40]
    assert out[2].error == "ValueError: two is refused"


def test_sweep_runs_variants_of_a_scenario(write_scenario, minimal_text):
    path = write_scenario(minimal_text)
    task = functools.partial(run_variant, str(path), 1)
    out = sw.run_variants(task, sw.grid(["deal.capacity_cap=200 MW,400 MW"]), jobs=2, batch=1)
    it = [o.result.summary()["years"][-1]["it_power_w"] for o in out]
    # the cap is IT power: each variant's installed power stays under its own cap
    assert it[0] <= 200e6 < it[1] <= 400e6


def test_sweep_command_saves_variants_and_compare_reads_them(write_scenario, minimal_text, tmp_path):
    from typer.testing import CliRunner

    from gigawatt.cli import app

    path = write_scenario(minimal_text)
    db = tmp_path / "g.duckdb"
    res = CliRunner().invoke(app, ["sweep", str(path), "--set", "deal.capacity_cap=200 MW,400 MW,-1 GW",
                                   "--db", str(db), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert [r["error"] is None for r in out["variants"]] == [True, True, False]
    assert "capacity_cap" in out["variants"][2]["error"]
    res = CliRunner().invoke(app, ["compare", out["sweep"], "--db", str(db), "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)["variants"]
    assert [r["params"]["deal.capacity_cap"] for r in rows] == ["200 MW", "400 MW"]
    res = CliRunner().invoke(app, ["compare", "sweep-nonesuch", "--db", str(db)])
    assert res.exit_code == 2


def test_sweep_on_local_ray(write_scenario, minimal_text):
    ray = pytest.importorskip("ray", reason="ray is an optional extra (pip install 'gigawatt[ray]'); not installed")
    path = write_scenario(minimal_text)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        task = functools.partial(run_variant, str(path), 1)
        out = sw.run_variants(task, sw.grid(["deal.capacity_cap=200 MW,400 MW,-1 GW"]), ray="auto", batch=2)
        assert [o.ok for o in out] == [True, True, False]
    finally:
        ray.shutdown()
