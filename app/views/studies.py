"""Studies (``python -m aim study``): the paper's ablation and complexity tables over seeds, with t-tests against the
best baseline, bar charts with ± std error bars, the FI ratio per order, transfer rows, CSV / LaTeX downloads."""

import plotly.graph_objects as go
import streamlit as st

from aim import analysis
from aim import study as aim_study
from aim.analysis import summary as plain
from aim.analysis import wording as plain_words
from aim.study.stats import rule_text
from app import glossary, ui
from app.plain import summary_box


def baseline_in_legend(fig: go.Figure) -> go.Figure:
    """Move the "best baseline (x)" label of the dotted line from the plot area (where it sat on the bars) into
    the legend, as a legend entry drawn like the line."""
    labels = [a for a in fig.layout.annotations if str(a.text or "").startswith("best baseline")]
    if labels:
        fig.layout.annotations = [a for a in fig.layout.annotations if a not in labels]
        fig.add_scatter(x=[None], y=[None], mode="lines", name=labels[0].text, hoverinfo="skip",
                        line={"dash": "dot", "color": "#555"})
    return fig


st.title("Studies")
data = ui.loaded()
for bad in data.bad_studies:
    st.warning(f"Study folder `{bad.id}` cannot be read: {bad.reason.replace(f'{bad.path}/', '')}")
study = ui.pick_study(data)
if study is None:
    st.info("No studies yet. A study runs several seeds of several variants on one dataset and reports mean ± std "
            "with t-tests, as in the paper's tables: `python -m aim study --seeds 3` writes one under `studies/`, "
            "which is read from there, from `cached_runs/` and from your runs folder.")
    st.stop()
metas = ui.study_metas(study)
values = analysis.seed_values(metas)
counts = analysis.run_counts(values)
# A complete study's summary.csv is what summarise() gave over all its runs: read it (the t-tests' scipy costs
# about 1 s of a fresh server's first Studies page); recompute only while runs may still change, or when only
# study.json and summary.csv were copied here.
saved = not counts["complete"] and study.summary is not None  # only study.json and summary.csv were copied here
use_saved = study.summary is not None and (study.status == "complete" or saved)
summary = study.summary if use_saved else analysis.live_summary(metas, study.reference)
if study.status != "complete":
    st.info(f"This study is **{study.status}**" + (f": {study.meta['error']}" if study.meta.get("error") else "")
            + ". Only its complete runs are in the table.", icon=":material/hourglass_top:")

if study.kind == "fis-vs-stats":
    summary_box(plain.rules_summary_lines(summary, study.reference, study.meta.get("top"), study.meta.get("parent")),
                rule_text(reference=f"the {study.reference.upper()} rule"))
    st.subheader("Top pairs by the gates (FIS) against top pairs by statistics AUC (paper §4.4.2)")
    m = st.columns(4)
    m[0].metric("Dataset", str(study.meta.get("dataset")))
    m[1].metric("Pairs per rule (N)", str(study.meta.get("top")))
    m[2].metric("Runs complete", f"{counts['complete']} / {counts['total']}")
    m[3].metric("Parent run", str(study.meta.get("parent", "")).rstrip("/").rsplit("/", 1)[-1][:28],
                help=str(study.meta.get("parent")))
    st.caption("Each rule's N pairs are re-trained (no search) with the parent's settings and full embedding sizes; "
               "every pair gets the function the gates kept for it in the parent, else the parent's most frequent "
               f"kept function. p: {rule_text(reference='the FIS rule')}.")
    rules = analysis.rules_table(summary, study.meta.get("selections") or {}, len(study.seeds))
    st.dataframe(rules, hide_index=True, column_config={
        "p (AUC)": st.column_config.NumberColumn(format="%.2g", help=glossary.tip("p_value")),
        "p (log loss)": st.column_config.NumberColumn(format="%.2g", help=glossary.tip("p_value")),
        "pairs": st.column_config.TextColumn(width="large")})
    ui.chart(analysis.rules_figure(summary, values), values, f"{study.id}_rules", "rules")
    row = st.container(horizontal=True)
    for label, fmt, ext in (("CSV", "csv", "csv"), ("LaTeX", "latex", "tex"), ("Markdown", "markdown", "md")):
        row.download_button(label, data=aim_study.format_rules(summary, study.reference, fmt),
                            file_name=f"{study.id}.{ext}", mime="text/plain", key=f"table_{fmt}",
                            icon=":material/download:", on_click="ignore")
    with st.expander(f"The runs of this study ({counts['complete']} of {counts['total']} complete)"):
        st.dataframe(values.assign(open=[f"interactions?run={r}" if r else None for r in values["run"]]),
                     hide_index=True, column_config={"open": st.column_config.LinkColumn(display_text="open")})
    st.stop()

