"""Regenerate the golden summaries that tests/test_golden.py compares against.

Run after a change that is meant to move the results (a calibration, a catalog
figure, a scenario assumption), then review the diff of tests/golden/ before
committing it:

    python scripts/regenerate_golden.py
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden"
SCENARIOS = ["anthropic-aws-2026", "nvidia-gb-contrast-2026"]


def golden_summary(name: str) -> dict:
    """The parts of a run's summary that the golden test pins."""
    import gigawatt

    summary = gigawatt.run(ROOT / "scenarios" / f"{name}.yaml").summary()
    keep_year = ["year", "it_power_w", "facility_power_w", "chips", "peak_bf16_flops", "spend_usd", "energy_j",
                 "binding", "inference_served_share", "idle_share"]
    return {
        "scenario": summary["scenario"],
        "years": [{k: y.get(k) for k in keep_year} for y in summary["years"]],
        "commitment_buys": summary["commitment_buys"],
        "totals": summary["totals"],
        "implied": summary["implied"],
        "training_runs": summary.get("training_runs", []),
        "inference_served_share": (summary.get("inference") or {}).get("served_share"),
        "tool_hosts": summary.get("tool_hosts"),
    }


def main() -> None:
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for name in SCENARIOS:
        out = GOLDEN / f"{name}.summary.json"
        out.write_text(json.dumps(golden_summary(name), indent=1, sort_keys=True) + "\n")
        print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
