"""The run format: the contract between ``aim/`` (writes) and ``app/`` (reads). Documented in docs/run-format.md.

A run is a folder::

    run.json              meaning: schema_version, status, config, versions, dataset, stages, metrics, params ...
    progress.json         live progress of a running job (stage, epoch, AUC, gates left); advisory only
    interactions.csv      one row per searched (interaction, function) column
    fields.csv            one row per field: vocabulary size, dimensions kept and their positions
    history.csv           one row per epoch of every stage
    alpha_snapshots.csv   α of every column during the search (long format), to replay GRDA's sparsification
    weights.pt            the final model: a dict of tensors only, loaded with ``weights_only=True``
    model.txt             the gbdt variant's trees in LightGBM's own text format (no weights.pt)
    search_start.pt       an AIM run's search model and the random states its re-train began with: a re-train of a
                          selection (``--from``) starts from it instead of replaying the search (aim.pipeline)
    checkpoints/          one file per finished stage while the run is not complete (``--resume`` continues it)
    .lock                 held (``flock``) by the process writing the run: the kernel drops it when that process
                          dies, however it dies, so a reader tells a live run from a killed one

Every file is written atomically (``aim.fileio``), so a reader never sees half a file; ``status`` is ``running``
until the last file is in place, so a killed run never looks complete. This module is the format (file names,
tables, keys) and its loader, which validates; ``aim.runwriter`` writes a run.
"""

from __future__ import annotations

import csv
import json
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from aim import locks
from aim.errors import RunFormatError
from aim.fileio import read_json

if TYPE_CHECKING:  # torch is imported where weights are read: reading a run's tables needs none
    import torch

SCHEMA_VERSION = 1
STATUSES = ("running", "complete", "failed")
RUN_FILE = "run.json"
PROGRESS_FILE = "progress.json"
WEIGHTS_FILE = "weights.pt"
MODEL_TEXT_FILE = "model.txt"  # gbdt: LightGBM's text model (aim.classic), never a pickle
LOCK_FILE = ".lock"
CHECKPOINTS_DIR = "checkpoints"


@dataclass(frozen=True)
class Table:
    """One CSV table of a run: its ``file``; the columns a reader may rely on (``required``: checked when a run is
    loaded, so older runs that lack a later column still load); and every column the writer (``aim.pipeline``)
    produces, in its order (``columns``, a superset of ``required``; ``optional``: those only some runs have)."""

    file: str
    required: tuple[str, ...]
    columns: tuple[str, ...]
    optional: tuple[str, ...] = ()


TABLES = {
    "interactions": Table(
        "interactions.csv",
        ("column", "order", "fields", "field_names", "function", "alpha", "kept", "interaction_kept", "stats_auc",
         "planted"),
        ("column", "order", "fields", "field_names", "function", "alpha", "kept", "interaction_kept", "stats_auc",
         "planted", "ref_score"),
        optional=("ref_score",)),  # the independent pair ranking (aim.reference) of a searching run
    "fields": Table("fields.csv", ("field", "name", "vocab_size", "dims_kept", "positions"),
                    ("field", "name", "vocab_size", "dims_kept", "positions")),
    "history": Table("history.csv", ("stage", "epoch", "step", "train_loss", "valid_auc", "valid_logloss", "seconds"),
                     ("stage", "epoch", "step", "train_loss", "valid_auc", "valid_logloss", "seconds", "gates_nonzero",
                      "gates_total", "grda_lr")),
    "snapshots": Table("alpha_snapshots.csv", ("stage", "epoch", "step", "column", "alpha"),
                       ("stage", "epoch", "step", "column", "alpha")),
    # One row per candidate strength (GRDA crossing fraction) or embedding L2 tried: the accuracy-size frontier.
    "sparsity": Table("sparsity.csv", ("stage", "candidate", "size", "valid_auc", "chosen"),
                      ("stage", "candidate", "cross", "c", "crossing_step", "steps", "embed_l2", "start",
                       "columns_kept", "interactions_kept", "dims_kept", "size", "valid_auc", "valid_logloss",
                       "epochs", "seconds", "chosen")),
}


def columns(table: str) -> list[str]:
    """Every column of the run table ``table`` ("sparsity", "history", ...) in the order its writer produces
    them: the one list a writer, an analysis or a page derives its columns from."""
    return list(TABLES[table].columns)


