"""Re-train a selection from the Interactions page: ``python -m aim run --variant retrain`` launched through the
Launch machinery (``app.jobs``: validated, one background job, live progress), then Compare with the parent run
opened when it finishes. No analysis here."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from aim.config import RunConfig
from aim.errors import ConfigError
from aim.flags import retrain_args
from aim.runs import Run
from aim.selection import SOURCES, items_of, points_columns, to_spec
from app import access, jobs, ui

LAUNCHED = "retrain_jobs"  # session state: job id -> parent run id, for the jobs this session launched here


def button(run: Run, chosen: pd.DataFrame, per: str = "interaction", inter: pd.DataFrame | None = None) -> None:
    """"Re-train with these": the columns of the selected points (``selection.points_columns``: every kept function
    of a selected interaction, or exactly the selected columns), listed before launch, everything else as ``run``
    was trained (its search replayed so the re-train starts as its final model did). Not offered in read-only
    mode, where ``app.jobs`` would refuse it anyway."""
    if access.read_only():
        return
    columns = points_columns(chosen, per, inter)
    spec = to_spec(items_of(columns))
    st.markdown(f"**Will re-train {len(columns)} interaction-IF column{'s' if len(columns) != 1 else ''}** "
                f"({len(chosen)} point{'s' if len(chosen) != 1 else ''} selected):")
    st.code(", ".join(columns["column"]), language=None, wrap_lines=True)
    if (columns["source"] != SOURCES["column"]).any():
        with st.expander("Why each column"):
            st.dataframe(columns[["column", "source"]], hide_index=True)
    if not st.button(f"Re-train with these ({len(columns)})", icon=":material/model_training:", key="retrain_selection",
                     help="Trains the final model on exactly the columns listed above (no new search), with this "
                          "run's settings, embedding sizes and seed, in the background. It first replays this run's "
                          "search to rebuild the search model its final model could start from, so the only "
                          f"difference is the columns.\n\n`--columns {spec}`\n\n"
                          "When it finishes, Compare opens with this run."):
        return
    try:
        args = retrain_args(RunConfig.from_json(run.meta["config"]), run.path, spec)
        job = jobs.start(args, ui.runs_dir())
    except (ConfigError, jobs.JobError) as exc:
        st.error(f"Not launched: {exc}")
        return
    st.session_state[LAUNCHED] = {**st.session_state.get(LAUNCHED, {}), job.id: run.id}


@st.fragment(run_every=2)
def follow() -> None:
    """The re-train jobs launched here, with live progress; Compare (re-train vs parent) once one is complete."""
    launched = st.session_state.get(LAUNCHED) or {}
    for job in jobs.list_jobs(ui.runs_dir()):
        if job.id not in launched:
            continue
        state, parent = jobs.status(job), launched[job.id]
        if state == "complete" and job.run_id:
            st.session_state[LAUNCHED] = {k: v for k, v in launched.items() if k != job.id}
            st.switch_page("views/compare.py", query_params={"runs": f"{job.run_id},{parent}", "ref": parent})
        with st.container(border=True):
            st.markdown(f"**Re-train {state}** · job `{job.id}` · parent `{parent}`")
            if state == "running":
                st.caption(jobs.live_text(job))
            else:
                st.code(jobs.log_tail(job) or "(empty)", language=None)
