"""Time the results store and the report on the flagship scenario, in process.

Prints the time to save a run into a fresh DuckDB file, to load it back, to
write the HTML report and (with ``--png``) the PNG images; imports and the
buildout are excluded. Uses the simulation when ``gigawatt.fleet.simulate``
is present, the buildout alone otherwise.

    python benchmarks/store_report.py [--repeat 3] [--png]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def flagship_results(path: Path):
    import gigawatt

    return gigawatt.run(path)


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", default=str(ROOT / "scenarios" / "anthropic-aws-2026.yaml"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--png", action="store_true", help="also time the PNG images (needs kaleido and Chromium)")
    args = parser.parse_args()

    from gigawatt import report, store

    results = flagship_results(Path(args.scenario))
    ds = results.dataset
    print(f"dataset: {len(ds.data_vars)} variables, {sum(v.size for v in ds.data_vars.values()):,} values; "
          f"{len(results.events)} training runs")
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.duckdb"
        ids = []
        t_save = best(lambda: ids.append(store.save(results, db)), args.repeat)
        t_load = best(lambda: store.load_run(db, ids[0]), args.repeat)
        t_list = best(lambda: store.list_runs(db), args.repeat)
        html = Path(tmp) / "report.html"
        t_html = best(lambda: report.write_html(results, html), args.repeat)
        print(f"save  {1e3 * t_save:7.1f} ms  (one transaction; file {db.stat().st_size / 1e6:.1f} MB "
              f"after {len(ids)} runs)")
        print(f"load  {1e3 * t_load:7.1f} ms  (Results with the dataset rebuilt as xarray)")
        print(f"list  {1e3 * t_list:7.1f} ms")
        print(f"html  {1e3 * t_html:7.1f} ms  ({html.stat().st_size / 1e6:.1f} MB, plotly.js embedded)")
        if args.png:
            t_png = best(lambda: report.write_pngs(results, Path(tmp) / "png"), 1)
            print(f"png   {1e3 * t_png:7.1f} ms  (kaleido + Chromium, all charts)")


if __name__ == "__main__":
    main()
