"""Advisory file locks (``flock``) on a lock file: the run writer's ``.lock`` (``aim.runwriter``, probed by
``aim.runs.writer_alive``) and the app's launch lock (``app/jobs.py``).

The kernel drops an ``flock`` when the process holding it ends, however it ends (killed, crashed), so a lock
held is always a live holder. No Streamlit and nothing of ``app`` here: ``app`` imports this, never the reverse.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

POLL_SECONDS = 0.05  # how often a bounded wait tries the lock again


def acquire(path: str | Path, wait: float | None = None) -> int | None:
    """Open (create) ``path`` and take its exclusive lock; the open file descriptor holds it until it is closed.

    ``wait`` None: block until the lock is free. A number: try for that many seconds, then give up and return
    None (the file is closed again). An ``OSError`` opening the file is the caller's to word."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    if wait is None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        return fd
    deadline = time.monotonic() + wait
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    break
                time.sleep(POLL_SECONDS)
    except BaseException:
        os.close(fd)
        raise
    os.close(fd)
    return None


@contextlib.contextmanager
def locked(path: str | Path) -> Iterator[int]:
    """Hold the exclusive lock of ``path`` for the block (blocking until it is free)."""
    fd = acquire(path)
    assert fd is not None  # a blocking acquire returns a descriptor or raises
    try:
        yield fd
    finally:
        os.close(fd)


def is_held(path: str | Path) -> bool | None:
    """Whether some process holds the lock of ``path`` now: True / False, None when it cannot be told (the file
    cannot be opened, or the file system refuses ``flock``). The probe holds a shared lock for microseconds."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False  # nobody holds the exclusive lock (closing the file releases this probe)
    except BlockingIOError:
        return True
    except OSError:
        return None
    finally:
        os.close(fd)
