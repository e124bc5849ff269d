"""``no_hang``: a test-side guard that turns a blocked reader into a failure instead of a stuck suite."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

HANG_SECONDS = 20  # an example that takes longer is a hang (the fuzzed files are tiny: they take milliseconds)


@contextmanager
def no_hang(seconds: int = HANG_SECONDS) -> Iterator[None]:
    """Raise ``TimeoutError`` in the main thread if the block runs longer than ``seconds`` (SIGALRM)."""
    def alarm(*_):
        raise TimeoutError(f"more than {seconds}s: a hang")
    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
