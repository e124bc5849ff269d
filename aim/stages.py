"""The stages of one run, per variant family (``aim.variants``), and the pipeline's side of each stage.

``StageRunner`` is what every stage hands its progress to: it restores a finished stage from its checkpoint or
computes and checkpoints it (``run``), records epoch rows for history.csv and progress.json, and writes the run's
tables. ``FAMILIES`` maps a variant family to the function that trains it: each returns an ``Outcome`` (the final
model and what the run's tables and summary need); ``aim.pipeline`` writes what is common to all of them.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from aim import classic, distributed, variants
from aim.candidates import progress_line
from aim.checkpoints import (
    Checkpoints,
    embed_of,
    embed_state,
    final_of,
    final_state,
    save_search_start,
    search_of,
    search_state,
)
from aim.config import RunConfig
from aim.context import Context, Log
from aim.data.base import CTRData
from aim.errors import ConfigError
from aim.run_tables import (
    grda_meta,
    interaction_table,
    reference_ranking,
    snapshot_table,
    stage_meta,
    transfer_columns,
)
from aim.runwriter import RunWriter
from aim.search import (
    EmbedSearch,
    InteractionSearch,
    Trained,
    final_positions,
    retrain,
    retrain_start,
    search_embed,
    search_interactions,
    train_baseline,
)
from aim.selection import plan_retrain
from aim.whatif import replay_parent


class StageRunner:
    """The pipeline's side of every stage of one run: checkpoints, history rows, progress and tables."""

    def __init__(self, writer: RunWriter, cfg: RunConfig, generator: torch.Generator, log: Log):
        self.writer, self.log = writer, log
        self.checkpoints = Checkpoints(writer.path, cfg, generator)
        self.history: list[dict] = []  # history.csv: every epoch of this run's own stages
        self.tables: list[str] = []  # the tables written so far (run.json ``tables``)
        self.current = "start"  # the stage running now: a failure names it

    @property
    def stages(self) -> dict:
        """run.json ``stages``: one entry per finished stage."""
        return self.writer.meta["stages"]

    def on_epoch(self, row: dict) -> None:
        replayed = row.pop("replayed", False)  # a chosen candidate's epochs: its worker printed them already
        self.history.append(row)
        if not replayed:
            gates = f" gates {row['gates_nonzero']}/{row['gates_total']}" if "gates_nonzero" in row else ""
            self.log(f"[{row['stage']}] epoch {row['epoch']} loss {row['train_loss']:.4f} "
                     f"valid AUC {row['valid_auc']:.4f}{gates} ({row['seconds']:.1f}s)")
        self.writer.progress(stage=row["stage"], epoch=row["epoch"], valid_auc=row["valid_auc"],
                             gates_left=row.get("gates_nonzero"), gates_total=row.get("gates_total"))

    def on_progress(self, p: dict) -> None:
        self.log(f"[{p['stage']}] {progress_line(p)}")
        self.writer.progress(stage=p["stage"], epoch=p["epoch"], step=p["step"], steps=p["steps"],
                             rows_per_s=round(p["rows_per_s"]), eta_s=round(p["eta_s"], 1))

    def on_replay_epoch(self, row: dict) -> None:
        """A replayed parent stage's epoch: shown as ``replay <stage>``, kept out of history.csv."""
        replay = {**row, "stage": f"replay {row['stage']}"}
        if not replay.pop("replayed", False):
            self.log(f"[{replay['stage']}] epoch {row['epoch']} valid AUC {row['valid_auc']:.4f}")
        self.writer.progress(stage=replay["stage"], epoch=row["epoch"], valid_auc=row["valid_auc"])

    def on_replay_progress(self, p: dict) -> None:
        self.on_progress({**p, "stage": f"replay {p['stage']}"})

    def context(self, cfg: RunConfig, vocab: list[int], tensors: Any, generator: torch.Generator) -> Context:
        return Context(cfg, vocab, tensors, generator, self.on_epoch, self.on_progress, self.log)

    def run(self, name: str, compute: Callable[[], Any], state_of: Callable[[Any, float], dict],
            rebuild: Callable[[dict], tuple[Any, float]], replay: bool = False) -> tuple[Any, float]:
        """The stage's result and seconds: restored from its checkpoint, or computed and checkpointed. A ``replay``
        (a parent's stage a re-train replays) is checkpointed as ``replay_<stage>`` and kept out of this run's
        history."""
        label, key = (f"replay {name}", f"replay_{name}") if replay else (name, name)
        self.current = label
        restored = self.checkpoints.restore(key, rebuild)
        if restored is not None:
            if not replay:
                self.history.extend(restored[0].fit.history)
            self.log(f"[{label}] finished before the interruption: restored from its checkpoint")
            return restored
        start = time.perf_counter()
        result = compute()
        seconds = time.perf_counter() - start
        self.checkpoints.save(key, state_of(result, seconds))
        return result, seconds

    def run_search(self, name: str, compute: Callable[[], InteractionSearch]) -> InteractionSearch:
        """One order's stage A through ``run`` (``search_interactions``' ``run_stage``)."""
        return self.run(name, compute, search_state, functools.partial(search_of, with_model=True))[0]

    def save_table(self, name: str, df: pd.DataFrame) -> None:
        self.writer.table(name, df)
        if name not in self.tables:
            self.tables.append(name)
        self.writer.update(tables=self.tables)


