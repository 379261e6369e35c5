"""Print the backtest per chip as a Markdown table, for the README's "How far to trust each chip".

    python scripts/backtest_table.py
"""

from __future__ import annotations


def main() -> None:
    from gigawatt.perf.backtest import packaged_path, load_rows, run_backtest, summary_by_chip

    result = run_backtest()
    print("| file | chip | rows | median abs error | max abs error |")
    print("| --- | --- | ---: | ---: | ---: |")
    for part, name in (("training", "training_runs.csv"), ("inference", "inference_runs.csv")):
        by_chip = summary_by_chip(result[part], load_rows(packaged_path(name)))
        for chip, v in by_chip.items():
            print(f"| {part} | {chip} | {v['n']} | {100 * v['median_abs_error']:.1f}% | {100 * v['max_abs_error']:.1f}% |")
        p = result[part]
        print(f"| **{part}, all** | | **{p['n']}** | **{100 * p['median_abs_error']:.1f}%** | "
              f"**{100 * p['max_abs_error']:.1f}%** |")


if __name__ == "__main__":
    main()
