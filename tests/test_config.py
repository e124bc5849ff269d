"""Configs (aim/config.py): defaults are valid, every bad value is refused naming the field and what is valid,
and RunConfig survives a JSON round trip."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from aim.config import (
    EMBEDDINGS,
    FUNCTIONS,
    VARIANTS,
    DataConfig,
    ModelConfig,
    RunConfig,
    SearchConfig,
    SyntheticConfig,
    TrainConfig,
)
from aim.config_fields import is_list, list_text, parse_fractions
from aim.errors import AIMError, ConfigError

SECTIONS = {"data": DataConfig, "synthetic": SyntheticConfig, "model": ModelConfig, "search": SearchConfig,
            "train": TrainConfig}


def refused(cls, **kwargs) -> str:
    with pytest.raises(ConfigError) as info:
        cls(**kwargs)
    assert isinstance(info.value, AIMError) and isinstance(info.value, ValueError)
    return str(info.value)


def test_defaults_are_valid_and_frozen():
    cfg = RunConfig()
    for name, cls in SECTIONS.items():
        assert getattr(cfg, name) == cls()
    assert cfg.variant in VARIANTS and cfg.model.embedding in EMBEDDINGS
    assert cfg.search.functions == FUNCTIONS
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.variant = "fm"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("cls", "field", "value", "valid"),
    [
        (ModelConfig, "embed_dim", -3, ">= 1"),
        (ModelConfig, "embed_dim", 0, ">= 1"),
        (TrainConfig, "batch_size", -1, ">= 1"),
        (TrainConfig, "batch_size", 0, ">= 1"),
        (TrainConfig, "epochs", -2, ">= 1"),
        (TrainConfig, "eval_batch_size", 0, ">= 1"),
        (TrainConfig, "lr", 0.0, "> 0"),
        (TrainConfig, "patience", -1, ">= 0"),
        (SyntheticConfig, "rows", -5, ">= 100"),
        (SyntheticConfig, "fields", 2, ">= 3"),
        (SyntheticConfig, "vocab", 1, ">= 2"),
        (SyntheticConfig, "noise_fields", 9, "[0, fields-2]"),
        (SyntheticConfig, "positive_rate", 1.0, "[0.01, 0.99]"),
        (DataConfig, "max_rows", -1, ">= 0"),
        (DataConfig, "min_count", 0, ">= 1"),
        (DataConfig, "valid_frac", 0.5, "(0, 0.5)"),
        (DataConfig, "test_frac", 0.0, "(0, 0.5)"),
        (ModelConfig, "dropout", 1.0, "[0, 1)"),
        (ModelConfig, "dropout", -0.1, "[0, 1)"),
        (ModelConfig, "init_std", 0.0, "> 0"),
        (ModelConfig, "bn_momentum", 1.5, "(0, 1]"),
        (SearchConfig, "grda_c", -0.01, ">= 0"),
        (SearchConfig, "embed_grda_c", -0.5, ">= 0"),
        (SearchConfig, "grda_cross", "0.1,0", "> 0"),
        (SearchConfig, "embed_grda_cross", "0.2,x", "comma list"),
        (SearchConfig, "high_order_grda_cross", "0.2,0.2", "twice"),
        (SearchConfig, "sparsity_se", -1.0, ">= 0"),
        (SearchConfig, "eds_floor", -1, ">= 0"),
        (ModelConfig, "head", "mlp", "embeddings, summed, products"),
        (TrainConfig, "embed_l2", -0.5, ">= 0"),
        (TrainConfig, "embed_l2_grid", "0,-1", ">= 0"),
        (SearchConfig, "grda_mu", 0.0, "(0, 1)"),
        (SearchConfig, "grda_mu", 1.0, "(0, 1)"),
        (SearchConfig, "grda_mu", 1.5, "(0, 1)"),
        (SearchConfig, "embed_grda_mu", -0.5, "(0, 1)"),
        (SearchConfig, "grda_lr", 0.0, "> 0"),
        (SearchConfig, "grda_lr_decay", 1.5, "(0, 1]"),
    ],
)
def test_invalid_value_names_field_and_valid_range(cls, field, value, valid):
    message = refused(cls, **{field: value})
    assert field in message and valid in message and str(value) in message, message


def test_invalid_mlp_sizes():
    message = refused(ModelConfig, mlp=(8, -1))
    assert "mlp" in message and ">= 1" in message


@pytest.mark.parametrize("field", ["search_epochs", "embed_epochs"])
def test_invalid_search_epochs_name_the_field(field):
    message = refused(SearchConfig, **{field: 0})
    assert field in message and "0" in message


@pytest.mark.parametrize("field", ["planted_pairs", "planted_triples"])
def test_invalid_planted_counts_name_the_field(field):
    message = refused(SyntheticConfig, **{field: -1})
    assert field in message and "-1" in message


def test_infeasible_planted_pairs_refused_by_config():
    message = refused(SyntheticConfig, fields=5, noise_fields=1, planted_pairs=50)
    assert "planted_pairs" in message


def test_unknown_variant_lists_all_variants():
    message = refused(RunConfig, variant="nope")
    assert "variant" in message and "'nope'" in message
    assert all(v in message for v in VARIANTS)


def test_unknown_embedding_lists_choices():
    message = refused(ModelConfig, embedding="xx")
    assert "embedding" in message and all(e in message for e in EMBEDDINGS)


@pytest.mark.parametrize("functions", ["inner,foo", "dot", ""])
def test_unknown_or_no_function_name(functions):
    message = refused(SearchConfig, functions=functions)
    assert "functions" in message
    if functions:
        assert all(f in message for f in FUNCTIONS)


def test_functions_strip_and_accept_subsets():
    assert SearchConfig(functions=" inner , outer ").functions == ("inner", "outer")
    assert SearchConfig(functions=["outer"]).functions == ("outer",)


LIST_FIELDS = [(cls, f) for cls in SECTIONS.values() for f in dataclasses.fields(cls) if is_list(f)]


@pytest.mark.parametrize(("cls", "f"), LIST_FIELDS, ids=[f"{c.__name__}.{f.name}" for c, f in LIST_FIELDS])
def test_a_list_field_is_a_tuple_given_as_comma_text_or_a_sequence(cls, f):
    default = getattr(cls(), f.name)
    assert isinstance(default, tuple)
    assert getattr(cls(**{f.name: list_text(default)}), f.name) == default
    assert getattr(cls(**{f.name: list(default)}), f.name) == default
    config = cls(**{f.name: default})
    assert dataclasses.replace(config) == config  # a tuple parses to itself


# What run.json held before the lists were typed: each parses to the values the old second parse produced.
OLD_TEXT = {("grda_cross", "0.1,0.2,0.4,0.8"), ("high_order_grda_cross", "0.2,0.4,0.8"),
            ("embed_grda_cross", "0.25,0.5,1,2"), ("embed_grda_cross", " 0.5, 1 ,"), ("grda_cross", "1e-3,2")}


@pytest.mark.parametrize(("name", "text"), sorted(OLD_TEXT))
def test_crossing_fractions_are_what_the_old_parse_gave_in_its_order(name, text):
    values = getattr(SearchConfig(**{name: text}), name)
    assert values == parse_fractions(text, name) and all(type(v) is float for v in values)
    assert SearchConfig(**{name: text}).to_json()[name] == list_text(values)


def test_the_other_lists_are_what_their_old_parse_gave():
    assert TrainConfig(embed_l2_grid="0,0.01,0.05").embed_l2_grid == parse_fractions("0,0.01,0.05", "g", allow_zero=True)
    assert DataConfig(categorical=" a, b ,,c").categorical == ("a", "b", "c")  # as the CSV reader split them
    assert DataConfig(numeric="").numeric == () and DataConfig().to_json()["numeric"] == ""


@pytest.mark.parametrize(("cls", "field", "value", "valid"), [
    (SearchConfig, "grda_cross", (0.1, 0.0), "> 0"),
    (SearchConfig, "grda_cross", (), "at least one"),
    (SearchConfig, "embed_grda_cross", ["0.5", "x"], "comma list"),
    (SearchConfig, "grda_cross", 0.1, "comma list"),
    (TrainConfig, "embed_l2_grid", [0.0, 0.0], "twice"),
    (SearchConfig, "functions", ("inner", "dot"), "vkernel"),
    (DataConfig, "categorical", ["a", 3], "comma list of names"),
    (ModelConfig, "mlp", "16,x", "comma list of integers"),
    (ModelConfig, "mlp", (16, 1.5), "comma list of integers"),
])
def test_a_bad_list_is_refused_as_its_text_is(cls, field, value, valid):
    message = refused(cls, **{field: value})
    assert field in message and valid in message, message


@pytest.mark.parametrize("order", [5, 1, 0, -1])
def test_max_order_outside_2_to_4(order):
    message = refused(RunConfig, max_order=order)
    assert "max_order" in message and "2, 3, 4" in message and str(order) in message


@pytest.mark.parametrize("order", [2, 3, 4])
def test_max_order_2_to_4_accepted(order):
    assert RunConfig(max_order=order).max_order == order


def test_negative_seed_refused():
    message = refused(RunConfig, seed=-1)
    assert "seed" in message


def _custom() -> RunConfig:
    return RunConfig(
        dataset="csv", data_path="/data/log.csv", variant="aim-eds", seed=3,
        data=DataConfig(min_count=3, max_rows=1000, label="click", categorical="a,b", numeric="price"),
        synthetic=SyntheticConfig(rows=500, fields=4, noise_fields=1, planted_pairs=1, positive_rate=0.3),
        model=ModelConfig(embed_dim=8, embedding="se", mlp=(16, 8), dropout=0.1),
        search=SearchConfig(grda_c=0.01, grda_mu=0.5, functions="inner,outer"),
        train=TrainConfig(epochs=2, batch_size=128, lr=3e-3),
    )


@pytest.mark.parametrize("cfg", [RunConfig(), _custom()], ids=["defaults", "custom"])
def test_round_trip_through_json(cfg):
    text = json.dumps(cfg.to_json())
    back = RunConfig.from_json(json.loads(text))
    assert back == cfg and RunConfig.from_json(cfg.to_json()) == cfg  # also in process, lists as tuples
    assert isinstance(back.model.mlp, tuple) and isinstance(back.search, SearchConfig)
    assert json.dumps(back.to_json()) == text


CACHED = Path(__file__).resolve().parents[1] / "cached_runs"


def test_every_shipped_config_reads_and_writes_back_as_stored():
    """Every run.json and study.json in cached_runs/ (comma text for the list fields) reads, and writes the same
    values back: a run's checkpoints, its cache key and the Compare page's config diff see no change."""
    stored = [json.loads(p.read_text()).get("config") for p in sorted(CACHED.rglob("run.json"))]
    stored += [json.loads(p.read_text())["base_config"] for p in sorted(CACHED.rglob("study.json"))]
    assert len(stored) > 100 and all(stored)
    for d in stored:
        cfg = RunConfig.from_json(d)
        assert isinstance(cfg.search.grda_cross, tuple) and isinstance(cfg.train.embed_l2_grid, tuple)
        written = json.loads(json.dumps(cfg.to_json()))
        for key, value in d.items():
            assert written[key] == value if not isinstance(value, dict) else \
                {k: written[key][k] for k in value} == value, key


def test_from_json_fills_missing_keys_with_defaults():
    assert RunConfig.from_json({}) == RunConfig()
    assert RunConfig.from_json({"model": {"embed_dim": 8}}) == RunConfig(model=ModelConfig(embed_dim=8))


def test_a_key_a_stored_config_lacks_reads_as_what_it_meant_when_written_not_as_todays_default(monkeypatch):
    from aim import config

    assert RunConfig.from_json({"search": {}}).search.embed_mlp is False  # stage B had no MLP before the key
    # A default that changes later does not change what an old run.json says its run did.
    monkeypatch.setitem(config.ABSENT_MEANS, ("SearchConfig", "eds_unused"), "drop")
    assert RunConfig.from_json({"search": {"grda_mu": 0.8}}).search.eds_unused == "drop"
    assert RunConfig.from_json({"search": {"eds_unused": "keep"}}).search.eds_unused == "keep"  # stored wins
    assert RunConfig.from_json({"search": {}}).search.grda_mu == SearchConfig().grda_mu  # unlisted: default
    assert RunConfig.from_json({}).search.eds_unused == "drop"  # also when the whole section is missing


def test_from_json_unknown_key_lists_valid_keys():
    with pytest.raises(ConfigError) as info:
        RunConfig.from_json({"variant": "fm", "colour": "red"})
    message = str(info.value)
    assert "colour" in message
    assert all(f.name in message for f in dataclasses.fields(RunConfig))


def test_from_json_unknown_nested_key_lists_valid_keys():
    with pytest.raises(ConfigError) as info:
        RunConfig.from_json({"model": {"embed_size": 8}})
    message = str(info.value)
    assert "ModelConfig" in message and "embed_size" in message
    assert all(f.name in message for f in dataclasses.fields(ModelConfig))


def test_from_json_validates_values_and_shapes():
    with pytest.raises(ConfigError, match="variant"):
        RunConfig.from_json({"variant": "nope"})
    with pytest.raises(ConfigError, match="expected an object"):
        RunConfig.from_json({"model": [1, 2]})
    with pytest.raises(ConfigError, match="expected an object"):
        RunConfig.from_json([])  # type: ignore[arg-type]


@pytest.mark.parametrize("d", [{"train": {"epochs": "3"}}, {"model": {"embed_dim": None}}, {"model": {"mlp": 8}}],
                         ids=["str-epochs", "null-embed-dim", "int-mlp"])
def test_from_json_wrong_types_raise_config_error(d):
    with pytest.raises(ConfigError):
        RunConfig.from_json(d)


FLOAT_FIELDS = [(cls, f.name) for cls in SECTIONS.values() for f in dataclasses.fields(cls)
                if isinstance(f.default, float)]


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")], ids=["inf", "-inf", "nan"])
@pytest.mark.parametrize(("cls", "field"), FLOAT_FIELDS, ids=[f"{c.__name__}.{f}" for c, f in FLOAT_FIELDS])
def test_every_float_field_refuses_inf_and_nan(cls, field, value):
    message = refused(cls, **{field: value})
    assert field in message, message


ODD_VALUES = [-1, 0, 1, 2, 3, 5, 100, 10**9, -0.5, 0.0, 1e-9, 0.5, 0.99, 1.0, 1.5, float("inf"), float("-inf"),
              float("nan"), True, False, None, "", "x", "inner,outer", "inner,cubic", [8], [0], [], [8, -1], "8",
              *VARIANTS, *EMBEDDINGS]


def _section_values(draw, cls) -> dict:
    from hypothesis import strategies as st

    fields = [f.name for f in dataclasses.fields(cls)]
    chosen = draw(st.lists(st.sampled_from(fields), max_size=4, unique=True))
    return {name: draw(st.sampled_from(ODD_VALUES)) for name in chosen}


def test_any_json_config_is_accepted_or_refused_with_a_config_error():
    """A run.json config (or a launch) with arbitrary values per field: a valid RunConfig or a ConfigError,
    never a TypeError or another exception from deeper down."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @st.composite
    def configs(draw) -> dict:
        d = _section_values(draw, RunConfig)
        for name, cls in SECTIONS.items():
            if draw(st.booleans()):
                d[name] = _section_values(draw, cls)
        return d

    @settings(max_examples=100, deadline=None, derandomize=True, database=None)
    @given(d=configs())
    def check(d):
        try:
            cfg = RunConfig.from_json(d)
        except ConfigError:
            return
        assert RunConfig.from_json(json.loads(json.dumps(cfg.to_json()))) == cfg

    check()
