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
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from aim import distributed, variants
from aim.config import FUNCTIONS, RunConfig, TrainConfig
from aim.distributed import resolve_device
from aim.model import heads, zoo
from aim.model.interactions import sort_columns
from aim.model.nets import AIM, AIMSpec, count_parameters
from aim.model.warm import embed_warm_start, order_warm_start, retrain_warm_start
from aim.sparsity import (
    Schedule,
    one_se_tolerance,
    parse_fractions,
    parsimonious,
    run_candidates,
    schedule,
)
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


def steps_per_epoch(cfg: RunConfig, data: SplitTensors) -> int:
    return math.ceil(len(data.train.y) / cfg.train.batch_size)


def stage_schedules(cfg: RunConfig, data: SplitTensors, stage: str,
                    crosses: Sequence[float] | None = None) -> list[Schedule]:
    """The GRDA schedule candidates of a search stage (``search``, ``search3``/``search4`` or ``embed``): the
    configured c when one is given, else one per crossing fraction (``aim.sparsity``); ``crosses`` replaces the
    configured fractions (the refinement round of ``choose_schedule``)."""
    s, spe, alpha0 = cfg.search, steps_per_epoch(cfg, data), cfg.model.alpha_init
    if stage == "embed":
        c, cross, name, epochs, lr, mu = (s.embed_grda_c, s.embed_grda_cross, "embed_grda_cross", s.embed_epochs,
                                          s.embed_grda_lr, s.embed_grda_mu)
    else:
        c, cross, name = ((s.grda_c, s.grda_cross, "grda_cross") if stage == "search" else
                          (s.high_order_grda_c, s.high_order_grda_cross, "high_order_grda_cross"))
        epochs, lr, mu = s.search_epochs, s.grda_lr, s.grda_mu
    if crosses is not None:
        c, fractions = -1.0, tuple(crosses)
    else:
        fractions = parse_fractions(cross, name)
    return schedule(c, fractions, alpha0, spe, epochs, lr, mu, s.grda_lr_decay)


def refinements(crosses: Sequence[float | None], aucs: Sequence[float], pick: int, tol: float,
                n: int) -> list[float]:
    """The refinement round of the crossing-fraction search: when the candidate next sparser than the chosen one
    (the next smaller fraction) missed the tolerance, the accuracy cliff lies between the two; ``n`` fractions
    spaced geometrically between them are tried too. Nothing when c was given, the chosen one is the sparsest,
    or its sparser neighbour qualified."""
    if n == 0 or any(x is None for x in crosses) or len(crosses) < 2:
        return []
    order = sorted(range(len(crosses)), key=lambda i: crosses[i])
    pos = order.index(pick)
    if pos == 0 or aucs[order[pos - 1]] >= np.nanmax(aucs) - tol:
        return []
    lo, hi = crosses[order[pos - 1]], crosses[pick]
    return [round(lo * (hi / lo) ** (k / (n + 1)), 4) for k in range(1, n + 1)]


Progress = Callable[[dict], None]


@dataclass(frozen=True)
class CandidatePrinter:
    """Progress and epoch lines of a candidate training in a worker process, printed there (the worker shares the
    run's standard output): ``[search x=0.2] epoch 2/6 40% ...``. Picklable, unlike the pipeline's callbacks."""

    label: str

    def __call__(self, row: dict) -> None:
        if "valid_auc" in row:
            line = f"epoch {row['epoch']} valid AUC {row['valid_auc']:.4f} ({row['seconds']:.1f}s)"
        else:
            line = progress_line(row)
        print(f"[{row['stage']} {self.label}] {line}", flush=True)


def progress_line(p: dict) -> str:
    return (f"epoch {p['epoch']}/{p['epochs']} {p['step'] / p['steps']:4.0%} ({p['step']}/{p['steps']} steps), "
            f"{p['rows_per_s']:,.0f} rows/s, epoch ETA {p['eta_s']:.0f}s")


