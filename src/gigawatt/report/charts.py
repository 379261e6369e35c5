"""The report's sections: one Plotly figure each, drawn only from data the run has.

Each builder takes a :class:`gigawatt.results.Results` and returns a
:class:`Section`. A builder whose variables are missing from the dataset (a
scenario with no demand has no ``power_drawn_w``, no inference tokens and no
training runs) returns a section with ``figure=None`` and a ``note`` saying
what is missing, so the report never shows an empty chart.

Values are SI in the dataset; this module is where they become GW, $B, TWh
and trillion tokens per day.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from gigawatt.units import months_in

GW = 1e9
USD_B = 1e9
J_PER_TWH = 3.6e15
BINDING_COLORS = {"none": "#9aa5b1", "power": "#d62728", "supply": "#ff7f0e", "spend_limit": "#2ca02c",
                  "money": "#2ca02c", "cap": "#1f77b4", "cpu": "#8c564b"}  # money: the spend limit in runs stored earlier
_LAYOUT = dict(template="plotly_white", height=420, margin=dict(l=70, r=30, t=60, b=50),
               legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1.0),
               hovermode="x unified")


@dataclass
class Section:
    """One part of the report.

    Attributes
    ----------
    key : str
        Short id; the chart's div is ``chart-<key>`` and its PNG ``<key>.png``.
    title : str
        Heading.
    figure : plotly.graph_objects.Figure or None
        The chart, or None when the run lacks the data for it.
    note : str
        Text under the heading: what the chart shows, or why there is none.
    """

    key: str
    title: str
    figure: Any
    note: str = ""


def _sample0(ds, name: str, keep: tuple[str, ...] = ("period",)) -> np.ndarray:
    """Variable ``name``, its mean over samples, summed over every dimension not in ``keep``."""
    da = ds[name]
    if "sample" in da.dims:
        da = da.mean("sample")
    drop = [d for d in da.dims if d not in keep]
    if drop:
        da = da.sum(dim=drop)
    return da.transpose(*[d for d in keep if d in da.dims]).values


def _finite(value) -> bool:
    """True for a real, finite number (not None, not a bool, not NaN or infinite)."""
    return isinstance(value, (int, float, np.number)) and not isinstance(value, bool) and bool(np.isfinite(value))


def _periods(ds) -> np.ndarray:
    return ds["period"].values.astype("datetime64[D]")


def _have(ds, *names: str) -> list[str]:
    return [n for n in names if n not in ds.data_vars]


def _figure(title: str, ytitle: str):
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.update_layout(title=dict(text=title, x=0.01), yaxis_title=ytitle, **_LAYOUT)
    return fig


def capacity_section(results) -> Section:
    """Stacked area of installed IT power by chip generation [GW], with the deal's cap."""
    import plotly.graph_objects as go

    ds = results.dataset
    key, title = "capacity", "Capacity by chip generation"
    missing = _have(ds, "it_power_w")
    if missing:
        return Section(key, title, None, f"Not drawn: the run has no {', '.join(missing)}.")
    t = _periods(ds)
    it_w = _sample0(ds, "it_power_w", ("period", "chip"))
    chips = _sample0(ds, "installed", ("period", "chip")) if "installed" in ds else None
    fig = _figure("Installed IT power by chip generation (stacked)", "IT power at full load [GW]")
    for j, chip in enumerate(ds["chip"].values):
        custom = chips[:, j] / 1e3 if chips is not None else None
        fig.add_trace(go.Scatter(
            x=t, y=it_w[:, j] / GW, name=str(chip), stackgroup="it", mode="lines", line=dict(width=0.5),
            customdata=custom,
            hovertemplate="%{y:.2f} GW" + (" (%{customdata:,.0f}k chips)" if custom is not None else "") + "<extra>%{fullData.name}</extra>",
        ))
    cap = ds.attrs.get("capacity_cap_w")
    if _finite(cap) and ds.attrs.get("capacity_basis", "it") == "it":
        fig.add_hline(y=cap / GW, line_dash="dash", line_color="black",
                      annotation_text=f"deal cap {cap / GW:.1f} GW", annotation_position="top left")
    fig.update_xaxes(title_text="date")
    return Section(key, title, fig, "Installed IT power at full load, all sites, by chip generation; hover for chip counts.")


