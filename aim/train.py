"""Training loops as plain functions: mini-batches by slicing, Adam on weights, GRDA on gates, evaluation.

Data stay in memory as one int32 tensor (N, F) per split; an epoch permutes it once and slices batches, so there
is no per-row Dataset/DataLoader overhead. A memory-mapped split (data.storage=mmap) is read one block at a time,
block-wise shuffled (``block_batches``). Under torchrun each rank trains on its piece of every batch and DDP
averages the gradients (aim.distributed). Adam (weights) and GRDA (gates) step after the same backward pass on
the same mini-batch (aim_reference.md §1: one-level search, no validation split inside the search).

Speed (bench/README.md): Adam is the fused kernel (one pass over all rows of the big tables instead of a dozen
``foreach`` passes; same update); ``embedding_optimizer="lazy_adam"`` gives the tables sparse row gradients and
``torch.optim.SparseAdam``, which only touches the rows of the batch (lazy Adam: a different optimiser, not a
faster form of the same one). The loss is summed on the device; the host reads it once per 50 steps.
``precision="bf16"`` runs forward passes under ``torch.autocast`` (mixed precision, see ``autocast``).
"""

from __future__ import annotations

import contextlib
import copy
import ctypes
import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from sklearn.metrics import log_loss, roc_auc_score
from torch import nn
from torch.nn import functional as F

from aim import distributed
from aim.config import TrainConfig
from aim.data.base import Split
from aim.errors import AIMError, ConfigError
from aim.grda import GRDA
from aim.model.embeddings import FieldEmbedding, PrunedFieldEmbedding, set_sparse, table_parameters


class NonFiniteLossError(AIMError):
    """The training loss became NaN or infinite."""


@dataclass(frozen=True)
class Tensors:
    X: torch.Tensor  # (N, F) int32 field-local ids
    y: torch.Tensor  # (N,) float32
    block_rows: int = 0  # > 0: X, y map files (data.storage=mmap), read per epoch in shuffled blocks of this size

    @classmethod
    def of(cls, split: Split, block_rows: int = 65_536) -> Tensors:
        """The split in memory, or, when it is memory-mapped, tensors over the mapping (nothing is read yet)
        that an epoch reads in shuffled blocks of ``block_rows`` rows."""
        if isinstance(split.X, np.memmap):
            return cls(torch.from_numpy(split.X), torch.from_numpy(split.y), block_rows)
        return cls(torch.from_numpy(np.ascontiguousarray(split.X, dtype=np.int32)),
                   torch.from_numpy(np.ascontiguousarray(split.y, dtype=np.float32)))

    def batches(self, batch_size: int, generator: torch.Generator, rank: int = 0,
                world: int = 1) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """One epoch of ``ceil(N / batch_size)`` mini-batches: every row once, all rows permuted (in memory) or
        block-wise shuffled (mapped: ``block_batches``). With ``world`` > 1, this rank's piece of each batch."""
        if self.block_rows:
            yield from block_batches(self.X, self.y, batch_size, self.block_rows, generator, rank, world)
            return
        n = len(self.y)
        perm = torch.randperm(n, generator=generator)
        if world == 1:
            X, y = self.X[perm], self.y[perm]
            for b in range(0, n, batch_size):
                yield X[b : b + batch_size], y[b : b + batch_size]
            return
        for b in range(0, n, batch_size):
            rows = perm[b : b + batch_size].tensor_split(world)[rank]
            yield self.X[rows], self.y[rows]


