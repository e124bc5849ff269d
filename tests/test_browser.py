"""The app in a real browser: ``streamlit run`` on a free port with the fixture runs, driven by Playwright with
Debian's chromium. Skipped (with the reason) where /usr/bin/chromium or the playwright package is missing.
With $AIM_SHOTS_DIR set (e.g. /tmp/app_shots), a full-page screenshot of every page is written there to look at."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from app import serve
from tests.fixtures_app import ID_A, ID_B, ID_C, ID_FAILED, ID_STUDY, ID_TINY, make_runs, make_tiny_parent

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is missing (pip install it)")

ROOT = Path(__file__).resolve().parents[1]
SHOTS = os.environ.get("AIM_SHOTS_DIR")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``(base url, runs folder)`` of a streamlit server over the fixture runs; stopped (its process group) after."""
    tmp = tmp_path_factory.mktemp("browser")
    runs = tmp / "runs"
    make_runs(runs)
    env = {"AIM_RUNS_DIR": str(runs), "AIM_CACHED_RUNS_DIR": str(tmp / "cached"), "AIM_STUDIES_DIR": str(tmp / "studies")}
    proc, url = serve.start(env, tmp / "streamlit.log")
    try:
        yield url, runs
    finally:
        serve.stop(proc)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    pg = browser.new_page(viewport={"width": 1400, "height": 2600})
    pg.set_default_timeout(TIMEOUT_MS)
    yield pg
    pg.close()


def _open(page, url: str, title: str) -> None:
    page.goto(url)
    page.get_by_role("heading", name=title, level=1).wait_for()
    page.wait_for_selector("[data-testid=stStatusWidget]", state="detached")  # the script run has finished


def _selected(page, label: str) -> str:
    return page.locator(f"input[aria-label='{label}']").input_value()


def lasso_everything(page) -> None:
    """Draw a lasso around the whole of the page's first chart (Fig. 7): every point is selected."""
    drag = page.locator(".js-plotly-plot").first.locator(".nsewdrag").first
    drag.wait_for()
    box = drag.bounding_box()
    x0, y0, x1, y1 = box["x"] + 3, box["y"] + 3, box["x"] + box["width"] - 3, box["y"] + box["height"] - 3
    page.mouse.move(x0, y0)
    page.mouse.down()
    for x, y in ((x1, y0), (x1, y1), (x0, y1), (x0, y0)):
        page.mouse.move(x, y, steps=8)
    page.mouse.up()


def _shot(page, name: str) -> None:
    if not SHOTS:
        return
    Path(SHOTS).mkdir(parents=True, exist_ok=True)
    # streamlit scrolls inside its main area, so grow the window to the content to capture the whole page
    height = page.evaluate("document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": 1400, "height": max(900, min(int(height) + 40, 12_000))})
    page.wait_for_timeout(800)  # let plotly redraw at the new size
    page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def test_the_app_opens_on_a_run_and_draws_fig7(server, page):
    url, _ = server
    _open(page, f"{url}/interactions?run={ID_A}", "Interactions")
    # one point per interaction by default: 3 of the 6 pairs kept, 2 planted
    page.locator(".js-plotly-plot .legendtext", has_text="kept (3)").wait_for()
    assert page.locator(".legendtext", has_text="planted (2)").count() == 1
    assert _selected(page, "Run") == ID_A
    page.locator(".js-plotly-plot").nth(3).wait_for()  # Fig. 7, the field map, trajectories, the replay
    with page.expect_download() as csv:
        page.get_by_role("button", name="CSV").first.click()
    assert Path(csv.value.path()).read_text().startswith("key,fields,field_names,order,function")
    with page.expect_download() as html:
        page.get_by_role("button", name="HTML").first.click()
    assert csv.value.suggested_filename == f"{ID_A}_alpha_vs_stats_auc.csv"
    assert "plotly" in Path(html.value.path()).read_text()
    _shot(page, "interactions")


