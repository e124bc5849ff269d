"""Streaming readers of the raw formats: each yields ``RawChunk``s of raw string tokens per field plus labels.

A reader is a function ``read_x(path, ..., max_rows=0) -> (fields, chunks)`` where ``fields`` is a list of
``(name, kind)`` known before any row is read, and ``chunks`` is an iterator of ``RawChunk`` (at most
``CHUNK_ROWS`` rows each). Values are already preprocessed into the tokens that become vocabulary entries
(Criteo integers bucketised, Avazu hours split, empty cells -> ``MISSING``). Every problem with the input
raises ``DataError(path, problem, line)`` with the 1-based physical line number (header included).
"""

from __future__ import annotations

import csv
import gc
import io
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd

from aim.errors import DataError

MISSING = "<missing>"  # token of an empty cell: a category of its own, distinct from OOV
CHUNK_ROWS = 65_536
BINARY_LABELS = {"0": 0.0, "1": 1.0}
LIBFM_LABELS = {"-1": 0.0, "0": 0.0, "1": 1.0, "+1": 1.0, "-1.0": 0.0, "0.0": 0.0, "1.0": 1.0}
CRITEO_FIELDS = [(f"I{i}", "numeric") for i in range(1, 14)] + [(f"C{i}", "categorical") for i in range(1, 27)]
AVAZU_COLUMNS = ["id", "click", "hour", "C1", "banner_pos", "site_id", "site_domain", "site_category", "app_id",
                 "app_domain", "app_category", "device_id", "device_ip", "device_model", "device_type",
                 "device_conn_type", "C14", "C15", "C16", "C17", "C18", "C19", "C20", "C21"]

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


def read_criteo(path: str | Path, max_rows: int = 0, chunk_rows: int = CHUNK_ROWS) -> tuple[Fields, Iterator[RawChunk]]:
    """Kaggle Criteo ``train.txt``: tab separated, no header, ``label, I1..I13, C1..C26`` (39 fields)."""
    layout = "Criteo train.txt layout: tab separated, no header, label + 13 integer + 26 categorical columns"

    def as_int(u: str) -> str:
        if u == MISSING:
            return MISSING
        try:
            return bucketize(int(u))
        except ValueError:
            raise ValueError(f"integer column holds a non-integer value {shown(u)}") from None

    def gen() -> Iterator[RawChunk]:
        for lines, cols in read_chunks(path, "\t", 40, layout, max_rows=max_rows, chunk_rows=chunk_rows):
            y = parse_labels(str(path), cols[0], lines, BINARY_LABELS)
            for j in range(1, 14):
                codes, uniques = cols[j]
                cols[j] = codes, np.asarray(map_uniques(str(path), codes, uniques, lines, as_int), dtype=object)
            yield RawChunk(cols[1:], y, lines)

    return list(CRITEO_FIELDS), gen()


def _avazu_hour(u: str) -> tuple[str, str, str]:
    """``YYMMDDHH`` -> (hour of day, weekday 0=Monday, is_weekend)."""
    try:
        if len(u) != 8 or not u.isdigit():
            raise ValueError
        day = date(2000 + int(u[:2]), int(u[2:4]), int(u[4:6]))
        hour = int(u[6:])
        if hour > 23:
            raise ValueError
    except ValueError:
        raise ValueError(f"hour must be YYMMDDHH, got {shown(u)}") from None
    return str(hour), str(day.weekday()), str(int(day.weekday() >= 5))


def read_avazu(path: str | Path, max_rows: int = 0, chunk_rows: int = CHUNK_ROWS) -> tuple[Fields, Iterator[RawChunk]]:
    """Kaggle Avazu CSV with or without a header (a header is recognised by a ``click`` column). ``id`` is
    dropped, ``click`` is the label, ``hour`` becomes hour_of_day / weekday / is_weekend (24 fields with the
    Kaggle columns; fields follow the file's column order, the three hour fields first)."""
    first = first_row(path, ",")
    if first is None:
        raise DataError(path, "file is empty (no data rows)")
    has_header = "click" in [c.strip() for c in first[1]]
    names = [c.strip() for c in first[1]] if has_header else AVAZU_COLUMNS
    missing = [c for c in ("click", "hour") if c not in names]
    if missing:
        raise DataError(path, f"header lacks column(s) {missing}; found {shown_list(names)}", first[0])
    dupes = sorted({c for c in names if names.count(c) > 1})
    if dupes:
        raise DataError(path, f"duplicate column names in the header: {shown_list(dupes)}", first[0])
    keep = [j for j, c in enumerate(names) if c not in ("id", "click", "hour")]
    fields: Fields = [("hour_of_day", "categorical"), ("weekday", "categorical"), ("is_weekend", "categorical")]
    fields += [(names[j], "categorical") for j in keep]
    layout = (f"Avazu CSV with {len(names)} columns {','.join(names[:4])},..."
              + ("" if has_header else "; without a header line (no 'click' column name) the 24 Kaggle columns"))
    i_click, i_hour = names.index("click"), names.index("hour")

    def gen() -> Iterator[RawChunk]:
        for lines, cols in read_chunks(path, ",", len(names), layout, quoted=True, skip_first=has_header,
                                       max_rows=max_rows, chunk_rows=chunk_rows):
            y = parse_labels(str(path), cols[i_click], lines, BINARY_LABELS, "click")
            codes, uniques = cols[i_hour]
            parts = map_uniques(str(path), codes, uniques, lines, _avazu_hour)
            parts = [p or ("", "", "") for p in parts]  # tokens of unused categories
            columns = [(codes, np.asarray([p[k] for p in parts], dtype=object)) for k in range(3)]
            yield RawChunk(columns + [cols[j] for j in keep], y, lines)

    return fields, gen()


