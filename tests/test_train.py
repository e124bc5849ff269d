"""The training loop: early stopping, reduce-on-plateau, fused Adam against the reference, lazy Adam."""

import pytest
import torch
from torch import nn

from aim.config import TrainConfig
from aim.errors import ConfigError
from aim.model.embeddings import set_sparse
from aim.model.nets import FM
from aim.train import Tensors, fit, optimizers


class ConstantModel(nn.Module):
    """Scores every row with one learnable bias, so validation AUC is 0.5 at every epoch (never a gain)."""

    def __init__(self):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return self.bias.expand(len(x))


def _data(n=64):
    g = torch.Generator().manual_seed(0)
    X = torch.randint(0, 5, (n, 3), generator=g, dtype=torch.int32)
    y = (torch.arange(n) % 2).float()
    return Tensors(X, y)


@pytest.mark.parametrize("factor, expected", [(0.1, [1e-3, 1e-3, 1e-4, 1e-5]), (1.0, [1e-3] * 4)])
def test_learning_rate_is_cut_after_each_epoch_without_gain_until_patience_runs_out(factor, expected):
    data = _data()
    result = fit(ConstantModel(), data, data, TrainConfig(epochs=10, batch_size=16, lr=1e-3, eval_batch_size=64,
                                                          patience=2, plateau_factor=factor),
                 stage="t", generator=torch.Generator().manual_seed(0), early_stopping=True)
    assert [row["epoch"] for row in result.history] == [1, 2, 3, 4]  # best at 1, then 3 epochs without gain
    assert [row["lr"] for row in result.history] == pytest.approx(expected)
    assert result.best_epoch == 1


def _tiny_fm(seed: int = 0, mlp: tuple[int, ...] = (6,)) -> FM:
    torch.manual_seed(seed)
    return FM((4, 3, 5), dim=3, init_std=0.1, mlp=mlp, dropout=0.0)


def _steps(model: nn.Module, opts: list[torch.optim.Optimizer], batches: list[torch.Tensor]) -> None:
    """Adam steps on fixed random labels (not a function of the ids: no gradient cancels to ~0, where Adam's and
    SparseAdam's different placement of eps would show)."""
    model.train()
    for b, xb in enumerate(batches):
        y = torch.rand(len(xb), generator=torch.Generator().manual_seed(b)).round()
        loss = nn.functional.binary_cross_entropy_with_logits(model(xb), y)
        for opt in opts:
            opt.zero_grad(set_to_none=True)
        loss.backward()
        for opt in opts:
            opt.step()


def test_fused_adam_equals_single_tensor_reference():
    g = torch.Generator().manual_seed(1)
    batches = [torch.stack([torch.randint(0, v, (8,), generator=g) for v in (4, 3, 5)], 1) for _ in range(5)]
    # No MLP: the bias of a Linear before BatchNorm has a gradient of pure rounding noise, which Adam normalises
    # to ±lr, so any two implementations drift apart on it after a step.
    fast, ref = _tiny_fm(mlp=()), _tiny_fm(mlp=())
    _steps(fast, optimizers(fast, 1e-2), batches)
    _steps(ref, [torch.optim.Adam(ref.parameters(), lr=1e-2, foreach=False)], batches)
    for a, b in zip(fast.parameters(), ref.parameters()):
        torch.testing.assert_close(a, b)


def test_lazy_adam_is_adam_when_every_row_is_in_every_batch():
    """SparseAdam only differs from Adam on rows a batch does not contain; here every batch holds every id."""
    every = torch.tensor([[i % 4, i % 3, i % 5] for i in range(60)])
    batches = [every[torch.randperm(60, generator=torch.Generator().manual_seed(s))] for s in range(4)]
    lazy, dense = _tiny_fm(mlp=()), _tiny_fm(mlp=())
    set_sparse(lazy, True)
    opts = optimizers(lazy, 1e-2, embedding_optimizer="lazy_adam")
    assert [type(o).__name__ for o in opts] == ["Adam", "SparseAdam"]  # the bias; the two tables
    _steps(lazy, opts, batches)
    _steps(dense, optimizers(dense, 1e-2), batches)
    # SparseAdam adds eps to sqrt(v) before the bias correction, Adam after: equal up to ~1% of one step (lr).
    for a, b in zip(lazy.parameters(), dense.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-4)


