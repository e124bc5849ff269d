"""Data-parallel training with PyTorch's own ``torch.distributed`` + DDP, launched by ``torchrun``.

``torchrun --nproc_per_node N -m aim run ...`` starts N processes (ranks) that all run the same pipeline:

* data: every rank loads the same encoded data (the first rank of each machine encodes, the others then read
  the cache); each global mini-batch of ``train.batch_size`` rows is drawn as in one process (same generator,
  same permutation or block order) and rank r trains on its r-th contiguous piece (``Tensors.batches``);
* gradients: ``DistributedDataParallel`` averages them; each rank's loss is its rows' summed loss times
  N / global batch, so the average is exactly the gradient of the global batch's mean loss;
* batch norm: the gate BNs (and the MLP's) use the statistics of the global batch (``GlobalBatchNorm1d``, an
  all-reduce of the sums, differentiable), so the distributed search normalises and gates like one process;
* GRDA: every rank steps α / β from the same averaged gradient and the same state, so the gates stay
  bit-identical on every rank at every step; ``fit`` checks it after every epoch (``check_identical``) and
  records each rank's digest of the final gates and weights in ``run.json``;
* evaluation: each rank predicts a contiguous share of the rows and all gather every prediction, so metrics,
  early stopping and learning-rate cuts are identical everywhere;
* output: only rank 0 writes the run; the other ranks hold a ``FollowerWriter``. A failure on any rank fails
  the run: the first failing rank leaves its error in the rendezvous store and rank 0 records that error (not
  the "connection closed" its peers see), whatever the order in which the processes die.

Backends: gloo on CPU, NCCL with ``--device cuda`` (rank r on ``cuda:LOCAL_RANK``). Without torchrun's
environment (or with one process) everything here is a no-op and training is the one-process code path.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from aim.errors import AIMError, ConfigError

ENV = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")  # what torchrun sets for each worker
TIMEOUT = timedelta(hours=2)  # a rank may wait this long for another (rank 0 computing statistics AUC alone)
_store: dist.Store | None = None


class DistributedError(AIMError):
    """The ranks of a distributed run disagree (a bug, never expected) or cannot be started."""


def launched() -> bool:
    """True in a worker started by torchrun (or any launcher setting the env:// variables) with world size > 1."""
    return all(k in os.environ for k in ENV) and int(os.environ["WORLD_SIZE"]) > 1


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def world() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def is_main() -> bool:
    return rank() == 0


def resolve_device(device: str) -> torch.device:
    """``train.device`` -> the device of this process: ``cuda`` means ``cuda:LOCAL_RANK`` under torchrun.
    ConfigError when CUDA is asked for and absent."""
    if device == "cpu":
        return torch.device("cpu")
    if not re.fullmatch(r"cuda(:\d+)?", device):
        raise ConfigError(f"device={device!r} is not valid; choose cpu, cuda or cuda:N")
    if not torch.cuda.is_available():
        build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "without CUDA"
        raise ConfigError(f"device={device!r}: no CUDA device is visible (torch {torch.__version__}, built {build})")
    if launched():
        return torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    return torch.device(device)


def check(train: Any) -> None:
    """Refuse before any work what cannot run here: CUDA asked for and absent; lazy Adam with several processes
    (DDP would all-reduce its sparse table gradients). ``train`` is the run's TrainConfig."""
    resolve_device(train.device)
    if launched() and train.embedding_optimizer == "lazy_adam":
        raise ConfigError("embedding_optimizer=lazy_adam is not supported with several processes; use adam")


def start(device: str) -> None:
    """Join the process group of a torchrun launch (gloo on CPU, NCCL on CUDA); a no-op otherwise."""
    global _store
    if not launched() or dist.is_initialized():
        return
    dev = resolve_device(device)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    r, n = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    # The store torch's env:// rendezvous would build (torchrun's agent hosts it, else rank 0), kept to pass
    # a failing rank's error to rank 0.
    agent = os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True"
    store = dist.TCPStore(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), n,
                          is_master=r == 0 and not agent, timeout=TIMEOUT, multi_tenant=True)
    _store = dist.PrefixStore("aim", store)
    dist.init_process_group("nccl" if dev.type == "cuda" else "gloo", store=dist.PrefixStore("pg", store),
                            rank=r, world_size=n, timeout=TIMEOUT)


