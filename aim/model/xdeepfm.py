"""xDeepFM (Lian et al., KDD 2018): linear + CIN + DNN, §"Compressed Interaction Network" and §"Combination with
Implicit Networks".

logit = <w, x> + w_cinᵀ p⁺ + DNN(E). Notation: B batch, F fields, d embedding size, H_k feature maps of CIN
layer k, X⁰ = E (B, F, d) the field embeddings.

Differences from FuxiCTR's ``model_zoo/xDeepFM`` (set them in a mirror):
- ``split_half`` (default on, as the authors' code): FuxiCTR's CIN has no split, every map of every layer goes both
  to the next layer and to the output; ``split_half=False`` here is FuxiCTR's CIN.
- the DNN is ``nets.MLP``: BatchNorm always (FuxiCTR ``batch_norm=True``), PyTorch's default Linear init (FuxiCTR
  xavier normal); the output bias sits in ``FieldLinear``, FuxiCTR's in the CIN output Linear (same count).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from aim.model.embeddings import FieldEmbedding, FieldLinear
from aim.model.nets import MLP


class CIN(nn.Module):
    """Compressed interaction network: X⁰ (B, F, d) -> p⁺ (B, P), the sum over d of every map sent to the output.

    Layer k: X^k_h = Σ_i Σ_j W^{k,h}_{ij} (X^{k-1}_i ∘ X⁰_j) + b^k_h, a 1×1 convolution over the H_{k-1}·F outer
    products (channel i·F + j; the bias and identity activation as the authors' code; ``convs`` hold W and b).
    With ``split_half`` every layer but the last passes its first H_k/2 maps on and sends the other H_k/2 to the
    output.
    """

    def __init__(self, n_fields: int, layers: Sequence[int], split_half: bool):
        super().__init__()
        if not layers or min(layers) < 1:
            raise ValueError(f"cin must list at least one positive layer size, got {list(layers)}")
        if split_half and any(h % 2 for h in layers[:-1]):
            raise ValueError(f"split_half needs even sizes for every CIN layer but the last, got {list(layers)}")
        self.convs = nn.ModuleList()
        self.passed: list[int] = []  # maps X^k passes on to layer k + 1
        self.first_direct: list[int] = []  # maps [first_direct:] go to the output
        maps = n_fields
        for k, h in enumerate(layers):
            conv = nn.Conv1d(maps * n_fields, h, kernel_size=1)
            nn.init.xavier_normal_(conv.weight)  # init as FuxiCTR's (the paper gives none)
            nn.init.zeros_(conv.bias)
            self.convs.append(conv)
            if not split_half:
                maps, first_direct = h, 0  # every map both ways
            elif k == len(layers) - 1:
                maps, first_direct = 0, 0  # the last layer sends all to the output
            else:
                maps, first_direct = h // 2, h // 2
            self.passed.append(maps)
            self.first_direct.append(first_direct)
        self.out_dim = sum(h - s for h, s in zip(layers, self.first_direct))

    def forward(self, x0: torch.Tensor) -> torch.Tensor:
        """Each layer a ``Conv1d`` over (B, H_{k-1}·F, d). Written as one GEMM over the batch, W (H_k, H_{k-1}·F) @
        Z (H_{k-1}·F, B·d), it trained 4-12% faster but peaked at 4,474 MiB in the peers benchmark, above FuxiCTR's
        3,377 (``Conv1d``: 3,068), and inferred 22% slower at batch 10,000: docs/benchmarks.md, xDeepFM."""
        B, F, d = x0.shape
        xk, pooled = x0, []  # xk: (B, H_{k-1}, d)
        for conv, passed, first_direct in zip(self.convs, self.passed, self.first_direct):
            z = (xk[:, :, None, :] * x0[:, None, :, :]).view(B, -1, d)  # (B, H_{k-1}·F, d): X^{k-1}_i ∘ X⁰_j
            maps = conv(z)  # (B, H_k, d)
            pooled.append(maps[:, first_direct:].sum(-1))  # (B, H_k - first_direct): sum pooling over d
            xk = maps[:, :passed]  # (B, passed, d)
        return torch.cat(pooled, dim=1)  # (B, P)


class XDeepFM(nn.Module):
    """x (B, F) field-local ids -> logits (B,). ``mlp=()``: no DNN (linear + CIN only)."""

    def __init__(self, vocab_sizes: Sequence[int], dim: int, init_std: float, mlp: Sequence[int] = (400, 400, 400),
                 dropout: float = 0.2, cin: Sequence[int] = (200, 200, 200), split_half: bool = True):
        super().__init__()
        if dim < 1 or (mlp and min(mlp) < 1) or not 0 <= dropout < 1:
            raise ValueError(f"need dim ≥ 1, positive mlp sizes, 0 ≤ dropout < 1; got {dim}, {list(mlp)}, {dropout}")
        F = len(vocab_sizes)
        self.embedding = FieldEmbedding(vocab_sizes, dim, 1, init_std)
        self.linear = FieldLinear(vocab_sizes)
        self.cin = CIN(F, cin, split_half)
        self.cin_output = nn.Linear(self.cin.out_dim, 1, bias=False)  # w_cin; the bias b is FieldLinear's
        nn.init.xavier_normal_(self.cin_output.weight)
        self.mlp = MLP(F * dim, mlp, dropout) if mlp else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e = self.embedding(x)[:, :, 0]  # (B, F, d)
        logit = self.linear(x) + self.cin_output(self.cin(e)).squeeze(-1)  # (B,)
        if self.mlp is not None:
            logit = logit + self.mlp(e.flatten(1))
        return logit
