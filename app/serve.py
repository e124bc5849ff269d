"""Start and stop ``streamlit run app/streamlit_app.py`` on a free localhost port, for the browser tests and the
screenshot tool (no Streamlit import: it only launches the server as a separate process)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(env: dict[str, str], log: Path, port: int | None = None, timeout: float = 60) -> tuple[subprocess.Popen, str]:
    """``(process, base url)`` of a headless server over the runs named in ``env`` (AIM_RUNS_DIR, ...), once its
    health check answers; its output goes to ``log``. Raises ``RuntimeError`` with that output if it does not start."""
    port = port or free_port()
    env = {**os.environ, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false", **env}
    with open(log, "wb") as out:  # the child keeps its own handle
        proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(ROOT / "app" / "streamlit_app.py"),
                                 "--server.headless", "true", "--server.port", str(port), "--server.address",
                                 "127.0.0.1", "--server.fileWatcherType", "none"], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.read() == b"ok":
                    return proc, url
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                stop(proc)
                raise RuntimeError(f"streamlit did not start: {log.read_text(errors='replace')}") from None
            time.sleep(0.3)


def stop(proc: subprocess.Popen) -> None:
    """Stop the server's whole process group."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=20)
