"""Interactions: α vs statistics AUC (paper Fig. 7), the field × field |α| map, and α during the search."""

import streamlit as st

from aim import analysis, variants
from app import glossary, plain, retrain, ui

COLUMNS = {"order": st.column_config.NumberColumn("order", help=glossary.tip("order")),
           "function": st.column_config.TextColumn("function", help=glossary.tip("functions")),
           "functions_kept": st.column_config.TextColumn("functions kept", help=glossary.tip("functions")),
           "alpha": st.column_config.NumberColumn("α", format="%.4f", help=glossary.tip("alpha")),
           "abs_alpha": st.column_config.NumberColumn("|α|", format="%.4f", help=glossary.tip("alpha")),
           "kept": st.column_config.NumberColumn("kept", help=glossary.tip("alpha")),
           "stats_auc": st.column_config.NumberColumn("statistics AUC", format="%.4f", help=glossary.tip("stats_auc")),
           "planted": st.column_config.NumberColumn("planted", help=glossary.tip("planted"))}

st.title("Interactions")
run, inter = ui.run_with_table("interactions", "interaction table yet")
plain.run_summary(run, inter)  # what was found, in plain words (aim/analysis/summary.py)
if not analysis.has_alpha(inter):
    parent = (run.meta.get("parent") or {}).get("id")
    variant = variants.REGISTRY.get(run.meta.get("variant"))
    st.info(f"This run re-trains a hand-picked selection of {len(inter)} interaction-IF columns"
            + (f" of `{parent}`" if parent else "") + " with no gate, so there is no α. They, ranked by statistics AUC:"
            if variant is not None and variant.family == "selection" else
            f"`{run.meta.get('variant')}` is a baseline that "
            + (variant.interactions if variant is not None and variant.interactions else "has no gates")
            + ", so there is no α. Its pairs, ranked by statistics AUC:")
    ranked = inter.sort_values("stats_auc", ascending=False)[["field_names", "function", "stats_auc", "planted"]]
    st.dataframe(ranked, hide_index=True, column_config=COLUMNS)
    ui.downloads(ranked, f"{run.id}_interactions", "ranked")
    st.stop()

c1, c2, c3 = st.columns([1.2, 1, 1.4])
per = c1.radio("One point per", ["interaction", "column"], horizontal=True,
               format_func={"interaction": "interaction (max |α| of its functions)",
                            "column": "(interaction, function) column"}.get,
               help=glossary.tip("interaction", "interaction_if"))
orders = c2.multiselect("Order", sorted(inter["order"].unique()), default=sorted(inter["order"].unique()),
                        help=glossary.tip("order"))
present = [f for f in analysis.FUNCTIONS if f in set(inter["function"])]
functions = c3.multiselect("Function", present, default=present, help=glossary.tip("functions"))
points = analysis.alpha_points(inter, per, orders, functions)
rho, p, n = analysis.spearman(points)

m = st.columns(4)
m[0].metric("Points kept", f"{int((points['kept'] == 1).sum())} / {len(points)}", help=glossary.tip("alpha"))
m[1].metric("Spearman ρ (stats AUC, |α|)", "n/a" if rho != rho else f"{rho:.3f}",
            help=(f"Over the {n} points shown; p = {p:.2g}.\n\n" if rho == rho else "Needs 3+ varied points.\n\n")
            + glossary.tip("spearman", "stats_auc"))
planted = run.meta.get("planted")
if planted:
    orders = ", ".join(k[5:] for k, v in planted.get("by_order", {}).items() if v["planted"]) or "2"
    m[2].metric("Planted interactions found", f"{planted['hits']} / {planted['planted']}",
                help=f"Planted at orders {orders}.\n\n" + glossary.tip("planted"))
    m[3].metric("Precision of kept interactions", f"{planted['precision']:.2f}",
                help="Over the kept interactions of every searched order.\n\n" + glossary.tip("precision"))

fig = analysis.alpha_scatter(points, title=f"|α| vs statistics AUC, one point per {per} (Fig. 7)")
event = ui.chart(fig, points, f"{run.id}_alpha_vs_stats_auc", "fig7", select=True)
keys = analysis.selected_keys(event.selection.points if event else [])
if keys:
    chosen = points[points["key"].isin(keys)].drop(columns="key")
    st.markdown(f"**{len(chosen)} selected**")
    st.dataframe(chosen, hide_index=True, column_config=COLUMNS)
    ui.downloads(chosen, f"{run.id}_selection", "selection")
    retrain.button(run, chosen, per, inter)
else:
    st.caption("Drag a box or lasso on the chart to list those interactions here."
               + (" Red rings mark the planted interactions." if analysis.has_planted(inter) else ""))

if st.session_state.get(retrain.LAUNCHED):
    retrain.follow()

if analysis.has_reference(inter):  # runs since 2026-12-07 (search.reference): an outside ranking of the pairs
    method, short = analysis.reference_method(run.meta), analysis.reference_method(run.meta, short=True)
    st.subheader(f"Independent check: |α| vs {method}")
    ref_points = analysis.reference_points(inter)
    ref_rho, ref_p, ref_n = analysis.reference_spearman(ref_points)
    overlap = analysis.kept_overlap(ref_points)
    r = st.columns(3)
    r[0].metric(f"Spearman ρ (|α|, {short})", "n/a" if ref_rho != ref_rho else f"{ref_rho:.3f}",
                help=f"Over the {ref_n} order-2 pairs" + (f"; p = {ref_p:.2g}." if ref_rho == ref_rho else "."))
    r[1].metric(f"Kept pairs in {short}'s top k", f"{overlap['hits']} / {overlap['k']}" if overlap["k"] else "none kept",
                help="k = the number of pairs AIM kept; the detector's k strongest pairs: "
                     + (", ".join(overlap["top"]) or "none"))
    if planted:
        hits, k = analysis.planted_recovery(ref_points, "ref_score")
        r[2].metric(f"Planted pairs in {short}'s top {k}", f"{hits} / {k}", help=glossary.tip("planted"))
    ui.chart(analysis.reference_scatter(ref_points, short, title=f"|α| vs {method}, one point per pair"),
             analysis.reference_table(ref_points), f"{run.id}_alpha_vs_reference", "reference")
    st.caption(analysis.reference_caption(run.meta) + " " + analysis.reference_summary(ref_points, short))

st.subheader("Field × field |α| (order 2)")
names = analysis.field_names_of(inter, run.fields)
values, hover = analysis.alpha_matrix(inter, names, functions)
ui.chart(analysis.field_heatmap(values, hover, title="max |α| over the chosen functions; hover for kept functions"),
         values.reset_index(names="field"), f"{run.id}_alpha_map", "alpha_map")

st.subheader("α during the search")
if run.snapshots is None or run.snapshots.empty:
    st.info("This run has no α snapshots.")
    st.stop()
stages = analysis.snapshot_stages(run.snapshots)
stage = st.radio("Search stage", stages, horizontal=True, help=glossary.tip("stages")) if len(stages) > 1 \
    else stages[0]
frame = analysis.snapshot_frame(run.snapshots, inter, stage)
ui.chart(analysis.alpha_trajectories(frame), frame, f"{run.id}_alpha_trajectories", "trajectories")
st.caption("Replay: press ▶ or drag the slider to watch GRDA drive gates to exactly zero.")
ui.chart(analysis.sparsification_replay(frame), analysis.gates_over_time(frame), f"{run.id}_gates", "replay")
