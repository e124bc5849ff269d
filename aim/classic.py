"""Two practitioner baselines beside the neural variants: what a CTR team would try before any deep model.

    lr    logistic regression on the one-hot ids of every field (numeric fields arrive already bucketed into ids),
          scikit-learn's ``LogisticRegression`` (lbfgs) on a sparse CSR one-hot matrix; its L2 strength C is
          chosen on validation AUC from ``LR_C_GRID`` (ties: the stronger regularisation, the smaller C)
    gbdt  LightGBM gradient-boosted trees with native categorical splits on every id field, early stopping on
          validation AUC, fixed defaults (``GBDT_PARAMS``) chosen on the validation splits of Frappe and
          MovieLens-100k, never on test

Both see exactly the encoded ids and the train / valid / test splits the neural variants see; the test split
chooses nothing. Their metrics come from ``aim.train.metrics`` (the neural variants' AUC and clipped log loss).
What they store is never pickled: LR's weights are tensors (``weights.pt``: ``coef`` one weight per id of every
field in field order, ``intercept``), the trees are LightGBM's own text model (``model.txt``); ``load_model``
rebuilds a predictor from a run folder. "Parameters": LR = one weight per id + the bias; GBDT = its leaf values
plus its split nodes (each split holds a feature and a threshold or a category set), over the trees kept.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from aim import variants
from aim.config import RunConfig
from aim.data.base import CTRData
from aim.errors import RunFormatError
from aim.sparsity import parsimonious
from aim.train import FitResult, metrics

if TYPE_CHECKING:
    from aim.runs import Run

VARIANTS = variants.names(family="classic")
LR_C_GRID = (0.01, 0.1, 1.0, 10.0, 100.0)  # inverse L2 strength of sklearn's objective C·Σ loss + ½‖w‖²
LR_MAX_ITER = 1000
# LightGBM defaults of the gbdt variant, one set for every dataset (no per-dataset flags), picked on the
# validation AUC of Frappe and MovieLens-100k among a handful of usual settings (docs/method.md).
GBDT_PARAMS = {
    "objective": "binary",
    "learning_rate": 0.1,
    "num_leaves": 31,
    "min_data_in_leaf": 20,
    "max_cat_to_onehot": 4,  # fields with at most 4 ids split one-vs-rest; larger ones by LightGBM's sorted split
    "cat_smooth": 10.0,
    "cat_l2": 10.0,
    "feature_fraction": 0.9,  # with bagging: what the seed changes, as the neural variants' init and batch order
    "bagging_fraction": 0.9,
    "bagging_freq": 1,
}
GBDT_ROUNDS = 1000  # at most; early stopping on validation AUC ends it sooner
GBDT_PATIENCE = 50  # rounds without validation AUC gain
GBDT_EVERY = 25  # a history row every this many rounds (and at the last one)
Log = Callable[[str], None]
OnRow = Callable[[dict], None]


@dataclass
class Classic:
    """A trained lr / gbdt model with what a run records of it (the neural variants' ``search.Trained``)."""

    spec: dict  # run.json ``model``: {"kind": "lr" | "gbdt", "args": {...}}
    fit: FitResult  # history rows (one per C candidate / per GBDT_EVERY rounds), best_epoch
    metrics: dict[str, dict[str, float]]
    params: dict[str, int]  # total, embedding
    frontier: list[dict]  # sparsity.csv rows: one per candidate tried
    stage_info: dict  # added to run.json stages.train: C of lr; rounds of gbdt (its epochs = rounds trained)
    tensors: dict[str, torch.Tensor] = field(default_factory=dict)  # lr: coef, intercept (weights.pt)
    model_text: str = ""  # gbdt: LightGBM's text model (model.txt)
    embed_l2: float | None = None  # lr: the chosen L2 per mean-loss row, 1 / (C · n_train); gbdt: None
    start: str = "scratch"

    @property
    def kind(self) -> str:
        return self.spec["kind"]

    @property
    def params_before_eds(self) -> int:
        return self.params["total"]

    @property
    def dims_per_field(self) -> int:
        """What the Embeddings page shows: lr holds one weight per id (1 dimension), gbdt's trees none."""
        return 0 if self.model_text else 1

    def predictor(self) -> Predictor:
        if self.model_text:
            return Trees(self.model_text, self.spec["args"]["threads"])
        return LinearIds(self.tensors["coef"].numpy(), float(self.tensors["intercept"]),
                         self.spec["args"]["vocab_sizes"])

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.predictor().predict(X)


class Predictor:
    def predict(self, X: np.ndarray) -> np.ndarray:  # probabilities (N,)
        raise NotImplementedError


class LinearIds(Predictor):
    """σ(b + Σ_f coef[offset_f + X[:, f]]): the logistic regression on one-hot ids, read straight off the ids."""

    def __init__(self, coef: np.ndarray, intercept: float, vocab_sizes: list[int]):
        self.coef = np.asarray(coef, dtype=np.float64)
        self.intercept = float(intercept)
        self.offsets = np.concatenate([[0], np.cumsum(vocab_sizes)[:-1]]).astype(np.int64)
        if len(self.coef) != int(sum(vocab_sizes)):
            raise ValueError(f"{len(self.coef)} weights for {int(sum(vocab_sizes))} ids")

    def logits(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X)
        return self.coef[X.astype(np.int64) + self.offsets].sum(axis=1) + self.intercept

    def predict(self, X: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.logits(X)))


