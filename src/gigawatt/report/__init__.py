"""The run report: one self-contained HTML file, and PNG images of its charts.

``write_html(results, path)`` writes a single HTML file with Plotly's
JavaScript embedded, so it opens offline: a summary table, then capacity by
chip generation, power drawn against energized, spend against the commitment,
inference demand against served, the training runs' timeline, the binding
constraint per year, and a cash flow per party when a deal ledger is given.
Sections whose data the run lacks say so in text instead of drawing an empty
chart (see :mod:`gigawatt.report.charts`).

``write_pngs(results, folder)`` writes one PNG per drawn chart through kaleido,
which drives a Chromium-based browser (Debian: ``apt-get install -y chromium``).
"""

from __future__ import annotations

import html
import math
import shutil
from pathlib import Path

from gigawatt.errors import GigawattError
from gigawatt.report.charts import (  # noqa: F401  (re-exported)
    SECTION_BUILDERS,
    Section,
    build_sections,
    cash_flow_section,
)

BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}


class ReportError(GigawattError):
    """The report could not be written; ``hint`` says how to fix it."""

    def __init__(self, message: str, hint: str | None = None):
        self.hint = hint
        super().__init__(message)


def _number(value) -> bool:
    """True for a finite int or float (not a bool, None, NaN or infinity)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _fmt(value, scale: float = 1.0, fmt: str = "{:,.1f}", unit: str = "") -> str:
    if not _number(value):
        return "–"
    return fmt.format(value / scale) + unit


def summary_rows(results, run_id: str | None = None) -> list[tuple[str, str]]:
    """The report's top table as (label, formatted value) pairs."""
    s = results.summary_dict or {}
    totals, implied = s.get("totals") or {}, s.get("implied") or {}
    resolved = results.resolved or {}
    horizon = resolved.get("horizon") or {}
    years = s.get("years") or []
    rows = [("scenario", f"{results.name}" + (f" — {resolved['title']}" if resolved.get("title") else ""))]
    if run_id:
        rows.append(("run id", run_id))
    rows += [
        ("gigawatt version", str(results.version)),
    ]
    samples = (s.get("samples") or {}).get("n")
    if s.get("seed_matters", True):
        rows.append(("seed", str(results.seed)))
    if samples:
        rows.append(("samples", f"{samples} (figures are means over samples, dates medians)"))
    rows += [
        ("horizon", f"{horizon.get('start', '?')} to {horizon.get('end', '?')}"),
    ]
    if years:
        powers = [r.get("it_power_w") for r in years if _number(r.get("it_power_w"))]
        peak = max(powers) if powers else None
        last = years[-1]
        chips = ", ".join(f"{c} {n / 1e3:,.0f}k" for c, n in (last.get("chips") or {}).items() if _number(n) and n)
        rows.append(("peak installed IT power", _fmt(peak, 1e9, "{:,.2f}", " GW")))
        rows.append((f"chips at the end of {last['year']}", chips or "–"))
    rows += [
        ("spend over the horizon", "$" + _fmt(totals.get("spend_usd"), 1e9, unit="B")),
        ("commitment", "$" + _fmt(totals.get("commitment_usd"), 1e9, unit="B")
         + (f" ({100 * totals['commitment_covered_share']:.0f}% covered in its term)"
            if _number(totals.get("commitment_covered_share")) else "")),
        ("energy at full load", _fmt(totals.get("energy_j"), 3.6e15, unit=" TWh")),
        ("implied $ per chip-hour", "$" + _fmt(implied.get("usd_per_chip_hour"), fmt="{:,.2f}")
         + f" (contract prices average ${_fmt(implied.get('contract_usd_per_chip_hour'), fmt='{:,.2f}')})"),
        ("implied $ per GW-year of IT", "$" + _fmt(implied.get("usd_per_gw_year"), 1e9, "{:,.2f}", "B")),
    ]
    inference = s.get("inference") or {}
    if _number(inference.get("served_share")):
        rows.append(("inference demand served", _fmt(100 * inference["served_share"], fmt="{:.1f}", unit="%")))
    runs = s.get("training_runs") or []
    if runs:
        done = [r for r in runs if r.get("finish")]
        rows.append(("training runs finished", f"{len(done)} of {len(runs)}"))
    if years:
        rows.append(("binding by year", ", ".join(f"{r['year']}: {r.get('binding')}" for r in years)))
    spread = s.get("samples") or {}
    if spread:
        qs = [spread.get(f"p{q}") or {} for q in (10, 50, 90)]
        shares = [(q.get("inference") or {}).get("served_share") for q in qs]
        if all(_number(v) for v in shares):
            rows.append(("inference served, p10 / p50 / p90", " / ".join(f"{100 * v:.1f}%" for v in shares)))
        for i, run in enumerate(runs):
            finishes = [((q.get("training_runs") or [{}] * (i + 1))[i].get("finish") or "not by horizon") for q in qs]
            rows.append((f"{run['name']} finish, p10 / p50 / p90", " / ".join(finishes)))
    return rows


