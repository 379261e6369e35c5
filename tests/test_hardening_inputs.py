"""Hostile scenario input: every case is a ScenarioError with its path, line and hint; the CLI exits 2.

Each case here once passed ``gigawatt check`` and then crashed ``run``, filled
memory or hung; see ``gigawatt.scenario.limits`` for the limits.
"""

import math
import os
import resource
import subprocess
import sys
import textwrap
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from gigawatt import units
from gigawatt.cli import app
from gigawatt.economics import finance
from gigawatt.errors import ScenarioError, UnitError
from gigawatt.scenario import limits, load_scenario, load_scenario_text, loader

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted((ROOT / "scenarios").glob("*.yaml"))

INFERENCE = (
    "demand:\n"
    "  inference:\n"
    "    - name: agents\n"
    "      model: llama3.1-70b\n"
    "      at: 2026-01\n"
    "      input_tokens: 2000\n"
    "      output_tokens: 500\n"
    "      agentic: {tasks_per_day: 1000, steps_per_task: 30}\n"
)

TRAIN = "demand:\n  training:\n    - {name: r, model: llama3.1-70b, tokens: 1T, start: 2026-02, min_chips: 10}\n"
STREAM = ("demand:\n  inference:\n    - {model: llama3.1-70b, tokens_per_day: 1e9, at: 2026-01, growth: 2x/year,"
          " input_tokens: 10, output_tokens: 10}\n")


def problems(text):
    with pytest.raises(ScenarioError) as err:
        load_scenario_text(text, "bad.yaml")
    return err.value.problems


def by_path(text):
    return {p.path: p for p in problems(text)}


def cli(*args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result


def assert_exit_2(path):
    """``check`` and ``run --no-store --no-write --json`` both exit 2, with no traceback."""
    for args in (["check", path], ["run", path, "--no-store", "--no-write", "--json"]):
        result = cli(*args)
        assert result.exit_code == 2, (args, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        assert "Traceback" not in result.output


# --------------------------------------------------------------------------- memory and time


def test_agentic_steps_are_bounded(minimal_text, write_scenario):
    ok = load_scenario_text(minimal_text + INFERENCE)
    assert ok.demand.inference[0].agentic.steps_per_task == 30
    text = minimal_text + INFERENCE.replace("steps_per_task: 30", "steps_per_task: 1e9")
    p = by_path(text)["demand.inference[0].agentic.steps_per_task"]
    assert p.line == 23 and "1,000" in p.message and "SWE-Bench" in p.hint
    assert_exit_2(write_scenario(text))
    # the limit itself is accepted; a step count below one is not
    load_scenario_text(minimal_text + INFERENCE.replace("steps_per_task: 30", f"steps_per_task: {limits.MAX_AGENTIC_STEPS}"))
    assert "demand.inference[0].agentic.steps_per_task" in by_path(
        minimal_text + INFERENCE.replace("steps_per_task: 30", "steps_per_task: 0.4"))


BOMB = textwrap.dedent(
    """\
    a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
    b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
    c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
    d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
    e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
    f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
    g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
    h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
    i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
    """
)


def _check_in_subprocess(path, limit_bytes=int(1.5 * 2**30), timeout_s=20):
    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))

    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "gigawatt.cli", "check", str(path)], capture_output=True, text=True,
                         timeout=timeout_s, preexec_fn=cap, cwd=ROOT)
    return out, time.perf_counter() - t0


def test_alias_bomb_is_rejected_in_bounded_memory_and_time(write_scenario):
    path = write_scenario(BOMB)
    assert len(BOMB) < 400
    out, seconds = _check_in_subprocess(path)
    assert out.returncode == 2, out.stderr
    assert "1,000,000 YAML nodes" in out.stderr and "alias" in out.stderr
    assert "Traceback" not in out.stderr
    assert seconds < 20


def test_alias_bomb_in_process_and_recursive_alias(minimal_text):
    (p,) = problems(BOMB)
    assert "aliases" in p.message and "&a" in p.hint
    (p,) = problems(minimal_text + "x: &x [1, *x]\n")
    assert "recursive" in p.message and p.line == 16


def test_moderate_aliases_still_work(minimal_text):
    text = minimal_text.replace("roadmap:\n  - {chip: trainium2, system: trn2-48xlarge,",
                                "roadmap:\n  - {chip: &c trainium2, system: trn2-48xlarge,")
    text += "demand:\n  training:\n    - {name: r, model: llama3.1-70b, tokens: 1T, start: 2026-02, min_chips: 10, chips: [*c]}\n"
    scn = load_scenario_text(text)
    assert scn.demand.training[0].chips == ["trainium2"]


