"""Stage 2 of the optimizer: the linear program, written with linopy.

:func:`build_model` turns :class:`~gigawatt.optimize.data.ProblemData` into a
:class:`linopy.Model`. Each constraint family has a name that the shadow prices and the
infeasibility report use (:data:`CONSTRAINTS`). Rows are scaled to megawatts, millions of
dollars and thousands of chips so that HiGHS sees coefficients of similar size; the
results stage scales the duals back (:data:`ROW_SCALE`).
"""

from __future__ import annotations

import warnings

import numpy as np

from gigawatt.optimize.data import ProblemData

__all__ = ["build_model", "first_stage", "second_stage", "CONSTRAINTS", "OBJ_SCALE", "ROW_SCALE", "model_size"]

#: the objective is in millions of dollars
OBJ_SCALE = 1e6
#: what one unit of each constraint's row stands for in SI units or dollars
ROW_SCALE = {"power": 1e6, "cap": 1e6, "spend_limit": 1e6, "commitment": 1e6, "supply": 1e3}

#: constraint families: name -> what it says
CONSTRAINTS = {
    "installed": "chips installed = chips added within their lifetime",
    "power": "IT power of the chips at a site <= its energized IT power",
    "supply": "chips of a generation added in a calendar year <= its supply",
    "cap": "power of all chips (on the cap's basis) <= the deal's capacity cap",
    "spend_limit": "the buyer's spend in a period <= the spend limit's share of it",
    "commitment": "spend in the term + shortfall >= the commitment",
    "inference_peak": "chips held for inference at its peak <= chips installed",
    "chip_time": "chips busy on inference (mean) + chips training <= chips installed",
    "busy": "chips busy on a stream <= chips held for it",
    "served_busy": "tokens served <= what the busy chips produce",
    "served_curve": "tokens served <= what the held chips serve of the day's profile",
    "training": "a run's FLOP done + FLOP left undone = its FLOP",
    "job": "a run's FLOP/s on a generation <= the concave envelope of its job's throughput over its chips",
    "pool_most": "(milp) a run's chips at a site and generation <= its most there, times whether it trains there",
    "pool_least": "(milp) a run's chips at a site and generation >= its min_chips, times whether it trains there",
    "one_pool": "(milp) a run trains on at most one pool (site, generation) a period",
    "pool_fit": "(milp) chips of the runs at a site and generation <= chips installed there",
    "pool_sum": "(milp) a run's chips on a generation = its chips at the sites",
    "inference_demand": "every token demanded is served (allow_unmet: false)",
    "equal_share": "every stream is served the same share in a period (pooled allocation)",
}


def _da(values, dims, coords):
    import xarray as xr

    return xr.DataArray(np.asarray(values, dtype=float), dims=dims, coords={d: coords[d] for d in dims})


