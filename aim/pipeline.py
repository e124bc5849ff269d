"""One run end to end: data -> stages (search interaction-IF -> search embed -> re-train) -> run folder.

Every stage's outcome is written to the run folder as soon as it exists, so the app can show a running search
and a failed run keeps what it had learned. The status stays ``running`` until the last file is written.
"""

from __future__ import annotations

import platform
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch

import aim
from aim.config import FUNCTIONS, RunConfig
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
from aim.train import Tensors

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


def interaction_table(data: CTRData, search: InteractionSearch | None, pairs: list[tuple[int, ...]],
                      log: Log) -> pd.DataFrame:
    """One row per (interaction, function) column with α, kept flags, statistics AUC and planted truth."""
    if search is not None:
        fields, funcs = search.columns
        alpha, kept = search.alpha, search.kept
    else:  # a baseline uses every pair through the inner product, with no gate
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


def field_table(data: CTRData, dim: int, positions: tuple[tuple[int, ...], ...] | None) -> pd.DataFrame:
    pos = positions if positions is not None else tuple(tuple(range(dim)) for _ in data.fields)
    return pd.DataFrame({
        "field": np.arange(len(data.fields)),
        "name": data.field_names,
        "vocab_size": data.vocab_sizes,
        "dims_kept": [len(p) for p in pos],
        "positions": [" ".join(map(str, p)) for p in pos],
    })


def snapshot_table(search: InteractionSearch) -> pd.DataFrame:
    rows = [(epoch, step, c, float(a)) for epoch, step, alpha in search.fit.snapshots for c, a in enumerate(alpha)]
    df = pd.DataFrame(rows, columns=["epoch", "step", "column", "alpha"])
    df.insert(0, "stage", "search")
    return df


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
    search: InteractionSearch | None = None
    embed: EmbedSearch | None = None
    pairs = [(i, j) for i in range(len(vocab)) for j in range(i + 1, len(vocab))]
    if cfg.variant in BASELINES:
        start = time.perf_counter()
        final: Trained = train_baseline(cfg, vocab, tensors, generator, on_epoch)
        stages["train"] = _stage_meta(final.fit, final.metrics, time.perf_counter() - start)
        save_table("interactions", interaction_table(data, None, pairs, log))
        positions = None
    else:
        start = time.perf_counter()
        search = search_interactions(cfg, vocab, tensors, generator, on_epoch)
        stages["search"] = _stage_meta(search.fit, search.metrics, time.perf_counter() - start)
        inter = interaction_table(data, search, pairs, log)
        save_table("interactions", inter)
        save_table("snapshots", snapshot_table(search))
        columns = search.kept_columns()
        kept_pairs = sorted(set(columns[0]))
        log(f"search kept {int(search.kept.sum())}/{len(search.alpha)} interaction-IF columns, "
            f"{len(kept_pairs)}/{len(pairs)} interactions")
        positions = None
        if cfg.variant == "aim" and columns[0]:
            start = time.perf_counter()
            embed = search_embed(cfg, vocab, columns, tensors, generator, on_epoch)
            stages["embed"] = _stage_meta(embed.fit, embed.metrics, time.perf_counter() - start)
            positions = embed.positions
            log("embedding sizes kept: " + ", ".join(f"{n}={len(p)}" for n, p in zip(data.field_names, positions)))
        start = time.perf_counter()
        final = retrain(cfg, vocab, columns, positions, tensors, generator, on_epoch)
        stages["retrain"] = _stage_meta(final.fit, final.metrics, time.perf_counter() - start)
    save_table("fields", field_table(data, cfg.model.embed_dim, positions))
    save_table("history", pd.DataFrame(history).reindex(columns=[
        "stage", "epoch", "step", "train_loss", "valid_auc", "valid_logloss", "seconds", "gates_nonzero",
        "gates_total", "grda_lr"]))
    writer.weights(final.model.state_dict())
    writer.update(model=final.spec, stages=stages, **summarise(cfg, data, search, final, positions))
    writer.progress(stage="done", epoch=None, valid_auc=final.metrics["valid"]["auc"])
    writer.finish("complete")
    log(f"test AUC {final.metrics['test']['auc']:.4f} log loss {final.metrics['test']['logloss']:.4f}")


def summarise(cfg: RunConfig, data: CTRData, search: InteractionSearch | None, final: Trained,
              positions: tuple[tuple[int, ...], ...] | None) -> dict:
    """The headline figures of a run (what ``python -m aim show`` prints and the Runs table lists)."""
    n = len(data.fields)
    total_pairs = n * (n - 1) // 2
    if search is not None:
        kept = {f for f, k in zip(search.columns[0], search.kept) if k}
        order2 = {"kept": len(kept), "total": total_pairs, "columns_kept": int(search.kept.sum()),
                  "columns_total": int(len(search.alpha)), "fi_ratio": len(kept) / total_pairs}
    else:
        kept = None
        order2 = {"kept": total_pairs, "total": total_pairs, "columns_kept": total_pairs,
                  "columns_total": total_pairs, "fi_ratio": 1.0}
    planted = None
    if data.truth is not None and kept is not None:
        truth = {t for t in data.truth.interactions if len(t) == 2}
        planted = planted_scores(kept, truth)
        if positions is not None:
            noise = data.truth.noise_fields
            planted["noise_dims_kept"] = int(sum(len(positions[i]) for i in noise))
            planted["signal_dims_kept"] = int(sum(len(p) for i, p in enumerate(positions) if i not in noise))
    return {
        "metrics": {split: final.metrics[split] for split in ("valid", "test")},
        "interactions": {"order2": order2},
        "params": {"before_eds": final.params_before_eds, "after_eds": final.params["total"],
                   "embedding": final.params["embedding"]},
        "planted": planted,
        "finished_at": now(),
    }
