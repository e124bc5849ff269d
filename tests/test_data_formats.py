"""Readers of the raw formats on tiny hand-made files: exact tokens, labels, line numbers and errors."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from aim.data import chunks, formats
from aim.data.chunks import MISSING, bucketize
from aim.errors import DataError


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(content.encode() if isinstance(content, str) else content)
    return p


def collect(result) -> tuple[list[str], list[list[str]], list[float], list[int]]:
    """(field names, rows of tokens, labels, line numbers) of a reader's output."""
    fields, chunks = result
    rows, ys, lines = [], [], []
    for chunk in chunks:
        cols = [chunk.values(f) for f in range(len(fields))]
        rows += [list(r) for r in zip(*cols)]
        ys += chunk.y.tolist()
        lines += chunk.lines.tolist()
    return [n for n, _ in fields], rows, ys, lines


def criteo_line(label: str = "0", ints: list[str] | None = None, cats: list[str] | None = None) -> str:
    ints = ints if ints is not None else ["1"] * 13
    cats = cats if cats is not None else [f"c{i}" for i in range(26)]
    return "\t".join([label, *ints, *cats]) + "\n"


def raises_at(fn, line: int | None, *words: str) -> DataError:
    with pytest.raises(DataError) as info:
        fn()
    err = info.value
    assert err.line == line, str(err)
    for w in words:
        assert w in str(err), str(err)
    return err


def drain(result) -> None:
    for _ in result[1]:
        pass


@pytest.mark.parametrize("x, token", [(3, "1"), (10, "5"), (2, "2"), (-1, "-1"), (0, "0"), (1, "1"), (100, "21"),
                                      (2.5, "0"), (1.5, "1.5")])
def test_bucketize(x, token):
    assert bucketize(x) == token


def test_criteo_tokens_missing_and_bucketing(tmp_path):
    p = write(tmp_path, "t.tsv", criteo_line("1", ["3", "10", "2", "-1", ""] + ["7"] * 8, ["a", ""] + ["z"] * 24)
              + "\n" + criteo_line("0"))  # a blank line is skipped, and counted
    names, rows, ys, lines = collect(formats.read_criteo(p))
    assert names[:2] == ["I1", "I2"] and names[13] == "C1" and len(names) == 39
    assert rows[0][:5] == ["1", "5", "2", "-1", MISSING]
    assert rows[0][5] == "3"  # 7 -> floor(ln(7)^2) = floor(3.79)
    assert rows[0][13:15] == ["a", MISSING]
    assert ys == [1.0, 0.0] and lines == [1, 3]


def test_criteo_chunking_and_max_rows(tmp_path):
    text = "".join(criteo_line(str(i % 2), [str(i)] * 13) for i in range(7))
    p = write(tmp_path, "t.tsv", text)
    whole = collect(formats.read_criteo(p))
    small = collect(formats.read_criteo(p, chunk_rows=2))
    assert whole == small and len(whole[1]) == 7
    assert collect(formats.read_criteo(p, max_rows=3, chunk_rows=2))[3] == [1, 2, 3]


@pytest.mark.parametrize("bad, words", [
    (criteo_line("yes"), ["label", "'yes'"]),
    (criteo_line("2"), ["label", "'2'"]),
    (criteo_line("-1"), ["label", "'-1'"]),
    (criteo_line("0", ["1.5"] + ["1"] * 12), ["non-integer", "'1.5'"]),
    (criteo_line("0", ["x"] * 13), ["non-integer"]),
    (criteo_line("0").replace("\tc25", ""), ["expected 40 columns, found 39", "Criteo"]),
    (criteo_line("0").replace("\n", "\textra\n"), ["expected 40 columns, found 41"]),
])
def test_criteo_errors_name_file_and_line(tmp_path, bad, words):
    p = write(tmp_path, "bad.tsv", criteo_line("0") + criteo_line("1") + bad)
    err = raises_at(lambda: drain(formats.read_criteo(p)), 3, *words)
    assert str(err).startswith(f"{p}:3: ")


def test_non_utf8_bytes_name_line_and_byte(tmp_path):
    p = write(tmp_path, "bad.tsv", criteo_line("0").encode() + criteo_line("1", cats=["caf\xe9"] * 26).encode("latin-1"))
    raises_at(lambda: drain(formats.read_criteo(p)), 2, "UTF-8", "0xe9")


def test_empty_file_and_missing_file(tmp_path):
    raises_at(lambda: drain(formats.read_criteo(write(tmp_path, "e.tsv", ""))), None, "empty")
    raises_at(lambda: drain(formats.read_criteo(write(tmp_path, "b.tsv", "\n  \n"))), None, "empty")
    raises_at(lambda: drain(formats.read_criteo(tmp_path / "nope.tsv")), None, "does not exist")


AVAZU_HEADER = ",".join(formats.AVAZU_COLUMNS) + "\n"


def avazu_line(click: str = "0", hour: str = "14102100", site: str = "s1") -> str:
    rest = ["1005", "0", site] + [f"v{i}" for i in range(18)]
    return ",".join(["123", click, hour, *rest]) + "\n"


