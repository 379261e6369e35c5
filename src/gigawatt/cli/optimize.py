"""``gigawatt optimize``: the least-cost buildout and allocation, its shadow prices, and the plan simulated."""

from __future__ import annotations

import math
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from gigawatt.cli import formats as fmt
from gigawatt.cli.common import SET_OPTION, fail, load_scenario, print_json, stderr, stdout
from gigawatt.cli.tables import WIDE_OPTION, Column, fitted_table, show


class Period(str, Enum):
    quarter = "quarter"
    month = "month"


class View(str, Enum):
    buyer = "buyer"
    provider = "provider"


class Sampler(str, Enum):
    lhs = "lhs"
    sobol = "sobol"


class Relaxation(str, Enum):
    milp = "milp"
    lp = "lp"


_UNITS = {"USD/MW-month": "/MW-month", "USD/chip": "/chip", "USD/USD": " per $", "USD/month": "/month"}


def _price(value, unit: str) -> str:
    if unit == "USD/USD":
        return f"${value:,.2f} per $"
    return fmt.money(value, _UNITS.get(unit, ""))


def loosen_table(rows: list[dict], wide: bool):
    """The "what would loosen it" table: each binding limit, where and when, its shadow price."""
    columns = [
        Column("limit", lambda r: r["constraint"].replace("_", " "), right=False),
        Column("where", lambda r: str(r["where"]), right=False),
        Column("binds in", lambda r: r["binds"] or "-", right=False),
        Column("shadow price\n(mean)", lambda r: _price(r["mean_value"], r["unit"])),
        Column("shadow price\n(max)", lambda r: _price(r["max_value"], r["unit"]), wide=True),
        Column("worth of +1\nwhere it binds", lambda r: fmt.money(r["value_usd"])),
    ]
    return fitted_table("What would loosen it (present value of one more unit)", [columns, columns[:4] + columns[5:]],
                        rows, wide)


def years_table(result, wide: bool):
    """The plan by year: IT GW, chips installed by generation, spend, served share."""
    years = result.years()
    chips = result.data.chips
    columns = [Column("year", lambda r: str(r["year"])), Column("IT GW", lambda r: fmt.gw(r["it_power_w"]))]
    columns += [Column(c, (lambda c: lambda r: fmt.chips(r["chips"][c]))(c)) for c in chips]
    columns += [Column("spend\n$B", lambda r: fmt.usd_b(r["spend_usd"]))]
    if result.data.streams:
        columns += [Column("inference\nserved", lambda r: fmt.pct(r.get("inference_served_share")))]
    return fitted_table(f"{result.data.inputs.name}: the optimal plan ({result.data.view}'s view, by {result.data.period})",
                        [columns], years, wide)


def runs_table(result, wide: bool):
    columns = [Column("run", lambda r: r["name"], right=False), Column("done by", lambda r: r["finish_period"] or "-"),
               Column("deadline", lambda r: r["deadline"] or "-"),
               Column("months late", lambda r: "-" if r["months_late"] is None else f"{r['months_late']:.0f}"),
               Column("share done", lambda r: fmt.pct(r["share_done"]))]
    return fitted_table("Training runs in the plan (the program's)", [columns], result.run_finish(), wide)


def comparison_table(comparison, wide: bool):
    """Heuristic against optimal: cost, served share, runs on time, GW-years."""
    h, o, s = comparison.heuristic, comparison.optimizer, comparison.simulated
    rows = [
        ("priced cost, PV $B", *(fmt.usd_b(x["priced_cost_usd"]) for x in (h, o, s))),
        ("contract spend, PV $B", *(fmt.usd_b(x["contract_usd"]) for x in (h, o, s))),
        ("commitment shortfall, $B", *(fmt.usd_b(x.get("shortfall_usd")) for x in (h, o, s))),
        ("spend, $B", *(fmt.usd_b(x["spend_usd"]) for x in (h, o, s))),
        ("inference served", *(fmt.pct(x["served_share"], 1) for x in (h, o, s))),
        ("training runs on time", *(f"{x['runs_on_time']} of {x['runs']}" for x in (h, o, s))),
        ("run-months late", *(f"{x['run_months_late']:,.0f}" for x in (h, o, s))),
        ("GW-years of IT", *(f"{x['gw_years']:,.1f}" for x in (h, o, s))),
    ]
    columns = [Column("", lambda r: r[0], right=False), Column("heuristic\n(simulated)", lambda r: r[1]),
               Column("optimal\n(program)", lambda r: r[2]), Column("optimal plan\n(simulated)", lambda r: r[3])]
    return fitted_table("Heuristic buildout against the optimal plan", [columns], rows, wide)


