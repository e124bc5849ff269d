"""Embedding dimensions of one run (paper Table 6): size kept per field vs vocabulary, kept positions, parameters
before / after EDS."""

from __future__ import annotations

import math
from collections.abc import Mapping
from itertools import pairwise

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
    """Table 6 as a picture: x = vocabulary size (log), y = dimensions kept, one labelled point per field."""
    if fields.empty:
        return empty_figure("no fields", title=title)
    fig = new_figure(title=title, xaxis_title="vocabulary size (log scale)", yaxis_title=f"dimensions kept (of d = {dim})",
               xaxis_type="log", yaxis_range=[-0.8, dim + 1.5], showlegend=False)
    fig.add_scatter(x=fields["vocab_size"], y=fields["dims_kept"], mode="markers+text", text=fields["name"],
                    textposition=_label_positions(fields["vocab_size"], fields["dims_kept"]),
                    marker={"size": 10, "color": KEPT_COLOR},
                    hovertemplate="%{text}<br>vocabulary %{x:,}<br>dimensions kept %{y}<extra></extra>")
    fig.add_hline(y=dim, line_dash="dot", line_color="#888")
    return fig


def _label_positions(x: pd.Series, y: pd.Series) -> list[str]:
    """Text positions that send the labels of points close on a log-x axis (same y) different ways."""
    places = ("top center", "bottom center", "middle right", "middle left", "top right", "bottom left")
    out = ["top center"] * len(x)
    order = sorted(range(len(x)), key=lambda i: (y.iloc[i], x.iloc[i]))
    k = 0
    for prev, i in pairwise(order):
        gap = abs(math.log10(max(x.iloc[i], 1)) - math.log10(max(x.iloc[prev], 1)))
        close = y.iloc[i] == y.iloc[prev] and gap < 0.15
        k = k + 1 if close else 0
        out[i] = places[k % len(places)]
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
