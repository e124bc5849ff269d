"""Running a study's runs: one (row, seed) cell per ``python -m aim run`` config, in this process or in loky
workers, reusing complete runs and continuing interrupted ones; the study folder updated as each ends."""

from __future__ import annotations

import json
import math
import os
import signal
import threading
import time
import traceback
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aim.config import RunConfig
from aim.errors import AIMError, ConfigError, RunFormatError
from aim.fileio import read_json, write_csv, write_json
from aim.runs import CHECKPOINTS_DIR, RUN_FILE, load_run, now
from aim.study.folder import LOGS_DIR, RUNS_DIR, STUDY_FILE, SUMMARY_FILE, relative_run_path, resolve_run_path
from aim.study.stats import best_baseline, json_records, number_at, summarise
from aim.study.tokens import Log

_DATA_CACHE: dict[tuple, Any] = {}


def _load_data(cfg: RunConfig) -> Any:
    """The data of ``cfg``, loaded once per process (one dataset kept: a study has one)."""
    key = (cfg.dataset, cfg.data_path, cfg.data, cfg.synthetic)
    if key not in _DATA_CACHE:
        from aim import pipeline

        _DATA_CACHE.clear()
        _DATA_CACHE[key] = pipeline.load_data(cfg)
    return _DATA_CACHE[key]


def _matches(meta: Mapping, cfg: RunConfig) -> bool:
    try:
        return RunConfig.from_json(meta.get("config")) == cfg
    except ConfigError:
        return False


@contextmanager
def sigterm_unwinds() -> Iterator[None]:
    """While in the block, SIGTERM (the app's Cancel, ``kill``) raises ``SystemExit`` in the main thread instead of
    ending the process on the spot, so the run in flight is marked failed (``pipeline``) and the study too
    (``run_study``), rather than both left ``running``. Elsewhere than the main thread it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum: int, _frame: Any) -> None:
        raise SystemExit(f"terminated by signal {signum}")

    before = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


def _run_one(cfg: RunConfig, token: str, runs_dir: str, log_path: str, threads: int | None,
             resume_from: str | None = None) -> dict:
    """One (variant, seed) of a study, in this process or a joblib worker; never raises an ``Exception``: a
    failure comes back as ``status: failed`` with the run folder that ``execute`` marked failed (if any).
    ``resume_from``: an interrupted run of exactly ``cfg`` with finished stages; it is continued from its last
    checkpoint (``pipeline.resume``) instead of started over, and started over if it cannot be resumed."""
    from aim import pipeline

    if threads:
        import torch

        torch.set_num_threads(threads)
    start = time.perf_counter()
    runs = Path(runs_dir)
    before = set(os.listdir(runs)) if runs.is_dir() else set()
    result = {"token": token, "seed": cfg.seed, "path": None, "status": "failed", "error": None, "auc": math.nan}
    with sigterm_unwinds(), open(log_path, "a", encoding="utf-8") as fh:  # a loky worker gets SIGTERM too
        def log(msg: str) -> None:
            fh.write(msg + "\n")
            fh.flush()

        log(f"=== {now()} {token} seed {cfg.seed}")
        try:
            path = None
            if resume_from is not None:
                try:
                    path = pipeline.resume(resume_from, log=log)
                except AIMError as exc:  # held by a live process, data changed, checkpoints unreadable
                    log(f"cannot resume {resume_from} ({exc}); starting this run over")
            if path is None:
                path = pipeline.execute(cfg, runs, log=log, data=_load_data(cfg))
            meta = read_json(path / RUN_FILE)
            result.update(path=str(path), status=meta.get("status", "failed"), error=meta.get("error"),
                          auc=number_at(meta, "metrics", "test", "auc"))
        except Exception as exc:  # noqa: BLE001 - a failed run is recorded; the study goes on with the others
            log(traceback.format_exc())
            result["error"] = f"{type(exc).__name__}: {exc}"
            for name in sorted(set(os.listdir(runs)) - before) if runs.is_dir() else ():
                try:
                    if _matches(read_json(runs / name / RUN_FILE), cfg):
                        result["path"] = str(runs / name)
                except RunFormatError:
                    continue
    result["seconds"] = time.perf_counter() - start
    return result


def _parallel_results(tasks: list[tuple], jobs: int) -> Iterable[dict]:
    from joblib import Parallel, delayed

    n = min(jobs, len(tasks))
    try:
        par = Parallel(n_jobs=n, backend="loky", return_as="generator_unordered")
    except ValueError:  # joblib < 1.4
        par = Parallel(n_jobs=n, backend="loky", return_as="generator")
    yield from par(delayed(_run_one)(*t) for t in tasks)


def config_key(cfg: RunConfig) -> str:
    """Identifies a cell's config (what a reusable run must match exactly)."""
    return json.dumps(cfg.to_json(), sort_keys=True)


def _index_runs(runs_dir: Path, complete: bool = True) -> dict[str, list[Path]]:
    """Complete (or, ``complete=False``, unfinished) runs on disk by ``config_key`` of their config, newest first:
    finds the runs a killed study never recorded (a run is recorded in study.json only once it has ended)."""
    index: dict[str, list[tuple[str, Path]]] = {}
    if not runs_dir.is_dir():
        return {}
    for p in runs_dir.iterdir():
        try:
            meta = read_json(p / RUN_FILE) if p.is_dir() else None
            cfg = RunConfig.from_json(meta["config"]) if meta else None
        except (RunFormatError, ConfigError, KeyError):
            continue
        if cfg is None or (meta.get("status") == "complete") != complete:
            continue
        index.setdefault(config_key(cfg), []).append((str(meta.get("created", "")), p))
    return {k: [p for _, p in sorted(v, key=lambda t: t[0], reverse=True)] for k, v in index.items()}


