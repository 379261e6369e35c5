"""The two-stage plan under uncertainty, against the newsvendor solved by hand."""

import textwrap

import numpy as np
import pytest
import yaml

import gigawatt
from gigawatt.optimize import two_stage
from gigawatt.scenario.inputs import resolve

# one chip, one month (January 2026, 744 h), inference only, flat over the day; three equally likely
# cases of demand: 1, 2 and 3 billion tokens a day. A chip-month costs c = $744; the tokens are priced
# (from the performance model's rate rho) so that it serves v rho s = $750 of them where there is demand.
NEWSVENDOR = textwrap.dedent("""\
    schema_version: 1
    name: newsvendor
    horizon: {start: 2026-01, end: 2026-01}
    deal:
      commitment: {total: $1, start: 2026-01, term: 1 month}
    sites:
      - {name: a, pue: 1.2, energized: {2026-01: 1 MW}}
    roadmap:
      - {chip: trainium2, system: trn2-48xlarge, unit: chip, from: 2025-01, lifetime: 5 years}
    prices:
      trainium2: $1.00/h
    economics: {discount: 0%}
    optimize: {unmet_inference: $0.05}
    demand:
      inference:
        - {name: s, model: llama3.1-70b, tokens_per_day: 1e9, at: 2026-01, input_tokens: 900, output_tokens: 100,
           peak_to_mean: 1}
    """)


def test_newsvendor_by_hand():
    from gigawatt.optimize import check_inputs

    doc = yaml.safe_load(NEWSVENDOR)
    rho = check_inputs(resolve(gigawatt.load(doc)), period="month").inference_rate[0, 0] / 0.1  # tokens/s per chip
    seconds = 744 * 3600.0
    # price the tokens so that a chip-month serves $750 of them, whatever the performance model's rate
    price = float(750.0 / (rho * seconds) * 1e6)  # USD per million tokens
    cases = [resolve(gigawatt.load(doc, set={"demand.inference[0].tokens_per_day": v,
                                             "optimize.unmet_inference": f"${price!r}"}))
             for v in ("1e9", "2e9", "3e9")]
    r = two_stage(cases, period="month")
    n_low = 1e9 * 31 / (rho * seconds)  # chips that serve the low case's month
    c, value = 744.0, price * 1e-6 * rho * seconds
    assert c < value < 1.5 * c  # the case is built so: a chip pays only where it is used in 2 cases of 3 or more
    # a chip beyond n_low is used in 2 cases of 3: worth 2/3 * 750 = $500 < $744, so the plan stops at n_low
    assert r.installed[0, 0, 0] == pytest.approx(n_low, rel=1e-6)
    assert r.median_case == 1
    # the median case alone buys n_mid = 2 n_low (a chip-month worth $750 > $744 there); held fixed, its
    # n_low extra chips each cost $744 and earn $750 in 2 cases of 3
    assert r.vss_usd == pytest.approx(n_low * (c - 2.0 / 3.0 * value), rel=1e-6)
    assert r.vss_usd > 0
    np.testing.assert_allclose(r.served_share, [1.0, 0.5, 1.0 / 3.0], rtol=1e-6)
