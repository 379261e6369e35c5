import textwrap

import pytest

MINIMAL = textwrap.dedent(
    """\
    schema_version: 1
    name: tiny
    horizon: {start: 2026-01, end: 2027-12}
    seed: 3
    deal:
      commitment: {total: $10B, start: 2026-01, term: 2 years}
      capacity_cap: 1 GW
    sites:
      - name: a
        pue: 1.2
        energized: {2026-01: 100 MW, 2027-01: 600 MW}
    roadmap:
      - {chip: trainium2, system: trn2-48xlarge, from: 2025-01, lifetime: 5 years}
    prices:
      trainium2: $1.50/h
    """
)


@pytest.fixture
def minimal_text():
    return MINIMAL


@pytest.fixture
def write_scenario(tmp_path):
    def write(text, name="s.yaml"):
        path = tmp_path / name
        path.write_text(text)
        return path

    return write
