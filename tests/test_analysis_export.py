"""aim/analysis/export.py: standalone HTML, and PNG through a headless Chromium (stand-in browsers for the error
paths; the real one where /usr/bin/chromium or another is installed, skipped with the reason where none is)."""

from __future__ import annotations

import io
import time

import pytest

from aim import analysis as A
from aim.analysis import export


def _bar_figure():
    fig = A.new_figure(title="two bars", width=400, height=300, showlegend=False)
    fig.add_bar(x=["a", "b"], y=[1, 2], marker_color="#ff0000")
    return fig


def _fake_browser(tmp_path, body: str) -> str:
    path = tmp_path / "fake-chromium"
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return str(path)


def test_find_chromium_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("AIM_CHROMIUM", "")
    assert A.find_chromium() is None  # set but empty: PNG export off
    monkeypatch.setenv("AIM_CHROMIUM", str(tmp_path / "nope"))
    assert A.find_chromium() is None
    fake = _fake_browser(tmp_path, "exit 0")
    monkeypatch.setenv("AIM_CHROMIUM", fake)
    assert A.find_chromium() == fake
    monkeypatch.delenv("AIM_CHROMIUM")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert A.find_chromium() is None  # nothing called chromium on this PATH
    (tmp_path / "chromium").symlink_to(fake)
    assert A.find_chromium() == str(tmp_path / "chromium")


def test_the_png_page_is_self_contained_and_the_command_has_no_shell(tmp_path):
    fig = _bar_figure()
    assert export.png_size(fig) == (400, 300) and export.png_size(A.new_figure()) == (1000, 440)
    page = export.png_page(fig)
    assert "<script src=" not in page and len(page) > 1_000_000  # plotly.js inlined: works offline
    assert '"staticPlot": true' in page and "margin:0" in page
    cmd = export.chromium_command("/usr/bin/chromium", tmp_path / "f.html", tmp_path / "f.png", tmp_path / "p",
                                  (400, 300), scale=2)
    assert cmd[0] == "/usr/bin/chromium" and "--headless" in cmd and f"--screenshot={tmp_path / 'f.png'}" in cmd
    assert "--window-size=400,300" in cmd and "--force-device-scale-factor=2" in cmd
    assert cmd[-1] == (tmp_path / "f.html").as_uri()


def test_figure_png_says_why_it_failed(monkeypatch, tmp_path):
    monkeypatch.setenv("AIM_CHROMIUM", "")
    with pytest.raises(A.ExportError, match="needs Chromium"):
        A.figure_png(_bar_figure())
    with pytest.raises(A.ExportError, match="exited with 3 and no PNG: broken GPU"):
        A.figure_png(_bar_figure(), _fake_browser(tmp_path, "echo broken GPU >&2; exit 3"))
    start = time.perf_counter()
    with pytest.raises(A.ExportError, match="did not draw the figure within 1 s"):
        A.figure_png(_bar_figure(), _fake_browser(tmp_path, "sleep 30 & wait"), timeout=1)
    assert time.perf_counter() - start < 10  # the browser and its children were killed, not waited for


def test_figure_png_with_the_real_chromium():
    chromium = A.find_chromium()
    if chromium is None:
        pytest.skip("no Chromium on this machine (apt-get install chromium, or set AIM_CHROMIUM): no PNG export")
    image = pytest.importorskip("PIL.Image", reason="Pillow (a streamlit dependency) is needed to read the PNG")
    png = A.figure_png(_bar_figure(), chromium, scale=1)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    img = image.open(io.BytesIO(png)).convert("RGB")
    assert img.size == (400, 300)
    colours = img.getcolors(maxcolors=400 * 300)
    red = sum(n for n, (r, g, b) in colours if r > 200 and g < 60 and b < 60)
    assert red > 2_000  # the two red bars were drawn

