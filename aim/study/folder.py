"""The study folder: ``study.json``, ``summary.csv``, ``runs/``, ``logs/``; read back and validated by
``load_study``."""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from aim.config import RunConfig
from aim.errors import ConfigError, RunFormatError
from aim.fileio import read_json
from aim.runs import RUN_FILE, STATUSES, load_run, read_table, writer_alive
from aim.study.stats import SUMMARY_COLUMNS, summarise

SCHEMA_VERSION = 1
STUDY_FILE = "study.json"
SUMMARY_FILE = "summary.csv"
RUNS_DIR = "runs"
LOGS_DIR = "logs"
DEFAULT_OUT = "studies"
STUDY_KINDS = ("variants", "fis-vs-stats")  # aim.study.kinds.KINDS runs and resumes each
REQUIRED_KEYS = ("schema_version", "kind", "id", "status", "created", "dataset", "variants", "seeds",
                 "base_config", "runs")


@dataclass
class Study:
    """A study folder read back and validated. ``runs`` maps variant -> seed -> absolute run folder (None when
    not recorded or not on disk); ``missing`` lists recorded run paths that do not exist."""

    path: Path
    meta: dict
    summary: pd.DataFrame | None
    runs: dict[str, dict[int, Path | None]]
    missing: list[str]

    @property
    def id(self) -> str:
        return self.meta["id"]

    @property
    def status(self) -> str:
        return self.meta["status"]

    @property
    def variants(self) -> list[str]:
        return list(self.meta["variants"])

    @property
    def seeds(self) -> list[int]:
        return list(self.meta["seeds"])

    @property
    def kind(self) -> str:
        """The study kind (``aim.study.KINDS``): ``variants`` for a study.json without ``study_kind``."""
        return str(self.meta.get("study_kind") or "variants")

    @property
    def reference(self) -> str | None:
        """The row the p-values are against: ``reference`` in study.json, else (None) the best baseline."""
        ref = self.meta.get("reference")
        return ref if isinstance(ref, str) else None

    @property
    def best_baseline(self) -> str | None:
        return self.meta.get("best_baseline")

    def base_config(self) -> RunConfig:
        try:
            return RunConfig.from_json(self.meta["base_config"])
        except ConfigError as exc:
            raise RunFormatError(self.path / STUDY_FILE, f"base_config: {exc}") from None

    def run_statuses(self) -> dict[str, dict[int, str]]:
        """variant -> seed -> complete / failed / running / missing (never run or folder gone) / unreadable;
        reads only each run.json."""
        out: dict[str, dict[int, str]] = {}
        for variant in self.variants:
            out[variant] = {}
            for seed in self.seeds:
                path = self.runs.get(variant, {}).get(seed)
                if path is None:
                    out[variant][seed] = "missing"
                    continue
                try:
                    status = read_json(path / RUN_FILE).get("status")
                except RunFormatError:
                    status = "unreadable"
                if status == "running" and writer_alive(path) is False:
                    status = "failed"  # its process is gone (killed): load_run reads it as interrupted too
                out[variant][seed] = status if status in STATUSES else "unreadable"
        return out

    def recorded_metas(self) -> dict[str, dict[int, dict | None]]:
        """variant -> seed -> the ``run.json`` dict of the run recorded there as ``load_run`` reads it (a killed
        run reads as failed; an unreadable one as ``{"status": "unreadable", "error": why}``), or None when the
        study has none there or its folder is gone."""
        out: dict[str, dict[int, dict | None]] = {}
        for variant in self.variants:
            out[variant] = {}
            for seed in self.seeds:
                path = self.runs.get(variant, {}).get(seed)
                if path is None:
                    out[variant][seed] = None
                    continue
                try:
                    out[variant][seed] = load_run(path, lazy=True).meta
                except RunFormatError as exc:
                    out[variant][seed] = {"id": path.name, "status": "unreadable", "error": str(exc)}
        return out

    def current_summary(self) -> pd.DataFrame | None:
        """The summary of the study as it stands: summary.csv once the study is complete; before that (running,
        interrupted, failed) ``summarise`` over its recorded runs read now, because summary.csv is rewritten only
        after a whole variant has run and would show an interrupted variant with no runs. A study whose runs
        are not on this machine (only study.json and summary.csv copied) keeps its summary.csv."""
        if self.status == "complete":
            return self.summary
        metas = self.recorded_metas()
        if not any(m is not None for by_seed in metas.values() for m in by_seed.values()):
            return self.summary
        return summarise({v: [m for m in by_seed.values() if m is not None] for v, by_seed in metas.items()},
                         reference=self.reference)


def is_study(path: str | Path) -> bool:
    """Whether ``path`` is a study folder (has a study.json), for ``python -m aim show``."""
    return (Path(path) / STUDY_FILE).is_file()


