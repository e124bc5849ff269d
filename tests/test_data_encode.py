"""Vocabularies, splits, the cache and the registry; the real samples in ../shared/data when present."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aim.config import DataConfig
from aim.data import DATASETS, describe_datasets, encode, load_dataset
from aim.data.chunks import RawChunk
from aim.errors import ConfigError, DataError

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def chunk(rows: list[list[str]], y: list[int], part: int = 0) -> RawChunk:
    cols = []
    for col in zip(*rows):
        codes, uniques = pd.factorize(np.asarray(col, dtype=object))
        cols.append((codes, np.asarray(uniques, dtype=object)))
    return RawChunk(cols, np.asarray(y, np.float32), np.arange(1, len(y) + 1), part)


def fixed(codes: list[int]):
    return lambda y, part: np.asarray(codes, dtype=np.int8)


def test_vocab_min_count_order_and_oov():
    rows = [["b", "x"], ["a", "x"], ["b", "y"], ["a", "x"], ["b", "z"], ["c", "y"],  # train
            ["a", "new"], ["d", "z"]]  # valid, test: "new" and "d" never seen in train
    fields = [("f", "categorical"), ("g", "numeric")]
    out_fields, splits, vocabs = encode.encode_chunks(
        fields, [chunk(rows[:3], [1, 0, 1]), chunk(rows[3:], [0, 1, 0, 1, 0])], fixed([0] * 6 + [1, 2]), 2)
    assert vocabs == [["b", "a"], ["x", "y"]]  # b: 3 > a: 2; c: 1 < min_count; z: 1 in train
    assert [(f.name, f.vocab_size, f.kind) for f in out_fields] == [("f", 3, "categorical"), ("g", 3, "numeric")]
    assert splits["train"].X.tolist() == [[1, 1], [2, 1], [1, 2], [2, 1], [1, 0], [0, 2]]
    assert splits["valid"].X.tolist() == [[2, 0]] and splits["test"].X.tolist() == [[0, 0]]
    assert splits["train"].X.dtype == np.int32 and splits["train"].y.dtype == np.float32
    assert splits["train"].y.tolist() == [1, 0, 1, 0, 1, 0]


def test_vocab_ties_break_by_value_and_min_count_one():
    rows = [["q"], ["p"], ["r"], ["p"], ["q"]]
    _, splits, vocabs = encode.encode_chunks([("f", "categorical")], [chunk(rows, [0, 1, 0, 1, 0])],
                                             fixed([0] * 5), 1)
    assert vocabs == [["p", "q", "r"]]
    assert splits["train"].X[:, 0].tolist() == [2, 1, 3, 1, 2]


def test_stratified_split_rates_sizes_and_seed():
    rng = np.random.default_rng(0)
    y = (rng.random(10_000) < 0.2).astype(np.float32)
    a = encode.stratified_split(y, 0.1, 0.1, seed=3)
    assert np.array_equal(a, encode.stratified_split(y, 0.1, 0.1, seed=3))
    assert not np.array_equal(a, encode.stratified_split(y, 0.1, 0.1, seed=4))
    assert [int((a == s).sum()) for s in range(3)] == [8000, 1000, 1000]
    rates = [y[a == s].mean() for s in range(3)]
    assert max(rates) - min(rates) < 0.002


def test_given_test_split_keeps_test_part():
    y = np.tile([0, 1], 50).astype(np.float32)
    part = np.r_[np.zeros(80, np.int8), np.ones(20, np.int8)]
    code = encode.given_test_split(0.2, 0)(y, part)
    assert (code[80:] == 2).all() and (code[:80] != 2).all() and int((code == 1).sum()) == 16


def criteo_file(tmp_path: Path, n: int = 60, name: str = "c.tsv", salt: str = "") -> Path:
    lines = []
    for i in range(n):
        ints = [str(i % 7), ""] + [str(i)] * 11
        cats = [f"u{i % 5}{salt}", f"v{i % 3}"] + [""] * 24
        lines.append("\t".join([str(int(i % 3 == 0)), *ints, *cats]))
    p = tmp_path / name
    p.write_text("\n".join(lines) + "\n")
    return p


def test_load_cache_hit_miss_and_source(tmp_path):
    p, cache = criteo_file(tmp_path), tmp_path / "cache"
    first = load_dataset("criteo", str(p), DataConfig(), str(cache))
    second = load_dataset("criteo", str(p), DataConfig(), str(cache))
    assert not first.source["cache_hit"] and second.source["cache_hit"]
    for s in ("train", "valid", "test"):
        assert np.array_equal(getattr(first, s).X, getattr(second, s).X)
        assert np.array_equal(getattr(first, s).y, getattr(second, s).y)
    assert first.fields == second.fields and len(first.fields) == 39
    assert [len(first.train), len(first.valid), len(first.test)] == [48, 6, 6]
    src = second.source
    assert src["format"] == "criteo" and src["paths"] == [str(p.resolve())] and len(src["content_sha256"]) == 64
    assert Path(src["cache_path"]).parent == cache and src["data_config"]["min_count"] == 2
    json.dumps(first.summary())  # a run stores it
    # A changed setting or changed content is a miss; a different split_seed gives another split.
    other = load_dataset("criteo", str(p), DataConfig(split_seed=1), str(cache))
    assert not other.source["cache_hit"] and not np.array_equal(other.train.y, first.train.y)
    p.write_text(p.read_text().replace("u1", "u9"))
    assert not load_dataset("criteo", str(p), DataConfig(), str(cache)).source["cache_hit"]


def test_default_cache_dir_from_env(tmp_path, monkeypatch):
    monkeypatch.setenv("AIM_CACHE_DIR", str(tmp_path / "envcache"))
    d = load_dataset("criteo", str(criteo_file(tmp_path)), DataConfig())
    assert Path(d.source["cache_path"]).parent == tmp_path / "envcache"


@pytest.mark.parametrize("damage", ["delete", "json", "truncate", "shape", "range"])
def test_corrupt_cache_entry_is_rebuilt(tmp_path, damage):
    p, cache = criteo_file(tmp_path), tmp_path / "cache"
    good = load_dataset("criteo", str(p), DataConfig(), str(cache))
    entry = Path(good.source["cache_path"])
    if damage == "delete":
        (entry / "valid_y.npy").unlink()
    elif damage == "json":
        (entry / "meta.json").write_text("{not json")
    elif damage == "truncate":
        (entry / "train_X.npy").write_bytes((entry / "train_X.npy").read_bytes()[:100])
    elif damage == "shape":
        np.save(entry / "test_X.npy", np.zeros((2, 39), np.int32))
    else:
        np.save(entry / "test_X.npy", np.full((6, 39), 10**6, np.int32))
    rebuilt = load_dataset("criteo", str(p), DataConfig(), str(cache))
    assert not rebuilt.source["cache_hit"] and np.array_equal(rebuilt.test.X, good.test.X)
    assert load_dataset("criteo", str(p), DataConfig(), str(cache)).source["cache_hit"]
    assert [q.name for q in cache.iterdir()] == [entry.name]  # no temp folders left behind


def test_registry_names_and_errors(tmp_path):
    rows = describe_datasets()
    assert rows[0]["name"] == "synthetic" and rows[0]["description"] == "built-in generator with planted interactions"
    assert {r["name"] for r in rows} == {"synthetic", *DATASETS} and all(r["data"] for r in rows)
    with pytest.raises(ConfigError, match="choose one of: synthetic, frappe, movielens"):
        load_dataset("imagenet", "x", DataConfig(), str(tmp_path))
    with pytest.raises(DataError, match="does not exist; expected a file in the Kaggle Criteo"):
        load_dataset("criteo", str(tmp_path / "nope.tsv"), DataConfig(), str(tmp_path))
    with pytest.raises(DataError, match="folder lacks frappe.validation.libfm, frappe.test.libfm"):
        load_dataset("frappe", str(tmp_path), DataConfig(), str(tmp_path))
    with pytest.raises(DataError, match="u.data"):
        load_dataset("movielens", str(tmp_path / "nope"), DataConfig(), str(tmp_path))


def test_load_errors_carry_file_and_line(tmp_path):
    p = criteo_file(tmp_path)
    p.write_text(p.read_text() + "1\tonly\ttwo\n")
    with pytest.raises(DataError, match=r"c\.tsv:61: expected 40 columns, found 3"):
        load_dataset("criteo", str(p), DataConfig(), str(tmp_path / "cache"))
    q = tmp_path / "d.csv"
    q.write_text("a,label\nx,1\nx,2\n")
    with pytest.raises(DataError, match=r"d\.csv:3: label 'label' must be one of 0, 1, got '2'"):
        load_dataset("csv", str(q), DataConfig(), str(tmp_path / "cache"))
    with pytest.raises(DataError, match=r"d\.csv:1: unknown numeric column\(s\) \['b'\]; the header has: a, label"):
        load_dataset("csv", str(q), DataConfig(numeric="b"), str(tmp_path / "cache"))
    with pytest.raises(DataError, match=r"d\.csv: too few rows \(1\)"):
        load_dataset("csv", str(q), DataConfig(max_rows=1), str(tmp_path / "cache"))


def test_csv_and_libfm_through_registry(tmp_path):
    q = tmp_path / "d.csv"
    q.write_text("a,label,n\n" + "".join(f"v{i % 4},{i % 2},{i}\n" for i in range(40)))
    d = load_dataset("csv", str(q), DataConfig(numeric="n", max_rows=30), str(tmp_path / "cache"))
    assert d.field_names == ["a", "n"] and [f.kind for f in d.fields] == ["categorical", "numeric"]
    assert len(d.train) + len(d.valid) + len(d.test) == 30
    f = tmp_path / "x.libfm"
    f.write_text("".join(f"{1 if i % 3 else -1} {i % 4}:1 {10 + i % 5}:1\n" for i in range(50)))
    d = load_dataset("libfm", str(f), DataConfig(), str(tmp_path / "cache"))
    assert d.field_names == ["f0", "f1"] and d.vocab_sizes == [5, 6]


def need(*parts: str) -> Path:
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"real sample {p} is absent (../shared/data is not next to this checkout)")
    return p


def test_real_criteo(tmp_path):
    d = load_dataset("criteo", str(need("criteo_sample", "lapis_train.tsv")), DataConfig(), str(tmp_path))
    assert len(d.train) + len(d.valid) + len(d.test) == 7200 and len(d.fields) == 39
    assert abs(d.train.positive_rate - 0.21) < 0.02 and d.fields[0].kind == "numeric"


def test_real_avazu_with_and_without_header(tmp_path):
    d = load_dataset("avazu", str(need("avazu_sample", "lapis_train.csv")), DataConfig(), str(tmp_path))
    assert len(d.train) + len(d.valid) + len(d.test) == 8087 and len(d.fields) == 24
    assert d.field_names[:3] == ["hour_of_day", "weekday", "is_weekend"] and d.field_names[-1] == "C21"
    dev = load_dataset("avazu", str(need("avazu_sample", "lapis_dev.csv")), DataConfig(), str(tmp_path))
    assert len(dev.train) + len(dev.valid) + len(dev.test) == 480 and dev.field_names == d.field_names


def test_real_frappe_split_and_cached_reload(tmp_path):
    folder = need("frappe")
    d = load_dataset("frappe", str(folder), DataConfig(), str(tmp_path))
    assert [len(d.train), len(d.valid), len(d.test)] == [46177, 11545, 28860]
    assert d.field_names[0] == "user" and len(d.fields) == 10
    assert abs(d.train.positive_rate - d.valid.positive_rate) < 0.002
    t = time.perf_counter()
    again = load_dataset("frappe", str(folder), DataConfig(), str(tmp_path))
    assert again.source["cache_hit"] and time.perf_counter() - t < 1.0
    assert np.array_equal(again.train.X, d.train.X)


def test_real_movielens(tmp_path):
    d = load_dataset("movielens", str(need("ml-100k")), DataConfig(), str(tmp_path))
    assert [len(d.train), len(d.valid), len(d.test)] == [80000, 10000, 10000] and len(d.fields) == 9
    y = np.concatenate([d.train.y, d.valid.y, d.test.y])
    assert abs(y.mean() - 0.554) < 0.002 and abs(d.test.positive_rate - y.mean()) < 0.002