def test_avazu_header_and_no_header_agree(tmp_path):
    body = avazu_line("1", "14102100") + avazu_line("0", "14102523", "")
    with_header = collect(formats.read_avazu(write(tmp_path, "h.csv", AVAZU_HEADER + body)))
    without = collect(formats.read_avazu(write(tmp_path, "n.csv", body)))
    names, rows, ys, lines = with_header
    assert len(names) == 24 and names[:4] == ["hour_of_day", "weekday", "is_weekend", "C1"]
    assert "id" not in names and "click" not in names and "hour" not in names
    assert rows[0][:3] == ["0", "1", "0"]  # 2014-10-21 00h was a Tuesday
    assert rows[1][:3] == ["23", "5", "1"]  # 2014-10-25 23h, a Saturday
    assert rows[1][names.index("site_id")] == MISSING
    assert ys == [1.0, 0.0] and lines == [2, 3]
    assert without[:3] == with_header[:3] and without[3] == [1, 2]


def test_avazu_errors(tmp_path):
    p = write(tmp_path, "a.csv", AVAZU_HEADER + avazu_line() + avazu_line(hour="14133100"))
    raises_at(lambda: drain(formats.read_avazu(p)), 3, "YYMMDDHH", "a.csv")
    p = write(tmp_path, "b.csv", AVAZU_HEADER + avazu_line(click="yes"))
    raises_at(lambda: drain(formats.read_avazu(p)), 2, "click", "'yes'")
    p = write(tmp_path, "c.csv", AVAZU_HEADER)
    raises_at(lambda: drain(formats.read_avazu(p)), None, "no data rows after the header")
    p = write(tmp_path, "d.csv", avazu_line() + avazu_line()[:-5] + "\n")
    raises_at(lambda: drain(formats.read_avazu(p)), 2, "expected 24 columns")


def test_libfm_labels_tokens_and_whitespace(tmp_path):
    p = write(tmp_path, "x.libfm", "1 3:1 10:1\n-1 4:1  10:1 \n0\t3:1 11:1\r\n+1 5:0.5 12:1\n")
    names, rows, ys, lines = collect(formats.read_libfm(p))
    assert names == ["f0", "f1"]
    assert rows == [["3", "10"], ["4", "10"], ["3", "11"], ["5", "12"]]
    assert ys == [1.0, 0.0, 0.0, 1.0] and lines == [1, 2, 3, 4]
    assert collect(formats.read_libfm(p, names=["a", "b"]))[0] == ["a", "b"]


def test_libfm_errors(tmp_path):
    p = write(tmp_path, "x.libfm", "1 3:1 10:1\n1 3:1\n")
    raises_at(lambda: drain(formats.read_libfm(p)), 2, "x.libfm", "expected 3 columns, found 2")
    p = write(tmp_path, "y.libfm", "1 3:1 10:1\n2 3:1 4:1\n")
    raises_at(lambda: drain(formats.read_libfm(p)), 2, "label", "'2'")
    p = write(tmp_path, "z.libfm", "1 3:1 10:1\n1 3:1 oops\n")
    raises_at(lambda: drain(formats.read_libfm(p)), 2, "index:value", "'oops'")
    raises_at(lambda: formats.read_libfm(p, names=["a", "b", "c"]), 1, "expected 3 features")


def movielens_folder(tmp_path: Path, data: str) -> Path:
    d = tmp_path / "ml"
    d.mkdir()
    write(d, "u.user", "1|24|M|technician|85711\n2|53|F|other|\n")
    flags_a = "|".join(["0"] * 3 + ["1", "1"] + ["0"] * 14)  # first genre flag: index 3
    flags_b = "|".join(["0"] * 19)
    item = "1|Caf\xe9 (1995)|01-Jan-1995||http://x|" + flags_a + "\n2|B (1996)|01-Jan-1996||http://y|" + flags_b + "\n"
    write(d, "u.item", item.encode("latin-1"))
    write(d, "u.genre", "unknown|0\nAction|1\nAdventure|2\nAnimation|3\nChildren's|4\n\n")
    write(d, "u.data", data)
    return d


def test_movielens_join_time_and_genre(tmp_path):
    ts = 881250949
    d = movielens_folder(tmp_path, f"1\t1\t4\t{ts}\n2\t2\t3\t0\n")
    names, rows, ys, _ = collect(formats.read_movielens(d))
    assert names == ["user_id", "item_id", "age", "gender", "occupation", "zip", "hour", "weekday", "genre"]
    t = datetime.fromtimestamp(ts, tz=UTC)
    assert rows[0] == ["1", "1", "24", "M", "technician", "85711", str(t.hour), str(t.weekday()), "Animation"]
    assert rows[1] == ["2", "2", "53", "F", "other", MISSING, "0", "3", MISSING]  # 1970-01-01: Thursday
    assert ys == [1.0, 0.0]


