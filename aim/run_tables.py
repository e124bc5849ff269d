"""What a run writes besides its weights: the tables (interactions.csv with α, kept flags, statistics AUC and the
independent ranking; fields.csv; alpha_snapshots.csv; the column lists of history.csv and sparsity.csv), each
stage's entry of ``run.json stages``, the warnings a reader must not miss, the timings and the headline summary.
Pure functions of the stages' typed results."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import torch

from aim import classic, distributed
from aim.config import FUNCTIONS, RunConfig, TrainConfig
from aim.context import Log, SplitTensors
from aim.data.base import CTRData
from aim.runs import now
from aim.search import InteractionSearch, Trained, used_fields
from aim.selection import interaction_counts
from aim.sparsity import Schedule
from aim.stats_auc import stats_auc
from aim.train import predict


def planted_scores(kept: set[tuple[int, ...]], planted: set[tuple[int, ...]]) -> dict:
    """Precision and recall of the kept interactions against the planted ones."""
    hits = len(kept & planted)
    return {"precision": hits / len(kept) if kept else 0.0, "recall": hits / len(planted) if planted else 1.0,
            "kept": len(kept), "planted": len(planted), "hits": hits}


def interaction_table(data: CTRData, searches: list[InteractionSearch], pairs: list[tuple[int, ...]],
                      log: Log, chosen: tuple = (), reference: dict[tuple[int, ...], float] | None = None,
                      ) -> pd.DataFrame:
    """One row per (interaction, function) column of every searched order, with α, kept flags, statistics AUC
    and planted truth. A re-train of a selection lists its ``chosen`` column blocks, kept and without a gate; a
    baseline (no search) lists every pair with the inner product and no gate. ``reference`` (pair -> score of
    ``aim.reference``) adds the column ``ref_score``: the pair's score on order-2 rows, NaN on the others."""
    if chosen:
        fields = tuple(f for b in chosen for f in b[0])
        funcs = tuple(k for b in chosen for k in b[1])
        alpha, kept = np.full(len(fields), np.nan), np.ones(len(fields), dtype=bool)
    elif searches:
        fields = tuple(f for r in searches for f in r.columns[0])
        funcs = tuple(k for r in searches for k in r.columns[1])
        alpha = np.concatenate([r.alpha for r in searches])
        kept = np.concatenate([r.kept for r in searches])
    else:
        fields, funcs = tuple(pairs), (0,) * len(pairs)
        alpha, kept = np.full(len(pairs), np.nan), np.ones(len(pairs), dtype=bool)
    unique = sorted(set(fields))
    if distributed.is_main():
        start = time.perf_counter()
        aucs = stats_auc(data.train.X, data.train.y, data.test.X, data.test.y, unique, data.vocab_sizes)
        log(f"statistics AUC of {len(unique)} interactions in {time.perf_counter() - start:.2f}s")
    else:  # under torchrun only rank 0 writes the table (aim.distributed): the others skip the data pass
        aucs = [float("nan")] * len(unique)
    auc_of = dict(zip(unique, aucs))
    interaction_kept = {f: False for f in unique}
    for f, k in zip(fields, kept):
        interaction_kept[f] |= bool(k)
    planted = set(data.truth.interactions) if data.truth else None
    names = data.field_names
    ref = {} if reference is None else {"ref_score": [reference.get(f, math.nan) if len(f) == 2 else math.nan
                                                      for f in fields]}
    return pd.DataFrame({
        "column": np.arange(len(fields)),
        "order": [len(f) for f in fields],
        "fields": [" ".join(map(str, f)) for f in fields],
        "field_names": [" × ".join(names[i] for i in f) for f in fields],
        "function": [FUNCTIONS[k] for k in funcs],
        "alpha": alpha,
        "kept": kept.astype(int),
        "interaction_kept": [int(interaction_kept[f]) for f in fields],
        "stats_auc": [auc_of[f] for f in fields],
        "planted": [(int(f in planted) if planted is not None else "") for f in fields],
        **ref,
    })


