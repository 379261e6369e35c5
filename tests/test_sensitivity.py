"""Sensitivity: Sobol indices (SALib) on functions with known indices, and the tornado of a scenario."""

import json

import numpy as np
import pytest
from scipy import stats

import gigawatt
from gigawatt.sensitivity import sobol_indices, tornado

FLAGSHIP = "scenarios/anthropic-aws-2026.yaml"


def ishigami(x, a=7.0, b=0.1):
    return np.sin(x[:, 0]) + a * np.sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * np.sin(x[:, 0])


def test_sobol_indices_of_the_ishigami_function():
    # Analytic indices for a = 7, b = 0.1 on U(-pi, pi)^3 (Ishigami & Homma 1990; Saltelli et al. 2008,
    # table 4.1): S1 = (0.3139, 0.4424, 0), ST = (0.5576, 0.4424, 0.2437). With N = 1024 the
    # estimators' standard error is about 0.03 (SALib's 95% bootstrap half-widths are 0.03-0.08),
    # so a tolerance of 0.05 can fail only on a wrong design or estimator.
    u = stats.uniform(-np.pi, 2 * np.pi).ppf
    first, total, _, _ = sobol_indices(ishigami, [u, u, u], 1024, seed=1)[0]
    assert first == pytest.approx([0.3139, 0.4424, 0.0], abs=0.05)
    assert total == pytest.approx([0.5576, 0.4424, 0.2437], abs=0.05)


def test_sobol_indices_of_a_linear_model():
    # y = x1 + 2 x2 + 3 x3, independent standard normals: S_i = a_i^2 / sum a^2 = 1/14, 4/14, 9/14,
    # first order and total alike (no interactions); 0.03 is about twice the standard error at N = 1024
    z = stats.norm().ppf
    first, total, _, _ = sobol_indices(lambda x: x @ np.array([1.0, 2.0, 3.0]), [z, z, z], 1024, seed=2)[0]
    assert first == pytest.approx([1 / 14, 4 / 14, 9 / 14], abs=0.03)
    assert total == pytest.approx([1 / 14, 4 / 14, 9 / 14], abs=0.03)


def test_tornado_swings_each_input_alone():
    scn = gigawatt.load(FLAGSHIP)
    (t,) = tornado(scn, ["spend_usd"])
    k = t.inputs.index("demand.inference[0].tokens_per_day")
    # the buildout does not read demand: the spend does not move with it
    assert t.low[k] == t.high[k] == pytest.approx(t.median, rel=1e-12)
    k = t.inputs.index("deal.spend_limit.per_year")
    assert t.low[k] < t.median < t.high[k]  # a tighter spend limit, less spend
    assert t.order()[0] != k or t.swing[k] == t.swing.max()


def test_sensitivity_command(tmp_path):
    from typer.testing import CliRunner

    from gigawatt.cli import app

    chart = tmp_path / "s.html"
    res = CliRunner().invoke(app, ["sensitivity", FLAGSHIP, "-y", "provider_npv_usd", "--sobol-n", "8",
                                   "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    rows = out["sobol"][0]["rows"]
    assert out["sobol"][0]["n"] == 8 * (20 + 2) and len(rows) == 20
    res = CliRunner().invoke(app, ["sensitivity", FLAGSHIP, "-y", "nonsense", "--sobol-n", "0"])
    assert res.exit_code == 2 and "nonsense" in res.output
    res = CliRunner().invoke(app, ["sensitivity", FLAGSHIP, "-y", "it_power_w:2030", "--sobol-n", "0",
                                   "--chart", str(chart)])
    assert res.exit_code == 0 and chart.exists()
