"""From a scenario to monthly cohorts of chips by (site, chip).

Each month, in order:

1. chips whose lifetime has ended retire, and their power is free again;
2. every site offers its energized IT power not yet in use;
3. new chips fill it in whole units (by default whole systems: an UltraServer,
   an NVL72 rack; the roadmap's ``unit``), the newest available generation
   first (or in roadmap order with ``fill: roadmap``), each addition limited
   by the site's power, the generation's supply left this calendar year
   (pro-rated over the months the roadmap offers it), the deal's capacity cap
   and the buyer's spend limit;
4. the limit that stopped the month's additions is recorded as ``binding``.

With agentic streams whose tools need a dedicated CPU pool, the pool's power is
held at the sites and under the cap before step 3 (:mod:`gigawatt.fleet.tool_reserve`).

Arrays have the dimensions ``(sample, period, site, chip)`` in that order, with
``sample`` of size 1 for a deterministic scenario, so that Monte Carlo later
widens the same arrays instead of looping around this function.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gigawatt import power as pw
from gigawatt.economics import buyer
from gigawatt.scenario.inputs import ResolvedChip, as_inputs
from gigawatt.scenario.periods import Periods
from gigawatt.units import SECONDS_PER_MONTH, SECONDS_PER_YEAR
from gigawatt.units import month_index as _month_index

BINDING = ("none", "power", "supply", "spend_limit", "cap", "cpu")
"""Codes of the ``binding`` array: index -> name.

One rule labels a period, the first that holds (then rule 0 may relabel it):

0. ``cpu``: the label would be ``power`` or ``cap``, the buildout held power for
   the agent tools' dedicated CPU pool this period (:mod:`gigawatt.fleet.tool_reserve`),
   and with that power released one more unit of a generation on offer would have
   fit at some site, under the cap, within its supply and the spend limit;

1. ``cap``: the deal's capacity cap leaves less than one unit of room (or power
   ran out exactly at the cap, so that more energized power would not have helped);
2. ``supply`` when the roadmap offers no generation then; else ``power`` when no
   site has energized power left for one unit of a generation on offer;
3. ``supply``: power is left, but every generation on offer has used this year's supply;
4. ``spend_limit``: one more unit would take the buyer past its yearly spend limit
   (``deal.spend_limit``, an assumption of the scenario; the commitment is a floor
   and never stops growth);
