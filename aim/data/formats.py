"""Streaming readers of the raw formats: each yields ``RawChunk``s of raw string tokens per field plus labels.

A reader is a function ``read_x(path, ..., max_rows=0) -> (fields, chunks)`` where ``fields`` is a list of
``(name, kind)`` known before any row is read, and ``chunks`` is an iterator of ``RawChunk`` (at most
``CHUNK_ROWS`` rows each). Values are already preprocessed into the tokens that become vocabulary entries
(Criteo integers bucketised, Avazu hours split, empty cells -> ``MISSING``). Every problem with the input
raises ``DataError(path, problem, line)`` with the 1-based physical line number (header included). The line
reading, checking and factorizing they share is ``aim.data.chunks``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import numpy as np

from aim.data.chunks import (
    CHUNK_ROWS,
    MISSING,
    Fields,
    RawChunk,
    bucketize,
    first_row,
    map_uniques,
    parse_labels,
    read_chunks,
    shown,
    shown_list,
)
from aim.errors import DataError

BINARY_LABELS = {"0": 0.0, "1": 1.0}
LIBFM_LABELS = {"-1": 0.0, "0": 0.0, "1": 1.0, "+1": 1.0, "-1.0": 0.0, "0.0": 0.0, "1.0": 1.0}
CRITEO_FIELDS = [(f"I{i}", "numeric") for i in range(1, 14)] + [(f"C{i}", "categorical") for i in range(1, 27)]
AVAZU_COLUMNS = ["id", "click", "hour", "C1", "banner_pos", "site_id", "site_domain", "site_category", "app_id",
                 "app_domain", "app_category", "device_id", "device_ip", "device_model", "device_type",
                 "device_conn_type", "C14", "C15", "C16", "C17", "C18", "C19", "C20", "C21"]


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
