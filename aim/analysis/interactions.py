"""Interactions of one run: α vs statistics AUC (paper Fig. 7), the field × field |α| map, α during the search
and the replay of GRDA driving gates to zero."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from aim.analysis.common import DROPPED_COLOR, FUNCTION_COLORS, KEPT_COLOR, PLANTED_COLOR, empty_figure, new_figure
from aim.analysis.rank import spearman_rho_p
from aim.config import FUNCTIONS
from aim.selection import SEPARATOR, to_spec


def prepared(inter: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``interactions.csv`` with numeric ``alpha`` / ``planted``, ``abs_alpha`` added and ``fields`` as text."""
    df = inter.copy()
    df["alpha"] = pd.to_numeric(df["alpha"], errors="coerce")
    df["abs_alpha"] = df["alpha"].abs()
    df["planted"] = pd.to_numeric(df["planted"], errors="coerce")
    df["fields"] = df["fields"].astype(str)
    return df


def has_alpha(inter: pd.DataFrame) -> bool:
    """False for a baseline run, whose interactions have no gate (α is empty)."""
    return bool(pd.to_numeric(inter["alpha"], errors="coerce").notna().any())


def has_planted(inter: pd.DataFrame) -> bool:
    return bool(pd.to_numeric(inter["planted"], errors="coerce").notna().any())


def alpha_points(inter: pd.DataFrame, per: str = "column", orders: Iterable[int] | None = None,
                 functions: Iterable[str] | None = None) -> pd.DataFrame:
    """The points of the α vs statistics AUC scatter (Fig. 7), after the order and function filters.

    ``per="column"``: one point per (interaction, function) column, ``key`` = column index.
    ``per="interaction"``: one point per interaction with the largest |α| over its (filtered) columns; ``function``
    is the function of that column, ``functions_kept`` lists the kept ones, ``kept`` = any column kept.
    """
    df = prepared(inter)
    if orders is not None:
        df = df[df["order"].isin(list(orders))]
    if functions is not None:
        df = df[df["function"].isin(list(functions))]
    cols = ["key", "fields", "field_names", "order", "function", "functions_kept", "alpha", "abs_alpha", "kept",
            "stats_auc", "planted"]
    if df.empty:
        return pd.DataFrame(columns=cols)
    kept_names = df[df["kept"] == 1].groupby("fields")["function"].agg(", ".join)
    if per == "column":
        out = df.assign(key=df["column"].astype(str), functions_kept=df["fields"].map(kept_names).fillna(""))
        return out[cols].reset_index(drop=True)
    if per != "interaction":
        raise ValueError(f"per={per!r}: choose 'column' or 'interaction'")
    top = df.sort_values(["fields", "abs_alpha", "column"], ascending=[True, False, True], na_position="last")
    top = top.drop_duplicates("fields").set_index("fields")
    top["kept"] = df.groupby("fields")["kept"].max()
    top["functions_kept"] = kept_names.reindex(top.index).fillna("")
    top = top.reset_index().sort_values("column")
    return top.assign(key=top["fields"])[cols].reset_index(drop=True)


def spearman(points: pd.DataFrame, score: str = "stats_auc") -> tuple[float, float, int]:
    """Spearman rank correlation of ``score`` (statistics AUC, or e.g. the reference detector's ``ref_score``) and
    |α| over ``points``: (rho, p-value, n); NaN when undefined."""
    df = points[[score, "abs_alpha"]].apply(pd.to_numeric, errors="coerce").dropna()
    n = len(df)
    if n < 3 or df[score].nunique() < 2 or df["abs_alpha"].nunique() < 2:
        return math.nan, math.nan, n
    rho, p = spearman_rho_p(df[score].to_numpy(float), df["abs_alpha"].to_numpy(float))
    return rho, p, n


def _hover(df: pd.DataFrame) -> list[str]:
    return [f"<b>{r.field_names}</b><br>function {r.function}<br>α {r.alpha:.4f}<br>statistics AUC {r.stats_auc:.4f}"
            f"<br>{'kept' if r.kept else 'dropped'}" + (f" ({r.functions_kept})" if r.functions_kept else "")
            + ("<br><b>planted</b>" if r.planted == 1 else "") for r in df.itertuples()]


