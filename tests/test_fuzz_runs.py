"""Run folders handed over by others: every kind of damage is refused by the loader with the file and the reason,
the app's catalog lists the folder as unreadable (or ignores it, with a notice) and the app keeps working.

Damages tried (``DAMAGES``): truncated or invalid run.json, run.json missing, a folder, a FIFO (would block a
reader forever), too large, or a symbolic link out of the run; newer / odd ``schema_version``; foreign kind and
status; wrong JSON types for every key the pages read; tables with wrong columns, empty, binary, header only, a
folder, or a link to /etc/passwd; a complete run missing a listed table; a run whose writer was killed; a run
folder that links out of the runs folder; folder names with commas, control and invisible characters, leading
spaces, or bytes that are not UTF-8. Then hypothesis rewrites run.json values at random (``test_random_values``).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from aim import analysis
from aim.runs import RUN_FILE, TABLES, load_run
from aim.runwriter import RunWriter
from app import catalog
from tests.timeouts import no_hang

INTERACTIONS = TABLES["interactions"].file


def _meta(folder: Path) -> dict:
    return json.loads((folder / RUN_FILE).read_text())


def _set(*path_value) -> Callable[[Path], None]:
    """A damage that sets ``meta[k1][k2]... = value``."""
    *keys, value = path_value

    def damage(folder: Path) -> None:
        meta = _meta(folder)
        node = meta
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = value
        (folder / RUN_FILE).write_text(json.dumps(meta))
    return damage


def _write(name: str, content: bytes) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        (folder / name).unlink(missing_ok=True)
        (folder / name).write_bytes(content)
    return damage


def _truncate(fraction: float) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        data = (folder / RUN_FILE).read_bytes()
        (folder / RUN_FILE).write_bytes(data[: int(len(data) * fraction)])
    return damage


def _replace(name: str, make: Callable[[Path], None]) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        (folder / name).unlink()
        make(folder / name)
    return damage


def _link_out(name: str, target: str | None = None) -> Callable[[Path], None]:
    """``name`` becomes a link to a copy of itself outside the run (or to ``target``)."""
    def damage(folder: Path) -> None:
        outside = folder.parent.parent / "outside" / folder.name
        outside.mkdir(parents=True, exist_ok=True)
        dest = Path(target) if target else outside / name
        if not target:
            shutil.copy(folder / name, dest)
        (folder / name).unlink()
        (folder / name).symlink_to(dest)
    return damage


def _killed(folder: Path) -> None:
    _set("status", "running")(folder)
    (folder / ".lock").write_text(json.dumps({"pid": 1, "host": os.uname().nodename}))  # nobody holds it


def _unlisted(folder: Path) -> None:
    (folder / TABLES["history"].file).unlink()


# name -> (damage, words the refusal names; None = the folder still loads)
DAMAGES: dict[str, tuple[Callable[[Path], None], list[str] | None]] = {
    "run.json truncated to 0%": (_truncate(0), [RUN_FILE, "JSON"]),
    "run.json truncated to 1%": (_truncate(0.01), [RUN_FILE, "JSON"]),
    "run.json truncated to 50%": (_truncate(0.5), [RUN_FILE, "JSON"]),
    "run.json truncated by 1 byte": (_truncate(0.9999), [RUN_FILE, "JSON"]),
    "run.json not UTF-8": (_write(RUN_FILE, b"\xff\xfe{\x00"), [RUN_FILE, "JSON"]),
    "run.json a list": (_write(RUN_FILE, b"[1, 2]"), [RUN_FILE, "object"]),
    "run.json deeply nested": (_write(RUN_FILE, b"[" * 100_000 + b"]" * 100_000), [RUN_FILE]),
    "run.json a folder": (_replace(RUN_FILE, lambda p: p.mkdir()), [RUN_FILE]),
    "run.json a FIFO": (_replace(RUN_FILE, os.mkfifo), [RUN_FILE, "not a regular file"]),
    "run.json links out": (_link_out(RUN_FILE), [RUN_FILE, "symbolic link", "outside the run folder"]),
    "schema_version 2": (_set("schema_version", 2), [RUN_FILE, "schema_version 2", "upgrade"]),
    "schema_version '1'": (_set("schema_version", "1"), [RUN_FILE, "schema_version"]),
    "schema_version true": (_set("schema_version", True), [RUN_FILE, "schema_version"]),
    "schema_version null": (_set("schema_version", None), [RUN_FILE, "schema_version"]),
    "kind study": (_set("kind", "study"), [RUN_FILE, "kind"]),
    "status done": (_set("status", "done"), [RUN_FILE, "status", "'done'"]),
    "status a list": (_set("status", ["complete"]), [RUN_FILE, "status"]),
    "id a number": (_set("id", 3), [RUN_FILE, "id"]),
    "config a list": (_set("config", []), [RUN_FILE, "config"]),
    "dataset a string": (_set("dataset", "x"), [RUN_FILE, "dataset"]),
    "stages.search a number": (_set("stages", "search", 5), [RUN_FILE, "stages.search"]),
    "metrics a list": (_set("metrics", []), [RUN_FILE, "metrics"]),
    "metrics.test a string": (_set("metrics", "test", "x"), [RUN_FILE, "metrics.test"]),
    "metrics.test.auc a string": (_set("metrics", "test", "auc", "0.8"), [RUN_FILE, "metrics.test.auc"]),
    "metrics.test.auc NaN": (_set("metrics", "test", "auc", math.nan), None),
    "interactions.order2 a list": (_set("interactions", "order2", []), [RUN_FILE, "interactions.order2"]),
    "params a number": (_set("params", 7), [RUN_FILE, "params"]),
    "tables a string": (_set("tables", "interactions"), [RUN_FILE, "tables"]),
    "tables of numbers": (_set("tables", [1, 2]), [RUN_FILE, "tables"]),
    "seed a string": (_set("seed", "0"), [RUN_FILE, "seed"]),
    "csv wrong columns": (_write(INTERACTIONS, b"a,b\n1,2\n"), [INTERACTIONS, "missing columns"]),
    "csv empty": (_write(INTERACTIONS, b""), [INTERACTIONS, "empty"]),
    "csv binary": (_write(INTERACTIONS, bytes(range(256)) * 4), [INTERACTIONS]),
    "csv a folder": (_replace(INTERACTIONS, lambda p: p.mkdir()), [INTERACTIONS, "not a regular file"]),
    "csv links to /etc/passwd": (_link_out(INTERACTIONS, "/etc/passwd"), [INTERACTIONS, "symbolic link"]),
    "csv header only": (_write(INTERACTIONS, (",".join(TABLES["interactions"].required) + "\n").encode()), None),
    # a good header over rows that cannot be parsed: listed (the catalog reads headers only), refused when opened
    "csv rows garbled": (_write(INTERACTIONS, (",".join(TABLES["interactions"].required) + "\n").encode()
                                + b'1\n"unclosed\xff\n' + b"1,2,3," * 5000), None),
    "complete run lacks a listed table": (_unlisted, ["history.csv", "missing"]),
    "killed while running": (_killed, None),
}
NAMES = {  # folder name -> refusal words (None: a fine run id)
    "a,b": ["comma"], "new\nline": ["control"], " leading space": ["white space"], "tab\there": ["control"],
    "zero\u200bwidth": ["invisible"], "bell\x07": ["control"], "a..b": None, "résumé run (copy)": None,
    "日本語": None,
}


@pytest.fixture(scope="module")
def damaged_root(tmp_path_factory, tiny_runs) -> Path:
    """One runs folder holding a damaged copy of the tiny aim run per damage, odd names, links, and a good copy."""
    root = tmp_path_factory.mktemp("damaged") / "runs"
    root.mkdir()
    shutil.copytree(tiny_runs["aim"], root / "good")
    for i, (damage, _) in enumerate(DAMAGES.values()):
        folder = root / f"damage{i:02d}"
        shutil.copytree(tiny_runs["aim"], folder)
        damage(folder)
    for name in NAMES:
        shutil.copytree(tiny_runs["aim"], root / name)
    outside = root.parent / "elsewhere"
    shutil.copytree(tiny_runs["aim"], outside)
    (root / "link-out").symlink_to(outside)
    (root / "link-in").symlink_to(root / "good")
    os.mkdir(os.fsencode(root) + b"/bad\xff\xfename")
    return root


def test_loader_and_catalog_refuse_each_damage_by_file_and_reason(damaged_root):
    for i, (name, (_, words)) in enumerate(DAMAGES.items()):
        folder = damaged_root / f"damage{i:02d}"
        with no_hang():
            run, reason = catalog.load(folder)
        if words is None:
            assert run is not None, f"{name}: {reason}"
            continue
        assert run is None, f"{name} was accepted"
        for w in words:
            assert w in reason, f"{name}: {w!r} not in {reason!r}"


def test_a_killed_run_loads_as_failed_with_the_way_to_resume(damaged_root):
    folder = damaged_root / f"damage{list(DAMAGES).index('killed while running'):02d}"
    run = load_run(folder)
    assert run.status == "failed" and run.meta["interrupted"] and "--resume" in run.meta["error"]


def test_folder_names_and_links(damaged_root):
    for name, words in NAMES.items():
        run, reason = catalog.load(damaged_root / name)
        if words is None:
            assert run is not None, f"{name!r}: {reason}"
        else:
            assert run is None and all(w in reason for w in words), f"{name!r}: {reason}"
    run, reason = catalog.load(damaged_root / "link-out")
    assert run is None and "symbolic link" in reason and "outside the runs folder" in reason
    assert catalog.load(damaged_root / "link-in")[0] is not None
    scan = catalog.scan([("runs", damaged_root)])
    (bad,) = [n for n in scan.ignored if "UTF-8" in n.reason]
    assert bad.id == ascii("bad\udcff\udcfename") and str(bad.path).encode("utf-8")
    assert len(scan.candidates) == 1 + len(DAMAGES) + len(NAMES) + 2 - 2  # run.json a folder, a FIFO: ignored


def test_the_app_lists_every_damaged_folder_and_keeps_working(damaged_root, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("AIM_RUNS_DIR", str(damaged_root))
    monkeypatch.setenv("AIM_CACHED_RUNS_DIR", str(tmp_path / "none"))
    monkeypatch.setenv("AIM_STUDIES_DIR", str(tmp_path / "none"))
    app = str(Path(__file__).resolve().parents[1] / "app" / "streamlit_app.py")
    at = AppTest.from_file(app, default_timeout=240)
    at.query_params.update({"view": "runs"})  # the Runs page (the app opens on Start here)
    with no_hang(300):
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    shown = set(at.dataframe[0].value["id"])
    unreadable = at.dataframe[1].value
    assert {"good", "link-in", "a..b", "日本語"} <= shown
    assert {"link-out", "a,b", "new\nline"} <= set(unreadable["folder"])
    assert len(shown) + len(unreadable) == len(catalog.scan([("runs", damaged_root)]).candidates)
    garbled = f"damage{list(DAMAGES).index('csv rows garbled'):02d}"
    at = AppTest.from_file(app, default_timeout=240)
    at.query_params.update({"view": "interactions", "run": garbled})
    with no_hang(300):
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(INTERACTIONS in e.value and "cannot be shown" in e.value for e in at.error), [e.value for e in at.error]
    for page, rid in [("interactions", "résumé run (copy)"), ("embeddings", "link-in"),
                      ("interactions", f"damage{list(DAMAGES).index('metrics.test.auc NaN'):02d}")]:
        at = AppTest.from_file(app, default_timeout=240)
        at.query_params.update({"view": page, "run": rid})
        with no_hang(300):
            at.run()
        assert not at.exception, (page, rid, [e.value for e in at.exception])


# ------------------------------------------------------------------------- random values in run.json

ODD = [None, 0, -1, 1.5, math.nan, math.inf, "", "x", [], [1, "a"], {}, {"a": 1}, True, "complete", "running"]


@pytest.fixture(scope="module")
def template(tmp_path_factory, tiny_runs) -> tuple[Path, dict]:
    folder = tmp_path_factory.mktemp("template") / "run"
    shutil.copytree(tiny_runs["aim"], folder)
    return folder, _meta(folder)


def _paths(obj, prefix=()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    return out


@settings(max_examples=60, deadline=None, derandomize=True, database=None, phases=[Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_values(template, data):
    """Any key of run.json (nested too) set to an odd value: the catalog refuses the run or the runs table and
    the summary the CLI prints are built from it without an exception."""
    folder, meta = template
    meta = json.loads(json.dumps(meta))
    for _ in range(data.draw(st.integers(1, 3))):
        keys = data.draw(st.sampled_from(_paths(meta)))
        node = meta
        for k in keys[:-1]:
            node = node[k] if isinstance(node, dict) else {}
        if isinstance(node, dict):
            node[keys[-1]] = json.loads(json.dumps(data.draw(st.sampled_from(ODD))))  # a fresh copy
    (folder / RUN_FILE).write_text(json.dumps(meta))
    run, reason = catalog.load(folder)
    if run is None:
        assert reason and str(folder) in reason
        return
    analysis.runs_table([analysis.run_row(run.meta, None, "runs")])
    from aim.cli import _print_summary, summary

    with contextlib.redirect_stdout(io.StringIO()):
        _print_summary(summary(str(folder)))


def test_writer_of_a_fixture_run_is_released(tmp_path):
    """RunWriter.finish releases the writer lock, so a finished run is not taken for a live one."""
    w = RunWriter(tmp_path, "r")
    w.start({"config": {}, "versions": {}, "dataset": {}, "tables": []})
    w.finish("complete")
    assert load_run(w.path).status == "complete"