def build_model(data: ProblemData):
    """The buildout and allocation program of a scenario.

    Parameters
    ----------
    data : ProblemData
        From :func:`gigawatt.optimize.data.check_inputs`.

    Returns
    -------
    linopy.Model
        Variables ``added``, ``installed`` (chips, by period, site, chip), ``held``
        and ``busy`` (inference chips at the peak and on average, by period, stream,
        chip), ``served`` (share of each stream's tokens), ``training`` (chips on
        each run), ``undone`` (share of each run's FLOP not done by the horizon's end)
        and ``shortfall`` (of the commitment, $M); constraints as :data:`CONSTRAINTS`.

    Notes
    -----
    With :math:`a_{p,s,c}` chips added, :math:`n` installed, :math:`x` held for
    inference at the peak, :math:`u` busy on inference, :math:`y` training, :math:`\\sigma`
    the share of tokens served and :math:`\\phi` the share of a run's FLOP done, the
    buyer's view minimizes

    .. math::
        \\sum_{p,s,c} \\kappa_{p,c} n_{p,s,c} + d_T \\, \\text{shortfall}
        + \\sum_{p,w} v_{p,w} D_{p,w} (1 - \\sigma_{p,w})
        + \\sum_{p,r} V \\ell_{p,r} \\phi_{p,r} + \\sum_r V L_r \\, \\text{undone}_r

    with :math:`\\kappa` the discounted contract cost of a chip over the period,
    :math:`v` the discounted value of an unserved output token, :math:`D` the output
    tokens demanded, :math:`V` the price of a run-month late and :math:`\\ell` the
    months late of the period. Subject to

    .. math::
        n_{p} = n_{p-1} + a_{p} - a_{p-L_c},\\quad
        \\sum_c w_c n_{p,s,c} \\le E_{p,s},\\quad
        \\sum_{p \\in y,s} a_{p,s,c} \\le Q_{y,c},\\quad
        \\sum_{s,c} k_s w_c n_{p,s,c} \\le K,\\quad
        \\sum_{s,c} \\pi_{p,c} n_{p,s,c} \\le B_p,

    .. math::
        \\sum_w x_{p,w,c} \\le \\sum_s n_{p,s,c},\\quad
        \\sum_w u_{p,w,c} + \\sum_r y_{p,r,c} \\le \\sum_s n_{p,s,c},\\quad
        u \\le x,

    .. math::
        D_{p,w}\\sigma_{p,w} \\le \\Delta t_p \\sum_c \\rho_{w,c} u_{p,w,c},\\quad
        D_{p,w}\\sigma_{p,w} \\le a_k D_{p,w} + b_k \\Delta t_p \\sum_c \\rho_{w,c} x_{p,w,c},

    .. math::
        \\sum_p \\phi_{p,r} + \\text{undone}_r = 1,\\quad
        \\phi_{p,r} = \\Delta t_p \\sum_c f_{r,c} y_{p,r,c} / F_r

    where :math:`(a_k, b_k)` are the pieces of the served-share curve of the day's
    profile (:func:`gigawatt.optimize.data._curve`), :math:`\\rho` output tokens/s per
    chip and :math:`f` training FLOP/s per chip. Without backfill the chips training
    and the chips held for inference share the installed chips:
    :math:`\\sum_w x + \\sum_r y \\le \\sum_s n`. The provider's view maximizes
    :math:`\\sum (\\kappa - o) n - \\sum \\gamma a` (contract revenue less power and
    operations, less capex when added) under the same constraints.
    """
    import linopy

    m = linopy.Model()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # linopy's notes on shifted variables (absent slots count as zero here)
        added, installed = first_stage(m, data)
        m.add_objective(second_stage(m, data, added, installed), sense="min")
    return m


def _coords(data: ProblemData) -> dict:
    return {"period": np.arange(data.energized_it_w.shape[0]), "site": data.sites, "chip": data.chips,
            "stream": data.streams, "run": data.runs, "piece": np.arange(data.curve_a.shape[-1]),
            "year": data.supply_years,
            "job_piece": np.arange(data.train_slope.shape[2] if data.train_slope is not None else 1)}


def first_stage(m, data: ProblemData):
    """The buildout's variables: chips added and installed by period, site and chip, and the lifetimes that link them.

    Parameters
    ----------
    m : linopy.Model
    data : ProblemData

    Returns
    -------
    (linopy.Variable, linopy.Variable)
        ``added`` and ``installed``.
    """
    coords = _coords(data)
    ub_add = _da(np.where(data.can_add, np.inf, 0.0), ("period", "site", "chip"), coords)
    added = m.add_variables(lower=0, upper=ub_add, name="added")
    installed = m.add_variables(lower=0, coords=[coords["period"], coords["site"], coords["chip"]],
                                dims=["period", "site", "chip"], name="installed")
    for j, chip in enumerate(data.chips):
        a, n = added.sel(chip=chip), installed.sel(chip=chip)
        m.add_constraints(n - n.shift(period=1) - a + a.shift(period=int(data.life_periods[j])) == 0,
                          name=f"installed[{chip}]")
    return added, installed


