"""Tables of a run's summary that several commands print (run, compare, runs show)."""

from __future__ import annotations

from gigawatt.cli import formats as fmt


def run_title(summary: dict) -> str:
    """The scenario's name; the seed only where the run drew random numbers; the samples where several."""
    from gigawatt.cli.common import safe

    title = safe(summary["scenario"])
    samples = (summary.get("samples") or {}).get("n") if isinstance(summary.get("samples"), dict) else None
    seed = f"seed {safe(summary['seed'])}" if summary.get("seed_matters", True) else None
    if samples:
        return f"{title} ({safe(samples)} samples{', ' + seed if seed else ''}; means, dates are medians)"
    return f"{title} ({seed})" if seed else title


def years_table(summary: dict, title: str):
    """One row per year: power, chips by generation, FLOP/s, spend, energy, served share, idle, binding."""
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
            fmt.gw(row["it_power_w"]),
            fmt.gw(row["facility_power_w"]),
            *[fmt.chips(row["chips"][c]) for c in chip_ids],
            fmt.eflops(row["peak_bf16_flops"]),
            fmt.eflops(row["peak_fp8_flops"]),
            fmt.usd_b(row["spend_usd"]),
            fmt.usd_b(row["cumulative_spend_usd"]),
            fmt.twh(row["energy_j"]),
        ]
        if has_demand:
            cells += [fmt.pct(row.get("inference_served_share")), fmt.pct(row.get("idle_share"))]
        table.add_row(*cells, row["binding"])
    return table


def training_runs_table(runs: list[dict]):
    """One row per training run: chip, site, chips, start, finish, deadline, days late, status."""
    from rich.table import Table

    table = Table(title="training runs", title_justify="left")
    for col in ["run", "chip", "site", "chips", "start", "finish", "deadline", "late (days)", "status"]:
        table.add_column(col, justify="right" if col in ("chips", "late (days)") else "left")
    for r in runs:
        table.add_row(r["name"], r["chip"] or "-", r["site"] or "-", fmt.chips(r["chips"]) if r["chips"] else "-",
                      r["start"] or "-", r["finish"] or "-", r["deadline"] or "-",
                      "-" if r["delay_days"] is None else f"{r['delay_days']:.0f}", r["status"])
    return table


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
        table.add_row(label, *cells)

    row("inference served", lambda v: v["inference"]["served_share"], fmt.pct)
    row("idle capacity", lambda v: v["idle_share"], fmt.pct)
    row("spend over horizon $B", lambda v: v["totals"]["spend_usd"], fmt.usd_b)
    row("implied $ per chip-hour", lambda v: v["implied"]["usd_per_chip_hour"], fmt.per_hour)
    for party in ("lab", "provider"):
        row(f"{party} NPV $B", lambda v, p=party: v["ledger"][p]["npv_usd"], fmt.usd_b)
    for i, run in enumerate(summary.get("training_runs") or []):
        row(f"{run['name']} finish", lambda v, i=i: v["training_runs"][i]["finish"],
            lambda x: x or "not by horizon")
    return table
