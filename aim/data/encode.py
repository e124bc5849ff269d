"""Raw chunks -> encoded splits: stratified split assignment, train-only vocabularies, and the on-disk cache.

Encoding runs in two passes over memory, never over the raw strings twice:
1. every chunk's tokens get *provisional* ids (order of first appearance, one dict per field) stored as int32,
   and the labels are kept; the raw strings of a chunk are dropped once it is converted;
2. from the labels alone the rows are assigned to train / valid / test, values are counted over training rows
   only, and a per-field lookup array maps provisional ids to final ids while the chunks are copied into
   preallocated split arrays. Peak memory is about N*F*4 bytes plus the vocabularies.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from aim.data.base import OOV_ID, Field, Split
from aim.data.chunks import RawChunk
from aim.errors import DataError

CACHE_VERSION = 1  # bump when encoding rules change so that stale cache entries are not reused
SPLITS = ("train", "valid", "test")
TRAIN, VALID, TEST = 0, 1, 2


def _split_once(idx: np.ndarray, y: np.ndarray, test_size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified when possible; a class too small to stratify (tiny inputs) falls back to a plain shuffle."""
    # sklearn takes a second or more to import: only pay for it when a split is actually built.
    from sklearn.model_selection import train_test_split
    try:
        a, b = train_test_split(idx, test_size=test_size, stratify=y, random_state=seed)
    except ValueError:
        try:
            a, b = train_test_split(idx, test_size=test_size, random_state=seed)
        except ValueError:
            raise DataError(None, f"too few rows ({len(idx)}) to split off a fraction {test_size:g}") from None
    return np.sort(a), np.sort(b)


def stratified_split(y: np.ndarray, valid_frac: float, test_frac: float, seed: int) -> np.ndarray:
    """Labels (N,) -> split code int8 (N,) (0 train, 1 valid, 2 test): first hold out valid+test stratified
    by label, then split that part stratified. Same labels and seed -> same split."""
    n = len(y)
    code = np.zeros(n, dtype=np.int8)
    _, rest = _split_once(np.arange(n), y, valid_frac + test_frac, seed)
    _, test = _split_once(rest, y[rest], test_frac / (valid_frac + test_frac), seed)
    code[rest] = VALID
    code[test] = TEST
    return code


def given_test_split(valid_size: float, seed: int) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """Split assigner for datasets shipped as (part 0 = train+valid, part 1 = test): part 0 is split
    stratified into train / valid with ``valid_size``; part 1 is the test split as given."""

    def assign(y: np.ndarray, part: np.ndarray) -> np.ndarray:
        code = np.full(len(y), TEST, dtype=np.int8)
        idx = np.flatnonzero(part == 0)
        if len(idx) < 2:
            raise DataError(None, f"the train/valid part has {len(idx)} rows; need at least 2")
        _, valid = _split_once(idx, y[idx], valid_size, seed)
        code[idx] = TRAIN
        code[valid] = VALID
        return code

    return assign


def provisional_ids(chunk: RawChunk, maps: list[dict[str, int]]) -> np.ndarray:
    """A chunk's tokens -> provisional ids int32 (n, F): each field's ids in order of first appearance over all
    chunks so far; ``maps[f]`` (token -> provisional id) grows in place."""
    ids = np.empty((len(chunk), len(maps)), dtype=np.int32)
    for f, (codes, uniques) in enumerate(chunk.columns):
        m = maps[f]
        lut = np.fromiter((m.setdefault(u, len(m)) for u in uniques), dtype=np.int64, count=len(uniques))
        ids[:, f] = lut[codes]
    return ids


def final_ids(fields: list[tuple[str, str]], maps: list[dict[str, int]], counts: list[np.ndarray], min_count: int,
              ) -> tuple[list[np.ndarray], list[list[str]], tuple[Field, ...]]:
    """Training counts per provisional id -> (per field a lookup provisional id -> final id int32, the
    vocabularies, the fields). Values counted ``>= min_count`` times get ids 1..V-1 by descending count, then
    value; the others ``OOV_ID``."""
    luts, vocabs, out_fields = [], [], []
    for f, (name, kind) in enumerate(fields):
        keys = np.asarray(list(maps[f]), dtype=object)  # object, not fixed-width str: long values stay cheap
        kept = np.flatnonzero(counts[f] >= min_count)
        rank = np.empty(len(kept), dtype=np.int64)
        rank[np.argsort(keys[kept], kind="stable")] = np.arange(len(kept))  # order of the values as strings
        order = kept[np.lexsort((rank, -counts[f][kept]))]  # descending count, then value
        lut = np.full(len(keys), OOV_ID, dtype=np.int32)
        lut[order] = np.arange(1, len(order) + 1, dtype=np.int32)
        luts.append(lut)
        vocabs.append(keys[order].tolist())
        out_fields.append(Field(name, len(order) + 1, kind))
    return luts, vocabs, tuple(out_fields)


