"""The stages of paper Fig. 6 as functions with typed results (so runs, the app and tests never re-train).

    search interaction-IF (A)  all candidate (interaction, function) columns, no MLP; Adam on weights, GRDA on α
    search embed (B)           the columns kept by A; EDS gate β ⊙ BN(e); Adam on weights (α re-initialised),
                               GRDA on β
    re-train (C)               kept columns, per-field tables of d_i = #{k: β_ik ≠ 0} columns, MLP added, α
                               re-initialised and trained by Adam as attention; early stopping on validation AUC
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from aim.config import FUNCTIONS, RunConfig
from aim.distributed import resolve_device
from aim.model.interactions import sort_columns
from aim.model.nets import AIM, FM, IPNN, AIMSpec, count_parameters
from aim.train import FitResult, GateSchedule, Tensors, evaluate, fit, on_device

Columns = tuple[tuple[tuple[int, ...], ...], tuple[int, ...]]  # (fields per column, function per column)


@dataclass(frozen=True)
class SplitTensors:
    train: Tensors
    valid: Tensors
    test: Tensors


@dataclass
class InteractionSearch:
    """Result of stage A: final α of every candidate column (exact zeros = dropped)."""

    columns: Columns
    alpha: np.ndarray  # (C,)
    fit: FitResult
    model: AIM  # the trained search model (the next order's search starts from its embeddings)
    metrics: dict[str, dict[str, float]]

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


def candidate_columns(n_fields: int, functions: Sequence[str], order: int = 2) -> Columns:
    """All order-p field combinations × the searched functions, sorted by function."""
    return _columns_of(list(itertools.combinations(range(n_fields), order)), functions)


def _spec(cfg: RunConfig, vocab_sizes: Sequence[int], blocks: Sequence[Columns], **kw) -> AIMSpec:
    m = cfg.model
    shared = m.embedding == "se"
    blocks = tuple(b for b in blocks if b[0])
    return AIMSpec(vocab_sizes=tuple(vocab_sizes), dim=m.embed_dim, shared_embedding=shared, blocks=blocks,
                   init_std=m.init_std, alpha_init=m.alpha_init, bn_eps=m.bn_eps, bn_momentum=m.bn_momentum, **kw)


def _all_metrics(model: torch.nn.Module, data: SplitTensors, batch: int, device: str = "cpu",
                 ) -> dict[str, dict[str, float]]:
    with on_device(model, resolve_device(device)):
        return {name: evaluate(model, getattr(data, name), batch) for name in ("valid", "test")}


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


def _warm_start(model: AIM, previous: AIM) -> None:
    """Copy the embedding tables and first-order weights of the previous order's search into ``model``.

    An order-p score is a product of p embeddings: from a fresh N(0, 0.01²) init its variance sits far below the
    BN eps, so α sees no gradient while the GRDA threshold grows and every candidate dies. Starting from the
    embeddings the order below has already trained gives the high-order columns a signal from the first step.
    """
    for name in ("embedding", "linear"):
        getattr(model, name).load_state_dict(getattr(previous, name).state_dict())


def search_order(cfg: RunConfig, vocab_sizes: Sequence[int], data: SplitTensors, generator: torch.Generator,
                 candidates: Sequence[tuple[int, ...]], fixed: Sequence[Columns] = (), stage: str = "search",
                 on_epoch: Callable[[dict], None] | None = None, previous: AIM | None = None) -> InteractionSearch:
    """Stage A for one order (FIS + IFS): GRDA drives α of useless (interaction, function) columns to exact zeros.

    ``fixed`` holds the columns already selected at lower orders: they stay in the model (their α trained by Adam
    as plain weights) while GRDA searches the ``candidates`` of this order with their own BN and α.
    """
    functions = ("inner",) if cfg.variant == "aim-ifs-eds" else cfg.search.function_list
    columns = _columns_of(candidates, functions)
    model = AIM(_spec(cfg, vocab_sizes, [*fixed, columns]))
    if previous is not None:
        _warm_start(model, previous)
    s, t = cfg.search, cfg.train
    c_of_order = s.grda_c if len(candidates[0]) == 2 else s.high_order_grda_c
    result = fit(model, data.train, data.valid, stage=stage, epochs=s.search_epochs, batch_size=t.batch_size,
                 lr=t.lr, eval_batch_size=t.eval_batch_size, generator=generator,
                 gates=GateSchedule(model.gate_parameters(), s.grda_lr, c_of_order,
                                    s.grda_mu, s.grda_lr_decay),
                 embedding_optimizer=t.embedding_optimizer, snapshots_per_epoch=4, on_epoch=on_epoch,
                 device=t.device)
    alpha = model.gates[-1].alpha.detach().numpy().copy()
    return InteractionSearch(columns, alpha, result, model, _all_metrics(model, data, t.eval_batch_size, t.device))


def search_interactions(cfg: RunConfig, vocab_sizes: Sequence[int], data: SplitTensors, generator: torch.Generator,
                        on_epoch: Callable[[dict], None] | None = None) -> list[InteractionSearch]:
    """Stage A over orders 2..max_order (paper §3.2, Algorithm 1): one search per order, each on the pool built
    from the previous order's surviving interactions. Stops early when an order keeps nothing."""
    n = len(vocab_sizes)
    k = cfg.search.top_k or n // 2
    results = [search_order(cfg, vocab_sizes, data, generator, list(itertools.combinations(range(n), 2)),
                            on_epoch=on_epoch)]
    for order in range(3, cfg.max_order + 1):
        prev = results[-1]
        pool = candidate_pool(prev.columns[0], prev.alpha, n, k)
        if not pool:
            break
        fixed = [r.kept_columns() for r in results if r.kept.any()]
        results.append(search_order(cfg, vocab_sizes, data, generator, pool, fixed, f"search{order}", on_epoch,
                                    previous=prev.model))
    return results


