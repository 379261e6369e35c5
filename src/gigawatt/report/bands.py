"""The report's Monte Carlo sections: fan charts (p10-p90 and p25-p75 around the median) and binding odds.

Drawn from the ``uncertainty`` block of a run's summary (quantiles per year and
of per-sample figures, :meth:`gigawatt.uncertainty.MonteCarlo.summary`), which
the results folder and the store keep, so that a stored run draws them again
without its samples.
"""

from __future__ import annotations

import numpy as np

from gigawatt.report.charts import BINDING_COLORS, GW, USD_B, Section, _figure

__all__ = ["uncertainty_sections"]

_FAN = "rgba(31, 119, 180, {a})"
CONSTRAINT_COLORS = {**BINDING_COLORS, "commitment": "#9467bd", "demand": "#8c564b"}


def _fan(fig, years, q: dict, scale: float, name: str, color: str = _FAN) -> None:
    """Bands p10-p90 and p25-p75 and the median line of one yearly figure."""
    import plotly.graph_objects as go

    def arr(key):
        return np.array([np.nan if v is None else v for v in q[key]], dtype=float) / scale

    for lo, hi, alpha, label in (("p10", "p90", 0.15, "p10-p90"), ("p25", "p75", 0.3, "p25-p75")):
        fig.add_trace(go.Scatter(x=years, y=arr(hi), mode="lines", line=dict(width=0), showlegend=False,
                                 hoverinfo="skip", legendgroup=name))
        fig.add_trace(go.Scatter(x=years, y=arr(lo), mode="lines", line=dict(width=0), fill="tonexty",
                                 fillcolor=color.format(a=alpha), name=f"{name} {label}", legendgroup=name))
    fig.add_trace(go.Scatter(x=years, y=arr("p50"), mode="lines+markers", line=dict(color=color.format(a=1.0)),
                             name=f"{name} median", legendgroup=name))


def uncertainty_sections(results) -> list[Section]:
    """Fan charts of capacity, spend against the commitment, served share and cash; binding odds; NPVs; finishes."""
    import plotly.graph_objects as go

    unc = (results.summary_dict or {}).get("uncertainty")
    if not unc:
        return []
    years = unc["years"]
    y = unc["yearly"]
    n = unc["n"]
    head = f"over {n:,} draws of {len(unc['inputs'])} uncertain inputs"
    out = []

    fig = _figure(f"Installed IT power, {head}", "IT power at the year's end [GW]")
    _fan(fig, years, y["it_power_w"], GW, "IT power")
    out.append(Section("fan-capacity", "Capacity in ranges", fig,
                       "Median IT power at each year's end, with the 25th-75th and 10th-90th percentiles of the draws."))

    fig = _figure(f"Cumulative spend against the commitment, {head}", "cumulative spend [$B]")
    _fan(fig, years, y["cumulative_spend_usd"], USD_B, "spend")
    commitment = ((results.summary_dict or {}).get("totals") or {}).get("commitment_usd")
    if commitment:
        fig.add_hline(y=commitment / USD_B, line_dash="dash", line_color="black",
                      annotation_text=f"commitment ${commitment / USD_B:,.0f}B", annotation_position="top left")
    out.append(Section("fan-spend", "Spend against the commitment in ranges", fig,
                       "The buyer's cumulative spend at the contract prices; the dashed line is the commitment."))

    if "inference_served_share" in y:
        fig = _figure(f"Inference demand served, {head}", "share served [%]")
        _fan(fig, years, y["inference_served_share"], 0.01, "served")
        out.append(Section("fan-served", "Inference served in ranges", fig,
                           "The share of each year's inference tokens served within their latency targets."))

    fig = _figure(f"Cumulative cash of each party, {head}", "cumulative net cash flow [$B]")
    _fan(fig, years, y["cumulative_lab_cash_flow_usd"], USD_B, "lab", "rgba(214, 39, 40, {a})")
    _fan(fig, years, y["cumulative_provider_cash_flow_usd"], USD_B, "provider", "rgba(44, 160, 44, {a})")
    out.append(Section("fan-cash", "Both parties' cash in ranges", fig,
                       "Each party's running net cash flow (undiscounted), money in positive."))

    fig = _figure(f"How often each constraint binds, {head}", "share of draws [%]")
    for c, shares in unc["binding_probability"].items():
        fig.add_trace(go.Scatter(x=years, y=[100 * s for s in shares], mode="lines+markers", name=c,
                                 line=dict(color=CONSTRAINT_COLORS.get(c))))
    out.append(Section("binding-odds", "How often each constraint binds", fig,
                       "Per year, the share of draws in which the constraint binds: the buildout's label of most "
                       "months (power, supply, spend limit, cap), a take-or-pay shortfall paid (commitment), or "
                       "every inference token served (demand)."))

    s = unc["scalars"]
    fig = _figure(f"Net present value of each party, {head}", "NPV [$B]")
    for key, label in (("lab_npv_usd", "lab"), ("provider_npv_usd", "provider")):
        q = s.get(key)
        if q and q.get("p50") is not None:
            fig.add_trace(go.Box(name=label, q1=[q["p25"] / USD_B], median=[q["p50"] / USD_B],
                                 q3=[q["p75"] / USD_B], lowerfence=[q["p10"] / USD_B], upperfence=[q["p90"] / USD_B]))
    fig.update_layout(hovermode="closest")
    out.append(Section("npv", "Distribution of both parties' NPV", fig,
                       "Box from the 25th to the 75th percentile around the median, whiskers at the 10th and 90th."))

    runs = [(k.removeprefix("finish_"), q) for k, q in s.items() if k.startswith("finish_")]
    if runs:
        start = np.datetime64(f"{years[0]}-01", "M")

        def date(months):
            if months is None or not np.isfinite(months):
                return None
            return (start + np.timedelta64(int(months), "M")).astype("datetime64[D]") + np.timedelta64(
                int(round((months % 1) * 30)), "D")

        end = np.datetime64(f"{years[-1]}-12-31", "D")  # a run not finished by the horizon: past its end
        fig = _figure(f"Training runs' finish dates, {head}", "")
        for lo, hi, width, alpha in (("p10", "p90", 6, 0.3), ("p25", "p75", 14, 0.6)):
            for name, q in runs:
                a, b = date(q.get(lo)), date(q.get(hi))
                b = end if a is not None and b is None else b
                if a is not None and b is not None:
                    fig.add_trace(go.Scatter(x=[a, b], y=[name, name], mode="lines", showlegend=False,
                                             line=dict(width=width, color=_FAN.format(a=alpha))))
        fig.add_trace(go.Scatter(x=[date(q.get("p50")) for _, q in runs], y=[name for name, _ in runs],
                                 mode="markers", name="median finish", marker=dict(color="black", size=9)))
        fig.update_layout(hovermode="closest")
        out.append(Section("fan-finish", "Training runs' finish dates in ranges", fig,
                           "Median finish of each run, with the 25th-75th (thick) and 10th-90th (thin) "
                           "percentiles; a draw where a run did not finish by the horizon counts as finishing after "
                           "it, and a band that reaches the horizon's end goes past it (no dot: the median draw "
                           "does not finish)."))
    return out
