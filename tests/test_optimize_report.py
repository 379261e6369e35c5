"""The optimizer's HTML report and its --plan-out guard."""

from __future__ import annotations

import re

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

import gigawatt
from gigawatt.cli import app
from gigawatt.optimize import optimize
from gigawatt.report.optimize import optimize_sections, render_optimize_html
from test_optimize import TOY


@pytest.fixture(scope="module")
def toy_result():
    return optimize(gigawatt.load(yaml.safe_load(TOY)), period="month", simulate=False)


def test_sections_draw_the_shadow_prices_the_program_found(toy_result):
    sections = {s.key: s for s in optimize_sections(toy_result)}
    power = sections["power-value"].figure
    by_site = {tr.name: np.asarray(tr.y, dtype=float) for tr in power.data}
    for row in (r for r in toy_result.shadow if r["constraint"] == "power"):
        i = toy_result.data.labels.index(row["period"])
        assert by_site[f"power at {row['site']}"][i] == pytest.approx(row["value"] / 1e6)
    money = sections["money-value"].figure.data[0]
    limit = [r for r in toy_result.shadow if r["constraint"] == "spend_limit"]
    assert np.nansum(np.asarray(money.y, dtype=float)) == pytest.approx(sum(r["value"] for r in limit))
    plan = sections["plan"].figure
    total = sum(np.asarray(tr.y, dtype=float) for tr in plan.data)
    expected = (toy_result.installed.sum(axis=1) * toy_result.data.it_w_per_chip).sum(axis=1) / 1e9
    np.testing.assert_allclose(total, expected)


def test_html_is_self_contained_and_lists_what_would_loosen_it(toy_result):
    page = render_optimize_html(toy_result)
    assert page.startswith("<!DOCTYPE html>") and "plotly.js v" in page
    assert not re.search(r"<(script|link|img)[^>]*\s(src|href)=", page)  # nothing fetched from elsewhere
    assert "What would loosen it" in page and 'id="chart-power-value"' in page
    assert "+1 MW of energized IT power at a" in page


def test_plan_out_never_replaces_a_file_it_did_not_write(write_scenario, tmp_path):
    scenario = write_scenario(TOY)
    mine = tmp_path / "notes.yaml"
    mine.write_text("my own notes\n")
    for target in (mine, scenario):
        res = CliRunner().invoke(app, ["optimize", str(scenario), "--period", "month", "--no-simulate",
                                       "--plan-out", str(target)])
        assert res.exit_code == 2 and "not a plan that gigawatt optimize wrote" in res.output
    assert mine.read_text() == "my own notes\n" and scenario.read_text() == TOY
    plan = tmp_path / "plan.yaml"
    for _ in range(2):  # a plan it wrote is replaced
        res = CliRunner().invoke(app, ["optimize", str(scenario), "--period", "month", "--no-simulate",
                                       "--plan-out", str(plan), "--report", str(tmp_path / "r.html")])
        assert res.exit_code == 0, res.output
    assert plan.read_text().startswith("# The least-cost plan for toy")
    assert (tmp_path / "r.html").stat().st_size > 100_000


def test_lead_time_bars_for_sites_and_generations():
    import types

    from gigawatt.report.optimize import lead_time_section

    result = types.SimpleNamespace(lead_time=[
        {"site": "a", "value_usd": 2e8}, {"site": "b", "value_usd": 0.0},
        {"chip": "trainium3", "opens": "2026-Q3", "value_usd": 9e8}, {"chip": "trainium4", "value_usd": None}])
    bars = {tr.name: dict(zip(tr.x, tr.y)) for tr in lead_time_section(result).figure.data}
    assert bars == {"a site's power": {"a power": 200.0}, "a generation's roadmap window": {"trainium3 window": 900.0}}
