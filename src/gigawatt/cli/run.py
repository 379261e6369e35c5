"""``gigawatt check`` and ``gigawatt run``."""

from __future__ import annotations

import os
import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from gigawatt.cli import formats as fmt
from gigawatt.cli.common import (DEFAULT_DB, SET_OPTION, fail, load_scenario, print_json, print_problems, stderr,
                                 stdout)
from gigawatt.cli.tables import WIDE_OPTION, show

_SCENARIO_HELP = "Scenario YAML file, or the name of a library deal (see `gigawatt deals`)."


def check(
    scenario: Path = typer.Argument(..., help=_SCENARIO_HELP),
    set_: Optional[list[str]] = SET_OPTION,
    inputs: bool = typer.Option(False, "--inputs", help="List every uncertain input (a distribution in the file) "
                                                        "with its range and the reason or source given for it."),
    wide: bool = WIDE_OPTION,
) -> None:
    """Validate a scenario file: schema, units, catalog names, distributions. Lists every problem; exit 2 if any."""
    scn = load_scenario(scenario, set_)
    chips = ", ".join(e.chip for e in scn.roadmap)
    n_unc = len(scn.uncertain.inputs) if scn.uncertain is not None else 0
    stdout().print(
        f"ok: {scn.name}: {len(scn.sites)} site(s), roadmap {chips}, {scn.horizon.start} to {scn.horizon.end}"
        + (f", {n_unc} uncertain input(s)" if n_unc else ""),
        markup=False,
    )
    if inputs:
        if not n_unc:
            show(stdout(), "no uncertain inputs: write a value as {dist: lognormal, p10: ..., p90: ...} "
                           "(docs/uncertainty.md)", wide)
            return
        from gigawatt.cli.bands import inputs_table

        show(stdout(), inputs_table(scn, wide), wide)


def run_scenario(scn, show_progress: bool, samples: int = 1, sampler: str = "lhs", jobs: int = 1):
    """Run a loaded scenario through :func:`gigawatt.run`, with a progress bar on stderr when asked."""
    from gigawatt.pipeline import run as run_pipeline

    if not show_progress:
        return run_pipeline(scn, samples=samples, sampler=sampler, jobs=jobs)
    from rich.progress import Progress

    with Progress(console=stderr(), transient=True) as bar:
        tasks: dict = {}

        def progress(stage, done, total):
            if stage not in tasks:
                tasks[stage] = bar.add_task(f"{scn.name}: {stage}", total=total)
            bar.update(tasks[stage], completed=done)

        return run_pipeline(scn, samples=samples, progress=progress, sampler=sampler, jobs=jobs)


def checked_out_dir(out: Path) -> Path:
    """The resolved results folder, or exit 2 when writing it could destroy files gigawatt did not write."""
    from gigawatt.outputs import OutputError, check_out_dir

    try:
        return check_out_dir(out)
    except OutputError as exc:
        fail(f"--out: {exc}", exc.hint)
    except OSError as exc:
        fail(f"--out: cannot use {out}: {exc}", "choose a writable folder with --out")


def print_summary(summary: dict, out_dir: Path | None, wide: bool = False) -> None:
    """The tables and sentences ``gigawatt run`` prints; at most 100 columns wide unless ``wide``."""
    from gigawatt.cli.tables import run_title, show, spread_table, training_runs_table, years_table

    con = stdout()
    show(con, years_table(summary, run_title(summary), wide), wide)
    if summary.get("training_runs"):
        show(con, training_runs_table(summary["training_runs"], wide), wide)
    if summary.get("samples"):
        show(con, spread_table(summary), wide)
    served_by = served_by_table(summary, wide)
    if served_by is not None:
        show(con, served_by, wide)
    if summary.get("uncertainty"):
        from gigawatt.cli.bands import bands_table, scalars_table

        show(con, bands_table(summary, wide), wide)
        show(con, scalars_table(summary), wide)
    for line in headline(summary):
        show(con, line, wide)
    allocation = (summary.get("allocation") or {}).get("text")
    if allocation:
        show(con, f"Allocation: {allocation}", wide)
    inf = summary.get("inference")
    if inf and inf.get("served_share") is not None:
        cost = inf.get("usd_per_million_tokens")
        flop_cost = summary.get("usd_per_training_flop")
        show(con,
             f"Inference: {fmt.pct(inf['served_share'], 1)} of {inf['demand_tokens'] / 1e15:,.1f} quadrillion tokens "
             "served" + (f" at ${cost:.2f} per million tokens" if cost else "")
             + f"; capacity idle {fmt.pct(summary.get('idle_share'))}"
             + (f"; training at ${flop_cost * 1e18:,.0f} per EFLOP." if flop_cost else "."), wide)
    for note in summary.get("notes", []) + summary.get("throughput_notes", []):
        show(con, f"note: {note}", wide)
    if out_dir is not None:
        show(con, f"Results written to {out_dir}/", wide)