def test_movielens_errors(tmp_path):
    d = movielens_folder(tmp_path, "1\t1\t4\t0\n3\t1\t4\t0\n")
    raises_at(lambda: drain(formats.read_movielens(d)), 2, "u.data", "user id '3'")
    (d / "u.data").write_text("1\t1\t4\t0\n1\t1\t9\t0\n")
    raises_at(lambda: drain(formats.read_movielens(d)), 2, "rating must be 1..5")
    (d / "u.data").write_text("1\t1\t4\tnoon\n")
    raises_at(lambda: drain(formats.read_movielens(d)), 1, "integer", "'noon'")


def test_csv_columns_numeric_and_quotes(tmp_path):
    p = write(tmp_path, "d.csv", 'city,label,price,note\nParis,1,10,"a, b"\n"Lyon",0,,x\n')
    names, rows, ys, lines = collect(formats.read_csv(p, "label", [], ["price"]))
    assert names == ["city", "price", "note"]
    assert rows == [["Paris", "5", "a, b"], ["Lyon", MISSING, "x"]]
    assert ys == [1.0, 0.0] and lines == [2, 3]
    fields, _ = formats.read_csv(p, "label", ["note"], [])
    assert fields == [("note", "categorical")]


def test_csv_errors(tmp_path):
    p = write(tmp_path, "d.csv", "a,label,b\nx,1,y\nx,yes,y\n")
    raises_at(lambda: formats.read_csv(p, "click", [], []), 1, "label column 'click' not found", "a, label, b")
    raises_at(lambda: formats.read_csv(p, "label", ["c"], []), 1, "unknown categorical", "'c'", "a, label, b")
    raises_at(lambda: formats.read_csv(p, "label", [], ["zz"]), 1, "unknown numeric", "a, label, b")
    raises_at(lambda: drain(formats.read_csv(p, "label", [], [])), 3, "d.csv", "'yes'")
    p = write(tmp_path, "n.csv", "a,label\n5x,1\n")
    raises_at(lambda: drain(formats.read_csv(p, "label", [], ["a"])), 2, "non-number", "'5x'")
    p = write(tmp_path, "h.csv", "a,label\n")
    raises_at(lambda: drain(formats.read_csv(p, "label", [], [])), None, "no data rows after the header")
    p = write(tmp_path, "q.csv", 'a,label\n"x,y,1\n')
    with pytest.raises(DataError, match=r"q\.csv:2: "):
        drain(formats.read_csv(p, "label", [], []))


def test_map_uniques_reports_first_line_of_bad_token():
    codes, uniques, lines = np.array([0, 1, 0, 1]), np.array(["1", "x"], dtype=object), np.array([5, 6, 7, 8])
    with pytest.raises(DataError, match=r"f:6: "):
        chunks.map_uniques("f", codes, uniques, lines, int)


# Regressions found by tests/test_fuzz_formats.py: each was an unrelated exception, a wrong line or a 140 kB message.
@pytest.mark.parametrize("name, content, reader, line, words", [
    ("huge.tsv", criteo_line("7" * 200_000), formats.read_criteo, 1, ["label", "(200,000 characters)"]),
    ("cr.csv", "a,label\nx,1\ry,0\n", lambda p: formats.read_csv(p, "label", [], []), 2, ["carriage return"]),
    ("q.csv", 'a,label\nx,1\nx,"1\nz,0\n', lambda p: formats.read_csv(p, "label", [], []), 3, ["unclosed quote"]),
    ("j.csv", 'a,label\n"x"y,1\n', lambda p: formats.read_csv(p, "label", [], []), 2, ["malformed CSV"]),
    ("h.csv", '"' + "c" * 200_000 + '",click\nx,1\n', lambda p: formats.read_csv(p, "label", [], []), 1,
     ["label column 'label' not found", "characters)"]),
    ("d.csv", AVAZU_HEADER.replace("C1,", "C14,") + avazu_line(), formats.read_avazu, 1, ["duplicate", "C14"]),
])
def test_malformed_input_is_refused_at_its_line_with_a_short_message(tmp_path, name, content, reader, line, words):
    p = write(tmp_path, name, content)
    err = raises_at(lambda: drain(reader(p)), line, str(p), *words)
    assert len(str(err)) < 300 + len(str(p))


def test_huge_quoted_cells_and_rebuilt_quotes_parse(tmp_path):
    p = write(tmp_path, "big.csv", f'a,label\n"{"x" * 200_000}",1\n"a ""b"", c",0\n')
    _, rows, ys, lines = collect(formats.read_csv(p, "label", [], []))
    assert rows == [["x" * 200_000], ['a "b", c']] and ys == [1.0, 0.0] and lines == [2, 3]


def test_movielens_timestamps_out_of_range_are_refused(tmp_path):
    d = movielens_folder(tmp_path, "1\t1\t4\t" + "9" * 30 + "\n")
    raises_at(lambda: drain(formats.read_movielens(d)), 1, "u.data", "out of range")
    (d / "u.data").write_text("1\t1\t\t0\n")
    raises_at(lambda: drain(formats.read_movielens(d)), 1, "u.data", "empty value")
