"""Streamlit glue shared by the pages: cached loading, run pickers synced with the URL, status banners, and a
chart helper that adds CSV and HTML downloads. No analysis here (that is ``aim.analysis``)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from aim import analysis
from aim.runs import Run, read_progress
from app import catalog, jobs


@st.cache_data(show_spinner=False, max_entries=512)
def _load(path: str, mtime: float) -> tuple[Run | None, str | None]:
    """Loaded once per (folder, modification time of run.json): a page switch or a widget change does not reload."""
    del mtime  # part of the cache key only
    return catalog.load(path)


def clear_cache() -> None:
    _load.clear()


@dataclass
class Loaded:
    runs: dict[str, Run] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    corrupt: list[catalog.Notice] = field(default_factory=list)
    scan: catalog.Scan = field(default_factory=catalog.Scan)

    def ids(self) -> list[str]:
        """Run ids, newest first."""
        return sorted(self.runs, key=lambda rid: (self.runs[rid].meta.get("created") or "", rid), reverse=True)

    def complete(self) -> list[str]:
        """The ids of the complete runs, newest first: the default choices."""
        return [rid for rid in self.ids() if self.runs[rid].status == "complete"]


def runs_dir() -> Path:
    return Path(st.session_state.get("runs_dir") or catalog.default_runs_dir()).expanduser()


def load_all() -> Loaded:
    """Scan both roots and load every run (cached); the result is kept for the pages of this script run."""
    scan = catalog.scan([("cached", catalog.cached_runs_dir()), ("runs", runs_dir())])
    out = Loaded(scan=scan)
    for c in scan.candidates:
        run, problem = _load(str(c.path), c.mtime)
        if run is None and catalog.is_study(c.path):
            scan.studies.append(catalog.Notice(c.id, c.path, c.source, "study"))
        elif run is None:
            out.corrupt.append(catalog.Notice(c.id, c.path, c.source, problem or "unreadable"))
        else:
            run.meta = {**run.meta, "id": c.id}  # a copied or renamed folder: its folder name is its id here
            out.runs[c.id] = run
            out.sources[c.id] = c.source
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


def pick_runs(data: Loaded, limit: int = 4) -> tuple[list[str], str | None]:
    """2-4 runs bound to ``?runs=a,b`` and a reference run bound to ``?ref=<id>``."""
    ids = data.ids()
    wanted = [r for r in (st.query_params.get("runs") or "").split(",") if r]
    missing = [r for r in wanted if r not in ids]
    if missing:
        st.warning(f"Not found (from the link): {', '.join(missing)}")
    current = [r for r in wanted if r in ids] or [r for r in st.session_state.get("runs", []) if r in ids]
    st.session_state["pick_runs"] = current[:limit] or (data.complete() or ids)[:2]
    chosen = st.multiselect(f"Runs to compare (2 to {limit})", ids, key="pick_runs", max_selections=limit,
                            format_func=lambda rid: run_label(data.runs[rid]), on_change=_sync,
                            args=("runs", "pick_runs"))
    st.session_state["runs"] = chosen
    st.query_params["runs"] = ",".join(chosen)
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
    return f"{seconds:.0f} s ago" if seconds < 120 else f"{seconds / 60:.0f} min ago"


def status_banner(run: Run) -> None:
    """Say plainly that a run is still running (with its live progress) or failed (with the reason)."""
    ended = ended_jobs().get(run.id) if run.status == "running" else None
    if ended:
        st.warning(f"This run says *running*, but the job that wrote it has ended ({ended}): it will not finish. "
                   "What it wrote is shown.", icon=":material/warning:")
    elif run.status == "running":
        p = read_progress(run.path)
        text = analysis.progress_text(p) or "no progress reported yet"
        st.info(f"This run is still **running** ({text}; updated {age((p or {}).get('updated'))}). "
                "What it has written so far is shown; reload for more.", icon=":material/hourglass_top:")
    elif run.status == "failed":
        st.error(f"This run **failed**: {run.meta.get('error') or 'no reason recorded'}. "
                 "What it wrote before failing is shown.", icon=":material/error:")


def need(run: Run, table: str, what: str) -> pd.DataFrame | None:
    """The run's table, or a notice saying why it is missing (and None)."""
    df = getattr(run, table)
    if df is None:
        st.info(f"This run has no {what} (its status is **{run.status}**).")
    return df


def run_with_table(table: str, what: str) -> tuple[Run, pd.DataFrame]:
    """The head of every single-run page: the URL-bound run picker, its status banner and the table the page
    draws; stops the page (with the reason shown) when there is no run or the run lacks that table."""
    run = pick_run(loaded())
    if run is None:
        st.stop()
    status_banner(run)
    df = need(run, table, what)
    if df is None:
        st.stop()
    return run, df


def chart(fig: go.Figure, data: pd.DataFrame, name: str, key: str, select: bool = False):
    """Draw ``fig`` with downloads of its data (CSV) and of the figure (standalone HTML); with ``select``, box and
    lasso selection reruns the page and the selection state is returned."""
    if select:
        event = st.plotly_chart(fig, key=key, on_select="rerun", selection_mode=("box", "lasso"))
    else:
        event = st.plotly_chart(fig, key=key)
    downloads(data, name, key, fig)
    return event


def downloads(data: pd.DataFrame, name: str, key: str, fig: go.Figure | None = None) -> None:
    row = st.container(horizontal=True)
    row.download_button("CSV", icon=":material/download:", data=lambda: data.to_csv(index=False).encode(),
                        file_name=f"{name}.csv", mime="text/csv", key=f"{key}_csv", on_click="ignore")
    if fig is not None:
        row.download_button("HTML", icon=":material/download:", data=lambda: analysis.figure_html(fig).encode(),
                            file_name=f"{name}.html", mime="text/html", key=f"{key}_html", on_click="ignore")
