"""The run format (aim/runs.py): a real run loads and rebuilds its model; damaged runs are refused by name;
writes are atomic."""

from __future__ import annotations

import json
import math
import os
import pickle
import shutil
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from aim.config import RunConfig
from aim.errors import AIMError, RunFormatError
from aim.fileio import read_json, write_csv, write_json, write_weights
from aim.runs import (
    PROGRESS_FILE,
    REQUIRED_KEYS,
    RUN_FILE,
    SCHEMA_VERSION,
    STATUSES,
    TABLES,
    WEIGHTS_FILE,
    columns,
    load_run,
    read_progress,
)
from aim.runwriter import RunWriter

# Documented in the README ("Run format"); TABLES in aim/runs.py lists them (``columns``) and the required subset.
DOCUMENTED_COLUMNS = {
    "interactions": ["column", "order", "fields", "field_names", "function", "alpha", "kept", "interaction_kept",
                     "stats_auc", "planted"],
    "fields": ["field", "name", "vocab_size", "dims_kept", "positions"],
    "history": ["stage", "epoch", "step", "train_loss", "valid_auc", "valid_logloss", "seconds", "gates_nonzero",
                "gates_total", "grda_lr"],
    "snapshots": ["stage", "epoch", "step", "column", "alpha"],
    "sparsity": ["stage", "candidate", "cross", "c", "crossing_step", "steps", "embed_l2", "start", "columns_kept",
                 "interactions_kept", "dims_kept", "size", "valid_auc", "valid_logloss", "epochs", "seconds", "chosen"],
}


def test_the_schema_lists_every_documented_column_in_order_and_requires_a_subset():
    for name, documented in DOCUMENTED_COLUMNS.items():
        table = TABLES[name]
        assert columns(name) == documented + list(table.optional), name
        assert [c for c in columns(name) if c in table.required] == list(table.required), name
    assert columns("interactions")[-1] == "ref_score" and TABLES["interactions"].optional == ("ref_score",)
    fresh = columns("sparsity")
    fresh.append("x")  # a caller's copy: the schema itself cannot be changed through it
    assert "x" not in columns("sparsity")


@pytest.fixture
def damaged(tiny_runs, tmp_path):
    """A private copy of the complete aim run, free to damage."""
    return Path(shutil.copytree(tiny_runs["aim"], tmp_path / "run"))


def refused(path: Path, filename: str) -> RunFormatError:
    with pytest.raises(RunFormatError) as info:
        load_run(path)
    assert filename in str(info.value), f"message does not name {filename}: {info.value}"
    return info.value


def rewrite_meta(run: Path, **changes) -> None:
    meta = json.loads((run / RUN_FILE).read_text())
    meta.update(changes)
    (run / RUN_FILE).write_text(json.dumps(meta))


# ----------------------------------------------------------------------------------------- complete runs


@pytest.mark.parametrize("variant", ["aim", "fm"])
def test_complete_run_loads_with_documented_tables(tiny_runs, tiny_config, variant):
    run = load_run(tiny_runs[variant])
    meta = run.meta
    assert run.status == "complete" and meta["error"] is None and "finished" in meta
    assert run.id == run.path.name == meta["id"]
    assert run.id.startswith(f"synthetic__{variant}__seed0__")
    assert all(k in meta for k in REQUIRED_KEYS)
    assert meta["schema_version"] == SCHEMA_VERSION and meta["kind"] == "run"
    assert meta["variant"] == variant and meta["dataset"]["name"] == "synthetic"
    assert RunConfig.from_json(meta["config"]) == tiny_config(variant)
    for split in ("valid", "test"):
        for key in ("auc", "logloss"):
            assert math.isfinite(meta["metrics"][split][key])
    expected_tables = {"interactions", "fields", "history", "sparsity"} | ({"snapshots"} if variant == "aim" else set())
    assert set(meta["tables"]) == expected_tables
    for name, documented in DOCUMENTED_COLUMNS.items():
        df = getattr(run, name)
        if name not in expected_tables:
            assert df is None
            continue
        # a searching run's interactions add the independent ranking ref_score (docs/run-format.md)
        extra = ["ref_score"] if name == "interactions" and variant == "aim" else []
        assert list(df.columns) == documented + extra, name
        assert len(df) > 0, name
    n_pairs = 5 * 4 // 2
    assert len(run.interactions) == (n_pairs * 4 if variant == "aim" else n_pairs)  # 4 functions searched
    assert len(run.fields) == 5
    assert (run.fields["dims_kept"] <= 4).all()
    assert set(run.interactions["planted"]) <= {0, 1} and run.interactions["planted"].sum() > 0
    stages = {"aim": {"search", "embed", "retrain"}, "fm": {"train"}}[variant]
    assert set(meta["stages"]) == stages and set(run.history["stage"]) == stages
    assert read_progress(run.path)["stage"] == "done"


