"""The run format: the contract between ``aim/`` (writes) and ``app/`` (reads). Documented in the README.

A run is a folder::

    run.json              meaning: schema_version, status, config, versions, dataset, stages, metrics, params ...
    progress.json         live progress of a running job (stage, epoch, AUC, gates left); advisory only
    interactions.csv      one row per searched (interaction, function) column
    fields.csv            one row per field: vocabulary size, dimensions kept and their positions
    history.csv           one row per epoch of every stage
    alpha_snapshots.csv   α of every column during the search (long format), to replay GRDA's sparsification
    weights.pt            the final model: a dict of tensors only, loaded with ``weights_only=True``

Every file is written atomically (temp file in the same folder, then ``os.replace``), so a reader never sees
half a file; ``status`` is ``running`` until the last file is in place, so a killed run never looks complete.
"""

from __future__ import annotations

import itertools
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from aim.errors import RunFormatError

SCHEMA_VERSION = 1
STATUSES = ("running", "complete", "failed")
RUN_FILE = "run.json"
PROGRESS_FILE = "progress.json"
WEIGHTS_FILE = "weights.pt"
TABLES = {
    "interactions": ("interactions.csv", ["column", "order", "fields", "field_names", "function", "alpha", "kept",
                                          "interaction_kept", "stats_auc", "planted"]),
    "fields": ("fields.csv", ["field", "name", "vocab_size", "dims_kept", "positions"]),
    "history": ("history.csv", ["stage", "epoch", "step", "train_loss", "valid_auc", "valid_logloss", "seconds"]),
    "snapshots": ("alpha_snapshots.csv", ["stage", "epoch", "step", "column", "alpha"]),
}
REQUIRED_KEYS = ("schema_version", "kind", "id", "status", "created", "config", "versions", "dataset", "stages")


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _atomic_write(path: Path, write: Any, mode: str = "w") -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, obj: Any) -> None:
    _atomic_write(Path(path), lambda fh: json.dump(obj, fh, indent=1, allow_nan=True, default=_json_default))