def test_horizon_of_ten_thousand_years_is_rejected(minimal_text, write_scenario):
    text = minimal_text.replace("end: 2027-12", "end: 9999-12")
    (p,) = problems(text)
    assert p.path == "horizon.end" and p.line == 3
    assert "100 years" in p.message and p.hint
    assert_exit_2(write_scenario(text))
    # exactly 100 years is fine
    load_scenario_text(minimal_text.replace("end: 2027-12", "end: 2125-12"))


def test_irr_is_linear_in_the_periods():
    """95,685 monthly periods: the old polynomial needed a 95,685 x 95,685 matrix (73 GB)."""
    n = 95_685
    t = np.arange(n) / 12.0
    flows = np.r_[-1e9, np.full(n - 1, 1e7)]
    tracemalloc.start()
    t0 = time.perf_counter()
    r = finance.irr(flows, t)
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 100 * 2**20 and seconds < 15
    assert r is not None and abs(finance.npv_usd(flows, r, t)) < 1e-3 * 1e9


def test_irr_reasons_and_brent_matches_scipy():
    assert finance.irr_detail([100.0, 50.0], [0.0, 1.0]) == (None, "the flows never change sign")
    rate, why = finance.irr_detail([-100.0, 1.0], [0.0, 1.0])  # loses 99%: below the range searched
    assert rate is None and "does not change sign" in why
    assert finance.irr_detail([-100.0, np.nan], [0.0, 1.0])[0] is None
    from scipy.optimize import brentq

    rng = np.random.default_rng(1)
    for _ in range(200):
        n = int(rng.integers(2, 120))
        flows = rng.normal(size=n)
        flows[0] = -abs(flows[0]) * n
        t = np.arange(n) / 12.0

        def f(r):
            return float((flows * (1.0 + r) ** (-t)).sum())

        a, b = -0.9, 50.0
        if np.sign(f(a)) == np.sign(f(b)):
            continue
        assert finance.brentq(f, a, b, xtol=1e-13) == brentq(f, a, b, xtol=1e-13)