def usage_section(results) -> Section:
    """Stacked area of installed chips by use: serving inference, training, idle [chips]."""
    import plotly.graph_objects as go

    ds = results.dataset
    key, title = "usage", "Chips by use: inference, training, idle"
    missing = _have(ds, "allocated", "installed")
    if missing:
        return Section(key, title, None,
                       "Not drawn: this run has no demand (the dataset has no "
                       f"{' or '.join(missing)}; add a demand section to the scenario).")
    t = _periods(ds)
    runs = {str(e.get("name")) for e in (results.events or [])}
    names = [str(w) for w in ds["workload"].values]
    allocated = ds["allocated"].mean("sample").sum(("site", "chip")).transpose("period", "workload").values
    training = allocated[:, [i for i, n in enumerate(names) if n in runs]].sum(axis=1)
    inference = allocated[:, [i for i, n in enumerate(names) if n not in runs]].sum(axis=1)
    installed = _sample0(ds, "installed")
    idle = np.maximum(installed - training - inference, 0.0)
    fig = _figure("Installed chips by use (stacked)", "chips [thousands]")
    for name, values, color in (("inference", inference, "#9467bd"), ("training", training, "#2ca02c"),
                                ("idle", idle, "#c7c7c7")):
        fig.add_trace(go.Scatter(x=t, y=values / 1e3, name=name, stackgroup="use", mode="lines",
                                 line=dict(width=0.5, color=color), hovertemplate="%{y:,.0f}k chips"))
    fig.update_xaxes(title_text="date")
    share = float(training.sum() / installed.sum()) if installed.sum() > 0 else float("nan")
    note = ("Chips allocated to the inference streams and to the training runs each month, and those left idle "
            f"(all sites and generations). Over the horizon training held {100 * share:.0f}% of the chip-months.")
    return Section(key, title, fig, note)


def power_section(results) -> Section:
    """Power drawn against energized and installed IT power [GW]."""
    import plotly.graph_objects as go

    ds = results.dataset
    key, title = "power", "Power drawn against energized power"
    missing = _have(ds, "energized_it_w", "it_power_w")
    if missing:
        return Section(key, title, None, f"Not drawn: the run has no {', '.join(missing)}.")
    t = _periods(ds)
    drawn = "power_drawn_w" in ds
    fig = _figure("Power: energized, installed" + (" and drawn" if drawn else ""), "IT power [GW]")
    fig.add_trace(go.Scatter(x=t, y=_sample0(ds, "energized_it_w") / GW, name="energized (sites online)",
                             line=dict(color="black", dash="dash"), hovertemplate="%{y:.2f} GW"))
    fig.add_trace(go.Scatter(x=t, y=_sample0(ds, "it_power_w") / GW, name="installed at full load",
                             line=dict(color="#1f77b4"), hovertemplate="%{y:.2f} GW"))
    note = "IT power of all sites: energized by the utility, installed (chips at full load) and drawn."
    if drawn:
        fig.add_trace(go.Scatter(x=t, y=_sample0(ds, "power_drawn_w") / GW, name="drawn (at utilization)",
                                 line=dict(color="#d62728"), hovertemplate="%{y:.2f} GW"))
        if "energy_drawn_j" in ds:
            note += f" Energy drawn over the horizon: {_sample0(ds, 'energy_drawn_j').sum() / J_PER_TWH:,.1f} TWh."
    else:
        note += (" Power drawn is not in this run (no demand in the scenario, so no utilization): "
                 "the chart shows energized against installed power only.")
    fig.update_xaxes(title_text="date")
    return Section(key, title, fig, note)


