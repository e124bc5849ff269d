"""Defects a new user hit in Chromium and the CLI (issue 29), one test each; every one failed before its fix."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from aim import analysis
from aim.config import ModelConfig, RunConfig
from aim.data import formats
from aim.errors import ConfigError, DataError
from app import catalog, jobs
from tests.fixtures_app import (
    ALPHA_A,
    ALPHA_B,
    DIM,
    ID_A,
    ID_B,
    ID_C,
    ID_OTHER,
    _summary,
    make_other_dataset_run,
    make_runs,
    open_app,
    point_app_at,
    write_run,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def csv_file(tmp_path) -> Path:
    path = tmp_path / "log.csv"
    path.write_text("user,item,click\n1,2,1\n3,4,0\n")
    return path


# 1. the Interactions page said "starting (loading data)" for a whole re-train whose log showed epochs


def test_live_text_follows_the_log_when_the_progress_file_lags(tmp_path):
    run = tmp_path / "synthetic__retrain__seed0__20260101T000000"
    run.mkdir()
    log = tmp_path / "job.log"
    job = jobs.Job(id="20260101T000000-abcdef", pid=1, args=[], argv=[], key="k", out=str(tmp_path), log=str(log),
                   started=0.0, config={}, run_id=run.name)
    assert jobs.live_text(job) == "starting (loading data)"
    log.write_text("data synthetic: 1600 train rows\n[retrain] epoch 3 loss 0.4412 valid AUC 0.8123 (2.1s)\n")
    assert jobs.live_text(job) == "[retrain] epoch 3 loss 0.4412 valid AUC 0.8123 (2.1s)"  # no progress.json yet
    (run / "progress.json").write_text(json.dumps({"updated": "2026-01-01T00:00:00+00:00", "stage": "search",
                                                   "epoch": 1, "valid_auc": 0.7}))
    assert jobs.live_text(job).startswith("[retrain] epoch 3")  # the log is newer than the progress
    now = time.time()
    os.utime(log, (now - 60, now - 60))
    (run / "progress.json").write_text(json.dumps({"updated": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
                                                   "stage": "retrain", "epoch": 4, "valid_auc": 0.8201}))
    assert jobs.live_text(job) == "retrain epoch 4 · AUC 0.8201"  # fresh progress wins


# 2. Launch with a mistyped CSV column said "Started job", then failed with the reason in a collapsed log


def test_a_mistyped_csv_column_is_refused_before_the_job_starts(csv_file, tmp_path):
    args = ["--dataset", "csv", "--data", str(csv_file), "--label", "click", "--categorical", "user,itme"]
    with pytest.raises(ConfigError, match=r"unknown categorical column\(s\) \['itme'\].*user, item, click"):
        jobs.validate(args)
    with pytest.raises(ConfigError, match="itme"):
        jobs.start(args, tmp_path / "runs")
    assert not jobs.jobs_dir(tmp_path / "runs").exists()
    with pytest.raises(ConfigError, match="label column 'clik' not found"):
        jobs.validate(["--dataset", "csv", "--data", str(csv_file), "--label", "clik"])


# 3. Compare, opened from the sidebar, started with two runs of different datasets


def test_compare_opens_on_two_runs_of_one_dataset(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    base = RunConfig(model=ModelConfig(embed_dim=DIM, mlp=(8,)))
    write_run(runs, ID_A, "aim", 0, base, ALPHA_A, ["0 1 2 3"] * 4, _summary(0.80, 0.45, 3, 4, 10_000, 4_000))
    write_run(runs, ID_B, "aim", 1, base.replace(seed=1), ALPHA_B, ["0 1 2 3"] * 4, _summary(0.78, 0.47, 4, 4, 1, 1))
    write_run(runs, ID_C, "deepfm", 0, base.replace(variant="deepfm"), None, ["0 1 2 3"] * 4,
              _summary(0.79, 0.46, 6, 6, 8_000, 8_000))
    make_other_dataset_run(runs)  # the newest run, alone on its dataset
    point_app_at(runs, tmp_path, monkeypatch)
    at = open_app(view="compare")
    assert at.session_state["runs"] == [ID_C, ID_B]
    assert not any("different datasets" in w.value for w in at.warning)
    assert open_app(view="compare", runs=f"{ID_A},{ID_OTHER}").session_state["runs"] == [ID_A, ID_OTHER]  # links win


# 5. Embedding dimensions showed noise fields keeping all 16 dimensions, with no word why


def test_fields_no_kept_interaction_reads_are_named_with_the_reason(tmp_path, monkeypatch):
    inter = pd.DataFrame({"fields": ["0 1", "0 2", "1 2", "0 1"], "kept": [1, 0, 0, 1]})
    fields = pd.DataFrame({"field": [0, 1, 2, 3], "name": ["user", "item", "hour", "noise"]})
    assert analysis.unread_fields(inter, fields) == ["hour", "noise"]
    assert analysis.unread_fields(None, fields) == []
    runs = point_app_at(tmp_path / "runs", tmp_path, monkeypatch)
    only_user_item = [0.9] + [0.0] * 11  # one kept column: user × item
    path = write_run(runs, ID_A, "aim", 0, RunConfig(model=ModelConfig(embed_dim=DIM, mlp=(8,))), only_user_item,
                     ["0", "1 2", "0 1 2 3", "0 1 2 3"], _summary(0.80, 0.45, 1, 1, 10_000, 4_000))
    meta = json.loads((path / "run.json").read_text())
    meta["stages"]["embed"] = {"metrics": {}}  # an aim run that ran EDS
    (path / "run.json").write_text(json.dumps(meta))
    at = open_app(view="embeddings", run=ID_A)
    note = [c.value for c in at.caption if "No kept interaction reads" in c.value]
    assert note and "**hour**" in note[0] and "--embed-mlp" in note[0]


# 6. Runs-folder mistakes passed silently


@pytest.mark.parametrize(("where", "said"), [("missing", "does not exist"), ("file", "is a file"),
                                             ("run", "is a run itself"), ("empty", "holds no run")])
def test_a_runs_folder_mistake_is_said_in_the_sidebar(tmp_path, monkeypatch, where, said):
    runs = tmp_path / "runs"
    made = make_runs(runs)
    folder = {"missing": tmp_path / "nope", "file": runs / ID_A / "run.json", "run": made["a"],
              "empty": tmp_path / "empty"}[where]
    (tmp_path / "empty").mkdir()
    point_app_at(runs, tmp_path, monkeypatch)
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app" / "streamlit_app.py"), default_timeout=120)
    at.session_state["runs_dir"] = str(folder)  # typed into the sidebar's field
    at.run()
    assert not at.exception
    warned = [w.value for w in at.sidebar.warning]
    assert warned and said in warned[0], warned
    if where == "run":
        assert str(runs) in warned[0]  # the folder to point at instead


def test_a_good_runs_folder_draws_no_warning_and_runs_does_not_report_the_default_studies_folder(tmp_path,
                                                                                                  monkeypatch):
    runs = point_app_at(tmp_path / "runs", tmp_path, monkeypatch)
    make_runs(runs)
    monkeypatch.delenv("AIM_STUDIES_DIR")
    monkeypatch.chdir(tmp_path)  # no studies/ here: the default folder is missing, as on a new machine
    assert not catalog.reported_missing(catalog.scan([("studies", catalog.default_studies_dir())]))
    with monkeypatch.context() as m:
        m.setenv("AIM_RUNS_DIR", str(tmp_path / "not_yet"))  # made by a first run: no news either
        assert catalog.runs_folder_problem(catalog.default_runs_dir(), catalog.Scan()) is None
    monkeypatch.chdir(ROOT)
    at = open_app(view="runs")
    assert not at.sidebar.warning
    assert not [c for c in at.caption if "Not found (yet)" in c.value and "studies" in c.value]


# 7. Start here said "started N min ago" for finished runs, no warnings, and empty-scatter runs looked normal


def test_start_here_says_finished_warnings_and_nothing_kept(tmp_path, monkeypatch):
    runs = point_app_at(tmp_path / "runs", tmp_path, monkeypatch)
    base = RunConfig(model=ModelConfig(embed_dim=DIM, mlp=(8,)))
    empty = {**_summary(0.70, 0.5, 0, 0, 10, 10), "interactions": {"order2": {"kept": 0, "total": 6}}}
    write_run(runs, ID_A, "aim", 0, base, [0.0] * 12, ["0 1 2 3"] * 4, empty, warnings=["the search kept nothing"])
    at = open_app()
    texts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    line = next(t for t in texts if "seed 0" in t)
    assert "finished" in line and "started" not in line
    assert any("kept no interaction" in t and "⚠ 1 warning" in t for t in texts)


# 8. Runs listed studies by raw id where Start here uses names


def test_runs_lists_shipped_studies_under_their_names(tmp_path, monkeypatch):
    if not (ROOT / "cached_runs").is_dir():
        pytest.skip("no cached_runs/ in this checkout")
    monkeypatch.setenv("AIM_RUNS_DIR", str(tmp_path / "none"))
    monkeypatch.setenv("AIM_STUDIES_DIR", str(tmp_path / "no_studies"))
    monkeypatch.delenv("AIM_CACHED_RUNS_DIR", raising=False)
    at = open_app(view="runs")
    labels = [e.label for e in at.expander]
    assert any(label.startswith("**frappe-study** (`study__frappe__") for label in labels), labels


# 9. `aim show runs` said only "runs/run.json: file is missing"; a semicolon CSV failed without a hint


def _aim(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "aim", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_show_on_a_folder_of_runs_names_one_to_show(tmp_path):
    make_runs(tmp_path / "runs")
    out = _aim("show", str(tmp_path / "runs"))
    assert out.returncode != 0
    assert "a folder of" in out.stderr and "not a run" in out.stderr and "python -m aim show" in out.stderr
    assert "no such folder" in _aim("show", str(tmp_path / "nope")).stderr


def test_a_semicolon_csv_gets_a_delimiter_hint(tmp_path):
    path = tmp_path / "semi.csv"
    path.write_text("user;item;click\n1;2;1\n")
    with pytest.raises(DataError, match="holds semicolons.*sep=';'"):
        formats.read_csv(path, "click", [], [])
    with pytest.raises(DataError) as plain:
        formats.read_csv(path.with_name("ok.csv") if path.with_name("ok.csv").write_text("a,b\n1,0\n") else path,
                         "click", [], [])
    assert "semicolons" not in str(plain.value)


# 8. Compare's bar charts cut the axis, so 0.8742 against 0.8777 looked like 2x


def test_compare_draws_auc_as_dots_on_a_zoomed_axis_never_as_cut_bars():
    deltas = pd.DataFrame({"run": ["a", "b"], "test_auc": [0.8742, 0.8777], "params": [1000, 2000]})
    fig = analysis.metric_bars(deltas, "test_auc", {"a": "#1f77b4", "b": "#ff7f0e"})
    assert not [t for t in fig.data if t.type == "bar"]
    assert fig.layout.yaxis.range[0] > 0.8 and "zoomed" in fig.layout.title.text
    bars = analysis.metric_bars(deltas, "params", {"a": "#1f77b4", "b": "#ff7f0e"})
    assert [t for t in bars.data if t.type == "bar"]  # from zero: bars are fine


def test_sparsity_labels_of_close_candidates_take_turns():
    from aim.analysis.sparsity import TEXT_POSITIONS, _text_positions

    x = pd.Series([100, 102, 104, 300, 600])  # refined strengths crowd around the chosen point
    y = pd.Series([0.800, 0.801, 0.8005, 0.70, 0.80])
    pos = list(_text_positions(x, y))
    assert len(set(pos[:3])) == 3 and pos[3] == pos[4] == TEXT_POSITIONS[0]
    assert list(_text_positions(pd.Series(["L2 = 0", "L2 = 0"]))) == list(TEXT_POSITIONS[:2])


# 10. `aim study --resume` forgot --jobs (two processes where the study was started with one)


def test_resume_keeps_the_studys_own_jobs(tmp_path, tiny_config, monkeypatch):
    import aim.study as st
    from aim.study import variants

    path = st.run_study(tiny_config("fm"), "fm", [0], tmp_path, jobs=1, log=lambda _: None)
    assert json.loads((path / "study.json").read_text())["jobs"] == 1
    seen = {}
    real = variants.run_plan

    def spy(path_, meta, plan, jobs, log, *args, **kwargs):
        seen["jobs"] = jobs
        return real(path_, meta, plan, jobs, log, *args, **kwargs)

    monkeypatch.setattr(variants, "run_plan", spy)
    st.resume_study(path, log=lambda _: None)  # no --jobs: the study's own 1, not min(seeds, CPUs)
    assert seen["jobs"] == 1
    st.resume_study(path, jobs=2, log=lambda _: None)  # given again: that one
    assert seen["jobs"] == 2


# 4. Compare of a re-train (or a baseline) and a gated run drew two empty "no α to compare" charts


def test_compare_without_two_gated_runs_says_why_instead_of_empty_alpha_charts(tmp_path, monkeypatch):
    runs = point_app_at(tmp_path / "runs", tmp_path, monkeypatch)
    make_runs(runs)
    at = open_app(view="compare", runs=f"{ID_A},{ID_C}")
    assert not [s for s in at.subheader if s.value == "α of run A vs run B"]
    assert any("No α of run A vs run B" in c.value and ID_C in c.value for c in at.caption)
    both = open_app(view="compare", runs=f"{ID_A},{ID_B}")
    assert [s for s in both.subheader if s.value == "α of run A vs run B"]
