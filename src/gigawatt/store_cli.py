"""Command line for the results store and the report: ``gigawatt runs ...`` and ``gigawatt report``.

``app`` holds ``list``, ``show ID`` and ``diff ID1 ID2``; :func:`report_command`
writes the HTML report (and PNGs with ``--png``) of a stored run. Only typer and
the standard library are imported at module level, so registering these costs
the CLI no start-up time. Problems (no store, unknown run id, a store locked by
another process, no browser for PNGs; a file that is not a gigawatt store, or
a damaged one) print one message and a hint on stderr and exit with status 2.

What a store holds is printed through :func:`gigawatt.safe_text.terminal_text`
(a name cannot send escape sequences or bidi overrides to the terminal), and
the report's default file name is :func:`gigawatt.safe_text.file_stem` of the
scenario name and id, in the current folder and nowhere else.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import typer

from gigawatt.safe_text import file_stem, terminal_text

EXIT_BAD_INPUT = 2
DEFAULT_DB = Path("gigawatt.duckdb")

app = typer.Typer(
    help="Runs saved in the results store (a DuckDB file, default ./gigawatt.duckdb).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_DB_OPTION = typer.Option(DEFAULT_DB, "--db", help="The results store (DuckDB file).")
_JSON_OPTION = typer.Option(False, "--json", help="Print one JSON object on stdout, nothing else (SI units).")


def _safe_lines(text: str) -> str:
    """``text`` for the terminal, its own line breaks kept."""
    return "\n".join(terminal_text(line) for line in str(text).split("\n"))


def _fail(message: str, hint: str | None = None) -> None:
    print(f"error: {_safe_lines(message)}", file=sys.stderr)
    if hint:
        print(f"  hint: {_safe_lines(hint)}", file=sys.stderr)
    raise typer.Exit(EXIT_BAD_INPUT)


def _lock_timeout_s() -> float:
    """How long to wait for another process holding the store [s]: $GIGAWATT_LOCK_TIMEOUT_S, default 30."""
    try:
        return float(os.environ.get("GIGAWATT_LOCK_TIMEOUT_S", "30"))
    except ValueError:
        return 30.0


def _guard(fn, *args, **kwargs):
    """Call ``fn``; turn store and report errors into one message and exit 2."""
    from gigawatt.errors import GigawattError

    try:
        return fn(*args, **kwargs)
    except GigawattError as exc:
        _fail(str(exc), getattr(exc, "hint", None))


def _strict(value):
    """NaN and infinities as null, so that --json output is strict JSON."""
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(v) for v in value]
    return value


def _dumps(value) -> str:
    return json.dumps(_strict(value), default=str, allow_nan=False)


def _b(usd) -> str:
    if not isinstance(usd, (int, float)) or isinstance(usd, bool):
        return "-"
    return f"{usd / 1e9:,.1f}"


def _console():
    from rich.console import Console

    return Console(highlight=False, emoji=False, width=None if sys.stdout.isatty() else 200)


def _cell(value) -> str:
    """A value from the store as a table cell: terminal-safe, rich markup escaped."""
    from rich.markup import escape

    return escape(terminal_text("-" if value is None else value))


@app.command("list")
def list_cmd(db: Path = _DB_OPTION, json_out: bool = _JSON_OPTION) -> None:
    """List the saved runs, oldest first: id, when, scenario, version, seed, status, spend."""
    from gigawatt import store

    runs = _guard(store.list_runs, db, timeout_s=_lock_timeout_s())
    if json_out:
        print(_dumps({"db": str(db), "runs": runs}))
        return
    from rich.table import Table

    table = Table(title=_cell(f"runs in {db} ({len(runs)})"), title_justify="left")
    for col in ("id", "created (UTC)", "scenario", "version", "seed", "status", "spend $B", "commitment $B"):
        table.add_column(col, justify="right" if col in ("seed", "spend $B", "commitment $B") else "left")
    for r in runs:
        table.add_row(_cell(r["id"]), _cell(r["created_at"]), _fmt_value(r["scenario"]), _cell(r["version"]),
                      _cell(r["seed"]), _cell(r["status"]), _b(r["spend_usd"]), _b(r["commitment_usd"]))
    _console().print(table)


@app.command("show")
def show_cmd(
    run_id: str = typer.Argument(..., help="Run id, or a unique prefix of it (see `gigawatt runs list`)."),
    db: Path = _DB_OPTION,
    json_out: bool = _JSON_OPTION,
) -> None:
    """Show one run: provenance, the yearly table, totals, training runs and timings."""
    from gigawatt import store

    info = _guard(store.run_info, db, run_id, timeout_s=_lock_timeout_s())
    if json_out:
        out = {k: v for k, v in info.items() if k != "scenario_yaml"}
        print(_dumps(out))
        return
    con = _console()
    t = terminal_text
    summary = info.get("summary") if isinstance(info.get("summary"), dict) else {}
    seed = f", seed {t(info['seed'])}" if summary.get("seed_matters", True) else ""
    samples = (summary.get("samples") or {}).get("n") if isinstance(summary.get("samples"), dict) else None
    con.print(f"run {t(info['id'])}: {t(info['scenario'])}, gigawatt {t(info['version'])}{seed}"
              + (f", {t(samples)} samples (figures are means, dates medians)" if samples else "")
              + f", status {t(info['status'])}, saved {t(info['created_at'])}", markup=False)
    try:
        _show_body(con, info)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        _fail(f"run {info['id']} in {db}: its stored summary cannot be shown ({type(exc).__name__}: {exc})",
              f"`gigawatt runs show {info['id']} --json` prints what is stored; run the scenario again to save it anew")


def _show_body(con, info: dict) -> None:
    """The tables of ``runs show``: per year, totals, training runs, timings."""
    from rich.table import Table

    s = info["summary"]
    years = s.get("years") or []
    chip_ids = list(years[0].get("chips", {})) if years else []
    table = Table(title="per year", title_justify="left")
    for col in ["year", "IT GW", *chip_ids, "spend $B", "cum. $B", "TWh", "binding"]:
        table.add_column(_cell(col), justify="right")
    for r in years:
        table.add_row(_cell(r["year"]), f"{r['it_power_w'] / 1e9:.2f}",
                      *[f"{r['chips'][c] / 1e3:,.0f}k" for c in chip_ids],
                      _b(r["spend_usd"]), _b(r["cumulative_spend_usd"]), f"{r['energy_j'] / 3.6e15:,.1f}",
                      _cell(r["binding"]))
    con.print(table)
    t, imp = s.get("totals") or {}, s.get("implied") or {}
    if t:
        con.print(f"spend ${_b(t.get('spend_usd'))}B over the horizon against a commitment of "
                  f"${_b(t.get('commitment_usd'))}B; implied ${imp.get('usd_per_chip_hour', float('nan')):.2f} "
                  f"per chip-hour", markup=False)
    inference = s.get("inference") or {}
    if inference.get("served_share") is not None:
        con.print(f"inference demand served: {100 * inference['served_share']:.1f}%", markup=False)
    if s.get("samples"):
        from gigawatt.cli import _spread_table

        con.print(_spread_table(s))
    if info["events"]:
        runs = Table(title="training runs", title_justify="left")
        for col in ("name", "chip", "site", "chips", "start", "finish", "deadline", "delay days", "status"):
            runs.add_column(col)
        for e in info["events"]:
            runs.add_row(*[_fmt_value(e.get(k)) for k in
                           ("name", "chip", "site", "chips", "start", "finish", "deadline", "delay_days", "status")])
        con.print(runs)
    if info["timings_s"]:
        con.print("timings: " + ", ".join(f"{terminal_text(k)} {v:.3f} s" for k, v in info["timings_s"].items()),
                  markup=False)


_SCALES = (("_usd", 1e9, "$B"), ("_w", 1e9, "GW"), ("_j", 3.6e15, "TWh"), ("_flops", 1e18, "EFLOP/s"),
           ("_s", 86400 * 365.25, "years"))


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
        text = "-" if v is None else terminal_text(" ".join(str(v).split()))
    if len(text) > width:
        text = text[: width - 1] + "…"
    return escape(text)


@app.command("diff")
def diff_cmd(
    id1: str = typer.Argument(..., help="First run id (A)."),
    id2: str = typer.Argument(..., help="Second run id (B)."),
    db: Path = _DB_OPTION,
    json_out: bool = _JSON_OPTION,
) -> None:
    """What differs between two runs: per-year figures, totals and the scenario (B - A; --json in SI units)."""
    from gigawatt import store

    d = _guard(store.diff, db, id1, id2, timeout_s=_lock_timeout_s())
    if json_out:
        print(_dumps(d))
        return
    from rich.table import Table

    con = _console()
    a, b = ({k: terminal_text(v) for k, v in d[x].items()} for x in ("a", "b"))
    con.print(f"A = {a['id']} ({a['scenario']}, seed {a['seed']})   "
              f"B = {b['id']} ({b['scenario']}, seed {b['seed']})", markup=False)
    groups = [("scenario", d["scenario"]), ("summary", d["summary"])]
    groups += [(f"year {y['year']}", y["changes"]) for y in d["years"]]
    shown = 0
    for title, rows in groups:
        if not rows:
            continue
        table = Table(title=_cell(title), title_justify="left")
        for col, justify in (("key", "left"), ("A", "right"), ("B", "right"), ("B - A", "right")):
            table.add_column(col, justify=justify)
        for r in rows:
            k = r["key"]
            table.add_row(_fmt_value(k, 80), *[_fmt_value(_scaled(k, r.get(c))) for c in ("a", "b", "diff")])
        con.print(table)
        shown += len(rows)
    if not shown:
        con.print("the two runs have the same scenario and the same summary", markup=False)


def report_command(
    run_id: str = typer.Argument(..., help="Run id, or a unique prefix of it (see `gigawatt runs list`)."),
    out: Path = typer.Option(None, "--out", help="HTML file to write. Default: <scenario>-<id>.html here."),
    png: bool = typer.Option(False, "--png", help="Also write one PNG per chart, into <out>-png/ (needs Chromium)."),
    db: Path = typer.Option(DEFAULT_DB, "--db", help="The results store (DuckDB file)."),
) -> None:
    """Write the report of a stored run: one self-contained HTML file that opens offline."""
    from gigawatt import report, store

    info = _guard(store.run_info, db, run_id, timeout_s=_lock_timeout_s())
    results = _guard(store.load_run, db, info["id"], timeout_s=_lock_timeout_s())
    path = out or default_report_path(info["scenario"], info["id"])
    try:
        report.write_html(results, path, run_id=info["id"])
    except OSError as exc:
        _fail(f"--out: cannot write {path}: {exc}", "choose a writable file with --out")
    print(f"report written to {terminal_text(path)}")
    if png:
        folder = path.with_name(path.stem + "-png")
        paths = _guard(report.write_pngs, results, folder)
        print(f"{len(paths)} PNG images written to {terminal_text(folder)}/")


def default_report_path(scenario: object, run_id: object) -> Path:
    """``<scenario>-<id>.html`` in the current folder, both parts made safe file-name stems.

    A stored name such as ``../../x`` becomes ``x``; a path that would still
    resolve outside the current folder (a link of that name pointing
    elsewhere) is refused with exit status 2.
    """
    path = Path(f"{file_stem(scenario)}-{file_stem(run_id, max_len=40)}.html")
    here = Path.cwd().resolve()
    if path.resolve().parent != here:
        _fail(f"the report's default file {path} would be written outside the current folder "
              f"(to {path.resolve()})", "choose where to write it with --out")
    return path
