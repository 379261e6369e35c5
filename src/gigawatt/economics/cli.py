"""Command functions ``gigawatt ledger`` and ``gigawatt deals``.

Registered on the main typer app by :mod:`gigawatt.cli`. Only typer and the
standard library are imported here at module level; the models load inside
the functions, so that ``gigawatt --help`` stays fast.
"""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

EXIT_BAD_INPUT = 2


class Party(str, Enum):
    lab = "lab"
    provider = "provider"


def _err(message: str, hint: str | None = None) -> None:
    print(f"error: {message}", file=sys.stderr)
    if hint:
        print(f"  hint: {hint}", file=sys.stderr)
    raise typer.Exit(EXIT_BAD_INPUT)


def _b(usd: float) -> str:
    return f"{usd / 1e9:,.1f}"


def _pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _money(x, unit: str = "") -> str:
    if x is None:
        return "n/a"
    sign = "-" if x < 0 else ""
    x = abs(x)
    if x >= 1e9:
        return f"{sign}${x / 1e9:,.1f}B{unit}"
    if x >= 1e6:
        return f"{sign}${x / 1e6:,.2f}M{unit}"
    return f"{sign}${x:,.2f}{unit}"


_LAB_COLS = [("investment_usd", "invest. in"), ("spend_usd", "spend"), ("shortfall_usd", "shortfall")]
_PROVIDER_COLS = [("investment_usd", "invest."), ("spend_usd", "revenue"), ("shortfall_usd", "shortfall"),
                  ("capex_chips_usd", "capex chips"), ("capex_datacenter_usd", "capex DC"), ("power_usd", "power"),
                  ("opex_usd", "O&M"), ("residual_usd", "residual")]


def _table(title: str, rows_by_party: dict[str, list[dict]]):
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    table.add_column("year", justify="right")
    cols = []
    for party, rows in rows_by_party.items():
        spec = _LAB_COLS if party == "lab" else _PROVIDER_COLS
        if len(rows_by_party) > 1:  # both parties: compact provider columns
            spec = spec if party == "lab" else [spec[0], spec[1], ("capex", "capex"), ("costs", "power+O&M"),
                                                spec[7]]
        for key, label in spec + [("net_usd", "net"), ("cumulative_net_usd", "cum.")]:
            table.add_column(f"{party[:4]} {label} $B" if len(rows_by_party) > 1 else f"{label} $B", justify="right")
            cols.append((party, key))
    years = [r["year"] for r in next(iter(rows_by_party.values()))]
    for i, year in enumerate(years):
        cells = [str(year)]
        for party, key in cols:
            row = rows_by_party[party][i]
            if key == "capex":
                value = row["capex_chips_usd"] + row["capex_datacenter_usd"]
            elif key == "costs":
                value = row["power_usd"] + row["opex_usd"]
            else:
                value = row[key]
            cells.append(_b(value))
        table.add_row(*cells)
    return table


