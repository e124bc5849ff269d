"""A default run beside one busy process against the same run on an idle machine, for OpenMP's wait policies.

    .venv/bin/python bench/bench_busy.py                    # the quick start's run (python -m aim run)
    .venv/bin/python bench/bench_busy.py --rows 20000       # a shorter check

Users run this on laptops and shared boxes, where another program often holds a core. Each of the four cases
runs ``python -m aim run`` with its defaults (threads: every core) and is timed from start to exit:

- passive, idle / passive, busy: today's default (``aim/__init__.py`` sets ``OMP_WAIT_POLICY=PASSIVE``);
- spinning, idle / spinning, busy: OpenMP's own default, what runs had before (``OMP_WAIT_POLICY`` set empty);

"busy" runs one CPU-bound process (a Python loop) beside the run for its whole length. Issue 29's target: a
default run beside one busy process takes at most 2.5x its idle time. The cases run in a rotating order per round
(``--repeats``); medians shown. Run it on an otherwise idle machine (the load average is printed).
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUSY = [sys.executable, "-c", "while True: pass"]
POLICIES = {"passive": None, "spinning": ""}  # None: leave it to aim (PASSIVE); "": OpenMP's own default


def timed_run(policy: str, busy: bool, rows: int, out: str, hogs: int = 1) -> float:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS")}
    if POLICIES[policy] is not None:
        env["OMP_WAIT_POLICY"] = POLICIES[policy]
    cmd = [sys.executable, "-m", "aim", "run", "--out", out] + (["--synthetic-rows", str(rows)] if rows else [])
    busy_procs = [subprocess.Popen(BUSY) for _ in range(hogs)] if busy else []
    try:
        start = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.perf_counter() - start
    finally:
        for proc in busy_procs:
            proc.kill()
            proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=0, help="synthetic rows (0: the default run's)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--policies", default="passive,spinning")
    parser.add_argument("--busy", type=int, default=1, help="CPU-bound processes beside the run in the busy cases")
    args = parser.parse_args()
    policies = [p.strip() for p in args.policies.split(",") if p.strip()]
    cases = [(p, busy) for p in policies for busy in (False, True)]
    print(f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.2f}, rows {args.rows or 'default'}, {args.busy} busy process(es) in the busy cases")
    times: dict[tuple[str, bool], list[float]] = {c: [] for c in cases}
    with tempfile.TemporaryDirectory() as out:
        for r in range(args.repeats):
            for c in cases[r % len(cases):] + cases[:r % len(cases)]:
                times[c].append(timed_run(c[0], c[1], args.rows, out, args.busy))
                print(f"  {c[0]:>8} {'busy' if c[1] else 'idle'}: {times[c][-1]:.1f} s", flush=True)
    print(f"load at the end {os.getloadavg()[0]:.2f}\n")
    print(f"| wait policy | idle s | beside {args.busy} busy process(es) s | busy / idle |")
    print("|---|---:|---:|---:|")
    for p in policies:
        idle, busy = statistics.median(times[(p, False)]), statistics.median(times[(p, True)])
        print(f"| {p} | {idle:.1f} | {busy:.1f} | **{busy / idle:.2f}x** |")


if __name__ == "__main__":
    main()
