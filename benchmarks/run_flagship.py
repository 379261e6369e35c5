"""Time `gigawatt run` on the flagship scenario, end to end, and its peak memory.

Targets: under 2 s wall time and under 300 MB peak resident memory, interpreter
start included. Prints one line per repetition and the best and median times.

    python benchmarks/run_flagship.py [--repeat 5] [--scenario PATH]
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

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--scenario", default=str(ROOT / "scenarios" / "anthropic-aws-2026.yaml"))
    args = parser.parse_args()

    exe = Path(sys.executable).with_name("gigawatt")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "gigawatt.cli"]
    times = []
    peaks = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat):
            before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            t0 = time.perf_counter()
            proc = subprocess.run([*cmd, "run", args.scenario, "--out", os.path.join(tmp, "out")],
                                  capture_output=True, text=True)
            wall = time.perf_counter() - t0
            if proc.returncode != 0:
                sys.exit(f"gigawatt run failed:\n{proc.stderr}")
            # ru_maxrss of children is the max over all children so far [KiB on Linux]
            peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            times.append(wall)
            peaks.append(peak_mb)
            print(f"run {i + 1}: {wall:.3f} s wall, peak RSS so far {peak_mb:.0f} MB"
                  + ("" if peak_mb >= before / 1024 else ""))
    print(f"gigawatt run (flagship, with writing results): best {min(times):.3f} s, median "
          f"{statistics.median(times):.3f} s; peak memory {max(peaks):.0f} MB "
          f"(targets: < 2 s, < 300 MB)")


if __name__ == "__main__":
    main()
