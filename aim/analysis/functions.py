"""Interaction functions (paper Fig. 8): how often each function is kept, by order, and the number of kept
functions of an interaction vs its statistics AUC."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import plotly.graph_objects as go

from aim.analysis.common import DROPPED_COLOR, KEPT_COLOR, empty_figure, new_figure
from aim.analysis.interactions import prepared
from aim.config import FUNCTIONS


def function_frequency(inter: pd.DataFrame) -> pd.DataFrame:
    """Fig. 8 left: per order and function, how many kept interactions use the function and what fraction of the
    kept interactions of that order that is (a kept interaction can use several functions, so fractions can sum
    to more than 1). Columns: order, function, interactions (using it), kept_interactions, fraction."""
    df = prepared(inter)
    rows = []
    for order, group in df.groupby("order"):
        n_kept = group.loc[group["kept"] == 1, "fields"].nunique()
        for f in [f for f in FUNCTIONS if f in set(group["function"])]:
            using = group.loc[(group["function"] == f) & (group["kept"] == 1), "fields"].nunique()
            rows.append({"order": int(order), "function": f, "interactions": int(using),
                         "kept_interactions": int(n_kept), "fraction": using / n_kept if n_kept else 0.0})
    return pd.DataFrame(rows, columns=["order", "function", "interactions", "kept_interactions", "fraction"])


def function_frequency_figure(freq: pd.DataFrame, by: str = "order", colors: Mapping[str, str] | None = None,
                              title: str = "Which interaction functions the kept interactions use") -> go.Figure:
    """Grouped bars of ``fraction`` per function. ``by="order"`` (one run): one bar group per function, one bar
    per order. ``by="run"`` (several runs): the x axis is (order, function), so each order has its own groups and
    no two bars of a run share a position; one bar per run, coloured by ``colors``. A bar is the share of the kept
    interactions of its order that use the function (at most 100 %); its label ``u/k`` says how many of how many."""
    if freq.empty:
        return empty_figure("no kept interactions", title=title)
    fig = new_figure(title=title, xaxis_title="interaction function" + (" by order" if by == "run" else ""),
                     yaxis_title="fraction of kept interactions", barmode="group", yaxis_tickformat=".0%",
                     yaxis_range=[0, 1.15], legend={"orientation": "h", "y": -0.22},
                     uniformtext={"minsize": 9, "mode": "hide"})  # a label wider than its bar is hidden, not overlapped
    for value, sub in freq.groupby(by, sort=False):
        name = f"order {value}" if by == "order" else str(value)
        x = sub["function"] if by == "order" else [[f"order {o}" for o in sub["order"]], list(sub["function"])]
        fig.add_bar(x=x, y=sub["fraction"], name=name, textposition="outside",
                    text=[f"{u}/{k}" for u, k in zip(sub["interactions"], sub["kept_interactions"], strict=True)],
                    marker_color=(colors or {}).get(str(value)), customdata=sub[["interactions", "kept_interactions"]],
                    hovertemplate="%{x}: %{y:.0%} (%{customdata[0]} of %{customdata[1]} kept)<extra>" + name
                    + "</extra>")
    return fig


def function_frequency_by_run(inters: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """``function_frequency`` of each run, stacked, with a ``run`` column."""
    frames = [function_frequency(df).assign(run=rid) for rid, df in inters.items()]
    if not frames:
        return pd.DataFrame(columns=["order", "function", "interactions", "kept_interactions", "fraction", "run"])
    return pd.concat(frames, ignore_index=True)


def functions_per_interaction(inter: pd.DataFrame) -> pd.DataFrame:
    """Fig. 8 right: per interaction, the number of kept functions and its statistics AUC."""
    df = prepared(inter)
    g = df.groupby(["fields", "field_names", "order"], sort=False)
    out = pd.DataFrame({"n_functions": g["kept"].sum().astype(int), "stats_auc": g["stats_auc"].first(),
                        "planted": g["planted"].first()}).reset_index()
    return out


def functions_vs_auc_figure(per: pd.DataFrame, title: str = "Number of selected functions vs statistics AUC",
                            ) -> go.Figure:
    """Box plot of statistics AUC per number of kept functions, with every interaction as a point."""
    if per.empty:
        return empty_figure("no interactions", title=title)
    fig = new_figure(title=title, xaxis_title="number of selected interaction functions", yaxis_title="statistics AUC",
               showlegend=False, xaxis={"type": "category", "categoryorder": "category ascending"})
    for n, sub in per.groupby("n_functions"):
        fig.add_box(x=[str(n)] * len(sub), y=sub["stats_auc"], name=str(n), boxpoints="all", jitter=0.4,
                    pointpos=0, marker={"color": KEPT_COLOR if n else DROPPED_COLOR, "size": 6},
                    line={"color": "#555"}, fillcolor="rgba(0,0,0,0)", text=sub["field_names"],
                    hovertemplate="%{text}<br>statistics AUC %{y:.4f}<extra></extra>")
    return fig
