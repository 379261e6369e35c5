"""Results of a run: yearly summary, implied economics, several samples summarized; the results object.

Its folder on disk is :mod:`gigawatt.outputs`.

Presentation-free: numbers stay in SI here; the CLI formats GW, TWh and $B.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gigawatt import __version__
from gigawatt.arrays import ArrayData
from gigawatt.economics import buyer
from gigawatt.fleet.buildout import BINDING, Fleet
from gigawatt.units import months_in, year_of


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
    commitment_buys: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "gigawatt_version": __version__,
            "seed": self.seed,
            "years": self.years,
            "commitment_buys": self.commitment_buys,
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

    Parameters
    ----------
    scn : Inputs or Scenario
        Its name, seed and ``deal.commitment`` (total [USD], term [s], yearly minimum [USD]).
    fleet : Fleet
        The buildout.
    sample : int
        Which sample.

    Returns
    -------
    RunSummary
        The rows of :func:`_year_rows`, the totals of :func:`_totals` and the
        implied figures of :func:`_implied`, with notes.
    """
    series = _Series.of(fleet, sample)
    rows = _year_rows(scn, fleet, series, sample)
    totals, term, notes = _totals(scn, fleet, series, rows)
    chip_h, it_ws, spend_term, fac_ws, covered_s = term
    implied, implied_notes = _implied(scn.deal.commitment.total_usd, chip_h, it_ws, spend_term)
    cap_ws = fac_ws if scn.deal.capacity_basis == "facility" else it_ws
    buys = _commitment_buys(scn.deal.commitment.total_usd, chip_h, it_ws, spend_term, cap_ws,
                            scn.deal.capacity_cap_w, scn.deal.commitment.term_s)
    return RunSummary(scn.name, scn.seed, rows, totals, implied, notes + implied_notes, buys)


def _commitment_buys(commitment_usd: float, chip_h: float, it_ws: float, spend_term_usd: float, cap_basis_ws: float,
                     cap_w: float | None, term_s: float) -> dict[str, Any]:
    r"""What the commitment buys at the run's average contract prices in its term.

    Parameters
    ----------
    commitment_usd : float
        The commitment :math:`C` [USD].
    chip_h : float
        Chip-hours installed in the term :math:`H` [h].
    it_ws : float
        IT power installed times time in the term :math:`W` [W s].
    spend_term_usd : float
        Contract spend in the term :math:`S` [USD].
    cap_basis_ws : float
        Power installed times time in the term on the cap's basis (IT or facility) [W s].
    cap_w : float or None
        The deal's capacity cap [W].
    term_s : float
        The commitment's term :math:`T` [s] (the cap is held over all of it).

    Returns
    -------
    dict
        ``chip_hours`` [h], ``gw_years`` of IT [GW-year], ``cap_share_over_term``
        (the share of the cap held over the whole term that they are; the ledger's
        ``capacity_cap_share_paid_by_commitment``) [1],
        ``spend_beyond_usd`` [USD]; None where nothing was installed.

    Notes
    -----
    At the average contract price :math:`S/H` the commitment buys
    :math:`C H / S` chip-hours and :math:`C W / (S \cdot 10^9 \cdot 	ext{year})`
    GW-years; as a share of the cap held over the term,
    :math:`C W_{cap} / (S \, K \, T)`.

    Examples
    --------
    >>> b = _commitment_buys(100.0, 50.0, 2e9 * 3.15576e7, 200.0, 2e9 * 3.15576e7, 4e9, 3.15576e7)
    >>> b["chip_hours"], b["gw_years"], b["cap_share_over_term"], b["spend_beyond_usd"]
    (25.0, 1.0, 0.25, 100.0)
    """
    from gigawatt.units import SECONDS_PER_YEAR

    if not (chip_h > 0 and it_ws > 0 and spend_term_usd > 0):
        return {"chip_hours": None, "gw_years": None, "cap_share_over_term": None,
                "spend_beyond_usd": max(spend_term_usd - commitment_usd, 0.0)}
    share = commitment_usd / spend_term_usd
    return {
        "chip_hours": chip_h * share,
        "gw_years": it_ws * share / (1e9 * SECONDS_PER_YEAR),
        "cap_share_over_term": (cap_basis_ws * share / (cap_w * term_s)) if cap_w and term_s > 0 else None,
        "spend_beyond_usd": max(spend_term_usd - commitment_usd, 0.0),
    }