def _assert_reproduced(got: dict, saved: dict) -> None:
    # The run may have been computed with another thread count (the aim run is a CLI subprocess): float sums can
    # differ in the last bits, and with 200 test rows one swapped near-tie moves the AUC by ~1e-4.
    assert got["logloss"] == pytest.approx(saved["logloss"], rel=1e-5)
    assert got["auc"] == pytest.approx(saved["auc"], abs=1e-3)


def test_aim_weights_rebuild_the_model_and_reproduce_test_auc(tiny_runs):
    from aim.data.synthetic import generate
    from aim.model.nets import AIM, AIMSpec
    from aim.train import Tensors, evaluate

    run = load_run(tiny_runs["aim"])
    weights = run.load_weights()
    assert isinstance(weights, dict) and all(isinstance(v, torch.Tensor) for v in weights.values())
    assert run.meta["model"]["kind"] == "aim"
    model = AIM(AIMSpec.from_json(run.meta["model"]["spec"]))
    model.load_state_dict(weights)  # strict: every key matches
    cfg = RunConfig.from_json(run.meta["config"])
    data = generate(cfg.synthetic, split_seed=cfg.data.split_seed)
    got = evaluate(model, Tensors.of(data.test), cfg.train.eval_batch_size)
    _assert_reproduced(got, run.meta["metrics"]["test"])


def test_fm_weights_rebuild_the_model_and_reproduce_test_auc(tiny_runs):
    from aim.data.synthetic import generate
    from aim.model.nets import FM
    from aim.train import Tensors, evaluate

    run = load_run(tiny_runs["fm"])
    assert run.meta["model"]["kind"] == "fm"
    model = FM(**run.meta["model"]["args"])
    model.load_state_dict(run.load_weights())
    cfg = RunConfig.from_json(run.meta["config"])
    data = generate(cfg.synthetic, split_seed=cfg.data.split_seed)
    got = evaluate(model, Tensors.of(data.test), cfg.train.eval_batch_size)
    _assert_reproduced(got, run.meta["metrics"]["test"])


# ------------------------------------------------------------------------------------- loader refusals


def test_refuses_missing_run_json(damaged):
    (damaged / RUN_FILE).unlink()
    refused(damaged, RUN_FILE)


@pytest.mark.parametrize("text", ['{"schema_version": 1, "kind": "ru', "", "not json at all", "\xff\xfe{"])
def test_refuses_truncated_or_invalid_json(damaged, text):
    (damaged / RUN_FILE).write_bytes(text.encode("latin-1"))
    err = refused(damaged, RUN_FILE)
    assert "JSON" in err.problem


def test_refuses_json_that_is_a_list(damaged):
    (damaged / RUN_FILE).write_text("[1, 2, 3]")
    err = refused(damaged, RUN_FILE)
    assert "list" in err.problem


@pytest.mark.parametrize("key", ["schema_version", "status", "config", "stages"])
def test_refuses_missing_required_keys(damaged, key):
    meta = json.loads((damaged / RUN_FILE).read_text())
    del meta[key]
    (damaged / RUN_FILE).write_text(json.dumps(meta))
    err = refused(damaged, RUN_FILE)
    assert key in err.problem


@pytest.mark.parametrize("version", [SCHEMA_VERSION + 1, 0, "1", None])
def test_refuses_unsupported_schema_version(damaged, version):
    rewrite_meta(damaged, schema_version=version)
    err = refused(damaged, RUN_FILE)
    assert "schema_version" in err.problem


def test_refuses_unknown_status(damaged):
    rewrite_meta(damaged, status="done")
    err = refused(damaged, RUN_FILE)
    assert "'done'" in err.problem and all(s in err.problem for s in STATUSES)


def test_refuses_foreign_kind(damaged):
    rewrite_meta(damaged, kind="study")
    refused(damaged, RUN_FILE)


@pytest.mark.parametrize("name", list(TABLES))
def test_refuses_csv_with_wrong_columns(damaged, name):
    filename = TABLES[name].file
    (damaged / filename).write_text("a,b\n1,2\n")
    err = refused(damaged, filename)
    assert "missing columns" in err.problem


@pytest.mark.parametrize("name", list(TABLES))
def test_refuses_empty_csv(damaged, name):
    filename = TABLES[name].file
    (damaged / filename).write_text("")
    err = refused(damaged, filename)
    assert "empty" in err.problem


