"""Runs: every run found, filterable and sortable, with the runs of a study grouped under it (a toggle lists them
all); pick a run to open, several to compare, or a study."""

import streamlit as st

from aim import analysis
from aim.errors import AIMError
from aim.fileio import read_json
from aim.runs import RUN_FILE, read_progress
from app import access, catalog, glossary, shipped, ui

st.title("Runs")
data = ui.loaded()
ended = ui.ended_jobs()
rows = [analysis.run_row(r.meta, read_progress(r.path) if r.status == "running" else None, data.sources[rid],
                         ended.get(rid), data.study_of.get(rid, "")) for rid, r in data.runs.items()]
table = analysis.runs_table(rows)
table["warnings"] = [analysis.warning_mark(data.runs[rid].meta) for rid in table["id"]]

RUN_COLUMNS = {
    "id": st.column_config.TextColumn("id", pinned=True),
    "variant": st.column_config.TextColumn("variant", help=glossary.tip("variant")),
    "test_auc": st.column_config.NumberColumn("test AUC", format="%.4f", help=glossary.tip("auc")),
    "test_logloss": st.column_config.NumberColumn("test log loss", format="%.4f", help=glossary.tip("logloss")),
    "valid_auc": st.column_config.NumberColumn("valid AUC", format="%.4f", help=glossary.tip("auc")),
    "kept": st.column_config.TextColumn("kept", help=glossary.tip("kept")),
    "fi_ratio": st.column_config.NumberColumn("FI ratio", format="percent", help=glossary.tip("fi_ratio")),
    "params": st.column_config.NumberColumn("parameters", format="localized", help=glossary.tip("params")),
    "created": st.column_config.DatetimeColumn("created (UTC)", format="YYYY-MM-DD HH:mm"),
    "study": st.column_config.TextColumn("study", help=glossary.tip("study")),
    "note": st.column_config.TextColumn("note", width="medium"),
    "warnings": st.column_config.TextColumn("⚠", width="small", help="How many warnings the run recorded; they are "
                                            "listed under the table and on the run's pages.\n\n"
                                            + glossary.tip("run_warnings")),
}
in_studies = int((table["study"] != "").sum()) if not table.empty else 0

if table.empty:
    st.info(f"No runs in `{ui.runs_dir()}` yet (this app is read-only)." if access.read_only() else
            "No runs yet. Launch one on the **Launch a run** page, run `python -m aim run --out "
            f"{ui.runs_dir()}`, or point the sidebar's *Runs folder* at a folder of runs.")
