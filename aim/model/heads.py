"""The re-train heads: what the MLP of AIM's final model reads (``model.head``), one class each.

Notation: B batch, F fields, T embedding tables, d embedding size. ``kept`` (F, d) marks the embedding dimensions
EDS kept (all True without EDS); the MLP reads only inputs that exist, so each head also says which of its inputs
can be non-zero (``mask``).

- ``embeddings``: every table's copy of every field, e (B, F·T·d), as the paper's re-train (Fig. 6);
- ``summed``: each field's tables added up, (B, F·d), the input DeepFM's MLP has;
- ``products``: the kept columns' element-wise products (e_i ⊙ e_j, ⊙ K, · s, the outer scalars), as the
  published code, which also scales each part of the logit by a learnable weight (``scaled``).
"""

from __future__ import annotations

import torch
from torch import nn

from aim.model import names


class Head:
    name = ""
    raw = True  # reads the raw embeddings of every field: a field no kept column reads still feeds it
    scaled = False  # the published head: w₀·first order + Σ_orders w_p·columns + w_mlp·MLP, w learnable
    concatenates = False  # its inputs are the pruned tables' kept entries themselves (AIM's eval fast path)

    def mask(self, kept: torch.Tensor, tables: int, interactions: nn.ModuleList) -> torch.Tensor:
        """(n_inputs,) bool: which of the head's inputs exist (the others are always zero)."""
        raise NotImplementedError

    def inputs(self, e: torch.Tensor, interactions: nn.ModuleList) -> torch.Tensor:
        """The MLP's input (B, n_inputs) from the embeddings e (B, F, T, d)."""
        raise NotImplementedError


class Embeddings(Head):
    name = "embeddings"
    concatenates = True

    def mask(self, kept: torch.Tensor, tables: int, interactions: nn.ModuleList) -> torch.Tensor:
        F, d = kept.shape
        return kept[:, None, :].expand(F, tables, d).flatten()  # (F·T·d,)

    def inputs(self, e: torch.Tensor, interactions: nn.ModuleList) -> torch.Tensor:
        return e.flatten(1)  # (B, F·T·d)


class Summed(Head):
    name = "summed"

    def mask(self, kept: torch.Tensor, tables: int, interactions: nn.ModuleList) -> torch.Tensor:
        return kept.flatten()  # (F·d,)

    def inputs(self, e: torch.Tensor, interactions: nn.ModuleList) -> torch.Tensor:
        return e.sum(2).flatten(1)  # (B, F·d)


class Products(Head):
    name = "products"
    raw = False
    scaled = True

    def mask(self, kept: torch.Tensor, tables: int, interactions: nn.ModuleList) -> torch.Tensor:
        # Per column its product vector: a dimension lives where every member field keeps it; outer: a scalar.
        flags: list[torch.Tensor] = []
        for layer in interactions:
            members = layer.product_members()
            flags += [kept[list(q)].all(0) for q in members[: layer.n_elem]]
            flags += [torch.ones(1, dtype=torch.bool)] * layer.n_outer
        return torch.cat(flags) if flags else torch.zeros(0, dtype=torch.bool)

    def inputs(self, e: torch.Tensor, interactions: nn.ModuleList) -> torch.Tensor:
        return torch.cat([layer.products(e) for layer in interactions], dim=1)  # (B, Σ n_elem·d + n_outer)


HEADS: dict[str, Head] = {h.name: h for h in (Embeddings(), Summed(), Products())}
assert tuple(HEADS) == names.HEADS, "aim.model.names.HEADS lists the heads defined here"


def get(name: str) -> Head:
    try:
        return HEADS[name]
    except KeyError:
        raise ValueError(f"unknown head {name!r}; choose one of: {', '.join(HEADS)}") from None

