"""An independent ranking of the field pairs, next to AIM's gates, by an established detector that knows nothing
about AIM (``search.reference``; interactions.csv ``ref_score``, run.json ``reference``).

The gates α say which pairs AIM kept; statistics AUC (paper §4.4.2) scores a pair by how well the click rate of
each (x_i, x_j) cell alone separates the classes, main effects included. Neither is an outside opinion. Two
detectors are offered; ``bench/bench_reference.py`` measured them (and FAST without main effects, and SHAP over
LightGBM's categorical splits) on planted pairs and chose the default (docs/results.md, "Independent check of
the selection"):

- ``shap`` (default): **mean |SHAP interaction value|** (Lundberg et al., "From local explanations to global
  understanding with explainable AI for trees", Nature Machine Intelligence 2020; ``shap.TreeExplainer``) of a
  **LightGBM** model of the clicks. The model (100 trees of at most 31 leaves, learning rate 0.1) splits the
  encoded ids as numbers; many splits carve out single ids or groups of them, so it still models categorical
  effects, and it was both faster and better on planted pairs than LightGBM's own categorical splits. SHAP's
  exact tree algorithm splits each prediction of ``EXPLAIN_ROWS`` training rows into the part of each field and
  of each pair; a pair's score is the mean absolute part of the pair (φ_ij + φ_ji) over those rows.
- ``fast``: **FAST** (Lou, Caruana, Gehrke & Hooker, KDD 2013; InterpretML's ``measure_interactions``, the pair
  ranking inside its explainable boosting machines) on the residuals of a main-effects model (an L2 logistic
  regression on one-hot ids, its logit passed as ``init_score``): how much the best 2×2 piecewise-constant
  correction over the two fields lowers the log loss beyond what each field does alone. 3-5× cheaper than
  ``shap``, and it missed one planted pair more on data with many wide fields.

Both read the encoded ids of the **training split only**, at most ``SAMPLE_CAP`` rows drawn with
``numpy.random.default_rng(seed)``; every random choice has its own generator seeded by ``seed`` and LightGBM
runs in its deterministic mode, so the scores are the same for the same data, seed and thread count, and no
global random state (numpy's, torch's) is read or moved.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

METHODS = ("shap", "fast")
SAMPLE_CAP = 200_000  # training rows a detector fits on at most (a uniform draw, sorted)
# shap: the LightGBM model and the rows explained
TREES, LEAVES, LEARNING_RATE = 100, 31, 0.1
EXPLAIN_ROWS = 300  # training rows (of the fitted sample) whose predictions SHAP splits into field and pair parts
# fast: the main-effects model and FAST's grid
MAX_BINS = 64  # FAST's max_interaction_bins
L2_C = 1.0  # inverse L2 strength of the main-effects logistic regression (scikit-learn's C)
MAX_ITER = 200  # lbfgs iterations of the main-effects model

TITLES = {"shap": "SHAP interaction values of LightGBM", "fast": "FAST on main-effect residuals"}
SHORT = {"shap": "SHAP", "fast": "FAST"}


def method(name: str = "shap", cap: int = SAMPLE_CAP) -> dict:
    """What ``run.json``'s ``reference`` records of detector ``name`` (the pipeline adds rows, seed, seconds)."""
    import sklearn

    if name == "shap":
        import lightgbm
        import shap

        library = f"lightgbm {lightgbm.__version__}, shap {shap.__version__} (TreeExplainer.shap_interaction_values)"
        settings = {"model": f"LGBMClassifier: {TREES} trees, {LEAVES} leaves, learning rate {LEARNING_RATE}, "
                             "ids split as numbers, deterministic", "explained_rows": EXPLAIN_ROWS}
        score = "mean |φ_ij + φ_ji| over the explained rows, in log-odds (higher = stronger interaction)"
    elif name == "fast":
        import interpret

        library = (f"interpret {interpret.__version__} (interpret.utils.measure_interactions), "
                   f"scikit-learn {sklearn.__version__}")
        settings = {"main_effects": f"L2 logistic regression on one-hot ids (C={L2_C}, lbfgs, {MAX_ITER} "
                                    "iterations), its logit as FAST's init_score",
                    "max_interaction_bins": MAX_BINS, "feature_types": "nominal"}
        score = "FAST's log-loss reduction of the pair's best 2x2 correction (higher = stronger interaction)"
    else:
        raise ValueError(f"reference method {name!r}: choose one of {', '.join(METHODS)}")
    return {"name": name, "short": SHORT[name], "title": TITLES[name], "library": library, "sample_cap": cap,
            "split": "train", "settings": settings, "score": score}


