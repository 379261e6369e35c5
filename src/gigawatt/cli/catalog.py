"""``gigawatt catalog chips|systems|models|prices``: the catalog with its sources."""

from __future__ import annotations

from enum import Enum

import typer

from gigawatt.cli import formats as fmt
from gigawatt.cli.common import cell, fail, print_json, stdout
from gigawatt.cli.tables import WIDE_HINT, WIDE_OPTION, Column, make_table, show


class CatalogKind(str, Enum):
    chips = "chips"
    systems = "systems"
    models = "models"
    prices = "prices"


_CATALOG_COLUMNS = {
    "chips": [("peak_bf16_flops", 1e12, "BF16\nTF/s"), ("peak_fp8_flops", 1e12, "FP8\nTF/s"),
              ("hbm_bytes", 1e9, "HBM\nGB"), ("hbm_bw_bytes_per_s", 1e12, "HBM\nTB/s"),
              ("scaleup_bw_bytes_per_s", 1e9, "scale-up\nGB/s"), ("tdp_w", 1, "TDP\nW"), ("available", None, "from"),
              ("training_stack", None, "train\nstack"), ("measured_short", None, "measured\nrows")],
    "systems": [("chip", None, "chip"), ("chips_per_node", 1, "per\nnode"), ("chips_per_scaleup", 1, "scale-\nup"),
                ("it_w_per_chip", 1, "IT W/\nchip"), ("node_power_w", 1e3, "node\nkW")],
    "models": [("params_total", 1e9, "params\nB"), ("params_active", 1e9, "active\nB"), ("layers", 1, "layers"),
               ("d_model", 1, "d_model"), ("attention", None, "attn"), ("moe_experts", 1, "experts")],
    "prices": [("chip", None, "chip"), ("instance", None, "instance"), ("list_usd_per_chip_h", 1, "list\n$/h"),
               ("committed_usd_per_chip_h", 1, "committed\n$/h")],
}
#: shown only with --wide
_WIDE_ONLY = {"scaleup_bw_bytes_per_s", "training_stack"}
#: the narrowest the source column folds to by default [columns]; with --wide it takes up to 60
_SOURCE_MIN_WIDTH = 16


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
        if kind == "chips" and entry.kind == "accelerator" and entry.family:
            row.update(_performance_basis(entry.id))
        rows.append(row)
    return rows


def _performance_basis(chip: str) -> dict:
    """What the chip's training and serving predictions rest on, and their 80% intervals (dense models)."""
    from gigawatt.perf.calibration import prediction_basis, prediction_interval

    out: dict = {"prediction_basis": {}}
    short = []
    for kind in ("training", "serving"):
        basis = prediction_basis(chip, kind)
        iv = prediction_interval(chip, moe=False, kind=kind)
        basis["interval_80"] = {"low_factor": iv["low_factor"], "high_factor": iv["high_factor"],
                                "basis": iv["basis"], "widened": iv["widened"]}
        out["prediction_basis"][kind] = basis
        if basis["measured_rows"]:
            short.append(f"{kind}: {basis['measured_rows']} rows")
        else:
            fam = basis["factors"][0]
            rows = f"{fam['rows']} {basis['family']} rows" if fam["rows"] else "the prior"
            short.append(f"{kind}: none; {rows} + datasheet, interval x{iv['low_factor']:.2f}-{iv['high_factor']:.2f}")
    out["measured"] = "; ".join(short)
    counts = [out["prediction_basis"][k]["measured_rows"] for k in ("training", "serving")]
    # published training/serving rows of the chip; with none of a kind its predictions rest on its family's
    # rows and the datasheet, with a wider interval (--wide and --json say which)
    out["measured_short"] = "/".join(str(n) for n in counts)
    return out


def catalog_cmd(
    kind: CatalogKind = typer.Argument(..., help="Which catalog to list."),
    json_out: bool = typer.Option(False, "--json", help="Print the entries as JSON (SI units), with provenance."),
    wide: bool = WIDE_OPTION,
) -> None:
    """List the catalog: chips, systems, models or prices, with sources. Values marked * are estimates.

    Chips show their default training stack and their published training/serving rows; a chip with
    none of a kind is predicted from its family's rows and its datasheet, with a wider interval
    (``--json``: ``prediction_basis`` names the rows and factors, ``measured`` says it in words).
    """
    from gigawatt.errors import GigawattError

    try:
        rows = _catalog_rows(kind.value)
    except GigawattError as exc:
        fail(str(exc))
    if json_out:
        print_json(rows, indent=1)
        return

    def value(key, scale):
        def text(row):
            v = row.get(key)
            if v is None:
                return fmt.MISSING
            if scale is None:
                return cell(v)
            return fmt.sig(v / scale) + ("*" if key in row["estimated_fields"] else "")
        return text

    columns = [Column("id", lambda row: cell(row["id"]), right=False)]
    columns += [Column(label, value(key, scale), right=scale is not None, wide=key in _WIDE_ONLY)
                for key, scale, label in _CATALOG_COLUMNS[kind.value]]
    columns.append(Column("source", lambda row: cell(row["source"] + (" (estimate)" if row.get("estimate") else "")),
                          right=False))
    shown = [c for c in columns if wide or not c.wide]
    table = make_table(f"catalog: {kind.value} ({len(rows)})", shown, rows,
                       caption=WIDE_HINT if len(shown) < len(columns) else None)
    *figures, source = table.columns
    for col in figures:
        col.no_wrap = True  # only the source folds
    source.overflow, source.max_width = "fold", 60
    source.min_width = None if wide else _SOURCE_MIN_WIDTH
    show(stdout(), table, wide)


def register(main: typer.Typer) -> None:
    main.command("catalog")(catalog_cmd)