def test_big_file_is_rejected_before_reading(minimal_text, tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text(minimal_text)
    os.truncate(path, limits.MAX_FILE_BYTES + 1)  # sparse: nothing is written, stat says 10 MiB + 1
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    (p,) = err.value.problems
    assert "more than the limit of 10,485,760" in p.message and p.hint
    assert_exit_2(path)


def test_big_text_is_rejected():
    with pytest.raises(ScenarioError, match="limit"):
        load_scenario_text("a: b\n" * (limits.MAX_FILE_BYTES // 5 + 1))


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_dev_zero_does_not_hang():
    out, seconds = _check_in_subprocess("/dev/zero", timeout_s=20)
    assert out.returncode == 2 and "not a regular file" in out.stderr
    assert seconds < 20


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes")
def test_named_pipe_does_not_hang(tmp_path):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    out, _ = _check_in_subprocess(fifo, timeout_s=20)
    assert out.returncode == 2 and "not a regular file" in out.stderr


def test_folder_and_non_utf8(tmp_path):
    with pytest.raises(ScenarioError, match="folder"):
        load_scenario(tmp_path)
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"schema_version: 1\nname: caf\xe9\n")
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert err.value.problems[0].line == 2 and "UTF-8" in err.value.problems[0].message


def _energized(n):
    return "{" + ", ".join(f"{2026 + k // 12}-{k % 12 + 1:02d}: 1 GW" for k in range(n)) + "}"


def test_too_many_energized_points(minimal_text, write_scenario):
    text = minimal_text.replace("{2026-01: 100 MW, 2027-01: 600 MW}", _energized(limits.MAX_ENERGIZED_POINTS + 1))
    (p,) = problems(text)
    assert p.path == "sites[0].energized" and p.line == 11 and "1,201 points" in p.message
    assert_exit_2(write_scenario(text))
    load_scenario_text(minimal_text.replace("{2026-01: 100 MW, 2027-01: 600 MW}",
                                            _energized(limits.MAX_ENERGIZED_POINTS)))


def test_a_large_file_of_points_is_turned_away_quickly(minimal_text, tmp_path):
    """About 2 MB of points: rejected on the YAML nodes, before they become Python data."""
    points = "".join(f"      {2026 + k // 12:05d}-{k % 12 + 1:02d}: 1 GW\n" for k in range(100_000))
    text = minimal_text.replace("    energized: {2026-01: 100 MW, 2027-01: 600 MW}\n", "    energized:\n" + points)
    path = tmp_path / "points.yaml"
    path.write_text(text)
    out, seconds = _check_in_subprocess(path, timeout_s=60)
    assert out.returncode == 2 and "100,000 points" in out.stderr
    assert seconds < 60


@pytest.mark.parametrize("section, make, path", [
    ("sites", lambda n: "sites:\n" + "".join(f"  - {{name: s{i}, energized: {{2026-01: 1 MW}}}}\n" for i in range(n)),
     "sites"),
    ("training", lambda n: "demand:\n  training:\n" + "".join(
        f"    - {{name: r{i}, model: llama3.1-70b, tokens: 1T, start: 2026-02, min_chips: 10}}\n" for i in range(n)),
     "demand.training"),
    ("inference", lambda n: "demand:\n  inference:\n" + "".join(
        f"    - {{model: llama3.1-70b, tokens_per_day: 1e9, at: 2026-01, input_tokens: 10, output_tokens: 10}}\n"
        for i in range(n)), "demand.inference"),
])
def test_list_caps(minimal_text, section, make, path):
    cap = {"sites": limits.MAX_SITES, "training": limits.MAX_TRAINING_RUNS,
           "inference": limits.MAX_INFERENCE_STREAMS}[section]
    if section == "sites":
        text = minimal_text.split("sites:\n")[0] + make(cap + 1) + "roadmap:" + minimal_text.split("roadmap:")[1]
    else:
        text = minimal_text + make(cap + 1)
    ps = by_path(text)
    assert path in ps and f"{cap + 1:,}" in ps[path].message and ps[path].line is not None


def test_roadmap_cap(minimal_text):
    entries = "".join("  - {chip: trainium2, from: 2025-01}\n" for _ in range(limits.MAX_ROADMAP_ENTRIES + 1))
    text = minimal_text.replace("  - {chip: trainium2, system: trn2-48xlarge, from: 2025-01, lifetime: 5 years}\n",
                                entries)
    p = by_path(text)["roadmap"]
    assert p.line == 12 and "51 roadmap entries" in p.message


def test_generated_runs_are_counted(minimal_text, write_scenario):
    text = minimal_text + (
        "demand:\n  training:\n"
        "    - generate: {model: llama3.1-70b, first: 2026-01, every: 1 month, until: 9999-12, compute: 1e24,"
        " min_chips: 10}\n"
    )
    p = by_path(text.replace("compute: 1e24", "compute: 1e24 FLOP"))["demand.training[0].generate"]
    assert p.line == 18 and "generates 95,688 runs" in p.message and "every" in p.hint
    assert_exit_2(write_scenario(text))
    assert limits.generated_run_count("2026-01", 9 * 2629800.0, None, None, "2035-12") == 14


def test_run_size_is_bounded(minimal_text):
    chips = ["trainium2", "trainium3", "h100-sxm", "h200", "b200", "gb200", "gb300", "tpu-v5p", "tpu-v6e", "mi300x"]
    text = (minimal_text.split("sites:\n")[0].replace("end: 2027-12}", "end: 2125-12, step: week}")
            + "sites:\n" + "".join(f"  - {{name: s{i}, energized: {{2026-01: 1 MW}}}}\n" for i in range(200))
            + "roadmap:\n" + "".join(f"  - {{chip: {c}, from: 2027-01}}\n" for c in chips)
            + "prices: {" + ", ".join(f"{c}: $1/h" for c in chips) + "}\n" + STREAM)
    p = by_path(text)["horizon"]
    assert p.line == 3 and "cells" in p.message and "limit of 20,000,000" in p.message
    # the same scenario by month is within the limit, but not 10 samples of it
    scn = load_scenario_text(text.replace(", step: week", ""))
    assert limits.run_cells(scn) < limits.MAX_RUN_CELLS
    limits.check_run_size(scn, 1)
    with pytest.raises(ScenarioError, match="10 samples"):
        limits.check_run_size(scn, 10)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_scenarios_are_far_within_the_limits(path):
    scn = load_scenario(path)
    assert limits.run_cells(scn) < limits.MAX_RUN_CELLS / 100
    assert path.stat().st_size < limits.MAX_FILE_BYTES / 100


# --------------------------------------------------------------------------- non-finite and out-of-range numbers


@pytest.mark.parametrize("value", ["1e400 GW", ".inf", ".nan", "-.inf"])
def test_non_finite_power(minimal_text, value):
    p = by_path(minimal_text.replace("capacity_cap: 1 GW", f"capacity_cap: {value}"))["deal.capacity_cap"]
    assert p.line == 7 and ("finite" in p.message or "unit" in p.message)


def test_units_reject_non_finite_values():
    for text in ["1e400 GW", "inf GW", "nan W", "$1e400B"]:
        with pytest.raises(UnitError, match="not a finite number") as err:
            units.parse(text, "power" if "W" in text else "money")
        assert err.value.hint and "finite" in err.value.hint
    for parse, value in [(units.parse_count, "1e400"), (units.parse_count, math.inf), (units.parse_count, 10**400),
                         (units.parse_fraction, "nan"), (units.parse_fraction, math.nan),
                         (units.parse_growth_per_year, math.inf), (units.parse_growth_per_year, math.nan),
                         (units.parse, (math.inf, "dimensionless"))]:
        with pytest.raises(UnitError):
            parse(*value) if isinstance(value, tuple) else parse(value)


@pytest.mark.parametrize("extra, old, new, path", [
    (TRAIN, "min_chips: 10", "min_chips: .inf", "demand.training[0].min_chips"),
    (TRAIN, "min_chips: 10", "min_chips: .nan", "demand.training[0].min_chips"),
    (TRAIN, "min_chips: 10", "min_chips: 10, batch_tokens: .inf", "demand.training[0].batch_tokens"),
    (TRAIN, "min_chips: 10", "min_chips: 10, priority: 1e30", "demand.training[0].priority"),
    (TRAIN, "tokens: 1T", "tokens: 1e30", "demand.training[0].tokens"),
    (STREAM, "growth: 2x/year", "growth: .inf", "demand.inference[0].growth"),
    (STREAM, "growth: 2x/year", "growth: .nan", "demand.inference[0].growth"),
    (STREAM, "growth: 2x/year", "growth: 1000x/year", "demand.inference[0].growth"),
    (STREAM, "growth: 2x/year", "growth: {2026-01: 2x/year, 2026-1: 3x/year}", "demand.inference[0].growth"),
    (STREAM, "tokens_per_day: 1e9", "tokens_per_day: .inf", "demand.inference[0].tokens_per_day"),
    (STREAM, "output_tokens: 10", "output_tokens: 10, peak_to_mean: .inf", "demand.inference[0].peak_to_mean"),
    ("", "lifetime: 5 years", "lifetime: .inf", "roadmap[0].lifetime"),
    ("", "lifetime: 5 years", "lifetime: 1e300 years", "roadmap[0].lifetime"),
    ("", "lifetime: 5 years", "lifetime: 0 years", "roadmap[0].lifetime"),
    ("", "lifetime: 5 years", "lifetime: 5 years, supply_per_year: .inf", "roadmap[0].supply_per_year"),
    ("", "trainium2: $1.50/h", "trainium2: .inf", "prices.trainium2.price"),
    ("", "trainium2: $1.50/h", "trainium2: $1e400/h", "prices.trainium2.price"),
    ("", "trainium2: $1.50/h", "trainium2: -$1/h", "prices.trainium2.price"),
    ("", "trainium2: $1.50/h", "trainium2: $1M/h", "prices.trainium2.price"),
    ("", "trainium2: $1.50/h", "trainium2: {price: $1.50/h, decline: .nan}", "prices.trainium2.decline"),
    ("", "pue: 1.2", "pue: .nan", "sites[0].pue"),
    ("", "pue: 1.2", "pue: 0.5", "sites[0].pue"),
    ("", "total: $10B", "total: $1e20", "deal.commitment.total"),
    ("", "term: 2 years", "term: .inf", "deal.commitment.term"),
    ("", "capacity_cap: 1 GW", "capacity_cap: 100 TW", "deal.capacity_cap"),
    ("economics:\n  load_factor: .nan\n", "", "", "economics.load_factor"),
    ("economics:\n  load_factor: 150%\n", "", "", "economics.load_factor"),
    ("economics:\n  discount: .inf\n", "", "", "economics.discount.lab"),
    ("economics:\n  power_price: $1e9/MWh\n", "", "", "economics.power_price.default"),
    ("economics:\n  datacenter_life: .inf\n", "", "", "economics.datacenter_life"),
    ("deal_extra", "", "", "deal.investments[0].probability"),
])
def test_numbers_out_of_range(minimal_text, extra, old, new, path):
    text = minimal_text
    if extra == "deal_extra":
        text = text.replace("  capacity_cap: 1 GW\n",
                            "  capacity_cap: 1 GW\n  investments:\n    - {amount: $1B, probability: .nan}\n")
    else:
        text = text + extra
    if old:
        text = text.replace(old, new)
    found = [p for p in problems(text) if p.path == path]
    assert found, problems(text)
    assert all(p.line is not None and p.hint for p in found), found


def test_horizon_ending_before_the_commitment(minimal_text, write_scenario):
    text = minimal_text.replace("horizon: {start: 2026-01, end: 2027-12}", "horizon: {start: 2024-01, end: 2025-06}")
    (p,) = problems(text)
    assert p.path == "deal.commitment.start" and p.line == 6 and "2025-06" in p.message
    assert_exit_2(write_scenario(text))


@pytest.mark.parametrize("seed", ["-1", "1.0e+30", "1e30", str(2**63), "true", "'7'"])
def test_bad_seed(minimal_text, write_scenario, seed):
    text = minimal_text.replace("seed: 3", f"seed: {seed}")
    (p,) = problems(text)
    assert p.path == "seed" and p.line == 4 and "2**63" in p.hint
    if seed == "-1":
        assert_exit_2(write_scenario(text))


def test_largest_seed_is_accepted(minimal_text):
    assert load_scenario_text(minimal_text.replace("seed: 3", f"seed: {2**63 - 1}")).seed == 2**63 - 1


# --------------------------------------------------------------------------- strict YAML


def test_duplicate_keys_name_both_lines(minimal_text, write_scenario):
    text = minimal_text.replace("seed: 3\n", "seed: 3\nseed: 4\n")
    (p,) = problems(text)
    assert p.path == "seed" and p.line == 5 and "lines 4 and 5" in p.message and "last" in p.hint
    assert_exit_2(write_scenario(text))
    (p,) = problems(minimal_text.replace("{2026-01: 100 MW, 2027-01: 600 MW}", "{2026-01: 100 MW, 2026-01: 600 MW}"))
    assert p.path == "sites[0].energized.2026-01" and p.line == 11


def test_same_month_written_two_ways(minimal_text):
    (p,) = problems(minimal_text.replace("2027-01: 600 MW", "2026-1: 600 MW"))
    assert p.path == "sites[0].energized" and "same month" in p.message


@pytest.mark.parametrize("old, new, path", [
    ("2027-01: 600 MW", "2026-02-30: 600 MW", "sites[0].energized.2026-02-30"),
    ("start: 2026-01, term", "start: 2026-02-30, term", "deal.commitment.start"),
    ("start: 2026-01, term", "start: '2026-02-30', term", "deal.commitment.start"),
    ("start: 2026-01, term", "start: 2026-13, term", "deal.commitment.start"),
    ("start: 2026-01, term", "start: 2026-13-01, term", "deal.commitment.start"),
    ("end: 2027-12", "end: 2027-00", "horizon.end"),
])
def test_impossible_dates(minimal_text, write_scenario, old, new, path):
    text = minimal_text.replace(old, new)
    ps = by_path(text)
    assert path in ps and ps[path].line is not None and ps[path].hint
    assert_exit_2(write_scenario(text))


def test_real_leap_day_is_fine(minimal_text):
    scn = load_scenario_text(minimal_text.replace("from: 2025-01", "from: 2028-02-29"))
    assert scn.roadmap[0].from_month == "2028-02"


@pytest.mark.parametrize("old, new, path", [
    ("name: a\n", 'name: "a\\u202e"\n', "sites[0].name"),
    ("name: a\n", 'name: "a\\u2066b"\n', "sites[0].name"),
    ("name: a\n", 'name: "\\u200fa"\n', "sites[0].name"),
    ("name: a\n", 'name: "a\\u061c"\n', "sites[0].name"),
    ("name: a\n", 'name: "a\\0"\n', "sites[0].name"),
    ("name: a\n", 'name: "a\\x1b[31m"\n', "sites[0].name"),
    ("name: a\n", 'name: "a\\x85"\n', "sites[0].name"),
    ("name: a\n", 'name: "a\\nb"\n', "sites[0].name"),
    ("name: tiny", 'name: "tiny\\u202e"', "name"),
    ("name: tiny", 'name: tiny\ntitle: "x\\u202ey"', "title"),
])
def test_control_and_bidi_characters(minimal_text, write_scenario, old, new, path):
    text = minimal_text.replace(old, new, 1)
    found = [p for p in problems(text) if p.path == path and "U+" in p.message]
    assert len(found) == 1, problems(text)
    assert "remove" in found[0].hint and found[0].line is not None
    if "202e" in new:
        assert_exit_2(write_scenario(text))


def test_names_in_demand_and_keys(minimal_text):
    text = minimal_text + TRAIN.replace("name: r,", 'name: "r\\u202e",') + STREAM.replace("demand:\n", "")
    text = text.replace("{model: llama3.1-70b, tokens_per_day", '{name: "s\\u2067", model: llama3.1-70b, tokens_per_day')
    ps = by_path(text)
    assert {"demand.training[0].name", "demand.inference[0].name"} <= set(ps)
    ps = by_path(minimal_text.replace("trainium2: $1.50/h", '"trainium2\\u202e": $1.50/h'))
    assert "prices.trainium2\u202e" in ps


def test_free_text_keeps_newlines_and_tabs(minimal_text):
    text = minimal_text.replace("name: tiny", 'name: tiny\ndescription: "two\\nlines\\tand a tab"')
    assert load_scenario_text(text).description == "two\nlines\tand a tab"


def test_raw_control_character_in_the_file(minimal_text):
    (p,) = problems(minimal_text.replace("name: a\n", "name: a\x07\n"))
    assert p.line == 9 and "control" in p.hint


def test_deep_nesting(minimal_text):
    (p,) = problems(minimal_text + "x: " + "[" * 2000 + "]" * 2000 + "\n")
    assert "nest" in p.message or "nest" in p.hint


# --------------------------------------------------------------------------- the C loader


def test_c_loader_is_used_and_gives_the_same_lines():
    import yaml

    if not getattr(yaml, "__with_libyaml__", False):
        pytest.skip("PyYAML without libyaml")
    assert issubclass(loader._loader_class(), yaml.CSafeLoader)
    for path in SHIPPED:
        text = path.read_text()
        data_c, lines_c, _ = loader._read_yaml_checked(text, path.name)
        loader._loader_class.cache_clear()
        try:
            yaml_c = yaml.CSafeLoader
            del yaml.CSafeLoader
            data_py, lines_py, _ = loader._read_yaml_checked(text, path.name)
            assert not issubclass(loader._loader_class(), yaml_c)
        finally:
            yaml.CSafeLoader = yaml_c
            loader._loader_class.cache_clear()
        assert data_c == data_py and lines_c == lines_py, path.name


def test_error_lines_with_the_c_loader(minimal_text):
    (p,) = problems(minimal_text.replace("  capacity_cap: 1 GW", "  capacity_cap: [1 GW"))
    assert "YAML syntax" in p.message and 7 <= p.line <= 8


# --------------------------------------------------------------------------- the limits table


def test_every_limit_is_in_the_table():
    doc = limits.__doc__
    for name in dir(limits):
        if name.startswith("MAX_") or name == "SEED_MAX":
            assert f"``{name}``" in doc, name
    assert limits.MAX_AGENTIC_STEPS == 1_000 and limits.MAX_HORIZON_YEARS == 100


def test_policy_names_are_the_fleets():
    from gigawatt.fleet.policies import POLICIES
    from gigawatt.scenario.demand_schema import POLICY_NAMES

    assert set(POLICY_NAMES) == set(POLICIES)


def test_check_does_not_import_numpy():
    code = ("import sys; from gigawatt.scenario import load_scenario; "
            f"load_scenario({str(ROOT / 'scenarios' / 'anthropic-aws-2026.yaml')!r}); print('numpy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.stdout.strip() == "False", out.stderr


@pytest.mark.parametrize("roadmap", ["3", "true", "{a: 1}", "abc"])
def test_roadmap_of_the_wrong_kind(minimal_text, roadmap):
    text = minimal_text.replace("roadmap:\n  - {chip: trainium2, system: trn2-48xlarge, from: 2025-01, lifetime: 5 years}",
                                f"roadmap: {roadmap}")
    assert "roadmap" in by_path(text)