def stop() -> None:
    """Leave the process group after a successful run (a failed one just exits)."""
    global _store
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
    _store = None


def describe(device: str) -> dict:
    """The ``distributed`` entry of ``run.json`` (empty with one process)."""
    if world() == 1:
        return {}
    return {"distributed": {"world_size": world(), "backend": dist.get_backend(), "device": device,
                            "local_world_size": int(os.environ.get("LOCAL_WORLD_SIZE", world()))}}


def local_first(load: Callable[[], Any]) -> Any:
    """``load()`` on the first rank of each machine, then on the others: the first encodes the data into the
    cache, the others read it (no N concurrent encodings of one file)."""
    if world() == 1:
        return load()
    first = int(os.environ.get("LOCAL_RANK", rank())) == 0
    result = load() if first else None
    dist.barrier()
    return result if first else load()


# ------------------------------------------------------------------------------------------- the training step


class _AllReduceSum(torch.autograd.Function):
    """Sum over ranks, differentiable: the gradient of a sum is the sum of the ranks' gradients."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        x = x.clone()
        dist.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


class GlobalBatchNorm1d(nn.BatchNorm1d):
    """``nn.BatchNorm1d`` over (B, C) inputs whose training statistics are those of the global batch (all ranks'
    rows): mean and biased variance from all-reduced sums (two passes), running statistics updated with the
    unbiased global variance. Works on CPU (gloo), where ``nn.SyncBatchNorm`` does not, and with a rank's piece
    being empty. Eval mode is plain BN with the running statistics (no communication)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return super().forward(x)
        if x.dim() != 2:
            raise DistributedError(f"GlobalBatchNorm1d expects (B, C) inputs, got {tuple(x.shape)}")
        sums = _AllReduceSum.apply(torch.cat((x.sum(0), x.new_full((1,), x.shape[0]))))
        n, mean = sums[-1], sums[:-1] / sums[-1]
        centred = x - mean
        var = _AllReduceSum.apply((centred * centred).sum(0)) / n
        out = centred * torch.rsqrt(var + self.eps)
        if self.affine:
            out = out * self.weight + self.bias
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.mul_(1 - m).add_(mean, alpha=m)
                self.running_var.mul_(1 - m).add_(var * (n / (n - 1).clamp(min=1)), alpha=m)
        return out


@contextlib.contextmanager
def data_parallel(model: nn.Module, device: torch.device) -> Iterator[nn.Module]:
    """The module to call in a training step: ``model`` itself with one process; with several, ``model`` with
    its BatchNorm1d layers switched to ``GlobalBatchNorm1d`` (same parameters and buffers) wrapped in DDP. The
    layers are switched back on exit. Dropout masks differ between ranks (the torch RNG is forked and offset by
    the rank for the block, then restored, so all ranks leave it in the same state)."""
    if world() == 1:
        yield model
        return
    swapped = []
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is nn.BatchNorm1d:
                replacement = copy.copy(child)  # shares the parameter and buffer dicts
                replacement.__class__ = GlobalBatchNorm1d
                setattr(parent, name, replacement)
                swapped.append((parent, name, child))
    cuda = [device.index] if device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=cuda):
            torch.manual_seed(int(torch.randint(0, 2**62, ())) + rank())
            # static_graph: the same parameters take part in every step; some never do (the kernel of a function with
            # no kept column), which DDP then skips without searching the graph each step.
            ddp = nn.parallel.DistributedDataParallel(model, device_ids=cuda or None, forward_sync_buffers=False,
                                                      static_graph=True)
            yield ddp
    finally:
        for parent, name, child in swapped:
            setattr(parent, name, child)


