"""Wall time of what users wait for: the default ``aim`` pipeline against one ``deepfm`` run on the same data.

    .venv/bin/python bench/bench_pipeline.py                           # the quick start's data (synthetic default)
    .venv/bin/python bench/bench_pipeline.py --repeats 3               # medians of 3 interleaved rounds
    .venv/bin/python bench/bench_pipeline.py --data avazu-like --rows 1000000
    python3 bench/bench_pipeline.py --device cuda                      # both runs with --device cuda
    .venv/bin/python bench/bench_pipeline.py --keep runs/pipeline      # keep the run folders (their selections)
    .venv/bin/python bench/bench_pipeline.py --precision fp32,bf16    # both runs in fp32 and in mixed precision

Each run is the README's own command line (``python -m aim run``, the shipped defaults, one seed) in its own
process, timed from start to exit, so data loading and encoding, every search candidate, EDS and the re-train
candidates are all in the figure. Rounds alternate which model goes first (load drifts hit both alike); the table
shows medians, the seconds each stage recorded in its run.json, the candidates each stage trained, and the
ratio aim / deepfm (issue 16's target: at most 4).

``--data avazu-like`` writes the Avazu-like rows of ``bench_train.make_data`` (24 fields, vocabularies 4 to
523,672, Zipf ids) once as a CSV under ``bench/out/pipeline/`` (git-ignored) and runs both models on it through
the generic CSV loader.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out" / "pipeline"


def avazu_like_csv(rows: int, seed: int) -> Path:
    """The Avazu-like rows as a CSV (header f0..f23, click), written once per (rows, seed)."""
    sys.path.insert(0, str(ROOT / "bench"))
    from bench_train import VOCAB, make_data

    path = OUT / f"avazu_like_{rows}_{seed}.csv"
    if not path.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        X, y = make_data(rows, seed)
        tmp = path.with_suffix(".partial")
        with tmp.open("w") as f:
            f.write(",".join([*(f"f{i}" for i in range(len(VOCAB))), "click"]) + "\n")
            np.savetxt(f, np.column_stack([X, y.astype(np.int32)]), fmt="%d", delimiter=",")
        tmp.rename(path)
    return path


def data_args(kind: str, rows: int, seed: int) -> list[str]:
    if kind == "synthetic":
        return [] if rows <= 0 else ["--synthetic-rows", str(rows)]
    path = avazu_like_csv(rows, seed)
    return ["--dataset", "csv", "--data", str(path), "--label", "click", "--categorical",
            ",".join(f"f{i}" for i in range(24))]


def timed_run(argv: list[str], out: Path, threads: int | None = None) -> dict:
    """``python -m aim run ARGV --out OUT`` in its own process; wall seconds, its run.json stages and test AUC."""
    cmd = [sys.executable, "-m", "aim", "run", *argv, "--out", str(out)]
    if threads:
        cmd += ["--threads", str(threads)]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[1:])} failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    folder = Path(proc.stdout.strip().splitlines()[-1])
    meta = json.loads((folder / "run.json").read_text())
    stages = {name: s.get("seconds", 0.0) for name, s in meta["stages"].items()}
    candidates = {}
    sparsity = folder / "sparsity.csv"
    if sparsity.exists():
        for line in sparsity.read_text().splitlines()[1:]:
            stage = line.split(",", 1)[0]
            candidates[stage] = candidates.get(stage, 0) + 1
    return {"wall": wall, "stages": stages, "candidates": candidates, "threads": meta.get("threads"),
            "auc": meta["metrics"]["test"]["auc"], "folder": str(folder)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", choices=["synthetic", "avazu-like"], default="synthetic")
    ap.add_argument("--rows", type=int, default=0, help="rows (synthetic: 0 = the default; avazu-like: 1,000,000)")
    ap.add_argument("--repeats", type=int, default=1, help="interleaved rounds (medians shown)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None, help="torch threads per run (default: the run's own)")
    ap.add_argument("--device", default="cpu", help="each run's --device: cpu, cuda or cuda:N")
    ap.add_argument("--precision", default="fp32",
                    help="each run's --precision; fp32,bf16 times both models in both (ratios within a precision)")
    ap.add_argument("--keep", type=Path, default=None,
                    help="copy every run folder here (default: they go with the temporary folder)")
    args = ap.parse_args()
    rows = args.rows or (1_000_000 if args.data == "avazu-like" else 0)
    extra = [*data_args(args.data, rows, args.seed), "--device", args.device]
    precisions = args.precision.split(",")
    models = {}  # aim: the default variant, as the quick start runs it
    for prec in precisions:
        tag = "" if prec == "fp32" else f" {prec}"
        models |= {f"deepfm{tag}": ["--variant", "deepfm", "--precision", prec], f"aim{tag}": ["--precision", prec]}
    load = os.getloadavg()[0]
    print(f"# bench_pipeline {datetime.datetime.now().isoformat(timespec='seconds')} data={args.data} "
          f"rows={rows or 'default'} repeats={args.repeats} device={args.device} cores={os.cpu_count()} "
          f"load at start {load:.2f}")
    results: dict[str, list[dict]] = {m: [] for m in models}
    with tempfile.TemporaryDirectory(prefix="bench_pipeline_") as tmp:
        for r in range(args.repeats):
            order = list(models) if r % 2 == 0 else list(models)[::-1]
            for name in order:
                res = timed_run([*models[name], *extra, "--seed", str(args.seed)], Path(tmp), args.threads)
                results[name].append(res)
                if args.keep:
                    shutil.copytree(res["folder"], args.keep / Path(res["folder"]).name)
                print(f"round {r + 1} {name}: {res['wall']:.1f} s, test AUC {res['auc']:.4f}", flush=True)
    print("\n| model | wall s (median) | stage seconds (last round) | candidates per stage | threads | test AUC |")
    print("|---|---|---|---|---|---|")
    med = {}
    for name, runs in results.items():
        med[name] = statistics.median(r["wall"] for r in runs)
        last = runs[-1]
        stages = ", ".join(f"{k} {v:.0f}" for k, v in last["stages"].items())
        cands = ", ".join(f"{k} {v}" for k, v in last["candidates"].items()) or "1"
        print(f"| {name} | {med[name]:.1f} | {stages} | {cands} | {last['threads']} | {last['auc']:.4f} |")
    print()
    for prec in precisions:
        tag = "" if prec == "fp32" else f" {prec}"
        print(f"aim / deepfm wall time, {prec}: {med['aim' + tag] / med['deepfm' + tag]:.2f}x (target <= 4)")
        if prec != "fp32" and "fp32" in precisions:
            print(f"{prec} / fp32 wall time: deepfm {med['deepfm' + tag] / med['deepfm']:.2f}x, "
                  f"aim {med['aim' + tag] / med['aim']:.2f}x")
    print(f"load at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
