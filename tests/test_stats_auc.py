"""Statistics AUC (aim/stats_auc.py, paper §4.4.2) against a slow, obvious reference."""

from __future__ import annotations

import functools
import itertools
from collections import defaultdict

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from aim import stats_auc as sa
from aim import stats_auc_common
from aim.errors import ConfigError
from aim.stats_auc import stats_auc


def reference_auc(train_X, train_y, test_X, test_y, interaction) -> float:
    """Python dicts over rows + sklearn: CTR of the value combination in train, global CTR when unseen."""
    clicks: dict[tuple, float] = defaultdict(float)
    imps: dict[tuple, int] = defaultdict(int)
    for row, y in zip(train_X.tolist(), train_y.tolist(), strict=True):
        key = tuple(row[f] for f in interaction)
        clicks[key] += float(y)
        imps[key] += 1
    global_ctr = float(sum(train_y.tolist())) / len(train_y)
    scores = []
    for row in test_X.tolist():
        key = tuple(row[f] for f in interaction)
        scores.append(clicks[key] / imps[key] if key in imps else global_ctr)
    return roc_auc_score(np.asarray(test_y), np.asarray(scores))


def _random_data(seed: int, vocab: list[int], n_train: int = 2000, n_test: int = 700):
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    # Skewed ids so that combinations repeat (many ties of equal small ratios such as 1/2 = 2/4, 0/1 = 0/3).
    X = np.stack([np.minimum(rng.zipf(1.6, n) - 1, v - 1) for v in vocab], axis=1).astype(np.int64)
    logit = -1.0 + 0.8 * (X[:, 0] % 2) - 0.6 * ((X[:, 1] + X[:, 2]) % 3 == 0) + 0.3 * rng.standard_normal(n)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.float32)
    return X[:n_train], y[:n_train], X[n_train:], y[n_train:]


VOCAB = [2, 3, 5, 11, 60, 700]


def _all_interactions(n_fields: int, orders=(1, 2, 3, 4)) -> list[tuple[int, ...]]:
    return [t for k in orders for t in itertools.combinations(range(n_fields), k)]


def test_hand_computed_example() -> None:
    # Train CTR per value: 0 -> 2/4 = 0.5, 1 -> 1/4 = 0.25, 2 -> 1/1 = 1.0, 3 -> 1/2 = 0.5 (tie with value 0);
    # global CTR = 5/11. Test: pos scores [0.5, 0.25, 1.0, 5/11], neg scores [0.5, 0.25, 5/11] (value 4 unseen).
    # Pairs won: 0.5 -> 2 + 0.5 tie, 0.25 -> 0.5 tie, 1.0 -> 3, 5/11 -> 1 + 0.5 tie; total 7.5 / (4*3) = 0.625.
    train_X = np.array([[0], [0], [0], [0], [1], [1], [1], [1], [2], [3], [3]], dtype=np.int32)
    train_y = np.array([1, 1, 0, 0, 1, 0, 0, 0, 1, 1, 0])
    test_X = np.array([[0], [3], [1], [1], [2], [4], [4]], dtype=np.int32)
    test_y = np.array([1, 0, 0, 1, 1, 0, 1])
    got = stats_auc(train_X, train_y, test_X, test_y, [(0,)])
    assert got.dtype == np.float64 and got.shape == (1,)
    assert got[0] == 0.625
    assert reference_auc(train_X, train_y, test_X, test_y, (0,)) == pytest.approx(0.625, abs=1e-15)


def test_hand_computed_pair_example() -> None:
    # Pair (0, 1): train keys (0,0): 1/2, (0,1): 0/1, (1,0): 1/1, global 2/4 = 0.5.
    # Test: (0,0) y=1 -> 0.5, (1,1) y=0 -> unseen 0.5 (tie with a seen key), (0,1) y=0 -> 0.0, (1,0) y=1 -> 1.0.
    # Positives {0.5, 1.0} vs negatives {0.5, 0.0}: 0.5 -> 1 + 0.5, 1.0 -> 2; AUC = 3.5 / 4 = 0.875.
    train_X = np.array([[0, 0], [0, 0], [0, 1], [1, 0]])
    train_y = np.array([1, 0, 0, 1])
    test_X = np.array([[0, 0], [1, 1], [0, 1], [1, 0]])
    test_y = np.array([1, 0, 0, 1])
    assert stats_auc(train_X, train_y, test_X, test_y, [(0, 1)])[0] == 0.875


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_agrees_with_reference_orders_1_to_4(seed: int) -> None:
    data = _random_data(seed, VOCAB)
    inters = _all_interactions(len(VOCAB))
    got = stats_auc(*data, inters)
    want = np.array([reference_auc(*data, t) for t in inters])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    # The data really exercises unseen combinations and ties between different keys.
    train_X, train_y, test_X, _ = data
    keys_tr = {tuple(r) for r in train_X[:, [3, 4, 5]].tolist()}
    assert any(tuple(r) not in keys_tr for r in test_X[:, [3, 4, 5]].tolist())
    ratios = defaultdict(set)
    for key in keys_tr:
        mask = np.all(train_X[:, [3, 4, 5]] == key, axis=1)
        ratios[train_y[mask].mean()].add(key)
    assert any(len(keys) > 1 for keys in ratios.values())


@functools.cache
def _reference_seed7() -> np.ndarray:  # shared by the code-path variants below (the reference is slow)
    data = _random_data(7, VOCAB)
    return np.array([reference_auc(*data, t) for t in _all_interactions(len(VOCAB))])