@dataclass
class _Series:
    """One sample's fleet totals per period, summed over sites (and chips where no chip axis is kept)."""

    it_w: np.ndarray  # (period,) IT power installed [W]
    fac_w: np.ndarray  # (period,) facility power installed [W]
    energized: np.ndarray  # (period,) energized IT power [W]
    energized_fac: np.ndarray  # (period,) energized facility power [W]
    chips: np.ndarray  # (period, chip) chips installed [1]
    bf16: np.ndarray  # (period,) peak BF16 [FLOP/s]
    fp8: np.ndarray  # (period,) peak FP8 [FLOP/s]
    spend: np.ndarray  # (period,) contract spend [USD]
    energy: np.ndarray  # (period,) facility energy at full load [J]
    binding: np.ndarray  # (period,) code of the binding constraint

    @classmethod
    def of(cls, fleet: Fleet, sample: int) -> "_Series":
        return cls(
            it_w=fleet.it_power_w()[sample].sum(axis=(1, 2)),
            fac_w=fleet.facility_power_w()[sample].sum(axis=(1, 2)),
            energized=fleet.energized_it_w[sample].sum(axis=1),
            energized_fac=fleet.energized_facility_w[sample].sum(axis=1),
            chips=fleet.installed[sample].sum(axis=1),
            bf16=fleet.peak_flops("bf16")[sample].sum(axis=(1, 2)),
            fp8=fleet.peak_flops("fp8")[sample].sum(axis=(1, 2)),
            spend=fleet.spend_usd()[sample].sum(axis=(1, 2)),
            energy=fleet.energy_j()[sample].sum(axis=(1, 2)),
            binding=fleet.binding[sample],
        )


def _year_rows(scn, fleet: Fleet, series: _Series, sample: int) -> list[dict[str, Any]]:
    """One row per calendar year: power, chips and peak FLOP/s at its last period; spend, energy, take-or-pay over it.

    Returns
    -------
    list of dict
        ``year``, ``it_power_w``, ``facility_power_w``, ``energized_it_power_w``,
        ``energized_facility_power_w`` [W],
        ``chips`` and ``chips_added`` by chip [1], ``peak_bf16_flops``, ``peak_fp8_flops``
        [FLOP/s], ``spend_usd``, ``cumulative_spend_usd`` [USD], ``energy_j`` [J],
        ``binding``, ``commitment_min_usd`` and ``shortfall_usd`` [USD] (:func:`_year_shortfall`).
    """
    years = fleet.periods.year
    rows = []
    cumulative = 0.0
    for year in np.unique(years):
        idx = np.nonzero(years == year)[0]
        last = idx[-1]
        cumulative += float(series.spend[idx].sum())
        minimum, shortfall = _year_shortfall(scn, fleet, series.spend, idx)
        rows.append(
            {
                "year": int(year),
                "it_power_w": float(series.it_w[last]),
                "facility_power_w": float(series.fac_w[last]),
                "energized_it_power_w": float(series.energized[last]),
                "energized_facility_power_w": float(series.energized_fac[last]),
                "chips": {c: int(round(series.chips[last, j])) for j, c in enumerate(fleet.chip_ids)},
                "chips_added": {c: int(round(fleet.added[sample][idx, :, j].sum()))
                                for j, c in enumerate(fleet.chip_ids)},
                "peak_bf16_flops": float(series.bf16[last]),
                "peak_fp8_flops": float(series.fp8[last]),
                "spend_usd": float(series.spend[idx].sum()),
                "cumulative_spend_usd": cumulative,
                "energy_j": float(series.energy[idx].sum()),
                "binding": _year_mode(series.binding[idx]),
                "commitment_min_usd": minimum,
                "shortfall_usd": shortfall,
            }
        )
    return rows