def block_batches(X: torch.Tensor, y: torch.Tensor, batch_size: int, block_rows: int, generator: torch.Generator,
                  rank: int = 0, world: int = 1) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """One epoch of mini-batches over memory-mapped rows X (N, F), y (N,), reading one block at a time.

    Block-wise shuffling: the blocks of ``block_rows`` consecutive rows are visited in a random order and the rows
    of each block are shuffled; the resulting stream of N rows is cut into ``ceil(N / batch_size)`` batches (a
    batch may span two blocks). A batch mixes rows of one block (two at a boundary), not of the whole file, so
    blocks should be much larger than a batch. ``rank`` / ``world``: this process's contiguous piece of every
    batch (``tensor_split``); the pieces of all ranks make up exactly the one-process batch.
    """
    n = len(y)
    order = torch.randperm(math.ceil(n / block_rows), generator=generator)
    carry_X, carry_y = X[:0].contiguous(), y[:0].contiguous()
    for blk in order.tolist():
        start = blk * block_rows
        rows_X, rows_y = X[start : start + block_rows].contiguous(), y[start : start + block_rows].contiguous()
        perm = torch.randperm(len(rows_y), generator=generator)
        stream_X, stream_y = torch.cat((carry_X, rows_X[perm])), torch.cat((carry_y, rows_y[perm]))
        full = len(stream_y) // batch_size * batch_size
        for b in range(0, full, batch_size):
            yield _piece(stream_X[b : b + batch_size], rank, world), _piece(stream_y[b : b + batch_size], rank, world)
        carry_X, carry_y = stream_X[full:], stream_y[full:]
    if len(carry_y):
        yield _piece(carry_X, rank, world), _piece(carry_y, rank, world)


def _piece(batch: torch.Tensor, rank: int, world: int) -> torch.Tensor:
    return batch if world == 1 else batch.tensor_split(world)[rank]


@dataclass
class GateSchedule:
    """GRDA on ``params`` with a learning rate multiplied by ``decay`` after every epoch."""

    params: list[nn.Parameter]
    lr: float
    c: float
    mu: float
    decay: float


@dataclass
class FitResult:
    history: list[dict] = field(default_factory=list)  # one row per epoch
    snapshots: list[tuple[int, int, np.ndarray]] = field(default_factory=list)  # (epoch, step, gates)
    best_epoch: int = -1
    digests: dict[str, list[str]] = field(default_factory=dict)  # several ranks: sha256 of gates / weights per rank
    duals: np.ndarray | None = None  # GRDA's dual sums v of the gates at the end (their ranking where gates are 0)
    start_auc: float | None = None  # validation AUC before the first step (``start_is_candidate``)


def metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """AUC and log loss of probabilities ``p`` for labels ``y``; AUC is nan when only one class is present."""
    auc = float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else float("nan")
    return {"auc": auc, "logloss": float(log_loss(y, np.clip(p, 1e-7, 1 - 1e-7), labels=[0, 1]))}


