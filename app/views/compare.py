"""Compare 2-4 runs: metric deltas against a reference, the config differences, which interactions each keeps,
α of one run against another, and function use and embedding sizes side by side."""

from html import escape

import streamlit as st

from aim import analysis, variants
from aim.analysis import compare as vs_parent
from aim.analysis.compare import compare_colors
from app import glossary, ui

st.title("Compare runs")
data = ui.loaded()
chosen, ref = ui.pick_runs(data)
if len(chosen) < 2:
    st.info("Choose at least two runs (or tick them in the **Runs** table and press *Compare runs*).")
    st.stop()
runs = {rid: data.runs[rid] for rid in chosen}
colors = compare_colors(chosen)
st.markdown(" &nbsp; ".join(f"<span style='color:{colors[r]}'>■</span> <code>{escape(r)}</code> ({runs[r].status})"
                            for r in chosen), unsafe_allow_html=True)
datasets = {rid: ui.dataset_of(run) for rid, run in runs.items()}
same_data = len(set(datasets.values())) == 1
if not same_data:
    st.warning("These runs are on **different datasets** ("
               + "; ".join(f"{d}: " + ", ".join(f"`{r}`" for r in chosen if datasets[r] == d)
                           for d in dict.fromkeys(datasets.values()))
               + "). Their fields differ, so only metrics, configs and function use are compared; the kept-"
               "interaction overlap, α of run A vs run B and the embedding sizes need runs on one dataset.",
               icon=":material/warning:")

st.subheader("Metrics")
deltas = analysis.metric_deltas({r: run.meta for r, run in runs.items()}, ref)
HELP = {"auc": glossary.tip("auc"), "logloss": glossary.tip("logloss"), "kept_interactions": glossary.tip("kept"),
        "params": glossary.tip("params")}
config = {"run": st.column_config.TextColumn("run", pinned=True),
          "variant": st.column_config.TextColumn("variant", help=glossary.tip("variant"))}
for c in deltas.columns:
    base = c.removeprefix("Δ ")
    key = next((k for k in HELP if k in base), None)
    if key is None:
        continue
    better = " (lower is better)" if "logloss" in base else " (higher is better)" if "auc" in base else ""
    label = c.replace("logloss", "log loss").replace("auc", "AUC").replace("_", " ")
    fmt = ("%+.4f" if c.startswith("Δ") else "%.4f") if key in ("auc", "logloss") else (
        "%+d" if c.startswith("Δ") else "localized")
    config[c] = st.column_config.NumberColumn(label, format=fmt, help=(
        f"Difference to the reference run `{ref}`{better}.\n\n" if c.startswith("Δ") else "") + HELP[key])
shown = ["run", "variant", "test_auc", "Δ test_auc", "test_logloss", "Δ test_logloss", "kept_interactions", "params"]
st.dataframe(deltas, hide_index=True, column_config=config, column_order=shown)
st.caption("Δ: difference to the reference run. Validation metrics and the other deltas are in the CSV (and the "
           "table's column menu). Log loss: lower is better.")
ui.downloads(deltas, "metric_deltas", "deltas")
c1, c2 = st.columns(2)
for col, metric in ((c1, "test_auc"), (c2, "test_logloss")):
    with col:
        ui.chart(analysis.metric_bars(deltas, metric, colors), deltas, metric, f"bars_{metric}")