5. ``none``: nothing stopped growth.
"""

_NONE, _POWER, _SUPPLY, _SPEND_LIMIT, _CAP, _CPU = range(6)


#: a roadmap chip as the fleet sees it (resolved once, by :func:`gigawatt.scenario.inputs.resolve`)
ChipSpec = ResolvedChip


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
    #: (sample, period, site) IT power held for the agent tools' dedicated CPU pool [W]; None without one
    tool_cpu_reserve_w: np.ndarray | None = None
    periods: Periods | None = None
    inputs: Any = None  # the Inputs it was built from
    notes: list = field(default_factory=list)  # what a reader should know about the inputs (Inputs.notes)
    #: (sample, period, chip) contract price of each sample where the prices are uncertain, else None [USD/h]
    price_samples: np.ndarray | None = None

    @property
    def energized_facility_w(self) -> np.ndarray:
        """Energized power as facility (grid) draw, (sample, period, site) [W]: energized IT times the site's PUE."""
        return self.energized_it_w * self.pue[None, None, :]

    @property
    def chips_per_unit(self) -> np.ndarray:
        """``(chip,)`` chips added at a time [1]."""
        return np.array([c.chips_per_unit for c in self.chips])

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
        price = self.price_samples[:, :, None, :] if self.price_samples is not None else self.price_usd_per_chip_h[None, :, None, :]
        return buyer.spend_usd(self.installed, price, self.period_s[None, :, None, None])

    def energy_j(self) -> np.ndarray:
        """Facility energy at full load per period, (sample, period, site, chip) [J]."""
        return pw.energy_j(self.facility_power_w(), self.period_s[None, :, None, None])

    def peak_flops(self, precision: str = "bf16") -> np.ndarray:
        """Installed peak dense FLOP/s, (sample, period, site, chip) [FLOP/s]."""
        attr = "peak_bf16_flops" if precision == "bf16" else "peak_fp8_flops"
        return self.installed * np.array([getattr(c, attr) for c in self.chips])

    def to_dataset(self):
        """The fleet as an ``xarray.Dataset`` with the architecture's dimensions."""
        return self.to_arrays().to_xarray()

    def to_arrays(self):
        """The fleet's arrays (:class:`gigawatt.arrays.ArrayData`), as :meth:`to_dataset` holds them."""
        from gigawatt.arrays import ArrayData

        coords = {
            "sample": np.arange(self.installed.shape[0]),
            "period": self.period_start,
            "site": self.sites,
            "chip": self.chip_ids,
        }
        dims4 = ("sample", "period", "site", "chip")
        return ArrayData.build(
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
                "energized_facility_w": (("sample", "period", "site"), self.energized_facility_w,
                                         {"units": "W", "long_name": "energized power as facility draw (IT x PUE)"}),
                "binding": (("sample", "period"), np.array(BINDING)[self.binding].astype(str)),
                "price_usd_per_chip_h": (("period", "chip"), self.price_usd_per_chip_h, {"units": "USD/h"}),
                "period_s": (("period",), self.period_s, {"units": "s"}),
                "pue": (("site",), self.pue, {"units": "1"}),
                "it_w_per_chip": (("chip",), self.it_w_per_chip, {"units": "W"}),
                "chips_per_unit": (("chip",), self.chips_per_unit, {"units": "1", "long_name": "chips added at a time"}),
            },
            coords=coords,
            attrs={"seed": self.seed, "capacity_basis": self.capacity_basis,
                   "capacity_cap_w": self.capacity_cap_w if self.capacity_cap_w is not None else np.nan},
        )


