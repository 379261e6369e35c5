"""From a scenario to monthly cohorts of chips by (site, chip).

Each month, in order:

1. chips whose lifetime has ended retire, and their power is free again;
2. every site offers its energized IT power not yet in use;
3. new chips fill it, the newest available generation first (or in roadmap
   order with ``fill: roadmap``), each addition limited by the site's power,
   the generation's supply left this calendar year, the deal's capacity cap and
   the buyer's spend limit;
4. the limit that stopped the month's additions is recorded as ``binding``.

Arrays have the dimensions ``(sample, period, site, chip)`` in that order, with
``sample`` of size 1 for a deterministic scenario, so that Monte Carlo later
widens the same arrays instead of looping around this function.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gigawatt import power as pw
from gigawatt.economics import buyer
from gigawatt.fleet.periods import Periods, make_periods
from gigawatt.units import month_index as _month_index

BINDING = ("none", "power", "supply", "money", "cap")
"""Codes of the ``binding`` array: index -> name."""

_NONE, _POWER, _SUPPLY, _MONEY, _CAP = range(5)
SECONDS_PER_MONTH_AVG = buyer.SECONDS_PER_YEAR / 12.0


@dataclass
class ChipSpec:
    """What the buildout needs of one roadmap chip, resolved from the catalog."""

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
    max_chips_per_run: float = np.inf  # largest cluster the system is built for [1]
    provenance: dict[str, str] = field(default_factory=dict)


@dataclass
class Fleet:
    """Monthly cohorts of chips, and the power and money they imply.

    Attributes with four dimensions are ``(sample, period, site, chip)``.
    """

    months: list[str]  # period labels: YYYY-MM, or YYYY-MM-DD for weekly periods
    period_s: np.ndarray  # (period,) [s]
    sites: list[str]
    chips: list[ChipSpec]
    pue: np.ndarray  # (site,)
    energized_it_w: np.ndarray  # (sample, period, site) [W]
    added: np.ndarray  # (sample, period, site, chip) chips installed that month
    retired: np.ndarray  # (sample, period, site, chip)
    installed: np.ndarray  # (sample, period, site, chip), after the month's changes
    price_usd_per_chip_h: np.ndarray  # (period, chip) [USD/h]
    binding: np.ndarray  # (sample, period) codes into BINDING
    capacity_cap_w: float | None
    capacity_basis: str
    in_commitment: np.ndarray  # (period,) bool: inside the commitment's term
    seed: int = 0
    periods: Periods | None = None

    @property
    def period_start(self) -> np.ndarray:
        """First day of each period, datetime64[D]."""
        return self.periods.start

    @property
    def chip_ids(self) -> list[str]:
        return [c.chip for c in self.chips]

    @property
    def it_w_per_chip(self) -> np.ndarray:
        return np.array([c.it_w_per_chip for c in self.chips])

    def it_power_w(self) -> np.ndarray:
        """Installed IT power at full load, (sample, period, site, chip) [W]."""
        return self.installed * self.it_w_per_chip

    def facility_power_w(self) -> np.ndarray:
        """Installed facility power at full load, (sample, period, site, chip) [W]."""
        return pw.facility_power_w(self.it_power_w(), self.pue[None, None, :, None])

    def spend_usd(self) -> np.ndarray:
        """Buyer's spend per period, (sample, period, site, chip) [USD]."""
        return buyer.spend_usd(self.installed, self.price_usd_per_chip_h[None, :, None, :], self.period_s[None, :, None, None])

    def energy_j(self) -> np.ndarray:
        """Facility energy at full load per period, (sample, period, site, chip) [J]."""
        return pw.energy_j(self.facility_power_w(), self.period_s[None, :, None, None])

    def peak_flops(self, precision: str = "bf16") -> np.ndarray:
        """Installed peak dense FLOP/s, (sample, period, site, chip) [FLOP/s]."""
        attr = "peak_bf16_flops" if precision == "bf16" else "peak_fp8_flops"
        return self.installed * np.array([getattr(c, attr) for c in self.chips])

    def to_dataset(self):
        """The fleet as an ``xarray.Dataset`` with the architecture's dimensions."""
        import xarray as xr

        coords = {
            "sample": np.arange(self.installed.shape[0]),
            "period": self.period_start,
            "site": self.sites,
            "chip": self.chip_ids,
        }
        dims4 = ("sample", "period", "site", "chip")
        ds = xr.Dataset(
            {
                "installed": (dims4, self.installed, {"units": "1", "long_name": "chips installed"}),
                "added": (dims4, self.added, {"units": "1", "long_name": "chips added in the period"}),
                "retired": (dims4, self.retired, {"units": "1", "long_name": "chips retired in the period"}),
                "it_power_w": (dims4, self.it_power_w(), {"units": "W", "long_name": "installed IT power at full load"}),
                "facility_power_w": (dims4, self.facility_power_w(), {"units": "W"}),
                "spend_usd": (dims4, self.spend_usd(), {"units": "USD", "long_name": "buyer spend in the period"}),
                "energy_j": (dims4, self.energy_j(), {"units": "J", "long_name": "facility energy at full load"}),
                "peak_bf16_flops": (dims4, self.peak_flops("bf16"), {"units": "FLOP/s"}),
                "peak_fp8_flops": (dims4, self.peak_flops("fp8"), {"units": "FLOP/s"}),
                "energized_it_w": (("sample", "period", "site"), self.energized_it_w, {"units": "W"}),
                "binding": (("sample", "period"), np.array(BINDING)[self.binding].astype(str)),
                "price_usd_per_chip_h": (("period", "chip"), self.price_usd_per_chip_h, {"units": "USD/h"}),
                "period_s": (("period",), self.period_s, {"units": "s"}),
                "pue": (("site",), self.pue, {"units": "1"}),
                "it_w_per_chip": (("chip",), self.it_w_per_chip, {"units": "W"}),
            },
            coords=coords,
            attrs={"seed": self.seed, "capacity_basis": self.capacity_basis,
                   "capacity_cap_w": self.capacity_cap_w if self.capacity_cap_w is not None else np.nan},
        )
        return ds


