"""The four interaction functions of AIM (aim_reference.md §3), for any order p, all columns at once.

A *column* is one (interaction, function) pair: ``fields[c]`` holds the p field indices of column c and
``funcs[c]`` its function id (0 inner, 1 vector kernel, 2 scalar kernel, 3 outer). For an order-p interaction q:

    inner    Σ_k Π_m e_{q_m,k}                 (element-wise product of p vectors, summed)
    vkernel  Σ_k Π_m e_{q_m,k} · K_{c,k}       (a d-vector per column, init N(0, kernel_std²))
    skernel  s_c · Σ_k Π_m e_{q_m,k}           (a scalar per column)
    outer    Π_m (w_mᵀ e_{q_m})                (paper §4.2.3's approximation; w_1..w_p shared by all columns)

Function f reads table ``table_of_function[f]``: its own table with function-wise embeddings (FWE), table 0 for
all functions with a shared embedding (SE).
Columns are kept sorted by function, so each function is one contiguous block of scores; ``forward`` has no
Python loop over pairs or functions, only over the p members of an interaction:

- order 2, inner and skernel: Σ_k e_ik e_jk of every pair is an entry of the Gram matrix E Eᵀ of a table, so one
  batched matmul (B, T', F, F) per call and one ``index_select`` of the wanted entries replace two (B, C, d)
  gathers (the search stage has 276 pairs per function);
- vkernel, and inner / skernel of order >= 3: the members' rows are gathered with ``index_select`` on the
  (B, F·T, d) view of e, multiplied, weighted by K (or 1) and summed over d;
- outer: w_mᵀ e_f for every field and member (one matmul), then one ``index_select`` and p - 1 products.

``tests/test_models.py`` checks every path against a per-column loop of the definitions above.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from aim.model.names import FUNCTIONS

N_FUNCTIONS = len(FUNCTIONS)
INNER, VKERNEL, SKERNEL, OUTER = range(N_FUNCTIONS)


def sort_columns(fields: Sequence[Sequence[int]], funcs: Sequence[int]) -> list[int]:
    """Permutation that orders columns by (function, fields): the layout ``InteractionLayer`` expects."""
    return sorted(range(len(funcs)), key=lambda c: (funcs[c], tuple(fields[c])))


def _product(take: Callable[[int], torch.Tensor], order: int) -> torch.Tensor:
    """Π_m take(m) over the ``order`` members of every column: (B, C, d)."""
    prod = take(0)
    for m in range(1, order):
        prod = prod * take(m)
    return prod


def use_gram(columns: int, tables: int, n_fields: int, dim: int) -> bool:
    """Whether ``columns`` order-2 inner / skernel columns over ``tables`` tables are cheaper as entries of the Gram
    matrices than gathered pair by pair. Both paths are bound by memory traffic: the Gram path writes ``tables``·F·F
    scores per row (one batched matmul), the gather path moves C·d entries per row several times (two
    ``index_select`` of (B, C, d), their product, the sum). So the Gram path is taken when C·d ≥ ``tables``·F·F: a
    search stage's pool (hundreds of pairs) takes it, a re-trained selection of a few columns gathers
    (crossover measured by ``bench/bench_interactions.py``)."""
    return columns * dim >= tables * n_fields * n_fields


class InteractionLayer(nn.Module):
    """e (B, F, T, d) -> scores (B, C) of the given columns (order p, sorted by function)."""

    def __init__(
        self,
        fields: Sequence[Sequence[int]],
        funcs: Sequence[int],
        dim: int,
        table_of_function: Sequence[int],
        kernel_std: float = 1e-3,
        gram: bool | None = None,
        n_fields: int | None = None,
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
        # Order 2: inner and skernel columns come from Gram matrices when they are many; the gather path serves
        # the rest. ``gram`` None: by cost (``use_gram``); True / False force a path (the tests check both).
        gram_cols = torch.cat([torch.arange(self.n_inner), torch.arange(self.n_inner + self.n_vkernel, self.n_elem)])
        gram_tables = tables[gram_cols].unique()  # sorted tables that need a Gram matrix
        n_fields = int(fields_t.max()) + 1 if n_fields is None else n_fields  # F of e (None: a lower bound)
        auto = use_gram(len(gram_cols), len(gram_tables), n_fields, dim)
        self.gram = self.order == 2 and len(gram_cols) > 0 and (auto if gram is None else gram)
        gather_cols = torch.arange(self.n_inner, self.n_inner + self.n_vkernel) if self.gram else torch.arange(self.n_elem)
        self.register_buffer("gram_tables", gram_tables, persistent=False)  # (T',)
        self.register_buffer("gram_slot", torch.searchsorted(gram_tables, tables[gram_cols]), persistent=False)
        self.register_buffer("gram_fields", fields_t[gram_cols], persistent=False)  # (C_g, 2)
        self.register_buffer("gather_fields", fields_t[gather_cols], persistent=False)  # (C_x, p)
        self.register_buffer("gather_tables", tables[gather_cols], persistent=False)  # (C_x,)
        self.register_buffer("outer_fields", fields_t[self.n_elem :], persistent=False)  # (C_o, p)
        self.register_buffer("members", torch.arange(self.order), persistent=False)
        self.outer_table = int(table_of_function[OUTER])
        self.kernel = nn.Parameter(torch.randn(self.n_vkernel, dim) * kernel_std)
        self.scalar = nn.Parameter(torch.randn(self.n_skernel, 1) * kernel_std)
        self.outer_w = nn.Parameter(torch.randn(self.order, dim) * dim**-0.5)

    @property
    def n_columns(self) -> int:
        return self.n_elem + self.n_outer

    def product_width(self, dim: int) -> int:
        """Width of ``products``: d per element-wise column, 1 per outer column."""
        return self.n_elem * dim + self.n_outer

    def product_members(self) -> list[tuple[int, ...]]:
        """The fields of each column in the order ``products`` lays them out (element-wise columns, then outer)."""
        elem = self._elem_fields_tables()[0] if self.n_elem else torch.zeros(0, self.order, dtype=torch.long)
        return [tuple(f.tolist()) for f in elem] + [tuple(f.tolist()) for f in self.outer_fields]

    def products(self, e: torch.Tensor) -> torch.Tensor:
        """e (B, F, T, d) -> (B, n_elem·d + n_outer): what the published re-train MLP reads: per element-wise
        column the vector Π_m e_{q_m} (⊙ K for vkernel, · s for skernel), per outer column its scalar."""
        B, F, T, d = e.shape
        parts = []
        if self.n_elem:
            fields, tables = self._elem_fields_tables()
            flat = e.reshape(B, F * T, d)
            rows = fields * T + tables[:, None]  # (C_e, p)
            prod = _product(lambda m: flat.index_select(1, rows[:, m]), self.order)  # (B, C_e, d)
            scale = torch.cat([torch.ones(self.n_inner, d, dtype=e.dtype, device=e.device), self.kernel,
                               self.scalar.expand(self.n_skernel, d)])  # (C_e, d): 1, K or s per column
            parts.append((prod * scale).flatten(1))
        if self.n_outer:
            parts.append(self._outer(e))
        return (torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]).to(e.dtype)  # e's dtype, as forward

    def _elem_fields_tables(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Fields (C_e, p) and table (C_e,) of the element-wise columns in column order."""
        if not self.gram:
            return self.gather_fields, self.gather_tables
        n_in = self.n_inner
        gram_tables = self.gram_tables[self.gram_slot]
        fields = torch.cat([self.gram_fields[:n_in], self.gather_fields, self.gram_fields[n_in:]])
        tables = torch.cat([gram_tables[:n_in], self.gather_tables, gram_tables[n_in:]])
        return fields, tables

    def _outer(self, e: torch.Tensor) -> torch.Tensor:
        B = e.shape[0]
        proj = (e[:, :, self.outer_table] @ self.outer_w.T).flatten(1)  # (B, F·p): w_mᵀ e_f for every f, m
        picked = proj.index_select(1, (self.outer_fields * self.order + self.members).flatten())
        picked = picked.view(B, self.n_outer, self.order)  # (B, C_o, p): w_mᵀ e_{q_m} of each column
        outer = picked[:, :, 0]
        for m in range(1, self.order):
            outer = outer * picked[:, :, m]
        return outer

    @property
    def gathers_only(self) -> bool:
        """Every column comes from the members' rows (no Gram matrix, no outer product): ``from_rows`` can score
        the layer from any tensor holding those rows, e.g. the pruned tables' concatenation (``member_rows``)."""
        return not self.gram and not self.n_outer

    def member_rows(self, T: int) -> torch.Tensor:
        """(p, C) the row of each column's m-th member in the (B, F·T, d) view of e (gather path layout)."""
        return (self.gather_fields * T + self.gather_tables[:, None]).T

    def from_rows(self, take: Callable[[int], torch.Tensor]) -> torch.Tensor:
        """Scores of the gathered columns of a layer without a Gram path (all its element-wise columns); ``take(m)``
        gives the m-th members' vectors (B, C, d)."""
        prod = _product(take, self.order)
        n_in, n_vk = self.n_inner, self.n_vkernel
        parts = [prod[:, :n_in].sum(-1)] if n_in else []
        if n_vk:
            parts.append((prod[:, n_in : n_in + n_vk] * self.kernel).sum(-1))
        if self.n_skernel:
            parts.append(prod[:, n_in + n_vk :].sum(-1) * self.scalar.squeeze(1))
        return torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]

    def forward(self, e: torch.Tensor) -> torch.Tensor:
        B, F, T, d = e.shape
        flat = e.reshape(B, F * T, d)
        rows = self.member_rows(T)  # (p, C_x) row of each member in flat

        def take(m: int) -> torch.Tensor:  # loop over the p members of an interaction, not over pairs
            return flat.index_select(1, rows[m])  # (B, C_x, d)

        if self.gram:
            et = e.index_select(2, self.gram_tables).transpose(1, 2)  # (B, T', F, d)
            gram = torch.matmul(et, et.transpose(2, 3)).flatten(1)  # (B, T'·F·F): Σ_k e_ik e_jk per table
            i, j = self.gram_fields.unbind(1)
            scores = gram.index_select(1, (self.gram_slot * F + i) * F + j)  # (B, C_inner + C_skernel)
            parts = [scores[:, : self.n_inner]] if self.n_inner else []
            if self.n_vkernel:
                parts.append((_product(take, self.order) * self.kernel).sum(-1))  # (B, C_vkernel)
            if self.n_skernel:
                parts.append(scores[:, self.n_inner :] * self.scalar.squeeze(1))
        else:
            parts = [self.from_rows(take)] if self.n_elem else []
        if self.n_outer:
            parts.append(self._outer(e))
        # In e's dtype: under autocast the Gram and outer matmuls give bfloat16, which a layer of those columns
        # alone would otherwise hand on to ops that do not autocast (the gate's addmv).
        return (torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]).to(e.dtype)
