"""Output that fits and exports: default tables fit 100 columns (--wide shows every column), and the results
folder's tables (years, training runs, ledger) carry every yearly figure, as CSV or Parquet."""

import io
import json
import os
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from rich.cells import cell_len
from rich.console import Console
from typer.testing import CliRunner

import gigawatt
from gigawatt.cli import app
from gigawatt.cli.tables import FIT_WIDTH, training_runs_table, years_table
from gigawatt.outputs import OUTPUT_FILES, OutputError, read_outputs, write_outputs

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
FLAGSHIP = "anthropic-aws-2026"


@pytest.fixture(scope="module")
def flagship():
    return gigawatt.run(FLAGSHIP)


@pytest.fixture(scope="module")
def store(tmp_path_factory, flagship):
    db = tmp_path_factory.mktemp("store") / "runs.duckdb"
    return db, flagship.to_store(db)


def invoke(*args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, (args, result.output, result.exception)
    return result.stdout


def widest(text: str) -> int:
    return max((cell_len(line.rstrip()) for line in text.splitlines()), default=0)


def assert_fits(text: str, args=()):
    assert widest(text) <= FIT_WIDTH, (args, widest(text), text)
    assert "…" not in text, (args, text)  # no cell cut short


# --------------------------------------------------------------------------- widths


def test_every_default_table_fits_100_columns_when_piped(store, tmp_path):
    db, run_id = store
    commands = [
        ("run", FLAGSHIP, "--no-write", "--no-store"),
        ("runs", "show", run_id, "--db", db),
        ("compare", FLAGSHIP, "nvidia-gb-contrast-2026"),
        ("ledger", FLAGSHIP),
        ("ledger", FLAGSHIP, "--party", "lab"),
        ("ledger", FLAGSHIP, "--party", "provider"),
        *[("catalog", kind) for kind in ("chips", "systems", "models", "prices")],
    ]
    for args in commands:
        assert_fits(invoke(*args), args)


def test_the_flagship_run_shows_the_essential_columns_and_wide_shows_the_rest():
    text = invoke("run", FLAGSHIP, "--no-write", "--no-store")
    for header in ("year", "IT GW", "trainium2", "trainium3", "trainium4", "spend", "cum.", "inf.", "served",
                   "idle", "binding", "days", "late", "more columns: --wide"):
        assert header in text, header
    for header in ("facility\n", "facility ┃", "EFLOP/s", "TWh ┃", "other-aws-sites"):
        assert header not in text, header
    # facility power is in the sentences even when its column is not
    assert "GW IT, 5.81 GW facility" in text
    wide = invoke("run", FLAGSHIP, "--no-write", "--no-store", "--wide")
    assert widest(wide) > FIT_WIDTH
    for header in ("facility", "BF16", "FP8", "EFLOP/s", "TWh", "other-aws-sites", "deadline"):
        assert header in wide, header
    assert "more columns" not in wide


def test_wide_shows_every_column_of_compare_ledger_and_catalog():
    assert "EFLOP/s" in invoke("compare", FLAGSHIP, FLAGSHIP, "--wide")
    both = invoke("ledger", FLAGSHIP, "--wide")
    assert "revenue ┃" in both and "shortfall ┃" in both and "capex chips" in both
    assert "revenue ┃" not in invoke("ledger", FLAGSHIP)  # the lab's spend, with the sign turned
    assert "scale-up" in invoke("catalog", "chips", "--wide") and "scale-up" not in invoke("catalog", "chips")


def test_the_flagship_fits_a_100_column_terminal(tmp_path):
    """On a terminal, rich takes the width from the terminal (here COLUMNS=100)."""
    import pty

    master, slave = pty.openpty()
    env = {**os.environ, "COLUMNS": "100", "LINES": "40", "NO_COLOR": "1", "TERM": "xterm"}
    proc = subprocess.Popen([sys.executable, "-m", "gigawatt.cli", "run", FLAGSHIP, "--no-write", "--no-store"],
                            stdin=subprocess.DEVNULL, stdout=slave, stderr=subprocess.PIPE, env=env, cwd=tmp_path)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # the terminal closes when the command ends
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.wait(timeout=300) == 0, proc.stderr.read()
    text = ANSI.sub("", b"".join(chunks).decode("utf-8", "replace")).replace("\r\n", "\n")
    assert "trainium4" in text and "Spend over the horizon" in text
    assert_fits(text)


def test_the_yearly_table_on_a_console_of_width_100(flagship):
    out = io.StringIO()
    con = Console(file=out, width=100, highlight=False)
    con.print(years_table(flagship.summary(), "t"))
    con.print(training_runs_table(flagship.summary()["training_runs"]))
    assert_fits(out.getvalue())
    assert "trainium2" in out.getvalue()


def test_many_generations_fall_back_to_their_total():
    chips = {f"accelerator-gen{i}": 1000 * i for i in range(1, 7)}
    row = {"year": 2030, "it_power_w": 1e9, "facility_power_w": 1.2e9, "chips": chips, "peak_bf16_flops": 1e20,
           "peak_fp8_flops": 2e20, "spend_usd": 1e10, "cumulative_spend_usd": 2e10, "energy_j": 1e16,
           "binding": "power", "inference_served_share": 0.5, "idle_share": 0.1}
    out = io.StringIO()
    Console(file=out, width=100).print(years_table({"years": [row]}, "t"))
    text = out.getvalue()
    assert_fits(text)
    assert "chips" in text and "21k" in text and "accelerator-gen1" not in text
    out = io.StringIO()
    Console(file=out, width=300).print(years_table({"years": [row]}, "t", wide=True))
    assert "accelerator-gen6" in out.getvalue()


def test_long_site_and_run_names_leave_out_site_then_deadline():
    runs = [{"name": "a-training-run-with-a-long-name", "chip": "trainium3", "site": "a-site-with-a-very-long-name",
             "chips": 120000, "start": "2027-01-01", "finish": None, "deadline": "2027-06-30", "delay_days": 12.0,
             "status": "running"}]
    out = io.StringIO()
    Console(file=out, width=100).print(training_runs_table(runs))
    assert_fits(out.getvalue())
    assert "a-site-with" not in out.getvalue() and "a-training-run-with-a-long-name" in out.getvalue()


# --------------------------------------------------------------------------- the results folder's tables


def test_years_carries_every_yearly_figure_of_the_summary(flagship, tmp_path):
    out = write_outputs(tmp_path / "res", flagship)
    years = pd.read_csv(out / "years.csv")
    summary = flagship.summary()
    expected = {"year", "chips_trainium2", "chips_added_trainium4", "inference_served_share", "idle_share",
                "inference_demand_tokens", "inference_served_tokens", "training_flop", "lab_cash_flow_usd",
                "provider_cash_flow_usd", "commitment_min_usd", "shortfall_usd"}
    assert expected <= set(years.columns)
    for key, value in summary["years"][0].items():  # every scalar of the JSON's yearly rows
        if not isinstance(value, dict):
            assert key in years.columns, key
    assert years["year"].tolist() == [r["year"] for r in summary["years"]]
    assert np.allclose(years["spend_usd"], [r["spend_usd"] for r in summary["years"]])
    assert np.allclose(years["inference_demand_tokens"], [r["demand_tokens"] for r in summary["inference"]["years"]])
    assert np.isclose(years["inference_served_tokens"].sum(), summary["inference"]["served_tokens"])
    assert np.isclose(years["training_flop"].sum(), summary["training_flop"])
    ledger = flagship.ledger()
    for party in ("lab", "provider"):
        net = ledger[ledger["party"] == party].set_index("year")["net_usd"]
        assert np.allclose(years.set_index("year")[f"{party}_cash_flow_usd"], net)
    # column names end in their unit, as the JSON's keys do
    units = ("_w", "_flops", "_usd", "_j", "_share", "_tokens", "_flop", "_per_day")
    # counts of things: chips by generation, and the agent tools' CPUs
    counts = ("chips_", "tool_cpus")
    assert all(c in ("year", "binding") or c.startswith(counts) or c.endswith(units) for c in years.columns)


def test_the_ledger_is_its_own_table(flagship, tmp_path):
    out = write_outputs(tmp_path / "res", flagship)
    ledger = pd.read_csv(out / "ledger.csv")
    expected = flagship.ledger()
    assert list(ledger.columns) == list(expected.columns)
    assert ledger[["year", "party"]].values.tolist() == expected[["year", "party"]].values.tolist()
    assert np.allclose(ledger.drop(columns=["year", "party"]), expected.drop(columns=["year", "party"]))
    assert set(ledger["party"]) == {"lab", "provider"}
    assert "net_usd" in ledger and "capex_chips_usd" in ledger


def test_parquet_holds_the_same_tables(flagship, tmp_path):
    csv = write_outputs(tmp_path / "csv", flagship)
    pq = write_outputs(tmp_path / "pq", flagship, table_format="parquet")
    names = {p.name for p in pq.iterdir()}
    assert {"years.parquet", "training_runs.parquet", "ledger.parquet", "fleet.nc"} <= names
    assert not any(n.endswith(".csv") for n in names)
    assert set(json.loads((pq / "manifest.json").read_text())["files"]) == names
    for table in ("years", "training_runs", "ledger"):
        a, b = pd.read_csv(csv / f"{table}.csv"), pd.read_parquet(pq / f"{table}.parquet")
        assert list(a.columns) == list(b.columns), table
        pd.testing.assert_frame_equal(a, b, check_dtype=False, check_exact=False, rtol=1e-12)
    back = read_outputs(pq)
    assert back.events == flagship.events
    assert read_outputs(csv).events == flagship.events


def test_writing_runs_no_model(flagship, tmp_path, monkeypatch):
    """A folder read back writes the same tables: they come from what the run holds."""
    first = write_outputs(tmp_path / "a", flagship)
    back = read_outputs(first)
    import gigawatt.pipeline

    monkeypatch.setattr(gigawatt.pipeline, "run", lambda *a, **k: pytest.fail("a model ran"))
    second = write_outputs(tmp_path / "b", back)
    for name in ("years.csv", "ledger.csv", "training_runs.csv"):
        a, b = pd.read_csv(first / name), pd.read_csv(second / name)
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12)