def second_stage(m, data: ProblemData, added, installed, tag: str = "", weight: float = 1.0):
    """The limits on a buildout and the allocation of its chips in one case of the inputs, and that case's cost.

    Parameters
    ----------
    m : linopy.Model
    data : ProblemData
        The case: its power, supply, prices, limits and demand.
    added, installed : linopy.Variable
        From :func:`first_stage`.
    tag : str
        Appended to the name of every variable and constraint (``[3]`` for sample 3 of
        a two-stage program; empty for one case).
    weight : float
        The case's probability, multiplying its cost [1].

    Returns
    -------
    linopy.LinearExpression
        The case's objective, in millions of dollars, times ``weight``.
    """
    import linopy

    coords = _coords(data)
    n_p = len(coords["period"])
    n_w, n_r = len(data.streams), len(data.runs)
    w = _da(data.it_w_per_chip / ROW_SCALE["power"], ("chip",), coords)
    m.add_constraints((installed * w).sum("chip") <= _da(data.energized_it_w / ROW_SCALE["power"],
                                                          ("period", "site"), coords), name=f"power{tag}")
    finite = np.isfinite(data.supply_cap)
    if finite.any():
        year_of = _da(data.year, ("period",), coords)
        per_year = [added.where(year_of == y).sum(["period", "site"]).expand_dims(year=[y]) for y in data.supply_years]
        lhs = linopy.merge(per_year, dim="year") / ROW_SCALE["supply"]
        cap = _da(np.where(finite, data.supply_cap, 0.0) / ROW_SCALE["supply"], ("year", "chip"), coords)
        m.add_constraints(lhs <= cap, name=f"supply{tag}", mask=_da(finite, ("year", "chip"), coords).astype(bool))
    if data.cap_w is not None:
        k = _da(data.cap_k, ("site",), coords)
        m.add_constraints((installed * w * k).sum(["site", "chip"]) <= data.cap_w / ROW_SCALE["cap"], name=f"cap{tag}")
    if data.budget_usd is not None:
        price = _da(data.limit_usd_per_chip / ROW_SCALE["spend_limit"], ("period", "chip"), coords)
        m.add_constraints((installed * price).sum(["site", "chip"])
                          <= _da(data.budget_usd / ROW_SCALE["spend_limit"], ("period",), coords),
                          name=f"spend_limit{tag}")
    shortfall = None
    if data.commitment_usd is not None:
        shortfall = m.add_variables(lower=0, name=f"shortfall{tag}")
        term = _da(data.term_spend_usd_per_chip / ROW_SCALE["commitment"], ("period", "chip"), coords)
        m.add_constraints((installed * term).sum() + shortfall >= data.commitment_usd / ROW_SCALE["commitment"],
                          name=f"commitment{tag}")
    chips_of = installed.sum("site")
    objective = (installed * _da(data.cost_usd_per_chip / OBJ_SCALE, ("period", "chip"), coords)).sum()
    if data.view == "provider":
        margin = _da(data.provider_margin_usd_per_chip / OBJ_SCALE, ("period", "site", "chip"), coords)
        capex = _da(data.provider_capex_usd_per_chip / OBJ_SCALE, ("period", "site", "chip"), coords)
        objective = -(installed * margin).sum() + (added * capex).sum()
    elif shortfall is not None:
        objective = objective + data.commitment_discount * shortfall  # shortfall in $M already
    demand_weight = 1.0 if data.view == "buyer" else 1e-6  # the provider's view only orders the allocation
    load = held = None
    if n_w:
        held = m.add_variables(lower=0, upper=_da(np.where(data.inference_rate > 0, np.inf, 0.0),
                                                  ("stream", "chip"), coords).expand_dims(period=coords["period"]),
                               name=f"held{tag}")
        busy = m.add_variables(lower=0, coords=held.coords, name=f"busy{tag}")
        served = m.add_variables(lower=0, upper=1, coords=[coords["period"], coords["stream"]],
                                 dims=["period", "stream"], name=f"served{tag}")
        demand = data.demand_output_tokens
        has = demand > 0
        per_chip = np.where(has[:, :, None], data.seconds[:, None, None] * data.inference_rate[None] /
                            np.where(has, demand, 1.0)[:, :, None], 0.0)  # share of demand one chip serves
        per_chip = _da(per_chip, ("period", "stream", "chip"), coords)
        m.add_constraints(busy <= held, name=f"busy{tag}")
        m.add_constraints(served <= (busy * per_chip).sum("chip"), name=f"served_busy{tag}")
        a = _da(data.curve_a, ("period", "stream", "piece"), coords)
        b = _da(data.curve_b, ("period", "stream", "piece"), coords)
        m.add_constraints(served - (held * per_chip).sum("chip") * b <= a, name=f"served_curve{tag}")
        if data.equal_share:
            # a short fleet serves every stream the same share of its tokens (the pooled allocation's rule)
            both = has & has[:, :1]
            both[:, 0] = False
            m.add_constraints(served - served.isel(stream=0, drop=True) == 0, name=f"equal_share{tag}",
                              mask=_da(both, ("period", "stream"), coords).astype(bool))
        if not data.allow_unmet:
            m.add_constraints(served >= 1.0, name=f"inference_demand{tag}",
                              mask=_da(has, ("period", "stream"), coords).astype(bool))
        value = _da(data.unmet_usd_per_output_token * demand / OBJ_SCALE * demand_weight, ("period", "stream"), coords)
        # the unmet tokens' cost is the constant sum of value less what is served; the constant is added back in results
        objective = objective - (served * value).sum()
        load = busy.sum("stream")
        m.add_constraints(held.sum("stream") <= chips_of, name=f"inference_peak{tag}")
    if n_r:
        ok = (np.arange(n_p)[:, None] >= data.run_first_period[None, :]) & (data.train_flop_per_chip_s.sum(1) > 0)[None, :]
        if not data.allow_unmet:
            ok &= np.arange(n_p)[:, None] <= data.run_deadline_period[None, :]
        ub = np.where(ok[:, :, None] & (data.train_flop_per_chip_s[None] > 0), np.inf, 0.0)
        training = m.add_variables(lower=0, upper=_da(ub, ("period", "run", "chip"), coords), name=f"training{tag}")
        undone = m.add_variables(lower=0, upper=1.0 if data.allow_unmet else 0.0, coords=[coords["run"]],
                                 dims=["run"], name=f"undone{tag}")
        share = m.add_variables(lower=0, upper=_da(np.where(ub > 0, 1.0, 0.0), ("period", "run", "chip"), coords),
                                name=f"done{tag}")
        scale = data.seconds[:, None, None, None] / data.run_flop[None, :, None, None]
        milp = data.relaxation == "milp"
        if milp:
            on = _pools(m, data, coords, ub > 0, training, installed, tag)
            all_day = training
            kc = dict(coords, job_piece=np.arange(data.train_slope_min.shape[2]))
            slope = _da(scale * data.train_slope_min[None], ("period", "run", "chip", "job_piece"), kc)
            icept = _da(scale * data.train_intercept_min[None], ("period", "run", "chip", "job_piece"), kc)
            effective = training
            if data.backfill_load is not None and held is not None:
                # chips a run backfills on (held for inference, idle in the least loaded hours) train part of the day
                back = m.add_variables(lower=0, upper=_da(ub, ("period", "run", "chip"), coords), name=f"backfill{tag}")
                m.add_constraints(back - training <= 0, name=f"backfill_part{tag}")
                load_k = _da(data.backfill_load, ("period",), coords)
                m.add_constraints(back.sum("run") - held.sum("stream") + busy.sum("stream") * load_k <= 0,
                                  name=f"backfill_idle{tag}")
                effective = training - back * _da(1.0 - data.backfill_share, ("period",), coords)
                all_day = training - back
            else:
                all_day = training
            m.add_constraints(share - effective * slope - on.sum("site") * icept <= 0, name=f"job{tag}",
                              mask=_da(ub > 0, ("period", "run", "chip"), coords).astype(bool))
        else:
            slope = _da(scale * data.train_slope[None], ("period", "run", "chip", "job_piece"), coords)
            icept = _da(scale * data.train_intercept[None], ("period", "run", "chip", "job_piece"), coords)
            m.add_constraints(share - training * slope <= icept, name=f"job{tag}",
                              mask=_da(ub > 0, ("period", "run", "chip"), coords).astype(bool))
        done = share.sum("chip")
        m.add_constraints(done.sum("period") + undone == 1.0, name=f"training{tag}")
        late = data.late_usd_per_run_month * data.late_discount / OBJ_SCALE * demand_weight
        if milp:
            objective = objective + _finish(m, data, coords, done, late, tag)
        else:
            objective = objective + (done * _da(data.late_months * late[None, :], ("period", "run"), coords)).sum()
            objective = objective + (undone * _da(data.unfinished_late_months * late, ("run",), coords)).sum()
        t_load = training.sum("run")
        if milp:
            _newest_first(m, data, coords, all_day, installed, tag)
            t_load = all_day.sum("run")
        if (not data.backfill or milp) and held is not None:
            m.add_constraints(held.sum("stream") + t_load <= chips_of, name=f"chip_time{tag}")
            t_load = None
        load = t_load if load is None else (load if t_load is None else load + t_load)
    if load is not None:
        m.add_constraints(load <= chips_of, name=f"chip_time{tag}" if f"chip_time{tag}" not in m.constraints
                          else f"chip_time_busy{tag}")
    return objective * weight


