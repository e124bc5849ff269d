"""Speed of the app as a person sees it: seconds from navigation to the first chart drawn, per page, in Chromium.

For every page a fresh ``streamlit run`` server is started over ``cached_runs/`` only (app/serve.py), then

- **cold**: the first page load of that fresh server process (it imports the page's modules and reads every run
  folder: what the first visitor after ``streamlit run`` waits for);
- **warm**: the median of ``--repeats`` later loads of the same page on the same server, each in a new tab of
  one browser profile that has opened the app before (its HTTP cache holds Streamlit's and Plotly's scripts, as
  for anyone who has used the app once; a new Streamlit session each time; the server's caches warm);
- **new visitor**: the same, but each load in a new browser profile (empty HTTP cache: the browser downloads and
  compiles Streamlit's and Plotly's scripts again), the worst case of a warm server;
- **in-app**: the median of ``--repeats`` switches to the page from another page of the open app (a click on the
  page's sidebar link, as a person explores: the app and Plotly are loaded; the run picked on the first page is
  kept), from the ``FROM`` page below.

The clock starts at ``page.goto`` (in-app: the click) and stops when the page's selector below is visible: the first Plotly chart with
its ``svg.main-svg`` (Plotly has drawn), or for pages without charts the element that shows their main content.
Targets (issue 15): <= 5 s cold, <= 2 s warm, where warm is the in-app switch (what a person exploring the open
app waits for; a new tab or a new profile also compiles Plotly's 4.7 MB script, reported beside it). The machine's load average is printed at the start and the end:
on a busy machine the figures are slower than on an idle one.

    .venv/bin/python bench/bench_browser.py                  # every page, 5 warm loads each
    .venv/bin/python bench/bench_browser.py --repeats 3 --pages start,interactions
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script: import the app package of this checkout
from app import serve  # noqa: E402

CACHED = ROOT / "cached_runs"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
COLD_TARGET_S, WARM_TARGET_S = 5.0, 2.0
PLOT = "[data-testid=stPlotlyChart] .js-plotly-plot svg.main-svg"
# page -> (deep-link query with {prefix} placeholders resolved in cached_runs/, selector that means "drawn", what it is)
PAGES = {
    "start": ("", "[data-testid=stHeading]:has-text('Glossary')",
              "the Glossary heading, the last section: the shipped-run list above it is written"),
    "runs": ("runs", "[data-testid=stDataFrame] canvas", "the runs table's grid canvas"),
    "interactions": ("interactions?run={synthetic__aim__}", PLOT, "first Plotly chart (Fig. 7)"),
    "functions": ("functions?run={frappe__aim__}", PLOT, "first Plotly chart (Fig. 8 left)"),
    "embeddings": ("embeddings?run={frappe__aim__}", PLOT, "first Plotly chart (Table 6 scatter)"),
    "sparsity": ("sparsity?run={synthetic__aim__}", f"{PLOT}, [data-testid=stAlertContainer]",
                 "first frontier chart, or the note of a run without sparsity.csv"),
    "compare": ("compare?runs={frappe__aim__},{movielens__aim__}", PLOT, "first Plotly chart (metric bars)"),
    "studies": ("studies?study={study__frappe__}", PLOT, "first Plotly chart (metric over seeds)"),
    "launch": ("launch", "[data-testid=stFormSubmitButton]", "the launch form's submit button"),
}


# page -> the page whose sidebar link the in-app switch starts from: a chart page (Plotly loaded), or Runs
FROM = {"start": "runs", "embeddings": "functions"}


def folder(prefix: str) -> str:
    names = sorted(p.name for p in CACHED.iterdir() if p.is_dir() and p.name.startswith(prefix))
    if not names:
        raise SystemExit(f"no folder of {CACHED} starts with {prefix!r}")
    return names[0]


def resolve(query: str) -> str:
    """``interactions?run={frappe__aim__}`` -> ``interactions?run=frappe__aim__seed0__...``."""
    out, rest = "", query
    while "{" in rest:
        head, _, tail = rest.partition("{")
        prefix, _, rest = tail.partition("}")
        out += head + folder(prefix)
    return out + rest


VIEWPORT = {"width": 1400, "height": 1300}


def load(opener, url: str, selector: str, timeout_ms: int) -> float | None:
    """Seconds from ``goto`` to ``selector`` visible in a new page of ``opener`` (a browser: a new profile each
    time; a browser context: a new tab of that profile); None when it never shows."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page = opener.new_page(viewport=VIEWPORT) if hasattr(opener, "new_context") else opener.new_page()
    try:
        t0 = time.perf_counter()
        page.goto(url, wait_until="commit")
        page.locator(selector).first.wait_for(state="visible", timeout=timeout_ms)
        return time.perf_counter() - t0
    except PlaywrightTimeout:
        return None
    finally:
        page.close()


