"""Background training jobs launched from the app; no Streamlit here.

A job is ``python -m aim run ARGS --threads N --out RUNS_DIR`` (N: the cores / the jobs running with it) started with ``subprocess.Popen`` (an argument list, no shell,
its own session so that cancelling reaches every process it starts), stdout and stderr to a log file. Each job is
recorded in ``RUNS_DIR/.jobs/<job id>.json`` (written atomically), so the list survives a browser refresh and an
app restart: a recorded process is recognised again by its pid, its kernel start time and its command line (a
recycled pid or an edited job file is never taken for a job, nor signalled). The job's run folder is found from
the log's last line (the CLI prints it on success) or, while it runs, as the new folder under ``RUNS_DIR`` whose
``run.json`` holds the job's exact config.

The app's launches (the Launch page, a re-train of a selection) build their arguments from a ``RunConfig`` with
``aim.flags.config_args``; whatever the arguments, every launch is validated here, on the server, exactly as the CLI
would (``validate``) before anything starts; the duplicate and limit checks and the start itself happen under a
lock (``RUNS_DIR/.jobs/.launch.lock``), so two clicks, two browser tabs or two app processes never start the same
run twice nor exceed the limit.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from aim import locks
from aim.cli import build_parser, validate_dataset
from aim.config import RunConfig
from aim.errors import AIMError, ConfigError
from aim.fileio import read_json, write_json
from aim.flags import DEFAULT_OUT, config_from_args, run_option_strings
from aim.runs import RUN_FILE, read_progress
from app import access

ROOT = Path(__file__).resolve().parents[1]
JOBS_DIR = ".jobs"
COMMAND = [sys.executable, "-m", "aim", "run"]  # what a job runs, before its arguments and --out
_CHILDREN: dict[int, subprocess.Popen] = {}  # jobs this process started, so their exit status can be collected


class JobError(AIMError):
    """A launch that is refused (duplicate, too many jobs, bad arguments) or a job that cannot be acted on."""


def max_jobs() -> int:
    """How many jobs may run at once: ``$AIM_MAX_JOBS`` (default 2)."""
    try:
        return max(1, int(os.environ.get("AIM_MAX_JOBS", "2")))
    except ValueError:
        return 2


@dataclass
class Job:
    id: str
    pid: int
    args: list[str]
    argv: list[str]
    key: str
    out: str
    log: str
    started: float
    config: dict
    proc_start: str | None = None
    run_id: str | None = None
    cancelled: bool = False
    returncode: int | None = None
    ended: float | None = None
    extra: dict = field(default_factory=dict)

    @property
    def run_dir(self) -> Path | None:
        return Path(self.out) / self.run_id if self.run_id else None


def validate(args: list[str]) -> RunConfig:
    """Parse ``args`` exactly as ``python -m aim run`` does and build the ``RunConfig`` (raises ``ConfigError`` with
    the CLI's message); also check the dataset name, that its data path exists and has the dataset's layout.
    Options must be written in full as ``--flag value``; ``--out`` and ``--resume`` are the app's to choose."""
    from aim.data.registry import describe_datasets

    if not all(isinstance(a, str) for a in args):
        raise ConfigError("launch arguments must be strings")
    if any("\0" in a for a in args):
        raise ConfigError("a field holds a NUL character")
    known = run_option_strings()
    for a in args:
        if a.startswith("--") and a not in known:
            raise ConfigError(f"unknown option {a.split('=')[0]!r} (options are written in full, as --flag value)")
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            ns = build_parser().parse_args(["run", *args])
    except SystemExit:
        lines = err.getvalue().strip().splitlines()
        raise ConfigError(lines[-1] if lines else "bad arguments") from None
    if "--out" in args or ns.out != DEFAULT_OUT:
        raise ConfigError("--out is chosen by the app (the runs folder)")
    if ns.resume is not None:
        raise ConfigError("--resume is not a launch option")
    cfg = config_from_args(ns)
    names = [d["name"] for d in describe_datasets()]
    if cfg.dataset not in names:
        raise ConfigError(f"unknown dataset {cfg.dataset!r}; choose one of: {', '.join(names)}")
    if cfg.dataset != "synthetic":
        if not cfg.data_path:
            raise ConfigError(f"dataset {cfg.dataset!r} needs a data path (its file or folder)")
        if not Path(cfg.data_path).expanduser().exists():
            raise ConfigError(f"data path {cfg.data_path}: no such file or folder")
    validate_dataset(cfg)  # the data path's layout; no data path for synthetic data
    return cfg


def config_key(cfg: RunConfig) -> str:
    """Identifies a launch: two launches with the same config are the same job, whatever the argument order."""
    return hashlib.sha256(json.dumps(cfg.to_json(), sort_keys=True).encode()).hexdigest()[:16]


def jobs_dir(runs_dir: str | Path) -> Path:
    return Path(runs_dir) / JOBS_DIR


def _proc_start(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (guards against a recycled pid); None where /proc is unavailable."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    return None if fields[0] == "Z" else fields[19]


def _cmdline(pid: int) -> list[str] | None:
    """The argument list ``pid`` was started with; None where /proc does not say."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [a.decode(errors="replace") for a in raw.split(b"\0")[:-1]]


def _alive(job: Job) -> bool:
    proc = _CHILDREN.get(job.pid)
    if proc is not None:
        code = proc.poll()
        if code is None:
            return True
        job.returncode = code
        _CHILDREN.pop(job.pid, None)
        return False
    try:
        pid, status = os.waitpid(job.pid, os.WNOHANG)
        if pid:
            job.returncode = os.waitstatus_to_exitcode(status)
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(job.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    start = _proc_start(job.pid)
    if Path("/proc/self/stat").exists():  # /proc available: a zombie, a recycled pid, another command: not our job
        return (start is not None and (job.proc_start is None or start == job.proc_start)
                and _cmdline(job.pid) == job.argv)
    return True


def _well_formed(job: Job) -> bool:
    """A job record as ``start`` writes it: an edited or foreign ``.jobs/*.json`` is skipped, never acted on."""
    return (isinstance(job.pid, int) and not isinstance(job.pid, bool) and job.pid > 1
            and all(isinstance(v, str) for v in (job.id, job.key, job.out, job.log))
            and isinstance(job.argv, list) and all(isinstance(a, str) for a in job.argv)
            and isinstance(job.args, list) and isinstance(job.config, dict)
            and isinstance(job.started, int | float) and _plain_name(job.run_id))


def _plain_name(name: object) -> bool:
    """None, or a folder name that stays inside the runs folder (no separator, not '.' or '..')."""
    return name is None or (isinstance(name, str) and name not in ("", ".", "..") and "/" not in name
                            and "\0" not in name)


def save(job: Job) -> None:
    jobs_dir(job.out).mkdir(parents=True, exist_ok=True)
    write_json(jobs_dir(job.out) / f"{job.id}.json", asdict(job))


def _find_run(job: Job) -> str | None:
    lines = [ln.strip() for ln in _read_text(Path(job.log)).splitlines() if ln.strip()]
    if lines and Path(lines[-1]).is_dir() and Path(lines[-1]).parent.resolve() == Path(job.out).resolve():
        return Path(lines[-1]).name
    out = Path(job.out)
    if not out.is_dir():
        return None
    for path in sorted(out.iterdir(), reverse=True):
        if path.name.startswith(".") or not (path / RUN_FILE).is_file() or path.stat().st_mtime < job.started - 5:
            continue
        try:
            meta = read_json(path / RUN_FILE)
        except AIMError:
            continue
        if meta.get("config") == job.config:
            return path.name
    return None


def _read_text(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def refresh(job: Job) -> Job:
    """Update a job from the world: is its process alive, which run folder is its; saved when something changed."""
    if not _well_formed(job):
        return job
    try:  # another session (or an older copy of this job) may have recorded more: never lose it
        disk = json.loads((jobs_dir(job.out) / f"{job.id}.json").read_text())
    except (OSError, ValueError):
        disk = {}
    job.cancelled = job.cancelled or bool(disk.get("cancelled"))
    for name, ok in (("run_id", _plain_name), ("returncode", lambda v: isinstance(v, int)),
                     ("ended", lambda v: isinstance(v, int | float))):
        if getattr(job, name) is None and disk.get(name) is not None and ok(disk[name]):
            setattr(job, name, disk[name])
    before = asdict(job)
    if job.ended is None and not _alive(job):
        job.ended = time.time()
    if job.run_id is None:
        job.run_id = _find_run(job)
    if asdict(job) != before:
        save(job)
    return job


def status(job: Job) -> str:
    """running, complete, failed, cancelled, or exited (ended without a complete run, e.g. refused arguments)."""
    if job.ended is None:
        return "running"
    if job.cancelled:
        return "cancelled"
    if job.run_dir is not None:
        try:
            run_status = read_json(job.run_dir / RUN_FILE).get("status")
        except AIMError:
            run_status = None
        if run_status in ("complete", "failed"):
            return run_status
    return "failed" if job.returncode not in (None, 0) else "exited"


def progress(job: Job) -> dict | None:
    return read_progress(job.run_dir) if job.run_dir is not None else None


def live_text(job: Job) -> str:
    """What a running job is doing, in one line: its run's ``progress.json`` (``analysis.progress_text``) unless its
    log has moved on since (a stage whose candidates train in worker processes prints their epochs to the log but
    updates no progress until it ends), then the log's last line; "starting (loading data)" before either."""
    from aim.analysis import progress_text

    now = progress(job)
    text = progress_text(now)
    log = Path(job.log)
    try:
        log_time = log.stat().st_mtime
    except OSError:
        log_time = None
    try:
        progress_time = datetime.fromisoformat(str((now or {}).get("updated"))).timestamp()
    except ValueError:
        progress_time = None
    last = next((ln.strip() for ln in reversed(_read_text(log).splitlines()) if ln.strip()), "")
    if last and (not text or (log_time is not None and (progress_time is None or log_time > progress_time + 2))):
        return last if len(last) <= 160 else last[:157] + "..."
    return text or "starting (loading data)"


def log_tail(job: Job, lines: int = 15) -> str:
    return "\n".join(_read_text(Path(job.log)).splitlines()[-lines:])


def list_jobs(runs_dir: str | Path) -> list[Job]:
    """Every recorded job of ``runs_dir``, refreshed, newest first; unreadable job files are skipped."""
    folder = jobs_dir(runs_dir)
    jobs = []
    for path in sorted(folder.glob("*.json"), reverse=True) if folder.is_dir() else []:
        try:
            job = Job(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            continue
        if _well_formed(job):
            jobs.append(refresh(job))
    return jobs


def start(args: list[str], runs_dir: str | Path, limit: int | None = None) -> Job:
    """Validate ``args`` and launch ``python -m aim run ARGS --out RUNS_DIR`` in the background; refuse a launch
    whose config is already running and one beyond ``limit`` running jobs (default ``max_jobs()``); refused
    in read-only mode (``app.access``)."""
    _allowed("start a training job")
    cfg = validate(args)
    if cfg.data_path:  # the job runs from the repository root: make the user's relative path absolute
        absolute = str(Path(cfg.data_path).expanduser().resolve())
        i = args.index("--data")
        args = [*args[:i + 1], absolute, *args[i + 2:]]
        cfg = cfg.replace(data_path=absolute)
    out = Path(runs_dir).expanduser().resolve()
    key = config_key(cfg)
    try:
        jobs_dir(out).mkdir(parents=True, exist_ok=True)  # for the lock and the log file
    except OSError as exc:
        raise JobError(f"cannot create {jobs_dir(out)}: {exc.strerror or exc}") from None
    with _launch_lock(out):
        running = [j for j in list_jobs(out) if status(j) == "running"]
        if any(j.key == key for j in running):
            raise JobError("an identical run is already running; wait for it or cancel it first")
        limit = max_jobs() if limit is None else limit
        if len(running) >= limit:
            raise JobError(f"{len(running)} jobs are running, the limit is {limit} (AIM_MAX_JOBS); wait or cancel one")
        return _spawn(args, cfg, key, out, thread_share(len(running)))


def _allowed(action: str) -> None:
    try:
        access.check(action)
    except access.ReadOnlyError as exc:
        raise JobError(str(exc)) from None


def thread_share(running: int) -> int:
    """Torch threads for a new job beside ``running`` others: the cores this process may use / all jobs."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // (running + 1))


def _launch_lock(out: Path):
    """Serialises launches into one runs folder across threads, sessions and app processes."""
    return locks.locked(jobs_dir(out) / ".launch.lock")


def _spawn(args: list[str], cfg: RunConfig, key: str, out: Path, threads: int) -> Job:
    job_id = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)
    log = jobs_dir(out) / f"{job_id}.log"
    # the cores shared with the jobs already running (no oversubscription), unless the arguments set --threads
    argv = [*COMMAND, *args, *([] if "--threads" in args else ["--threads", str(threads)]), "--out", str(out)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(log, "wb") as fh:
        proc = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=ROOT,
                                env=env, shell=False, start_new_session=True)
    _CHILDREN[proc.pid] = proc
    job = Job(id=job_id, pid=proc.pid, args=list(args), argv=argv, key=key, out=str(out), log=str(log),
              started=time.time(), config=cfg.to_json(), proc_start=_proc_start(proc.pid))
    save(job)
    return job


def cancel(job: Job) -> Job:
    """SIGTERM the job's process group (the job and anything it started), if the process is still the job's;
    refused in read-only mode."""
    _allowed("cancel a job")
    if job.ended is not None or not _well_formed(job) or not _alive(job):
        return refresh(job)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(job.pid, signal.SIGTERM)
    job.cancelled = True
    save(job)
    return job


def wait(job: Job, timeout: float, poll: float = 0.2) -> Job:
    """Block until the job ends (for tests and scripts), at most ``timeout`` seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if refresh(job).ended is not None:
            return job
        time.sleep(poll)
    return job
