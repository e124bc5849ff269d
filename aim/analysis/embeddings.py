"""Embedding dimensions of one run (paper Table 6): size kept per field vs vocabulary, kept positions, parameters
before / after EDS."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from aim.analysis.common import KEPT_COLOR, empty_figure, new_figure


def positions_matrix(fields: pd.DataFrame, dim: int) -> pd.DataFrame:
    """Field × dimension 0/1 matrix of the kept embedding positions (``fields.csv`` ``positions``)."""
    names = list(fields["name"].astype(str))
    m = np.zeros((len(names), dim), dtype=int)
    for row, pos in enumerate(fields["positions"].fillna("").astype(str)):
        for p in pos.split():
            if 0 <= int(p) < dim:
                m[row, int(p)] = 1
    return pd.DataFrame(m, index=names, columns=list(range(dim)))


def embed_dim_of(meta: Mapping, fields: pd.DataFrame | None = None) -> int:
    dim = ((meta.get("config") or {}).get("model") or {}).get("embed_dim")
    if dim:
        return int(dim)
    return int(fields["dims_kept"].max()) if fields is not None and not fields.empty else 0


def embedding_scatter(fields: pd.DataFrame, dim: int, title: str = "Retained embedding size vs vocabulary size",
                      ) -> go.Figure:
    """Table 6 as a picture: x = vocabulary size (log, ticks at powers of ten), y = dimensions kept, one point per
    field, labelled by an annotation whose height ``_label_offsets`` picks so that the labels of nearby points
    (typically several small fields at 0 dimensions) stack instead of overlapping."""
    if fields.empty:
        return empty_figure("no fields", title=title)
    fig = new_figure(title=title, yaxis_title=f"dimensions kept (of d = {dim})", yaxis_range=[-0.8, dim + 1.5],
                     showlegend=False, xaxis={"type": "log", "dtick": 1, "title": "vocabulary size (log scale)"})
    fig.add_scatter(x=fields["vocab_size"], y=fields["dims_kept"], mode="markers", text=fields["name"],
                    marker={"size": 10, "color": KEPT_COLOR},
                    hovertemplate="%{text}<br>vocabulary %{x:,}<br>dimensions kept %{y}<extra></extra>")
    for name, x, y, ay in zip(fields["name"], fields["vocab_size"], fields["dims_kept"],
                              _label_offsets(fields["vocab_size"], fields["dims_kept"], dim), strict=True):
        # a log axis places annotations in log10 units
        fig.add_annotation(x=math.log10(max(float(x), 1.0)), y=y, text=str(name), ax=0, ay=ay, showarrow=True,
                           arrowhead=0, arrowwidth=1, arrowcolor="#bbb", font={"size": 11})
    fig.add_hline(y=dim, line_dash="dot", line_color="#888")
    return fig


NEAR_DECADES = 0.35  # two labels closer than this on the log axis (at the same height) would overlap
LABEL_STEP = 17  # pixels between stacked labels


def _label_offsets(x: pd.Series, y: pd.Series, dim: int) -> list[int]:
    """Vertical pixel offset of each field's label from its point (negative = above): points at the same y whose
    vocabularies are within ``NEAR_DECADES`` of the previous one form a cluster, and the k-th label of a cluster
    sits k steps further out. Labels go up, except at the top line (``dim``), where they go down."""
    out = [0] * len(x)
    order = sorted(range(len(x)), key=lambda i: (y.iloc[i], x.iloc[i]))
    k = 0
    for n, i in enumerate(order):
        prev = order[n - 1] if n else None
        close = prev is not None and y.iloc[i] == y.iloc[prev] and abs(
            math.log10(max(x.iloc[i], 1)) - math.log10(max(x.iloc[prev], 1))) < NEAR_DECADES
        k = k + 1 if close else 0
        distance = 16 + LABEL_STEP * k
        out[i] = distance if y.iloc[i] >= dim else -distance
    return out


def positions_heatmap(matrix: pd.DataFrame, title: str = "Kept embedding positions") -> go.Figure:
    if matrix.empty:
        return empty_figure("no fields", title=title)
    fig = new_figure(title=title, xaxis_title="embedding dimension", height=max(360, 26 * len(matrix) + 140),
               yaxis={"autorange": "reversed"})
    fig.add_heatmap(z=matrix.to_numpy(), x=[str(c) for c in matrix.columns], y=list(matrix.index), zmin=0, zmax=1,
                    colorscale=[[0, "#f0f0f0"], [1, KEPT_COLOR]], showscale=False, xgap=1, ygap=1,
                    hovertemplate="%{y} dim %{x}: %{z}<extra>1 = kept</extra>")
    return fig


def params_summary(meta: Mapping) -> dict:
    """Parameters before and after EDS, the reduction factor and the embedding share (None where unknown)."""
    p = meta.get("params") or {}
    before, after = p.get("before_eds"), p.get("after_eds")
    return {"before_eds": before, "after_eds": after, "embedding": p.get("embedding"),
            "saved": before - after if before is not None and after is not None else None,
            "factor": before / after if before and after else None}


def unread_fields(inter: pd.DataFrame | None, fields: pd.DataFrame) -> list[str]:
    """The fields that no kept interaction-IF column reads (``interactions.csv`` rows with ``kept`` 1, ``fields``
    as space-separated indices). EDS says nothing about them: their β get no gradient from a kept column, so with
    the default ``search.eds_unused`` (auto) they keep every dimension for the re-train's MLP."""
    if inter is None or inter.empty or "kept" not in inter:
        return []
    read = {int(i) for f in inter.loc[inter["kept"] == 1, "fields"].astype(str) for i in f.split()}
    return [str(name) for i, name in zip(fields["field"], fields["name"]) if int(i) not in read]
