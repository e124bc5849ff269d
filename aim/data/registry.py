"""Named datasets: ``load_dataset(name, data_path, cfg)`` reads a dataset in its native layout, encodes it
(aim.data.encode) and caches the result keyed by the files' content and the settings.

``DATASETS[name]`` is a ``DatasetSpec``, callable as ``spec(data_path, data_cfg, cache_dir) -> CTRData``.
"synthetic" is not in DATASETS (it is generated from ``SyntheticConfig`` by aim.data.synthetic, not read),
but ``describe_datasets()`` lists it first so that ``python -m aim datasets`` shows every choice.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from aim.config import DataConfig
from aim.data import encode, formats, outofcore
from aim.data.base import CTRData
from aim.data.chunks import Fields, RawChunk
from aim.errors import ConfigError, DataError

FRAPPE_FIELDS = ["user", "item", "daytime", "weekday", "isweekend", "homework", "cost", "weather", "country", "city"]
FRAPPE_FILES = ("frappe.validation.libfm", "frappe.test.libfm")
COMMON_SETTINGS = ("min_count", "split_seed", "valid_frac", "test_frac", "max_rows")
Assign = Callable[[np.ndarray, np.ndarray], np.ndarray]
Read = Callable[[Path, DataConfig], tuple[Fields, Iterable[RawChunk], Assign, str]]


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset format: ``sources`` lists the files it reads (DataError with the expected layout when they
    are missing); ``read`` returns (fields, chunks, split assigner, split description)."""

    name: str
    description: str
    layout: str  # what --data must point to
    sources: Callable[[Path], list[Path]]
    read: Read
    settings: tuple[str, ...] = COMMON_SETTINGS  # DataConfig fields that change the encoding (cache key)

    def __call__(self, data_path: str | Path, data_cfg: DataConfig, cache_dir: str | Path | None = None) -> CTRData:
        return _load(self, data_path, data_cfg, cache_dir)


def _generic_split(cfg: DataConfig) -> tuple[Assign, str]:
    def assign(y: np.ndarray, part: np.ndarray) -> np.ndarray:
        return encode.stratified_split(y, cfg.valid_frac, cfg.test_frac, cfg.split_seed)
    train = 1 - cfg.valid_frac - cfg.test_frac
    return assign, f"stratified {train:g}/{cfg.valid_frac:g}/{cfg.test_frac:g}, seed {cfg.split_seed}"


def _one_file(layout: str) -> Callable[[Path], list[Path]]:
    def sources(path: Path) -> list[Path]:
        if not path.is_file():
            raise DataError(path, f"{'is a folder' if path.is_dir() else 'does not exist'}; expected {layout}")
        return [path]
    return sources


def _folder(required: tuple[str, ...], optional: tuple[str, ...], layout: str) -> Callable[[Path], list[Path]]:
    def sources(path: Path) -> list[Path]:
        if not path.is_dir():
            raise DataError(path, f"{'is a file' if path.exists() else 'does not exist'}; expected {layout}")
        missing = [n for n in required if not (path / n).is_file()]
        if missing:
            raise DataError(path, f"folder lacks {', '.join(missing)}; expected {layout}")
        return [path / n for n in required + optional if (path / n).is_file()]
    return sources


def _frappe_sources(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return _folder(FRAPPE_FILES, (), DATASETS["frappe"].layout)(path)


def _single(reader: Callable[..., tuple[Fields, Iterable[RawChunk]]]) -> Read:
    def read(path: Path, cfg: DataConfig):
        fields, chunks = reader(path, max_rows=cfg.max_rows)
        return (fields, chunks, *_generic_split(cfg))
    return read


def _read_libfm_file(path: Path, cfg: DataConfig, names: list[str] | None = None):
    fields, chunks = formats.read_libfm(path, max_rows=cfg.max_rows)
    if names is not None and len(fields) == len(names):
        fields = [(n, kind) for n, (_, kind) in zip(names, fields)]
    return (fields, chunks, *_generic_split(cfg))


def _read_frappe(path: Path, cfg: DataConfig):
    if path.is_file():  # one libFM file: generic split
        return _read_libfm_file(path, cfg, FRAPPE_FIELDS)
    # max_rows applies to each file: a quick look at a dataset still gets a test split.
    fields, valid = formats.read_libfm(path / FRAPPE_FILES[0], FRAPPE_FIELDS, cfg.max_rows, part=0)
    _, test = formats.read_libfm(path / FRAPPE_FILES[1], FRAPPE_FIELDS, cfg.max_rows, part=1)
    split = f"{FRAPPE_FILES[0]} -> train/valid 80/20 stratified, seed {cfg.split_seed}; {FRAPPE_FILES[1]} -> test"
    return fields, itertools.chain(valid, test), encode.given_test_split(0.2, cfg.split_seed), split


def _read_csv(path: Path, cfg: DataConfig):
    fields, chunks = formats.read_csv(path, cfg.label, list(cfg.categorical), list(cfg.numeric), cfg.max_rows)
    return (fields, chunks, *_generic_split(cfg))


_CRITEO = "a file in the Kaggle Criteo train.txt layout (tab separated, no header: label, I1-I13, C1-C26)"
_AVAZU = "a Kaggle Avazu CSV file, with or without header (id, click, hour, C1, banner_pos, ..., C21)"
_ML = "the ml-100k folder holding u.data, u.user, u.item (u.genre optional)"
_LIBFM = "a libFM file: 'label idx:val idx:val ...', label -1/1 or 0/1, the same number of features per row"
DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec for spec in (
        DatasetSpec("frappe", "Frappe app-usage context (10 fields), libFM format",
                    f"a folder holding {' and '.join(FRAPPE_FILES)} (validation split 80/20 into train/valid, "
                    "test kept), or one libFM file (split 8:1:1)", _frappe_sources, _read_frappe),
        DatasetSpec("movielens", "MovieLens-100k ratings, label rating >= 4 (9 fields)", _ML,
                    _folder(("u.data", "u.user", "u.item"), ("u.genre",), _ML), _single(formats.read_movielens)),
        DatasetSpec("criteo", "Criteo display ads (13 bucketised integer + 26 categorical fields)", _CRITEO,
                    _one_file(_CRITEO), _single(formats.read_criteo)),
        DatasetSpec("avazu", "Avazu mobile ads (21 categorical fields + hour of day, weekday, weekend)", _AVAZU,
                    _one_file(_AVAZU), _single(formats.read_avazu)),
        DatasetSpec("libfm", "any libFM file, one feature per field (fields f0..f{n-1})", _LIBFM,
                    _one_file(_LIBFM), _read_libfm_file),
        DatasetSpec("csv", "generic CSV: --label 0/1 column, --categorical / --numeric columns",
                    "a CSV file with a header row", _one_file("a CSV file with a header row"), _read_csv,
                    COMMON_SETTINGS + ("label", "categorical", "numeric")),
    )
}