def test_years_of_several_samples_are_means(tmp_path):
    res = gigawatt.run(FLAGSHIP, samples=2)
    years = pd.read_csv(write_outputs(tmp_path / "res", res) / "years.csv")
    assert np.isclose(years["training_flop"].sum(), res.summary()["training_flop"])
    ledger = pd.read_csv(tmp_path / "res" / "ledger.csv")
    assert len(ledger) == 2 * len(years)


def test_run_format_flag(tmp_path):
    scn = tmp_path / "tiny.yaml"
    from tests.conftest import MINIMAL

    scn.write_text(MINIMAL)
    out = tmp_path / "res"
    invoke("run", scn, "--out", out, "--no-store", "--format", "parquet")
    names = {p.name for p in out.iterdir()}
    assert {"years.parquet", "ledger.parquet"} <= names and "years.csv" not in names
    invoke("run", scn, "--out", out, "--no-store")  # csv again: the parquet tables go
    names = {p.name for p in out.iterdir()}
    assert {"years.csv", "ledger.csv"} <= names and not any(n.endswith(".parquet") for n in names)
    bad = CliRunner().invoke(app, ["run", str(scn), "--no-store", "--no-write", "--format", "xlsx"])
    assert bad.exit_code == 2


def test_output_files_name_every_table():
    for table in ("years", "training_runs", "ledger"):
        for ext in ("csv", "parquet"):
            assert f"{table}.{ext}" in OUTPUT_FILES
    with pytest.raises(OutputError, match="table format"):
        write_outputs("never-written", None, table_format="xlsx")
    assert not os.path.exists("never-written")
