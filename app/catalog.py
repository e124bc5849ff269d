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

Folders handed over by others are not trusted: a run folder that is a symbolic link out of the folder holding
it, or whose name cannot be a run id (control characters, a comma: ``?runs=a,b`` lists ids), is listed as
unreadable with the reason; a name that is not valid UTF-8 (it could not even be shown) and a folder that cannot
be read are ignored with a notice. ``load`` never raises, so no folder can break a page.
"""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from aim.errors import AIMError
from aim.runs import RUN_FILE, Run, load_run, writer_alive
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


def name_problem(name: str) -> str | None:
    """Why a folder name cannot be a run id (one in URLs, in lists, in file names of exports), or None."""
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp") for c in name):
        return "its name holds control or invisible characters: rename the folder"
    if "," in name:
        return "its name holds a comma, which separates run ids in links: rename the folder"
    if name != name.strip():
        return "its name starts or ends with white space: rename the folder"
    return None


def outside_root(path: Path) -> Path | None:
    """Where a folder that is a symbolic link out of the folder holding it points to; None for a plain folder or
    a link that stays inside."""
    if not path.is_symlink():
        return None
    target = path.resolve()
    return None if target.is_relative_to(path.parent.resolve()) else target


def _displayable(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # bytes that are not UTF-8 (os.fsdecode's surrogates): no widget can show them
        return False
    return True


def _subdirs(folder: Path, out: Scan | None = None, source: str = "") -> list[Path]:
    """The visible sub-folders of ``folder``; with ``out``, one whose name cannot be shown or that cannot be read
    is reported in ``out.ignored`` instead of breaking the scan."""
    try:
        children = sorted(folder.iterdir()) if folder.is_dir() else []
    except OSError:
        return []
    found = []
    for p in children:
        if p.name.startswith("."):
            continue
        if not _displayable(p.name):
            if out is not None:
                out.ignored.append(Notice(ascii(p.name), folder / ascii(p.name), source,
                                          "its name is not valid UTF-8: rename the folder"))
            continue
        try:
            if p.is_dir():
                found.append(p)
        except OSError as exc:
            if out is not None:
                out.ignored.append(Notice(p.name, p, source, f"cannot be read ({exc.strerror or exc})"))
    return found


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
        out.candidates.append(Candidate(path.name, path, source, cache_key(path), study))

    def add_study(path: Path, source: str) -> None:
        if path.name in studies:
            out.ignored.append(Notice(path.name, path, source, f"same id as {studies[path.name]}, which is shown"))
            return
        studies[path.name] = path
        out.studies.append(Notice(path.name, path, source, "study"))
        for run in _subdirs(path / RUNS_DIR, out, source):
            if (run / RUN_FILE).is_file():
                add_run(run, source, path.name)

    for source, root in roots:
        try:
            present = root.is_dir()
        except OSError:
            present = False
        if not present:
            out.missing_roots.append(root)
            continue
        for path in _subdirs(root, out, source):
            try:
                if (path / STUDY_FILE).is_file():
                    add_study(path, source)
                elif (path / RUN_FILE).is_file():
                    add_run(path, source)
                elif inner := [p for p in _subdirs(path) if (p / STUDY_FILE).is_file()]:
                    for study in inner:
                        add_study(study, source)
                else:
                    out.ignored.append(Notice(path.name, path, source, f"no {RUN_FILE} or {STUDY_FILE}: not a run"))
            except OSError as exc:
                out.ignored.append(Notice(path.name, path, source, f"cannot be read ({exc.strerror or exc})"))
    return out


def runs_folder_problem(folder: Path, scan: Scan, source: str = "runs") -> str | None:
    """What is wrong with the runs folder, in a sentence, or None: a file, a run or a study itself instead of the
    folder holding it, or, when typed rather than the configured default (which a first run creates and fills), a
    folder that does not exist or holds no run or study. Without this the app quietly shows only the shipped
    runs."""
    try:
        if not folder.exists():
            if folder == default_runs_dir():
                return None
            return f"`{folder}` does not exist: no runs are read from it (a run launched here would create it)."
        if not folder.is_dir():
            return f"`{folder}` is a file, not a folder of runs."
        for marker, what in ((RUN_FILE, "a run"), (STUDY_FILE, "a study")):
            if (folder / marker).is_file():
                return (f"`{folder}` is {what} itself (it holds `{marker}`), not a folder of runs: point at the "
                        f"folder that holds it, `{folder.parent}`.")
    except OSError as exc:
        return f"`{folder}` cannot be read ({exc.strerror or exc})."
    found = any(c.source == source for c in scan.candidates) or any(s.source == source for s in scan.studies)
    if found or folder == default_runs_dir():  # the configured folder before a first run: no news
        return None
    return f"`{folder}` holds no run or study yet."


def reported_missing(scan: Scan) -> list[Path]:
    """The scanned roots that do not exist and that the user chose: the default ``studies/`` folder is missing
    until a first ``python -m aim study``, which is no news."""
    default = default_studies_dir()
    return [p for p in scan.missing_roots if p != default or os.environ.get("AIM_STUDIES_DIR")]


def cache_key(path: Path) -> float:
    """run.json's modification time, nudged while a process holds the run's writer lock: a run whose process is
    killed changes key, so it is re-read and shown as interrupted instead of "running" forever."""
    mtime = (path / RUN_FILE).stat().st_mtime
    return mtime + 0.001 if writer_alive(path) else mtime


def load(path: str | Path) -> tuple[Run | None, str | None]:
    """``(run, None)`` or ``(None, reason)``; never raises for a bad folder, so a corrupt run cannot crash a page."""
    path = Path(path)
    problem = name_problem(path.name)
    if problem:
        return None, f"{path}: {problem}"
    try:
        target = outside_root(path)
        if target is not None:
            return None, f"{path}: is a symbolic link to {target}, outside the runs folder; refused"
        return load_run(path, lazy=True), None
    except AIMError as exc:
        return None, str(exc)
    except Exception as exc:  # noqa: BLE001 - whatever a foreign folder holds, the page goes on
        return None, f"{path}: unreadable ({type(exc).__name__}: {str(exc)[:200]})"


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
    except Exception as exc:  # noqa: BLE001 - whatever a foreign folder holds, the page goes on
        return None, f"{path}: unreadable ({type(exc).__name__}: {str(exc)[:200]})"
