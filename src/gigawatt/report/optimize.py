"""The optimizer's report: the least-cost plan against the scenario's own buildout, and what would loosen it.

``write_optimize_html(result, path)`` writes one self-contained HTML file (Plotly's
JavaScript embedded, as the run report) for a :class:`gigawatt.optimize.results.OptimizeResult`:

- the plan: IT power installed by chip generation, period by period, with the scenario's
  heuristic buildout beside it when the plan was simulated;
- what would loosen it: the table of binding limits, then their shadow prices over time:
  energized power by site and the capacity cap [$ per MW-month], the spend limit [$ per $],
  supply by generation and year [$ per chip], and each site's power one month earlier [$].

Shadow prices are present values at the horizon's start, as the optimizer reports them.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np

from gigawatt.report.charts import _LAYOUT, GW, Section

__all__ = ["optimize_sections", "render_optimize_html", "write_optimize_html"]


def _figure(title: str, ytitle: str):
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.update_layout(title=title, yaxis_title=ytitle, **_LAYOUT)
    return fig


def plan_section(result) -> Section:
    """IT power installed at each period's end by generation [GW], and the heuristic's total."""
    import plotly.graph_objects as go

    d = result.data
    fig = _figure("IT power installed: the optimal plan by generation", "GW (IT)")
    it = result.installed.sum(axis=1) * d.it_w_per_chip[None, :] / GW  # (period, chip)
    for j, chip in enumerate(d.chips):
        if np.any(it[:, j] > 0):
            fig.add_trace(go.Scatter(x=d.labels, y=it[:, j], name=f"plan: {chip}", stackgroup="plan", mode="lines"))
    note = "The plan's chips are continuous (the LP relaxation)."
    heuristic = getattr(result.comparison, "heuristic_run", None) if result.comparison is not None else None
    if heuristic is not None:
        fleet = heuristic[0]
        monthly = (fleet.installed.mean(axis=0) * fleet.it_w_per_chip[None, None, :]).sum(axis=(1, 2)) / GW
        last = [int(np.asarray(m)[-1]) for m in d.months]
        fig.add_trace(go.Scatter(x=d.labels, y=monthly[last], name="scenario's heuristic buildout (total)",
                                 mode="lines", line=dict(color="#333", dash="dash")))
        note += " The dashed line is the scenario's own buildout, as the simulator builds it."
    return Section("plan", "The plan", fig, note)


def _by_period(rows: list[dict], labels: list, key: str | None) -> dict:
    """{name: values per period label (NaN where the limit does not bind)} of shadow-price rows."""
    out: dict = {}
    index = {label: i for i, label in enumerate(labels)}
    for row in rows:
        name = row.get(key) if key else "deal"
        series = out.setdefault(name, np.full(len(labels), np.nan))
        series[index[row["period"]]] = row["value"]
    return out


def power_section(result) -> Section:
    """Shadow price of energized power by site, and of the capacity cap, by period [$ per MW-month]."""
    import plotly.graph_objects as go

    d = result.data
    power = [r for r in result.shadow if r["constraint"] == "power"]
    cap = [r for r in result.shadow if r["constraint"] == "cap"]
    if not power and not cap:
        return Section("power-value", "What one more MW is worth", None,
                       "Neither a site's energized power nor the capacity cap binds in the plan.")
    fig = _figure("Shadow price of power (present value)", "$M per MW-month")
    for site, values in _by_period(power, d.labels, "site").items():
        fig.add_trace(go.Scatter(x=d.labels, y=values / 1e6, name=f"power at {site}", mode="lines+markers"))
    for _, values in _by_period(cap, d.labels, None).items():
        fig.add_trace(go.Scatter(x=d.labels, y=values / 1e6, name="capacity cap", mode="lines+markers",
                                 line=dict(color="#1f77b4", width=3)))
    return Section("power-value", "What one more MW is worth", fig,
                   "One more MW of energized IT power at a site (or of the deal's capacity cap) for one month, "
                   "in the periods where it binds; gaps are periods where it does not.")


def money_section(result) -> Section:
    """Shadow price of the spend limit by period [$ per $]."""
    import plotly.graph_objects as go

    d = result.data
    rows = [r for r in result.shadow if r["constraint"] == "spend_limit"]
    if not rows:
        return Section("money-value", "What one more dollar of budget is worth", None,
                       "The yearly spend limit does not bind in the plan.")
    fig = _figure("Shadow price of the spend limit (present value)", "$ per $ of limit")
    for _, values in _by_period(rows, d.labels, None).items():
        fig.add_trace(go.Bar(x=d.labels, y=values, name="spend limit", marker_color="#2ca02c"))
    return Section("money-value", "What one more dollar of budget is worth", fig,
                   "Lowering the buyer's cost by more than a dollar per dollar of limit means the limit "
                   "holds back capacity worth more than it costs.")


def supply_section(result) -> Section:
    """Shadow price of supply by generation and year [$ per chip]."""
    import plotly.graph_objects as go

    rows = [r for r in result.shadow if r["constraint"] == "supply"]
    if not rows:
        return Section("supply-value", "What one more chip of supply is worth", None,
                       "No generation's yearly supply binds in the plan.")
    fig = _figure("Shadow price of supply (present value)", "$ per chip")
    for chip in dict.fromkeys(r["chip"] for r in rows):
        mine = [r for r in rows if r["chip"] == chip]
        fig.add_trace(go.Bar(x=[str(r["year"]) for r in mine], y=[r["value"] for r in mine], name=chip))
    fig.update_layout(xaxis_title="year of supply", barmode="group")
    return Section("supply-value", "What one more chip of supply is worth", fig,
                   "One more chip of a generation's supply in a calendar year.")


def lead_time_section(result) -> Section:
    """Value of one month more lead time [$M]: each site's power one month earlier, each generation's roadmap window."""
    import plotly.graph_objects as go

    lead = [r for r in result.lead_time if (r.get("value_usd") or 0) > 0]
    if not lead:
        return Section("lead-time-value", "What one month earlier is worth", None,
                       "Neither a site's power nor a generation's roadmap window one month earlier would lower the cost.")
    fig = _figure("Value of one month more lead time (present value)", "$M")
    sites = [r for r in lead if "site" in r]
    chips = [r for r in lead if "chip" in r]
    if sites:
        fig.add_trace(go.Bar(x=[f"{r['site']} power" for r in sites], y=[r["value_usd"] / 1e6 for r in sites],
                             name="a site's power", marker_color="#8c564b"))
    if chips:
        fig.add_trace(go.Bar(x=[f"{r['chip']} window" for r in chips], y=[r["value_usd"] / 1e6 for r in chips],
                             name="a generation's roadmap window", marker_color="#17becf"))
    return Section("lead-time-value", "What one month earlier is worth", fig,
                   "A site: its whole energized-power ramp moved one month earlier, to first order (the shadow price "
                   "of its power times the power it gains). A generation: its roadmap window opening one month "
                   "earlier, by a re-solve with the chip allowed a period earlier (its year's supply raised by the "
                   "months gained), the cost's fall divided by the period's months; with --relaxation milp the runs "
                   "stay on the pools the plan gave them.")


def optimize_sections(result) -> list[Section]:
    """Every section of the optimizer's report, in order."""
    return [plan_section(result), power_section(result), money_section(result), supply_section(result),
            lead_time_section(result)]


