"""Results of a run: yearly summary, implied economics, and files on disk.

Presentation-free: numbers stay in SI here; the CLI formats GW, TWh and $B.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gigawatt import __version__
from gigawatt.economics import buyer
from gigawatt.fleet.buildout import BINDING, Fleet


def _year_mode(codes: np.ndarray) -> str:
    """The binding constraint of most months in a year; ties go to the later month."""
    counts = np.bincount(codes, minlength=len(BINDING))
    best = counts.max()
    for code in codes[::-1]:
        if counts[code] == best:
            return BINDING[int(code)]
    return "none"


@dataclass
class RunSummary:
    """The per-year table and totals of one run (sample 0 where there are several)."""

    scenario: str
    seed: int
    years: list[dict[str, Any]]
    totals: dict[str, float]
    implied: dict[str, float]
    notes: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "gigawatt_version": __version__,
            "seed": self.seed,
            "years": self.years,
            "totals": self.totals,
            "implied": self.implied,
            "notes": self.notes,
        }


def summarize(scn, fleet: Fleet, sample: int = 0) -> RunSummary:
    """Per-year figures, totals and the deal's implied economics.

    Per year: IT and facility power installed at the year's last month [W],
    chips installed by generation then, peak FLOP/s then, spend and energy at
    full load summed over the year's months, and the binding constraint of most
    of its months. The implied figures divide the commitment by what was
    installed during its term: chip-hours, and IT GW-years.
    """
    months = np.array(fleet.months)
    years = np.array([int(m[:4]) for m in months])
    it_w = fleet.it_power_w()[sample].sum(axis=(1, 2))  # (period,)
    fac_w = fleet.facility_power_w()[sample].sum(axis=(1, 2))
    energized = fleet.energized_it_w[sample].sum(axis=1)
    chips = fleet.installed[sample].sum(axis=1)  # (period, chip)
    bf16 = fleet.peak_flops("bf16")[sample].sum(axis=(1, 2))
    fp8 = fleet.peak_flops("fp8")[sample].sum(axis=(1, 2))
    spend = fleet.spend_usd()[sample].sum(axis=(1, 2))
    energy = fleet.energy_j()[sample].sum(axis=(1, 2))
    binding = fleet.binding[sample]

    commitment = scn.deal.commitment.total_usd
    term = fleet.in_commitment
    min_per_year = scn.deal.commitment.min_per_year_usd
    rows = []
    cumulative = 0.0
    for year in np.unique(years):
        idx = np.nonzero(years == year)[0]
        last = idx[-1]
        cumulative += float(spend[idx].sum())
        # take-or-pay: the minimum applies pro rata to the months of the year inside the term
        in_term_s = float(fleet.period_s[idx][term[idx]].sum())
        minimum = (min_per_year or 0.0) * in_term_s / buyer.SECONDS_PER_YEAR
        shortfall = float(buyer.commitment_shortfall_usd(float(spend[idx][term[idx]].sum()), minimum))
        rows.append(
            {
                "year": int(year),
                "it_power_w": float(it_w[last]),
                "facility_power_w": float(fac_w[last]),
                "energized_it_power_w": float(energized[last]),
                "chips": {c: int(round(chips[last, j])) for j, c in enumerate(fleet.chip_ids)},
                "chips_added": {c: int(round(fleet.added[sample][idx, :, j].sum())) for j, c in enumerate(fleet.chip_ids)},
                "peak_bf16_flops": float(bf16[last]),
                "peak_fp8_flops": float(fp8[last]),
                "spend_usd": float(spend[idx].sum()),
                "cumulative_spend_usd": cumulative,
                "energy_j": float(energy[idx].sum()),
                "binding": _year_mode(binding[idx]),
                "commitment_min_usd": minimum,
                "shortfall_usd": shortfall,
            }
        )

    chip_h = float((chips[term] * (fleet.period_s[term, None] / 3600.0)).sum())
    it_ws = float((it_w[term] * fleet.period_s[term]).sum())
    spend_term = float(spend[term].sum())
    notes = []
    term_months = int(round(scn.deal.commitment.term_s / (buyer.SECONDS_PER_YEAR / 12)))
    if int(term.sum()) < term_months:
        notes.append(
            f"the horizon covers {int(term.sum())} of the commitment's {term_months} months; "
            "implied figures use the covered months only"
        )
    totals = {
        "spend_usd": float(spend.sum()),
        "spend_in_commitment_term_usd": spend_term,
        "commitment_usd": float(commitment),
        "commitment_covered_share": spend_term / commitment,
        "energy_j": float(energy.sum()),
        "chip_hours_in_commitment_term": chip_h,
    }
    contract_price = spend_term / chip_h if chip_h > 0 else float("nan")
    totals["shortfall_usd"] = float(sum(r["shortfall_usd"] for r in rows))
    implied = {
        "usd_per_gw_year": buyer.implied_usd_per_gw_year(commitment, it_ws),
        "usd_per_chip_hour": buyer.implied_usd_per_chip_hour(commitment, chip_h),
        "contract_usd_per_chip_hour": contract_price,
        # what the commitment alone buys at the run's average contract price
        "commitment_buys_chip_hours": float(buyer.chip_hours_for_budget(commitment, contract_price))
        if chip_h > 0 else 0.0,
    }
    return RunSummary(scn.name, scn.seed, rows, totals, implied, notes)


def write_outputs(out_dir: str | Path, results: "Results") -> Path:
    """Write a run's files into ``out_dir``, replacing it only when all are written.

    Files: ``fleet.nc`` (netCDF, the ``(sample, period, site, chip[, workload])``
    arrays), ``summary.json``, ``years.csv`` (one row per year, for
    spreadsheets), ``training_runs.csv`` (one row per training run, when the
    scenario has demand), ``scenario.yaml`` (the file as given),
    ``scenario.resolved.json`` (every quantity in SI, defaults filled in) and
    ``manifest.json`` (version, seed, files). Files are written to a temporary
    folder next to ``out_dir`` and moved into place at the end, so an
    interrupted run leaves the previous results untouched.
    """
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; results are ordinary files
    try:
        results.dataset.to_netcdf(tmp / "fleet.nc")
        (tmp / "summary.json").write_text(json.dumps(results.summary, indent=2, default=jsonable) + "\n")
        chip_ids = [str(c) for c in results.dataset["chip"].values]
        _write_years_csv(tmp / "years.csv", results.summary, chip_ids)
        if results.events:
            results.events_frame().to_csv(tmp / "training_runs.csv", index=False)
        (tmp / "scenario.yaml").write_text(results.scenario_text)
        (tmp / "scenario.resolved.json").write_text(json.dumps(results.resolved, indent=2, default=jsonable) + "\n")
        manifest = {
            "gigawatt_version": results.version,
            "scenario": results.name,
            "seed": results.seed,
            "timings_s": results.timings_s,
            "files": sorted(p.name for p in tmp.iterdir()) + ["manifest.json"],
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        if out_dir.exists():
            backup = out_dir.with_name(f".{out_dir.name}.old")
            if backup.exists():
                shutil.rmtree(backup)
            os.replace(out_dir, backup)
            os.replace(tmp, out_dir)
            shutil.rmtree(backup, ignore_errors=True)
        else:
            os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def jsonable(value):
    """``json.dumps`` default for numpy scalars and arrays."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serializable: {type(value)}")


