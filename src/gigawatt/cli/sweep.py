"""``gigawatt sweep``: many variants of a scenario (a grid of ``--set`` lists, or a CSV table), locally or on Ray."""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Optional

import typer

from gigawatt.cli import formats as fmt
from gigawatt.cli.common import DEFAULT_DB, fail, print_json, safe, stderr, stdout
from gigawatt.cli.tables import WIDE_OPTION, Column, fitted_table, show


def run_variant(scenario: str, samples: int, params: dict):
    """One variant: the scenario with ``params`` as overrides, run (module level, so that workers can unpickle it)."""
    import gigawatt

    return gigawatt.run(gigawatt.load(scenario, set=params), samples=samples)


def sweep(
    scenario: Path = typer.Argument(..., help="Scenario YAML file, or the name of a library deal."),
    set_: Optional[list[str]] = typer.Option(
        None, "--set", help="KEY=v1,v2,... : the values of one key (several --set make a grid of every "
                            "combination); KEY=[a, b] for values that hold commas."),
    table: Optional[Path] = typer.Option(None, "--from", help="CSV file: a header of keys, one variant per row."),
    samples: int = typer.Option(1, "--samples", min=1, max=100_000, help="Samples of each variant (as `run --samples`)."),
    jobs: int = typer.Option(1, "--jobs", min=1, max=256, help="Local processes (joblib)."),
    ray: Optional[str] = typer.Option(None, "--ray", help="Run on Ray: auto (this machine's cluster, else a local "
                                                          "one) or a cluster address (ray://HEAD:10001)."),
    batch: Optional[int] = typer.Option(None, "--batch", min=1, help="Variants per task (default: about four "
                                                                     "tasks per worker)."),
    db: Path = typer.Option(DEFAULT_DB, "--db", help="Results store every variant is saved in."),
    no_store: bool = typer.Option(False, "--no-store", help="Do not save the variants."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object (SI units), nothing else."),
    wide: bool = WIDE_OPTION,
) -> None:
    """Run variants of a scenario and print one row per variant; each is saved in the store with its parameters (`gigawatt compare SWEEP_ID`)."""
    import gigawatt
    from gigawatt import sweep as sw
    from gigawatt.errors import GigawattError, ScenarioError

    if not set_ and table is None:
        fail("give the variants with --set KEY=v1,v2 or --from table.csv", "gigawatt sweep --help")
    try:
        variants = sw.grid(set_ or []) if set_ else []
        if table is not None:
            rows = sw.from_table(table)
            variants = [{**v, **r} for v in (variants or [{}]) for r in rows]
    except (OSError, ValueError) as exc:
        fail(f"{'--from' if table is not None else '--set'}: {exc}", "--set KEY=v1,v2 or a CSV with a header of keys")
    try:
        gigawatt.load(str(scenario))  # the base scenario must load before anything is spread out
    except ScenarioError as exc:
        from gigawatt.cli.common import print_problems

        print_problems(exc, scenario)
    except GigawattError as exc:
        fail(f"{scenario}: {exc}", getattr(exc, "hint", None))
    if not no_store:
        from gigawatt import store

        try:
            store.check(db)
        except store.StoreError as exc:
            fail(f"--db: {exc}", exc.hint)
    task = functools.partial(run_variant, str(scenario), samples)
    progress = bar = None
    if not json_out and sys.stderr.isatty():
        from rich.progress import Progress

        bar = Progress(console=stderr(), transient=True)
        bar.start()
        job = bar.add_task(f"sweep of {len(variants)} variants", total=len(variants))

        def progress(done, total):
            bar.update(job, completed=done)
    try:
        outcomes = sw.run_variants(task, variants, jobs=jobs, ray=ray, batch=batch, progress=progress)
    except ImportError as exc:
        fail(str(exc), "pip install 'gigawatt[ray]', or leave out --ray to run in local processes")
    except (ConnectionError, RuntimeError, ValueError) as exc:
        fail(f"--ray {ray}: {exc}", "check the address (ray://HEAD:10001) and that the cluster runs")
    finally:
        if bar is not None:
            bar.stop()
    sweep_id = _save(outcomes, scenario, db) if not no_store else None
    rows = [_row(o) for o in outcomes]
    if json_out:
        print_json({"sweep": sweep_id, "variants": rows})
        return
    show(stdout(), variants_table(rows, f"sweep of {safe(scenario)}: {len(rows)} variants", wide), wide)
    for r in rows:
        if r["error"]:
            show(stdout(), f"variant {r['variant']} failed: {safe(r['error'])}", wide)
    if sweep_id is not None:
        show(stdout(), f"Saved as sweep {sweep_id} in {db} (gigawatt compare {sweep_id})", wide)


def _save(outcomes, scenario, db) -> str | None:
    from gigawatt import store

    sweep_id = "sweep-" + store.new_run_id()
    for o in outcomes:
        if not o.ok:
            continue
        o.result.summary_dict["sweep"] = {"id": sweep_id, "variant": o.index, "params": o.params,
                                          "scenario": str(scenario)}
        try:
            o.result.to_store(db)
        except (store.StoreError, OSError) as exc:
            fail(f"--db: {exc}", getattr(exc, "hint", None))
    return sweep_id


def _row(o) -> dict:
    """One variant's headline figures (SI), from its summary."""
    row = {"variant": o.index, "params": o.params, "error": o.error}
    if o.ok:
        row.update(headline(o.result.summary()))
        row["run_id"] = o.result.summary().get("run_id")
    return row


def headline(s: dict) -> dict:
    """The figures a sweep compares, from a run's summary [SI]: with uncertain inputs drawn, their medians."""
    unc = s.get("uncertainty")
    if unc:
        q = unc.get("scalars") or {}

        def p50(key):
            v = (q.get(key) or {}).get("p50")
            return v if isinstance(v, (int, float)) and v == v else None

        return {"it_power_w_end": p50("it_power_w_end"), "spend_usd": p50("spend_usd"),
                "inference_served_share": p50("inference_served_share"), "lab_npv_usd": p50("lab_npv_usd"),
                "provider_npv_usd": p50("provider_npv_usd")}
    years = s.get("years") or []
    ledger = s.get("ledger") or {}
    return {"it_power_w_end": years[-1]["it_power_w"] if years else None,
            "spend_usd": (s.get("totals") or {}).get("spend_usd"),
            "inference_served_share": (s.get("inference") or {}).get("served_share"),
            "lab_npv_usd": (ledger.get("lab") or {}).get("npv_usd"),
            "provider_npv_usd": (ledger.get("provider") or {}).get("npv_usd")}


def _delta(show, key):
    def cell(r, first):
        v, f = r.get(key), first.get(key)
        if v is None:
            return "-"
        if f is None or r is first:
            return show(v)
        d = v - f
        return f"{show(v)} ({'+' if d >= 0 else '-'}{show(abs(d))})"
    return cell


def variants_table(rows: list[dict], title: str, wide: bool):
    """One row per variant: its parameters, then each figure with its difference from the first variant's."""
    first = next((r for r in rows if not r.get("error")), {})
    keys = list(dict.fromkeys(k for r in rows for k in r["params"]))
    cols = [Column("#", lambda r: str(r["variant"]))]
    cols += [Column(k, (lambda r, k=k: safe(r["params"].get(k, ""))), right=False) for k in keys]
    for key, header, show in (("it_power_w_end", "IT GW\nend", fmt.gw), ("spend_usd", "spend\n$B", fmt.usd_b),
                              ("inference_served_share", "inference\nserved", fmt.pct),
                              ("lab_npv_usd", "lab NPV\n$B", fmt.usd_b),
                              ("provider_npv_usd", "provider\nNPV $B", fmt.usd_b)):
        cell = _delta(show, key)
        cols.append(Column(header, (lambda r, cell=cell: "failed" if r.get("error") else cell(r, first))))
    return fitted_table(title + "; (difference from the first); medians where inputs were drawn", [cols], rows, wide)


def register(app: typer.Typer) -> None:
    app.command("sweep")(sweep)
