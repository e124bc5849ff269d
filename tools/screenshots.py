"""Screenshots of the app on the shipped runs, for the README: ``streamlit run`` on a free localhost port over
``cached_runs/`` only, driven by Playwright with Debian's chromium (the set-up of tests/test_browser.py).

    python tools/screenshots.py                    # -> docs/screenshots/*.png
    python tools/screenshots.py --out /tmp/shots

Each shot is a deep link (``?view=...&run=<id>``): the run / study ids are looked up by name prefix in
``cached_runs/`` so the script keeps working after ``tools/make_cached_runs.py`` regenerates them.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script: import the app package of this checkout
from app import serve  # noqa: E402

CACHED = ROOT / "cached_runs"
CHROMIUM = "/usr/bin/chromium"
# (file name, view, query parameter, name prefix of the cached folder it shows)
SHOTS = [
    ("start.png", "start", "", ""),
    ("interactions_synthetic.png", "interactions", "run", "synthetic__aim__"),
    ("interactions_frappe.png", "interactions", "run", "frappe__aim__"),
    ("functions_frappe.png", "functions", "run", "frappe__aim__"),
    ("embeddings_frappe.png", "embeddings", "run", "frappe__aim__"),
    ("sparsity_synthetic.png", "sparsity", "run", "synthetic__aim__"),
    ("study_frappe.png", "studies", "study", "study__frappe__"),
    ("runs.png", "runs", "", ""),
]


def _folder(prefix: str) -> str | None:
    names = sorted(p.name for p in CACHED.iterdir() if p.is_dir() and p.name.startswith(prefix))
    return names[0] if names else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=1300)
    args = parser.parse_args(argv)
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    empty = tempfile.mkdtemp(prefix="aim_shots_")  # no user runs: the shots show the shipped runs only
    env = {"AIM_RUNS_DIR": empty, "AIM_CACHED_RUNS_DIR": str(CACHED), "AIM_STUDIES_DIR": empty}
    proc, url = serve.start(env, args.out / "streamlit.log")
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": args.width, "height": args.height})
            for name, view, param, prefix in SHOTS:
                folder = _folder(prefix) if prefix else ""
                if prefix and folder is None:
                    print(f"skip {name}: no cached folder starting with {prefix!r}")
                    continue
                query = f"?view={view}" + (f"&{param}={folder}" if param else "")
                page.goto(f"{url}/{query}", wait_until="networkidle")
                page.wait_for_selector("[data-testid='stApp']")
                page.wait_for_timeout(1500)
                page.wait_for_function("!document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000)
                if view == "sparsity":  # a run older than sparsity.csv shows a note and no chart
                    try:
                        page.wait_for_selector("[data-testid='stPlotlyChart'] .main-svg", timeout=15_000)
                    except PlaywrightTimeout:
                        print(f"skip {name}: no chart (the run predates sparsity.csv)")
                        continue
                elif view == "start":  # no Plotly chart: wait for the pipeline diagram and the shipped-run list
                    page.wait_for_selector("[data-testid='stGraphVizChart'] svg", timeout=60_000)
                    page.wait_for_selector("[data-testid='stPageLink']", timeout=60_000)
                elif view != "runs":  # every other page draws Plotly charts: wait until the first one has its SVG
                    page.wait_for_selector("[data-testid='stPlotlyChart'] .main-svg", timeout=60_000)
                page.wait_for_timeout(2000)
                page.screenshot(path=str(args.out / name), full_page=False)
                print(f"{args.out / name}  <- {query}")
            browser.close()
    finally:
        serve.stop(proc)
        (args.out / "streamlit.log").unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
