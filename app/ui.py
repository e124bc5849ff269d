"""Streamlit glue shared by the pages: cached loading of runs and studies, run and study pickers synced with the
URL, status banners, and a chart helper that adds CSV, HTML and PNG downloads. No analysis here (that is
``aim.analysis``)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from aim import analysis
from aim.errors import AIMError
from aim.runs import RUN_FILE, Run, read_progress
from aim.study import Study
from app import access, catalog, jobs


@st.cache_resource(show_spinner=False, max_entries=2048)
def _load(path: str, mtime: float) -> tuple[Run | None, str | None]:
    """Loaded once per (folder, modification time of run.json): a page switch or a widget change does not reload.
    A resource cache, not a data cache: every session shares the loaded run instead of unpickling a copy of it
    on each script run (with 200 runs that copy alone took about a second); pages only read runs."""
    del mtime  # part of the cache key only
    return catalog.load(path)


@st.cache_resource(show_spinner=False, max_entries=256)
def _load_study(path: str, mtime: float) -> tuple[Study | None, str | None]:
    """Loaded once per (folder, modification time of study.json)."""
    del mtime
    return catalog.load_study_folder(path)


def clear_cache() -> None:
    _load.clear()
    _load_study.clear()


@dataclass
class Loaded:
    runs: dict[str, Run] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    corrupt: list[catalog.Notice] = field(default_factory=list)
    scan: catalog.Scan = field(default_factory=catalog.Scan)
    study_of: dict[str, str] = field(default_factory=dict)
    studies: dict[str, Study] = field(default_factory=dict)
    study_sources: dict[str, str] = field(default_factory=dict)
    bad_studies: list[catalog.Notice] = field(default_factory=list)

    def ids(self) -> list[str]:
        """Run ids, newest first."""
        return sorted(self.runs, key=lambda rid: (self.runs[rid].meta.get("created") or "", rid), reverse=True)

    def complete(self) -> list[str]:
        """The ids of the complete runs, newest first: the default choices."""
        return [rid for rid in self.ids() if self.runs[rid].status == "complete"]


def runs_dir() -> Path:
    """The sidebar's runs folder; in read-only mode always the configured one (``AIM_RUNS_DIR``), whatever a
    session holds."""
    chosen = None if access.read_only() else st.session_state.get("runs_dir")
    return Path(chosen or catalog.default_runs_dir()).expanduser()


def load_all() -> Loaded:
    """Scan the roots and load every run and study (cached); the result is kept for the pages of this script run."""
    scan = catalog.scan([("cached", catalog.cached_runs_dir()), ("runs", runs_dir()),
                         ("studies", catalog.default_studies_dir())])
    out = Loaded(scan=scan)
    for c in scan.candidates:
        run, problem = _load(str(c.path), c.mtime)
        if run is None:
            out.corrupt.append(catalog.Notice(c.id, c.path, c.source, problem or "unreadable"))
            continue
        run.meta = {**run.meta, "id": c.id}  # a copied or renamed folder: its folder name is its id here
        out.runs[c.id] = run
        out.sources[c.id] = c.source
        if c.study:
            out.study_of[c.id] = c.study
    for s in scan.studies:
        study, problem = _load_study(str(s.path), catalog.study_mtime(s.path))
        if study is None:
            out.bad_studies.append(catalog.Notice(s.id, s.path, s.source, problem or "unreadable"))
        else:
            out.studies[s.id] = study
            out.study_sources[s.id] = s.source
    st.session_state["_loaded"] = out
    return out


def loaded() -> Loaded:
    return st.session_state.get("_loaded") or load_all()


def ended_jobs() -> dict[str, str]:
    """Run id -> how the app's job writing it ended (cancelled, failed, ...), for jobs that are over: such a run
    may still say 'running' in its run.json, although nothing will ever finish it."""
    return {j.run_id: jobs.status(j) for j in jobs.list_jobs(runs_dir()) if j.run_id and j.ended is not None}


def run_label(run: Run) -> str:
    return run.id if run.status == "complete" else f"{run.id}  [{run.status}]"


def _sync(param: str, key: str) -> None:
    value = st.session_state[key]
    st.query_params[param] = ",".join(value) if isinstance(value, list) else value


def pick_run(data: Loaded, label: str = "Run") -> Run | None:
    """A run selector bound to ``?run=<id>``: the URL wins on arrival (deep link), then the choice is remembered
    across pages and written back into the URL so the address bar always links to what is shown."""
    ids = data.ids()
    if not ids:
        st.info("No runs yet. Launch one on the **Launch** page, or run `python -m aim run` and reload.")
        return None
    wanted = st.query_params.get("run")
    if wanted and wanted not in ids:
        st.warning(f"Run `{wanted}` (from the link) was not found; showing another run.")
    current = wanted if wanted in ids else st.session_state.get("run")
    st.session_state["pick_run"] = current if current in ids else (data.complete() or ids)[0]
    choice = st.selectbox(label, ids, key="pick_run", format_func=lambda rid: run_label(data.runs[rid]),
                          on_change=_sync, args=("run", "pick_run"))
    st.session_state["run"] = choice
    st.query_params["run"] = choice
    return data.runs[choice]


def dataset_of(run: Run) -> str | None:
    return (run.meta.get("dataset") or {}).get("name") or (run.meta.get("config") or {}).get("dataset")


def default_pair(data: Loaded) -> list[str]:
    """What Compare opens on without a link: the newest complete run and the newest other complete run of the
    same dataset (runs of different datasets share almost nothing to compare); two newest runs only when no
    dataset has two complete runs."""
    done = data.complete() or data.ids()
    for first in done:
        same = [rid for rid in done if rid != first and dataset_of(data.runs[rid]) == dataset_of(data.runs[first])]
        if same:
            return [first, same[0]]
    return done[:2]


def pick_runs(data: Loaded, limit: int = 4) -> tuple[list[str], str | None]:
    """2-4 runs bound to ``?runs=a,b`` and a reference run bound to ``?ref=<id>``."""
    ids = data.ids()
    wanted = [r for r in (st.query_params.get("runs") or "").split(",") if r]
    missing = [r for r in wanted if r not in ids]
    if missing:
        st.warning(f"Not found (from the link): {', '.join(missing)}")
    current = [r for r in wanted if r in ids] or [r for r in st.session_state.get("runs", []) if r in ids]
    st.session_state["pick_runs"] = current[:limit] or default_pair(data)
    chosen = st.multiselect(f"Runs to compare (2 to {limit})", ids, key="pick_runs", max_selections=limit,
                            format_func=lambda rid: run_label(data.runs[rid]), on_change=_sync,
                            args=("runs", "pick_runs"))
    st.session_state["runs"] = chosen
    st.query_params["runs"] = ",".join(chosen)
    for rid in chosen:
        readable(data.runs[rid])
    if not chosen:
        return chosen, None
    ref_wanted = st.query_params.get("ref") or st.session_state.get("ref")
    st.session_state["pick_ref"] = ref_wanted if ref_wanted in chosen else chosen[0]
    ref = st.selectbox("Reference run (deltas are against it)", chosen, key="pick_ref", on_change=_sync,
                       args=("ref", "pick_ref"))
    st.session_state["ref"] = ref
    st.query_params["ref"] = ref
    return chosen, ref


def age(iso: str | None) -> str:
    if not iso:
        return "unknown"
    try:
        when = datetime.fromisoformat(iso)
        seconds = time.time() - (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()
    except ValueError:
        return "unknown"
    if seconds < 120:
        return f"{max(seconds, 0):.0f} s ago"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.0f} h ago" if seconds < 2 * 86400 else f"{seconds / 86400:.0f} days ago"


def status_banner(run: Run) -> None:
    """Say plainly that a run is still running (with its live progress) or failed (with the reason)."""
    ended = ended_jobs().get(run.id) if run.status == "running" else None
    if ended:
        st.warning(f"This run says *running*, but the job that wrote it has ended ({ended}): it will not finish "
                   f"on its own. What it wrote is shown. To finish it: `python -m aim run --resume {run.path}`",
                   icon=":material/warning:")
    elif run.status == "running":
        p = read_progress(run.path)
        text = analysis.progress_text(p) or "no progress reported yet"
        st.info(f"This run is still **running** ({text}; updated {age((p or {}).get('updated'))}). "
                "What it has written so far is shown; reload for more.", icon=":material/hourglass_top:")
    elif run.status == "failed":
        st.error(f"This run **failed**: {run.meta.get('error') or 'no reason recorded'}. "
                 f"What it wrote before failing is shown. To finish it from its last checkpoint: "
                 f"`python -m aim run --resume {run.path}`", icon=":material/error:")


def warnings_banner(run: Run) -> None:
    """List the warnings the run recorded (``run.json`` ``warnings``; older runs have none) above the page."""
    found = analysis.run_warnings(run.meta)
    if found:
        st.warning(f"**This run recorded {len(found)} warning{'s' if len(found) > 1 else ''}:**\n\n"
                   + "\n".join(f"- {w}" for w in found), icon=":material/warning:")


def report_button(path: Path, name: str, key: str) -> None:
    """Download the stakeholder report of a run or study (``python -m aim report``: one self-contained HTML page,
    charts working offline), built only when clicked."""

    def build() -> str:
        from aim.report import report_html  # plotly.js and the study tables: only on click

        return report_html(path)

    st.download_button("Report (HTML)", data=build, file_name=f"{name}.html", mime="text/html", key=key,
                       icon=":material/description:",
                       help="One HTML file for stakeholders: what was searched and kept, parameters saved, results "
                            "against the baselines, warnings; the charts work offline. Same as `python -m aim "
                            "report`.")


def readable(run: Run) -> None:
    """Read the run's tables (the catalog checked only their headers); on a damaged file say which and why, and
    stop the page instead of drawing half of it."""
    try:
        run.load_tables()
    except AIMError as exc:
        st.error(f"Run `{run.id}` cannot be shown: {exc}", icon=":material/error:")
        st.stop()


def need(run: Run, table: str, what: str) -> pd.DataFrame | None:
    """The run's table, or a notice saying why it is missing (and None)."""
    df = getattr(run, table)
    if df is None:
        st.info(f"This run has no {what} (its status is **{run.status}**).")
    return df


