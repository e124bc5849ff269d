"""Models: vectorised interactions against per-pair loops, pruned embeddings against masks, gates, baselines."""

import itertools

import pytest
import torch

from aim.model.embeddings import PrunedFieldEmbedding, set_sparse, table_parameters
from aim.model.gates import DimensionGate, InteractionGate
from aim.model.interactions import (
    INNER,
    OUTER,
    SKERNEL,
    VKERNEL,
    InteractionLayer,
    sort_columns,
    use_gram,
)
from aim.model.nets import AIM, FM, IPNN, AIMSpec, count_parameters
from aim.search import candidate_columns, drop_empty_fields, keep_unused_fields
from tests.conftest import off_init

VOCAB = (5, 7, 3, 4, 6)


def _columns(order: int, funcs=(0, 1, 2, 3), n_fields: int = 5):
    fields = [c for c in itertools.combinations(range(n_fields), order) for _ in funcs]
    fns = [f for _ in itertools.combinations(range(n_fields), order) for f in funcs]
    idx = sort_columns(fields, fns)
    return [fields[i] for i in idx], [fns[i] for i in idx]


def _reference_scores(layer: InteractionLayer, e: torch.Tensor, fields, funcs, table_of) -> torch.Tensor:
    """The obvious definition (aim_reference.md §3), one column at a time."""
    B = e.shape[0]
    out = torch.zeros(B, len(fields))
    vk = sk = 0
    for c, (q, f) in enumerate(zip(fields, funcs)):
        vecs = [e[:, i, table_of[f]] for i in q]
        if f == OUTER:
            out[:, c] = torch.stack([v @ layer.outer_w[m] for m, v in enumerate(vecs)]).prod(0)
            continue
        prod = torch.stack(vecs).prod(0)  # (B, d)
        if f == INNER:
            out[:, c] = prod.sum(-1)
        elif f == VKERNEL:
            out[:, c] = (prod * layer.kernel[vk]).sum(-1)
            vk += 1
        elif f == SKERNEL:
            out[:, c] = layer.scalar[sk, 0] * prod.sum(-1)
            sk += 1
    return out


