"""``gigawatt sensitivity``: which uncertain input moves an output most (tornado and Sobol indices)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from gigawatt.cli.common import SET_OPTION, fail, load_scenario, print_json, safe, stderr, stdout
from gigawatt.cli.tables import WIDE_OPTION, show

_OUTPUT_HELP = ("Output to explain (repeat for several): lab_npv_usd, provider_npv_usd, inference_served_share, "
                "spend_usd, it_power_w_end, commitment_first_binds_year, runs_on_time; or NAME:YEAR of a yearly "
                "series, such as it_power_w:2030.")


def _value(output: str):
    """How to show one output's values."""
    from gigawatt.cli import formats as fmt

    name = output.partition(":")[0]
    if name.endswith("_usd"):
        return lambda v: "$" + fmt.usd_b(v) + "B"
    if name.startswith("it_power_w"):
        return lambda v: fmt.gw(v) + " GW"
    if "share" in name:
        return fmt.pct
    return lambda v: f"{v:,.3g}" if v == v else "-"


def sensitivity(
    scenario: Path = typer.Argument(..., help="Scenario with uncertain inputs (see `gigawatt check --inputs`)."),
    output: list[str] = typer.Option(..., "--output", "-y", help=_OUTPUT_HELP),
    sobol_n: int = typer.Option(64, "--sobol-n", min=0, max=65536,
                                help="Base sample of the Sobol indices (a power of two); the scenario runs "
                                     "n (inputs + 2) times. 0: the tornado only."),
    chart: Optional[Path] = typer.Option(None, "--chart", help="Write the tornado and the indices as an HTML file."),
    set_: Optional[list[str]] = SET_OPTION,
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object (SI units), nothing else."),
    wide: bool = WIDE_OPTION,
) -> None:
    """Tornado (each input from its p10 to its p90, the others at their medians) and Sobol first-order and total indices (SALib) of chosen outputs."""
    from gigawatt import sensitivity as sens
    from gigawatt.scenario.inputs import resolve

    scn = load_scenario(scenario, set_)
    if scn.uncertain is None:
        fail(f"{scenario}: the scenario has no uncertain inputs",
             "write a value as {dist: lognormal, p10: ..., p90: ...} (docs/uncertainty.md)")
    if sobol_n and sobol_n & (sobol_n - 1):
        fail(f"--sobol-n {sobol_n} is not a power of two", "use 32, 64, 128, ...")
    inputs = resolve(scn)
    try:
        tornados = sens.tornado(scn, output, inputs=inputs)
    except KeyError as exc:
        fail(f"--output {exc.args[0]}", "name an output the run has")
    indices = []
    if sobol_n:
        progress = None
        if not json_out and sys.stderr.isatty():
            from rich.progress import Progress

            bar = Progress(console=stderr(), transient=True)
            bar.start()
            task = bar.add_task("Sobol design", total=None)

            def progress(stage, done, total):
                bar.update(task, completed=done, total=total)
        try:
            indices = sens.sobol(scn, output, sobol_n, inputs=inputs, progress=progress)
        finally:
            if progress is not None:
                bar.stop()
    if json_out:
        print_json({"scenario": scn.name, "tornado": [t.to_dict() for t in tornados],
                    "sobol": [s.to_dict() for s in indices]})
        return
    con = stdout()
    for t in tornados:
        show(con, _tornado_table(t), wide)
    for s in indices:
        show(con, _sobol_table(s), wide)
    if indices:
        show(con, "Sobol indices take the inputs as independent (their rank correlations are not applied); "
                  "± is the 95% bootstrap half-width.", wide)
    if chart is not None:
        try:
            chart.write_text(_chart_html(scn.name, tornados, indices), encoding="utf-8")
        except OSError as exc:
            fail(f"--chart: cannot write {chart}: {exc}", "choose a writable file")
        show(con, f"Charts written to {safe(chart)}", wide)


def _tornado_table(t):
    from rich.table import Table

    show = _value(t.output)
    table = Table(title=f"tornado of {t.output}: {show(t.median)} with every input at its median",
                  title_justify="left")
    for col, right in (("input", False), ("at p10", True), ("at p90", True), ("swing", True)):
        table.add_column(col, justify="right" if right else "left")
    for k in t.order():
        table.add_row(safe(t.inputs[k]), show(t.low[k]), show(t.high[k]), show(t.swing[k]))
    return table


def _sobol_table(s):
    from rich.table import Table

    table = Table(title=f"Sobol indices of {s.output} ({s.n:,} runs)", title_justify="left")
    for col, right in (("input", False), ("first order", True), ("total", True)):
        table.add_column(col, justify="right" if right else "left")
    for row in s.to_dict()["rows"]:
        table.add_row(safe(row["input"]), f"{row['first']:.2f} ± {row['first_conf']:.2f}",
                      f"{row['total']:.2f} ± {row['total_conf']:.2f}")
    return table


def tornado_figure(t):
    """A Plotly tornado: a bar per input from the output at its p10 to the output at its p90, widest on top."""
    import plotly.graph_objects as go

    order = t.order()[::-1]
    fig = go.Figure()
    fig.add_trace(go.Bar(y=[t.inputs[k] for k in order], x=[t.low[k] - t.median for k in order], base=t.median,
                         orientation="h", name="input at p10", marker_color="#d62728"))
    fig.add_trace(go.Bar(y=[t.inputs[k] for k in order], x=[t.high[k] - t.median for k in order], base=t.median,
                         orientation="h", name="input at p90", marker_color="#2ca02c"))
    fig.update_layout(barmode="overlay", template="plotly_white", title=f"Tornado of {t.output}",
                      xaxis_title=f"{t.output} (SI units)", height=max(350, 28 * len(order) + 120),
                      margin=dict(l=260, r=30, t=60, b=50))
    fig.add_vline(x=t.median, line_color="black")
    return fig


def sobol_figure(s):
    import plotly.graph_objects as go

    rows = s.to_dict()["rows"][::-1]
    fig = go.Figure()
    fig.add_trace(go.Bar(y=[r["input"] for r in rows], x=[r["first"] for r in rows], orientation="h",
                         name="first order", error_x=dict(array=[r["first_conf"] for r in rows])))
    fig.add_trace(go.Bar(y=[r["input"] for r in rows], x=[r["total"] for r in rows], orientation="h",
                         name="total", error_x=dict(array=[r["total_conf"] for r in rows])))
    fig.update_layout(barmode="group", template="plotly_white", title=f"Sobol indices of {s.output}",
                      height=max(350, 36 * len(rows) + 120), margin=dict(l=260, r=30, t=60, b=50))
    return fig


def _chart_html(name: str, tornados, indices) -> str:
    import html

    from plotly.offline import get_plotlyjs

    parts = ["<!DOCTYPE html><html><head><meta charset='utf-8'>",
             f"<title>gigawatt sensitivity: {html.escape(name)}</title>",
             f"<script type='text/javascript'>{get_plotlyjs()}</script></head><body>",
             f"<h1>Sensitivity: {html.escape(name)}</h1>"]
    for fig in [tornado_figure(t) for t in tornados] + [sobol_figure(s) for s in indices]:
        parts.append(fig.to_html(full_html=False, include_plotlyjs=False))
    parts.append("</body></html>")
    return "\n".join(parts)


def register(app: typer.Typer) -> None:
    app.command("sensitivity")(sensitivity)
