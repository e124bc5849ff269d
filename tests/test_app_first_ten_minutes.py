"""Issue 15, "the first ten minutes", the app part: the Start page (the root URL) with the shipped runs under their
friendly names and the glossary, the glossary's texts as tooltips on every page, the Runs page grouping the runs
of a study under it, and one test per demo defect (each failed before its fix). AppTest over the hand-made fixture
runs (no training), plus pure tests of the figures and of ``app/shipped.py``."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from aim import analysis
from aim.analysis.compare import compare_colors
from app import glossary, shipped
from tests.fixtures_app import (
    ID_A,
    ID_B,
    ID_C,
    ID_FAILED,
    ID_OTHER,
    ID_RUNNING,
    ID_STUDY,
    make_other_dataset_run,
    make_runs,
    open_app,
    point_app_at,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def fixture_runs(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("first_ten_minutes")
    make_runs(root)
    make_other_dataset_run(root)
    return root


@pytest.fixture
def env(fixture_runs, tmp_path, monkeypatch) -> Path:
    return point_app_at(fixture_runs, tmp_path, monkeypatch)


_app = open_app


def _specs(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def _columns(df) -> tuple[list[str], dict]:
    """The columns a dataframe element shows by default (its column_order, else every column) and its config."""
    config = json.loads(df.proto.columns or "{}")
    shown = list(df.proto.column_order) or list(df.value.columns)
    return [c for c in shown if not (config.get(c) or {}).get("hidden")], config


# ------------------------------------------------------------------------------------------ Start page, routes

def test_the_root_url_opens_start_here_and_runs_is_a_page_of_its_own(env):
    at = _app()
    assert at.title[0].value == "Start here"
    assert any("FI ratio" in m.value for m in at.markdown)  # the glossary
    at = _app(view="runs")
    assert at.title[0].value == "Runs"


def test_start_page_lists_the_shipped_runs_under_their_friendly_names(tmp_path, monkeypatch):
    monkeypatch.setenv("AIM_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("AIM_CACHED_RUNS_DIR", str(ROOT / "cached_runs"))
    monkeypatch.setenv("AIM_STUDIES_DIR", str(tmp_path / "studies"))
    at = _app()
    links = {p.proto.label: p.proto for p in at.get("page_link")}
    assert {"frappe-order3", "frappe-study", "synthetic-study", "synthetic-order3"} <= set(links)
    assert links["frappe-order3"].query_string.startswith("run=frappe__aim__")
    assert links["frappe-study"].query_string.startswith("study=study__frappe__")
    assert "interactions" in links["frappe-order3"].page and "studies" in links["frappe-study"].page
    assert "Your runs" not in [h.value for h in at.subheader]  # an empty runs folder: nothing to point at


def test_start_page_opens_with_your_newest_runs_and_studies_and_their_state(env):
    """The quick start's run is what a new user opens the app to see: the Start page lists the newest runs of the
    runs folder first (complete: test AUC; running: its progress; failed: says so), then the user's studies."""
    at = _app()
    assert at.subheader[0].value == "Your runs"
    links = [p.proto for p in at.get("page_link")]
    assert [link.label for link in links[:4]] == [ID_OTHER, ID_FAILED, ID_RUNNING, ID_STUDY]
    assert "interactions" in links[0].page and links[0].query_string == f"run={ID_OTHER}"
    assert "studies" in links[3].page and links[3].query_string == f"study={ID_STUDY}"
    captions = [c.value for c in at.caption]
    assert captions[:4] == ["test AUC 0.9000", "failed", "search epoch 2 · AUC 0.7123 · gates 8/12",
                            "3 variants × 3 seeds"]
    assert any("more on **Runs**" in c for c in captions), captions
    lines = [m.value for m in at.markdown]
    assert any(m.startswith("frappe · aim · seed 0 · finished ") and m.endswith(" ago") for m in lines), lines[:6]
    assert any(m.startswith("synthetic · aim · seed 3 · started ") for m in lines), lines[:6]  # failed: when it began


def test_your_csv_runs_are_told_apart_by_their_file(tmp_path, monkeypatch):
    """Every CSV run is dataset ``csv``: the Start page names the file each one read."""
    from aim.config import ModelConfig, RunConfig
    from tests.fixtures_app import write_run

    runs = point_app_at(tmp_path / "runs", tmp_path, monkeypatch)
    cfg = RunConfig(dataset="csv", data_path="/data/logs/numeric.csv", model=ModelConfig(embed_dim=4, mlp=(8,)))
    write_run(runs, "csv__aim__seed0__20260301T000000", "aim", 0, cfg, None, None, None, status="failed",
              error="RuntimeError: boom", dataset="csv")
    at = _app()
    assert any(m.value.startswith("csv (numeric.csv) · aim · seed 0 · started ") for m in at.markdown)


