"""Atomic writes and guarded reads of the files of runs and studies (JSON, CSV, tensors, checkpoints).

Every file is written atomically (temp file in the same folder, then ``os.replace``), so a reader never sees
half a file, with the permissions ``open`` would give it (umask), not ``mkstemp``'s 0600; an ``OSError`` while
writing (disk full, permission denied) becomes an ``OutputError`` naming the file. A JSON file is read only when
it is a regular file of sane size, a checkpoint only as tensors and plain values (``weights_only=True``); both
refuse anything else with a ``RunFormatError`` naming the file.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from aim.errors import OutputError, RunFormatError

if TYPE_CHECKING:  # torch is imported where weights are read or written: reading a run's tables needs none
    import torch

MAX_JSON_BYTES = 256 * 2**20  # a run.json larger than this is not read (a foreign or hostile file)


def _umask() -> int:
    """The process umask, read from /proc where possible (``os.umask`` can only read it by changing it)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def os_problem(exc: OSError) -> str:
    """What an ``OSError`` from writing means, in words a user can act on."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "disk full (no space left on the device)"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.EROFS:
        return "read-only file system"
    return exc.strerror or str(exc)


def atomic_write(path: Path, write: Any, mode: str = "w") -> None:
    """Write through a temporary file in the same folder, then ``os.replace``; an ``OSError`` (disk full,
    permission denied) becomes an ``OutputError`` naming the file."""
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise OutputError(path, f"cannot be written: {os_problem(exc)}") from exc
    try:
        with os.fdopen(fd, mode) as fh:
            try:  # an existing file keeps its mode, as with open(path, "w")
                perms = stat.S_IMODE(path.stat().st_mode)
            except FileNotFoundError:  # a new one gets what open() would give it, not mkstemp's 0600
                perms = 0o666 & ~_umask()
            os.fchmod(fh.fileno(), perms)
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise OutputError(path, f"cannot be written: {os_problem(exc)}") from exc
        raise


def write_json(path: Path, obj: Any) -> None:
    atomic_write(Path(path), lambda fh: json.dump(obj, fh, indent=1, allow_nan=True, default=_json_default))


def _json_default(o: Any) -> Any:
    if hasattr(o, "item"):
        return o.item()
    if isinstance(o, tuple | set):
        return list(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def write_csv(path: Path, df: pd.DataFrame) -> None:
    atomic_write(Path(path), lambda fh: df.to_csv(fh, index=False, lineterminator="\n"))


def write_weights(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    import torch

    clean = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    atomic_write(Path(path), lambda fh: torch.save(clean, fh), mode="wb")


def write_checkpoint(path: Path, payload: dict) -> None:
    """A stage checkpoint: tensors and plain values (dict, list, tuple, str, numbers) only, written atomically."""
    import torch

    atomic_write(Path(path), lambda fh: torch.save(payload, fh), mode="wb")


def read_checkpoint(path: Path) -> dict:
    """A checkpoint written by ``write_checkpoint``, loaded with ``weights_only=True`` (nothing is unpickled)."""
    import torch

    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - anything that is not tensors and plain values is refused
        raise RunFormatError(path, f"not a readable checkpoint; refused ({str(exc)[:200]})") from None
    if not isinstance(obj, dict):
        raise RunFormatError(path, f"expected a checkpoint dict, found {type(obj).__name__}")
    return obj


def read_json(path: Path) -> dict:
    try:
        info = os.stat(path)  # before open(): opening a FIFO planted as run.json would block forever
        if not stat.S_ISREG(info.st_mode):
            raise RunFormatError(path, "not a regular file")
        if info.st_size > MAX_JSON_BYTES:
            raise RunFormatError(path, f"{info.st_size:,} bytes: too large for a run's JSON (not read)")
        with open(path, encoding="utf-8") as fh:
            obj = json.load(fh)
    except FileNotFoundError:
        raise RunFormatError(path, "file is missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise RunFormatError(path, f"not valid JSON ({str(exc)[:200]})") from None
    except OSError as exc:
        raise RunFormatError(path, f"cannot be read ({exc.strerror or exc})") from None
    if not isinstance(obj, dict):
        raise RunFormatError(path, f"expected a JSON object, found {type(obj).__name__}")
    return obj
