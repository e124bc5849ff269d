"""Sparsity: how strongly each search stage pruned and why. Every candidate strength tried (GRDA crossing fraction,
embedding L2) with its validation AUC and size, the one the parsimony rule kept, per stage."""

import streamlit as st

from aim import analysis, runs
from app import glossary, ui

COLUMNS = {
    "stage": st.column_config.TextColumn("stage", help=glossary.tip("stages")),
    "cross": st.column_config.NumberColumn("crossing fraction", format="%g", help=glossary.tip("crossing_fraction")),
    "c": st.column_config.NumberColumn("GRDA c", format="%.4g", help=glossary.tip("grda_c")),
    "crossing_step": st.column_config.NumberColumn("crossing step", format="%d",
                                                   help="The step at which GRDA's threshold reaches the gates' "
                                                        "initial value.\n\n" + glossary.tip("crossing_fraction")),
    "steps": st.column_config.NumberColumn("steps", format="%d", help="Steps of the stage."),
    "embed_l2": st.column_config.NumberColumn("embedding L2", format="%g", help=glossary.tip("embed_l2")),
    "start": st.column_config.TextColumn("start", help=glossary.tip("retrain_start")),
    "columns_kept": st.column_config.NumberColumn("columns kept", format="%d", help=glossary.tip("interaction_if")),
    "interactions_kept": st.column_config.NumberColumn("interactions kept", format="%d",
                                                       help=glossary.tip("interaction")),
    "dims_kept": st.column_config.NumberColumn("dimensions kept", format="%d", help=glossary.tip("beta")),
    "size": st.column_config.NumberColumn("size", format="localized",
                                          help="What the parsimony rule minimises: columns kept (search stages), "
                                               "embedding parameters (embed), parameters (final model)."),
    "valid_auc": st.column_config.NumberColumn("valid AUC", format="%.4f", help=glossary.tip("auc")),
    "valid_logloss": st.column_config.NumberColumn("valid log loss", format="%.4f", help=glossary.tip("logloss")),
    "seconds": st.column_config.NumberColumn("seconds", format="%.1f"),
    "chosen": st.column_config.CheckboxColumn("chosen", help=glossary.tip("parsimony")),
}

# The table's display order is this page's own choice, on purpose not the file's: what a reader compares first
# (the strength tried, its size, its AUC and whether it was chosen), then the rest in the order of sparsity.csv.
FIRST = ["stage", "candidate", "cross", "embed_l2", "start", "size", "valid_auc", "chosen", "valid_logloss",
         "columns_kept", "interactions_kept", "dims_kept"]
ORDER = FIRST + [c for c in runs.columns("sparsity") if c not in FIRST]

st.title("Sparsity")
run = ui.one_run()
table = run.table("sparsity")
if table is None or table.empty:
    st.info(analysis.no_table_note(run.meta), icon=":material/info:")
    st.stop()

k = analysis.sparsity_se(run.meta)
st.markdown(
    "Each search stage trains once per candidate strength, from the same start. A strength is a **crossing "
    "fraction**: the share of the stage's steps after which GRDA's threshold reaches the gates' initial value, so "
    "a gate without a steady gradient dies about then (**smaller = sparser**). The **parsimony rule** keeps the "
    f"sparsest candidate whose validation AUC is within {k:g} standard error of the best; the embedding L2 of the "
    "final model takes the best validation AUC.",
    help=glossary.tip("crossing_fraction", "parsimony", "frontier"))
if analysis.single_candidate(table):
    st.info("This run chose no strength: one candidate per stage (strengths given in its config).",
            icon=":material/info:")

summary = analysis.chosen_summary(table)
cols = st.columns(max(len(summary), 1))
for col, row in zip(cols, summary.to_dict("records"), strict=True):
    col.metric(row["title"], row["chosen"], help=f"Kept of {row['candidates']} candidate(s).\n\n"
               + glossary.tip("embed_l2" if analysis.stage_kind(row["stage"]) == "final" else "crossing_fraction"))

for stage in summary["stage"]:
    tol = analysis.tolerance(run.meta, stage, table.loc[table["stage"].astype(str) == stage, "valid_auc"])
    frame = analysis.stage_frontier(table, stage, tol)
    st.subheader(analysis.STAGE_TITLES.get(stage, stage))
    st.markdown(analysis.choice_text(frame, stage, tol, k))
    ui.chart(analysis.frontier_figure(frame, stage, tol, k), frame, f"{run.id}_sparsity_{stage}", f"frontier_{stage}")

st.subheader("Every candidate")
shown = analysis.prepared_table(table)
st.dataframe(shown, hide_index=True, column_config=COLUMNS,
             column_order=[c for c in ORDER if c in shown] + [c for c in shown if c not in ORDER])
ui.downloads(shown, f"{run.id}_sparsity", "sparsity_table")