def spend_section(results) -> Section:
    """Cumulative spend against the commitment [$B], the commitment's term shaded."""
    import plotly.graph_objects as go

    ds = results.dataset
    key, title = "spend", "Spend against the commitment"
    missing = _have(ds, "spend_usd")
    if missing:
        return Section(key, title, None, f"Not drawn: the run has no {', '.join(missing)}.")
    t = _periods(ds)
    cum = np.cumsum(_sample0(ds, "spend_usd")) / USD_B
    fig = _figure("Cumulative spend against the commitment", "cumulative spend [$B]")
    fig.add_trace(go.Scatter(x=t, y=cum, name="cumulative spend", line=dict(color="#2ca02c", width=3),
                             hovertemplate="$%{y:,.1f}B"))
    commitment = ((results.summary_dict or {}).get("totals") or {}).get("commitment_usd")
    note = "Buyer's spend at the contract prices, summed from the horizon's start."
    if _finite(commitment) and commitment:
        fig.add_hline(y=commitment / USD_B, line_dash="dash", line_color="black",
                      annotation_text=f"commitment ${commitment / USD_B:,.0f}B", annotation_position="top left")
    c = ((results.resolved or {}).get("deal") or {}).get("commitment") or {}
    if c.get("start") and _finite(c.get("term_s")) and c["term_s"] > 0:
        start = np.datetime64(c["start"], "M")
        end = start + np.timedelta64(months_in(c["term_s"]), "M")
        in_term = (t >= start.astype("datetime64[D]")) & (t < end.astype("datetime64[D]"))
        if in_term.any() and not in_term.all():
            term_cum = np.where(in_term, np.cumsum(np.where(in_term, _sample0(ds, "spend_usd"), 0.0)), np.nan) / USD_B
            fig.add_trace(go.Scatter(x=t, y=term_cum, name="cumulative spend in the commitment term",
                                     line=dict(color="#2ca02c", dash="dot"), hovertemplate="$%{y:,.1f}B"))
        x1 = min(end.astype("datetime64[D]"), t[-1])
        fig.add_vrect(x0=str(start.astype("datetime64[D]")), x1=str(x1), fillcolor="#2ca02c", opacity=0.07,
                      line_width=0, annotation_text="commitment term", annotation_position="top right")
        note += f" Shaded: the commitment's term, {c['start']} to {str(end)}."
    fig.update_yaxes(tickprefix="$", ticksuffix="B")
    fig.update_xaxes(title_text="date", range=[str(t[0]), str(t[-1])])
    return Section(key, title, fig, note)


def inference_section(results) -> Section:
    """Inference tokens demanded against served, per day [trillion tokens/day]."""
    import plotly.graph_objects as go

    ds = results.dataset
    key, title = "inference", "Inference demand against served"
    missing = _have(ds, "inference_demand_tokens", "inference_served_tokens")
    if missing:
        return Section(key, title, None,
                       "Not drawn: this run has no inference demand (the dataset has no "
                       f"{' or '.join(missing)}; add demand.inference to the scenario).")
    t = _periods(ds)
    days = ds["period_s"].values / 86400.0 if "period_s" in ds else np.full(len(t), 30.4375)
    demand = _sample0(ds, "inference_demand_tokens") / days / 1e12
    served = _sample0(ds, "inference_served_tokens") / days / 1e12
    fig = _figure("Inference tokens: demanded and served", "tokens per day [trillions]")
    fig.add_trace(go.Scatter(x=t, y=demand, name="demanded", line=dict(color="black", dash="dash"),
                             hovertemplate="%{y:,.2f}T/day"))
    fig.add_trace(go.Scatter(x=t, y=served, name="served within targets", line=dict(color="#9467bd", width=3),
                             fill="tozeroy", hovertemplate="%{y:,.2f}T/day"))
    total_d, total_s = float(np.nansum(demand * days)), float(np.nansum(served * days))
    share = total_s / total_d if total_d > 0 else float("nan")
    fig.update_xaxes(title_text="date")
    note = (f"All inference streams, per day (monthly averages). Over the horizon {100 * share:.1f}% of the "
            "tokens demanded were served within their targets.")
    positive = demand[demand > 0]
    if positive.size and positive.max() / positive.min() > 100:  # years of fast growth: a log axis keeps the start visible
        fig.update_yaxes(type="log")
        fig.update_traces(fill=None)
        note += " Logarithmic scale: demand grows by more than 100x over the horizon."
    return Section(key, title, fig, note)