def _json_default(o: Any) -> Any:
    if hasattr(o, "item"):
        return o.item()
    if isinstance(o, tuple | set):
        return list(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def write_csv(path: Path, df: pd.DataFrame) -> None:
    _atomic_write(Path(path), lambda fh: df.to_csv(fh, index=False, lineterminator="\n"))


def write_weights(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    clean = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    _atomic_write(Path(path), lambda fh: torch.save(clean, fh), mode="wb")


def read_json(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            obj = json.load(fh)
    except FileNotFoundError:
        raise RunFormatError(path, "file is missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RunFormatError(path, f"not valid JSON ({exc})") from None
    except OSError as exc:
        raise RunFormatError(path, f"cannot be read ({exc.strerror or exc})") from None
    if not isinstance(obj, dict):
        raise RunFormatError(path, f"expected a JSON object, found {type(obj).__name__}")
    return obj


class RunWriter:
    """Owns one run folder while it is being produced."""

    def __init__(self, root: Path, run_id: str):
        Path(root).mkdir(parents=True, exist_ok=True)
        # Two runs of one config started in the same second get suffixes -2, -3, ... instead of colliding.
        for n in itertools.count(1):
            self.path = Path(root) / (run_id if n == 1 else f"{run_id}-{n}")
            try:
                self.path.mkdir()
                break
            except FileExistsError:
                continue
        self.meta: dict[str, Any] = {}

    def start(self, meta: dict) -> None:
        self.meta = {"schema_version": SCHEMA_VERSION, "kind": "run", "id": self.path.name, "status": "running",
                     "created": now(), "updated": now(), "stages": {}, **meta}
        self.flush()

    def update(self, **changes: Any) -> None:
        self.meta.update(changes)
        self.flush()

    def flush(self) -> None:
        self.meta["updated"] = now()
        write_json(self.path / RUN_FILE, self.meta)

    def progress(self, **info: Any) -> None:
        write_json(self.path / PROGRESS_FILE, {"updated": now(), **info})

    def table(self, name: str, df: pd.DataFrame) -> None:
        filename, columns = TABLES[name]
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise ValueError(f"{name} table lacks columns {missing}")
        write_csv(self.path / filename, df)

    def weights(self, tensors: dict[str, torch.Tensor]) -> None:
        write_weights(self.path / WEIGHTS_FILE, tensors)

    def finish(self, status: str, error: str | None = None) -> None:
        self.meta["status"] = status
        self.meta["error"] = error
        self.meta["finished"] = now()
        self.flush()


@dataclass
class Run:
    """A run folder read back and validated. Tables that a (running/failed) run has not written yet are None."""

    path: Path
    meta: dict
    interactions: pd.DataFrame | None
    fields: pd.DataFrame | None
    history: pd.DataFrame | None
    snapshots: pd.DataFrame | None

    @property
    def id(self) -> str:
        return self.meta["id"]

    @property
    def status(self) -> str:
        return self.meta["status"]

    def load_weights(self) -> dict[str, torch.Tensor]:
        path = self.path / WEIGHTS_FILE
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True)
        except FileNotFoundError:
            raise RunFormatError(path, "file is missing") from None
        except Exception as exc:  # noqa: BLE001 - anything unpicklable under weights_only is refused as foreign
            raise RunFormatError(path, f"not a tensor-only weights file; refused to load it ({exc})") from None
        if not isinstance(obj, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                                for k, v in obj.items()):
            raise RunFormatError(path, f"expected a dict of named tensors, found {type(obj).__name__}")
        return obj


def read_table(path: Path, columns: list[str]) -> pd.DataFrame:
    """A CSV of a run or study with at least ``columns``; ``RunFormatError`` naming the file otherwise."""
    try:
        df = pd.read_csv(path, keep_default_na=True)
    except pd.errors.EmptyDataError:
        raise RunFormatError(path, f"empty file; expected a CSV header with columns {columns}") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise RunFormatError(path, f"not a readable CSV ({exc})") from None
    except OSError as exc:
        raise RunFormatError(path, f"cannot be read ({exc.strerror or exc})") from None
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise RunFormatError(path, f"missing columns {missing}; expected at least {columns}")
    return df


def load_run(path: str | Path) -> Run:
    """Read and validate a run folder; raise ``RunFormatError`` naming the file and the problem."""
    path = Path(path)
    if not path.is_dir():
        raise RunFormatError(path, "not a folder")
    meta = read_json(path / RUN_FILE)
    missing = [k for k in REQUIRED_KEYS if k not in meta]
    if missing:
        raise RunFormatError(path / RUN_FILE, f"missing keys {missing}; this does not look like an AIM run")
    version = meta["schema_version"]
    if not isinstance(version, int) or version > SCHEMA_VERSION or version < 1:
        raise RunFormatError(path / RUN_FILE, f"schema_version {version!r} is not supported "
                             f"(this AIM Explorer reads 1..{SCHEMA_VERSION}; upgrade it to read newer runs)")
    if meta["kind"] != "run":
        raise RunFormatError(path / RUN_FILE, f"kind is {meta['kind']!r}, expected 'run'")
    if meta["status"] not in STATUSES:
        raise RunFormatError(path / RUN_FILE, f"status {meta['status']!r} is not one of {STATUSES}")
    tables: dict[str, pd.DataFrame | None] = {}
    for name, (filename, columns) in TABLES.items():
        f = path / filename
        if f.exists():
            tables[name] = read_table(f, columns)
        elif meta["status"] == "complete" and name in meta.get("tables", []):
            raise RunFormatError(f, "file is missing from a complete run")
        else:
            tables[name] = None
    return Run(path=path, meta=meta, **tables)


def read_progress(path: str | Path) -> dict | None:
    """The live progress of a run, or None when there is none (or it is being replaced right now)."""
    try:
        return read_json(Path(path) / PROGRESS_FILE)
    except RunFormatError:
        return None
