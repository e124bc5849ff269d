"""Hand-picked selections (aim/selection.py) and the retrain variant: the --columns spec, valid and refused by name
before any work; the selection rules of the fis-vs-stats study; a tiny re-train whose kept columns are the spec."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from aim import selection
from aim.cli import build_parser, main
from aim.config import RunConfig
from aim.errors import ConfigError
from aim.flags import config_args, config_from_args, retrain_args
from aim.pipeline import execute
from aim.runs import load_run
from tests.fixtures_app import make_tiny_parent

NAMES = ["user", "item", "cost", "city", "hour"]


def test_inline_spec_parses_both_separators_and_sorts_blocks():
    items = selection.parse("user×item:outer, item*cost:inner ,user×item×hour:vkernel", NAMES)
    assert items == [(("user", "item"), "outer"), (("item", "cost"), "inner"), (("user", "item", "hour"), "vkernel")]
    assert selection.blocks(items, NAMES) == [(((1, 2), (0, 1)), (0, 3)), ((((0, 1, 4),), (1,)))]
    assert selection.parse(selection.to_spec(items), NAMES) == items  # the spec a run records parses back


@pytest.mark.parametrize(("spec", "words"), [
    ("user×nope:inner", ["unknown field 'nope'", "user, item, cost"]),
    ("user×item:dot", ["unknown function 'dot'", "inner, vkernel, skernel, outer"]),
    ("user×item:inner,item×user:inner", ["'item×user:inner' is a duplicate of 'user×item:inner'"]),
    ("user×item×cost×city×hour:inner", ["order 5", "2 to 4"]),
    ("user:inner", ["'user:inner' is not an interaction"]),
    ("user×user:inner", ["names a field twice"]),
    ("user×item", ["has no function"]),
    (" , ", ["empty"]),
])
def test_invalid_specs_are_refused_naming_the_item(spec, words):
    with pytest.raises(ConfigError) as exc:
        selection.parse(spec, NAMES)
    assert all(w in str(exc.value) for w in words), str(exc.value)


def test_csv_spec_by_names_or_indices_with_bad_rows_named_by_line(tmp_path):
    by_names = tmp_path / "sel.csv"
    pd.DataFrame({"field_names": ["user × item", "item × cost"], "function": ["outer", "inner"]}).to_csv(by_names)
    assert selection.parse(str(by_names), NAMES) == [(("user", "item"), "outer"), (("item", "cost"), "inner")]
    by_index = tmp_path / "idx.csv"
    pd.DataFrame({"fields": ["0 1", "1 2 4"], "function": ["skernel", "inner"]}).to_csv(by_index, index=False)
    assert selection.parse(str(by_index), NAMES) == [(("user", "item"), "skernel"), (("item", "cost", "hour"), "inner")]
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"fields": ["0 1", "0 9"], "function": ["inner", "inner"]}).to_csv(bad, index=False)
    with pytest.raises(ConfigError, match=r"bad.csv:3: fields '0 9' are not indices"):
        selection.parse(str(bad), NAMES)
    with pytest.raises(ConfigError, match="needs a 'function' column"):
        pd.DataFrame({"x": [1]}).to_csv(bad, index=False)
        selection.parse(str(bad), NAMES)
    with pytest.raises(ConfigError, match="cannot read"):
        selection.parse(str(tmp_path / "missing.csv"), NAMES)


def test_retrain_config_is_validated_before_any_work(tmp_path, capsys):
    with pytest.raises(ConfigError, match="needs columns"):
        RunConfig(variant="retrain")
    with pytest.raises(ConfigError, match="only used by the variant retrain"):
        RunConfig(columns="a×b:inner")
    with pytest.raises(ConfigError, match="unknown function"):
        RunConfig(variant="retrain", columns="a×b:dot")
    # an unknown field needs the data's names: refused after loading them, before the run folder exists
    assert main(["run", "--variant", "retrain", "--columns", "f00×nope:inner", "--synthetic-rows", "500",
                 "--out", str(tmp_path)]) == 2
    assert "unknown field 'nope'" in capsys.readouterr().err and not list(tmp_path.iterdir())


def test_config_args_rebuild_the_config_exactly(tmp_path):
    parent = RunConfig(dataset="synthetic", seed=3, max_order=3).replace(
        model=RunConfig().model.__class__(embed_dim=8, mlp=(16, 8), dropout=0.25))
    args = retrain_args(parent, tmp_path, "f00×f02:outer")
    cfg = config_from_args(build_parser().parse_args(["run", *args]))
    assert cfg == parent.replace(variant="retrain", columns="f00×f02:outer", transfer_from=str(tmp_path))
    assert config_args(RunConfig()) == []


def test_tiny_retrain_keeps_exactly_the_spec_and_records_its_parent(tmp_path):
    parent = make_tiny_parent(tmp_path / "parents")
    spec = "f00×f02:outer,f03*f04:inner,f00×f02×f03:vkernel"
    cfg = RunConfig.from_json(load_run(parent).meta["config"]).replace(variant="retrain", columns=spec,
                                                                       transfer_from=str(parent))
    run = load_run(execute(cfg, tmp_path / "runs", log=lambda m: None))
    assert run.status == "complete" and run.meta["parent"] == {"id": parent.name, "path": str(parent)}
    kept = run.interactions[run.interactions["kept"] == 1]
    got = {(tuple(n.split(" × ")), f) for n, f in zip(kept["field_names"], kept["function"])}
    assert got == set(selection.parse(spec, run.fields["name"].tolist())) and len(kept) == len(run.interactions)
    recorded = [(tuple(s["fields"]), s["function"]) for s in run.meta["selection"]]
    assert recorded == selection.parse(spec, run.fields["name"].tolist())
    blocks = run.meta["model"]["spec"]["blocks"]
    assert sorted(len(fields) for b in blocks for fields in b[0]) == [2, 2, 3]
    assert run.meta["interactions"]["order2"]["kept"] == 2 and run.meta["interactions"]["order3"]["kept"] == 1
    assert run.interactions["alpha"].isna().all() and run.interactions["stats_auc"].between(0, 1).all()


def test_parent_embedding_sizes_and_a_field_it_left_empty(tmp_path):
    parent = make_tiny_parent(tmp_path)
    fields = load_run(parent).fields.assign(positions=["0 1", "", "2", "0 1 2 3", ""], dims_kept=[2, 0, 1, 4, 0])
    fields.to_csv(parent / "fields.csv", index=False)
    cfg = RunConfig.from_json(load_run(parent).meta["config"]).replace(
        variant="retrain", columns="f00×noise01:inner,f02×f03:outer", transfer_from=str(parent))
    names = fields["name"].tolist()
    plan = selection.plan_retrain(cfg, names)
    assert plan.positions == ((0, 1), (0, 1, 2, 3), (2,), (0, 1, 2, 3), ())
    assert "noise01" in plan.warnings[0]
    assert selection.plan_retrain(cfg.replace(retrain_dims="full"), names).positions is None
    with pytest.raises(ConfigError, match="differ from this dataset"):
        selection.plan_retrain(cfg, ["f00", "noise01", "f02", "f04", "f03"])


def test_selection_rules_share_the_function_rule(tmp_path):
    inter = load_run(make_tiny_parent(tmp_path)).interactions
    fis = selection.rule_selection(inter, "fis", 3)
    # |α|: pair 0 (outer .95 > inner .9), pairs 1 and 2 kept with inner
    assert fis == [(("f00", "noise01"), "outer"), (("f00", "f02"), "inner"), (("f00", "f03"), "inner")]
    stats = selection.rule_selection(inter, "stats", 2)  # statistics AUC ranks the pairs in reverse; none kept:
    assert stats == [(("f03", "f04"), "inner"), (("f02", "f04"), "inner")]  # the parent's most frequent (inner)
    draws = [selection.rule_selection(inter, "random", 4, seed) for seed in (0, 1)]
    assert draws[0] == selection.rule_selection(inter, "random", 4, 0) and draws[0] != draws[1]
    with pytest.raises(ConfigError, match=r"--top must be in \[1, 10\]"):
        selection.rule_selection(inter, "fis", 11)


def test_retrain_of_the_parents_own_columns_reproduces_the_parent(tmp_path):
    """The what-if follows the parent's final-model procedure: it starts from the parent's search model and random
    states, read from the parent's search_start.pt or, for a parent without one (the shipped runs, older runs),
    rebuilt by replaying the parent's search (and embed search). Re-training the parent's kept columns is then the
    parent's own re-train stage (same process, same threads: bit-identical), every start and L2 candidate."""
    from aim.checkpoints import SEARCH_START_FILE
    from tests.conftest import _tiny_config

    cfg = _tiny_config("aim").replace(train=_tiny_config().train.__class__(epochs=2, batch_size=256, embed_l2=0.0))
    parent = load_run(execute(cfg, tmp_path, log=lambda m: None))
    spec = selection.to_spec(selection.kept_items(parent.interactions))
    what_if = cfg.replace(variant="retrain", columns=spec, transfer_from=str(parent.path))
    assert (parent.path / SEARCH_START_FILE).is_file()
    read = load_run(execute(what_if, tmp_path, log=lambda m: None))
    (parent.path / SEARCH_START_FILE).unlink()
    lines: list[str] = []
    replayed = load_run(execute(what_if, tmp_path, log=lines.append))
    start = parent.meta["stages"]["retrain"]["start"]
    for run in (read, replayed):
        assert run.meta["metrics"] == parent.meta["metrics"]
        frontier = [r[r["stage"] == "retrain"] for r in (run.sparsity, parent.sparsity)]
        assert frontier[0]["valid_auc"].tolist() == frontier[1]["valid_auc"].tolist() and len(frontier[0]) == 2
        assert set(run.history["stage"]) == {"retrain"}  # the replayed stages are not this run's history
        assert run.meta["procedure"]["start"] == start and run.meta["procedure"]["starts_tried"] == ["scratch", "search"]
    assert read.meta["procedure"]["read"] == SEARCH_START_FILE and read.meta["procedure"]["replayed"] == []
    threads = parent.meta["threads"]
    assert replayed.meta["procedure"] | {"seconds": 0} == {
        "replayed": ["search", "embed"], "seed": 0, "parent_variant": "aim", "seconds": 0, "start": start,
        "starts_tried": ["scratch", "search"], "same_kept_columns": True, "threads": threads,
        "parent_threads": threads}
    assert not replayed.meta["warnings"]
    assert any(line.startswith("replaying the parent's search to rebuild its start: ") for line in lines)
    # --retrain-start scratch skips the replay: scratch only, and run.json says why
    scratch = load_run(execute(what_if.replace(search=dataclasses.replace(cfg.search, retrain_start="scratch")),
                               tmp_path, log=lambda m: None))
    assert scratch.meta["procedure"]["replayed"] == [] and "scratch" in scratch.meta["procedure"]["why"]
    assert scratch.meta["procedure"]["starts_tried"] == ["scratch"]


