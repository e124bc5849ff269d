"""Which established interaction detector should give every AIM run an independent ranking of its pairs?

Each candidate scores every order-2 field pair from the TRAINING split only; we print its wall time and its
planted-pair recovery (the top k pairs by score, k = the number of planted pairs: hits / k) on

- the built-in synthetic data at the quick start's size (``python -m aim run``: SyntheticConfig defaults,
  48,000 training rows, 10 fields, 3 planted pairs),
- the four makes of ``tools/other_makes.py`` (written to ``--makes`` first when missing; read as the README's
  CSV run reads them, with the flags the tool prints),
- and, for time only, the synthetic generator at 100,000 and 1,000,000 training rows (``--sizes``).

Candidates:

- ``fast``       InterpretML's FAST (``interpret.utils.measure_interactions``) on the labels, no main effects;
- ``fast-lr``    FAST on the residuals of a main-effects model: an L2 logistic regression on one-hot ids
                 (scikit-learn), passed as ``init_score`` (``search.reference fast``);
- ``shap-lgbm``  LightGBM (categorical splits, 200 trees of 31 leaves), mean |SHAP interaction value| per pair
                 (``shap.TreeExplainer.shap_interaction_values``) on 1,000 training rows;
- ``shap-lgbm-ordinal``  the same with the ids as numbers (threshold splits);
- ``shipped``    ``aim.reference.reference_scores`` as the pipeline calls it by default (``shap``: shap-lgbm-ordinal
                 with 100 trees and 300 explained rows, LightGBM deterministic, at most 200,000 rows; the first call
                 includes importing shap);
- ``shipped-fast``  the same with ``fast`` (fast-lr, at most 200,000 rows).

    OMP_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python bench/bench_reference.py                 # everything (~5 min)
    OMP_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python bench/bench_reference.py --sizes ''       # recovery only
    OMP_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python bench/bench_reference.py --runs RUN_DIR ...  # finished runs
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aim.config import DataConfig, SyntheticConfig  # noqa: E402
from aim.data.synthetic import generate  # noqa: E402

MAKES = {  # the flags tools/other_makes.py prints
    "null": ("c0,c1,c2,c3,c4,c5,c6,c7,c8,c9,c10,c11", ""),
    "table": ("t0,t1,t2,t3,t4,t5,t6,t7,t8,t9", ""),
    "numeric": ("k0,k1,k2,k3,k4,k5", "n0,n1,n2,n3"),
    "wide": (",".join(f"w{i:02d}" for i in range(30)), ""),
}


def _fast(X: np.ndarray, y: np.ndarray, pairs: list, init: np.ndarray | None) -> np.ndarray:
    from interpret.utils import measure_interactions

    ranked = measure_interactions(X, y.astype(int), interactions=pairs, init_score=init,
                                  feature_types=["nominal"] * X.shape[1])
    strength = {tuple(sorted(t)): s for t, s in ranked}
    return np.array([strength.get(p, 0.0) for p in pairs])


def fast_raw(X, y, pairs, seed):
    return _fast(X, y, pairs, None)


def fast_lr(X, y, pairs, seed):
    from aim.reference import main_effects_logit

    return _fast(X, y, pairs, main_effects_logit(X, y))


def shap_lgbm(X, y, pairs, seed, sample=1000, categorical=True):
    import lightgbm as lgb
    import pandas as pd
    import shap

    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    frame = frame.astype("category") if categorical else frame
    model = lgb.LGBMClassifier(n_estimators=200, num_leaves=31, learning_rate=0.1, n_jobs=1, verbose=-1,
                               random_state=seed).fit(frame, y)
    rows = np.random.default_rng(seed).choice(len(X), size=min(sample, len(X)), replace=False)
    values = shap.TreeExplainer(model).shap_interaction_values(frame.iloc[rows])
    values = values[1] if isinstance(values, list) else values
    strength = np.abs(values).mean(axis=0)
    return np.array([strength[i, j] + strength[j, i] for i, j in pairs])


def shipped(X, y, pairs, seed):
    from aim.reference import reference_scores

    return reference_scores(X, y, pairs, method="shap", seed=seed, threads=1)


def shipped_fast(X, y, pairs, seed):
    from aim.reference import reference_scores

    return reference_scores(X, y, pairs, method="fast", seed=seed, threads=1)


def shap_lgbm_ordinal(X, y, pairs, seed):
    return shap_lgbm(X, y, pairs, seed, categorical=False)


METHODS: dict[str, Callable] = {"fast": fast_raw, "fast-lr": fast_lr, "shap-lgbm": shap_lgbm,
                                "shap-lgbm-ordinal": shap_lgbm_ordinal, "shipped": shipped,
                                "shipped-fast": shipped_fast}


def timed(method: str, X, y, pairs, seed, planted) -> str:
    start = time.perf_counter()
    try:
        scores = METHODS[method](X, y, pairs, seed)
    except Exception as exc:  # noqa: BLE001 - a candidate that cannot run is a result too
        return f"fails ({type(exc).__name__}) after {time.perf_counter() - start:.2f} s"
    return f"{recovery(scores, pairs, planted)} in {time.perf_counter() - start:.2f} s"


def recovery(scores: np.ndarray, pairs: list, planted: set) -> str:
    if not planted:
        return "-"
    k = len(planted)
    top = {pairs[i] for i in np.argsort(-scores, kind="stable")[:k]}
    return f"{len(top & planted)}/{k}"


def datasets(makes_dir: Path) -> list[tuple[str, np.ndarray, np.ndarray, set]]:
    from aim.data.registry import load_dataset

    data = generate(SyntheticConfig())
    out = [("synthetic (quick start)", data.train.X, data.train.y,
            {t for t in data.truth.interactions if len(t) == 2})]
    if not all((makes_dir / f"{m}.csv").exists() for m in MAKES):
        subprocess.run([sys.executable, str(ROOT / "tools/other_makes.py"), "--out", str(makes_dir)], check=True)
    for make, (cats, nums) in MAKES.items():
        d = load_dataset("csv", str(makes_dir / f"{make}.csv"), DataConfig(label="click", categorical=cats, numeric=nums))
        truth = json.loads((makes_dir / f"{make}.truth.json").read_text())["planted_pairs"]
        idx = {n: i for i, n in enumerate(d.field_names)}
        planted = {tuple(sorted(idx[n] for n in p)) for p in truth}
        out.append((make, d.train.X, d.train.y, planted))
    return out


def runs_table(paths: list[Path], makes_dir: Path) -> None:
    """Planted-pair recovery of |α|, statistics AUC and ref_score in finished runs with ``ref_score`` (a CSV make's
    truth from ``makes_dir/<make>.truth.json``), ρ(|α|, ref_score) and the kept pairs in the detector's top k."""
    from aim import analysis
    from aim.runs import load_run

    print("| run | data | train rows | pairs | kept | planted in top k: abs α / stats AUC / ref_score | ρ(abs α, ref) "
          "| kept in ref top k | ref seconds |")
    print("|---|---|---|---|---|---|---|---|---|")
    for path in paths:
        run = load_run(path)
        inter = run.interactions.copy()
        if not analysis.has_planted(inter):
            make = Path(run.meta["config"]["data_path"]).name.removesuffix(".csv")
            truth = makes_dir / f"{make}.truth.json"
            planted = {" × ".join(p) for p in json.loads(truth.read_text())["planted_pairs"]} if truth.exists() else set()
            planted |= {" × ".join(reversed(p.split(" × "))) for p in planted}
            inter["planted"] = inter["field_names"].isin(planted).astype(int) if planted else ""
        pts = analysis.reference_points(inter)
        rec = [analysis.planted_recovery(pts, c) for c in ("abs_alpha", "stats_auc", "ref_score")]
        rho, _, n = analysis.reference_spearman(pts)
        ov = analysis.kept_overlap(pts)
        ref = run.meta.get("reference") or {}
        cells = " / ".join(f"{h}/{k}" for h, k in rec) if rec[0][1] else "- (none planted)"
        data = Path(run.meta["config"]["data_path"]).name or run.meta["config"]["dataset"]
        print(f"| {run.id} | {data} | {run.meta['dataset']['rows']['train']:,} | {n} | {ov['k']} | {cells} | {rho:.3f} "
              f"| {ov['hits']}/{ov['k']} | {ref.get('seconds', float('nan')):.2f} |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--methods", default="fast,fast-lr,shap-lgbm,shap-lgbm-ordinal,shipped,shipped-fast")
    ap.add_argument("--makes", type=Path, default=Path("/tmp/aim_makes"), help="folder of the other_makes CSVs")
    ap.add_argument("--sizes", default="100000,1000000", help="training rows of the timing-only synthetic data")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-recovery", action="store_true", help="only the timing sizes")
    ap.add_argument("--runs", nargs="*", type=Path, default=[],
                    help="instead: the recovery of |α|, statistics AUC and ref_score in these finished runs")
    args = ap.parse_args(argv)
    if args.runs:
        runs_table(args.runs, args.makes)
        return 0
    methods = [m for m in args.methods.split(",") if m]
    print("recovery = planted pairs among the top k by score (k = planted); seconds = wall, training split only")
    print(f"| data | train rows | pairs | {' | '.join(methods)} |")
    print("|---|---|---|" + "---|" * len(methods))
    for name, X, y, planted in ([] if args.skip_recovery else datasets(args.makes)):
        pairs = list(itertools.combinations(range(X.shape[1]), 2))
        cells = [timed(m, X, y, pairs, args.seed, planted) for m in methods]
        print(f"| {name} | {len(y):,} | {len(pairs)} | {' | '.join(cells)} |", flush=True)
    for rows in [int(s) for s in args.sizes.split(",") if s]:
        data = generate(SyntheticConfig(rows=rows * 5 // 4))  # 8:1:1 split: ``rows`` training rows
        X, y = data.train.X, data.train.y
        pairs = list(itertools.combinations(range(X.shape[1]), 2))
        planted = {t for t in data.truth.interactions if len(t) == 2}
        cells = [timed(m, X, y, pairs, args.seed, planted) for m in methods]
        print(f"| synthetic, timing | {len(y):,} | {len(pairs)} | {' | '.join(cells)} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
