"""``gigawatt ledger`` and ``gigawatt deals``: the deal's cash flows for both parties, and the deal library."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from gigawatt.cli import formats as fmt
from gigawatt.cli.common import SET_OPTION, cell, fail, load_scenario, print_json, stdout
from gigawatt.cli.tables import WIDE_OPTION, Column, fitted_table, make_table, show


class Party(str, Enum):
    lab = "lab"
    provider = "provider"


_LAB_COLS = [("investment_usd", "invest. in"), ("spend_usd", "spend"), ("shortfall_usd", "shortfall")]
_PROVIDER_COLS = [("investment_usd", "invest."), ("spend_usd", "revenue"), ("shortfall_usd", "shortfall"),
                  ("capex_chips_usd", "capex chips"), ("capex_datacenter_usd", "capex DC"), ("power_usd", "power"),
                  ("opex_usd", "O&M"), ("residual_usd", "residual")]
#: the provider's lines, compact, that are not the lab's with the sign turned (investment, revenue, shortfall)
_PROVIDER_OWN = [("capex_usd", "capex"), ("power_and_opex_usd", "power+O&M"), ("residual_usd", "residual")]
_PROVIDER_COMPACT = [("investment_usd", "invest."), ("spend_usd", "revenue"), *_PROVIDER_OWN]
_TOTALS = [("net_usd", "net"), ("cumulative_net_usd", "cum.")]
#: with both parties, the lines left out one by one while the table is wider than 100 columns
_BOTH_DROP_ORDER = [("provider", "residual_usd"), ("lab", "investment_usd"), ("provider", "power_and_opex_usd"),
                    ("provider", "capex_usd"), ("lab", "shortfall_usd"), ("lab", "spend_usd")]


def _table(title: str, rows_by_party: dict[str, list[dict]], wide: bool = False):
    """The yearly ledger [$B], one party or both.

    By default a line that is zero in every year is left out, and with both
    parties the provider's investment, revenue and shortfall (the lab's,
    with the sign turned); narrower views follow where the table would not
    fit 100 columns. ``wide`` shows every line of each party.
    """
    both = len(rows_by_party) > 1
    years = [r["year"] for r in next(iter(rows_by_party.values()))]

    def columns(spec_by_party: dict[str, list[tuple[str, str]]]) -> list[Column]:
        cols = [Column("year", lambda i: str(years[i]))]
        for party, spec in spec_by_party.items():
            rows = rows_by_party[party]
            for key, label in spec:
                values = [r.get(key) for r in rows]
                zero = key not in dict(_TOTALS) and all(not v for v in values)
                header = f"{'lab' if party == 'lab' else 'prov.'}\n{label}" if both else label.replace(" ", "\n")
                cols.append(Column(header, lambda i, v=values: fmt.usd_b(v[i]), wide=zero))
        return cols

    every = {p: (_LAB_COLS if p == "lab" else _PROVIDER_COLS) + _TOTALS for p in rows_by_party}
    if both:
        view = {"lab": _LAB_COLS + _TOTALS, "provider": _PROVIDER_OWN + _TOTALS}
        variants = [view]
        for party, key in _BOTH_DROP_ORDER:
            view = {**view, party: [c for c in view[party] if c[0] != key]}
            variants.append(view)
    else:
        variants = [every, {p: (_LAB_COLS if p == "lab" else _PROVIDER_COMPACT) + _TOTALS for p in rows_by_party},
                    {p: _TOTALS for p in rows_by_party}]
    return fitted_table(title, [columns(every)] + [columns(v) for v in variants], list(range(len(years))), wide)


def ledger_command(
    scenario: Path = typer.Argument(..., help="Scenario YAML file, or the name of a library deal."),
    party: Optional[Party] = typer.Option(None, "--party", help="Show one party's full ledger: lab or provider."),
    discount: Optional[str] = typer.Option(
        None, "--discount",
        help="Annual discount rate for both parties, like 8%. Default: the scenario's economics.discount, else 8%."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object (SI units), nothing else."),
    set_: Optional[list[str]] = SET_OPTION,
    wide: bool = WIDE_OPTION,
) -> None:
    """The deal's ledger: each party's yearly cash flows, NPV and IRR, and what the commitment implies per
    chip-hour and per MW-year against contract, market and cost."""
    from gigawatt.errors import GigawattError
    from gigawatt.units import parse_fraction

    rate = None
    if discount is not None:
        try:
            rate = parse_fraction(discount, field="--discount")
        except GigawattError as exc:
            fail(str(exc), "write a percentage like --discount 8%")
        if not -0.5 < rate <= 2.0:
            fail(f"--discount: {discount!r} is outside -50%..200%", "write a yearly rate like --discount 8%")
    scn = load_scenario(scenario, set_)
    from gigawatt.economics.ledger import build_ledger, ledger_json
    from gigawatt.fleet import build_fleet
    from gigawatt.scenario.inputs import resolve

    try:
        inputs = resolve(scn)
        fleet = build_fleet(inputs)
        ledger = build_ledger(inputs, fleet, rate)
    except GigawattError as exc:
        fail(f"{scenario}: {exc}", "fix the scenario's economics section (see docs/ledger.md)")
    out = ledger_json(inputs, fleet, ledger=ledger)
    if party is not None:
        out["years"] = {party.value: out["years"][party.value]}
    if json_out:
        print_json({"scenario": scn.name, **out})
        return
    _print_ledger(scn, out, party.value if party else None, wide)


def _print_ledger(scn, s: dict, party: str | None, wide: bool = False) -> None:
    from gigawatt.cli.common import safe

    con = stdout()
    lab_name = scn.deal.buyer or "lab"
    prov_name = scn.deal.provider or "provider"
    title = (f"{scn.name}: {lab_name} (lab) and {prov_name} (provider), cash flows by year, $B, + in / - out"
             if not party else
             f"{scn.name}: {lab_name if party == 'lab' else prov_name} ({party}), cash flows by year, $B")
    show(con, _table(cell(title), s["years"], wide), wide)
    lab, prov = s["lab"], s["provider"]
    irr = "none" if prov["irr"] is None else fmt.pct(prov["irr"], 1)
    show(con,
         f"NPV: lab {fmt.money(lab['npv_usd'])} at {fmt.pct(lab['discount_rate'], 1)}; provider "
         f"{fmt.money(prov['npv_usd'])} at {fmt.pct(prov['discount_rate'], 1)}, IRR {irr}. Break-even utilization "
         f"for the provider {prov.get('breakeven_note') or fmt.pct(prov['breakeven_utilization'], 1)}.", wide)
    m = s["market"]

    def mw(x):
        return "-" if x is None else f"{x / 1e6:,.2f}"

    cov = m["chip_hour_share_with_catalog_price"]
    rows = [
        (f"commitment ${fmt.usd_b(s['commitment_usd'], 0)}B / capacity in its term"
         + (" (none: spend exceeds it)" if s["implied_usd_per_chip_hour"] is None else ""),
         fmt.per_hour(s["implied_usd_per_chip_hour"]), mw(s["implied_usd_per_mw_year"])),
        ("contract prices (scenario)", fmt.per_hour(s["contract_usd_per_chip_hour"]),
         mw(s["contract_usd_per_mw_year"])),
        (f"catalog list price ({fmt.pct(cov)} of chip-hours have one)", fmt.per_hour(m["list_usd_per_chip_hour"]), "-"),
        ("catalog typical committed price", fmt.per_hour(m["committed_usd_per_chip_hour"]), "-"),
        ("provider cost (depreciation, power, O&M)", fmt.per_hour(prov["cost_usd_per_chip_hour"]),
         mw(prov["cost_usd_per_mw_year"])),
        ("Epoch AI all-in TCO, 1 GW GB200 (estimate)", "-", mw(m["epoch_tco_usd_per_mw_year"])),
    ]
    columns = [Column("", lambda r: r[0], right=False), Column("$/chip-hour", lambda r: r[1]),
               Column("$M/MW-year", lambda r: r[2])]
    show(con, make_table("implied by the commitment, against contract, market and cost", columns, rows), wide)
    share = s["capacity_cap_share_paid_by_commitment"]
    f = s["flows"]
    if share is not None:
        show(con, f"At the contract prices the commitment pays for {fmt.pct(share, 1)} of the capacity cap held "
                  "over the whole term.", wide)
    if f["investment_usd"] > 0:
        back = f["investment_returned_by"] or "not within the horizon"
        show(con, f"The provider's investment of {fmt.money(f['investment_usd'])} comes back as cloud revenue by "
                  f"{back}; the lab pays {f['revenue_per_investment_dollar']:,.1f} dollars per dollar invested.", wide)
    by_chip = s.get("tco_by_chip") or {}
    if by_chip:
        parts = [f"{safe(c)} cost ${v['cost_usd_per_chip_h']:.2f} vs price ${v['price_usd_per_chip_h']:.2f}"
                 for c, v in by_chip.items()]
        show(con, "Provider per chip-hour over the horizon: " + "; ".join(parts) + ".", wide)
    for note in s.get("notes") or []:
        show(con, f"note: {note}", wide)


def deals_command(
    json_out: bool = typer.Option(False, "--json", help="Print a JSON list, nothing else."),
    directory: Optional[Path] = typer.Option(
        None, "--dir", help="Folder of scenarios to list. Default: the deal library shipped with gigawatt."),
) -> None:
    """List the deal library: one line per scenario with its parties, commitment, capacity and investments.
    Run a library deal by its name: gigawatt run anthropic-aws-2026."""
    from gigawatt import library
    from gigawatt.economics.deals import deal_terms
    from gigawatt.errors import GigawattError
    from gigawatt.scenario import load_scenario as load_file
    from gigawatt.scenario import load_scenario_text

    if directory is None:
        entries = [(f"{n}.yaml", lambda n=n: load_scenario_text(library.text(n), f"{n}.yaml")) for n in library.names()]
    elif directory.is_dir():
        entries = [(p.name, lambda p=p: load_file(p)) for p in sorted(directory.glob("*.yaml"))]
    else:
        fail(f"--dir: no folder {directory}", "give a folder of scenario files, or leave out --dir for the deal library")
    rows = []
    for file, load in entries:
        try:
            rows.append({"file": file, **deal_terms(load())})
        except GigawattError as exc:
            rows.append({"file": file, "error": str(exc).splitlines()[0]})
    if json_out:
        print_json(rows)
        return
    from gigawatt.cli.common import safe
    from gigawatt.units import SECONDS_PER_YEAR

    for r in rows:
        if "error" in r:
            print(safe(f"{r['file']}: does not load ({r['error']}); run `gigawatt check` on it"))
            continue
        cap = f", up to {r['capacity_cap_w'] / 1e9:g} GW" if r["capacity_cap_w"] else ""
        inv = f"; {fmt.money(r['investment_usd'])} invested in the buyer" if r["investment_usd"] else ""
        inv += f" (+{fmt.money(r['contingent_investment_usd'])} contingent)" if r["contingent_investment_usd"] else ""
        inv += f"; buyer prepays {fmt.money(r['buyer_prepaid_usd'])}" if r["buyer_prepaid_usd"] else ""
        years = r["term_s"] / SECONDS_PER_YEAR
        tag = "" if r["binding"] else " [non-binding]"
        print(safe(f"{r['name']}: {r['buyer'] or 'lab'} <- {r['provider'] or 'provider'}: "
                   f"{fmt.money(r['commitment_usd'])} over {years:g} years from {r['commitment_start']}{cap}{inv}; "
                   f"{', '.join(r['chips'])}{tag}. {r['title'] or ''}".rstrip(". ") + "."))


def register(main: typer.Typer) -> None:
    main.command("ledger", help="The deal's cash flows for both parties: yearly ledger, NPV, IRR, implied prices.")(
        ledger_command)
    main.command("deals", help="The library of public compute deals shipped as scenarios, one line each.")(
        deals_command)