def _inter_table() -> pd.DataFrame:
    """4 pairs × (inner, vkernel, outer): a×b keeps inner and outer, a×c vkernel, a×d outer, b×c nothing."""
    alpha = {("a", "b"): (0.5, 0.0, 0.9), ("a", "c"): (0.0, 0.3, 0.0), ("a", "d"): (0.0, 0.0, 0.2),
             ("b", "c"): (0.01, 0.0, 0.0)}
    idx = {"a": 0, "b": 1, "c": 2, "d": 3}
    rows = [(f"{idx[p[0]]} {idx[p[1]]}", " × ".join(p), f, a[k]) for p, a in alpha.items()
            for k, f in enumerate(("inner", "vkernel", "outer"))]
    kept = [int(a != 0 and p != "1 2") for p, _, _, a in rows]  # b×c's inner α is non-zero but not kept
    return pd.DataFrame({"column": range(len(rows)), "order": 2, "fields": [r[0] for r in rows],
                         "field_names": [r[1] for r in rows], "function": [r[2] for r in rows],
                         "alpha": [r[3] for r in rows], "kept": kept, "interaction_kept": 0, "stats_auc": 0.6,
                         "planted": 0})


def test_a_selection_of_interactions_sends_every_kept_function_and_the_default_for_a_dropped_one():
    from aim.analysis import alpha_points

    inter = _inter_table()
    points = alpha_points(inter, "interaction")
    assert selection.default_function(inter) == "outer"  # outer kept twice, inner and vkernel once
    cols = selection.points_columns(points, "interaction", inter)
    assert cols["column"].tolist() == ["a×b:inner", "a×b:outer", "a×c:vkernel", "a×d:outer", "b×c:outer"]
    assert cols["source"].tolist() == [selection.SOURCES[s] for s in ("kept", "kept", "kept", "kept", "default")]
    assert selection.to_spec(selection.items_of(cols)) == "a×b:inner,a×b:outer,a×c:vkernel,a×d:outer,b×c:outer"
    # the function filter of the page: only the kept functions shown are sent
    cols = selection.points_columns(alpha_points(inter, "interaction", functions=["inner", "vkernel"]), "interaction",
                                    inter)
    assert cols["column"].tolist() == ["a×b:inner", "a×c:vkernel", "a×d:outer", "b×c:outer"]


def test_a_selection_of_columns_sends_exactly_those_columns():
    from aim.analysis import alpha_points

    inter = _inter_table()
    points = alpha_points(inter, "column")
    picked = points[points["key"].isin(["0", "5", "9"])]  # a×b:inner, a×c:outer (dropped), b×c:inner (dropped)
    cols = selection.points_columns(picked, "column", inter)
    assert cols["column"].tolist() == ["a×b:inner", "a×c:outer", "b×c:inner"]
    assert set(cols["source"]) == {selection.SOURCES["column"]}
    with pytest.raises(ValueError):
        selection.points_columns(picked, "pair", inter)
