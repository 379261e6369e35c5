"""The DuckDB results store: round trip, atomicity, concurrent writers, and the `runs` CLI."""

import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from typer.testing import CliRunner

import gigawatt
from gigawatt import store
from gigawatt.cli.runs import app

ROOT = Path(__file__).resolve().parents[1]
FLAGSHIP = ROOT / "scenarios" / "anthropic-aws-2026.yaml"
CONTRAST = ROOT / "scenarios" / "nvidia-gb-contrast-2026.yaml"


def shipped(path):
    """A shipped scenario's buildout, run through the public API without its demand (fast)."""
    results = gigawatt.run(gigawatt.load(path, set={"demand": None}))
    results.timings_s = {"build": 0.25}
    return results


def with_simulation(results):
    """Add the variables and events the simulation will add, with made-up values, so that
    every table and the workload dimension are exercised before the engine exists."""
    ds = results.dataset
    rng = np.random.default_rng(1)
    workloads = ["chat", "frontier-1"]
    inst = ds["installed"].values
    ds["allocated"] = (("sample", "period", "site", "chip", "workload"), inst[..., None] * np.array([0.4, 0.5]))
    ds["utilization"] = (("sample", "period", "site", "chip"), rng.uniform(0, 1, inst.shape))
    ds["power_drawn_w"] = (("sample", "period", "site", "chip"), ds["it_power_w"].values * 0.7, {"units": "W"})
    n_t = ds.sizes["period"]
    demand = rng.uniform(1e13, 1e14, (1, n_t, 2))
    ds["inference_demand_tokens"] = (("sample", "period", "workload"), demand)
    ds["inference_served_tokens"] = (("sample", "period", "workload"), demand * 0.9)
    results.dataset = ds.assign_coords(workload=workloads)
    results.events = [
        {"name": "frontier-1", "model": "frontier-moe-2t", "chip": "trainium3", "site": "new-carlisle-in",
         "chips": 200000, "start": "2026-06-01", "finish": "2027-02-01", "deadline": "2027-01-01",
         "delay_days": 31, "status": "finished"},
        {"name": "frontier-2", "model": "frontier-moe-8t", "chip": None, "site": None, "chips": None,
         "start": None, "finish": None, "deadline": "2030-01-01", "delay_days": None, "status": "waiting"},
    ]
    results.summary_dict["inference"] = {"served_share": 0.9}
    return results


@pytest.fixture(scope="module")
def flagship():
    return with_simulation(shipped(FLAGSHIP))


@pytest.fixture(scope="module")
def contrast():
    return shipped(CONTRAST)


def assert_same_run(a, b):
    xr.testing.assert_identical(a.dataset, b.dataset)
    assert a.events == b.events
    assert a.summary_dict == b.summary_dict
    assert a.resolved == b.resolved
    assert a.scenario_text == b.scenario_text
    assert (a.version, a.seed, a.timings_s) == (b.version, b.seed, b.timings_s)


def test_round_trip_with_simulation(flagship, tmp_path):
    db = tmp_path / "g.duckdb"
    run_id = store.save(flagship, db)
    assert_same_run(flagship, store.load_run(db, run_id))
    # a unique prefix of the id also works
    assert store.load_run(db, run_id[:6]).name == "anthropic-aws-2026"


def test_round_trip_buildout_only(contrast, tmp_path):
    db = tmp_path / "g.duckdb"
    run_id = store.save(contrast, db)
    loaded = store.load_run(db, run_id)
    assert_same_run(contrast, loaded)
    assert loaded.events == []