def _libfm_index(u: str) -> str:
    idx, colon, _ = u.partition(":")
    if not colon or not idx:
        raise ValueError(f"feature must look like index:value, got {shown(u)}")
    return idx


def read_libfm(path: str | Path, names: list[str] | None = None, max_rows: int = 0, part: int = 0,
               chunk_rows: int = CHUNK_ROWS) -> tuple[Fields, Iterator[RawChunk]]:
    """libFM lines ``label idx:val ...`` with label -1/1 (or 0/1). Field ``f`` is the ``f``-th feature of the
    row and its token is the global index; every row must hold the same number of features. Field names are
    ``names`` (their count must match) or f0..f{n-1}."""
    first = first_row(path, " ")
    if first is None:
        raise DataError(path, "file is empty (no data rows)")
    n_feat = len(first[1]) - 1
    if n_feat < 1:
        raise DataError(path, "a libFM row needs a label and at least one idx:value feature", first[0])
    if names is not None and len(names) != n_feat:
        raise DataError(path, f"expected {len(names)} features per row ({', '.join(names)}), found {n_feat}",
                        first[0])
    fields: Fields = [(n, "categorical") for n in (names or [f"f{i}" for i in range(n_feat)])]
    layout = f"libFM: a label and {n_feat} idx:value features per row, as in line {first[0]}"

    def gen() -> Iterator[RawChunk]:
        for lines, cols in read_chunks(path, " ", n_feat + 1, layout, max_rows=max_rows, chunk_rows=chunk_rows):
            y = parse_labels(str(path), cols[0], lines, LIBFM_LABELS)
            columns = [(c, np.asarray(map_uniques(str(path), c, u, lines, _libfm_index), dtype=object))
                       for c, u in cols[1:]]
            yield RawChunk(columns, y, lines, part)

    return fields, gen()


MOVIELENS_FIELDS: Fields = [(n, "categorical") for n in
                            ("user_id", "item_id", "age", "gender", "occupation", "zip", "hour", "weekday", "genre")]


def _side_table(path: Path, n_cols: int, layout: str, encoding: str) -> dict[str, tuple]:
    """A small pipe-separated MovieLens table (u.user, u.item, u.genre) -> {first cell: other cells}."""
    table: dict[str, tuple] = {}
    for _, cols in read_chunks(path, "|", n_cols, layout, encoding=encoding):
        for row in zip(*(u[c] for c, u in cols)):
            table[row[0]] = row[1:]
    return table


