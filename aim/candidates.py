"""How a search stage chooses its sparsity strength: it trains one candidate per GRDA strength (crossing
fraction) from the same random states, in parallel processes where cores allow, and keeps the parsimonious one;
the final model's embedding-L2 candidates run the same way. The math of a strength (its c, its crossing step, the
parsimony rule) is ``aim.sparsity``'s; this module runs the candidates and picks.

A candidate is ``train_one(option, ctx)``: ``option`` a ``Schedule`` (or the final model's (start, L2)), ``ctx`` the
stage's ``Context`` with the candidate's own generator and printers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from aim import distributed
from aim.config import RunConfig
from aim.context import Context, SplitTensors
from aim.sparsity import Schedule, one_se_tolerance, parsimonious, schedule

TrainOne = Callable[[Any, Context], Any]


def steps_per_epoch(cfg: RunConfig, data: SplitTensors) -> int:
    return math.ceil(len(data.train.y) / cfg.train.batch_size)


def stage_schedules(cfg: RunConfig, data: SplitTensors, stage: str,
                    crosses: Sequence[float] | None = None) -> list[Schedule]:
    """The GRDA schedule candidates of a search stage (``search``, ``search3``/``search4`` or ``embed``): the
    configured c when one is given, else one per crossing fraction (``aim.sparsity``); ``crosses`` replaces the
    configured fractions (the refinement round of ``choose_schedule``)."""
    s, spe, alpha0 = cfg.search, steps_per_epoch(cfg, data), cfg.model.alpha_init
    if stage == "embed":
        c, cross, epochs, lr, mu = s.embed_grda_c, s.embed_grda_cross, s.embed_epochs, s.embed_grda_lr, s.embed_grda_mu
    else:
        c, cross = (s.grda_c, s.grda_cross) if stage == "search" else (s.high_order_grda_c, s.high_order_grda_cross)
        epochs, lr, mu = s.search_epochs, s.grda_lr, s.grda_mu
    if crosses is not None:  # a refinement round: these fractions, whatever c is configured
        c, cross = -1.0, tuple(crosses)
    return schedule(c, cross, alpha0, spe, epochs, lr, mu, s.grda_lr_decay)


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


def _option(train_one: TrainOne, option: Any, ctx: Context, torch_rng: torch.Tensor, gen_state: torch.Tensor,
            printer: CandidatePrinter | None) -> tuple[Any, torch.Tensor, torch.Tensor]:
    """One candidate from the stage's starting random states (same init and batch order for every candidate);
    returns its result and the random states it ended with."""
    torch.set_rng_state(torch_rng)
    generator = torch.Generator()
    generator.set_state(gen_state)
    result = train_one(option, ctx.replace(generator=generator, on_epoch=printer, on_progress=printer))
    return result, torch.get_rng_state(), generator.get_state()


def _label(option: Any) -> str:
    if isinstance(option, Schedule):
        return f"x={option.cross:g}" if option.cross is not None else f"c={option.c:g}"
    start, l2 = option
    return f"L2={l2:g}" + ("" if start == "scratch" else f" from {start}")


def train_options(ctx: Context, options: Sequence[Any], train_one: TrainOne,
                  start: tuple[torch.Tensor, torch.Tensor] | None = None) -> list[tuple[Any, Any, Any]]:
    """``train_one(option, ctx)`` for every option, each from the same random states (``start``, default: the
    current ones), in parallel processes where cores allow (``run_candidates``); one option alone trains here,
    live. With several, each candidate prints its own progress when ``ctx.on_progress`` is set."""
    if len(options) == 1 and start is None:
        return [(train_one(options[0], ctx), None, None)]
    jobs = 1 if distributed.world() > 1 else ctx.cfg.search.candidate_jobs
    start = start or (torch.get_rng_state(), ctx.generator.get_state())
    printers = [CandidatePrinter(_label(o)) if ctx.on_progress is not None else None for o in options]
    shipped = ctx.replace(generator=None, on_epoch=None, on_progress=None, log=None)  # what pickles to a worker
    return run_candidates(_option, [(train_one, o, shipped, *start, p) for o, p in zip(options, printers)], jobs)


def adopt(ctx: Context, outs: Sequence[tuple[Any, Any, Any]], pick: int) -> Any:
    """The picked option's result; the random states continue from where it ended and its epochs are reported
    (marked ``replayed``: they were trained already), so a run is the same whether its options ran in parallel or
    one after another."""
    result, torch_rng, gen_state = outs[pick]
    if len(outs) > 1:
        torch.set_rng_state(torch_rng)
        ctx.generator.set_state(gen_state)
        for row in result.fit.history:
            if ctx.on_epoch is not None:
                ctx.on_epoch({**row, "replayed": True})
    return result


def choose_schedule(ctx: Context, name: str, train_one: TrainOne, size_of: Callable[[Any], tuple[float, dict]]) -> Any:
    """Train the stage once per schedule and keep the parsimonious one (``aim.sparsity.parsimonious`` on the
    validation AUC and ``size_of``'s size) among the stage's schedules (``stage_schedules``). The result carries
    its ``schedule`` and the ``frontier``: one row per candidate."""
    cfg, data, log = ctx.cfg, ctx.data, ctx.log
    schedules = stage_schedules(cfg, data, name)
    if log and len(schedules) > 1:
        xs = ", ".join(f"{x.cross:g}" for x in schedules)
        log(f"[{name}] trying {len(schedules)} GRDA strengths (the threshold reaches the gates' init at {xs} "
            f"of {schedules[0].steps} steps)")
    start = (torch.get_rng_state(), ctx.generator.get_state())  # every candidate, refinements too, starts here
    outs = train_options(ctx, schedules, train_one)
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
        outs = [*outs, *train_options(ctx, added, train_one, start)]
        schedules += added
    frontier = [{"stage": name, "candidate": i, "cross": sched.cross, "c": sched.c,
                 "crossing_step": sched.crossing_step, "steps": sched.steps, **extra, "size": size,
                 **valid_summary(r), "chosen": i == pick}
                for i, (sched, (r, _, _), (size, extra)) in enumerate(zip(schedules, outs, sizes))]
    if log and len(outs) > 1:
        log(f"[{name}] parsimony rule: the sparsest within {tol:.4f} valid AUC ({cfg.search.sparsity_se:g} standard "
            "error) of the best")
        for row in frontier:
            log(f"[{name}] strength {row['cross']:g}: c {row['c']:.4g}, size {row['size']:,}, valid AUC "
                f"{row['valid_auc']:.4f}{'  <- kept (parsimony rule)' if row['chosen'] else ''}")
    result = adopt(ctx, outs, pick)
    result.schedule, result.frontier = schedules[pick], frontier
    return result


def valid_summary(r: Any) -> dict:
    """A candidate's row of the frontier (sparsity.csv): its validation AUC and log loss, epochs and seconds."""
    return {"valid_auc": r.metrics["valid"]["auc"], "valid_logloss": r.metrics["valid"]["logloss"],
            "epochs": len(r.fit.history), "seconds": round(sum(row["seconds"] for row in r.fit.history), 3)}


def available_threads() -> int:
    """The torch threads this process may use (a study with --jobs gives each run its share)."""
    import torch

    return max(1, torch.get_num_threads())


def _in_worker(threads: int, fn: Callable[..., Any], args: tuple) -> Any:
    import torch

    torch.set_num_threads(threads)
    return fn(*args)


def run_candidates(fn: Callable[..., Any], args: Sequence[tuple], jobs: int = 0) -> list[Any]:
    """``[fn(*a) for a in args]``, in up to ``jobs`` parallel processes (0: as many as this process has torch
    threads), each with threads / processes torch threads. One candidate, or one thread, runs here in-process.
    ``fn`` and its arguments must pickle; results come back in order."""
    threads = available_threads()
    n = min(len(args), jobs or threads, threads)
    if n <= 1:
        return [fn(*a) for a in args]
    from joblib import Parallel, delayed

    per = max(1, threads // n)
    return Parallel(n_jobs=n, backend="loky")(delayed(_in_worker)(per, fn, a) for a in args)
