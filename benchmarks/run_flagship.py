"""Start-up and end-to-end time of the command line, beside the cost of importing pandas.

Targets (issue "One pipeline", item 7): ``gigawatt run`` of the flagship in at most
2.0x the wall time of ``python -c "import pandas"`` (paired: each repetition times
both, and the ratio is the median of the pairs); ``gigawatt --help`` and
``gigawatt check`` under 0.5 s; peak resident memory of ``run`` under 300 MB.
Prints one line per command and whether each target is met.

Python's bytecode cache is on, as it is by default: the commands run once to
warm it, then the timed repetitions follow. Where the environment sets
``PYTHONDONTWRITEBYTECODE`` (some sandboxes and containers do), an editable
install recompiles every gigawatt module on each start (about 0.1 s);
``--no-bytecode-cache`` measures that case, and an installed wheel is
compiled at install time as pandas is.

    python benchmarks/run_flagship.py [--repeat 5] [--scenario NAME_OR_PATH] [--no-bytecode-cache]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


ENV = dict(os.environ)


def timed(cmd: list[str], cwd: str) -> tuple[float, float]:
    """Wall time [s] and peak resident memory [MB] of one command, which must succeed."""
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=ENV)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stderr}")
    return wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--scenario", default="anthropic-aws-2026")
    parser.add_argument("--no-bytecode-cache", action="store_true",
                        help="keep PYTHONDONTWRITEBYTECODE as the environment sets it (compile on every start)")
    args = parser.parse_args()
    if not args.no_bytecode_cache:
        ENV.pop("PYTHONDONTWRITEBYTECODE", None)

    exe = Path(sys.executable).with_name("gigawatt")
    gw = [str(exe)] if exe.exists() else [sys.executable, "-m", "gigawatt.cli"]
    pandas = [sys.executable, "-c", "import pandas"]
    rows: dict[str, list[float]] = {"pandas": [], "run": [], "run --no-write --no-store": [], "check": [], "--help": []}
    ratios = []
    peak = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        timed([*gw, "run", args.scenario, "--out", os.path.join(tmp, "warm"), "--db", os.path.join(tmp, "w.duckdb")],
              tmp)  # warms the bytecode cache and the file system
        for i in range(args.repeat):
            out = os.path.join(tmp, f"out{i}")
            p, _ = timed(pandas, tmp)
            r, peak_now = timed([*gw, "run", args.scenario, "--out", out, "--db", os.path.join(tmp, "g.duckdb")], tmp)
            peak = max(peak, peak_now)
            rows["pandas"].append(p)
            rows["run"].append(r)
            ratios.append(r / p)
            rows["run --no-write --no-store"].append(timed([*gw, "run", args.scenario, "--no-write", "--no-store"],
                                                           tmp)[0])
            rows["check"].append(timed([*gw, "check", args.scenario], tmp)[0])
            rows["--help"].append(timed([*gw, "--help"], tmp)[0])
    for name, times in rows.items():
        print(f"{name:28s} median {statistics.median(times):.3f} s  best {min(times):.3f} s")
    ratio = statistics.median(ratios)
    cache = "off (PYTHONDONTWRITEBYTECODE)" if args.no_bytecode_cache and "PYTHONDONTWRITEBYTECODE" in ENV else "on"
    print(f"bytecode cache: {cache}")
    print(f"run / import pandas (paired, median of {args.repeat}): {ratio:.2f}x "
          f"(target <= 2.0x: {'met' if ratio <= 2.0 else 'NOT met'})")
    for name in ("check", "--help"):
        m = statistics.median(rows[name])
        print(f"{name}: {m:.3f} s (target < 0.5 s: {'met' if m < 0.5 else 'NOT met'})")
    print(f"peak memory of the child processes: {peak:.0f} MB (target < 300 MB: {'met' if peak < 300 else 'NOT met'})")


if __name__ == "__main__":
    main()
