"""Interaction functions: which functions the kept interactions use (Fig. 8 left) and how many functions an
interaction keeps vs its statistics AUC (Fig. 8 right)."""

import streamlit as st

from aim import analysis, variants
from app import ui

st.title("Interaction functions")
run, inter = ui.run_with_table("interactions", "interaction table yet")
if not analysis.has_alpha(inter):
    st.info(f"`{run.meta.get('variant')}` is a baseline: "
            + ("it has no interaction function (the table lists every pair only for its statistics AUC)."
               if run.meta.get("variant") in variants.names(family="classic") else
               "every pair uses the inner product, nothing was selected."))

freq = analysis.function_frequency(inter)
st.caption("A kept interaction can keep several functions, so the bars of one order can add up to more than 100%.")
ui.chart(analysis.function_frequency_figure(freq, title="Selection frequency of each function by order (Fig. 8 left)"),
         freq, f"{run.id}_function_frequency", "freq")

per = analysis.functions_per_interaction(inter)
ui.chart(analysis.functions_vs_auc_figure(per, title="Number of selected functions vs statistics AUC (Fig. 8 right)"),
         per, f"{run.id}_functions_per_interaction", "nfun")