def alpha_scatter(points: pd.DataFrame, title: str = "|α| vs statistics AUC") -> go.Figure:
    """Fig. 7 with axes as the brief asks: x = statistics AUC, y = |α|. Traces ``kept`` and ``dropped``, plus
    ``planted`` (rings over the planted points, synthetic data only); ``customdata[0]`` is the point's ``key``."""
    if points.empty:
        return empty_figure("no interactions match the filters", title=title)
    fig = new_figure(title=title, xaxis_title="statistics AUC", yaxis_title="gate |α|",
                     legend={"orientation": "h", "y": -0.18}, dragmode="lasso")
    for name, mask, colour in (("kept", points["kept"] == 1, KEPT_COLOR), ("dropped", points["kept"] != 1,
                                                                            DROPPED_COLOR)):
        sub = points[mask]
        fig.add_scatter(x=sub["stats_auc"], y=sub["abs_alpha"], mode="markers", name=f"{name} ({len(sub)})",
                        marker={"color": colour, "size": 9, "opacity": 0.85, "line": {"width": 0.5, "color": "white"}},
                        customdata=sub[["key"]].to_numpy(), hovertext=_hover(sub), hoverinfo="text")
    planted = points[points["planted"] == 1]
    if not planted.empty:
        fig.add_scatter(x=planted["stats_auc"], y=planted["abs_alpha"], mode="markers",
                        name=f"planted ({len(planted)})",
                        marker={"symbol": "circle-open", "size": 17, "color": PLANTED_COLOR, "line": {"width": 2.5}},
                        customdata=planted[["key"]].to_numpy(), hovertext=_hover(planted), hoverinfo="text")
    return fig


def selection_spec(points: pd.DataFrame) -> str:
    """The ``--columns`` spec (``python -m aim run --variant retrain``) of scatter points: each point's fields with
    its function (one point per interaction: the function of its largest |α|), duplicates dropped."""
    items = dict.fromkeys((tuple(SEPARATOR.split(str(r.field_names).strip())), str(r.function))
                          for r in points.itertuples())
    return to_spec(list(items))


def selected_keys(points: Iterable[Mapping]) -> list[str]:
    """The ``key``s of the points of a Streamlit plotly selection event (``customdata[0]``), in order, unique."""
    keys: list[str] = []
    for p in points:
        data = p.get("customdata")
        key = data[0] if isinstance(data, list | tuple) and data else data
        if key is not None and str(key) not in keys:
            keys.append(str(key))
    return keys


def field_names_of(inter: pd.DataFrame, fields: pd.DataFrame | None = None) -> list[str]:
    """Field names in field order, from ``fields.csv`` or (failing that) the order-2 rows of ``interactions.csv``."""
    if fields is not None and not fields.empty:
        return list(fields.sort_values("field")["name"].astype(str))
    names: dict[int, str] = {}
    for f, n in zip(inter["fields"].astype(str), inter["field_names"].astype(str), strict=True):
        for i, name in zip(f.split(), n.split(" × "), strict=True):
            names[int(i)] = name
    return [names.get(i, str(i)) for i in range(max(names) + 1)] if names else []


