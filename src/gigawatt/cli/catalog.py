"""``gigawatt catalog chips|systems|models|prices``: the catalog with its sources."""

from __future__ import annotations

from enum import Enum

import typer

from gigawatt.cli.common import fail, print_json, stdout


class CatalogKind(str, Enum):
    chips = "chips"
    systems = "systems"
    models = "models"
    prices = "prices"


_CATALOG_COLUMNS = {
    "chips": [("peak_bf16_flops", 1e12, "BF16 TF/s"), ("peak_fp8_flops", 1e12, "FP8 TF/s"), ("hbm_bytes", 1e9, "HBM GB"),
              ("hbm_bw_bytes_per_s", 1e12, "HBM TB/s"), ("scaleup_bw_bytes_per_s", 1e9, "scale-up GB/s"),
              ("tdp_w", 1, "TDP W"), ("available", None, "available")],
    "systems": [("chip", None, "chip"), ("chips_per_node", 1, "per node"), ("chips_per_scaleup", 1, "scale-up"),
                ("it_w_per_chip", 1, "IT W/chip"), ("node_power_w", 1e3, "node kW")],
    "models": [("params_total", 1e9, "params B"), ("params_active", 1e9, "active B"), ("layers", 1, "layers"),
               ("d_model", 1, "d_model"), ("attention", None, "attn"), ("moe_experts", 1, "experts")],
    "prices": [("chip", None, "chip"), ("instance", None, "instance"), ("list_usd_per_chip_h", 1, "list $/h"),
               ("committed_usd_per_chip_h", 1, "committed $/h")],
}


def _catalog_rows(kind: str) -> list[dict]:
    from gigawatt import catalog
    from gigawatt.power import it_power_w_per_chip

    rows = []
    for entry in catalog.load(kind).values():
        row = entry.model_dump(mode="json")
        if kind == "systems":
            chip = catalog.get_chip(entry.chip)
            row["it_w_per_chip"] = float(it_power_w_per_chip(chip.tdp_w, entry.host_power_w or 0.0,
                                                             entry.node_other_power_w or 0.0, entry.chips_per_node,
                                                             entry.network_power_w_per_chip or 0.0))
        row["estimated_fields"] = sorted(f for f in type(entry).numeric_fields() if getattr(entry, f) is not None
                                         and entry.is_estimate(f))
        rows.append(row)
    return rows


def catalog_cmd(
    kind: CatalogKind = typer.Argument(..., help="Which catalog to list."),
    json_out: bool = typer.Option(False, "--json", help="Print the entries as JSON (SI units), with provenance."),
) -> None:
    """List the catalog: chips, systems, models or prices, with sources. Values marked * are estimates."""
    from gigawatt.errors import GigawattError

    try:
        rows = _catalog_rows(kind.value)
    except GigawattError as exc:
        fail(str(exc))
    if json_out:
        print_json(rows, indent=1)
        return
    from rich.table import Table

    table = Table(title=f"catalog: {kind.value} ({len(rows)})", title_justify="left")
    table.add_column("id")
    cols = _CATALOG_COLUMNS[kind.value]
    for _, _, label in cols:
        table.add_column(label, justify="right")
    table.add_column("source", overflow="fold", max_width=60)
    for row in rows:
        cells = []
        for key, scale, _ in cols:
            value = row.get(key)
            if value is None:
                cells.append("-")
            elif scale is None:
                cells.append(str(value))
            else:
                text = f"{value / scale:,.4g}" if abs(value / scale) < 1e5 else f"{value / scale:,.0f}"
                cells.append(text + ("*" if key in row["estimated_fields"] else ""))
        est = " (estimate)" if row.get("estimate") else ""
        table.add_row(row["id"], *cells, (row["source"] + est))
    stdout().print(table)


def register(main: typer.Typer) -> None:
    main.command("catalog")(catalog_cmd)
