"""Statistics AUC of feature interactions (AIM paper §4.4.2), exact and fast.

For an interaction (a tuple of field indices, order 1..4 in the paper, any order here) every TEST row is scored
by the empirical CTR (#clicks / #impressions) of its value combination in the TRAIN set; combinations never seen
in training get the global train CTR. The interaction's statistics AUC is the ROC AUC of that score on the test
labels, ties counting 1/2 exactly as ``sklearn.metrics.roc_auc_score`` does.

How it stays fast (no Python loop over rows, only over interactions; a few ms per pair at 1M rows):
  * the used columns are copied once in cache-sized row blocks, and each field is compacted to dense ids: values
    present in both splits (most frequent first, so hot keys share a cache-friendly range), then one id for all
    test-only values and one for all train-only values;
  * an interaction's key is a mixed-radix integer over those ids (int32 when it fits), packed per row as
    ``2 * key + (label == 0)``; train rows come first, test rows after;
  * small key spaces: two ``np.bincount`` calls (train part, test part) give clicks, non-clicks, test positives
    and test negatives per key; interactions whose union of fields is still small share one such pass and are
    read off as marginals. Large spaces: the test part is sorted and run-length encoded, and the train counts
    of the test keys come from one more ``np.sort`` (``np.sort`` is several times faster than the argsort
    behind ``np.unique(return_inverse=True)`` or than binary searches). Only if the radix product would
    overflow int64 is a partial key re-factorized with ``np.unique``;
  * the AUC works on per-key aggregates of test keys only: keys are grouped by predicted VALUE (two keys with an
    equal CTR are tied), groups sorted, AUC = sum(pos * (neg_before + neg / 2)) / (P * N) in exact integers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from aim.errors import ConfigError
from aim.stats_auc_common import (  # noqa: F401 - MAX_KEY_SPACE: read here, patched by the tests
    MAX_KEY_SPACE,
    auc_of_counts,
    check_interaction,
    check_vocab,
    check_y,
    test_key_counts,
)

__all__ = ["stats_auc"]

# Key spaces up to max(_DENSE_MIN, _DENSE_PER_ROW * n_rows) are counted with dense bincounts; larger ones by
# sorting (random increments into a big table miss the cache and cost more than the sort).
_DENSE_MIN = 1 << 16
_DENSE_PER_ROW = 0.4
# Interactions whose fields' joint key space is at most this share counting passes (see _plan); the planner
# looks for a group among the last _GROUP_SCAN groups only, which keeps it linear in the number of interactions.
_GROUP_SPACE = 1 << 14
_GROUP_SCAN = 64


def stats_auc(
    train_X: np.ndarray,
    train_y: np.ndarray,
    test_X: np.ndarray,
    test_y: np.ndarray,
    interactions: Sequence[Sequence[int]],
    vocab_sizes: Sequence[int] | None = None,
) -> np.ndarray:
    """Statistics AUC per interaction.

    Args:
        train_X, test_X: integer (N_train, F) and (N_test, F) arrays of non-negative field-local ids.
        train_y, test_y: (N_train,) and (N_test,) labels in {0, 1} (int, bool or float).
        interactions: each a non-empty sequence of distinct field indices in [0, F).
        vocab_sizes: optional (F,) upper bounds of the ids (default: max id + 1 over both splits); they only
            speed up the per-field compaction, the result does not depend on them.

    Returns:
        float64 (n_interactions,) AUCs; nan for every interaction when the test labels have one class only.

    Memory-mapped arrays (``np.memmap``, data.storage=mmap) are read in blocks by ``stats_auc_blocks``: the
    same values without holding the columns in memory (``aim.stats_auc_blocks``).
    """
    if isinstance(train_X, np.memmap) or isinstance(test_X, np.memmap):
        from aim.stats_auc_blocks import stats_auc_blocks  # it imports this module's counting and checks

        return stats_auc_blocks(train_X, train_y, test_X, test_y, interactions, vocab_sizes)
    train_X, test_X = _check_X(train_X, "train_X"), _check_X(test_X, "test_X")
    train_y, test_y = check_y(train_y, len(train_X), "train_y"), check_y(test_y, len(test_X), "test_y")
    n_fields = train_X.shape[1]
    if test_X.shape[1] != n_fields:
        raise ConfigError(f"train_X has {n_fields} fields but test_X has {test_X.shape[1]}")
    if len(train_X) == 0:
        raise ConfigError("train_X is empty: the statistics CTR needs at least one training row")
    inters = [check_interaction(t, n_fields) for t in interactions]
    vocab = _vocab(train_X, test_X, vocab_sizes)
    out = np.full(len(inters), np.nan)
    n_pos, n_neg = int(test_y.sum()), int(len(test_y) - test_y.sum())
    if n_pos == 0 or n_neg == 0 or not inters:
        return out

    n_train = len(train_y)
    negative = np.concatenate((~train_y, ~test_y)).astype(np.int32)  # low bit of every packed key
    global_ctr = int(train_y.sum()) / n_train  # same float as any seen key with an equal click ratio
    used = sorted({f for fields in inters for f in fields})
    columns = _columns(train_X, test_X, used)
    codes = {f: _field_codes(columns[j], n_train, vocab[f], negative) for j, f in enumerate(used)}
    del columns
    scratch: dict[type, np.ndarray] = {}  # one key buffer per dtype, reused by every interaction
    dense_limit = max(_DENSE_MIN, _DENSE_PER_ROW * len(negative))
    sizes = {f: size for f, (_, size) in codes.items()}
    for union, members in _plan(inters, sizes):
        packed, space = _pack_key(union, codes, scratch)
        if len(members) == 1:
            count = _count_dense if space <= dense_limit else _count_sorted
            out[members[0]] = auc_of_counts(*count(packed, n_train, space), global_ctr, n_pos, n_neg)
            continue
        # One pass counts the joint key of the union; each member's counts are a marginal of that table.
        shape = [sizes[f] for f in union] + [2]
        train = np.bincount(packed[:n_train], minlength=2 * space).reshape(shape)
        test = np.bincount(packed[n_train:], minlength=2 * space).reshape(shape)
        for i in members:
            other = tuple(j for j, f in enumerate(union) if f not in inters[i])
            counts = test_key_counts(train.sum(axis=other).reshape(-1, 2), test.sum(axis=other).reshape(-1, 2))
            out[i] = auc_of_counts(*counts, global_ctr, n_pos, n_neg)
    return out


def _plan(inters: list[tuple[int, ...]], sizes: dict[int, int]) -> list[tuple[tuple[int, ...], list[int]]]:
    """Groups of interactions that share one counting pass: (union of fields in radix order, member indices).

    Greedy, smallest interactions first: each one joins the recent group whose union stays smallest within
    _GROUP_SPACE (a superset costs nothing), else starts a group. Large interactions are alone.
    """
    groups: list[tuple[set[int], list[int]]] = []
    limit = min(_GROUP_SPACE, MAX_KEY_SPACE)  # a re-factorized key could not be reshaped per field
    for i in sorted(range(len(inters)), key=lambda i: math.prod(sizes[f] for f in inters[i])):
        fields = set(inters[i])
        best, best_space = None, limit + 1
        if math.prod(sizes[f] for f in fields) <= limit:
            for group in groups[-_GROUP_SCAN:]:
                space = math.prod(sizes[f] for f in group[0] | fields)
                if space < best_space:
                    best, best_space = group, space
        if best is None:
            groups.append((fields, [i]))
        else:
            best[0].update(fields)
            best[1].append(i)
    # Largest field as the most significant digit: hot (low, frequency-ranked) ids then share a compact range.
    return [(tuple(sorted(union, key=lambda f: (-sizes[f], f))), members) for union, members in groups]


def _columns(train_X: np.ndarray, test_X: np.ndarray, fields: list[int], block: int = 4096) -> np.ndarray:
    """(len(fields), N_train + N_test) contiguous copy of the used columns, train rows then test rows.

    Copied in row blocks that fit in cache: reading one column of a row-major (N, F) array touches every cache
    line of it, so per-column copies would read the whole array once per field.
    """
    small = all(np.can_cast(X.dtype, np.int32) for X in (train_X, test_X))
    out = np.empty((len(fields), len(train_X) + len(test_X)), dtype=np.int32 if small else np.int64)
    whole = fields == list(range(train_X.shape[1]))
    offset = 0
    for X in (train_X, test_X):
        for start in range(0, len(X), block):
            rows = X[start : start + block]
            out[:, offset + start : offset + start + len(rows)] = (rows if whole else rows[:, fields]).T
        offset += len(X)
    return out


def _pack_key(
    fields: tuple[int, ...], codes: dict[int, tuple[np.ndarray, int]], scratch: dict[type, np.ndarray]
) -> tuple[np.ndarray, int]:
    """Per row ``2 * key + negative`` with a mixed-radix key over the fields' compact ids (first field most
    significant), in a scratch buffer that the next call overwrites. Returns (packed (n_rows,), key-space size).
    """
    space = math.prod(codes[f][1] for f in fields)
    # int32 halves the memory traffic of every pass and of the sort; _count_sorted needs 4 * space headroom.
    dtype = np.int32 if space <= MAX_KEY_SPACE and 4 * (space + 1) < 2**31 else np.int64
    code, space = codes[fields[0]]
    if dtype not in scratch:
        scratch[dtype] = np.empty(len(code), dtype=dtype)
    key = scratch[dtype]
    if len(fields) == 1:
        key[:] = code  # a copy: the sort path sorts in place
        return key, space
    # The partial key is kept times 2 (code & -2 = 2 * id), so the last field's code completes it with one add:
    # 2 * (k * size + id) + negative = (2 * k) * size + (2 * id + negative).
    np.bitwise_and(code, -2, out=key, casting="unsafe")
    for f in fields[1:]:
        code, size = codes[f]
        if space * size > MAX_KEY_SPACE:
            # Re-factorize the partial key to 0..distinct-1 (<= n rows) so the product fits int64 again.
            uniq, inverse = np.unique(key, return_inverse=True)
            np.multiply(inverse, 2, out=key)
            space = len(uniq)
        np.multiply(key, dtype(size), out=key)  # a numpy scalar keeps the key's dtype (NEP 50)
        last = f == fields[-1]
        np.add(key, code if last else code & -2, out=key, casting="unsafe")  # < 2 * space: no wrap-around
        space *= size
    return key, space


def _count_dense(packed: np.ndarray, n_train: int, space: int) -> tuple[np.ndarray, ...]:
    """`test_key_counts` from two bincounts (train part, test part) over the whole key space."""
    train = np.bincount(packed[:n_train], minlength=2 * space).reshape(-1, 2)
    return test_key_counts(train, np.bincount(packed[n_train:], minlength=2 * space).reshape(-1, 2))


def _count_sorted(packed: np.ndarray, n_train: int, space: int) -> tuple[np.ndarray, ...]:
    """Like `_count_dense` without a key-space-sized table; sorts the test part of `packed` in place."""
    train, test = packed[:n_train], packed[n_train:]
    test.sort()
    # Test keys by run-length encoding of the sorted test part; within a key the positive run (even code) comes
    # before the negative one (odd code).
    starts = np.flatnonzero(test[1:] != test[:-1])
    starts += 1
    starts = np.concatenate(([0], starts))
    run_code = test[starts]
    first = np.flatnonzero(np.concatenate(([True], (run_code[1:] >> 1) != (run_code[:-1] >> 1))))
    keys = run_code[first] >> 1
    total = np.diff(starts[first], append=len(test))
    neg = np.add.reduceat(np.diff(starts, append=len(test)) * (run_code & 1), first)
    # Train counts of exactly those keys = differences of the ranks of 2k, 2k + 1, 2k + 2 among the train codes.
    # One sort finds all ranks (binary searches would be slower): train codes c -> 2c (even) and the sorted
    # queries q -> 2q - 1 (odd, so a query sorts just before the codes equal to it); query j lands at rank + j.
    merged = np.empty(n_train + 3 * len(keys), dtype=packed.dtype)
    np.multiply(train, 2, out=merged[:n_train])
    np.add(4 * keys[:, None], np.array([-1, 1, 3], dtype=keys.dtype), out=merged[n_train:].reshape(-1, 3))
    merged.sort()  # equal queries are interchangeable, so an unstable sort is fine
    ranks = np.flatnonzero(merged & 1)
    ranks -= np.arange(len(ranks))
    ranks = ranks.reshape(-1, 3)
    return ranks[:, 1] - ranks[:, 0], ranks[:, 2] - ranks[:, 1], total - neg, neg


def _field_codes(col: np.ndarray, n_train: int, vocab: int, negative: np.ndarray) -> tuple[np.ndarray, int]:
    """One field's per-row ``2 * id + negative`` (train rows, then test rows) and its number of ids.

    Values present in both splits get ids 0..m-1, most frequent first (hot keys stay in a small, cache-friendly
    range); all test-only values share id m and all train-only values share id m + 1. Merging is exact: a key
    holding a test-only value has no train impressions (global CTR either way), and a key holding a train-only
    value never occurs in test, so its statistics are never read.
    """
    if vocab > 4 * len(col) + _DENSE_MIN:  # sparse or huge ids (e.g. hashed): factorize by sorting instead
        uniq, col = np.unique(col, return_inverse=True)
        vocab = len(uniq)
    count_tr = np.bincount(col[:n_train], minlength=vocab)
    count_te = np.bincount(col[n_train:], minlength=vocab)
    common = np.flatnonzero((count_tr > 0) & (count_te > 0))
    m = len(common)
    remap = np.where(count_te > 0, 2 * m, 2 * (m + 1)).astype(np.int32 if 4 * (m + 2) < 2**31 else np.int64)
    remap[common[np.argsort(-(count_tr[common] + count_te[common]), kind="stable")]] = 2 * np.arange(m)
    code = remap.take(col)
    code += negative
    return code, m + 2


def _vocab(train_X: np.ndarray, test_X: np.ndarray, vocab_sizes: Sequence[int] | None) -> list[int]:
    seen_max = np.maximum(train_X.max(axis=0, initial=0), test_X.max(axis=0, initial=0))
    if vocab_sizes is None:
        return [int(m) + 1 for m in seen_max]
    return check_vocab(vocab_sizes, seen_max)


def _check_X(X: np.ndarray, name: str) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim != 2 or not np.issubdtype(X.dtype, np.integer):
        raise ConfigError(f"{name} must be a 2-D integer array (N, F), got {X.dtype} {X.shape}")
    if X.size and X.min() < 0:
        raise ConfigError(f"{name} holds negative ids; ids must be non-negative field-local integers")
    if X.size and X.dtype == np.uint64 and X.max() >= 2**63:
        raise ConfigError(f"{name} holds ids >= 2**63; ids must fit int64")
    return X