def _reusable(path: Path | None, cfg: RunConfig) -> dict | None:
    """The meta of a complete run of exactly ``cfg`` at ``path``, else None."""
    if path is None or not Path(path).is_dir():
        return None
    try:
        run = load_run(path)
    except RunFormatError:
        return None
    return run.meta if run.status == "complete" and _matches(run.meta, cfg) else None


def _resumable(path: Path | None, cfg: RunConfig) -> str | None:
    """``path`` when it is an unfinished run of exactly ``cfg`` that checkpointed at least one stage."""
    if path is None or not (Path(path) / CHECKPOINTS_DIR).is_dir():
        return None
    try:
        meta = read_json(Path(path) / RUN_FILE)
    except RunFormatError:
        return None
    if meta.get("status") == "complete" or not _matches(meta, cfg):
        return None
    return str(path) if any((Path(path) / CHECKPOINTS_DIR).glob("*.pt")) else None




def run_plan(path: Path, meta: dict, plan: Mapping[str, Mapping[int, RunConfig]], jobs: int, log: Log,
             reference: str | None = None) -> Path:
    """Run every cell of ``plan`` (row -> seed -> config) into the study folder ``path`` whose ``study.json`` is
    ``meta`` (its ``runs`` already holds a key per row and seed), reusing complete runs of exactly a cell's config
    and continuing interrupted ones; ``summary.csv`` and ``meta["summary"]`` are rewritten after each row, with
    p-values against the row ``reference`` (None: the best baseline). Marks the study complete or failed; returns ``path``."""
    tokens = list(plan)
    seed_list = list(next(iter(plan.values()), {}))
    runs_dir, logs_dir = path / RUNS_DIR, path / LOGS_DIR
    runs_dir.mkdir(exist_ok=True)
    logs_dir.mkdir(exist_ok=True)

    def flush() -> None:
        meta["updated"] = now()
        write_json(path / STUDY_FILE, meta)

    complete: dict[str, dict[int, dict]] = {t: {} for t in tokens}
    failed: list[str] = []

    def update_summary() -> None:
        df = summarise({t: [complete[t][s] for s in seed_list if s in complete[t]] for t in tokens},
                       reference=reference)
        write_csv(path / SUMMARY_FILE, df)
        meta.update(summary=json_records(df), best_baseline=best_baseline(df))
        flush()
    try:
        flush()
        index, unfinished = _index_runs(runs_dir), _index_runs(runs_dir, complete=False)
        for token in tokens:
            todo = []
            resumable: dict[int, str | None] = {}
            for seed in seed_list:
                cfg = plan[token][seed]
                recorded = resolve_run_path(path, meta["runs"][token][str(seed)])
                for candidate in [recorded, *index.get(config_key(cfg), [])]:
                    found = _reusable(candidate, cfg)
                    if found is not None:
                        complete[token][seed] = found
                        meta["runs"][token][str(seed)] = relative_run_path(path, candidate)
                        auc = number_at(found, "metrics", "test", "auc")
                        log(f"[study] {token} seed {seed} reused: test AUC {auc:.4f} "
                            f"({relative_run_path(path, candidate)})")
                        break
                else:
                    todo.append(seed)
                    resumable[seed] = next(filter(None, (_resumable(p, cfg) for p in [
                        recorded, *unfinished.get(config_key(cfg), [])])), None)
            if todo:
                n_proc = min(jobs, len(todo))
                threads = max(1, (os.cpu_count() or 1) // n_proc) if n_proc > 1 else None
                log(f"[study] {token}: running seed{'s' if len(todo) > 1 else ''} {', '.join(map(str, todo))}"
                    + (f" in {n_proc} processes" if n_proc > 1 else "") + f" (logs in {logs_dir})")
                for s in todo:
                    if resumable[s]:
                        log(f"[study] {token} seed {s}: continuing the interrupted {resumable[s]} from its last "
                            "finished stage")
                tasks = [(plan[token][s], token, str(runs_dir), str(logs_dir / f"{token}__seed{s}.log"), threads,
                          resumable[s]) for s in todo]
                results = _parallel_results(tasks, n_proc) if n_proc > 1 else (_run_one(*t) for t in tasks)
                for r in results:
                    seed = r["seed"]
                    meta["runs"][token][str(seed)] = relative_run_path(path, Path(r["path"])) if r["path"] else None
                    if r["status"] == "complete":
                        complete[token][seed] = read_json(Path(r["path"]) / RUN_FILE)
                        log(f"[study] {token} seed {seed} done: test AUC {r['auc']:.4f} ({r['seconds']:.0f} s)")
                    else:
                        failed.append(f"{token} seed {seed}: {r['error']}")
                        log(f"[study] {token} seed {seed} FAILED after {r['seconds']:.0f} s: {r['error']} "
                            f"(log: {logs_dir / f'{token}__seed{seed}.log'})")
                    flush()
            update_summary()
    except BaseException as exc:
        meta.update(status="failed", error=f"interrupted: {type(exc).__name__}: {exc}")
        flush()
        raise
    finally:
        _DATA_CACHE.clear()
    if failed:
        meta.update(status="failed", error=f"{len(failed)} run(s) failed; resume to redo them: " + "; ".join(failed))
    else:
        meta.update(status="complete", error=None)
    meta["finished"] = now()
    flush()
    log(f"[study] {meta['status']}: {sum(len(v) for v in complete.values())}/{len(tokens) * len(seed_list)} runs "
        f"complete")
    return path


