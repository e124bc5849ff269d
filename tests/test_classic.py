"""The practitioner baselines lr (scikit-learn logistic regression on one-hot ids) and gbdt (LightGBM): complete
runs the loader accepts, hyper-parameters chosen on validation only, the interaction a linear model cannot fit,
reload-and-predict without pickle, resume, and their place among the study baselines."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from aim import classic, pipeline, stages
from aim.data.base import CTRData, Field, Split
from aim.runs import MODEL_TEXT_FILE, RUN_FILE, WEIGHTS_FILE, load_run
from aim.train import metrics


def quiet(_msg: str) -> None:
    pass


@pytest.fixture(autouse=True)
def one_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def hand_made(n: int, rule, vocab: tuple[int, ...], seed: int = 0, noise: float = 0.0) -> CTRData:
    """Ids drawn uniformly per field; label = rule(X) flipped with probability ``noise``; 60/20/20 splits."""
    rng = np.random.default_rng(seed)
    X = np.stack([rng.integers(0, v, n) for v in vocab], axis=1).astype(np.int32)
    y = rule(X).astype(np.float32)
    flip = rng.random(n) < noise
    y[flip] = 1 - y[flip]
    a, b = int(0.6 * n), int(0.8 * n)
    fields = tuple(Field(f"f{i}", v) for i, v in enumerate(vocab))
    return CTRData("hand", fields, Split(X[:a], y[:a]), Split(X[a:b], y[a:b]), Split(X[b:], y[b:]))


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, pipeline.Path]:
    from tests.conftest import _tiny_config

    out = tmp_path_factory.mktemp("classic")
    return {v: pipeline.execute(_tiny_config(v), out, log=quiet) for v in classic.VARIANTS}


@pytest.mark.parametrize("variant", classic.VARIANTS)
def test_a_run_is_complete_and_loads(runs, variant):
    run = load_run(runs[variant])
    run.load_tables()
    meta = run.meta
    assert meta["status"] == "complete" and meta["variant"] == variant and meta["model"]["kind"] == variant
    assert set(meta["tables"]) >= {"interactions", "fields", "history", "sparsity"}
    assert len(run.interactions) == 10 and run.interactions["alpha"].isna().all()  # C(5, 2) pairs, no gate
    assert run.interactions["stats_auc"].between(0, 1).all()
    assert meta["params"]["before_eds"] == meta["params"]["after_eds"] > 0
    t = meta["timings"]
    assert t["train_seconds"] > 0 and t["train_epoch_seconds"] == t["train_seconds"] and t["infer_seconds_per_100k"] > 0
    assert 0.5 < meta["metrics"]["test"]["auc"] <= 1 and meta["stages"]["train"]["metrics"] == meta["metrics"]
    assert len(run.history) >= 1 and run.history["valid_auc"].notna().all()
    assert run.sparsity["chosen"].sum() == 1
    vocab = [f["vocab_size"] for f in meta["dataset"]["fields"]]
    if variant == "lr":
        assert meta["params"]["after_eds"] == sum(vocab) + 1 and (run.fields["dims_kept"] == 1).all()
        assert (run.path / WEIGHTS_FILE).exists() and not (run.path / MODEL_TEXT_FILE).exists()
        assert set(run.load_weights()) == {"coef", "intercept"}
    else:
        assert meta["params"]["embedding"] == 0 and (run.fields["dims_kept"] == 0).all()
        assert (run.path / MODEL_TEXT_FILE).exists() and not (run.path / WEIGHTS_FILE).exists()
        text = (run.path / MODEL_TEXT_FILE).read_text()
        assert meta["params"]["after_eds"] == classic.tree_parameters(text)
        assert meta["stages"]["train"]["rounds"] == meta["stages"]["train"]["best_epoch"] >= 1


@pytest.mark.parametrize("variant", classic.VARIANTS)
def test_reload_and_predict_gives_the_recorded_metrics(runs, variant):
    from tests.conftest import _tiny_config

    data = pipeline.load_data(_tiny_config(variant))
    model = classic.load_model(runs[variant])
    meta = load_run(runs[variant]).meta
    for split in ("valid", "test"):
        part = getattr(data, split)
        assert metrics(part.y, model.predict(part.X)) == meta["metrics"][split]


def test_reloaded_models_predict_exactly_what_the_trained_ones_did(tmp_path):
    data = hand_made(3000, lambda X: (X[:, 0] + X[:, 1]) % 3 == 0, (3, 3, 5), noise=0.1)
    for trained in (classic.train_lr(data, 0), classic.train_gbdt(data, 0, 1, rounds=60)):
        again = (classic.Trees(trained.model_text) if trained.kind == "gbdt" else
                 classic.LinearIds(trained.tensors["coef"].numpy(), float(trained.tensors["intercept"]),
                                   trained.spec["args"]["vocab_sizes"]))
        np.testing.assert_array_equal(again.predict(data.test.X), trained.predict(data.test.X))


def test_lr_learns_a_linear_signal_and_chooses_C_on_validation():
    # the click probability rises with field 0's id; field 1 is noise: linear in the one-hot ids, not separable
    data = hand_made(4000, lambda X: np.random.default_rng(1).random(len(X)) < 0.15 + 0.15 * X[:, 0], (5, 7))
    rows = []
    lr = classic.train_lr(data, 0, on_row=rows.append)
    assert lr.metrics["test"]["auc"] > 0.7 and len(rows) == len(classic.LR_C_GRID)
    frontier = pd.DataFrame(lr.frontier)
    chosen = frontier[frontier["chosen"]]
    assert len(chosen) == 1 and chosen["valid_auc"].iloc[0] == frontier["valid_auc"].max()
    assert lr.spec["args"]["C"] == sorted(classic.LR_C_GRID)[int(chosen["candidate"].iloc[0])]
    assert (np.diff(frontier["embed_l2"]) < 0).all()  # 1 / (C n): the grid from strongest to weakest


def test_lr_ties_go_to_the_stronger_regularisation():
    # separable by one field: every C ranks the validation rows perfectly (AUC 1), so the smallest C is kept
    data = hand_made(1000, lambda X: X[:, 0] == 1, (2, 3))
    lr = classic.train_lr(data, 0)
    assert [r["valid_auc"] for r in lr.frontier] == [1.0] * len(classic.LR_C_GRID)
    assert lr.spec["args"]["C"] == min(classic.LR_C_GRID) and lr.frontier[0]["chosen"]


def test_gbdt_recovers_an_xor_that_lr_cannot():
    data = hand_made(4000, lambda X: (X[:, 0] % 2) ^ (X[:, 1] % 2), (2, 2, 4), noise=0.05)
    lr = classic.train_lr(data, 0)
    gbdt = classic.train_gbdt(data, 0, 1, rounds=100)
    assert lr.metrics["test"]["auc"] < 0.6 < 0.9 < gbdt.metrics["test"]["auc"]


def test_gbdt_uses_the_seed_and_is_deterministic():
    data = hand_made(3000, lambda X: (X[:, 0] * X[:, 1]) % 4 == 1, (4, 5, 6), noise=0.1)
    a, b = (classic.train_gbdt(data, 0, 1, rounds=40) for _ in range(2))
    c = classic.train_gbdt(data, 1, 1, rounds=40)
    assert a.model_text == b.model_text and a.model_text != c.model_text
    assert a.spec["args"]["params"]["seed"] == 0 and a.spec["args"]["params"]["deterministic"]


@pytest.mark.parametrize("variant", classic.VARIANTS)
def test_a_run_that_failed_after_training_resumes_from_its_checkpoint(tmp_path, monkeypatch, variant):
    from tests.conftest import _tiny_config

    def crash(*_a, **_k):
        raise RuntimeError("simulated crash")

    monkeypatch.setattr(stages, "interaction_table", crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        pipeline.execute(_tiny_config(variant), tmp_path, log=quiet)
    monkeypatch.undo()
    (folder,) = list(tmp_path.iterdir())
    assert load_run(folder).status == "failed" and (folder / "checkpoints" / "train.pt").exists()
    reference = pipeline.execute(_tiny_config(variant), tmp_path / "reference", log=quiet)
    calls = []
    monkeypatch.setattr(classic, "train", lambda *a, **k: calls.append(1))  # the train stage must be restored
    logs: list[str] = []
    pipeline.resume(folder, log=logs.append)
    run = load_run(folder)
    assert run.status == "complete" and not calls and any("restored from its checkpoint" in m for m in logs)
    assert len(run.history) == len(run.sparsity) if variant == "lr" else len(run.history) >= 1
    assert json.loads((reference / RUN_FILE).read_text())["metrics"] == run.meta["metrics"]


def test_the_study_baselines_include_lr_and_gbdt():
    from aim import study as st

    assert st.parse_variants("lr, gbdt,fm") == ["lr", "gbdt", "fm"]
    assert {"lr", "gbdt"} <= set(st.BASELINES) and {"lr", "gbdt"} <= set(st.DEFAULT_VARIANTS)
    assert st.token_of(st.variant_config(pipeline.RunConfig(), "gbdt", 3)) == "gbdt"
    metas = lambda aucs: [{"metrics": {"test": {"auc": a, "logloss": 0.4}}} for a in aucs]  # noqa: E731
    df = st.summarise({"deepfm": metas([0.80, 0.81]), "gbdt": metas([0.83, 0.84]), "lr": metas([0.70, 0.71]),
                       "aim": metas([0.85, 0.86])})
    assert st.best_baseline(df) == "gbdt"
    assert st.best_baseline(df[df["variant"] != "gbdt"]) == "deepfm"


def test_the_cli_default_study_variants_are_the_default_variants():
    from aim.cli import build_parser
    from aim.study import DEFAULT_VARIANTS

    args = build_parser().parse_args(["study"])
    assert args.variants == ",".join(DEFAULT_VARIANTS)
