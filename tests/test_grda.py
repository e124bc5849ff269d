"""GRDA optimizer (aim/grda.py): closed form, exact zeros, revival, lr decay, state_dict, toy gate selection."""

from __future__ import annotations

import io
import math

import pytest
import torch

from aim.errors import ConfigError
from aim.grda import GRDA, grda_threshold


def _set_grad(p: torch.Tensor, values: list[float]) -> None:
    p.grad = torch.tensor(values, dtype=p.dtype)


def test_hand_computed_three_steps() -> None:
    # lr=0.1, c=1, mu=0.5  ->  gamma^(0.5+mu) = 0.1 and the threshold after T steps is 0.1 * sqrt(T).
    p = torch.nn.Parameter(torch.tensor([1.0, -0.5, 0.2], dtype=torch.float64))
    opt = GRDA([p], lr=0.1, c=1.0, mu=0.5)

    # step 1, grad [1, -2, 0.5]: v = [0.9, -0.3, 0.15], l1 = 0.1 -> p = [0.8, -0.2, 0.05]
    _set_grad(p, [1.0, -2.0, 0.5])
    opt.step()
    torch.testing.assert_close(opt.state[p]["v"], torch.tensor([0.9, -0.3, 0.15], dtype=torch.float64))
    assert opt.state[p]["l1"] == pytest.approx(0.1, abs=1e-15)
    torch.testing.assert_close(p.detach(), torch.tensor([0.8, -0.2, 0.05], dtype=torch.float64))

    # step 2, same grad: v = [0.8, -0.1, 0.1], l1 = 0.1*sqrt(2) = 0.14142136 -> p = [0.65857864, 0, 0]
    _set_grad(p, [1.0, -2.0, 0.5])
    opt.step()
    assert opt.state[p]["l1"] == pytest.approx(0.1 * math.sqrt(2), abs=1e-15)
    torch.testing.assert_close(p.detach(), torch.tensor([0.8 - 0.1 * math.sqrt(2), 0.0, 0.0], dtype=torch.float64))
    assert p[1].item() == 0.0 and p[2].item() == 0.0  # exact zeros, not just small

    # step 3, grad [0, 3, -4]: v = [0.8, -0.4, 0.5], l1 = 0.1*sqrt(3) = 0.17320508
    #   -> p = [0.62679492, -0.22679492, 0.32679492]: both zeroed entries revive.
    _set_grad(p, [0.0, 3.0, -4.0])
    opt.step()
    l1 = 0.1 * math.sqrt(3)
    torch.testing.assert_close(opt.state[p]["v"], torch.tensor([0.8, -0.4, 0.5], dtype=torch.float64))
    torch.testing.assert_close(p.detach(), torch.tensor([0.8 - l1, -(0.4 - l1), 0.5 - l1], dtype=torch.float64))
    assert opt.state[p]["step"] == 3


@pytest.mark.parametrize("mu", [0.3, 0.51, 0.7, 0.9])
def test_constant_lr_threshold_matches_closed_form(mu: float) -> None:
    lr, c = 0.05, 0.02
    p = torch.nn.Parameter(torch.zeros(4, dtype=torch.float64))
    opt = GRDA([p], lr=lr, c=c, mu=mu)
    for t in range(1, 201):
        p.grad = torch.zeros_like(p)
        opt.step()
        assert opt.state[p]["l1"] == pytest.approx(grda_threshold(lr, c, mu, t), rel=1e-12)
        assert opt.state[p]["l1"] == pytest.approx(c * lr**0.5 * (t * lr) ** mu, rel=1e-12)


def test_zero_c_is_dual_averaging_sgd() -> None:
    # c = 0: no threshold, p_T = p0 - lr * sum(grads), identical to plain SGD.
    torch.manual_seed(0)
    p = torch.nn.Parameter(torch.randn(5, dtype=torch.float64))
    q = torch.nn.Parameter(p.detach().clone())
    a, b = GRDA([p], lr=0.03), torch.optim.SGD([q], lr=0.03)
    for _ in range(10):
        g = torch.randn(5, dtype=torch.float64)
        p.grad, q.grad = g.clone(), g.clone()
        a.step()
        b.step()
    torch.testing.assert_close(p.detach(), q.detach())