def _year_shortfall(scn, fleet: Fleet, spend: np.ndarray, idx: np.ndarray) -> tuple[float, float]:
    """Take-or-pay of one year: the minimum owed and the shortfall [USD].

    Parameters
    ----------
    scn : Inputs or Scenario
        Its ``deal.commitment.min_per_year_usd`` [USD/year] (none: no minimum).
    fleet : Fleet
        Its periods and commitment term.
    spend : ndarray, (period,)
        Contract spend [USD].
    idx : ndarray of int
        The year's periods.

    Returns
    -------
    minimum, shortfall : float
        [USD]

    Notes
    -----
    The minimum applies pro rata to the year's time inside the term:

    .. math:: m = M\\,\\frac{\\sum_{t \\in \\text{term}} \\Delta t}{\\text{year}}, \\qquad
              Y = \\max\\big(m - \\textstyle\\sum_{t \\in \\text{term}} S_t,\\; 0\\big)
    """
    term = fleet.in_commitment
    in_term_s = float(fleet.period_s[idx][term[idx]].sum())
    minimum = (scn.deal.commitment.min_per_year_usd or 0.0) * in_term_s / buyer.SECONDS_PER_YEAR
    shortfall = float(buyer.commitment_shortfall_usd(float(spend[idx][term[idx]].sum()), minimum))
    return minimum, shortfall


def _totals(scn, fleet: Fleet, series: _Series, rows: list[dict[str, Any]]):
    """Totals over the horizon and over the commitment's term.

    Returns
    -------
    totals : dict
        ``spend_usd``, ``spend_in_commitment_term_usd``, ``commitment_usd`` [USD],
        ``commitment_covered_share`` [1], ``energy_j`` [J],
        ``chip_hours_in_commitment_term`` [h], ``spend_beyond_commitment_usd`` (what the
    term's spend exceeds the commitment by, else 0), ``shortfall_usd`` [USD].
    term : tuple of float
        Chip-hours [h], IT watt-seconds [W s], spend [USD], facility watt-seconds [W s]
        and seconds covered [s] in the term, for :func:`_implied` and :func:`_commitment_buys`.
    notes : list of str
        When the horizon covers only part of the term.
    """
    term = fleet.in_commitment
    commitment = scn.deal.commitment.total_usd
    chip_h = float((series.chips[term] * (fleet.period_s[term, None] / buyer.SECONDS_PER_HOUR)).sum())
    it_ws = float((series.it_w[term] * fleet.period_s[term]).sum())
    fac_ws = float((series.fac_w[term] * fleet.period_s[term]).sum())
    spend_term = float(series.spend[term].sum())
    notes = list(getattr(fleet, "notes", None) or [])  # what the inputs rest on (Inputs.notes)
    term_months = months_in(scn.deal.commitment.term_s)
    if int(term.sum()) < term_months:
        notes.append(
            f"the horizon covers {int(term.sum())} of the commitment's {term_months} months; "
            "implied figures use the covered months only"
        )
    totals = {
        "spend_usd": float(series.spend.sum()),
        "spend_in_commitment_term_usd": spend_term,
        "commitment_usd": float(commitment),
        "commitment_covered_share": spend_term / commitment,
        "energy_j": float(series.energy.sum()),
        "chip_hours_in_commitment_term": chip_h,
        "spend_beyond_commitment_usd": max(spend_term - float(commitment), 0.0),
    }
    totals["shortfall_usd"] = float(sum(r["shortfall_usd"] for r in rows))
    covered_s = float(fleet.period_s[term].sum())
    return totals, (chip_h, it_ws, spend_term, fac_ws, covered_s), notes


