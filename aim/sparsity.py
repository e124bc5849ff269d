"""How strong GRDA prunes, stated so that it carries over between datasets, and chosen on validation.

GRDA's threshold after t steps of a constant learning rate γ is c·γ^½·(tγ)^μ (aim_reference.md §1, §10). A gate
that gets no gradient sits at its initial value a₀ (0.6) and dies when the threshold passes a₀, so a fixed c
means a different schedule on every dataset size: c 0.04 passes 0.6 at 4 % of stage B on Frappe and at 18 % on
the synthetic default, before the kernels have passed any gradient to β. Here the strength is a *crossing
fraction* x instead: the threshold reaches a₀ after x·T of the stage's T steps, and c follows from x, T, μ, γ and
the per-epoch decay of γ (``c_for_crossing``; ``crossing_step`` is its inverse). A gate with a steady gradient
grows its dual sum faster than the threshold and survives; x > 1 means an idle gate outlives the stage.

Several crossing fractions are several candidates: each trains the same stage from the same initial state
(same init, same batch order) and the pipeline keeps the *sparsest candidate whose validation AUC is within
k standard errors of the best* (``parsimonious`` with ``one_se_tolerance``; k = ``search.sparsity_se``, 1 by
default: the one-standard-error rule). ``aim.candidates`` trains them, in parallel processes where cores allow.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from aim.errors import ConfigError


@dataclass(frozen=True)
class Schedule:
    """The GRDA schedule of one search stage, as recorded in run.json."""

    c: float
    mu: float
    lr: float
    decay: float
    steps: int  # T: the stage's steps (epochs × steps per epoch)
    crossing_step: int | None  # first step at which the threshold reaches the gates' initial value (None: never)
    cross: float | None  # the crossing fraction c was derived from (None: c was given)

    def to_json(self) -> dict:
        return asdict(self)


def threshold_per_c(steps: int, steps_per_epoch: int, lr: float, mu: float, decay: float = 1.0) -> float:
    """GRDA's accumulated threshold after ``steps`` steps divided by c, with γ multiplied by ``decay`` after every
    epoch: Σ_t γ_t^(½+μ)·((t+1)^μ − t^μ), summed epoch by epoch (it telescopes within an epoch). For decay 1
    this is γ^½·(tγ)^μ."""
    total, done, epoch = 0.0, 0, 0
    while done < steps:
        n = min(steps_per_epoch, steps - done)
        total += (lr * decay**epoch) ** (0.5 + mu) * ((done + n) ** mu - done**mu)
        done += n
        epoch += 1
    return total


def c_for_crossing(alpha0: float, cross: float, steps_per_epoch: int, epochs: int, lr: float, mu: float,
                   decay: float = 1.0) -> float:
    """The c whose threshold reaches ``alpha0`` after ``cross`` × (the stage's steps) steps."""
    if not cross > 0:
        raise ConfigError(f"a crossing fraction must be > 0, got {cross}")
    steps = max(1, round(cross * steps_per_epoch * epochs))
    # Past the stage's end γ keeps the decay of its last epoch: decay**epoch continues the same way.
    return alpha0 / threshold_per_c(steps, steps_per_epoch, lr, mu, decay)


def crossing_step(c: float, alpha0: float, steps_per_epoch: int, lr: float, mu: float, decay: float = 1.0,
                  limit: int = 10**8) -> int | None:
    """The first step t at which the threshold c·threshold_per_c(t) reaches ``alpha0`` (None: not before
    ``limit``). With a constant γ (decay 1) the threshold is c·γ^(½+μ)·t^μ, solved for t and checked against
    ``threshold_per_c`` a step either side (float rounding); else bisection on the monotone threshold."""
    if c <= 0:
        return None
    if decay == 1.0:

        def reached(t: int) -> bool:
            return c * threshold_per_c(t, steps_per_epoch, lr, mu) >= alpha0

        guess = (alpha0 / (c * lr ** (0.5 + mu))) ** (1 / mu)
        if guess > limit + 1:
            return None
        t = max(1, math.ceil(guess))
        while t > 1 and reached(t - 1):
            t -= 1
        while not reached(t):
            t += 1
        return t if t <= limit else None
    if c * threshold_per_c(limit, steps_per_epoch, lr, mu, decay) < alpha0:
        return None
    lo, hi = 0, limit
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if c * threshold_per_c(mid, steps_per_epoch, lr, mu, decay) >= alpha0:
            hi = mid
        else:
            lo = mid
    return hi


def schedule(c: float, crosses: Sequence[float], alpha0: float, steps_per_epoch: int, epochs: int, lr: float,
             mu: float, decay: float) -> list[Schedule]:
    """The candidate schedules of one stage: c itself when it is given (c >= 0), else one per crossing fraction."""
    steps = steps_per_epoch * epochs
    if c >= 0:
        pairs = [(c, None)]
    else:
        pairs = [(c_for_crossing(alpha0, x, steps_per_epoch, epochs, lr, mu, decay), x) for x in crosses]
    return [Schedule(c=value, mu=mu, lr=lr, decay=decay, steps=steps, cross=x,
                     crossing_step=crossing_step(value, alpha0, steps_per_epoch, lr, mu, decay))
            for value, x in pairs]


def auc_standard_error(auc: float, n_pos: int, n_neg: int) -> float:
    """Hanley & McNeil (1982): the standard error of an AUC estimated on n_pos positives and n_neg negatives."""
    if n_pos < 1 or n_neg < 1 or not math.isfinite(auc):
        return float("nan")
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    var = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc**2) + (n_neg - 1) * (q2 - auc**2)) / (n_pos * n_neg)
    return math.sqrt(max(var, 0.0))


def one_se_tolerance(valid_auc: Sequence[float], y: np.ndarray, k: float) -> float:
    """``k`` standard errors of the best candidate's validation AUC on labels ``y``: the tolerance of the
    one-standard-error rule (Breiman et al. 1984; glmnet's lambda.1se), which shrinks as the validation set grows."""
    pos = int(np.sum(y))
    return k * auc_standard_error(float(np.nanmax(valid_auc)), pos, len(y) - pos)


def parsimonious(valid_auc: Sequence[float], size: Sequence[float], tol: float) -> int:
    """The parsimony rule: among the candidates whose validation AUC is within ``tol`` of the best, the one of
    the smallest ``size`` (ties: the higher AUC, then the first). NaN AUCs never qualify."""
    auc = np.asarray(valid_auc, dtype=float)
    if not np.isfinite(auc).any():
        raise ValueError("no candidate has a finite validation AUC")
    best = np.nanmax(auc)
    ok = [i for i in range(len(auc)) if np.isfinite(auc[i]) and auc[i] >= best - tol]
    return min(ok, key=lambda i: (size[i], -auc[i], i))
