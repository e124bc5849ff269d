"""The training loop's schedule: early stopping and reduce-on-plateau of the Adam learning rate."""

import pytest
import torch
from torch import nn

from aim.train import Tensors, fit


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
    result = fit(ConstantModel(), data, data, stage="t", epochs=10, batch_size=16, lr=1e-3, eval_batch_size=64,
                 generator=torch.Generator().manual_seed(0), patience=2, plateau_factor=factor)
    assert [row["epoch"] for row in result.history] == [1, 2, 3, 4]  # best at 1, then 3 epochs without gain
    assert [row["lr"] for row in result.history] == pytest.approx(expected)
    assert result.best_epoch == 1
