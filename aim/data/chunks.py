"""Delimited text read into validated, factorized chunks: the machinery under every reader of ``aim.data.formats``.

``read_chunks`` checks each line in Python (decoding, cell count, quoting) so that an error names its 1-based
physical line, then lets pandas' C reader split the checked lines and factorizes each column; a ``RawChunk`` holds
such columns (codes and the distinct tokens) with the labels and the line numbers. Empty cells become ``MISSING``;
a value quoted in an error message is cut (``shown``). Every problem raises ``DataError(path, problem, line)``.
"""

from __future__ import annotations

import csv
import gc
import io
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd

from aim.errors import DataError

MISSING = "<missing>"  # token of an empty cell: a category of its own, distinct from OOV
CHUNK_ROWS = 65_536
Fields = list[tuple[str, str]]  # (name, kind) per field, kind "categorical" | "numeric"
SHOWN_CHARS = 40  # a value quoted in an error message is cut to this many characters

# Python's csv module refuses cells over 131,072 characters, which pandas (and the unquoted fast path) accept: a
# huge quoted cell would be refused only because of its quotes. Lines are already whole in memory when they are
# split, so the limit protects nothing here.
csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))


def shown(value: str) -> str:
    """``repr(value)`` for an error message, cut to ``SHOWN_CHARS`` characters (a 1 MB cell is not echoed)."""
    if len(value) <= SHOWN_CHARS:
        return repr(value)
    return f"{value[:SHOWN_CHARS]!r}... ({len(value):,} characters)"


def shown_list(values: list[str], limit: int = 30) -> str:
    """The names of a header for an error message: each cut like ``shown``, at most ``limit`` of them."""
    names = [v if len(v) <= SHOWN_CHARS else shown(v) for v in values[:limit]]
    more = f", ... ({len(values) - limit} more)" if len(values) > limit else ""
    return ", ".join(names) + more


@dataclass
class RawChunk:
    """``n`` rows of one source file. ``columns[f] = (codes int (n,), uniques object (k,))``: the token of row
    ``i`` in field ``f`` is ``uniques[codes[i]]`` (factorized, so repeated tokens are converted only once);
    ``y`` float32 (n,) in {0, 1}; ``lines`` int64 (n,) 1-based line numbers; ``part`` = index of the source
    file when a dataset has several (e.g. Frappe validation = 0, test = 1)."""

    columns: list[tuple[np.ndarray, np.ndarray]]
    y: np.ndarray
    lines: np.ndarray
    part: int = 0

    def __len__(self) -> int:
        return len(self.y)

    def values(self, f: int) -> np.ndarray:
        """Tokens of field ``f`` as an object array (n,)."""
        codes, uniques = self.columns[f]
        return uniques[codes]


