"""An independent ranking of the field pairs, next to AIM's gates: InterpretML's FAST on main-effect residuals.

The gates α say which pairs AIM kept; statistics AUC (paper §4.4.2) scores a pair by how well the label's rate in
each (x_i, x_j) cell alone separates the classes, main effects included. Neither is an outside opinion. This
module asks an established detector with no stake in AIM: **FAST** (Lou, Caruana, Gehrke & Hooker, KDD 2013,
"Accurate intelligible models with pairwise interactions"; the pair ranking inside InterpretML's explainable
boosting machines, ``interpret.utils.measure_interactions``). FAST fits, for each pair, the best
2×2 piecewise-constant correction to a model of the label on the grid of the two fields' values and reports how
much it reduces the loss. Fitted on the labels alone it mostly sees main effects (a pair of two strong fields
looks strong); fitted on the residuals of a main-effects model (here an L2 logistic regression on one-hot ids,
passed as FAST's ``init_score``) it sees what the two fields do together beyond what each does alone, which is what
an interaction is. ``bench/bench_reference.py`` chose it over FAST without main effects and over mean
|SHAP interaction value| of a LightGBM model by planted-pair recovery and time (docs/results.md).

Inputs are the encoded ids of the **training split only** (every field nominal: numeric fields were bucketised
and their bucket ids carry no order), at most ``SAMPLE_CAP`` rows drawn with ``numpy.random.default_rng(seed)``,
so the scores are deterministic given the seed and no global random state (numpy's, torch's) is read or moved.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

NAME = "fast"
SAMPLE_CAP = 200_000  # training rows FAST and its main-effects model see at most (a uniform draw, sorted)
MAX_BINS = 64  # FAST's max_interaction_bins: the most frequent values of a field keep their own bin
L2_C = 1.0  # inverse L2 strength of the main-effects logistic regression (scikit-learn's C)
MAX_ITER = 200  # lbfgs iterations of the main-effects model


def _library() -> str:
    import interpret

    return f"interpret {interpret.__version__}"


def method(cap: int = SAMPLE_CAP) -> dict:
    """What ``run.json``'s ``reference`` records (with ``seconds`` and ``rows`` added by the pipeline)."""
    import sklearn

    return {"name": NAME, "short": "FAST", "title": "FAST on main-effect residuals",
            "library": f"{_library()} (interpret.utils.measure_interactions), scikit-learn {sklearn.__version__}",
            "sample_cap": cap, "split": "train",
            "settings": {"main_effects": f"L2 logistic regression on one-hot ids (C={L2_C}, lbfgs, "
                                         f"{MAX_ITER} iterations), its logit as FAST's init_score",
                         "max_interaction_bins": MAX_BINS, "feature_types": "nominal"},
            "score": "FAST's loss reduction of the pair's best 2x2 correction (higher = stronger interaction)"}


def main_effects_logit(X: np.ndarray, y: np.ndarray, threads: int = 1) -> np.ndarray:
    """The logit of an L2 logistic regression on the one-hot ids of every field (main effects only), in-sample."""
    import warnings

    from scipy import sparse
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    n, f = X.shape
    X = np.asarray(X, dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(X.max(axis=0) + 1)[:-1]])
    cols = (X + offsets).ravel()
    onehot = sparse.csr_matrix((np.ones(n * f, dtype=np.float64), cols, np.arange(0, n * f + 1, f)),
                               shape=(n, int(offsets[-1] + X[:, -1].max() + 1)))
    with threadpool_limits(limits=max(1, threads)), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # 200 lbfgs steps: close enough for a residual
        model = LogisticRegression(C=L2_C, max_iter=MAX_ITER).fit(onehot, np.asarray(y).astype(int))
        return model.decision_function(onehot)


def sample_rows(n: int, seed: int, cap: int = SAMPLE_CAP) -> np.ndarray | None:
    """The sorted row indices of a uniform draw of ``cap`` rows (its own generator), or None when n <= cap."""
    if cap <= 0 or n <= cap:
        return None
    return np.sort(np.random.default_rng(seed).choice(n, size=cap, replace=False))


def reference_scores(X: np.ndarray, y: np.ndarray, pairs: Sequence[tuple[int, ...]], seed: int = 0,
                     threads: int = 1, cap: int = SAMPLE_CAP) -> np.ndarray:
    """FAST's strength of each order-2 pair in ``pairs`` (a float per pair, higher = stronger), from the training
    split's ids ``X`` (N, F) and labels ``y``; at most ``cap`` rows (0 = all). A pair that is not order 2 scores NaN;
    a pair FAST cannot split (a constant field) scores 0."""
    from interpret.utils import measure_interactions

    pairs = [tuple(int(i) for i in p) for p in pairs]
    out = np.full(len(pairs), np.nan)
    wanted = sorted({p for p in pairs if len(p) == 2})
    if not wanted or len(y) == 0:
        return out
    rows = sample_rows(len(y), seed, cap)
    if rows is not None:
        X, y = X[rows], y[rows]
    X = np.asarray(X)
    y = np.asarray(y).astype(int)
    if y.min() == y.max():  # one class: nothing to detect
        out[[i for i, p in enumerate(pairs) if len(p) == 2]] = 0.0
        return out
    init = main_effects_logit(X, y, threads)
    ranked = measure_interactions(X, y, interactions=wanted, init_score=init, max_interaction_bins=MAX_BINS,
                                  feature_types=["nominal"] * X.shape[1], objective="log_loss")
    strength = {tuple(sorted(int(i) for i in t)): float(s) for t, s in ranked}
    for i, p in enumerate(pairs):
        if len(p) == 2:
            out[i] = strength.get(tuple(sorted(p)), 0.0)
    return out
