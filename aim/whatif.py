"""The what-if's procedure: a re-train of a hand-picked selection starts where its parent's final model started,
from the parent's search model, read from the parent's ``search_start.pt`` or rebuilt by replaying the parent's
search stages with its config and seed (paper §4.4.2's comparison, like for like)."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from aim import variants
from aim.checkpoints import SEARCH_START_FILE, embed_of, embed_state, load_search_start, search_of, search_state
from aim.config import FUNCTIONS, RunConfig
from aim.context import Context, Log
from aim.errors import AIMError
from aim.model.nets import AIM
from aim.runs import load_run
from aim.search import InteractionSearch, final_positions, search_embed, search_interactions


def _searches(variant: Any) -> bool:
    """Whether ``variant`` (a parent run's, maybe of a newer or foreign version) searches and its final model may
    start from the search model (AutoFIS's always starts from scratch)."""
    known = variants.of_token(variant)
    return known is not None and known.searches and known.retrain_start != "scratch"


def replay_parent(ctx: Context, parent_config: dict | None, run_stage: Callable[..., tuple[Any, float]],
                  parent_dir: Path | None = None) -> tuple[AIM | None, dict, tuple | None]:
    """What a re-train of a selection starts from, as its parent's final model did: the parent's search model.

    The parent's search stages (and stage B, the embed search, when the parent ran it) are replayed with the parent's config and this run's seed (the parent's unless ``--seed`` says otherwise),
    from the same random states the parent's began with. The search model is then the parent's, and the random
    states are where the parent's re-train stage began: with the parent's own kept columns this run reproduces the
    parent (same machine and thread count: bit-identical). Returns (the search model or None, the run.json
    ``procedure``, the replayed positions: () when the parent's variant has no embed stage, None when nothing was
    replayed). Nothing is replayed when ``search.retrain_start`` is scratch, there is no parent, or the parent did
    not search (a baseline or a re-train: its final model started from scratch).

    A parent written by this version keeps its search start (``search_start.pt``: the search model and the random
    states its re-train stage began with): with the parent's seed it is read instead of replaying (same result).
    A replay with the parent's seed checks that it kept the parent's columns (``same_kept_columns``): float sums
    differ with the thread count, so a replay on another thread count may drift from the parent's search.
    ``run_stage(name, compute, state_of, rebuild)`` runs each replayed stage (the pipeline checkpoints it)."""
    cfg, log = ctx.cfg, ctx.log
    why = ("search.retrain_start is scratch" if cfg.search.retrain_start == "scratch" else
           "no parent run (--from)" if parent_config is None else
           f"the parent's variant {parent_config.get('variant')} re-trains from scratch"
           if not _searches(parent_config.get("variant")) else "")
    if why:
        log(f"re-train from scratch only: {why}")
        return None, {"replayed": [], "why": why}, None
    parent = RunConfig.from_json(parent_config).replace(seed=cfg.seed)
    if parent_dir is not None and cfg.seed == parent_config.get("seed"):
        t0 = time.perf_counter()
        stored = load_search_start(parent_dir, RunConfig.from_json(parent_config), ctx.generator, log)
        if stored is not None:
            searched, positions = stored
            seconds = time.perf_counter() - t0
            log(f"read the parent's search start ({SEARCH_START_FILE}) in {seconds:.1f} s: no replay needed")
            return searched, {"replayed": [], "read": SEARCH_START_FILE, "seed": parent.seed,
                              "parent_variant": parent.variant, "seconds": round(seconds, 3)}, positions
    log(f"replaying the parent's search ({parent.variant}, seed {parent.seed}) to rebuild its start: the search "
        "model its final model could start from")
    spent: list[float] = []  # each stage's seconds, as computed or as recorded by its checkpoint (a resume)

    def timed_stage(*args: Any) -> tuple[Any, float]:
        result, seconds = run_stage(*args)
        spent.append(seconds)
        return result, seconds

    def run_order(name: str, compute: Callable[[], InteractionSearch]) -> InteractionSearch:
        return timed_stage(name, compute, search_state, functools.partial(search_of, with_model=True))[0]

    as_parent = ctx.replace(cfg=parent, log=None)  # the parent's stages, quietly: their epochs still report
    searches = search_interactions(as_parent, run_order)
    replayed = [r.fit.history[0]["stage"] if r.fit.history else "search" for r in searches]
    blocks = [r.kept_columns() for r in searches if r.kept.any()]
    positions: tuple = ()
    if variants.get(parent.variant).eds and blocks:
        embed, _ = timed_stage("embed", lambda: search_embed(as_parent, blocks, searches[-1].model), embed_state,
                               embed_of)
        positions = final_positions(parent, embed, blocks)
        replayed.append("embed")
    seconds = sum(spent)
    log(f"replaying the parent's search to rebuild its start: {seconds:.1f} s ({', '.join(replayed)})")
    searched = searches[-1].model if searches else None
    procedure = {"replayed": replayed, "seed": parent.seed, "parent_variant": parent.variant,
                 "seconds": round(seconds, 3)}
    if parent_dir is not None and cfg.seed == parent_config.get("seed"):
        procedure |= _same_search(parent_dir, searches, log)
    return searched, procedure, positions


def _same_search(parent_dir: Path, searches: list[InteractionSearch], log: Log) -> dict:
    """Whether a replay with the parent's seed kept the parent's columns (interactions.csv), and the thread counts."""
    try:
        run = load_run(parent_dir)
    except AIMError:
        return {}
    inter, threads = run.interactions, run.meta.get("threads")
    if inter is None:
        return {}
    theirs = {(str(f), str(k)) for f, k, kept in zip(inter["fields"], inter["function"], inter["kept"]) if kept == 1}
    ours = {(" ".join(map(str, f)), FUNCTIONS[k]) for r in searches
            for f, k, a in zip(r.columns[0], r.columns[1], r.alpha) if a != 0}
    same = theirs == ours
    if not same:
        log(f"warning: the replayed search kept {len(ours ^ theirs)} column(s) other than the parent's "
            f"({torch.get_num_threads()} thread(s) here, {threads} for the parent: float sums differ with the "
            "thread count), so the start is close to, not exactly, the parent's")
    return {"same_kept_columns": same, "threads": torch.get_num_threads(), "parent_threads": threads}
