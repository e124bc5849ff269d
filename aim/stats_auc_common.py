"""What both statistics-AUC paths share (``aim.stats_auc`` in memory, ``aim.stats_auc_blocks`` over memory-mapped
splits): the per-key counts of the test keys, the exact AUC of the CTR predictor from those counts, and the checks
of ids, labels and interactions, with the same messages on both paths."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from aim.errors import ConfigError

# A partial mixed-radix key is re-factorized before its key space would pass this (int64 headroom for * 4).
MAX_KEY_SPACE = 1 << 60
# Keys with fewer train impressions than this are grouped by (impressions, clicks) cell before the AUC sort.
_CELL = 128


def test_key_counts(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, ...]:
    """From (keys, 2) tables of [click, non-click] counts: (train clicks, train non-clicks, test positives,
    test negatives), each (test keys,), for the keys that occur in test (the others never matter)."""
    keys = np.flatnonzero(test[:, 0] + test[:, 1])
    return train[keys, 0], train[keys, 1], test[keys, 0], test[keys, 1]


def auc_of_counts(
    clicks: np.ndarray, non_clicks: np.ndarray, pos: np.ndarray, neg: np.ndarray, global_ctr: float, n_pos: int,
    n_neg: int,
) -> float:
    """ROC AUC of the CTR predictor from per-key counts (train clicks, non-clicks, test positives, negatives)."""
    imps = clicks + non_clicks
    # Keys with the same (impressions, clicks) share one prediction, so first sum the test labels per cell of a
    # small table (a bincount) and sort only the used cells plus the few frequent keys, not every key's CTR.
    small = imps < _CELL
    big = ~small
    cell = imps[small] * _CELL + clicks[small]
    cell_pos = np.bincount(cell, weights=pos[small], minlength=_CELL * _CELL)
    cell_neg = np.bincount(cell, weights=neg[small], minlength=_CELL * _CELL)
    used = np.flatnonzero(cell_pos + cell_neg)
    cell_imps, cell_clicks = np.divmod(used, _CELL)
    imps = np.concatenate((cell_imps, imps[big]))
    clicks = np.concatenate((cell_clicks, clicks[big]))
    # IEEE division is correctly rounded, so equal click ratios (1/2, 2/4, and the global CTR) give equal floats.
    ctr = np.divide(clicks, imps, out=np.full(len(imps), global_ctr), where=imps > 0)
    # Group by predicted value (not by key) so different keys with the same CTR are tied, then sort the groups.
    _, group = np.unique(ctr, return_inverse=True)
    pos = np.bincount(group, weights=np.concatenate((cell_pos[used], pos[big]))).astype(np.int64)
    neg = np.bincount(group, weights=np.concatenate((cell_neg[used], neg[big]))).astype(np.int64)
    neg_before = np.cumsum(neg) - neg
    # 2 * (sum pos*neg_before + sum pos*neg/2) in int64 is exact; one rounding at the final division.
    twice = 2 * int(np.dot(pos, neg_before)) + int(np.dot(pos, neg))
    return twice / (2 * n_pos * n_neg)


def check_vocab(vocab_sizes: Sequence[int], seen_max: np.ndarray) -> list[int]:
    """``vocab_sizes`` as ints, one per field, each above the largest id seen in that field (``seen_max``)."""
    vocab = [int(v) for v in vocab_sizes]
    if len(vocab) != len(seen_max):
        raise ConfigError(f"vocab_sizes has {len(vocab)} entries but the data has {len(seen_max)} fields")
    for i, (v, m) in enumerate(zip(vocab, seen_max, strict=True)):
        if m >= v:
            raise ConfigError(f"field {i}: id {int(m)} is outside vocab_sizes[{i}]={v} (ids must be in [0, {v}))")
    return vocab


def check_y(y: np.ndarray, n: int, name: str) -> np.ndarray:
    """Labels of shape (n,) holding only 0 / 1, as a boolean array (True = a click)."""
    y = np.asarray(y)
    if y.shape != (n,):
        raise ConfigError(f"{name} must have shape ({n},), got {y.shape}")
    is_one = y == 1
    if not np.all(is_one | (y == 0)):
        raise ConfigError(f"{name} must hold only 0/1 labels")
    return is_one


def check_interaction(t: Sequence[int], n_fields: int) -> tuple[int, ...]:
    """An interaction as a tuple of distinct field indices in [0, n_fields); ``ConfigError`` otherwise."""
    fields = tuple(int(f) for f in t)
    if not fields or len(set(fields)) != len(fields) or not all(0 <= f < n_fields for f in fields):
        raise ConfigError(f"interaction {tuple(t)!r} must be distinct field indices in [0, {n_fields})")
    return fields