def _write_years_csv(path: Path, summary: dict, chip_ids: list[str]) -> None:
    import csv

    cols = ["year", "it_power_w", "facility_power_w", "energized_it_power_w", "peak_bf16_flops", "peak_fp8_flops",
            "spend_usd", "cumulative_spend_usd", "energy_j", "binding"]
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(cols + [f"chips_{c}" for c in chip_ids])
        for row in summary["years"]:
            writer.writerow([row[c] for c in cols] + [row["chips"][c] for c in chip_ids])


@dataclass
class Results:
    """Everything one run produced, with its provenance.

    Attributes
    ----------
    dataset : xarray.Dataset
        Monthly arrays with dimensions ``(sample, period, site, chip[, workload])``.
        Always present: ``installed``, ``added``, ``retired``, ``it_power_w``,
        ``facility_power_w``, ``spend_usd``, ``energy_j``, ``peak_bf16_flops``,
        ``peak_fp8_flops``, ``energized_it_w``, ``binding``, ``price_usd_per_chip_h``.
        With demand in the scenario, the simulation adds ``allocated``
        (chips per workload), ``power_drawn_w``, ``energy_drawn_j``,
        ``utilization``, ``inference_demand_tokens``, ``inference_served_tokens``,
        ``inference_unmet_tokens``, ``training_flop`` and ``cash_flow_usd`` and
        ``cash_flow_lines_usd`` (per party, from the deal ledger).
    events : list of dict
        One row per training run: ``name``, ``model``, ``chip``, ``site``,
        ``chips``, ``start``, ``finish``, ``deadline``, ``delay_days``, ``status``.
    summary : dict
        The JSON of ``gigawatt run --json``.
    scenario_text : str
        The scenario file as given.
    resolved : dict
        The scenario with every value in SI and defaults filled in.
    version : str
        The gigawatt version that produced it.
    seed : int
        The scenario's seed.
    timings_s : dict
        Wall time of each stage [s].
    """

    dataset: Any
    events: list
    summary: dict
    scenario_text: str
    resolved: dict
    version: str
    seed: int
    timings_s: dict

    @property
    def name(self) -> str:
        return str(self.summary.get("scenario", ""))

    def events_frame(self):
        """The events as a pandas DataFrame."""
        import pandas as pd

        cols = ["name", "model", "chip", "site", "chips", "start", "finish", "deadline", "delay_days", "status", "moves"]
        return pd.DataFrame(self.events, columns=cols)

    def to_frame(self, variable: str):
        """One variable of the dataset as a long pandas DataFrame."""
        return self.dataset[variable].to_dataframe().reset_index()