def _implied(commitment_usd: float, chip_h: float, it_ws: float, spend_term_usd: float):
    """What the commitment implies per GW-year and per chip-hour of what was installed in its term.

    Parameters
    ----------
    commitment_usd : float
        The commitment :math:`C` [USD].
    chip_h : float
        Chip-hours installed in the term :math:`H` [h].
    it_ws : float
        IT power installed times time in the term :math:`W` [W s].
    spend_term_usd : float
        Contract spend in the term :math:`S` [USD].

    Returns
    -------
    implied : dict
        ``usd_per_gw_year``, ``usd_per_chip_hour``, ``contract_usd_per_chip_hour``
        [USD] and ``commitment_buys_chip_hours`` [h]. The first two are None where
        nothing was installed, or where the term's spend exceeds the commitment
        (the commitment is then a floor under a larger spend, not a price).
    notes : list of str

    Notes
    -----
    .. math:: \\frac{C}{W / (10^9\\,\\text{year})}, \\qquad \\frac{C}{H}, \\qquad
              p = \\frac{S}{H}, \\qquad \\frac{C}{p}

    Examples
    --------
    >>> implied, _ = _implied(100.0, 50.0, 1e9 * 3.15576e7, 25.0)
    >>> implied["usd_per_chip_hour"], implied["contract_usd_per_chip_hour"], implied["commitment_buys_chip_hours"]
    (2.0, 0.5, 200.0)
    """
    if chip_h > 0 and it_ws > 0:
        contract_price = spend_term_usd / chip_h
        implied = {
            "usd_per_gw_year": float(buyer.implied_usd_per_gw_year(commitment_usd, it_ws)),
            "usd_per_chip_hour": float(buyer.implied_usd_per_chip_hour(commitment_usd, chip_h)),
            "contract_usd_per_chip_hour": contract_price,
            # what the commitment alone buys at the run's average contract price
            "commitment_buys_chip_hours": float(buyer.chip_hours_for_budget(commitment_usd, contract_price)),
        }
        if spend_term_usd > commitment_usd * (1 + 1e-9):
            # the capacity cost more than the commitment: dividing the floor by it is no price
            implied["usd_per_gw_year"] = implied["usd_per_chip_hour"] = None
            return implied, [
                f"spend in the commitment's term (${spend_term_usd / 1e9:,.1f}B) exceeds the commitment "
                f"(${commitment_usd / 1e9:,.1f}B), so the commitment implies no price for the capacity installed "
                "(null); what it buys at the contract prices is under commitment_buys"]
        return implied, []
    # nothing installed in the term: there is no capacity to divide the commitment by
    return ({"usd_per_gw_year": None, "usd_per_chip_hour": None, "contract_usd_per_chip_hour": None,
             "commitment_buys_chip_hours": 0.0},
            ["no chip was installed during the commitment's term, so the implied prices per GW-year and "
             "per chip-hour are undefined (null)"])


class _Dataset:
    """``Results.dataset``: kept as numpy arrays until first read, then an ``xarray.Dataset``.

    A descriptor-typed dataclass field: ``Results(dataset=...)`` and assignment
    accept either an ``xarray.Dataset`` or :class:`gigawatt.arrays.ArrayData`;
    reading gives the ``xarray.Dataset`` (built once), so a run that only
    writes its files and store never imports xarray.
    """

    def __set_name__(self, owner, name):
        self.slot = f"_{name}"

    def __get__(self, obj, objtype=None):
        if obj is None:
            raise AttributeError(self.slot)  # no default: the field is required
        value = obj.__dict__[self.slot]
        if isinstance(value, ArrayData):
            value = obj.__dict__[self.slot] = value.to_xarray()
            obj.__dict__["_arrays"] = None
        return value

    def __set__(self, obj, value):
        obj.__dict__[self.slot] = value
        obj.__dict__["_arrays"] = value if isinstance(value, ArrayData) else None


