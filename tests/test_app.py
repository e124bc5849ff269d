"""The Streamlit app through ``AppTest`` (no browser): every page renders every fixture run, deep links select the
right runs, the compare page shows the right deltas, the studies page shows the fixture study (finished, failed and
missing runs), and the launch form starts a job (a stand-in command here; the browser test runs the real one).
Also the job logic of app/jobs.py on its own, with real ``python -m aim run`` processes."""

from __future__ import annotations

import os
import shutil
import signal
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from aim import analysis
from aim.errors import ConfigError
from app import jobs
from tests.fixtures_app import ID_A, ID_B, ID_C, ID_FAILED, ID_RUNNING, ID_STUDY, make_runs

APP = str(Path(__file__).resolve().parents[1] / "app" / "streamlit_app.py")
SINGLE_RUN_PAGES = ("interactions", "functions", "embeddings")
TINY_JOB = ["--synthetic-rows", "1000", "--search-epochs", "1", "--embed-epochs", "1", "--epochs", "1", "--mlp", "8",
            "--embed-dim", "4", "--grda-c", "0.12", "--embed-grda-c", "0.04", "--embed-l2", "0"]


# download buttons under each chart: CSV, HTML, and PNG where a Chromium is installed
PER_CHART = 3 if analysis.find_chromium() else 2


@pytest.fixture(autouse=True)
def _no_default_studies(tmp_path, monkeypatch):
    """Keep a ``studies/`` folder of the working directory out of the tests."""
    monkeypatch.setenv("AIM_STUDIES_DIR", str(tmp_path / "no_studies"))


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory, tiny_runs) -> Path:
    """The hand-made fixture folders plus the real tiny aim and fm runs of conftest."""
    root = tmp_path_factory.mktemp("app_runs")
    make_runs(root)
    for path in tiny_runs.values():
        shutil.copytree(path, root / path.name)
    return root