def training_section(results) -> Section:
    """Gantt chart of the training runs from ``results.events``, deadlines marked."""
    import pandas as pd
    import plotly.express as px
    import plotly.graph_objects as go

    key, title = "training", "Training runs"
    events = list(results.events or [])
    if not events:
        return Section(key, title, None,
                       "Not drawn: this run has no training runs (no demand.training in the scenario).")
    ds = results.dataset
    if "period" not in ds.coords or not ds.sizes.get("period"):
        return Section(key, title, None, "Not drawn: the run has no periods to place its training runs in.")
    horizon_end = str((ds["period"].values[-1].astype("datetime64[M]") + np.timedelta64(1, "M")).astype("datetime64[D]"))
    rows, never = [], []
    for ev in events:
        if not ev.get("start"):
            never.append(str(ev.get("name")))
            continue
        finish = ev.get("finish") or horizon_end
        chips = ev.get("chips")
        rows.append({"run": str(ev.get("name")), "start": str(ev["start"]), "finish": str(finish),
                     "chip": str(ev.get("chip") or "?"), "status": str(ev.get("status") or ""),
                     "chips": f"{chips:,.0f}" if isinstance(chips, (int, float)) else "?",
                     "site": str(ev.get("site") or ""), "delay_days": ev.get("delay_days"),
                     "finished": bool(ev.get("finish"))})
    if not rows:
        return Section(key, title, None, f"Not drawn: no training run started in the horizon ({', '.join(never)}).")
    frame = pd.DataFrame(rows)
    frame["label"] = [_run_label(r) for r in rows]
    frame["state"] = ["finished" if r["finished"] else "not finished in the horizon" for r in rows]
    fig = px.timeline(frame, x_start="start", x_end="finish", y="run", color="chip", text="label",
                      pattern_shape="state", pattern_shape_map={"finished": "", "not finished in the horizon": "/"},
                      hover_data={"chips": True, "site": True, "status": True, "delay_days": True, "label": False,
                                  "state": False})
    fig.update_traces(textposition="inside", insidetextanchor="start")
    fig.update_yaxes(autorange="reversed", title_text="training run")
    deadlines = [(str(ev.get("name")), str(ev["deadline"])) for ev in events if ev.get("deadline") and ev.get("start")]
    if deadlines:
        fig.add_trace(go.Scatter(x=[d for _, d in deadlines], y=[n for n, _ in deadlines], mode="markers",
                                 name="deadline", marker=dict(symbol="line-ns-open", size=18, color="black",
                                                              line=dict(width=3)),
                                 hovertemplate="deadline %{x}<extra>%{y}</extra>"))
    fig.update_layout(title=dict(text="Training runs: start to finish, by chip generation", x=0.01),
                      **{k: v for k, v in _LAYOUT.items() if k not in ("hovermode",)})
    fig.update_layout(height=max(300, 120 + 40 * len(rows)))
    horizon_start = str(ds["period"].values[0].astype("datetime64[D]"))
    fig.update_xaxes(title_text="date", range=[horizon_start, horizon_end])
    note = ("Each bar runs from start to finish on the chip generation it trained on last; black ticks are "
            "deadlines; hatched bars did not finish within the horizon.")
    open_runs = [r["run"] for r in rows if not r["finished"]]
    if open_runs:
        note += f" Not finished within the horizon (bar runs to its end): {', '.join(open_runs)}."
    if never:
        note += f" Never started: {', '.join(never)}."
    histories = [line for run in (results.summary_dict or {}).get("training_runs") or [] for line in _history_lines(run)]
    if histories:
        note += " Histories: " + " ".join(histories)
    return Section(key, title, fig, note)


def _history_lines(run: dict) -> list[str]:
    """Sentences on where a run trained (chips, share of the day, MFU, goodput) and why it paused."""
    history = run.get("history") if isinstance(run, dict) else None
    if not isinstance(history, dict):
        return []
    parts = []
    for p in history.get("placements") or []:
        try:
            text = (f"{p['chip']} at {p['site']} from {p['from']} to {p['to']}: on average {p['mean_chips']:,.0f} "
                    f"of {p['chips']:,.0f} chips for {100 * p['day_share']:.0f}% of each day")
            if _finite(p.get("mfu")):
                of = "of the BF16 peak" if p.get("mfu_of") == "bf16_peak" else "in its layout"
                text += f", MFU {100 * p['mfu']:.0f}% ({of})"
            if _finite(p.get("goodput")):
                text += f", goodput {100 * p['goodput']:.0f}%"
        except (KeyError, TypeError, ValueError):
            continue
        parts.append(text)
    for pause in history.get("pauses") or []:
        if isinstance(pause, dict) and pause.get("from"):
            parts.append(f"paused {pause.get('from')} to {pause.get('to') or 'the horizon'}"
                         f" ({pause.get('why') or pause.get('reason') or 'no reason recorded'})")
    return [f"{run.get('name')}: " + "; ".join(parts) + "."] if parts else []


def _run_label(row: dict) -> str:
    """Text on a training run's bar: chips, lateness, or why the bar runs to the horizon's end."""
    text = f"{row['chips']} chips"
    delay = row.get("delay_days")
    if row["finished"]:
        return text + (f", {delay:,.0f} days late" if isinstance(delay, (int, float)) and delay > 0 else "")
    return text + f", {row['status'] or 'unfinished'}: not finished by the horizon's end"