def one_run() -> Run:
    """The head of every single-run page: the URL-bound run picker, its status and warnings banners, its tables
    read; stops the page (with the reason shown) when there is no run or a table of it is damaged."""
    run = pick_run(loaded())
    if run is None:
        st.stop()
    status_banner(run)
    warnings_banner(run)
    readable(run)
    report_button(run.path, f"report__{run.id}", key=f"report_{run.id}")
    return run


def run_with_table(table: str, what: str) -> tuple[Run, pd.DataFrame]:
    """``one_run`` and the table the page draws; stops the page (with the reason shown) when the run lacks it."""
    run = one_run()
    df = need(run, table, what)
    if df is None:
        st.stop()
    return run, df


def study_metas(study: Study) -> dict[str, dict[int, dict | None]]:
    """variant -> seed -> the ``run.json`` dict of the run the study recorded there (cached loads; an unreadable
    run is ``{"status": "unreadable", "error": why}``), or None when it has none or its folder is gone."""
    out: dict[str, dict[int, dict | None]] = {}
    for variant in study.variants:
        out[variant] = {}
        for seed in study.seeds:
            path = study.runs.get(variant, {}).get(seed)
            try:
                mtime = (path / RUN_FILE).stat().st_mtime if path is not None else None
            except OSError:
                mtime = None
            if mtime is None:
                out[variant][seed] = None
                continue
            run, problem = _load(str(path), mtime)
            out[variant][seed] = ({**run.meta, "id": path.name} if run is not None
                                  else {"id": path.name, "status": "unreadable", "error": problem})
    return out