def resolved_scenario(scn, fleet: Fleet) -> dict:
    """The scenario with every value in SI, defaults and catalog lookups filled in."""
    resolved = scn.model_dump(mode="json")
    resolved["resolved_chips"] = [
        {"chip": c.chip, "system": c.system, "it_w_per_chip": c.it_w_per_chip,
         "lifetime_months": c.lifetime_months, "supply_per_year": None if np.isinf(c.supply_per_year) else c.supply_per_year}
        for c in fleet.chips
    ]
    return resolved


def _ledger(scn, fleet: Fleet) -> dict | None:
    """The deal ledger's JSON and its monthly net cash flow per party, as a dataset."""
    import xarray as xr

    from gigawatt.economics.ledger import build_ledger, ledger_json

    ledger = build_ledger(scn, fleet)
    net = np.stack([ledger.net_usd("lab"), ledger.net_usd("provider")], axis=-1)  # (sample, period, party)
    flows = list(dict.fromkeys([*ledger.lab, *ledger.provider]))
    lines = np.zeros(net.shape + (len(flows),))
    for p, party_lines in enumerate((ledger.lab, ledger.provider)):
        for f, name in enumerate(flows):
            if name in party_lines:
                lines[:, :, p, f] = party_lines[name]
    ds = xr.Dataset(
        {"cash_flow_usd": (("sample", "period", "party"), net,
                           {"units": "USD", "long_name": "net cash flow of each party (positive: money in)"}),
         "cash_flow_lines_usd": (("sample", "period", "party", "flow"), lines,
                                 {"units": "USD", "long_name": "cash flow of each party by ledger line"})},
        coords={"party": ["lab", "provider"], "flow": flows},
    )
    return {"dataset": ds, "json": ledger_json(scn, fleet, detail=False, ledger=ledger)}


def build_results(scn, fleet: Fleet, scenario_text: str, timings_s: dict | None = None, simulation=None) -> Results:
    """Bundle a run into :class:`Results` (buildout only, or with a simulation)."""
    summary = summarize(scn, fleet)
    ds = fleet.to_dataset()
    events: list = []
    out = summary.to_dict()
    ledger = _ledger(scn, fleet)
    if ledger is not None:
        ds = ds.merge(ledger["dataset"])
        out["ledger"] = ledger["json"]
    if simulation is not None:
        ds = ds.merge(simulation.to_dataset())
        events = simulation.events()
        extra = simulation.summary_dict()
        by_year = {row["year"]: row for row in extra["inference"]["years"]}
        for row in out["years"]:
            sim_year = by_year.get(row["year"], {})
            row["inference_served_share"] = sim_year.get("served_share")
            row["idle_share"] = sim_year.get("idle_share")
        out.update(extra)
    return Results(
        dataset=ds,
        events=events,
        summary=out,
        scenario_text=scenario_text,
        resolved=resolved_scenario(scn, fleet),
        version=__version__,
        seed=scn.seed,
        timings_s=dict(timings_s or {}),
    )
