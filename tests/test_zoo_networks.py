"""Baseline networks FwFM, xDeepFM, AutoInt+, DCN-V2 against per-sample loop references.

Each reference restates its paper's formulas one sample, field, pair, head, map and layer at a time, on the module's
own parameters (float64, all of them redrawn at random so no term vanishes, BatchNorm running statistics included).
It must equal ``forward`` in value and in every parameter's gradient, in eval mode (running statistics) and in train
mode (batch statistics, computed here over the batch). Then: parameter counts against closed formulas, bad sizes.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from aim.model.autoint import AutoInt
from aim.model.dcnv2 import DCNv2
from aim.model.fwfm import FwFM
from aim.model.xdeepfm import XDeepFM

VOCAB = (3, 5, 4, 6)
F, D, B = len(VOCAB), 4, 5
OFFSETS = [sum(VOCAB[:f]) for f in range(F)]
FRAPPE = (772, 4072, 8, 8, 3, 4, 3, 9, 76, 208)  # the project's encoded Frappe (cached_runs), Σ 5,163


def _inputs(seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.stack([torch.randint(v, (B,), generator=g) for v in VOCAB], dim=1)  # (B, F)


def _randomized(model: nn.Module, seed: int = 1) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    model.double()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * 0.5)
        for m in model.modules():
            if isinstance(m, nn.BatchNorm1d):
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g, dtype=torch.float64) * 0.3)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g, dtype=torch.float64) + 0.5)
    return model


# ---- reference building blocks: one sample (or one list of samples for BatchNorm) at a time -----------------------

def _fields(embedding, x, b):
    """Sample b's F embedding vectors, read row by row from the one table."""
    return [embedding.weight[OFFSETS[f] + int(x[b, f])] for f in range(F)]


def _first_order(linear, x, b):
    return linear.bias + sum(linear.weight[OFFSETS[f] + int(x[b, f]), 0] for f in range(F))


def _dense(modules, inputs, train):
    """Linear / BatchNorm / ReLU / Dropout (p = 0 or eval) applied to a list of per-sample vectors."""
    hs = list(inputs)
    for m in modules:
        if isinstance(m, nn.Linear):
            hs = [m.weight @ h + m.bias for h in hs]
        elif isinstance(m, nn.BatchNorm1d):
            if train:
                mean = sum(hs) / len(hs)
                var = sum((h - mean) ** 2 for h in hs) / len(hs)  # biased, as BatchNorm normalises
            else:
                mean, var = m.running_mean, m.running_var
            hs = [m.weight * (h - mean) / torch.sqrt(var + m.eps) + m.bias for h in hs]
        elif isinstance(m, nn.ReLU):
            hs = [torch.clamp(h, min=0) for h in hs]
        else:
            assert isinstance(m, nn.Dropout) and (m.p == 0 or not train), m
    return hs


def _mlp(mlp, inputs, train):
    return [out[0] for out in _dense(mlp.net, inputs, train)]


def fwfm_reference(model, x, train):
    out = []
    for b in range(B):
        e = _fields(model.embedding, x, b)
        logit, k = _first_order(model.linear, x, b), 0
        for i in range(F):
            for j in range(i + 1, F):
                logit = logit + model.pair_weight[k] * torch.dot(e[i], e[j])  # r_{ij} <e_i, e_j>
                k += 1
        out.append(logit)
    return torch.stack(out)