@pytest.mark.parametrize(
    "patch",
    [
        {"_DENSE_MIN": 0, "_DENSE_PER_ROW": 0, "_GROUP_SPACE": 0},  # every interaction alone, sort path
        {"_DENSE_MIN": 1 << 40, "_GROUP_SPACE": 0},  # every interaction alone, dense path
        {"_GROUP_SPACE": 1 << 20},  # large shared passes, read off as marginals
        {"_GROUP_SPACE": 1 << 12, "_GROUP_SCAN": 1},
        {"MAX_KEY_SPACE": 50},  # re-factorize the partial key at almost every field
        {"_DENSE_MIN": 0, "_DENSE_PER_ROW": 0, "MAX_KEY_SPACE": 1, "_GROUP_SPACE": 0},
        {"_CELL": 1},  # AUC without the (impressions, clicks) cell table
        {"_CELL": 3},
    ],
)
def test_every_code_path_agrees(monkeypatch: pytest.MonkeyPatch, patch: dict) -> None:
    data = _random_data(7, VOCAB)
    inters = _all_interactions(len(VOCAB))
    want = _reference_seed7()
    for name, value in patch.items():
        monkeypatch.setattr(stats_auc_common if name == "_CELL" else sa, name, value)  # the AUC of counts is shared
    np.testing.assert_allclose(stats_auc(*data, inters), want, rtol=0, atol=1e-12)


def test_huge_vocab_sizes_force_compression() -> None:
    # Sparse ids up to 2^40 (like hashed values): a vocab-sized table per field is out of the question, so the
    # fields are compacted by sorting; the order-4 vocab product 2^160 would overflow int64 without compaction.
    rng = np.random.default_rng(3)
    train_X, train_y, test_X, test_y = _random_data(3, [4, 9, 40, 300, 300])
    table = rng.choice(2**40, size=(5, 300), replace=False).astype(np.int64)
    train_X = np.stack([table[f][train_X[:, f]] for f in range(5)], axis=1)
    test_X = np.stack([table[f][test_X[:, f]] for f in range(5)], axis=1)
    inters = _all_interactions(5)
    want = np.array([reference_auc(train_X, train_y, test_X, test_y, t) for t in inters])
    for vocab in (None, [2**40] * 5):
        got = stats_auc(train_X, train_y, test_X, test_y, inters, vocab_sizes=vocab)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_dtypes_and_vocab_sizes_do_not_change_the_result() -> None:
    train_X, train_y, test_X, test_y = _random_data(5, VOCAB)
    inters = _all_interactions(len(VOCAB), orders=(1, 2, 3))
    base = stats_auc(train_X, train_y, test_X, test_y, inters)
    other = stats_auc(
        train_X.astype(np.int32), train_y.astype(np.int64), test_X.astype(np.int32), test_y.astype(bool), inters,
        vocab_sizes=[v * 3 + 1 for v in VOCAB],
    )
    np.testing.assert_array_equal(base, other)


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.uint32, np.uint64])
def test_other_integer_dtypes(dtype: type) -> None:
    train_X, train_y, test_X, test_y = _random_data(6, [2, 3, 5, 11, 60, 200])
    inters = _all_interactions(6, orders=(1, 2))
    want = stats_auc(train_X, train_y, test_X, test_y, inters)
    got = stats_auc(train_X.astype(dtype), train_y, test_X.astype(dtype), test_y, inters)
    np.testing.assert_array_equal(got, want)


def test_all_test_combinations_unseen_gives_half() -> None:
    train_X = np.array([[0], [1], [1]])
    test_X = np.array([[2], [3], [2], [5]])
    got = stats_auc(train_X, np.array([1, 0, 1]), test_X, np.array([0, 1, 1, 0]), [(0,)])
    assert got[0] == 0.5


def test_single_class_test_set_gives_nan() -> None:
    train_X, train_y, test_X, _ = _random_data(0, VOCAB)
    got = stats_auc(train_X, train_y, test_X, np.zeros(len(test_X)), [(0,), (1, 2)])
    assert got.shape == (2,) and np.all(np.isnan(got))


def test_empty_interaction_list() -> None:
    data = _random_data(0, VOCAB, n_train=50, n_test=20)
    assert stats_auc(*data, []).shape == (0,)


@pytest.mark.parametrize(
    "change, match",
    [
        ({"interactions": [(0, 0)]}, "distinct"),
        ({"interactions": [(0, 9)]}, "field indices"),
        ({"interactions": [()]}, "field indices"),
        ({"train_y": np.full(8, 2)}, "0/1"),
        ({"test_X": -np.ones((4, 2), dtype=np.int64)}, "negative"),
        ({"test_X": np.zeros((4, 2))}, "integer"),
        ({"test_X": np.zeros((4, 3), dtype=np.int64)}, "fields"),
        ({"vocab_sizes": [1, 1]}, "vocab_sizes"),
        ({"vocab_sizes": [5]}, "vocab_sizes"),
        ({"train_X": np.zeros((0, 2), dtype=np.int64), "train_y": np.zeros(0)}, "empty"),
    ],
)
def test_invalid_arguments_are_refused(change: dict, match: str) -> None:
    args = {
        "train_X": np.arange(16).reshape(8, 2) % 3,
        "train_y": np.array([0, 1] * 4),
        "test_X": np.arange(8).reshape(4, 2) % 3,
        "test_y": np.array([0, 1, 1, 0]),
        "interactions": [(0, 1)],
    }
    args.update(change)
    with pytest.raises(ConfigError, match=match):
        stats_auc(**args)