@dataclass
class Results:
    """Everything one run produced, with its provenance.

    Made by :func:`gigawatt.run`, read back by :func:`gigawatt.open_run`.
    Its methods present what was computed; none of them runs a model.

    Attributes
    ----------
    dataset : xarray.Dataset
        Monthly arrays with dimensions ``(sample, period, site, chip[, workload])``,
        built on first read from :attr:`arrays` (a run that only writes its
        files and its store never imports xarray).
        Always present: ``installed``, ``added``, ``retired``, ``it_power_w``,
        ``facility_power_w``, ``spend_usd``, ``energy_j``, ``peak_bf16_flops``,
        ``peak_fp8_flops``, ``energized_it_w``, ``binding``, ``price_usd_per_chip_h``,
        and the deal ledger's ``cash_flow_usd`` and ``cash_flow_lines_usd`` (per
        party). With demand in the scenario, the simulation adds ``allocated``
        (chips per workload), ``power_drawn_w``, ``energy_drawn_j``,
        ``utilization``, ``inference_demand_tokens``, ``inference_served_tokens``,
        ``inference_unmet_tokens`` and ``training_flop``.
    events : list of dict
        One row per training run: ``name``, ``model``, ``chip``, ``site``,
        ``chips``, ``start``, ``finish``, ``deadline``, ``delay_days``, ``status``.
    summary_dict : dict
        The JSON of ``gigawatt run --json`` (see :meth:`summary`).
    scenario_text : str
        The scenario file as given (overrides applied).
    resolved : dict
        The scenario with every value in SI and defaults filled in.
    version : str
        The gigawatt version that produced it.
    seed : int
        The scenario's seed.
    timings_s : dict
        Wall time of each stage [s].
    """

    dataset: Any = _Dataset()
    events: list
    summary_dict: dict
    scenario_text: str
    resolved: dict
    version: str
    seed: int
    timings_s: dict
    #: the Monte Carlo over the scenario's uncertain inputs (:class:`gigawatt.uncertainty.MonteCarlo`), or None
    uncertainty: Any = None

    @property
    def name(self) -> str:
        return str(self.summary_dict.get("scenario", ""))

    @property
    def arrays(self) -> ArrayData:
        """The dataset's arrays as :class:`gigawatt.arrays.ArrayData` (numpy; no xarray is built for it)."""
        arrays = self.__dict__.get("_arrays")
        if arrays is None:
            arrays = self.__dict__["_arrays"] = ArrayData.from_xarray(self.dataset)
        return arrays

    def summary(self) -> dict:
        """The run's summary: what ``gigawatt run --json`` prints (SI units; strict JSON when dumped)."""
        return self.summary_dict

    def years(self):
        """One row per year (pandas DataFrame): the table ``years.csv`` holds, every yearly figure in SI units.

        The columns of ``summary()["years"]`` with ``chips`` and ``chips_added`` spread into one
        column per chip (``chips_<id>``), ``served_by`` (each chip's share of the inference tokens
        served) as ``served_by_<id>_share``, the inference tokens demanded and served, the
        training FLOP and each party's net cash flow (:func:`gigawatt.outputs.years_table`).
        """
        import pandas as pd

        from gigawatt.outputs import years_table

        columns, rows = years_table(self)
        return pd.DataFrame(rows, columns=columns)

    def training_runs(self):
        """One row per training run (pandas DataFrame): chip, site, chips, start, finish, deadline, delay, status."""
        return self.events_frame()

    def ledger(self, sample: int = 0):
        """The deal's cash flows by year, party and line (pandas DataFrame) [USD].

        Rows ``(year, party)``; a column per ledger line (positive: money in
        for that party) and ``net_usd``. Read from the dataset's
        ``cash_flow_lines_usd``; empty where the run has no ledger.
        """
        import pandas as pd

        columns, rows = ledger_table(self.arrays, sample)
        return pd.DataFrame(rows, columns=columns)

    def save(self, folder: str | Path, table_format: str = "csv") -> Path:
        """Write the results folder (:func:`gigawatt.outputs.write_outputs`, tables as ``csv`` or ``parquet``);
        returns the folder, resolved."""
        from gigawatt.outputs import write_outputs

        return write_outputs(folder, self, table_format=table_format)

    def to_store(self, db: str | Path | None = None) -> str:
        """Save the run in the results store (a DuckDB file, default ``./gigawatt.duckdb``); returns its run id."""
        from gigawatt import store

        run_id = store.save(self, Path(db) if db is not None else store.DEFAULT_DB)
        self.summary_dict["run_id"] = run_id
        return run_id

    def events_frame(self):
        """The events as a pandas DataFrame."""
        import pandas as pd

        from gigawatt.outputs import EVENT_COLUMNS

        return pd.DataFrame(self.events, columns=EVENT_COLUMNS)

    def to_frame(self, variable: str):
        """One variable of the dataset as a long pandas DataFrame."""
        return self.dataset[variable].to_dataframe().reset_index()


