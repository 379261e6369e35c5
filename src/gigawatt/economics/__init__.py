"""Money: prices, commitments, the provider's TCO and the two-party deal ledger.

Every function here is a plain vectorized function on SI floats:
:mod:`~gigawatt.economics.buyer` (prices, spend, implied figures),
:mod:`~gigawatt.economics.tco` (capex, depreciation, power, levelized cost),
:mod:`~gigawatt.economics.finance` (NPV, IRR). The scenario-level ledger is
:func:`gigawatt.economics.ledger.build_ledger` (imported from its module, as it
reads the catalog and the cost defaults).
"""

from gigawatt.economics.buyer import (
    chip_hours_for_budget,
    commitment_shortfall_usd,
    implied_usd_per_chip_hour,
    implied_usd_per_gw_year,
    price_usd_per_chip_h,
    spend_usd,
)
from gigawatt.economics.finance import discount_factor, irr, npv_usd
from gigawatt.economics.tco import (
    breakeven_utilization,
    capital_recovery_factor,
    energy_cost_usd,
    levelized_cost_usd_per_chip_h,
    straight_line_depreciation_usd,
)

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
