"""The synthetic generator: planted truth, ids, positive rate, determinism."""

import numpy as np
import pytest

from aim.config import SyntheticConfig
from aim.data.synthetic import generate


@pytest.fixture(scope="module")
def data():
    return generate(SyntheticConfig(rows=5000, fields=8, noise_fields=2, planted_pairs=3, planted_triples=1))


def test_planted_truth_is_consistent(data):
    truth = data.truth
    assert len(truth.interactions) == 4 and truth.kinds == ("inner", "kernel", "outer", "inner3")
    pairs = [t for t in truth.interactions if len(t) == 2]
    assert len(set(pairs)) == 3 and all(a < b for a, b in pairs)
    # The kernel pair shares a field with the inner pair before it (a shared embedding cannot serve both).
    assert set(pairs[0]) & set(pairs[1])
    triple = truth.interactions[3]
    assert len(triple) == 3 and set(pairs[0]) < set(triple)  # heredity: Algorithm 1 reaches it through the pair
    planted_fields = {f for t in truth.interactions for f in t}
    assert not planted_fields & set(truth.noise_fields)
    assert [data.fields[f].name.startswith("noise") for f in truth.noise_fields] == [True, True]


def test_ids_splits_and_positive_rate(data):
    assert len(data.train) + len(data.valid) + len(data.test) == 5000
    for split in (data.train, data.valid, data.test):
        assert split.X.dtype == np.int32
        assert split.X.min() >= 1  # id 0 is reserved for OOV
        assert np.all(split.X.max(axis=0) < np.array(data.vocab_sizes))
        assert split.positive_rate == pytest.approx(0.25, abs=0.03)


def test_zipf_like_frequencies(data):
    counts = np.sort(np.bincount(data.train.X[:, 0]))[::-1]
    assert counts[0] > 5 * np.median(counts[counts > 0])


def test_planted_pair_carries_signal_noise_field_does_not(data):
    from aim.stats_auc import stats_auc

    pair = data.truth.interactions[0]
    noise = data.truth.noise_fields
    aucs = stats_auc(data.train.X, data.train.y, data.test.X, data.test.y, [pair, (noise[0],)], data.vocab_sizes)
    assert aucs[0] > 0.55 and abs(aucs[1] - 0.5) < 0.05


def test_same_seed_same_data_other_seed_other_data():
    cfg = SyntheticConfig(rows=1000, fields=5, noise_fields=1, planted_pairs=2)
    a, b = generate(cfg), generate(cfg)
    np.testing.assert_array_equal(a.train.X, b.train.X)
    c = generate(SyntheticConfig(rows=1000, fields=5, noise_fields=1, planted_pairs=2, data_seed=8))
    assert not np.array_equal(a.train.X, c.train.X)