def ledger_table(arrays: ArrayData, sample: int | None = 0) -> tuple[list, list]:
    """The ledger's cash flows by year, party and line: ``(columns, rows)`` [USD].

    Parameters
    ----------
    arrays : ArrayData
        A run's arrays, with ``cash_flow_lines_usd`` (sample, period, party, flow).
    sample : int or None
        The sample to read; None for the mean over samples.

    Returns
    -------
    columns : list of str
        ``year``, ``party``, the ledger lines in alphabetical order, ``net_usd``.
    rows : list of list
        One row per year and party, years ascending, parties in alphabetical order;
        each line the sum of its months, ``net_usd`` the sum of the lines.
    """
    if "cash_flow_lines_usd" not in arrays:
        return ["year", "party", "net_usd"], []
    var = arrays.variables["cash_flow_lines_usd"]
    lines = np.moveaxis(var.values, [var.dims.index(d) for d in ("sample", "period", "party", "flow")],
                        [0, 1, 2, 3])
    lines = lines.mean(axis=0) if sample is None else lines[sample]  # (period, party, flow)
    years = np.array([year_of(str(p)) for p in arrays.labels("period")])
    parties = [str(p) for p in arrays.labels("party")]
    flows = [str(f) for f in arrays.labels("flow")]
    flow_order = sorted(range(len(flows)), key=lambda i: flows[i])
    rows = []
    for year in np.unique(years):
        in_year = lines[years == year].sum(axis=0)  # (party, flow)
        for p in sorted(range(len(parties)), key=lambda i: parties[i]):
            values = [float(in_year[p, f]) for f in flow_order]
            rows.append([int(year), parties[p], *values, float(sum(values))])
    return ["year", "party", *[flows[f] for f in flow_order], "net_usd"], rows


def resolved_scenario(scn, fleet: Fleet) -> dict:
    """The scenario with every value in SI, defaults and catalog lookups filled in, and where each came from."""
    inputs = getattr(fleet, "inputs", None)
    resolved = getattr(scn, "scenario", scn).model_dump(mode="json")
    if inputs is not None:
        resolved["provenance"] = dict(inputs.provenance)
    resolved["resolved_chips"] = [
        {"chip": c.chip, "system": c.system, "it_w_per_chip": c.it_w_per_chip,
         "lifetime_months": c.lifetime_months, "supply_per_year": None if np.isinf(c.supply_per_year) else c.supply_per_year}
        for c in fleet.chips
    ]
    return resolved


def _ledger_dataset(ledger):
    """The ledger's monthly net cash flow per party, and by line (:class:`gigawatt.arrays.ArrayData`)."""
    from gigawatt.arrays import ArrayData

    net = np.stack([ledger.net_usd("lab"), ledger.net_usd("provider")], axis=-1)  # (sample, period, party)
    flows = list(dict.fromkeys([*ledger.lab, *ledger.provider]))
    lines = np.zeros(net.shape + (len(flows),))
    for p, party_lines in enumerate((ledger.lab, ledger.provider)):
        for f, name in enumerate(flows):
            if name in party_lines:
                lines[:, :, p, f] = party_lines[name]
    return ArrayData.build(
        {"cash_flow_usd": (("sample", "period", "party"), net,
                           {"units": "USD", "long_name": "net cash flow of each party (positive: money in)"}),
         "cash_flow_lines_usd": (("sample", "period", "party", "flow"), lines,
                                 {"units": "USD", "long_name": "cash flow of each party by ledger line"})},
        coords={"party": ["lab", "provider"], "flow": flows},
    )


def _sample_summary(scn, fleet: Fleet, simulation, ledger, sample: int) -> dict:
    """The ``--json`` summary of one sample."""
    out = summarize(scn, fleet, sample=sample).to_dict()
    if ledger is not None:
        from gigawatt.economics.ledger import ledger_json

        out["ledger"] = ledger_json(scn, fleet, detail=False, ledger=ledger, sample=sample)
    if simulation is not None:
        extra = simulation.summary_dict(sample=sample)
        by_year = {row["year"]: row for row in extra["inference"]["years"]}
        for row in out["years"]:
            sim_year = by_year.get(row["year"], {})
            row["inference_served_share"] = sim_year.get("served_share")
            row["idle_share"] = sim_year.get("idle_share")
        out.update(extra)
    return out


