"""The HTML and PNG report: self-contained, one chart per section, drawn in a real browser."""

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from plotly.offline import get_plotlyjs
from typer.testing import CliRunner

import gigawatt
from gigawatt import report, store
from gigawatt.cli.report import report_command

ROOT = Path(__file__).resolve().parents[1]
FLAGSHIP = ROOT / "scenarios" / "anthropic-aws-2026.yaml"
CONTRAST = ROOT / "scenarios" / "nvidia-gb-contrast-2026.yaml"
ALL_CHARTS = ["capacity", "usage", "power", "spend", "inference", "training", "binding", "cash_flow"]
CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser")) if p), None)


def shipped(path):
    """A shipped scenario's buildout, run through the public API without its demand (fast)."""
    return gigawatt.run(gigawatt.load(path, set={"demand": None}))


def with_simulation(results):
    """The variables and events the simulation will add, with made-up values."""
    ds = results.dataset
    rng = np.random.default_rng(2)
    inst = ds["installed"].values
    util = rng.uniform(0.4, 0.9, inst.shape)
    ds["allocated"] = (("sample", "period", "site", "chip", "workload"), inst[..., None] * np.array([0.5, 0.4]))
    ds["utilization"] = (("sample", "period", "site", "chip"), util)
    ds["power_drawn_w"] = (("sample", "period", "site", "chip"), ds["it_power_w"].values * (0.3 + 0.7 * util))
    ds["energy_drawn_j"] = (("sample", "period", "site", "chip"),
                            ds["power_drawn_w"].values * ds["period_s"].values[None, :, None, None])
    n_t = ds.sizes["period"]
    demand = np.stack([6e13 * 1.05 ** np.arange(n_t), np.zeros(n_t)], -1)[None]
    ds["inference_demand_tokens"] = (("sample", "period", "workload"), demand)
    ds["inference_served_tokens"] = (("sample", "period", "workload"), np.minimum(demand, 2e15))
    results.dataset = ds.assign_coords(workload=["chat", "frontier-1"])
    results.events = [
        {"name": "frontier-1", "model": "frontier-moe-2t", "chip": "trainium3", "site": "new-carlisle-in",
         "chips": 200000, "start": "2026-06-01", "finish": "2027-02-01", "deadline": "2027-01-01",
         "delay_days": 31, "status": "finished"},
        {"name": "frontier-2", "model": "frontier-moe-8t", "chip": "trainium4", "site": "new-carlisle-in",
         "chips": 500000, "start": "2029-01-01", "finish": None, "deadline": "2033-01-01",
         "delay_days": None, "status": "running"},
        {"name": "frontier-3", "model": "frontier-moe-8t", "chip": None, "site": None, "chips": None,
         "start": None, "finish": None, "deadline": "2035-01-01", "delay_days": None, "status": "waiting"},
    ]
    results.summary_dict["inference"] = {"served_share": 0.8}
    results.summary_dict["training_runs"] = [{"name": e["name"], "finish": e["finish"]} for e in results.events]
    return results


@pytest.fixture(scope="module")
def sim_results():
    return with_simulation(shipped(FLAGSHIP))


@pytest.fixture(scope="module")
def plain_results():
    return shipped(CONTRAST)