def optimize(
    scenario: Path = typer.Argument(..., help="Scenario YAML file, or the name of a library deal (see `gigawatt deals`)."),
    period: Period = typer.Option(Period.quarter, "--period", help="The optimizer's period: quarter (default) or month."),
    view: View = typer.Option(View.buyer, "--view",
                              help="buyer: least discounted cost of meeting demand, unmet inference and late training "
                                   "priced; provider: most discounted margin under the same constraints."),
    no_unmet: bool = typer.Option(False, "--no-unmet",
                                  help="Every token served and every run by its deadline; a plan that cannot do "
                                       "that is refused, naming the constraints in conflict."),
    relaxation: Relaxation = typer.Option(Relaxation.milp, "--relaxation",
                                          help="milp (default): each training run on one pool (site, generation) a "
                                               "period with at least its min_chips, as the simulator trains it; lp: "
                                               "the linear relaxation (faster, a lower bound, less faithful to "
                                               "training)."),
    simulate: bool = typer.Option(True, "--simulate/--no-simulate",
                                  help="Run the plan and the scenario as given in the simulator and compare them."),
    plan_out: Optional[Path] = typer.Option(None, "--plan-out",
                                            help="Write the plan as a scenario YAML file here (a new file, or one "
                                                 "gigawatt optimize wrote before)."),
    report_out: Optional[Path] = typer.Option(None, "--report",
                                              help="Write an HTML report here: the plan against the scenario's "
                                                   "buildout and the shadow prices over time (opens offline)."),
    samples: Optional[int] = typer.Option(None, "--samples",
                                          help="Plan under uncertainty: one buildout for N draws of the scenario's "
                                               "uncertain inputs (2 to 64; each adds a copy of the allocation, so "
                                               "start with 8), the allocation per draw, on the LP relaxation; prints "
                                               "the expected cost and the value of the stochastic solution."),
    sampler: Sampler = typer.Option(Sampler.lhs, "--sampler", help="With --samples: lhs (Latin hypercube) or sobol."),
    seed: int = typer.Option(0, "--seed", help="With --samples: seeds the sampler (the same seed, the same draws)."),
    time_limit: Optional[float] = typer.Option(None, "--time-limit", min=0.1, max=3600.0,
                                               help="Seconds HiGHS may search the mixed-integer plan before it keeps "
                                                    "the best found (default 6 by quarter, 40 by month); the gap "
                                                    "reached is printed."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object on stdout, nothing else (SI units, USD)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Print the model's size and the solve time on stderr."),
    wide: bool = WIDE_OPTION,
    set_: Optional[list[str]] = SET_OPTION,
) -> None:
    """The least-cost buildout and allocation (a mixed-integer program, HiGHS), the shadow prices of its limits, and the plan simulated against the scenario's own buildout.

    Systems are continuous; the plan the simulator runs is rounded to whole systems. Training is placed as the simulator places it (one pool per run, --relaxation milp, the default) or relaxed (--relaxation lp). --json prints objective_usd, relaxation, costs, served_share, gw_years, training_runs, years, shadow_prices, loosen, lead_time, comparison (heuristic, optimizer, simulated_plan, agreement), model (variables, constraints), timings_s, values, notes.
    """
    from gigawatt.errors import GigawattError

    scn = load_scenario(scenario, set_)
    if plan_out is not None:
        _check_plan_path(plan_out, scenario)
    if report_out is not None and report_out.exists() and not report_out.is_file():
        fail(f"--report: {report_out} is not a file", "give a path for the HTML file")
    if samples is not None:
        _optimize_samples(scenario, scn, samples, sampler.value, seed, period=period.value, view=view.value,
                          no_unmet=no_unmet, plan_out=plan_out, report_out=report_out, json_out=json_out,
                          verbose=verbose, wide=wide)
        return
    import gigawatt.optimize as opt

    try:
        result = opt.optimize(scn, period=period.value, view=view.value, allow_unmet=False if no_unmet else None,
                              simulate=simulate, relaxation=relaxation.value, mip_time_limit_s=time_limit)
    except opt.OptimizeInfeasible as exc:
        fail(f"{scenario}: {exc}", getattr(exc, "hint", None))
    except GigawattError as exc:
        fail(f"{scenario}: {exc}", getattr(exc, "hint", None))
    if verbose:
        t = result.timings_s
        stderr().print(f"model: {result.size['variables']:,} variables, {result.size['constraints']:,} constraints "
                       f"({result.data.period}ly, {len(result.data.labels)} periods); build {t.get('build_s', 0):.2f} s, "
                       f"solve {t.get('solve_s', 0):.2f} s (HiGHS, {result.data.relaxation}"
                       + (f", gap {result.size['mip_gap']:.2%}" if result.size.get("mip_gap") is not None else "")
                       + f"), lead time {t.get('lead_time_s', 0):.2f} s, inputs {t.get('check_s', 0) + t.get('resolve_s', 0):.2f} s"
                       + (f", simulation {t['simulate_s']:.2f} s" if "simulate_s" in t else ""), markup=False)
    if plan_out is not None:
        _write_plan(result, plan_out)
    if report_out is not None:
        from gigawatt.report.optimize import write_optimize_html

        try:
            write_optimize_html(result, report_out)
        except OSError as exc:
            fail(f"--report: cannot write {report_out}: {exc}", "choose a writable file with --report")
    if json_out:
        print_json(result.to_dict())
        return
    con = stdout()
    d = result.data
    what = "least-cost plan, buyer's view" if d.view == "buyer" else "most-margin plan, provider's view"
    from gigawatt.optimize.results import relaxation_text

    gap = result.size.get("mip_gap")
    show(con, f"{d.inputs.name}: {what}, {len(d.labels)} {d.period}s. {relaxation_text(d)}"
              + ("" if gap is None else f" (HiGHS stopped within {fmt.pct(gap, 1)} of the best possible)"
                 if math.isfinite(gap) else " (HiGHS stopped before it bounded the best possible)") + ".",
         wide)
    show(con, years_table(result, wide), wide)
    if d.runs:
        show(con, runs_table(result, wide), wide)
    c = result.costs
    if d.view == "buyer":
        shortfall = "" if c["shortfall_usd"] is None else f" + shortfall ${fmt.usd_b(c['shortfall_usd'])}B"
        show(con, f"Buyer's cost, present value: ${fmt.usd_b(c['buyer_cost_usd'])}B = contract "
                  f"${fmt.usd_b(c['contract_usd'])}B{shortfall} + unmet inference "
                  f"${fmt.usd_b(c['unmet_inference_usd'])}B + late training ${fmt.usd_b(c['late_training_usd'])}B.", wide)
    else:
        show(con, f"Provider's margin, present value: ${fmt.usd_b(c['provider_margin_usd'])}B (contract revenue less "
                  "power, operations, the datacenter's depreciation and chip capex net of book value at the end).",
             wide)
    if result.loosen:
        show(con, loosen_table(result.loosen, wide), wide)
    else:
        show(con, "No limit binds: one more MW, chip or dollar would not lower the cost.", wide)
    if result.comparison is not None:
        show(con, comparison_table(result.comparison, wide), wide)
        agree = result.comparison.agreement()
        show(con, "The optimal plan simulated against the program: spend "
                  f"{fmt.pct(agree['spend_usd'], 2)} apart, served share {fmt.pct(agree['served_share'], 2)} apart "
                  "(relative). Priced cost = contract spend (PV) + unmet inference and late training at the prices below.",
             wide)
        h, o = result.comparison.heuristic, result.comparison.optimizer
        if gap is not None and o["priced_cost_usd"] > h["priced_cost_usd"]:
            reached = f"a {fmt.pct(gap, 1)} gap" if math.isfinite(gap) else "no bound on the gap"
            show(con, f"warning: the search stopped at {reached} with a plan the program prices above "
                      "the scenario's own buildout; give it longer with --time-limit (this machine's load sets how "
                      "far it gets in the default time).", wide)
    show(con, f"Prices: unmet inference ${d.unmet_usd_per_mtok:g} per million tokens, late training "
              f"{fmt.money(d.late_usd_per_run_month)} per run-month"
              + ("" if d.allow_unmet else "; unmet demand disallowed") + ".", wide)
    for why in d.defaults.values():
        show(con, f"default: {why}", wide)
    for note in d.notes:
        show(con, f"note: {note}", wide)
    if plan_out is not None:
        show(con, f"Plan written to {plan_out} (gigawatt run {plan_out})", wide)
    if report_out is not None:
        show(con, f"Report written to {report_out}", wide)


def _optimize_samples(scenario, scn, n, sampler, seed, *, period, view, no_unmet, plan_out, report_out, json_out,
                      verbose, wide) -> None:
    """``--samples N``: the two-stage plan over N draws, its expected cost and its VSS."""
    from gigawatt.errors import GigawattError
    from gigawatt.optimize import two_stage
    from gigawatt.optimize.samples import cases_from_samples

    for given, flag in ((view != "buyer", "--view provider"), (no_unmet, "--no-unmet"), (plan_out, "--plan-out"),
                        (report_out, "--report")):
        if given:
            fail(f"--samples: {flag} is not available with --samples",
                 f"leave out {flag}, or run gigawatt optimize without --samples for it")
    try:
        cases, values, held = cases_from_samples(scn, n, seed=seed, sampler=sampler)
        result = two_stage(cases, period=period)
    except GigawattError as exc:
        fail(f"{scenario}: {exc}", getattr(exc, "hint", None))
    lp_note = ("two_stage solves the LP relaxation: systems are continuous and training may spread over pools "
               "(as --relaxation lp), so its costs are a lower bound on the mixed-integer plan's")
    notes = [lp_note]
    if held:
        notes.append("held at their base value (no field in the scenario to set): " + ", ".join(held))
    if result.median_plan_note:
        notes.append(result.median_plan_note)
    if verbose:
        t = result.timings_s
        stderr().print(f"model: {result.size['variables']:,} variables, {result.size['constraints']:,} constraints "
                       f"({n} cases, {len(result.data.labels)} {period}s); inputs {t.get('check_s', 0):.2f} s, build "
                       f"{t.get('build_s', 0):.2f} s, solve {t.get('solve_s', 0):.2f} s (HiGHS, LP), median-case plan "
                       f"{t.get('median_plan_s', 0):.2f} s", markup=False)
    if json_out:
        out = result.to_dict()
        out.update({"scenario": scn.name, "samples": n, "sampler": sampler, "seed": seed, "period": period,
                    "relaxation": "lp", "inputs": [u.path for u in scn.uncertain.inputs],
                    "values": values.tolist(), "held": held, "notes": notes})
        print_json(out)
        return
    con = stdout()
    chips = result.data.chips
    columns = [Column("year", lambda r: str(r["year"])), Column("IT GW", lambda r: fmt.gw(r["it_power_w"]))]
    columns += [Column(c, (lambda c: lambda r: fmt.chips(r["chips"][c]))(c)) for c in chips]
    show(con, fitted_table(f"{scn.name}: the robust plan over {n} samples ({sampler}, seed {seed}; the same buildout "
                           f"in every sample, by {period})", [columns], result.years(), wide), wide)
    ev = result.median_plan_expected_cost_usd
    show(con, f"Expected buyer's cost of the robust plan, present value: {fmt.money(result.expected_cost_usd)} "
              f"(samples from {fmt.money(result.case_cost_usd.min())} to {fmt.money(result.case_cost_usd.max())}).",
         wide)
    if ev is None:
        show(con, f"Median-case plan (sample {result.median_case}) held over the samples: not defined; value of the "
                  "stochastic solution: not defined (the median-case plan is infeasible in some sample).", wide)
    else:
        show(con, f"Median-case plan (sample {result.median_case}) held over the samples: expected cost "
                  f"{fmt.money(ev)}. Value of the stochastic solution: {fmt.money(result.vss_usd)}.", wide)
    for note in notes:
        show(con, f"note: {note}", wide)


#: the first line of every plan file, by which a later run knows the file is its own to replace
PLAN_HEAD = "# The least-cost plan for "


def _check_plan_path(path: Path, scenario: Path) -> None:
    """Refuse a --plan-out that would replace a file gigawatt optimize did not write (the scenario, say)."""
    if not path.exists() and not path.is_symlink():
        return
    if path.is_symlink() or not path.is_file():
        fail(f"--plan-out: {path} exists and is not a regular file", "give a new file name for the plan")
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            first = f.readline()
    except OSError as exc:
        fail(f"--plan-out: cannot read {path}: {exc}", "give a new file name for the plan")
    if not first.startswith(PLAN_HEAD) or (scenario.exists() and path.resolve() == scenario.resolve()):
        fail(f"--plan-out: {path} exists and is not a plan that gigawatt optimize wrote; it would be replaced",
             "give a new file name for the plan, or move the file away")


def _write_plan(result, path: Path) -> None:
    import yaml

    from gigawatt.optimize.plan import plan_scenario

    doc = plan_scenario(result)
    head = (f"{PLAN_HEAD}{result.data.inputs.name} by gigawatt optimize ({result.data.view}'s view, "
            f"by {result.data.period}): one site per (site, generation), energized with the plan's IT power.\n")
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(head + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        fail(f"--plan-out: cannot write {path}: {exc}", "choose a writable path")


def register(app: typer.Typer) -> None:
    app.command("optimize")(optimize)