REQUIRED_KEYS = ("schema_version", "kind", "id", "status", "created", "config", "versions", "dataset", "stages")
# JSON type of each top-level key the readers rely on (optional keys may also be null); checked on load so that a
# hand-edited or foreign run.json is refused by name instead of breaking a page.
KEY_TYPES: dict[str, type | tuple[type, ...]] = {
    "id": str, "status": str, "created": str, "config": dict, "versions": dict, "dataset": dict, "stages": dict,
    "tables": list, "metrics": dict, "interactions": dict, "params": dict, "planted": dict, "timings": dict,
    "model": dict, "error": str, "seed": int, "variant": str, "parent": dict, "selection": list, "reference": dict,
}
NESTED_DICTS = ("stages", "metrics", "interactions")  # dicts of dicts
JSON_TYPES = {str: "a string", dict: "an object", list: "a list", int: "an integer"}


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def lock_holder(folder: Path) -> dict | None:
    """What the writer lock file of ``folder`` says of its holder (``pid``, ``host``), None when it says nothing."""
    try:
        info = json.loads((folder / LOCK_FILE).read_text())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def writer_alive(folder: str | Path) -> bool | None:
    """Whether a process still writes the run in ``folder``: True / False, or None when it cannot be told (no
    lock file: a run from an older version or a hand-made one; a lock taken on another host)."""
    folder = Path(folder)
    holder = lock_holder(folder)
    if holder is None or holder.get("host") != socket.gethostname():
        return None
    return locks.is_held(folder / LOCK_FILE)


class Run:
    """A run folder read back and validated. Tables that a (running/failed) run has not written yet are None.

    ``run.json`` and every table's header are checked when the run is loaded; the rows of a table are read on
    first use (``run.interactions`` ...) and kept: listing 200 runs reads 200 small JSON files, not 800 CSVs.
    A table whose rows turn out unreadable raises ``RunFormatError`` naming the file at that point;
    ``load_tables`` reads them all at once (the run pages call it before drawing anything)."""

    def __init__(self, path: Path, meta: dict, tables: dict[str, pd.DataFrame | Path | None]):
        self.path = path
        self.meta = meta
        self._tables = dict(tables)  # name -> DataFrame (read), Path (header checked, rows not read yet) or None

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r}, status={self.meta.get('status')!r})"

    def table(self, name: str) -> pd.DataFrame | None:
        value = self._tables[name]
        if isinstance(value, Path):
            value = read_table(value, TABLES[name].required)
            self._tables[name] = value
        return value

    def load_tables(self) -> None:
        """Read every table now; ``RunFormatError`` naming the first unreadable file."""
        for name in TABLES:
            self.table(name)

    @property
    def interactions(self) -> pd.DataFrame | None:
        return self.table("interactions")

    @property
    def fields(self) -> pd.DataFrame | None:
        return self.table("fields")

    @property
    def history(self) -> pd.DataFrame | None:
        return self.table("history")

    @property
    def snapshots(self) -> pd.DataFrame | None:
        return self.table("snapshots")

    @property
    def sparsity(self) -> pd.DataFrame | None:
        return self.table("sparsity")

    @property
    def id(self) -> str:
        return self.meta["id"]

    @property
    def status(self) -> str:
        return self.meta["status"]

    def load_weights(self) -> dict[str, torch.Tensor]:
        import torch

        path = self.path / WEIGHTS_FILE
        try:
            check_inside(self.path, path)
            obj = torch.load(path, map_location="cpu", weights_only=True)
        except FileNotFoundError:
            raise RunFormatError(path, "file is missing") from None
        except Exception as exc:  # noqa: BLE001 - anything unpicklable under weights_only is refused as foreign
            raise RunFormatError(path, f"not a tensor-only weights file; refused to load it ({exc})") from None
        if not isinstance(obj, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                                for k, v in obj.items()):
            raise RunFormatError(path, f"expected a dict of named tensors, found {type(obj).__name__}")
        return obj


def check_inside(folder: Path, path: Path) -> None:
    """Refuse a file of a run that is not a regular file inside the run folder: a symbolic link out of it (to
    someone's keys, /dev/zero ...) or a FIFO that would block the reader. A missing file passes (callers decide)."""
    if path.is_symlink():
        target = path.resolve()
        if not target.is_relative_to(folder.resolve()):
            raise RunFormatError(path, f"is a symbolic link to {target}, outside the run folder; refused")
    if path.exists() and not path.is_file():
        raise RunFormatError(path, "not a regular file")


def read_table(path: Path, columns: Sequence[str]) -> pd.DataFrame:
    """A CSV of a run or study with at least ``columns``; ``RunFormatError`` naming the file otherwise."""
    columns = list(columns)
    try:
        if path.exists() and not path.is_file():
            raise RunFormatError(path, "not a regular file")
        df = pd.read_csv(path, keep_default_na=True)
    except pd.errors.EmptyDataError:
        raise RunFormatError(path, f"empty file; expected a CSV header with columns {columns}") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise RunFormatError(path, f"not a readable CSV ({exc})") from None
    except OSError as exc:
        raise RunFormatError(path, f"cannot be read ({exc.strerror or exc})") from None
    _require_columns(path, df.columns, columns)
    return df