def test_lazy_adam_leaves_rows_outside_the_batch_alone_where_adam_keeps_moving_them():
    seen, unseen = torch.tensor([[0, 0, 0]]), torch.tensor([[1, 1, 1]])
    lazy, dense = _tiny_fm(mlp=()), _tiny_fm(mlp=())
    set_sparse(lazy, True)
    lazy_opts, dense_opts = optimizers(lazy, 1e-2, embedding_optimizer="lazy_adam"), optimizers(dense, 1e-2)
    _steps(lazy, lazy_opts, [seen])
    _steps(dense, dense_opts, [seen])
    row0_lazy, row0_dense = lazy.embedding.weight[0].detach().clone(), dense.embedding.weight[0].detach().clone()
    _steps(lazy, lazy_opts, [unseen])  # row 0 has no gradient now
    _steps(dense, dense_opts, [unseen])
    assert torch.equal(lazy.embedding.weight[0], row0_lazy)  # lazy: untouched
    assert not torch.equal(dense.embedding.weight[0], row0_dense)  # dense Adam: momentum moves it on


def test_fit_with_lazy_adam_trains_and_restores_dense_gradients():
    g = torch.Generator().manual_seed(0)
    X = torch.stack([torch.randint(0, v, (64,), generator=g) for v in (4, 3, 5)], 1).int()
    data = Tensors(X, (X[:, 0] % 2).float())
    model = _tiny_fm()
    before = model.embedding.weight.detach().clone()
    result = fit(model, data, data, TrainConfig(epochs=2, batch_size=16, lr=1e-2, eval_batch_size=64,
                                                embedding_optimizer="lazy_adam"),
                 stage="t", generator=torch.Generator().manual_seed(0))
    assert len(result.history) == 2 and not torch.equal(model.embedding.weight, before)
    assert not model.embedding.sparse and not model.linear.sparse


def test_lazy_adam_refuses_weight_decay_and_unknown_names():
    with pytest.raises(ConfigError, match="embed_l2"):
        optimizers(_tiny_fm(), 1e-3, embedding_optimizer="lazy_adam", embed_l2=1e-4)
    with pytest.raises(ConfigError, match="lazy_adam"):
        optimizers(_tiny_fm(), 1e-3, embedding_optimizer="sgd")


def test_keep_freed_memory_applies_once_and_can_be_turned_off(monkeypatch):
    import ctypes.util
    import sys

    from aim import train

    monkeypatch.setattr(train, "_freed_memory_kept", False)
    monkeypatch.setenv("AIM_KEEP_FREED_MEMORY", "0")
    assert train.keep_freed_memory() is False
    monkeypatch.delenv("AIM_KEEP_FREED_MEMORY")
    glibc = sys.platform.startswith("linux") and ctypes.util.find_library("c") == "libc.so.6"
    assert train.keep_freed_memory() is glibc
    assert train.keep_freed_memory() is glibc  # idempotent
    # fit applies it (a process-wide allocator setting; the numbers trained do not depend on it)
    monkeypatch.setattr(train, "_freed_memory_kept", False)
    torch.manual_seed(0)
    model = FM([5, 7], 4, 0.01)
    data = Tensors(torch.randint(0, 5, (64, 2)), torch.randint(0, 2, (64,)).float())
    fit(model, data, data, TrainConfig(epochs=1, batch_size=32, lr=1e-3, eval_batch_size=64),
        stage="t", generator=torch.Generator().manual_seed(0))
    assert train._freed_memory_kept is glibc


