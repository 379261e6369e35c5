"""A scenario resolved once into numbers: :class:`Inputs`.

:func:`resolve` reads a validated :class:`~gigawatt.scenario.schema.Scenario`
and does, in one place, everything the later stages would otherwise each do
again: it parses the months into the period axis, looks every chip up in the
catalog once (chip, system, all-in IT watts, the performance model's hardware
view), fills in the defaults, and lays the time-varying inputs (energized
power, contract prices, the commitment's term) on the period axis in SI
units. The buildout, the simulation, the ledger and the results read
:class:`Inputs` and never the catalog or the raw scenario text again. Each
resolved value names where it came from in :attr:`Inputs.provenance`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gigawatt import power as pw
from gigawatt.scenario.periods import Periods, make_periods
from gigawatt.units import SECONDS_PER_MONTH, month_index

__all__ = ["Inputs", "ResolvedChip", "resolve", "as_inputs", "NO_END_MONTH", "chips_per_unit", "supply_in_year",
           "estimated_figures"]

#: month index standing for "no end" of a roadmap entry's window (any period is before it)
NO_END_MONTH = np.iinfo(np.int64).max

#: the catalog figures a run reads, by record: those marked ``estimate`` are named in the run's notes.
#: The chip's and system's power figures set the all-in IT watts, the chip counts set the unit added
#: and the IT watts, the peaks the FLOP/s; the memory and interconnect figures feed the performance
#: models (read only where the scenario has demand).
CHIP_FIGURES = ("available", "tdp_w", "peak_bf16_flops", "peak_fp8_flops")
SYSTEM_FIGURES = ("chips_per_node", "chips_per_scaleup", "host_power_w", "node_other_power_w",
                  "network_power_w_per_chip", "max_chips_per_cluster")
CHIP_PERF_FIGURES = ("hbm_bytes", "hbm_bw_bytes_per_s", "scaleup_bw_bytes_per_s", "scaleout_bw_bytes_per_s",
                     "training_precision")
SYSTEM_PERF_FIGURES = ("scaleup_bw_bytes_per_s", "scaleout_bw_bytes_per_s")


@functools.cache
def _hardware(chip: str, system: str):
    from gigawatt.perf.hardware import Hardware

    return Hardware.from_catalog(chip, system)


@dataclass(frozen=True)
class ResolvedChip:
    """One roadmap chip, resolved from the catalog once.

    Attributes
    ----------
    chip, system : str
        Catalog ids.
    it_w_per_chip : float
        All-in IT power per chip: the chip's TDP, its share of the host, the
        node's other parts and the network [W].
    peak_bf16_flops, peak_fp8_flops : float
        Dense peak [FLOP/s]; chips without FP8 carry their BF16 rate.
    available : str
        First availability (catalog), for the newest-first fill order.
    from_month, until : str, str or None
        The roadmap window (``YYYY-MM``).
    supply_per_year : float
        Most chips deployable in a calendar year on offer all year (infinite when
        unlimited) [1/year]; :attr:`Inputs.supply_in_year` pro-rates it by months.
    lifetime_months : int
        Months in service before retirement.
    estimate : bool
        Whether the roadmap entry or the catalog chip is an estimate.
    max_chips_per_run : float
        Largest cluster the system is built for (infinite when the catalog gives none) [1].
    provenance : dict
        Sources of the chip's and the system's catalog figures.
    unit : str
        What the buildout adds at a time: ``chip``, ``node`` or ``system`` (the roadmap's ``unit``).
    chips_per_unit : float
        Chips in one such unit [1] (:func:`chips_per_unit`).
    use : str
        ``any``, or ``inference`` for a generation that serves inference only (the roadmap's ``use``).
    estimated_figures : tuple of str
        The catalog figures this chip's results rest on that the catalog marks as
        estimates, each as ``record.field`` (:func:`estimated_figures`).
    """

    chip: str
    system: str
    it_w_per_chip: float
    peak_bf16_flops: float
    peak_fp8_flops: float
    available: str
    from_month: str
    until: str | None
    supply_per_year: float
    lifetime_months: int
    estimate: bool
    max_chips_per_run: float = np.inf
    provenance: dict[str, str] = field(default_factory=dict)
    unit: str = "chip"
    chips_per_unit: float = 1.0
    estimated_figures: tuple[str, ...] = ()
    use: str = "any"

    @property
    def hardware(self):
        """The performance model's view of this chip in its system (:class:`gigawatt.perf.hardware.Hardware`)."""
        return _hardware(self.chip, self.system)


@dataclass(frozen=True)
class Inputs:
    """Everything a run reads, resolved once; arrays on the period axis in SI units.

    Attributes
    ----------
    name : str
    seed : int
    periods : Periods
        The time axis.
    sites : list of str
        Site names, in the scenario's order (the ``site`` axis).
    pue : ndarray
        ``(site,)`` power usage effectiveness [1].
    energized_it_w : ndarray
        ``(period, site)`` IT power the site has online [W]: the scenario's
        ``energized`` on an IT basis, or on a facility basis divided by the PUE.
    energized_facility_w : ndarray
        ``(period, site)`` the same power as facility (grid) draw, IT times PUE [W].
    supply_in_year : ndarray
        ``(period, chip)`` most chips of each generation deployable in the
        calendar year of the period: the roadmap's ``supply_per_year`` times
        the share of that year's months in which the roadmap offers it
        (infinite when unlimited) [1].
    allowed : ndarray of bool
        ``(site, chip)``: whether the site may install the chip.
    chips : list of ResolvedChip
        The roadmap's chips (the ``chip`` axis).
    price_usd_per_chip_h : ndarray
        ``(period, chip)`` contract price [USD/h].
    fill_order : tuple of int
        Chip indices in the order the buildout fills them.
    in_commitment : ndarray of bool
        ``(period,)``: inside the commitment's term.
    commitment_start_month, commitment_months : int
        The term: its first month (index ``12*year + month - 1``) and its length.
    deal, demand, economics
        The scenario's validated sections (every quantity in SI).
    fill : str
        ``newest`` or ``roadmap``.
    provenance : dict of str to str
        Where each resolved value came from, by dotted name.
    scenario : Scenario
        What was resolved, for the results' record.
    costs : gigawatt.economics.ledger.Costs
        The ledger's cost inputs (scenario economics over the sourced defaults).
    notes : list of str
        What a reader of the results should know about the inputs: the
        loader's warnings (a roadmap date kept as the scenario's own
        estimate) and the estimated catalog figures the run rests on.
    """

    name: str
    seed: int
    periods: Periods
    sites: list[str]
    pue: np.ndarray
    energized_it_w: np.ndarray
    allowed: np.ndarray
    chips: list[ResolvedChip]
    price_usd_per_chip_h: np.ndarray
    fill_order: tuple[int, ...]
    in_commitment: np.ndarray
    commitment_start_month: int
    commitment_months: int
    deal: Any
    demand: Any
    economics: Any
    fill: str
    provenance: dict[str, str]
    scenario: Any
    costs: Any = None
    #: catalog ids of the model and chip names the scenario writes (``{"models": {...}, "chips": {...}}``)
    catalog_ids: dict[str, dict[str, str]] = field(default_factory=dict)
    energized_facility_w: Any = None
    supply_in_year: Any = None
    notes: list[str] = field(default_factory=list)

    @property
    def months(self) -> list[str]:
        """Period labels."""
        return self.periods.labels

    @property
    def chip_ids(self) -> list[str]:
        return [c.chip for c in self.chips]

    @property
    def it_w_per_chip(self) -> np.ndarray:
        """``(chip,)`` all-in IT watts per chip [W]."""
        return np.array([c.it_w_per_chip for c in self.chips])

    def model_id(self, name: str) -> str:
        """The catalog id of a model name the scenario writes (resolved once by :func:`resolve`)."""
        return self.catalog_ids["models"][name]

    def chip_id(self, name: str) -> str:
        """The catalog id of a chip name or alias the scenario writes (resolved once by :func:`resolve`)."""
        return self.catalog_ids["chips"][name]

    @property
    def chips_per_unit(self) -> np.ndarray:
        """``(chip,)`` chips the buildout adds at a time [1]."""
        return np.array([c.chips_per_unit for c in self.chips])


def chips_per_unit(system, unit: str) -> float:
    """Chips in the unit the buildout adds at a time.

    Parameters
    ----------
    system : gigawatt.catalog.schema.System
        The roadmap entry's catalog system.
    unit : str
        ``chip`` (1), ``node`` (the system's ``chips_per_node``: one server, or
        the rack where the rack is the node) or ``system`` (its
        ``chips_per_scaleup``: the whole scale-up domain, which is the unit a
        buyer takes: an UltraServer, an NVL72 rack, an 8-GPU server, a TPU pod).

    Examples
    --------
    >>> from gigawatt import catalog
    >>> chips_per_unit(catalog.get_system("trn2-ultraserver"), "system")
    64.0
    >>> chips_per_unit(catalog.get_system("trn3-ultraserver-144"), "node")
    4.0
    """
    if unit == "chip":
        return 1.0
    n = system.chips_per_node if unit == "node" else system.chips_per_scaleup
    return float(max(1.0, round(float(n))))


def estimated_figures(chip, system, with_perf: bool = True) -> tuple[str, ...]:
    """The figures of a catalog chip and system that a run reads and the catalog marks as estimates.

    A figure is an estimate where its own provenance says so or where its
    whole entry is one (:meth:`gigawatt.catalog.schema.Entry.is_estimate`).
    Only figures the record has are listed, each as ``record-id.field``.
    """
    out = []
    for rec, names in ((chip, CHIP_FIGURES + (CHIP_PERF_FIGURES if with_perf else ())),
                       (system, SYSTEM_FIGURES + (SYSTEM_PERF_FIGURES if with_perf else ()))):
        for name in names:
            if getattr(rec, name, None) is not None and rec.is_estimate(name):
                out.append(f"{rec.id}.{name}")
    return tuple(out)


def resolve_chips(scn) -> list[ResolvedChip]:
    """The roadmap's chips with their systems and all-in IT power, from the catalog.

    Raises
    ------
    GigawattError
        A chip whose catalog entry gives no positive TDP, or whose system gives
        no chips per node: its IT power is unknown.
    """
    from gigawatt import catalog
    from gigawatt.errors import GigawattError

    specs = []
    demand = getattr(scn, "demand", None)
    with_perf = demand is not None and bool(demand.training or demand.inference)
    for entry in scn.roadmap:
        chip = catalog.get_chip(entry.chip)
        system = catalog.get_system(entry.system) if entry.system else catalog.systems_for_chip(chip.id)[0]
        if not chip.tdp_w or chip.tdp_w <= 0:
            raise GigawattError(f"roadmap chip {chip.id!r} has no TDP in the catalog, so its power is unknown; "
                                "add tdp_w to its catalog entry, or pick another chip")
        # a system that lists no host, other or network power draws none beyond its chips
        it_w = float(pw.it_power_w_per_chip(chip.tdp_w, system.host_power_w or 0.0,
                                            system.node_other_power_w or 0.0, system.chips_per_node,
                                            system.network_power_w_per_chip or 0.0))
        fp8 = chip.peak_fp8_flops if chip.peak_fp8_flops is not None else chip.peak_bf16_flops
        specs.append(ResolvedChip(
            chip=chip.id, system=system.id, it_w_per_chip=it_w,
            peak_bf16_flops=float(chip.peak_bf16_flops or 0.0), peak_fp8_flops=float(fp8 or 0.0),
            available=chip.available, from_month=entry.from_month, until=entry.until,
            supply_per_year=float(entry.supply_per_year if entry.supply_per_year is not None else np.inf),
            lifetime_months=max(1, int(round(entry.lifetime_s / SECONDS_PER_MONTH))),
            estimate=bool(entry.estimate or chip.estimate),
            max_chips_per_run=float(system.max_chips_per_cluster or np.inf),
            provenance={"chip": chip.source, "system": system.source},
            unit=entry.unit, chips_per_unit=chips_per_unit(system, entry.unit),
            estimated_figures=estimated_figures(chip, system, with_perf), use=entry.use,
        ))
    return specs


def supply_in_year(scn, periods: Periods, chips: list[ResolvedChip]) -> np.ndarray:
    """``(period, chip)`` chips of each generation deployable in the period's calendar year [1].

    Notes
    -----
    A generation offered from month :math:`f` until month :math:`u` gets, in
    calendar year :math:`y`,

    .. math:: Q_{c,y} = Q_c \\, \\frac{m_{c,y}}{12}

    with :math:`Q_c` its ``supply_per_year`` and :math:`m_{c,y}` the months of
    :math:`y` inside both its roadmap window and the horizon. A cap of 120 a
    year offered from July gets 60 in its first year.

    Examples
    --------
    >>> from gigawatt.scenario.periods import make_periods
    >>> class E: supply_per_year, from_month, until = 120.0, "2026-07", None
    >>> supply_in_year(None, make_periods("2026-01", "2027-12", "month"), [E()])[[0, 11, 12], 0].tolist()
    [60.0, 60.0, 120.0]
    """
    months = np.unique(periods.month)  # the calendar months the horizon covers (index 12*year + month - 1)
    years = months // 12
    out = np.full((len(periods), len(chips)), np.inf)
    for j, spec in enumerate(chips):
        if not np.isfinite(spec.supply_per_year):
            continue
        lo = month_index(spec.from_month)
        hi = month_index(spec.until) if spec.until else NO_END_MONTH
        offered = (months >= lo) & (months <= hi)
        per_year = {int(y): spec.supply_per_year * int(offered[years == y].sum()) / 12.0 for y in np.unique(years)}
        out[:, j] = [per_year[int(m) // 12] for m in periods.month]
    return out


def contract_prices(scn, periods: Periods, chips: list[ResolvedChip]) -> np.ndarray:
    """``(period, chip)`` contract price per chip-hour, declining from its base month [USD/h]."""
    from gigawatt import catalog
    from gigawatt.economics import buyer

    by_chip = {catalog.resolve("chips", name): price for name, price in scn.prices.items()}
    out = np.zeros((len(periods), len(chips)))
    for j, spec in enumerate(chips):
        price = by_chip[spec.chip]
        years = (periods.month_pos - month_index(price.from_month or scn.horizon.start)) / 12.0
        out[:, j] = buyer.price_usd_per_chip_h(price.price_usd_per_chip_h, price.decline_factor_per_year, years)
    return out


def fill_order(chips: list[ResolvedChip], fill: str) -> tuple[int, ...]:
    """Chip indices in fill order: the roadmap's, or newest first (latest availability, then later start)."""
    if fill == "roadmap":
        return tuple(range(len(chips)))
    return tuple(sorted(range(len(chips)), key=lambda j: (chips[j].available, chips[j].from_month, j), reverse=True))


def energized_power(scn, periods: Periods) -> np.ndarray:
    """``(period, site)`` IT power each site has online, its points ramped as the site says [W].

    A site whose ``basis`` is ``facility`` gives grid draw; its IT power is
    that divided by the site's PUE.
    """
    out = np.zeros((len(periods), len(scn.sites)))
    for i, site in enumerate(scn.sites):
        pts = list(site.energized_w.items())
        out[:, i] = pw.energized_power_w(periods.month_pos, [month_index(m) for m, _ in pts], [p for _, p in pts],
                                         site.ramp)
        if getattr(site, "energized_basis", "it") == "facility":
            out[:, i] /= site.pue
    return out


def input_notes(scn, chips: list[ResolvedChip]) -> list[str]:
    """The notes a run carries about its inputs: the loader's warnings, then the estimated catalog figures used."""
    notes = [f"{w.path}: {w.message}" for w in getattr(scn, "warnings", [])]
    by_record: dict[str, list[str]] = {}
    for figure in dict.fromkeys(f for c in chips for f in c.estimated_figures):
        record, name = figure.split(".", 1)
        by_record.setdefault(record, []).append(name)
    if by_record:
        notes.append("these results rest on catalog figures marked as estimates: "
                     + "; ".join(f"{r} {', '.join(names)}" for r, names in by_record.items())
                     + " (`gigawatt catalog chips` and `gigawatt catalog systems` give their sources)")
    return notes


def allowed_chips(scn, chips: list[ResolvedChip]) -> np.ndarray:
    """``(site, chip)``: a site that lists ``chips`` takes only those; others take every roadmap chip."""
    from gigawatt import catalog

    allowed = np.ones((len(scn.sites), len(chips)), dtype=bool)
    for i, site in enumerate(scn.sites):
        if site.chips:
            ids = {catalog.resolve("chips", n) for n in site.chips}
            allowed[i] = [c.chip in ids for c in chips]
    return allowed


def catalog_ids(scn) -> dict[str, dict[str, str]]:
    """Catalog ids of every model and chip name the scenario writes (demand, sites, roadmap, prices)."""
    from gigawatt import catalog

    models, chips = set(), set()
    chips.update(e.chip for e in scn.roadmap)
    chips.update(scn.prices)
    for site in scn.sites:
        chips.update(site.chips or [])
    demand = scn.demand
    if demand is not None:
        for item in demand.training:
            for entry in ([item.generate] if getattr(item, "generate", None) is not None else [item]):
                if getattr(entry, "model", None):
                    models.add(entry.model)
                chips.update(getattr(entry, "chips", None) or [])
        for stream in demand.inference:
            models.add(stream.model)
            chips.update(stream.chips or [])
    return {"models": {m: catalog.get_model(m).id for m in models},
            "chips": {c: catalog.resolve("chips", c) for c in chips}}


def resolve(scn) -> Inputs:
    """Resolve a validated scenario into :class:`Inputs`.

    Parameters
    ----------
    scn : Scenario
        From :func:`gigawatt.load`.

    Returns
    -------
    Inputs

    Raises
    ------
    GigawattError
        A chip the catalog gives no power for; an ``economics`` entry naming a
        chip or a site the scenario does not have.
    """
    periods = make_periods(scn.horizon.start, scn.horizon.end, scn.horizon.step)
    chips = resolve_chips(scn)
    c = scn.deal.commitment
    start = month_index(c.start)
    n_months = int(round(c.term_s / SECONDS_PER_MONTH))
    provenance = {"periods": f"horizon {scn.horizon.start} to {scn.horizon.end} by {scn.horizon.step}"}
    for spec in chips:
        provenance[f"chips.{spec.chip}.it_w_per_chip"] = f"catalog: {spec.provenance.get('system', '')}"
        provenance[f"chips.{spec.chip}.peak_flops"] = f"catalog: {spec.provenance.get('chip', '')}"
        provenance[f"chips.{spec.chip}.price_usd_per_chip_h"] = "scenario prices"
        where = {"chip": "one chip", "node": "chips_per_node", "system": "chips_per_scaleup"}[spec.unit]
        provenance[f"chips.{spec.chip}.chips_per_unit"] = f"roadmap unit {spec.unit}: catalog {spec.system} {where}"
        provenance[f"chips.{spec.chip}.supply_in_year"] = ("scenario roadmap supply_per_year, pro-rated over the "
                                                           "months of each calendar year the roadmap offers it")
        if spec.estimated_figures:
            provenance[f"chips.{spec.chip}.estimated_figures"] = ", ".join(spec.estimated_figures)
    for site in scn.sites:
        basis = getattr(site, "energized_basis", "it")
        provenance[f"sites.{site.name}.energized_it_w"] = (
            "scenario sites (basis it)" if basis == "it" else f"scenario sites (basis facility, divided by PUE {site.pue:g})")
    energized_it = energized_power(scn, periods)
    pue = np.array([s.pue for s in scn.sites])
    inputs = Inputs(
        name=scn.name, seed=scn.seed, periods=periods, sites=[s.name for s in scn.sites],
        pue=pue, energized_it_w=energized_it,
        allowed=allowed_chips(scn, chips), chips=chips, price_usd_per_chip_h=contract_prices(scn, periods, chips),
        fill_order=fill_order(chips, scn.fill),
        in_commitment=(periods.month_pos >= start) & (periods.month_pos < start + n_months),
        commitment_start_month=start, commitment_months=n_months,
        deal=scn.deal, demand=scn.demand, economics=scn.economics, fill=scn.fill, provenance=provenance,
        scenario=scn, catalog_ids=catalog_ids(scn), energized_facility_w=energized_it * pue[None, :],
        supply_in_year=supply_in_year(scn, periods, chips), notes=input_notes(scn, chips),
    )
    from gigawatt.economics.ledger import resolve_costs

    costs = resolve_costs(inputs)
    provenance.update({f"economics.{k}": v for k, v in costs.sources.items()})
    object.__setattr__(inputs, "costs", costs)
    return inputs


def as_inputs(inputs_or_scenario) -> Inputs:
    """``Inputs`` as given, or a scenario resolved into them (so that each stage can be called alone)."""
    return inputs_or_scenario if isinstance(inputs_or_scenario, Inputs) else resolve(inputs_or_scenario)
