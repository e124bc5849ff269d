"""Every folder shipped in ``cached_runs/`` loads with today's loader and is complete and consistent, so a change of
the run or study format cannot silently break what the app shows first (regenerate with tools/make_cached_runs.py).
"""

from pathlib import Path

import pytest

from aim.runs import MODEL_TEXT_FILE, RUN_FILE, WEIGHTS_FILE, Run, load_run
from aim.study import STUDY_FILE, load_study

CACHED = Path(__file__).resolve().parents[1] / "cached_runs"
FOLDERS = sorted(p for p in CACHED.iterdir() if p.is_dir()) if CACHED.is_dir() else []
MAX_BYTES = 20 * 2**20


def test_cached_runs_ship_runs_only_within_budget():
    kinds = {"run" if (p / RUN_FILE).exists() else "study" if (p / STUDY_FILE).exists() else p.name for p in FOLDERS}
    assert "run" in kinds and kinds <= {"run", "study"}, f"cached_runs/ holds runs and studies only: {sorted(kinds)}"
    files = [f for f in CACHED.rglob("*") if f.is_file()]
    assert sum(f.stat().st_size for f in files) < MAX_BYTES
    assert not [f for f in files if f.name in (WEIGHTS_FILE, MODEL_TEXT_FILE)], "no view reads weights: do not ship them"


def check_run(path: Path) -> Run:
    run = load_run(path)
    assert run.status == "complete", f"{path.name}: status {run.status}"
    assert 0.5 < run.meta["metrics"]["test"]["auc"] <= 1, f"{path.name}: test AUC {run.meta['metrics']}"
    assert run.fields is not None and run.fields["dims_kept"].notna().all(), f"{path.name}: a field without a size"
    assert (run.fields["dims_kept"] >= 0).all()
    if run.interactions is not None and run.interactions["alpha"].notna().any():  # an AIM run
        kept = run.interactions[run.interactions["kept"] == 1]
        if not len(kept):  # honest on a few thousand rows, but never silent
            assert any("kept no interaction" in w for w in run.meta.get("warnings") or []), \
                f"{path.name}: an AIM run that kept no interaction and does not warn about it"
        assert kept["stats_auc"].between(0, 1).all(), f"{path.name}: a kept interaction without statistics AUC"
    assert run.history is not None and len(run.history), f"{path.name}: no training history"
    return run


@pytest.mark.parametrize("folder", FOLDERS, ids=[p.name for p in FOLDERS])
def test_cached_folder_loads_complete_and_consistent(folder):
    if (folder / RUN_FILE).exists():
        check_run(folder)
        return
    study = load_study(folder)
    assert study.status == "complete", f"{folder.name}: status {study.status}"
    assert not study.missing, f"{folder.name}: recorded runs missing: {study.missing}"
    recorded = {study.runs[v][s].name for v in study.variants for s in study.seeds}
    shipped = {p.name for p in (folder / "runs").iterdir()}
    assert shipped == recorded, f"{folder.name}: runs the study does not record (left by a killed build): " \
        f"{sorted(shipped - recorded)}"
    assert study.summary is not None
    assert set(study.summary["variant"]) == set(study.variants)
    for variant in study.variants:
        for seed in study.seeds:
            path = study.runs[variant][seed]
            assert path is not None, f"{folder.name}: {variant} seed {seed} has no run"
            transfer = check_run(path).meta["config"].get("transfer_from")
            if transfer:  # recorded relative to the repository root: the source must ship too
                assert (CACHED.parent / transfer / RUN_FILE).exists(), f"{folder.name}: transfer source {transfer}"


RUN_IDS = [p.name for p in FOLDERS if (p / RUN_FILE).exists()]
STUDY_IDS = [p.name for p in FOLDERS if (p / STUDY_FILE).exists()]


@pytest.fixture
def cached_app(tmp_path, monkeypatch):
    monkeypatch.setenv("AIM_CACHED_RUNS_DIR", str(CACHED))
    monkeypatch.setenv("AIM_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("AIM_STUDIES_DIR", str(tmp_path / "studies"))


def _render(page: str, **params: str):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(CACHED.parent / "app" / "streamlit_app.py"), default_timeout=120)
    at.query_params.update(params)
    at.run()
    at.switch_page(f"views/{page}.py")
    at.query_params.update(params)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


@pytest.mark.parametrize("page", ["interactions", "functions", "embeddings"])
def test_every_single_run_page_renders_every_cached_run(cached_app, page):
    for rid in RUN_IDS:
        at = _render(page, run=rid)
        assert at.query_params["run"] == rid


@pytest.mark.skipif(not STUDY_IDS, reason="no study in cached_runs/ yet (tools/make_cached_runs.py builds them)")
def test_the_studies_page_renders_every_cached_study(cached_app):
    for sid in STUDY_IDS:
        at = _render("studies", study=sid)
        assert at.query_params["study"] == sid


def test_rerun_rows_drops_exactly_those_rows_runs(tmp_path):
    """``make_cached_runs.py --rerun-rows``: the work copy loses the named rows' runs (and runs it does not record),
    keeps every other, and refuses a row the study does not have."""
    import importlib.util
    import json
    import sys

    spec = importlib.util.spec_from_file_location("make_cached_runs", CACHED.parent / "tools" / "make_cached_runs.py")
    tool = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = tool  # its dataclass looks its module up
    spec.loader.exec_module(tool)
    names = {"autoint": ["d__autoint__seed0", "d__autoint__seed1"], "deepfm": ["d__deepfm__seed0", None]}
    for folder in [n for ns in names.values() for n in ns if n] + ["d__autoint__seed0__old"]:
        (tmp_path / "runs" / folder).mkdir(parents=True)
    runs = {t: {str(s): (f"runs/{n}" if n else None) for s, n in enumerate(ns)} for t, ns in names.items()}
    (tmp_path / STUDY_FILE).write_text(json.dumps({"runs": runs}))
    tool._drop_rows(tmp_path, ["autoint"])
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["d__deepfm__seed0"]
    with pytest.raises(SystemExit, match="no rows"):
        tool._drop_rows(tmp_path, ["xdeepfm"])
