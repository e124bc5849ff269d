"""The stages of paper Fig. 6 as functions with typed results (so runs, the app and tests never re-train).

    search interaction-IF (A)  all candidate (interaction, function) columns, no MLP; Adam on weights, GRDA on α
    search embed (B)           the columns kept by A, no BN or α; EDS gate β ⊙ BN(e); Adam on weights, GRDA on β;
                               starts from A's tables and kernels (search.embed_warm_start)
    re-train (C)               kept columns, per-field tables of d_i = #{k: β_ik ≠ 0} columns, MLP added, α
                               trained by Adam as attention; early stopping on validation AUC; from scratch and
                               from the search model (search.retrain_start), the better on validation
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from aim import variants
from aim.candidates import adopt, choose_schedule, train_options, valid_summary
from aim.config import FUNCTIONS, RunConfig, TrainConfig
from aim.context import Context, SplitTensors
from aim.distributed import resolve_device
from aim.model import heads, zoo
from aim.model.interactions import sort_columns
from aim.model.nets import AIM, AIMSpec, count_parameters, reinit_dnn
from aim.model.warm import embed_warm_start, order_warm_start, retrain_warm_start
from aim.sparsity import Schedule, parsimonious
from aim.train import FitResult, GateSchedule, evaluate, fit, on_device

Columns = tuple[tuple[tuple[int, ...], ...], tuple[int, ...]]  # (fields per column, function per column)


@dataclass
class InteractionSearch:
    """Result of stage A: final α of every candidate column (exact zeros = dropped)."""

    columns: Columns
    alpha: np.ndarray  # (C,)
    fit: FitResult
    model: AIM  # the trained search model (the next order's search starts from its embeddings)
    metrics: dict[str, dict[str, float]]
    schedule: Schedule | None = None  # the GRDA schedule it ran with
    frontier: list[dict] = dataclasses.field(default_factory=list)  # one row per strength candidate tried

    @property
    def kept(self) -> np.ndarray:
        return self.alpha != 0

    def kept_columns(self) -> Columns:
        fields, funcs = self.columns
        keep = np.flatnonzero(self.kept)
        return tuple(fields[c] for c in keep), tuple(funcs[c] for c in keep)


@dataclass
class EmbedSearch:
    """Result of stage B: β (F, d) and the kept positions φ_i of every field (paper eq. 16-17)."""

    beta: np.ndarray  # (F, d)
    fit: FitResult
    metrics: dict[str, dict[str, float]]
    dual: np.ndarray | None = None  # (F, d) GRDA's dual sums: which dimensions a floor keeps when β is all zero
    schedule: Schedule | None = None
    frontier: list[dict] = dataclasses.field(default_factory=list)

    @property
    def positions(self) -> tuple[tuple[int, ...], ...]:
        return tuple(tuple(int(k) for k in np.flatnonzero(row)) for row in self.beta)


@dataclass
class Trained:
    """A trained final model (AIM re-train or a baseline) with its metrics."""

    model: torch.nn.Module
    spec: dict
    fit: FitResult
    metrics: dict[str, dict[str, float]]
    params: dict[str, int]  # total / embedding parameters of the final model
    params_before_eds: int  # total parameters of the same architecture with full-size (d) embeddings
    embed_l2: float = 0.0  # the embedding L2 it trained with (chosen on validation when train.embed_l2 = -1)
    start: str = "scratch"  # what it trained from: scratch, or search (the search model, search.retrain_start)
    frontier: list[dict] = dataclasses.field(default_factory=list)  # one row per embed_l2 candidate tried


def candidate_columns(n_fields: int, functions: Sequence[str], order: int = 2) -> Columns:
    """All order-p field combinations × the searched functions, sorted by function."""
    return _columns_of(list(itertools.combinations(range(n_fields), order)), functions)


def _spec(cfg: RunConfig, vocab_sizes: Sequence[int], blocks: Sequence[Columns], **kw) -> AIMSpec:
    m = cfg.model
    shared = m.embedding == "se"
    blocks = tuple(b for b in blocks if b[0])
    return AIMSpec(vocab_sizes=tuple(vocab_sizes), dim=m.embed_dim, shared_embedding=shared, blocks=blocks,
                   init_std=m.init_std, alpha_init=m.alpha_init, bn_eps=m.bn_eps, bn_momentum=m.bn_momentum, **kw)


def _all_metrics(model: torch.nn.Module, data: SplitTensors, train: TrainConfig) -> dict[str, dict[str, float]]:
    with on_device(model, resolve_device(train.device)):
        return {name: evaluate(model, getattr(data, name), train.eval_batch_size, train.precision)
                for name in ("valid", "test")}


def candidate_pool(fields: Sequence[tuple[int, ...]], alpha: np.ndarray, n_fields: int, k: int) -> list[tuple[int, ...]]:
    """Algorithm 1: the order-p candidates from the top-k order-(p-1) interactions.

    An interaction's importance is the largest |α| over its function columns; interactions whose columns are all
    zero are skipped. Each of the top k is extended by every field it does not contain; duplicates are merged
    (so the pool has at most k·(n - p + 1) members, O(n²) for k = ⌊n/2⌋). Returned sorted.
    """
    importance: dict[tuple[int, ...], float] = {}
    for f, a in zip(fields, np.abs(alpha)):
        importance[f] = max(importance.get(f, 0.0), float(a))
    ranked = sorted((f for f, a in importance.items() if a > 0), key=lambda f: (-importance[f], f))[:k]
    pool = {tuple(sorted((*f, extra))) for f in ranked for extra in range(n_fields) if extra not in f}
    return sorted(pool)


def _columns_of(interactions: Sequence[tuple[int, ...]], functions: Sequence[str]) -> Columns:
    funcs_ids = [FUNCTIONS.index(f) for f in functions]
    fields = [q for q in interactions for _ in funcs_ids]
    funcs = [f for _ in interactions for f in funcs_ids]
    order_idx = sort_columns(fields, funcs)
    return tuple(fields[i] for i in order_idx), tuple(funcs[i] for i in order_idx)


def search_order(ctx: Context, candidates: Sequence[tuple[int, ...]], fixed: Sequence[Columns] = (),
                 stage: str = "search", previous: AIM | None = None) -> InteractionSearch:
    """Stage A for one order (FIS + IFS): GRDA drives α of useless (interaction, function) columns to exact zeros,
    at the strength ``choose_schedule`` picks among the configured ones (size: the columns kept).

    ``fixed`` holds the columns already selected at lower orders: they stay in the model (their α trained by Adam
    as plain weights) while GRDA searches the ``candidates`` of this order with their own BN and α.
    """
    train_one = functools.partial(_search_once, tuple(candidates), tuple(fixed), stage, previous)
    return choose_schedule(ctx, stage, train_one, _columns_kept)


def _columns_kept(r: InteractionSearch) -> tuple[int, dict]:
    kept = int(r.kept.sum())
    return kept, {"columns_kept": kept, "interactions_kept": len({f for f, k in zip(r.columns[0], r.kept) if k})}


def _search_once(candidates: Sequence[tuple[int, ...]], fixed: Sequence[Columns], stage: str, previous: AIM | None,
                 sched: Schedule, ctx: Context) -> InteractionSearch:
    cfg, data = ctx.cfg, ctx.data
    variant = variants.get(cfg.variant)
    columns = _columns_of(candidates, variant.functions or cfg.search.functions)
    # AutoFIS searches its gates on DeepFM: the MLP trains beside them (AIM's search has none, paper Fig. 6)
    mlp = {"mlp": tuple(cfg.model.mlp), "dropout": cfg.model.dropout} if variant.search_mlp else {}
    model = AIM(_spec(cfg, ctx.vocab, [*fixed, columns], **mlp))
    if previous is not None:
        order_warm_start(model, previous)
    t = cfg.train
    result = fit(model, data.train, data.valid, t, stage=stage, generator=ctx.generator,
                 epochs=cfg.search.search_epochs, gates=GateSchedule(model.gate_parameters(), sched.lr, sched.c, sched.mu, sched.decay),
                 snapshots_per_epoch=4, on_epoch=ctx.on_epoch, on_progress=ctx.on_progress)
    alpha = model.gates[-1].alpha.detach().numpy().copy()
    return InteractionSearch(columns, alpha, result, model, _all_metrics(model, data, t))


def search_interactions(ctx: Context, run_stage: Callable[[str, Callable[[], InteractionSearch]],
                                                       InteractionSearch] | None = None) -> list[InteractionSearch]:
    """Stage A over orders 2..max_order (paper §3.2, Algorithm 1): one search per order, each on the pool built
    from the previous order's surviving interactions; stops when a pool is empty. ``run_stage(name, compute)``
    runs each order (the pipeline's checkpointing: an order restored from its checkpoint is not computed)."""
    cfg, n = ctx.cfg, len(ctx.vocab)
    k = cfg.search.top_k or n // 2
    results: list[InteractionSearch] = []
    for order in range(2, cfg.max_order + 1):
        if order == 2:
            candidates, fixed, previous = list(itertools.combinations(range(n), 2)), [], None
        else:
            prev = results[-1]
            candidates = candidate_pool(prev.columns[0], prev.alpha, n, k)
            if not candidates:
                break
            fixed, previous = [r.kept_columns() for r in results if r.kept.any()], prev.model
        name = "search" if order == 2 else f"search{order}"
        compute = functools.partial(search_order, ctx, candidates, fixed, name, previous)
        results.append(compute() if run_stage is None else run_stage(name, compute))
    return results


def search_embed(ctx: Context, blocks: Sequence[Columns], searched: AIM | None = None) -> EmbedSearch:
    """Stage B (EDS): the selected columns fixed, GRDA on β prunes embedding dimensions per field, at the
    strength ``choose_schedule`` picks (size: the embedding parameters the re-train will hold)."""
    cfg, vocab_sizes = ctx.cfg, ctx.vocab
    warm = searched if cfg.search.embed_warm_start else None
    train_one = functools.partial(_embed_once, tuple(blocks), warm)

    def size_of(e: EmbedSearch) -> tuple[int, dict]:
        pos = final_positions(cfg, e, blocks)
        dims = sum(len(p) for p in pos)
        return sum(v * len(p) for v, p in zip(vocab_sizes, pos)), {"dims_kept": dims}

    return choose_schedule(ctx, "embed", train_one, size_of)


def _embed_once(blocks: Sequence[Columns], searched: AIM | None, sched: Schedule, ctx: Context) -> EmbedSearch:
    cfg, data = ctx.cfg, ctx.data
    mlp = {"mlp": cfg.model.mlp, "dropout": cfg.model.dropout, "head": cfg.model.head} if embed_mlp(cfg) else {}
    model = AIM(_spec(cfg, ctx.vocab, blocks, search_dims=True, **mlp))
    if searched is not None:
        embed_warm_start(model, searched)
    t = cfg.train
    result = fit(model, data.train, data.valid, t, stage="embed", generator=ctx.generator,
                 epochs=cfg.search.embed_epochs, gates=GateSchedule(model.gate_parameters(), sched.lr, sched.c, sched.mu, sched.decay),
                 on_epoch=ctx.on_epoch, on_progress=ctx.on_progress)
    beta = model.dim_gate.beta.detach().numpy().copy()
    dual = result.duals.reshape(beta.shape) if result.duals is not None else None
    return EmbedSearch(beta, result, _all_metrics(model, data, t), dual)


def used_fields(blocks: Sequence[Columns]) -> set[int]:
    """The fields that at least one kept column reads."""
    return {i for fields, _ in blocks for f in fields for i in f}


def embed_mlp(cfg: RunConfig) -> bool:
    """Whether stage B trains the re-train's MLP (``search.embed_mlp``, for a model that has one)."""
    return cfg.search.embed_mlp and bool(cfg.model.mlp)


def final_positions(cfg: RunConfig, embed: EmbedSearch, blocks: Sequence[Columns]) -> tuple[tuple[int, ...], ...]:
    """The embedding dimensions the re-train keeps per field: β's non-zero positions (paper eq. 16-17), then the
    floor (``search.eds_floor``: a field that a kept column reads keeps at least that many, those of largest
    GRDA dual |v|) and the rule for fields that no kept column reads (``search.eds_unused``)."""
    positions = apply_eds_floor(embed.positions, embed.dual, blocks, cfg.search.eds_floor)
    unused = cfg.search.eds_unused
    if unused == "keep" or (unused == "auto" and heads.get(cfg.model.head).raw and not embed_mlp(cfg)):
        positions = keep_unused_fields(positions, blocks, cfg.model.embed_dim)
    return positions


def apply_eds_floor(positions: Sequence[Sequence[int]], dual: np.ndarray | None, blocks: Sequence[Columns],
                    floor: int) -> tuple[tuple[int, ...], ...]:
    """Every field that a kept column reads keeps at least ``floor`` dimensions: the kept ones, then those of
    largest |dual| (GRDA's dual sum v: how far the gradient pushed a gate, even one at exactly zero)."""
    used = used_fields(blocks)
    out = []
    for i, pos in enumerate(positions):
        pos = tuple(pos)
        if i in used and len(pos) < floor and dual is not None:
            ranked = [int(k) for k in np.argsort(-np.abs(dual[i]), kind="stable") if int(k) not in pos]
            pos = tuple(sorted((*pos, *ranked[: floor - len(pos)])))
        out.append(pos)
    return tuple(out)


def keep_unused_fields(positions: Sequence[Sequence[int]], blocks: Sequence[Columns],
                       dim: int) -> tuple[tuple[int, ...], ...]:
    """A field that no kept column reads gets all ``dim`` dimensions back (its β had no gradient, so EDS said
    nothing about it); the others keep what EDS chose."""
    used = used_fields(blocks)
    return tuple(tuple(p) if i in used else tuple(range(dim)) for i, p in enumerate(positions))


def eds_floor_parameters(spec: AIMSpec, floor: int = 1) -> int:
    """Parameters of the re-train model ``spec`` describes if EDS had kept only its floor: the first ``floor``
    dimensions of every field a kept column reads (at least one, or the column would go) and none of any other
    field. The MLP's hidden layers, the columns' kernels and the BN layers do not shrink with EDS, so no EDS
    result is smaller, and ``parameters without EDS / eds_floor_parameters(spec)`` is the most EDS can save on
    that architecture (``tools/eds_ceiling.py``)."""
    used = used_fields(spec.blocks)
    keep = tuple(range(min(max(floor, 1), spec.dim)))
    positions = tuple(keep if i in used else () for i in range(len(spec.vocab_sizes)))
    return count_parameters(AIM(dataclasses.replace(spec, positions=positions)))["total"]


def drop_empty_fields(columns: Columns, positions: Sequence[Sequence[int]]) -> Columns:
    """Columns whose fields all keep at least one embedding dimension (a field with d_i = 0 interacts with none)."""
    fields, funcs = columns
    keep = [c for c, f in enumerate(fields) if all(positions[i] for i in f)]
    return tuple(fields[c] for c in keep), tuple(funcs[c] for c in keep)


START_WORDS = {"scratch": "scratch", "search": "the search model"}  # a final model's start, in log lines


def _train_final(ctx: Context, starts: dict[str, torch.nn.Module], spec: dict, stage: str,
                 params_before_eds: int | None = None) -> Trained:
    """Train the final model from each of ``starts`` ({"scratch": fresh init, "search": warm-started from the
    search model}) with each embedding L2 (the given one, or with ``train.embed_l2`` = -1 every value of
    ``train.embed_l2_grid``), every candidate from the same random states, and keep the best validation AUC
    (ties: the smaller L2, then the first start). A warm start is itself a candidate of its early stopping."""
    log, grid = ctx.log, l2_candidates(ctx.cfg)
    options = [(start, l2) for start in starts for l2 in grid]
    if log and len(options) > 1:
        log(f"[{stage}] trying embedding L2 {', '.join(f'{v:g}' for v in grid)}"
            + (f", each from {' and from '.join(START_WORDS[s] for s in starts)}" if len(starts) > 1 else ""))
    train_one = functools.partial(_fit_final, starts, spec, stage, params_before_eds)
    outs = train_options(ctx, options, train_one)
    pick = parsimonious([tr.metrics["valid"]["auc"] for tr, _, _ in outs], [l2 for _, l2 in options], 0.0)
    frontier = [{"stage": stage, "candidate": i, "embed_l2": l2, "start": start, "size": tr.params["total"],
                 **valid_summary(tr), "chosen": i == pick} for i, ((start, l2), (tr, _, _)) in enumerate(zip(options, outs))]
    if log and len(outs) > 1:
        for row, (tr, _, _) in zip(frontier, outs):
            best = f", best epoch {tr.fit.best_epoch}" + (f" (start {tr.fit.start_auc:.4f})"
                                                          if tr.fit.start_auc is not None else "")
            log(f"[{stage}] embedding L2 {row['embed_l2']:g}"
                + (f" from {START_WORDS[row['start']]}" if len(starts) > 1 else "")
                + f": valid AUC {row['valid_auc']:.4f} after {row['epochs']} epochs{best}"
                + ("  <- kept" if row["chosen"] else ""))
    trained = adopt(ctx, outs, pick)
    trained.frontier = frontier
    return trained


def l2_candidates(cfg: RunConfig) -> tuple[float, ...]:
    """The embedding L2 values the final model tries: the given one, or the grid (only 0 with lazy_adam, whose
    SparseAdam has no weight decay)."""
    t = cfg.train
    if t.embed_l2 >= 0:
        return (t.embed_l2,)
    if t.embedding_optimizer == "lazy_adam":
        return (0.0,)
    return t.embed_l2_grid


def _fit_final(starts: dict[str, torch.nn.Module], spec: dict, stage: str, params_before_eds: int | None,
               option: tuple[str, float], ctx: Context) -> Trained:
    t, data = ctx.cfg.train, ctx.data
    start, l2 = option
    warm = start != "scratch"
    model = copy.deepcopy(starts[start])  # every L2 candidate of a start begins from the same weights
    result = fit(model, data.train, data.valid, t, stage=stage, generator=ctx.generator, early_stopping=True,
                 embed_l2=l2, on_epoch=ctx.on_epoch, on_progress=ctx.on_progress, start_is_candidate=warm)
    params = count_parameters(model)
    before = params["total"] if params_before_eds is None else params_before_eds
    return Trained(model, spec, result, _all_metrics(model, data, t), params, before,
                   embed_l2=l2, start=start)


def retrain_start(cfg: RunConfig) -> str:
    """Where the final model starts: ``search.retrain_start``, unless the variant fixes it (AutoFIS: scratch)."""
    return variants.get(cfg.variant).retrain_start or cfg.search.retrain_start


def retrain(ctx: Context, blocks: Sequence[Columns], positions: Sequence[Sequence[int]] | None,
            searched: AIM | None = None) -> Trained:
    """Stage C: the selected architecture, physically pruned tables, MLP added; from scratch, from ``searched``
    (the last search model: aim.model.warm), or both, the better on validation (``search.retrain_start``)."""
    cfg = ctx.cfg
    if positions is not None:
        blocks = [drop_empty_fields(b, positions) for b in blocks]
        positions = tuple(tuple(p) for p in positions)
    spec = _spec(cfg, ctx.vocab, blocks, positions=positions, mlp=tuple(cfg.model.mlp), dropout=cfg.model.dropout,
                 head=cfg.model.head)
    before = count_parameters(AIM(dataclasses.replace(spec, positions=None)))["total"] if positions else None
    model = AIM(spec) if cfg.model.dnn_init == "default" else reinit_dnn(AIM(spec))
    starts = {"scratch": model}
    how = retrain_start(cfg)
    if searched is not None and how != "scratch":
        warm = copy.deepcopy(model)
        retrain_warm_start(warm, searched)
        starts = {"search": warm} if how == "search" else {**starts, "search": warm}
    return _train_final(ctx, starts, {"kind": "aim", "spec": spec.to_json()}, "retrain", before)


def train_baseline(ctx: Context, transfer: Sequence[Columns] = ()) -> Trained:
    """FM, DeepFM or IPNN with all pairs (paper §3.1), trained like the re-train stage. With ``transfer`` (the
    *-transfer variants, paper §4.6), DeepFM / IPNN use those interaction-IF columns instead of all pairs."""
    cfg, m = ctx.cfg, ctx.cfg.model
    args = {"vocab_sizes": list(ctx.vocab), "dim": m.embed_dim, "init_std": m.init_std}
    variant = variants.get(cfg.variant)
    if variant.deep:
        args |= {"mlp": list(m.mlp), "dropout": m.dropout}
    args |= variants.network_args(cfg.variant, m.network_args)
    if transfer:
        args["columns"] = [[[list(f) for f in fields], list(funcs)] for fields, funcs in transfer]
    model = zoo.build(cfg.variant, args)
    if m.dnn_init != "default":
        reinit_dnn(model)
    return _train_final(ctx, {"scratch": model}, {"kind": cfg.variant, "args": args}, "train")