def load_study(path: str | Path) -> Study:
    """Read and validate a study folder; raise ``RunFormatError`` naming the file and the problem. Recorded runs
    that no longer exist are listed in ``Study.missing`` (and map to None), not refused."""
    path = Path(path)
    if not path.is_dir():
        raise RunFormatError(path, "not a folder")
    file = path / STUDY_FILE
    if not file.exists() and (path / RUN_FILE).exists():
        raise RunFormatError(file, "file is missing: this is a run folder, not a study")
    meta = read_json(file)
    missing_keys = [k for k in REQUIRED_KEYS if k not in meta]
    if missing_keys:
        raise RunFormatError(file, f"missing keys {missing_keys}; this does not look like an AIM study")
    version = meta["schema_version"]
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= SCHEMA_VERSION:
        raise RunFormatError(file, f"schema_version {version!r} is not supported (this AIM Explorer reads studies "
                             f"1..{SCHEMA_VERSION}; upgrade it to read newer ones)")
    if meta["kind"] != "study":
        raise RunFormatError(file, f"kind is {meta['kind']!r}, expected 'study'")
    kind = meta.get("study_kind", "variants")
    if kind not in STUDY_KINDS:
        raise RunFormatError(file, f"study_kind {kind!r} is not one of {', '.join(STUDY_KINDS)} (a newer AIM Explorer "
                                   "may read it)")
    if meta["status"] not in STATUSES:
        raise RunFormatError(file, f"status {meta['status']!r} is not one of {STATUSES}")
    if not isinstance(meta["variants"], list) or not all(isinstance(v, str) for v in meta["variants"]):
        raise RunFormatError(file, f"variants must be a list of names, got {meta['variants']!r}")
    if not isinstance(meta["seeds"], list) or not all(isinstance(s, int) and not isinstance(s, bool)
                                                      for s in meta["seeds"]):
        raise RunFormatError(file, f"seeds must be a list of integers, got {meta['seeds']!r}")
    if not isinstance(meta["base_config"], dict):
        raise RunFormatError(file, "base_config must be an object")
    runs: dict[str, dict[int, Path | None]] = {}
    missing: list[str] = []
    if not isinstance(meta["runs"], dict):
        raise RunFormatError(file, "runs must be an object {variant: {seed: path}}")
    for variant, by_seed in meta["runs"].items():
        if not isinstance(by_seed, dict):
            raise RunFormatError(file, f"runs[{variant!r}] must be an object {{seed: path}}")
        runs[variant] = {}
        for seed, rel in by_seed.items():
            try:
                seed_int = int(seed)
            except (TypeError, ValueError):
                raise RunFormatError(file, f"runs[{variant!r}] has a seed key {seed!r} that is not an integer") from None
            if rel is not None and not isinstance(rel, str):
                raise RunFormatError(file, f"runs[{variant!r}][{seed!r}] must be a path or null, got {rel!r}")
            run_path = resolve_run_path(path, rel)
            if rel is not None and not run_path.is_dir():
                missing.append(rel)
                run_path = None
            runs[variant][seed_int] = run_path
    summary = None
    if (path / SUMMARY_FILE).exists():
        summary = read_table(path / SUMMARY_FILE, SUMMARY_COLUMNS)
    elif meta["status"] == "complete":
        raise RunFormatError(path / SUMMARY_FILE, "file is missing from a complete study")
    return Study(path=path, meta=meta, summary=summary, runs=runs, missing=missing)


def resolve_run_path(study: Path, rel: str | None) -> Path | None:
    """A run folder as study.json records it (relative to the study, or absolute) -> its path; None stays None."""
    if rel is None:
        return None
    p = Path(rel)
    return p if p.is_absolute() else study / p


def relative_run_path(study: Path, run: Path) -> str:
    """How study.json records the run folder ``run``: relative to the study when it lies inside it, else absolute."""
    try:
        return str(Path(run).resolve().relative_to(study.resolve()))
    except ValueError:
        return str(Path(run).resolve())


def new_study_dir(out_root: Path, dataset: str) -> Path:
    """Create a new study folder ``study__DATASET__TIMESTAMP`` under ``out_root`` (-2, -3, ... if it exists)."""
    out_root.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    for n in itertools.count(1):
        path = out_root / (f"study__{dataset}__{stamp}" + ("" if n == 1 else f"-{n}"))
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise AssertionError("unreachable")


def config_diff(a: Mapping, b: Mapping, prefix: str = "") -> list[str]:
    """The dotted keys (``model.embed_dim``) whose values differ between two config dicts, sorted."""
    out = []
    for k in sorted(set(a) | set(b)):
        va, vb = a.get(k), b.get(k)
        if isinstance(va, Mapping) and isinstance(vb, Mapping):
            out += config_diff(va, vb, f"{prefix}{k}.")
        elif va != vb:
            out.append(f"{prefix}{k}")
    return out