def _option(train_one: Callable, option: Any, torch_rng: torch.Tensor, gen_state: torch.Tensor,
            printer: CandidatePrinter | None) -> tuple[Any, torch.Tensor, torch.Tensor]:
    """One candidate from the stage's starting random states (same init and batch order for every candidate);
    returns its result and the random states it ended with."""
    torch.set_rng_state(torch_rng)
    generator = torch.Generator()
    generator.set_state(gen_state)
    result = train_one(option, generator, printer, printer)
    return result, torch.get_rng_state(), generator.get_state()


def _label(option: Any) -> str:
    if isinstance(option, Schedule):
        return f"x={option.cross:g}" if option.cross is not None else f"c={option.c:g}"
    start, l2 = option
    return f"L2={l2:g}" + ("" if start == "scratch" else f" from {start}")


def train_options(cfg: RunConfig, options: Sequence[Any], train_one: Callable, generator: torch.Generator,
                  on_epoch: Progress | None, on_progress: Progress | None = None,
                  start: tuple[torch.Tensor, torch.Tensor] | None = None) -> list[tuple[Any, Any, Any]]:
    """``train_one(option, generator, on_epoch, on_progress)`` for every option, each from the same random states
    (``start``, default: the current ones), in parallel processes where cores allow
    (``aim.sparsity.run_candidates``); one option alone trains here, live. With several, each candidate prints its
    own progress when ``on_progress`` is given."""
    if len(options) == 1 and start is None:
        return [(train_one(options[0], generator, on_epoch, on_progress), None, None)]
    jobs = 1 if distributed.world() > 1 else cfg.search.candidate_jobs
    start = start or (torch.get_rng_state(), generator.get_state())
    printers = [CandidatePrinter(_label(o)) if on_progress is not None else None for o in options]
    return run_candidates(_option, [(train_one, o, *start, p) for o, p in zip(options, printers)], jobs)


def adopt(outs: Sequence[tuple[Any, Any, Any]], pick: int, generator: torch.Generator,
          on_epoch: Progress | None) -> Any:
    """The picked option's result; the random states continue from where it ended and its epochs are reported
    (marked ``replayed``: they were trained already), so a run is the same whether its options ran in parallel or
    one after another."""
    result, torch_rng, gen_state = outs[pick]
    if len(outs) > 1:
        torch.set_rng_state(torch_rng)
        generator.set_state(gen_state)
        for row in result.fit.history:
            if on_epoch is not None:
                on_epoch({**row, "replayed": True})
    return result


def choose_schedule(name: str, cfg: RunConfig, data: SplitTensors, schedules: Sequence[Schedule], train_one: Callable,
                    size_of: Callable[[Any], tuple[float, dict]], generator: torch.Generator,
                    on_epoch: Progress | None, log: Callable[[str], None] | None,
                    on_progress: Progress | None = None) -> Any:
    """Train the stage once per schedule and keep the parsimonious one (``aim.sparsity.parsimonious`` on the
    validation AUC and ``size_of``'s size). The result carries its ``schedule`` and the ``frontier``: one row
    per candidate."""
    if log and len(schedules) > 1:
        xs = ", ".join(f"{x.cross:g}" for x in schedules)
        log(f"[{name}] trying {len(schedules)} GRDA strengths (the threshold reaches the gates' init at {xs} "
            f"of {schedules[0].steps} steps)")
    start = (torch.get_rng_state(), generator.get_state())  # every candidate, refinements too, starts here
    outs = train_options(cfg, schedules, train_one, generator, on_epoch, on_progress)
    schedules = list(schedules)
    for extra_round in (False, True):
        sizes = [size_of(r) for r, _, _ in outs]
        aucs = [r.metrics["valid"]["auc"] for r, _, _ in outs]
        tol = one_se_tolerance(aucs, data.valid.y.numpy(), cfg.search.sparsity_se) if len(outs) > 1 else 0.0
        pick = parsimonious(aucs, [size for size, _ in sizes], tol)
        more = [] if extra_round else refinements([s.cross for s in schedules], aucs, pick, tol, cfg.search.refine)
        if not more:
            break
        if log:
            log(f"[{name}] strength {schedules[pick].cross:g} kept, the sparser next one missed the tolerance: trying "
                f"{', '.join(f'{x:g}' for x in more)} between them")
        added = stage_schedules(cfg, data, name, more)
        outs = [*outs, *train_options(cfg, added, train_one, generator, None, on_progress, start)]
        schedules += added
    frontier = [{"stage": name, "candidate": i, "cross": sched.cross, "c": sched.c,
                 "crossing_step": sched.crossing_step, "steps": sched.steps, **extra, "size": size,
                 **_valid(r), "chosen": i == pick}
                for i, (sched, (r, _, _), (size, extra)) in enumerate(zip(schedules, outs, sizes))]
    if log and len(outs) > 1:
        log(f"[{name}] parsimony rule: the sparsest within {tol:.4f} valid AUC ({cfg.search.sparsity_se:g} standard "
            "error) of the best")
        for row in frontier:
            log(f"[{name}] strength {row['cross']:g}: c {row['c']:.4g}, size {row['size']:,}, valid AUC "
                f"{row['valid_auc']:.4f}{'  <- kept (parsimony rule)' if row['chosen'] else ''}")
    result = adopt(outs, pick, generator, on_epoch)
    result.schedule, result.frontier = schedules[pick], frontier
    return result


