"""Money: prices, commitments, the provider's TCO and the two-party deal ledger.

Every function here is a plain vectorized function on SI floats:
:mod:`~gigawatt.economics.buyer` (prices, spend, implied figures),
:mod:`~gigawatt.economics.tco` (capex, depreciation, power, levelized cost),
:mod:`~gigawatt.economics.finance` (NPV, IRR). The scenario-level ledger is
:func:`gigawatt.economics.ledger.build_ledger` (imported from its module, as it
reads the catalog and the cost defaults).
"""

_HOMES = {
    "chip_hours_for_budget": "buyer", "commitment_shortfall_usd": "buyer", "implied_usd_per_chip_hour": "buyer",
    "implied_usd_per_gw_year": "buyer", "price_usd_per_chip_h": "buyer", "spend_usd": "buyer",
    "discount_factor": "finance", "irr": "finance", "npv_usd": "finance",
    "breakeven_utilization": "tco", "capital_recovery_factor": "tco", "energy_cost_usd": "tco",
    "levelized_cost_usd_per_chip_h": "tco", "straight_line_depreciation_usd": "tco",
}


def __getattr__(name):
    """The functions above, imported from their modules on first use (numpy loads only then)."""
    if name in _HOMES:
        import importlib

        return getattr(importlib.import_module(f"gigawatt.economics.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'gigawatt.economics' has no attribute {name!r}")


__all__ = [
    "breakeven_utilization",
    "capital_recovery_factor",
    "chip_hours_for_budget",
    "commitment_shortfall_usd",
    "discount_factor",
    "energy_cost_usd",
    "implied_usd_per_chip_hour",
    "implied_usd_per_gw_year",
    "irr",
    "levelized_cost_usd_per_chip_h",
    "npv_usd",
    "price_usd_per_chip_h",
    "spend_usd",
    "straight_line_depreciation_usd",
]
