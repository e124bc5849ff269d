"""aim/analysis/studies.py on the fixture study of tests/fixtures_app.py (deepfm, aim, deepfm-transfer × seeds 0-2;
aim seed 2 failed, deepfm-transfer seed 2 never run): hand-computable means, stds, p-values and trace values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from aim import analysis as A
from aim import study as aim_study
from aim.fileio import read_json
from tests.fixtures_app import ID_STUDY, STUDY_AUC, STUDY_LOGLOSS, make_study


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return aim_study.load_study(make_study(tmp_path_factory.mktemp("study")))


@pytest.fixture(scope="module")
def metas(study):
    return {v: {s: (None if (p := study.runs[v][s]) is None else {**read_json(p / "run.json"), "id": p.name})
                for s in study.seeds} for v in study.variants}


@pytest.fixture(scope="module")
def values(metas):
    return A.seed_values(metas)


@pytest.fixture(scope="module")
def summary(metas):
    return A.live_summary(metas)


def _p(a, b):
    return stats.ttest_ind(a, b, equal_var=True).pvalue


def test_seed_values_grid_and_counts(values):
    assert len(values) == 9 and list(values.columns) == ["variant", "seed", "run", "status", "test_auc", "test_logloss"]
    by = values.set_index(["variant", "seed"])
    assert by.loc[("aim", 2), "status"] == "failed" and math.isnan(by.loc[("aim", 2), "test_auc"])
    assert by.loc[("deepfm-transfer", 2), "status"] == "missing" and by.loc[("deepfm-transfer", 2), "run"] == ""
    assert by.loc[("deepfm", 1), "test_auc"] == 0.80 and by.loc[("aim", 1), "test_logloss"] == 0.41
    assert A.run_counts(values) == {"total": 9, "complete": 7, "failed": 1, "missing": 1}
    grid = A.run_grid(values)
    assert list(grid.index) == ["deepfm", "aim", "deepfm-transfer"] and list(grid.columns) == ["seed 0", "seed 1",
                                                                                                 "seed 2"]
    assert grid.loc["aim", "seed 2"] == "failed" and grid.loc["deepfm", "seed 2"] == "complete"


def test_live_summary_counts_only_complete_runs_and_matches_the_saved_one(study, summary):
    s = summary.set_index("variant")
    assert list(s["n"]) == [3, 2, 2]
    assert s.loc["deepfm", "auc_mean"] == pytest.approx(0.79) and s.loc["deepfm", "auc_std"] == pytest.approx(0.01)
    assert s.loc["aim", "auc_mean"] == pytest.approx(0.83) and s.loc["aim", "auc_std"] == pytest.approx(0.02 / 2**0.5)
    assert s.loc["aim", "p_auc"] == pytest.approx(_p([0.82, 0.84], STUDY_AUC["deepfm"]))
    assert math.isnan(s.loc["deepfm", "p_auc"]) and not s["significant"].any()
    assert s.loc["aim", "params_after_eds"] == 4000 and s.loc["aim", "fi_ratio_order2"] == 0.5
    pd.testing.assert_frame_equal(summary, study.summary, check_dtype=False)  # as written by the study


def test_ablation_table_shows_mean_std_runs_and_p(summary):
    table = A.ablation_table(summary, seeds=3).set_index("variant")
    assert list(table.index) == ["deepfm", "aim", "deepfm-transfer"]
    assert list(table["kind"]) == ["best baseline", "aim", "transfer"]
    assert list(table["runs"]) == ["3 / 3", "2 / 3", "2 / 3"]
    assert table.loc["deepfm", "AUC"] == "0.7900 ± 0.0100" and table.loc["aim", "AUC"] == "0.8300 ± 0.0141"
    assert table.loc["aim", "log loss"] == "0.4200 ± 0.0141"
    assert table.loc["aim", "p (AUC)"] == pytest.approx(_p([0.82, 0.84], STUDY_AUC["deepfm"]))
    assert list(table["FI ratio order 2"]) == [1.0, 0.5, 0.5] and list(table["params after EDS"]) == [8000, 4000, 4000]
    assert list(table["train s/epoch"]) == [2.0, 4.0, 4.0]
    odd = summary.assign(params_after_eds=summary["params_after_eds"] + 0.4, params_before_eds=math.nan)
    shown = A.ablation_table(odd, seeds=3)
    assert list(shown["params after EDS"]) == [8000, 4000, 4000] and shown["params"].isna().all()  # means, whole


def test_ablation_table_marks_significance_in_both_directions(summary):
    s = summary.copy()
    s.loc[1, ["p_auc", "p_logloss"]] = 0.001  # aim: AUC up, log loss down: both better
    s.loc[2, ["auc_mean", "p_auc"]] = [0.70, 0.004]  # transfer: AUC significantly worse
    table = A.ablation_table(s, seeds=3).set_index("variant")
    assert table.loc["aim", "AUC"].endswith("*") and table.loc["aim", "log loss"].endswith("*")
    assert table.loc["deepfm-transfer", "AUC"].endswith("†") and table.loc["deepfm", "AUC"][-1].isdigit()
    fig = A.study_metric_figure(s, A.seed_values({}), "auc")
    assert list(fig.layout.xaxis.ticktext) == ["deepfm", "aim *", "deepfm-transfer †"]
    assert A.ablation_table(summary.iloc[:0], seeds=3).empty


def test_study_metric_figure_bars_error_bars_seeds_and_reference(summary, values):
    fig = A.study_metric_figure(summary, values, "auc")
    traces = {t.name: t for t in fig.data}
    assert list(traces) == ["baseline", "AIM", "transfer", "seeds"]
    assert list(traces["baseline"].x) == ["deepfm"] and list(traces["baseline"].y) == pytest.approx([0.79])
    assert list(traces["baseline"].error_y.array) == pytest.approx([0.01])
    assert list(traces["AIM"].y) == pytest.approx([0.83]) and traces["AIM"].error_y.array[0] == pytest.approx(0.014142, 1e-4)
    assert list(traces["transfer"].y) == pytest.approx([0.805])
    assert sorted(traces["seeds"].y) == sorted(v for aucs in STUDY_AUC.values() for v in aucs if v is not None)
    assert fig.layout.shapes[0].y0 == pytest.approx(0.79)  # the best-baseline line
    assert not [t for t in fig.data if t.type == "bar"]  # a zoomed axis: means as marks, never bars
    lo, hi = fig.layout.yaxis.range
    assert lo < 0.78 and hi > 0.84 and hi - lo < 0.2  # zoomed to the data, every seed visible
    assert list(fig.layout.xaxis.categoryarray) == ["deepfm", "aim", "deepfm-transfer"]
    loss = {t.name: t for t in A.study_metric_figure(summary, values, "logloss").data}
    assert list(loss["AIM"].y) == pytest.approx([0.42]) and len(loss["seeds"].y) == 7
    assert sorted(loss["seeds"].y) == sorted(v for ll in STUDY_LOGLOSS.values() for v in ll if v is not None)


def test_figures_of_a_study_without_complete_runs_say_so(metas):
    nothing = {v: {s: None for s in by_seed} for v, by_seed in metas.items()}
    empty = A.live_summary(nothing)
    for fig in (A.study_metric_figure(empty, A.seed_values(nothing)), A.fi_ratio_figure(empty),
                A.transfer_figure(empty.iloc[:0])):
        assert not fig.data and fig.layout.annotations[0].text.startswith("no ")


def test_fi_ratio_figure_one_trace_per_order_with_values(summary):
    fig = A.fi_ratio_figure(summary.assign(fi_ratio_order3=[np.nan, 0.25, np.nan]))
    traces = {t.name: t for t in fig.data}
    assert list(traces) == ["order 2", "order 3"]
    assert list(traces["order 2"].y) == [1.0, 0.5, 0.5] and list(traces["order 2"].text) == ["100%", "50%", "50%"]
    assert traces["order 3"].y[1] == 0.25 and list(traces["order 3"].text) == ["", "25%", ""]
    assert [t.name for t in A.fi_ratio_figure(summary.assign(fi_ratio_order3=np.nan)).data] == ["order 2"]


def test_transfer_rows_next_to_the_plain_model(summary, values):
    table = A.transfer_table(summary, values)
    assert len(table) == 1
    row = table.iloc[0]
    assert (row["model"], row["transfer"]) == ("deepfm", "deepfm-transfer")
    assert row["plain auc"] == pytest.approx(0.79) and row["transfer auc"] == pytest.approx(0.805)
    assert row["Δ auc"] == pytest.approx(0.015) and row["Δ logloss"] == pytest.approx(0.46 - 0.46)
    assert row["p (auc)"] == pytest.approx(_p([0.80, 0.81], STUDY_AUC["deepfm"]))
    fig = A.transfer_figure(summary)
    traces = {t.name: t for t in fig.data}
    assert list(traces["plain"].y) == pytest.approx([0.79]) and list(traces["transfer"].y) == pytest.approx([0.805])
    assert list(traces["transfer"].x) == ["deepfm"] and list(traces["transfer"].hovertext) == ["deepfm-transfer"]
    assert list(traces["plain"].error_y.array) == pytest.approx([0.01])
    assert A.transfer_table(summary[summary["variant"] != "deepfm-transfer"], values).empty


def test_study_rows_for_the_runs_page(study, values):
    row = A.study_row(study.meta, A.run_counts(values), "cached")
    assert (row["id"], row["status"], row["seeds"], row["best baseline"]) == (ID_STUDY, "failed", 3, "deepfm")
    assert row["runs complete"] == "7 / 9" and row["not complete"] == "1 failed, 1 missing"
    table = A.studies_table([row, {**row, "id": "older", "created": pd.Timestamp("2020-01-01", tz="UTC")}])
    assert list(table["id"]) == [ID_STUDY, "older"] and list(table.columns) == A.studies.STUDY_COLUMNS


def test_the_downloads_are_the_cli_tables_of_the_same_summary(summary):
    assert "0.8300 $\\pm$ 0.0141" in aim_study.format_table(summary, "latex")
    assert aim_study.format_table(summary, "csv").splitlines()[0].startswith("variant,n,auc_mean,auc_std")
    assert [A.variant_kind(v) for v in ("fm", "aim-eds-se", "ipnn-transfer")] == ["baseline", "aim", "transfer"]