def _valid(r: Any) -> dict:
    return {"valid_auc": r.metrics["valid"]["auc"], "valid_logloss": r.metrics["valid"]["logloss"],
            "epochs": len(r.fit.history), "seconds": round(sum(row["seconds"] for row in r.fit.history), 3)}


def search_order(cfg: RunConfig, vocab_sizes: Sequence[int], data: SplitTensors, generator: torch.Generator,
                 candidates: Sequence[tuple[int, ...]], fixed: Sequence[Columns] = (), stage: str = "search",
                 on_epoch: Callable[[dict], None] | None = None, previous: AIM | None = None,
                 log: Callable[[str], None] | None = None, on_progress: Progress | None = None) -> InteractionSearch:
    """Stage A for one order (FIS + IFS): GRDA drives α of useless (interaction, function) columns to exact zeros,
    at the strength ``choose_schedule`` picks among the configured ones (size: the columns kept).

    ``fixed`` holds the columns already selected at lower orders: they stay in the model (their α trained by Adam
    as plain weights) while GRDA searches the ``candidates`` of this order with their own BN and α.
    """
    train_one = functools.partial(_search_once, cfg, vocab_sizes, data, tuple(candidates), tuple(fixed), stage,
                                  previous)
    return choose_schedule(stage, cfg, data, stage_schedules(cfg, data, stage), train_one, _columns_kept, generator,
                           on_epoch, log, on_progress)


def _columns_kept(r: InteractionSearch) -> tuple[int, dict]:
    kept = int(r.kept.sum())
    return kept, {"columns_kept": kept, "interactions_kept": len({f for f, k in zip(r.columns[0], r.kept) if k})}


def _search_once(cfg: RunConfig, vocab_sizes: Sequence[int], data: SplitTensors, candidates: Sequence[tuple[int, ...]],
                 fixed: Sequence[Columns], stage: str, previous: AIM | None, sched: Schedule,
                 generator: torch.Generator, on_epoch: Progress | None, on_progress: Progress | None = None
                 ) -> InteractionSearch:
    functions = variants.get(cfg.variant).functions or cfg.search.function_list
    columns = _columns_of(candidates, functions)
    model = AIM(_spec(cfg, vocab_sizes, [*fixed, columns]))
    if previous is not None:
        order_warm_start(model, previous)
    s, t = cfg.search, cfg.train
    result = fit(model, data.train, data.valid, stage=stage, epochs=s.search_epochs, batch_size=t.batch_size,
                 lr=t.lr, eval_batch_size=t.eval_batch_size, generator=generator,
                 gates=GateSchedule(model.gate_parameters(), sched.lr, sched.c, sched.mu, sched.decay),
                 embedding_optimizer=t.embedding_optimizer, snapshots_per_epoch=4, on_epoch=on_epoch,
                 on_progress=on_progress, device=t.device, precision=t.precision)
    alpha = model.gates[-1].alpha.detach().numpy().copy()
    return InteractionSearch(columns, alpha, result, model, _all_metrics(model, data, t))


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
                 generator: torch.Generator, on_epoch: Callable[[dict], None] | None = None,
                 log: Callable[[str], None] | None = None, on_progress: Progress | None = None,
                 searched: AIM | None = None) -> EmbedSearch:
    """Stage B (EDS): the selected columns fixed, GRDA on β prunes embedding dimensions per field, at the
    strength ``choose_schedule`` picks (size: the embedding parameters the re-train will hold)."""
    warm = searched if cfg.search.embed_warm_start else None
    train_one = functools.partial(_embed_once, cfg, vocab_sizes, tuple(blocks), data, warm)

    def size_of(e: EmbedSearch) -> tuple[int, dict]:
        pos = final_positions(cfg, e, blocks)
        dims = sum(len(p) for p in pos)
        return sum(v * len(p) for v, p in zip(vocab_sizes, pos)), {"dims_kept": dims}

    return choose_schedule("embed", cfg, data, stage_schedules(cfg, data, "embed"), train_one, size_of, generator,
                           on_epoch, log, on_progress)