def _pools(m, data: ProblemData, coords: dict, can, training, installed, tag: str = ""):
    r"""Each run on one pool (one site, one generation) a period, on at least its min_chips or none.

    Parameters
    ----------
    can : ndarray of bool, (period, run, chip)
        Where the run may train on the generation.
    training : linopy.Variable
        Chips on each run by generation, (period, run, chip).
    installed : linopy.Variable

    Returns
    -------
    linopy.Variable
        ``pool``: binary, 1 where the run trains at the site on the generation, (period, run, site, chip).

    Notes
    -----
    With :math:`z_{p,r,s,c} \in \{0, 1\}` and :math:`y_{p,r,s,c}` the run's chips at a site:

    .. math::
        \sum_{s,c} z_{p,r,s,c} \le 1,\quad
        N^{min}_r z \le y \le N^{max}_{r,c} z,\quad
        \sum_r y_{p,r,s,c} \le n_{p,s,c},\quad
        \sum_s y_{p,r,s,c} = \text{training}_{p,r,c}

    (the simulator's pools: a run needs all its chips in one site and generation, and
    waits below its minimum).
    """
    where = can[:, :, None, :] & data.site_allowed[None, None, :, :]
    where &= np.maximum.accumulate(data.can_add, axis=0)[:, None, :, :]  # the chip can be installed there by then
    dims = ("period", "run", "site", "chip")
    mask = _da(where, dims, coords).astype(bool)
    # the most chips a run takes at a site: its own most, and what the site's power could ever hold (a tight big-M)
    site_most = data.energized_it_w.max(axis=0)[:, None] / data.it_w_per_chip[None, :]  # (s, c)
    most = np.minimum(data.run_max_chips[None, :, None, :], site_most[None, None, :, :]) * np.ones(where.shape)
    y = m.add_variables(lower=0, upper=_da(np.where(where, most, 0.0), dims, coords), name=f"pool_chips{tag}")
    z = m.add_variables(binary=True, coords=[coords[d] for d in dims], dims=list(dims), name=f"pool{tag}", mask=mask)
    m.add_constraints(y - z * _da(most, dims, coords) <= 0, name=f"pool_most{tag}", mask=mask)
    m.add_constraints(y - z * _da(data.run_min_chips, ("run",), coords) >= 0, name=f"pool_least{tag}", mask=mask)
    m.add_constraints(z.sum(["site", "chip"]) <= 1, name=f"one_pool{tag}")
    m.add_constraints(y.sum("run") - installed <= 0, name=f"pool_fit{tag}")
    m.add_constraints(y.sum("site") - training == 0, name=f"pool_sum{tag}")
    return z