def test_the_start_page_leads_to_your_newest_runs(server, page):
    """The quick start's path: the root URL lists the runs folder's newest runs first; one click draws Fig. 7."""
    url, _ = server
    _open(page, url, "Start here")
    page.get_by_role("heading", name="Your runs").wait_for()
    assert page.get_by_text("failed", exact=True).count() == 1  # the newest fixture run, with its state
    page.get_by_role("link", name=ID_FAILED).click()  # a failed run still shows what it wrote: its α
    page.get_by_role("heading", name="Interactions", level=1).wait_for()
    page.locator(".js-plotly-plot .legendtext", has_text="kept (3)").wait_for()
    assert _selected(page, "Run") == f"{ID_FAILED}  [failed]" and page.url.endswith(f"/interactions?run={ID_FAILED}")
    assert page.get_by_text("This run failed").count() == 1
    _open(page, url, "Start here")
    page.get_by_role("link", name=ID_C).click()  # a complete baseline
    page.get_by_role("heading", name="Interactions", level=1).wait_for()
    page.wait_for_url(f"**/interactions?run={ID_C}")
    page.wait_for_selector("[data-testid=stStatusWidget]", state="detached")
    assert _selected(page, "Run") == ID_C


def test_a_deep_link_opens_the_compare_view_of_two_runs(server, page):
    url, _ = server
    _open(page, f"{url}/?view=compare&runs={ID_A},{ID_B}&ref={ID_B}", "Compare runs")
    assert "/compare" in page.url and "runs=" in page.url
    metrics = page.locator("[data-testid=stMetric]")
    metrics.nth(1).wait_for()  # both runs' metrics: the second may render a moment after the first
    assert [t.split("\n")[-1] for t in metrics.all_inner_texts()[:2]] == ["3", "4"]
    page.wait_for_selector(".js-plotly-plot")
    _shot(page, "compare")


def test_the_studies_page_draws_its_charts_and_a_png(server, page):
    url, _ = server
    _open(page, f"{url}/studies?study={ID_STUDY}", "Studies")
    auc = page.locator(".js-plotly-plot").first
    auc.locator(".legendtext", has_text="AIM").wait_for()
    assert auc.locator(".legendtext").all_text_contents() == ["baseline", "AIM", "transfer", "seeds",
                                                              "best baseline (deepfm)"]  # not on the bars
    assert auc.locator("g.trace.bars").count() == 0  # a zoomed axis: the means are marks, never bars
    assert auc.locator("g.errorbar").count() == 3  # one mean per variant, ± std error bars on it
    page.locator(".js-plotly-plot").nth(3).wait_for()  # AUC, log loss, FI ratio, transfer
    with page.expect_download() as png:
        page.locator("[data-testid=stDownloadButton] button", has_text="PNG").first.click()
    assert png.value.suggested_filename == f"{ID_STUDY}_auc.png"
    assert Path(png.value.path()).read_bytes().startswith(b"\x89PNG")
    _shot(page, "studies")


def test_the_sparsity_page_draws_each_stage_with_its_chosen_strength(server, page):
    url, _ = server
    _open(page, f"{url}/sparsity?run={ID_A}", "Sparsity")
    page.locator(".js-plotly-plot").nth(2).wait_for()  # search, embed, the L2 grid
    plots = page.locator(".js-plotly-plot")
    assert plots.count() == 3
    assert plots.first.locator(".legendtext", has_text="chosen").count() == 1
    assert plots.first.locator(".legendtext", has_text="within 1 standard error").count() == 1
    assert plots.first.locator("g.textpoint", has_text="x = 0.2").count() == 1  # the chosen point's label
    assert plots.first.locator("path.point").count() == 3  # the three candidates drawn
    assert page.get_by_text("This run recorded 1 warning").count() == 1
    assert page.locator("[data-testid=stException]").count() == 0
    _shot(page, "sparsity")


@pytest.mark.parametrize(("path", "title"), [("", "Start here"), ("runs", "Runs"), ("functions", "Interaction functions"),
                                             ("embeddings", "Embedding dimensions"), ("studies", "Studies")])
def test_every_page_renders_without_an_error(server, page, path, title):
    url, _ = server
    _open(page, f"{url}/{path}?run={ID_A}", title)
    assert page.locator("[data-testid=stException]").count() == 0
    if path in ("functions", "embeddings"):
        page.wait_for_selector(".js-plotly-plot")
    _shot(page, path or "start")


