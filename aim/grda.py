"""GRDA: generalized regularized dual averaging (Chao & Cheng 2019), the optimizer of AIM's gates (paper §3.6).

AIM trains the interaction / function gates α (FIS, IFS) and the embedding-dimension gates β (EDS) with GRDA while
the rest of the network uses Adam; GRDA's soft threshold grows with the number of steps, so gates that the loss
does not need end up *exactly* zero and the corresponding interaction / function / dimension can be pruned.

Update, per parameter tensor p of shape (...) at step t = 0, 1, ... with the group's current learning rate γ_t
(read from ``param_group["lr"]`` every step, so an LR scheduler may decay it):

    v   <- v - γ_t * grad                                  v starts at the INITIAL value p0 (dual averaging)
    l1  <- l1 + c * γ_t^(0.5+μ) * ((t+1)^μ - t^μ)          accumulated threshold, = c γ^½ (tγ)^μ for constant γ
    p   <- sign(v) * max(|v| - l1, 0)                      soft threshold, exact zeros

This follows the authors' reference implementation: no momentum, no weight decay, no clipping. Because p is a
function of the running sum v (not of the previous p), a zeroed entry revives when |v| outgrows l1 again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch.optim import Optimizer

from aim.errors import ConfigError

__all__ = ["GRDA", "grda_threshold"]


def grda_threshold(lr: float, c: float, mu: float, steps: int) -> float:
    """Closed-form threshold after ``steps`` steps at constant learning rate: ``c * lr**0.5 * (steps*lr)**mu``."""
    return c * lr**0.5 * (steps * lr) ** mu


class GRDA(Optimizer):
    """``GRDA(params, lr=0.01, c=0.0, mu=0.7)``; meant for gate parameters only (α of FIS/IFS, β of EDS; paper §3.6).

    Args:
        params: iterable of tensors or of param-group dicts (each group may override lr, c, mu).
        lr: learning rate γ > 0.
        c: sparsity strength c >= 0 (c = 0 turns GRDA into plain dual averaging = SGD from p0).
        mu: growth exponent of the threshold, 0 < μ < 1 (larger → sparser later in training).

    State per parameter (``self.state[p]``): ``"v"`` dual accumulator (same shape/dtype/device as p),
    ``"l1"`` accumulated threshold (python float, or 0-dim tensor if lr is a tensor), ``"step"`` int count.
    """

    def __init__(self, params: Iterable[Any], lr: float = 0.01, c: float = 0.0, mu: float = 0.7):
        _check_hparams(lr, c, mu)
        super().__init__(params, {"lr": lr, "c": c, "mu": mu})

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        # Groups may carry their own hyper-parameters; validate those too, not only the constructor defaults.
        super().add_param_group(param_group)
        g = self.param_groups[-1]
        _check_hparams(g["lr"], g["c"], g["mu"])

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One GRDA step for every parameter with a gradient; those with ``grad is None`` are left untouched
        (their ``step`` count does not advance, so their threshold only grows while they are trained)."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, c, mu = group["lr"], group["c"], group["mu"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError("GRDA does not support sparse gradients")
                state = self.state[p]
                if len(state) == 0:
                    # Dual averaging: the accumulator starts at the initial value, not at zero.
                    state["v"] = p.detach().clone(memory_format=torch.preserve_format)
                    state["l1"] = 0.0
                    state["step"] = 0
                t = state["step"]
                v = state["v"]
                if torch.is_tensor(lr):
                    v.sub_(p.grad * lr)
                else:
                    v.add_(p.grad, alpha=-lr)
                # The increment uses t BEFORE it is advanced: summing it telescopes to c γ^(0.5+μ) T^μ.
                # It depends only on hyper-parameters, so it stays a python float: no host sync per step.
                state["l1"] = state["l1"] + c * lr ** (0.5 + mu) * ((t + 1) ** mu - t**mu)
                state["step"] = t + 1
                # p = sign(v) * max(|v| - l1, 0), written in place into p.
                p.copy_(torch.sign(v) * (v.abs() - state["l1"]).clamp_(min=0))
        return loss


def _check_hparams(lr: Any, c: Any, mu: Any) -> None:
    if torch.is_tensor(lr):
        if lr.numel() != 1:
            raise ConfigError(f"GRDA lr must be a scalar tensor, got shape {tuple(lr.shape)}")
    elif not lr > 0:
        raise ConfigError(f"GRDA lr={lr!r} is not valid; it must be > 0")
    if not c >= 0:
        raise ConfigError(f"GRDA c={c!r} is not valid; it must be >= 0")
    if not 0 < mu < 1:
        raise ConfigError(f"GRDA mu={mu!r} is not valid; it must satisfy 0 < mu < 1")
