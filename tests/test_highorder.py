"""High-order search (paper Algorithm 1) and the transfer of selected interaction-IF pairs (paper §4.6)."""

import dataclasses

import numpy as np
import pytest

from aim.config import ModelConfig, RunConfig, SearchConfig, SyntheticConfig, TrainConfig
from aim.errors import ConfigError
from aim.pipeline import execute
from aim.runs import load_run
from aim.search import candidate_pool


def test_candidate_pool_hand_checked():
    # 4 fields; order-2 columns with two functions each. Importance = max |α| over an interaction's functions.
    fields = [(0, 1), (0, 1), (0, 2), (0, 2), (1, 3), (1, 3), (2, 3), (2, 3)]
    alpha = np.array([0.0, -0.9, 0.3, 0.0, 0.0, 0.0, 0.5, 0.1])
    # Ranking: (0,1) 0.9 (sign ignored), (2,3) 0.5, (0,2) 0.3; (1,3) is all zeros and skipped.
    assert candidate_pool(fields, alpha, 4, k=1) == [(0, 1, 2), (0, 1, 3)]
    # k=2 adds (2,3) + {0, 1}: (0,2,3) and (1,2,3); duplicates merge.
    assert candidate_pool(fields, alpha, 4, k=2) == [(0, 1, 2), (0, 1, 3), (0, 2, 3), (1, 2, 3)]
    assert candidate_pool(fields, alpha, 4, k=10) == [(0, 1, 2), (0, 1, 3), (0, 2, 3), (1, 2, 3)]
    assert candidate_pool(fields, np.zeros(8), 4, k=2) == []


def test_candidate_pool_order4_and_size_bound():
    n = 8
    triples = [(0, 1, 2), (1, 2, 3), (2, 3, 4), (4, 5, 6)]
    pool = candidate_pool(triples, np.array([0.4, 0.3, 0.2, 0.1]), n, k=n // 2)
    assert all(len(q) == 4 and len(set(q)) == 4 for q in pool)
    assert len(pool) <= (n // 2) * (n - 3)
    assert (0, 1, 2, 3) in pool and (4, 5, 6, 7) in pool


HIGH = RunConfig(
    max_order=3,
    synthetic=SyntheticConfig(rows=6000, fields=6, noise_fields=1, planted_pairs=2, planted_triples=1, vocab=10),
    model=ModelConfig(embed_dim=4, mlp=(16,)),
    search=SearchConfig(search_epochs=2, embed_epochs=1, grda_c=0.2, high_order_grda_c=0.05, embed_grda_c=0.2),
    train=TrainConfig(epochs=2, batch_size=512, embed_l2=0.0),
)


@pytest.fixture(scope="module")
def order3_run(tmp_path_factory):
    return load_run(execute(HIGH, tmp_path_factory.mktemp("runs"), log=lambda _: None))


def test_order3_search_is_recorded(order3_run):
    meta, inter = order3_run.meta, order3_run.interactions
    assert sorted(inter.order.unique()) == [2, 3]
    o3 = meta["interactions"]["order3"]
    assert o3["total"] == 20 and o3["pool"] == (inter.order == 3).sum() / 4
    assert o3["fi_ratio"] == o3["kept"] / 20
    assert inter.loc[inter.order == 3, "stats_auc"].notna().all()
    assert set(meta["stages"]) >= {"search", "search3", "retrain"}
    assert set(order3_run.snapshots.stage.unique()) == {"search", "search3"}
    assert order3_run.snapshots.column.max() == len(inter) - 1
    assert "order3" in meta["planted"]["by_order"]


def test_transfer_uses_the_selected_columns(order3_run, tmp_path):
    cfg = HIGH.replace(variant="deepfm-transfer", transfer_from=str(order3_run.path))
    run = load_run(execute(cfg, tmp_path, log=lambda _: None))
    assert run.status == "complete"
    kept = order3_run.interactions.query("kept == 1")
    spec_columns = run.meta["model"]["args"]["columns"]
    assert sum(len(funcs) for _, funcs in spec_columns) == len(kept)
    ipnn = load_run(execute(cfg.replace(variant="ipnn-transfer"), tmp_path, log=lambda _: None))
    assert ipnn.meta["metrics"]["test"]["auc"] > 0.5


def test_transfer_config_is_validated():
    with pytest.raises(ConfigError, match="transfer_from"):
        RunConfig(variant="deepfm-transfer")
    with pytest.raises(ConfigError, match="transfer_from"):
        RunConfig(variant="deepfm", transfer_from="x")


@pytest.mark.parametrize("c, kept_all", [(0.0, True), (50.0, False)])
def test_orders_above_two_use_their_own_grda_c(tmp_path, c, kept_all):
    # c = 0 never thresholds (every order-3 column of the pool survives); a huge c zeroes them all, while the
    # order-2 search keeps its own c (0.2) and so the same pool.
    cfg = dataclasses.replace(HIGH, variant="aim-eds", search=dataclasses.replace(HIGH.search, high_order_grda_c=c))
    o3 = load_run(execute(cfg, tmp_path, log=lambda _: None)).meta["interactions"]["order3"]
    assert o3["pool"] > 0
    assert o3["kept"] == (o3["pool"] if kept_all else 0)