@pytest.mark.parametrize("name", list(TABLES))
def test_lazy_load_checks_headers_now_and_rows_on_first_use(damaged, name):
    """The catalog's lazy load refuses a wrong header at once; rows that cannot be parsed under a good header are
    found on first use, with the file named, and the other tables of the run stay readable."""
    eager = load_run(damaged)
    lazy = load_run(damaged, lazy=True)
    for other in TABLES:
        pd.testing.assert_frame_equal(lazy.table(other), eager.table(other))
    filename, required = TABLES[name].file, TABLES[name].required
    (damaged / filename).write_bytes(b"\xef\xbb\xbf" + ",".join(required).encode() + b"\n1\n\"unclosed\xff\n" + b"1,2,3," * 5000)
    run = load_run(damaged, lazy=True)  # the header is fine (a BOM is allowed)
    with pytest.raises(RunFormatError) as err:
        run.load_tables()
    assert err.value.path == str(damaged / filename)
    assert run.table(next(t for t in TABLES if t != name)) is not None
    (damaged / filename).write_bytes(b",".join(c.encode() for c in required[:-1]) + b"\n")
    with pytest.raises(RunFormatError, match="missing columns"):
        load_run(damaged, lazy=True)


@pytest.mark.parametrize("name", ["interactions", "fields", "history", "snapshots"])
def test_refuses_listed_table_missing_from_complete_run(damaged, name):
    filename = TABLES[name].file
    (damaged / filename).unlink()
    err = refused(damaged, filename)
    assert "missing" in err.problem


def test_unlisted_missing_tables_of_running_or_failed_runs_are_none(damaged):
    (damaged / TABLES["history"].file).unlink()
    for status in ("running", "failed"):
        rewrite_meta(damaged, status=status)
        assert load_run(damaged).history is None


