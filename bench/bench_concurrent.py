"""Two runs at once against the same two runs one after the other: does sharing the cores cost anything?

    .venv/bin/python bench/bench_concurrent.py                    # two deepfm runs on the synthetic default
    .venv/bin/python bench/bench_concurrent.py --variant aim --rows 30000

Three ways to run the same two ``python -m aim run`` commands (seeds 0 and 1), each timed from the first start
to the last exit:

- back to back: one after the other, each with the run's default threads (every core);
- concurrent, shared: both at once with ``--threads cores / 2`` each, what a study with ``--jobs 2`` and two
  launches from the app do (issue 16);
- concurrent, oversubscribed: both at once with the default threads each (every process using every core), what
  happened before runs took a thread share.

Issue 16's target: concurrent, shared <= 1.1x back to back. The modes run in a rotating order per round
(``--repeats``), medians shown.
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


def command(variant: str, rows: int, seed: int, out: str, threads: int | None) -> list[str]:
    cmd = [sys.executable, "-m", "aim", "run", "--variant", variant, "--seed", str(seed), "--out", out]
    if rows:
        cmd += ["--synthetic-rows", str(rows)]
    if threads:
        cmd += ["--threads", str(threads)]
    return cmd


def together(cmds: list[list[str]]) -> float:
    """Start every command at once; seconds until the last one exits."""
    start = time.perf_counter()
    procs = [subprocess.Popen(c, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for c in cmds]
    for p, c in zip(procs, cmds):
        _, err = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"{' '.join(c[1:])} failed (exit {p.returncode}):\n{err[-2000:]}")
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--variant", default="deepfm")
    ap.add_argument("--rows", type=int, default=0, help="synthetic rows (0: the default)")
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args()
    cores = os.cpu_count() or 1
    share = max(1, cores // 2)
    print(f"# bench_concurrent {datetime.datetime.now().isoformat(timespec='seconds')} variant={args.variant} "
          f"rows={args.rows or 'default'} cores={cores} repeats={args.repeats} load at start {os.getloadavg()[0]:.2f}")
    times: dict[str, list[float]] = {"back to back": [], "concurrent, shared": [], "concurrent, oversubscribed": []}
    with tempfile.TemporaryDirectory(prefix="bench_concurrent_") as out:
        def mode(name: str) -> float:
            if name == "back to back":
                return sum(together([command(args.variant, args.rows, s, out, None)]) for s in (0, 1))
            threads = share if name == "concurrent, shared" else None
            return together([command(args.variant, args.rows, s, out, threads) for s in (0, 1)])

        names = list(times)
        for r in range(args.repeats):
            for name in names[r % 3:] + names[: r % 3]:
                times[name].append(mode(name))
                print(f"round {r + 1} {name}: {times[name][-1]:.1f} s", flush=True)
    base = statistics.median(times["back to back"])
    print("\n| two runs | total wall s (median) | vs back to back |")
    print("|---|---|---|")
    for name, values in times.items():
        med = statistics.median(values)
        print(f"| {name} | {med:.1f} | {med / base:.2f}x |")
    print(f"\ntarget: concurrent, shared <= 1.1x back to back; load at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
