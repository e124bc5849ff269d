"""``train.precision bf16``: forward passes under ``torch.autocast`` (bfloat16 matrix products, float32 weights,
optimiser states and loss). The reference is the same model in float32: every network a run builds must give
probabilities and gradients within bfloat16's rounding of it, and training must leave float32 weights behind."""

from __future__ import annotations

import copy

import pytest
import torch

from aim.config import RunConfig, SearchConfig, SyntheticConfig, TrainConfig
from aim.errors import ConfigError
from aim.model.nets import AIM, FM, IPNN, AIMSpec
from aim.search import candidate_columns
from aim.train import Tensors, autocast, evaluate, fit, predict
from tests.conftest import off_init

VOCAB = (7, 11, 5, 13, 9)
POSITIONS = ((0, 1), (2, 3), (1,), (0, 1, 2, 3), (1, 2))
MODELS = ["search FWE", "search inner only", "search outer only", "DeepFM", "IPNN", "re-train embeddings",
          "re-train summed", "re-train products"]


def _model(name: str) -> torch.nn.Module:
    columns = candidate_columns(5, ["inner", "vkernel", "skernel", "outer"])
    kept = (tuple(columns[0][c] for c in range(0, 40, 3)), tuple(columns[1][c] for c in range(0, 40, 3)))
    if name.startswith("re-train "):
        spec = AIMSpec(VOCAB, 4, False, (kept,), positions=POSITIONS, mlp=(32, 16), head=name.removeprefix("re-train "))
        return AIM(spec)
    build = {
        "search FWE": lambda: AIM(AIMSpec(VOCAB, 4, False, (columns,))),
        # every column an inner or outer product from a matmul: bfloat16 scores unless the layer casts them back
        "search inner only": lambda: AIM(AIMSpec(VOCAB, 4, False, (candidate_columns(5, ["inner"]),))),
        "search outer only": lambda: AIM(AIMSpec(VOCAB, 4, False, (candidate_columns(5, ["outer"]),))),
        "DeepFM": lambda: FM(list(VOCAB), 4, 1e-2, mlp=(32, 16), dropout=0.0),
        "IPNN": lambda: IPNN(list(VOCAB), 4, 1e-2, mlp=(32, 16), dropout=0.0),
    }
    return build[name]()


def _rows(n: int = 512) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    return torch.stack([torch.randint(0, v, (n,), generator=g) for v in VOCAB], 1)


def _scaled_off_init(model: torch.nn.Module) -> torch.nn.Module:
    """Trained-looking weights of a moderate size: U(-1, 1) (``off_init``) would drive the 276-term logits of the
    search model far into the sigmoid's flat tails, where any rounding is invisible."""
    off_init(model)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(0.3)
    return model


@pytest.mark.parametrize("name", MODELS)
def test_bf16_predictions_are_the_float32_ones_within_bfloat16_rounding(name):
    torch.manual_seed(0)
    model = _scaled_off_init(_model(name))
    x = _rows()
    p32 = predict(model, x, 128)
    p16 = predict(model, x, 128, "bf16")
    assert p16.dtype == p32.dtype == "float32"
    diff = abs(p16 - p32)
    assert diff.max() < 0.03 and diff.mean() < 0.006, (diff.max(), diff.mean())
    if not name.startswith("search"):  # models with an MLP: its products really ran in bfloat16
        assert diff.max() > 0, "bf16 gave bit-identical probabilities: autocast did not engage"


@pytest.mark.parametrize("name", MODELS)
def test_bf16_gradients_point_where_the_float32_ones_do(name):
    torch.manual_seed(0)
    ref = _scaled_off_init(_model(name))
    half = copy.deepcopy(ref)
    x, y = _rows(256), (torch.arange(256) % 2).float()
    loss_fn = torch.nn.BCEWithLogitsLoss()
    loss_fn(ref(x), y).backward()
    with autocast("bf16", torch.device("cpu")):
        logits = half(x)
    loss_fn(logits.float(), y).backward()
    assert [p.grad is None for p in ref.parameters()] == [p.grad is None for p in half.parameters()]
    assert all(p.grad.dtype == torch.float32 for p in half.parameters() if p.grad is not None)
    # The whole step's direction: single small gradients that are sums cancelling over the batch (a batch norm's
    # bias right after a layer) keep less of theirs in bfloat16, which is why mixed precision is an option.
    whole = [torch.cat([p.grad.flatten() for p in m.parameters() if p.grad is not None]) for m in (ref, half)]
    assert torch.nn.functional.cosine_similarity(*whole, dim=0) > 0.99


def test_fit_in_bf16_learns_keeps_float32_weights_and_reports_its_own_validation_auc():
    g = torch.Generator().manual_seed(0)
    X = torch.stack([torch.randint(0, v, (4000,), generator=g) for v in VOCAB], 1).int()
    y = ((X[:, 0] + X[:, 1]) % 2).float()  # a pure interaction of fields 0 and 1
    train, valid = Tensors(X[:3000], y[:3000]), Tensors(X[3000:], y[3000:])
    torch.manual_seed(0)
    model = FM(list(VOCAB), 8, 1e-2, mlp=(32, 16), dropout=0.0)
    result = fit(model, train, valid, TrainConfig(epochs=6, batch_size=128, lr=1e-2, eval_batch_size=1000,
                                                  patience=2, precision="bf16", plateau_factor=1.0),
                 stage="t", generator=torch.Generator().manual_seed(0), early_stopping=True)
    assert all(p.dtype == torch.float32 for p in model.parameters())
    best = max(row["valid_auc"] for row in result.history)
    assert best > 0.95
    assert evaluate(model, valid, 1000, "bf16")["auc"] == pytest.approx(best, abs=1e-12)  # best epoch restored


def test_precision_is_validated():
    with pytest.raises(ConfigError, match="precision='fp16' is not valid; choose one of: fp32, bf16"):
        TrainConfig(precision="fp16")
    with pytest.raises(ConfigError, match="precision='half'"):
        autocast("half", torch.device("cpu"))


def test_a_whole_run_in_bf16_completes_and_records_its_precision(tmp_path):
    from aim.pipeline import execute
    from aim.runs import load_run

    cfg = RunConfig(
        synthetic=SyntheticConfig(rows=4000, fields=5, noise_fields=1, planted_pairs=2, vocab=20),
        search=SearchConfig(search_epochs=1, embed_epochs=1, grda_c=0.12, embed_grda_c=0.04),
        train=TrainConfig(epochs=1, batch_size=256, embed_l2=0.0, precision="bf16"),
    )
    run = load_run(execute(cfg, tmp_path, log=lambda _: None))
    assert run.status == "complete"
    assert run.meta["config"]["train"]["precision"] == "bf16"
    assert 0.5 < run.meta["metrics"]["test"]["auc"] <= 1.0
