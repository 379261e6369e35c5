"""The shipped scenarios end to end: invariants of the run, the CLI and its JSON."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gigawatt.fleet import build_fleet
from gigawatt.results import summarize
from gigawatt.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
FLAGSHIP = ROOT / "scenarios" / "anthropic-aws-2026.yaml"


def gigawatt(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "gigawatt.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd)


@pytest.fixture(scope="module", params=SCENARIOS, ids=lambda p: p.stem)
def run(request):
    scn = load_scenario(request.param)
    fleet = build_fleet(scn)
    return scn, fleet, summarize(scn, fleet)


def test_installed_it_power_never_exceeds_energized(run):
    scn, fleet, _ = run
    it_site = fleet.it_power_w()[0].sum(axis=2)  # (period, site)
    assert np.all(it_site <= fleet.energized_it_w[0] + 1e-6)


def test_installs_never_exceed_supply(run):
    scn, fleet, _ = run
    years = np.array([int(m[:4]) for m in fleet.months])
    for j, spec in enumerate(fleet.chips):
        for year in np.unique(years):
            added = fleet.added[0, years == year, :, j].sum()
            assert added <= spec.supply_per_year, (spec.chip, year)
        # nothing is deployed outside the roadmap window
        months = np.array(fleet.months)
        outside = (months < spec.from_month) | ((months > spec.until) if spec.until else False)
        assert fleet.added[0, outside, :, j].sum() == 0


def test_capacity_cap_never_exceeded(run):
    scn, fleet, _ = run
    if fleet.capacity_cap_w is None:
        pytest.skip("no cap")
    total = (fleet.facility_power_w() if fleet.capacity_basis == "facility" else fleet.it_power_w())[0].sum(axis=(1, 2))
    assert total.max() <= fleet.capacity_cap_w * (1 + 1e-12)


def test_spend_per_period_sums_to_reported_total(run):
    scn, fleet, summary = run
    per_period = fleet.spend_usd()[0].sum(axis=(1, 2))
    assert summary.totals["spend_usd"] == pytest.approx(per_period.sum(), rel=1e-12)
    assert sum(y["spend_usd"] for y in summary.years) == pytest.approx(summary.totals["spend_usd"], rel=1e-12)
    assert summary.years[-1]["cumulative_spend_usd"] == pytest.approx(summary.totals["spend_usd"], rel=1e-12)


def test_chips_are_conserved(run):
    scn, fleet, _ = run
    flows = np.cumsum(fleet.added - fleet.retired, axis=1)
    assert np.array_equal(flows, fleet.installed)
    assert np.all(fleet.installed >= 0)


def test_spend_limit_respected(run):
    scn, fleet, _ = run
    if scn.deal.spend_limit is None:
        pytest.skip("no spend limit")
    spend = fleet.spend_usd()[0].sum(axis=(1, 2))
    budget = scn.deal.spend_limit.per_year_usd * fleet.period_s / (365.25 * 86400)
    assert np.all(spend <= budget * (1 + 1e-9))


def test_flagship_json_end_to_end(tmp_path):
    db = tmp_path / "store.duckdb"
    proc = gigawatt("run", FLAGSHIP, "--json", "--out", tmp_path / "out", "--db", db)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)  # nothing but JSON on stdout
    listed = json.loads(gigawatt("runs", "list", "--db", db, "--json").stdout)
    assert [r["id"] for r in listed["runs"]] == [data["run_id"]]
    assert data["inference"]["served_share"] is not None
    assert {"name", "start", "finish", "chips", "chip", "delay_days"} <= set(data["training_runs"][0])
    assert data["scenario"] == "anthropic-aws-2026"
    assert data["seed"] == 7 and data["gigawatt_version"]
    years = data["years"]
    assert [y["year"] for y in years] == list(range(2026, 2036))
    for y in years:
        assert set(y) >= {"year", "it_power_w", "facility_power_w", "chips", "peak_bf16_flops", "peak_fp8_flops",
                          "spend_usd", "energy_j", "binding"}
        assert y["binding"] in {"power", "supply", "spend_limit", "cap", "none"}
        assert y["facility_power_w"] >= y["it_power_w"]
        assert set(y["chips"]) == {"trainium2", "trainium3", "trainium4"}
    assert data["totals"]["commitment_usd"] == 100e9
    # the term's spend passes the $100B floor: no implied price, but what the commitment buys
    assert data["implied"]["usd_per_chip_hour"] is None and data["implied"]["usd_per_gw_year"] is None
    assert data["commitment_buys"]["gw_years"] > 0 and data["implied"]["contract_usd_per_chip_hour"] > 0
    files = {p.name for p in (tmp_path / "out").iterdir()}
    assert {"fleet.nc", "summary.json", "years.csv", "scenario.yaml", "scenario.resolved.json", "manifest.json"} <= files
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["seed"] == 7 and manifest["gigawatt_version"] == data["gigawatt_version"]


def test_same_seed_same_results(tmp_path):
    a = json.loads(gigawatt("run", FLAGSHIP, "--json", "--no-write", "--no-store").stdout)
    b = json.loads(gigawatt("run", FLAGSHIP, "--json", "--no-write", "--no-store").stdout)
    assert a == b


def test_check_lists_every_problem_and_exits_2(tmp_path, minimal_text):
    bad = (minimal_text.replace("    pue: 1.2", "    peu: 1.2")
           .replace("capacity_cap: 1 GW", "capacity_cap: 5 GB")
           .replace("{chip: trainium2,", "{chip: trainum2,"))
    path = tmp_path / "bad.yaml"
    path.write_text(bad)
    proc = gigawatt("check", path)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    for where in [f"{path}:7: deal.capacity_cap", f"{path}:10: sites[0].peu", f"{path}:13: roadmap[0].chip"]:
        assert where in proc.stderr, proc.stderr
    assert "did you mean 'pue'" in proc.stderr and "trainium2" in proc.stderr


def test_run_on_broken_file_exits_2_and_keeps_old_results(tmp_path, minimal_text):
    good = tmp_path / "good.yaml"
    good.write_text(minimal_text)
    out = tmp_path / "out"
    assert gigawatt("run", good, "--out", out, "--no-store").returncode == 0
    before = (out / "summary.json").read_text()
    bad = tmp_path / "bad.yaml"
    bad.write_text(minimal_text.replace("pue: 1.2", "pue: [1.2"))
    proc = gigawatt("run", bad, "--out", out, "--no-store")
    assert proc.returncode == 2 and "YAML syntax" in proc.stderr
    assert (out / "summary.json").read_text() == before


def test_catalog_and_compare_commands(tmp_path):
    proc = gigawatt("catalog", "chips", "--json")
    assert proc.returncode == 0
    chips = {c["id"]: c for c in json.loads(proc.stdout)}
    assert chips["h100-sxm"]["peak_bf16_flops"] == pytest.approx(989e12, rel=0.01)
    assert gigawatt("catalog", "systems").returncode == 0
    assert gigawatt("catalog", "gpus").returncode == 2
    contrast = ROOT / "scenarios" / "nvidia-gb-contrast-2026.yaml"
    proc = gigawatt("compare", FLAGSHIP, contrast, "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    both = json.loads(proc.stdout)
    assert both["a"]["scenario"] == "anthropic-aws-2026" and both["b"]["scenario"] == "nvidia-gb-contrast-2026"
