"""Headlines that mean what they say: what the commitment buys, no implied price from a floor under a larger
spend, one rule for the binding label, and impossible figures as words."""

import pytest

import gigawatt
from gigawatt.results import _commitment_buys

YEAR_S = 365.25 * 86400


def test_what_the_commitment_buys_by_hand():
    # $100 buys, at $200 spent for 50 chip-hours and 2 GW over a year, a quarter of it: 12.5 chip-hours
    # and 0.5 GW-years, which is 0.5 / (4 GW x 1 year) = 12.5% of the cap held over the term
    b = _commitment_buys(100.0, 50.0, 2e9 * YEAR_S, 200.0, 2e9 * YEAR_S, 4e9, YEAR_S)
    assert b["chip_hours"] == pytest.approx(25.0)
    assert b["gw_years"] == pytest.approx(1.0)
    assert b["cap_share_over_term"] == pytest.approx(0.25)
    assert b["spend_beyond_usd"] == pytest.approx(100.0)


@pytest.fixture(scope="module")
def flagship():
    return gigawatt.run("anthropic-aws-2026").summary()


def test_flagship_leads_with_what_the_commitment_buys(flagship):
    buys, t, imp = flagship["commitment_buys"], flagship["totals"], flagship["implied"]
    # the commitment over the term's average contract price
    assert buys["chip_hours"] == pytest.approx(t["commitment_usd"] / imp["contract_usd_per_chip_hour"], rel=1e-9)
    assert buys["spend_beyond_usd"] == pytest.approx(t["spend_in_commitment_term_usd"] - t["commitment_usd"])
    # the ledger's share of the cap paid by the commitment is the same figure
    assert buys["cap_share_over_term"] == pytest.approx(flagship["ledger"]["capacity_cap_share_paid_by_commitment"])
    # a hand check of the issue: 12-20 GW-years, about 29% of 5 GW over ten years
    assert 12 < buys["gw_years"] < 20 and 0.25 < buys["cap_share_over_term"] < 0.35


def test_no_implied_price_from_a_floor_under_a_larger_spend(flagship):
    assert flagship["totals"]["spend_in_commitment_term_usd"] > flagship["totals"]["commitment_usd"]
    assert flagship["implied"]["usd_per_chip_hour"] is None and flagship["implied"]["usd_per_gw_year"] is None
    assert any("exceeds the commitment" in n for n in flagship["notes"])
    assert flagship["ledger"]["implied_usd_per_chip_hour"] is None
    # where spend stays under the commitment the implied price stands, above the contract price
    iren = gigawatt.run("microsoft-iren-2025").summary()
    assert iren["implied"]["usd_per_chip_hour"] > iren["implied"]["contract_usd_per_chip_hour"]


def test_binding_labels_by_one_rule():
    iren = gigawatt.run("microsoft-iren-2025").summary()
    # IT power sits at the 200 MW cap from 2027 and the roadmap offers no more GB300: the cap binds
    assert [y["binding"] for y in iren["years"]][:5] == ["power", "cap", "cap", "cap", "cap"]
    assert {y["binding"] for y in iren["years"]} <= {"power", "supply", "spend_limit", "cap", "none"}


def test_flagship_spend_limit_is_named_as_such(flagship):
    labels = [y["binding"] for y in flagship["years"]]
    assert "money" not in labels and "spend_limit" in labels


def test_impossible_break_even_is_words(flagship):
    provider = flagship["ledger"]["provider"]
    if provider["breakeven_utilization"] is None:
        assert provider["breakeven_note"] == "never at these prices"
    else:
        assert 0 <= provider["breakeven_utilization"] <= 1
