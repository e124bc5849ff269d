"""The app starts without torch: pages that only read run folders must not import torch (about 1.3 s of the first
page of a fresh server on the 2-core machine) or sklearn. Each check runs in a fresh interpreter, since this test
process has torch loaded already. ``bench/bench_browser.py`` measures what this buys in a browser."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "sklearn", "scipy")


def _heavy_after(code: str, tmp_path: Path) -> dict[str, bool]:
    """Which of ``HEAVY`` are in ``sys.modules`` after running ``code`` in a fresh interpreter at the repo root."""
    script = code + f"\nimport json, sys\nprint(json.dumps({{m: m in sys.modules for m in {HEAVY!r}}}))\n"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "AIM_CACHED_RUNS_DIR": str(ROOT / "cached_runs"),
           "AIM_RUNS_DIR": str(tmp_path / "runs"), "AIM_STUDIES_DIR": str(tmp_path / "studies"),
           "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_start_path_reads_every_shipped_run_without_torch_scipy_or_sklearn(tmp_path):
    heavy = _heavy_after("""
from app import catalog, glossary, shipped, ui
scan = catalog.scan([("cached", catalog.cached_runs_dir())])
assert scan.candidates and scan.studies, "cached_runs/ has runs and studies"
for c in scan.candidates:
    run, problem = catalog.load(c.path)
    assert run is not None, problem
    run.table("interactions")
for s in scan.studies:
    assert catalog.load_study_folder(s.path)[0] is not None
assert shipped.tool_entries()
""", tmp_path)
    assert heavy == dict.fromkeys(HEAVY, False)


def test_no_read_only_page_imports_torch(tmp_path):
    """Every page rendered once (AppTest, the shipped runs) in one interpreter: torch and sklearn stay out."""
    heavy = _heavy_after("""
from streamlit.testing.v1 import AppTest
for view in ("start", "runs", "interactions", "functions", "embeddings", "sparsity", "compare", "studies", "launch"):
    at = AppTest.from_file("app/streamlit_app.py", default_timeout=120)
    at.query_params["view"] = view
    at.run()
    assert not at.exception, (view, [e.value for e in at.exception])
""", tmp_path)
    assert not heavy["torch"] and not heavy["sklearn"], heavy
    assert not heavy["scipy"], "Spearman's ρ and the complete studies' tables need no scipy (about 1 s cold)"


def test_the_studies_page_of_a_complete_study_reads_its_summary_without_scipy(tmp_path):
    """A complete study's table comes from its summary.csv: the first Studies page of a fresh server does not pay
    for scipy's t-tests (about 1 s)."""
    heavy = _heavy_after("""
from streamlit.testing.v1 import AppTest
at = AppTest.from_file("app/streamlit_app.py", default_timeout=120)
at.query_params["view"] = "studies"
at.run()
assert not at.exception, [e.value for e in at.exception]
assert at.dataframe, "the study table is shown"
""", tmp_path)
    assert heavy == dict.fromkeys(HEAVY, False), heavy
