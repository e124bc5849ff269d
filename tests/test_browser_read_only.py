"""Read-only mode in a real browser: a ``streamlit run`` with ``AIM_READ_ONLY=1`` shows runs but offers no way to
start, cancel or re-train a job or to read another folder, by its pages, its widgets or a crafted URL. Skipped
where /usr/bin/chromium or playwright is missing (see test_browser.py)."""

from __future__ import annotations

import pytest

from app import serve
from tests import test_browser as shared
from tests.fixtures_app import ID_A, ID_TINY, make_runs, make_tiny_parent
from tests.test_browser import _open, _shot, lasso_everything

browser, page = shared.browser, shared.page  # the same Chromium fixtures as test_browser.py


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("browser_ro")
    runs = tmp / "runs"
    make_runs(runs)
    make_tiny_parent(runs)
    env = {"AIM_RUNS_DIR": str(runs), "AIM_CACHED_RUNS_DIR": str(tmp / "cached"),
           "AIM_STUDIES_DIR": str(tmp / "studies"), "AIM_READ_ONLY": "1"}
    proc, url = serve.start(env, tmp / "streamlit.log")
    try:
        yield url, runs
    finally:
        serve.stop(proc)


def test_read_only_shows_runs_without_the_launcher_or_the_folder_field(server, page):
    url, _ = server
    _open(page, url, "Start here")
    sidebar = page.locator("[data-testid=stSidebar]")
    sidebar.get_by_text("Read-only").wait_for()
    assert sidebar.get_by_role("link", name="Interactions").count() == 1
    assert sidebar.get_by_role("link", name="Launch a run").count() == 0
    assert page.get_by_label("Runs folder").count() == 0
    _shot(page, "read_only_start")


@pytest.mark.parametrize("crafted", ["launch", "?view=launch", "launch?dataset=synthetic"])
def test_crafted_links_to_the_launcher_lead_nowhere(server, page, crafted):
    url, _ = server
    page.goto(f"{url}/{crafted}")
    page.wait_for_selector("[data-testid=stSidebar]")
    page.wait_for_timeout(1500)  # let a switch_page, if any, happen
    page.wait_for_selector("[data-testid=stStatusWidget]", state="detached")
    assert page.get_by_role("heading", name="Launch a run").count() == 0
    assert page.get_by_role("button", name="Launch").count() == 0


def test_a_lasso_lists_the_selection_but_offers_no_retrain(server, page):
    url, _ = server
    _open(page, f"{url}/interactions?run={ID_TINY}", "Interactions")
    lasso_everything(page)
    page.get_by_text("10 selected").wait_for()
    page.wait_for_selector("[data-testid=stStatusWidget]", state="detached")
    assert page.get_by_role("button", name="Re-train with these").count() == 0
    _open(page, f"{url}/runs?run={ID_A}", "Runs")
    assert page.get_by_role("button", name="Cancel").count() == 0