def served_by_table(summary: dict, wide: bool = False):
    """Inference served by chip: per year each chip's share of the tokens served; None where one chip
    (or none) serves all of them."""
    from gigawatt.cli.tables import Column, fitted_table

    total = (summary.get("inference") or {}).get("served_by") or {}
    chips = [c for c, share in total.items() if share > 0]
    if len(chips) < 2:
        return None
    rows = [y for y in summary.get("years", []) if y.get("served_by")]
    year = Column("year", lambda r: str(r["year"]))
    cols = [Column(c, lambda r, c=c: fmt.pct(r["served_by"].get(c, 0.0))) for c in chips]
    return fitted_table("inference served by chip (share of the tokens served)", [[year, *cols]], rows, wide)


def headline(summary: dict) -> list[str]:
    """What the commitment buys, the spend beyond it, and the implied prices where they mean one."""
    t, imp = summary["totals"], summary["implied"]
    buys = summary.get("commitment_buys") or {}
    lines = []
    if buys.get("gw_years") is not None:
        share = buys.get("cap_share_over_term")
        lines.append(
            f"The ${fmt.usd_b(t['commitment_usd'])}B commitment buys, at the contract prices "
            f"(${fmt.per_hour(imp['contract_usd_per_chip_hour'])} per chip-hour on average), "
            f"{buys['gw_years']:,.1f} GW-years of IT capacity ({buys['chip_hours'] / 1e9:,.1f}B chip-hours)"
            + (f", {fmt.pct(share)} of the capacity cap held over the term" if share is not None else "") + ".")
    years = summary.get("years") or []
    if years:
        last = years[-1]
        energized = ""
        if last.get("energized_facility_power_w") is not None:
            energized = (f" (sites energized for {fmt.gw(last.get('energized_it_power_w'))} GW IT, "
                         f"{fmt.gw(last.get('energized_facility_power_w'))} GW facility)")
        lines.append(f"Power installed at the end of {last['year']}: {fmt.gw(last['it_power_w'])} GW IT, "
                     f"{fmt.gw(last['facility_power_w'])} GW facility{energized}.")
    beyond = t.get("spend_beyond_commitment_usd") or 0.0
    lines.append(
        f"Spend over the horizon ${fmt.usd_b(t['spend_usd'])}B; in the commitment's term "
        f"${fmt.usd_b(t['spend_in_commitment_term_usd'])}B"
        + (f", ${fmt.usd_b(beyond)}B beyond the commitment" if beyond > 0 else
           f" against the commitment of ${fmt.usd_b(t['commitment_usd'])}B ({fmt.pct(t['commitment_covered_share'])})")
        + f". Energy at full load {fmt.twh(t['energy_j'], 0)} TWh.")
    if imp.get("usd_per_chip_hour") is not None:
        lines.append(f"Implied by the commitment: ${fmt.usd_b(imp['usd_per_gw_year'], 2)}B per GW-year of IT capacity, "
                     f"${fmt.per_hour(imp['usd_per_chip_hour'])} per chip-hour of the capacity installed in its term.")
    return lines


class TableFormat(str, Enum):
    csv = "csv"
    parquet = "parquet"