def test_shipped_names_come_from_the_tool_entries():
    entries = [shipped.Entry("frappe-order3", "run", {"--dataset": "frappe", "--max-order": "3"}, "one run"),
               shipped.Entry("criteo", "run", {"--dataset": "criteo"}, "a sample"),
               shipped.Entry("synthetic-study", "study", {}, "3 seeds")]
    runs = {"frappe__aim__seed0__1": {"config": {"dataset": "frappe", "variant": "aim", "seed": 0, "max_order": 3}},
            "frappe__aim__seed0__0": {"config": {"dataset": "frappe", "variant": "aim", "seed": 0, "max_order": 2}},
            "criteo__aim__seed0__2": {"config": {"dataset": "criteo", "variant": "aim", "seed": 0, "max_order": 2,
                                                 "note": "format demonstration"}}}
    studies = {"study__synthetic__3": {"dataset": "synthetic", "variants": ["fm"], "seeds": [0]}}
    out = shipped.shipped(runs, studies, entries)
    assert [(s.name, s.kind, s.folder) for s in out] == [
        ("frappe-order3", "run", "frappe__aim__seed0__1"), ("criteo", "run", "criteo__aim__seed0__2"),
        ("synthetic-study", "study", "study__synthetic__3"), ("frappe__aim__seed0__0", "run", "frappe__aim__seed0__0")]
    assert out[1].note == "format demonstration" and out[3].about == "frappe: aim, seed 0, orders up to 2"
    assert len(shipped.tool_entries()) >= 5  # the real tool reads


def test_a_study_of_another_kind_on_the_same_dataset_keeps_its_own_name():
    entries = [e for e in shipped.tool_entries() if e.name in ("ml100k-study", "ml100k-fis-vs-stats")]
    studies = {"study__movielens__1": {"dataset": "movielens", "variants": ["fm"], "seeds": [0], "created": "1"},
               "study__movielens__2": {"dataset": "movielens", "study_kind": "fis-vs-stats", "created": "2",
                                       "variants": ["fis", "stats", "random"], "seeds": [0, 1, 2]}}
    out = shipped.shipped({}, studies, entries)
    assert {(s.name, s.folder) for s in out} == {("ml100k-study", "study__movielens__1"),
                                                  ("ml100k-fis-vs-stats", "study__movielens__2")}
    assert shipped.shipped({}, studies, [])[1].about == "movielens: 3 rules × 3 seeds"


# -------------------------------------------------------------------------------------- glossary as tooltips

JARGON = re.compile(r"α|β|GRDA|FI ratio|statistics AUC|stats AUC|EDS|Spearman|[Pp]lanted|[Pp]recision|[Vv]ariant|"
                    r"Order|^Function|One point per|[Bb]est baseline|^p \(|kept interactions|Kept by|Fig\. ")


@pytest.mark.parametrize("params", [{"view": "interactions", "run": ID_A}, {"view": "interactions", "run": ID_C},
                                    {"view": "functions", "run": ID_A},
                                    {"view": "embeddings", "run": ID_A}, {"view": "compare", "runs": f"{ID_A},{ID_B}"},
                                    {"view": "studies"}, {"view": "launch"}, {"view": "runs"}])
def test_every_jargon_term_in_a_widget_metric_or_column_has_a_tooltip(env, params):
    at = _app(**params)
    widgets = [*at.metric, *at.selectbox, *at.multiselect, *at.radio, *at.number_input, *at.text_input, *at.toggle]
    missing = [w.proto.label for w in widgets if JARGON.search(w.proto.label) and not w.proto.help]
    for df in at.dataframe:
        shown, config = _columns(df)
        missing += [c for c in shown if JARGON.search((config.get(c) or {}).get("label") or c)
                    and not (config.get(c) or {}).get("help")]
    assert not missing


def test_tooltips_are_the_glossary_texts(env):
    at = _app(view="launch")
    mu = next(w for w in at.number_input if w.label == "GRDA μ")
    assert mu.proto.help == glossary.tip("grda_mu")
    head = next(w for w in at.selectbox if w.label == "Head")
    assert head.proto.help == glossary.tip("head")
    cross = next(w for w in at.text_input if w.label == "GRDA crossing fractions (search)")
    assert cross.proto.help.endswith(glossary.tip("crossing_fraction", "parsimony"))


# ---------------------------------------------------------------------------------------------- Runs page

def test_the_runs_of_a_study_are_grouped_under_it(env):
    at = _app(view="runs")
    main = at.dataframe[0].value
    assert {ID_A, ID_B, ID_C, ID_OTHER} <= set(main["id"]) and not main["id"].str.contains("20260201|20260202").any()
    (group,) = [e for e in at.expander if ID_STUDY in e.proto.label]
    inside = group.dataframe[0].value
    assert len(inside) == 8 and set(inside["variant"]) == {"deepfm", "aim", "deepfm-transfer"}
    at.toggle(key="runs_with_studies").set_value(True).run()
    assert (at.dataframe[0].value["study"] == ID_STUDY).sum() == 8


# ------------------------------------------------------------------------------------------------- defects

def test_a_failed_run_shows_the_resume_command(env):
    at = _app(view="interactions", run=ID_FAILED)
    assert f"python -m aim run --resume {env / ID_FAILED}" in at.error[0].value