def _cin(cin, sizes, split_half, x0):
    """p⁺ of one sample: X^k_h = Σ_i Σ_j W^{k,h}_{ij} (X^{k-1}_i ∘ X⁰_j) + b_h, then sums over d."""
    prev, pooled = x0, []
    for k, (conv, size) in enumerate(zip(cin.convs, sizes)):
        w = conv.weight[:, :, 0].view(size, len(prev), F)
        maps = []
        for h in range(size):
            acc = conv.bias[h]
            for i in range(len(prev)):
                for j in range(F):
                    acc = acc + w[h, i, j] * prev[i] * x0[j]
            maps.append(acc)
        if not split_half:
            prev, direct = maps, maps
        elif k == len(sizes) - 1:
            prev, direct = [], maps
        else:
            prev, direct = maps[: size // 2], maps[size // 2:]
        pooled += [m.sum() for m in direct]
    return torch.stack(pooled)


def xdeepfm_reference(model, x, train, sizes, split_half):
    es = [_fields(model.embedding, x, b) for b in range(B)]
    deep = _mlp(model.mlp, [torch.cat(e) for e in es], train)
    w = model.cin_output.weight[0]
    return torch.stack([_first_order(model.linear, x, b) + torch.dot(w, _cin(model.cin, sizes, split_half, es[b]))
                        + deep[b] for b in range(B)])


def _interacting(layer, rows, heads, att, unprojected=False):
    """e^Res_m = ReLU(⊕_h Σ_k softmax_k(<W_Q^h e_m, W_K^h e_k>) W_V^h e_k + W_Res e_m) for every field m; with
    ``unprojected``, + e_m instead of W_Res e_m where the widths match (FuxiCTR's residual)."""
    out = []
    for m in range(len(rows)):
        per_head = []
        for h in range(heads):
            rows_h = slice(h * att, (h + 1) * att)
            q = layer.query.weight[rows_h] @ rows[m]
            scores = [torch.exp(torch.dot(q, layer.key.weight[rows_h] @ rows[k])) for k in range(len(rows))]
            total = sum(scores)
            per_head.append(sum(s / total * (layer.value.weight[rows_h] @ rows[k]) for k, s in enumerate(scores)))
        e_tilde = torch.cat(per_head)
        if unprojected and len(rows[m]) == heads * att:
            assert layer.residual is None
            e_tilde = e_tilde + rows[m]
        elif layer.residual is not None:
            e_tilde = e_tilde + layer.residual.weight @ rows[m]
        out.append(torch.clamp(e_tilde, min=0))
    return out


def autoint_reference(model, x, train, heads, att, unprojected=False):
    es = [_fields(model.embedding, x, b) for b in range(B)]
    deep = _mlp(model.mlp, [torch.cat(e) for e in es], train)
    out = []
    for b in range(B):
        rows = es[b]
        for layer in model.interacting:
            rows = _interacting(layer, rows, heads, att, unprojected)
        out.append(torch.dot(model.output.weight[0], torch.cat(rows)) + model.output.bias[0] + deep[b])
    return torch.stack(out)


def dcnv2_reference(model, x, train, structure):
    x0s = [torch.cat(_fields(model.embedding, x, b)) for b in range(B)]
    crossed = []
    for x0 in x0s:
        xl = x0
        for layer in model.cross:  # x_{l+1}[i] = x0[i] (W_l[i] · x_l + b_l[i]) + x_l[i]
            xl = torch.stack([x0[i] * (torch.dot(layer.weight[i], xl) + layer.bias[i]) + xl[i]
                              for i in range(len(x0))])
        crossed.append(xl)
    if structure == "stacked":
        return torch.stack(_mlp(model.mlp, crossed, train))
    hidden = _dense(model.dnn, x0s, train)
    return torch.stack([torch.dot(model.output.weight[0], torch.cat([c, h])) + model.output.bias[0]
                        for c, h in zip(crossed, hidden)])


# ---- the networks under test: (name, constructor, reference) ---------------------------------------------------

CASES = {
    "fwfm": (lambda: FwFM(VOCAB, D, 0.1), fwfm_reference),
    "xdeepfm": (lambda: XDeepFM(VOCAB, D, 0.1, mlp=(6, 3), dropout=0.0, cin=(4, 2, 3)),
                lambda m, x, t: xdeepfm_reference(m, x, t, (4, 2, 3), True)),
    "xdeepfm-nosplit": (lambda: XDeepFM(VOCAB, D, 0.1, mlp=(5,), dropout=0.0, cin=(3, 2), split_half=False),
                        lambda m, x, t: xdeepfm_reference(m, x, t, (3, 2), False)),
    "autoint": (lambda: AutoInt(VOCAB, D, 0.1, mlp=(6, 3), dropout=0.0, layers=2, heads=2, attention_dim=3),
                lambda m, x, t: autoint_reference(m, x, t, 2, 3)),
    "autoint-nores": (lambda: AutoInt(VOCAB, D, 0.1, mlp=(5,), dropout=0.0, layers=2, heads=3, attention_dim=2,
                                      residual=False),
                      lambda m, x, t: autoint_reference(m, x, t, 3, 2)),
    "autoint-unprojected": (lambda: AutoInt(VOCAB, D, 0.1, mlp=(4,), dropout=0.0, layers=3, heads=2, attention_dim=3,
                                            unprojected_residual=True),
                            lambda m, x, t: autoint_reference(m, x, t, 2, 3, unprojected=True)),
    "dcnv2-stacked": (lambda: DCNv2(VOCAB, D, 0.1, mlp=(6, 3), dropout=0.0, cross_layers=2),
                      lambda m, x, t: dcnv2_reference(m, x, t, "stacked")),
    "dcnv2-parallel": (lambda: DCNv2(VOCAB, D, 0.1, mlp=(6, 3), dropout=0.0, cross_layers=2, structure="parallel"),
                       lambda m, x, t: dcnv2_reference(m, x, t, "parallel")),
}


@pytest.mark.parametrize("train", [False, True], ids=["eval", "train"])
@pytest.mark.parametrize("name", list(CASES))
def test_forward_and_gradients_equal_the_loop_reference(name, train):
    build, reference = CASES[name]
    torch.manual_seed(0)
    model = _randomized(build()).train(train)
    x = _inputs()
    weights = torch.randn(B, generator=torch.Generator().manual_seed(2), dtype=torch.float64)

    got = model(x)
    assert got.shape == (B,)
    (got * weights).sum().backward()
    got_grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad(set_to_none=True)
    want = reference(model, x, train)
    (want * weights).sum().backward()

    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)
    for n, p in model.named_parameters():
        assert p.grad is not None, f"{n} takes no part in the reference"
        torch.testing.assert_close(got_grads[n], p.grad, rtol=1e-9, atol=1e-10, msg=f"gradient of {n}")