def check_columns(name: str, data_path: str | Path, cfg: DataConfig) -> None:
    """The columns a dataset's settings name exist in its file: for ``csv``, the header is read and checked
    (label, categorical and numeric columns; ``DataError`` naming what the header has); no row is read."""
    if name == "csv":
        _read_csv(Path(data_path).expanduser(), cfg)  # the rows are read lazily, by the generator it returns


def describe_datasets() -> list[dict]:
    """One dict per dataset choice: name, description, and what ``--data`` must point to."""
    rows = [{"name": "synthetic", "description": "built-in generator with planted interactions",
             "data": "none (generated from the synthetic options)"}]
    return rows + [{"name": s.name, "description": s.description, "data": s.layout} for s in DATASETS.values()]


def load_dataset(name: str, data_path: str, cfg: DataConfig, cache_dir: str | None = None) -> CTRData:
    """Read dataset ``name`` from ``data_path`` (its native layout), encoded with ``cfg``; cached under
    ``cache_dir`` (default: $AIM_CACHE_DIR or ~/.cache/aim-explorer)."""
    if name == "synthetic":
        raise ConfigError("dataset 'synthetic' is generated, not loaded: use aim.data.synthetic.generate")
    if name not in DATASETS:
        raise ConfigError(f"unknown dataset {name!r}; choose one of: synthetic, {', '.join(DATASETS)}")
    return DATASETS[name](data_path, cfg, cache_dir)


def _load(spec: DatasetSpec, data_path: str | Path, cfg: DataConfig, cache_dir: str | Path | None) -> CTRData:
    if not str(data_path):
        raise ConfigError(f"dataset {spec.name!r} needs a data path: {spec.layout}")
    path = Path(data_path).expanduser()
    files = spec.sources(path)
    data_hash = encode.content_hash(files)
    data_config = cfg.to_json()  # lists as the comma text of run.json: earlier runs' cache keys still match
    settings = {k: data_config[k] for k in spec.settings}
    mmap = cfg.storage == "mmap"
    if mmap:  # another split draw, another layout: never the in-memory entry (whose keys stay as they were)
        settings["storage"] = cfg.storage
    key = encode.cache_key(data_hash, spec.name, settings)
    entry = Path(cache_dir or encode.default_cache_dir()).expanduser() / f"{spec.name}-{key[:16]}"
    source = {"format": spec.name, "paths": [str(p.resolve()) for p in files], "content_sha256": data_hash,
              "cache_key": key, "data_config": data_config}
    cached = encode.load_cache(entry, mmap=mmap)
    if cached is not None:
        fields, splits, meta = cached
        hit, stored = True, True
    else:
        try:
            raw_fields, chunks, assign, split_desc = spec.read(path, cfg)
            if mmap:
                split = outofcore.StreamingSplit(cfg.valid_frac, cfg.test_frac, cfg.split_seed)
                fields, splits, meta = outofcore.encode_to_cache(entry, raw_fields, chunks, split, cfg.min_count,
                                                                 {"split": split.description})
            else:
                fields, splits, _ = encode.encode_chunks(raw_fields, chunks, assign, cfg.min_count)
        except DataError as e:
            if e.path is None:  # raised where the file was not known (splits, empty train)
                raise DataError(path, e.problem, e.line) from None
            raise
        except (ValueError, TypeError, KeyError, IndexError, pd.errors.ParserError) as e:
            # A failure the readers did not anticipate: still name the input rather than a library frame.
            raise DataError(path, f"cannot read as {spec.name}: {type(e).__name__}: {e}") from e
        if mmap:
            hit, stored = False, True
        else:
            meta = {"split": split_desc, "rows": sum(len(s) for s in splits.values())}
            hit, stored = False, encode.save_cache(entry, fields, splits, meta)
    source.update(meta, cache_path=str(entry) if stored else None, cache_hit=hit)
    return CTRData(spec.name, fields, splits["train"], splits["valid"], splits["test"], source)