def test_compare_warns_when_the_runs_are_on_different_datasets(env):
    at = _app(view="compare", runs=f"{ID_A},{ID_OTHER}")
    assert any("different datasets" in w.value for w in at.warning)
    titles = [(s["layout"].get("title") or {}).get("text", "") for s in _specs(at)]
    assert not any("run A vs run B" in t for t in titles)  # no empty α box


def _luminance(hex_colour: str) -> float:
    r, g, b = (int(hex_colour.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_compare_metric_bars_have_a_legend_and_distinguishable_colours(env):
    at = _app(view="compare", runs=f"{ID_A},{ID_B}")
    bars = [s for s in _specs(at) if "test auc" in (s["layout"].get("title") or {}).get("text", "").lower()][0]
    assert bars["layout"].get("showlegend") is not False
    legend = [t for t in bars["data"] if t.get("showlegend", True) and t.get("name")]
    assert sorted(t["name"] for t in legend) == sorted([ID_A, ID_B])
    colours = [t["marker"]["color"] for t in legend]
    assert len(set(colours)) == 2 and min(_luminance(c) for c in colours) > 0.2
    for ids in ([f"run{i}" for i in range(4)], ["a", "b"], [ID_A, ID_B, ID_C, ID_OTHER]):
        assert min(_luminance(c) for c in compare_colors(ids).values()) > 0.2


def test_log_loss_says_lower_is_better(env):
    at = _app(view="compare", runs=f"{ID_A},{ID_B}")
    _, config = _columns(at.dataframe[0])
    assert "lower is better" in config["Δ test_logloss"]["help"]
    titles = [(s["layout"].get("title") or {}).get("text", "") for s in _specs(at)]
    assert any("log loss" in t and "lower is better" in t for t in titles)


@pytest.mark.parametrize(("params", "most"), [({"view": "runs"}, 10), ({"view": "compare", "runs": f"{ID_A},{ID_B}"}, 9),
                                              ({"view": "studies"}, 10)])
def test_wide_tables_show_only_what_fits(env, params, most):
    at = _app(**params)
    shown, _ = _columns(at.dataframe[0])
    assert len(shown) <= most, shown


def test_the_best_baseline_p_value_is_a_dash_not_none(env):
    at = _app(view="studies")
    table = at.dataframe[0]
    assert pd.isna(table.value.set_index("variant").loc["deepfm", "p (AUC)"]) and table.proto.placeholder == "—"


def test_the_best_baseline_label_is_in_the_legend_not_on_the_bars(env):
    at = _app(view="studies")
    auc = _specs(at)[0]
    assert not [a for a in auc["layout"].get("annotations", []) if "best baseline" in a.get("text", "")]
    assert "best baseline (deepfm)" in [t.get("name") for t in auc["data"]]


def test_function_use_by_run_is_per_order_and_never_stacks():
    inter = pd.DataFrame({"column": range(4), "order": [2, 2, 3, 3], "fields": ["0 1", "0 1", "0 1 2", "0 1 2"],
                          "field_names": ["a × b", "a × b", "a × b × c", "a × b × c"],
                          "function": ["inner", "outer", "inner", "outer"], "alpha": [0.5, 0.4, 0.3, 0.0],
                          "kept": [1, 1, 1, 0], "interaction_kept": [1, 1, 1, 1], "stats_auc": [0.6] * 4,
                          "planted": [0] * 4})
    freq = analysis.function_frequency_by_run({"r1": inter, "r2": inter})
    fig = analysis.function_frequency_figure(freq, by="run")
    for trace in fig.data:
        x = [tuple(v) for v in zip(*trace.x, strict=True)] if isinstance(trace.x[0], list | tuple) else list(trace.x)
        assert len(x) == len(set(x)), f"{trace.name}: two bars at one position stack up: {x}"
        assert max(trace.y) <= 1
    assert fig.layout.barmode == "group"


def test_embedding_sizes_use_clean_log_ticks_and_labels_that_do_not_collide():
    fields = pd.DataFrame({"name": ["daytime", "weekday", "weather", "isweekend", "item"],
                           "vocab_size": [7, 8, 9, 3, 4000], "dims_kept": [0, 0, 0, 0, 7]})
    fig = analysis.embedding_scatter(fields, 16)
    ticks = list(fig.layout.xaxis.tickvals or [])
    assert fig.layout.xaxis.dtick in (1, "1") or (ticks and all(float(t) in (1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7)
                                                                 for t in ticks))
    labels = {a.text: a for a in fig.layout.annotations}
    assert set(labels) == set(fields["name"])
    close = [labels[n] for n in ("daytime", "weekday", "weather")]
    assert len({a.ay for a in close}) == 3  # three labels of nearby points at 0 each at their own height
    assert all(a.ay < 0 for a in labels.values() if a.y == 0)  # labels of points at 0 go up, not under the axis


def test_the_deploy_button_is_hidden():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config.get("client", {}).get("toolbarMode") in ("viewer", "minimal")
