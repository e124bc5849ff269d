"""Figures as files: standalone HTML, and PNG where a Chromium is installed.

PNG goes through the system's headless Chromium (``chromium --headless --screenshot``) rather than kaleido:
kaleido 0.2 ships its own ~80 MB browser and kaleido 1.x drives an installed Chrome anyway, so this adds no
Python dependency. The figure is written as a self-contained page (plotly.js inlined: the machine may be offline)
of a fixed size, and Chromium, started without a shell in its own process group with a fresh profile, saves a
screenshot of it; on a timeout the whole group is killed. ``$AIM_CHROMIUM`` names the browser to use (empty:
no PNG export); otherwise the first of ``CHROMIUM_NAMES`` on the PATH is used.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import plotly.graph_objects as go

from aim.errors import AIMError

CHROMIUM_ENV = "AIM_CHROMIUM"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
PNG_WIDTH, PNG_HEIGHT, PNG_SCALE = 1000, 440, 2
PNG_TIMEOUT = 60.0
_FLAGS = ["--headless", "--disable-gpu", "--hide-scrollbars", "--no-first-run", "--no-default-browser-check",
          "--disable-extensions", "--disable-background-networking", "--disable-component-update", "--disable-sync",
          "--mute-audio", "--virtual-time-budget=5000"]


class ExportError(AIMError):
    """A figure could not be written as PNG (no Chromium, or it failed or timed out)."""


def figure_html(fig: go.Figure) -> str:
    """A standalone HTML page of ``fig`` (plotly.js from the CDN)."""
    return fig.to_html(include_plotlyjs="cdn", full_html=True)


def find_chromium() -> str | None:
    """The Chromium used for PNG export: ``$AIM_CHROMIUM`` when set (a path or a name on the PATH; set but empty
    or not found: None), else the first of ``CHROMIUM_NAMES`` on the PATH; None when there is none."""
    wanted = os.environ.get(CHROMIUM_ENV)
    if wanted is not None:
        return shutil.which(wanted) if wanted.strip() else None
    return next((path for path in map(shutil.which, CHROMIUM_NAMES) if path), None)


def png_size(fig: go.Figure) -> tuple[int, int]:
    """The CSS pixel size a figure is drawn at in a PNG: its layout's width / height, else 1000 × 440."""
    return int(fig.layout.width or PNG_WIDTH), int(fig.layout.height or PNG_HEIGHT)


def png_page(fig: go.Figure) -> str:
    """A self-contained, static (no mode bar, no hover) page drawing ``fig`` at ``png_size`` with no margin."""
    width, height = png_size(fig)
    html = fig.to_html(include_plotlyjs=True, full_html=True, default_width=f"{width}px",
                       default_height=f"{height}px", config={"staticPlot": True, "displayModeBar": False})
    return html.replace("<head>", "<head><style>html,body{margin:0;padding:0;background:#fff}</style>", 1)


def chromium_command(chromium: str, page: Path, out: Path, profile: Path, size: tuple[int, int],
                     scale: float = PNG_SCALE) -> list[str]:
    """The argument list (no shell) that screenshots ``page`` into ``out``. Root cannot use Chromium's sandbox."""
    sandbox = ["--no-sandbox"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    return [chromium, *_FLAGS, *sandbox, f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}",
            f"--force-device-scale-factor={scale}", f"--screenshot={out}", page.as_uri()]


def figure_png(fig: go.Figure, chromium: str | None = None, scale: float = PNG_SCALE,
               timeout: float = PNG_TIMEOUT) -> bytes:
    """``fig`` as PNG bytes, ``scale`` device pixels per CSS pixel (2: sharp on slides), drawn by ``chromium``
    (default ``find_chromium()``). Raises ``ExportError`` saying why when there is no Chromium, it fails, or it
    takes longer than ``timeout`` seconds (then its whole process group is killed)."""
    chromium = chromium or find_chromium()
    if not chromium:
        raise ExportError(f"PNG export needs Chromium: install it (apt-get install chromium) or set ${CHROMIUM_ENV}")
    with tempfile.TemporaryDirectory(prefix="aim_png_") as tmp:
        page, out, profile = Path(tmp) / "figure.html", Path(tmp) / "figure.png", Path(tmp) / "profile"
        page.write_text(png_page(fig), encoding="utf-8")
        cmd = chromium_command(chromium, page, out, profile, png_size(fig), scale)
        try:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                    start_new_session=True)
        except OSError as exc:
            raise ExportError(f"cannot start {chromium}: {exc}") from None
        try:
            _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc.pid)
            proc.communicate()
            raise ExportError(f"{chromium} did not draw the figure within {timeout:g} s") from None
        _kill_group(proc.pid)  # helpers (renderer, zygote) that outlive the browser process
        if proc.returncode != 0 or not out.is_file() or out.stat().st_size == 0:
            tail = err.decode(errors="replace").strip().splitlines()[-3:]
            raise ExportError(f"{chromium} exited with {proc.returncode} and no PNG: {' | '.join(tail) or 'no output'}")
        return out.read_bytes()


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
