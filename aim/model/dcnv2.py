"""DCN-V2 (Wang et al., WWW 2021): full-rank cross network (§"Cross Network") and a DNN, stacked or parallel
(§"Deep and Cross Combination").

x_{l+1} = x₀ ⊙ (W_l x_l + b_l) + x_l on x₀ = E flattened (B, F·d). Stacked: logit = DNN(x_L); parallel:
logit = wᵀ[x_L, DNN_hidden(x₀)] + b. Notation: B batch, F fields, d embedding size, D = F·d, L cross layers.

Differences from FuxiCTR's ``model_zoo/DCNv2`` (set them in a mirror):
- default ``structure="stacked"`` (FuxiCTR ``model_structure="parallel"``), and one ``mlp`` for either structure
  (FuxiCTR: ``stacked_dnn_hidden_units`` or ``parallel_dnn_hidden_units``); no low-rank mixture, no crossnet-only.
- the DNN layers: BatchNorm always (FuxiCTR ``batch_norm=True``), PyTorch's default Linear init (FuxiCTR xavier
  normal; the cross layers and the parallel output layer here are xavier normal too).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from aim.model.embeddings import FieldEmbedding
from aim.model.nets import DNN, MLP

STRUCTURES = ("stacked", "parallel")


class DCNv2(nn.Module):
    """x (B, F) field-local ids -> logits (B,). Stacked with ``mlp=()``: the cross network then Linear(1)."""

    def __init__(self, vocab_sizes: Sequence[int], dim: int, init_std: float, mlp: Sequence[int] = (400, 400, 400),
                 dropout: float = 0.2, cross_layers: int = 3, structure: str = "stacked"):
        super().__init__()
        if structure not in STRUCTURES:
            raise ValueError(f"structure must be one of {STRUCTURES}, got {structure!r}")
        if dim < 1 or (mlp and min(mlp) < 1) or not 0 <= dropout < 1:
            raise ValueError(f"need dim ≥ 1, positive mlp sizes, 0 ≤ dropout < 1; got {dim}, {list(mlp)}, {dropout}")
        if cross_layers < 1:
            raise ValueError(f"cross_layers must be ≥ 1, got {cross_layers}")
        if structure == "parallel" and not mlp:
            raise ValueError("the parallel structure needs a DNN: give mlp at least one hidden size")
        D = len(vocab_sizes) * dim
        self.structure = structure
        self.embedding = FieldEmbedding(vocab_sizes, dim, 1, init_std)
        self.cross = nn.ModuleList(nn.Linear(D, D) for _ in range(cross_layers))  # W_l, b_l
        for layer in self.cross:  # init as FuxiCTR's; the paper gives none
            nn.init.xavier_normal_(layer.weight)
            nn.init.zeros_(layer.bias)
        if structure == "stacked":
            self.mlp = MLP(D, mlp, dropout)  # hidden layers then Linear(1)
        else:
            self.dnn = DNN(D, mlp, dropout)
            self.output = nn.Linear(D + mlp[-1], 1)
            nn.init.xavier_normal_(self.output.weight)
            nn.init.zeros_(self.output.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x0 = self.embedding(x)[:, :, 0].flatten(1)  # (B, D)
        xl = x0
        for layer in self.cross:
            xl = x0 * layer(xl) + xl  # (B, D)
        if self.structure == "stacked":
            return self.mlp(xl)  # (B,)
        return self.output(torch.cat([xl, self.dnn(x0)], dim=1)).squeeze(-1)  # (B,)