@dataclasses.dataclass
class Outcome:
    """What a family's stages leave for the run's common tail (tables, warnings, weights, summary)."""

    final: Trained | classic.Classic
    seconds: float  # the final stage's wall seconds
    searches: list[InteractionSearch] = dataclasses.field(default_factory=list)
    embed: EmbedSearch | None = None
    positions: tuple[tuple[int, ...], ...] | None = None  # the embedding dimensions kept per field
    chosen: tuple = ()  # a retrain's column blocks
    notes: tuple[str, ...] = ()  # warnings of the stages themselves


def all_pairs(data: CTRData) -> list[tuple[int, int]]:
    n = len(data.fields)
    return [(i, j) for i in range(n) for j in range(i + 1, n)]


def train_network(ctx: Context, data: CTRData, runner: StageRunner) -> Outcome:
    """FM, DeepFM, IPNN and the other networks of ``aim.model.zoo`` (with ``transfer_from``: on an AIM run's
    columns), trained once like the re-train stage."""
    cfg = ctx.cfg
    transfer = transfer_columns(cfg.transfer_from, data) if cfg.transfer_from else []
    final, seconds = runner.run("train", lambda: train_baseline(ctx, transfer), final_state, final_of)
    runner.stages["train"] = stage_meta(final.fit, final.metrics, seconds)
    runner.current = "tables"
    runner.save_table("interactions", interaction_table(data, [], all_pairs(data), runner.log))
    return Outcome(final, seconds)


def train_classic(ctx: Context, data: CTRData, runner: StageRunner) -> Outcome:
    """lr / gbdt: scikit-learn / LightGBM on the same ids and splits (``aim.classic``)."""
    cfg = ctx.cfg
    if distributed.world() > 1:
        raise ConfigError(f"variant {cfg.variant} trains in one process: start it without torchrun")

    def on_classic(row: dict) -> None:
        runner.writer.progress(stage=row["stage"], epoch=row["epoch"], valid_auc=row["valid_auc"])

    final, seconds = runner.run("train", lambda: classic.train(cfg, data, on_classic, runner.log), classic.state_of,
                                classic.of_state)
    runner.history[:] = final.fit.history  # restored or computed: its rows once
    runner.stages["train"] = stage_meta(final.fit, final.metrics, seconds) | final.stage_info
    positions = tuple(tuple(range(final.dims_per_field)) for _ in data.fields)
    runner.current = "tables"
    runner.save_table("interactions", interaction_table(data, [], all_pairs(data), runner.log))
    return Outcome(final, seconds, positions=positions)