def ledger_command(
    scenario: Path = typer.Argument(..., help="Scenario YAML file."),
    party: Optional[Party] = typer.Option(None, "--party", help="Show one party's full ledger: lab or provider."),
    discount: Optional[str] = typer.Option(
        None, "--discount",
        help="Annual discount rate for both parties, like 8%. Default: the scenario's economics.discount, else 8%."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object (SI units), nothing else."),
) -> None:
    """The deal's ledger: each party's yearly cash flows, NPV and IRR, and what the commitment implies per
    chip-hour and per MW-year against contract, market and cost."""
    from gigawatt.cli import _load
    from gigawatt.errors import GigawattError
    from gigawatt.units import parse_fraction

    rate = None
    if discount is not None:
        try:
            rate = parse_fraction(discount, field="--discount")
        except GigawattError as exc:
            _err(str(exc), "write a percentage like --discount 8%")
        if not -0.5 < rate <= 2.0:
            _err(f"--discount: {discount!r} is outside -50%..200%", "write a yearly rate like --discount 8%")
    scn = _load(scenario)
    from gigawatt.economics.ledger import build_ledger
    from gigawatt.fleet import build_fleet

    try:
        fleet = build_fleet(scn)
        ledger = build_ledger(scn, fleet, rate)
    except GigawattError as exc:
        _err(f"{scenario}: {exc}", "fix the scenario's economics section (see docs/ledger.md)")
    if json_out:
        out = dict(ledger.summary)
        out["scenario"] = scn.name
        out["years"] = {p: ledger.yearly(p) for p in ([party.value] if party else ["lab", "provider"])}
        out["tco_by_year"] = ledger.tco_by_year
        out["cost_sources"] = ledger.costs.sources
        out["notes"] = ledger.notes
        print(json.dumps(out, allow_nan=False))
        return
    _print_ledger(scn, ledger, party.value if party else None)


def _print_ledger(scn, ledger, party: str | None) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
    s = ledger.summary
    lab_name = scn.deal.buyer or "lab"
    prov_name = scn.deal.provider or "provider"
    parties = [party] if party else ["lab", "provider"]
    title = (f"{scn.name}: {lab_name} (lab) and {prov_name} (provider), cash flows by year, + in / - out"
             if not party else f"{scn.name}: {lab_name if party == 'lab' else prov_name} ({party}), cash flows by year")
    con.print(_table(title, {p: ledger.yearly(p) for p in parties}))
    lab, prov = s["lab"], s["provider"]
    irr = "none" if prov["irr"] is None else _pct(prov["irr"])
    con.print(
        f"NPV: lab {_money(lab['npv_usd'])} at {_pct(lab['discount_rate'])}; provider {_money(prov['npv_usd'])} at "
        f"{_pct(prov['discount_rate'])}, IRR {irr}. Break-even utilization for the provider "
        f"{_pct(prov['breakeven_utilization'])}.", markup=False)
    m = s["market"]
    t = Table(title="implied by the commitment, against contract, market and cost", title_justify="left")
    for col in ["", "$/chip-hour", "$M/MW-year"]:
        t.add_column(col, justify="right" if col else "left")

    def mw(x):
        return "-" if x is None else f"{x / 1e6:,.2f}"

    def ch(x):
        return "-" if x is None else f"{x:,.2f}"

    t.add_row(f"commitment ${s['commitment_usd'] / 1e9:,.0f}B / capacity in its term", ch(s["implied_usd_per_chip_hour"]),
              mw(s["implied_usd_per_mw_year"]))
    t.add_row("contract prices (scenario)", ch(s["contract_usd_per_chip_hour"]), mw(s["contract_usd_per_mw_year"]))
    cov = m["chip_hour_share_with_catalog_price"]
    t.add_row(f"catalog list price ({cov:.0%} of chip-hours have one)", ch(m["list_usd_per_chip_hour"]), "-")
    t.add_row("catalog typical committed price", ch(m["committed_usd_per_chip_hour"]), "-")
    t.add_row("provider cost (depreciation, power, O&M)", ch(prov["cost_usd_per_chip_hour"]),
              mw(prov["cost_usd_per_mw_year"]))
    t.add_row("Epoch AI all-in TCO, 1 GW GB200 (estimate)", "-", mw(m["epoch_tco_usd_per_mw_year"]))
    con.print(t)
    share = s["capacity_cap_share_paid_by_commitment"]
    f = s["flows"]
    lines = []
    if share is not None:
        lines.append(f"At the contract prices the commitment pays for {_pct(share)} of the capacity cap held over "
                     "the whole term.")
    if f["investment_usd"] > 0:
        back = f["investment_returned_by"] or "not within the horizon"
        lines.append(f"The provider's investment of {_money(f['investment_usd'])} comes back as cloud revenue by "
                     f"{back}; the lab pays {f['revenue_per_investment_dollar']:,.1f} dollars per dollar invested.")
    for line in lines:
        con.print(line, markup=False)
    by_chip: dict[str, list[float]] = {}
    for r in ledger.tco_by_year:
        acc = by_chip.setdefault(r["chip"], [0.0, 0.0, 0.0])
        acc[0] += r["chip_hours"]
        acc[1] += r["cost_usd_per_chip_h"] * r["chip_hours"]
        acc[2] += r["price_usd_per_chip_h"] * r["chip_hours"]
    if by_chip:
        parts = [f"{c} cost ${a[1] / a[0]:.2f} vs price ${a[2] / a[0]:.2f}" for c, a in by_chip.items() if a[0] > 0]
        con.print("Provider per chip-hour over the horizon: " + "; ".join(parts) + ".", markup=False)
    for note in ledger.notes:
        con.print(f"note: {note}", markup=False)


def deals_command(
    json_out: bool = typer.Option(False, "--json", help="Print a JSON list, nothing else."),
    directory: Optional[Path] = typer.Option(
        None, "--dir", help="Folder of scenarios to list. Default: the deal library shipped with gigawatt."),
) -> None:
    """List the deal library: one line per scenario with its parties, commitment, capacity and investments.
    Run a library deal by its name: gigawatt run anthropic-aws-2026."""
    from gigawatt import library
    from gigawatt.errors import GigawattError
    from gigawatt.scenario import load_scenario, load_scenario_text

    if directory is None:
        entries = [(f"{n}.yaml", lambda n=n: load_scenario_text(library.text(n), f"{n}.yaml")) for n in library.names()]
    elif directory.is_dir():
        entries = [(p.name, lambda p=p: load_scenario(p)) for p in sorted(directory.glob("*.yaml"))]
    else:
        _err(f"--dir: no folder {directory}", "give a folder of scenario files, or leave out --dir for the deal library")
    rows = []
    for file, load in entries:
        try:
            scn = load()
        except GigawattError as exc:
            rows.append({"file": file, "error": str(exc).splitlines()[0]})
            continue
        d = scn.deal
        into_lab = [i for i in d.investments if i.from_party != "buyer"]
        sure = sum(i.amount_usd * i.probability for i in into_lab if i.include)
        contingent = sum(i.amount_usd for i in into_lab if not i.include)
        prepaid = sum(i.amount_usd for i in d.investments if i.from_party == "buyer" and i.include)
        rows.append({
            "file": file, "name": scn.name, "title": scn.title, "buyer": d.buyer, "provider": d.provider,
            "commitment_usd": d.commitment.total_usd, "commitment_start": d.commitment.start,
            "term_s": d.commitment.term_s, "capacity_cap_w": d.capacity_cap_w,
            "investment_usd": sure, "contingent_investment_usd": contingent, "buyer_prepaid_usd": prepaid,
            "binding": d.binding,
            "chips": [e.chip for e in scn.roadmap],
        })
    if json_out:
        print(json.dumps(rows))
        return
    for r in rows:
        if "error" in r:
            print(f"{r['file']}: does not load ({r['error']}); run `gigawatt check` on it")
            continue
        cap = f", up to {r['capacity_cap_w'] / 1e9:g} GW" if r["capacity_cap_w"] else ""
        inv = f"; {_money(r['investment_usd'])} invested in the buyer" if r["investment_usd"] else ""
        inv += f" (+{_money(r['contingent_investment_usd'])} contingent)" if r["contingent_investment_usd"] else ""
        inv += f"; buyer prepays {_money(r['buyer_prepaid_usd'])}" if r["buyer_prepaid_usd"] else ""
        years = r["term_s"] / (365.25 * 86400)
        tag = "" if r["binding"] else " [non-binding]"
        print(f"{r['name']}: {r['buyer'] or 'lab'} <- {r['provider'] or 'provider'}: "
              f"{_money(r['commitment_usd'])} over {years:g} years from {r['commitment_start']}{cap}{inv}; "
              f"{', '.join(r['chips'])}{tag}. {r['title'] or ''}".rstrip(". ") + ".")
