"""Pure functions from runs to tables and Plotly figures: everything the app shows (and tests check) without a
browser. Nothing here imports Streamlit or trains anything; inputs are a run's ``meta`` dict (``run.json``) and
its tables (``interactions.csv``, ``fields.csv``, ``alpha_snapshots.csv``) as DataFrames.

Terms: a *column* is one (interaction, function) pair with its own gate α; an *interaction* is a set of fields
(``fields`` = "0 3"), kept when any of its columns is kept. Paper references: Fig. 7 (α vs statistics AUC),
Fig. 8 (function frequency; number of functions vs statistics AUC), Table 6 (embedding sizes).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from scipy import stats

from aim.config import FUNCTIONS

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#17becf", "#e377c2", "#8c564b", "#393b79",
           "#e6550d", "#31a354", "#bcbd22", "#7b4173", "#3182bd")
FUNCTION_COLORS = dict(zip(FUNCTIONS, ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"), strict=True))
KEPT_COLOR, DROPPED_COLOR, PLANTED_COLOR = "#1f77b4", "#b0b0b0", "#d62728"
BASELINES = ("fm", "deepfm", "ipnn")
_LAYOUT = {"margin": {"l": 60, "r": 20, "t": 50, "b": 50}, "height": 440}


def _fig(**layout: Any) -> go.Figure:
    return go.Figure(layout={**_LAYOUT, **layout})


def _empty(message: str, **layout: Any) -> go.Figure:
    fig = _fig(**layout)
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper", font={"size": 15})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def figure_html(fig: go.Figure) -> str:
    """A standalone HTML page of ``fig`` (plotly.js from the CDN)."""
    return fig.to_html(include_plotlyjs="cdn", full_html=True)


# ---------------------------------------------------------------------------------------------- run colours

def run_color(run_id: str) -> str:
    """The colour of a run on every page: a stable hash (md5, not Python's salted ``hash``) into ``PALETTE``."""
    return PALETTE[int(hashlib.md5(run_id.encode()).hexdigest(), 16) % len(PALETTE)]


def run_colors(run_ids: Iterable[str]) -> dict[str, str]:
    """``run_color`` of each id, except that a clash inside the set moves the later id (in sorted order) to the
    next free colour, so the 2-4 runs of a comparison never share one; the result depends only on the set."""
    taken: dict[str, str] = {}
    for rid in sorted(set(run_ids)):
        i = PALETTE.index(run_color(rid))
        ring = [PALETTE[(i + k) % len(PALETTE)] for k in range(len(PALETTE))]
        taken[rid] = next((c for c in ring if c not in taken.values()), ring[0])
    return taken


# ---------------------------------------------------------------------------------------------- the runs table

RUN_COLUMNS = ["id", "dataset", "variant", "seed", "status", "test_auc", "test_logloss", "valid_auc", "kept",
               "fi_ratio", "params", "created", "progress", "source"]


def progress_text(progress: Mapping | None) -> str:
    """``search epoch 2 · AUC 0.7012 · gates 120/180`` from a ``progress.json`` dict ('' when there is none)."""
    if not progress:
        return ""
    parts = [str(progress.get("stage", "?"))]
    if progress.get("epoch") is not None:
        parts[0] += f" epoch {progress['epoch']}"
    if isinstance(progress.get("valid_auc"), int | float):
        parts.append(f"AUC {progress['valid_auc']:.4f}")
    if progress.get("gates_left") is not None:
        parts.append(f"gates {int(progress['gates_left'])}/{int(progress.get('gates_total') or 0)}")
    return " · ".join(parts)


def run_row(meta: Mapping, progress: Mapping | None = None, source: str = "", job_ended: str | None = None) -> dict:
    """One row of the runs table from a ``run.json`` dict; missing parts (a running or failed run) are None.
    ``job_ended`` (how the app's job that writes this run ended, e.g. 'cancelled') turns a run that still says
    ``running`` into ``interrupted``: its process is gone, so it will never finish."""
    interrupted = meta.get("status") == "running" and job_ended is not None
    test = (meta.get("metrics") or {}).get("test") or {}
    valid = (meta.get("metrics") or {}).get("valid") or {}
    order2 = (meta.get("interactions") or {}).get("order2") or {}
    config = meta.get("config") or {}
    return {
        "id": meta["id"],
        "dataset": (meta.get("dataset") or {}).get("name") or config.get("dataset"),
        "variant": meta.get("variant") or config.get("variant"),
        "seed": meta.get("seed", config.get("seed")),
        "status": "interrupted" if interrupted else meta.get("status"),
        "test_auc": test.get("auc"),
        "test_logloss": test.get("logloss"),
        "valid_auc": valid.get("auc"),
        "kept": f"{order2['kept']}/{order2['total']}" if order2 else None,
        "fi_ratio": order2.get("fi_ratio"),
        "params": (meta.get("params") or {}).get("after_eds"),
        "created": pd.to_datetime(meta.get("created"), utc=True, errors="coerce"),
        "progress": f"job {job_ended}" if interrupted else progress_text(progress) if meta.get("status") == "running"
        else "",
        "source": source,
    }


def runs_table(rows: Iterable[dict]) -> pd.DataFrame:
    """The runs table, newest first."""
    df = pd.DataFrame(list(rows), columns=RUN_COLUMNS)
    for c in ("test_auc", "test_logloss", "valid_auc", "fi_ratio", "params"):
        df[c] = pd.to_numeric(df[c], errors="coerce")
    return df.sort_values("created", ascending=False, na_position="last", kind="stable").reset_index(drop=True)


def filter_runs(df: pd.DataFrame, datasets: Iterable[str] = (), variants: Iterable[str] = (),
                statuses: Iterable[str] = (), text: str = "") -> pd.DataFrame:
    """Rows matching every given filter (an empty filter matches all); ``text`` is a case-insensitive id match."""
    mask = pd.Series(True, index=df.index)
    for col, wanted in (("dataset", datasets), ("variant", variants), ("status", statuses)):
        wanted = list(wanted)
        if wanted:
            mask &= df[col].isin(wanted)
    if text.strip():
        mask &= df["id"].str.contains(text.strip(), case=False, regex=False)
    return df[mask].reset_index(drop=True)


# ---------------------------------------------------------------------------------------------- interactions

def _prepared(inter: pd.DataFrame) -> pd.DataFrame:
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
    df = _prepared(inter)
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


def spearman(points: pd.DataFrame) -> tuple[float, float, int]:
    """Spearman rank correlation of statistics AUC and |α| over ``points``: (rho, p-value, n); NaN when undefined."""
    df = points[["stats_auc", "abs_alpha"]].apply(pd.to_numeric, errors="coerce").dropna()
    n = len(df)
    if n < 3 or df["stats_auc"].nunique() < 2 or df["abs_alpha"].nunique() < 2:
        return math.nan, math.nan, n
    res = stats.spearmanr(df["stats_auc"], df["abs_alpha"])
    return float(res.statistic), float(res.pvalue), n


def _hover(df: pd.DataFrame) -> list[str]:
    return [f"<b>{r.field_names}</b><br>function {r.function}<br>α {r.alpha:.4f}<br>statistics AUC {r.stats_auc:.4f}"
            f"<br>{'kept' if r.kept else 'dropped'}" + (f" ({r.functions_kept})" if r.functions_kept else "")
            + ("<br><b>planted</b>" if r.planted == 1 else "") for r in df.itertuples()]


def alpha_scatter(points: pd.DataFrame, title: str = "|α| vs statistics AUC") -> go.Figure:
    """Fig. 7 with axes as the brief asks: x = statistics AUC, y = |α|. Traces ``kept`` and ``dropped``, plus
    ``planted`` (rings over the planted points, synthetic data only); ``customdata[0]`` is the point's ``key``."""
    if points.empty:
        return _empty("no interactions match the filters", title=title)
    fig = _fig(title=title, xaxis_title="statistics AUC", yaxis_title="|α|", legend={"orientation": "h", "y": -0.18},
               dragmode="lasso")
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
    df = _prepared(inter)
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
        return _empty("no order-2 α to show", title=title)
    size = max(520, 40 * len(values) + 160)
    fig = _fig(title=title, height=size, yaxis={"autorange": "reversed", "scaleanchor": "x"})
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
    """A line per column over the snapshots: kept columns coloured by function, dropped ones thin and grey.
    Lines of a group share one trace (separated by gaps), so thousands of columns stay fast."""
    if frame.empty:
        return _empty("this run has no α snapshots", title=title)
    fig = _fig(title=title, xaxis_title="training step", yaxis_title="α", legend={"orientation": "h", "y": -0.18})
    groups = [("dropped", frame[frame["kept"] != 1], DROPPED_COLOR, 1)]
    groups += [(f"kept · {f}", frame[(frame["kept"] == 1) & (frame["function"] == f)], FUNCTION_COLORS.get(f), 2)
               for f in FUNCTIONS]
    steps = frame.drop_duplicates("t").set_index("t")["step"].sort_index()
    x_row = np.append(steps.to_numpy(dtype=float), np.nan)
    for name, sub, colour, width in groups:
        if sub.empty:
            continue
        wide = sub.pivot_table(index="column", columns="t", values="alpha").reindex(columns=steps.index)
        labels = sub.drop_duplicates("column").set_index("column").loc[wide.index]
        y = np.hstack([wide.to_numpy(), np.full((len(wide), 1), np.nan)]).ravel()
        x = np.tile(x_row, len(wide))
        text = np.repeat((labels["field_names"] + " · " + labels["function"]).to_numpy(dtype=object), len(x_row))
        fig.add_scatter(x=x, y=y, mode="lines", name=name, line={"color": colour, "width": width},
                        opacity=0.5 if name == "dropped" else 0.9, text=text, connectgaps=False,
                        hovertemplate="%{text}<br>step %{x}<br>α %{y:.4f}<extra></extra>")
    return fig


def sparsification_replay(frame: pd.DataFrame, max_frames: int = 40) -> go.Figure:
    """|α| of every column as bars, one animation frame per snapshot (a slider replays GRDA driving gates to
    exact zero); the frame title counts the non-zero gates. At most ``max_frames`` evenly spaced snapshots."""
    if frame.empty:
        return _empty("this run has no α snapshots", title="replay")
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

    fig = _fig(title=label(ts[0]), xaxis_title="column (coloured: kept at the end, by function)", yaxis_title="|α|",
               yaxis_range=[0, ymax], showlegend=False, bargap=0.05)
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


# ---------------------------------------------------------------------------------------------- functions (Fig. 8)

def function_frequency(inter: pd.DataFrame) -> pd.DataFrame:
    """Fig. 8 left: per order and function, how many kept interactions use the function and what fraction of the
    kept interactions of that order that is (a kept interaction can use several functions, so fractions can sum
    to more than 1). Columns: order, function, interactions (using it), kept_interactions, fraction."""
    df = _prepared(inter)
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
    """Grouped bars of ``fraction`` per function: one bar group per function, one bar per ``by`` value
    (``order`` in a run, ``run`` across runs, coloured by ``colors``)."""
    if freq.empty:
        return _empty("no kept interactions", title=title)
    fig = _fig(title=title, xaxis_title="interaction function", yaxis_title="fraction of kept interactions",
               barmode="group", yaxis_tickformat=".0%", legend={"orientation": "h", "y": -0.18})
    for value, sub in freq.groupby(by, sort=False):
        name = f"order {value}" if by == "order" else str(value)
        fig.add_bar(x=sub["function"], y=sub["fraction"], name=name, textposition="outside",
                    text=[f"{u} of {k}" for u, k in zip(sub["interactions"], sub["kept_interactions"], strict=True)],
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
    df = _prepared(inter)
    g = df.groupby(["fields", "field_names", "order"], sort=False)
    out = pd.DataFrame({"n_functions": g["kept"].sum().astype(int), "stats_auc": g["stats_auc"].first(),
                        "planted": g["planted"].first()}).reset_index()
    return out


def functions_vs_auc_figure(per: pd.DataFrame, title: str = "Number of selected functions vs statistics AUC",
                            ) -> go.Figure:
    """Box plot of statistics AUC per number of kept functions, with every interaction as a point."""
    if per.empty:
        return _empty("no interactions", title=title)
    fig = _fig(title=title, xaxis_title="number of selected interaction functions", yaxis_title="statistics AUC",
               showlegend=False, xaxis={"type": "category", "categoryorder": "category ascending"})
    for n, sub in per.groupby("n_functions"):
        fig.add_box(x=[str(n)] * len(sub), y=sub["stats_auc"], name=str(n), boxpoints="all", jitter=0.4,
                    pointpos=0, marker={"color": KEPT_COLOR if n else DROPPED_COLOR, "size": 6},
                    line={"color": "#555"}, fillcolor="rgba(0,0,0,0)", text=sub["field_names"],
                    hovertemplate="%{text}<br>statistics AUC %{y:.4f}<extra></extra>")
    return fig


# ---------------------------------------------------------------------------------------------- embeddings

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
        return _empty("no fields", title=title)
    fig = _fig(title=title, xaxis_title="vocabulary size (log scale)", yaxis_title=f"dimensions kept (of d = {dim})",
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
        return _empty("no fields", title=title)
    fig = _fig(title=title, xaxis_title="embedding dimension", height=max(360, 26 * len(matrix) + 140),
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


# ---------------------------------------------------------------------------------------------- comparing runs

def metric_deltas(metas: Mapping[str, Mapping], reference: str) -> pd.DataFrame:
    """One row per run: test/valid AUC and log loss, kept interactions and parameters, each with its difference
    to the ``reference`` run (the reference's own deltas are 0)."""
    base = ["test_auc", "test_logloss", "valid_auc", "valid_logloss", "kept_interactions", "params"]
    rows = []
    for rid, meta in metas.items():
        m = meta.get("metrics") or {}
        rows.append({"run": rid, "variant": meta.get("variant"), "seed": meta.get("seed"),
                     "test_auc": (m.get("test") or {}).get("auc"), "test_logloss": (m.get("test") or {}).get("logloss"),
                     "valid_auc": (m.get("valid") or {}).get("auc"),
                     "valid_logloss": (m.get("valid") or {}).get("logloss"),
                     "kept_interactions": ((meta.get("interactions") or {}).get("order2") or {}).get("kept"),
                     "params": (meta.get("params") or {}).get("after_eds")})
    df = pd.DataFrame(rows)
    df[base] = df[base].apply(pd.to_numeric, errors="coerce")
    ref = df.set_index("run").loc[reference, base]
    for c in base:
        df[f"Δ {c}"] = df[c] - ref[c]
    return df[["run", "variant", "seed", *(k for c in base for k in (c, f"Δ {c}"))]]


def flatten(d: Mapping, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; lists become comma-joined strings so they compare and display."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(flatten(v, key + "."))
        elif isinstance(v, list | tuple):
            out[key] = ",".join(map(str, v))
        else:
            out[key] = v
    return out


def config_diff(configs: Mapping[str, Mapping]) -> pd.DataFrame:
    """The flattened config keys whose values differ between the runs: index = key, one column per run (a key a run
    lacks shows as None)."""
    flat = {rid: flatten(c) for rid, c in configs.items()}
    keys = sorted(set().union(*flat.values())) if flat else []
    differing = [k for k in keys if len({repr(f.get(k)) for f in flat.values()}) > 1]
    return pd.DataFrame({rid: [f.get(k) for k in differing] for rid, f in flat.items()}, index=differing,
                        dtype=object).rename_axis("config key")


def kept_interactions(inter: pd.DataFrame) -> set[str]:
    """Names of the kept interactions (``f00 × f01``); names rather than indices so runs on the same data compare."""
    return set(inter.loc[pd.to_numeric(inter["interaction_kept"], errors="coerce") == 1, "field_names"].astype(str))


def overlap_counts(kept: Mapping[str, set[str]]) -> pd.DataFrame:
    """Run × run matrix of the number of kept interactions the two share (the diagonal: each run's own count)."""
    ids = list(kept)
    return pd.DataFrame([[len(kept[a] & kept[b]) for b in ids] for a in ids], index=ids, columns=ids)


def overlap_table(kept: Mapping[str, set[str]]) -> pd.DataFrame:
    """Which run keeps which interaction: one row per interaction kept by any run, a bool column per run and
    ``runs`` = how many keep it; the ones all runs keep come first."""
    ids = list(kept)
    names = sorted(set().union(*kept.values())) if ids else []
    df = pd.DataFrame({rid: [n in kept[rid] for n in names] for rid in ids}, index=pd.Index(names, name="interaction"))
    df["runs"] = df[ids].sum(axis=1).astype(int) if ids else 0
    return df.sort_values("runs", ascending=False, kind="stable")


def overlap_summary(kept: Mapping[str, set[str]]) -> dict[str, int]:
    """``all`` (kept by every run), ``any`` (kept by at least one) and ``only <run>`` counts."""
    sets = list(kept.values())
    out = {"all": len(set.intersection(*sets)) if sets else 0, "any": len(set.union(*sets)) if sets else 0}
    for rid, s in kept.items():
        others = set().union(*(v for k, v in kept.items() if k != rid))
        out[f"only {rid}"] = len(s - others)
    return out


def alpha_pairs(inter_a: pd.DataFrame, inter_b: pd.DataFrame, per: str = "column") -> pd.DataFrame:
    """Points matched between two runs by interaction name (and function when ``per="column"``): columns key,
    field_names, function, abs_alpha_a, abs_alpha_b, kept_a, kept_b. Only points present in both runs."""
    a = alpha_points(inter_a, per=per)
    b = alpha_points(inter_b, per=per)
    on = ["field_names", "function"] if per == "column" else ["field_names"]
    keep = ["field_names", "function", "abs_alpha", "kept"]
    m = a[keep].merge(b[keep], on=on, suffixes=("_a", "_b"))
    if per != "column":
        m = m.rename(columns={"function_a": "function"}).drop(columns="function_b")
    m.insert(0, "key", m["field_names"] + (" · " + m["function"] if per == "column" else ""))
    return m


def alpha_pairs_figure(pairs: pd.DataFrame, name_a: str, name_b: str, colors: Mapping[str, str] | None = None,
                       ) -> go.Figure:
    """|α| in run A (x) vs run B (y), one point per matched column/interaction, with the diagonal y = x."""
    title = "|α|: run A vs run B"
    both = pairs.dropna(subset=["abs_alpha_a", "abs_alpha_b"]) if not pairs.empty else pairs
    if both.empty:
        return _empty("no α to compare (a baseline has no gates, or the runs share no interactions)", title=title)
    fig = _fig(title=title, xaxis_title=f"|α| in A: {name_a}", yaxis_title=f"|α| in B: {name_b}",
               legend={"orientation": "h", "y": -0.2})
    groups = (("kept in both", (both["kept_a"] == 1) & (both["kept_b"] == 1), KEPT_COLOR),
              ("kept only in A", (both["kept_a"] == 1) & (both["kept_b"] != 1), (colors or {}).get(name_a, "#ff7f0e")),
              ("kept only in B", (both["kept_a"] != 1) & (both["kept_b"] == 1), (colors or {}).get(name_b, "#2ca02c")),
              ("dropped in both", (both["kept_a"] != 1) & (both["kept_b"] != 1), DROPPED_COLOR))
    for label, mask, colour in groups:
        sub = both[mask]
        if not sub.empty:
            fig.add_scatter(x=sub["abs_alpha_a"], y=sub["abs_alpha_b"], mode="markers", name=f"{label} ({len(sub)})",
                            marker={"color": colour, "size": 8, "opacity": 0.85}, text=sub["key"],
                            hovertemplate="%{text}<br>A %{x:.4f}<br>B %{y:.4f}<extra></extra>")
    top = float(max(both["abs_alpha_a"].max(), both["abs_alpha_b"].max())) * 1.05
    fig.add_scatter(x=[0, top], y=[0, top], mode="lines", name="y = x", line={"dash": "dot", "color": "#888"},
                    hoverinfo="skip")
    return fig


def delta_alpha_matrix(inter_a: pd.DataFrame, inter_b: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """Field × field max |α| of run B minus run A (order 2); NaN where either run has no α."""
    a, _ = alpha_matrix(inter_a, names)
    b, _ = alpha_matrix(inter_b, names)
    return b - a


def embedding_sizes_by_run(fields_by_run: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Long table run, field (name), vocab_size, dims_kept."""
    frames = [f[["name", "vocab_size", "dims_kept"]].assign(run=rid) for rid, f in fields_by_run.items()]
    if not frames:
        return pd.DataFrame(columns=["run", "name", "vocab_size", "dims_kept"])
    return pd.concat(frames, ignore_index=True)[["run", "name", "vocab_size", "dims_kept"]]


def embedding_sizes_figure(sizes: pd.DataFrame, colors: Mapping[str, str] | None = None) -> go.Figure:
    """Grouped bars: dimensions kept per field, one bar per run."""
    title = "Retained embedding size per field"
    if sizes.empty:
        return _empty("no fields", title=title)
    fig = _fig(title=title, xaxis_title="field", yaxis_title="dimensions kept", barmode="group",
               legend={"orientation": "h", "y": -0.25})
    for rid, sub in sizes.groupby("run", sort=False):
        fig.add_bar(x=sub["name"], y=sub["dims_kept"], name=str(rid), marker_color=(colors or {}).get(str(rid)))
    return fig


def metric_bars(deltas: pd.DataFrame, metric: str, colors: Mapping[str, str] | None = None) -> go.Figure:
    """One bar per run of ``metric`` (a column of ``metric_deltas``), coloured by run."""
    title = metric.replace("_", " ")
    data = deltas.dropna(subset=[metric])
    if data.empty:
        return _empty(f"no {title} yet", title=title)
    fig = _fig(title=title, showlegend=False, height=360, yaxis_title=title)
    fig.add_bar(x=data["run"], y=data[metric], marker_color=[(colors or {}).get(r) for r in data["run"]],
                text=[f"{v:.4f}" if abs(v) < 10 else f"{v:,.0f}" for v in data[metric]], textposition="outside")
    lo, hi = float(data[metric].min()), float(data[metric].max())
    if "auc" in metric or "logloss" in metric:
        pad = max((hi - lo) * 0.5, 0.005)
        fig.update_yaxes(range=[lo - pad, hi + pad])
    fig.update_xaxes(showticklabels=False, title="runs (hover for id)")
    return fig
