"""Where the Gram path of order-2 inner / skernel columns stops paying: ``InteractionLayer(gram=True)`` against
``gram=False`` (the pairs gathered one by one) for C columns over F fields, interleaved in one process.

    PYTHONPATH=. .venv/bin/python bench/bench_interactions.py                  # F 24, d 16, threads 2
    PYTHONPATH=. .venv/bin/python bench/bench_interactions.py --fields 10 --threads 1

The Gram path computes all F·F inner products of a table with one batched matmul and picks C of them; the gather
path reads the C pairs' rows and multiplies them. ``aim.model.interactions.use_gram`` takes the Gram path when
C·d ≥ F·F; this script prints, per C, the time of each path for inference (batch
``--infer-batch``, fp32 and bf16 autocast) and for a training step's forward + backward (batch ``--batch``), and
the ratio gather / Gram (< 1: gathering is faster).
"""

from __future__ import annotations

import argparse
import datetime
import functools
import itertools
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from aim.model.interactions import SKERNEL, InteractionLayer  # noqa: E402
from aim.train import autocast  # noqa: E402


def timed(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def infer(layer: InteractionLayer, e: torch.Tensor, precision: str) -> None:
    with torch.inference_mode(), autocast(precision, torch.device("cpu")):
        layer(e)


def train(layer: InteractionLayer, e: torch.Tensor, steps: int) -> None:
    for _ in range(steps):
        layer(e).sum().backward()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fields", type=int, default=24)
    ap.add_argument("--dim", type=int, default=16)
    ap.add_argument("--columns", default="4,10,16,24,32,40,48,72,96,144,276")
    ap.add_argument("--infer-batch", type=int, default=10_000)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--steps", type=int, default=20, help="forward + backward passes per timing")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    F, d = args.fields, args.dim
    pairs = list(itertools.combinations(range(F), 2))
    print(f"# bench_interactions {datetime.datetime.now().isoformat(timespec='seconds')} torch {torch.__version__}, "
          f"threads {torch.get_num_threads()}; F {F}, d {d}, one table; rule: Gram when C*d >= F*F, C >= "
          f"{F * F / d:g}; medians of {args.repeats}")
    print("| C (skernel pairs) | C / F² | rule picks | infer fp32 gather / Gram | infer bf16 gather / Gram | "
          "train step gather / Gram |")
    print("|---|---|---|---|---|---|")
    for C in (int(c) for c in args.columns.split(",")):
        C = min(C, len(pairs))
        torch.manual_seed(0)
        layers = {g: InteractionLayer(pairs[:C], [SKERNEL] * C, d, [0, 0, 0, 0], gram=g, n_fields=F)
                  for g in (True, False)}
        e_inf = torch.randn(args.infer_batch, F, 1, d)
        e_tr = torch.randn(args.batch, F, 1, d, requires_grad=True)
        ratios = []
        for job, extra in ((infer, (e_inf, "fp32")), (infer, (e_inf, "bf16")), (train, (e_tr, args.steps))):
            t = {g: timed(functools.partial(job, layers[g], *extra), args.repeats) for g in (True, False)}
            ratios.append(t[False] / t[True])
        pick = "Gram" if InteractionLayer(pairs[:C], [SKERNEL] * C, d, [0] * 4, n_fields=F).gram else "gather"
        print(f"| {C} | {C / F / F:.3f} | {pick} | " + " | ".join(f"{r:.2f}" for r in ratios) + " |", flush=True)


if __name__ == "__main__":
    main()
