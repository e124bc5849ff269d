"""Warm starts: a later stage's model begins from what an earlier stage has trained (paper Fig. 6 stages).

The published code starts every stage from fresh variables. On data of tens of thousands of rows a fresh start
costs accuracy the earlier stage had already reached (measured in docs/deviations.md, items 23 and 24), so:

    next order's search    <- the order below's tables and first-order weights       (``order_warm_start``)
    search embed (B)       <- stage A's tables, first-order weights, kept kernels     (``embed_warm_start``)
    re-train (C)           <- the search model's tables at the kept positions, first-order weights, the kept
                              columns' kernels, α and BN statistics (a column the search dropped, α = 0, keeps
                              its fresh α and BN); the MLP's output layer zero
                                                                                      (``retrain_warm_start``)

A column is matched by (fields, function) and a table by its function, so a model with fewer columns, fewer
function tables or pruned dimensions takes exactly the parts it has. Notation: F fields, T tables, d size.
"""

from __future__ import annotations

import torch

from aim.model.embeddings import FieldEmbedding, PrunedFieldEmbedding
from aim.model.nets import AIM


def order_warm_start(model: AIM, previous: AIM) -> None:
    """Copy the embedding tables and first-order weights of the previous order's search into ``model``.

    An order-p score is a product of p embeddings: from a fresh N(0, 0.01²) init its variance sits far below the
    BN eps, so α sees no gradient while the GRDA threshold grows and every candidate dies. Starting from the
    embeddings the order below has already trained gives the high-order columns a signal from the first step.
    """
    for name in ("embedding", "linear"):
        getattr(model, name).load_state_dict(getattr(previous, name).state_dict())


def _source_table(model: AIM, searched: AIM, t: int) -> int:
    """The table of ``searched`` that serves the function of ``model``'s table ``t``."""
    if searched.spec.shared_embedding or not model.spec.used_functions:  # the MLP's one table, no column kept
        return 0
    return searched.spec.used_functions.index(model.spec.used_functions[t])


def _copy_tables(model: AIM, searched: AIM) -> None:
    """Each table of ``model`` from the table of the same function in ``searched`` (full tables, ``FieldEmbedding``
    with d columns per table); a pruned table takes the kept positions φ_i of each field."""
    d, src = model.spec.dim, searched.embedding.weight
    dst_layer = model.embedding
    with torch.no_grad():
        if isinstance(dst_layer, FieldEmbedding):
            for t in range(dst_layer.tables):
                s = _source_table(model, searched, t)
                dst_layer.weight[:, t * d : (t + 1) * d] = src[:, s * d : (s + 1) * d]
            return
        assert isinstance(dst_layer, PrunedFieldEmbedding)
        if not dst_layer.tables:  # no column kept: nothing reads a table
            return
        offsets = searched.embedding.offsets
        vocab = model.spec.vocab_sizes
        for g, table in enumerate(dst_layer.groups):
            size = table.shape[1] // dst_layer.tables
            row = 0
            for i in getattr(dst_layer, f"fields_{g}").tolist():
                rows = src[offsets[i] : offsets[i] + vocab[i]]  # (V_i, T_src·d)
                kept = sorted(model.spec.positions[i])
                for t in range(dst_layer.tables):
                    s = _source_table(model, searched, t)
                    table[row : row + vocab[i], t * size : (t + 1) * size] = rows[:, [s * d + k for k in kept]]
                row += vocab[i]


def _copy_columns(model: AIM, searched: AIM, gates: bool) -> None:
    """The kernels K, scalars s and outer weights of every column of ``model`` that ``searched`` has (same fields,
    same function, same order); with ``gates`` also its α and BN running statistics."""
    with torch.no_grad():
        for k, (layer, (fields, funcs)) in enumerate(zip(model.interactions, model.spec.blocks)):
            order = len(fields[0])
            found = [j for j, blk in enumerate(searched.spec.blocks) if len(blk[0][0]) == order]
            if not found:
                continue
            j = found[-1]
            old, (old_fields, old_funcs) = searched.interactions[j], searched.spec.blocks[j]
            for param, src, func in ((layer.kernel, old.kernel, 1), (layer.scalar, old.scalar, 2)):
                where = {q: i for i, q in enumerate(q for q, f in zip(old_fields, old_funcs) if f == func)}
                for i, q in enumerate(q for q, f in zip(fields, funcs) if f == func):
                    if q in where:
                        param[i] = src[where[q]]
            layer.outer_w.copy_(old.outer_w)
            new_gate, old_gate = model.gates[k], searched.gates[j]
            if not gates or new_gate.searching_dims or old_gate.searching_dims:
                continue
            column = {c: i for i, c in enumerate(zip(old_fields, old_funcs))}
            for i, c in enumerate(zip(fields, funcs)):
                # a column the search dropped (α exactly zero) keeps its fresh gate: a re-train of a selection that
                # adds it starts with it on, as from scratch, not switched off by the search's verdict
                if c in column and old_gate.alpha[column[c]] != 0:
                    new_gate.alpha[i] = old_gate.alpha[column[c]]
                    new_gate.bn.running_mean[i] = old_gate.bn.running_mean[column[c]]
                    new_gate.bn.running_var[i] = old_gate.bn.running_var[column[c]]


def embed_warm_start(model: AIM, searched: AIM) -> None:
    """Stage B starts from what stage A learnt (``search.embed_warm_start``): the first-order weights, each used
    function's embedding table, and the kept columns' kernels K, scalars s and outer weights. From a fresh init
    (the published code) the β of a dimension gets a gradient only once the tables have learnt something, while
    the threshold already grows: on 16k rows the stage-B model reached validation AUC 0.68 against stage A's 0.80,
    and its AUC could no longer tell strengths apart."""
    model.linear.load_state_dict(searched.linear.state_dict())
    _copy_tables(model, searched)
    _copy_columns(model, searched, gates=False)
    _zero_mlp_output(model)  # search.embed_mlp: the MLP adds to stage A's logit only what it learns


def _zero_mlp_output(model: AIM) -> None:
    if model.mlp is not None:
        out = model.mlp.net[-1]
        with torch.no_grad():
            out.weight.zero_()
            out.bias.zero_()


def retrain_warm_start(model: AIM, searched: AIM) -> None:
    """The re-train starts from the search model (``search.retrain_warm_start``): first-order weights, each
    table at the kept positions, the kept columns' kernels, α and BN statistics, and an MLP whose output layer
    is zero, so that before its first step the final model computes the search model's logit (less what EDS
    pruned) and the MLP only adds what the gated columns miss. From scratch (the published code) the final model
    of a small set over-fits before it reaches the search model's validation AUC (docs/deviations.md, item 24)."""
    model.linear.load_state_dict(searched.linear.state_dict())
    _copy_tables(model, searched)
    _copy_columns(model, searched, gates=True)
    _zero_mlp_output(model)