def test_tables_are_tidy_and_queryable(flagship, tmp_path):
    import duckdb

    db = tmp_path / "g.duckdb"
    run_id = store.save(flagship, db)
    con = duckdb.connect(str(db), read_only=True)
    it_2030 = con.execute("SELECT sum(value) FROM run_values WHERE run_id = ? AND variable = 'it_power_w' "
                          "AND period = DATE '2030-12-01'", [run_id]).fetchone()[0]
    pue = con.execute("SELECT count(*) FROM run_values WHERE run_id = ? AND variable = 'pue' AND period IS NULL",
                      [run_id]).fetchone()[0]
    binding = con.execute("SELECT text FROM run_values WHERE run_id = ? AND variable = 'binding' "
                          "AND period = DATE '2026-01-01'", [run_id]).fetchone()[0]
    events = con.execute("SELECT name, chips, start::DATE FROM run_events WHERE run_id = ? ORDER BY seq",
                         [run_id]).fetchall()
    con.close()
    expected = flagship.dataset["it_power_w"].sel(period="2030-12").sum().item()
    assert it_2030 == pytest.approx(expected)
    assert pue == flagship.dataset.sizes["site"]
    assert binding == str(flagship.dataset["binding"].values[0, 0])
    assert events[0][:2] == ("frontier-1", 200000.0) and str(events[0][2]) == "2026-06-01"


def count_rows(db):
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        names = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in
                ("runs", "run_values", "run_events") if t in names}
    finally:
        con.close()


def test_error_midway_leaves_no_rows(flagship, tmp_path, monkeypatch):
    db = tmp_path / "g.duckdb"
    first = store.save(flagship, db)
    before = count_rows(db)

    def boom(con, rows):
        raise RuntimeError("killed while writing events")

    monkeypatch.setattr(store, "_insert_events", boom)
    with pytest.raises(RuntimeError, match="killed while writing"):
        store.save(flagship, db)
    assert count_rows(db) == before
    assert [r["id"] for r in store.list_runs(db)] == [first]


