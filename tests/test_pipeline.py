"""The pipeline end to end on small synthetic data: the planted interactions are found, EDS prunes noise fields,
the run folder is complete and consistent with what the stages returned."""

import numpy as np
import pytest

from aim.config import ModelConfig, RunConfig, SearchConfig, SyntheticConfig, TrainConfig
from aim.pipeline import execute
from aim.run_tables import planted_scores
from aim.runs import load_run

SMALL = RunConfig(
    synthetic=SyntheticConfig(rows=20_000, fields=6, noise_fields=2, planted_pairs=2, vocab=30),
    model=ModelConfig(embed_dim=8, mlp=(32, 32)),
    # GRDA's threshold grows with the step count (c γ^½ (tγ)^μ): 4 short epochs need a larger c than the default.
    # eds_unused=drop: what EDS does to fields no kept column reads (auto keeps them for the embeddings head).
    search=SearchConfig(search_epochs=4, embed_epochs=3, grda_c=0.2, embed_grda_c=0.04, eds_unused="drop"),
    train=TrainConfig(epochs=4, batch_size=256, embed_l2=0.0),
)


@pytest.fixture(scope="module")
def aim_run(tmp_path_factory):
    return load_run(execute(SMALL, tmp_path_factory.mktemp("runs"), log=lambda _: None))


def test_search_finds_the_planted_pairs(aim_run):
    planted = aim_run.meta["planted"]
    assert planted["recall"] == 1.0 and planted["precision"] == 1.0, planted
    assert planted["noise_dims_kept"] == 0  # EDS removes every dimension of the pure-noise fields


def test_run_tables_agree_with_meta(aim_run):
    meta, inter, fields = aim_run.meta, aim_run.interactions, aim_run.fields
    assert meta["status"] == "complete" and meta["error"] is None
    assert len(inter) == 15 * 4  # C(6, 2) pairs × 4 functions
    kept_pairs = set(inter.loc[inter.kept == 1, "fields"])
    assert meta["interactions"]["order2"]["kept"] == len(kept_pairs)
    assert inter["stats_auc"].notna().all()
    planted = inter.loc[inter.planted == 1, "fields"].unique()
    assert {tuple(map(int, p.split())) for p in planted} == set(map(tuple, meta["dataset"]["truth"]["interactions"]))
    assert (fields.dims_kept == fields.positions.fillna("").map(lambda s: len(str(s).split()))).all()
    assert meta["params"]["after_eds"] < meta["params"]["before_eds"]
    history = aim_run.history
    assert list(history.stage.unique()) == ["search", "embed", "retrain"]
    search = history[history.stage == "search"]
    assert search.gates_nonzero.iloc[-1] == int(inter.kept.sum())
    snaps = aim_run.snapshots
    last = snaps[snaps.step == snaps.step.max()].sort_values("column")
    np.testing.assert_allclose(last.alpha.to_numpy(), inter.alpha.to_numpy(), rtol=1e-6)


def test_planted_scores():
    assert planted_scores({(0, 1), (2, 3)}, {(0, 1), (4, 5)}) == {
        "precision": 0.5, "recall": 0.5, "kept": 2, "planted": 2, "hits": 1}
    assert planted_scores(set(), {(0, 1)})["precision"] == 0.0


def test_run_warnings_name_a_search_that_kept_nothing_and_a_final_model_below_the_search():
    from types import SimpleNamespace

    import torch

    from aim.run_tables import run_warnings

    data = SimpleNamespace(valid=SimpleNamespace(y=np.zeros(720)), field_names=["a", "b"])
    nothing = [SimpleNamespace(kept=torch.zeros(4, dtype=torch.bool))]
    stages = {"search": {"metrics": {"valid": {"auc": 0.74}}}, "retrain": {"metrics": {"valid": {"auc": 0.73}}}}
    warned = run_warnings(data, nothing, None, stages)
    assert len(warned) == 2 and "kept no interaction" in warned[0] and "720 validation rows" in warned[0]
    assert "below the search-stage model's 0.7400" in warned[1]
    kept = [SimpleNamespace(kept=torch.tensor([False, True]))]
    assert run_warnings(data, kept, None, {}) == []
    assert run_warnings(data, [], None, {}) == []  # a baseline searches nothing: nothing to warn about


def test_failed_run_is_marked_failed(tmp_path, monkeypatch):
    import aim.pipeline
    import aim.search

    def boom(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(aim.search, "search_order", boom)
    with pytest.raises(RuntimeError):
        execute(SMALL, tmp_path, log=lambda _: None)
    (run_dir,) = tmp_path.iterdir()
    run = load_run(run_dir)
    assert run.status == "failed" and "disk on fire" in run.meta["error"]
