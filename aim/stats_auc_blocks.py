"""Statistics AUC (``aim.stats_auc``) of arrays too large for memory: memory-mapped splits (data.storage=mmap) read
in row blocks. The same per-key counts go into the same ``auc_of_counts``, so the values equal ``stats_auc``'s
exactly; ``stats_auc`` hands memory-mapped arrays to ``stats_auc_blocks`` itself.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from aim.errors import ConfigError
from aim.stats_auc_common import MAX_KEY_SPACE, auc_of_counts, check_interaction, check_vocab, check_y, test_key_counts

__all__ = ["stats_auc_blocks"]

_BLOCK_ROWS = 1 << 20  # rows per block of stats_auc_blocks
_BLOCK_DENSE = 1 << 22  # key spaces up to this are counted in dense tables there


def stats_auc_blocks(
    train_X: np.ndarray,
    train_y: np.ndarray,
    test_X: np.ndarray,
    test_y: np.ndarray,
    interactions: Sequence[Sequence[int]],
    vocab_sizes: Sequence[int] | None = None,
    block_rows: int = _BLOCK_ROWS,
) -> np.ndarray:
    """``stats_auc`` reading the arrays ``block_rows`` rows at a time (memory-mapped splits, data.storage=mmap):
    memory O(block + vocabularies + the distinct test keys of one interaction) instead of O(N·F). The same
    per-key counts go into the same ``auc_of_counts``, so the result equals ``stats_auc``'s exactly.

    One pass checks ids and labels, one per used field finds the values that occur in test (coded 0..m-1, the
    others -1: a train row holding one matches no test key); then each interaction takes one pass over its
    columns of test (its keys and their labels) and one of train (the clicks of those keys). Column-major
    arrays (how the out-of-core encoder writes them) make each of these a contiguous read.
    """
    for name, X in (("train_X", train_X), ("test_X", test_X)):
        if X.ndim != 2 or not np.issubdtype(X.dtype, np.integer):
            raise ConfigError(f"{name} must be a 2-D integer array (N, F), got {X.dtype} {X.shape}")
    for name, y, X in (("train_y", train_y, train_X), ("test_y", test_y, test_X)):
        if y.shape != (len(X),):
            raise ConfigError(f"{name} must have shape ({len(X)},), got {y.shape}")
    n_fields = train_X.shape[1]
    if test_X.shape[1] != n_fields:
        raise ConfigError(f"train_X has {n_fields} fields but test_X has {test_X.shape[1]}")
    if len(train_X) == 0:
        raise ConfigError("train_X is empty: the statistics CTR needs at least one training row")
    inters = [check_interaction(t, n_fields) for t in interactions]
    data = _Blocks({"train": (train_X, train_y), "test": (test_X, test_y)}, block_rows)
    clicks, n_pos, n_neg, seen_max = 0, 0, 0, np.zeros(n_fields, dtype=np.int64)
    for split in ("train", "test"):
        X, y = data.splits[split]
        for rows in data.ranges(split):
            block = np.asarray(X[rows])
            if block.size and block.min() < 0:
                raise ConfigError(f"{split}_X holds negative ids; ids must be non-negative field-local integers")
            seen_max = np.maximum(seen_max, block.max(axis=0, initial=0))
            positive = int(check_y(np.asarray(y[rows]), len(block), f"{split}_y").sum())
            clicks += positive if split == "train" else 0
            n_pos += positive if split == "test" else 0
            n_neg += len(block) - positive if split == "test" else 0
    vocab = [int(m) + 1 for m in seen_max] if vocab_sizes is None else check_vocab(vocab_sizes, seen_max)
    out = np.full(len(inters), np.nan)
    if n_pos == 0 or n_neg == 0 or not inters:
        return out
    codes: dict[int, np.ndarray] = {}
    sizes: dict[int, int] = {}
    for f in sorted({f for fields in inters for f in fields}):
        present = np.zeros(vocab[f], dtype=bool)
        for rows in data.ranges("test"):
            present[test_X[rows, f]] = True
        codes[f] = np.where(present, np.cumsum(present) - 1, -1)
        sizes[f] = int(present.sum())
    global_ctr = clicks / len(train_y)
    for i, fields in enumerate(inters):
        keys = _Keys(fields, codes, sizes, data)
        out[i] = auc_of_counts(*keys.counts(data), global_ctr, n_pos, n_neg)
    return out


class _Blocks:
    """The two splits, read in row blocks."""

    def __init__(self, splits: dict[str, tuple[np.ndarray, np.ndarray]], block_rows: int):
        self.splits = splits
        self.block_rows = block_rows

    def ranges(self, split: str):
        n = len(self.splits[split][1])
        return (slice(s, s + self.block_rows) for s in range(0, n, self.block_rows))

    def columns(self, split: str, fields: Sequence[int]):
        """Per block: the ``fields`` columns int64 (b, len(fields)) and the negative-label flags (b,)."""
        X, y = self.splits[split]
        for rows in self.ranges(split):
            cols = np.stack([np.asarray(X[rows, f], dtype=np.int64) for f in fields], axis=1)
            yield cols, np.asarray(y[rows]) != 1


class _Keys:
    """One interaction's key over its fields' test-value codes: mixed radix, with a re-ranking step (the key ->
    its rank among the distinct test partial keys, found by one more pass over test) wherever the product would
    pass MAX_KEY_SPACE. ``-1`` = a row that matches no test key."""

    def __init__(self, fields: tuple[int, ...], codes: dict[int, np.ndarray], sizes: dict[int, int], data: _Blocks):
        self.fields, self.codes, self.sizes = fields, codes, sizes
        self.steps: list[int | np.ndarray] = [0]  # column index into ``fields``, or a sorted array of keys
        self.space = sizes[fields[0]]
        for j, f in enumerate(fields[1:], start=1):
            if self.space * sizes[f] > MAX_KEY_SPACE:
                parts = [np.unique(self.of(cols)) for cols, _ in data.columns("test", fields)]
                distinct = np.unique(np.concatenate(parts))
                self.steps.append(distinct)
                self.space = len(distinct)
            self.steps.append(j)
            self.space *= sizes[f]

    def of(self, cols: np.ndarray) -> np.ndarray:
        """Keys int64 (b,) of a block's columns (b, len(fields)) under the steps built so far."""
        key = None
        for step in self.steps:
            if isinstance(step, np.ndarray):
                rank = np.searchsorted(step, key).clip(max=len(step) - 1)
                key = np.where((key >= 0) & (step[rank] == key), rank, -1)
                continue
            f = self.fields[step]
            code = self.codes[f][cols[:, step]]
            key = code if key is None else np.where((key < 0) | (code < 0), -1, key * self.sizes[f] + code)
        return key

    def counts(self, data: _Blocks) -> tuple[np.ndarray, ...]:
        """(train clicks, train non-clicks, test positives, test negatives) per test key (``test_key_counts``)."""
        if self.space <= _BLOCK_DENSE:
            tables = {}
            for split in ("test", "train"):
                table = np.zeros(2 * self.space, dtype=np.int64)
                for cols, negative in data.columns(split, self.fields):
                    key = self.of(cols)
                    hit = key >= 0
                    table += np.bincount(2 * key[hit] + negative[hit], minlength=2 * self.space)
                tables[split] = table.reshape(-1, 2)
            return test_key_counts(tables["train"], tables["test"])
        packed, counts = [], []
        for cols, negative in data.columns("test", self.fields):  # every test row has a key (its values occur)
            k, n = np.unique(2 * self.of(cols) + negative, return_counts=True)
            packed.append(k)
            counts.append(n)
        packed_all, inverse = np.unique(np.concatenate(packed), return_inverse=True)
        total = np.bincount(inverse, weights=np.concatenate(counts)).astype(np.int64)
        keys = np.unique(packed_all >> 1)
        test = np.zeros((len(keys), 2), dtype=np.int64)
        test[np.searchsorted(keys, packed_all >> 1), packed_all & 1] = total
        train = np.zeros(2 * len(keys), dtype=np.int64)
        for cols, negative in data.columns("train", self.fields):
            key = self.of(cols)
            rank = np.searchsorted(keys, key).clip(max=len(keys) - 1)
            hit = (key >= 0) & (keys[rank] == key)
            train += np.bincount(2 * rank[hit] + negative[hit], minlength=2 * len(keys))
        train = train.reshape(-1, 2)
        return train[:, 0], train[:, 1], test[:, 0], test[:, 1]
