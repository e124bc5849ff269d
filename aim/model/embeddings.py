"""Embedding layers. Notation: B batch, F fields, T tables (m functions with FWE, 1 with SE), d embedding size.

``FieldEmbedding`` keeps every field in one table with per-field row offsets, T·d columns wide, so a single
gather serves all fields and all function-wise tables. ``PrunedFieldEmbedding`` is the re-train layer after
EDS (paper eq. 16-18): field i keeps d_i of the d positions φ_i and owns a physically smaller table; fields of
equal d_i share one table, and ``Map_i`` puts their columns back at positions φ_i with zeros elsewhere.
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
        self.dim, self.tables = dim, tables
        self.register_buffer("offsets", _offsets(vocab_sizes), persistent=False)
        self.weight = nn.Parameter(torch.randn(sum(vocab_sizes), tables * dim) * init_std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, F = x.shape
        return nn.functional.embedding(x + self.offsets, self.weight).view(B, F, self.tables, self.dim)


class FieldLinear(nn.Module):
    """First-order part Σ_f w[x_f] + b: x (B, F) -> (B,)."""

    def __init__(self, vocab_sizes: Sequence[int]):
        super().__init__()
        self.register_buffer("offsets", _offsets(vocab_sizes), persistent=False)
        self.weight = nn.Parameter(torch.zeros(sum(vocab_sizes), 1))
        self.bias = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.embedding(x + self.offsets, self.weight).sum(dim=(1, 2)) + self.bias


class PrunedFieldEmbedding(nn.Module):
    """Per-field retained positions -> physically smaller tables; output (B, F, T, d) with zeros at pruned dims.

    ``positions[i]`` lists the kept dimensions φ_i of field i (empty: the field keeps no embedding at all).
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
        self.dim, self.tables, self.n_fields = dim, tables, len(vocab_sizes)
        by_size: dict[int, list[int]] = {}
        for i, pos in enumerate(positions):
            if pos:
                by_size.setdefault(len(pos), []).append(i)
        self.groups = nn.ParameterList()
        for g, (size, members) in enumerate(sorted(by_size.items())):
            local = [vocab_sizes[i] for i in members]
            self.groups.append(nn.Parameter(torch.randn(sum(local), tables * size) * init_std))
            self.register_buffer(f"fields_{g}", torch.tensor(members, dtype=torch.long), persistent=False)
            self.register_buffer(f"offsets_{g}", _offsets(local), persistent=False)
            pos = torch.tensor([sorted(positions[i]) for i in members], dtype=torch.long)  # (F_g, d_g)
            self.register_buffer(f"positions_{g}", pos, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B = x.shape[0]
        out = x.new_zeros((B, self.n_fields, self.tables, self.dim), dtype=torch.float32)
        dest = out.permute(1, 3, 0, 2)  # (F, d, B, T): a view, so index_put_ writes into out
        for g, table in enumerate(self.groups):
            fields = getattr(self, f"fields_{g}")
            pos = getattr(self, f"positions_{g}")
            size = pos.shape[1]
            e = nn.functional.embedding(x[:, fields] + getattr(self, f"offsets_{g}"), table)
            e = e.view(B, len(fields), self.tables, size).permute(1, 3, 0, 2)  # (F_g, d_g, B, T)
            dest[fields[:, None].expand_as(pos), pos] = e
        return out

    @property
    def n_embedding_params(self) -> int:
        return sum(t.numel() for t in self.groups)
