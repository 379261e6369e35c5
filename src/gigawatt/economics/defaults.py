"""Sourced cost defaults of the provider: the ``economics/data/costs.yaml`` file.

Each number carries ``source``, ``as_of`` and ``estimate``; :func:`cost_defaults`
parses the unit strings into SI floats once and keeps the provenance beside them,
so that the ledger can say where every default came from.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from gigawatt.errors import CatalogError

__all__ = ["CostDefaults", "Sourced", "cost_defaults", "power_price_regions"]

#: field -> dimension for gigawatt.units.parse ("fraction" is a plain share)
_DIMENSIONS = {
    "build_cost_usd_per_w": "money_per_power",
    "datacenter_life_s": "time",
    "it_capex_usd_per_w": "money_per_power",
    "opex_usd_per_w_year": "money_per_power",
    "maintenance_share_per_year": "fraction",
    "power_load_factor": "fraction",
    "discount_provider": "fraction",
    "discount_lab": "fraction",
    "epoch_tco_usd_per_w_year": "money_per_power",
}


@dataclass(frozen=True)
class Sourced:
    """One default: its SI value and where it comes from."""

    value: float
    source: str
    as_of: str
    estimate: bool = False
    notes: str | None = None


@dataclass(frozen=True)
class CostDefaults:
    """All cost defaults, parsed; ``values[name]`` etc. are :class:`Sourced`."""

    values: dict[str, Sourced]
    capex_per_chip_usd: dict[str, Sourced] = field(default_factory=dict)
    power_price_usd_per_mwh: dict[str, Sourced] = field(default_factory=dict)

    def __getitem__(self, name: str) -> float:
        return self.values[name].value


def _parse(raw: Any, dimension: str, where: str) -> Sourced:
    from gigawatt import units

    if not isinstance(raw, dict) or "value" not in raw or "source" not in raw or "as_of" not in raw:
        raise CatalogError(f"economics/data/costs.yaml: {where} needs value, source and as_of")
    if dimension == "fraction":
        value = units.parse_fraction(raw["value"], field=where)
    else:
        value = units.parse(raw["value"], dimension, field=where)
    return Sourced(value, str(raw["source"]), str(raw["as_of"]), bool(raw.get("estimate", False)), raw.get("notes"))


@functools.cache
def cost_defaults() -> CostDefaults:
    """The provider's cost defaults, parsed to SI (cached).

    Returns
    -------
    CostDefaults
        ``build_cost_usd_per_w`` [USD/W], ``datacenter_life_s`` [s],
        ``it_capex_usd_per_w`` [USD/W], ``opex_usd_per_w_year`` [USD/(W year)],
        ``maintenance_share_per_year`` [1/year], ``power_load_factor`` [1],
        ``discount_provider``, ``discount_lab`` [1/year],
        ``epoch_tco_usd_per_w_year`` [USD/(W year)]; per chip
        ``capex_per_chip_usd`` [USD]; per region ``power_price_usd_per_mwh``
        [USD/MWh].

    Examples
    --------
    >>> cost_defaults()["build_cost_usd_per_w"]
    11.0
    """
    from gigawatt.datafiles import load_yaml

    path = resources.files("gigawatt.economics") / "data" / "costs.yaml"
    try:
        doc = load_yaml(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CatalogError("economics/data/costs.yaml is missing from the installed package") from None
    if not isinstance(doc, dict) or doc.get("schema") != "costs":
        raise CatalogError("economics/data/costs.yaml must be a mapping with 'schema: costs'")
    defaults = doc.get("defaults") or {}
    missing = sorted(set(_DIMENSIONS) - set(defaults))
    if missing:
        raise CatalogError(f"economics/data/costs.yaml: defaults lack {', '.join(missing)}")
    values = {name: _parse(defaults[name], dim, f"defaults.{name}") for name, dim in _DIMENSIONS.items()}
    chips = {k: _parse(v, "money", f"capex_per_chip_usd.{k}") for k, v in (doc.get("capex_per_chip_usd") or {}).items()}
    prices = {k: _parse(v, "price_per_energy", f"power_price_usd_per_mwh.{k}")
              for k, v in (doc.get("power_price_usd_per_mwh") or {}).items()}
    return CostDefaults(values, chips, prices)


def power_price_regions() -> list[str]:
    """Region keys a scenario may name for a site's power price."""
    return sorted(cost_defaults().power_price_usd_per_mwh)