_CSS = """
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; margin: 24px auto; max-width: 1100px;
       color: #1b1f24; padding: 0 16px; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { font-size: 1.2em; margin-top: 1.6em; border-bottom: 1px solid #ddd; }
table.summary { border-collapse: collapse; font-size: 0.95em; }
table.summary td { padding: 3px 14px 3px 0; vertical-align: top; } table.summary td:first-child { color: #555; }
p.note { color: #444; font-size: 0.92em; } p.missing { color: #8a4b00; background: #fff6e5; padding: 8px 12px; }
ul.notes { color: #555; font-size: 0.9em; } footer { color: #888; font-size: 0.8em; margin-top: 3em; }
"""


def render_html(results, run_id: str | None = None, ledger=None) -> str:
    """The report as one HTML string with Plotly's JavaScript embedded."""
    from plotly.offline import get_plotlyjs

    if ledger is None:
        ledger = ledger_frame(results)
    sections = build_sections(results, ledger)
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>gigawatt report: {esc(results.name)}</title>",
        f"<style>{_CSS}</style>",
        # Plotly's JavaScript, embedded once so the file opens offline (no CDN)
        f'<script type="text/javascript">{get_plotlyjs()}</script>',
        "</head><body>",
        f"<h1>gigawatt report: {esc(results.name)}</h1>",
        '<table class="summary">',
    ]
    for label, value in summary_rows(results, run_id):
        parts.append(f"<tr><td>{esc(label)}</td><td>{esc(value)}</td></tr>")
    parts.append("</table>")
    notes = (results.summary_dict or {}).get("notes") or []
    if notes:
        parts.append('<ul class="notes">' + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul>")
    for sec in sections:
        parts.append(f'<section id="section-{sec.key}"><h2>{esc(sec.title)}</h2>')
        if sec.figure is None:
            parts.append(f'<p class="note missing">{esc(sec.note)}</p>')
        else:
            parts.append(f'<p class="note">{esc(sec.note)}</p>')
            parts.append(f'<div class="chart" id="chart-{sec.key}-wrap">')
            parts.append(sec.figure.to_html(full_html=False, include_plotlyjs=False, div_id=f"chart-{sec.key}",
                                            config=PLOTLY_CONFIG))
            parts.append("</div>")
        parts.append("</section>")
    parts.append(f"<footer>gigawatt {esc(str(results.version))}; values computed in SI units and formatted "
                 "here (GW, $B, TWh).</footer></body></html>")
    return "\n".join(parts)


def ledger_frame(results):
    """The run's cash flow per party as tidy rows (period, party, cash_flow_usd), or None."""
    ds = results.dataset
    if "cash_flow_usd" not in ds:
        return None
    frame = ds["cash_flow_usd"].mean("sample").to_dataframe().reset_index()
    return frame[["period", "party", "cash_flow_usd"]]


def write_html(results, path: str | Path, run_id: str | None = None, ledger=None) -> Path:
    """Write the report as one self-contained HTML file.

    Parameters
    ----------
    results : gigawatt.results.Results
        The run to report.
    path : str or Path
        The HTML file to write (its folder is created).
    run_id : str, optional
        The store's id of the run, shown in the summary table.
    ledger : pandas.DataFrame, optional
        Deal ledger rows (``period``, ``party``, ``cash_flow_usd``) for the
        cash-flow chart; see :func:`gigawatt.report.charts.cash_flow_section`.

    Returns
    -------
    Path
        The file written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(render_html(results, run_id, ledger), encoding="utf-8")
    tmp.replace(path)
    return path


def find_browser() -> str | None:
    """The path of a Chromium-based browser kaleido can drive, or None."""
    import os

    env = os.environ.get("BROWSER_PATH")
    if env and Path(env).exists():
        return env
    for name in BROWSER_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def write_pngs(results, folder: str | Path, ledger=None, width: int = 1100, height: int | None = None,
               scale: float = 1.5) -> list[Path]:
    """Write one PNG per drawn chart (``<key>.png``) into ``folder``.

    Parameters
    ----------
    results : gigawatt.results.Results
    folder : str or Path
        Created if needed.
    width, height : int
        Image size in CSS pixels; height defaults to each figure's own.
    scale : float
        Pixel density (1.5 gives 1650 px wide images).

    Returns
    -------
    list of Path

    Raises
    ------
    ReportError
        When kaleido or a Chromium-based browser is missing.
    """
    try:
        import kaleido  # noqa: F401
    except ImportError:
        raise ReportError("--png needs the kaleido package", "pip install kaleido") from None
    if find_browser() is None:
        raise ReportError("--png needs a Chromium-based browser and none was found on PATH",
                          "install one: `apt-get install -y chromium` (Debian/Ubuntu), or set BROWSER_PATH")
    import plotly.io as pio

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    figs, paths = [], []
    if ledger is None:
        ledger = ledger_frame(results)
    for sec in build_sections(results, ledger):
        if sec.figure is None:
            continue
        figs.append(sec.figure)
        paths.append(folder / f"{sec.key}.png")
    heights = [height or int(f.layout.height or 420) for f in figs]
    try:
        pio.write_images(figs, paths, width=width, height=heights, scale=scale)
    except Exception as exc:  # kaleido raises a variety of errors when the browser fails
        raise ReportError(f"could not render PNGs with kaleido: {exc}",
                          "check that the browser starts: `chromium --headless --no-sandbox --version`") from None
    return paths