def test_early_stopping_restores_the_best_epochs_weights():
    """An FM that over-fits 300 noisy rows: validation AUC peaks, then falls; after ``fit`` the model scores the
    best epoch's validation AUC exactly (its weights, not the last epoch's)."""
    from aim.train import evaluate

    g = torch.Generator().manual_seed(1)
    X = torch.randint(0, 40, (600, 4), generator=g, dtype=torch.int32)
    y = ((X[:, 0] % 2 == 0).float() * 0.3 + torch.rand(600, generator=g) > 0.6).float()
    train, valid = Tensors(X[:300], y[:300]), Tensors(X[300:], y[300:])
    model = FM([40] * 4, 8, 0.1)
    result = fit(model, train, valid, TrainConfig(epochs=30, batch_size=32, lr=0.05, eval_batch_size=1000,
                                                  patience=3, plateau_factor=1.0),
                 stage="t", generator=torch.Generator().manual_seed(0), early_stopping=True)
    aucs = [row["valid_auc"] for row in result.history]
    assert result.best_epoch < len(aucs) and aucs[-1] < max(aucs), "the test needs a run that got worse"
    assert aucs[result.best_epoch - 1] == max(aucs)
    assert evaluate(model, valid, 1000)["auc"] == pytest.approx(max(aucs), abs=1e-12)


def test_a_warm_start_that_training_does_not_improve_is_returned_as_it_was():
    """``start_is_candidate``: the given model is epoch 0 of early stopping. The best-epoch model of an over-fitting
    FM, trained on with a learning rate that only makes it worse, comes back unchanged (best epoch 0); without
    the flag early stopping keeps the best trained epoch, which is worse than the start."""
    import copy

    from aim.train import evaluate

    g = torch.Generator().manual_seed(1)
    X = torch.randint(0, 40, (600, 4), generator=g, dtype=torch.int32)
    y = ((X[:, 0] % 2 == 0).float() * 0.3 + torch.rand(600, generator=g) > 0.6).float()
    train, valid = Tensors(X[:300], y[:300]), Tensors(X[300:], y[300:])
    warm = FM([40] * 4, 8, 0.1)
    fit(warm, train, valid, TrainConfig(epochs=30, batch_size=32, lr=0.05, eval_batch_size=1000, patience=3,
                                        plateau_factor=1.0),
        stage="t", generator=torch.Generator().manual_seed(0), early_stopping=True)
    start = evaluate(warm, valid, 1000)["auc"]
    runs = {}
    for flag in (True, False):
        model = copy.deepcopy(warm)
        runs[flag] = fit(model, train, valid, TrainConfig(epochs=3, batch_size=32, lr=1.0, eval_batch_size=1000,
                                                          patience=1, plateau_factor=1.0),
                         stage="t", generator=torch.Generator().manual_seed(0), start_is_candidate=flag,
                         early_stopping=True), model
    (kept, model), (trained, _) = runs[True], runs[False]
    assert max(row["valid_auc"] for row in trained.history) < start, "the test needs training that only hurts"
    assert kept.best_epoch == 0 and kept.start_auc == pytest.approx(start, abs=1e-12)
    assert evaluate(model, valid, 1000)["auc"] == pytest.approx(start, abs=1e-12)
    torch.testing.assert_close(model.state_dict(), warm.state_dict())
    assert trained.best_epoch >= 1 and trained.start_auc is None


def test_progress_is_reported_within_an_epoch():
    data = _data(64)
    seen: list[dict] = []
    fit(ConstantModel(), data, data, TrainConfig(epochs=2, batch_size=16, lr=1e-3, eval_batch_size=64),
        stage="t", generator=torch.Generator().manual_seed(0), on_progress=seen.append, progress_every=0.0)
    assert [(p["epoch"], p["step"]) for p in seen] == [(e, s) for e in (1, 2) for s in (1, 2, 3, 4)]
    assert all(p["steps"] == 4 and p["epochs"] == 2 and p["rows_per_s"] > 0 for p in seen)
    assert seen[3]["eta_s"] == 0 and seen[0]["eta_s"] > 0
