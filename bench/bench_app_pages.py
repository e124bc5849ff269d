"""How long the app takes to render each page, through ``streamlit.testing.v1.AppTest`` (the script run, no browser):
every page for one run / two runs / one study, then the Runs page over a folder of 200 runs. Not a test.

The runs come from ``cached_runs/`` when it holds a complete run (and a study, for the Studies page); otherwise
from a temporary folder of the hand-made fixture runs and study of ``tests/fixtures_app.py``. Each render is a new
session (as a user opening a link); the first render of the app (imports, first scan) and the first render of each
page (loading what it shows) are reported apart from the median of the next ``--renders`` (cached loads, as when a
user switches pages). Targets: about 1 s per page, about 2 s for the Runs page with 200 runs.

    OMP_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python bench/bench_app_pages.py [--renders 5] [--many 200]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import streamlit  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from aim.config import ModelConfig, RunConfig  # noqa: E402
from app import catalog  # noqa: E402
from tests.fixtures_app import ALPHA_A, _summary, make_runs, write_run  # noqa: E402

APP = str(ROOT / "app" / "streamlit_app.py")


def render(params: dict[str, str]) -> float:
    """Seconds for one full script run of a new session opened on ``?params``; raises if the page raised."""
    at = AppTest.from_file(APP, default_timeout=300)
    at.query_params.update(params)
    start = time.perf_counter()
    at.run()
    seconds = time.perf_counter() - start
    if at.exception:
        raise RuntimeError(f"{params}: {[e.value for e in at.exception]}")
    return seconds


def time_page(params: dict[str, str], renders: int) -> tuple[float, float]:
    first = render(params)
    return first, statistics.median(render(params) for _ in range(renders))


def cold_start(params: dict[str, str]) -> float:
    """The first render in a fresh process (imports of streamlit, torch, plotly, the first scan and loads)."""
    code = ("import sys, time; sys.path.insert(0, sys.argv[1]); from streamlit.testing.v1 import AppTest; "
            "at = AppTest.from_file(sys.argv[2], default_timeout=300); at.query_params.update(dict(a.split('=', 1) "
            "for a in sys.argv[3:])); t = time.perf_counter(); at.run(); assert not at.exception; "
            "print(time.perf_counter() - t)")
    out = subprocess.run([sys.executable, "-c", code, str(ROOT), APP, *(f"{k}={v}" for k, v in params.items())],
                         capture_output=True, text=True, check=True)
    return float(out.stdout.split()[-1])


def apptest_overhead(renders: int) -> float:
    """Median seconds of AppTest on a one-line script: the harness's own share of every figure below."""
    def once() -> float:
        at = AppTest.from_string("import streamlit as st\nst.write('x')")
        start = time.perf_counter()
        at.run()
        return time.perf_counter() - start
    once()
    return statistics.median(once() for _ in range(renders))


def pick(root: Path) -> tuple[list[str], str | None]:
    """Two complete runs and a study id in ``root`` (([], None) when there are none): runs of their own before
    the runs of a study, runs with α snapshots (the heaviest pages) first, then the newest."""
    scan = catalog.scan([("cached", root)])
    found = []
    for c in scan.candidates:
        run, _ = catalog.load(c.path)
        if run is not None and run.status == "complete" and run.interactions is not None:
            found.append((not c.study, run.snapshots is not None, c.mtime, c.id))
    studies = [s.id for s in scan.studies if catalog.load_study_folder(s.path)[0] is not None]
    return [f[-1] for f in sorted(found, reverse=True)[:2]], (studies[0] if studies else None)


def many_runs(root: Path, n: int) -> Path:
    """``n`` small complete fixture runs (4 fields, 12 columns, 3 snapshots each) under ``root``."""
    cfg = RunConfig(model=ModelConfig(embed_dim=4, mlp=(8,)))
    for i in range(n):
        write_run(root, f"synthetic__aim__seed{i}__2026{1 + i // 28 % 12:02d}{1 + i % 28:02d}T000000", "aim", i,
                  cfg.replace(seed=i), ALPHA_A, ["0 1 2 3", "0 2 3", "1", ""], _summary(0.8, 0.45, 3, 4, 10_000, 4_000))
    return root


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--renders", type=int, default=5, help="renders per page after the first (median reported)")
    ap.add_argument("--many", type=int, default=200, help="runs in the folder of the Runs-page scale check (0: skip)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_app_"))
    cached = catalog.cached_runs_dir()
    runs, study = pick(cached)
    source = f"cached_runs ({cached})"
    if len(runs) < 2 or study is None:
        cached = tmp / "fixtures"
        make_runs(cached)
        runs, study = pick(cached)
        source = "the fixture runs and study of tests/fixtures_app.py (cached_runs/ has no two complete runs and a study)"
    os.environ.update(AIM_CACHED_RUNS_DIR=str(cached), AIM_RUNS_DIR=str(tmp / "no_runs"),
                      AIM_STUDIES_DIR=str(tmp / "no_studies"))
    print(f"{time.strftime('%Y-%m-%d %H:%M')} · python {platform.python_version()} · streamlit {streamlit.__version__}"
          f" · {os.cpu_count()} CPUs · load {os.getloadavg()[0]:.2f} · OMP_NUM_THREADS="
          f"{os.environ.get('OMP_NUM_THREADS', 'unset')}")
    print(f"runs from {source}: run {runs[0]}, compare {runs[0]} + {runs[1]}, study {study}")
    print(f"app start in a fresh process (imports, first scan and loads, Runs page): {cold_start({}):.2f} s")
    render({})
    print(f"AppTest's own overhead (a one-line script), included in every figure: {apptest_overhead(args.renders):.2f} s\n")
    pages = [("runs", {}), ("interactions", {"run": runs[0]}), ("functions", {"run": runs[0]}),
             ("embeddings", {"run": runs[0]}), ("compare", {"runs": ",".join(runs)}), ("studies", {"study": study}),
             ("launch", {})]
    rows = [(name, *time_page({"view": name, **params}, args.renders)) for name, params in pages]
    if args.many:
        os.environ["AIM_RUNS_DIR"] = str(many_runs(tmp / "many", args.many))
        rows.append((f"runs, +{args.many} runs", *time_page({}, args.renders)))
        rows.append((f"interactions, +{args.many} runs", *time_page({"view": "interactions", "run": runs[0]},
                                                                   args.renders)))
    print(f"{'page':<28}{'first s':>9}{'median s':>10}   (median of {args.renders} renders after the first)")
    for name, first, median in rows:
        print(f"{name:<28}{first:>9.2f}{median:>10.2f}")
    print(f"\n(temporary folders in {tmp})")


if __name__ == "__main__":
    main()