def train_search(ctx: Context, data: CTRData, runner: StageRunner) -> Outcome:
    """AIM and its ablations: stage A per order, the independent ranking, stage B (EDS) when the variant has it,
    then the re-train of the selection (paper Fig. 6)."""
    cfg, log = ctx.cfg, runner.log
    searches = search_interactions(ctx, runner.run_search)
    for r in searches:
        name = r.fit.history[0]["stage"]
        seconds = sum(row["seconds"] for row in r.fit.history)
        runner.stages[name] = stage_meta(r.fit, r.metrics, seconds) | {"pool": len(set(r.columns[0])),
                                                                       "grda": grda_meta(r.schedule)}
        log(f"[{name}] kept {int(r.kept.sum())}/{len(r.alpha)} interaction-IF columns, "
            f"{len({f for f, k in zip(r.columns[0], r.kept) if k})}/{len(set(r.columns[0]))} interactions")
    runner.current = "tables"
    pairs = all_pairs(data)
    ranking, ranking_meta = reference_ranking(cfg, data, pairs, log)
    if ranking_meta is not None:
        runner.writer.update(reference=ranking_meta)
    runner.save_table("interactions", interaction_table(data, searches, pairs, log, reference=ranking))
    runner.save_table("snapshots", snapshot_table(searches))
    blocks = [r.kept_columns() for r in searches if r.kept.any()]
    embed, positions = None, None
    if variants.get(cfg.variant).eds and blocks:
        embed, seconds = runner.run("embed", lambda: search_embed(ctx, blocks, searches[-1].model), embed_state,
                                    embed_of)
        runner.stages["embed"] = stage_meta(embed.fit, embed.metrics, seconds) | {"grda": grda_meta(embed.schedule)}
        positions = final_positions(cfg, embed, blocks)
        log("embedding sizes kept: " + ", ".join(f"{n}={len(p)}" for n, p in zip(data.field_names, positions)))
    searched = searches[-1].model if searches else None
    if searched is not None and retrain_start(cfg) != "scratch" and distributed.is_main():
        save_search_start(runner.writer.path, cfg, ctx.generator, searched, positions is not None)  # for what-ifs
    final, seconds = runner.run("retrain", lambda: retrain(ctx, blocks, positions, searched), final_state, final_of)
    runner.stages["retrain"] = stage_meta(final.fit, final.metrics, seconds)
    return Outcome(final, seconds, searches, embed, positions)


def train_selection(ctx: Context, data: CTRData, runner: StageRunner) -> Outcome:
    """A re-train of a hand-picked selection (``--columns``), started as its parent's final model was: from the
    parent's search model, replayed or read (``aim.whatif``)."""
    cfg = ctx.cfg
    plan = plan_retrain(cfg, data.field_names)
    chosen, positions, notes = plan.blocks, plan.positions, plan.warnings
    parent_dir = Path(plan.parent["path"]) if plan.parent else None
    replay_ctx = ctx.replace(on_epoch=runner.on_replay_epoch, on_progress=runner.on_replay_progress)
    searched, procedure, replayed_positions = replay_parent(replay_ctx, plan.parent_config,
                                                            functools.partial(runner.run, replay=True), parent_dir)
    if procedure.get("same_kept_columns") is False:
        notes = (*notes, "the replayed parent search kept other columns than the parent's (thread count "
                         f"{procedure['threads']} here, {procedure['parent_threads']} for the parent): this "
                         "re-train started close to, not exactly as, the parent's final model")
    if replayed_positions is not None and cfg.retrain_dims == "parent" and not replayed_positions:
        positions = None  # the parent's variant has no EDS stage: its final model had full tables
    final, seconds = runner.run("retrain", lambda: retrain(ctx, chosen, positions, searched), final_state, final_of)
    runner.stages["retrain"] = stage_meta(final.fit, final.metrics, seconds)
    runner.writer.update(procedure=procedure | {"start": final.start,
                                                "starts_tried": sorted({r["start"] for r in final.frontier})})
    runner.current = "tables"
    runner.save_table("interactions", interaction_table(data, [], all_pairs(data), runner.log, chosen))
    return Outcome(final, seconds, positions=positions, chosen=chosen, notes=notes)


FAMILIES: dict[str, Callable[[Context, CTRData, StageRunner], Outcome]] = {
    "network": train_network, "classic": train_classic, "search": train_search, "selection": train_selection}
