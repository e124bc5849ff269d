"""The independent pair ranking (aim/reference.py), its place in a run (ref_score, run.json reference) and the
analysis that sets it beside α (aim/analysis/reference.py)."""

import dataclasses
import itertools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from aim import analysis
from aim.config import RunConfig, SearchConfig, SyntheticConfig
from aim.data.synthetic import generate
from aim.pipeline import execute
from aim.reference import reference_scores, sample_rows
from aim.runs import load_run


@pytest.fixture(scope="module")
def tiny_data():
    return generate(SyntheticConfig(rows=6000, fields=5, noise_fields=1, planted_pairs=1, vocab=10, signal=2.0))


@pytest.mark.parametrize("method", ["shap", "fast"])
def test_the_planted_pair_ranks_first(tiny_data, method):
    X, y = tiny_data.train.X, tiny_data.train.y
    pairs = list(itertools.combinations(range(X.shape[1]), 2))
    scores = reference_scores(X, y, pairs, method=method, seed=0)
    assert scores.shape == (len(pairs),) and np.isfinite(scores).all()
    assert pairs[int(np.argmax(scores))] == tiny_data.truth.interactions[0]


@pytest.mark.parametrize("method", ["shap", "fast"])
def test_deterministic_and_leaves_the_global_random_states_alone(tiny_data, method):
    X, y = tiny_data.train.X, tiny_data.train.y
    pairs = [(0, 1), (1, 2, 3), (2, 4)]
    np.random.seed(5)
    torch.manual_seed(5)
    before = np.random.get_state()[1].copy(), torch.get_rng_state().clone()
    a = reference_scores(X, y, pairs, method=method, seed=3, cap=2000)
    assert (np.random.get_state()[1] == before[0]).all() and torch.equal(torch.get_rng_state(), before[1])
    b = reference_scores(X, y, pairs, method=method, seed=3, cap=2000)
    np.testing.assert_array_equal(a, b)
    assert math.isnan(a[1]) and np.isfinite(a[[0, 2]]).all()  # order 3: no score


def test_sample_rows_caps_with_its_own_generator():
    assert sample_rows(100, seed=0, cap=200) is None and sample_rows(100, seed=0, cap=0) is None
    rows = sample_rows(1000, seed=1, cap=10)
    assert len(rows) == 10 and (np.diff(rows) > 0).all()
    np.testing.assert_array_equal(rows, sample_rows(1000, seed=1, cap=10))


def test_config_switch_and_old_configs_still_match():
    assert SearchConfig().reference == "shap"
    with pytest.raises(Exception, match="reference"):
        SearchConfig(reference="lime")
    old = RunConfig().to_json()
    del old["search"]["reference"]
    # it changes no result, so a config from before the switch still equals today's (a study reuses such runs)
    assert RunConfig.from_json(old) == RunConfig()


@pytest.fixture(scope="module")
def on_off(tmp_path_factory, tiny_config):
    """The tiny aim run with the reference (default) and without it (search.reference none)."""
    root = tmp_path_factory.mktemp("ref_runs")
    on = load_run(execute(tiny_config("aim"), root / "on", log=lambda _: None))
    cfg_off = tiny_config("aim")
    cfg_off = cfg_off.replace(search=dataclasses.replace(cfg_off.search, reference="none"))
    return on, load_run(execute(cfg_off, root / "off", log=lambda _: None))


def test_a_run_writes_ref_score_and_the_same_result_without_it(on_off):
    on, off = on_off
    inter = on.interactions
    order2 = inter["order"] == 2
    assert inter.loc[order2, "ref_score"].notna().all()
    ref = on.meta["reference"]
    assert ref["name"] == "shap" and ref["seconds"] >= 0 and ref["rows"] == on.meta["dataset"]["rows"]["train"]
    assert "ref_score" not in off.interactions.columns and "reference" not in off.meta
    # the reference changes nothing else: metrics, every other column, the gates
    assert on.meta["metrics"] == off.meta["metrics"]
    pd.testing.assert_frame_equal(inter.drop(columns="ref_score"), off.interactions)


# ------------------------------------------------------------------------------------------------ analysis

def _inter() -> pd.DataFrame:
    """Four pairs (two functions each) and one triple: kept 0 1 and 2 3; planted 0 1 and 1 2."""
    rows = [  # fields, function, alpha, kept, stats_auc, planted, ref_score
        ("0 1", "inner", 0.9, 1, 0.70, 1, 0.30), ("0 1", "outer", -0.2, 0, 0.70, 1, 0.30),
        ("1 2", "inner", 0.0, 0, 0.60, 1, 0.20), ("1 2", "outer", 0.0, 0, 0.60, 1, 0.20),
        ("2 3", "inner", 0.5, 1, 0.55, 0, 0.01), ("2 3", "outer", 0.0, 0, 0.55, 0, 0.01),
        ("0 3", "inner", 0.1, 0, 0.52, 0, 0.05), ("0 3", "outer", 0.0, 0, 0.52, 0, 0.05),
        ("0 1 2", "inner", 0.3, 1, 0.71, 0, float("nan")),
    ]
    df = pd.DataFrame(rows, columns=["fields", "function", "alpha", "kept", "stats_auc", "planted", "ref_score"])
    names = {"0": "a", "1": "b", "2": "c", "3": "d"}
    return df.assign(column=range(len(df)), order=[len(f.split()) for f in df["fields"]],
                     field_names=[" × ".join(names[i] for i in f.split()) for f in df["fields"]],
                     interaction_kept=0)


