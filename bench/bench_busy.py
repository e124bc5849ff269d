"""A default run beside busy processes against the same run on an idle machine, for three ways OpenMP threads wait.

    .venv/bin/python bench/bench_busy.py                      # both workloads, every policy (~25 min)
    .venv/bin/python bench/bench_busy.py --workloads single   # the case that collapsed (~6 min)

Users run this on laptops and shared boxes, where another program often holds a core. Each case runs ``python -m
aim run`` with its default threads (every core) and is timed from start to exit. Workloads:

- ``quickstart``: the README's ``python -m aim run`` (its search candidates train in worker processes of 1 thread
  each, so how threads wait matters little there);
- ``single``: one DeepFM trained in the run's own process on every core (``--variant deepfm --embed-l2 0``, 30,000
  rows): what a study cell with ``--jobs 1``, a given ``--embed-l2`` or a single candidate does.

Policies: ``default`` (today's: ``aim/__init__.py`` sets ``GOMP_SPINCOUNT=3000``), ``spinning`` (OpenMP's own
default, 300,000 spins: what runs had before), ``passive`` (``OMP_WAIT_POLICY=PASSIVE``). "busy" runs ``--busy``
CPU-bound processes (a Python loop) beside the run for its whole length. Issue 29's target: a default run beside
one busy process takes at most 2.5x its idle time. The cases run in a rotating order per round (``--repeats``);
medians shown. Run it on an otherwise idle machine (the load average is printed).
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
WAIT_KEYS = ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY", "OMP_NUM_THREADS")
POLICIES = {"default": {}, "spinning": {"GOMP_SPINCOUNT": "300000"}, "passive": {"OMP_WAIT_POLICY": "PASSIVE"}}
WORKLOADS = {"quickstart": [], "single": ["--variant", "deepfm", "--embed-l2", "0", "--synthetic-rows", "30000"]}


def timed_run(workload: str, policy: str, busy: bool, out: str, hogs: int) -> float:
    env = {k: v for k, v in os.environ.items() if k not in WAIT_KEYS} | POLICIES[policy]
    cmd = [sys.executable, "-m", "aim", "run", "--out", out, *WORKLOADS[workload]]
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
    parser.add_argument("--workloads", default="single,quickstart")
    parser.add_argument("--policies", default="default,spinning,passive")
    parser.add_argument("--busy", type=int, default=1, help="CPU-bound processes beside the run in the busy cases")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    policies = [p.strip() for p in args.policies.split(",") if p.strip()]
    print(f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.2f}, {args.busy} busy process(es) in the busy cases")
    for workload in workloads:
        cases = [(p, busy) for p in policies for busy in (False, True)]
        times: dict[tuple[str, bool], list[float]] = {c: [] for c in cases}
        with tempfile.TemporaryDirectory() as out:
            for r in range(args.repeats):
                for c in cases[r % len(cases):] + cases[:r % len(cases)]:
                    times[c].append(timed_run(workload, c[0], c[1], out, args.busy))
                    print(f"  {workload} {c[0]:>8} {'busy' if c[1] else 'idle'}: {times[c][-1]:.1f} s", flush=True)
        fastest = min(statistics.median(times[(p, False)]) for p in policies)
        print(f"\n{workload} (load at the end {os.getloadavg()[0]:.2f})\n")
        print(f"| wait policy | idle s | beside {args.busy} busy process(es) s | busy / own idle | busy / fastest idle |")
        print("|---|---:|---:|---:|---:|")
        for p in policies:
            idle, busy = statistics.median(times[(p, False)]), statistics.median(times[(p, True)])
            print(f"| {p} | {idle:.1f} | {busy:.1f} | **{busy / idle:.2f}x** | {busy / fastest:.2f}x |")
        print()


if __name__ == "__main__":
    main()