@pytest.fixture(scope="module")
def sim_html(sim_results, tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "sim.html"
    report.write_html(sim_results, path, run_id="abc123")
    return path


def chart_ids(text):
    return re.findall(r'<div id="chart-([a-z_]+)"', text)


def test_html_is_self_contained_with_one_div_per_chart(sim_html):
    text = sim_html.read_text()
    assert chart_ids(text) == ALL_CHARTS
    # plotly.js is embedded, not fetched: the bundle is there and nothing loads from elsewhere
    assert "plotly.js v" in text and len(text) > 1_000_000
    assert not re.search(r"<(script|link|img)[^>]*\s(src|href)=", text)
    # outside the bundle (whose only URL is the default for geographic maps, unused here), no address at all
    rest = text.replace(get_plotlyjs(), "")
    assert len(rest) < len(text) - 1_000_000 and not re.search(r"https?://", rest)
    for label in ("anthropic-aws-2026", "abc123", "0.1.0", "seed", "$100.0B", "TWh", "inference demand served"):
        assert label in text
    # the deal ledger's cash flow per party is drawn from the run's cash_flow_usd
    assert 'id="section-cash_flow"' in text and "no deal ledger" not in text


def test_missing_variables_are_said_not_drawn(plain_results, tmp_path):
    text = report.write_html(plain_results, tmp_path / "plain.html").read_text()
    assert chart_ids(text) == ["capacity", "power", "spend", "binding", "cash_flow"]
    assert "no inference demand" in text and "no training runs" in text
    assert "Power drawn is not in this run" in text


def test_ledger_hook_draws_cash_flow(plain_results, tmp_path):
    months = pd.date_range("2026-01-01", periods=24, freq="MS")
    ledger = pd.DataFrame({
        "period": list(months) * 2,
        "party": ["buyer"] * 24 + ["provider"] * 24,
        "cash_flow_usd": [-1e9] * 24 + [1e9] * 24,
    })
    text = report.write_html(plain_results, tmp_path / "ledger.html", ledger=ledger).read_text()
    assert "cash_flow" in chart_ids(text)


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary installed (Debian: apt-get install -y chromium)")
def test_charts_draw_in_headless_chromium(sim_html, tmp_path):
    """Open the file offline in headless Chromium and check that Plotly drew every chart."""
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", sim_html.as_uri()]
    dom = subprocess.run(cmd, capture_output=True, text=True, timeout=60).stdout
    starts = [(m.start(), m.group(1)) for m in re.finditer(r'<div id="chart-([a-z_]+)"', dom)]
    assert [k for _, k in starts] == ALL_CHARTS
    bounds = [s for s, _ in starts] + [len(dom)]
    for (start, key), end in zip(starts, bounds[1:]):
        drawn = dom[start:end]
        assert 'class="main-svg"' in drawn, f"chart {key} did not render"
        assert re.search(r'class="[^"]*trace', drawn), f"chart {key} has no traces"


def cli():
    app = typer.Typer()
    app.command("report")(report_command)
    app.command("other")(lambda: None)  # two commands, so `report` is a subcommand as in gigawatt
    return app


def test_report_command_writes_html(sim_results, tmp_path):
    db = tmp_path / "g.duckdb"
    run_id = store.save(sim_results, db)
    out = tmp_path / "r.html"
    result = CliRunner().invoke(cli(), ["report", run_id[:6], "--db", str(db), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert chart_ids(out.read_text()) == ALL_CHARTS
    bad = CliRunner().invoke(cli(), ["report", "nope", "--db", str(db)])
    assert bad.exit_code == 2 and "no run 'nope'" in bad.stderr


def test_png_without_a_browser_exits_2_naming_what_to_install(plain_results, tmp_path, monkeypatch):
    db = tmp_path / "g.duckdb"
    run_id = store.save(plain_results, db)
    monkeypatch.setattr(report, "find_browser", lambda: None)
    result = CliRunner().invoke(cli(), ["report", run_id, "--db", str(db), "--out", str(tmp_path / "r.html"), "--png"])
    assert result.exit_code == 2
    assert "apt-get install -y chromium" in result.stderr


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary installed (Debian: apt-get install -y chromium)")
def test_pngs(plain_results, tmp_path):
    pytest.importorskip("kaleido", reason="kaleido is not installed (pip install kaleido)")
    paths = report.write_pngs(plain_results, tmp_path / "png")
    assert [p.name for p in paths] == ["capacity.png", "power.png", "spend.png", "binding.png", "cash_flow.png"]
    for p in paths:
        head = p.read_bytes()[:8]
        assert head == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 10_000


def test_run_without_a_ledger_says_so(plain_results, tmp_path):
    import dataclasses

    bare = dataclasses.replace(plain_results, dataset=plain_results.dataset.drop_vars(["cash_flow_usd", "cash_flow_lines_usd"]))
    text = report.write_html(bare, tmp_path / "bare.html").read_text()
    assert "cash_flow" not in chart_ids(text) and "no deal ledger" in text


def test_usage_panel_splits_installed_chips_by_use():
    from gigawatt.report.charts import usage_section

    results = with_simulation(shipped(FLAGSHIP))
    section = usage_section(results)
    # the made-up allocation gives the chat stream half of every chip and frontier-1 (a run) 40%: 10% idle
    inference, training, idle = (np.array(tr.y) for tr in section.figure.data)
    installed = results.dataset["installed"].isel(sample=0).sum(("site", "chip")).values / 1e3
    assert np.allclose(inference, 0.5 * installed) and np.allclose(training, 0.4 * installed)
    assert np.allclose(idle, 0.1 * installed)
    assert "training held 40% of the chip-months" in section.note
    bare = usage_section(shipped(FLAGSHIP))  # no demand in the run
    assert bare.figure is None and bare.note.startswith("Not drawn")


def test_training_histories_in_the_report():
    from gigawatt.report.charts import _history_lines

    run = {"name": "r1", "history": {
        "placements": [{"chip": "trainium3", "site": "a", "from": "2026-07-01", "to": "2027-07-09", "mean_chips": 150000.0,
                        "chips": 287000, "day_share": 0.8, "mfu": 0.4, "mfu_of": "bf16_peak", "goodput": 0.5}],
        "pauses": [{"from": "2027-01", "to": "2027-03", "why": "inference took its chips"}]}}
    (line,) = _history_lines(run)
    assert line == ("r1: trainium3 at a from 2026-07-01 to 2027-07-09: on average 150,000 of 287,000 chips for 80% "
                    "of each day, MFU 40% (of the BF16 peak), goodput 50%; paused 2027-01 to 2027-03 "
                    "(inference took its chips).")
    assert _history_lines({"name": "r2"}) == []