def test_lr_decay_via_param_groups_and_scheduler() -> None:
    c, mu = 0.5, 0.7
    p = torch.nn.Parameter(torch.tensor([1.0, -1.0], dtype=torch.float64))
    opt = GRDA([p], lr=0.1, c=c, mu=mu)
    g = [0.2, 0.4]
    _set_grad(p, g)
    opt.step()  # t=0 at lr 0.1
    for group in opt.param_groups:
        group["lr"] = 0.01
    _set_grad(p, g)
    opt.step()  # t=1 at lr 0.01
    l1 = c * 0.1 ** (0.5 + mu) * 1.0 + c * 0.01 ** (0.5 + mu) * (2**mu - 1)
    v = torch.tensor([1.0 - 0.1 * 0.2 - 0.01 * 0.2, -1.0 - 0.1 * 0.4 - 0.01 * 0.4], dtype=torch.float64)
    assert opt.state[p]["l1"] == pytest.approx(l1, rel=1e-14)
    torch.testing.assert_close(opt.state[p]["v"], v)
    torch.testing.assert_close(p.detach(), torch.sign(v) * (v.abs() - l1).clamp(min=0))

    # A standard scheduler drives the same param_groups["lr"]: one more step at 0.01 (t=2), then halve.
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    _set_grad(p, g)
    opt.step()
    sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.005)
    before = opt.state[p]["l1"]
    _set_grad(p, g)
    opt.step()  # t=3 at lr 0.005
    assert opt.state[p]["l1"] - before == pytest.approx(c * 0.005 ** (0.5 + mu) * (4**mu - 3**mu), rel=1e-12)


def test_zeroed_gate_revives_when_gradient_pushes_back() -> None:
    p = torch.nn.Parameter(torch.tensor([0.3]))
    opt = GRDA([p], lr=0.1, c=0.2, mu=0.7)
    # Gradient pushes towards 0 until the gate is exactly zero and stays there for a while.
    for _ in range(30):
        p.grad = torch.tensor([1.0]) if p.item() > 0 else torch.tensor([0.0])
        opt.step()
    assert p.item() == 0.0
    # Now a strong negative gradient (loss wants the gate larger): |v| outgrows l1 and the gate comes back.
    revived_at = None
    for i in range(200):
        p.grad = torch.tensor([-2.0])
        opt.step()
        if p.item() > 0:
            revived_at = i
            break
    assert revived_at is not None and p.item() > 0


def test_params_without_grad_are_skipped() -> None:
    a = torch.nn.Parameter(torch.ones(3))
    b = torch.nn.Parameter(torch.ones(3))
    opt = GRDA([a, b], lr=0.1, c=0.1)
    a.grad = torch.ones(3)
    opt.step()
    opt.step()
    assert opt.state[a]["step"] == 2
    assert len(opt.state[b]) == 0
    assert torch.equal(b.detach(), torch.ones(3))
    b.grad = torch.zeros(3)
    opt.step()
    assert opt.state[b]["step"] == 1 and opt.state[a]["step"] == 3
    # b's threshold only counts its own step: c * lr^(0.5+mu) * 1^mu
    assert opt.state[b]["l1"] == pytest.approx(0.1 * 0.1**1.2)


def _run(opt: GRDA, p: torch.Tensor, grads: list[torch.Tensor]) -> None:
    for g in grads:
        p.grad = g.clone()
        opt.step()