def _embed_once(cfg: RunConfig, vocab_sizes: Sequence[int], blocks: Sequence[Columns], data: SplitTensors,
                searched: AIM | None, sched: Schedule, generator: torch.Generator, on_epoch: Progress | None,
                on_progress: Progress | None = None) -> EmbedSearch:
    mlp = {"mlp": cfg.model.mlp, "dropout": cfg.model.dropout, "head": cfg.model.head} if embed_mlp(cfg) else {}
    model = AIM(_spec(cfg, vocab_sizes, blocks, search_dims=True, **mlp))
    if searched is not None:
        embed_warm_start(model, searched)
    s, t = cfg.search, cfg.train
    result = fit(model, data.train, data.valid, stage="embed", epochs=s.embed_epochs, batch_size=t.batch_size,
                 lr=t.lr, eval_batch_size=t.eval_batch_size, generator=generator,
                 gates=GateSchedule(model.gate_parameters(), sched.lr, sched.c, sched.mu, sched.decay),
                 embedding_optimizer=t.embedding_optimizer, on_epoch=on_epoch, on_progress=on_progress,
                 device=t.device, precision=t.precision)
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


def _train_final(cfg: RunConfig, starts: dict[str, torch.nn.Module], spec: dict, data: SplitTensors,
                 generator: torch.Generator, on_epoch: Callable[[dict], None] | None, stage: str,
                 params_before_eds: int | None = None, log: Callable[[str], None] | None = None,
                 on_progress: Progress | None = None) -> Trained:
    """Train the final model from each of ``starts`` ({"scratch": fresh init, "search": warm-started from the
    search model}) with each embedding L2 (the given one, or with ``train.embed_l2`` = -1 every value of
    ``train.embed_l2_grid``), every candidate from the same random states, and keep the best validation AUC
    (ties: the smaller L2, then the first start). A warm start is itself a candidate of its early stopping."""
    grid = l2_candidates(cfg)
    options = [(start, l2) for start in starts for l2 in grid]
    if log and len(options) > 1:
        log(f"[{stage}] trying embedding L2 {', '.join(f'{v:g}' for v in grid)}"
            + (f", each from {' and from '.join(START_WORDS[s] for s in starts)}" if len(starts) > 1 else ""))
    train_one = functools.partial(_fit_final, cfg, starts, spec, data, stage, params_before_eds)
    outs = train_options(cfg, options, train_one, generator, on_epoch, on_progress)
    pick = parsimonious([tr.metrics["valid"]["auc"] for tr, _, _ in outs], [l2 for _, l2 in options], 0.0)
    frontier = [{"stage": stage, "candidate": i, "embed_l2": l2, "start": start, "size": tr.params["total"],
                 **_valid(tr), "chosen": i == pick} for i, ((start, l2), (tr, _, _)) in enumerate(zip(options, outs))]
    if log and len(outs) > 1:
        for row, (tr, _, _) in zip(frontier, outs):
            best = f", best epoch {tr.fit.best_epoch}" + (f" (start {tr.fit.start_auc:.4f})"
                                                          if tr.fit.start_auc is not None else "")
            log(f"[{stage}] embedding L2 {row['embed_l2']:g}"
                + (f" from {START_WORDS[row['start']]}" if len(starts) > 1 else "")
                + f": valid AUC {row['valid_auc']:.4f} after {row['epochs']} epochs{best}"
                + ("  <- kept" if row["chosen"] else ""))
    trained = adopt(outs, pick, generator, on_epoch)
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
    return parse_fractions(t.embed_l2_grid, "embed_l2_grid", allow_zero=True)