else:
    with_studies = st.toggle(f"Include the {in_studies} runs of studies", key="runs_with_studies",
                             help="By default a study's runs are listed under their study (below), not here.")
    base = table if with_studies else table[table["study"] == ""]
    c = st.columns([1, 1, 1, 1.4, 1.6] if with_studies else [1, 1, 1, 1.6])
    datasets = c[0].multiselect("Dataset", sorted(base["dataset"].dropna().unique()))
    variants = c[1].multiselect("Variant", sorted(base["variant"].dropna().unique()), help=glossary.tip("variant"))
    statuses = c[2].multiselect("Status", sorted(base["status"].dropna().unique()))
    in_study = c[3].multiselect("Study", sorted(base["study"].unique()), format_func=lambda s: s or "(none)",
                                help=glossary.tip("study")) if with_studies else []
    text = c[-1].text_input("Id contains", placeholder="e.g. seed1")
    shown = analysis.filter_runs(base, datasets, variants, statuses, text, in_study)
    grouped = "" if with_studies or not in_studies else (
        f" The {in_studies} runs of the {len(data.studies)} studies are listed under their study below.")
    st.caption(f"{len(shown)} of {len(base)} runs.{grouped} Click a column header to sort; tick rows to open or "
               "compare. More columns (seed, valid AUC, parameters, created, source): the table's column menu, "
               "the CSV.")
    flagged = shown["warnings"].astype(bool).any()
    order = ["id", "dataset", "variant", "status", *(["warnings"] if flagged else []), "test_auc", "test_logloss", "kept", "fi_ratio",
             *(["progress"] if shown["progress"].astype(bool).any() else []),
             *(["study"] if with_studies else []), *(["note"] if shown["note"].astype(bool).any() else [])]
    event = st.dataframe(shown, key="runs_table", on_select="rerun", selection_mode="multi-row", hide_index=True,
                         column_config=RUN_COLUMNS, column_order=order)
    picked = list(shown.iloc[event.selection.rows]["id"]) if event and event.selection.rows else []
    row = st.container(horizontal=True, vertical_alignment="center")
    if row.button("Open run", disabled=len(picked) != 1, type="primary", icon=":material/open_in_new:"):
        st.switch_page("views/interactions.py", query_params={"run": picked[0]})
    if row.button("Compare runs", disabled=not 2 <= len(picked) <= 4, icon=":material/compare_arrows:"):
        st.switch_page("views/compare.py", query_params={"runs": ",".join(picked), "ref": picked[0]})
    row.caption("Tick one run to open it, or two to four to compare them.")
    ui.downloads(shown, "runs", "runs")
    if flagged:
        listed = analysis.warnings_table({rid: data.runs[rid].meta for rid in shown["id"]})
        with st.expander(f"Warnings of {listed['id'].nunique()} of the runs shown ({len(listed)})",
                         icon=":material/warning:"):
            st.markdown("\n".join(f"- [`{rid}`](sparsity?run={rid}): {w}" for rid, w in listed.itertuples(False)))

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
    st.caption("Each study: several seeds of several variants on one dataset. Open it for the paper's tables, or "
               "unfold it for its runs.")
    counts = {sid: analysis.run_counts(analysis.seed_values(ui.study_metas(s))) for sid, s in data.studies.items()}
    studies = analysis.studies_table([analysis.study_row({**s.meta, "id": sid}, counts[sid], data.study_sources[sid])
                                      for sid, s in data.studies.items()])
    shipped_studies = {sid: s.meta for sid, s in data.studies.items() if data.study_sources[sid] == "cached"}
    names = {item.folder: item.name for item in shipped.shipped({}, shipped_studies, shipped.entries())
             if item.name != item.folder}  # the names Start here lists them under (frappe-study, ...)
    for info in studies.to_dict("records"):
        sid = info["id"]
        status = "" if info["status"] == "complete" else f" · **{info['status']}**"
        missing = f" ({info['not complete']})" if info["not complete"] else ""
        with st.expander((f"**{names[sid]}** (`{sid}`)" if sid in names else f"**{sid}**") + f" · {info['dataset']} · {len(data.studies[sid].variants)} variants × "
                         f"{info['seeds']} seeds · {info['runs complete']} runs complete{missing}{status}",
                         icon=":material/query_stats:"):
            c1, c2 = st.columns([1, 3], vertical_alignment="center")
            c1.page_link("views/studies.py", label="Open its tables", icon=":material/open_in_new:",
                         query_params={"study": sid})
            c2.caption(f"variants: {info['variants']} · best baseline: {info['best baseline'] or '—'} · "
                       f"source: {info['source']}")
            its_runs = table[table["study"] == sid]
            st.dataframe(its_runs.assign(open=[f"interactions?run={r}" for r in its_runs["id"]]), hide_index=True,
                         column_config={**RUN_COLUMNS, "open": st.column_config.LinkColumn(display_text="open")},
                         column_order=["id", "variant", "seed", "status", "test_auc", "test_logloss", "kept",
                                       "open"])
    for n in data.bad_studies:
        st.caption(f"Unreadable study `{n.path}`: {n.reason.replace(f'{n.path}/', '')}")

if data.scan.ignored:
    with st.expander(f"{len(data.scan.ignored)} folder(s) ignored"):
        for n in data.scan.ignored:
            st.caption(f"`{n.path}`: {n.reason}")
missing = catalog.reported_missing(data.scan)
if missing:
    st.caption("Not found (yet): " + ", ".join(f"`{p}`" for p in missing))
