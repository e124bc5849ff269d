"""The paper's comparison models as variants (issue 30): each trains end to end through the pipeline on tiny
synthetic data, records what rebuilds its network, and is dispatched by the registry alone."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aim import variants
from aim.checkpoints import rebuild_model
from aim.pipeline import execute
from aim.runs import load_run
from aim.train import predict
from tests.conftest import _tiny_config

NETWORKS = ("fwfm", "xdeepfm", "autoint", "dcnv2")


@pytest.mark.parametrize("variant", NETWORKS)
def test_each_network_variant_runs_end_to_end_and_rebuilds_from_its_run(tmp_path, variant):
    run = load_run(execute(_tiny_config(variant), tmp_path, log=lambda m: None))
    assert run.status == "complete" and run.meta["variant"] == variant
    spec = run.meta["model"]
    assert spec["kind"] == variant and spec["args"].items() >= variants.get(variant).network_args.items()
    model = rebuild_model(spec)
    model.load_state_dict(run.load_weights())
    assert sum(p.numel() for p in model.parameters()) == run.meta["params"]["after_eds"]
    X = torch.zeros(7, len(spec["args"]["vocab_sizes"]), dtype=torch.long)
    assert np.isfinite(predict(model, X, 4)).all()
    assert run.interactions["alpha"].isna().all()  # no gates: every pair listed for its statistics AUC
    assert 0.4 < run.meta["metrics"]["test"]["auc"] <= 1.0


def test_autofis_searches_gates_on_deepfm_and_retrains_the_kept_pairs_from_scratch(tmp_path):
    run = load_run(execute(_tiny_config("autofis"), tmp_path, log=lambda m: None))
    inter = run.interactions
    assert run.status == "complete" and set(inter["function"]) == {"inner"}  # AutoFIS gates FM's inner products
    assert inter["alpha"].notna().all() and set(run.meta["stages"]) == {"search", "retrain"}  # no EDS stage
    assert run.meta["stages"]["retrain"]["start"] == "scratch"  # search.retrain_start is "choose" by default
    spec = run.meta["model"]["spec"]
    assert spec["mlp"] and spec["positions"] is None
    kept = {tuple(int(i) for i in f.split()) for f in inter.loc[inter["kept"] == 1, "fields"]}
    assert {tuple(f) for fields, _ in spec["blocks"] for f in fields} == kept


@pytest.mark.parametrize("variant", (*NETWORKS, "autofis"))
def test_each_new_variant_runs_on_a_users_csv_with_categorical_and_numeric_columns(tmp_path, variant):
    """The generic CSV path a user's own log takes (``--dataset csv --label click --numeric price``): string ids,
    a bucketised numeric column, a label that is not called "label"."""
    from aim.config import DataConfig

    rng = np.random.default_rng(0)
    n = 1500
    user, item, price = rng.integers(0, 40, n), rng.integers(0, 25, n), rng.gamma(2.0, 10.0, n)
    logit = 1.5 * ((user % 3) == (item % 3)) + 0.03 * price - 1.5
    click = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    path = tmp_path / "log.csv"
    lines = ["click,user,item,device,price"] + [
        f"{c},u{u},i{i},{'ios' if u % 2 else 'android'},{p:.2f}" for c, u, i, p in zip(click, user, item, price)]
    path.write_text("\n".join(lines) + "\n")
    cfg = _tiny_config(variant).replace(dataset="csv", data_path=str(path),
                                        data=DataConfig(label="click", numeric=("price",)))
    run = load_run(execute(cfg, tmp_path / "runs", log=lambda m: None))
    assert run.status == "complete" and run.meta["variant"] == variant
    fields = {f["name"]: f["kind"] for f in run.meta["dataset"]["fields"]}
    assert set(fields) == {"user", "item", "device", "price"} and fields["price"] == "numeric"
    assert 0.5 < run.meta["metrics"]["test"]["auc"] <= 1.0


def test_the_new_variants_are_baselines_of_the_studies_and_only_the_paper_rows_are_marked():
    from aim.study import BASELINES, valid_tokens

    assert set(NETWORKS) | {"autofis"} <= set(BASELINES) <= set(valid_tokens())
    assert "autofis-se" not in valid_tokens()
    assert {v for v in variants.names(paper=True)} >= {"fwfm", "xdeepfm", "autoint", "autofis"}
    assert "dcnv2" not in variants.names(paper=True)  # DCN-V2 (2021) is not in the AIM paper


def test_an_unknown_variant_is_refused_with_the_valid_names():
    with pytest.raises(ValueError, match="dcnv2"):
        variants.get("dcn")


def test_dnn_init_xavier_redraws_only_the_dnn_layers():
    from torch import nn

    from aim.model.dcnv2 import DCNv2
    from aim.model.nets import reinit_dnn

    for structure in ("stacked", "parallel"):
        torch.manual_seed(0)
        model = DCNv2([7, 9, 11], 4, 0.01, mlp=(64, 64), structure=structure)
        cross = [p.clone() for p in model.cross.parameters()]
        reinit_dnn(model)
        dnn = model.mlp if structure == "stacked" else model.dnn
        linears = [m for m in dnn.modules() if isinstance(m, nn.Linear)]
        assert linears and all(float(m.bias.detach().abs().max()) == 0 for m in linears)
        first = linears[0].weight.detach()
        fan_in, fan_out = first.shape[1], first.shape[0]
        assert abs(float(first.std()) - (2 / (fan_in + fan_out)) ** 0.5) < 0.2 * (2 / (fan_in + fan_out)) ** 0.5
        assert all(torch.equal(a, b) for a, b in zip(cross, model.cross.parameters()))  # the cross layers keep theirs


def test_dnn_init_is_a_config_key_that_reaches_the_network(tmp_path):
    from aim.config import ModelConfig

    cfg = _tiny_config("dcnv2")
    xavier = cfg.replace(model=ModelConfig(mlp=(8,), embed_dim=4, dnn_init="xavier"))
    a = load_run(execute(cfg, tmp_path / "a", log=lambda m: None))
    b = load_run(execute(xavier, tmp_path / "b", log=lambda m: None))
    assert b.meta["config"]["model"]["dnn_init"] == "xavier" and a.meta["config"]["model"]["dnn_init"] == "default"
    assert a.meta["metrics"] != b.meta["metrics"]  # another init, another model


def test_network_args_set_a_networks_own_arguments_over_its_defaults(tmp_path, capsys):
    import dataclasses

    from aim.cli import main
    from aim.config import ModelConfig
    from aim.errors import ConfigError

    assert variants.network_args("autoint", '{"attention_dropout": 0.2, "layers": 2}') == {
        **variants.get("autoint").network_args, "attention_dropout": 0.2, "layers": 2}
    assert variants.network_args("xdeepfm", '{"cin": [8, 8]}')["cin"] == [8, 8]
    assert variants.network_args("dcnv2") == variants.get("dcnv2").network_args
    cfg = _tiny_config("autoint")
    small = cfg.replace(model=dataclasses.replace(cfg.model, network_args='{"layers": 1, "unprojected_residual": true}'))
    run = load_run(execute(small, tmp_path, log=lambda m: None))
    assert run.meta["model"]["args"]["layers"] == 1 and run.meta["model"]["args"]["unprojected_residual"] is True
    model = rebuild_model(run.meta["model"])
    assert len(model.interacting) == 1
    # the CLI refuses, naming what the network takes, before any data is read
    for bad, says in (('{"heads": "two"}', "takes a whole number"), ('{"depth": 2}', "has no argument 'depth'"),
                      ("[1]", "must be a JSON object"), ("{layers: 2}", "not a JSON object")):
        assert main(["run", "--variant", "autoint", "--network-args", bad, "--out", str(tmp_path / "x")]) != 0
        assert says in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    with pytest.raises(ConfigError, match="deepfm has no network arguments"):
        _tiny_config("deepfm").replace(model=ModelConfig(network_args='{"x": 1}'))
