"""aim/analysis (runs, interactions, functions, embeddings, compare) and app/catalog.py: every table and figure
builder on hand-made runs with known values. The study views are in test_analysis_studies.py."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from aim import analysis as A
from aim.runs import load_run
from app import catalog
from tests.fixtures_app import (
    ALPHA_A,
    ID_A,
    ID_B,
    ID_C,
    ID_RUNNING,
    ID_STUDY,
    NAMES,
    STATS_AUC,
    interactions,
    make_runs,
)


@pytest.fixture(scope="module")
def fx(tmp_path_factory):
    return make_runs(tmp_path_factory.mktemp("analysis_runs"))


@pytest.fixture(scope="module")
def runs(fx):
    return {k: load_run(fx[k]) for k in ("a", "b", "c", "running", "failed")}


def _by_name(fig) -> dict:
    return {t.name.split(" (")[0]: t for t in fig.data}


# ------------------------------------------------------------------------------------------- catalog and table

def test_scan_classifies_runs_corrupt_foreign_and_studies(fx, tmp_path):
    scan = catalog.scan([("cached", fx["a"].parent), ("runs", tmp_path / "missing")])
    ids = {c.id for c in scan.candidates}
    assert {ID_A, ID_B, ID_C, ID_RUNNING, fx["bad_json"].name, fx["bad_csv"].name} <= ids
    assert [s.id for s in scan.studies] == [ID_STUDY]
    in_study = {c.id for c in scan.candidates if c.study == ID_STUDY}
    assert len(in_study) == 8 and all(c.path.parent.parent == fx["study"] for c in scan.candidates if c.study)
    assert [n.id for n in scan.ignored] == ["holiday_photos"] and "not a run" in scan.ignored[0].reason
    assert scan.missing_roots == [tmp_path / "missing"]
    run, problem = catalog.load(fx["bad_json"])
    assert run is None and "run.json" in problem and "not valid JSON" in problem
    run, problem = catalog.load(fx["bad_csv"])
    assert run is None and "interactions.csv" in problem and "missing columns" in problem
    assert catalog.load(fx["a"])[0].id == ID_A
    study, problem = catalog.load_study_folder(fx["study"])
    assert problem is None and study.status == "failed" and study.variants == ["deepfm", "aim", "deepfm-transfer"]
    assert catalog.study_mtime(fx["study"]) > 0 and catalog.study_mtime(tmp_path) == 0


def test_a_folder_of_studies_is_scanned_and_a_foreign_study_is_reported(fx, tmp_path):
    import shutil

    from aim.fileio import write_json

    shutil.copytree(fx["study"], tmp_path / "studies" / ID_STUDY)
    (tmp_path / "studies" / "broken").mkdir()
    write_json(tmp_path / "studies" / "broken" / "study.json", {"kind": "study", "id": "broken"})
    scan = catalog.scan([("runs", tmp_path)])
    assert [s.id for s in scan.studies] == ["broken", ID_STUDY] and not scan.ignored
    assert sum(c.study == ID_STUDY for c in scan.candidates) == 8
    study, problem = catalog.load_study_folder(tmp_path / "studies" / "broken")
    assert study is None and "missing keys" in problem
    again = catalog.scan([("cached", fx["a"].parent), ("runs", tmp_path)])  # the same study id in both roots
    assert [s.source for s in again.studies if s.id == ID_STUDY] == ["cached"]
    assert any(n.id == ID_STUDY and "same id" in n.reason for n in again.ignored)


def test_a_run_json_of_another_kind_is_corrupt_not_a_run(tmp_path):
    from aim.fileio import write_json

    (tmp_path / "s").mkdir()
    write_json(tmp_path / "s" / "run.json", {"schema_version": 1, "kind": "study", "id": "s", "status": "complete",
                                             "created": "", "config": {}, "versions": {}, "dataset": {}, "stages": {}})
    run, problem = catalog.load(tmp_path / "s")
    assert run is None and "kind is 'study'" in problem


def test_scan_reports_a_duplicate_id_once(fx, tmp_path):
    import shutil

    shutil.copytree(fx["a"], tmp_path / ID_A)
    scan = catalog.scan([("cached", fx["a"].parent), ("runs", tmp_path)])
    assert [c.source for c in scan.candidates if c.id == ID_A] == ["cached"]
    assert any(n.id == ID_A and "same id" in n.reason for n in scan.ignored)


def test_runs_table_rows_and_filters(runs):
    rows = [A.run_row(r.meta, {"stage": "search", "epoch": 2, "valid_auc": 0.7123, "gates_left": 8, "gates_total": 12},
                      "runs") for r in runs.values()]
    df = A.runs_table(rows)
    assert list(df.columns) == A.RUN_COLUMNS
    assert df["id"].iloc[0] == "synthetic__aim__seed3__20260105T000000"  # newest first
    a = df.set_index("id").loc[ID_A]
    assert (a["test_auc"], a["kept"], a["fi_ratio"], a["params"], a["progress"]) == (0.80, "3/6", 0.5, 4000, "")
    running = df.set_index("id").loc[ID_RUNNING]
    assert running["status"] == "running" and running["progress"] == "search epoch 2 · AUC 0.7123 · gates 8/12"
    assert math.isnan(running["test_auc"])
    killed = A.run_row(runs["running"].meta, None, "runs", job_ended="cancelled")
    assert (killed["status"], killed["progress"]) == ("interrupted", "job cancelled")
    assert A.run_row(runs["a"].meta, None, "runs", job_ended="complete")["status"] == "complete"
    assert set(A.filter_runs(df, variants=["deepfm"])["id"]) == {ID_C}
    assert set(A.filter_runs(df, statuses=["complete"], text="SEED1")["id"]) == {ID_B}
    assert len(A.filter_runs(df)) == len(df)
    in_study = A.runs_table([*rows, A.run_row({**runs["a"].meta, "id": "x"}, study="s1")])
    assert list(A.filter_runs(in_study, studies=["s1"])["id"]) == ["x"]
    noted = {**runs["a"].meta, "config": {**runs["a"].meta["config"], "note": "format demo"}}
    assert (A.run_row(noted)["note"], a["note"]) == ("format demo", "")  # the run's --note, '' without one
    assert len(A.filter_runs(in_study, studies=[""])) == len(rows)


# ------------------------------------------------------------------------------------------- Fig. 7

def test_alpha_points_per_column_one_point_per_column():
    pts = A.alpha_points(interactions(ALPHA_A), per="column")
    assert len(pts) == 12
    assert list(pts["abs_alpha"]) == [abs(a) for a in ALPHA_A]
    assert list(pts["stats_auc"]) == STATS_AUC * 2
    assert pts.loc[0, "functions_kept"] == "inner, outer"


def test_alpha_points_per_interaction_takes_the_largest_alpha():
    pts = A.alpha_points(interactions(ALPHA_A), per="interaction").set_index("field_names")
    assert len(pts) == 6
    assert pts.loc["user × item", "abs_alpha"] == 0.9 and pts.loc["user × item", "function"] == "inner"
    assert pts.loc["item × noise", "abs_alpha"] == 0.7 and pts.loc["item × noise", "function"] == "outer"
    assert pts.loc["item × noise", "kept"] == 1 and pts.loc["user × hour", "kept"] == 0
    only_outer = A.alpha_points(interactions(ALPHA_A), per="interaction", functions=["outer"]).set_index("field_names")
    assert only_outer.loc["user × item", "abs_alpha"] == 0.3 and only_outer.loc["item × hour", "kept"] == 0
    assert A.alpha_points(interactions(ALPHA_A), orders=[3]).empty
    with pytest.raises(ValueError, match="per="):
        A.alpha_points(interactions(ALPHA_A), per="pair")


def test_alpha_scatter_splits_kept_dropped_and_marks_planted():
    pts = A.alpha_points(interactions(ALPHA_A), per="column")
    fig = A.alpha_scatter(pts)
    traces = _by_name(fig)
    assert set(traces) == {"kept", "dropped", "planted"}
    assert sorted(traces["kept"].y) == [0.3, 0.5, 0.7, 0.9]
    assert list(traces["kept"].x) == [0.70, 0.65, 0.70, 0.60]
    assert len(traces["dropped"].x) == 8
    assert len(traces["planted"].x) == 4  # user×item and item×hour, both functions
    assert [c[0] for c in traces["kept"].customdata] == ["0", "3", "6", "10"]
    assert "user × item" in traces["kept"].hovertext[0] and "statistics AUC 0.7000" in traces["kept"].hovertext[0]
    assert fig.layout.xaxis.title.text == "statistics AUC" and fig.layout.yaxis.title.text == "gate |α|"
    assert A.alpha_scatter(pts.iloc[:0]).layout.annotations[0].text == "no interactions match the filters"


def test_selected_keys_from_a_streamlit_selection():
    points = [{"customdata": ["3"], "x": 1}, {"customdata": ["0"]}, {"customdata": ["3"]}, {"x": 2}]
    assert A.selected_keys(points) == ["3", "0"]


@pytest.mark.parametrize("n, ties", [(3, False), (7, True), (45, True), (120, False), (400, True)])
def test_spearman_without_scipy_equals_scipy(n, ties):
    """The Interactions page's ρ and p (aim.analysis.rank, no scipy import) against the slow reference,
    scipy.stats.spearmanr, with and without tied values."""
    from scipy import stats

    from aim.analysis.rank import spearman_rho_p

    rng = np.random.default_rng(n)
    for trial in range(20):
        x = rng.normal(size=n)
        y = 0.3 * trial / 20 * x + rng.normal(size=n)
        if ties:
            x, y = np.round(x, 1), np.round(np.abs(y), 1)  # |α| has many exact zeros and repeats
        want = stats.spearmanr(x, y)
        rho, p = spearman_rho_p(x, y)
        assert rho == pytest.approx(want.statistic, abs=1e-12)
        assert p == pytest.approx(want.pvalue, rel=1e-9, abs=1e-14)


def test_student_t_tail_equals_scipy():
    from scipy import stats

    from aim.analysis.rank import t_two_sided_p

    for dof in (1, 2, 5, 43, 118, 1000):
        for t in (0.0, 0.1, 1.0, 2.5, 7.0, 30.0, -4.0):
            assert t_two_sided_p(t, dof) == pytest.approx(2 * stats.t.sf(abs(t), dof), rel=1e-9, abs=1e-300)


def test_spearman_on_fixed_data():
    df = pd.DataFrame({"stats_auc": [1, 2, 3, 4, 5], "abs_alpha": [2, 1, 4, 3, 5]})
    rho, p, n = A.spearman(df)
    assert rho == pytest.approx(0.8) and n == 5 and 0 < p < 1
    assert A.spearman(df.assign(abs_alpha=[5, 4, 3, 2, 1]))[0] == pytest.approx(-1.0)
    assert math.isnan(A.spearman(df.iloc[:2])[0])
    assert math.isnan(A.spearman(df.assign(abs_alpha=0.0))[0])


def test_baseline_has_no_alpha():
    assert not A.has_alpha(interactions(None)) and A.has_alpha(interactions(ALPHA_A))
    assert A.has_planted(interactions(None))


# ------------------------------------------------------------------------------------------- field maps

def test_alpha_matrix_values_and_hover_at_known_cells():
    values, hover = A.alpha_matrix(interactions(ALPHA_A), NAMES)
    assert values.loc["user", "item"] == values.loc["item", "user"] == 0.9
    assert values.loc["item", "noise"] == 0.7 and values.loc["user", "noise"] == 0.0
    assert math.isnan(values.loc["user", "user"])
    assert "kept functions: inner (α 0.900), outer (α 0.300)" in hover.loc["user", "item"]
    assert "kept functions: none" in hover.loc["user", "hour"]
    outer, _ = A.alpha_matrix(interactions(ALPHA_A), NAMES, functions=["outer"])
    assert outer.loc["user", "item"] == 0.3
    fig = A.field_heatmap(values, hover)
    assert fig.data[0].z[0][1] == 0.9 and list(fig.data[0].x) == NAMES


def test_field_names_fall_back_to_the_interaction_table():
    assert A.field_names_of(interactions(ALPHA_A)) == NAMES


def test_delta_alpha_matrix_is_b_minus_a():
    delta = A.delta_alpha_matrix(interactions(ALPHA_A), interactions([0.4] * 12), NAMES)
    assert delta.loc["user", "item"] == pytest.approx(0.4 - 0.9)
    assert delta.loc["user", "hour"] == pytest.approx(0.4)
    fig = A.field_heatmap(delta, diverging=True)
    assert fig.data[0].zmid == 0


# ------------------------------------------------------------------------------------------- snapshots

def test_trajectories_and_gate_counts(runs):
    frame = A.snapshot_frame(runs["a"].snapshots, runs["a"].interactions)
    gates = A.gates_over_time(frame)
    assert list(gates["nonzero"]) == [12, 8, 4] and list(gates["step"]) == [10, 20, 30]
    fig = A.alpha_trajectories(frame)
    traces = {t.name: t for t in fig.data}
    assert set(traces) == {"dropped", "kept · inner", "kept · outer"}
    # two kept inner columns, three snapshots each plus a gap
    assert len(traces["kept · inner"].y) == 8 and np.isnan(traces["kept · inner"].y[3])
    assert list(traces["kept · inner"].y[:3]) == pytest.approx([0.6, 0.6, 0.9])
    assert traces["dropped"].hoverinfo == "skip" and traces["dropped"].text is None  # no per-point hover text
    assert list(traces["kept · inner"].text[:2]) == [traces["kept · inner"].text[0]] * 2
    replay = A.sparsification_replay(frame)
    assert len(replay.frames) == 3 and replay.layout.title.text == "step 10: 12/12 non-zero gates"
    assert replay.frames[-1].layout.title.text == "step 30: 4/12 non-zero gates"
    assert list(replay.frames[-1].data[0].y) == [abs(a) for a in ALPHA_A]
    assert len(A.sparsification_replay(frame, max_frames=2).frames) == 2


def test_snapshots_of_several_search_stages_stay_apart(runs):
    snaps = runs["a"].snapshots
    later = snaps.assign(stage="search3", column=snaps["column"] + 100, alpha=0.0)
    both = pd.concat([snaps, later], ignore_index=True)
    assert A.snapshot_stages(both) == ["search", "search3"]
    assert list(A.gates_over_time(A.snapshot_frame(both, runs["a"].interactions))["nonzero"]) == [12, 8, 4]
    third = A.snapshot_frame(both, runs["a"].interactions, "search3")
    assert set(third["column"]) == set(range(100, 112)) and (A.gates_over_time(third)["nonzero"] == 0).all()


# ------------------------------------------------------------------------------------------- Fig. 8

def test_function_frequency_fractions_of_kept_interactions():
    freq = A.function_frequency(interactions(ALPHA_A)).set_index("function")
    # kept pairs: user×item (inner, outer), item×hour (inner), item×noise (outer)
    assert freq.loc["inner", "interactions"] == 2 and freq.loc["outer", "interactions"] == 2
    assert freq.loc["inner", "fraction"] == pytest.approx(2 / 3)
    assert (freq["kept_interactions"] == 3).all()
    fig = A.function_frequency_figure(freq.reset_index())
    assert [t.name for t in fig.data] == ["order 2"] and list(fig.data[0].x) == ["inner", "outer"]


def test_functions_per_interaction_counts_kept_functions():
    per = A.functions_per_interaction(interactions(ALPHA_A)).set_index("field_names")
    assert per.loc["user × item", "n_functions"] == 2 and per.loc["item × hour", "n_functions"] == 1
    assert per.loc["user × hour", "n_functions"] == 0 and per.loc["user × item", "stats_auc"] == 0.70
    fig = A.functions_vs_auc_figure(per.reset_index())
    boxes = {t.name: list(t.y) for t in fig.data}
    assert boxes == {"0": [0.52, 0.50, 0.51], "1": [0.65, 0.60], "2": [0.70]}


# ------------------------------------------------------------------------------------------- embeddings

def test_embedding_views(runs):
    fields, meta = runs["a"].fields, runs["a"].meta
    dim = A.embed_dim_of(meta, fields)
    assert dim == 4
    m = A.positions_matrix(fields, dim)
    assert m.loc["item"].tolist() == [1, 0, 1, 1] and m.loc["hour"].tolist() == [0, 1, 0, 0]
    assert m.loc["noise"].sum() == 0
    fig = A.embedding_scatter(fields, dim)
    assert list(fig.data[0].x) == [100, 1000, 24, 10] and list(fig.data[0].y) == [4, 3, 1, 0]
    assert fig.layout.xaxis.type == "log"
    assert A.positions_heatmap(m).data[0].z.tolist() == m.to_numpy().tolist()
    assert A.params_summary(meta) == {"before_eds": 10_000, "after_eds": 4_000, "embedding": 2_000, "saved": 6_000,
                                      "factor": 2.5}
    assert A.params_summary({})["factor"] is None


# ------------------------------------------------------------------------------------------- comparing

def test_metric_deltas_against_a_reference(runs):
    d = A.metric_deltas({r.id: r.meta for r in (runs["a"], runs["b"], runs["running"])}, ID_B).set_index("run")
    assert d.loc[ID_A, "Δ test_auc"] == pytest.approx(0.02)
    assert d.loc[ID_A, "Δ test_logloss"] == pytest.approx(-0.02)
    assert d.loc[ID_A, "Δ params"] == -1000 and d.loc[ID_A, "Δ kept_interactions"] == -1
    assert d.loc[ID_B, "Δ test_auc"] == 0
    assert math.isnan(d.loc[ID_RUNNING, "Δ test_auc"])
    bars = A.metric_bars(d.reset_index(), "test_auc", A.run_colors(d.index))
    assert list(bars.data[0].y) == [0.80, 0.78] and bars.data[0].marker.color[0] == A.run_colors(d.index)[ID_A]


def test_config_diff_returns_only_differing_keys(runs):
    diff = A.config_diff({r.id: r.meta["config"] for r in (runs["a"], runs["b"])})
    assert list(diff.index) == ["search.grda_c", "seed"]
    assert diff.loc["seed"].tolist() == [0, 1]
    assert A.config_diff({ID_A: runs["a"].meta["config"], "x": runs["a"].meta["config"]}).empty
    assert A.flatten({"a": {"b": 1, "c": [1, 2]}}) == {"a.b": 1, "a.c": "1,2"}
    assert A.config_diff({"x": {"a": 1}, "y": {}}).loc["a"].tolist() == [1, None]


def test_overlap_counts_and_table(runs):
    kept = {r: A.kept_interactions(runs[r].interactions) for r in ("a", "b", "c")}
    assert kept["a"] == {"user × item", "item × hour", "item × noise"}
    counts = A.overlap_counts(kept)
    assert counts.loc["a", "b"] == 3 and counts.loc["b", "b"] == 4 and counts.loc["c", "c"] == 6
    assert A.overlap_summary(kept) == {"all": 3, "any": 6, "only a": 0, "only b": 0, "only c": 2}
    table = A.overlap_table(kept)
    assert table.loc["user × hour"].tolist() == [False, True, True, 2]
    assert table["runs"].iloc[0] == 3


def test_alpha_pairs_match_by_name_and_function(runs):
    pairs = A.alpha_pairs(runs["a"].interactions, runs["b"].interactions, per="column").set_index("key")
    assert len(pairs) == 12
    assert pairs.loc["user × item · inner", ["abs_alpha_a", "abs_alpha_b"]].tolist() == [0.9, 0.8]
    per = A.alpha_pairs(runs["a"].interactions, runs["b"].interactions, per="interaction").set_index("key")
    assert per.loc["item × hour", ["abs_alpha_a", "abs_alpha_b"]].tolist() == [0.5, 0.4]
    fig = A.alpha_pairs_figure(pairs.reset_index(), ID_A, ID_B)
    names = {t.name.split(" (")[0] for t in fig.data}
    assert names == {"kept in both", "kept only in A", "kept only in B", "dropped in both", "y = x"}
    baseline = A.alpha_pairs(runs["a"].interactions, runs["c"].interactions)
    assert A.alpha_pairs_figure(baseline, "a", "c").layout.annotations


def test_grouped_by_run_figures_use_the_run_colours(runs):
    colors = A.run_colors([ID_A, ID_B])
    freq = A.function_frequency_by_run({runs[k].id: runs[k].interactions for k in ("a", "b")})
    assert len(freq) == 4 and freq.set_index(["run", "function"]).loc[(ID_B, "inner"), "interactions"] == 2
    fig = A.function_frequency_figure(freq, by="run", colors=colors)
    assert [t.name for t in fig.data] == [ID_A, ID_B] and fig.data[0].marker.color == colors[ID_A]
    sizes = A.embedding_sizes_by_run({ID_A: runs["a"].fields, ID_B: runs["b"].fields})
    assert sizes.set_index(["run", "name"]).loc[(ID_B, "hour"), "dims_kept"] == 2
    fig = A.embedding_sizes_figure(sizes, colors)
    assert fig.data[1].marker.color == colors[ID_B] and list(fig.data[0].y) == [4, 3, 1, 0]


def test_run_colours_are_stable_and_distinct_within_a_set():
    ids = [f"run{i}" for i in range(6)]
    assert A.run_color("x") == A.run_color("x") and A.run_color("x") in A.PALETTE
    colors = A.run_colors(ids)
    assert len(set(colors.values())) == 6 and colors == A.run_colors(reversed(ids))
    lone = A.run_colors(["run0"])
    assert lone["run0"] == A.run_color("run0")


def test_figures_export_as_standalone_html():
    html = A.figure_html(A.alpha_scatter(A.alpha_points(interactions(ALPHA_A))))
    assert "<html>" in html[:50] and "cdn.plot.ly" in html and "user \\u00d7 item" in html


def test_progress_text():
    assert A.progress_text(None) == ""
    assert A.progress_text({"stage": "retrain", "epoch": 1, "valid_auc": 0.5}) == "retrain epoch 1 · AUC 0.5000"


def test_progress_text_within_an_epoch():
    p = {"stage": "retrain", "epoch": 3, "step": 45, "steps": 180, "rows_per_s": 9000, "eta_s": 12.4}
    assert A.progress_text(p) == "retrain epoch 3 · 25% of the epoch · epoch ETA 12s"