def test_refuses_a_path_that_is_not_a_folder(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(RunFormatError) as info:
        load_run(f)
    assert str(f) in str(info.value)
    with pytest.raises(RunFormatError) as info:
        load_run(tmp_path / "no" / "such" / "dir")
    assert str(tmp_path / "no" / "such" / "dir") in str(info.value)


def test_refuses_unreadable_run_json(damaged):
    (damaged / RUN_FILE).unlink()
    (damaged / RUN_FILE).mkdir()
    refused(damaged, RUN_FILE)


class _Evil:
    """Unpickling this would run a shell command that creates ``marker``."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch '{self.marker}'",)


@pytest.mark.parametrize("how", ["torch.save", "pickle.dump"])
def test_refuses_weights_that_carry_code(damaged, tmp_path, how):
    marker = tmp_path / "pwned"
    payload = {"linear.weight": _Evil(marker)}
    with open(damaged / WEIGHTS_FILE, "wb") as fh:
        torch.save(payload, fh) if how == "torch.save" else pickle.dump(payload, fh, protocol=2)
    run = load_run(damaged)
    with pytest.raises(RunFormatError) as info:
        run.load_weights()
    assert WEIGHTS_FILE in str(info.value) and "refused" in info.value.problem
    assert not marker.exists(), "the pickle's code ran"


def test_refuses_truncated_or_missing_weights(damaged):
    data = (damaged / WEIGHTS_FILE).read_bytes()
    (damaged / WEIGHTS_FILE).write_bytes(data[: len(data) // 2])
    with pytest.raises(RunFormatError) as info:
        load_run(damaged).load_weights()
    assert WEIGHTS_FILE in str(info.value)
    (damaged / WEIGHTS_FILE).unlink()
    with pytest.raises(RunFormatError) as info:
        load_run(damaged).load_weights()
    assert WEIGHTS_FILE in str(info.value) and "missing" in info.value.problem


def test_refuses_weights_that_are_not_a_dict_of_tensors(damaged):
    torch.save(torch.zeros(3), damaged / WEIGHTS_FILE)
    with pytest.raises(RunFormatError) as info:
        load_run(damaged).load_weights()
    assert WEIGHTS_FILE in str(info.value)


# ------------------------------------------------------------------------------------------ atomic writes


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_write_json_is_atomic_and_leaves_no_temp_files(tmp_path):
    path = tmp_path / "x.json"
    write_json(path, {"a": 1, "t": (1, 2), "n": torch.tensor(2.5)})
    assert read_json(path) == {"a": 1, "t": [1, 2], "n": 2.5}
    assert _leftovers(tmp_path) == []
    with pytest.raises(TypeError):
        write_json(path, {"a": 2, "bad": object()})  # fails half-way through the dump
    assert read_json(path) == {"a": 1, "t": [1, 2], "n": 2.5}
    assert _leftovers(tmp_path) == []


def test_failing_csv_and_weights_writes_keep_the_previous_file(tmp_path):
    csv = tmp_path / "t.csv"
    write_csv(csv, pd.DataFrame({"a": [1, 2]}))

    class Broken(pd.DataFrame):
        def to_csv(self, *args, **kwargs):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_csv(csv, Broken({"a": [3]}))
    assert pd.read_csv(csv)["a"].tolist() == [1, 2]
    weights = tmp_path / "w.pt"
    write_weights(weights, {"w": torch.ones(2)})
    with pytest.raises(AttributeError):
        write_weights(weights, {"w": "not a tensor"})
    assert torch.load(weights, weights_only=True)["w"].tolist() == [1.0, 1.0]
    assert _leftovers(tmp_path) == []


# --------------------------------------------------------------------------------------------- RunWriter


def test_runwriter_lifecycle_running_then_failed(tmp_path, tiny_config):
    writer = RunWriter(tmp_path, "r1")
    writer.start({"config": tiny_config().to_json(), "versions": {}, "dataset": {"name": "synthetic"},
                  "tables": []})
    run = load_run(writer.path)
    assert run.status == "running"
    assert run.interactions is None and run.fields is None and run.history is None and run.snapshots is None
    writer.progress(stage="search", epoch=1, valid_auc=0.6)
    assert read_progress(writer.path)["epoch"] == 1
    writer.table("fields", pd.DataFrame({c: [0] for c in TABLES["fields"].required}))
    writer.update(tables=["fields"])
    writer.finish("failed", "NonFiniteLossError: loss became nan")
    run = load_run(writer.path)
    assert run.status == "failed" and run.meta["error"] == "NonFiniteLossError: loss became nan"
    assert run.fields is not None and len(run.fields) == 1
    assert _leftovers(writer.path) == []
    with pytest.raises(ValueError, match="lacks columns"):
        writer.table("history", pd.DataFrame({"stage": ["x"]}))


def test_pipeline_failure_marks_the_run_failed(tmp_path, monkeypatch, tiny_config):
    import aim.pipeline as pipeline
    import aim.search as search

    def boom(*args, **kwargs):
        raise RuntimeError("boom in search")

    monkeypatch.setattr(search, "search_order", boom)
    with pytest.raises(RuntimeError):
        pipeline.execute(tiny_config("aim"), tmp_path, log=lambda msg: None)
    (folder,) = tmp_path.iterdir()
    run = load_run(folder)
    assert run.status == "failed" and "boom in search" in run.meta["error"]


def test_read_progress_missing_or_corrupt_is_none(tmp_path):
    assert read_progress(tmp_path) is None
    assert read_progress(tmp_path / "no-such-run") is None
    (tmp_path / PROGRESS_FILE).write_text('{"stage": "sea')
    assert read_progress(tmp_path) is None
    (tmp_path / PROGRESS_FILE).write_text("[1]")
    assert read_progress(tmp_path) is None
    (tmp_path / PROGRESS_FILE).write_text('{"stage": "search"}')
    assert read_progress(tmp_path) == {"stage": "search"}


def test_two_runs_of_the_same_config_in_the_same_second(tmp_path, monkeypatch, tiny_config):
    import aim.pipeline as pipeline

    frozen = time.gmtime()
    monkeypatch.setattr(time, "gmtime", lambda *args: frozen)
    cfg = tiny_config("fm")
    first = tmp_path / pipeline.run_id(cfg)  # the folder of a run started earlier in this same second
    first.mkdir()
    try:
        second = pipeline.execute(cfg, tmp_path, log=lambda msg: None)
    except AIMError:
        return  # a clean, explained refusal is acceptable too
    assert second != first and load_run(second).status == "complete"


@pytest.mark.parametrize("mask", [0o022, 0o027, 0o077])
def test_atomic_writes_honour_the_umask_and_keep_an_existing_files_mode(tmp_path, mask):
    old = os.umask(mask)
    try:
        write_json(tmp_path / "new.json", {"a": 1})
        write_csv(tmp_path / "new.csv", pd.DataFrame({"a": [1]}))
        write_weights(tmp_path / "new.pt", {"w": torch.ones(1)})
        for name in ("new.json", "new.csv", "new.pt"):
            assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~mask, name  # not mkstemp's 0600
        (tmp_path / "new.json").chmod(0o604)
        write_json(tmp_path / "new.json", {"a": 2})
        assert (tmp_path / "new.json").stat().st_mode & 0o777 == 0o604  # as open(path, "w") would leave it
    finally:
        os.umask(old)
