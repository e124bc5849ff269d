"""Out-of-core encoding: a raw file larger than memory -> memory-mapped ``.npy`` splits, with the encoding rules
of aim.data.encode (the same vocabularies and the same ids as the in-memory path for the same split).

One pass over the text, two over binary files, all streaming:
1. each chunk from a reader (aim.data.formats: same parsing rules and error messages) gets provisional ids
   (``encode.provisional_ids``), appended to a temporary int32 file; the labels go to another file. What stays
   in memory is the vocabulary maps (token -> provisional id) and one chunk;
2. the rows are assigned to train / valid / test from the labels alone (``StreamingSplit``), and values are
   counted over training rows only, one block of the provisional file at a time;
3. each block is mapped to final ids (``encode.final_ids``) and its rows are written into preallocated per-split
   ``.npy`` files: ``X`` int32 (n, F) column-major (Fortran order: a block of rows is F contiguous reads, a field
   is one contiguous read, which statistics AUC uses), ``y`` float32 (n,).

Peak memory: the vocabulary maps plus O(block), never O(rows). Disk: the final arrays plus, while encoding, the
provisional ids (the same size again), N labels and N split codes.

The split differs from the in-memory one: ``encode.stratified_split`` (sklearn) needs every row index in memory,
``StreamingSplit`` draws the same per-class counts block by block. So a file encoded both ways gets the same
rules but a different train/valid/test draw; the cache keeps the two apart (``data.storage`` is in its key).
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from aim.data import encode
from aim.data.base import Field, Split
from aim.data.chunks import RawChunk
from aim.errors import DataError

BLOCK_ROWS = 1 << 17  # rows per block of the binary passes and of the split draw
Splitter = Callable[[np.ndarray], Iterator[np.ndarray]]  # labels (N,) -> int8 split codes, block by block


@dataclass(frozen=True)
class StreamingSplit:
    """Stratified train / valid / test assignment in O(block) memory.

    Per class c with n_c rows: ``held = round((valid_frac + test_frac) * n_c)`` rows are held out, of which
    ``round(test_frac / (valid_frac + test_frac) * held)`` go to test (the in-memory split's two-step rule).
    Walking the rows in blocks of ``BLOCK_ROWS``, the block's rows of class c get split counts drawn from the
    multivariate hypergeometric distribution of the class's remaining counts, placed in a random order: every
    assignment with exactly those per-class counts is equally likely. Same labels and seed -> same codes,
    whatever chunk size the reader used.
    """

    valid_frac: float
    test_frac: float
    seed: int

    @property
    def description(self) -> str:
        train = 1 - self.valid_frac - self.test_frac
        return (f"stratified {train:g}/{self.valid_frac:g}/{self.test_frac:g}, seed {self.seed} "
                "(streaming draw of the out-of-core encoder)")

    def counts(self, n_class: int) -> np.ndarray:
        """(train, valid, test) rows of a class with ``n_class`` rows."""
        held = math.floor((self.valid_frac + self.test_frac) * n_class + 0.5)
        test = math.floor(self.test_frac / (self.valid_frac + self.test_frac) * held + 0.5)
        return np.array([n_class - held, held - test, test], dtype=np.int64)

    def __call__(self, y: np.ndarray) -> Iterator[np.ndarray]:
        positives = sum(int(np.count_nonzero(y[s:s + BLOCK_ROWS])) for s in range(0, len(y), BLOCK_ROWS))
        remaining = [self.counts(len(y) - positives), self.counts(positives)]
        rng = np.random.default_rng(self.seed)
        for start in range(0, len(y), BLOCK_ROWS):
            labels = np.asarray(y[start:start + BLOCK_ROWS]) != 0
            code = np.empty(len(labels), dtype=np.int8)
            for c in (0, 1):
                rows = np.flatnonzero(labels == c)
                if len(rows) == 0:
                    continue
                take = rng.multivariate_hypergeometric(remaining[c], len(rows))
                remaining[c] -= take
                codes = np.repeat(np.arange(3, dtype=np.int8), take)
                rng.shuffle(codes)
                code[rows] = codes
            yield code


def whole_split(assign: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Splitter:
    """An in-memory assigner (``encode.stratified_split`` & co.) as a ``Splitter``: all labels at once, so only
    for data whose labels fit in memory; it gives exactly the in-memory path's split."""

    def split(y: np.ndarray) -> Iterator[np.ndarray]:
        yield assign(np.asarray(y, dtype=np.float32), np.zeros(len(y), dtype=np.int8))

    return split


def encode_to_folder(folder: Path, fields: list[tuple[str, str]], chunks: Iterable[RawChunk], split: Splitter,
                     min_count: int) -> tuple[tuple[Field, ...], dict[str, int], list[list[str]]]:
    """Encode ``chunks`` into ``folder/{train,valid,test}_{X,y}.npy``; returns (fields, rows per split,
    vocabularies), as ``encode.encode_chunks`` returns them for the same split."""
    n_fields = len(fields)
    maps: list[dict[str, int]] = [{} for _ in range(n_fields)]
    prov_path, y_path, code_path = folder / "provisional.i32", folder / "labels.f32", folder / "split.i8"
    n = 0
    with open(prov_path, "wb") as fp, open(y_path, "wb") as fy:  # pass 1: the text
        for chunk in chunks:
            if chunk.part != 0:
                raise DataError(None, "this dataset comes with its own test part (a Frappe folder): the "
                                      "out-of-core encoder draws its own split; use data.storage=memory")
            encode.provisional_ids(chunk, maps).tofile(fp)
            chunk.y.astype(np.float32).tofile(fy)
            n += len(chunk)
    labels = np.memmap(y_path, dtype=np.float32, mode="r", shape=(n,)) if n else np.zeros(0, np.float32)
    sizes = np.zeros(3, dtype=np.int64)
    with open(code_path, "wb") as fc:
        for code in split(labels):
            code.tofile(fc)
            sizes += np.bincount(code, minlength=3)[:3]
    del labels  # unmapped before its file is removed
    if sizes.sum() != n:
        raise DataError(None, f"the split assigned {int(sizes.sum())} of {n} rows")
    if sizes[encode.TRAIN] == 0:
        raise DataError(None, "the training split is empty")

    counts = [np.zeros(len(m), dtype=np.int64) for m in maps]
    for ids, code, _ in _blocks(prov_path, code_path, y_path, n, n_fields):  # pass 2: training counts
        train = ids[code == encode.TRAIN]
        for f in range(n_fields):
            counts[f] += np.bincount(train[:, f], minlength=len(maps[f]))
    luts, vocabs, out_fields = encode.final_ids(fields, maps, counts, min_count)
    del maps, counts

    rows = {name: int(sizes[s]) for s, name in enumerate(encode.SPLITS)}
    with contextlib.ExitStack() as files:
        writers = [_SplitWriter(files.enter_context(open(folder / f"{name}_X.npy", "wb+")),
                                files.enter_context(open(folder / f"{name}_y.npy", "wb")), rows[name], n_fields)
                   for name in encode.SPLITS]
        for ids, code, y in _blocks(prov_path, code_path, y_path, n, n_fields):  # pass 3: final ids
            for f in range(n_fields):
                ids[:, f] = luts[f][ids[:, f]]
            for s, w in enumerate(writers):
                mask = code == s
                w.append(ids[mask], y[mask])
    for p in (prov_path, y_path, code_path):
        p.unlink()
    return out_fields, rows, vocabs


def encode_to_cache(entry: Path, fields: list[tuple[str, str]], chunks: Iterable[RawChunk], split: Splitter,
                    min_count: int, meta: dict) -> tuple[tuple[Field, ...], dict[str, Split], dict]:
    """``encode_to_folder`` into a temporary folder next to the cache ``entry``, renamed into place when complete
    (a reader never sees half an entry); returns the entry loaded memory-mapped. A disk that refuses is a
    DataError: unlike the in-memory path there is no copy in memory to fall back on."""
    tmp = None
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{entry.name}.", dir=entry.parent))
        out_fields, rows, _ = encode_to_folder(tmp, fields, chunks, split, min_count)
        meta = {**meta, "rows": sum(rows.values()), "storage": "mmap"}
        encode.write_meta(tmp, out_fields, rows, meta)
        if entry.exists():
            shutil.rmtree(entry, ignore_errors=True)  # a corrupt entry being rebuilt
        os.replace(tmp, entry)
        tmp = None
    except OSError as e:
        raise DataError(entry, f"cannot write the memory-mapped arrays: {e.strerror or e}") from None
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    loaded = encode.load_cache(entry, mmap=True)
    if loaded is None:
        raise DataError(entry, "the memory-mapped arrays just written cannot be read back")
    return loaded


def _blocks(prov_path: Path, code_path: Path, y_path: Path, n: int, n_fields: int,
            ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(provisional ids (b, F), split codes (b,), labels (b,)) of consecutive row blocks, read, not mapped."""
    with open(prov_path, "rb") as fp, open(code_path, "rb") as fc, open(y_path, "rb") as fy:
        for start in range(0, n, BLOCK_ROWS):
            b = min(BLOCK_ROWS, n - start)
            yield (_read(fp, np.int32, b * n_fields).reshape(b, n_fields), _read(fc, np.int8, b),
                   _read(fy, np.float32, b))


def _read(f: BinaryIO, dtype: type, count: int) -> np.ndarray:
    out = np.fromfile(f, dtype=dtype, count=count)
    if len(out) != count:
        raise DataError(f.name, f"temporary file ended early ({len(out)} of {count} values)")
    return out


class _SplitWriter:
    """``X`` (n, F) int32 column-major, preallocated and filled by ``pwrite`` at each column's offset;
    ``y`` (n,) float32 appended. Plain writes, no mapping: the written pages never count as this
    process's memory."""

    def __init__(self, fx: BinaryIO, fy: BinaryIO, n: int, n_fields: int):
        self.fx, self.fy, self.n, self.fill = fx, fy, n, 0
        self.x_offset = _header(fx, np.int32, (n, n_fields), fortran=True)
        fx.truncate(self.x_offset + 4 * n * n_fields)
        _header(fy, np.float32, (n,), fortran=False)

    def append(self, ids: np.ndarray, y: np.ndarray) -> None:
        columns = np.ascontiguousarray(ids.T)  # (F, b)
        for f, col in enumerate(columns):
            _pwrite_all(self.fx.fileno(), col, self.x_offset + 4 * (f * self.n + self.fill))
        y.tofile(self.fy)
        self.fill += len(ids)


def _header(f: BinaryIO, dtype: type, shape: tuple[int, ...], fortran: bool) -> int:
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": fortran, "shape": shape}
    np.lib.format.write_array_header_1_0(f, header)
    f.flush()
    return f.tell()


def _pwrite_all(fd: int, data: np.ndarray, offset: int) -> None:
    view = memoryview(data).cast("B")
    while view:
        written = os.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written