def _finish(m, data: ProblemData, coords: dict, done, late, tag: str = ""):
    r"""Each run's lateness from the period it finishes in (binaries), not from the share of its FLOP done late.

    Parameters
    ----------
    done : linopy.LinearExpression
        Share of each run's FLOP done in each period, (period, run).
    late : ndarray, (run,)
        Discounted price of a run-month late, in the objective's units.

    Returns
    -------
    linopy.LinearExpression
        The lateness cost.

    Notes
    -----
    With :math:`f_{p,r} \in \{0, 1\}`, finished by the end of period :math:`p`, and
    :math:`\ell_{p,r}` the months from the deadline to the end of :math:`p`:

    .. math::
        f_{p,r} \le \sum_{q \le p} \phi_{q,r},\qquad
        \text{late}_r = \sum_p (\ell_{p,r} - \ell_{p-1,r}) (1 - f_{p-1,r})
        + (L_r - \ell_{P,r}) (1 - f_{P,r})

    (:math:`f_{-1} = 0`, :math:`L_r` the lateness of a run unfinished at the horizon's
    end). A run finishing anywhere in a period counts as finishing at its end, so the
    program's lateness is at most a period above the simulator's.
    """
    step = np.diff(data.late_months, axis=0, prepend=0.0)  # (p, r): months added by period p
    # the constant, every run unfinished at the horizon's end, is added back in the results (an objective has no
    # constant in linopy); minus what finishing by the end of p-1 saves in p, and by the horizon's end saves after it
    save = np.zeros_like(step)
    save[:-1] = step[1:]
    save[-1] = data.unfinished_late_months - data.late_months[-1]
    dims = ["period", "run"]
    mask = _da(save > 0, dims, coords).astype(bool)  # finishing earlier than the period before the deadline saves nothing
    fin = m.add_variables(binary=True, coords=[coords["period"], coords["run"]], dims=dims, name=f"finished{tag}",
                          mask=mask)
    m.add_constraints(fin - done.cumsum("period") <= 0, name=f"finish{tag}", mask=mask)
    self_cost = -(fin * _da(save * late[None, :], ("period", "run"), coords)).sum()
    return self_cost


