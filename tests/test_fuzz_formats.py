"""Property-based tests of the data readers: malformed files of every supported format (Criteo, Avazu, libFM /
Frappe, MovieLens-100k, generic CSV) either parse correctly or raise ``DataError`` naming the file, the line and
the problem; never another exception, never a hang.

Each example is a small valid file (1-6 rows; hypothesis draws the structure and a seed for the cell contents)
damaged by one mutation of each kind in ``KINDS`` (every format x every kind is a test case of its own), or by two
random ones: truncated rows and files, a wrong delimiter (one line or the whole file), a missing or extra column,
non-UTF-8 bytes, NUL, a stray carriage return, a byte order mark, quotes, labels like "yes", 2, -1, NaN or blank,
huge fields (140,000 characters: past Python's csv field limit), odd numbers, an empty file, a header only,
CR / CRLF line endings, blank lines. The oracle:

- an undamaged file parses, with exactly its rows, labels and line numbers;
- a damaged file parses into well-formed chunks (labels 0/1, one str token per field, increasing line numbers of
  the file), or raises ``DataError`` whose message names the file, whose line (if any) is a line of the file,
  and which stays short (a huge field is not echoed whole);
- a single mutation that must be refused (a bad label or rating, a missing or extra column, one line with the
  wrong delimiter) is refused at its line.

The same files then go through ``load_dataset`` (encoding, split, on-disk cache), where only ``DataError`` or
``ConfigError`` may come out, and a second load must be a cache hit with the same arrays.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aim.config import DataConfig
from aim.data import formats
from aim.data.registry import load_dataset
from aim.errors import ConfigError, DataError
from tests.timeouts import no_hang

PER_KIND = 8  # examples per (format, mutation kind)
TWO_KINDS = 40  # examples per format with two random mutations
LOADER = 25  # examples of the whole loader (encode, split, cache) per format

HUGE = 140_000  # characters: past csv.field_size_limit() (131,072)
# Huge cells are drawn as short markers and expanded when the file is written (readable failure reports).
HUGE_CELLS = {"<huge-x>": "x" * HUGE, "<huge-7>": "7" * HUGE, "<huge-é>": "é" * (HUGE // 2)}
MAX_MESSAGE = 600
KINDS = ("label", "drop_cell", "extra_cell", "delimiter_line", "delimiter_file", "truncate_row", "truncate_file",
         "bytes", "huge", "number", "quote", "bom", "empty", "header_only", "line_endings", "blank_lines")
FORMATS = ("criteo", "avazu", "libfm", "movielens", "csv")
_counter = itertools.count()

# --------------------------------------------------------------------------------------------- documents


@dataclass(frozen=True)
class Doc:
    """A delimited text file: ``header`` (or None) and ``rows`` of cells joined by ``sep``; ``label`` is the index
    of the label cell; mutations add ``byte_patches`` (bytes appended to a data row), a ``prefix``, a cut."""

    sep: str
    header: tuple[str, ...] | None
    rows: tuple[tuple[str, ...], ...]
    label: int
    quoted: bool = False  # CSV quoting rules apply (Avazu, generic CSV)
    fixed_width: bool = True  # False: the first row sets the width (libFM)
    newline: str = "\n"
    encoding: str = "utf-8"
    byte_patches: tuple[tuple[int, bytes], ...] = ()
    prefix: bytes = b""
    truncate_at: int | None = None
    must_fail: int | None = None  # the physical line a single mutation must be refused at
    mutations: tuple[str, ...] = ()

    @property
    def first_data_line(self) -> int:
        return 2 if self.header is not None else 1

    def line_of(self, i: int) -> int:
        return self.first_data_line + i

    def render(self) -> bytes:
        lines = []
        if self.header is not None:
            lines.append(self.sep.join(self.header).encode(self.encoding, "replace"))
        patches = dict(self.byte_patches)
        for i, row in enumerate(self.rows):
            text = self.sep.join(row)
            for marker, cell in HUGE_CELLS.items():
                text = text.replace(marker, cell)
            lines.append(text.encode(self.encoding, "replace") + patches.get(i, b""))
        blob = self.prefix + b"".join(line + self.newline.encode() for line in lines)
        return blob if self.truncate_at is None else blob[: self.truncate_at]


SAFE = "abcxyz019_.-é"  # token characters no format treats specially (é: two bytes in UTF-8)
BAD_LABELS = ("yes", "2", "-1", "NaN", "nan", "", " ", "0.5", "true", "１", "inf", '"1"', "1" * 30, "<huge-7>")
BAD_RATINGS = ("0", "6", "yes", "", "NaN", "4.5", "9" * 30, "<huge-7>")
WEIRD_NUMBERS = ("1e400", "-1e400", "inf", "nan", "0x10", "١٢", "1_000", "+3", " 7", "-0", "9" * 50, "<huge-7>",
                 "1.5", "", "1e-400", "3.0")


def _token(rng: random.Random, empty: float = 0.2) -> str:
    return "" if rng.random() < empty else "".join(rng.choice(SAFE) for _ in range(rng.randint(1, 6)))


def _integer(rng: random.Random) -> str:
    return "" if rng.random() < 0.2 else str(rng.randint(-5, 10**6))


def criteo(rng: random.Random, n: int) -> Doc:
    rows = [(rng.choice("01"), *(_integer(rng) for _ in range(13)), *(_token(rng) for _ in range(26)))
            for _ in range(n)]
    return Doc("\t", None, tuple(rows), 0)


def avazu(rng: random.Random, n: int) -> Doc:
    def hour() -> str:
        return f"14{rng.randint(10, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 23):02d}"
    rows = [(str(rng.randint(0, 10**9)), rng.choice("01"), hour(), *(_token(rng) for _ in range(21)))
            for _ in range(n)]
    header = tuple(formats.AVAZU_COLUMNS) if rng.random() < 0.5 else None
    return Doc(",", header, tuple(rows), 1, quoted=True)


def libfm(rng: random.Random, n: int) -> Doc:
    width = rng.randint(1, 4)
    rows = [(rng.choice(["1", "-1", "0", "+1"]), *(f"{rng.randint(0, 99)}:{rng.choice(['1', '0.5'])}"
                                                   for _ in range(width))) for _ in range(n)]
    return Doc(" ", None, tuple(rows), 0, fixed_width=False)


def generic_csv(rng: random.Random, n: int) -> Doc:
    rows = [(_token(rng, 0), rng.choice("01"), rng.choice([_integer(rng), "2.5"]), _token(rng)) for _ in range(n)]
    return Doc(",", ("city", "label", "price", "note"), tuple(rows), 1, quoted=True)


ML_USERS = (("1", "24", "M", "technician", "85711"), ("2", "53", "F", "other", ""))
ML_ITEMS = tuple((str(i), f"Movie {i} (1995)", "01-Jan-1995", "", "http://x", *(["0"] * 18), "1") for i in (1, 2))
ML_GENRES = (("unknown", "0"), ("Action", "1"))


def movielens_ratings(rng: random.Random, n: int) -> Doc:
    rows = [(rng.choice("12"), rng.choice("12"), rng.choice("12345"), str(rng.randint(0, 2 * 10**9)))
            for _ in range(n)]
    return Doc("\t", None, tuple(rows), 2)


# --------------------------------------------------------------------------------------------- mutations


def _with_row(doc: Doc, i: int, cells: tuple[str, ...]) -> Doc:
    return replace(doc, rows=doc.rows[:i] + (cells,) + doc.rows[i + 1:])


def _set_cell(doc: Doc, i: int, j: int, value: str) -> Doc:
    cells = list(doc.rows[i])
    cells[j % len(cells)] = value
    return _with_row(doc, i, tuple(cells))


def mutate(draw, doc: Doc, kind: str, bad_labels: tuple[str, ...]) -> tuple[Doc, int | None]:
    """``doc`` with one mutation of ``kind``, and the line it must be refused at (None: may parse)."""
    i = draw(st.integers(0, len(doc.rows) - 1))
    j = draw(st.integers(0, len(doc.rows[i]) - 1))
    line = doc.line_of(i)
    # A libFM file takes its width from its first row: damage there shows on the next row, if there is one.
    width_fixed = doc.fixed_width or i > 0
    if kind == "label":
        value = draw(st.sampled_from(bad_labels))
        # A quoted "1" is a 1 in the CSV formats; a blank libFM label just shifts the cells (caught as a count).
        ok = (doc.quoted and value == '"1"') or (not doc.fixed_width and not value.strip())
        return _set_cell(doc, i, doc.label, value), None if ok else line
    if kind == "drop_cell":
        cells = doc.rows[i][:j] + doc.rows[i][j + 1:]
        return _with_row(doc, i, cells), line if width_fixed and len(doc.rows[i]) > 1 else None
    if kind == "extra_cell":
        return _with_row(doc, i, (*doc.rows[i], "extra")), line if width_fixed else None
    if kind == "delimiter_line":
        new = draw(st.sampled_from([s for s in (",", ";", "\t", " ", "|") if s != doc.sep]))
        glued = replace(doc, sep=new).sep.join(doc.rows[i])
        splits = doc.sep == " " and new == "\t"  # libFM splits on any whitespace
        return _with_row(doc, i, (glued,)), None if splits else line
    if kind == "delimiter_file":
        return replace(doc, sep=draw(st.sampled_from([s for s in (",", ";", "\t", " ", "|") if s != doc.sep]))), None
    if kind == "truncate_row":
        text = doc.sep.join(doc.rows[i])
        return _with_row(doc, i, (text[:draw(st.integers(0, max(0, len(text) - 1)))],)), None
    if kind == "truncate_file":
        return replace(doc, truncate_at=draw(st.integers(0, len(doc.render())))), None
    if kind == "bytes":
        junk = draw(st.sampled_from([b"\xff", b"\xe9", b"\xc3", b"\x00", b"\r", b"\xef\xbb\xbf", b"\x1a",
                                     b"\xed\xa0\x80", b"\xf4\x90\x80\x80"]))
        return replace(doc, byte_patches=doc.byte_patches + ((i, junk),)), None
    if kind == "huge":
        return _set_cell(doc, i, j, draw(st.sampled_from(list(HUGE_CELLS)))), None
    if kind == "number":
        return _set_cell(doc, i, j, draw(st.sampled_from(WEIRD_NUMBERS))), None
    if kind == "quote":
        cell = doc.rows[i][j]
        pos = draw(st.integers(0, len(cell)))
        return _set_cell(doc, i, j, cell[:pos] + draw(st.sampled_from(['"', '""', "'"])) + cell[pos:]), None
    if kind == "bom":
        return replace(doc, prefix=b"\xef\xbb\xbf" + doc.prefix), None
    if kind == "empty":
        return replace(doc, truncate_at=0), None
    if kind == "header_only":
        return replace(doc, rows=()), None
    if kind == "line_endings":
        return replace(doc, newline=draw(st.sampled_from(["\r\n", "\r", "\n\n"]))), None
    if kind == "blank_lines":
        return replace(doc, newline="\n \n"), None
    raise AssertionError(kind)


# --------------------------------------------------------------------------------------------- cases


@dataclass
class Case:
    """The files of one example (name -> Doc), the damaged one, and how to read the folder."""

    fmt: str
    docs: dict[str, Doc]
    target: str
    read: Callable[[Path], tuple]

    @property
    def doc(self) -> Doc:
        return self.docs[self.target]


def _case(fmt: str, rng: random.Random, n: int, numeric: bool) -> Case:
    if fmt == "movielens":
        docs = {"u.data": movielens_ratings(rng, n), "u.user": Doc("|", None, ML_USERS, 0),
                "u.item": Doc("|", None, ML_ITEMS, 0, encoding="latin-1"), "u.genre": Doc("|", None, ML_GENRES, 0)}
        return Case(fmt, docs, "u.data", lambda d: formats.read_movielens(d, chunk_rows=4))
    if fmt == "csv":
        cols = ["price"] if numeric else []
        return Case(fmt, {"log.csv": generic_csv(rng, n)}, "log.csv",
                    lambda d: formats.read_csv(d / "log.csv", "label", [], cols, chunk_rows=4))
    make, name, reader = {"criteo": (criteo, "train.txt", formats.read_criteo),
                          "avazu": (avazu, "train.csv", formats.read_avazu),
                          "libfm": (libfm, "x.libfm", formats.read_libfm)}[fmt]
    return Case(fmt, {name: make(rng, n)}, name, lambda d: reader(d / name, chunk_rows=4))


@st.composite
def cases(draw, fmt: str, kinds: tuple[str, ...] | None = None) -> Case:
    """A case of ``fmt`` damaged by ``kinds`` (None: two random kinds)."""
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    case = _case(fmt, rng, draw(st.integers(1, 6)), draw(st.booleans()))
    if fmt == "movielens":
        case.target = draw(st.sampled_from(sorted(case.docs)))
    kinds = kinds if kinds is not None else tuple(draw(st.lists(st.sampled_from(KINDS), min_size=2, max_size=2)))
    doc, fail = case.doc, None
    for kind in kinds:
        if not doc.rows:
            break
        bad = BAD_RATINGS if case.target == "u.data" else ("x",) if fmt == "movielens" else BAD_LABELS
        if not doc.fixed_width:
            bad = tuple(v for v in bad if v != "-1")  # -1 is a libFM label
        doc, fail = mutate(draw, doc, kind, bad)
        doc = replace(doc, mutations=(*doc.mutations, kind))
    if fmt == "movielens" and case.target != "u.data":
        fail = None  # e.g. an unknown user id in u.user is refused only where u.data uses it
    case.docs[case.target] = replace(doc, must_fail=fail if len(kinds) == 1 else None)
    return case


# --------------------------------------------------------------------------------------------- oracle


@dataclass
class Outcome:
    rows: list[list[str]] = field(default_factory=list)
    y: list[float] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    error: DataError | None = None


def write_case(case: Case, scratch: Path) -> tuple[Path, dict[str, bytes]]:
    folder = scratch / f"case{next(_counter)}"
    folder.mkdir()
    blobs = {name: doc.render() for name, doc in case.docs.items()}
    for name, blob in blobs.items():
        (folder / name).write_bytes(blob)
    return folder, blobs


def read_all(case: Case, folder: Path, blobs: dict[str, bytes]) -> Outcome:
    """Run the reader to the end and check the shape of whatever it returns or raises."""
    n_lines = max(blob.count(b"\n") + 1 for blob in blobs.values())
    out = Outcome()
    try:
        with no_hang():
            fields, chunks = case.read(folder)
            for chunk in chunks:
                assert len(chunk.columns) == len(fields)
                assert len(chunk.y) == len(chunk.lines) == len(chunk)
                assert set(np.unique(chunk.y).tolist()) <= {0.0, 1.0}
                cols = [chunk.values(f) for f in range(len(fields))]
                assert all(isinstance(v, str) for col in cols for v in col)
                out.rows += [list(r) for r in zip(*cols)]
                out.y += chunk.y.tolist()
                out.lines += chunk.lines.tolist()
    except DataError as err:
        out.error = err
        message = str(err)
        names = [str(folder / name) for name in blobs]
        assert any(name in message for name in names), f"the message does not name the file: {message[:300]}"
        assert err.problem.strip(), message
        assert len(message) < MAX_MESSAGE + len(str(folder)), f"message too long: {message[:300]}..."
        if err.line is not None:
            assert 1 <= err.line <= n_lines, message
        return out
    assert out.lines == sorted(set(out.lines)), out.lines
    assert all(1 <= n <= n_lines for n in out.lines)
    return out


def _label(fmt: str, row: tuple[str, ...], doc: Doc) -> float:
    if fmt == "movielens":
        return float(int(row[2]) >= 4)
    return float(row[doc.label].strip() in ("1", "+1"))


def check(case: Case, out: Outcome) -> None:
    """The case-specific oracle: an undamaged file parses exactly; a must-fail mutation is refused at its line."""
    doc, data = case.doc, case.docs.get("u.data", case.doc)
    if not doc.mutations:
        assert out.error is None, str(out.error)
        assert out.y == [_label(case.fmt, r, data) for r in data.rows]
        assert out.lines == [data.line_of(i) for i in range(len(data.rows))]
    elif doc.must_fail is not None:
        assert out.error is not None, f"{doc.mutations} at line {doc.must_fail} was accepted"
        assert out.error.line == doc.must_fail, (doc.mutations, str(out.error)[:300])
        assert Path(out.error.path).name == case.target, str(out.error)[:300]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


# Files with 140,000-character cells are slower to build than hypothesis expects of a strategy.
FUZZ = settings(deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("kind", ("none", *KINDS))
@pytest.mark.parametrize("fmt", FORMATS)
@settings(FUZZ, max_examples=PER_KIND)
@given(data=st.data())
def test_one_mutation_parses_or_is_refused_at_its_line(scratch, fmt, kind, data):
    case = data.draw(cases(fmt, () if kind == "none" else (kind,)))
    folder, blobs = write_case(case, scratch)
    check(case, read_all(case, folder, blobs))


@pytest.mark.parametrize("fmt", FORMATS)
@settings(FUZZ, max_examples=TWO_KINDS)
@given(data=st.data())
def test_two_mutations_parse_or_are_refused_cleanly(scratch, fmt, data):
    case = data.draw(cases(fmt))
    folder, blobs = write_case(case, scratch)
    check(case, read_all(case, folder, blobs))


# ------------------------------------------------------------------------------- the whole dataset loader


@pytest.mark.parametrize("fmt", ["criteo", "avazu", "libfm", "frappe", "movielens", "csv"])
@settings(FUZZ, max_examples=LOADER)
@given(data=st.data())
def test_load_dataset_raises_only_data_or_config_errors(scratch, fmt, data):
    case = data.draw(cases("libfm" if fmt == "frappe" else fmt, None if data.draw(st.booleans()) else ()))
    if case.doc.rows and data.draw(st.booleans()):  # enough rows for a three-way split
        case.docs[case.target] = replace(case.doc, rows=case.doc.rows * 8)
    folder, _ = write_case(case, scratch)
    path = folder if fmt == "movielens" else folder / case.target
    cfg = DataConfig(min_count=1, valid_frac=0.2, test_frac=0.2)
    with no_hang():
        try:
            first = load_dataset(fmt, str(path), cfg, cache_dir=str(folder / "cache"))
        except (DataError, ConfigError) as err:
            assert str(folder) in str(err) or isinstance(err, ConfigError), str(err)[:300]
            return
        again = load_dataset(fmt, str(path), cfg, cache_dir=str(folder / "cache"))
    assert again.source["cache_hit"]
    vocab = np.asarray(first.vocab_sizes)
    for split in ("train", "valid", "test"):
        a, b = getattr(first, split), getattr(again, split)
        np.testing.assert_array_equal(a.X, b.X)
        np.testing.assert_array_equal(a.y, b.y)
        assert (a.X >= 0).all() and (vocab > a.X).all()


# ------------------------------------------------------------------------------- a very large vocabulary


def test_a_column_of_100k_distinct_values_is_encoded_in_seconds(tmp_path):
    n = 100_000
    path = tmp_path / "wide.csv"
    path.write_text("label,id,small\n" + "".join(f"{i % 2},u{i},{i % 7}\n" for i in range(n)))
    with no_hang(60):
        data = load_dataset("csv", str(path), DataConfig(min_count=1), cache_dir=str(tmp_path / "cache"))
    assert data.vocab_sizes[0] == len(data.train) + 1  # every training value kept, plus the OOV id
    assert data.vocab_sizes[1] == 8
    assert (data.valid.X[:, 0] == 0).all()  # values never seen in training are out of vocabulary
