"""One run end to end: data -> stages (search interaction-IF -> search embed -> re-train) -> run folder.

Every stage's outcome is written to the run folder as soon as it exists, so the app can show a running search
and a failed run keeps what it had learned. The status stays ``running`` until the last file is written.
"""

from __future__ import annotations

import math
import platform
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch

import aim
from aim.config import FUNCTIONS, TRANSFER_VARIANTS, RunConfig
from aim.data.base import CTRData
from aim.runs import RunWriter, now
from aim.search import (
    EmbedSearch,
    InteractionSearch,
    SplitTensors,
    Trained,
    retrain,
    search_embed,
    search_interactions,
    train_baseline,
)
from aim.stats_auc import stats_auc
from aim.train import Tensors, predict

BASELINES = ("fm", "deepfm", "ipnn")
Log = Callable[[str], None]


def load_data(cfg: RunConfig) -> CTRData:
    if cfg.dataset == "synthetic":
        from aim.data.synthetic import generate

        return generate(cfg.synthetic, split_seed=cfg.data.split_seed)
    from aim.data.registry import load_dataset

    return load_dataset(cfg.dataset, cfg.data_path, cfg.data)


def run_id(cfg: RunConfig) -> str:
    """Sortable, self-describing: ``{dataset}__{variant}__seed{seed}__{UTC timestamp}``."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    variant = cfg.variant + ("-se" if cfg.model.embedding == "se" and cfg.variant.startswith("aim") else "")
    return f"{cfg.dataset}__{variant}__seed{cfg.seed}__{stamp}"


def versions() -> dict:
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                                cwd=Path(__file__).parent).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {"aim": aim.__version__, "python": platform.python_version(), "torch": torch.__version__,
            "numpy": np.__version__, "git_commit": commit}


def planted_scores(kept: set[tuple[int, ...]], planted: set[tuple[int, ...]]) -> dict:
    """Precision and recall of the kept interactions against the planted ones."""
    hits = len(kept & planted)
    return {"precision": hits / len(kept) if kept else 0.0, "recall": hits / len(planted) if planted else 1.0,
            "kept": len(kept), "planted": len(planted), "hits": hits}


def interaction_table(data: CTRData, searches: list[InteractionSearch], pairs: list[tuple[int, ...]],
                      log: Log) -> pd.DataFrame:
    """One row per (interaction, function) column of every searched order, with α, kept flags, statistics AUC
    and planted truth. A baseline (no search) lists every pair with the inner product and no gate."""
    if searches:
        fields = tuple(f for r in searches for f in r.columns[0])
        funcs = tuple(k for r in searches for k in r.columns[1])
        alpha = np.concatenate([r.alpha for r in searches])
        kept = np.concatenate([r.kept for r in searches])
    else:
        fields, funcs = tuple(pairs), (0,) * len(pairs)
        alpha, kept = np.full(len(pairs), np.nan), np.ones(len(pairs), dtype=bool)
    unique = sorted(set(fields))
    start = time.perf_counter()
    aucs = stats_auc(data.train.X, data.train.y, data.test.X, data.test.y, unique, data.vocab_sizes)
    log(f"statistics AUC of {len(unique)} interactions in {time.perf_counter() - start:.2f}s")
    auc_of = dict(zip(unique, aucs))
    interaction_kept = {f: False for f in unique}
    for f, k in zip(fields, kept):
        interaction_kept[f] |= bool(k)
    planted = set(data.truth.interactions) if data.truth else None
    names = data.field_names
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
    })


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


def _stage_meta(fitres, metrics: dict, seconds: float) -> dict:
    return {"metrics": metrics, "epochs": len(fitres.history), "best_epoch": fitres.best_epoch,
            "seconds": round(seconds, 3)}


def execute(cfg: RunConfig, out_root: str | Path, log: Log = print, data: CTRData | None = None) -> Path:
    """Run ``cfg`` and write its run folder under ``out_root``; return the folder (status complete or failed)."""
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    generator = torch.Generator().manual_seed(cfg.seed)
    t0 = time.perf_counter()
    data = data if data is not None else load_data(cfg)
    log(f"data {data.name}: {len(data.train)} train / {len(data.valid)} valid / {len(data.test)} test rows, "
        f"{len(data.fields)} fields, load {time.perf_counter() - t0:.2f}s")
    writer = RunWriter(Path(out_root), run_id(cfg))
    writer.start({"config": cfg.to_json(), "versions": versions(), "seed": cfg.seed, "variant": cfg.variant,
                  "dataset": data.summary(), "tables": []})
    try:
        _execute(cfg, data, writer, generator, log)
    except BaseException as exc:
        writer.finish("failed", error=f"{type(exc).__name__}: {exc}")
        raise
    return writer.path


def _execute(cfg: RunConfig, data: CTRData, writer: RunWriter, generator: torch.Generator, log: Log) -> None:
    tensors = SplitTensors(Tensors.of(data.train), Tensors.of(data.valid), Tensors.of(data.test))
    vocab = data.vocab_sizes
    history: list[dict] = []
    tables: list[str] = []

    def on_epoch(row: dict) -> None:
        history.append(row)
        gates = f" gates {row['gates_nonzero']}/{row['gates_total']}" if "gates_nonzero" in row else ""
        log(f"[{row['stage']}] epoch {row['epoch']} loss {row['train_loss']:.4f} "
            f"valid AUC {row['valid_auc']:.4f}{gates} ({row['seconds']:.1f}s)")
        writer.progress(stage=row["stage"], epoch=row["epoch"], valid_auc=row["valid_auc"],
                        gates_left=row.get("gates_nonzero"), gates_total=row.get("gates_total"))

    def save_table(name: str, df: pd.DataFrame) -> None:
        writer.table(name, df)
        if name not in tables:
            tables.append(name)
        writer.update(tables=tables)

    stages = writer.meta["stages"]
    searches: list[InteractionSearch] = []
    positions = None
    pairs = [(i, j) for i in range(len(vocab)) for j in range(i + 1, len(vocab))]
    if cfg.variant in BASELINES or cfg.variant in TRANSFER_VARIANTS:
        transfer = transfer_columns(cfg.transfer_from, data) if cfg.transfer_from else []
        start = time.perf_counter()
        final: Trained = train_baseline(cfg, vocab, tensors, generator, on_epoch, transfer)
        stages["train"] = _stage_meta(final.fit, final.metrics, time.perf_counter() - start)
        save_table("interactions", interaction_table(data, [], pairs, log))
    else:
        searches = search_interactions(cfg, vocab, tensors, generator, on_epoch)
        for r in searches:
            stage = r.fit.history[0]["stage"]
            seconds = sum(row["seconds"] for row in r.fit.history)
            stages[stage] = _stage_meta(r.fit, r.metrics, seconds) | {"pool": len(set(r.columns[0]))}
            log(f"[{stage}] kept {int(r.kept.sum())}/{len(r.alpha)} interaction-IF columns, "
                f"{len({f for f, k in zip(r.columns[0], r.kept) if k})}/{len(set(r.columns[0]))} interactions")
        save_table("interactions", interaction_table(data, searches, pairs, log))
        save_table("snapshots", snapshot_table(searches))
        blocks = [r.kept_columns() for r in searches if r.kept.any()]
        if cfg.variant == "aim" and blocks:
            start = time.perf_counter()
            embed: EmbedSearch = search_embed(cfg, vocab, blocks, tensors, generator, on_epoch)
            stages["embed"] = _stage_meta(embed.fit, embed.metrics, time.perf_counter() - start)
            positions = embed.positions
            log("embedding sizes kept: " + ", ".join(f"{n}={len(p)}" for n, p in zip(data.field_names, positions)))
        start = time.perf_counter()
        final = retrain(cfg, vocab, blocks, positions, tensors, generator, on_epoch)
        stages["retrain"] = _stage_meta(final.fit, final.metrics, time.perf_counter() - start)
    save_table("fields", field_table(data, cfg.model.embed_dim, positions))
    save_table("history", pd.DataFrame(history).reindex(columns=[
        "stage", "epoch", "step", "train_loss", "valid_auc", "valid_logloss", "seconds", "gates_nonzero",
        "gates_total", "grda_lr"]))
    writer.weights(final.model.state_dict())
    writer.update(model=final.spec, stages=stages, timings=timings(final, tensors, cfg.train.eval_batch_size),
                  **summarise(data, searches, final, positions))
    writer.progress(stage="done", epoch=None, valid_auc=final.metrics["valid"]["auc"])
    writer.finish("complete")
    log(f"test AUC {final.metrics['test']['auc']:.4f} log loss {final.metrics['test']['logloss']:.4f}")


def timings(final: Trained, data: SplitTensors, batch: int) -> dict:
    """Training seconds per epoch of the final model and inference seconds per 100,000 rows (same for all
    variants: ``predict`` in inference mode on the test split, best of 3)."""
    best = min(_timed(lambda: predict(final.model, data.test.X, batch)) for _ in range(3))
    epochs = [row["seconds"] for row in final.fit.history]
    return {"train_epoch_seconds": float(np.mean(epochs)), "infer_seconds_per_100k": best / len(data.test.y) * 1e5}


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def summarise(data: CTRData, searches: list[InteractionSearch], final: Trained,
              positions: tuple[tuple[int, ...], ...] | None) -> dict:
    """The headline figures of a run (what ``python -m aim show`` prints and the Runs table lists)."""
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
    transferred = final.spec.get("args", {}).get("columns")
    if transferred:  # a *-transfer baseline: the interaction-IF columns it was given, per order
        for fields, funcs in transferred:
            p, total = len(fields[0]), math.comb(n, len(fields[0]))
            kept = len({tuple(f) for f in fields})
            interactions[f"order{p}"] = {"kept": kept, "total": total, "pool": total, "columns_kept": len(funcs),
                                         "columns_total": len(funcs), "fi_ratio": kept / total}
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