def sample_rows(n: int, seed: int, cap: int = SAMPLE_CAP) -> np.ndarray | None:
    """The sorted row indices of a uniform draw of ``cap`` rows (its own generator), or None when n <= cap."""
    if cap <= 0 or n <= cap:
        return None
    return np.sort(np.random.default_rng(seed).choice(n, size=cap, replace=False))


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
    onehot = sparse.csr_matrix((np.ones(n * f), (X + offsets).ravel(), np.arange(0, n * f + 1, f)),
                               shape=(n, int(offsets[-1] + X[:, -1].max() + 1)))
    with threadpool_limits(limits=max(1, threads)), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # 200 lbfgs steps: close enough for a residual
        model = LogisticRegression(C=L2_C, max_iter=MAX_ITER).fit(onehot, np.asarray(y).astype(int))
        return model.decision_function(onehot)


def fast_strengths(X: np.ndarray, y: np.ndarray, wanted: list[tuple[int, int]], threads: int = 1) -> dict:
    """FAST's strength of each pair in ``wanted`` on the residuals of the main-effects model."""
    from interpret.utils import measure_interactions

    ranked = measure_interactions(X, y, interactions=wanted, init_score=main_effects_logit(X, y, threads),
                                  max_interaction_bins=MAX_BINS, feature_types=["nominal"] * X.shape[1],
                                  objective="log_loss")
    return {tuple(sorted(int(i) for i in t)): float(s) for t, s in ranked}


def shap_strengths(X: np.ndarray, y: np.ndarray, seed: int = 0, threads: int = 1) -> np.ndarray:
    """The (F, F) matrix of mean |SHAP interaction value| of a LightGBM model of ``y`` on ``X`` (symmetric, its
    diagonal the main effects); ``EXPLAIN_ROWS`` rows explained, drawn with ``default_rng(seed)``."""
    import lightgbm as lgb
    import shap

    model = lgb.LGBMClassifier(n_estimators=TREES, num_leaves=LEAVES, learning_rate=LEARNING_RATE,
                               n_jobs=max(1, threads), random_state=seed, deterministic=True, force_row_wise=True,
                               verbose=-1)
    model.fit(X.astype(np.float64), y)  # ids as numbers (exact for any id; LightGBM bins them)
    rng = np.random.default_rng([seed, 1])
    rows = np.sort(rng.choice(len(y), size=min(EXPLAIN_ROWS, len(y)), replace=False))
    values = shap.TreeExplainer(model).shap_interaction_values(X[rows].astype(np.float64))
    values = np.asarray(values[-1] if isinstance(values, list) else values)
    if values.ndim == 4:  # (rows, F, F, outputs): the positive class
        values = values[..., -1]
    pair = values + values.transpose(0, 2, 1)
    return np.abs(pair).mean(axis=0)


def reference_scores(X: np.ndarray, y: np.ndarray, pairs: Sequence[tuple[int, ...]], method: str = "shap",
                     seed: int = 0, threads: int = 1, cap: int = SAMPLE_CAP) -> np.ndarray:
    """Detector ``method``'s strength of each order-2 pair in ``pairs`` (a float per pair, higher = stronger), from
    the training split's ids ``X`` (N, F) and labels ``y``; at most ``cap`` rows (0 = all). A pair that is not
    order 2 scores NaN; with one class only, every pair scores 0."""
    if method not in METHODS:
        raise ValueError(f"reference method {method!r}: choose one of {', '.join(METHODS)}")
    pairs = [tuple(int(i) for i in p) for p in pairs]
    out = np.full(len(pairs), np.nan)
    at = [i for i, p in enumerate(pairs) if len(p) == 2]
    if not at or len(y) == 0:
        return out
    rows = sample_rows(len(y), seed, cap)
    X, y = (X, y) if rows is None else (X[rows], y[rows])
    X, y = np.asarray(X), np.asarray(y).astype(int)
    if y.min() == y.max():  # one class: nothing to detect
        out[at] = 0.0
        return out
    if method == "fast":
        strength = fast_strengths(X, y, sorted({tuple(sorted(pairs[i])) for i in at}), threads)
        out[at] = [strength.get(tuple(sorted(pairs[i])), 0.0) for i in at]
    else:
        matrix = shap_strengths(X, y, seed, threads)
        out[at] = [matrix[pairs[i][0], pairs[i][1]] for i in at]
    return out
