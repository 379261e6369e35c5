"""The shipped scenarios' summaries against their stored golden copies.

The run is deterministic for a given seed, so figures must match to 1e-9
relative (room for floating-point differences between numpy builds only).
A change meant to move the results regenerates the copies with
``python scripts/regenerate_golden.py`` and the diff is reviewed.
"""

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("regenerate_golden", ROOT / "scripts" / "regenerate_golden.py")
golden = importlib.util.module_from_spec(spec)
spec.loader.exec_module(golden)


def compare(got, want, path="summary"):
    if isinstance(want, dict):
        assert isinstance(got, dict) and set(got) == set(want), f"{path}: keys differ"
        for k in want:
            compare(got[k], want[k], f"{path}.{k}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), f"{path}: lengths differ"
        for i, (g, w) in enumerate(zip(got, want)):
            compare(g, w, f"{path}[{i}]")
    elif isinstance(want, float):
        assert got == pytest.approx(want, rel=1e-9, abs=1e-12), path
    else:
        assert got == want, path


@pytest.mark.parametrize("name", golden.SCENARIOS)
def test_summary_matches_golden(name):
    want = json.loads((ROOT / "tests" / "golden" / f"{name}.summary.json").read_text())
    got = json.loads(json.dumps(golden.golden_summary(name)))
    compare(got, want)