def test_reference_points_one_per_pair_with_ranks():
    pts = analysis.reference_points(_inter())
    assert list(pts["fields"]) == ["0 1", "1 2", "2 3", "0 3"]
    assert list(pts["abs_alpha"]) == [0.9, 0.0, 0.5, 0.1]
    assert list(pts["ref_score"]) == [0.30, 0.20, 0.01, 0.05]
    assert list(pts["ref_rank"]) == [1, 2, 4, 3]
    assert analysis.has_reference(_inter()) and not analysis.has_reference(_inter().drop(columns="ref_score"))
    assert analysis.reference_points(_inter().drop(columns="ref_score")).empty


def test_spearman_overlap_and_recovery_exact():
    pts = analysis.reference_points(_inter())
    rho, p, n = analysis.reference_spearman(pts)
    # ranks of |α| (0.9, 0, 0.5, 0.1) = 4 1 3 2; of the score (0.3, 0.2, 0.01, 0.05) = 4 3 1 2: ρ = 1 - 6·8/60
    assert n == 4 and rho == pytest.approx(0.2) and 0 < p < 1
    ov = analysis.kept_overlap(pts)
    assert ov == {"k": 2, "hits": 1, "kept": ["a × b", "c × d"], "top": ["a × b", "b × c"], "missed": ["c × d"]}
    assert analysis.planted_recovery(pts, "ref_score") == (2, 2)
    assert analysis.planted_recovery(pts, "abs_alpha") == (1, 2)
    assert analysis.planted_recovery(pts, "stats_auc") == (2, 2)
    text = analysis.reference_summary(pts, "FAST")
    assert "0.200" in text and "1 of the 2 kept pairs" in text and "c × d" in text
    none_kept = analysis.reference_summary(pts.assign(kept=0, abs_alpha=0.0), "FAST")
    assert "n/a" in none_kept and "FAST's strongest pairs: a × b, b × c, a × d" in none_kept


def test_reference_scatter_traces_and_empty():
    pts = analysis.reference_points(_inter())
    fig = analysis.reference_scatter(pts, "FAST")
    assert [t.name for t in fig.data] == ["kept (2)", "dropped (2)", "planted (2)"]
    assert list(fig.data[0].x) == [0.30, 0.01] and list(fig.data[0].y) == [0.9, 0.5]
    assert "FAST score" in fig.layout.xaxis.title.text
    empty = analysis.reference_scatter(pts.iloc[0:0], "FAST")
    assert "no order-2 pair" in empty.layout.annotations[0].text
    table = analysis.reference_table(pts)
    assert list(table["field_names"]) == ["a × b", "b × c", "a × d", "c × d"]
    text = analysis.reference_caption({"reference": {"name": "fast", "short": "FAST", "rows": 48000, "seconds": 0.8}})
    assert "InterpretML" in text and "48,000 training rows in 0.8 s" in text and "FAST's support" in text


def test_the_interactions_page_shows_the_check_only_when_present(on_off, monkeypatch, tmp_path):
    from streamlit.testing.v1 import AppTest

    from tests.test_app import APP

    on, off = on_off
    monkeypatch.setenv("AIM_STUDIES_DIR", str(tmp_path / "no_studies"))
    monkeypatch.setenv("AIM_CACHED_RUNS_DIR", str(tmp_path / "no_cached_runs"))
    for run, shown in ((on, True), (off, False)):
        monkeypatch.setenv("AIM_RUNS_DIR", str(run.path.parent))
        at = AppTest.from_file(APP, default_timeout=120)
        at.query_params.update(view="interactions", run=run.path.name)
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        heads = [h.value for h in at.subheader]
        assert any(h.startswith("Independent check") for h in heads) == shown, heads
        labels = [m.label for m in at.metric]
        assert ("Spearman ρ (|α|, SHAP)" in labels) == shown and all(m.proto.help for m in at.metric)
        if shown:
            assert "LightGBM" in " ".join(c.value for c in at.caption)


def test_the_run_report_has_the_check_only_when_present(on_off):
    from aim.report import report_html

    on, off = on_off
    assert "Independent check: |α| vs SHAP interaction values of LightGBM" in report_html(on.path)
    assert "Independent check" not in report_html(off.path)


def test_add_reference_backfills_what_the_run_would_have_written(on_off, tmp_path):
    import shutil

    from tools.add_reference import add_reference

    on, off = on_off
    copy = Path(shutil.copytree(off.path, tmp_path / off.path.name))
    before = (copy / "interactions.csv").read_text()
    assert add_reference(copy, threads=torch.get_num_threads(), log=lambda _: None)
    after = load_run(copy)
    # the new column equals the one the run with the reference wrote; every other byte is as it was
    np.testing.assert_array_equal(after.interactions["ref_score"].to_numpy(), on.interactions["ref_score"].to_numpy())
    stripped = "\n".join(line.rsplit(",", 1)[0] for line in (copy / "interactions.csv").read_text().split("\n"))
    assert stripped == before
    assert after.meta["reference"]["backfilled"]["by"] == "tools/add_reference.py"
    assert {k: v for k, v in after.meta.items() if k not in ("reference", "updated")} == \
        {k: v for k, v in load_run(off.path).meta.items() if k != "updated"}
    assert not add_reference(copy, log=lambda _: None)  # already there: left alone without --force


def test_with_column_replaces_an_existing_ref_score_and_leaves_other_orders_empty():
    from tools.add_reference import with_column

    text = "column,order,fields,planted\n0,2,0 1,\n1,3,0 1 2,\n"
    once = with_column(text, {"0 1": 0.5})
    assert once == "column,order,fields,planted,ref_score\n0,2,0 1,,0.5\n1,3,0 1 2,,\n"
    assert with_column(once, {"0 1": 0.25}) == once.replace("0.5", "0.25")