def run_lateness(data: ProblemData, finished: np.ndarray) -> np.ndarray:
    r"""Months late of each run from whether it has finished by the end of each period [month].

    Parameters
    ----------
    finished : ndarray, (period, run)
        1 where the run's FLOP is all done by the end of the period.

    Returns
    -------
    ndarray, (run,)
        :math:`\sum_p (\ell_p - \ell_{p-1}) (1 - f_{p-1}) + (L - \ell_P)(1 - f_P)` (:func:`_finish`).
    """
    f = np.clip(np.round(np.asarray(finished, dtype=float)), 0.0, 1.0)
    step = np.diff(data.late_months, axis=0, prepend=0.0)
    before = np.vstack([np.zeros((1, f.shape[1])), f[:-1]])
    return (step * (1 - before)).sum(axis=0) + (data.unfinished_late_months - data.late_months[-1]) * (1 - f[-1])


def _newest_first(m, data: ProblemData, coords: dict, training, installed, tag: str = "") -> None:
    r"""Training takes the newest generations first, as the simulator's training reserve is carved.

    Notes
    -----
    With generations ranked newest first and :math:`u_{p,c} \in \{0, 1\}` for each
    generation but the newest, a run trains on :math:`c` only where every newer
    generation :math:`c'` is all training:

    .. math::
        \sum_r y_{p,r,c} \le M_c u_{p,c},\quad
        \sum_r y_{p,r,c'} \ge n_{p,c'} - M_{c'} (1 - u_{p,c})

    with :math:`M_c` the most chips of the generation the sites could hold. The plan's
    training reserve (:func:`gigawatt.optimize.plan.plan_scenario`) then lands on the
    generations the program trained on.
    """
    chips = data.inputs.chips
    order = sorted(range(len(chips)), key=lambda j: chips[j].available, reverse=True)
    most = data.energized_it_w.max(axis=0).sum() / data.it_w_per_chip  # (c,)
    trains = (data.train_slope_min.sum(axis=2) > 0).any(axis=0) if data.train_slope_min is not None else np.zeros(0)
    chips_of = installed.sum("site")
    used = training.sum("run")
    for k, j in enumerate(order[1:], start=1):
        if not trains[j]:
            continue
        newer = [c for c in order[:k] if trains[c]]
        if not newer:
            continue
        name = data.chips[j]
        u = m.add_variables(binary=True, coords=[coords["period"]], dims=["period"], name=f"older[{name}]{tag}")
        m.add_constraints(used.sel(chip=name) / most[j] - u <= 0, name=f"older_on[{name}]{tag}")
        for c in newer:
            other = data.chips[c]
            m.add_constraints((used.sel(chip=other) - chips_of.sel(chip=other)) / most[c] - u >= -1.0,
                              name=f"newer_full[{name},{other}]{tag}")


def model_size(model) -> dict:
    """Variables and constraints of a built model (after masking) [1]."""
    return {"variables": int(model.nvars), "constraints": int(model.ncons)}
