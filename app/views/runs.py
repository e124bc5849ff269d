"""Runs: every run and study found, filterable and sortable; pick a run to open, several to compare, or a study."""

import streamlit as st

from aim import analysis
from aim.errors import AIMError
from aim.runs import RUN_FILE, read_json, read_progress
from app import ui

st.title("Runs")
data = ui.loaded()
ended = ui.ended_jobs()
rows = [analysis.run_row(r.meta, read_progress(r.path) if r.status == "running" else None, data.sources[rid],
                         ended.get(rid), data.study_of.get(rid, "")) for rid, r in data.runs.items()]
table = analysis.runs_table(rows)

if table.empty:
    st.info("No runs yet. Launch one on the **Launch a run** page, run `python -m aim run --out "
            f"{ui.runs_dir()}`, or point the sidebar's *Runs folder* at a folder of runs.")
else:
    c1, c2, c3, c4, c5 = st.columns([1, 1, 1, 1.4, 1.6])
    datasets = c1.multiselect("Dataset", sorted(table["dataset"].dropna().unique()))
    variants = c2.multiselect("Variant", sorted(table["variant"].dropna().unique()))
    statuses = c3.multiselect("Status", sorted(table["status"].dropna().unique()))
    in_study = c4.multiselect("Study", sorted(table["study"].unique()), format_func=lambda s: s or "(none)")
    text = c5.text_input("Id contains", placeholder="e.g. seed1")
    shown = analysis.filter_runs(table, datasets, variants, statuses, text, in_study)
    st.caption(f"{len(shown)} of {len(table)} runs. Click a column header to sort; tick rows to open or compare.")
    event = st.dataframe(
        shown, key="runs_table", on_select="rerun", selection_mode="multi-row", hide_index=True,
        column_config={
            "test_auc": st.column_config.NumberColumn("test AUC", format="%.4f"),
            "test_logloss": st.column_config.NumberColumn("test log loss", format="%.4f"),
            "valid_auc": st.column_config.NumberColumn("valid AUC", format="%.4f"),
            "kept": st.column_config.TextColumn("kept interactions"),
            "fi_ratio": st.column_config.NumberColumn("FI ratio", format="percent"),
            "params": st.column_config.NumberColumn("parameters", format="localized"),
            "created": st.column_config.DatetimeColumn("created (UTC)", format="YYYY-MM-DD HH:mm"),
        })
    picked = list(shown.iloc[event.selection.rows]["id"]) if event and event.selection.rows else []
    row = st.container(horizontal=True, vertical_alignment="center")
    if row.button("Open run", disabled=len(picked) != 1, type="primary", icon=":material/open_in_new:"):
        st.switch_page("views/interactions.py", query_params={"run": picked[0]})
    if row.button("Compare runs", disabled=not 2 <= len(picked) <= 4, icon=":material/compare_arrows:"):
        st.switch_page("views/compare.py", query_params={"runs": ",".join(picked), "ref": picked[0]})
    row.caption("Tick one run to open it, or two to four to compare them.")
    ui.downloads(shown, "runs", "runs")

running = [r for r in data.runs.values() if r.status == "running" and r.id not in ended]


@st.fragment(run_every=3)
def live() -> None:
    """Progress of the running runs, re-read every 3 s; the page reloads when one of them ends."""
    st.subheader("Running now")
    for run in running:
        p = read_progress(run.path)
        text = analysis.progress_text(p) or "starting"
        st.markdown(f":material/hourglass_top: `{run.id}`: {text} (updated {ui.age((p or {}).get('updated'))})")
        try:
            ended = read_json(run.path / RUN_FILE).get("status") != "running"
        except AIMError:
            ended = True
        if ended:
            st.rerun(scope="app")


if running:
    live()
if data.corrupt:
    st.subheader(f"Unreadable run folders ({len(data.corrupt)})")
    st.dataframe([{"folder": n.id, "source": n.source, "reason": n.reason.replace(f"{n.path}/", "")}
                  for n in data.corrupt], hide_index=True)
if data.studies or data.bad_studies:
    st.subheader(f"Studies ({len(data.studies)})")
    counts = {sid: analysis.run_counts(analysis.seed_values(ui.study_metas(s))) for sid, s in data.studies.items()}
    studies = analysis.studies_table([analysis.study_row({**s.meta, "id": sid}, counts[sid], data.study_sources[sid])
                                      for sid, s in data.studies.items()])
    event = st.dataframe(studies, key="studies_table", on_select="rerun", selection_mode="single-row",
                         hide_index=True, column_config={
                             "created": st.column_config.DatetimeColumn("created (UTC)", format="YYYY-MM-DD HH:mm")})
    picked = event.selection.rows if event else []
    if st.button("Open study", disabled=not picked, icon=":material/query_stats:"):
        st.switch_page("views/studies.py", query_params={"study": studies.iloc[picked[0]]["id"]})
    for n in data.bad_studies:
        st.caption(f"Unreadable study `{n.path}`: {n.reason.replace(f'{n.path}/', '')}")
if data.scan.ignored:
    with st.expander(f"{len(data.scan.ignored)} folder(s) ignored"):
        for n in data.scan.ignored:
            st.caption(f"`{n.path}`: {n.reason}")
if data.scan.missing_roots:
    st.caption("Not found (yet): " + ", ".join(f"`{p}`" for p in data.scan.missing_roots))
