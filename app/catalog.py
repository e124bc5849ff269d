"""Where runs are found and how a folder is classified; no Streamlit here, so it is tested without a browser.

Two roots are scanned one level deep: ``cached_runs/`` (``$AIM_CACHED_RUNS_DIR`` overrides it) and the user's
runs folder (``$AIM_RUNS_DIR``, default ``runs``). Each sub-folder is one of

- a run candidate: has ``run.json`` (loaded and validated by ``aim.runs.load_run``; a failure is *corrupt*);
- a study: has ``study.json``, or a ``run.json`` whose kind is "study" (made by ``aim/study.py``; listed);
- ignored (with a notice): anything else. Hidden folders (``.jobs``) are skipped silently.

Runs are named by their id (the folder name) in URLs, never by path; an id found in both roots is taken from the
first (``cached_runs``) and the other copy is reported as ignored.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from aim.errors import AIMError
from aim.runs import RUN_FILE, Run, load_run, read_json

ROOT = Path(__file__).resolve().parents[1]
STUDY_FILE = "study.json"


def cached_runs_dir() -> Path:
    return Path(os.environ.get("AIM_CACHED_RUNS_DIR") or ROOT / "cached_runs").expanduser()


def default_runs_dir() -> Path:
    return Path(os.environ.get("AIM_RUNS_DIR") or "runs").expanduser()


@dataclass(frozen=True)
class Candidate:
    """A folder with a ``run.json``: ``mtime`` (of run.json) is the cache key of its loaded contents."""

    id: str
    path: Path
    source: str
    mtime: float


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


def scan(roots: list[tuple[str, Path]]) -> Scan:
    """Classify the sub-folders of each ``(source, root)``; a missing root is reported, not an error."""
    out = Scan()
    seen: dict[str, Path] = {}
    for source, root in roots:
        if not root.is_dir():
            out.missing_roots.append(root)
            continue
        for path in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            if (path / STUDY_FILE).is_file():
                out.studies.append(Notice(path.name, path, source, "study"))
            elif not (path / RUN_FILE).is_file():
                out.ignored.append(Notice(path.name, path, source, f"no {RUN_FILE} or {STUDY_FILE}: not a run"))
            elif path.name in seen:
                out.ignored.append(Notice(path.name, path, source, f"same id as {seen[path.name]}, which is shown"))
            else:
                seen[path.name] = path
                out.candidates.append(Candidate(path.name, path, source, (path / RUN_FILE).stat().st_mtime))
    return out


def load(path: str | Path) -> tuple[Run | None, str | None]:
    """``(run, None)`` or ``(None, reason)``; never raises for a bad folder, so a corrupt run cannot crash a page."""
    try:
        return load_run(path), None
    except AIMError as exc:
        return None, str(exc)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return None, f"{path}: unreadable ({type(exc).__name__}: {exc})"


def is_study(path: Path) -> bool:
    """A folder whose ``run.json`` says ``"kind": "study"`` (asked only of folders that failed to load as a run)."""
    try:
        return read_json(path / RUN_FILE).get("kind") == "study"
    except AIMError:
        return False


def study_summary(path: Path) -> dict:
    """What a study's ``study.json`` says about itself (id, dataset, variants, seeds), tolerant of its layout."""
    try:
        meta = read_json(path / (STUDY_FILE if (path / STUDY_FILE).is_file() else RUN_FILE))
    except AIMError as exc:
        return {"id": path.name, "problem": str(exc)}
    keys = ("id", "kind", "status", "dataset", "variants", "seeds", "created")
    out = {k: meta.get(k) for k in keys if k in meta}
    out.setdefault("id", path.name)
    if isinstance(out.get("dataset"), dict):
        out["dataset"] = out["dataset"].get("name")
    return {k: ", ".join(map(str, v)) if isinstance(v, list) else v for k, v in out.items()}
