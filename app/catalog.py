"""Where runs and studies are found and how a folder is classified; no Streamlit here, so it is tested without a
browser.

Two roots are scanned: ``cached_runs/`` (``$AIM_CACHED_RUNS_DIR`` overrides it) and the user's runs folder
(``$AIM_RUNS_DIR``, default ``runs``); the app adds ``studies/`` (``$AIM_STUDIES_DIR``), where ``python -m aim
study`` writes by default. Each sub-folder of a root is one of

- a run candidate: has ``run.json`` (loaded and validated by ``aim.runs.load_run``; a failure is *corrupt*);
- a study: has ``study.json`` (made by ``aim/study.py``, read by ``aim.study.load_study``); the runs in its
  ``runs/`` folder are run candidates too, tagged with the study's id;
- a folder of studies (e.g. ``runs/studies/`` from ``python -m aim study --out runs/studies``): each sub-folder
  with a ``study.json`` is taken as above;
- ignored (with a notice): anything else. Hidden folders (``.jobs``) are skipped silently.

Runs and studies are named by their id (the folder name) in URLs, never by path; an id found twice is taken
from the first place scanned (``cached_runs`` first) and the other copy is reported as ignored.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from aim.errors import AIMError
from aim.runs import RUN_FILE, Run, load_run
from aim.study import RUNS_DIR, STUDY_FILE, Study, load_study

ROOT = Path(__file__).resolve().parents[1]


def cached_runs_dir() -> Path:
    return Path(os.environ.get("AIM_CACHED_RUNS_DIR") or ROOT / "cached_runs").expanduser()


def default_runs_dir() -> Path:
    return Path(os.environ.get("AIM_RUNS_DIR") or "runs").expanduser()


def default_studies_dir() -> Path:
    return Path(os.environ.get("AIM_STUDIES_DIR") or "studies").expanduser()


@dataclass(frozen=True)
class Candidate:
    """A folder with a ``run.json``: ``mtime`` (of run.json) is the cache key of its loaded contents; ``study`` is
    the id of the study it belongs to ('' for a run of its own)."""

    id: str
    path: Path
    source: str
    mtime: float
    study: str = ""


@dataclass(frozen=True)
class Notice:
    """A folder that is not shown as a run: ``reason`` says why."""

    id: str
    path: Path
    source: str
    reason: str


@dataclass
class Scan:
    candidates: list[Candidate] = field(default_factory=list)
    studies: list[Notice] = field(default_factory=list)
    ignored: list[Notice] = field(default_factory=list)
    missing_roots: list[Path] = field(default_factory=list)


def _subdirs(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def scan(roots: list[tuple[str, Path]]) -> Scan:
    """Classify the sub-folders of each ``(source, root)``; a missing root is reported, not an error."""
    out = Scan()
    runs: dict[str, Path] = {}
    studies: dict[str, Path] = {}

    def add_run(path: Path, source: str, study: str = "") -> None:
        if path.name in runs:
            out.ignored.append(Notice(path.name, path, source, f"same id as {runs[path.name]}, which is shown"))
            return
        runs[path.name] = path
        out.candidates.append(Candidate(path.name, path, source, (path / RUN_FILE).stat().st_mtime, study))

    def add_study(path: Path, source: str) -> None:
        if path.name in studies:
            out.ignored.append(Notice(path.name, path, source, f"same id as {studies[path.name]}, which is shown"))
            return
        studies[path.name] = path
        out.studies.append(Notice(path.name, path, source, "study"))
        for run in _subdirs(path / RUNS_DIR):
            if (run / RUN_FILE).is_file():
                add_run(run, source, path.name)

    for source, root in roots:
        if not root.is_dir():
            out.missing_roots.append(root)
            continue
        for path in _subdirs(root):
            if (path / STUDY_FILE).is_file():
                add_study(path, source)
            elif (path / RUN_FILE).is_file():
                add_run(path, source)
            elif inner := [p for p in _subdirs(path) if (p / STUDY_FILE).is_file()]:
                for study in inner:
                    add_study(study, source)
            else:
                out.ignored.append(Notice(path.name, path, source, f"no {RUN_FILE} or {STUDY_FILE}: not a run"))
    return out


def load(path: str | Path) -> tuple[Run | None, str | None]:
    """``(run, None)`` or ``(None, reason)``; never raises for a bad folder, so a corrupt run cannot crash a page."""
    try:
        return load_run(path), None
    except AIMError as exc:
        return None, str(exc)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return None, f"{path}: unreadable ({type(exc).__name__}: {exc})"


def study_mtime(path: Path) -> float:
    """The modification time of a study's ``study.json`` (0 when it has none): the cache key of the loaded study."""
    try:
        return (path / STUDY_FILE).stat().st_mtime
    except OSError:
        return 0.0


def load_study_folder(path: str | Path) -> tuple[Study | None, str | None]:
    """``(study, None)`` or ``(None, reason)``; never raises for a bad folder."""
    try:
        return load_study(path), None
    except AIMError as exc:
        return None, str(exc)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return None, f"{path}: unreadable ({type(exc).__name__}: {exc})"
