"""Faults: a run killed (SIGKILL) at any point is never shown as complete and ``--resume`` finishes it with exactly
the result of an uninterrupted run of the same seed; a crash, a NaN loss or a full disk marks the run failed with
the stage and the reason, and keeps its checkpoints; the same seed gives the same run.

Tolerance: none. On one machine with one thread (OMP_NUM_THREADS=1 for the subprocesses, torch.set_num_threads(1)
in process) a resumed run is bit-identical to an uninterrupted one: tables, metrics, history (but seconds),
weights. The random states (torch, the batch-order generator, numpy) are checkpointed with every stage.
"""

from __future__ import annotations

import errno
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch

from aim import pipeline, search, stages
from aim.cli import build_parser, config_from_args
from aim.errors import OutputError, RunFormatError
from aim.runs import CHECKPOINTS_DIR, PROGRESS_FILE, RUN_FILE, load_run, writer_alive
from aim.runwriter import RunWriter
from aim.search import search_interactions
from tests.conftest import cli_env

ROOT = Path(__file__).resolve().parents[1]
# Two epochs per stage, so that a kill seen after epoch 1 lands inside the stage; order 3 adds a fourth stage.
ARGS = ["--synthetic-rows", "3000", "--synthetic-fields", "5", "--synthetic-noise-fields", "1",
        "--synthetic-planted-pairs", "2", "--search-epochs", "2", "--embed-epochs", "2", "--epochs", "2",
        "--mlp", "8", "--embed-dim", "4", "--max-order", "3", "--grda-c", "0.12", "--high-order-grda-c", "0.05",
        "--embed-grda-c", "0.04", "--embed-l2", "0"]
STAGES = ["search", "search3", "embed", "retrain"]
CFG = config_from_args(build_parser().parse_args(["run", *ARGS]))


def quiet(_msg: str) -> None:
    pass