def binding_section(results) -> Section:
    """Months per year that each constraint bound, stacked, with the year's verdict."""
    import plotly.graph_objects as go

    ds = results.dataset
    key, title = "binding", "Binding constraint per year"
    if "binding" not in ds or "period" not in ds.coords:
        years = (results.summary_dict or {}).get("years") or []
        by_year = ", ".join(f"{r.get('year')}: {r.get('binding')}" for r in years if r.get("binding"))
        return Section(key, title, None, "Not drawn: the run has no monthly binding-constraint data"
                       + (f"; the year's binding constraint: {by_year}." if by_year else "."))
    t = _periods(ds)
    codes = ds["binding"].isel(sample=0).values.astype(str) if "sample" in ds["binding"].dims else ds["binding"].values.astype(str)
    year_of = t.astype("datetime64[Y]").astype(int) + 1970
    years = np.unique(year_of)
    verdict = {r["year"]: r.get("binding") for r in (results.summary_dict or {}).get("years", [])}
    fig = _figure("Binding constraint: months per year", "months")
    cats = [c for c in BINDING_COLORS if c in set(codes)] + sorted(set(codes) - set(BINDING_COLORS))
    for cat in cats:
        counts = [int(((year_of == y) & (codes == cat)).sum()) for y in years]
        fig.add_trace(go.Bar(x=years, y=counts, name=cat, marker_color=BINDING_COLORS.get(cat),
                             hovertemplate="%{y} months<extra>" + cat + "</extra>"))
    fig.update_layout(barmode="stack", hovermode="x")
    for y in years:
        if verdict.get(int(y)):
            fig.add_annotation(x=y, y=12, text=f"<b>{verdict[int(y)]}</b>", showarrow=False, yshift=10)
    fig.update_xaxes(title_text="year", dtick=1)
    fig.update_yaxes(range=[0, 13.5], dtick=3)
    return Section(key, title, fig, "Which limit stopped growth in each month (power, chip supply, money, the "
                                    "deal's cap, the power held for the agent tools' CPUs, or none); the label above "
                                    "each bar is the year's binding constraint.")


_FLOW_LABELS = {
    "investment_usd": "investment", "spend_usd": "cloud spend", "shortfall_usd": "take-or-pay shortfall",
    "capex_chips_usd": "chips and servers", "capex_datacenter_usd": "datacenter build", "power_usd": "power",
    "opex_usd": "operations and maintenance", "residual_usd": "book value at the end",
}


def cash_flow_section(results, ledger=None) -> Section:
    """Cash flow per party, from the deal ledger: one panel per party.

    Parameters
    ----------
    results : gigawatt.results.Results
        With ``cash_flow_lines_usd`` (sample, period, party, flow) in its
        dataset, each panel stacks the party's yearly flows by ledger line [$B]
        and draws its cumulative net flow.
    ledger : pandas.DataFrame, optional
        Tidy rows with columns ``period``, ``party`` and ``cash_flow_usd``
        (signed [USD], positive = money in), used when the dataset has no lines:
        then each panel shows the yearly net flow. When neither is there, the
        section says the ledger is not available.

    Returns
    -------
    Section
    """
    import pandas as pd
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    key, title = "cash_flow", "Cash flow per party"
    ds = results.dataset
    if "cash_flow_lines_usd" in ds:
        da = ds["cash_flow_lines_usd"].mean("sample")
        frame = da.to_dataframe().reset_index()
        frame = frame.rename(columns={"cash_flow_lines_usd": "usd"})
    elif ledger is not None and len(ledger):
        frame = ledger.rename(columns={"cash_flow_usd": "usd"}).assign(flow="net_usd")
    else:
        return Section(key, title, None, "Not drawn: no deal ledger was given for this run.")
    frame["year"] = pd.to_datetime(frame["period"]).dt.year
    parties = list(dict.fromkeys(frame["party"]))
    fig = make_subplots(rows=len(parties), cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=[f"{party}: cash flow by year, and cumulative net" for party in parties])
    palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#17becf"]
    colors = {flow: palette[i % len(palette)] for i, flow in enumerate(dict.fromkeys(frame["flow"]))}
    shown: set = set()
    for row, party in enumerate(parties, start=1):
        rows = frame[frame["party"] == party]
        yearly = rows.groupby(["year", "flow"], sort=False)["usd"].sum().unstack("flow").fillna(0.0)
        for flow in yearly.columns:
            if not np.any(np.abs(yearly[flow].values) > 1.0):
                continue
            fig.add_trace(go.Bar(x=yearly.index, y=yearly[flow].values / USD_B, name=_FLOW_LABELS.get(flow, flow),
                                 marker_color=colors[flow], legendgroup=flow, showlegend=flow not in shown,
                                 hovertemplate="%{x}: $%{y:,.1f}B"), row=row, col=1)
            shown.add(flow)
        net = yearly.sum(axis=1).cumsum()
        fig.add_trace(go.Scatter(x=net.index, y=net.values / USD_B, name=f"{party}: cumulative net",
                                 mode="lines+markers", line=dict(color="black", width=2),
                                 hovertemplate="%{x}: $%{y:,.1f}B"), row=row, col=1)
        fig.update_yaxes(title_text="$B", row=row, col=1)
    layout = dict(_LAYOUT)
    layout["height"] = 380 * len(parties)
    layout["legend"] = dict(orientation="v", yanchor="top", y=1.0, xanchor="left", x=1.01)
    layout["margin"] = dict(l=70, r=230, t=80, b=50)
    fig.update_layout(barmode="relative", title=dict(text="Cash flow per party", x=0.01), **layout)
    fig.update_xaxes(title_text="year", row=len(parties), col=1)
    return Section(key, title, fig, "Money in (positive) and out (negative) of each party per year, by line of "
                   "the deal ledger, and the running net; see `gigawatt ledger` for the table, NPV and IRR.")