class Trees(Predictor):
    """A LightGBM booster rebuilt from its text model."""

    def __init__(self, model_text: str, threads: int = 1):
        import lightgbm as lgb

        self.booster = lgb.Booster(model_str=model_text)
        self.threads = max(1, int(threads))

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.booster.predict(np.asarray(X), num_threads=self.threads)


def one_hot(X: np.ndarray, vocab_sizes: list[int]):
    """The (N, Σ vocab) CSR one-hot matrix of field-local ids X (N, F): row i has a 1 at offset_f + X[i, f]."""
    import scipy.sparse as sp

    X = np.asarray(X)
    n, f = X.shape
    offsets = np.concatenate([[0], np.cumsum(vocab_sizes)[:-1]]).astype(np.int64)
    cols = (X.astype(np.int64) + offsets).ravel()
    return sp.csr_matrix((np.ones(n * f), cols, np.arange(0, n * f + 1, f, dtype=np.int64)),
                         shape=(n, int(sum(vocab_sizes))))


def train(cfg: RunConfig, data: CTRData, on_row: OnRow | None = None, log: Log | None = None) -> Classic:
    """Train the lr or gbdt variant of ``cfg`` on ``data``: hyper-parameters chosen on validation only."""
    if cfg.variant not in TRAINERS:
        raise ValueError(f"{cfg.variant} is not one of {VARIANTS}")
    return TRAINERS[cfg.variant](cfg, data, on_row, log)


def _all(predict: Callable[[np.ndarray], np.ndarray], data: CTRData) -> dict[str, dict[str, float]]:
    return {name: metrics(np.asarray(split.y), predict(split.X)) for name, split in
            (("valid", data.valid), ("test", data.test))}