@contextmanager
def one_thread():
    """The thread count of the subprocesses (OMP_NUM_THREADS=1): float sums are then reproducible across them."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def execute(out: Path) -> Path:
    with one_thread():
        return pipeline.execute(CFG, out, log=quiet)


def resume(path: Path) -> Path:
    with one_thread():
        return pipeline.resume(path, log=quiet)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """An uninterrupted run of ``ARGS``."""
    return execute(tmp_path_factory.mktemp("reference"))


def assert_same_run(a: Path, b: Path) -> None:
    """Everything a run learned is identical (the timings and seconds of course differ)."""
    ra, rb = load_run(a), load_run(b)
    assert ra.status == rb.status == "complete"
    for table in ("interactions", "fields", "snapshots"):
        assert getattr(ra, table).equals(getattr(rb, table)), table
    assert ra.history.drop(columns="seconds").equals(rb.history.drop(columns="seconds"))
    for key in ("metrics", "interactions", "params", "planted", "model", "config", "dataset", "tables"):
        assert ra.meta[key] == rb.meta[key], key
    assert {k: v["metrics"] for k, v in ra.meta["stages"].items()} == {k: v["metrics"]
                                                                       for k, v in rb.meta["stages"].items()}
    wa, wb = ra.load_weights(), rb.load_weights()
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def checkpoints(run: Path) -> list[str]:
    return sorted(p.stem for p in (run / CHECKPOINTS_DIR).glob("*.pt"))


# ------------------------------------------------------------------------------------ determinism


def test_the_same_seed_gives_the_same_run(reference, tmp_path):
    again = execute(tmp_path)
    assert_same_run(reference, again)
    assert not (again / CHECKPOINTS_DIR).exists()  # a complete run keeps no checkpoints
    assert load_run(again).meta["planted"]["recall"] == 1.0


def test_an_order_restored_through_the_checkpoint_codec_leaves_the_next_order_unchanged():
    """The pipeline runs stage A order by order (``search_interactions`` with ``StageRunner.run_search``, each
    order checkpointed): an order that comes back through the checkpoint codec must give the next order exactly
    the search it would have had."""
    from aim.checkpoints import search_of, search_state
    from aim.context import Context, SplitTensors
    from aim.train import Tensors

    data = pipeline.load_data(CFG)
    tensors = SplitTensors(Tensors.of(data.train), Tensors.of(data.valid), Tensors.of(data.test))

    def through_codec(name, compute):
        result = compute()
        rng = torch.get_rng_state()  # rebuilding the model draws its init; a restore resets the states after it
        restored, _ = search_of(search_state(result, 0.0), with_model=True)
        torch.set_rng_state(rng)
        return restored

    with one_thread():
        expected = search_interactions(Context(CFG, data.vocab_sizes, tensors, pipeline._seed(CFG)))
        got = search_interactions(Context(CFG, data.vocab_sizes, tensors, pipeline._seed(CFG)), through_codec)
    assert len(got) == len(expected) == 2
    for a, b in zip(got, expected):
        assert a.columns == b.columns and (a.alpha == b.alpha).all()


# ------------------------------------------------------------------------------- SIGKILL, resume


class Job:
    """``python -m aim run ARGS`` as a user starts it; ``kill_in(stage)`` SIGKILLs it once its progress shows
    the first epoch of ``stage`` finished (so the kill lands inside the stage's second epoch or just after)."""

    def __init__(self, args: list[str], out: Path):
        self.out = out
        self.proc = subprocess.Popen([sys.executable, "-m", "aim", "run", *args], cwd=ROOT, env=cli_env(),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)

    def folder(self) -> Path | None:
        runs = [p for p in self.out.iterdir() if p.is_dir()] if self.out.is_dir() else []
        return runs[0] if runs else None

    def kill_in(self, stage: str, timeout: float = 240) -> Path:
        deadline = time.time() + timeout
        while time.time() < deadline and self.proc.poll() is None:
            run = self.folder()
            try:
                progress = json.loads((run / PROGRESS_FILE).read_text()) if run else {}
            except (OSError, ValueError):
                progress = {}
            if progress.get("stage") == stage:
                self.proc.send_signal(signal.SIGKILL)
                self.proc.communicate()
                return run
            time.sleep(0.005)
        raise AssertionError(f"never reached {stage}: {self.proc.communicate(timeout=60)[0][-2000:]}")

    def finish(self) -> str:
        out, _ = self.proc.communicate(timeout=240)
        assert self.proc.returncode == 0, out[-3000:]
        return out


def test_sigkill_then_resume_gives_the_uninterrupted_result(reference, tmp_path):
    """A real ``python -m aim run`` killed inside its embed search (the other stages are interrupted in process
    below; each subprocess costs seconds of imports), then ``--resume`` in a new process."""
    out = tmp_path / "runs"
    run = Job([*ARGS, "--out", str(out)], out).kill_in("embed")
    killed = load_run(run)
    assert killed.status == "failed" and killed.meta["interrupted"], "a killed run must not look running or complete"
    assert "--resume" in killed.meta["error"] and writer_alive(run) is False
    assert checkpoints(run) == ["search", "search3"]
    log = Job(["--resume", str(run)], out).finish()
    assert "[search3] finished before the interruption" in log and "[embed] epoch 1" in log
    assert log.strip().splitlines()[-1] == str(run)
    assert_same_run(reference, run)
    assert [r["checkpoints"] for r in load_run(run).meta["resumed"]] == [["search", "search3"]]
    assert not (run / CHECKPOINTS_DIR).exists()


@pytest.mark.parametrize("stage", STAGES)
def test_a_crash_in_a_stage_keeps_the_stages_before_and_resumes_exactly(reference, tmp_path, monkeypatch, stage):
    crash = RuntimeError(f"simulated crash in {stage}")
    if stage.startswith("search"):
        real = search.search_order

        def search_order(*args, **kwargs):
            if args[3] == stage:
                raise crash
            return real(*args, **kwargs)
        monkeypatch.setattr(search, "search_order", search_order)
    else:
        monkeypatch.setattr(stages, "search_embed" if stage == "embed" else "retrain",
                            lambda *a, **k: (_ for _ in ()).throw(crash))
    with pytest.raises(RuntimeError, match="simulated"):
        execute(tmp_path)
    monkeypatch.undo()
    (run,) = tmp_path.iterdir()
    failed = load_run(run)
    assert failed.status == "failed" and failed.meta["failed_stage"] == stage
    assert "simulated crash" in failed.meta["error"]
    assert checkpoints(run) == sorted(STAGES[:STAGES.index(stage)])
    assert resume(run) == run
    assert_same_run(reference, run)


# -------------------------------------------------------------------------------- refusals


@pytest.fixture
def failed_run(tmp_path, monkeypatch) -> Path:
    """A run that failed in its embed stage (search and search3 checkpointed)."""
    monkeypatch.setattr(stages, "search_embed", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("boom")))
    with pytest.raises(RuntimeError):
        execute(tmp_path / "runs")
    monkeypatch.undo()
    (run,) = (tmp_path / "runs").iterdir()
    return run


def test_resume_refuses_a_run_another_process_writes(failed_run):
    holder = RunWriter.reopen(failed_run)
    try:
        with pytest.raises(RunFormatError, match="being written by another process"):
            pipeline.resume(failed_run, log=quiet)
    finally:
        holder.release()


