"""A stakeholder report of a run or a study as ONE self-contained HTML file (``python -m aim report``).

What was searched (dataset, rows, fields, variant, orders, functions), what was kept (interactions per order and
FI ratio, the top interactions by |α| with their function and statistics AUC, embedding dimensions per field),
the parameters EDS saved, the results against the baselines (a study: ``aim.study`` summary, the numbers of
``python -m aim table``) and every warning (runs not complete, folders gone, a run's ``warnings``). The tables and
charts are those of ``aim.analysis``; plotly.js is inlined once, so the charts stay interactive offline and the
file needs no server. Pure: no Streamlit; ``report_html`` gives the page as a string for a download button.
"""

from __future__ import annotations

from pathlib import Path

from aim.errors import ConfigError, OutputError
from aim.fileio import os_problem
from aim.report.run import run_report
from aim.report.study import study_report
from aim.runs import RUN_FILE, load_run
from aim.study import STUDY_FILE, is_study, load_study

__all__ = ["report_html", "run_report", "study_report", "write_report"]


def report_html(path: str | Path) -> str:
    """The report of the run or study folder ``path`` as one HTML page; ``ConfigError`` naming ``path`` when it
    is neither, ``RunFormatError`` when it is one that cannot be read."""
    path = Path(path)
    if is_study(path):
        return study_report(load_study(path))
    if (path / RUN_FILE).is_file():
        return run_report(load_run(path))
    what = "no such folder" if not path.exists() else "not a folder" if not path.is_dir() else \
        f"has neither {RUN_FILE} nor {STUDY_FILE}"
    raise ConfigError(f"{path}: {what}; expected a run folder (with {RUN_FILE}, made by python -m aim run) or a "
                      f"study folder (with {STUDY_FILE}, made by python -m aim study)")


def write_report(path: str | Path, out: str | Path) -> Path:
    """Write ``report_html(path)`` to the file ``out`` (its folder is created); returns ``out``."""
    page = report_html(path)
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise OutputError(out, f"cannot be written: {os_problem(exc)}") from None
    return out