def sum_over_ranks(x: torch.Tensor) -> torch.Tensor:
    """Sum of ``x`` over ranks (no gradient), on every rank."""
    if world() == 1:
        return x
    x = x.detach().clone()
    dist.all_reduce(x)
    return x


def _comm(x: torch.Tensor) -> torch.Tensor:
    """NCCL communicates CUDA tensors only."""
    return x.cuda() if dist.get_backend() == "nccl" else x


def check_identical(values: np.ndarray, what: str) -> None:
    """Raise DistributedError (on every rank) unless ``values`` is bit-identical on all ranks."""
    if world() == 1:
        return
    mine = _comm(torch.from_numpy(np.ascontiguousarray(values)).view(-1).view(torch.uint8))
    every = [torch.empty_like(mine) for _ in range(world())]
    dist.all_gather(every, mine)
    differ = [r for r, v in enumerate(every) if not torch.equal(v, every[0])]
    if differ:
        raise DistributedError(f"{what}: rank(s) {differ} differ from rank 0 (the ranks must step identically)")


def digests(tensors: list[torch.Tensor]) -> list[str]:
    """sha256 of ``tensors``' bytes on each rank, gathered on every rank ([] with one process)."""
    if world() == 1:
        return []
    h = hashlib.sha256()
    for t in tensors:
        h.update(t.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    every: list[str | None] = [None] * world()
    dist.all_gather_object(every, h.hexdigest())
    return [str(d) for d in every]


def share(n: int) -> slice:
    """This rank's contiguous share of ``n`` rows (the shares of all ranks cover 0..n-1 in order)."""
    bounds = np.linspace(0, n, world() + 1).astype(np.int64)
    return slice(int(bounds[rank()]), int(bounds[rank() + 1]))


def gather_rows(local: np.ndarray, n: int) -> np.ndarray:
    """The ``share``s of all ranks concatenated in rank order: (n,) on every rank."""
    if world() == 1:
        return local
    longest = -(-n // world()) + 1
    padded = np.zeros(longest, dtype=local.dtype)
    padded[: len(local)] = local
    every = [_comm(torch.empty(longest, dtype=torch.from_numpy(padded).dtype)) for _ in range(world())]
    dist.all_gather(every, _comm(torch.from_numpy(padded)))
    bounds = np.linspace(0, n, world() + 1).astype(np.int64)
    return np.concatenate([e.cpu().numpy()[: bounds[r + 1] - bounds[r]] for r, e in enumerate(every)])


# --------------------------------------------------------------------------------------------------- failures


def failure_message(exc: BaseException) -> str:
    """The error a failed run records. With several ranks: the first failure any rank reported (the root
    cause: the others usually fail because its process went away), prefixed by its rank."""
    message = f"{type(exc).__name__}: {exc}"
    if world() == 1 or _store is None:
        return message
    mine = f"rank {rank()}: {message}"
    try:
        if _store.add("failures", 1) == 1:
            _store.set("root_cause", mine)
            return mine
        _store.wait(["root_cause"], timedelta(seconds=10))
        return _store.get("root_cause").decode()
    except Exception:  # noqa: BLE001 - the store went away with the failing rank: report our own error
        return mine


class FollowerWriter:
    """What a rank other than 0 holds instead of a ``RunWriter``: the same calls, nothing written to the run.
    ``path`` is a private temporary folder (its stage checkpoints go there), removed by ``release``."""

    def __init__(self) -> None:
        self.path = Path(tempfile.mkdtemp(prefix=f"aim-rank{rank()}-"))
        self.meta: dict[str, Any] = {}

    def start(self, meta: dict) -> None:
        self.meta = {"stages": {}, **meta}

    def update(self, **changes: Any) -> None:
        self.meta.update(changes)

    def progress(self, **info: Any) -> None:
        pass

    def table(self, name: str, df: Any) -> None:
        pass

    def weights(self, tensors: dict) -> None:
        pass

    def finish(self, status: str, error: str | None = None, stage: str | None = None) -> None:
        self.release()

    def release(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
