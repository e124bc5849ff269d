"""Out-of-core encoding (aim.data.outofcore): the same ids as the in-memory path, the streaming split, the
memory-mapped layout, the readers' errors; block-wise shuffled batches, block-wise statistics AUC, a run on
mapped data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aim import stats_auc_blocks as blocks_module
from aim.config import DataConfig
from aim.data import encode, formats, load_dataset, outofcore
from aim.errors import ConfigError, DataError
from aim.stats_auc import stats_auc
from aim.stats_auc_blocks import stats_auc_blocks
from aim.train import block_batches


def write_criteo(path, rows: int, seed: int = 0) -> None:
    """A small Criteo train.txt: label, 13 integers (some empty, some <= 2), 26 hex categories (some empty)."""
    rng = np.random.default_rng(seed)
    lines = []
    for _ in range(rows):
        ints = [("" if rng.random() < 0.1 else str(int(rng.zipf(1.5)) - 1)) for _ in range(13)]
        cats = [("" if rng.random() < 0.05 else f"{int(rng.zipf(1.3)) % (10 * (j + 2)):08x}") for j in range(26)]
        lines.append("\t".join([str(int(rng.random() < 0.25)), *ints, *cats]))
    path.write_text("\n".join(lines) + "\n")


def write_avazu(path, rows: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    lines = [",".join(formats.AVAZU_COLUMNS)]
    for i in range(rows):
        hour = f"1410{21 + rng.integers(0, 9):02d}{rng.integers(0, 24):02d}"
        cells = [str(i), str(int(rng.random() < 0.2)), hour] + [str(int(rng.zipf(1.4)) % 40) for _ in range(21)]
        lines.append(",".join(cells))
    path.write_text("\n".join(lines) + "\n")


WRITERS = {"criteo": write_criteo, "avazu": write_avazu}
READERS = {"criteo": formats.read_criteo, "avazu": formats.read_avazu}


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch):
    monkeypatch.setattr(outofcore, "BLOCK_ROWS", 500)  # several blocks per pass on a 2,000-row file


@pytest.mark.parametrize("fmt", ["criteo", "avazu"])
def test_same_ids_as_the_in_memory_path_with_its_split(tmp_path, fmt):
    src = tmp_path / "data.txt"
    WRITERS[fmt](src, 2000)
    cfg = DataConfig(min_count=2)
    memory = load_dataset(fmt, str(src), cfg, str(tmp_path / "cache"))
    fields, chunks = READERS[fmt](src, chunk_rows=512)
    assign = lambda y, part: encode.stratified_split(y, cfg.valid_frac, cfg.test_frac, cfg.split_seed)  # noqa: E731
    out_fields, rows, vocabs = outofcore.encode_to_folder(tmp_path, fields, chunks, outofcore.whole_split(assign), 2)
    assert out_fields == memory.fields
    _, _, mem_vocabs = encode.encode_chunks(*READERS[fmt](src), assign, 2)
    assert vocabs == mem_vocabs
    for name in encode.SPLITS:
        X = np.load(tmp_path / f"{name}_X.npy")
        y = np.load(tmp_path / f"{name}_y.npy")
        assert X.flags.f_contiguous and X.dtype == np.int32 and y.dtype == np.float32
        np.testing.assert_array_equal(X, getattr(memory, name).X)
        np.testing.assert_array_equal(y, getattr(memory, name).y)
        assert rows[name] == len(y)
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix != ".npy") == ["cache", "data.txt"]  # temps gone


@pytest.mark.parametrize("fmt", ["criteo", "avazu"])
def test_registry_mmap_equals_in_memory_encoding_of_the_streaming_split(tmp_path, fmt):
    src = tmp_path / "data.txt"
    WRITERS[fmt](src, 2000, seed=1)
    cfg = DataConfig(storage="mmap", split_seed=3)
    data = load_dataset(fmt, str(src), cfg, str(tmp_path))
    split = outofcore.StreamingSplit(cfg.valid_frac, cfg.test_frac, cfg.split_seed)
    fields, splits, _ = encode.encode_chunks(*READERS[fmt](src), lambda y, part: np.concatenate(list(split(y))), 2)
    assert data.fields == fields and data.source["storage"] == "mmap" and not data.source["cache_hit"]
    for name in encode.SPLITS:
        assert isinstance(getattr(data, name).X, np.memmap)
        np.testing.assert_array_equal(getattr(data, name).X, splits[name].X)
        np.testing.assert_array_equal(getattr(data, name).y, splits[name].y)
    again = load_dataset(fmt, str(src), cfg, str(tmp_path))
    assert again.source["cache_hit"] and again.source["cache_path"] == data.source["cache_path"]
    in_memory = load_dataset(fmt, str(src), DataConfig(split_seed=3), str(tmp_path))
    assert in_memory.source["cache_path"] != data.source["cache_path"]  # the two layouts never share an entry
    assert not isinstance(in_memory.train.X, np.memmap)


def test_streaming_split_counts_determinism_and_spread():
    rng = np.random.default_rng(0)
    y = (rng.random(10_001) < 0.3).astype(np.float32)
    split = outofcore.StreamingSplit(0.1, 0.2, seed=5)
    code = np.concatenate(list(split(y)))
    assert len(code) == len(y)
    for c in (0, 1):
        n_c = int((y == c).sum())
        assert np.bincount(code[y == c], minlength=3).tolist() == split.counts(n_c).tolist()
    assert split.counts(10) .tolist() == [7, 1, 2] and split.counts(1).tolist() == [1, 0, 0]
    np.testing.assert_array_equal(code, np.concatenate(list(split(y))))  # same labels and seed, same codes
    assert not np.array_equal(code, np.concatenate(list(outofcore.StreamingSplit(0.1, 0.2, seed=6)(y))))
    for quarter in np.array_split(code, 4):  # every part of the file is split, not only its end
        assert abs((quarter == 2).mean() - 0.2) < 0.04


def test_reader_errors_are_the_same_out_of_core(tmp_path):
    src = tmp_path / "bad.txt"
    write_criteo(src, 50)
    lines = src.read_text().splitlines()
    lines[30] = lines[30].replace("\t", "\tx", 1)  # I1 holds a non-integer
    src.write_text("\n".join(lines) + "\n")
    errors = []
    for storage in ("memory", "mmap"):
        with pytest.raises(DataError) as e:
            load_dataset("criteo", str(src), DataConfig(storage=storage), str(tmp_path / storage))
        errors.append(str(e.value))
    assert errors[0] == errors[1] and ":31: integer column holds a non-integer value" in errors[0]
    assert not any((tmp_path / "mmap").iterdir())  # nothing half-written is left in the cache


def test_given_test_part_is_refused(tmp_path):
    folder = tmp_path / "frappe"
    folder.mkdir()
    for name in ("frappe.validation.libfm", "frappe.test.libfm"):
        rows = (f"{i % 2} " + " ".join(f"{10 * f + (i + f) % 3}:1" for f in range(10)) for i in range(40))
        (folder / name).write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError, match="data.storage=memory"):
        load_dataset("frappe", str(folder), DataConfig(storage="mmap"), str(tmp_path / "cache"))


@pytest.mark.parametrize("order", ["C", "F"])
def test_block_stats_auc_equals_in_memory(tmp_path, monkeypatch, order):
    rng = np.random.default_rng(1)
    vocab = [3, 50, 400, 7, 2000, 30]

    def draw(n):
        X = np.stack([rng.zipf(1.3, n) % v for v in vocab], axis=1).astype(np.int32)
        logit = 0.8 * (X[:, 0] == 1) + 0.5 * ((X[:, 1] + X[:, 3]) % 3 == 0) - 1.0
        return X, (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.float32)
    (train_X, train_y), (test_X, test_y) = draw(5000), draw(1500)
    mapped = []
    for name, a in (("trX", train_X), ("trY", train_y), ("teX", test_X), ("teY", test_y)):
        np.save(tmp_path / f"{name}.npy", np.asarray(a, order=order))
        mapped.append(np.load(tmp_path / f"{name}.npy", mmap_mode="r"))
    inters = [(i, j) for i in range(6) for j in range(i + 1, 6)] + [(0, 2, 4), (1, 2, 4, 5), (4,)]
    expected = stats_auc(train_X, train_y, test_X, test_y, inters, vocab)
    assert np.isfinite(expected).all()
    np.testing.assert_array_equal(stats_auc(*mapped, inters, vocab), expected)  # memmaps dispatch to blocks
    monkeypatch.setattr(blocks_module, "MAX_KEY_SPACE", 1 << 12)  # force the re-ranking of partial keys
    monkeypatch.setattr(blocks_module, "_BLOCK_DENSE", 1 << 6)  # and the sparse counting
    np.testing.assert_array_equal(stats_auc_blocks(*mapped, inters, None, block_rows=700), expected)
    with pytest.raises(ConfigError, match="outside vocab_sizes"):
        stats_auc_blocks(*mapped, inters, [2] + vocab[1:])


def test_block_batches_cover_every_row_once_and_shard_like_one_process():
    n, block, batch = 1000, 128, 96
    X = torch.arange(2 * n, dtype=torch.int32).reshape(2, n).T  # column-major, as the mapped arrays
    y = torch.arange(n, dtype=torch.float32)
    batches = list(block_batches(X, y, batch, block, torch.Generator().manual_seed(0)))
    assert len(batches) == -(-n // batch) and all(len(b[1]) == batch for b in batches[:-1])
    rows = torch.cat([b[1] for b in batches]).long()
    assert sorted(rows.tolist()) == list(range(n))  # every row exactly once
    assert torch.equal(torch.cat([b[0] for b in batches]), X[rows])  # X and y rows stay together
    first = rows[:block] // block  # the first 128 rows of the epoch: one block, shuffled
    assert (first == first[0]).all() and rows[:block].tolist() != sorted(rows[:block].tolist())
    for world in (2, 3):
        pieces = [list(block_batches(X, y, batch, block, torch.Generator().manual_seed(0), r, world))
                  for r in range(world)]
        for b, whole in enumerate(batches):
            assert torch.equal(torch.cat([p[b][1] for p in pieces]), whole[1])


def test_run_on_memory_mapped_criteo(tmp_path, monkeypatch):
    """A whole run with data.storage=mmap: block-wise batches, block-wise statistics AUC, the run records it."""
    from aim.config import ModelConfig, RunConfig, SearchConfig, TrainConfig
    from aim.pipeline import execute
    from aim.runs import load_run

    monkeypatch.setenv("AIM_CACHE_DIR", str(tmp_path / "cache"))
    src = tmp_path / "train.txt"
    write_criteo(src, 1500)
    cfg = RunConfig(dataset="criteo", data_path=str(src), variant="aim", data=DataConfig(storage="mmap",
                    shuffle_block=300), model=ModelConfig(embed_dim=4, mlp=(8,)),
                    search=SearchConfig(search_epochs=1, embed_epochs=1, grda_c=0.12, embed_grda_c=0.04),
                    train=TrainConfig(epochs=1, embed_l2=0.0))
    run = load_run(execute(cfg, tmp_path / "runs", log=lambda _: None))
    assert run.status == "complete"
    assert run.meta["config"]["data"]["storage"] == "mmap" and run.meta["dataset"]["source"]["storage"] == "mmap"
    assert run.interactions["stats_auc"].notna().all()