def read_movielens(folder: str | Path, max_rows: int = 0,
                   chunk_rows: int = CHUNK_ROWS) -> tuple[Fields, Iterator[RawChunk]]:
    """MovieLens-100k folder: ratings from u.data joined with u.user and u.item; label ``rating >= 4``.
    Fields: user_id, item_id, age, gender, occupation, zip, hour and weekday (UTC, of the rating time) and
    genre (the item's first genre flag, named through u.genre when present)."""
    folder = Path(folder)
    users = _side_table(folder / "u.user", 5, "u.user: user|age|gender|occupation|zip", "utf-8")
    items = _side_table(folder / "u.item", 24, "u.item: id|title|release|video_release|url|19 genre flags",
                        "latin-1")
    genre_path = folder / "u.genre"
    genres = {v[0]: k for k, v in _side_table(genre_path, 2, "u.genre: name|index", "latin-1").items()
              } if genre_path.exists() else {}

    def first_genre(flags: tuple) -> str:
        g = next((k for k, v in enumerate(flags[4:]) if v.strip() == "1"), None)
        return MISSING if g is None else genres.get(str(g), str(g))

    item_genre = {k: first_genre(v) for k, v in items.items()}
    path = str(folder / "u.data")

    def lookup(table: dict, what: str) -> Callable[[str], object]:
        def one(u: str) -> object:
            if u not in table:
                raise ValueError(f"{what} id {shown(u)} is not listed in u.{what}")
            return table[u]
        return one

    def as_int(u: str) -> int:
        if u == MISSING:
            raise ValueError("expected an integer, got an empty value")
        try:
            v = int(u)
        except ValueError:
            raise ValueError(f"expected an integer, got {shown(u)}") from None
        if not -2**62 <= v < 2**62:
            raise ValueError(f"integer {shown(u)} is out of range")
        return v

    def ints(col: tuple[np.ndarray, np.ndarray], lines: np.ndarray) -> np.ndarray:
        codes, uniques = col
        try:  # fast path; on failure, redo it one value at a time to find the bad line
            return uniques.astype(np.int64)[codes]
        except (ValueError, TypeError, OverflowError):
            return np.asarray([v or 0 for v in map_uniques(path, codes, uniques, lines, as_int)], np.int64)[codes]

    def gen() -> Iterator[RawChunk]:
        for lines, cols in read_chunks(path, "\t", 4, "u.data: user<TAB>item<TAB>rating<TAB>unix time",
                                       max_rows=max_rows, chunk_rows=chunk_rows):
            ratings = ints(cols[2], lines)
            bad = np.flatnonzero((ratings < 1) | (ratings > 5))
            if len(bad):
                raise DataError(path, f"rating must be 1..5, got {ratings[bad[0]]}", int(lines[bad[0]]))
            (u_codes, u_uniques), (i_codes, i_uniques) = cols[0], cols[1]
            attrs = [a or ("",) * 4 for a in map_uniques(path, u_codes, u_uniques, lines, lookup(users, "user"))]
            genre = map_uniques(path, i_codes, i_uniques, lines, lookup(item_genre, "item"))
            ts = ints(cols[3], lines)
            columns = [cols[0], cols[1]]
            columns += [(u_codes, np.asarray([a[k] for a in attrs], dtype=object)) for k in range(4)]
            hours = np.asarray([str(h) for h in range(24)], dtype=object)
            columns += [(ts // 3600 % 24, hours), ((ts // 86400 + 3) % 7, hours[:7])]  # 1970-01-01 was a Thursday
            columns.append((i_codes, np.asarray(genre, dtype=object)))
            yield RawChunk(columns, (ratings >= 4).astype(np.float32), lines)

    return list(MOVIELENS_FIELDS), gen()


def _as_number(name: str) -> Callable[[str], str]:
    def one(u: str) -> str:
        if u == MISSING:
            return MISSING
        try:
            x = float(u)
        except ValueError:
            raise ValueError(f"numeric column {name!r} holds a non-number {shown(u)}") from None
        if math.isnan(x):
            return MISSING
        if math.isinf(x):
            raise ValueError(f"numeric column {name!r} holds an infinite value {shown(u)}")
        return bucketize(x)
    return one


def _delimiter_hint(header: list[str]) -> str:
    """A hint when a header read with commas is one cell holding another separator (a ';' or tab CSV)."""
    if len(header) != 1:
        return ""
    for sep, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "'|'")):
        if sep in header[0]:
            return (f". The header is one column that holds {name}: this reader needs comma-separated columns; "
                    f"convert the file first, e.g. pandas.read_csv(path, sep={sep!r}).to_csv(new_path, index=False)")
    return ""


def read_csv(path: str | Path, label: str, categorical: list[str], numeric: list[str], max_rows: int = 0,
             chunk_rows: int = CHUNK_ROWS) -> tuple[Fields, Iterator[RawChunk]]:
    """Generic CSV with a header: ``label`` is a 0/1 column, ``numeric`` columns are bucketised like Criteo,
    ``categorical`` columns are used as they are (empty list = every other column). Fields follow the
    header order."""
    first = first_row(path, ",")
    if first is None:
        raise DataError(path, "file is empty (no header and no data rows)")
    names = [c.strip() for c in first[1]]
    dupes = sorted({c for c in names if names.count(c) > 1})
    if dupes:
        raise DataError(path, f"duplicate column names in the header: {shown_list(dupes)}", first[0])
    available = shown_list(names)
    if label not in names:
        raise DataError(path, f"label column {label!r} not found; the header has: {available}"
                        + _delimiter_hint(names), first[0])
    for kind, cols in (("categorical", categorical), ("numeric", numeric)):
        unknown = [c for c in cols if c not in names]
        if unknown:
            raise DataError(path, f"unknown {kind} column(s) {unknown}; the header has: {available}", first[0])
    both = sorted(set(categorical) & set(numeric) | ({label} & (set(categorical) | set(numeric))))
    if both:
        raise DataError(path, f"column(s) {both} named twice (label / categorical / numeric)", first[0])
    cat = set(categorical) if categorical else {c for c in names if c != label and c not in numeric}
    keep = [j for j, c in enumerate(names) if c in cat or c in numeric]
    if not keep:
        raise DataError(path, f"no feature columns besides the label {label!r}", first[0])
    fields: Fields = [(names[j], "numeric" if names[j] in numeric else "categorical") for j in keep]
    i_label = names.index(label)

    def gen() -> Iterator[RawChunk]:
        for lines, cols in read_chunks(path, ",", len(names), f"CSV with {len(names)} columns as in its header",
                                       quoted=True, skip_first=True, max_rows=max_rows, chunk_rows=chunk_rows):
            y = parse_labels(str(path), cols[i_label], lines, BINARY_LABELS, f"label {label!r}")
            columns = []
            for j in keep:
                codes, uniques = cols[j]
                if names[j] in numeric:
                    uniques = np.asarray(map_uniques(str(path), codes, uniques, lines, _as_number(names[j])),
                                         dtype=object)
                columns.append((codes, uniques))
            yield RawChunk(columns, y, lines)

    return fields, gen()