def _fit_final(cfg: RunConfig, starts: dict[str, torch.nn.Module], spec: dict, data: SplitTensors, stage: str,
               params_before_eds: int | None, option: tuple[str, float], generator: torch.Generator,
               on_epoch: Progress | None, on_progress: Progress | None = None) -> Trained:
    t = cfg.train
    start, l2 = option
    warm = start != "scratch"
    model = copy.deepcopy(starts[start])  # every L2 candidate of a start begins from the same weights
    result = fit(model, data.train, data.valid, stage=stage, epochs=t.epochs, batch_size=t.batch_size, lr=t.lr,
                 eval_batch_size=t.eval_batch_size, generator=generator, patience=t.patience,
                 plateau_factor=t.plateau_factor, embed_l2=l2, embedding_optimizer=t.embedding_optimizer,
                 on_epoch=on_epoch, on_progress=on_progress, device=t.device, precision=t.precision,
                 start_is_candidate=warm)
    params = count_parameters(model)
    before = params["total"] if params_before_eds is None else params_before_eds
    return Trained(model, spec, result, _all_metrics(model, data, t), params, before,
                   embed_l2=l2, start=start)


def retrain(cfg: RunConfig, vocab_sizes: Sequence[int], blocks: Sequence[Columns],
            positions: Sequence[Sequence[int]] | None, data: SplitTensors, generator: torch.Generator,
            on_epoch: Callable[[dict], None] | None = None, log: Callable[[str], None] | None = None,
            on_progress: Progress | None = None, searched: AIM | None = None) -> Trained:
    """Stage C: the selected architecture, physically pruned tables, MLP added; from scratch, from ``searched``
    (the last search model: aim.model.warm), or both, the better on validation (``search.retrain_start``)."""
    if positions is not None:
        blocks = [drop_empty_fields(b, positions) for b in blocks]
        positions = tuple(tuple(p) for p in positions)
    spec = _spec(cfg, vocab_sizes, blocks, positions=positions, mlp=tuple(cfg.model.mlp), dropout=cfg.model.dropout,
                 head=cfg.model.head)
    before = count_parameters(AIM(dataclasses.replace(spec, positions=None)))["total"] if positions else None
    model = AIM(spec)
    starts = {"scratch": model}
    if searched is not None and cfg.search.retrain_start != "scratch":
        warm = copy.deepcopy(model)
        retrain_warm_start(warm, searched)
        starts = {"search": warm} if cfg.search.retrain_start == "search" else {**starts, "search": warm}
    return _train_final(cfg, starts, {"kind": "aim", "spec": spec.to_json()}, data, generator, on_epoch, "retrain",
                        before, log, on_progress)


def train_baseline(cfg: RunConfig, vocab_sizes: Sequence[int], data: SplitTensors, generator: torch.Generator,
                   on_epoch: Callable[[dict], None] | None = None, transfer: Sequence[Columns] = (),
                   log: Callable[[str], None] | None = None, on_progress: Progress | None = None) -> Trained:
    """FM, DeepFM or IPNN with all pairs (paper §3.1), trained like the re-train stage. With ``transfer`` (the
    *-transfer variants, paper §4.6), DeepFM / IPNN use those interaction-IF columns instead of all pairs."""
    m = cfg.model
    args = {"vocab_sizes": list(vocab_sizes), "dim": m.embed_dim, "init_std": m.init_std}
    if variants.get(cfg.variant).deep:
        args |= {"mlp": list(m.mlp), "dropout": m.dropout}
    if transfer:
        args["columns"] = [[[list(f) for f in fields], list(funcs)] for fields, funcs in transfer]
    model = zoo.build(cfg.variant, args)
    return _train_final(cfg, {"scratch": model}, {"kind": cfg.variant, "args": args}, data, generator, on_epoch, "train",
                        log=log, on_progress=on_progress)
