"""The four interaction functions of AIM (aim_reference.md §3), for any order p, all columns at once.

A *column* is one (interaction, function) pair: ``fields[c]`` holds the p field indices of column c and
``funcs[c]`` its function id (0 inner, 1 vector kernel, 2 scalar kernel, 3 outer). For an order-p interaction q:

    inner    Σ_k Π_m e_{q_m,k}                 (element-wise product of p vectors, summed)
    vkernel  Σ_k Π_m e_{q_m,k} · K_{c,k}       (a d-vector per column, init N(0, kernel_std²))
    skernel  s_c · Σ_k Π_m e_{q_m,k}           (a scalar per column)
    outer    Π_m (w_mᵀ e_{q_m})                (paper §4.2.3's approximation; w_1..w_p shared by all columns)

Function f reads table ``table_of_function[f]``: its own table with function-wise embeddings (FWE), table 0 for
all functions with a shared embedding (SE).
Columns are kept sorted by function, so the three element-wise functions reduce to one weighted sum with a
(C_e, d) weight matrix built from ones, K and s: no Python loop over pairs or functions in ``forward``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

N_FUNCTIONS = 4
INNER, VKERNEL, SKERNEL, OUTER = range(N_FUNCTIONS)


def sort_columns(fields: Sequence[Sequence[int]], funcs: Sequence[int]) -> list[int]:
    """Permutation that orders columns by (function, fields): the layout ``InteractionLayer`` expects."""
    return sorted(range(len(funcs)), key=lambda c: (funcs[c], tuple(fields[c])))


class InteractionLayer(nn.Module):
    """e (B, F, T, d) -> scores (B, C) of the given columns (order p, sorted by function)."""

    def __init__(
        self,
        fields: Sequence[Sequence[int]],
        funcs: Sequence[int],
        dim: int,
        table_of_function: Sequence[int],
        kernel_std: float = 1e-3,
    ):
        super().__init__()
        if len(fields) != len(funcs) or not fields:
            raise ValueError(f"need one function per column and >= 1 column, got {len(fields)} and {len(funcs)}")
        orders = {len(f) for f in fields}
        if len(orders) != 1 or min(orders) < 2:
            raise ValueError(f"all columns must share one order >= 2, got orders {sorted(orders)}")
        if list(funcs) != sorted(funcs) or not set(funcs) <= set(range(N_FUNCTIONS)):
            raise ValueError("funcs must be sorted function ids in 0..3 (use sort_columns)")
        self.order = orders.pop()
        funcs_t = torch.tensor(list(funcs), dtype=torch.long)
        counts = torch.bincount(funcs_t, minlength=N_FUNCTIONS).tolist()
        self.n_inner, self.n_vkernel, self.n_skernel, self.n_outer = counts
        self.n_elem = self.n_inner + self.n_vkernel + self.n_skernel
        fields_t = torch.tensor([list(f) for f in fields], dtype=torch.long)  # (C, p)
        tables = torch.tensor(list(table_of_function), dtype=torch.long)[funcs_t]  # which table each column reads
        self.register_buffer("elem_fields", fields_t[: self.n_elem], persistent=False)  # (C_e, p)
        self.register_buffer("elem_tables", tables[: self.n_elem], persistent=False)  # (C_e,)
        self.register_buffer("outer_fields", fields_t[self.n_elem :], persistent=False)  # (C_o, p)
        self.outer_table = int(table_of_function[OUTER])
        self.register_buffer("inner_weight", torch.ones(self.n_inner, dim), persistent=False)
        self.kernel = nn.Parameter(torch.randn(self.n_vkernel, dim) * kernel_std)
        self.scalar = nn.Parameter(torch.randn(self.n_skernel, 1) * kernel_std)
        self.outer_w = nn.Parameter(torch.randn(self.order, dim) * dim**-0.5)

    @property
    def n_columns(self) -> int:
        return self.n_elem + self.n_outer

    def forward(self, e: torch.Tensor) -> torch.Tensor:
        parts = []
        if self.n_elem:
            prod = e[:, self.elem_fields[:, 0], self.elem_tables]  # (B, C_e, d)
            for m in range(1, self.order):  # loop over the p members of an interaction, not over pairs
                prod = prod * e[:, self.elem_fields[:, m], self.elem_tables]
            weight = torch.cat(
                [self.inner_weight, self.kernel, self.scalar.expand(-1, self.inner_weight.shape[1])], dim=0
            )  # (C_e, d)
            parts.append(torch.einsum("bcd,cd->bc", prod, weight))
        if self.n_outer:
            proj = e[:, :, self.outer_table] @ self.outer_w.T  # (B, F, p): w_mᵀ e_f for every field and m
            members = torch.arange(self.order, device=e.device)
            parts.append(proj[:, self.outer_fields, members].prod(dim=-1))  # (B, C_o)
        return torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
