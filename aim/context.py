"""What every stage of a run reads: the config, the vocabularies, the data, the batch-order generator and where its
progress goes, in one value (``Context``) instead of long argument lists."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from aim.config import RunConfig
from aim.train import Tensors

Progress = Callable[[dict], None]  # an epoch row or a progress report
Log = Callable[[str], None]


@dataclass(frozen=True)
class SplitTensors:
    train: Tensors
    valid: Tensors
    test: Tensors


@dataclass(frozen=True)
class Context:
    """A stage's inputs. ``generator`` draws the batch order (None in a candidate worker until it is given its
    own); ``on_epoch`` gets every epoch row, ``on_progress`` reports within an epoch, ``log`` the stage's lines."""

    cfg: RunConfig
    vocab: Sequence[int]
    data: SplitTensors
    generator: torch.Generator | None
    on_epoch: Progress | None = None
    on_progress: Progress | None = None
    log: Log | None = None

    def replace(self, **changes: object) -> Context:
        return dataclasses.replace(self, **changes)

    def say(self, line: str) -> None:
        if self.log is not None:
            self.log(line)
