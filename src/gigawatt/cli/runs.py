"""``gigawatt compare`` and ``gigawatt runs list|show|diff``: runs side by side, and the results store.

What a store holds is printed through :func:`gigawatt.cli.common.safe` (a
stored name cannot send escape sequences or bidirectional overrides to the
terminal). Problems (no store, an unknown run id, a store locked by another
process, a file that is not a gigawatt store or a damaged one) print one
message and a hint and exit with status 2.
"""

from __future__ import annotations

from pathlib import Path

import typer

from gigawatt.cli import formats as fmt
from gigawatt.cli.common import (DB_OPTION, JSON_OPTION, cell, fail, guard, lock_timeout_s, print_json, safe,
                                 stdout)
from gigawatt.cli.formats import J_PER_TWH
from gigawatt.cli.tables import (WIDE_OPTION, Column, fitted_table, make_table, show, spread_table, training_runs_table,
                                 year_columns, years_table)
from gigawatt.units import SECONDS_PER_YEAR

app = typer.Typer(
    help="Runs saved in the results store (a DuckDB file, default ./gigawatt.duckdb).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _summary_of(path: Path) -> dict:
    """A run summary from a results folder's summary.json, or from running a scenario."""
    if path.is_dir():
        from gigawatt.outputs import OutputError, read_summary

        try:
            return read_summary(path)
        except OutputError as exc:
            fail(str(exc), exc.hint)
    from gigawatt.cli.common import load_scenario
    from gigawatt.cli.run import run_scenario

    return guard(run_scenario, load_scenario(path), show_progress=False).summary()


def compare(
    a: Path = typer.Argument(..., help="First scenario YAML (or a results folder from `gigawatt run`); or a sweep's "
                                       "id (from `gigawatt sweep`) alone."),
    b: Path = typer.Argument(None, help="Second scenario YAML (or a results folder)."),
    json_out: bool = typer.Option(False, "--json", help="Print {a: ..., b: ...} as one JSON object."),
    wide: bool = WIDE_OPTION,
    db: Path = DB_OPTION,
) -> None:
    """Put two runs side by side (power, chips, spend, inference served and binding per year, then totals); or, given a sweep's id, one row per variant with its difference from the first."""
    if b is None:
        _compare_sweep(str(a), db, json_out, wide)
        return
    sa, sb = _summary_of(a), _summary_of(b)
    if json_out:
        print_json({"a": sa, "b": sb})
        return
    con = stdout()
    show(con, _compare_years(sa, sb, wide), wide)
    if sa.get("training_runs") or sb.get("training_runs"):
        by_a = {r["name"]: r for r in sa.get("training_runs", [])}
        by_b = {r["name"]: r for r in sb.get("training_runs", [])}

        def finish(r):
            return "-" if r is None else cell(f"{r['finish'] or r['status']} ({r['chip'] or '-'})")

        columns = [Column("run", cell, right=False), Column("A", lambda n: finish(by_a.get(n)), right=False),
                   Column("B", lambda n: finish(by_b.get(n)), right=False)]
        show(con, make_table("training runs: finish (chip)", columns, list(dict.fromkeys([*by_a, *by_b]))), wide)
    rows = [
        ("IT GW at the end", lambda s: fmt.gw(s["years"][-1]["it_power_w"]) if s["years"] else fmt.MISSING),
        ("facility GW at the end", lambda s: fmt.gw(s["years"][-1]["facility_power_w"]) if s["years"] else fmt.MISSING),
        ("commitment buys GW-years", lambda s: (f"{s['commitment_buys']['gw_years']:,.1f}"
                                                if (s.get("commitment_buys") or {}).get("gw_years") is not None
                                                else fmt.MISSING)),
        ("spend over horizon $B", lambda s: fmt.usd_b(s["totals"]["spend_usd"])),
        ("commitment $B", lambda s: fmt.usd_b(s["totals"]["commitment_usd"])),
        ("energy TWh", lambda s: fmt.twh(s["totals"]["energy_j"], 0)),
        ("implied $B per GW-year", lambda s: fmt.usd_b(s["implied"]["usd_per_gw_year"], 2)),
        ("implied $ per chip-hour", lambda s: fmt.per_hour(s["implied"]["usd_per_chip_hour"])),
        ("contract $ per chip-hour", lambda s: fmt.per_hour(s["implied"]["contract_usd_per_chip_hour"])),
        ("inference served", lambda s: fmt.pct((s.get("inference") or {}).get("served_share"))),
        ("idle capacity", lambda s: fmt.pct(s.get("idle_share"))),
        ("$ per million tokens", lambda s: fmt.per_hour((s.get("inference") or {}).get("usd_per_million_tokens"))),
    ]
    columns = [Column("", lambda r: r[0], right=False), Column("A", lambda r: r[1](sa)),
               Column("B", lambda r: r[1](sb))]
    show(con, make_table("totals and implied economics", columns, rows), wide)


def _compare_sweep(sweep_id: str, db: Path, json_out: bool, wide: bool) -> None:
    """One row per variant of a stored sweep, each figure with its difference from the first variant's."""
    from gigawatt import store
    from gigawatt.cli.sweep import headline, variants_table

    runs = guard(store.sweep_runs, db, sweep_id, timeout_s=lock_timeout_s())
    rows = [{"variant": s["sweep"].get("variant"), "params": s["sweep"].get("params") or {}, "error": None,
             "run_id": s["run_id"], **headline(s)} for s in runs]
    if json_out:
        print_json({"sweep": sweep_id, "variants": rows})
        return
    show(stdout(), variants_table(rows, f"sweep {safe(sweep_id)}: {len(rows)} variants", wide), wide)


def _compare_years(sa: dict, sb: dict, wide: bool):
    """The yearly figures of two runs side by side, A then B under each heading, years of A."""
    by_year_b = {r["year"]: r for r in sb["years"]}
    has_demand = any(s["years"] and "inference_served_share" in s["years"][0] for s in (sa, sb))
    per_run = year_columns(sa)
    pairs = ["it", "facility", "chips", "bf16", "spend", "cum", "twh"] + (["served", "idle"] if has_demand else [])
    pairs.append("binding")

    def side(key, which, wide):
        col = per_run[key]
        label = "served" if key == "served" else col.header

        def cell_of(ra):
            r = ra if which == "A" else by_year_b.get(ra["year"])
            return "-" if r is None else col.cell(r)
        return Column(f"{label}\n{which}", cell_of, wide=wide)

    # by default IT GW, chips, spend, inference served and binding; the served share goes where it does not fit
    columns = [per_run["year"]]
    for key in pairs:
        wide_only = per_run[key].wide or key in ("cum", "idle")
        columns += [side(key, "A", wide_only), side(key, "B", wide_only)]
    narrower = [c for c in columns if not c.header.startswith("served")]
    return fitted_table(f"A = {cell(sa['scenario'])}   B = {cell(sb['scenario'])}", [columns, narrower],
                        sa["years"], wide)


@app.command("list")
def list_cmd(db: Path = DB_OPTION, json_out: bool = JSON_OPTION) -> None:
    """List the saved runs, oldest first: id, when, scenario, version, seed, status, spend."""
    from gigawatt import store

    runs = guard(store.list_runs, db, timeout_s=lock_timeout_s())
    if json_out:
        print_json({"db": str(db), "runs": runs})
        return
    from rich.table import Table

    table = Table(title=cell(f"runs in {db} ({len(runs)})"), title_justify="left")
    for col in ("id", "created (UTC)", "scenario", "version", "seed", "status", "spend $B", "commitment $B"):
        table.add_column(col, justify="right" if col in ("seed", "spend $B", "commitment $B") else "left")
    for r in runs:
        table.add_row(cell(r["id"]), cell(r["created_at"]), _fmt_value(r["scenario"]), cell(r["version"]),
                      cell(r["seed"]), cell(r["status"]), fmt.usd_b(r["spend_usd"]), fmt.usd_b(r["commitment_usd"]))
    stdout().print(table)


@app.command("show")
def show_cmd(
    run_id: str = typer.Argument(..., help="Run id, or a unique prefix of it (see `gigawatt runs list`)."),
    db: Path = DB_OPTION,
    json_out: bool = JSON_OPTION,
    wide: bool = WIDE_OPTION,
    run_name: str = typer.Option(None, "--run", help="Show one training run's history instead: where it trained, "
                                 "when and why it paused, chip-months needed and received (with --json, its entry)."),
) -> None:
    """Show one run: provenance, the yearly table, totals, training runs and timings."""
    from gigawatt import store

    info = guard(store.run_info, db, run_id, timeout_s=lock_timeout_s())
    if run_name is not None:
        _show_training_run(info, run_name, json_out, wide)
        return
    if json_out:
        out = {k: v for k, v in info.items() if k != "scenario_yaml"}
        print_json(out)
        return
    con = stdout()
    t = safe
    summary = info.get("summary") if isinstance(info.get("summary"), dict) else {}
    seed = f", seed {t(info['seed'])}" if summary.get("seed_matters", True) else ""
    samples = (summary.get("samples") or {}).get("n") if isinstance(summary.get("samples"), dict) else None
    show(con, f"run {t(info['id'])}: {t(info['scenario'])}, gigawatt {t(info['version'])}{seed}"
              + (f", {t(samples)} samples (figures are means, dates medians)" if samples else "")
              + f", status {t(info['status'])}, saved {t(info['created_at'])}", wide)
    try:
        _show_body(con, info, wide)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        fail(f"run {info['id']} in {db}: its stored summary cannot be shown ({type(exc).__name__}: {exc})",
              f"`gigawatt runs show {info['id']} --json` prints what is stored; run the scenario again to save it anew")


def _show_body(con, info: dict, wide: bool = False) -> None:
    """The tables of ``runs show``: per year, totals, training runs, timings; as ``gigawatt run`` prints them."""
    s = info["summary"]
    show(con, years_table(s, "per year", wide), wide)
    if s.get("totals") and s.get("implied"):
        from gigawatt.cli.run import headline

        for line in headline(s):  # what the commitment buys, power on both bases, spend, implied prices
            show(con, line, wide)
    inference = s.get("inference") or {}
    if inference.get("served_share") is not None:
        show(con, f"inference demand served: {fmt.pct(inference['served_share'], 1)}", wide)
    if s.get("samples"):
        show(con, spread_table(s), wide)
    if info["events"]:
        show(con, training_runs_table(info["events"], wide), wide)
    if info["timings_s"]:
        show(con, "timings: " + ", ".join(f"{safe(k)} {v:.3f} s" for k, v in info["timings_s"].items()), wide)


def _show_training_run(info: dict, name: str, json_out: bool, wide: bool) -> None:
    """``runs show ID --run NAME``: one training run's placements and pauses, from the stored summary."""
    summary = info.get("summary") if isinstance(info.get("summary"), dict) else {}
    runs = summary.get("training_runs") or []
    run = next((r for r in runs if isinstance(r, dict) and r.get("name") == name), None)
    if run is None:
        names = ", ".join(safe(r.get("name")) for r in runs if isinstance(r, dict)) or "none"
        fail(f"run {info['id']} has no training run named {safe(name)}", f"its training runs: {names}", "--run")
    if json_out:
        print_json(run)
        return
    history = run.get("history") if isinstance(run.get("history"), dict) else None
    if history is None:
        fail(f"run {info['id']} was saved before training runs kept their history",
             f"run the scenario again to save it anew; `gigawatt runs show {info['id']}` shows its table", "--run")
    con = stdout()
    try:
        _training_run_body(con, run, history, wide)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        fail(f"run {info['id']}: the history of {safe(name)} cannot be shown ({type(exc).__name__}: {exc})",
             f"`gigawatt runs show {info['id']} --run {safe(name)} --json` prints what is stored")


def _training_run_body(con, run: dict, history: dict, wide: bool) -> None:
    """The sentences and the two tables of ``runs show --run``."""
    t = safe
    done = run.get("finish")
    state = (f"finished {t(done)}" + (f", {t(run['delay_days'])} days after its deadline {t(run['deadline'])}"
                                      if run.get("delay_days") else "")
             if done else f"not finished by the horizon ({t(run.get('at_horizon') or '-')} then)")
    show(con, f"training run {t(run['name'])}: first trained {t(run.get('first_start') or '-')}, {state}; "
              f"last on {t(run.get('last_chip') or '-')} at {t(run.get('last_site') or '-')}; "
              f"moved {t(run.get('moves', 0))} times", wide)
    needed, got = run.get("chip_months_needed"), run.get("chip_months_received")
    backfill = run.get("backfill_share")
    show(con, f"chip-months needed {fmt.chips(needed)} (on its layouts, all day), received {fmt.chips(got)}"
              + (f", {fmt.pct(backfill)} of them off inference's peak" if backfill else "")
              + f"; {fmt.pct(run.get('share_done'))} of its tokens trained", wide)

    def num(key, digits=0):
        return lambda r: "-" if r.get(key) is None else f"{r[key]:,.{digits}f}"

    placements = [
        Column("chip", lambda r: cell(r["chip"]), right=False), Column("site", lambda r: cell(r["site"]), right=False),
        Column("from", lambda r: cell(r["from"]), right=False), Column("to", lambda r: cell(r["to"]), right=False),
        Column("months", num("months", 1)), Column("chips", lambda r: fmt.chips(r["chips"])),
        Column("share\nof day", lambda r: fmt.pct(r.get("day_share"))),
        Column("MFU", lambda r: fmt.pct(r.get("mfu"))), Column("goodput", lambda r: fmt.pct(r.get("goodput"))),
        Column("tokens", lambda r: "-" if r.get("tokens") is None else f"{r['tokens'] / 1e12:,.0f}T", wide=True),
        Column("chip-\nmonths", lambda r: fmt.chips(r.get("chip_months")), wide=True),
    ]
    narrower = [c for c in placements if c.header != "site"]
    show(con, fitted_table("placements", [placements, narrower], history.get("placements") or [], wide), wide)
    pauses = history.get("pauses") or []
    if pauses:
        columns = [Column("from", lambda r: cell(r["from"]), right=False),
                   Column("to", lambda r: cell(r["to"]), right=False), Column("months", num("months", 1)),
                   Column("why", lambda r: cell(("" if r.get("started") else "not yet started: ") + r["why"]),
                          right=False)]
        show(con, fitted_table("paused", [columns], pauses, wide), wide)
    else:
        show(con, "never paused after its first placement", wide)


_SCALES = (("_usd", 1e9, "$B"), ("_w", 1e9, "GW"), ("_j", J_PER_TWH, "TWh"), ("_flops", 1e18, "EFLOP/s"),
           ("_s", SECONDS_PER_YEAR, "years"))


def _scaled(key: str, v):
    """Numbers whose key ends in an SI unit suffix, in the report's units (GW, $B, TWh)."""
    leaf = key.rsplit(".", 1)[-1]
    if "_per_" in leaf:  # a rate (USD per W, per chip-hour...): the suffix is not its unit
        return v
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        for suffix, scale, unit in _SCALES:
            if leaf.endswith(suffix):
                if unit == "$B":
                    return f"{'-' if v < 0 else ''}${abs(v) / scale:,.4g}B"
                return f"{v / scale:,.4g} {unit}"
    return v


def _fmt_value(v, width: int = 60) -> str:
    """A value for the diff table: numbers to 6 significant digits, long text shortened."""
    from rich.markup import escape

    if isinstance(v, float):
        text = f"{v:.6g}"
    else:
        text = "-" if v is None else safe(" ".join(str(v).split()))
    if len(text) > width:
        text = text[: width - 1] + "…"
    return escape(text)


@app.command("diff")
def diff_cmd(
    id1: str = typer.Argument(..., help="First run id (A)."),
    id2: str = typer.Argument(..., help="Second run id (B)."),
    db: Path = DB_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """What differs between two runs: per-year figures, totals and the scenario (B - A; --json in SI units)."""
    from gigawatt import store

    d = guard(store.diff, db, id1, id2, timeout_s=lock_timeout_s())
    if json_out:
        print_json(d)
        return
    from rich.table import Table

    con = stdout()
    a, b = ({k: safe(v) for k, v in d[x].items()} for x in ("a", "b"))
    con.print(f"A = {a['id']} ({a['scenario']}, seed {a['seed']})   "
              f"B = {b['id']} ({b['scenario']}, seed {b['seed']})", markup=False)
    groups = [("scenario", d["scenario"]), ("summary", d["summary"])]
    groups += [(f"year {y['year']}", y["changes"]) for y in d["years"]]
    shown = 0
    for title, rows in groups:
        if not rows:
            continue
        table = Table(title=cell(title), title_justify="left")
        for col, justify in (("key", "left"), ("A", "right"), ("B", "right"), ("B - A", "right")):
            table.add_column(col, justify=justify)
        for r in rows:
            k = r["key"]
            table.add_row(_fmt_value(k, 80), *[_fmt_value(_scaled(k, r.get(c))) for c in ("a", "b", "diff")])
        con.print(table)
        shown += len(rows)
    if not shown:
        con.print("the two runs have the same scenario and the same summary", markup=False)


def register(main: typer.Typer) -> None:
    main.command("compare")(compare)
    main.add_typer(app, name="runs", help="Runs saved in the results store: list, show, diff.")
