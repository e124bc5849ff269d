"""Benchmark: statistics AUC of all field pairs (paper §4.4.2), pandas groupby baseline vs ``aim.stats_auc``.

Synthetic Avazu-like data: 24 fields with Avazu's cardinalities (capped at 500,000), Zipf-distributed ids,
labels from a logistic model with a few main and pair effects; 80/20 train/test split. Both methods run in the
same process on the same arrays; the baseline stops after ``--baseline-budget`` seconds and is then
extrapolated to all pairs (the output says so when that happens).

    .venv/bin/python bench/bench_stats_auc.py                  # 1,000,000 rows, all 276 pairs
    .venv/bin/python bench/bench_stats_auc.py --rows 100000 --pairs 30
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere
from aim.stats_auc import stats_auc  # noqa: E402

# Avazu cardinalities (day, hour, weekday, C1, banner_pos, site_*, app_*, device_*, C14..C21), capped at 500k.
VOCAB = [10, 24, 7, 7, 7, 4737, 7745, 26, 8552, 559, 36, 500_000, 500_000, 8251, 5, 4, 2626, 8, 9, 435, 4, 68, 172, 60]


def make_data(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows, 24) int32 ids and float32 labels; ids Zipf(1.1) over each vocab, randomly permuted."""
    rng = np.random.default_rng(seed)
    X = np.empty((rows, len(VOCAB)), dtype=np.int32)
    logit = np.full(rows, -2.4)  # about Avazu's 17% CTR
    for f, v in enumerate(VOCAB):
        p = 1.0 / np.arange(1, v + 1) ** 1.1
        ranks = np.searchsorted(np.cumsum(p / p.sum()), rng.random(rows), side="right").clip(max=v - 1)
        X[:, f] = rng.permutation(v)[ranks]  # frequent ids are not the small ones
        if v <= 10_000 and f % 3 == 0:  # main effects on a few fields
            logit += rng.normal(0, 0.4, v)[X[:, f]]
    for fi, fj in [(1, 5), (8, 13), (3, 19), (11, 16)]:  # a few pair effects (one with a 500k field)
        table = rng.normal(0, 0.6, 1_000_003)
        logit += table[(X[:, fi].astype(np.int64) * VOCAB[fj] + X[:, fj]) % len(table)]
    y = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.float32)
    return X, y


def pandas_pair_auc(train: pd.DataFrame, test: pd.DataFrame, pair: tuple[int, int], global_ctr: float) -> float:
    """The straightforward way: groupby-mean on train, left join onto test, fill the global CTR, sklearn AUC."""
    fi, fj = (f"f{k}" for k in pair)
    ctr = train.groupby([fi, fj], sort=False)["y"].mean().rename("ctr")
    pred = test[[fi, fj]].join(ctr, on=[fi, fj])["ctr"].fillna(global_ctr)
    return roc_auc_score(test["y"].to_numpy(), pred.to_numpy())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--pairs", type=int, default=276, help="first N of the 276 field pairs")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--baseline-budget", type=float, default=600.0, help="seconds before the baseline extrapolates")
    args = ap.parse_args()

    t0 = time.perf_counter()
    X, y = make_data(args.rows, args.seed)
    n_train = int(0.8 * args.rows)
    train_X, train_y, test_X, test_y = X[:n_train], y[:n_train], X[n_train:], y[n_train:]
    pairs = list(itertools.combinations(range(len(VOCAB)), 2))[: args.pairs]
    distinct = [len(np.unique(X[:, f])) for f in range(len(VOCAB))]
    print(f"data: {args.rows:,} rows x {len(VOCAB)} fields (train {n_train:,} / test {args.rows - n_train:,}), "
          f"CTR {y.mean():.3f}, made in {time.perf_counter() - t0:.1f}s")
    print(f"vocab sizes: {VOCAB}\ndistinct ids present: {distinct}")

    columns = [f"f{k}" for k in range(len(VOCAB))]
    # float64 labels: a float32 groupby mean would round the CTRs and merge or split ties.
    train = pd.DataFrame(train_X, columns=columns).assign(y=train_y.astype(np.float64))
    test = pd.DataFrame(test_X, columns=columns).assign(y=test_y.astype(np.float64))
    global_ctr = float(train_y.mean())
    base, t0, c0 = [], time.perf_counter(), time.process_time()
    for pair in pairs:
        base.append(pandas_pair_auc(train, test, pair, global_ctr))
        if time.perf_counter() - t0 > args.baseline_budget:
            break
    base_s, base_cpu = time.perf_counter() - t0, time.process_time() - c0

    t0, c0 = time.perf_counter(), time.process_time()
    fast = stats_auc(train_X, train_y, test_X, test_y, pairs, vocab_sizes=VOCAB)
    fast_s, fast_cpu = time.perf_counter() - t0, time.process_time() - c0

    n_base = len(base)
    diff = float(np.max(np.abs(fast[:n_base] - np.asarray(base))))
    # Rates per pair, so a baseline stopped early compares on its own pairs; "CPU s" is process CPU time, the
    # fairer number on a shared machine (wall time also counts waiting for a core).
    rows = [("pandas groupby + sklearn", n_base, base_s, base_cpu), ("aim.stats_auc", len(pairs), fast_s, fast_cpu)]
    print(f"\n{'method':<26}{'pairs':>6}{'wall s':>9}{'pairs/s':>9}{'CPU s':>9}{'pairs/CPU s':>13}")
    for name, n, wall, cpu in rows:
        print(f"{name:<26}{n:>6}{wall:>9.2f}{n / wall:>9.1f}{cpu:>9.2f}{n / cpu:>13.1f}")
    if n_base != len(pairs):
        print(f"baseline stopped after {n_base} of {len(pairs)} pairs ({args.baseline_budget:.0f}s budget); "
              f"all {len(pairs)} pairs EXTRAPOLATED: about {len(pairs) * base_s / n_base:.1f}s wall")
    wall_x = (len(pairs) / fast_s) / (n_base / base_s)
    cpu_x = (len(pairs) / fast_cpu) / (n_base / base_cpu)
    print(f"speed-up (pairs/s ratio): {wall_x:.1f}x wall, {cpu_x:.1f}x CPU")
    print(f"max |AUC difference| over the {n_base} pairs computed by both: {diff:.2e} "
          f"({'OK' if diff <= 1e-9 else 'MISMATCH'} at 1e-9)")
    top = np.argsort(-fast)[:5]
    print("top-5 pairs by statistics AUC: " + ", ".join(f"{pairs[i]}={fast[i]:.4f}" for i in top))
    if diff > 1e-9:
        sys.exit(1)


if __name__ == "__main__":
    main()
