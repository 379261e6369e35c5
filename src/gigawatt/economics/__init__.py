"""Money: prices, commitments and what a budget buys (the buyer's view).

The provider's TCO and the two-party deal ledger come in later modules of this
package; every function here is a plain vectorized function on SI floats.
"""

from gigawatt.economics.buyer import (
    chip_hours_for_budget,
    commitment_shortfall_usd,
    implied_usd_per_chip_hour,
    implied_usd_per_gw_year,
    price_usd_per_chip_h,
    spend_usd,
)

__all__ = [
    "chip_hours_for_budget",
    "commitment_shortfall_usd",
    "implied_usd_per_chip_hour",
    "implied_usd_per_gw_year",
    "price_usd_per_chip_h",
    "spend_usd",
]