def autocast(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """The arithmetic of a forward pass (``train.precision``): ``fp32`` as is; ``bf16`` under ``torch.autocast``,
    which runs the matrix products (the MLP's layers, the Gram matrices of the interactions) in bfloat16 with
    float32 accumulation and keeps everything else in float32: the weights, their gradients and optimiser states
    (no loss scaling is needed: bfloat16 has float32's exponent range). The caller casts the logits back to float32
    before the loss or the sigmoid."""
    if precision == "fp32":
        return contextlib.nullcontext()
    if precision != "bf16":
        raise ConfigError(f"precision={precision!r} is not valid; choose fp32 or bf16")
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


@torch.inference_mode()
def predict(model: nn.Module, X: torch.Tensor, batch_size: int, precision: str = "fp32") -> np.ndarray:
    """Probabilities (N,) in eval mode with large batches, computed on the model's device in ``precision``."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    # contiguous(): rows of a mapped (column-major) split are strided; in memory this is a no-op.
    with autocast(precision, device):
        out = [torch.sigmoid(model(X[i : i + batch_size].contiguous().to(device)).float()).cpu()
               for i in range(0, len(X), batch_size)]
    model.train(was_training)
    return torch.cat(out).numpy() if out else np.zeros(0, dtype=np.float32)


def evaluate(model: nn.Module, data: Tensors, batch_size: int, precision: str = "fp32") -> dict[str, float]:
    """Metrics of ``model`` on ``data``. With several processes (aim.distributed) each rank predicts its share
    of the rows and every rank gets all predictions, hence the same metrics."""
    if distributed.world() == 1:
        return metrics(data.y.numpy(), predict(model, data.X, batch_size, precision))
    rows = distributed.share(len(data.y))
    p = predict(model, data.X[rows], batch_size, precision)
    return metrics(data.y.numpy(), distributed.gather_rows(p, len(data.y)))


@contextlib.contextmanager
def on_device(model: nn.Module, device: torch.device) -> Iterator[nn.Module]:
    """``model`` on ``device`` for the block, then back on the CPU, where runs, checkpoints and the app read it
    (a no-op on the CPU)."""
    model.to(device)
    try:
        yield model
    finally:
        model.to("cpu")


def optimizers(model: nn.Module, lr: float, exclude: list[nn.Parameter] = (), embedding_optimizer: str = "adam",
               embed_l2: float = 0.0) -> list[torch.optim.Optimizer]:
    """Adam for every parameter of ``model`` not in ``exclude`` (the GRDA gates).

    ``embedding_optimizer="adam"``: one fused Adam (``embed_l2`` = weight decay on the embedding tables).
    ``"lazy_adam"``: fused Adam for the dense weights and ``SparseAdam`` for the row-indexed tables, which must then
    produce sparse gradients (``aim.model.embeddings.set_sparse``); SparseAdam has no weight decay.
    """
    if embedding_optimizer not in ("adam", "lazy_adam"):
        raise ConfigError(f"embedding_optimizer={embedding_optimizer!r} is not valid; choose adam or lazy_adam")
    skip = {id(p) for p in exclude}
    weights = [p for p in model.parameters() if id(p) not in skip]
    if embedding_optimizer == "lazy_adam":
        if embed_l2:
            raise ConfigError(f"embed_l2={embed_l2} needs embedding_optimizer=adam (SparseAdam has no weight decay)")
        table_ids = {id(p) for p in table_parameters(model)}
        dense = [p for p in weights if id(p) not in table_ids]
        tables = [p for p in weights if id(p) in table_ids]
        opts = [torch.optim.Adam(dense, lr=lr, fused=True)] if dense else []
        return opts + ([torch.optim.SparseAdam(tables, lr=lr)] if tables else [])
    decay_ids = {id(p) for m in model.modules() if isinstance(m, FieldEmbedding | PrunedFieldEmbedding)
                 for p in m.parameters()}
    groups = [{"params": [p for p in weights if id(p) not in decay_ids]},
              {"params": [p for p in weights if id(p) in decay_ids], "weight_decay": embed_l2}]
    return [torch.optim.Adam([g for g in groups if g["params"]], lr=lr, fused=True)]


def _gate_vector(params: list[nn.Parameter]) -> np.ndarray:
    return torch.cat([p.detach().flatten() for p in params]).cpu().numpy().copy()


# glibc mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_freed_memory_kept = False


def keep_freed_memory() -> bool:
    """Let glibc's malloc reuse freed large blocks instead of unmapping them (process-wide, once).

    Every training step frees and re-allocates tensors of tens of MB: the dense gradient of each embedding table
    (43 MB for 10.9M parameters), activations, the sparse gradients of lazy Adam. Above 32 MB glibc serves such a
    block with its own ``mmap`` and unmaps it on free, so the next step takes one page fault per 4 KiB page while
    it zero-fills the block again (torch.profiler shows it as ``fill_``, the kernel as system time). With the
    mmap threshold at 1 GiB and no heap trimming the blocks come from the heap and are reused. Nothing computed
    changes; the process keeps its high-water mark of memory instead of returning it between steps (the
    same trade PyTorch's CPU tuning guide makes by swapping in jemalloc or tcmalloc). ``AIM_KEEP_FREED_MEMORY=0``
    turns it off; elsewhere than glibc Linux it does nothing. Returns whether the setting is in effect."""
    global _freed_memory_kept
    if _freed_memory_kept:
        return True
    if os.environ.get("AIM_KEEP_FREED_MEMORY", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl, ...)
        return False
    _freed_memory_kept = bool(mallopt(_M_MMAP_THRESHOLD, 1 << 30) and mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))
    return _freed_memory_kept


def fit(
    model: nn.Module,
    train: Tensors,
    valid: Tensors,
    config: TrainConfig,
    *,
    stage: str,
    generator: torch.Generator,
    epochs: int | None = None,
    early_stopping: bool = False,
    gates: GateSchedule | None = None,
    embed_l2: float = 0.0,
    snapshots_per_epoch: int = 0,
    on_epoch: Callable[[dict], None] | None = None,
    on_progress: Callable[[dict], None] | None = None,
    progress_every: float = 10.0,
    start_is_candidate: bool = False,
) -> FitResult:
    """Train ``model`` for up to ``epochs`` (default ``config.epochs``) as ``config`` says: its batch size, Adam
    learning rate, evaluation batch, embedding optimizer, device and precision. With ``early_stopping``, stop on
    validation AUC after ``config.patience`` epochs without gain and restore the best weights, multiplying the Adam
    learning rate by ``config.plateau_factor`` after every epoch without gain (reduce-on-plateau). ``embed_l2`` is
    Adam weight decay on the embedding tables. With ``gates``, those parameters are trained by GRDA instead of Adam
    and their non-zero count is logged (snapshots of their values are kept ``snapshots_per_epoch`` times an epoch
    for the replay view). ``embedding_optimizer``: see ``optimizers``; with ``lazy_adam`` the tables give sparse
    gradients while fitting.
    ``on_progress``: called within an epoch at most every ``progress_every`` seconds with the stage, epoch, steps
    done and to do, rows per second and the epoch's ETA (a long epoch shows life before it ends).
    ``start_is_candidate`` (with ``early_stopping``): the model as given is epoch 0 of early stopping, so a warm
    start that no epoch improves on validation is returned as it was (``best_epoch`` 0).
    ``device``: where the model trains; it is back on the CPU when ``fit`` returns. Under torchrun the step is
    data-parallel (aim.distributed): each rank trains on its piece of every batch.
    ``precision``: the arithmetic of the forward passes, training and validation (``autocast``)."""
    embedding_optimizer = config.embedding_optimizer
    if distributed.world() > 1 and embedding_optimizer == "lazy_adam":
        raise ConfigError("embedding_optimizer=lazy_adam is not supported with several processes (DDP would "
                          "all-reduce sparse gradients); use adam")
    dev = distributed.resolve_device(config.device)
    keep_freed_memory()
    with on_device(model, dev):
        adams = optimizers(model, config.lr, gates.params if gates else [], embedding_optimizer, embed_l2)
        set_sparse(model, embedding_optimizer == "lazy_adam")
        try:
            with distributed.data_parallel(model, dev) as net:
                return _fit(model, net, train, valid, adams, stage=stage,
                            epochs=config.epochs if epochs is None else epochs, batch_size=config.batch_size,
                            eval_batch_size=config.eval_batch_size, generator=generator, gates=gates,
                            patience=config.patience if early_stopping else None,
                            plateau_factor=config.plateau_factor if early_stopping else 1.0,
                            snapshots_per_epoch=snapshots_per_epoch, on_epoch=on_epoch, on_progress=on_progress,
                            progress_every=progress_every, device=dev, start_is_candidate=start_is_candidate,
                            precision=config.precision)
        finally:
            set_sparse(model, False)


def _fit(model: nn.Module, net: nn.Module, train: Tensors, valid: Tensors, adams: list[torch.optim.Optimizer], *,
         stage: str, epochs: int, batch_size: int, eval_batch_size: int, generator: torch.Generator,
         gates: GateSchedule | None, patience: int | None, plateau_factor: float, snapshots_per_epoch: int,
         on_epoch: Callable[[dict], None] | None, on_progress: Callable[[dict], None] | None,
         progress_every: float, device: torch.device, start_is_candidate: bool = False,
         precision: str = "fp32") -> FitResult:
    """``net`` runs the training step (``model``, or ``model`` wrapped by DDP); ``model`` evaluates."""
    grda = GRDA(gates.params, lr=gates.lr, c=gates.c, mu=gates.mu) if gates else None
    loss_fn = nn.BCEWithLogitsLoss()
    n = len(train.y)
    steps = math.ceil(n / batch_size)
    snap_every = max(1, steps // snapshots_per_epoch) if snapshots_per_epoch else 0
    result = FitResult()
    best_auc, best_state, since_best, global_step = -math.inf, None, 0, 0
    last_finite = "none seen"
    rank, world = distributed.rank(), distributed.world()
    if grda is not None and snap_every:
        result.snapshots.append((0, 0, _gate_vector(gates.params)))
    if start_is_candidate and patience is not None:
        result.start_auc = best_auc = evaluate(model, valid, eval_batch_size, precision)["auc"]
        best_state, result.best_epoch = copy.deepcopy(model.state_dict()), 0
    model.train()
    for epoch in range(1, epochs + 1):
        start = last_report = time.perf_counter()
        total = torch.zeros((), device=device)
        for b, (xb, yb) in enumerate(train.batches(batch_size, generator, rank, world)):
            xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
            rows = min(batch_size, n - b * batch_size)  # of the whole (global) batch
            with autocast(precision, device):
                logits = net(xb)
            logits = logits.float()
            if world == 1:
                loss = loss_fn(logits, yb)
            else:  # this rank's part of the global mean, times world: DDP's average is then the global gradient
                loss = F.binary_cross_entropy_with_logits(logits, yb, reduction="sum") * (world / rows)
            for opt in adams:
                opt.zero_grad(set_to_none=True)
            if grda is not None:
                grda.zero_grad(set_to_none=True)
            loss.backward()
            for opt in adams:
                opt.step()
            if grda is not None:
                grda.step()
            total.add_(loss.detach(), alpha=rows / world)  # on the device: no host sync per step
            global_step += 1
            if snap_every and grda is not None and global_step % snap_every == 0:
                result.snapshots.append((epoch, global_step, _gate_vector(gates.params)))
            if b % 50 == 0:  # a sync every step would cost more than the check is worth
                value = float(distributed.sum_over_ranks(loss.detach())) / world
                if not math.isfinite(value):
                    raise NonFiniteLossError(f"{stage}: loss became {value} at epoch {epoch}, step {global_step}; "
                                             f"last finite loss {last_finite}")
                last_finite = f"{value:.6g} at step {global_step}"
            if on_progress is not None and (now := time.perf_counter()) - last_report >= progress_every:
                last_report, done = now, b + 1
                rate = min(done * batch_size, n) / (now - start)
                on_progress({"stage": stage, "epoch": epoch, "epochs": epochs, "step": done, "steps": steps,
                             "rows_per_s": rate, "eta_s": max(n - done * batch_size, 0) / rate})
        train_loss = float(distributed.sum_over_ranks(total)) / n
        if not math.isfinite(train_loss):
            raise NonFiniteLossError(f"{stage}: mean training loss of epoch {epoch} (up to step {global_step}) is "
                                     f"{train_loss}; last finite loss {last_finite} (checked every 50 steps)")
        seconds = time.perf_counter() - start
        row = {"stage": stage, "epoch": epoch, "step": global_step, "train_loss": train_loss, "seconds": seconds,
               "lr": adams[0].param_groups[0]["lr"]}
        row.update({f"valid_{k}": v for k, v in evaluate(model, valid, eval_batch_size, precision).items()})
        if grda is not None:
            g = _gate_vector(gates.params)
            distributed.check_identical(g, f"{stage}: gates after epoch {epoch}")
            row.update({"gates_nonzero": int(np.count_nonzero(g)), "gates_total": int(g.size),
                        "grda_lr": grda.param_groups[0]["lr"]})
            for group in grda.param_groups:
                group["lr"] *= gates.decay
        result.history.append(row)
        if on_epoch is not None:
            on_epoch(row)
        if patience is not None:
            if row["valid_auc"] > best_auc:
                best_auc, since_best, result.best_epoch = row["valid_auc"], 0, epoch
                best_state = copy.deepcopy(model.state_dict())
            else:
                since_best += 1
                if since_best > patience:
                    break
                for opt in adams:
                    for group in opt.param_groups:
                        group["lr"] *= plateau_factor
    if snap_every and grda is not None and result.snapshots[-1][1] != global_step:
        result.snapshots.append((len(result.history), global_step, _gate_vector(gates.params)))
    if grda is not None and global_step:
        result.duals = torch.cat([grda.state[p]["v"].detach().flatten() for p in gates.params]).cpu().numpy().copy()
    if best_state is not None:
        model.load_state_dict(best_state)
    else:
        result.best_epoch = epochs
    if world > 1:
        result.digests = {"gates": distributed.digests(gates.params if gates else []),
                          "weights": distributed.digests(list(model.state_dict().values()))}
    return result
