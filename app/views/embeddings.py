"""Embedding dimensions: the size EDS kept per field vs its vocabulary (paper Table 6), which positions were kept,
and the parameters saved."""

import streamlit as st

from aim import analysis, variants
from app import glossary, plain, ui

st.title("Embedding dimensions")
run, fields = ui.run_with_table("fields", "field table yet")
variant = variants.REGISTRY.get(run.meta.get("variant"))
if variant is not None and variant.no_embeddings:
    st.info(f"`{variant.name}` has no embeddings: {variant.no_embeddings}")
elif "embed" not in run.meta.get("stages", {}):
    st.info(f"`{run.meta.get('variant')}` does not search embedding dimensions (only `aim` runs EDS): "
            "every field keeps the full size.")

dim = analysis.embed_dim_of(run.meta, fields)
params = analysis.params_summary(run.meta)
m = st.columns(4)
m[0].metric("Dimensions kept", f"{int(fields['dims_kept'].sum())} / {dim * len(fields)}",
            help="Embedding dimensions kept over all fields, of fields × d.\n\n" + glossary.tip("beta"))
if params["after_eds"] is not None:
    m[1].metric("Parameters before EDS", f"{params['before_eds']:,}", help=glossary.tip("eds"))
    saved = params["saved"]
    m[2].metric("Parameters after EDS", f"{params['after_eds']:,}", delta=f"{-saved:,}" if saved else None,
                delta_color="inverse", help=glossary.tip("params", "eds"))
    m[3].metric("Reduction", f"×{params['factor']:.2f}", help="parameters before EDS / after EDS")
plain.size_caption(run)  # the final size against DeepFM's beside EDS's cut (app/plain.py)

unread = analysis.unread_fields(run.interactions, fields) if "embed" in run.meta.get("stages", {}) else []
if unread:
    search = (run.meta.get("config") or {}).get("search") or {}
    pruned = search.get("embed_mlp") or search.get("eds_unused") == "drop"
    st.caption(f"No kept interaction reads {', '.join(f'**{n}**' for n in unread)}. EDS learns a field's "
               "dimensions from the gradient its kept interactions send through β, so it cannot judge these: "
               + ("they were pruned by their own β (`--embed-mlp` or `--eds-unused drop`)." if pruned else
                  "they keep all their dimensions for the re-train's MLP (`--eds-unused auto`); `--embed-mlp` "
                  "lets the MLP's gradient prune them too."))

table = fields[["name", "vocab_size", "dims_kept"]]
ui.chart(analysis.embedding_scatter(fields, dim, title="Retained embedding size vs vocabulary size (Table 6)"),
         table, f"{run.id}_embedding_sizes", "sizes")
matrix = analysis.positions_matrix(fields, dim)
ui.chart(analysis.positions_heatmap(matrix, title="Kept embedding positions per field"),
         matrix.reset_index(names="field"), f"{run.id}_kept_positions", "positions")
