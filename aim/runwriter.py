"""Writing a run folder (the format of ``aim.runs``): ``RunWriter`` owns one folder while it is produced, holding
its writer lock (``.lock``, ``aim.locks``) from the first file to ``finish``; ``check_output_folder`` proves a
folder writable before any work starts.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import socket
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from aim import locks
from aim.errors import OutputError, RunFormatError
from aim.fileio import atomic_write, os_problem, read_json, write_csv, write_json, write_weights
from aim.runs import (
    LOCK_FILE,
    MODEL_TEXT_FILE,
    PROGRESS_FILE,
    RUN_FILE,
    SCHEMA_VERSION,
    TABLES,
    WEIGHTS_FILE,
    lock_holder,
    now,
)

if TYPE_CHECKING:  # torch is imported where weights are written
    import torch

MIN_FREE_BYTES = 32 * 2**20  # refuse to start a run on a file system with less room than this


def check_output_folder(folder: str | Path) -> Path:
    """Create ``folder`` if needed and prove that a run can be written there (a file is created, synced and
    removed; the free space is checked), so a bad ``--out`` fails before any work instead of after training."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputError(folder, "exists and is not a folder") from None
    except OSError as exc:
        raise OutputError(folder, f"cannot create the output folder: {os_problem(exc)}") from None
    probe = None
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".write-test.", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(b"\0" * 4096)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        raise OutputError(folder, f"cannot write to the output folder: {os_problem(exc)}") from None
    finally:
        if probe is not None:
            Path(probe).unlink(missing_ok=True)
    free = shutil.disk_usage(folder).free
    if free < MIN_FREE_BYTES:
        raise OutputError(folder, f"disk nearly full: {free / 2**20:.1f} MiB free, a run needs at least "
                                  f"{MIN_FREE_BYTES // 2**20} MiB")
    return folder


def _lock(folder: Path, wait: float = 2.0) -> int:
    """Take the exclusive writer lock of a run folder (``.lock``); the file says who holds it. A reader probing
    the lock holds it for microseconds, hence the short wait."""
    path = folder / LOCK_FILE
    try:
        fd = locks.acquire(path, wait)
    except OSError as exc:
        raise OutputError(path, f"cannot be written: {os_problem(exc)}") from None
    if fd is None:
        holder = lock_holder(folder) or {}
        raise RunFormatError(folder, f"is being written by another process (pid {holder.get('pid', '?')} on "
                                     f"{holder.get('host', '?')}); wait for it to end or stop it")
    os.ftruncate(fd, 0)
    os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname()}).encode())
    return fd


class RunWriter:
    """Owns one run folder while it is being produced, holding its writer lock until ``finish``."""

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
        self._lock: int | None = _lock(self.path)
        self.meta: dict[str, Any] = {}

    @classmethod
    def reopen(cls, path: str | Path) -> RunWriter:
        """Continue writing an existing run folder (``--resume``); refused while another process writes it."""
        writer = cls.__new__(cls)
        writer.path = Path(path)
        if not writer.path.is_dir():
            raise RunFormatError(writer.path, "not a folder")
        writer._lock = _lock(writer.path)
        try:
            writer.meta = read_json(writer.path / RUN_FILE)
        except BaseException:
            writer.release()
            raise
        return writer

    def release(self) -> None:
        """Give up the writer lock (``finish`` does; so does the end of the process, however it ends)."""
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

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
        table = TABLES[name]
        missing = [c for c in table.required if c not in df.columns]
        if missing:
            raise ValueError(f"{name} table lacks columns {missing}")
        write_csv(self.path / table.file, df)

    def weights(self, tensors: dict[str, torch.Tensor]) -> None:
        write_weights(self.path / WEIGHTS_FILE, tensors)

    def model_text(self, text: str) -> None:
        """A model in its library's own text format (the gbdt variant's LightGBM trees), written atomically."""
        atomic_write(self.path / MODEL_TEXT_FILE, lambda fh: fh.write(text))

    def finish(self, status: str, error: str | None = None, stage: str | None = None) -> None:
        """Mark the run ``complete`` or ``failed`` (with the error and the stage it happened in) and release it."""
        self.meta["status"] = status
        self.meta["error"] = error
        if status == "failed":
            self.meta["failed_stage"] = stage
        else:
            self.meta.pop("failed_stage", None)
        self.meta["finished"] = now()
        try:
            self.flush()
        finally:
            self.release()
