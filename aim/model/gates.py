"""Architecture gates (paper §3.2-3.6, aim_reference.md §2, §5).

``InteractionGate``: every (interaction, function) column passes a BatchNorm without affine parameters, then
is multiplied by its raw gate α (no sigmoid): BN removes the α-scale coupling of paper §3.6, so |α| measures a
column's contribution and GRDA can drive useless ones to exact zeros.

``DimensionGate``: EDS gates β (F, d), shared by the function-wise tables of a field (paper §3.4), applied to
batch-normalised embeddings during the search-embed stage. In that stage the columns are summed *without* their
BN and α (``InteractionGate(..., searching_dims=True)``), as in the published code, where the column BN and α
exist only while α is searched or re-trained: a BN after the columns would divide out any common scale of a
field's β (a field's gates could then shrink together at no cost to the loss, and GRDA's threshold would prune
dimensions by noise, not by use). This is the "BN coupling" that forbids searching α and β at once.
"""

from __future__ import annotations

import torch
from torch import nn


def uniform_gate(shape: tuple[int, ...], centre: float) -> torch.Tensor:
    """Uniform(centre - 0.001, centre + 0.001), the published init of α and β."""
    return torch.empty(shape).uniform_(centre - 1e-3, centre + 1e-3)


class InteractionGate(nn.Module):
    """scores (B, C) -> gated (B, C) = α ⊙ BN(scores); with ``searching_dims`` (the search-embed stage, where
    the columns are a fixed selection and β is what is searched) the scores pass unchanged: no BN, no α."""

    def __init__(self, n_columns: int, alpha_init: float = 0.6, eps: float = 1e-3, momentum: float = 0.01,
                 searching_dims: bool = False):
        super().__init__()
        self.searching_dims = searching_dims
        if not searching_dims:
            self.bn = nn.BatchNorm1d(n_columns, affine=False, eps=eps, momentum=momentum)
            self.alpha = nn.Parameter(uniform_gate((n_columns,), alpha_init))

    def forward(self, scores: torch.Tensor) -> torch.Tensor:
        if self.searching_dims:
            return scores
        return self.bn(scores) * self.alpha

    def total(self, scores: torch.Tensor) -> torch.Tensor:
        """scores (B, C) -> Σ_c of the gated columns (B,). Eval mode with running statistics: one matrix-vector
        product, Σ_c (x_c - μ_c) · α_c / √(σ²_c + ε) = x · w - μ · w, instead of a BN pass, a product and a sum
        over (B, C) (equal up to float rounding, test)."""
        if self.searching_dims or self.training:
            return self(scores).sum(-1)
        w = self.alpha * torch.rsqrt(self.bn.running_var + self.bn.eps)
        return torch.addmv(-(self.bn.running_mean * w).sum(), scores, w)


class DimensionGate(nn.Module):
    """e (B, F, T, d) -> β_f ⊙ BN(e), with β (F, d) shared across the T tables of a field."""

    def __init__(self, n_fields: int, tables: int, dim: int, beta_init: float = 0.6, eps: float = 1e-3,
                 momentum: float = 0.01):
        super().__init__()
        self.bn = nn.BatchNorm1d(n_fields * tables * dim, affine=False, eps=eps, momentum=momentum)
        self.beta = nn.Parameter(uniform_gate((n_fields, dim), beta_init))

    def forward(self, e: torch.Tensor) -> torch.Tensor:
        B, F, T, d = e.shape
        return self.bn(e.reshape(B, -1)).view(B, F, T, d) * self.beta[:, None, :]