def test_resume_refuses_changed_data_and_foreign_checkpoints(failed_run, tmp_path):
    meta = json.loads((failed_run / RUN_FILE).read_text())
    meta["dataset"]["rows"]["train"] += 1
    (failed_run / RUN_FILE).write_text(json.dumps(meta))
    with pytest.raises(RunFormatError, match="data changed"):
        pipeline.resume(failed_run, log=quiet)
    meta["dataset"]["rows"]["train"] -= 1
    (failed_run / RUN_FILE).write_text(json.dumps(meta))

    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return os.system, (f"touch '{marker}'",)

    with open(failed_run / CHECKPOINTS_DIR / "search.pt", "wb") as fh:
        pickle.dump({"version": 1, "state": Evil()}, fh, protocol=2)
    with pytest.raises(RunFormatError, match="search.pt") as info:
        pipeline.resume(failed_run, log=quiet)
    assert "refused" in str(info.value) and not marker.exists()
    assert load_run(failed_run).status == "failed"  # the refused resume marked it failed again, with the reason


def test_resume_of_a_complete_run_changes_nothing(reference):
    before = (reference / RUN_FILE).read_bytes()
    assert pipeline.resume(reference, log=quiet) == reference
    assert (reference / RUN_FILE).read_bytes() == before


# ------------------------------------------------------------------------------ NaN, disk full


def test_a_nan_loss_fails_the_run_with_stage_step_and_last_finite_loss(tmp_path, monkeypatch):
    real = torch.nn.BCEWithLogitsLoss

    class NaNAfterFirstStep(real):
        calls = 0

        def forward(self, logits, y):
            NaNAfterFirstStep.calls += 1
            loss = super().forward(logits, y)
            return loss if NaNAfterFirstStep.calls == 1 else loss * float("nan")

    monkeypatch.setattr(torch.nn, "BCEWithLogitsLoss", NaNAfterFirstStep)
    with pytest.raises(Exception, match="last finite loss"):
        execute(tmp_path)
    (run,) = tmp_path.iterdir()
    meta = load_run(run).meta
    assert meta["status"] == "failed" and meta["failed_stage"] == "search"
    error = meta["error"]
    assert error.startswith("NonFiniteLossError: search: ") and "nan" in error
    assert "step" in error and "last finite loss 0.69" in error  # log(2): the first step's loss


def _disk_full_from(first: str, monkeypatch, then: tuple[str, ...] = ()) -> None:
    """Writes of ``first`` fail with ENOSPC, and from then on the writes of ``then`` too."""
    real = tempfile.mkstemp
    full = set()

    def mkstemp(*args, prefix: str = "", **kwargs):
        name = prefix[1:-1]
        if name == first or name in full:
            full.update((first, *then))
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(*args, prefix=prefix, **kwargs)
    monkeypatch.setattr("aim.fileio.tempfile.mkstemp", mkstemp)


def test_a_full_disk_fails_the_run_by_name_and_it_resumes_once_there_is_room(reference, tmp_path, monkeypatch):
    _disk_full_from("history.csv", monkeypatch)
    with pytest.raises(OutputError, match="history.csv: cannot be written: disk full"):
        execute(tmp_path)
    monkeypatch.undo()
    (run,) = tmp_path.iterdir()
    meta = load_run(run).meta
    assert meta["status"] == "failed" and meta["failed_stage"] == "finish" and "disk full" in meta["error"]
    assert checkpoints(run) == sorted(STAGES)  # every stage finished: resuming only writes the files
    resume(run)
    assert_same_run(reference, run)


def test_when_even_the_failure_cannot_be_written_the_run_reads_as_interrupted(tmp_path, monkeypatch):
    _disk_full_from("history.csv", monkeypatch, then=(RUN_FILE,))
    with pytest.raises(OutputError):
        execute(tmp_path)
    monkeypatch.undo()
    (run,) = tmp_path.iterdir()
    assert json.loads((run / RUN_FILE).read_text())["status"] == "running"  # what the disk holds
    shown = load_run(run)
    assert shown.status == "failed" and shown.meta["interrupted"]  # what every reader sees: not running, not done


def test_umask_is_honoured_by_every_file_of_a_run(reference):
    mask = os.umask(0)
    os.umask(mask)
    files = [p for p in reference.iterdir() if p.is_file()]
    assert {p.name for p in files} >= {RUN_FILE, "weights.pt", "interactions.csv"}
    for p in files:
        assert p.stat().st_mode & 0o777 == 0o666 & ~mask, p.name


def test_stale_lock_files_and_foreign_hosts(tmp_path):
    writer = RunWriter(tmp_path, "r")
    writer.start({"config": {}, "versions": {}, "dataset": {}, "tables": []})
    assert load_run(writer.path).status == "running" and writer_alive(writer.path) is True
    writer.release()
    assert load_run(writer.path).status == "failed" and writer_alive(writer.path) is False
    lock = json.loads((writer.path / ".lock").read_text())
    (writer.path / ".lock").write_text(json.dumps({**lock, "host": "elsewhere"}))
    assert writer_alive(writer.path) is None and load_run(writer.path).status == "running"  # cannot tell: as written
    (writer.path / ".lock").unlink()
    assert writer_alive(writer.path) is None and load_run(writer.path).status == "running"
    shutil.rmtree(writer.path)