def retrain_vs_parent(rid: str, pid: str) -> None:
    """A re-train of a selection against its parent: the columns it adds and removes, Δ with their noise and a
    verdict, and the runs that would settle it over seeds."""
    child, parent = data.runs[rid], data.runs[pid]
    st.subheader("Re-train vs its parent")
    procedure = child.meta.get("procedure")
    if procedure is None:
        st.warning("This re-train predates the replay of its parent's search: it trained from scratch only, while "
                   "its parent's final model could start from its search model, so Δ mixes the selection with the "
                   "procedure. Re-train the selection again for a like-for-like comparison.", icon=":material/warning:")
    elif procedure.get("read"):
        st.caption(f"`{rid}` re-trains a selection of `{pid}` as `{pid}`'s final model was trained: from `{pid}`'s "
                   f"search model and random states (its `{procedure['read']}`), the same L2 grid and starts "
                   f"(kept: {'the search model' if procedure.get('start') == 'search' else 'scratch'}).")
    elif procedure.get("replayed"):
        st.caption(f"`{rid}` re-trains a selection of `{pid}` as `{pid}`'s final model was trained: its search "
                   f"({', '.join(procedure['replayed'])}) replayed with seed {procedure.get('seed')} in "
                   f"{procedure.get('seconds', 0):.0f} s to rebuild the search model, then the same L2 grid and starts "
                   f"(kept: {'the search model' if procedure.get('start') == 'search' else 'scratch'}).")
    else:
        st.caption(f"`{rid}` trained from scratch only: {procedure.get('why', '')}.")
    if procedure and procedure.get("same_kept_columns") is False:
        st.warning(f"The replayed search kept other columns than `{pid}`'s ({procedure.get('threads')} thread(s) "
                   f"here, {procedure.get('parent_threads')} for the parent): the start is close to, not exactly, "
                   "the parent's.", icon=":material/warning:")
    if child.interactions is not None and parent.interactions is not None:
        changes = vs_parent.column_changes(parent.interactions, child.interactions)
        for change, word in (("added", "Added"), ("removed", "Removed")):
            cols = changes.loc[changes["change"] == change, "column"].tolist()
            st.markdown(f"**{word}** ({len(cols)}) relative to the parent's kept columns: "
                        + (", ".join(f"`{c}`" for c in cols) if cols else "none"))
        st.caption(f"{int((changes['change'] == 'kept in both').sum())} columns kept by the parent are re-trained too.")
    spread, seeds_done, study_id = None, [], data.study_of.get(pid)
    if study_id in data.studies:
        recorded = data.studies[study_id].recorded_metas()
        variant = vs_parent.study_variant_of(recorded, pid)
        if variant is not None:
            spread = vs_parent.seed_spread(recorded[variant].values())
            seeds_done = [s for s, m in recorded[variant].items() if m and m.get("status") == "complete"]
            st.caption(f"Seed spread: variant `{variant}` of study `{study_id}` ({spread['n']} complete seeds).")
    table = vs_parent.retrain_deltas(child.meta, parent.meta, spread)
    st.dataframe(vs_parent.deltas_display(table), hide_index=True, key=f"vs_parent_{rid}", column_config={
        "retrain": st.column_config.TextColumn("re-train"),
        "delta": st.column_config.TextColumn("Δ (re-train − parent)"),
        "noise_from": st.column_config.TextColumn("noise from")})
    st.markdown("  \n".join(vs_parent.verdict_lines(table)))
    st.caption("Rule: " + vs_parent.noise_rule())
    with st.expander("Next step: the same selection over K seeds, for a paired t-test"):
        k = st.number_input("Seeds (K)", min_value=2, max_value=20, value=5, key=f"vs_parent_seeds_{rid}")
        st.code("\n".join(vs_parent.seed_commands(child.meta["config"], parent.meta.get("config"), range(int(k)),
                                                   seeds_done or [parent.meta.get("seed")])), language="bash")
        st.caption("Each re-train replays the parent's search with its own seed, so seed s of the re-train pairs with "
                   "seed s of the parent's variant" + (" (already in the study)." if seeds_done else "."))


for rid in chosen:
    pid = (runs[rid].meta.get("parent") or {}).get("id")
    known = variants.of_token(runs[rid].meta.get("variant"))
    if known is not None and known.family == "selection" and pid in data.runs:
        retrain_vs_parent(rid, pid)

st.subheader("Config differences")
diff = analysis.config_diff({r: run.meta.get("config") or {} for r, run in runs.items()})
if diff.empty:
    st.success("The configs are identical.")