def build_fleet(inputs, n_samples: int = 1, progress=None, sampled=None) -> Fleet:
    """Monthly cohorts of chips by (site, chip).

    Parameters
    ----------
    inputs : Inputs or Scenario
        From :func:`gigawatt.scenario.inputs.resolve` (a scenario is resolved first).
    n_samples : int
        Width of the ``sample`` axis (1 for a deterministic run).
    progress : callable, optional
        Called as ``progress(done_periods, total_periods)``.
    sampled : gigawatt.uncertainty.SampledInputs, optional
        Inputs that differ between samples (Monte Carlo draws): any of
        ``energized_it_w`` (sample, period, site) [W], ``supply_in_year``
        (sample, period, chip) [1], ``from_month`` (sample, chip) month index,
        ``price_usd_per_chip_h`` (sample, period, chip) [USD/h],
        ``spend_limit_usd_per_year`` and ``capacity_cap_w`` (sample,); those
        left None take the inputs' one value.

    Returns
    -------
    Fleet

    Notes
    -----
    In each period :math:`t`, site :math:`s` and chip :math:`c` taken in fill
    order, the chips added are :math:`a_{s,c,t} = n_c\\,u_{s,c,t}`, whole
    units of :math:`n_c` chips (the roadmap's ``unit``: a whole system by
    default), with

    .. math::
        u_{s,c,t} = \\min\\Big(\\Big\\lfloor \\frac{E_{s,t} - U_{s,t}}{n_c w_c} \\Big\\rfloor,
        \\; \\Big\\lfloor \\frac{Q_{c,y} - q_{c,y}}{n_c} \\Big\\rfloor,\\;
        \\Big\\lfloor \\frac{K - U_t}{n_c w_c\\,k_s} \\Big\\rfloor,\\;
        \\Big\\lfloor \\frac{B_t - S_t}{n_c p_{c,t}\\,h_t} \\Big\\rfloor \\Big)

    with :math:`E` the energized IT power, :math:`U` the power in use,
    :math:`w_c` the all-in IT watts per chip, :math:`Q_{c,y}` the supply cap of
    the calendar year (the yearly cap times the share of the year's months the
    roadmap offers the chip) and :math:`q_{c,y}` what was deployed of it,
    :math:`K` the capacity cap (:math:`k_s` = 1 on an IT basis, the site's PUE
    on a facility basis), :math:`B_t` the spend limit of the period and
    :math:`S_t` the spend already committed in it.
    """
    inputs = as_inputs(inputs)
    state = _State.start(inputs, int(n_samples), sampled)
    n_t = len(inputs.periods)
    tools = _tool_reserve(inputs, state, getattr(sampled, "demand_scale", None))
    for t in range(n_t):
        _retire(state, t)
        rooms = _headroom(state, t)
        held = _fill_with_tool_cpus(state, t, rooms, tools)
        state.binding[:, t] = _binding(state, t, rooms)
        if held is not None:
            _cpu_binding(state, t, rooms, held)
        if progress is not None:
            progress(t + 1, n_t)
    return Fleet(
        months=inputs.months, period_s=inputs.periods.seconds, sites=list(inputs.sites), chips=list(inputs.chips),
        pue=inputs.pue, energized_it_w=state.energized, added=state.added, retired=state.retired,
        installed=state.installed, price_usd_per_chip_h=inputs.price_usd_per_chip_h, binding=state.binding,
        price_samples=getattr(sampled, "price_usd_per_chip_h", None),
        capacity_cap_w=inputs.deal.capacity_cap_w, capacity_basis=inputs.deal.capacity_basis,
        in_commitment=inputs.in_commitment, seed=inputs.seed, periods=inputs.periods, inputs=inputs,
        notes=list(getattr(inputs, "notes", None) or []),
        tool_cpu_reserve_w=tools[1] if tools is not None else None,
    )


#: units are whole: a headroom within this many units of the next one counts as room for it
_WHOLE_UNIT_TOL = 1e-9


