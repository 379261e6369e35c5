"""Run the hostile corpus (tests/hostile.py) through the gigawatt CLI and count what happens.

Every scenario case goes through ``gigawatt check`` and, where check exits 0,
``gigawatt run --no-store --no-write --json``; paths that are not regular files
(``/dev/zero``, a FIFO, a folder) go through the same; damaged results stores
built from a real one go through ``runs list``, ``runs show`` and ``report``.
Each command runs in its own subprocess with a memory limit (RLIMIT_AS) and a
timeout. Each case is then

* rejected cleanly: exit 2, a message on stderr, no traceback;
* accepted with a valid result: exit 0, and where JSON was asked for, stdout is
  strict JSON (no NaN or Infinity, no number that overflows) with every number finite;
* a failure: anything else (a traceback, another exit code, a timeout, the
  memory limit, JSON that is not strict), listed with its first error line and,
  for a traceback, the deepest frame in gigawatt's code.

Usage::

    .venv/bin/python scripts/hostile_report.py                 # everything, 2 workers
    .venv/bin/python scripts/hostile_report.py --only alias    # cases whose name contains "alias"
    .venv/bin/python scripts/hostile_report.py --json out.json # also write every outcome as JSON

Exit status 0 when there is no failure, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

import hostile  # noqa: E402


def _jobs(folder: Path, only: str | None, stores: bool):
    """``(name, kind, fn)``: every case as a call that returns its outcome."""
    scen = folder / "scenarios"
    scen.mkdir()
    work = folder / "work"
    work.mkdir()
    jobs = []
    for name, text in hostile.scenario_cases():
        if only and only not in name:
            continue
        path = hostile.write_case(scen, name, text)
        jobs.append((name, "scenario", lambda p=path: hostile.check_then_run(p, work)))
    for name, path in hostile.path_cases(folder):
        if only and only not in name:
            continue
        jobs.append((name, "path", lambda p=path: hostile.check_then_run(p, work)))
    if stores:
        for name, args, cwd in hostile.store_cases(folder / "stores"):
            if only and only not in name:
                continue
            jobs.append((name, "store", lambda a=args, c=cwd: hostile.store_command(a, c)))
    return jobs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2, help="cases run at once (default 2)")
    parser.add_argument("--timeout", type=float, default=hostile.TIMEOUT_S, help="seconds per command (default 60)")
    parser.add_argument("--memory-gb", type=float, default=hostile.MEMORY_BYTES / 2**30,
                        help="address-space limit per command in GiB (default 2)")
    parser.add_argument("--only", help="run only the cases whose name contains this text")
    parser.add_argument("--no-stores", action="store_true", help="leave out the damaged-store cases")
    parser.add_argument("--json", type=Path, help="write every case's outcome to this file")
    parser.add_argument("-v", "--verbose", action="store_true", help="print each case as it finishes")
    args = parser.parse_args(argv)
    hostile.TIMEOUT_S = args.timeout
    hostile.MEMORY_BYTES = int(args.memory_gb * 2**30)

    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="gigawatt-hostile-") as tmp:
        jobs = _jobs(Path(tmp), args.only, not args.no_stores)
        print(f"{len(jobs)} cases, {args.workers} workers, {args.timeout:.0f} s and {args.memory_gb:g} GiB "
              f"per command", flush=True)
        outcomes = {}
        with ThreadPoolExecutor(max_workers=args.workers) as pool:
            futures = {pool.submit(fn): (name, kind) for name, kind, fn in jobs}
            for fut in as_completed(futures):
                name, kind = futures[fut]
                try:
                    out = fut.result()
                except Exception as exc:  # the harness itself failed on this case
                    out = {"outcome": "failure", "detail": f"harness error: {exc!r}", "stage": "", "results": []}
                out["kind"] = kind
                out["seconds"] = sum(r["seconds"] for r in out["results"])
                outcomes[name] = out
                if args.verbose:
                    print(f"  {out['outcome']:9s} {out['seconds']:5.1f} s  {name}: {out['detail'][:160]}", flush=True)

    order = [name for name, _, _ in jobs]
    counts = {k: sum(1 for o in outcomes.values() if o["outcome"] == k) for k in ("rejected", "accepted", "failure")}
    failures = [name for name in order if outcomes[name]["outcome"] == "failure"]
    print()
    print(f"total:              {len(outcomes)}")
    print(f"rejected cleanly:   {counts['rejected']}")
    print(f"accepted, valid:    {counts['accepted']}")
    print(f"failures:           {counts['failure']}")
    by_kind = {}
    for o in outcomes.values():
        by_kind.setdefault(o["kind"], {"rejected": 0, "accepted": 0, "failure": 0})[o["outcome"]] += 1
    for kind, c in by_kind.items():
        print(f"  {kind:9s} rejected {c['rejected']}, accepted {c['accepted']}, failures {c['failure']}")
    if failures:
        print()
        print("failures (case [stage]: first error line):")
        for name in failures:
            o = outcomes[name]
            print(f"  {name} [{o['stage']}]: {o['detail'][:300]}")
    slow = sorted(outcomes.items(), key=lambda kv: -kv[1]["seconds"])[:5]
    print()
    print("slowest: " + ", ".join(f"{n} {o['seconds']:.1f} s" for n, o in slow))
    print(f"wall time {time.monotonic() - start:.0f} s")
    if args.json:
        keep = {name: {k: v for k, v in o.items() if k != "results"} |
                {"commands": [{"args": [str(a) for a in r["args"]], "rc": r["rc"], "seconds": round(r["seconds"], 2),
                               "stderr_tail": r["stderr"][-3000:]} for r in o["results"]]}
                for name, o in outcomes.items()}
        args.json.write_text(json.dumps({"counts": counts, "total": len(outcomes), "cases": keep}, indent=1))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