def test_state_dict_round_trip_is_bit_identical() -> None:
    torch.manual_seed(1)
    init = torch.randn(6) * 0.1
    grads = [torch.randn(6) for _ in range(20)]

    ref = torch.nn.Parameter(init.clone())
    ref_opt = GRDA([ref], lr=0.05, c=0.05, mu=0.6)
    _run(ref_opt, ref, grads)

    first = torch.nn.Parameter(init.clone())
    first_opt = GRDA([first], lr=0.05, c=0.05, mu=0.6)
    _run(first_opt, first, grads[:9])
    buf = io.BytesIO()
    torch.save({"param": first.detach().clone(), "opt": first_opt.state_dict()}, buf)
    buf.seek(0)
    saved = torch.load(buf, weights_only=True)

    resumed = torch.nn.Parameter(saved["param"].clone())
    resumed_opt = GRDA([resumed], lr=0.123, c=0.0, mu=0.5)  # hyper-parameters come back from the state dict
    resumed_opt.load_state_dict(saved["opt"])
    assert resumed_opt.param_groups[0]["lr"] == 0.05 and resumed_opt.state[resumed]["step"] == 9
    _run(resumed_opt, resumed, grads[9:])
    assert torch.equal(resumed.detach(), ref.detach())
    assert torch.equal(resumed_opt.state[resumed]["v"], ref_opt.state[ref]["v"])
    assert resumed_opt.state[resumed]["l1"] == ref_opt.state[ref]["l1"]


@pytest.mark.parametrize(
    "kwargs",
    [{"lr": 0.0}, {"lr": -1.0}, {"c": -0.1}, {"mu": 0.0}, {"mu": 1.0}, {"mu": 1.5}, {"lr": float("nan")}],
)
def test_invalid_arguments_are_refused(kwargs: dict) -> None:
    p = torch.nn.Parameter(torch.zeros(1))
    with pytest.raises(ConfigError, match="GRDA"):
        GRDA([p], **kwargs)
    with pytest.raises(ValueError):  # ConfigError is a ValueError too
        GRDA([p], **kwargs)


def test_invalid_param_group_override_is_refused() -> None:
    p, q = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    with pytest.raises(ConfigError, match="mu"):
        GRDA([{"params": [p]}, {"params": [q], "mu": 2.0}])


def _toy_regression(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """y = X @ w_true with features 0..3 useful and 4..7 pure noise (w_true = 0), plus a little label noise."""
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(512, 8, generator=g)
    w_true = torch.tensor([1.5, -2.0, 1.0, 0.8, 0.0, 0.0, 0.0, 0.0])
    y = X @ w_true + 0.05 * torch.randn(512, generator=g)
    return X, y, w_true


@pytest.mark.parametrize("c", [0.0, 0.1])
def test_toy_grda_alone_zeroes_noise_gates(c: float) -> None:
    X, y, w_true = _toy_regression()
    gates = torch.nn.Parameter(torch.full((8,), 0.5))
    opt = GRDA([gates], lr=0.05, c=c, mu=0.7)
    for _ in range(400):
        opt.zero_grad()
        loss = ((X @ gates - y) ** 2).mean()
        loss.backward()
        opt.step()
    assert torch.all(gates[:4].abs() > 0.5), gates
    assert torch.all(torch.sign(gates[:4]) == torch.sign(w_true[:4]))
    if c > 0:
        assert torch.all(gates[4:] == 0), gates
    else:  # control: without the threshold, noise gates get small but never exactly zero
        assert torch.all(gates[4:] != 0), gates


def test_toy_adam_weights_plus_grda_gates() -> None:
    # The AIM setting: weights by Adam, gates by GRDA, both stepped after the same backward pass.
    X, y, _ = _toy_regression(seed=3)
    torch.manual_seed(0)
    w = torch.nn.Parameter(0.1 * torch.randn(8))
    gates = torch.nn.Parameter(torch.ones(8))
    adam = torch.optim.Adam([w], lr=0.02)
    grda = GRDA([gates], lr=0.05, c=0.5, mu=0.7)
    for _ in range(600):
        adam.zero_grad()
        grda.zero_grad()
        loss = (((X * gates) @ w - y) ** 2).mean()
        loss.backward()
        adam.step()
        grda.step()
    assert torch.all(gates[4:] == 0), gates
    assert torch.all(gates[:4] != 0), gates
    assert loss.item() < 0.05