@pytest.mark.parametrize("order", [2, 3, 4])
@pytest.mark.parametrize("shared", [False, True])
@pytest.mark.parametrize("gram", [True, False])
def test_interaction_layer_equals_per_column_loop(order, shared, gram):
    torch.manual_seed(order)
    fields, funcs = _columns(order)
    table_of = [0, 0, 0, 0] if shared else [0, 1, 2, 3]
    layer = InteractionLayer(fields, funcs, dim=6, table_of_function=table_of, kernel_std=0.5, gram=gram)
    assert layer.gram == (gram and order == 2)
    e = torch.randn(8, 5, 1 if shared else 4, 6)
    torch.testing.assert_close(layer(e), _reference_scores(layer, e, fields, funcs, table_of), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("order", [2, 3])
@pytest.mark.parametrize("funcs", [(0, 1, 2, 3), (0,), (1,), (2, 3), (1, 3)])
@pytest.mark.parametrize("gram", [True, False])
def test_interaction_layer_gradients_equal_per_column_loop(order, funcs, gram):
    """The Gram / index_select paths give the loop's gradients for e, K, s and w, for every mix of functions."""
    torch.manual_seed(order)
    fields, fns = _columns(order, funcs)
    table_of = [0, 1, 2, 3]
    layer = InteractionLayer(fields, fns, dim=5, table_of_function=table_of, kernel_std=0.5, gram=gram)
    e = torch.randn(6, 5, 4, 5, requires_grad=True)
    w = torch.randn(6, len(fields))
    inputs = [e, *layer.parameters()]  # unused parameters (an empty K, s or w) get zero gradients
    grads = torch.autograd.grad((layer(e) * w).sum(), inputs, materialize_grads=True)
    expected = torch.autograd.grad((_reference_scores(layer, e, fields, fns, table_of) * w).sum(), inputs,
                                   materialize_grads=True)
    for got, want in zip(grads, expected):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_the_gram_path_serves_many_order_2_columns_and_the_gather_path_a_few():
    """``use_gram``'s rule in the layers the runs build: a search stage's all-pairs pool takes the Gram matrices,
    a re-trained selection of a few pairs gathers them; the field count is e's, given by the network."""
    F = 24
    pairs = list(itertools.combinations(range(F), 2))
    search = InteractionLayer(pairs * 2, [INNER] * len(pairs) + [SKERNEL] * len(pairs), 16, [0, 1, 2, 3],
                              n_fields=F)
    few = InteractionLayer(pairs[:10], [SKERNEL] * 10, 16, [0, 1, 2, 3], n_fields=F)
    assert search.gram and not few.gram
    assert use_gram(36, 1, F, 16) and not use_gram(35, 1, F, 16) and use_gram(72, 2, F, 16)
    spec = AIMSpec(tuple([5] * F), 4, False, ((tuple(pairs[:10]), (SKERNEL,) * 10),), mlp=(8,))
    assert not AIM(spec).interactions[0].gram


def test_inner_product_exact_value():
    layer = InteractionLayer([(0, 1)], [INNER], dim=2, table_of_function=[0, 0, 0, 0])
    e = torch.tensor([[[[1.0, 2.0]], [[3.0, -1.0]]]])  # (B=1, F=2, T=1, d=2)
    assert layer(e).item() == pytest.approx(1 * 3 + 2 * -1)


def test_interaction_layer_rejects_unsorted_or_mixed_orders():
    with pytest.raises(ValueError, match="sorted"):
        InteractionLayer([(0, 1), (0, 2)], [1, 0], dim=2, table_of_function=[0, 1, 2, 3])
    with pytest.raises(ValueError, match="order"):
        InteractionLayer([(0, 1), (0, 1, 2)], [0, 0], dim=2, table_of_function=[0, 1, 2, 3])


def test_pruned_embedding_equals_masked_full_table():
    torch.manual_seed(0)
    positions = [(0, 2), (1,), (), (0, 1, 2, 3), (3, 1)]
    pruned = PrunedFieldEmbedding(VOCAB, dim=4, positions=positions, tables=2)
    x = torch.stack([torch.randint(0, v, (16,)) for v in VOCAB], 1)
    out = pruned(x)  # (B, F, T, d)
    assert out.shape == (16, 5, 2, 4)
    for i, pos in enumerate(positions):
        dropped = [k for k in range(4) if k not in pos]
        assert torch.all(out[:, i, :, dropped] == 0)
        if pos:  # the kept columns are the field's own small table, in the order of φ_i (paper eq. 18)
            group = [g for g, t in enumerate(pruned.groups) if t.shape[1] == 2 * len(pos)][0]
            members = getattr(pruned, f"fields_{group}").tolist()
            offset = getattr(pruned, f"offsets_{group}")[members.index(i)]
            rows = pruned.groups[group][x[:, i] + offset].view(16, 2, len(pos))
            torch.testing.assert_close(out[:, i][:, :, sorted(pos)], rows)
    # Physically smaller: sum over fields of vocab × T × d_i parameters, nothing for the empty field.
    assert pruned.n_embedding_params == sum(v * 2 * len(p) for v, p in zip(VOCAB, positions))


def _reference_pruned(pruned: PrunedFieldEmbedding, x: torch.Tensor, positions) -> torch.Tensor:
    """Map_i (paper eq. 18) one field at a time: the field's small-table row, its columns placed at φ_i."""
    B, T, d = x.shape[0], pruned.tables, pruned.dim
    fields = []
    for i, pos in enumerate(positions):
        if not pos:
            fields.append(torch.zeros(B, T, d))
            continue
        g = [g for g, t in enumerate(pruned.groups) if t.shape[1] == T * len(pos)][0]
        members = getattr(pruned, f"fields_{g}").tolist()
        rows = pruned.groups[g][x[:, i] + getattr(pruned, f"offsets_{g}")[members.index(i)]].view(B, T, len(pos))
        cols = [rows[:, :, sorted(pos).index(k)] if k in pos else torch.zeros(B, T) for k in range(d)]
        fields.append(torch.stack(cols, dim=2))
    return torch.stack(fields, dim=1)


@pytest.mark.parametrize("sparse", [False, True])
def test_pruned_embedding_output_and_gradients_equal_per_field_reference(sparse):
    torch.manual_seed(3)
    positions = [(0, 2), (1,), (), (0, 1, 2, 3), (3, 1)]
    pruned = PrunedFieldEmbedding(VOCAB, dim=4, positions=positions, tables=3)
    x = torch.stack([torch.randint(0, v, (32,)) for v in VOCAB], 1).int()
    w = torch.randn(32, 5, 3, 4)
    pruned.sparse = sparse
    out = pruned(x)
    grads = torch.autograd.grad((out * w).sum(), list(pruned.groups))
    pruned.sparse = False
    ref = _reference_pruned(pruned, x, positions)
    want = torch.autograd.grad((ref * w).sum(), list(pruned.groups))
    assert torch.equal(out, ref)
    for got, exp in zip(grads, want):
        assert got.is_sparse == sparse
        torch.testing.assert_close(got.to_dense(), exp)


def test_field_embedding_and_linear_sparse_gradients_equal_dense():
    torch.manual_seed(4)
    model = FM(VOCAB, dim=3, init_std=0.5, mlp=(4,))
    x = torch.stack([torch.randint(0, v, (16,)) for v in VOCAB], 1)
    tables = table_parameters(model)
    assert [t.shape[0] for t in tables] == [sum(VOCAB)] * 2  # first-order weights and the embedding table
    model.eval()
    dense = torch.autograd.grad(model(x).sum(), tables)
    set_sparse(model, True)
    sparse = torch.autograd.grad(model(x).sum(), tables)
    for s, d in zip(sparse, dense):
        assert s.is_sparse
        torch.testing.assert_close(s.to_dense(), d)


def test_pruned_embedding_gradients_reach_every_group():
    pruned = PrunedFieldEmbedding(VOCAB, dim=4, positions=[(0,), (1, 2), (0,), (), (0, 1, 2, 3)])
    x = torch.stack([torch.randint(0, v, (8,)) for v in VOCAB], 1)
    pruned(x).pow(2).sum().backward()
    assert all(t.grad is not None and t.grad.abs().sum() > 0 for t in pruned.groups)


def test_pruned_embedding_rejects_bad_positions():
    with pytest.raises(ValueError, match="field 1"):
        PrunedFieldEmbedding((3, 3), dim=4, positions=[(0,), (4,)])


def test_interaction_gate_is_bn_without_affine_times_alpha():
    gate = InteractionGate(3, alpha_init=0.6)
    assert not any(p is not gate.alpha for p in gate.parameters())  # α is the only parameter
    assert torch.all((gate.alpha > 0.599) & (gate.alpha < 0.601))
    s = torch.randn(64, 3) * 5 + 2
    expected = (s - s.mean(0)) / torch.sqrt(s.var(0, unbiased=False) + 1e-3) * gate.alpha
    torch.testing.assert_close(gate(s), expected, rtol=1e-4, atol=1e-4)


def test_dimension_gate_shares_beta_across_tables():
    gate = DimensionGate(n_fields=2, tables=3, dim=4)
    with torch.no_grad():
        gate.beta.zero_()
        gate.beta[0, 1] = 2.0
    out = gate(torch.randn(32, 2, 3, 4))
    assert torch.all(out[:, 1] == 0) and torch.all(out[:, 0, :, [0, 2, 3]] == 0)
    assert torch.all(out[:, 0, :, 1] != 0)  # all three function tables of field 0 keep dimension 1


def test_fm_trick_equals_pairwise_sum():
    torch.manual_seed(1)
    fm = FM(VOCAB, dim=3, init_std=0.5)
    x = torch.stack([torch.randint(0, v, (10,)) for v in VOCAB], 1)
    e = fm.embedding(x)[:, :, 0]
    pairs = sum((e[:, i] * e[:, j]).sum(-1) for i, j in itertools.combinations(range(5), 2))
    torch.testing.assert_close(fm(x), fm.linear(x) + pairs)


def test_ipnn_gram_products_equal_per_pair_loop():
    torch.manual_seed(2)
    ipnn = IPNN(VOCAB, dim=3, init_std=0.5, mlp=(4,), dropout=0.0).eval()
    x = torch.stack([torch.randint(0, v, (10,)) for v in VOCAB], 1)
    e = ipnn.embedding(x)[:, :, 0]
    products = torch.stack([(e[:, i] * e[:, j]).sum(-1) for i, j in itertools.combinations(range(5), 2)], 1)
    torch.testing.assert_close(ipnn(x), ipnn.mlp(torch.cat([e.flatten(1), products], 1)))


def test_ipnn_and_deepfm_shapes_and_backward():
    x = torch.stack([torch.randint(0, v, (12,)) for v in VOCAB], 1)
    for model in (FM(VOCAB, 4, 0.01, mlp=(8,), dropout=0.1), IPNN(VOCAB, 4, 0.01, mlp=(8, 8), dropout=0.1)):
        out = model(x)
        assert out.shape == (12,)
        out.sum().backward()


def test_aim_search_retrain_and_spec_round_trip():
    columns = candidate_columns(5, ["inner", "vkernel", "skernel", "outer"])
    assert len(columns[0]) == 10 * 4 and list(columns[1]) == sorted(columns[1])
    search = AIM(AIMSpec(VOCAB, 4, False, (columns,)))
    x = torch.stack([torch.randint(0, v, (12,)) for v in VOCAB], 1)
    assert search(x).shape == (12,)
    assert [p.shape for p in search.gate_parameters()] == [torch.Size([40])]
    positions = ((0, 1), (2,), (), (0, 1, 2, 3), (1,))
    kept = drop_empty_fields(columns, positions)
    assert all(2 not in f for f in kept[0]) and len(kept[0]) == 6 * 4
    spec = AIMSpec(VOCAB, 4, False, (kept,), positions=positions, mlp=(8,), dropout=0.0)
    retrained = AIM(spec)
    assert AIMSpec.from_json(spec.to_json()) == spec
    rebuilt = AIM(AIMSpec.from_json(spec.to_json()))
    rebuilt.load_state_dict(retrained.state_dict())
    retrained.eval(), rebuilt.eval()
    torch.testing.assert_close(rebuilt(x), retrained(x))
    # EDS makes the tables physically smaller than a full-size retrain would be.
    full = AIM(AIMSpec(VOCAB, 4, False, (kept,), mlp=(8,)))
    assert count_parameters(retrained)["embedding"] < count_parameters(full)["embedding"]


def test_search_embed_stage_feels_the_scale_of_a_fields_beta():
    """Stage B sums the fixed columns without their BN and α (the published code's layout): the common scale of
    a field's β changes the logit and gets a gradient. With a BN after the columns (the earlier layout) it did
    not, so all β of a field could shrink together for free and GRDA pruned dimensions by noise."""
    torch.manual_seed(0)
    columns = candidate_columns(5, ["inner", "vkernel", "skernel", "outer"])
    model = AIM(AIMSpec(VOCAB, 4, False, (columns,), search_dims=True))
    assert [p.shape for p in model.gate_parameters()] == [torch.Size([5, 4])]
    assert not [n for n, _ in model.named_parameters() if n.startswith("gates.")], "no α in the search-embed stage"
    x = torch.stack([torch.randint(0, v, (64,)) for v in VOCAB], 1)
    model.train()
    base = model(x)
    with torch.no_grad():
        model.dim_gate.beta[1] *= 2
    assert not torch.allclose(model(x), base, atol=1e-4)
    with torch.no_grad():
        model.dim_gate.beta[1] /= 2
    model(x).square().mean().backward()
    beta, grad = model.dim_gate.beta, model.dim_gate.beta.grad
    scale_grads = (beta * grad).sum(1)  # d loss / d log(scale) of each field's β
    assert scale_grads.abs().min() > 1e-6, scale_grads


def test_keep_unused_fields_gives_back_only_the_fields_no_column_reads():
    blocks = [(((0, 1), (1, 3)), (0, 3)), (((0, 1, 3),), (2,))]
    positions = ((0, 2), (), (), (1,), ())
    assert keep_unused_fields(positions, blocks, 4) == ((0, 2), (), (0, 1, 2, 3), (1,), (0, 1, 2, 3))


def test_aim_fwe_uses_only_tables_of_used_functions():
    columns = candidate_columns(5, ["inner"])
    model = AIM(AIMSpec(VOCAB, 4, False, (columns,)))
    assert model.embedding.tables == 1  # the AutoFIS-like ablation needs one table, not four


def test_aim_with_no_column_kept_keeps_one_table_for_its_mlp():
    """A search that keeps nothing (a few thousand rows) must re-train DeepFM's deep part, not logistic
    regression: the MLP over the embeddings needs one table although no function does."""
    model = AIM(AIMSpec(VOCAB, 4, False, (), mlp=(8,)))
    assert model.embedding.tables == 1 and model.mlp is not None and len(model.mlp_inputs) == len(VOCAB) * 4
    x = torch.stack([torch.randint(0, v, (16,)) for v in VOCAB], 1)
    model(x).sum().backward()
    assert model.embedding.weight.grad.abs().sum() > 0
    assert AIM(AIMSpec(VOCAB, 4, False, ())).embedding.tables == 0  # no MLP: nothing reads a table
    assert AIM(AIMSpec(VOCAB, 4, False, (), mlp=(8,), head="products")).mlp is None  # no product to read
    assert AIM(AIMSpec(VOCAB, 4, False, (), mlp=(8,), head="summed")).embedding.tables == 1


def test_retrain_warm_start_with_no_column_kept_takes_the_first_table():
    from aim.model.warm import retrain_warm_start

    searched = _trained_search_model()
    model = AIM(AIMSpec(VOCAB, 4, False, (), positions=((0, 1, 2, 3),) * 5, mlp=(8,)))
    retrain_warm_start(model, searched)
    x = torch.stack([torch.arange(32) % v for v in VOCAB], 1)
    torch.testing.assert_close(model.embedding(x)[:, :, 0], searched.embedding(x)[:, :, 0])


def _reference_products(layer: InteractionLayer, e: torch.Tensor, fields, funcs, table_of) -> torch.Tensor:
    """What the published re-train MLP reads, one column at a time: Π e (⊙ K, · s) per element-wise column, then
    the outer scalars, in the layer's column order."""
    elem, outer = [], []
    vk = sk = 0
    for q, f in zip(fields, funcs):
        vecs = [e[:, i, table_of[f]] for i in q]
        if f == OUTER:
            outer.append(torch.stack([v @ layer.outer_w[m] for m, v in enumerate(vecs)]).prod(0)[:, None])
            continue
        prod = torch.stack(vecs).prod(0)
        if f == VKERNEL:
            prod = prod * layer.kernel[vk]
            vk += 1
        elif f == SKERNEL:
            prod = prod * layer.scalar[sk, 0]
            sk += 1
        elem.append(prod)
    return torch.cat(elem + outer, dim=1)


@pytest.mark.parametrize("order", [2, 3])
@pytest.mark.parametrize("funcs", [(0, 1, 2, 3), (0,), (1, 3), (2,)])
@pytest.mark.parametrize("gram", [True, False])
def test_products_equal_per_column_loop_with_gradients(order, funcs, gram):
    torch.manual_seed(order)
    fields, fns = _columns(order, funcs)
    table_of = [0, 1, 2, 3]
    layer = InteractionLayer(fields, fns, dim=5, table_of_function=table_of, kernel_std=0.5, gram=gram)
    assert layer.product_members() == [q for q, f in zip(fields, fns) if f != OUTER] + \
        [q for q, f in zip(fields, fns) if f == OUTER]
    e = torch.randn(6, 5, 4, 5, requires_grad=True)
    got, want = layer.products(e), _reference_products(layer, e, fields, fns, table_of)
    assert got.shape[1] == layer.product_width(5)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    w = torch.randn_like(got)
    inputs = [e, *layer.parameters()]
    for a, b in zip(torch.autograd.grad((got * w).sum(), inputs, materialize_grads=True),
                    torch.autograd.grad((want * w).sum(), inputs, materialize_grads=True)):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("head", ["embeddings", "summed", "products"])
def test_every_retrain_head_equals_a_per_column_loop(head):
    """The whole re-train logit of each head against its definition written out column by column."""
    torch.manual_seed(1)
    columns = candidate_columns(5, ["inner", "vkernel", "skernel", "outer"])
    positions = ((0, 1), (2, 3), (), (0, 1, 2, 3), (1, 2))
    kept = drop_empty_fields(columns, positions)
    model = AIM(AIMSpec(VOCAB, 4, False, (kept,), positions=positions, mlp=(8,), head=head)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.uniform_(-1, 1)  # no identity-like init hiding a missing scale
    x = torch.stack([torch.randint(0, v, (16,)) for v in VOCAB], 1)
    e = model.embedding(x)
    layer, gate = model.interactions[0], model.gates[0]
    scores = _reference_scores(layer, e, *kept, [0, 1, 2, 3])
    gated = ((scores - gate.bn.running_mean) / (gate.bn.running_var + gate.bn.eps).sqrt() * gate.alpha).sum(1)
    if head == "embeddings":
        live = [e[:, i, t, k] for i, pos in enumerate(positions) for t in range(e.shape[2]) for k in pos]
        expected = model.linear(x) + gated + model.mlp(torch.stack(live, 1))
        assert model.output_w is None
    elif head == "summed":  # a field's dimension k, added up over its function-wise tables
        live = [sum(e[:, i, t, k] for t in range(e.shape[2])) for i, pos in enumerate(positions) for k in pos]
        expected = model.linear(x) + gated + model.mlp(torch.stack(live, 1))
        assert model.mlp.net[0].in_features == sum(map(len, positions))  # F·d at most, as DeepFM's MLP
    else:
        prods = _reference_products(layer, e, *kept, [0, 1, 2, 3])
        # Only the product dimensions every member field keeps: a pruned dimension is zero in the product.
        cols, width = [], 0
        for q in layer.product_members()[: layer.n_elem]:
            cols += [width + k for k in range(4) if all(k in positions[i] for i in q)]
            width += 4
        cols += list(range(width, width + layer.n_outer))
        w = model.output_w
        expected = w[0] * model.linear(x) + w[1] * gated + w[2] * model.mlp(prods[:, cols])
    torch.testing.assert_close(model(x), expected, rtol=1e-4, atol=1e-4)


def test_stage_b_warm_start_copies_tables_and_the_kept_columns_parameters():
    from aim.model.warm import embed_warm_start

    torch.manual_seed(0)
    columns = candidate_columns(5, ["inner", "vkernel", "skernel", "outer"])
    searched = AIM(AIMSpec(VOCAB, 4, False, (columns,)))
    with torch.no_grad():
        for p in searched.parameters():
            p.uniform_(-1, 1)
    fields, funcs = columns
    keep = [c for c, (q, f) in enumerate(zip(fields, funcs)) if q in {(0, 1), (2, 4)} and f in (1, 2, 3)]
    kept = (tuple(fields[c] for c in keep), tuple(funcs[c] for c in keep))
    model = AIM(AIMSpec(VOCAB, 4, False, (kept,), search_dims=True))
    embed_warm_start(model, searched)
    d = 4
    for t, f in enumerate(model.spec.used_functions):  # vkernel, skernel, outer -> searched tables 1, 2, 3
        torch.testing.assert_close(model.embedding.weight[:, t * d:(t + 1) * d], searched.embedding.weight[:, f * d:(f + 1) * d])
    torch.testing.assert_close(model.linear.state_dict(), searched.linear.state_dict())
    old, new = searched.interactions[0], model.interactions[0]
    vk_old = [q for q, f in zip(fields, funcs) if f == 1]
    torch.testing.assert_close(new.kernel, old.kernel[[vk_old.index((0, 1)), vk_old.index((2, 4))]])
    sk_old = [q for q, f in zip(fields, funcs) if f == 2]
    torch.testing.assert_close(new.scalar, old.scalar[[sk_old.index((0, 1)), sk_old.index((2, 4))]])
    torch.testing.assert_close(new.outer_w, old.outer_w)


def test_stage_b_with_the_mlp_starts_at_the_logit_without_it_and_gives_every_fields_beta_a_gradient():
    """search.embed_mlp: the stage-B model with the re-train's MLP computes, before its first step, the logit of
    the stage-B model without it (zero MLP output layer); β of field 3, which no kept column reads, then gets a
    gradient from the MLP (without the MLP it gets none)."""
    from aim.model.warm import embed_warm_start

    searched = _trained_search_model()
    kept = ((((0, 1), (2, 4)), (1, 2)),)
    plain = AIM(AIMSpec(VOCAB, 4, False, kept, search_dims=True))
    with_mlp = AIM(AIMSpec(VOCAB, 4, False, kept, search_dims=True, mlp=(8,), dropout=0.0))
    for model in (plain, with_mlp):
        embed_warm_start(model, searched)
    with torch.no_grad():
        with_mlp.dim_gate.load_state_dict(plain.dim_gate.state_dict())
    x = torch.stack([torch.randint(0, v, (64,)) for v in VOCAB], 1)
    out_plain, out_mlp = plain(x), with_mlp(x)
    torch.testing.assert_close(out_mlp, out_plain, rtol=1e-5, atol=1e-5)
    for out in (out_plain, out_mlp):
        torch.nn.functional.binary_cross_entropy_with_logits(out, (x[:, 3] % 2).float()).backward()
    assert not plain.dim_gate.beta.grad[3].any()
    # the MLP's output layer is zero before the first step, so its gradient reaches β from the second step on
    with torch.no_grad():
        with_mlp.mlp.net[-1].weight.fill_(0.1)
    with_mlp.zero_grad()
    torch.nn.functional.binary_cross_entropy_with_logits(with_mlp(x), (x[:, 3] % 2).float()).backward()
    assert with_mlp.dim_gate.beta.grad[3].abs().sum() > 0


def _trained_search_model() -> AIM:
    """A search model (every column of 5 fields, 4 functions) with every parameter and BN statistic moved off its
    init, as after training."""
    torch.manual_seed(0)
    searched = AIM(AIMSpec(VOCAB, 4, False, (candidate_columns(5, ["inner", "vkernel", "skernel", "outer"]),)))
    with torch.no_grad():
        for p in searched.parameters():
            p.uniform_(-1, 1)
        for g in searched.gates:
            g.bn.running_mean.uniform_(-1, 1)
            g.bn.running_var.uniform_(0.5, 2)
    return searched.eval()


@pytest.mark.parametrize("head", ["embeddings", "summed", "products"])
def test_retrain_warm_start_computes_the_search_models_logit_before_its_first_step(head):
    from aim.model.warm import retrain_warm_start

    searched = _trained_search_model()
    x = torch.stack([torch.randint(0, v, (32,)) for v in VOCAB], 1)
    model = AIM(AIMSpec(VOCAB, 4, False, searched.spec.blocks, mlp=(8,), head=head)).eval()
    retrain_warm_start(model, searched)
    torch.testing.assert_close(model(x), searched(x), rtol=1e-5, atol=1e-5)


def test_retrain_warm_start_takes_the_kept_columns_and_positions():
    from aim.model.warm import retrain_warm_start

    searched = _trained_search_model()
    fields, funcs = searched.spec.blocks[0]
    keep = [c for c, (q, f) in enumerate(zip(fields, funcs)) if q in {(0, 1), (2, 4)} and f in (1, 2, 3)]
    kept = (tuple(fields[c] for c in keep), tuple(funcs[c] for c in keep))
    positions = ((0, 3), (1,), (0, 1, 2), (), (2,))
    model = AIM(AIMSpec(VOCAB, 4, False, (kept,), positions=positions, mlp=(8,)))
    retrain_warm_start(model, searched)
    x = torch.stack([torch.arange(32) % v for v in VOCAB], 1)
    e_new, e_old = model.embedding(x), searched.embedding(x)  # (B, F, T, d)
    for t, f in enumerate(model.spec.used_functions):  # vkernel, skernel, outer -> searched tables 1, 2, 3
        for i, pos in enumerate(positions):
            for k in range(4):
                want = e_old[:, i, f, k] if k in pos else torch.zeros(32)
                torch.testing.assert_close(e_new[:, i, t, k], want)
    old_gate, new_gate = searched.gates[0], model.gates[0]
    torch.testing.assert_close(new_gate.alpha, old_gate.alpha[keep])
    torch.testing.assert_close(new_gate.bn.running_var, old_gate.bn.running_var[keep])
    torch.testing.assert_close(model.linear.state_dict(), searched.linear.state_dict())
    assert not model.mlp.net[-1].weight.any() and not model.mlp.net[-1].bias.any()


def test_mlp_in_eval_mode_folds_batch_norm_into_its_linear_layers():
    """The eval fast path (BN folded into the Linear before it) equals Linear -> BN -> ReLU -> Dropout run as is."""
    from aim.model.nets import MLP

    torch.manual_seed(0)
    mlp = MLP(12, (16, 8), dropout=0.3)
    with torch.no_grad():
        for m in mlp.net:
            if isinstance(m, torch.nn.BatchNorm1d):  # statistics and affine parameters away from their init
                m.running_mean.uniform_(-1, 1), m.running_var.uniform_(0.2, 3)
                m.weight.uniform_(-2, 2), m.bias.uniform_(-1, 1)
    mlp.eval()
    h = torch.randn(64, 12)
    torch.testing.assert_close(mlp(h), mlp.net(h).squeeze(-1), rtol=1e-5, atol=1e-5)


def test_interaction_gate_total_in_eval_mode_is_the_sum_of_its_gated_columns():
    """The eval fast path (one matrix-vector product with the BN folded into α) equals BN -> α -> sum."""
    from aim.model.gates import InteractionGate

    torch.manual_seed(0)
    gate = InteractionGate(7)
    with torch.no_grad():
        gate.alpha.uniform_(-1, 1), gate.bn.running_mean.uniform_(-1, 1), gate.bn.running_var.uniform_(0.2, 3)
    scores = torch.randn(32, 7)
    for mode in (gate.eval, gate.train):
        mode()
        torch.testing.assert_close(gate.total(scores), gate(scores).sum(-1), rtol=1e-5, atol=1e-5)


def test_dropout_keeps_each_entry_with_probability_1_minus_p_scaled_and_passes_gradient_through_its_mask():
    from aim.model.nets import Dropout

    torch.manual_seed(0)
    drop = Dropout(0.3)
    h = torch.rand(400, 500) + 0.5
    h.requires_grad_(True)
    out = drop(h)
    kept = out != 0
    assert abs(kept.float().mean().item() - 0.7) < 0.005  # 200,000 draws: std of the rate 0.001
    torch.testing.assert_close(out[kept], (h / 0.7)[kept])
    out.sum().backward()
    torch.testing.assert_close(h.grad, kept.float() / 0.7)
    drop.eval()
    assert drop(h) is h
    assert Dropout(0.0).train()(h) is h


def test_retrain_eval_fast_path_reads_the_gathered_tables_and_equals_the_layers_run_as_is():
    """Eval mode of the embeddings head over pruned tables: the MLP reads PrunedFieldEmbedding's concatenation with
    its first layer's columns reordered, the gates are folded: the same logit as every layer run in order."""
    torch.manual_seed(2)
    columns = candidate_columns(5, ["inner", "vkernel", "skernel", "outer"])
    positions = ((0, 1), (2, 3), (1,), (0, 1, 2, 3), (1, 2))
    model = off_init(AIM(AIMSpec(VOCAB, 4, False, (columns,), positions=positions, mlp=(8, 6))).eval())
    assert model.mlp_order is not None
    x = torch.stack([torch.randint(0, v, (64,)) for v in VOCAB], 1)
    e = model.embedding(x)
    slow = model.linear(x) + sum(g(layer(e)).sum(-1) for layer, g in zip(model.interactions, model.gates))
    slow = slow + model.mlp.net(e.flatten(1).index_select(1, model.mlp_inputs)).squeeze(-1)
    torch.testing.assert_close(model(x), slow, rtol=1e-5, atol=1e-5)


def test_retrain_eval_path_that_never_places_e_equals_the_layers_run_as_is():
    """A selection whose every column is scored from its members' rows (a few order-2 pairs, order-3 triples; no
    Gram matrix, no outer product): in eval mode the columns read the pruned tables' concatenation directly,
    pruned positions through its zero column; the logit is the one of every layer run in order."""
    torch.manual_seed(3)
    pairs = [((0, 1), INNER), ((0, 3), VKERNEL), ((1, 4), VKERNEL), ((2, 3), SKERNEL)]
    triples = [((0, 1, 3), INNER), ((1, 2, 4), SKERNEL)]
    blocks = tuple((tuple(q for q, _ in cols), tuple(f for _, f in cols)) for cols in (pairs, triples))
    positions = ((0, 1), (2, 3), (1,), (0, 1, 2, 3), ())
    model = off_init(AIM(AIMSpec(VOCAB, 4, False, blocks, positions=positions, mlp=(8, 6))).eval())
    assert model.reads_gathered and not any(layer.gram for layer in model.interactions)
    x = torch.stack([torch.randint(0, v, (64,)) for v in VOCAB], 1)
    e = model.embedding(x)
    slow = model.linear(x) + sum(g(layer(e)).sum(-1) for layer, g in zip(model.interactions, model.gates))
    slow = slow + model.mlp.net(e.flatten(1).index_select(1, model.mlp_inputs)).squeeze(-1)
    torch.testing.assert_close(model(x), slow, rtol=1e-5, atol=1e-5)
    with_outer = AIMSpec(VOCAB, 4, False, ((((0, 1), (0, 2)), (INNER, OUTER)),), positions=positions, mlp=(8,))
    assert not AIM(with_outer).reads_gathered  # the outer product reads e: placed as before