@dataclass
class _State:
    """The buildout's arrays and running totals while it steps through the periods."""

    inputs: Any
    w: np.ndarray  # (chip,) all-in IT watts per chip [W]
    unit: np.ndarray  # (chip,) chips added at a time [1]
    cap_k: np.ndarray  # (site,) cap watts used per IT watt
    life: np.ndarray  # (chip,) lifetime [periods]
    frm: np.ndarray  # (sample, chip) first month of the roadmap window
    until: np.ndarray  # (chip,) last month of the roadmap window
    supply_cap: np.ndarray  # (sample, period, chip) most chips in the period's calendar year
    price: np.ndarray  # (sample, period, chip) [USD/h]
    spend_limit: np.ndarray | None  # (sample,) [USD/year], None without a limit
    cap_w: np.ndarray | None  # (sample,) [W], None without a cap
    energized: np.ndarray  # (sample, period, site) [W]
    added: np.ndarray  # (sample, period, site, chip)
    retired: np.ndarray
    installed: np.ndarray
    binding: np.ndarray  # (sample, period)
    current: np.ndarray  # (sample, site, chip) chips in service now
    deployed_in_year: np.ndarray  # (sample, chip) added this calendar year

    @classmethod
    def start(cls, inputs, n_s: int, sampled=None) -> "_State":
        """Empty arrays for ``n_s`` samples, and the per-chip constants of the fill (per sample where ``sampled`` says)."""
        from gigawatt.scenario.inputs import NO_END_MONTH

        chips = inputs.chips
        w = inputs.it_w_per_chip
        if np.any(w <= 0):
            bad = [c.chip for c in chips if c.it_w_per_chip <= 0]
            raise ValueError(f"chips without a positive IT power in the catalog: {bad}")
        n_t, n_i, n_c = len(inputs.periods), len(inputs.sites), len(chips)
        shape = (n_s, n_t, n_i, n_c)
        supply = getattr(inputs, "supply_in_year", None)
        if supply is None:  # Inputs built without it: the yearly caps as given
            supply = np.broadcast_to(np.array([c.supply_per_year for c in chips], dtype=float), (n_t, n_c))

        def per_sample(name, default, shape):
            value = getattr(sampled, name, None)
            return np.broadcast_to(default if value is None else value, shape)

        limit = inputs.deal.spend_limit.per_year_usd if inputs.deal.spend_limit else None
        cap = inputs.deal.capacity_cap_w
        frm = np.array([_month_index(c.from_month) for c in chips])
        return cls(
            inputs=inputs, w=w, unit=np.array([max(1.0, float(c.chips_per_unit)) for c in chips]),
            cap_k=inputs.pue if inputs.deal.capacity_basis == "facility" else np.ones(n_i),
            life=np.array([inputs.periods.periods_in(c.lifetime_months * SECONDS_PER_MONTH) for c in chips]),
            frm=per_sample("from_month", frm, (n_s, n_c)),
            until=np.array([_month_index(c.until) if c.until else NO_END_MONTH for c in chips]),
            supply_cap=per_sample("supply_in_year", np.asarray(supply, dtype=float), (n_s, n_t, n_c)),
            price=per_sample("price_usd_per_chip_h", inputs.price_usd_per_chip_h, (n_s, n_t, n_c)),
            spend_limit=None if limit is None else per_sample("spend_limit_usd_per_year", np.float64(limit), (n_s,)),
            cap_w=None if cap is None else per_sample("capacity_cap_w", np.float64(cap), (n_s,)),
            energized=per_sample("energized_it_w", inputs.energized_it_w, (n_s, n_t, n_i)).copy(),
            added=np.zeros(shape), retired=np.zeros(shape), installed=np.zeros(shape),
            binding=np.zeros((n_s, n_t), dtype=np.int8), current=np.zeros((n_s, n_i, n_c)),
            deployed_in_year=np.zeros((n_s, n_c)),
        )


@dataclass
class _Rooms:
    """What is left in period ``t`` for new chips: power by site, the cap, money, supply."""

    site: np.ndarray  # (sample, site) [W]
    cap: np.ndarray  # (sample,) [W]
    money: np.ndarray  # (sample,) [USD]
    supply: np.ndarray  # (sample, chip) [1]
    available: np.ndarray  # (sample, chip) bool: inside its roadmap window
    hours: float  # length of the period [h]


def _retire(state: _State, t: int) -> None:
    """Start a new supply year where the calendar year turns; retire the cohort whose lifetime ends now."""
    year = state.inputs.periods.year
    if t > 0 and year[t] != year[t - 1]:
        state.deployed_in_year[:] = 0.0
    old = t - state.life
    for j in range(len(state.w)):
        if old[j] >= 0:
            state.retired[:, t, :, j] = state.added[:, old[j], :, j]
    state.current -= state.retired[:, t]


def _headroom(state: _State, t: int) -> _Rooms:
    """Power, cap, money and supply left in period ``t`` once the chips in service are counted.

    Notes
    -----
    Money left is the spend limit's share of the period, :math:`B\\,\\Delta t / \\text{year}`,
    less what the chips in service already cost in it.
    """
    inputs = state.inputs
    period_s = inputs.periods.seconds[t]
    hours = period_s / 3600.0
    n_s = state.current.shape[0]
    used_site = state.current @ state.w  # (sample, site) [W]
    price = state.price[:, t]  # (sample, chip)
    month = inputs.periods.month[t]
    return _Rooms(
        site=np.maximum(state.energized[:, t, :] - used_site, 0.0),
        cap=(state.cap_w - (used_site * state.cap_k).sum(axis=1)) if state.cap_w is not None else np.full(n_s, np.inf),
        money=(state.spend_limit * period_s / SECONDS_PER_YEAR - (state.current * price[:, None, :] * hours).sum(axis=(1, 2))
               if state.spend_limit is not None else np.full(n_s, np.inf)),
        supply=np.maximum(state.supply_cap[:, t] - state.deployed_in_year, 0.0),
        available=(state.frm <= month) & (month <= state.until[None, :]),
        hours=hours,
    )