@pytest.mark.parametrize("name", list(CASES))
def test_inference_equals_the_loop_reference(name):
    """Without autograd (``predict``'s inference mode) a network may take another path (AutoInt: PyTorch's fused
    attention); it must give the reference's values too."""
    build, reference = CASES[name]
    torch.manual_seed(0)
    model = _randomized(build()).eval()
    x = _inputs()
    with torch.inference_mode():
        got = model(x)
    with torch.no_grad():
        want = reference(model, x, False)
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


def test_dropout_is_identity_in_eval_mode():
    torch.manual_seed(0)
    model = _randomized(XDeepFM(VOCAB, D, 0.1, mlp=(6, 3), dropout=0.5, cin=(4, 2, 3))).eval()
    x = _inputs()
    torch.testing.assert_close(model(x), xdeepfm_reference(model, x, False, (4, 2, 3), True))


# ---- parameter counts --------------------------------------------------------------------------------------------

def _mlp_count(in_dim, hidden, output=True):
    """Linear + BatchNorm (γ, β) per hidden layer, then Linear(1) if ``output``."""
    total = 0
    for h in hidden:
        total += in_dim * h + h + 2 * h
        in_dim = h
    return total + (in_dim + 1 if output else 0)


def _counts(vocab, d):
    V, F_ = sum(vocab), len(vocab)
    emb, P = V * d, F_ * (F_ - 1) // 2

    def cin(sizes, split):
        total, maps, out = 0, F_, 0
        for k, h in enumerate(sizes):
            total += maps * F_ * h + h
            passed = h if not split else (0 if k == len(sizes) - 1 else h // 2)
            out += h - (passed if split else 0)
            maps = passed
        return total + out  # convolutions + the bias-free output Linear

    def autoint(layers, heads, att, residual, mlp, unprojected=False):
        w, per = heads * att, 4 if residual else 3
        later = 3 if unprojected and d != w else per  # W_Res only where the widths differ
        return emb + per * d * w + (layers - 1) * later * w * w + F_ * w + 1 + _mlp_count(F_ * d, mlp)

    Dx = F_ * d
    return {
        "fwfm": emb + V + 1 + P,
        "xdeepfm": emb + V + 1 + cin((200, 200, 200), True) + _mlp_count(Dx, (400, 400, 400)),
        "autoint": autoint(3, 2, 32, True, (400, 400, 400)),
        "dcnv2-stacked": emb + 3 * (Dx * Dx + Dx) + _mlp_count(Dx, (400, 400, 400)),
        "dcnv2-parallel": emb + 3 * (Dx * Dx + Dx) + _mlp_count(Dx, (400, 400, 400), output=False) + Dx + 400 + 1,
        "tiny-xdeepfm": emb + V + 1 + cin((4, 2, 3), True) + _mlp_count(Dx, (6, 3)),
        "tiny-xdeepfm-nosplit": emb + V + 1 + cin((3, 2), False) + _mlp_count(Dx, (5,)),
        "tiny-autoint-nores": autoint(2, 3, 2, False, (5,)),
        "tiny-autoint-unprojected": autoint(3, 2, 3, True, (4,), unprojected=True),
    }


def _n(model):
    return sum(p.numel() for p in model.parameters())


def test_parameter_counts_match_the_closed_formulas():
    for vocab, d in [(VOCAB, D), (FRAPPE, 16)]:
        want = _counts(vocab, d)
        assert _n(FwFM(vocab, d, 0.01)) == want["fwfm"]
        assert _n(XDeepFM(vocab, d, 0.01)) == want["xdeepfm"]
        assert _n(AutoInt(vocab, d, 0.01)) == want["autoint"]
        assert _n(DCNv2(vocab, d, 0.01)) == want["dcnv2-stacked"]
        assert _n(DCNv2(vocab, d, 0.01, structure="parallel")) == want["dcnv2-parallel"]
    want = _counts(VOCAB, D)
    assert _n(CASES["xdeepfm"][0]()) == want["tiny-xdeepfm"]
    assert _n(CASES["xdeepfm-nosplit"][0]()) == want["tiny-xdeepfm-nosplit"]
    assert _n(CASES["autoint-nores"][0]()) == want["tiny-autoint-nores"]
    assert _n(CASES["autoint-unprojected"][0]()) == want["tiny-autoint-unprojected"]


def test_autoint_attention_dropout_acts_in_training_only():
    torch.manual_seed(0)
    model = _randomized(AutoInt(VOCAB, D, 0.1, mlp=(4,), dropout=0.0, layers=2, heads=2, attention_dim=3,
                                attention_dropout=0.5))
    x = _inputs()
    torch.testing.assert_close(model.eval()(x), autoint_reference(model, x, False, 2, 3), rtol=1e-10, atol=1e-10)
    model.train()
    assert not torch.allclose(model(x), model(x))  # α dropped at random while training


@pytest.mark.parametrize("name", ["fwfm", "xdeepfm", "autoint", "dcnv2-stacked", "dcnv2-parallel"])
def test_default_precision_shape(name):
    out = CASES[name][0]()(_inputs())
    assert out.shape == (B,) and out.dtype == torch.float32


# ---- bad arguments -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("build", [
    lambda: FwFM(VOCAB, D, 0.1, mlp=(8,)),
    lambda: FwFM(VOCAB, 0, 0.1),
    lambda: FwFM((), D, 0.1),
    lambda: XDeepFM(VOCAB, D, 0.1, cin=()),
    lambda: XDeepFM(VOCAB, D, 0.1, cin=(3, 4)),  # split_half needs an even size before the last layer
    lambda: XDeepFM(VOCAB, D, 0.1, cin=(4, 0)),
    lambda: XDeepFM(VOCAB, D, 0.1, mlp=(8, 0)),
    lambda: XDeepFM(VOCAB, D, 0.1, dropout=1.0),
    lambda: AutoInt(VOCAB, D, 0.1, layers=0),
    lambda: AutoInt(VOCAB, D, 0.1, heads=0),
    lambda: AutoInt(VOCAB, D, 0.1, attention_dim=0),
    lambda: AutoInt(VOCAB, 0, 0.1),
    lambda: DCNv2(VOCAB, D, 0.1, structure="x"),
    lambda: DCNv2(VOCAB, D, 0.1, cross_layers=0),
    lambda: DCNv2(VOCAB, D, 0.1, mlp=(), structure="parallel"),
    lambda: DCNv2(VOCAB, D, 0.1, dropout=-0.1),
])
def test_bad_sizes_raise_value_error(build):
    with pytest.raises(ValueError):
        build()