def agents_section(results) -> Section:
    """Agent tasks served a day (and within their latency targets) and the tool CPUs, per year."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    key, title = "agents", "Agent tasks and their tool CPUs"
    summary = results.summary()
    hosts = summary.get("tool_hosts")
    years = [y for y in summary.get("years", []) if "agent_tasks_per_day" in y]
    if not hosts or not years:
        return Section(key, title, None, "Not drawn: this run has no agentic stream with a cache_policy "
                                         "(demand.inference[].agentic).")
    x = [y["year"] for y in years]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.update_layout(title=dict(text="Agent tasks served a day, and tool CPUs", x=0.01), **_LAYOUT)
    fig.add_trace(go.Bar(x=x, y=[y["agent_tasks_per_day"] / 1e6 for y in years], name="tasks served a day [M]",
                         marker_color="#9467bd"), secondary_y=False)
    fig.add_trace(go.Bar(x=x, y=[y.get("agent_tasks_within_target_per_day", 0.0) / 1e6 for y in years],
                         name="within the latency target [M]", marker_color="#c5b0d5"), secondary_y=False)
    fig.add_trace(go.Scatter(x=x, y=[y["tool_cpus"] for y in years], name=f"dedicated {hosts['cpu']} CPUs",
                             line=dict(color="#d62728", width=3)), secondary_y=True)
    fig.add_trace(go.Scatter(x=x, y=[y["tool_cpus_from_systems"] for y in years],
                             name="accelerator hosts' CPUs free for tools", line=dict(color="#7f7f7f", dash="dot")),
                  secondary_y=True)
    fig.update_yaxes(title_text="tasks a day [millions]", secondary_y=False)
    fig.update_yaxes(title_text="CPUs at the year's peak", secondary_y=True)
    lines = []
    for st in hosts.get("streams", []):
        cost = st.get("chip_usd_per_task")
        lines.append(f"{st['name']}: {st['tasks_served'] / 1e9:,.1f}B tasks served"
                     + (f", ${cost:,.3f} of chip time a task" if cost is not None else "")
                     + f", {st['input_tokens_cached_per_task'] / 1e6:,.2f}M cached and "
                       f"{st['input_tokens_new_per_task'] / 1e3:,.0f}k new input tokens a task")
    note = (f"Tool CPUs needed at the peak ({hosts['peak_month']}): {hosts['peak_cpus_needed']:,.0f} {hosts['cpu']} "
            f"(bound by {hosts['bound_by']}), {hosts['peak_cpus_from_systems']:,.0f} free on the accelerator "
            f"systems' hosts, {hosts['peak_cpus_dedicated']:,.0f} dedicated drawing "
            f"{hosts['peak_power_w'] / 1e6:,.1f} MW. " + "; ".join(lines) + ".")
    return Section(key, title, fig, note)


SECTION_BUILDERS: list[Callable] = [capacity_section, usage_section, power_section, spend_section,
                                    inference_section, agents_section, training_section, binding_section]
"""The report's sections, in order; :func:`cash_flow_section` is appended last."""


def build_sections(results, ledger=None) -> list[Section]:
    """Every section of the report for ``results``, in order; a Monte Carlo run's bands last."""
    from gigawatt.report.bands import uncertainty_sections

    return ([build(results) for build in SECTION_BUILDERS] + [cash_flow_section(results, ledger)]
            + uncertainty_sections(results))
