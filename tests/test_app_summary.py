"""The plain-language summary in the app (AppTest, no browser) on the shipped studies and runs of cached_runs/: at
the top of the Studies page and of a run's Interactions page, the size against DeepFM on the Embedding dimensions
page, and the one significance rule stated alike by ``python -m aim table``, the Studies page and the report."""

from __future__ import annotations

import html
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from aim import study as aim_study
from aim.analysis import run_summary
from aim.analysis import summary as plain
from aim.report import report_html
from aim.runs import load_run
from aim.study.stats import RULE_CORE
from app.plain import markdown_safe

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app" / "streamlit_app.py")
CACHED = ROOT / "cached_runs"
FRAPPE = CACHED / "study__frappe__20261204T005325"
FIS_VS_STATS = CACHED / "study__movielens__20261204T054951"
RUN = CACHED / "frappe__aim__seed0__20261204T004842"
STUDY_RUN = next((FRAPPE / "runs").glob("frappe__aim__seed0__*"))
if not FRAPPE.is_dir() or not RUN.is_dir():
    pytest.skip("the shipped cached_runs/ are missing", allow_module_level=True)


@pytest.fixture
def shipped(tmp_path, monkeypatch):
    monkeypatch.setenv("AIM_CACHED_RUNS_DIR", str(CACHED))
    monkeypatch.setenv("AIM_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("AIM_STUDIES_DIR", str(tmp_path / "studies"))


def _app(**params: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update(params)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _box(at: AppTest) -> str:
    boxes = [m.value for m in at.markdown if m.value.startswith("**In plain words**")]
    assert len(boxes) == 1
    return boxes[0]


def _frappe_lines() -> list[str]:
    study = aim_study.load_study(FRAPPE)
    summary = study.current_summary()
    return plain.study_summary_lines(summary, **plain.study_inputs(study, study.recorded_metas(), summary))


def test_the_frappe_summary_says_xdeepfm_ties_under_the_rule_and_is_bigger_than_aim():
    lines = _frappe_lines()  # the best baseline (xDeepFM since its rows joined) ties: said first
    assert lines[3].startswith("Simplest models: ") and "GBDT 0.9503" in lines[3]
    assert lines[4].startswith("Found: AIM kept 16 different interactions over 5 seeds: 11 on all 5 seeds (item × city")
    assert lines[0] == ("Accuracy: xDeepFM, a baseline without any search, is as good as AIM here. AIM 0.9522 vs "
                        "xDeepFM 0.9518 test AUC (+0.0004, p = 0.58): not significantly different under the rule "
                        "(two-tailed t-test over 5 seeds, significant when p < 0.005).")
    assert lines[1] == ("What is still visible: AIM's mean is 0.0004 higher and it is above xDeepFM on 3 of 5 seeds, "
                        "but under the rule that is not enough to call it better.")
    assert lines[5].startswith("Size: AIM's final model has 564,845 parameters (mean over 5 seeds), 1.19× DeepFM's "
                               "475,773; the paper's AIM is 1.31× DeepFM's size")
    assert lines[-1] == ("Next: xDeepFM ties AIM with 1.59× its parameters: keep the smaller AIM, or re-run with more "
                         "seeds or more data to tell the two apart. GBDT, which needs no deep model, is not "
                         "significantly worse than AIM either: weigh them first.")


def test_the_studies_page_opens_with_the_summary_and_states_the_rule(shipped):
    at = _app(view="studies", study=FRAPPE.name)
    box = _box(at)
    for line in _frappe_lines():
        assert markdown_safe(line.partition(": ")[2]) in box, line
    captions = " ".join(c.value for c in at.caption)
    assert markdown_safe(RULE_CORE) in captions or RULE_CORE in captions
    complexity = at.dataframe[1].value.set_index("variant")
    assert complexity.loc["aim-eds", "EDS cut"] == "no EDS" and complexity.loc["aim", "EDS cut"] == "38.3%"
    assert complexity.loc["aim", "× DeepFM"] == pytest.approx(564845.4 / 475773)


def test_a_fis_vs_stats_study_gets_its_rules_summary(shipped):
    box = _box(_app(view="studies", study=FIS_VS_STATS.name))
    assert "**Accuracy:** FIS (top pairs by the gates) 0.7972 vs statistics AUC (top pairs by it) 0.7968" in box
    assert "against the FIS rule" in box


def test_the_interactions_page_opens_with_the_run_summary(shipped):
    at = _app(view="interactions", run=RUN.name)
    box = _box(at)
    assert "**Found:** this AIM run kept 11 of 45 pairs (item × cost, user × item" in box and "0 of 120 triples" in box
    note = [c.value for c in at.caption if "statistics AUC below 0.5" in c.value]  # said once, where the scatter is
    assert len(note) == 1 and note[0].startswith("2 of the kept interactions have a statistics AUC below 0.5 (user × "
                                                 "isweekend 0.485, user × cost 0.487)")
    assert "python -m aim study --dataset frappe --seeds 5" in box
    assert at.title[0].value == "Interactions"
    # a run of a study: its size against the study's DeepFM, beside the study's mean
    box = _box(_app(view="interactions", run=STUDY_RUN.name))
    assert ("**Size:** this seed's final model has 448,862 parameters, 0.94× DeepFM's 475,773 (the mean of the study's "
            "DeepFM runs); over the study's seeds AIM averages 564,845, 1.19×.") in box


def test_the_embedding_page_puts_the_size_against_deepfm_beside_the_eds_cut(shipped):
    at = _app(view="embeddings", run=STUDY_RUN.name)
    assert any(c.value.startswith("Size: this seed's final model has 448,862 parameters") for c in at.caption)


def test_the_table_the_studies_page_and_the_reports_state_the_same_rule(shipped):
    table = aim_study.study_table(FRAPPE, "markdown")
    page = report_html(FRAPPE)
    assert RULE_CORE in table and html.escape(RULE_CORE) in page
    assert RULE_CORE in aim_study.study_table(FIS_VS_STATS, "markdown") and html.escape(RULE_CORE) in report_html(
        FIS_VS_STATS)
    for line in _frappe_lines():  # the report opens with the same summary as the page
        assert html.escape(line.partition(": ")[2]) in page, line
    assert "<h2>Glossary</h2>" in page and "no EDS</td>" in page and "0.0 %" not in page and "-0.0000" not in page
    run = load_run(STUDY_RUN)
    run.load_tables()
    run_page = report_html(STUDY_RUN)
    assert html.escape(RULE_CORE) in run_page and "<h2>Glossary</h2>" in run_page
    for line in run_summary.run_summary_of(run, aim_study.load_study(FRAPPE)):
        assert html.escape(line.partition(": ")[2]) in run_page, line