def run(
    scenario: Path = typer.Argument(..., help=_SCENARIO_HELP),
    out: Optional[Path] = typer.Option(
        None, "--out", "-o", help="Folder for results (netCDF, the tables, JSON, the scenario): a new or empty folder, "
                                  "or one gigawatt wrote before. Default: gigawatt-runs/<name>."),
    table_format: TableFormat = typer.Option(
        TableFormat.csv, "--format", help="File format of the results folder's tables (years, training runs, "
                                          "ledger): csv or parquet. fleet.nc stays netCDF."),
    wide: bool = WIDE_OPTION,
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object to stdout, nothing else."),
    no_write: bool = typer.Option(False, "--no-write", help="Do not write the results folder."),
    db: Path = typer.Option(DEFAULT_DB, "--db", help="Results store (DuckDB file) the run is saved in."),
    no_store: bool = typer.Option(False, "--no-store", help="Do not save the run in the results store."),
    set_: Optional[list[str]] = SET_OPTION,
    samples: int = typer.Option(1, "--samples", min=1, max=100_000,
                                help="Draws of the uncertain inputs (distributions in the scenario) and of the "
                                     "training runs' failures: with distributions, the tables add p50 [p10, p90] per "
                                     "year and how often each constraint binds (up to 100,000); without, up to 1,000 "
                                     "draws of the failures, figures are means and a table gives the 10th-90th "
                                     "percentiles."),
    sampler: str = typer.Option("lhs", "--sampler", help="How uncertain inputs are drawn: lhs (Latin hypercube) or "
                                                         "sobol (scrambled Sobol)."),
    jobs: int = typer.Option(0, "--jobs", min=0, max=256, help="Local processes for --samples over uncertain inputs, "
                                                               "each holding up to 1,000 samples at a time; 0 (the "
                                                               "default): one per CPU core. The results do not depend "
                                                               "on it."),
) -> None:
    """Run a scenario: chips, power, FLOP/s, spend, energy and the binding constraint per year, what the commitment buys, the training runs and the inference served.

    --json prints the summary: scenario, seed, years[] (year, it_power_w, facility_power_w, energized_it_power_w, chips by generation, spend_usd, energy_j, binding, inference_served_share, ...), commitment_buys, totals, implied, training_runs, inference, ledger, notes. All values in SI units (W, J, FLOP/s, USD); the README lists every key.
    """
    from gigawatt.errors import GigawattError, ScenarioError

    out_dir = None if no_write or out is None else checked_out_dir(out)
    scn = load_scenario(scenario, set_)
    if not no_write and out_dir is None:
        out_dir = checked_out_dir(Path("gigawatt-runs") / scn.name)
    if not no_store:  # a store that cannot take the run is refused before anything is computed or written
        from gigawatt import store

        try:
            store.check(db)
        except store.StoreError as exc:
            fail(f"--db: {exc}", exc.hint)
    jobs = jobs or os.cpu_count() or 1
    each = scn.uncertain.each_run() if scn.uncertain is not None and samples > 1 else []
    if each:  # slower than the sample axis: say so before the wait
        stderr().print(f"note: {len(each)} uncertain input(s) have no sampler on the sample axis "
                     f"({', '.join(u.path for u in each)}): each of the {samples:,} samples runs on its own, about "
                     "as long as a plain run", soft_wrap=True)
    try:
        results = run_scenario(scn, show_progress=not json_out and sys.stderr.isatty(), samples=samples,
                               sampler=sampler, jobs=jobs)
    except ScenarioError as exc:
        print_problems(exc, scenario)
    except GigawattError as exc:
        fail(f"{scenario}: {exc}", getattr(exc, "hint", None))
    if out_dir is not None:
        from gigawatt.outputs import OutputError

        try:
            results.save(out_dir, table_format=table_format.value)
        except OutputError as exc:
            fail(f"--out: {exc}", exc.hint)
        except (OSError, GigawattError) as exc:
            fail(f"--out: cannot write results to {out_dir}: {exc}", "choose a writable folder with --out")
    run_id = None
    if not no_store:
        from gigawatt import store

        try:
            run_id = results.to_store(db)
        except store.StoreError as exc:
            fail(f"--db: {exc}", getattr(exc, "hint", None))
        except OSError as exc:
            fail(f"--db: cannot write the results store {db}: {exc}", "choose a writable file with --db, or --no-store")
    if json_out:
        print_json(results.summary())
    else:
        print_summary(results.summary(), out_dir, wide)
        if run_id is not None:
            show(stdout(), f"Saved as run {run_id} in {db} (gigawatt runs show {run_id}; gigawatt report {run_id})",
                 wide)


def register(app: typer.Typer) -> None:
    app.command("check")(check)
    app.command("run")(run)
