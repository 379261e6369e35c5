"""Tables of a run's summary that several commands print (run, compare, runs show), and how every table fits.

By default a table and the sentences around it fit :data:`FIT_WIDTH` columns:
each table names its columns as :class:`Column` records, some marked ``wide``
(shown only with ``--wide``), and offers narrower variants that are tried in
turn until one fits. ``--wide`` shows every column at the console's width.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import typer

from gigawatt.cli import formats as fmt

#: the terminal width that the default output fits [columns]
FIT_WIDTH = 100
WIDE_OPTION = typer.Option(False, "--wide", help="Show every column; by default tables fit 100 columns.")
WIDE_HINT = "more columns: --wide"


@dataclass(frozen=True)
class Column:
    """One column of a table: its header (a line break allowed), how a row becomes its cell, its alignment."""

    header: str
    cell: Callable[[Any], str]
    right: bool = True
    wide: bool = False  # shown only with --wide


def natural_width(renderable) -> int:
    """How many columns ``renderable`` takes when nothing limits its width."""
    from rich.console import Console
    from rich.measure import Measurement

    con = Console(width=100_000, file=io.StringIO(), highlight=False, emoji=False)
    return Measurement.get(con, con.options, renderable).maximum


def make_table(title: str | None, columns: Sequence[Column], rows: Sequence, caption: str | None = None):
    """A rich table of ``rows`` under ``columns``; headers of fewer lines than others are aligned at the bottom."""
    from rich.cells import cell_len
    from rich.table import Table

    # at least as wide as its title, so that a title wraps only past FIT_WIDTH
    table = Table(title=title, title_justify="left", caption=caption, caption_justify="left",
                  min_width=min(cell_len(title or ""), FIT_WIDTH))
    lines = max((c.header.count("\n") for c in columns), default=0)
    for col in columns:  # a header of fewer lines sits at the bottom of the header row
        table.add_column("\n" * (lines - col.header.count("\n")) + col.header, justify="right" if col.right else "left")
    for row in rows:
        table.add_row(*[col.cell(row) for col in columns])
    return table


def fitted_table(title: str | None, variants: Sequence[Sequence[Column]], rows: Sequence, wide: bool):
    """The first of ``variants`` (fullest first) whose table fits :data:`FIT_WIDTH`, or the last.

    With ``wide``, the first variant with its ``wide`` columns too. A default
    table that leaves columns out says so in its caption.
    """
    every = list(variants[0])
    if wide:
        return make_table(title, every, rows)
    table = None
    for columns in variants:
        shown = [c for c in columns if not c.wide]
        caption = WIDE_HINT if len(shown) < len(every) else None
        table = make_table(title, shown, rows, caption)
        if natural_width(table) <= FIT_WIDTH:
            return table
    return table


def width_for(con, wide: bool) -> int | None:
    """The width to print at: the console's with ``--wide``, else at most :data:`FIT_WIDTH`."""
    return None if wide else min(con.width, FIT_WIDTH)


def show(con, renderable, wide: bool = False) -> None:
    """Print a table or a sentence (a sentence as plain text, no markup) at :func:`width_for`."""
    con.print(renderable, markup=False, width=width_for(con, wide))


def _cell(value: Any) -> str:
    from gigawatt.cli.common import cell

    return cell(value)


def run_title(summary: dict) -> str:
    """The scenario's name; the seed only where the run drew random numbers; the samples where several."""
    from gigawatt.cli.common import safe

    title = safe(summary["scenario"])
    samples = (summary.get("samples") or {}).get("n") if isinstance(summary.get("samples"), dict) else None
    seed = f"seed {safe(summary['seed'])}" if summary.get("seed_matters", True) else None
    if samples:
        return f"{title} ({safe(samples)} samples{', ' + seed if seed else ''}; means, dates are medians)"
    return f"{title} ({seed})" if seed else title


def chips_total(row: dict) -> Any:
    """All chips installed at a year's end, over generations."""
    return sum(row["chips"].values())


