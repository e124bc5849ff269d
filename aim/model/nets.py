"""The networks: FM, DeepFM, IPNN (baselines, paper §3.1 eq. 4-10) and AIM (paper Fig. 3-6).

Notation: B batch, F fields, T embedding tables (FWE: one per used function; SE: 1), d embedding size,
C gated (interaction, function) columns. Every ``forward`` reads like the paper's figure and returns logits (B,).
Modules are pure: no device choice, optimiser or I/O here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch
from torch import nn

from aim.model import heads
from aim.model.embeddings import FieldEmbedding, FieldLinear, PrunedFieldEmbedding
from aim.model.gates import DimensionGate, InteractionGate
from aim.model.interactions import N_FUNCTIONS, InteractionLayer


class Dropout(nn.Dropout):
    """``nn.Dropout`` with its mask drawn as uniform numbers ≥ p (the same Bernoulli(1 - p) keep mask, scaled by
    1 / (1 - p)): torch's CPU ``bernoulli_`` took 14-20 % of a DeepFM or AIM training step at batch 256, the
    uniform draw 2-3 times less (``bench/bench_selected.py RUN --profile-steps 30 --baseline-ref f029d3e``)."""

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return h
        if self.p == 1:
            return h * 0
        keep = (torch.rand_like(h) >= self.p).to(h.dtype).mul_(1 / (1 - self.p))
        return h.mul_(keep) if self.inplace else h * keep


def hidden_layers(in_dim: int, hidden: Sequence[int], dropout: float) -> list[nn.Module]:
    """Linear -> BatchNorm -> ReLU -> Dropout per hidden size: (B, in) -> (B, hidden[-1])."""
    layers: list[nn.Module] = []
    for h in hidden:
        layers += [nn.Linear(in_dim, h), nn.BatchNorm1d(h), nn.ReLU(), Dropout(dropout)]
        in_dim = h
    return layers


class DNN(nn.Sequential):
    """The hidden layers alone, for a network whose DNN feeds a shared output (DCN-V2 parallel)."""

    def __init__(self, in_dim: int, hidden: Sequence[int], dropout: float):
        super().__init__(*hidden_layers(in_dim, hidden, dropout))


class MLP(nn.Module):
    """Linear -> BatchNorm -> ReLU -> Dropout per hidden layer, then a linear output: (B, in) -> (B,)."""

    def __init__(self, in_dim: int, hidden: Sequence[int], dropout: float):
        super().__init__()
        layers = hidden_layers(in_dim, hidden, dropout)
        layers.append(nn.Linear(hidden[-1] if hidden else in_dim, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, h: torch.Tensor, first_columns: torch.Tensor | None = None) -> torch.Tensor:
        """``first_columns`` (eval mode only): the input is ``h`` with its columns in this order, i.e. the first
        layer reads column c of ``h`` with weight column ``first_columns[c]`` (saves gathering ``h`` into order)."""
        if self.training:
            if first_columns is not None:
                raise ValueError("first_columns is an eval-mode fast path")
            return self.net(h).squeeze(-1)
        return self._folded(h, first_columns)

    def _folded(self, h: torch.Tensor, first_columns: torch.Tensor | None = None) -> torch.Tensor:
        """Eval mode: each BatchNorm folded into the Linear before it, W' = s·W and b' = s·(b - μ) + β with
        s = γ / √(σ² + ε) from the running statistics: one ``addmm`` per hidden layer instead of an ``addmm`` and a
        normalising pass over (B, h) (dropout is the identity). Equal to ``net`` up to float rounding (test)."""
        layers = list(self.net)
        for k in range(0, len(layers) - 1, 4):
            linear, bn = layers[k], layers[k + 1]
            w = linear.weight if k or first_columns is None else linear.weight.index_select(1, first_columns)
            s = bn.weight * torch.rsqrt(bn.running_var + bn.eps)
            h = torch.addmm((linear.bias - bn.running_mean) * s + bn.bias, h, (w * s[:, None]).T).relu_()
        return layers[-1](h).squeeze(-1)


def reinit_dnn(model: nn.Module) -> nn.Module:
    """FuxiCTR's DNN init (``model.dnn_init = xavier``): every linear layer of the model's MLPs and DNNs re-drawn
    xavier-normal with zero biases; the rest keeps its own init."""
    for dnn in (m for m in model.modules() if isinstance(m, MLP | DNN)):
        for layer in dnn.modules():
            if isinstance(layer, nn.Linear):
                nn.init.xavier_normal_(layer.weight)
                nn.init.zeros_(layer.bias)
    return model


def all_pairs(n_fields: int) -> list[tuple[int, int]]:
    return [(i, j) for i in range(n_fields) for j in range(i + 1, n_fields)]


def _transferred(columns: Sequence | None, dim: int, n_fields: int) -> nn.ModuleList | None:
    """Interaction layers over one shared table for interaction-IF columns taken from an AIM run (paper §4.6)."""
    if not columns:
        return None
    return nn.ModuleList(InteractionLayer([tuple(f) for f in fields], funcs, dim, [0] * N_FUNCTIONS, n_fields=n_fields)
                         for fields, funcs in columns)


class FM(nn.Module):
    """ŷ = σ(<w, x> + Σ_{i<j} <e_i, e_j>) (eq. 4, 8); DeepFM adds MLP(E) in parallel (eq. 9).

    ``columns`` (transfer): the interaction term sums the given (interaction, function) columns instead of the
    inner products of all pairs.
    """

    def __init__(self, vocab_sizes: Sequence[int], dim: int, init_std: float, mlp: Sequence[int] = (),
                 dropout: float = 0.0, columns: Sequence | None = None):
        super().__init__()
        self.linear = FieldLinear(vocab_sizes)
        self.embedding = FieldEmbedding(vocab_sizes, dim, 1, init_std)
        self.transfer = _transferred(columns, dim, len(vocab_sizes))
        self.mlp = MLP(len(vocab_sizes) * dim, mlp, dropout) if mlp else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e4 = self.embedding(x)  # (B, F, 1, d)
        e = e4[:, :, 0]  # (B, F, d)
        if self.transfer is None:
            # Σ_{i<j} <e_i, e_j> = ½ (‖Σ_i e_i‖² - Σ_i ‖e_i‖²): O(F d) instead of O(F² d).
            fm = 0.5 * (e.sum(1).pow(2) - e.pow(2).sum(1)).sum(-1)
        else:
            fm = sum(layer(e4).sum(-1) for layer in self.transfer)
        logit = self.linear(x) + fm
        if self.mlp is not None:
            logit = logit + self.mlp(e.flatten(1))
        return logit


class IPNN(nn.Module):
    """ŷ = σ(MLP([E, <e_i, e_j> for all pairs])) (eq. 10); with ``columns`` (transfer) the product layer holds
    the given interaction-IF columns instead."""

    def __init__(self, vocab_sizes: Sequence[int], dim: int, init_std: float, mlp: Sequence[int], dropout: float,
                 columns: Sequence | None = None):
        super().__init__()
        self.embedding = FieldEmbedding(vocab_sizes, dim, 1, init_std)
        F = len(vocab_sizes)
        pairs = all_pairs(F)
        # <e_i, e_j> of pair (i, j) is entry i·F + j of the flattened Gram matrix E Eᵀ.
        self.register_buffer("pairs", torch.tensor([i * F + j for i, j in pairs], dtype=torch.long), persistent=False)
        self.transfer = _transferred(columns, dim, len(vocab_sizes))
        n_products = sum(len(funcs) for _, funcs in columns) if columns else len(pairs)
        self.mlp = MLP(len(vocab_sizes) * dim + n_products, mlp, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e4 = self.embedding(x)  # (B, F, 1, d)
        e = e4[:, :, 0]  # (B, F, d)
        if self.transfer is None:
            products = torch.bmm(e, e.transpose(1, 2)).flatten(1).index_select(1, self.pairs)  # (B, P)
        else:
            products = torch.cat([layer(e4) for layer in self.transfer], dim=1)  # (B, C)
        return self.mlp(torch.cat([e.flatten(1), products], dim=1))


@dataclass(frozen=True)
class AIMSpec:
    """Everything needed to rebuild an AIM network; stored in the run next to its weights.

    ``blocks``: one entry per interaction order, ``(fields, funcs)`` with ``fields[c]`` the field indices and
    ``funcs[c]`` the function id of column c, sorted by function (``interactions.sort_columns``).
    ``positions``: per field, the embedding dimensions kept by EDS (None: all d, the search stages).
    """

    vocab_sizes: tuple[int, ...]
    dim: int
    shared_embedding: bool
    blocks: tuple[tuple[tuple[tuple[int, ...], ...], tuple[int, ...]], ...]
    positions: tuple[tuple[int, ...], ...] | None = None
    search_dims: bool = False
    mlp: tuple[int, ...] = ()
    dropout: float = 0.0
    init_std: float = 1e-2
    alpha_init: float = 0.6
    bn_eps: float = 1e-3
    bn_momentum: float = 0.01
    head: str = "embeddings"  # MLP input: all tables' embeddings, their sum per field, or the columns' products

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> AIMSpec:
        d = dict(d)
        d["vocab_sizes"] = tuple(d["vocab_sizes"])
        d["blocks"] = tuple(
            (tuple(tuple(f) for f in fields), tuple(funcs)) for fields, funcs in d["blocks"]
        )
        if d.get("positions") is not None:
            d["positions"] = tuple(tuple(p) for p in d["positions"])
        d["mlp"] = tuple(d.get("mlp", ()))
        return cls(**d)

    @property
    def used_functions(self) -> list[int]:
        return sorted({f for _, funcs in self.blocks for f in funcs})


class AIM(nn.Module):
    """logit = <w, x> + Σ_orders Σ_c α_c BN(f_c(e)) [+ MLP(E) in re-train]  (paper eq. 14, Fig. 6).

    Search interaction-IF: all candidate columns, no MLP, GRDA on α. Search embed: the kept columns, summed
    without their BN and α, over the EDS gate β ⊙ BN(e), GRDA on β. Re-train: kept columns, ``PrunedFieldEmbedding``
    and the MLP.
    """

    def __init__(self, spec: AIMSpec):
        super().__init__()
        self.spec = spec
        self.head = heads.get(spec.head)
        used = spec.used_functions
        # FWE: one table per function actually used (aim-ifs-eds needs only the inner-product table).
        table_of = {f: (0 if spec.shared_embedding else used.index(f)) for f in used}
        # No column kept (small data, strong sparsity): no function needs a table, but an MLP over the embeddings
        # still reads one, as DeepFM's does; without it the model would fall back to logistic regression.
        tables = 1 if spec.shared_embedding or (not used and spec.mlp and self.head.raw) else len(used)
        F = len(spec.vocab_sizes)
        self.linear = FieldLinear(spec.vocab_sizes)
        if spec.positions is None:
            self.embedding = FieldEmbedding(spec.vocab_sizes, spec.dim, tables, spec.init_std)
        else:
            self.embedding = PrunedFieldEmbedding(spec.vocab_sizes, spec.dim, spec.positions, tables, spec.init_std)
        self.dim_gate = (
            DimensionGate(F, tables, spec.dim, spec.alpha_init, spec.bn_eps, spec.bn_momentum)
            if spec.search_dims else None
        )
        self.interactions = nn.ModuleList()
        self.gates = nn.ModuleList()
        for fields, funcs in spec.blocks:
            order = len(fields[0])
            self.interactions.append(
                InteractionLayer(fields, funcs, spec.dim, [table_of.get(f, 0) for f in range(N_FUNCTIONS)],
                                 n_fields=F)
            )
            eps = 1e-10 if order == 4 else spec.bn_eps  # aim_reference.md §2: the 4th-order BN uses eps 1e-10
            self.gates.append(InteractionGate(len(funcs), spec.alpha_init, eps, spec.bn_momentum, spec.search_dims))
        # The MLP reads only inputs that exist: with EDS, pruned dimensions are always zero.
        kept = torch.zeros(F, spec.dim, dtype=torch.bool)
        for i, pos in enumerate(spec.positions or [range(spec.dim)] * F):
            kept[i, list(pos)] = True
        mask = self.head.mask(kept, tables, self.interactions)
        # output_w (the products head, published code): a learnable scale of each part of the logit: first order,
        # each order's columns, the MLP.
        self.output_w = nn.Parameter(torch.ones(len(spec.blocks) + 2)) if self.head.scaled else None
        self.register_buffer("mlp_inputs", mask.nonzero().squeeze(1), persistent=False)
        self.mlp_reads_all = bool(mask.all())
        self.mlp = MLP(len(self.mlp_inputs), spec.mlp, spec.dropout) if spec.mlp and len(self.mlp_inputs) else None
        # Eval fast path of the embeddings head over pruned tables: the MLP's inputs are exactly the K kept entries
        # that PrunedFieldEmbedding gathers side by side, in another order; the first layer then reads that
        # concatenation directly with its weight columns reordered (no gather of e back into the MLP's order).
        order = None
        if (self.mlp is not None and self.head.concatenates and not spec.search_dims and not self.mlp_reads_all
                and isinstance(self.embedding, PrunedFieldEmbedding)):
            concat_column = self.embedding.source[self.mlp_inputs]  # MLP input j = concatenation column
            if torch.equal(concat_column.sort().values, torch.arange(len(concat_column))):
                order = concat_column.argsort()
        self.register_buffer("mlp_order", order, persistent=False)
        # ... and when every column is scored from its members' rows (few order-2 pairs, higher orders; no Gram
        # matrix, no outer product), the columns too read that concatenation, through the entries ``source`` maps
        # each member's d positions to (pruned ones to its zero column): e is never placed (B, F·T·d) at all.
        self.reads_gathered = order is not None and all(layer.gathers_only for layer in self.interactions)
        if self.reads_gathered:
            source = self.embedding.source.view(F * self.embedding.tables, spec.dim)
            for k, layer in enumerate(self.interactions):
                rows = layer.member_rows(self.embedding.tables)  # (p, C)
                self.register_buffer(f"gathered_rows_{k}", source[rows].flatten(1), persistent=False)  # (p, C·d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gathered = None
        if self.mlp_order is not None and not self.training:
            gathered = self.embedding.gathered(x)  # (B, K + 1)
            placed = len(self.interactions) and not self.reads_gathered  # only columns that need e read it
            e = self.embedding.place(gathered) if placed else None
        else:
            e = self.embedding(x)  # (B, F, T, d)
        if self.dim_gate is not None:
            e = self.dim_gate(e)
        w = self.output_w  # the products head's scale of each part of the logit, else None
        logit = self.linear(x) if w is None else w[0] * self.linear(x)
        for k, (interact, gate) in enumerate(zip(self.interactions, self.gates)):
            columns = gate.total(self._gathered_scores(k, gathered) if e is None else interact(e))
            logit = logit + (columns if w is None else w[k + 1] * columns)
        if gathered is not None:
            logit = logit + self.mlp(gathered[:, : len(self.mlp_order)], self.mlp_order)
        elif self.mlp is not None:
            h = self.head.inputs(e, self.interactions)  # (B, the head's inputs)
            deep = self.mlp(h if self.mlp_reads_all else h.index_select(1, self.mlp_inputs))
            logit = logit + (deep if w is None else w[-1] * deep)
        return logit

    def _gathered_scores(self, k: int, gathered: torch.Tensor) -> torch.Tensor:
        """Eval mode, ``reads_gathered``: the scores of block k read off the pruned tables' concatenation."""
        B, d, rows = len(gathered), self.spec.dim, getattr(self, f"gathered_rows_{k}")
        return self.interactions[k].from_rows(lambda m: gathered.index_select(1, rows[m]).view(B, -1, d))

    def gate_parameters(self) -> list[nn.Parameter]:
        """The architecture parameters GRDA trains in a search stage: β when searching dimensions, else the α of
        the last (highest-order) block; lower-order blocks of a high-order search are fixed selections."""
        if self.dim_gate is not None:
            return [self.dim_gate.beta]
        return [self.gates[-1].alpha]


def count_parameters(model: nn.Module) -> dict[str, int]:
    """Total trainable parameters and those in embedding tables (incl. the first-order weights)."""
    total = sum(p.numel() for p in model.parameters())
    embedding = sum(
        p.numel()
        for m in model.modules()
        if isinstance(m, FieldEmbedding | FieldLinear | PrunedFieldEmbedding)
        for p in m.parameters()
    )
    return {"total": total, "embedding": embedding}
