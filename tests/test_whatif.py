"""The what-if: a re-train of a hand-picked selection compared with its parent like for like. The columns the
Interactions page lists before launch, and Compare's added / removed columns, Δ with their noise and verdict, and
the commands for a test over seeds (pure functions, then the pages through ``AppTest``)."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from aim.analysis import compare as vs_parent
from aim.config import RunConfig
from aim.pipeline import execute
from aim.runs import load_run
from aim.sparsity import auc_standard_error
from tests.fixtures_app import make_tiny_parent

APP = str(Path(__file__).resolve().parents[1] / "app" / "streamlit_app.py")


def _inter(rows: list[tuple[str, str, int]]) -> pd.DataFrame:
    return pd.DataFrame({"field_names": [r[0] for r in rows], "function": [r[1] for r in rows],
                         "kept": [r[2] for r in rows]})


def _meta(auc: float, logloss: float, params: int, rows: int = 10_000, rate: float = 0.3) -> dict:
    return {"metrics": {"test": {"auc": auc, "logloss": logloss}}, "params": {"after_eds": params},
            "dataset": {"rows": {"test": rows}, "positive_rate": {"test": rate}}, "status": "complete"}


def test_column_changes_name_what_the_selection_adds_and_removes():
    parent = _inter([("a × b", "inner", 1), ("a × b", "outer", 1), ("a × c", "vkernel", 1), ("b × c", "inner", 0)])
    child = _inter([("a × b", "inner", 1), ("b × c", "outer", 1), ("c × a", "vkernel", 1)])  # c×a is a×c
    changes = vs_parent.column_changes(parent, child)
    assert changes.values.tolist() == [["b×c:outer", "added"], ["a×b:outer", "removed"],
                                       ["a×b:inner", "kept in both"], ["c×a:vkernel", "kept in both"]]


def test_deltas_are_judged_by_the_larger_of_sampling_error_and_seed_spread():
    parent, child = _meta(0.80, 0.45, 1000), _meta(0.81, 0.44, 900)
    se = math.hypot(auc_standard_error(0.81, 3000, 7000), auc_standard_error(0.80, 3000, 7000))
    assert vs_parent.auc_se_of(parent) == pytest.approx(auc_standard_error(0.80, 3000, 7000))
    alone = vs_parent.retrain_deltas(child, parent).set_index("metric")
    assert alone.loc["test AUC", "delta"] == pytest.approx(0.01) and alone.loc["test AUC", "noise"] == pytest.approx(se)
    assert alone.loc["test AUC", "verdict"] == "not significantly different" and 2.807 * se > 0.01  # 10,000 test rows: SE ~ 0.0065
    assert alone.loc["test log loss", "verdict"] == "no noise estimate"  # no study: no seed spread for log loss
    assert alone.loc["parameters", "delta"] == -100 and alone.loc["parameters", "verdict"] == "smaller"
    spread = vs_parent.seed_spread([_meta(0.80, 0.45, 1), _meta(0.81, 0.44, 1), _meta(0.79, 0.46, 1),
                                    {"status": "failed"}, None])
    assert spread["n"] == 3 and spread["test_auc"] == pytest.approx(0.01)
    with_seeds = vs_parent.retrain_deltas(child, parent, spread).set_index("metric")
    assert with_seeds.loc["test AUC", "noise"] == pytest.approx(max(se, 0.01))
    assert with_seeds.loc["test AUC", "verdict"] == "not significantly different"  # 0.01 <= 2.81 × 0.01
    assert with_seeds.loc["test log loss", "verdict"] == "not significantly different" and "3 seeds" in with_seeds.loc[
        "test log loss", "noise_from"]
    worse = vs_parent.retrain_deltas(_meta(0.70, 0.60, 1000), parent, spread).set_index("metric")
    assert worse.loc["test AUC", "verdict"] == "significantly worse"
    assert worse.loc["test log loss", "verdict"] == "significantly worse"
    assert "2.81 × noise" in vs_parent.noise_rule() and "p < 0.005" in vs_parent.noise_rule()


def test_the_parents_study_variant_and_the_seed_commands():
    recorded = {"deepfm": {0: {"id": "d0"}}, "aim": {0: {"id": "p0"}, 1: None}}
    assert vs_parent.study_variant_of(recorded, "p0") == "aim" and vs_parent.study_variant_of(recorded, "x") is None
    parent = RunConfig(seed=0)
    child = parent.replace(variant="retrain", columns="f00×f01:inner", transfer_from="/runs/p0")
    lines = vs_parent.seed_commands(child.to_json(), parent.to_json(), range(3), parent_done=[0])
    assert len(lines) == 5 and all(line.startswith("python -m aim run ") for line in lines)
    assert "--variant retrain" in lines[0] and "--seed 1" in lines[1] and "--seed 2" in lines[2]
    assert "--transfer-from /runs/p0" in lines[2] and "--columns 'f00×f01:inner'" in lines[2]
    assert "--variant" not in lines[3] and "--seed 1" in lines[3]  # the parent's variant (aim) where it lacks a seed


def _env(monkeypatch, tmp_path: Path, runs: Path) -> None:
    monkeypatch.setenv("AIM_RUNS_DIR", str(runs))
    monkeypatch.setenv("AIM_CACHED_RUNS_DIR", str(tmp_path / "no_cached"))
    monkeypatch.setenv("AIM_STUDIES_DIR", str(tmp_path / "no_studies"))


def test_compare_shows_a_retrain_against_its_parent(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    parent = make_tiny_parent(runs)  # keeps f00×noise01 (inner, outer), f00×f02 and f00×f03 (inner)
    cfg = RunConfig.from_json(load_run(parent).meta["config"]).replace(
        variant="retrain", columns="f00×noise01:inner,f00×f02:inner,f02×f03:outer", transfer_from=str(parent))
    child = execute(cfg, runs, log=lambda m: None)
    _env(monkeypatch, tmp_path, runs)
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update(view="compare", runs=f"{child.name},{parent.name}", ref=parent.name)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Re-train vs its parent" in [s.value for s in at.subheader]
    text = "\n".join(m.value for m in at.markdown)
    assert "**Added** (1) relative to the parent's kept columns: `f02×f03:outer`" in text
    assert "**Removed** (2)" in text and "`f00×noise01:outer`" in text and "`f00×f03:inner`" in text
    table = next(d.value for d in at.dataframe if "verdict" in d.value.columns)
    assert table["metric"].tolist() == ["test AUC", "test log loss", "parameters"]
    assert float(table.loc[0, "noise"]) > 0 and table.loc[0, "verdict"] in ("not significantly different", "significantly better", "significantly worse")
    assert table.loc[2, "noise"] == "exact" and table.loc[1, "noise"] == "–"  # no study: no seed spread
    assert "**Δ test AUC** " in text and "(noise 0." in text
    assert any("replayed with seed 0" in c.value for c in at.caption)
    assert any("python -m aim run" in c.value and "--seed 4" in c.value for c in at.code)


def test_the_page_lists_the_columns_it_will_retrain_before_launch(tmp_path, monkeypatch):
    """``app.retrain.button`` under a selection of interactions: the exact columns in a code block and their count."""
    runs = tmp_path / "runs"
    parent = make_tiny_parent(runs)
    _env(monkeypatch, tmp_path, runs)

    def page(path: str) -> None:
        from aim import analysis
        from aim.runs import load_run
        from app import retrain

        run = load_run(path)
        points = analysis.alpha_points(run.interactions, "interaction")
        retrain.button(run, points[points["field_names"].isin(["f00 × noise01", "f03 × f04"])], "interaction",
                       run.interactions)

    at = AppTest.from_function(page, args=(str(parent),), default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    # f00×noise01 kept inner and outer; f03×f04 kept nothing: the parent's most frequent kept function (inner)
    assert at.code[0].value == "f03×f04:inner, f00×noise01:inner, f00×noise01:outer"  # the points' order
    assert "Will re-train 3 interaction-IF columns" in at.markdown[0].value
    assert at.button[0].label.startswith("Re-train with these (3)")


def test_a_failed_retrain_resumes_from_its_replayed_stages(tmp_path, monkeypatch):
    """The replayed parent stages are checkpointed (replay_<stage>): a re-train that fails after them resumes
    without replaying again and still reproduces the parent (order 3 too)."""
    from aim import checkpoints, pipeline, selection, stages
    from aim.errors import AIMError
    from tests.conftest import _tiny_config

    cfg = _tiny_config("aim").replace(max_order=3)
    parent = load_run(execute(cfg, tmp_path, log=lambda m: None))
    (parent.path / checkpoints.SEARCH_START_FILE).unlink()  # a parent without it (shipped, older): replayed
    what_if = cfg.replace(variant="retrain", columns=selection.to_spec(selection.kept_items(parent.interactions)),
                          transfer_from=str(parent.path))
    real = stages.retrain

    def boom(*args, **kwargs):
        raise RuntimeError("killed in the re-train")

    monkeypatch.setattr(stages, "retrain", boom)
    with pytest.raises(RuntimeError):
        execute(what_if, tmp_path / "whatif", log=lambda m: None)
    (failed,) = (tmp_path / "whatif").iterdir()
    assert load_run(failed).meta["failed_stage"] == "retrain"
    saved = sorted(p.stem for p in (failed / "checkpoints").glob("*.pt"))
    assert saved == ["replay_embed", "replay_search", "replay_search3"][: len(saved)] and "replay_search" in saved
    monkeypatch.setattr(stages, "retrain", real)
    lines: list[str] = []
    try:
        done = load_run(pipeline.resume(failed, log=lines.append))
    except AIMError as exc:  # pragma: no cover - the message says why
        pytest.fail(str(exc))
    assert any("[replay search] finished before the interruption" in line for line in lines)
    assert done.meta["metrics"] == parent.meta["metrics"]


def test_the_warm_start_keeps_a_fresh_gate_for_a_column_the_search_dropped():
    """A selection may add columns the parent's search dropped (α exactly 0): the warm start copies their kernels
    but not the zero α and its BN statistics, so they start on, as from scratch; kept columns take the search's."""
    import torch

    from aim.model.nets import AIM, AIMSpec
    from aim.model.warm import retrain_warm_start
    from tests.test_models import _trained_search_model

    searched = _trained_search_model()
    with torch.no_grad():
        searched.gates[0].alpha[:3] = 0.0  # the first three columns dropped by the search
    fields, funcs = searched.spec.blocks[0]
    model = AIM(AIMSpec(searched.spec.vocab_sizes, 4, False, ((fields[:5], funcs[:5]),), mlp=(8,)))
    fresh = model.gates[0].alpha.detach().clone()
    retrain_warm_start(model, searched)
    torch.testing.assert_close(model.gates[0].alpha[:3], fresh[:3])
    torch.testing.assert_close(model.gates[0].alpha[3:], searched.gates[0].alpha[3:5])
    assert (model.gates[0].bn.running_var[:3] == 1).all()


def test_a_replay_that_drifts_from_the_parents_search_is_flagged(tmp_path):
    """On another thread count the replayed search may keep other columns than the parent's: run.json says so and
    the run warns (here the parent's interactions.csv is edited to stand for such a drift)."""
    from aim import checkpoints, selection
    from tests.conftest import _tiny_config

    cfg = _tiny_config("aim")
    parent = load_run(execute(cfg, tmp_path, log=lambda m: None))
    (parent.path / checkpoints.SEARCH_START_FILE).unlink()
    spec = selection.to_spec(selection.kept_items(parent.interactions))
    inter = parent.interactions
    inter.loc[inter.index[inter["kept"] == 1][0], "kept"] = 0
    inter.to_csv(parent.path / "interactions.csv", index=False)
    run = load_run(execute(cfg.replace(variant="retrain", columns=spec, transfer_from=str(parent.path)), tmp_path,
                           log=lambda m: None))
    assert run.meta["procedure"]["same_kept_columns"] is False
    assert any("replayed parent search kept other columns" in w for w in run.meta["warnings"])