def search_embed(cfg: RunConfig, vocab_sizes: Sequence[int], blocks: Sequence[Columns], data: SplitTensors,
                 generator: torch.Generator, on_epoch: Callable[[dict], None] | None = None) -> EmbedSearch:
    """Stage B (EDS): the selected columns fixed, GRDA on β prunes embedding dimensions per field."""
    model = AIM(_spec(cfg, vocab_sizes, blocks, search_dims=True))
    s, t = cfg.search, cfg.train
    result = fit(model, data.train, data.valid, stage="embed", epochs=s.embed_epochs, batch_size=t.batch_size,
                 lr=t.lr, eval_batch_size=t.eval_batch_size, generator=generator,
                 gates=GateSchedule(model.gate_parameters(), s.embed_grda_lr, s.embed_grda_c, s.embed_grda_mu,
                                    s.grda_lr_decay),
                 embedding_optimizer=t.embedding_optimizer, on_epoch=on_epoch, device=t.device)
    beta = model.dim_gate.beta.detach().numpy().copy()
    return EmbedSearch(beta, result, _all_metrics(model, data, t.eval_batch_size, t.device))


def keep_unused_fields(positions: Sequence[Sequence[int]], blocks: Sequence[Columns],
                       dim: int) -> tuple[tuple[int, ...], ...]:
    """``search.eds_unused = keep``: a field that no kept column reads gets all ``dim`` dimensions back (its β had
    no gradient, so EDS said nothing about it); the others keep what EDS chose."""
    used = {i for fields, _ in blocks for f in fields for i in f}
    return tuple(tuple(p) if i in used else tuple(range(dim)) for i, p in enumerate(positions))


def drop_empty_fields(columns: Columns, positions: Sequence[Sequence[int]]) -> Columns:
    """Columns whose fields all keep at least one embedding dimension (a field with d_i = 0 interacts with none)."""
    fields, funcs = columns
    keep = [c for c, f in enumerate(fields) if all(positions[i] for i in f)]
    return tuple(fields[c] for c in keep), tuple(funcs[c] for c in keep)


def _train_final(cfg: RunConfig, model: torch.nn.Module, spec: dict, data: SplitTensors, generator: torch.Generator,
                 on_epoch: Callable[[dict], None] | None, stage: str, params_before_eds: int | None = None) -> Trained:
    t = cfg.train
    result = fit(model, data.train, data.valid, stage=stage, epochs=t.epochs, batch_size=t.batch_size, lr=t.lr,
                 eval_batch_size=t.eval_batch_size, generator=generator, patience=t.patience,
                 plateau_factor=t.plateau_factor, embed_l2=t.embed_l2, embedding_optimizer=t.embedding_optimizer,
                 on_epoch=on_epoch, device=t.device)
    params = count_parameters(model)
    before = params["total"] if params_before_eds is None else params_before_eds
    return Trained(model, spec, result, _all_metrics(model, data, t.eval_batch_size, t.device), params, before)


def retrain(cfg: RunConfig, vocab_sizes: Sequence[int], blocks: Sequence[Columns],
            positions: Sequence[Sequence[int]] | None, data: SplitTensors, generator: torch.Generator,
            on_epoch: Callable[[dict], None] | None = None) -> Trained:
    """Stage C: the selected architecture from scratch, physically pruned tables, MLP added."""
    if positions is not None:
        blocks = [drop_empty_fields(b, positions) for b in blocks]
        positions = tuple(tuple(p) for p in positions)
    spec = _spec(cfg, vocab_sizes, blocks, positions=positions, mlp=tuple(cfg.model.mlp), dropout=cfg.model.dropout)
    before = count_parameters(AIM(dataclasses.replace(spec, positions=None)))["total"] if positions else None
    model = AIM(spec)
    return _train_final(cfg, model, {"kind": "aim", "spec": spec.to_json()}, data, generator, on_epoch, "retrain",
                        before)


def train_baseline(cfg: RunConfig, vocab_sizes: Sequence[int], data: SplitTensors, generator: torch.Generator,
                   on_epoch: Callable[[dict], None] | None = None, transfer: Sequence[Columns] = ()) -> Trained:
    """FM, DeepFM or IPNN with all pairs (paper §3.1), trained like the re-train stage. With ``transfer`` (the
    *-transfer variants, paper §4.6), DeepFM / IPNN use those interaction-IF columns instead of all pairs."""
    m = cfg.model
    args = {"vocab_sizes": list(vocab_sizes), "dim": m.embed_dim, "init_std": m.init_std}
    if cfg.variant != "fm":
        args |= {"mlp": list(m.mlp), "dropout": m.dropout}
    if transfer:
        args["columns"] = [[[list(f) for f in fields], list(funcs)] for fields, funcs in transfer]
    model = IPNN(**args) if cfg.variant.startswith("ipnn") else FM(**args)
    return _train_final(cfg, model, {"kind": cfg.variant, "args": args}, data, generator, on_epoch, "train")
