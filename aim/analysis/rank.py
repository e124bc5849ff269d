"""Spearman's rank correlation with its two-sided p-value, in numpy and the standard library.

The Interactions page shows ρ(statistics AUC, |α|) for every run; ``scipy.stats.spearmanr`` gave it, and importing
scipy.stats cost about 1 s of the first Interactions page of a fresh server. Same definitions as scipy: ranks with
ties averaged, ρ the Pearson correlation of the ranks, p from Student's t with n − 2 degrees of freedom,
t = ρ·√((n − 2) / (1 − ρ²)). ``tests/test_analysis.py`` checks both against scipy.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

_TINY = 1e-300


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the regularized incomplete beta function (modified Lentz's method)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, 1000):
        for aa in (m * (b - m) * x / ((qam + 2 * m) * (a + 2 * m)),
                   -(a + m) * (qab + m) * x / ((a + 2 * m) * (qap + 2 * m))):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > _TINY else _TINY)
            c = 1.0 + aa / c
            c = c if abs(c) > _TINY else _TINY
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return h


def regularized_beta(a: float, b: float, x: float) -> float:
    """I_x(a, b), the regularized incomplete beta function, for a, b > 0 and 0 <= x <= 1."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_fraction(a, b, x) / a
    return 1.0 - front * _beta_fraction(b, a, 1.0 - x) / b


def t_two_sided_p(t: float, dof: float) -> float:
    """P(|T| >= |t|) for Student's T with ``dof`` degrees of freedom."""
    if math.isnan(t):
        return math.nan
    if math.isinf(t):
        return 0.0
    return regularized_beta(dof / 2.0, 0.5, dof / (dof + t * t))


def spearman_rho_p(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(ρ, two-sided p) of two equally long samples without NaN; NaN when a sample is constant or n < 3."""
    n = len(x)
    rx = pd.Series(x).rank(method="average").to_numpy(float)
    ry = pd.Series(y).rank(method="average").to_numpy(float)
    if n < 3 or np.ptp(rx) == 0 or np.ptp(ry) == 0:
        return math.nan, math.nan
    rx, ry = rx - rx.mean(), ry - ry.mean()
    rho = float(np.clip((rx @ ry) / math.sqrt((rx @ rx) * (ry @ ry)), -1.0, 1.0))
    if abs(rho) == 1.0:
        return rho, 0.0
    return rho, t_two_sided_p(rho * math.sqrt((n - 2) / (1.0 - rho * rho)), n - 2)