def _require_columns(path: Path, found, columns: list[str]) -> None:
    missing = [c for c in columns if c not in found]
    if missing:
        raise RunFormatError(path, f"missing columns {missing}; expected at least {columns}")


def check_header(path: Path, columns: Sequence[str]) -> None:
    """The cheap part of ``read_table``: the file is a regular file whose first line is a UTF-8 CSV header with at
    least ``columns``; ``RunFormatError`` naming the file otherwise. The rows are left for ``read_table``."""
    columns = list(columns)
    try:
        if path.exists() and not path.is_file():
            raise RunFormatError(path, "not a regular file")
        with open(path, "rb") as f:
            first = f.readline(1 << 16)
    except OSError as exc:
        raise RunFormatError(path, f"cannot be read ({exc.strerror or exc})") from None
    if not first.strip():
        raise RunFormatError(path, f"empty file; expected a CSV header with columns {columns}")
    try:
        header = next(csv.reader([first.decode("utf-8-sig").rstrip("\r\n")]))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise RunFormatError(path, f"not a readable CSV ({exc})") from None
    _require_columns(path, header, columns)


def load_run(path: str | Path, lazy: bool = False) -> Run:
    """Read and validate a run folder; raise ``RunFormatError`` naming the file and the problem. ``lazy``: check
    only the tables' headers now and read their rows on first use (the app's catalog of many runs)."""
    path = Path(path)
    if not path.is_dir():
        raise RunFormatError(path, "not a folder")
    check_inside(path, path / RUN_FILE)
    meta = read_json(path / RUN_FILE)
    missing = [k for k in REQUIRED_KEYS if k not in meta]
    if missing:
        raise RunFormatError(path / RUN_FILE, f"missing keys {missing}; this does not look like an AIM run")
    version = meta["schema_version"]
    if not isinstance(version, int) or isinstance(version, bool) or version > SCHEMA_VERSION or version < 1:
        raise RunFormatError(path / RUN_FILE, f"schema_version {version!r} is not supported "
                             f"(this AIM Explorer reads 1..{SCHEMA_VERSION}; upgrade it to read newer runs)")
    if meta["kind"] != "run":
        raise RunFormatError(path / RUN_FILE, f"kind is {meta['kind']!r}, expected 'run'")
    _check_types(path / RUN_FILE, meta)
    if meta["status"] not in STATUSES:
        raise RunFormatError(path / RUN_FILE, f"status {meta['status']!r} is not one of {STATUSES}")
    if meta["status"] == "running" and writer_alive(path) is False:
        # The process that wrote it is gone (killed, machine restarted) without marking it failed: say so here,
        # without writing to a folder that may be someone else's.
        meta["status"] = "failed"
        meta["interrupted"] = True
        meta["error"] = (f"interrupted: the process writing this run ended without finishing it (killed?); "
                         f"python -m aim run --resume {path} continues it from its last finished stage")
    tables: dict[str, pd.DataFrame | Path | None] = {}
    for name, table in TABLES.items():
        f = path / table.file
        check_inside(path, f)
        if f.exists():
            if lazy:
                check_header(f, table.required)
                tables[name] = f
            else:
                tables[name] = read_table(f, table.required)
        elif meta["status"] == "complete" and name in meta.get("tables", []):
            raise RunFormatError(f, "file is missing from a complete run")
        else:
            tables[name] = None
    return Run(path, meta, tables)


def _check_types(path: Path, meta: dict) -> None:
    """The JSON types of the keys readers rely on (``KEY_TYPES``), so a foreign run.json fails here, by name."""
    for key, kind in KEY_TYPES.items():
        value = meta.get(key)
        if value is None and key not in REQUIRED_KEYS:
            continue
        if not isinstance(value, kind) or isinstance(value, bool):
            raise RunFormatError(path, f"{key} must be {JSON_TYPES[kind]}, found {type(value).__name__}")
    for key in NESTED_DICTS:
        for name, value in (meta.get(key) or {}).items():
            if value is not None and not isinstance(value, dict):
                raise RunFormatError(path, f"{key}.{name} must be an object, found {type(value).__name__}")
    if not all(isinstance(t, str) for t in meta.get("tables") or []):
        raise RunFormatError(path, "tables must be a list of table names")
    for split, values in (meta.get("metrics") or {}).items():
        for name, value in (values or {}).items():
            if value is not None and (not isinstance(value, int | float) or isinstance(value, bool)):
                raise RunFormatError(path, f"metrics.{split}.{name} must be a number, found {type(value).__name__}")


def read_progress(path: str | Path) -> dict | None:
    """The live progress of a run, or None when there is none (or it is being replaced right now)."""
    try:
        return read_json(Path(path) / PROGRESS_FILE)
    except RunFormatError:
        return None