def encode_chunks(fields: list[tuple[str, str]], chunks: Iterable[RawChunk],
                  assign: Callable[[np.ndarray, np.ndarray], np.ndarray], min_count: int,
                  ) -> tuple[tuple[Field, ...], dict[str, Split], list[list[str]]]:
    """Encode a stream of raw chunks (F fields each) into splits.

    ``assign(y (N,), part (N,)) -> int8 (N,)`` gives each row's split. Vocabularies count training rows
    only: a value seen ``>= min_count`` times there gets an id in 1..V-1 (by descending count, then value);
    every other value (rare, or absent from train) gets ``OOV_ID`` 0. Returns the fields (vocab sizes
    include id 0), the splits {"train", "valid", "test"} with X int32 (n, F) and y float32 (n,) in file
    order, and the vocabularies: ``vocabs[f][i - 1]`` is the value of id ``i`` in field ``f``.
    """
    n_fields = len(fields)
    maps: list[dict[str, int]] = [{} for _ in range(n_fields)]
    prov: list[np.ndarray] = []
    ys, parts = [], []
    for chunk in chunks:  # pass 1: provisional ids, labels
        prov.append(provisional_ids(chunk, maps))
        ys.append(chunk.y.astype(np.float32))
        parts.append(np.full(len(chunk), chunk.part, dtype=np.int8))
    y = np.concatenate(ys) if ys else np.zeros(0, np.float32)
    code = assign(y, np.concatenate(parts) if parts else np.zeros(0, np.int8))
    sizes = [int((code == s).sum()) for s in range(3)]
    if sizes[TRAIN] == 0:
        raise DataError(None, "the training split is empty")

    # Counts over training rows only, so valid/test values never leak into the vocabulary.
    counts = [np.zeros(len(m), dtype=np.int64) for m in maps]
    start = 0
    for ids in prov:
        train = ids[code[start:start + len(ids)] == TRAIN]
        start += len(ids)
        for f in range(n_fields):
            counts[f] += np.bincount(train[:, f], minlength=len(maps[f]))
    luts, vocabs, out_fields = final_ids(fields, maps, counts, min_count)

    # Pass 2: remap each chunk and copy its rows into the preallocated splits, freeing chunks as we go.
    X = [np.empty((n, n_fields), dtype=np.int32) for n in sizes]
    fill = [0, 0, 0]
    start = 0
    while prov:
        ids = prov.pop(0)
        c = code[start:start + len(ids)]
        start += len(ids)
        for f in range(n_fields):
            ids[:, f] = luts[f][ids[:, f]]
        for s in range(3):
            rows = ids[c == s]
            X[s][fill[s]:fill[s] + len(rows)] = rows
            fill[s] += len(rows)
    splits = {name: Split(X[s], y[code == s]) for s, name in enumerate(SPLITS)}
    return out_fields, splits, vocabs


# ---------------------------------------------------------------- cache


def default_cache_dir() -> Path:
    return Path(os.environ.get("AIM_CACHE_DIR") or Path.home() / ".cache" / "aim-explorer")


def content_hash(paths: list[Path]) -> str:
    """sha256 over the files' bytes (read in 1 MiB blocks) and their names, in the given order."""
    h = hashlib.sha256()
    for p in paths:
        h.update(Path(p).name.encode() + b"\0")
        try:
            with open(p, "rb") as f:
                while block := f.read(1 << 20):
                    h.update(block)
        except OSError as e:
            raise DataError(p, f"cannot read: {e.strerror or e}") from None
        h.update(b"\0")
    return h.hexdigest()


def cache_key(data_hash: str, fmt: str, settings: dict) -> str:
    """Key of a cache entry: the data, the format, the settings that change the encoding, the code version."""
    blob = json.dumps({"data": data_hash, "format": fmt, "settings": settings, "version": CACHE_VERSION},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def write_meta(folder: Path, fields: tuple[Field, ...], rows: dict[str, int], meta: dict) -> None:
    """``meta.json`` of a cache entry: the version, the fields, the rows per split and the source meta."""
    doc = {"version": CACHE_VERSION, "fields": [[f.name, f.vocab_size, f.kind] for f in fields], "rows": rows,
           "meta": meta}
    (folder / "meta.json").write_text(json.dumps(doc, indent=1))


def save_cache(entry: Path, fields: tuple[Field, ...], splits: dict[str, Split], meta: dict) -> bool:
    """Write an entry atomically: a temp folder next to it is filled, then renamed into place, so a reader
    never sees a half-written entry. Returns False (and leaves nothing behind) when the disk refuses."""
    tmp = None
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{entry.name}.", dir=entry.parent))
        for name, split in splits.items():
            np.save(tmp / f"{name}_X.npy", split.X)
            np.save(tmp / f"{name}_y.npy", split.y)
        write_meta(tmp, fields, {k: len(v) for k, v in splits.items()}, meta)
        if entry.exists():
            shutil.rmtree(entry, ignore_errors=True)  # a corrupt entry being rebuilt
        os.replace(tmp, entry)
        return True
    except OSError:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        return False


def load_cache(entry: Path, mmap: bool = False) -> tuple[tuple[Field, ...], dict[str, Split], dict] | None:
    """Read an entry; anything missing, unreadable or inconsistent (shapes, dtypes, ids out of range)
    -> None, so the caller rebuilds it instead of crashing. ``mmap``: the arrays are memory-mapped
    (copy-on-write: writable views that never write back), not read into memory."""
    try:
        doc = json.loads((entry / "meta.json").read_text())
        if doc.get("version") != CACHE_VERSION:
            return None
        fields = tuple(Field(str(n), int(v), str(k)) for n, v, k in doc["fields"])
        vocab = np.asarray([f.vocab_size for f in fields])
        splits = {}
        for name in SPLITS:
            X = np.load(entry / f"{name}_X.npy", mmap_mode="c" if mmap else None, allow_pickle=False)
            y = np.load(entry / f"{name}_y.npy", mmap_mode="c" if mmap else None, allow_pickle=False)
            n = int(doc["rows"][name])
            if X.dtype != np.int32 or y.dtype != np.float32 or X.shape != (n, len(fields)) or y.shape != (n,):
                return None
            # The id range is checked in memory only: on a mapped entry the check would read every page of it
            # (its ids come from the encoder's lookups, in range by construction).
            if n and not mmap and (X.min() < 0 or (X.max(axis=0) >= vocab).any()):
                return None
            splits[name] = Split(X, y)
        return fields, splits, dict(doc["meta"])
    except (OSError, ValueError, KeyError, TypeError, EOFError):
        return None
