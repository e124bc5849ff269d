"""Embedding layers. Notation: B batch, F fields, T tables (m functions with FWE, 1 with SE), d embedding size.

``FieldEmbedding`` keeps every field in one table with per-field row offsets, T·d columns wide, so a single
gather serves all fields and all function-wise tables. ``PrunedFieldEmbedding`` is the re-train layer after
EDS (paper eq. 16-18): field i keeps d_i of the d positions φ_i and owns a physically smaller table; fields of
equal d_i share one table, and ``Map_i`` puts their columns back at positions φ_i with zeros elsewhere.

Every table layer has a ``sparse`` attribute (default False, like ``nn.Embedding(sparse=...)``): when set, the
backward pass returns sparse row gradients (only the rows of the batch), which ``torch.optim.SparseAdam`` (lazy
Adam, ``train.embedding_optimizer``) consumes; ``aim.train.fit`` sets it for the duration of training.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def _offsets(vocab_sizes: Sequence[int]) -> torch.Tensor:
    sizes = torch.tensor([0, *vocab_sizes[:-1]], dtype=torch.long)
    return torch.cumsum(sizes, 0)


class FieldEmbedding(nn.Module):
    """x (B, F) field-local ids -> (B, F, T, d)."""

    def __init__(self, vocab_sizes: Sequence[int], dim: int, tables: int = 1, init_std: float = 1e-2):
        super().__init__()
        if not vocab_sizes or min(vocab_sizes) < 1:
            raise ValueError(f"vocab_sizes must be non-empty and positive, got {list(vocab_sizes)}")
        self.dim, self.tables, self.sparse = dim, tables, False
        self.register_buffer("offsets", _offsets(vocab_sizes), persistent=False)
        self.weight = nn.Parameter(torch.randn(sum(vocab_sizes), tables * dim) * init_std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, F = x.shape
        rows = nn.functional.embedding(x + self.offsets, self.weight, sparse=self.sparse)  # (B, F, T·d)
        return rows.view(B, F, self.tables, self.dim)


class FieldLinear(nn.Module):
    """First-order part Σ_f w[x_f] + b: x (B, F) -> (B,)."""

    def __init__(self, vocab_sizes: Sequence[int]):
        super().__init__()
        self.sparse = False
        self.register_buffer("offsets", _offsets(vocab_sizes), persistent=False)
        self.weight = nn.Parameter(torch.zeros(sum(vocab_sizes), 1))
        self.bias = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = nn.functional.embedding(x + self.offsets, self.weight, sparse=self.sparse)  # (B, F, 1)
        return w.sum(dim=(1, 2)) + self.bias


class PrunedFieldEmbedding(nn.Module):
    """Per-field retained positions -> physically smaller tables; output (B, F, T, d) with zeros at pruned dims.

    ``positions[i]`` lists the kept dimensions φ_i of field i (empty: the field keeps no embedding at all).
    ``forward`` gathers each group's rows, concatenates them with one zero column and places every output entry
    with a single ``index_select`` (``source``: output entry -> concatenated column, pruned entries -> the zero).
    """

    def __init__(
        self,
        vocab_sizes: Sequence[int],
        dim: int,
        positions: Sequence[Sequence[int]],
        tables: int = 1,
        init_std: float = 1e-2,
    ):
        super().__init__()
        if len(positions) != len(vocab_sizes):
            raise ValueError(f"positions has {len(positions)} fields, vocab_sizes {len(vocab_sizes)}")
        for i, pos in enumerate(positions):
            if any(not 0 <= p < dim for p in pos) or len(set(pos)) != len(pos):
                raise ValueError(f"positions of field {i} must be distinct values in [0, {dim}), got {list(pos)}")
        self.dim, self.tables, self.n_fields, self.sparse = dim, tables, len(vocab_sizes), False
        by_size: dict[int, list[int]] = {}
        for i, pos in enumerate(positions):
            if pos:
                by_size.setdefault(len(pos), []).append(i)
        self.groups = nn.ParameterList()
        source = torch.full((self.n_fields, tables, dim), -1, dtype=torch.long)  # -1: pruned (filled below)
        start = 0  # first column of the current group in the concatenation of all groups' rows
        for g, (size, members) in enumerate(sorted(by_size.items())):
            local = [vocab_sizes[i] for i in members]
            self.groups.append(nn.Parameter(torch.randn(sum(local), tables * size) * init_std))
            self.register_buffer(f"fields_{g}", torch.tensor(members, dtype=torch.long), persistent=False)
            self.register_buffer(f"offsets_{g}", _offsets(local), persistent=False)
            for m, i in enumerate(members):  # row layout (T, d_g): column t·d_g + r holds position φ_i[r] of table t
                for r, k in enumerate(sorted(positions[i])):
                    source[i, :, k] = start + m * tables * size + torch.arange(tables) * size + r
            start += len(members) * tables * size
        source[source < 0] = start  # the zero column appended after the last group
        self.register_buffer("source", source.flatten(), persistent=False)  # (F·T·d,)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.place(self.gathered(x))

    def gathered(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, F) -> (B, K + 1): every group's rows side by side (K kept entries), then one zero column."""
        B = x.shape[0]
        parts = [
            nn.functional.embedding(x[:, getattr(self, f"fields_{g}")] + getattr(self, f"offsets_{g}"), table,
                                    sparse=self.sparse).flatten(1)  # (B, F_g·T·d_g)
            for g, table in enumerate(self.groups)
        ]
        parts.append(x.new_zeros((B, 1), dtype=self.groups[0].dtype if len(self.groups) else torch.float32))
        return torch.cat(parts, dim=1)

    def place(self, gathered: torch.Tensor) -> torch.Tensor:
        """(B, K + 1) from ``gathered`` -> (B, F, T, d), each kept entry at its position, zeros elsewhere."""
        return gathered.index_select(1, self.source).view(len(gathered), self.n_fields, self.tables, self.dim)

    @property
    def n_embedding_params(self) -> int:
        return sum(t.numel() for t in self.groups)


TABLE_LAYERS = (FieldEmbedding, FieldLinear, PrunedFieldEmbedding)


def table_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The row-indexed tables of ``model`` (embeddings and first-order weights): the parameters that get sparse
    gradients when their layer's ``sparse`` is set; the first-order bias is not a table."""
    tables = []
    for m in model.modules():
        if isinstance(m, TABLE_LAYERS):
            tables += [m.weight] if isinstance(m, FieldEmbedding | FieldLinear) else list(m.groups)
    return tables


def set_sparse(model: nn.Module, sparse: bool) -> None:
    """Switch sparse row gradients on or off for every table layer of ``model``."""
    for m in model.modules():
        if isinstance(m, TABLE_LAYERS):
            m.sparse = sparse
