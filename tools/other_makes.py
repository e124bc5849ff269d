"""CTR data of makes the project was never tuned on, written as plain CSV files, to check that the defaults carry
over (issue 14: "defaults must generalise"). Each make uses a mechanism the built-in synthetic generator
(``aim/data/synthetic.py``: low-rank inner / kernel / outer pairs on Zipf ids) does not:

- ``null``:    first-order effects only, no interaction at all: a search should keep (almost) nothing and lose
               nothing against DeepFM.
- ``table``:   two planted pairs whose effect is an arbitrary random table over (x_i, x_j) (full rank, no
               latent vectors), one field correlated with another, 5 % positives.
- ``numeric``: four numeric columns (log-normal, one threshold effect) beside categorical ones; planted: a numeric
               column's bucket × a category, and "x_i and x_j agree modulo 7" between two categorical fields.
- ``wide``:    30 fields with vocabularies up to 20,000 and heavy Zipf tails, 3 % positives, two low-rank pairs
               and one pair that is a single hot combination (a rule: this app on this site).

    python tools/other_makes.py --out /tmp/makes            # every make, 100,000 rows each
    python tools/other_makes.py --out /tmp/makes --make table --rows 50000

Each make prints the ``python -m aim`` flags that read it (``--dataset csv --label click --categorical ...``)
and writes ``<make>.truth.json`` with the planted pairs (field names), which the runs never see.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script: the aim package of this checkout

from aim.data.synthetic import calibrate_bias, standardise, zipf_ids  # noqa: E402

MAKES = ("null", "table", "numeric", "wide")


def first_order(rng: np.random.Generator, cols: dict[str, np.ndarray], names: list[str], scale: float) -> np.ndarray:
    """Σ_f w_f[x_f] over ``names``, each term at unit variance times ``scale``."""
    out = np.zeros(len(next(iter(cols.values()))))
    for name in names:
        x = cols[name]
        out += scale * standardise(rng.normal(size=int(x.max()) + 1)[x])
    return out


def with_bias(rng: np.random.Generator, logit: np.ndarray, rate: float) -> np.ndarray:
    """Labels drawn from sigmoid(logit + b), b chosen so the mean probability is ``rate``."""
    p = 1 / (1 + np.exp(-(logit + calibrate_bias(logit, rate))))
    return (rng.random(len(p)) < p).astype(np.int8)


def make_null(rng: np.random.Generator, n: int) -> tuple[pd.DataFrame, list[str], list[str], list[list[str]]]:
    vocabs = [20, 50, 100, 300, 1000, 3000, 10, 200, 500, 40, 80, 2000]
    cols = {f"c{i}": zipf_ids(rng, n, v) for i, v in enumerate(vocabs)}
    informative = [f"c{i}" for i in range(9)]
    logit = first_order(rng, cols, informative, 0.6)
    return pd.DataFrame({"click": with_bias(rng, logit, 0.10), **cols}), list(cols), [], []


def make_table(rng: np.random.Generator, n: int) -> tuple[pd.DataFrame, list[str], list[str], list[list[str]]]:
    vocabs = [60, 120, 250, 80, 300, 40, 150, 500, 30, 90]
    cols = {f"t{i}": zipf_ids(rng, n, v, 1.0) for i, v in enumerate(vocabs)}
    # t5 follows t0 most of the time (a correlated field: a search must tell the pair from its shadow)
    follow = rng.random(n) < 0.7
    cols["t5"] = np.where(follow, cols["t0"] % vocabs[5], cols["t5"])
    pairs = [("t0", "t1"), ("t2", "t3")]
    logit = first_order(rng, cols, ["t0", "t1", "t2", "t3", "t4", "t6"], 0.4)
    for a, b in pairs:
        table = rng.normal(size=(vocabs[int(a[1:])], vocabs[int(b[1:])]))
        logit += 1.0 * standardise(table[cols[a], cols[b]])
    return (pd.DataFrame({"click": with_bias(rng, logit, 0.05), **cols}), list(cols), [],
            [list(p) for p in pairs])


def make_numeric(rng: np.random.Generator, n: int) -> tuple[pd.DataFrame, list[str], list[str], list[list[str]]]:
    cats = {f"k{i}": zipf_ids(rng, n, v) for i, v in enumerate([30, 200, 700, 50, 120, 1500])}
    nums = {f"n{i}": np.round(rng.lognormal(mean=m, sigma=1.0, size=n), 3) for i, m in enumerate([0, 2, 1, 3])}
    logit = first_order(rng, cats, ["k0", "k1", "k2", "k3"], 0.5)
    logit += 0.5 * standardise(np.log1p(nums["n0"]))  # a smooth numeric effect
    logit += 0.4 * (nums["n3"] > np.quantile(nums["n3"], 0.8))  # a threshold
    # numeric bucket × category: the price band matters differently per category
    band = np.digitize(nums["n1"], np.quantile(nums["n1"], [0.25, 0.5, 0.75]))
    logit += 1.0 * standardise(rng.normal(size=(4, 30))[band, cats["k0"]])
    # "agree modulo 7": a full-rank rule between two categorical fields
    logit += 1.0 * standardise((cats["k1"] % 7 == cats["k4"] % 7).astype(float))
    frame = pd.DataFrame({"click": with_bias(rng, logit, 0.12), **cats, **nums})
    return frame, list(cats), list(nums), [["n1", "k0"], ["k1", "k4"]]


def make_wide(rng: np.random.Generator, n: int) -> tuple[pd.DataFrame, list[str], list[str], list[list[str]]]:
    vocabs = [int(v) for v in np.geomspace(8, 20_000, 30)]
    vocabs = list(rng.permutation(vocabs))
    cols = {f"w{i:02d}": zipf_ids(rng, n, v, 1.3) for i, v in enumerate(vocabs)}
    logit = first_order(rng, cols, [f"w{i:02d}" for i in range(0, 30, 2)], 0.35)
    pairs = [("w01", "w03"), ("w05", "w07"), ("w09", "w11")]
    for a, b in pairs[:2]:
        ua = rng.normal(size=(vocabs[int(a[1:])], 3))
        ub = rng.normal(size=(vocabs[int(b[1:])], 3))
        logit += 0.9 * standardise((ua[cols[a]] * ub[cols[b]]).sum(1))
    a, b = pairs[2]  # one hot combination: the most frequent id of each field together
    hot_a = np.bincount(cols[a]).argmax()
    hot_b = np.bincount(cols[b]).argmax()
    logit += 2.0 * ((cols[a] == hot_a) & (cols[b] == hot_b))
    return (pd.DataFrame({"click": with_bias(rng, logit, 0.03), **cols}), list(cols), [],
            [list(p) for p in pairs])


BUILDERS = {"null": make_null, "table": make_table, "numeric": make_numeric, "wide": make_wide}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="folder the CSV files are written to")
    ap.add_argument("--make", choices=MAKES, action="append", help="a make (repeatable; default: all)")
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=2026, help="the data's random seed")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for make in args.make or MAKES:
        rng = np.random.default_rng([args.seed, MAKES.index(make)])
        frame, cats, nums, planted = BUILDERS[make](rng, args.rows)
        path = args.out / f"{make}.csv"
        frame.to_csv(path, index=False)
        (args.out / f"{make}.truth.json").write_text(json.dumps({"planted_pairs": planted}, indent=1) + "\n")
        flags = f"--dataset csv --data {path} --label click --categorical {','.join(cats)}"
        flags += f" --numeric {','.join(nums)}" if nums else ""
        print(f"{make}: {len(frame):,} rows, {frame['click'].mean():.3f} positive; {flags}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