def resolve_chips(scn) -> list[ChipSpec]:
    """The roadmap's chips with their systems and all-in IT power, from the catalog."""
    from gigawatt import catalog

    specs = []
    for entry in scn.roadmap:
        chip = catalog.get_chip(entry.chip)
        system = catalog.get_system(entry.system) if entry.system else catalog.systems_for_chip(chip.id)[0]
        it_w = float(
            pw.it_power_w_per_chip(
                chip.tdp_w,
                system.host_power_w or 0.0,
                system.node_other_power_w or 0.0,
                system.chips_per_node,
                system.network_power_w_per_chip or 0.0,
            )
        )
        fp8 = chip.peak_fp8_flops if chip.peak_fp8_flops is not None else chip.peak_bf16_flops
        supply = entry.supply_per_year if entry.supply_per_year is not None else np.inf
        specs.append(
            ChipSpec(
                chip=chip.id,
                system=system.id,
                it_w_per_chip=it_w,
                peak_bf16_flops=float(chip.peak_bf16_flops or 0.0),
                peak_fp8_flops=float(fp8 or 0.0),
                available=chip.available,
                from_month=entry.from_month,
                until=entry.until,
                supply_per_year=float(supply),
                lifetime_months=max(1, int(round(entry.lifetime_s / SECONDS_PER_MONTH_AVG))),
                estimate=bool(entry.estimate or chip.estimate),
                max_chips_per_run=float(system.max_chips_per_cluster or np.inf),
                provenance={"chip": chip.source, "system": system.source},
            )
        )
    return specs


def _prices(scn, periods: Periods, specs: list[ChipSpec]) -> np.ndarray:
    from gigawatt import catalog

    by_chip = {catalog.resolve("chips", name): price for name, price in scn.prices.items()}
    t = periods.month_pos
    out = np.zeros((len(periods), len(specs)))
    for j, spec in enumerate(specs):
        price = by_chip[spec.chip]
        base_month = price.from_month or scn.horizon.start
        years = (t - _month_index(base_month)) / 12.0
        out[:, j] = buyer.price_usd_per_chip_h(price.price_usd_per_chip_h, price.decline_factor_per_year, years)
    return out


def _fill_order(specs: list[ChipSpec], fill: str) -> list[int]:
    if fill == "roadmap":
        return list(range(len(specs)))
    # newest first: latest catalog availability, then later roadmap start
    return sorted(range(len(specs)), key=lambda j: (specs[j].available, specs[j].from_month, j), reverse=True)