def alpha_matrix(inter: pd.DataFrame, names: list[str], functions: Iterable[str] | None = None,
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Order-2 |α| as a symmetric field × field matrix (max |α| over the chosen functions; NaN on the diagonal and
    where no column exists), and a same-shaped matrix of hover texts naming the kept functions with their α."""
    df = prepared(inter)
    df = df[df["order"] == 2]
    if functions is not None:
        df = df[df["function"].isin(list(functions))]
    idx = [int(v) for f in df["fields"] for v in f.split()]
    names = list(names) + [str(i) for i in range(len(names), max(idx, default=-1) + 1)]
    n = len(names)
    values = np.full((n, n), np.nan)
    text = np.full((n, n), "", dtype=object)
    if not df.empty:
        kept = df[df["kept"] == 1]
        labels = [f"{f} (α {a:.3f})" for f, a in zip(kept["function"], kept["alpha"], strict=True)]
        chosen = pd.Series(labels, index=kept.index, dtype=object).groupby(kept["fields"])
        g = pd.DataFrame({"best": df.groupby("fields")["abs_alpha"].max()})
        g["chosen"] = chosen.agg(", ".join).reindex(g.index).fillna("none")
        ij = np.array([[int(v) for v in f.split()] for f in g.index])
        i, j = ij[:, 0], ij[:, 1]
        hover = [f"<b>{names[a]} × {names[b]}</b><br>max |α| {v:.4f}<br>kept functions: {c}"
                 for a, b, v, c in zip(i, j, g["best"], g["chosen"], strict=True)]
        values[i, j] = values[j, i] = g["best"].to_numpy()
        text[i, j] = text[j, i] = hover
    return pd.DataFrame(values, index=names, columns=names), pd.DataFrame(text, index=names, columns=names)


def field_heatmap(values: pd.DataFrame, hover: pd.DataFrame | None = None, title: str = "field × field |α|",
                  diverging: bool = False) -> go.Figure:
    """A field × field heatmap; ``diverging`` centres a red-blue scale on 0 (for Δ|α|)."""
    if values.empty or values.isna().all().all():
        return empty_figure("no order-2 α to show", title=title)
    size = max(520, 40 * len(values) + 160)
    fig = new_figure(title=title, height=size, yaxis={"autorange": "reversed", "scaleanchor": "x"})
    kwargs: dict[str, Any] = {"colorscale": "RdBu_r", "zmid": 0} if diverging else {"colorscale": "Blues", "zmin": 0}
    fig.add_heatmap(z=values.to_numpy(), x=list(values.columns), y=list(values.index), hoverongaps=False,
                    text=None if hover is None else hover.to_numpy(), hoverinfo="text" if hover is not None else None,
                    colorbar={"title": "Δ|α|" if diverging else "|α|"}, **kwargs)
    return fig


def snapshot_stages(snapshots: pd.DataFrame) -> list[str]:
    """The search stages with α snapshots, in the order they ran (one per interaction order searched)."""
    return list(dict.fromkeys(snapshots["stage"].astype(str)))


def snapshot_frame(snapshots: pd.DataFrame, inter: pd.DataFrame, stage: str | None = None) -> pd.DataFrame:
    """α snapshots of one search stage (default: the first) joined with each column's name, function and final kept
    flag; ``t`` numbers the stage's snapshots 0, 1, ... in order."""
    stages = snapshot_stages(snapshots)
    snap = snapshots[snapshots["stage"].astype(str) == (stage or (stages[0] if stages else ""))]
    snap = snap.sort_values(["epoch", "step", "column"], kind="stable")
    order = snap[["epoch", "step"]].drop_duplicates().reset_index(drop=True)
    order["t"] = np.arange(len(order))
    meta = inter[["column", "field_names", "function", "kept"]]
    return snap.merge(order, on=["epoch", "step"]).merge(meta, on="column", how="left")


def gates_over_time(frame: pd.DataFrame) -> pd.DataFrame:
    """Number of non-zero α at each snapshot: columns t, epoch, step, nonzero, total."""
    g = frame.groupby(["t", "epoch", "step"])["alpha"]
    return pd.DataFrame({"nonzero": g.apply(lambda a: int((a != 0).sum())), "total": g.size()}).reset_index()


def alpha_trajectories(frame: pd.DataFrame, title: str = "α during the search") -> go.Figure:
    """A line per column over the snapshots: kept columns coloured by function, with their name on hover; dropped
    ones thin and grey, without hover (hundreds of them: per-point hover text was most of the chart's bytes and of
    the browser's work; the replay below names every column). Lines of a group share one trace (separated by
    gaps), so thousands of columns stay fast; coordinates are float32."""
    if frame.empty:
        return empty_figure("this run has no α snapshots", title=title)
    fig = new_figure(title=title, xaxis_title="training step", yaxis_title="α", legend={"orientation": "h", "y": -0.18})
    groups = [("dropped", frame[frame["kept"] != 1], DROPPED_COLOR, 1)]
    groups += [(f"kept · {f}", frame[(frame["kept"] == 1) & (frame["function"] == f)], FUNCTION_COLORS.get(f), 2)
               for f in FUNCTIONS]
    steps = frame.drop_duplicates("t").set_index("t")["step"].sort_index()
    x_row = np.append(steps.to_numpy(dtype=np.float32), np.nan)
    for name, sub, colour, width in groups:
        if sub.empty:
            continue
        wide = sub.pivot_table(index="column", columns="t", values="alpha").reindex(columns=steps.index)
        y = np.hstack([wide.to_numpy(dtype=np.float32), np.full((len(wide), 1), np.nan, dtype=np.float32)]).ravel()
        x = np.tile(x_row, len(wide))
        line = {"color": colour, "width": width}
        if name == "dropped":
            fig.add_scatter(x=x, y=y, mode="lines", name=name, line=line, opacity=0.5, hoverinfo="skip",
                            connectgaps=False)
            continue
        labels = sub.drop_duplicates("column").set_index("column").loc[wide.index]
        text = np.repeat((labels["field_names"] + " · " + labels["function"]).to_numpy(dtype=object), len(x_row))
        fig.add_scatter(x=x, y=y, mode="lines", name=name, line=line, opacity=0.9, text=text, connectgaps=False,
                        hovertemplate="%{text}<br>step %{x}<br>α %{y:.4f}<extra></extra>")
    return fig


def sparsification_replay(frame: pd.DataFrame, max_frames: int = 40) -> go.Figure:
    """|α| of every column as bars, one animation frame per snapshot (a slider replays GRDA driving gates to
    exact zero); the frame title counts the non-zero gates. At most ``max_frames`` evenly spaced snapshots."""
    if frame.empty:
        return empty_figure("this run has no α snapshots", title="replay")
    ts = sorted(frame["t"].unique())
    if len(ts) > max_frames:
        ts = [ts[int(round(i))] for i in np.linspace(0, len(ts) - 1, max_frames)]
    counts = gates_over_time(frame).set_index("t")
    ymax = float(frame["alpha"].abs().max()) * 1.05 or 1.0

    wide = frame.pivot_table(index="column", columns="t", values="alpha").abs()
    labels = frame.drop_duplicates("column").set_index("column").loc[wide.index]
    colours = np.where(labels["kept"] == 1, labels["function"].map(FUNCTION_COLORS).fillna(KEPT_COLOR), DROPPED_COLOR)

    def label(t: int) -> str:
        c = counts.loc[t]
        return f"step {int(c['step'])}: {int(c['nonzero'])}/{int(c['total'])} non-zero gates"

    fig = new_figure(title=label(ts[0]), xaxis_title="column (coloured: kept at the end, by function)",
                     yaxis_title="gate |α|", yaxis_range=[0, ymax], showlegend=False, bargap=0.05)
    fig.add_bar(x=wide.index.to_numpy(), y=wide[ts[0]].to_numpy(), marker={"color": colours},
                hovertext=(labels["field_names"] + " · " + labels["function"]).to_numpy(dtype=object),
                hovertemplate="%{hovertext}<br>|α| %{y:.4f}<extra></extra>")
    fig.frames = [go.Frame(data=[go.Bar(y=wide[t].to_numpy())], name=str(t), layout={"title": {"text": label(t)}})
                  for t in ts]
    steps = [{"args": [[str(t)], {"frame": {"duration": 0, "redraw": True}, "mode": "immediate"}],
              "label": str(int(counts.loc[t, "step"])), "method": "animate"} for t in ts]
    play = {"args": [None, {"frame": {"duration": 300, "redraw": True}, "fromcurrent": True}], "label": "▶ play",
            "method": "animate"}
    fig.update_layout(height=500, sliders=[{"steps": steps, "currentvalue": {"prefix": "step "}, "pad": {"t": 50}}],
                      updatemenus=[{"type": "buttons", "buttons": [play], "x": 1, "y": 1.12, "xanchor": "right",
                                    "yanchor": "bottom"}])
    return fig
