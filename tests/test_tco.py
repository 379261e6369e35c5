"""Provider TCO and discounting: hand-computed examples."""

import math

import numpy as np
import pytest

from gigawatt.economics import finance, tco
from gigawatt.economics.defaults import cost_defaults


def test_straight_line_depreciation_by_hand():
    # $1200 in month 0 and $600 in month 2, each over 3 months:
    # month 0: 400; 1: 400; 2: 400 + 200; 3: 200; 4: 200; then nothing
    dep = tco.straight_line_depreciation_usd([1200.0, 0.0, 600.0, 0.0, 0.0, 0.0, 0.0], 3)
    assert dep.tolist() == pytest.approx([400, 400, 600, 200, 200, 0, 0])
    assert dep.sum() == pytest.approx(1800.0)  # fully written off inside the horizon


def test_depreciation_lives_per_row():
    capex = np.array([[120.0, 0, 0, 0, 0, 0], [120.0, 0, 0, 0, 0, 0]])
    dep = tco.straight_line_depreciation_usd(capex, np.array([2, 4]))
    assert dep[0].tolist() == pytest.approx([60, 60, 0, 0, 0, 0])
    assert dep[1].tolist() == pytest.approx([30, 30, 30, 30, 0, 0])


def test_depreciation_beyond_horizon_leaves_book_value():
    dep = tco.straight_line_depreciation_usd([1000.0, 0.0, 0.0], 10)
    assert dep.sum() == pytest.approx(300.0)  # 700 still on the books


def test_energy_cost_one_mwh():
    assert float(tco.energy_cost_usd(3.6e9, 80.0)) == pytest.approx(80.0)


def test_capital_recovery_factor():
    assert tco.capital_recovery_factor(0.0, 5) == pytest.approx(0.2)
    # textbook value: 8% over 5 years -> 0.250456
    assert tco.capital_recovery_factor(0.08, 5) == pytest.approx(0.250456, abs=1e-6)


def test_levelized_cost_at_zero_rate_is_straight_line():
    # $8766 over one year, no opex, no discount: $1 per hour; half sold: $2 per sold hour
    assert tco.levelized_cost_usd_per_chip_h(8766.0, 1.0, 0.0, 0.0) == pytest.approx(1.0)
    assert tco.levelized_cost_usd_per_chip_h(8766.0, 1.0, 0.0, 0.0, utilization=0.5) == pytest.approx(2.0)


def test_breakeven_utilization():
    assert tco.breakeven_utilization(60.0, 100.0, 20.0) == pytest.approx(0.75)
    assert math.isinf(tco.breakeven_utilization(60.0, 10.0, 20.0))


def test_npv_by_hand():
    # -100 now, +50 in a year, +60 in two, at 10%: -100 + 45.4545 + 49.5868
    assert finance.npv_usd([-100.0, 50.0, 60.0], 0.10, [0.0, 1.0, 2.0]) == pytest.approx(-4.95868, abs=1e-5)


def test_npv_at_zero_is_plain_sum():
    flows = np.array([-5.0, 1.0, 2.0, 3.5, -0.5])
    assert finance.npv_usd(flows, 0.0, np.arange(5) / 12) == pytest.approx(flows.sum())


def test_npv_vectorized_over_samples():
    flows = np.array([[-100.0, 110.0], [-100.0, 121.0]])
    assert finance.npv_usd(flows, 0.10, [0.0, 1.0]) == pytest.approx([0.0, 10.0])


def test_irr_known_series():
    assert finance.irr([-100.0, 110.0], [0.0, 1.0]) == pytest.approx(0.10)
    # -1000 then 300 a year for 5 years: IRR 15.2382% (annuity tables)
    assert finance.irr([-1000.0] + [300.0] * 5, np.arange(6.0)) == pytest.approx(0.152382, abs=1e-6)


def test_irr_monthly_flows_solve_npv():
    t = np.arange(36) / 12.0
    flows = np.r_[-1000.0, np.full(35, 40.0)]
    r = finance.irr(flows, t)
    assert r is not None and finance.npv_usd(flows, r, t) == pytest.approx(0.0, abs=1e-6)


def test_irr_none_without_sign_change():
    assert finance.irr([100.0, 50.0], [0.0, 1.0]) is None
    assert finance.irr([0.0, 0.0], [0.0, 1.0]) is None


def test_cost_defaults_are_sourced():
    d = cost_defaults()
    for group in (d.values, d.capex_per_chip_usd, d.power_price_usd_per_mwh):
        for name, s in group.items():
            assert s.source and s.as_of, name
    assert d["build_cost_usd_per_w"] == pytest.approx(11.0)  # $11M/MW
    assert d["epoch_tco_usd_per_w_year"] == pytest.approx(8.5)  # $8.5M per MW-year
    assert d.power_price_usd_per_mwh["indiana"].value == pytest.approx(80.5)
    assert d.values["it_capex_usd_per_w"].estimate


def test_irr_uneven_periods_uses_brent_and_solves_npv():
    t = [0.0, 0.5, 2.0]
    r = finance.irr([-100.0, 50.0, 60.0], t)
    assert r is not None and finance.npv_usd([-100.0, 50.0, 60.0], r, t) == pytest.approx(0.0, abs=1e-8)


def test_irr_lowest_of_several_roots():
    # -100, +230, -132: NPV zero at 10% and 20%
    assert finance.irr([-100.0, 230.0, -132.0], [0.0, 1.0, 2.0]) == pytest.approx(0.10)
