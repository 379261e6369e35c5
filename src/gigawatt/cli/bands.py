"""Tables of uncertain inputs and of a Monte Carlo run's bands: ``check --inputs`` and ``run --samples``.

Figures print as the median with the 10th and 90th percentiles in brackets,
``2.48 [2.10, 2.90]``; each constraint's column is the share of samples in
which it binds that year.
"""

from __future__ import annotations

import math
from typing import Any

from gigawatt.cli import formats as fmt
from gigawatt.cli.tables import Column, _cell, fitted_table

#: what each constraint is called in the table
CONSTRAINT_HEADERS = {"power": "power", "supply": "supply", "commitment": "commit-\nment", "spend_limit": "spend\nlimit",
                      "cap": "cap", "demand": "demand"}


def band(q: dict | None, show, i: int | None = None) -> str:
    """``p50 [p10, p90]`` of one figure (``i``: the year's position in yearly bands)."""
    if not q:
        return "-"

    def get(key):
        v = q.get(key)
        return v[i] if i is not None and v is not None else v

    p10, p50, p90 = (_finite(get(k)) for k in ("p10", "p50", "p90"))
    if p50 is None:
        return "-"
    if p10 == p90:
        return show(p50)
    return f"{show(p50)} [{show(p10)}, {show(p90)}]"


def _finite(v):
    return v if isinstance(v, (int, float)) and math.isfinite(v) else None


def inputs_rows(scn) -> list[dict[str, Any]]:
    """One row per uncertain input of a scenario: path, distribution as written, base, p10 and p90 [SI], reason."""
    from gigawatt.scenario.distributions import ANY

    unc = scn.uncertain
    if unc is None:
        return []
    rows = []
    for u in unc.inputs:
        each = " (drawn sample by sample: each sample that draws it runs on its own)" if u.pattern == ANY else ""
        rows.append({"input": u.path, "distribution": u.describe() + each, "base": u.base, "p10": u.quantile(0.1),
                     "p90": u.quantile(0.9), "is_date": u.is_date, "reason": u.reason})
    for c in unc.correlations:
        rows.append({"input": "correlate: " + ", ".join(c.inputs), "distribution": f"rank {c.rank:g}",
                     "base": None, "p10": None, "p90": None, "is_date": False, "reason": None})
    return rows


def _path_lines(path: str, width: int = 30) -> str:
    """A long input path broken after its dots into lines of at most ``width`` characters where it can be,
    so that a narrow table shows the whole path instead of cutting its end."""
    if len(path) <= width or path.startswith("correlate:"):
        return path
    lines, line = [], ""
    for part in path.replace(".", ".\0").split("\0"):
        if line and len(line) + len(part) > width:
            lines.append(line)
            line = ""
        line += part
    return "\n".join(lines + [line])


def _si(value: Any, is_date: bool) -> str:
    if value is None:
        return ""
    if is_date:
        from gigawatt.units import month_label

        return month_label(int(value))
    return f"{value:.3g}"


def inputs_table(scn, wide: bool = False):
    """``gigawatt check --inputs``: every uncertain input, its range as written and the reason or source given.

    With ``--wide`` also its base, 10th and 90th percentiles in SI units.
    """
    rows = inputs_rows(scn)
    cols = [
        Column("input", lambda r: _cell(r["input"] if wide else _path_lines(r["input"])), right=False),
        Column("range (as written)", lambda r: _cell(r["distribution"]), right=False),
        Column("base (SI)", lambda r: _si(r["base"], r["is_date"]), wide=True),
        Column("p10 (SI)", lambda r: _si(r["p10"], r["is_date"]), wide=True),
        Column("p90 (SI)", lambda r: _si(r["p90"], r["is_date"]), wide=True),
        Column("reason or source", lambda r: _cell(r["reason"] or ""), right=False),
    ]
    return fitted_table(f"{scn.name}: {len(scn.uncertain.inputs)} uncertain inputs", [cols], rows, wide)


def bands_table(summary: dict, wide: bool = False):
    """Per year: IT GW, spend, cumulative spend and inference served as p50 [p10, p90], and who binds how often."""
    unc = summary["uncertainty"]
    years = unc["years"]
    y = unc["yearly"]
    prob = unc["binding_probability"]

    def yr(name, show):
        return lambda i: band(y.get(name), show, i)

    cols = [Column("year", lambda i: str(years[i])),
            Column("IT GW", yr("it_power_w", fmt.gw)),
            Column("spend $B", yr("spend_usd", lambda v: fmt.usd_b(v, 0)), wide=True),
            Column("cum. $B", yr("cumulative_spend_usd", lambda v: fmt.usd_b(v, 0))),
            Column("inference\nserved", yr("inference_served_share", fmt.pct))]
    binds = [Column(CONSTRAINT_HEADERS[c], (lambda i, c=c: fmt.pct(prob[c][i]) if prob[c][i] else "."))
             for c in prob]
    title = (f"{summary.get('scenario', '')}: {unc['n']:,} samples ({unc['sampler']}, seed {unc['seed']}); "
             "p50 \\[p10, p90]; share of samples in which each constraint binds")
    if "inference_served_share" not in y:  # no demand in the scenario
        cols = cols[:4]
        binds = [c for c in binds if c.header != "demand"]
    rows = list(range(len(years)))
    return fitted_table(title, [cols + binds, [cols[0], cols[1], *cols[3:]] + binds,
                                [cols[0], cols[1], *cols[4:]] + binds], rows, wide)


#: the per-sample scalars the run prints, with their labels and formats
SCALARS = (
    ("inference_served_share", "inference served (horizon)", fmt.pct),
    ("spend_usd", "spend over horizon $B", fmt.usd_b),
    ("lab_npv_usd", "lab NPV $B", fmt.usd_b),
    ("provider_npv_usd", "provider NPV $B", fmt.usd_b),
    ("it_power_w_end", "IT GW at the end", fmt.gw),
    ("runs_on_time", "training runs on time", lambda v: f"{v:.0f}"),
    ("runs_finished", "training runs finished", lambda v: f"{v:.0f}"),
)


def scalars_table(summary: dict):
    """The headline figures over the samples: p10, p50, p90."""
    from rich.table import Table

    unc = summary["uncertainty"]
    table = Table(title=f"over {unc['n']:,} draws of {len(unc['inputs'])} uncertain inputs", title_justify="left")
    table.add_column("")
    for col in ("p10", "p50", "p90"):
        table.add_column(col, justify="right")
    for key, label, show in SCALARS:
        q = unc["scalars"].get(key)
        if q is None or _finite(q.get("p50")) is None:
            continue
        table.add_row(_cell(label), *[show(q[p]) if _finite(q.get(p)) is not None else "-" for p in ("p10", "p50", "p90")])
    first = unc["scalars"].get("commitment_first_binds_year")
    if first:
        table.add_row("commitment first binds", *[f"{_finite(q):.0f}" if _finite(q) is not None else "never"
                                                   for q in (first.get("p10"), first.get("p50"), first.get("p90"))])
    return table
