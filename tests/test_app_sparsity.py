"""The choice of sparsity on validation in the app: ``aim/analysis/sparsity.py`` on hand-checkable candidates (run A
of tests/fixtures_app.py: search x = 0.1 / 0.2 / 0.4 at AUC .790 / .805 / .808, tolerance one standard error =
0.01247, so x = 0.2 is the sparsest inside the band), the Sparsity page (AppTest), the warnings banner of every
one-run page and the Runs table's marker, and the launch form's crossing-fraction and head flags. No training."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest

from aim import analysis, runs
from aim.config import RunConfig
from aim.config_fields import list_text
from aim.sparsity import auc_standard_error, parsimonious
from app import glossary, jobs
from tests.fixtures_app import (
    ID_A,
    ID_B,
    ID_C,
    ID_FAILED,
    ID_RUNNING,
    VALID_RATE,
    VALID_ROWS,
    WARNING_A,
    make_runs,
    open_app,
    point_app_at,
    sparsity,
)

META = {"status": "complete", "config": {"search": {"sparsity_se": 1.0, "grda_c": -1.0, "embed_grda_c": -1.0}},
        "dataset": {"rows": {"valid": VALID_ROWS}, "positive_rate": {"valid": VALID_RATE}}}
SE = auc_standard_error(0.808, 500, 1500)


# ------------------------------------------------------------------------------------------- the analysis

def test_the_fixture_table_has_the_columns_the_pipeline_writes():
    assert list(sparsity().columns) == runs.columns("sparsity")


def test_a_warm_started_final_candidate_is_labelled_warm():
    assert analysis.candidate_label({"embed_l2": 0.01, "start": "search"}, "final") == "L2 = 0.01, warm"
    assert analysis.candidate_label({"embed_l2": 0.01, "start": "scratch"}, "final") == "L2 = 0.01"
    assert analysis.candidate_label({"embed_l2": 0.01}, "final") == "L2 = 0.01"  # a run from before the start column


def test_run_warnings_are_a_list_of_strings_whatever_run_json_holds():
    assert analysis.run_warnings({"warnings": ["a", " ", None, "b "]}) == ["a", "b"]
    assert analysis.run_warnings({}) == [] and analysis.run_warnings({"warnings": {"x": 1}}) == []
    assert analysis.run_warnings({"warnings": "one"}) == ["one"]
    assert analysis.warning_mark({"warnings": ["a", "b"]}) == "⚠ 2" and analysis.warning_mark({}) == ""
    listed = analysis.warnings_table({"r1": {"warnings": ["a", "b"]}, "r2": {}, "r3": {"warnings": ["c"]}})
    assert listed.values.tolist() == [["r1", "a"], ["r1", "b"], ["r3", "c"]]


def test_tolerance_is_k_standard_errors_of_the_best_auc_on_the_validation_split():
    table = sparsity()
    search = table.loc[table["stage"] == "search", "valid_auc"]
    assert analysis.validation_counts(META) == (500, 1500)
    assert round(SE, 5) == 0.01247
    assert analysis.tolerance(META, "search", search) == pytest.approx(SE)
    two = {**META, "config": {"search": {"sparsity_se": 2}}}
    assert analysis.tolerance(two, "search", search) == pytest.approx(2 * SE)
    assert analysis.tolerance(META, "retrain", table.loc[table["stage"] == "retrain", "valid_auc"]) == 0.0
    assert analysis.tolerance(META, "search", search.iloc[:1]) == 0.0  # one candidate: nothing to tolerate
    assert analysis.tolerance({}, "search", search) is None  # no validation split recorded: no band
    assert analysis.sparsity_se({}) == 1.0  # the config default


def test_the_band_agrees_with_the_parsimony_rule_of_the_engine():
    table = sparsity()
    for stage in analysis.sparsity_stages(table):
        rows = table[table["stage"] == stage]
        tol = analysis.tolerance(META, stage, rows["valid_auc"])
        pick = parsimonious(list(rows["valid_auc"]), list(rows["size"] if stage != "retrain" else rows["embed_l2"]),
                            tol)
        assert rows["chosen"].tolist() == [i == pick for i in range(len(rows))], stage


def test_stage_frontier_labels_sorts_and_marks_the_band():
    table = sparsity()
    assert analysis.sparsity_stages(table.iloc[::-1]) == ["search", "embed", "retrain"]
    f = analysis.stage_frontier(table.iloc[::-1], "search", SE)
    assert f["label"].tolist() == ["x = 0.1", "x = 0.2", "x = 0.4"] and f["size"].tolist() == [2, 4, 7]
    assert f["chosen"].tolist() == [False, True, False] and f["within"].tolist() == [False, True, True]
    final = analysis.stage_frontier(table, "retrain", 0.0)
    assert final["label"].tolist() == ["L2 = 0", "L2 = 0.01", "L2 = 0.05"]
    assert final["within"].tolist() == [False, True, False]
    given = pd.DataFrame({"stage": ["search"], "candidate": [0], "cross": [None], "c": [0.12], "size": [3],
                          "valid_auc": [0.8], "chosen": ["True"]})  # a strength given as c; chosen read as text
    assert analysis.stage_frontier(given, "search")["label"].tolist() == ["c = 0.12"]
    assert analysis.single_candidate(given) and not analysis.single_candidate(table)


def test_prepared_table_orders_stages_reads_chosen_and_drops_empty_columns():
    table = sparsity()
    table["chosen"] = table["chosen"].map({True: "True", False: "False"})
    table["extra"] = None
    out = analysis.prepared_table(table.sample(frac=1, random_state=0))
    assert out["stage"].tolist() == ["search"] * 3 + ["embed"] * 3 + ["retrain"] * 3
    assert out["chosen"].sum() == 3 and out["chosen"].dtype == bool and "extra" not in out


def test_frontier_figure_marks_the_chosen_point_and_the_band():
    table = sparsity()
    fig = analysis.frontier_figure(analysis.stage_frontier(table, "search", SE), "search", SE)
    (chosen,) = [t for t in fig.data if t.name == "chosen"]
    assert list(chosen.x) == [4] and list(chosen.y) == [0.805] and chosen.marker.symbol == "star"
    assert list(chosen.text) == ["x = 0.2"]
    (others,) = [t for t in fig.data if t.name == "candidate"]
    assert list(others.x) == [2, 7] and list(others.text) == ["x = 0.1", "x = 0.4"]
    band = [s for s in fig.layout.shapes if s.type == "rect"]
    assert len(band) == 1 and band[0].y0 == pytest.approx(0.808 - SE) and band[0].y1 == pytest.approx(0.808)
    assert any("1 standard error" in (t.name or "") for t in fig.data)
    assert fig.layout.yaxis.range[0] < 0.790 and fig.layout.yaxis.range[1] > 0.808
    final = analysis.frontier_figure(analysis.stage_frontier(table, "retrain", 0.0), "retrain", 0.0)
    assert final.layout.xaxis.type == "category" and "4,000 parameters" in final.layout.xaxis.title.text
    assert not [s for s in final.layout.shapes if s.type == "rect"]  # the L2 grid takes the best: no band
    assert analysis.frontier_figure(analysis.stage_frontier(table, "nothing"), "nothing", None).layout.annotations


def test_choice_text_says_what_was_kept_and_why():
    table = sparsity()
    search = analysis.choice_text(analysis.stage_frontier(table, "search", SE), "search", SE)
    assert "**x = 0.2**" in search and "4 interaction-IF columns kept" in search and "sparsest" in search
    assert "x = 0.4 (0.8080" in search and f"{SE:.4f}" in search
    final = analysis.choice_text(analysis.stage_frontier(table, "retrain", 0.0), "retrain", 0.0)
    assert "**L2 = 0.01**" in final and "best validation AUC" in final
    summary = analysis.chosen_summary(table)
    assert summary["chosen"].tolist() == ["x = 0.2", "x = 0.5", "L2 = 0.01"]
    assert summary["candidates"].tolist() == [3, 3, 3]


def test_no_table_note_tells_an_old_run_from_an_unfinished_one():
    old = {"status": "complete", "config": {"search": {"grda_c": 0.12, "embed_grda_c": 0.04}}}
    note = analysis.no_table_note(old)
    assert "predates" in note and "one candidate per stage" in note and "search c 0.12, embed c 0.04" in note
    assert "has not written" in analysis.no_table_note({"status": "running"})


# -------------------------------------------------------------------------------------------- the app

@pytest.fixture(scope="module")
def fixture_runs(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sparsity_runs")
    make_runs(root)
    return root


@pytest.fixture
def env(fixture_runs, tmp_path, monkeypatch) -> Path:
    return point_app_at(fixture_runs, tmp_path, monkeypatch)


_app = open_app


def test_sparsity_page_draws_each_stage_with_the_chosen_point_and_the_table(env):
    at = _app(view="sparsity", run=ID_A)
    assert at.title[0].value == "Sparsity" and at.selectbox[0].value == ID_A
    assert [s.value for s in at.subheader] == ["Search interaction-IF (order 2)", "Search embed (EDS)",
                                               "Re-train: embedding L2", "Every candidate"]
    assert [m.value for m in at.metric] == ["x = 0.2", "x = 0.5", "L2 = 0.01"]
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert len(specs) == 3
    chosen = [[t for t in s["data"] if t.get("name") == "chosen"][0] for s in specs]
    assert [c["text"] for c in chosen] == [["x = 0.2"], ["x = 0.5"], ["L2 = 0.01"]]
    assert chosen[0]["marker"]["symbol"] == "star" and chosen[2]["x"] == ["0.01"]
    assert any(s["type"] == "rect" for s in specs[0]["layout"]["shapes"])
    table = at.dataframe[0].value
    assert len(table) == 9 and table["chosen"].sum() == 3
    text = " ".join(m.value for m in at.markdown)
    assert "crossing fraction" in text and "parsimony rule" in text and "sparsest within the tolerance" in text
    assert WARNING_A in at.warning[0].value


@pytest.mark.parametrize("run_id", [ID_B, ID_C])
def test_a_run_without_the_table_gets_a_note_not_an_error(env, run_id):
    at = _app(view="sparsity", run=run_id)
    assert "predates the choice of sparsity" in at.info[0].value
    assert not at.get("plotly_chart") and not at.dataframe and not at.warning


def test_the_sparsity_page_renders_every_fixture_run(env):
    at = _app(view="sparsity", run=ID_A)
    for rid in (ID_A, ID_B, ID_C, ID_RUNNING, ID_FAILED):
        at.query_params["run"] = rid
        at.run()
        assert not at.exception, (rid, [e.value for e in at.exception])
        assert at.selectbox[0].value == rid
    assert "out of memory" in at.error[0].value  # the failed run: its status banner, then the note


def test_a_running_run_says_it_has_not_written_the_candidates(env):
    at = _app(view="sparsity", run=ID_RUNNING)
    assert any("has not written its sparsity candidates" in i.value for i in at.info)


@pytest.mark.parametrize("view", ["interactions", "functions", "embeddings", "sparsity"])
def test_every_one_run_page_shows_the_runs_warnings(env, view):
    at = _app(view=view, run=ID_A)
    assert len(at.warning) == 1 and "recorded 1 warning" in at.warning[0].value and WARNING_A in at.warning[0].value
    assert not _app(view=view, run=ID_B).warning  # an older run has none


def test_runs_table_marks_runs_with_warnings_and_lists_them(env):
    at = _app(view="runs")
    table = at.dataframe[0].value.set_index("id")
    assert table.loc[ID_A, "warnings"] == "⚠ 1" and table.loc[ID_B, "warnings"] == ""
    assert "warnings" in list(at.dataframe[0].proto.column_order)
    config = json.loads(at.dataframe[0].proto.columns)
    assert config["warnings"]["label"] == "⚠" and config["warnings"]["help"]
    (listing,) = [e for e in at.expander if "Warnings of 1" in e.proto.label]
    assert WARNING_A in listing.markdown[0].value and f"sparsity?run={ID_A}" in listing.markdown[0].value


def test_launch_form_passes_crossing_fractions_and_head(tmp_path, monkeypatch):
    monkeypatch.setattr(jobs, "COMMAND", [sys.executable, "-c", "pass"])
    monkeypatch.setenv("AIM_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("AIM_CACHED_RUNS_DIR", str(tmp_path / "cached"))
    at = _app(view="launch")
    labels = [w.label for w in at.number_input]
    assert "GRDA c" not in labels and "GRDA μ" in labels
    default = RunConfig()
    assert any(f"tries {len(default.search.grda_cross)} strengths" in c.value and "min" in c.value
               for c in at.caption)  # the runtime hint
    fields = {w.label: w for w in at.text_input}
    assert fields["GRDA crossing fractions (search)"].value == list_text(default.search.grda_cross)
    assert fields["GRDA crossing fractions (embed)"].value == list_text(default.search.embed_grda_cross)
    fields["GRDA crossing fractions (search)"].set_value("0.3")
    fields["GRDA crossing fractions (embed)"].set_value("0.5, 1")
    next(w for w in at.selectbox if w.label == "Head").set_value("products")
    precision = next(w for w in at.selectbox if w.label == "Precision")
    assert precision.value == "fp32" and precision.proto.help == glossary.tip("precision")
    precision.set_value("bf16")
    at.button(key="launch_submit").click().run()
    assert not at.exception and "Started job" in at.success[0].value
    (job,) = jobs.list_jobs(tmp_path / "runs")
    args = job.args
    assert args[args.index("--precision") + 1] == "bf16" and job.config["train"]["precision"] == "bf16"
    assert "--grda-c" not in args
    assert args[args.index("--grda-cross") + 1] == "0.3" and args[args.index("--embed-grda-cross") + 1] == "0.5,1"
    assert args[args.index("--head") + 1] == "products" and job.config["model"]["head"] == "products"
    assert job.config["search"]["grda_cross"] == "0.3"


def test_launch_form_refuses_a_bad_crossing_fraction(tmp_path, monkeypatch):
    monkeypatch.setenv("AIM_RUNS_DIR", str(tmp_path / "runs"))
    at = _app(view="launch")
    next(w for w in at.text_input if w.label == "GRDA crossing fractions (search)").set_value("0.1,nope")
    at.button(key="launch_submit").click().run()
    assert "grda_cross" in at.error[0].value and not jobs.list_jobs(tmp_path / "runs")


def test_run_and_study_pages_offer_the_stakeholder_report(tmp_path, monkeypatch):
    from tests.fixtures_app import make_study

    make_runs(tmp_path / "runs")
    study = make_study(point_app_at(tmp_path / "runs", tmp_path, monkeypatch))
    for params in [{"view": "interactions", "run": ID_A}, {"view": "studies", "study": study.name}]:
        at = open_app(**params)
        buttons = [b for b in at.get("download_button") if b.proto.label == "Report (HTML)"]
        assert len(buttons) == 1, params
        assert "python -m aim report" in buttons[0].proto.help