def _fill(state: _State, t: int, rooms: _Rooms) -> None:
    """Add whole units site by site, in fill order, each addition limited by power, supply, the cap and money."""
    inputs = state.inputs
    limited_by_money = state.spend_limit is not None
    price = state.price[:, t]  # (sample, chip)
    tol = _WHOLE_UNIT_TOL
    n_s, n_i, n_c = state.current.shape
    add_t = np.zeros((n_s, n_i, n_c))
    for i in range(n_i):
        for j in inputs.fill_order:
            on_offer = rooms.available[:, j]
            if not (inputs.allowed[i, j] and on_offer.any()):
                continue
            wj, uj = state.w[j], state.unit[j]
            units = np.floor(rooms.site[:, i] / (uj * wj) + tol)
            units = np.minimum(units, np.floor(rooms.supply[:, j] / uj + tol))
            if state.cap_w is not None:
                units = np.minimum(units, np.floor(np.maximum(rooms.cap, 0.0) / (uj * wj * state.cap_k[i]) + tol))
            if limited_by_money:
                units = np.minimum(units, np.floor(np.maximum(rooms.money, 0.0) / (uj * price[:, j] * rooms.hours) + tol))
            if not on_offer.all():
                units = np.where(on_offer, units, 0.0)
            n = np.maximum(units, 0.0) * uj
            add_t[:, i, j] = n
            rooms.site[:, i] -= n * wj
            rooms.supply[:, j] -= n
            rooms.cap = rooms.cap - n * wj * state.cap_k[i]
            rooms.money = rooms.money - n * price[:, j] * rooms.hours
    state.current += add_t
    state.added[:, t] = add_t
    state.installed[:, t] = state.current
    state.deployed_in_year += add_t.sum(axis=1)


def _binding(state: _State, t: int, rooms: _Rooms) -> np.ndarray:
    """``(sample,)`` code of the limit that stopped period ``t``'s additions, by the rule of :data:`BINDING`."""
    inputs = state.inputs
    cap = state.cap_w
    tol = _WHOLE_UNIT_TOL
    n_s, n_i, n_c = state.current.shape
    available = rooms.available  # (sample, chip)
    unit_w = state.unit * state.w  # (chip,) IT watts of one unit [W]
    fits_power = np.zeros(n_s, dtype=bool)  # some site could take one more unit of some available kind
    fits_any = np.zeros(n_s, dtype=bool)  # ... that also has a unit's supply left
    for i in range(n_i):
        for j in range(n_c):
            if inputs.allowed[i, j] and available[:, j].any():
                room = (rooms.site[:, i] >= unit_w[j] * (1.0 - tol)) & available[:, j]
                fits_power |= room
                fits_any |= room & (rooms.supply[:, j] >= state.unit[j] * (1.0 - tol))
    min_w = np.where(available, unit_w * state.cap_k.min(), np.inf).min(axis=1)  # (sample,)
    offered = np.isfinite(min_w)  # the roadmap offers something this period
    min_cost = np.where(available, state.unit * state.price[:, t] * rooms.hours, np.inf).min(axis=1)
    code = np.full(n_s, _NONE, dtype=np.int8)
    code[~fits_power] = _POWER
    code[fits_power & ~fits_any] = _SUPPLY
    if state.spend_limit is not None:
        code[fits_any & (rooms.money < min_cost)] = _SPEND_LIMIT
    if cap is not None:
        # the cap binds when it leaves no room, or when power ran out exactly at the cap
        # (more energized power would not have helped)
        energized_cap_w = (state.energized[:, t, :] * state.cap_k).sum(axis=1)
        with np.errstate(invalid="ignore"):
            code[offered & ((rooms.cap < min_w) | (~fits_power & (energized_cap_w >= cap - min_w)))] = _CAP
    if not offered.all():  # nothing on offer: supply, unless the cap is reached anyway
        code[~offered] = _SUPPLY
        if cap is not None:
            code[~offered & (rooms.cap < min(unit_w * state.cap_k.min()))] = _CAP
    return code