def bucketize(x: float) -> str:
    """Criteo integer bucketing (the Kaggle winners' rule): ``x > 2 -> floor(ln(x)^2)``, else ``x`` itself."""
    if x > 2:
        return str(math.floor(math.log(x) ** 2))
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def _factorize(col: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """A column of strings (n,) -> (codes intp (n,), uniques object (k,)); empty cells become ``MISSING``."""
    codes, uniques = pd.factorize(col)
    uniques = np.asarray(uniques, dtype=object)
    uniques[uniques == ""] = MISSING
    return np.asarray(codes, dtype=np.intp), uniques


def map_uniques(path: str, codes: np.ndarray, uniques: np.ndarray, lines: np.ndarray,
                fn: Callable[[str], object]) -> list:
    """Apply ``fn`` to each distinct token; a ``ValueError`` from ``fn`` becomes a DataError at the first line
    holding that token (so a bad value is reported once, with where it is). Unused tokens are skipped."""
    used = np.bincount(codes, minlength=len(uniques)) > 0
    out = []
    for k, u in enumerate(uniques):
        try:
            out.append(fn(u) if used[k] else None)
        except (ValueError, OverflowError) as e:
            line = int(lines[np.flatnonzero(codes == k)[0]])
            raise DataError(path, str(e), line) from None
    return out


def parse_labels(path: str, column: tuple[np.ndarray, np.ndarray], lines: np.ndarray, allowed: dict[str, float],
                 what: str = "label") -> np.ndarray:
    """A factorized label column -> float32 (n,) through ``allowed``; anything else -> DataError at its line."""
    codes, uniques = column

    def one(u: str) -> float:
        if u.strip() not in allowed:
            got = "an empty value" if u == MISSING else shown(u)
            raise ValueError(f"{what} must be one of {', '.join(sorted(allowed))}, got {got}")
        return allowed[u.strip()]

    return np.asarray(map_uniques(path, codes, uniques, lines, one), dtype=np.float32)[codes]


def iter_lines(path: str | Path, encoding: str = "utf-8") -> Iterator[tuple[int, str]]:
    """(1-based line number, text without line ending) for every line; blank lines are skipped. A byte that is
    not valid in ``encoding`` -> DataError naming the line and byte offset, instead of a UnicodeDecodeError."""
    path = str(path)
    if not Path(path).is_file():
        raise DataError(path, "is a folder, expected a file" if Path(path).is_dir() else "file does not exist")
    try:
        with open(path, "rb") as f:
            yield from _decoded(path, f, encoding)
    except OSError as e:
        raise DataError(path, f"cannot read: {e.strerror or e}") from None


def _decoded(path: str, f: BinaryIO, encoding: str) -> Iterator[tuple[int, str]]:
    for lineno, raw in enumerate(f, start=1):
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as e:
            raise DataError(path, f"not valid {encoding.upper()}: byte 0x{raw[e.start]:02x} at offset "
                                  f"{e.start} of the line", lineno) from None
        if lineno == 1 and text.startswith("\ufeff"):
            text = text[1:]  # a UTF-8 byte order mark is not part of the first cell
        text = text.rstrip("\r\n")
        if text.strip():
            yield lineno, text


def split_line(path: str, lineno: int, text: str, sep: str, quoted: bool) -> list[str]:
    """The cells of one line: any whitespace for ``sep=" "`` (libFM); CSV quoting rules when ``quoted``; else
    plain ``sep``. A malformed quoted line (an unclosed quote, text after a closing quote) -> DataError there."""
    if sep == " ":
        return text.split()
    if not quoted:
        return text.split(sep)
    try:
        return next(csv.reader([text], delimiter=sep, strict=True))
    except csv.Error as e:
        problem = ("an unclosed quote (a quoted cell spanning several lines is not supported)"
                   if "end of data" in str(e) else str(e))
        raise DataError(path, f"malformed CSV: {problem}", lineno) from None


def first_row(path: str | Path, sep: str, encoding: str = "utf-8") -> tuple[int, list[str]] | None:
    """(line number, cells) of the first non-blank line (a header, or a row to sniff), None if there is none."""
    for lineno, text in iter_lines(path, encoding):
        return lineno, split_line(str(path), lineno, text, sep, quoted=sep == ",")
    return None


def _csv_line(cells: list[str], sep: str) -> str:
    """``cells`` as one CSV line with minimal quoting (how pandas' reader reads them back unchanged)."""
    out = io.StringIO()
    csv.writer(out, delimiter=sep, lineterminator="").writerow(cells)
    return out.getvalue()


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while a chunk of lines is gathered: the list holds only strings, so the collector's
    repeated scans find nothing and cost about a third of the reading time."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def read_chunks(path: str | Path, sep: str, n_cols: int, layout: str, *, quoted: bool = False,
                skip_first: bool = False, max_rows: int = 0, encoding: str = "utf-8",
                chunk_rows: int = CHUNK_ROWS) -> Iterator[tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]]:
    """Validated chunks of a delimited file: (lines int64 (n,), n_cols factorized columns (codes, uniques)).

    Each line is checked in Python (decoding, cell count -> DataError with its line number and the expected
    ``layout``); the checked lines are then split by pandas' C reader (object dtype: no type guessing, so
    "01" stays "01") and factorized per column. ``sep=" "`` means any whitespace (libFM); ``quoted`` allows CSV quotes.
    A line that needed the careful split (quotes, whitespace runs) reaches pandas re-written in a canonical form,
    so pandas and the check always agree on the cells. Stops after ``max_rows`` rows (0 = all); no data row at
    all -> DataError (empty file or header only).
    """
    path = str(path)
    lines = iter_lines(path, encoding)
    if skip_first:
        next(lines, None)
    total = 0
    while True:
        nums, texts = [], []
        with _gc_paused():
            for lineno, text in lines:
                if "\r" in text:  # pandas would end a row there
                    raise DataError(path, "a carriage return (\\r) inside the line: old Mac (CR-only) line endings, "
                                          "or a cell holding a line break", lineno)
                if text.count(sep) != n_cols - 1 or (quoted and '"' in text) or (sep == " " and "\t" in text):
                    # The fast count is not conclusive: split properly, then normalise or refuse the line.
                    cells = split_line(path, lineno, text, sep, quoted)
                    if len(cells) != n_cols:
                        raise DataError(path, f"expected {n_cols} columns, found {len(cells)} ({layout})", lineno)
                    text = " ".join(cells) if sep == " " else _csv_line(cells, sep)
                texts.append(text)
                nums.append(lineno)
                total += 1
                if len(texts) == chunk_rows or total == max_rows:
                    break
        if not texts:
            break
        try:
            df = pd.read_csv(io.StringIO("\n".join(texts)), sep=sep, header=None, names=list(range(n_cols)),
                             dtype=object, na_filter=False, skip_blank_lines=False, engine="c",
                             quoting=csv.QUOTE_MINIMAL if quoted else csv.QUOTE_NONE)
        except (pd.errors.ParserError, ValueError) as e:  # the checks above should make this unreachable
            raise DataError(path, f"cannot split the rows of lines {nums[0]}-{nums[-1]} ({layout}): {e}",
                            nums[0]) from None
        if len(df) != len(texts):
            raise DataError(path, f"read {len(df)} rows from {len(texts)} lines ({layout})", nums[0])
        yield np.asarray(nums, dtype=np.int64), [_factorize(df[c]) for c in df.columns]
        if total == max_rows:
            return
    if total == 0:
        raise DataError(path, "no data rows after the header" if skip_first else "file is empty (no data rows)")