summary_box(plain.study_summary_lines(summary, **plain.study_inputs(study, metas, summary)), rule_text())
m = st.columns(4)
source = (study.meta.get("base_config") or {}).get("data_path")
m[0].metric("Dataset", str(study.meta.get("dataset")), help=f"read from `{source}`" if source else None)
m[1].metric("Variants × seeds", f"{len(study.variants)} × {len(study.seeds)}", help=glossary.tip("variant", "seeds"))
m[2].metric("Runs complete", f"{counts['complete']} / {counts['total']}")
m[3].metric("Best baseline", aim_study.best_baseline(summary) or "none", help=glossary.tip("best_baseline"))
ui.report_button(study.path, f"report__{study.id}", key=f"report_{study.id}")
if saved:
    st.info("None of this study's runs is on this machine: the table is the one it saved (summary.csv).")
elif counts["complete"] < counts["total"]:
    others = ", ".join(f"{n} {k}" for k, n in counts.items() if k not in ("total", "complete"))
    st.warning(f"{counts['total'] - counts['complete']} of {counts['total']} runs are not in the table ({others}): "
               "each variant's mean ± std is over its complete runs only (column *runs*).")

st.subheader("Ablation")
table = analysis.ablation_table(summary, len(study.seeds))
fi_columns = [c for c in table.columns if c.startswith("FI ratio")]
COLUMNS = {
    "variant": st.column_config.TextColumn("variant", pinned=True, help=glossary.tip("variant")),
    "kind": st.column_config.TextColumn("kind", help=glossary.tip("best_baseline")),
    "runs": st.column_config.TextColumn("runs", help="complete runs of this variant / seeds of the study"),
    "AUC": st.column_config.TextColumn("AUC", help=glossary.tip("auc")),
    "log loss": st.column_config.TextColumn("log loss", help=glossary.tip("logloss")),
    **{c: st.column_config.NumberColumn(c, format="%.2g", help=glossary.tip("p_value"))
       for c in ("p (AUC)", "p (log loss)")},
    "params": st.column_config.NumberColumn("params", format="localized", help="mean trainable parameters before "
                                            "EDS"),
    "params after EDS": st.column_config.NumberColumn("params after EDS", format="localized",
                                                      help=glossary.tip("params", "eds")),
    "train s/epoch": st.column_config.NumberColumn(format="%.2f", help="seconds per re-train epoch"),
    "infer s/100k": st.column_config.NumberColumn(format="%.3f", help="seconds to score 100,000 rows"),
    "train s": st.column_config.NumberColumn(format="%.0f", help="a run's whole training time, in seconds"),
    "EDS cut": st.column_config.TextColumn("EDS cut", help=glossary.tip("eds", "no_eds")),
    "× DeepFM": st.column_config.NumberColumn("× DeepFM", format="%.2f×", help="final parameters / DeepFM's final "
                                              "parameters (the paper's AIM: 1.31×, Table 7)"),
    **{c: st.column_config.NumberColumn(c, format="percent", help=glossary.tip("fi_ratio")) for c in fi_columns}}