def pick_study(data: Loaded) -> Study | None:
    """A study selector bound to ``?study=<id>`` (the URL wins on arrival, then the choice is remembered)."""
    ids = sorted(data.studies, key=lambda sid: (data.studies[sid].meta.get("created") or "", sid), reverse=True)
    if not ids:
        return None
    wanted = st.query_params.get("study")
    if wanted and wanted not in ids:
        st.warning(f"Study `{wanted}` (from the link) was not found; showing another study.")
    current = wanted if wanted in ids else st.session_state.get("study")
    st.session_state["pick_study"] = current if current in ids else ids[0]
    choice = st.selectbox("Study", ids, key="pick_study", on_change=_sync, args=("study", "pick_study"),
                          format_func=lambda sid: sid if data.studies[sid].status == "complete"
                          else f"{sid}  [{data.studies[sid].status}]")
    st.session_state["study"] = choice
    st.query_params["study"] = choice
    return data.studies[choice]


def chart(fig: go.Figure, data: pd.DataFrame, name: str, key: str, select: bool = False):
    """Draw ``fig`` with downloads of its data (CSV) and of the figure (standalone HTML, and PNG where a Chromium
    is installed); with ``select``, box and lasso selection reruns the page and the selection state is returned."""
    if select:
        event = st.plotly_chart(fig, key=key, on_select="rerun", selection_mode=("box", "lasso"))
    else:
        event = st.plotly_chart(fig, key=key)
    downloads(data, name, key, fig)
    return event


def downloads(data: pd.DataFrame, name: str, key: str, fig: go.Figure | None = None) -> None:
    """Download buttons; the files are made only when a button is pressed (a PNG takes Chromium a few seconds)."""
    row = st.container(horizontal=True, vertical_alignment="center")
    row.download_button("CSV", icon=":material/download:", data=lambda: data.to_csv(index=False).encode(),
                        file_name=f"{name}.csv", mime="text/csv", key=f"{key}_csv", on_click="ignore")
    if fig is None:
        return
    row.download_button("HTML", icon=":material/download:", data=lambda: analysis.figure_html(fig).encode(),
                        file_name=f"{name}.html", mime="text/html", key=f"{key}_html", on_click="ignore")
    chromium = analysis.find_chromium()
    if chromium:
        row.download_button("PNG", icon=":material/download:", data=lambda: analysis.figure_png(fig, chromium),
                            file_name=f"{name}.png", mime="image/png", key=f"{key}_png", on_click="ignore")
    else:
        row.caption("No PNG: no Chromium found (apt-get install chromium, or set AIM_CHROMIUM to one).")
