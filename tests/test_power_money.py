"""The power chain and the buyer's money, each against a number worked by hand."""

import numpy as np
import pytest

from gigawatt import power
from gigawatt.economics import buyer


def test_it_power_per_chip_dgx_h100():
    # 8 x 700 W GPUs; host 3,000 W and fans/PSU 1,600 W per node; 25 W of fabric per GPU:
    # 700 + 4600/8 + 25 = 1300 W
    assert power.it_power_w_per_chip(700.0, 3000.0, 1600.0, 8, 25.0) == pytest.approx(1300.0)


def test_it_power_vectorized():
    out = power.it_power_w_per_chip(np.array([500.0, 700.0]), 1600.0, 0.0, np.array([16, 8]))
    assert out.tolist() == [600.0, 900.0]


def test_chips_in_power_rounds_down():
    # 1 GW / 1,300 W = 769,230.77 -> 769,230 whole chips
    assert float(power.chips_in_power(1e9, 1300.0)) == 769230.0
    assert float(power.chips_in_power(-5.0, 1300.0)) == 0.0
    # exactly divisible stays exact despite floating point: 3 chips of 0.1 W in 0.3 W
    assert float(power.chips_in_power(0.3, 0.1)) == 3.0


def test_facility_power_and_energy():
    assert float(power.facility_power_w(2e9, 1.15)) == pytest.approx(2.3e9)
    # 1 GW for a 30-day month = 720 GWh = 2.592e15 J
    assert float(power.energy_j(1e9, 30 * 86400)) == pytest.approx(2.592e15)


def test_energized_ramp_linear_and_step():
    months = np.arange(0, 25)
    lin = power.energized_power_w(months, [6, 18], [1e9, 2.2e9])
    assert lin[5] == 0.0  # before the first point
    assert lin[6] == 1e9
    assert lin[12] == pytest.approx(1.6e9)  # halfway between 1.0 and 2.2
    assert lin[24] == 2.2e9  # held after the last point
    step = power.energized_power_w(months, [6, 18], [1e9, 2.2e9], ramp="step")
    assert step[12] == 1e9 and step[18] == 2.2e9 and step[5] == 0.0


def test_price_decline_and_spend():
    # $2.00 falling 10% a year, 2.5 years later: 2 * 0.9**2.5 = 1.5367...
    assert float(buyer.price_usd_per_chip_h(2.0, 0.9, 2.5)) == pytest.approx(2.0 * 0.9**2.5)
    # before the base date the base price holds
    assert float(buyer.price_usd_per_chip_h(2.0, 0.9, -1.0)) == 2.0
    # 1M chips at $1.50 for a 31-day month = 1e6 * 1.5 * 744 h = $1.116B
    assert float(buyer.spend_usd(1e6, 1.5, 31 * 86400)) == pytest.approx(1.116e9)


def test_budget_and_implied_prices():
    assert float(buyer.chip_hours_for_budget(100e9, 1.25)) == pytest.approx(80e9)
    with pytest.raises(ValueError):
        buyer.chip_hours_for_budget(1.0, 0.0)
    assert buyer.implied_usd_per_chip_hour(100e9, 40e9) == pytest.approx(2.5)
    # 2 GW over 5 Julian years = 10 GW-years -> $10B per GW-year for $100B
    assert buyer.implied_usd_per_gw_year(100e9, 2e9 * 5 * buyer.SECONDS_PER_YEAR) == pytest.approx(10e9)
    assert np.isnan(buyer.implied_usd_per_chip_hour(1.0, 0.0))


def test_take_or_pay_shortfall():
    out = buyer.commitment_shortfall_usd([4e9, 10e9, 12e9], 10e9)
    assert out.tolist() == [6e9, 0.0, 0.0]
