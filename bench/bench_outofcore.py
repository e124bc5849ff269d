"""Benchmark: out-of-core encoding (``data.storage=mmap``) of a generated Criteo-format file; rows/s and peak RSS,
next to the in-memory path's peak RSS on prefixes of the same file.

The file (Kaggle ``train.txt`` layout: label, 13 integers, 26 hex categories, ~10% / 5% empty cells) is
generated with a fixed seed into ``--workdir`` (default: a new folder under /tmp), never into the repository;
categorical field j has a vocabulary of geomspace(4, 1,000,000)[j] values drawn Zipf(1.2), so the big fields
keep growing with the row count as real logs do. Each encoding (``load_dataset``, content hash included) runs in
a fresh subprocess, so that its peak RSS (``VmHWM``; ``ru_maxrss`` would keep the parent's across exec) is its
own; rows/s is given over its wall time and over its CPU time (which a busy machine does not distort). The
workdir is deleted at the end unless ``--keep``.

    nice -n 10 .venv/bin/python bench/bench_outofcore.py                        # 10,000,000 rows (2.4 GiB)
    .venv/bin/python bench/bench_outofcore.py --rows 200000 --prefix-rows 50000,100000   # quick
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
VOCAB = np.geomspace(4, 1_000_000, 26).astype(np.int64)


def hex8(values: np.ndarray) -> np.ndarray:
    """int64 (n,) in [0, 2**32) -> 8-character lowercase hex bytes (n,), like Criteo's hashed categories."""
    return HEX[(values[:, None] >> np.arange(28, -1, -4)) & 15].view("S8").ravel()


def write_criteo(path: Path, rows: int, seed: int, chunk: int = 200_000) -> None:
    rng = np.random.default_rng(seed)
    with open(path, "wb") as f:
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            cols = [np.where(rng.random(n) < 0.25, b"1", b"0")]
            for _ in range(13):
                s = (rng.zipf(1.5, n) - 1).clip(max=10**7).astype("S")
                s[rng.random(n) < 0.1] = b""
                cols.append(s)
            for j, v in enumerate(VOCAB):
                s = hex8(((rng.zipf(1.2, n) % v) * 2654435761 + 40503 * j) & 0xFFFFFFFF)
                s[rng.random(n) < 0.05] = b""
                cols.append(s)
            f.write(b"\n".join(b"\t".join(row) for row in zip(*(c.tolist() for c in cols))) + b"\n")


def encode_child(path: str, storage: str, cache: str) -> None:
    """Run in a subprocess: encode ``path`` once, print seconds (wall and CPU), rows, peak RSS and vocabulary
    entries as JSON."""
    from aim.config import DataConfig
    from aim.data import load_dataset

    start, cpu_start = time.perf_counter(), time.process_time()
    data = load_dataset("criteo", path, DataConfig(storage=storage), cache)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    rows = len(data.train) + len(data.valid) + len(data.test)
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "rows": rows, "vocab": sum(data.vocab_sizes),
                      "peak_rss_mib": peak_rss_kib() / 1024}))


def peak_rss_kib() -> int:
    """This process's peak resident set (VmHWM, reset at exec), in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def measure(path: Path, storage: str, cache: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", str(path), storage, str(cache)], check=True,
                         capture_output=True, text=True).stdout
    shutil.rmtree(cache, ignore_errors=True)
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--prefix-rows", default="1000000,2000000",
                        help="comma list: rows of the prefixes encoded both ways")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", default="", help="folder for the generated file and the caches (default: /tmp)")
    parser.add_argument("--keep", action="store_true", help="keep the workdir")
    args = parser.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="aim_bench_ooc_"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        big = work / "criteo_train.txt"
        start = time.perf_counter()
        write_criteo(big, args.rows, args.seed)
        print(f"generated {args.rows:,} rows ({big.stat().st_size / 2**30:.2f} GiB) in "
              f"{time.perf_counter() - start:.0f} s: {big}", flush=True)
        print(f"{'rows':>12s} {'storage':>8s} {'seconds':>8s} {'rows/s':>9s} {'CPU s':>7s} {'rows/CPU s':>10s} "
              f"{'peak RSS MiB':>13s} {'vocab':>10s}")
        sizes = [int(r) for r in args.prefix_rows.split(",") if r.strip() and int(r) < args.rows] + [args.rows]
        for rows in sizes:
            path = big
            if rows < args.rows:
                path = work / f"prefix_{rows}.txt"
                with open(big, "rb") as src, open(path, "wb") as dst:
                    for _, line in zip(range(rows), src):
                        dst.write(line)
            for storage in ("memory", "mmap") if rows < args.rows else ("mmap",):
                r = measure(path, storage, work / f"cache_{storage}")
                print(f"{r['rows']:12,d} {storage:>8s} {r['seconds']:8.1f} {r['rows'] / r['seconds']:9,.0f} "
                      f"{r['cpu_seconds']:7.1f} {r['rows'] / r['cpu_seconds']:10,.0f} {r['peak_rss_mib']:13,.0f} "
                      f"{r['vocab']:10,d}", flush=True)
            if path != big:
                path.unlink()
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        encode_child(*sys.argv[2:5])
    else:
        main()