def year_columns(summary: dict) -> dict[str, Column]:
    """The columns of the yearly table by name; ``chips:<id>`` per generation."""
    years = summary["years"]
    chip_ids = list(years[0].get("chips") or {}) if years else []
    cols = {
        "year": Column("year", lambda r: _cell(r["year"])),
        "it": Column("IT GW", lambda r: fmt.gw(r["it_power_w"])),
        "facility": Column("facility\nGW", lambda r: fmt.gw(r["facility_power_w"]), wide=True),
        **{f"chips:{c}": Column(_cell(c), lambda r, c=c: fmt.chips(r["chips"][c])) for c in chip_ids},
        "chips": Column("chips", lambda r: fmt.chips(chips_total(r))),
        "bf16": Column("BF16\nEFLOP/s", lambda r: fmt.eflops(r["peak_bf16_flops"]), wide=True),
        "fp8": Column("FP8\nEFLOP/s", lambda r: fmt.eflops(r["peak_fp8_flops"]), wide=True),
        "spend": Column("spend\n$B", lambda r: fmt.usd_b(r["spend_usd"])),
        "cum": Column("cum.\n$B", lambda r: fmt.usd_b(r["cumulative_spend_usd"])),
        "twh": Column("TWh", lambda r: fmt.twh(r["energy_j"]), wide=True),
        "served": Column("inf.\nserved", lambda r: fmt.pct(r.get("inference_served_share"))),
        "idle": Column("idle", lambda r: fmt.pct(r.get("idle_share"))),
        "binding": Column("binding", lambda r: _cell(r["binding"])),
    }
    return cols


def years_table(summary: dict, title: str, wide: bool = False):
    """One row per year.

    By default: year, IT GW, chips by generation (their total where the
    generations do not fit), spend and its running total, the share of
    inference served, idle capacity, the binding constraint. ``wide`` adds
    facility GW, BF16 and FP8 EFLOP/s and TWh.
    """
    years = summary["years"]
    has_demand = bool(years) and years[0].get("inference_served_share", "absent") != "absent"
    cols = year_columns(summary)
    gens = [k for k in cols if k.startswith("chips:")]
    tail = ["bf16", "fp8", "spend", "cum", "twh"] + (["served", "idle"] if has_demand else []) + ["binding"]
    by_generation = [cols[k] for k in ["year", "it", "facility", *gens, *tail]]
    by_total = [cols[k] for k in ["year", "it", "facility", "chips", *tail]]
    return fitted_table(title, [by_generation, by_total], years, wide)


def training_runs_table(runs: list[dict], wide: bool = False):
    """One row per training run: its last chip and site, chips, first start, finish, deadline, days late, status.

    By default the site, then the deadline, are left out where the table would not fit.
    """
    def text(key):
        return lambda r: "-" if r.get(key) in (None, "") else _cell(r[key])

    def first(*keys):  # the first key a row has (summaries before first_start/last_chip carry start/chip)
        return lambda r: text(next((k for k in keys if r.get(k) not in (None, "")), keys[-1]))(r)

    def finish_text(r):
        if r.get("finish"):
            return _cell(r["finish"])
        return "not finished" if r.get("status") == "not finished" else "-"

    run = Column("run", text("name"), right=False)
    chip = Column("last\nchip", first("last_chip", "chip"), right=False)
    site = Column("last\nsite", first("last_site", "site"), right=False)
    chips = Column("chips", lambda r: fmt.chips(r["chips"]) if r["chips"] else fmt.MISSING)
    start = Column("first\nstart", first("first_start", "start"), right=False)
    finish = Column("finish", finish_text, right=False)
    deadline = Column("deadline", text("deadline"), right=False)
    late = Column("days\nlate", lambda r: fmt.days(r["delay_days"]))
    status = Column("status", text("status"), right=False)
    full = [run, chip, site, chips, start, finish, deadline, late, status]
    variants = [full, [c for c in full if c is not site], [c for c in full if c not in (site, deadline)]]
    return fitted_table("training runs", variants, runs, wide)


def spread_table(summary: dict):
    """The 10th, 50th and 90th percentiles of the headline figures over a run's samples."""
    from rich.table import Table

    spread = summary["samples"]
    table = Table(title=f"spread over {spread['n']} samples", title_justify="left")
    table.add_column("")
    for col in ("mean", "p10", "p50", "p90"):
        table.add_column(col, justify="right")
    views = [summary, spread["p10"], spread["p50"], spread["p90"]]

    def row(label, get, show):
        cells = []
        for v in views:
            try:
                value = get(v)
            except (KeyError, TypeError, IndexError):
                value = None
            cells.append(show(value))
        table.add_row(_cell(label), *cells)

    row("inference served", lambda v: v["inference"]["served_share"], fmt.pct)
    row("idle capacity", lambda v: v["idle_share"], fmt.pct)
    row("spend over horizon $B", lambda v: v["totals"]["spend_usd"], fmt.usd_b)
    row("implied $ per chip-hour", lambda v: v["implied"]["usd_per_chip_hour"], fmt.per_hour)
    for party in ("lab", "provider"):
        row(f"{party} NPV $B", lambda v, p=party: v["ledger"][p]["npv_usd"], fmt.usd_b)
    for i, run in enumerate(summary.get("training_runs") or []):
        row(f"{run['name']} finish", lambda v, i=i: v["training_runs"][i]["finish"],
            lambda x: _cell(x) if x else "not by horizon")
    return table