def test_runs_is_a_route_of_its_own_and_demos_show_no_deploy_button(server, page):
    url, _ = server
    _open(page, f"{url}/runs", "Runs")
    assert "/runs" in page.url and page.get_by_text("Page not found").count() == 0
    assert page.get_by_role("button", name="Deploy").count() == 0  # client.toolbarMode = "viewer"
    _open(page, url, "Start here")
    # The status widget can come and go before the page's last section is drawn: wait for the heading itself.
    page.get_by_role("heading", name="Glossary").wait_for()
    assert page.get_by_role("heading", name="Glossary").count() == 1


def test_a_launched_tiny_run_goes_from_running_to_complete(server, page):
    url, runs = server
    _open(page, f"{url}/launch", "Launch a run")
    before = page.locator("[data-testid=stSidebar] [data-testid=stCaptionContainer]").first.inner_text()
    folders = {p.name for p in runs.iterdir()}
    for label, value in (("Synthetic rows", "1000"), ("Search epochs", "1"), ("Embed-search epochs", "1"),
                         ("Re-train epochs", "1"), ("Embedding dim", "4"), ("MLP sizes", "8"),
                         # one strength per search stage: the default tries 4 each (in worker processes)
                         ("GRDA crossing fractions (search)", "0.5"), ("GRDA crossing fractions (embed)", "1")):
        box = page.get_by_label(label, exact=True)
        box.fill(value)
        box.press("Tab")
    page.get_by_role("button", name="Launch").click()
    page.get_by_text("Started job").wait_for()
    page.get_by_text("running · job").wait_for()
    _shot(page, "launch")
    page.get_by_text("complete · job").wait_for(timeout=120_000)
    page.get_by_role("link", name="Open run").first.click()  # .first: a fragment rerun may be mid-swap
    page.get_by_role("heading", name="Interactions", level=1).wait_for()
    page.wait_for_selector(".js-plotly-plot")
    runs_count = page.locator("[data-testid=stSidebar] [data-testid=stCaptionContainer]").first.inner_text()
    assert int(runs_count.split()[0]) == int(before.split()[0]) + 1
    (new,) = {p.name for p in runs.iterdir()} - folders - {".jobs"}
    assert _selected(page, "Run").startswith(new)


def test_a_lasso_selection_is_retrained_and_compared_with_its_parent(server, page):
    """Lasso every pair of a tiny parent: the page lists the 11 columns it will train (every kept function of the 3
    pairs the parent kept, the parent's most frequent kept function, inner, for the 7 it dropped); the re-train
    replays the parent's search, and Compare names the 7 added columns and judges Δ by its noise."""
    url, runs = server
    make_tiny_parent(runs)  # a real tiny config: the re-train trains in seconds
    _open(page, f"{url}/interactions?run={ID_TINY}", "Interactions")
    lasso_everything(page)
    page.get_by_text("10 selected").wait_for()
    page.get_by_text("Will re-train 11 interaction-IF columns").wait_for()
    listed = page.locator("[data-testid=stCode]").first.inner_text()
    assert "f00×noise01:inner" in listed and "f00×noise01:outer" in listed and "f03×f04:inner" in listed
    folders = {p.name for p in runs.iterdir()}
    page.get_by_role("button", name=re.compile(r"Re-train with these \(11\)")).click()
    page.get_by_text(re.compile("Re-train (running|complete)")).first.wait_for()
    page.get_by_role("heading", name="Compare runs", level=1).wait_for(timeout=120_000)
    (new,) = {p.name for p in runs.iterdir()} - folders - {".jobs"}
    assert f"runs={new}" in page.url.replace("%2C", ",") and ID_TINY in page.url
    meta = json.loads((runs / new / "run.json").read_text())
    assert meta["variant"] == "retrain" and meta["parent"]["id"] == ID_TINY and len(meta["selection"]) == 11
    assert meta["procedure"]["replayed"] == ["search", "embed"]
    page.get_by_role("heading", name="Re-train vs its parent").wait_for()
    assert page.get_by_text("Added (7) relative to the parent's kept columns").count() == 1
    assert page.get_by_text("Removed (0) relative to the parent's kept columns: none").count() == 1
    auc = page.get_by_text(re.compile(r"Δ test AUC [+-]\d\.\d{4} \(noise 0\.\d{4}\): (not significantly different|significantly better|significantly worse)"))
    assert auc.count() == 1
    assert page.get_by_text(re.compile(r"Δ parameters [+-]?[\d,]+")).count() == 1
    assert page.locator("[data-testid=stException]").count() == 0
    _shot(page, "retrain_compare")