def _loosen_rows(result) -> list[tuple[str, ...]]:
    rows = []
    for r in result.loosen:
        unit = {"USD/MW-month": "$ per MW-month", "USD/chip": "$ per chip", "USD/USD": "$ per $",
                "USD/month": "$ per month"}.get(r["unit"], r["unit"])
        rows.append((r["what"], r["binds"] or "-", f"{r['mean_value']:,.2f} {unit}", f"${r['value_usd']:,.0f}"))
    return rows


def render_optimize_html(result) -> str:
    """The optimizer's report as one HTML string with Plotly's JavaScript embedded."""
    from plotly.offline import get_plotlyjs

    from gigawatt import __version__
    from gigawatt.report import _CSS, PLOTLY_CONFIG

    esc = html.escape
    d = result.data
    c = result.costs
    title = f"gigawatt optimize: {d.inputs.name} ({d.view}'s view, by {d.period})"
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">', f"<title>{esc(title)}</title>",
             f"<style>{_CSS}</style>", f'<script type="text/javascript">{get_plotlyjs()}</script>', "</head><body>",
             f"<h1>{esc(title)}</h1>", '<table class="summary">']
    summary = [("relaxation", "LP: systems are continuous"),
               ("objective, present value", f"${result.objective_usd / 1e9:,.1f}B"),
               ("contract spend, present value", f"${c['contract_usd'] / 1e9:,.1f}B"),
               ("unmet inference, priced", f"${c['unmet_inference_usd'] / 1e9:,.1f}B"),
               ("late training, priced", f"${c['late_training_usd'] / 1e9:,.1f}B"),
               ("inference served", f"{100 * result.served_total_share():.1f}%"),
               ("GW-years of IT", f"{result.gw_years():,.1f}")]
    for label, value in summary:
        parts.append(f"<tr><td>{esc(label)}</td><td>{esc(value)}</td></tr>")
    parts.append("</table>")
    if result.loosen:
        parts.append("<h2>What would loosen it</h2>")
        parts.append('<table class="summary"><tr><td>one more</td><td>binds in</td><td>shadow price (mean)</td>'
                     "<td>worth where it binds</td></tr>")
        for row in _loosen_rows(result):
            parts.append("<tr>" + "".join(f"<td>{esc(v)}</td>" for v in row) + "</tr>")
        parts.append("</table>")
    for sec in optimize_sections(result):
        parts.append(f'<section id="section-{sec.key}"><h2>{esc(sec.title)}</h2>')
        if sec.figure is None:
            parts.append(f'<p class="note missing">{esc(sec.note)}</p>')
        else:
            parts.append(f'<p class="note">{esc(sec.note)}</p>')
            parts.append(sec.figure.to_html(full_html=False, include_plotlyjs=False, div_id=f"chart-{sec.key}",
                                            config=PLOTLY_CONFIG))
        parts.append("</section>")
    notes = list(d.notes)
    if notes:
        parts.append('<ul class="notes">' + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul>")
    parts.append(f"<footer>gigawatt {esc(__version__)}; dollar figures are present values at the horizon's start."
                 "</footer></body></html>")
    return "\n".join(parts)


def write_optimize_html(result, path: str | Path) -> Path:
    """Write the optimizer's report as one self-contained HTML file (replaced whole, never half-written)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(render_optimize_html(result), encoding="utf-8")
    tmp.replace(path)
    return path