def build_results(scn, fleet: Fleet, scenario_text: str, timings_s: dict | None = None, simulation=None,
                  ledger=None) -> Results:
    """Bundle what the stages computed into :class:`Results`; runs no model.

    Parameters
    ----------
    scn : Scenario
    fleet : Fleet
        The buildout.
    scenario_text : str
        The scenario's YAML, for provenance.
    timings_s : dict, optional
        Wall time of each stage [s].
    simulation : Simulation, optional
        The demand simulation, where the scenario has demand.
    ledger : Ledger, optional
        The deal ledger (:func:`gigawatt.economics.ledger.build_ledger`).

    Returns
    -------
    Results
        With one sample, the summary is that sample's. With several, every
        figure of the summary is the mean over samples (dates, such as a
        training run's finish, the median; labels, such as the binding
        constraint, the most common) and ``summary["samples"]`` holds
        ``n`` and the 10th, 50th and 90th percentiles in the same shape.
        ``summary["seed_matters"]`` says whether the run drew random numbers.
    """
    ds = fleet.to_arrays()
    events: list = []
    if ledger is not None:
        ds = ds.merge(_ledger_dataset(ledger))
    if simulation is not None:
        ds = ds.merge(simulation.to_arrays())
        events = simulation.events()
    n = int(fleet.installed.shape[0])
    per_sample = [_sample_summary(scn, fleet, simulation, ledger, s) for s in range(n)]
    out = per_sample[0] if n == 1 else summarize_samples(per_sample)
    # failures of training runs are the only random draws of a run today
    out["seed_matters"] = bool(simulation is not None and len(simulation.workloads.runs) > 0)
    return Results(
        dataset=ds,
        events=events,
        summary_dict=out,
        scenario_text=scenario_text,
        resolved=resolved_scenario(scn, fleet),
        version=__version__,
        seed=scn.seed,
        timings_s=dict(timings_s or {}),
    )


#: the percentiles a summary of several samples gives
PERCENTILES = (10, 50, 90)
_DATE = re.compile(r"^\d{4}-\d{2}(-\d{2})?$")


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _combine(values: list, how):
    """One figure from the same figure of every sample: ``how`` is "mean" or a percentile [0-100]."""
    if all(isinstance(v, dict) for v in values):
        keys = list(dict.fromkeys(k for v in values for k in v))
        return {k: _combine([v.get(k) for v in values], how) for k in keys}
    if all(isinstance(v, list) for v in values):
        if len({len(v) for v in values}) != 1:
            return values[0]
        return [_combine(list(items), how) for items in zip(*values)]
    present = [v for v in values if v is not None]
    if not present:
        return None
    if all(_is_number(v) for v in present):
        if len(set(present)) == 1 and len(present) == len(values):
            return present[0]
        arr = np.array([np.nan if v is None else float(v) for v in values])
        if not np.isfinite(arr).any():
            return None
        return float(np.nanmean(arr) if how == "mean" else np.nanpercentile(arr, how))
    if all(isinstance(v, str) and _DATE.match(v) for v in present):
        # dates: order statistics; a date that never came (None) sorts last
        ranked = sorted(values, key=lambda v: (v is None, v or ""))
        q = 50 if how == "mean" else how
        return ranked[int(round(q / 100 * (len(ranked) - 1)))]
    # labels and flags: the most common
    counts: dict = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return max(counts, key=counts.get)


def summarize_samples(per_sample: list[dict]) -> dict:
    """The summary of a run with several samples, from the summary of each.

    Parameters
    ----------
    per_sample : list of dict
        One ``--json`` summary per sample, the same shape.

    Returns
    -------
    dict
        The same shape: each number the mean over samples, each date the
        median, each label the most common; plus ``samples``: ``{"n", "p10",
        "p50", "p90"}``, the percentiles in the same shape.

    Examples
    --------
    >>> s = summarize_samples([{"x": 1.0, "d": "2030-01"}, {"x": 3.0, "d": None}, {"x": 2.0, "d": "2029-05"}])
    >>> s["x"], s["d"], s["samples"]["p90"]["d"], s["samples"]["n"]
    (2.0, '2030-01', None, 3)
    """
    out = _combine(per_sample, "mean")
    out["samples"] = {"n": len(per_sample), **{f"p{q}": _combine(per_sample, q) for q in PERCENTILES}}
    return out
