"""The ``gigawatt`` command line.

Each command imports what it needs when it runs, so that ``gigawatt --help``
and ``gigawatt check`` stay fast. Bad input prints every problem with its path,
line and a hint, and exits with status 2; no traceback reaches the user.
"""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from gigawatt import __version__

app = typer.Typer(
    name="gigawatt",
    help=(
        "Plan and simulate gigawatt-scale AI compute deals: what the power, money and chip "
        "roadmap of a deal buy month by month, and what binds first.\n\n"
        "Start with: gigawatt run scenarios/anthropic-aws-2026.yaml"
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

EXIT_BAD_INPUT = 2


def _stderr():
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def _stdout():
    from rich.console import Console

    # Piped output keeps whole table rows instead of wrapping at 80 columns.
    return Console(highlight=False, width=None if sys.stdout.isatty() else 200)


def _fail(message: str, hint: str | None = None) -> None:
    err = _stderr()
    err.print(f"[bold red]error:[/] {message}", markup=True)
    if hint:
        err.print(f"  hint: {hint}", markup=False)
    raise typer.Exit(EXIT_BAD_INPUT)


def _load(path: Path, overrides: list[str] | None = None):
    """Load a scenario file, or a library deal by name (see `gigawatt deals`), with ``--set KEY=VALUE``
    overrides; or exit 2 with every problem listed."""
    from gigawatt.errors import GigawattError, ScenarioError
    from gigawatt.pipeline import load

    try:
        pairs = dict(_parse_sets(overrides or []))
        return load(path, set=pairs)
    except ScenarioError as exc:
        err = _stderr()
        n = len(exc.problems)
        err.print(f"[bold red]{path}: {n} problem{'s' if n != 1 else ''}[/]", markup=True)
        for p in exc.problems:
            err.print(p.format(str(path)), markup=False, soft_wrap=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except GigawattError as exc:
        _fail(str(exc))


def _parse_sets(items: list[str]) -> list[tuple[str, object]]:
    from gigawatt.scenario import parse_override

    return [parse_override(item) for item in items]


_SET_OPTION = typer.Option(
    None, "--set", metavar="KEY=VALUE",
    help="Override a scenario value by dotted path, written as in the file (repeatable): "
         "--set deal.spend_limit.per_year='$40B' --set sites[0].pue=1.2")


def _version_callback(value: bool) -> None:
    if value:
        print(f"gigawatt {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(False, "--version", callback=_version_callback, is_eager=True, help="Print the version and exit."),
) -> None:
    """gigawatt: compute deals in, a decade of capacity, power and money out."""


# --------------------------------------------------------------------------- check


@app.command()
def check(
    scenario: Path = typer.Argument(..., help="Scenario YAML file (or a library deal's name) to validate."),
    set_: Optional[list[str]] = _SET_OPTION,
) -> None:
    """Validate a scenario file: schema, units, catalog names. Lists every problem; exit 2 if any."""
    scn = _load(scenario, set_)
    chips = ", ".join(e.chip for e in scn.roadmap)
    _stdout().print(
        f"ok: {scn.name}: {len(scn.sites)} site(s), roadmap {chips}, {scn.horizon.start} to {scn.horizon.end}",
        markup=False,
    )


# --------------------------------------------------------------------------- run


def _fmt_w(watts: float) -> str:
    return f"{watts / 1e9:.2f}"


def _fmt_usd_b(usd: float) -> str:
    return f"{usd / 1e9:,.1f}"


def _fmt_chips(n: int) -> str:
    if n >= 999_500:
        return f"{n / 1e6:.2f}M"
    if n >= 1e3:
        return f"{n / 1e3:.0f}k"
    return str(n)


def _run_one(scenario: Path, show_progress: bool, scn=None, overrides: list[str] | None = None, samples: int = 1):
    """Load (unless ``scn`` is given) and run one scenario through :func:`gigawatt.run`."""
    from gigawatt.pipeline import run as run_pipeline

    if scn is None:
        scn = _load(scenario, overrides)
    if not show_progress:
        return scn, run_pipeline(scn, samples=samples)
    from rich.progress import Progress

    with Progress(console=_stderr(), transient=True) as bar:
        tasks: dict = {}

        def progress(stage, done, total):
            if stage not in tasks:
                tasks[stage] = bar.add_task(f"{scn.name}: {stage}", total=total)
            bar.update(tasks[stage], completed=done)

        return scn, run_pipeline(scn, samples=samples, progress=progress)


def _years_table(summary: dict, title: str):
    from rich.table import Table

    years = summary["years"]
    chip_ids = list(years[0]["chips"]) if years else []
    has_demand = bool(years) and years[0].get("inference_served_share", "absent") != "absent"
    table = Table(title=title, title_justify="left")
    for col in ["year", "IT GW", "facility GW"]:
        table.add_column(col, justify="right")
    for c in chip_ids:
        table.add_column(c, justify="right")
    for col in ["BF16 EFLOP/s", "FP8 EFLOP/s", "spend $B", "cum. $B", "TWh"]:
        table.add_column(col, justify="right")
    if has_demand:
        table.add_column("inference served", justify="right")
        table.add_column("idle", justify="right")
    table.add_column("binding", justify="right")
    for row in years:
        cells = [
            str(row["year"]),
            _fmt_w(row["it_power_w"]),
            _fmt_w(row["facility_power_w"]),
            *[_fmt_chips(row["chips"][c]) for c in chip_ids],
            f"{row['peak_bf16_flops'] / 1e18:,.0f}",
            f"{row['peak_fp8_flops'] / 1e18:,.0f}",
            _fmt_usd_b(row["spend_usd"]),
            _fmt_usd_b(row["cumulative_spend_usd"]),
            f"{row['energy_j'] / 3.6e15:,.1f}",
        ]
        if has_demand:
            cells += [_pct(row.get("inference_served_share")), _pct(row.get("idle_share"))]
        table.add_row(*cells, row["binding"])
    return table


def _money(value) -> str:
    return "-" if value is None else f"{value:,.2f}"


def _pct(value) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def _runs_table(runs: list[dict]):
    from rich.table import Table

    table = Table(title="training runs", title_justify="left")
    for col in ["run", "chip", "site", "chips", "start", "finish", "deadline", "late (days)", "status"]:
        table.add_column(col, justify="right" if col in ("chips", "late (days)") else "left")
    for r in runs:
        table.add_row(r["name"], r["chip"] or "-", r["site"] or "-", _fmt_chips(r["chips"]) if r["chips"] else "-",
                      r["start"] or "-", r["finish"] or "-", r["deadline"] or "-",
                      "-" if r["delay_days"] is None else str(r["delay_days"]), r["status"])
    return table


def _run_title(summary: dict) -> str:
    """The scenario's name; the seed only where the run drew random numbers; the samples where several."""
    title = str(summary["scenario"])
    samples = (summary.get("samples") or {}).get("n")
    seed = f"seed {summary['seed']}" if summary.get("seed_matters", True) else None
    if samples:
        return f"{title} ({samples} samples{', ' + seed if seed else ''}; means, dates are medians)"
    return f"{title} ({seed})" if seed else title


def _spread_table(summary: dict):
    """The 10th, 50th and 90th percentiles of the headline figures over a run's samples."""
    from rich.table import Table

    spread = summary["samples"]
    table = Table(title=f"spread over {spread['n']} samples", title_justify="left")
    table.add_column("")
    for col in ("mean", "p10", "p50", "p90"):
        table.add_column(col, justify="right")
    views = [summary, spread["p10"], spread["p50"], spread["p90"]]

    def row(label, get, fmt):
        cells = []
        for v in views:
            try:
                value = get(v)
            except (KeyError, TypeError, IndexError):
                value = None
            cells.append("-" if value is None else fmt(value))
        table.add_row(label, *cells)

    row("inference served", lambda v: v["inference"]["served_share"], _pct)
    row("idle capacity", lambda v: v["idle_share"], _pct)
    row("spend over horizon $B", lambda v: v["totals"]["spend_usd"], _fmt_usd_b)
    row("implied $ per chip-hour", lambda v: v["implied"]["usd_per_chip_hour"], lambda x: f"{x:.2f}")
    for party in ("lab", "provider"):
        row(f"{party} NPV $B", lambda v, p=party: v["ledger"][p]["npv_usd"], _fmt_usd_b)
    for i, run in enumerate(summary.get("training_runs") or []):
        table.add_row(f"{run['name']} finish", *[
            ((v.get("training_runs") or [{}] * (i + 1))[i].get("finish") or "not by horizon") for v in views])
    return table


def _print_summary(summary: dict, out_dir: Path | None) -> None:
    con = _stdout()
    con.print(_years_table(summary, _run_title(summary)))
    if summary.get("training_runs"):
        con.print(_runs_table(summary["training_runs"]))
    if summary.get("samples"):
        con.print(_spread_table(summary))
    t, imp = summary["totals"], summary["implied"]
    con.print(
        f"Spend over the horizon ${t['spend_usd'] / 1e9:,.1f}B; in the commitment term "
        f"${t['spend_in_commitment_term_usd'] / 1e9:,.1f}B against a commitment of ${t['commitment_usd'] / 1e9:,.1f}B "
        f"({100 * t['commitment_covered_share']:.0f}%). Energy at full load {t['energy_j'] / 3.6e15:,.0f} TWh.",
        markup=False,
    )
    con.print(
        f"Implied by the commitment: ${imp['usd_per_gw_year'] / 1e9:,.2f}B per GW-year of IT capacity, "
        f"${imp['usd_per_chip_hour']:.2f} per chip-hour (contract prices average "
        f"${imp['contract_usd_per_chip_hour']:.2f}).",
        markup=False,
    )
    inf = summary.get("inference")
    if inf and inf.get("served_share") is not None:
        cost = inf.get("usd_per_million_tokens")
        flop_cost = summary.get("usd_per_training_flop")
        con.print(
            f"Inference: {100 * inf['served_share']:.1f}% of {inf['demand_tokens'] / 1e15:,.1f} quadrillion tokens served"
            + (f" at ${cost:.2f} per million tokens" if cost else "")
            + f"; capacity idle {_pct(summary.get('idle_share'))}"
            + (f"; training at ${flop_cost * 1e18:,.0f} per EFLOP." if flop_cost else "."),
            markup=False,
        )
    for note in summary.get("notes", []) + summary.get("throughput_notes", []):
        con.print(f"note: {note}", markup=False)
    if out_dir is not None:
        con.print(f"Results written to {out_dir}/", markup=False)


@app.command()
def run(
    scenario: Path = typer.Argument(..., help="Scenario YAML file."),
    out: Optional[Path] = typer.Option(
        None, "--out", "-o", help="Folder for results (netCDF, CSV, JSON, the scenario). Default: gigawatt-runs/<name>."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object to stdout, nothing else."),
    no_write: bool = typer.Option(False, "--no-write", help="Do not write the results folder."),
    db: Path = typer.Option(Path("gigawatt.duckdb"), "--db", help="Results store (DuckDB file) the run is saved in."),
    no_store: bool = typer.Option(False, "--no-store", help="Do not save the run in the results store."),
    set_: Optional[list[str]] = _SET_OPTION,
    samples: int = typer.Option(1, "--samples", min=1, max=1000,
                                help="Independent draws of the random inputs (the training runs' failures); with "
                                     "more than one, figures are means and a table gives the 10th-90th percentiles."),
) -> None:
    """Run a scenario: chips, power, FLOP/s, spend, energy and the binding constraint per year.

    Keys of the --json object: scenario, gigawatt_version, seed, years[] (year, it_power_w,
    facility_power_w, energized_it_power_w, chips{chip: n}, chips_added, peak_bf16_flops,
    peak_fp8_flops, spend_usd, cumulative_spend_usd, energy_j, binding), totals (spend_usd,
    commitment_usd, energy_j, ...), implied (usd_per_gw_year, usd_per_chip_hour, ...).
    All values in SI units (W, J, FLOP/s, USD).
    """
    from gigawatt.errors import GigawattError

    out_dir = None if no_write or out is None else _checked_out_dir(out)
    scn = _load(scenario, set_)
    if not no_write and out_dir is None:
        out_dir = _checked_out_dir(Path("gigawatt-runs") / scn.name)
    if not no_store:  # a store that cannot take the run is refused before anything is computed or written
        from gigawatt import store

        try:
            store.check(db)
        except store.StoreError as exc:
            _fail(f"--db: {exc}", exc.hint)
    scn, results = _run_one(scenario, show_progress=not json_out and sys.stderr.isatty(), scn=scn, samples=samples)
    if out_dir is not None:
        from gigawatt.results import OutputError

        try:
            results.save(out_dir)
        except OutputError as exc:
            _fail(f"--out: {exc}", exc.hint)
        except (OSError, GigawattError) as exc:
            _fail(f"--out: cannot write results to {out_dir}: {exc}", "choose a writable folder with --out")
    run_id = None
    if not no_store:
        from gigawatt import store

        try:
            run_id = results.to_store(db)
        except store.StoreError as exc:
            _fail(f"--db: {exc}", getattr(exc, "hint", None))
        except OSError as exc:
            _fail(f"--db: cannot write the results store {db}: {exc}", "choose a writable file with --db, or --no-store")
    if json_out:
        from gigawatt.results import dumps_strict

        print(dumps_strict(results.summary()))
    else:
        _print_summary(results.summary(), out_dir)
        if run_id is not None:
            _stdout().print(f"Saved as run {run_id} in {db} (gigawatt runs show {run_id}; gigawatt report {run_id})",
                            markup=False)


def _checked_out_dir(out: Path) -> Path:
    """The resolved results folder, or exit 2 when writing it could destroy files gigawatt did not write."""
    from gigawatt.results import OutputError, check_out_dir

    try:
        return check_out_dir(out)
    except OutputError as exc:
        _fail(f"--out: {exc}", exc.hint)
    except OSError as exc:
        _fail(f"--out: cannot use {out}: {exc}", "choose a writable folder with --out")


# --------------------------------------------------------------------------- compare


def _summary_of(path: Path):
    """A run summary from a scenario file, or from a results folder's summary.json."""
    if path.is_dir():
        f = path / "summary.json"
        if not f.exists():
            _fail(f"{path} has no summary.json", "give a scenario YAML file or a folder written by `gigawatt run`")
        return json.loads(f.read_text())
    _, results = _run_one(path, show_progress=False)
    return results.summary()


@app.command()
def compare(
    a: Path = typer.Argument(..., help="First scenario YAML (or a results folder from `gigawatt run`)."),
    b: Path = typer.Argument(..., help="Second scenario YAML (or a results folder)."),
    json_out: bool = typer.Option(False, "--json", help="Print {a: ..., b: ...} as one JSON object."),
) -> None:
    """Put two runs side by side: power, chips, FLOP/s, spend and binding per year, then totals."""
    sa, sb = _summary_of(a), _summary_of(b)
    if json_out:
        from gigawatt.results import dumps_strict

        print(dumps_strict({"a": sa, "b": sb}))
        return
    from rich.table import Table

    by_year_b = {r["year"]: r for r in sb["years"]}
    table = Table(title=f"A = {sa['scenario']}   B = {sb['scenario']}", title_justify="left")
    for col in ["year", "IT GW A", "IT GW B", "chips A", "chips B", "BF16 EF/s A", "BF16 EF/s B",
                "spend $B A", "spend $B B", "binding A", "binding B"]:
        table.add_column(col, justify="right")
    for ra in sa["years"]:
        rb = by_year_b.get(ra["year"])
        cells_b = (
            [_fmt_w(rb["it_power_w"]), _fmt_chips(sum(rb["chips"].values())), f"{rb['peak_bf16_flops'] / 1e18:,.0f}",
             _fmt_usd_b(rb["spend_usd"]), rb["binding"]] if rb else ["-"] * 5
        )
        table.add_row(
            str(ra["year"]), _fmt_w(ra["it_power_w"]), cells_b[0], _fmt_chips(sum(ra["chips"].values())), cells_b[1],
            f"{ra['peak_bf16_flops'] / 1e18:,.0f}", cells_b[2], _fmt_usd_b(ra["spend_usd"]), cells_b[3],
            ra["binding"], cells_b[4],
        )
    con = _stdout()
    con.print(table)
    if sa.get("training_runs") or sb.get("training_runs"):
        runs = Table(title="training runs: finish (chip)", title_justify="left")
        for col in ["run", "A", "B"]:
            runs.add_column(col)
        by_b = {r["name"]: r for r in sb.get("training_runs", [])}
        names = [r["name"] for r in sa.get("training_runs", [])] + [n for n in by_b if n not in
                                                                      {r["name"] for r in sa.get("training_runs", [])}]
        by_a = {r["name"]: r for r in sa.get("training_runs", [])}

        def cell(r):
            if r is None:
                return "-"
            return f"{r['finish'] or r['status']} ({r['chip'] or '-'})"

        for name in names:
            runs.add_row(name, cell(by_a.get(name)), cell(by_b.get(name)))
        con.print(runs)
    totals = Table(title="totals and implied economics", title_justify="left")
    totals.add_column("")
    totals.add_column("A", justify="right")
    totals.add_column("B", justify="right")
    rows = [
        ("spend over horizon $B", lambda s: _fmt_usd_b(s["totals"]["spend_usd"])),
        ("commitment $B", lambda s: _fmt_usd_b(s["totals"]["commitment_usd"])),
        ("energy TWh", lambda s: f"{s['totals']['energy_j'] / 3.6e15:,.0f}"),
        ("implied $B per GW-year", lambda s: f"{s['implied']['usd_per_gw_year'] / 1e9:,.2f}"),
        ("implied $ per chip-hour", lambda s: f"{s['implied']['usd_per_chip_hour']:.2f}"),
        ("contract $ per chip-hour", lambda s: f"{s['implied']['contract_usd_per_chip_hour']:.2f}"),
        ("inference served", lambda s: _pct((s.get("inference") or {}).get("served_share"))),
        ("idle capacity", lambda s: _pct(s.get("idle_share"))),
        ("$ per million tokens", lambda s: _money((s.get("inference") or {}).get("usd_per_million_tokens"))),
    ]
    for label, fn in rows:
        totals.add_row(label, fn(sa), fn(sb))
    con.print(totals)


# --------------------------------------------------------------------------- catalog


class CatalogKind(str, Enum):
    chips = "chips"
    systems = "systems"
    models = "models"
    prices = "prices"


_CATALOG_COLUMNS = {
    "chips": [("peak_bf16_flops", 1e12, "BF16 TF/s"), ("peak_fp8_flops", 1e12, "FP8 TF/s"), ("hbm_bytes", 1e9, "HBM GB"),
              ("hbm_bw_bytes_per_s", 1e12, "HBM TB/s"), ("scaleup_bw_bytes_per_s", 1e9, "scale-up GB/s"),
              ("tdp_w", 1, "TDP W"), ("available", None, "available")],
    "systems": [("chip", None, "chip"), ("chips_per_node", 1, "per node"), ("chips_per_scaleup", 1, "scale-up"),
                ("it_w_per_chip", 1, "IT W/chip"), ("node_power_w", 1e3, "node kW")],
    "models": [("params_total", 1e9, "params B"), ("params_active", 1e9, "active B"), ("layers", 1, "layers"),
               ("d_model", 1, "d_model"), ("attention", None, "attn"), ("moe_experts", 1, "experts")],
    "prices": [("chip", None, "chip"), ("instance", None, "instance"), ("list_usd_per_chip_h", 1, "list $/h"),
               ("committed_usd_per_chip_h", 1, "committed $/h")],
}


def _catalog_rows(kind: str) -> list[dict]:
    from gigawatt import catalog
    from gigawatt.power import it_power_w_per_chip

    rows = []
    for entry in catalog.load(kind).values():
        row = entry.model_dump(mode="json")
        if kind == "systems":
            chip = catalog.get_chip(entry.chip)
            row["it_w_per_chip"] = float(it_power_w_per_chip(chip.tdp_w, entry.host_power_w or 0.0,
                                                             entry.node_other_power_w or 0.0, entry.chips_per_node,
                                                             entry.network_power_w_per_chip or 0.0))
        row["estimated_fields"] = sorted(f for f in type(entry).numeric_fields() if getattr(entry, f) is not None
                                         and entry.is_estimate(f))
        rows.append(row)
    return rows


@app.command("catalog")
def catalog_cmd(
    kind: CatalogKind = typer.Argument(..., help="Which catalog to list."),
    json_out: bool = typer.Option(False, "--json", help="Print the entries as JSON (SI units), with provenance."),
) -> None:
    """List the catalog: chips, systems, models or prices, with sources. Values marked * are estimates."""
    from gigawatt.errors import GigawattError

    try:
        rows = _catalog_rows(kind.value)
    except GigawattError as exc:
        _fail(str(exc))
    if json_out:
        print(json.dumps(rows, indent=1))
        return
    from rich.table import Table

    table = Table(title=f"catalog: {kind.value} ({len(rows)})", title_justify="left")
    table.add_column("id")
    cols = _CATALOG_COLUMNS[kind.value]
    for _, _, label in cols:
        table.add_column(label, justify="right")
    table.add_column("source", overflow="fold", max_width=60)
    for row in rows:
        cells = []
        for key, scale, _ in cols:
            value = row.get(key)
            if value is None:
                cells.append("-")
            elif scale is None:
                cells.append(str(value))
            else:
                text = f"{value / scale:,.4g}" if abs(value / scale) < 1e5 else f"{value / scale:,.0f}"
                cells.append(text + ("*" if key in row["estimated_fields"] else ""))
        est = " (estimate)" if row.get("estimate") else ""
        table.add_row(row["id"], *cells, (row["source"] + est))
    _stdout().print(table)


def _register_perf() -> None:
    """Attach ``gigawatt perf`` and ``gigawatt backtest`` where the perf layer provides them."""
    try:
        from gigawatt.perf import cli as perf_cli
    except ImportError:
        return
    if hasattr(perf_cli, "app"):
        app.add_typer(perf_cli.app, name="perf", help="Training and inference performance of one workload on one chip.")
    if hasattr(perf_cli, "backtest_command"):
        app.command("backtest", help="Predict the published training and inference measurements and report the "
                    "errors. Your own rows go in CSV files with the columns of the packaged ones "
                    "(gigawatt/perf/data/FORMAT.md); a row the model cannot predict is a miss with its reason.")(
            perf_cli.backtest_command
        )


_register_perf()


def _register_store() -> None:
    """Attach ``gigawatt runs ...`` and ``gigawatt report``."""
    from gigawatt import store_cli

    app.add_typer(store_cli.app, name="runs", help="Runs saved in the results store: list, show, diff.")
    app.command("report", help="Write the HTML report of a stored run (opens offline); --png for images.")(
        store_cli.report_command
    )


_register_store()


def _register_economics() -> None:
    """Attach ``gigawatt ledger`` and ``gigawatt deals``."""
    from gigawatt.economics import cli as economics_cli

    app.command("ledger", help="The deal's cash flows for both parties: yearly ledger, NPV, IRR, implied prices.")(
        economics_cli.ledger_command
    )
    app.command("deals", help="The library of public compute deals shipped as scenarios, one line each.")(
        economics_cli.deals_command
    )


_register_economics()


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