def build_fleet(scn, n_samples: int = 1, progress=None) -> Fleet:
    """Monthly cohorts of chips by (site, chip) for a validated scenario.

    Parameters
    ----------
    scn : gigawatt.scenario.schema.Scenario
        A scenario from :func:`gigawatt.scenario.load_scenario`.
    n_samples : int
        Width of the ``sample`` axis (1 for a deterministic run).
    progress : callable, optional
        Called as ``progress(done_periods, total_periods)``.

    Returns
    -------
    Fleet

    Notes
    -----
    In each period :math:`t`, site :math:`s` and chip :math:`c` taken in fill
    order, the chips added are

    .. math::
        a_{s,c,t} = \\min\\Big(\\Big\\lfloor \\frac{E_{s,t} - U_{s,t}}{w_c} \\Big\\rfloor,
        \\; Q_{c,y} - q_{c,y},\\;
        \\Big\\lfloor \\frac{K - U_t}{w_c\\,k_s} \\Big\\rfloor,\\;
        \\Big\\lfloor \\frac{B_t - S_t}{p_{c,t}\\,h_t} \\Big\\rfloor \\Big)

    with :math:`E` the energized IT power, :math:`U` the power in use,
    :math:`w_c` the all-in IT watts per chip, :math:`Q_{c,y}` the supply cap of
    the calendar year and :math:`q_{c,y}` what was deployed of it, :math:`K`
    the capacity cap (:math:`k_s` = 1 on an IT basis, the site's PUE on a
    facility basis), :math:`B_t` the spend limit of the period and
    :math:`S_t` the spend already committed in it.
    """
    periods = make_periods(scn.horizon.start, scn.horizon.end, scn.horizon.step)
    months = periods.labels
    n_t = len(periods)
    specs = resolve_chips(scn)
    n_c = len(specs)
    n_i = len(scn.sites)
    n_s = int(n_samples)
    period_s = periods.seconds
    t_pos = periods.month_pos  # fractional months, for ramps and prices
    t_idx = periods.month  # whole months, for roadmap windows
    year_of = periods.year

    pue = np.array([site.pue for site in scn.sites])
    energized = np.zeros((n_s, n_t, n_i))
    for i, site in enumerate(scn.sites):
        pts = list(site.energized_w.items())
        energized[:, :, i] = pw.energized_power_w(t_pos, [_month_index(m) for m, _ in pts], [p for _, p in pts], site.ramp)

    w = np.array([c.it_w_per_chip for c in specs])
    if np.any(w <= 0):
        bad = [c.chip for c in specs if c.it_w_per_chip <= 0]
        raise ValueError(f"chips without a positive IT power in the catalog: {bad}")
    supply_cap = np.array([c.supply_per_year for c in specs])
    life = np.array([periods.periods_in(c.lifetime_months * SECONDS_PER_MONTH_AVG) for c in specs])
    frm = np.array([_month_index(c.from_month) for c in specs])
    until = np.array([_month_index(c.until) if c.until else 10**9 for c in specs])
    allowed = np.ones((n_i, n_c), dtype=bool)
    from gigawatt import catalog

    for i, site in enumerate(scn.sites):
        if site.chips:
            ids = {catalog.resolve("chips", n) for n in site.chips}
            allowed[i] = [c.chip in ids for c in specs]

    price = _prices(scn, periods, specs)
    order = _fill_order(specs, scn.fill)
    cap = scn.deal.capacity_cap_w
    basis = scn.deal.capacity_basis
    cap_k = pue if basis == "facility" else np.ones(n_i)  # cap watts used per IT watt, by site
    limit = scn.deal.spend_limit.per_year_usd if scn.deal.spend_limit else None

    added = np.zeros((n_s, n_t, n_i, n_c))
    retired = np.zeros_like(added)
    installed = np.zeros_like(added)
    binding = np.zeros((n_s, n_t), dtype=np.int8)
    current = np.zeros((n_s, n_i, n_c))
    deployed_in_year = np.zeros((n_s, n_c))
    tol = 1e-9

    for t in range(n_t):
        if t > 0 and year_of[t] != year_of[t - 1]:
            deployed_in_year[:] = 0.0
        # 1. retirements: the cohort added `life` periods ago leaves now
        old = t - life
        for j in range(n_c):
            if old[j] >= 0:
                retired[:, t, :, j] = added[:, old[j], :, j]
        current -= retired[:, t]

        # 2. headrooms
        used_site = current @ w  # (sample, site) [W]
        site_room = np.maximum(energized[:, t, :] - used_site, 0.0)
        cap_room = (cap - (used_site * cap_k).sum(axis=1)) if cap is not None else np.full(n_s, np.inf)
        hours = period_s[t] / 3600.0
        money_room = (limit * period_s[t] / buyer.SECONDS_PER_YEAR - (current * price[t] * hours).sum(axis=(1, 2))
                      if limit is not None else np.full(n_s, np.inf))
        supply_room = np.maximum(supply_cap - deployed_in_year, 0.0)  # (sample, chip)
        available = (frm <= t_idx[t]) & (t_idx[t] <= until)

        # 3. fill
        add_t = np.zeros((n_s, n_i, n_c))
        for i in range(n_i):
            for j in order:
                if not (available[j] and allowed[i, j]):
                    continue
                n = np.floor(site_room[:, i] / w[j] + tol)
                n = np.minimum(n, supply_room[:, j])
                if cap is not None:
                    n = np.minimum(n, np.floor(np.maximum(cap_room, 0.0) / (w[j] * cap_k[i]) + tol))
                if limit is not None:
                    n = np.minimum(n, np.floor(np.maximum(money_room, 0.0) / (price[t, j] * hours) + tol))
                n = np.maximum(n, 0.0)
                add_t[:, i, j] = n
                site_room[:, i] -= n * w[j]
                supply_room[:, j] -= n
                cap_room = cap_room - n * w[j] * cap_k[i]
                money_room = money_room - n * price[t, j] * hours
        current += add_t
        added[:, t] = add_t
        installed[:, t] = current
        deployed_in_year += add_t.sum(axis=1)

        # 4. what bound this month
        fits_power = np.zeros(n_s, dtype=bool)  # some site could take one more chip of some available kind
        fits_any = np.zeros(n_s, dtype=bool)  # ... that also has supply left
        for i in range(n_i):
            for j in range(n_c):
                if available[j] and allowed[i, j]:
                    room = site_room[:, i] >= w[j] - tol
                    fits_power |= room
                    fits_any |= room & (supply_room[:, j] >= 1)
        min_w = min((w[j] * cap_k.min() for j in range(n_c) if available[j]), default=np.inf)
        min_cost = min((price[t, j] * hours for j in range(n_c) if available[j]), default=np.inf)
        code = np.full(n_s, _NONE, dtype=np.int8)
        code[~fits_power] = _POWER
        code[fits_power & ~fits_any] = _SUPPLY
        if not np.isfinite(min_w):  # the roadmap offers nothing this period
            binding[:, t] = _SUPPLY
            if progress is not None:
                progress(t + 1, n_t)
            continue
        if limit is not None:
            code[fits_any & (money_room < min_cost)] = _MONEY
        if cap is not None:
            # the cap binds when it leaves no room, or when power ran out exactly at the cap
            # (more energized power would not have helped)
            energized_cap_w = (energized[:, t, :] * cap_k).sum(axis=1)
            code[(cap_room < min_w) | (~fits_power & (energized_cap_w >= cap - min_w))] = _CAP
        binding[:, t] = code
        if progress is not None:
            progress(t + 1, n_t)

    c = scn.deal.commitment
    c_start = _month_index(c.start)
    c_months = int(round(c.term_s / SECONDS_PER_MONTH_AVG))
    in_commitment = (t_pos >= c_start) & (t_pos < c_start + c_months)

    return Fleet(
        months=months,
        period_s=period_s,
        sites=[s.name for s in scn.sites],
        chips=specs,
        pue=pue,
        energized_it_w=energized,
        added=added,
        retired=retired,
        installed=installed,
        price_usd_per_chip_h=price,
        binding=binding,
        capacity_cap_w=cap,
        capacity_basis=basis,
        in_commitment=in_commitment,
        seed=scn.seed,
        periods=periods,
    )