@pytest.fixture
def app_env(runs_dir, tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("AIM_RUNS_DIR", str(runs_dir))
    monkeypatch.setenv("AIM_CACHED_RUNS_DIR", str(tmp_path / "no_cached_runs"))
    return runs_dir


def _app(**params: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update(params)
    return at.run()


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def test_runs_page_lists_runs_corrupt_folders_and_notices(app_env):
    at = _app(view="runs")
    _ok(at)
    table = at.dataframe[0].value
    assert {ID_A, ID_B, ID_C, ID_RUNNING, ID_FAILED} <= set(table["id"]) and (table["study"] == "").all()
    assert table.set_index("id").loc[ID_RUNNING, "progress"] == "search epoch 2 · AUC 0.7123 · gates 8/12"
    corrupt = at.dataframe[1].value
    assert len(corrupt) == 2 and corrupt["reason"].str.contains("not valid JSON").any()
    assert corrupt["reason"].str.contains("missing columns").any()
    study = next(e for e in at.expander if ID_STUDY in e.proto.label)  # the study, its runs inside
    assert ID_STUDY in study.proto.label and "7 / 9 runs complete (1 failed, 1 missing)" in study.proto.label
    assert len(study.dataframe[0].value) == 8
    captions = " ".join(c.value for c in at.caption)
    assert "holiday_photos" in captions
    assert "Running now" in [s.value for s in at.subheader] and "Studies (1)" in [s.value for s in at.subheader]


@pytest.mark.parametrize("page", SINGLE_RUN_PAGES)
def test_every_single_run_page_renders_every_run(app_env, tiny_runs, page):
    at = _app(run=ID_A)
    ids = [ID_A, ID_B, ID_C, ID_RUNNING, ID_FAILED, *(p.name for p in tiny_runs.values())]
    at.switch_page(f"views/{page}.py")
    for rid in ids:
        at.query_params["run"] = rid
        at.run()
        _ok(at)
        assert at.selectbox[0].value == rid and at.query_params["run"] == rid
        if rid == ID_FAILED:
            assert "out of memory" in at.error[0].value and "python -m aim run --resume" in at.error[0].value
        if rid == ID_RUNNING:
            assert "still **running**" in at.info[0].value


def test_deep_link_opens_the_interactions_of_a_run(app_env):
    at = _app(view="interactions", run=ID_B)
    _ok(at)
    assert at.title[0].value == "Interactions" and at.selectbox[0].value == ID_B
    charts = at.get("plotly_chart")
    assert len(charts) == 4  # Fig. 7 scatter, field map, trajectories, replay
    assert '"kept (4)"' in charts[0].proto.spec and '"planted' in charts[0].proto.spec
    assert [m.label for m in at.metric][:2] == ["Points kept", "Spearman ρ (stats AUC, |α|)"]
    labels = [b.label for b in at.get("download_button")]
    assert labels[0] == "Report (HTML)" and len(labels) == 1 + 4 * PER_CHART


def test_unknown_run_in_a_link_warns_and_falls_back(app_env):
    at = _app(view="embeddings", run="no_such_run")
    _ok(at)
    assert "no_such_run" in at.warning[0].value and at.selectbox[0].value != "no_such_run"


def test_compare_page_shows_deltas_against_the_reference(app_env):
    at = _app(view="compare", runs=f"{ID_A},{ID_B}", ref=ID_B)
    _ok(at)
    assert at.multiselect[0].value == [ID_A, ID_B] and at.selectbox[0].value == ID_B
    deltas = at.dataframe[0].value.set_index("run")
    assert deltas.loc[ID_A, "Δ test_auc"] == pytest.approx(0.02)
    assert deltas.loc[ID_A, "Δ test_logloss"] == pytest.approx(-0.02)
    assert deltas.loc[ID_B, "Δ test_auc"] == 0
    diff = at.dataframe[1].value
    assert list(diff.index) == ["search.grda_c", "seed"]
    assert [m.value for m in at.metric][:2] == ["3", "4"]  # kept by every run, by any run
    assert at.query_params["runs"] == f"{ID_A},{ID_B}" and at.query_params["ref"] == ID_B


def test_compare_page_with_a_baseline_and_a_running_run(app_env):
    at = _app(view="compare", runs=f"{ID_A},{ID_C},{ID_RUNNING}")
    _ok(at)
    assert any("Runs without an interaction table" in c.value for c in at.caption)


def test_studies_page_shows_the_study_with_its_unfinished_runs(app_env):
    at = _app(view="studies")
    _ok(at)
    assert at.title[0].value == "Studies" and at.selectbox[0].value == ID_STUDY and at.query_params["study"] == ID_STUDY
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Runs complete"] == "7 / 9" and metrics["Best baseline"] == "deepfm"
    assert "**failed**" in at.info[0].value and "aim seed 2: RuntimeError: boom" in at.info[0].value
    assert "2 of 9 runs are not in the table (1 failed, 1 missing)" in at.warning[0].value
    table = at.dataframe[0].value.set_index("variant")
    assert list(table.index) == ["deepfm", "aim", "deepfm-transfer"]
    assert list(table["runs"]) == ["3 / 3", "2 / 3", "2 / 3"]
    assert table.loc["deepfm", "AUC"] == "0.7900 ± 0.0100" and table.loc["aim", "AUC"] == "0.8300 ± 0.0141"
    assert table.loc["deepfm-transfer", "log loss"] == "0.4600 ± 0.0071"
    assert table.loc["aim", "p (AUC)"] == pytest.approx(0.0322, abs=1e-4)
    transfer = at.dataframe[2].value  # after the ablation and complexity tables
    assert transfer.loc[0, "transfer"] == "deepfm-transfer" and transfer.loc[0, "Δ auc"] == pytest.approx(0.015)
    grid = at.dataframe[3].value
    assert grid.loc["aim", "seed 2"] == "failed" and grid.loc["deepfm-transfer", "seed 2"] == "missing"
    charts = at.get("plotly_chart")
    assert len(charts) == 4  # AUC, log loss, FI ratio, transfer
    assert '"AIM"' in charts[0].proto.spec and '"seeds"' in charts[0].proto.spec
    labels = [b.label for b in at.get("download_button")]
    assert labels[:4] == ["Report (HTML)", "CSV", "LaTeX", "Markdown"] and len(labels) == 4 + 4 * PER_CHART


def test_a_deep_link_picks_the_study_and_an_unknown_one_falls_back(app_env):
    at = _app(view="studies", study=ID_STUDY)
    _ok(at)
    assert at.selectbox[0].value == ID_STUDY
    at = _app(view="studies", study="no_such_study")
    _ok(at)
    assert "no_such_study" in at.warning[0].value and at.selectbox[0].value == ID_STUDY


def test_a_study_without_its_runs_shows_its_saved_table(runs_dir, tmp_path, monkeypatch):
    copy = tmp_path / "studies" / ID_STUDY
    copy.mkdir(parents=True)
    for name in ("study.json", "summary.csv"):
        shutil.copy(runs_dir / ID_STUDY / name, copy / name)
    monkeypatch.setenv("AIM_STUDIES_DIR", str(tmp_path / "studies"))
    monkeypatch.setenv("AIM_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("AIM_CACHED_RUNS_DIR", str(tmp_path / "cached"))
    at = _app(view="studies")
    _ok(at)
    assert "the table is the one it saved" in at.info[1].value and not at.warning
    table = at.dataframe[0].value
    assert list(table["runs"]) == ["3 / 3", "2 / 3", "2 / 3"] and table.loc[1, "AUC"] == "0.8300 ± 0.0141"


def test_a_study_run_opens_on_the_single_run_pages(app_env):
    at = _app(view="interactions", run="synthetic__aim__seed0__20260201T000000")
    _ok(at)
    assert at.selectbox[0].value == "synthetic__aim__seed0__20260201T000000" and at.get("plotly_chart")


def test_empty_folders_give_friendly_pages(tmp_path, monkeypatch):
    monkeypatch.setenv("AIM_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("AIM_CACHED_RUNS_DIR", str(tmp_path / "cached"))
    at = _app()
    _ok(at)
    assert "No shipped runs found" in at.info[0].value  # the Start page
    at = _app(view="runs")
    _ok(at)
    assert "No runs yet" in at.info[0].value
    for page in ("interactions", "compare", "studies"):
        at.switch_page(f"views/{page}.py").run()
        _ok(at)
        assert at.info, page
    assert "No studies yet" in at.info[0].value


# Stands in for ``python -m aim run`` in the AppTest launch flow (the real command runs in test_browser.py): copies
# a finished fixture run into --out and prints its folder last, as the CLI does.
FAKE_RUN = """
import shutil, sys, time
out = sys.argv[sys.argv.index("--out") + 1]
time.sleep(1)
print(shutil.copytree(sys.argv[1], out + "/synthetic__aim__seed0__20990101T000000"))
"""


def test_launch_form_starts_a_job_that_appears_in_the_runs_table(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    source = make_runs(tmp_path / "fixtures")["a"]
    monkeypatch.setattr(jobs, "COMMAND", [sys.executable, "-c", FAKE_RUN, str(source)])
    monkeypatch.setenv("AIM_RUNS_DIR", str(runs))
    monkeypatch.setenv("AIM_CACHED_RUNS_DIR", str(tmp_path / "cached"))
    at = _app(view="launch")
    _ok(at)
    values = {"Synthetic rows": 1000, "Search epochs": 1, "Embed-search epochs": 1, "Re-train epochs": 1,
              "Embedding dim": 4}
    for widget in at.number_input:
        if widget.label in values:
            widget.set_value(values[widget.label])
    next(w for w in at.text_input if w.label == "MLP sizes").set_value("8")
    at.button(key="launch_submit").click().run()
    _ok(at)
    assert "Started job" in at.success[0].value
    (job,) = jobs.list_jobs(runs)
    assert job.args[job.args.index("--synthetic-rows") + 1] == "1000" and job.config["model"]["mlp"] == [8]
    at.button(key="launch_submit").click().run()  # the same config again while it runs: refused
    assert "already running" in at.error[0].value
    jobs.wait(job, timeout=30)
    assert jobs.status(job) == "complete" and job.run_id == "synthetic__aim__seed0__20990101T000000"
    at.switch_page("views/runs.py").run()
    _ok(at)
    assert job.run_id in set(at.dataframe[0].value["id"])


def test_a_run_whose_job_ended_shows_as_interrupted(tmp_path, monkeypatch):
    make_runs(tmp_path)
    cfg = jobs.validate([])
    jobs.save(jobs.Job(id="20260104T000000-abcdef", pid=2 ** 22 + 1, args=[], argv=[], key=jobs.config_key(cfg),
                       out=str(tmp_path), log=str(tmp_path / "none.log"), started=0.0, config=cfg.to_json(),
                       run_id=ID_RUNNING, cancelled=True, ended=1.0))
    monkeypatch.setenv("AIM_RUNS_DIR", str(tmp_path))
    monkeypatch.setenv("AIM_CACHED_RUNS_DIR", str(tmp_path / "cached"))
    at = _app(view="runs")
    _ok(at)
    row = at.dataframe[0].value.set_index("id").loc[ID_RUNNING]
    assert (row["status"], row["progress"]) == ("interrupted", "job cancelled")
    assert "Running now" not in [s.value for s in at.subheader]
    at.switch_page("views/interactions.py")
    at.query_params["run"] = ID_RUNNING
    at.run()
    assert "has ended (cancelled)" in at.warning[0].value


def test_launch_form_shows_config_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("AIM_RUNS_DIR", str(tmp_path / "runs"))
    at = _app(view="launch")
    next(w for w in at.number_input if w.label == "GRDA μ").set_value(1.5)
    at.button(key="launch_submit").click().run()
    _ok(at)
    assert "grda_mu must be in (0, 1)" in at.error[0].value
    assert not jobs.list_jobs(tmp_path / "runs")


# ------------------------------------------------------------------------------------------- app/jobs.py

def test_launch_arguments_are_validated(tmp_path):
    from aim.flags import config_args

    cfg = jobs.validate(["--variant", "deepfm", "--seed", "3", "--mlp", "8,8"])
    assert (cfg.variant, cfg.seed, cfg.model.mlp) == ("deepfm", 3, (8, 8))
    assert config_args(cfg) == ["--variant", "deepfm", "--seed", "3", "--mlp", "8,8"]  # how the app writes them
    same = jobs.validate(["--mlp", "8,8", "--seed", "3", "--variant", "deepfm"])
    assert jobs.config_key(cfg) == jobs.config_key(same)
    for args, message in ((["--grda-mu", "1.5"], "grda_mu"), (["--variant", "nope"], "variant='nope'"),
                          (["--mlp", "a,b"], "mlp='a,b'"), (["--dataset", "mnist"], "unknown dataset"),
                          (["--dataset", "frappe"], "needs a data path"),
                          (["--dataset", "frappe", "--data", str(tmp_path / "none")], "no such file"),
                          (["--out", "x"], "--out")):
        with pytest.raises(ConfigError, match=message):
            jobs.validate(args)


def test_jobs_refuse_duplicates_and_the_limit_and_cancel(tmp_path):
    slow = ["--synthetic-rows", "2000000", *TINY_JOB[2:]]
    job = jobs.start(slow, tmp_path)
    try:
        assert jobs.status(job) == "running"
        with pytest.raises(jobs.JobError, match="already running"):
            jobs.start(list(slow), tmp_path)
        with pytest.raises(jobs.JobError, match="limit is 1"):
            jobs.start([*slow, "--seed", "5"], tmp_path, limit=1)
        (listed,) = jobs.list_jobs(tmp_path)  # read back from .jobs/<id>.json
        assert (listed.id, listed.pid, listed.args) == (job.id, job.pid, slow)
        jobs.cancel(listed)
        jobs.wait(listed, timeout=30)
        assert jobs.status(listed) == "cancelled" and listed.returncode == -signal.SIGTERM
    finally:
        if jobs.refresh(job).ended is None:
            os.killpg(job.pid, signal.SIGKILL)
    assert jobs.status(jobs.list_jobs(tmp_path)[0]) == "cancelled"


def test_a_fis_vs_stats_study_shows_its_rules_and_a_retrain_run_its_selection(tmp_path, monkeypatch):
    from aim import study as aim_study
    from tests.fixtures_app import make_tiny_parent

    parent = make_tiny_parent(tmp_path / "runs")
    path = aim_study.run_fis_vs_stats(parent, 2, 2, tmp_path / "studies", log=lambda m: None)
    monkeypatch.setenv("AIM_STUDIES_DIR", str(tmp_path / "studies"))
    monkeypatch.setenv("AIM_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("AIM_CACHED_RUNS_DIR", str(tmp_path / "cached"))
    at = _app(view="studies", study=path.name)
    _ok(at)
    table = at.dataframe[0].value
    assert list(table["rule"]) == ["top-N by |α| (FIS)", "top-N by statistics AUC", "N at random"]
    assert list(table["runs"]) == ["2 / 2"] * 3 and table.loc[2, "pairs"] == "2 draws, one per seed"
    assert table.loc[0, "pairs"] == aim_study.load_study(path).meta["selections"]["fis"]["0"]
    assert len(at.get("plotly_chart")) == 1 and "§4.4.2" in at.subheader[0].value
    child = aim_study.load_study(path).runs["stats"][0].name
    at = _app(view="interactions", run=child)
    _ok(at)
    assert "re-trains a hand-picked selection of 2 interaction-IF columns" in at.info[0].value
    assert parent.name in at.info[0].value
    for view in ("functions", "embeddings", "sparsity", "runs"):
        _ok(_app(view=view, run=child))
    _ok(_app(view="compare", runs=f"{child},{parent.name}", ref=parent.name))
