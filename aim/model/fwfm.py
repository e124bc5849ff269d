"""FwFM, the field-weighted factorization machine (Pan et al., WWW 2018): the FwFM equation with "LW" linear terms.

logit = <w, x> + Σ_{i<j} <e_i, e_j> r_{F(i),F(j)}: an FM whose pair (i, j) of fields has its own learnable weight r;
LW is the paper's scalar weight per feature (FeLV and FiLV, its embedding-based variants, are not built here).
Notation: B batch, F fields, d embedding size, P = F(F-1)/2 field pairs.

Differences from FuxiCTR's ``model_zoo/FwFM`` (set them in a mirror):
- linear term LW only (FuxiCTR default ``linear_type="FiLV"``: set ``"LW"``); its weights start at zero
  (``FieldLinear``), FuxiCTR's at its embedding initialiser.
- the global bias sits in ``FieldLinear`` instead of the pair-weight ``Linear``; same count, same function.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from aim.model.embeddings import FieldEmbedding, FieldLinear
from aim.model.nets import all_pairs


class FwFM(nn.Module):
    """x (B, F) field-local ids -> logits (B,). ``mlp`` and ``dropout`` exist for the common signature of the
    baselines: FwFM has no DNN, so ``mlp`` must be empty and ``dropout`` is unused."""

    def __init__(self, vocab_sizes: Sequence[int], dim: int, init_std: float, mlp: Sequence[int] = (),
                 dropout: float = 0.0):
        super().__init__()
        if mlp:
            raise ValueError(f"FwFM has no DNN: mlp must be empty, got {list(mlp)}")
        if dim < 1:
            raise ValueError(f"dim must be positive, got {dim}")
        F = len(vocab_sizes)
        self.linear = FieldLinear(vocab_sizes)
        self.embedding = FieldEmbedding(vocab_sizes, dim, 1, init_std)
        # <e_i, e_j> of the k-th pair (i, j), i < j in row-major order, is entry i·F + j of the flattened E Eᵀ.
        pairs = all_pairs(F)
        self.register_buffer("pairs", torch.tensor([i * F + j for i, j in pairs], dtype=torch.long), persistent=False)
        # r_k: the weight of the k-th pair. The paper gives no initialiser; FuxiCTR's (xavier normal of a
        # (1, P) Linear) is N(0, 2 / (P + 1)).
        self.pair_weight = nn.Parameter(torch.randn(len(pairs)) * (2 / (len(pairs) + 1)) ** 0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e = self.embedding(x)[:, :, 0]  # (B, F, d)
        products = torch.bmm(e, e.transpose(1, 2)).flatten(1).index_select(1, self.pairs)  # (B, P)
        return self.linear(x) + products @ self.pair_weight  # (B,)