else:
    st.dataframe(diff.astype(str), column_config={r: st.column_config.TextColumn(r, width="medium") for r in chosen})
    ui.downloads(diff.reset_index(), "config_diff", "diff")

with_inter = {r: run.interactions for r, run in runs.items() if run.interactions is not None}
if len(with_inter) < len(runs):
    st.caption("Runs without an interaction table yet are left out below: "
               + ", ".join(f"`{r}`" for r in runs if r not in with_inter))
if len(with_inter) >= 2 and same_data:
    st.subheader("Kept interactions: overlap")
    kept = {r: analysis.kept_interactions(df) for r, df in with_inter.items()}
    summary = analysis.overlap_summary(kept)
    m = st.columns(2)
    m[0].metric("Kept by every run", summary["all"], help=glossary.tip("kept"))
    m[1].metric("Kept by any run", summary["any"], help=glossary.tip("kept"))
    counts = analysis.overlap_counts(kept)
    st.caption("Shared kept interactions, run × run (the diagonal: each run's own count)")
    st.dataframe(counts)
    table = analysis.overlap_table(kept)
    with st.expander(f"Which run keeps which interaction ({len(table)})"):
        st.dataframe(table)
        ui.downloads(table.reset_index(), "kept_overlap", "overlap")

gated = {r: df for r, df in with_inter.items() if analysis.has_alpha(df)}  # a re-train or a baseline has no gate
if len(with_inter) >= 2 and same_data and len(gated) < 2:
    ungated = [r for r in with_inter if r not in gated]
    st.caption("No α of run A vs run B: " + ", ".join(f"`{r}` ({runs[r].meta.get('variant')})" for r in ungated)
               + (" has" if len(ungated) == 1 else " have") + " no gates (a re-train of a selection or a baseline "
               "trains its columns without α)" + ("; its columns against its parent's are under *Re-train vs its "
                                                   "parent* above." if any(runs[r].meta.get("parent") for r in ungated)
                                                   else "."))
if len(gated) >= 2 and same_data:
    st.subheader("α of run A vs run B")
    ids = list(gated)
    c1, c2, c3 = st.columns([2, 2, 1.4])
    a = c1.selectbox("Run A", ids, index=ids.index(ref) if ref in ids else 0)
    b = c2.selectbox("Run B", ids, index=next(i for i, r in enumerate(ids) if r != a))
    per = c3.radio("One point per", ["interaction", "column"], horizontal=True,
                   help=glossary.tip("interaction", "interaction_if"))
    pairs = analysis.alpha_pairs(with_inter[a], with_inter[b], per)
    ui.chart(analysis.alpha_pairs_figure(pairs, a, b, colors), pairs, "alpha_a_vs_b", "a_vs_b")
    names_a = analysis.field_names_of(with_inter[a], runs[a].fields)
    if names_a == analysis.field_names_of(with_inter[b], runs[b].fields):
        delta = analysis.delta_alpha_matrix(with_inter[a], with_inter[b], names_a)
        ui.chart(analysis.field_heatmap(delta, title="Δ max |α| (B − A): red = larger in B", diverging=True),
                 delta.reset_index(names="field"), "delta_alpha_map", "delta_map")
    else:
        st.info("The two runs have different fields, so there is no field × field Δ map.")

if len(with_inter) >= 2:
    st.subheader("Function use by run")
    st.caption("Per order, the share of each run's kept interactions that use each function (label: how many of "
               "how many). " + glossary.TERMS["functions"].text)
    freq = analysis.function_frequency_by_run(with_inter)
    ui.chart(analysis.function_frequency_figure(freq, by="run", colors=colors), freq, "function_frequency_by_run",
             "freq_runs")

with_fields = {r: run.fields for r, run in runs.items() if run.fields is not None}
if with_fields and same_data:
    st.subheader("Embedding sizes by run")
    sizes = analysis.embedding_sizes_by_run(with_fields)
    ui.chart(analysis.embedding_sizes_figure(sizes, colors), sizes, "embedding_sizes_by_run", "sizes_runs")
