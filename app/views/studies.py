"""Studies: several seeds of several variants on one dataset (made by ``python -m aim study``)."""

import streamlit as st

from app import catalog, ui

st.title("Studies")
studies = ui.loaded().scan.studies
if not studies:
    st.info("No studies yet. A study runs several seeds of several variants on one dataset and reports mean ± std "
            "with t-tests, as in the paper's tables. Studies found in `cached_runs/` or your runs folder will be "
            "listed here.")
    st.stop()
st.caption("Study folders found (their tables will be shown here):")
st.dataframe([{**catalog.study_summary(s.path), "source": s.source} for s in studies], hide_index=True)