def _tool_reserve(inputs, state: _State, demand_scale=None):
    """The agent tools' CPU reserve (:func:`gigawatt.fleet.tool_reserve.plan_tool_reserve`, for each
    sample's drawn demand where given) and its ``(sample, period, site)`` array of power held [W];
    None without agentic tools."""
    from gigawatt.fleet.tool_reserve import plan_tool_reserve

    reserve = plan_tool_reserve(inputs, demand_scale)
    if reserve is None:
        return None
    return reserve, np.zeros(state.energized.shape)


def _fill_with_tool_cpus(state: _State, t: int, rooms: _Rooms, tools) -> np.ndarray | None:
    """:func:`_fill`, with the tool CPU pool's power held first where the pool needs dedicated CPUs.

    The period is filled once without a reserve; where the accelerator systems then in service
    (those of the period's additions included) leave tools without host CPUs, the fill is undone,
    the dedicated pool's power held (:meth:`gigawatt.fleet.tool_reserve.ToolReserve.hold`, its size
    counted against the hosts of that first fill) and the period filled again. Returns the power
    held, ``(sample, site)`` [W], or None without agentic tools.
    """
    if tools is None:
        _fill(state, t, rooms)
        return None
    reserve, held_w = tools
    saved = (state.current.copy(), state.deployed_in_year.copy(),
             {k: np.copy(v) for k, v in vars(rooms).items() if isinstance(v, np.ndarray)})
    _fill(state, t, rooms)
    if not (reserve.dedicated_cpus(state.current, t) > 0).any():
        return held_w[:, t]
    with_adds = state.current.copy()
    state.current, state.deployed_in_year = saved[0], saved[1]
    for k, v in saved[2].items():
        setattr(rooms, k, v)
    held = reserve.hold(with_adds, t, rooms.site, rooms.cap, state.energized[:, t, :], state.cap_k)
    held_w[:, t] = held
    _fill(state, t, rooms)
    return held


def _cpu_binding(state: _State, t: int, rooms: _Rooms, held: np.ndarray) -> None:
    """Relabel ``power`` or ``cap`` as ``cpu`` where the power held for the tool CPUs stopped one more
    unit (rule 0 of :data:`BINDING`)."""
    code = state.binding[:, t]
    stopped = ((code == _POWER) | (code == _CAP)) & (held.sum(axis=1) > 0)
    if not stopped.any():
        return
    inputs = state.inputs
    tol = _WHOLE_UNIT_TOL
    site = rooms.site + held
    cap = rooms.cap + (held * state.cap_k[None, :]).sum(axis=1)
    price = state.price[:, t]  # (sample, chip): each sample's drawn prices
    fits = np.zeros(len(code), dtype=bool)
    for i in range(site.shape[1]):
        for j in range(len(state.w)):
            if not inputs.allowed[i, j]:
                continue
            unit_w = state.unit[j] * state.w[j]
            fits |= (rooms.available[:, j] & (site[:, i] >= unit_w * (1.0 - tol))
                     & (rooms.supply[:, j] >= state.unit[j] * (1.0 - tol))
                     & (cap >= unit_w * state.cap_k[i] * (1.0 - tol))
                     & (rooms.money >= state.unit[j] * price[:, j] * rooms.hours * (1.0 - tol)))
    code[stopped & fits] = _CPU