def test_error_in_first_write_leaves_no_rows(flagship, tmp_path, monkeypatch):
    db = tmp_path / "g.duckdb"
    monkeypatch.setattr(store, "_insert_events", lambda con, rows: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        store.save(flagship, db)
    assert all(n == 0 for n in count_rows(db).values())
    assert store.list_runs(db) == []


CHILD = textwrap.dedent(
    """\
    import pickle, sys, time
    from pathlib import Path
    from gigawatt import store
    results = pickle.loads(Path(sys.argv[1]).read_bytes())
    db, mode, marker = sys.argv[2], sys.argv[3], Path(sys.argv[4])
    real_values = store._insert_values
    def slow_values(*args):
        real_values(*args)
        marker.write_text("in transaction")
        time.sleep(30 if mode == "hang" else 0.5)
    store._insert_values = slow_values
    if mode == "hold":  # hold the file open for writing, as a long run would
        import duckdb
        con = duckdb.connect(db)
        marker.write_text("holding")
        time.sleep(float(sys.argv[5]))
        con.close()
        sys.exit(0)
    while mode == "race" and not Path(sys.argv[5]).exists():  # start line
        time.sleep(0.01)
    print(store.save(results, db, timeout_s=20))
    """
)


def child(tmp_path, results, db, mode, marker, *extra):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    blob = tmp_path / "results.pkl"
    if not blob.exists():
        blob.write_bytes(pickle.dumps(results))
    return subprocess.Popen([sys.executable, str(script), str(blob), str(db), mode, str(marker), *map(str, extra)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(path, timeout_s=20.0):
    end = time.monotonic() + timeout_s
    while not Path(path).exists():
        assert time.monotonic() < end, f"{path} never appeared"
        time.sleep(0.02)


def test_process_killed_midway_leaves_no_rows(flagship, tmp_path):
    db = tmp_path / "g.duckdb"
    first = store.save(flagship, db)
    before = count_rows(db)
    marker = tmp_path / "marker"
    proc = child(tmp_path, flagship, db, "hang", marker)
    wait_for(marker)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    assert count_rows(db) == before
    assert [r["id"] for r in store.list_runs(db)] == [first]
    assert_same_run(flagship, store.load_run(db, first))


def test_two_writers_both_land(flagship, tmp_path):
    db = tmp_path / "g.duckdb"
    go = tmp_path / "go"
    procs = [child(tmp_path, flagship, db, "race", tmp_path / f"m{i}", go) for i in range(2)]
    time.sleep(0.2)
    go.write_text("go")
    ids = []
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        ids.append(out.strip())
    assert sorted(r["id"] for r in store.list_runs(db)) == sorted(ids)
    for run_id in ids:
        assert_same_run(flagship, store.load_run(db, run_id))


def test_locked_store_fails_with_a_clear_message(flagship, tmp_path):
    db = tmp_path / "g.duckdb"
    store.save(flagship, db)
    marker = tmp_path / "held"
    proc = child(tmp_path, flagship, db, "hold", marker, 2.5)
    try:
        wait_for(marker)
        with pytest.raises(store.StoreLocked, match="in use by another process"):
            store.save(flagship, db, timeout_s=0.5)
        result = CliRunner().invoke(app, ["list", "--db", str(db)], env={"GIGAWATT_LOCK_TIMEOUT_S": "0.5"})
        assert result.exit_code == 2
        assert "in use by another process" in result.stderr and "hint:" in result.stderr
    finally:
        proc.wait(20)
    # once the other process is done, the store works again
    assert len(store.list_runs(db)) == 1


# --------------------------------------------------------------------------- CLI


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory, flagship, contrast):
    db = tmp_path_factory.mktemp("store") / "runs.duckdb"
    return db, store.save(flagship, db), store.save(contrast, db)


def test_cli_list(two_runs):
    db, a, b = two_runs
    result = CliRunner().invoke(app, ["list", "--db", str(db), "--json"])
    assert result.exit_code == 0, result.output
    runs = json.loads(result.stdout)["runs"]
    assert [r["id"] for r in runs] == [a, b]
    assert runs[0]["scenario"] == "anthropic-aws-2026" and runs[0]["seed"] == 7 and runs[0]["status"] == "ok"
    text = CliRunner().invoke(app, ["list", "--db", str(db)])
    assert text.exit_code == 0 and a in text.stdout and "nvidia-gb-contrast-2026" in text.stdout


def test_cli_show(two_runs, flagship):
    db, a, _ = two_runs
    result = CliRunner().invoke(app, ["show", a[:5], "--db", str(db), "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["id"] == a and info["summary"]["totals"] == flagship.summary_dict["totals"]
    assert info["events"][0]["name"] == "frontier-1"
    text = CliRunner().invoke(app, ["show", a, "--db", str(db)])
    assert text.exit_code == 0
    assert "2035" in text.stdout and "frontier-1" in text.stdout and "inference demand served" in text.stdout


def test_cli_diff(two_runs, flagship, contrast):
    db, a, b = two_runs
    result = CliRunner().invoke(app, ["diff", a, b, "--db", str(db), "--json"])
    assert result.exit_code == 0, result.output
    d = json.loads(result.stdout)
    assert d["a"]["id"] == a and d["b"]["id"] == b
    y2030 = next(y for y in d["years"] if y["year"] == 2030)
    spend = next(c for c in y2030["changes"] if c["key"] == "spend_usd")
    ya = next(r for r in flagship.summary_dict["years"] if r["year"] == 2030)["spend_usd"]
    yb = next(r for r in contrast.summary_dict["years"] if r["year"] == 2030)["spend_usd"]
    assert spend["diff"] == pytest.approx(yb - ya)
    assert any(c["key"] == "name" for c in d["scenario"])
    text = CliRunner().invoke(app, ["diff", a, b, "--db", str(db)])
    assert text.exit_code == 0 and "year 2030" in text.stdout
    same = CliRunner().invoke(app, ["diff", a, a, "--db", str(db), "--json"])
    assert json.loads(same.stdout)["scenario"] == [] and json.loads(same.stdout)["summary"] == []


def test_cli_errors_exit_2_with_a_hint(two_runs, tmp_path):
    db, _, _ = two_runs
    missing = tmp_path / "nope.duckdb"
    for args in (["list", "--db", str(missing)], ["show", "abc", "--db", str(missing)]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2
        assert "no results store" in result.stderr and "hint:" in result.stderr
    assert not missing.exists()  # reading never creates a store
    result = CliRunner().invoke(app, ["show", "zzzz", "--db", str(db)])
    assert result.exit_code == 2 and "no run 'zzzz'" in result.stderr and "runs list" in result.stderr
    result = CliRunner().invoke(app, ["diff", "zzzz", "yyyy", "--db", str(db)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    junk = tmp_path / "junk.duckdb"
    junk.write_text("not a database")
    result = CliRunner().invoke(app, ["list", "--db", str(junk)])
    assert result.exit_code == 2 and "cannot open" in result.stderr