# two narrow tables instead of one wider than the page: the best baseline's own p is shown as "—"
ROWS_HEIGHT = 35 * (len(table) + 1) + 3  # every variant visible, no scrolling inside the table
st.dataframe(table, hide_index=True, placeholder="—", column_config=COLUMNS, height=ROWS_HEIGHT, column_order=[
    c for c in ("variant", "kind", "runs", "AUC", "p (AUC)", "log loss", "p (log loss)", *fi_columns) if c in table])
st.caption(f"mean ± sample std over the complete runs; p against the best baseline (— for the best baseline "
           f"itself). Rule (the paper's): {rule_text()}; \\* / † significantly better / worse than it, no mark: not "
           "significantly different, whatever the means. Log loss: lower is better.")
if note := plain_words.settings_note(list(table["variant"])):
    st.caption(note)
st.subheader("Complexity")
st.dataframe(table, hide_index=True, placeholder="—", column_config=COLUMNS, height=ROWS_HEIGHT, column_order=[
    c for c in ("variant", "runs", "params", "params after EDS", "EDS cut", "× DeepFM", "train s/epoch",
                "infer s/100k", "train s") if c in table])
st.caption("Parameters: means over the seeds, rounded. EDS cut: the share of the variant's own parameters EDS "
           "removed (no EDS: the variant does not search embedding dimensions); × DeepFM: its final size against "
           "DeepFM's. Timings come from study runs that shared the machine, so they are noisy: for speed, see the "
           "benchmark (bench/, docs/benchmarks.md).")
row = st.container(horizontal=True)
for label, fmt, ext in (("CSV", "csv", "csv"), ("LaTeX", "latex", "tex"), ("Markdown", "markdown", "md")):
    row.download_button(label, data=aim_study.format_table(summary, fmt), file_name=f"{study.id}.{ext}",
                        mime="text/plain", key=f"table_{fmt}", icon=":material/download:", on_click="ignore")


c1, c2 = st.columns(2)
for col, metric in ((c1, "auc"), (c2, "logloss")):
    with col:
        ui.chart(baseline_in_legend(analysis.study_metric_figure(summary, values, metric)), values,
                 f"{study.id}_{metric}", metric)
fi = summary[["variant", *(c for c in summary.columns if c.startswith(aim_study.FI_PREFIX))]]
ui.chart(analysis.fi_ratio_figure(summary), fi, f"{study.id}_fi_ratio", "fi_ratio")

transfer = analysis.transfer_table(summary, values)
if not transfer.empty:
    for c in (c for c in transfer.columns if c.startswith("Δ")):  # a difference that rounds to 0 shows +0.0000
        transfer[c] = transfer[c].mask(transfer[c].abs() < 5e-5, 0.0)
    st.subheader("Transfer of the selected interactions (paper §4.6)")
    st.dataframe(transfer, hide_index=True, column_config={
        "transfer": st.column_config.TextColumn("transfer", help=glossary.tip("transfer")),
        **{c: st.column_config.NumberColumn(
            c, format="%+.4f" if c.startswith("Δ") else "%.2g" if c.startswith("p (") else "%.4f",
            help="the transfer variant's p of the table above, against the best baseline (one p per variant)"
            if c.startswith("p (") else glossary.tip(
                "logloss" if "logloss" in c else "auc")) for c in transfer.columns[2:]}})
    ui.chart(analysis.transfer_figure(summary), transfer, f"{study.id}_transfer", "transfer")

with st.expander(f"The runs of this study ({counts['complete']} of {counts['total']} complete)"):
    st.dataframe(analysis.run_grid(values))
    st.dataframe(values.assign(open=[f"interactions?run={r}" if r else None for r in values["run"]]),
                 hide_index=True, column_config={"open": st.column_config.LinkColumn(display_text="open"),
                                                 "variant": st.column_config.TextColumn(help=glossary.tip("variant"))})