def train_lr(data: CTRData, seed: int, on_row: OnRow | None = None, log: Log | None = None,
             grid: tuple[float, ...] = LR_C_GRID) -> Classic:
    """Logistic regression on one-hot ids, one fit per C of ``grid``, each from zero weights (a warm start from
    the previous C's optimum can pass lbfgs's stopping test at once and stop short of its own optimum); the best
    validation AUC wins, ties go to the smaller C (the stronger regularisation)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    vocab = data.vocab_sizes
    y_train = np.asarray(data.train.y, dtype=np.float64)
    X_train = one_hot(data.train.X, vocab)
    n_train = len(y_train)
    size = int(sum(vocab)) + 1
    fits, rows = [], []
    for i, C in enumerate(sorted(grid)):
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            model = LogisticRegression(C=C, solver="lbfgs", max_iter=LR_MAX_ITER, random_state=seed)
            model.fit(X_train, y_train)
        coef, intercept = model.coef_[0].copy(), float(model.intercept_[0])
        pred = LinearIds(coef, intercept, vocab)
        train_loss = metrics(y_train, pred.predict(data.train.X))["logloss"]
        valid = metrics(np.asarray(data.valid.y), pred.predict(data.valid.X))
        seconds = time.perf_counter() - start
        iters = int(model.n_iter_[0])
        fits.append((coef, intercept))
        rows.append({"stage": "train", "epoch": i + 1, "step": iters, "train_loss": train_loss,
                     "valid_auc": valid["auc"], "valid_logloss": valid["logloss"], "seconds": seconds})
        if on_row:
            on_row(dict(rows[-1]))
        if log:
            note = " (lbfgs did not converge)" if any(issubclass(w.category, ConvergenceWarning) for w in caught) else ""
            log(f"[train] lr C={C:g}: valid AUC {valid['auc']:.4f} log loss {valid['logloss']:.4f} after {iters} "
                f"lbfgs iterations ({seconds:.1f}s){note}")
    Cs = sorted(grid)
    pick = parsimonious([r["valid_auc"] for r in rows], Cs, 0.0)
    frontier = [{"stage": "train", "candidate": i, "embed_l2": 1.0 / (C * n_train), "start": "scratch", "size": size,
                 "valid_auc": r["valid_auc"], "valid_logloss": r["valid_logloss"], "epochs": r["step"],
                 "seconds": r["seconds"], "chosen": i == pick} for i, (C, r) in enumerate(zip(Cs, rows))]
    coef, intercept = fits[pick]
    tensors = {"coef": torch.from_numpy(coef), "intercept": torch.tensor(intercept, dtype=torch.float64)}
    spec = {"kind": "lr", "args": {"vocab_sizes": list(vocab), "C": Cs[pick], "solver": "lbfgs"}}
    if log:
        log(f"[train] lr: C={Cs[pick]:g} kept (best validation AUC of {len(Cs)})")
    best = LinearIds(coef, intercept, vocab)
    return Classic(spec=spec, fit=FitResult(history=rows, best_epoch=pick + 1), metrics=_all(best.predict, data),
                   params={"total": size, "embedding": size - 1}, frontier=frontier,
                   stage_info={"C": Cs[pick], "C_grid": Cs}, tensors=tensors,
                   embed_l2=1.0 / (Cs[pick] * n_train))


def tree_parameters(model_text: str) -> int:
    """Leaf values plus split nodes of every tree of a LightGBM text model (a tree of L leaves has L - 1 splits)."""
    leaves = [int(line.split("=", 1)[1]) for line in model_text.splitlines() if line.startswith("num_leaves=")]
    return sum(2 * n - 1 for n in leaves)


def gbdt_params(seed: int, threads: int) -> dict:
    return {**GBDT_PARAMS, "metric": ["auc", "binary_logloss"], "first_metric_only": True, "seed": seed,
            "deterministic": True, "force_row_wise": True, "num_threads": max(1, int(threads)), "verbose": -1}


def train_gbdt(data: CTRData, seed: int, threads: int, on_row: OnRow | None = None, log: Log | None = None,
               rounds: int = GBDT_ROUNDS, patience: int = GBDT_PATIENCE) -> Classic:
    """LightGBM with every field categorical, at most ``rounds`` rounds, stopped ``patience`` rounds after the best
    validation AUC; the trees up to that best round are kept."""
    import lightgbm as lgb

    params = gbdt_params(seed, threads)
    fields = list(range(len(data.fields)))
    train_set = lgb.Dataset(np.asarray(data.train.X), np.asarray(data.train.y), categorical_feature=fields,
                            free_raw_data=True)
    valid_set = lgb.Dataset(np.asarray(data.valid.X), np.asarray(data.valid.y), reference=train_set,
                            categorical_feature=fields)
    evals: dict = {}
    stamps: dict[int, float] = {}

    def progress(env: lgb.callback.CallbackEnv) -> None:
        done = env.iteration + 1
        stamps[done] = time.perf_counter()
        if done % GBDT_EVERY:
            return
        found = {name: value for _, name, value, _ in env.evaluation_result_list}
        if on_row:
            on_row({"stage": "train", "epoch": done, "valid_auc": float(found["auc"])})
        if log and done % (4 * GBDT_EVERY) == 0:
            log(f"[train] gbdt round {done}: valid AUC {found['auc']:.4f} log loss {found['binary_logloss']:.4f}")

    start = time.perf_counter()
    booster = lgb.train(params, train_set, num_boost_round=rounds, valid_sets=[valid_set], valid_names=["valid"],
                        callbacks=[progress, lgb.record_evaluation(evals),
                                   lgb.early_stopping(patience, first_metric_only=True, verbose=False)])
    ran = max(stamps, default=booster.current_iteration())  # rounds trained (the booster keeps the best only)
    best_round = int(booster.best_iteration) or ran
    text = booster.model_to_string(num_iteration=best_round)
    trees = Trees(text, threads)  # metrics from the stored model itself: reloading it predicts the same
    seconds = time.perf_counter() - start
    # history: every GBDT_EVERY-th round, the best and the last; seconds = since the previous row (the first row
    # also holds building the datasets)
    marks = sorted({r for r in range(GBDT_EVERY, ran + 1, GBDT_EVERY)} | {best_round, ran})
    auc, logloss = evals["valid"]["auc"], evals["valid"]["binary_logloss"]
    rows, last = [], start
    for r in marks:
        rows.append({"stage": "train", "epoch": r, "step": r, "train_loss": math.nan, "valid_auc": float(auc[r - 1]),
                     "valid_logloss": float(logloss[r - 1]), "seconds": stamps.get(r, last) - last})
        last = stamps.get(r, last)
    size = tree_parameters(text)
    result = _all(trees.predict, data)
    frontier = [{"stage": "train", "candidate": 0, "start": "scratch", "size": size,
                 "valid_auc": result["valid"]["auc"], "valid_logloss": result["valid"]["logloss"],
                 "epochs": best_round, "seconds": seconds, "chosen": True}]
    spec = {"kind": "gbdt", "args": {"params": {k: v for k, v in params.items() if k != "num_threads"},
                                     "threads": params["num_threads"], "max_rounds": rounds, "patience": patience,
                                     "rounds": best_round, "lightgbm": lgb.__version__}}
    if log:
        log(f"[train] gbdt: {best_round} trees kept (best validation AUC {result['valid']['auc']:.4f}, stopped "
            f"after {ran} rounds), {size:,} parameters ({seconds:.1f}s)")
    return Classic(spec=spec, fit=FitResult(history=rows, best_epoch=best_round), metrics=result,
                   params={"total": size, "embedding": 0}, frontier=frontier,
                   stage_info={"epochs": ran, "rounds": best_round, "rounds_run": ran}, model_text=text)


# --------------------------------------------------------------------------------- checkpoints and reload


TRAINERS: dict[str, Callable[[RunConfig, CTRData, OnRow | None, Log | None], Classic]] = {
    "lr": lambda cfg, data, on_row, log: train_lr(data, cfg.seed, on_row, log),
    "gbdt": lambda cfg, data, on_row, log: train_gbdt(data, cfg.seed, torch.get_num_threads(), on_row, log),
}
assert tuple(TRAINERS) == VARIANTS, "aim.variants lists the classic variants trained here"


def state_of(c: Classic, seconds: float) -> dict:
    """A checkpoint of the train stage: tensors and plain values only (``aim.fileio.write_checkpoint``)."""
    return {"spec": c.spec, "history": c.fit.history, "best_epoch": c.fit.best_epoch, "metrics": c.metrics,
            "params": c.params, "frontier": c.frontier, "stage_info": c.stage_info, "tensors": c.tensors,
            "model_text": c.model_text, "embed_l2": c.embed_l2, "seconds": seconds}


def of_state(state: dict) -> tuple[Classic, float]:
    c = Classic(spec=state["spec"], fit=FitResult(history=list(state["history"]), best_epoch=state["best_epoch"]),
                metrics=state["metrics"], params=state["params"], frontier=list(state["frontier"]),
                stage_info=state["stage_info"], tensors=dict(state["tensors"]), model_text=state["model_text"],
                embed_l2=state["embed_l2"])
    return c, state["seconds"]


def _load_lr(run: Run, spec: dict, threads: int) -> Predictor:
    w = run.load_weights()
    return LinearIds(w["coef"].numpy(), float(w["intercept"]), spec["args"]["vocab_sizes"])


def _load_gbdt(run: Run, spec: dict, threads: int) -> Predictor:
    from aim.runs import MODEL_TEXT_FILE, check_inside

    path = run.path / MODEL_TEXT_FILE
    check_inside(run.path, path)
    try:
        return Trees(path.read_text(encoding="utf-8"), threads)
    except FileNotFoundError:
        raise RunFormatError(path, "file is missing") from None
    except Exception as exc:  # noqa: BLE001 - LightGBM refuses a damaged model with its own error type
        raise RunFormatError(path, f"not a LightGBM text model ({str(exc)[:200]})") from None


LOADERS: dict[str, Callable[[Run, dict, int], Predictor]] = {"lr": _load_lr, "gbdt": _load_gbdt}


def load_model(run_dir: str | Path, threads: int = 1) -> Predictor:
    """The predictor of a complete lr / gbdt run folder: LR from ``weights.pt`` (tensors, ``weights_only``), GBDT
    from ``model.txt`` (LightGBM's text format); nothing is unpickled."""
    from aim.runs import load_run

    run = load_run(run_dir)
    spec = run.meta.get("model") or {}
    loader = LOADERS.get(spec.get("kind"))
    if loader is None:
        raise RunFormatError(run.path, f"model kind {spec.get('kind')!r} is not one of {VARIANTS}")
    return loader(run, spec, threads)