def reference_ranking(cfg: RunConfig, data: CTRData, pairs: list[tuple[int, ...]], log: Log,
                      ) -> tuple[dict[tuple[int, ...], float] | None, dict | None]:
    """The independent pair ranking of ``aim.reference`` on the training split (``search.reference``), and what
    ``run.json`` records of it; (None, None) when it is off or on a non-writing rank. The global random states
    (torch, numpy) are put back as they were, so the rest of the run is the same with or without it."""
    if cfg.search.reference == "none" or not distributed.is_main():
        return None, None
    from aim import reference

    torch_state, numpy_state = torch.get_rng_state(), np.random.get_state()
    start = time.perf_counter()
    try:
        scores = reference.reference_scores(data.train.X, data.train.y, pairs, method=cfg.search.reference,
                                            seed=cfg.seed, threads=torch.get_num_threads())
    finally:
        torch.set_rng_state(torch_state)
        np.random.set_state(numpy_state)
    seconds = time.perf_counter() - start
    rows = min(len(data.train.y), reference.SAMPLE_CAP)
    log(f"reference ranking ({cfg.search.reference}) of {len(pairs)} pairs on {rows:,} training rows in {seconds:.2f}s")
    meta = reference.method(cfg.search.reference) | {"rows": rows, "seed": cfg.seed, "seconds": round(seconds, 3)}
    return dict(zip(pairs, (float(s) for s in scores))), meta


def transfer_columns(path: str, data: CTRData) -> list:
    """The kept interaction-IF columns of an AIM run, per order, for the *-transfer variants (paper §4.6)."""
    from aim.errors import ConfigError
    from aim.runs import load_run

    run = load_run(path)
    names = [f["name"] for f in run.meta["dataset"]["fields"]]
    if names != data.field_names:
        raise ConfigError(f"transfer_from {path}: its fields {names} differ from this dataset's {data.field_names}")
    inter = run.interactions
    if inter is None or inter["alpha"].isna().all():
        raise ConfigError(f"transfer_from {path}: not an AIM run with searched interactions")
    kept = inter[inter["kept"] == 1]
    blocks = []
    for _, rows in kept.groupby("order"):
        cols = sorted(zip((tuple(int(i) for i in f.split()) for f in rows["fields"]),
                          (FUNCTIONS.index(k) for k in rows["function"])), key=lambda c: (c[1], c[0]))
        blocks.append((tuple(c[0] for c in cols), tuple(c[1] for c in cols)))
    return blocks


def field_table(data: CTRData, dim: int, positions: tuple[tuple[int, ...], ...] | None) -> pd.DataFrame:
    pos = positions if positions is not None else tuple(tuple(range(dim)) for _ in data.fields)
    return pd.DataFrame({
        "field": np.arange(len(data.fields)),
        "name": data.field_names,
        "vocab_size": data.vocab_sizes,
        "dims_kept": [len(p) for p in pos],
        "positions": [" ".join(map(str, p)) for p in pos],
    })


def snapshot_table(searches: list[InteractionSearch]) -> pd.DataFrame:
    """α of every column during each order's search, long format; ``column`` indexes interactions.csv."""
    rows, offset = [], 0
    for r in searches:
        stage = r.fit.history[0]["stage"] if r.fit.history else "search"
        rows += [(stage, epoch, step, offset + c, float(a))
                 for epoch, step, alpha in r.fit.snapshots for c, a in enumerate(alpha)]
        offset += len(r.alpha)
    return pd.DataFrame(rows, columns=["stage", "epoch", "step", "column", "alpha"])


def stage_meta(fitres, metrics: dict, seconds: float) -> dict:
    # Distributed runs: each rank's sha256 of the stage's final gates and weights (all equal, see aim.distributed).
    digests = {"sha256_by_rank": fitres.digests} if fitres.digests else {}
    start = {} if fitres.start_auc is None else {"start_valid_auc": fitres.start_auc}  # a warm start's AUC
    return {"metrics": metrics, "epochs": len(fitres.history), "best_epoch": fitres.best_epoch, **start,
            "seconds": round(seconds, 3), **digests}


def grda_meta(sched: Schedule | None) -> dict | None:
    return sched.to_json() if sched is not None else None


