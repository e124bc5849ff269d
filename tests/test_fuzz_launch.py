"""The app's launch path (app/jobs.py) and where the app listens: every launch-form field is validated on the server
(hypothesis fills the form with hostile and odd values, 150 forms: each launch is a RunConfig or a ConfigError, and only a
valid one starts a process); jobs are argument lists without a shell; at most N run at once; a job's process is
found again after an app restart (and a recycled pid or an edited job file is never taken for it, nor signalled);
one click, or two racing ones, never starts a run twice; the app binds to 127.0.0.1 unless told otherwise."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import threading
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from aim.config import VARIANTS
from aim.errors import ConfigError
from aim.flags import config_args
from app import jobs

ROOT = Path(__file__).resolve().parents[1]
_counter = itertools.count()
SLEEP = [sys.executable, "-c", "import time; time.sleep(120)"]  # stands in for python -m aim run (its args follow)

# ------------------------------------------------------------------------------------------ listening


def test_the_app_listens_on_localhost_unless_told_otherwise():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "127.0.0.1"
    assert config["browser"]["gatherUsageStats"] is False
    commands = [line for line in (ROOT / "README.md").read_text().splitlines() if "streamlit run" in line]
    assert commands
    for line in commands:
        if "AIM_READ_ONLY=1" in line:  # read-only (app/access.py) is the one way to serve other machines
            continue
        assert "0.0.0.0" not in line
        addresses = re.findall(r"--server\.address[ =](\S+)", line)
        assert addresses in ([], ["127.0.0.1"]), line


# ------------------------------------------------------------------------------- the launch form, fuzzed

HOSTILE = ["--out=/tmp/x", "--out", "--resume", "--ou", "; touch {m}", "$(touch {m})", "`touch {m}`", "a\nb",
           "a\x00b", "x" * 5000, "-1", "nan", "inf", "1e309", "", " ", "--seed", "--data=/", "../../etc",
           "..", "/", "~", "$HOME", "ünïcødé", "inner,outer", "8,8", "0", "3"]


def _field(kind: str):
    """Values a field of the launch form may hold: what its widget gives, and anything a crafted request sends."""
    hostile = st.sampled_from(HOSTILE)
    if kind == "int":
        return st.one_of(st.integers(-10, 10**6), hostile)
    if kind == "float":
        return st.one_of(st.floats(allow_nan=True, allow_infinity=True), hostile)
    if kind == "choice":
        return st.one_of(st.sampled_from([*VARIANTS, "synthetic", "csv", "criteo", "frappe", "movielens"]), hostile)
    return st.one_of(st.text(max_size=20), hostile)


FORM = {  # flag -> kind: the launch form's fields as flags, the arguments a crafted request may send
    "--dataset": "choice", "--data": "text", "--variant": "choice", "--max-order": "int", "--seed": "int",
    "--embed-dim": "int", "--mlp": "text", "--batch-size": "int", "--synthetic-rows": "int",
    "--search-epochs": "int", "--embed-epochs": "int", "--epochs": "int", "--grda-mu": "float",
    "--grda-cross": "text", "--embed-grda-cross": "text", "--head": "text",
    "--label": "text", "--categorical": "text", "--numeric": "text",
}


class FakePopen:
    """Records a launch instead of starting it; the 'process' has already ended (exit 0)."""

    launched: list[dict] = []
    next_pid = 2**22 + 10

    def __init__(self, argv, **kwargs):
        FakePopen.next_pid += 1
        self.pid = FakePopen.next_pid
        FakePopen.launched.append({"argv": argv, **kwargs})

    def poll(self) -> int:
        return 0


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("launch")


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_every_launch_form_field_is_validated_on_the_server(scratch, monkeypatch, data):
    marker = scratch / "pwned"
    chosen = data.draw(st.lists(st.sampled_from(list(FORM)), unique=True, max_size=6))
    values = {}
    for flag in chosen:
        v = data.draw(_field(FORM[flag]))
        values[flag] = v.replace("{m}", str(marker)) if isinstance(v, str) else v
    args = [a for flag, v in values.items() if v not in (None, "") for a in (flag, str(v))]
    runs = scratch / f"runs{next(_counter)}"
    monkeypatch.setattr(jobs.subprocess, "Popen", FakePopen)
    FakePopen.launched.clear()
    try:
        cfg = jobs.validate(args)
    except ConfigError:
        event("refused")
        with pytest.raises((ConfigError, jobs.JobError)):
            jobs.start(args, runs)
        assert FakePopen.launched == [], "a refused launch started a process"
        return
    event("accepted")
    assert cfg.variant in VARIANTS and cfg.max_order in (2, 3, 4)
    job = jobs.start(args, runs)
    (launch,) = FakePopen.launched
    assert launch["shell"] is False and isinstance(launch["argv"], list)
    assert launch["argv"][: len(jobs.COMMAND)] == jobs.COMMAND
    assert launch["argv"][-2:] == ["--out", str(runs.resolve())]
    assert jobs.validate(job.args) == cfg  # the recorded arguments parse back to the same run
    assert jobs.validate(config_args(cfg)) == cfg  # and so do the ones the app writes for it
    assert not marker.exists()


# ------------------------------------------------------------------------------ real processes


@pytest.fixture
def sleeper(monkeypatch):
    """Jobs run a sleeping Python instead of a training run; every process started is killed afterwards."""
    monkeypatch.setattr(jobs, "COMMAND", SLEEP)
    started: list[jobs.Job] = []
    real_start = jobs.start

    def start(*args, **kwargs):
        job = real_start(*args, **kwargs)
        started.append(job)
        return job

    monkeypatch.setattr(jobs, "start", start)
    yield start
    for job in started:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(job.pid, signal.SIGKILL)
        proc = jobs._CHILDREN.pop(job.pid, None)
        if proc is not None:
            proc.wait()


def _forget_children() -> dict:
    """What a restarted app knows of the jobs: only their files (it did not start them)."""
    kept = dict(jobs._CHILDREN)
    jobs._CHILDREN.clear()
    return kept


def test_a_job_is_found_again_after_a_restart_and_an_edited_record_is_not_signalled(tmp_path, sleeper):
    job = sleeper(["--seed", "1"], tmp_path)
    assert jobs._cmdline(job.pid) == job.argv and "shell" not in " ".join(job.argv)
    children = _forget_children()
    try:
        (again,) = jobs.list_jobs(tmp_path)
        assert (again.id, again.pid) == (job.id, job.pid) and jobs.status(again) == "running"
        with pytest.raises(jobs.JobError, match="already running"):
            sleeper(["--seed", "1"], tmp_path)  # the same click after the restart does not start it twice

        record = jobs.jobs_dir(tmp_path) / f"{job.id}.json"
        saved = json.loads(record.read_text())
        record.write_text(json.dumps({**saved, "argv": [sys.executable, "-c", "other"]}))  # not this process
        (edited,) = jobs.list_jobs(tmp_path)
        assert jobs.status(edited) != "running"
        jobs.cancel(edited)
        assert os.waitpid(job.pid, os.WNOHANG) == (0, 0), "an edited job record got a live process signalled"
        for bad in ({"pid": 1}, {"pid": "1"}, {"pid": True}, {"run_id": "../../etc"}, {"argv": "python"}):
            record.write_text(json.dumps({**saved, **bad}))
            assert jobs.list_jobs(tmp_path) == [], bad
        record.write_text(json.dumps(saved))
    finally:
        jobs._CHILDREN.update(children)
    (listed,) = jobs.list_jobs(tmp_path)
    jobs.cancel(listed)
    jobs.wait(listed, timeout=30)
    assert jobs.status(listed) == "cancelled"


def test_racing_clicks_start_one_job_and_the_limit_holds(tmp_path, sleeper):
    barrier = threading.Barrier(4)
    outcomes: list[object] = []

    def click(args):
        barrier.wait()
        try:
            outcomes.append(sleeper(args, tmp_path, limit=2))
        except jobs.JobError as exc:
            outcomes.append(exc)

    # two clicks on the same form, two on other seeds: 1 + 1 may start (limit 2), the rest are refused
    threads = [threading.Thread(target=click, args=(a,)) for a in (["--seed", "1"], ["--seed", "1"],
                                                                   ["--seed", "2"], ["--seed", "3"])]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    started = [o for o in outcomes if isinstance(o, jobs.Job)]
    refused = [str(o) for o in outcomes if isinstance(o, jobs.JobError)]
    assert len(started) == 2 and len(refused) == 2, refused
    assert len({j.key for j in started}) == 2
    assert len([j for j in jobs.list_jobs(tmp_path) if jobs.status(j) == "running"]) == 2


@pytest.mark.parametrize(("value", "limit"), [("3", 3), ("0", 1), ("-4", 1), ("many", 2), ("", 2)])
def test_the_job_limit_is_configurable(monkeypatch, value, limit):
    monkeypatch.setenv("AIM_MAX_JOBS", value)
    assert jobs.max_jobs() == limit


def test_a_job_is_an_argument_list_without_a_shell(tmp_path, sleeper, monkeypatch):
    seen = {}
    real = subprocess.Popen

    def popen(argv, **kwargs):
        seen.update(argv=argv, **kwargs)
        return real(argv, **kwargs)

    monkeypatch.setattr(jobs.subprocess, "Popen", popen)
    label = "$(touch pwned); `id`"
    data = tmp_path / "log with spaces; and $(quotes).csv"
    data.write_text(f"{label},a\n1,x\n0,y\n")  # a real column: a launch checks the header before it starts
    job = sleeper(["--dataset", "csv", "--data", str(data), "--label", label], tmp_path / "runs")
    assert seen["shell"] is False and seen["start_new_session"] is True
    assert seen["argv"] == [*SLEEP, "--dataset", "csv", "--data", str(data), "--label", label, "--threads",
                            str(jobs.thread_share(0)), "--out", str((tmp_path / "runs").resolve())]
    assert jobs._cmdline(job.pid) == seen["argv"]
    assert not (tmp_path / "pwned").exists() and not Path("pwned").exists()


def test_a_launch_takes_its_share_of_the_cores(sleeper, tmp_path):
    """Two launches on the same cores never ask for more threads in all than there are cores (issue 16)."""
    cores = jobs.thread_share(0)
    first = sleeper(["--seed", "1"], tmp_path / "runs")
    second = sleeper(["--seed", "2"], tmp_path / "runs")
    shares = [int(j.argv[j.argv.index("--threads") + 1]) for j in (first, second)]
    assert shares == [cores, max(1, cores // 2)]
    assert "--threads" not in first.args  # the user's arguments stay as given; the share is the launcher's
    mine = sleeper(["--seed", "3", "--threads", "1"], tmp_path / "other")
    assert mine.argv.count("--threads") == 1