def switch(profile, base: str, name: str, timeout_ms: int) -> float | None:
    """Seconds from a click on ``name``'s sidebar link, on the loaded ``FROM`` page, to ``name``'s selector
    visible on ``name``'s path; None when it never shows."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    source = FROM.get(name, "embeddings")
    query, selector, _ = PAGES[source]
    path = PAGES[name][0].partition("?")[0]
    page = profile.new_page()
    try:
        page.goto(f"{base}/{resolve(query)}", wait_until="commit")
        page.locator(selector).first.wait_for(state="visible", timeout=timeout_ms)
        link = page.locator(f"a[data-testid=stSidebarNavLink][href$='/{path}']")
        t0 = time.perf_counter()
        link.click()
        page.wait_for_url(lambda url: url.split("?")[0].rstrip("/").endswith("/" + path) if path else True,
                          timeout=timeout_ms)
        page.locator(PAGES[name][1]).first.wait_for(state="visible", timeout=timeout_ms)
        return time.perf_counter() - t0
    except PlaywrightTimeout:
        return None
    finally:
        page.close()


def bench_page(browser, name: str, repeats: int, timeout_ms: int, workdir: Path) -> tuple[float | None, list, list,
                                                                                           list]:
    query, selector, _ = PAGES[name]
    empty = tempfile.mkdtemp(prefix="aim_bench_", dir=workdir)  # no user runs: the shipped runs only
    env = {"AIM_RUNS_DIR": empty, "AIM_CACHED_RUNS_DIR": str(CACHED), "AIM_STUDIES_DIR": empty}
    proc, base = serve.start(env, workdir / f"streamlit_{name}.log")
    try:
        url = f"{base}/{resolve(query)}"
        cold = load(browser, url, selector, timeout_ms)
        visitor = [load(browser, url, selector, timeout_ms) for _ in range(repeats)]
        profile = browser.new_context(viewport=VIEWPORT)
        try:
            load(profile, url, selector, timeout_ms)  # this profile has used the app once
            warm = [load(profile, url, selector, timeout_ms) for _ in range(repeats)]
            nav = [switch(profile, base, name, timeout_ms) for _ in range(repeats)]
        finally:
            profile.close()
    finally:
        serve.stop(proc)
    return cold, warm, visitor, nav


def _median(times: list[float | None]) -> float | None:
    """The median, or None when any load timed out."""
    return statistics.median(times) if times and None not in times else None


def fmt(s: float | None) -> str:
    return "timeout" if s is None else f"{s:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", default=",".join(PAGES), help=f"comma-separated, of: {', '.join(PAGES)}")
    parser.add_argument("--repeats", type=int, default=5, help="warm loads per page (median reported)")
    parser.add_argument("--timeout", type=float, default=60, help="seconds before a load counts as failed")
    args = parser.parse_args(argv)
    pages = [p.strip() for p in args.pages.split(",") if p.strip()]
    unknown = [p for p in pages if p not in PAGES]
    if unknown:
        parser.error(f"unknown page(s) {unknown}; valid: {', '.join(PAGES)}")
    from playwright.sync_api import sync_playwright

    start_load = os.getloadavg()
    print(f"{time.strftime('%Y-%m-%d %H:%M')}  {os.cpu_count()} cores  load average at start (1/5/15 min): "
          + " ".join(f"{x:.2f}" for x in start_load))
    rows = []
    with tempfile.TemporaryDirectory(prefix="aim_bench_browser_") as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for name in pages:
                cold, warm, visitor, nav = bench_page(browser, name, args.repeats, int(args.timeout * 1000),
                                                      Path(tmp))
                median, visitor_median, nav_median = _median(warm), _median(visitor), _median(nav)
                ok = cold is not None and cold <= COLD_TARGET_S and nav_median is not None and nav_median <= WARM_TARGET_S
                rows.append((name, fmt(cold), fmt(nav_median), fmt(median), fmt(visitor_median),
                             "PASS" if ok else "FAIL"))
                print(f"  {name}: cold {fmt(cold)} s, in-app {', '.join(fmt(w) for w in nav)} s, warm "
                      f"{', '.join(fmt(w) for w in warm)} s, new visitor {', '.join(fmt(w) for w in visitor)} s",
                      flush=True)
        finally:
            browser.close()
    end_load = os.getloadavg()

    print(f"\n| page | cold s | in-app median s (n={args.repeats}) | new tab, warm median s | new visitor median s "
          "| target | pass/fail |")
    print("|---|---|---|---|---|---|---|")
    for name, cold, nav, median, visitor, verdict in rows:
        print(f"| {name} | {cold} | {nav} | {median} | {visitor} | ≤ {COLD_TARGET_S:g} s cold, ≤ {WARM_TARGET_S:g} s "
              f"in-app | {verdict} |")
    print("\nwhat each page waits for:")
    for name in pages:
        print(f"  {name}: {PAGES[name][2]}  ({PAGES[name][1]})")
    print("load average at end (1/5/15 min): " + " ".join(f"{x:.2f}" for x in end_load))
    return 0 if all(r[-1] == "PASS" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