def run_warnings(data: CTRData, searches: list[InteractionSearch], positions: tuple[tuple[int, ...], ...] | None,
                 stages: dict) -> list[str]:
    """What a reader of the run must not miss: a search that kept nothing, a field that a kept interaction reads
    but EDS left without any dimension (its interactions are gone from the final model), and a final model that
    scores below the search-stage model on validation."""
    out = []
    if searches and not any(r.kept.any() for r in searches):
        out.append(f"the search kept no interaction: on {len(data.valid.y):,} validation rows no GRDA strength that "
                   "keeps columns beat the sparsest by more than the parsimony tolerance, so the final model is the "
                   "first-order part and the MLP (DeepFM without its FM part); more rows usually let interactions "
                   "through")
    if positions is not None:
        blocks = [r.kept_columns() for r in searches if r.kept.any()]
        lost = [data.field_names[i] for i in sorted(used_fields(blocks)) if not positions[i]]
        if lost:
            out.append(f"EDS removed every embedding dimension of {', '.join(lost)}, read by kept interactions: "
                       "those interactions are not in the final model (search.eds_floor >= 1 prevents it)")
    final = stages.get("retrain", {}).get("metrics", {}).get("valid", {}).get("auc")
    search = stages.get("search", {}).get("metrics", {}).get("valid", {}).get("auc")
    if final is not None and search is not None and final < search:
        out.append(f"the final model's validation AUC {final:.4f} is below the search-stage model's {search:.4f}")
    return out


def timings(final: Trained | classic.Classic, data: SplitTensors, train: TrainConfig, seconds: float) -> dict:
    """Training seconds of the final model: per epoch, and in all (``train_seconds``: the final stage's wall
    seconds, its hyper-parameter choice included; lr / gbdt have no epochs, so their ``train_epoch_seconds`` is
    that total), and inference seconds per 100,000 rows (same for all variants: predicting the test split, in
    inference mode in the run's precision for the networks, best of 3)."""
    if isinstance(final, classic.Classic):
        model, X = final.predictor(), data.test.X.numpy()
        best = min(_timed(lambda: model.predict(X)) for _ in range(3))
        per_epoch = seconds
    else:
        batch = train.eval_batch_size
        best = min(_timed(lambda: predict(final.model, data.test.X, batch, train.precision)) for _ in range(3))
        per_epoch = float(np.mean([row["seconds"] for row in final.fit.history]))
    return {"train_epoch_seconds": per_epoch, "train_seconds": float(seconds),
            "infer_seconds_per_100k": best / len(data.test.y) * 1e5}


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def summarise(data: CTRData, searches: list[InteractionSearch], final: Trained | classic.Classic,
              positions: tuple[tuple[int, ...], ...] | None, chosen: tuple = ()) -> dict:
    """The headline figures of a run (what ``python -m aim show`` prints and the Runs table lists); ``chosen``:
    the column blocks of a retrain run."""
    n = len(data.fields)
    interactions: dict[str, dict] = {}
    kept_all: set[tuple[int, ...]] = set()
    for r in searches:
        p = len(r.columns[0][0])
        kept = {f for f, k in zip(r.columns[0], r.kept) if k}
        kept_all |= kept
        interactions[f"order{p}"] = {"kept": len(kept), "total": math.comb(n, p), "pool": len(set(r.columns[0])),
                                     "columns_kept": int(r.kept.sum()), "columns_total": int(len(r.alpha)),
                                     "fi_ratio": len(kept) / math.comb(n, p)}
    given = chosen or final.spec.get("args", {}).get("columns")
    if given:  # a retrain or a *-transfer baseline: the interaction-IF columns it was given, per order
        interactions |= interaction_counts(given, n)
    elif not searches:
        total = math.comb(n, 2)
        interactions["order2"] = {"kept": total, "total": total, "pool": total, "columns_kept": total,
                                  "columns_total": total, "fi_ratio": 1.0}
    planted = None
    if data.truth is not None and searches:
        orders = {len(r.columns[0][0]) for r in searches}
        truth = {t for t in data.truth.interactions if len(t) in orders}
        planted = planted_scores(kept_all, truth)
        planted["by_order"] = {f"order{p}": planted_scores({t for t in kept_all if len(t) == p},
                                                           {t for t in truth if len(t) == p}) for p in sorted(orders)}
        if positions is not None:
            noise = data.truth.noise_fields
            planted["noise_dims_kept"] = int(sum(len(positions[i]) for i in noise))
            planted["signal_dims_kept"] = int(sum(len(p) for i, p in enumerate(positions) if i not in noise))
    return {
        "metrics": {split: final.metrics[split] for split in ("valid", "test")},
        "interactions": interactions,
        "params": {"before_eds": final.params_before_eds, "after_eds": final.params["total"],
                   "embedding": final.params["embedding"]},
        "planted": planted,
        "finished_at": now(),
    }
