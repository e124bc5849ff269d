"""Two to four runs side by side: metric deltas, config diff, kept-interaction overlap, α of run A vs run B,
embedding sizes by run."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from aim.analysis.common import DROPPED_COLOR, KEPT_COLOR, empty_figure, new_figure
from aim.analysis.interactions import alpha_matrix, alpha_points


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
        return empty_figure("no α to compare (a baseline has no gates, or the runs share no interactions)", title=title)
    fig = new_figure(title=title, xaxis_title=f"|α| in A: {name_a}", yaxis_title=f"|α| in B: {name_b}",
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
        return empty_figure("no fields", title=title)
    fig = new_figure(title=title, xaxis_title="field", yaxis_title="dimensions kept", barmode="group",
               legend={"orientation": "h", "y": -0.25})
    for rid, sub in sizes.groupby("run", sort=False):
        fig.add_bar(x=sub["name"], y=sub["dims_kept"], name=str(rid), marker_color=(colors or {}).get(str(rid)))
    return fig


# Colours of the 2-4 runs of a comparison, by position: far apart in hue and none dark, so two bars never read as
# "a colour and black" (the hashed run colours of ``common.PALETTE`` include navy and brown).
COMPARE_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#17becf")


def compare_colors(run_ids: Iterable[str]) -> dict[str, str]:
    """The i-th run of a comparison gets the i-th colour of ``COMPARE_PALETTE`` (cycling past six)."""
    return {rid: COMPARE_PALETTE[i % len(COMPARE_PALETTE)] for i, rid in enumerate(dict.fromkeys(run_ids))}


def metric_title(metric: str) -> str:
    """``test_logloss`` -> ``test log loss (lower is better)``; AUC: higher is better."""
    name = metric.replace("_", " ").replace("logloss", "log loss").replace("auc", "AUC")
    if "log loss" in name:
        return f"{name} (lower is better)"
    return f"{name} (higher is better)" if "AUC" in name else name


def metric_bars(deltas: pd.DataFrame, metric: str, colors: Mapping[str, str] | None = None) -> go.Figure:
    """One point per run of ``metric`` (a column of ``metric_deltas``), coloured by ``colors``; the legend names the
    run of each colour (legend-only entries: the points stay one trace), the title says whether higher or lower is
    better. AUC and log loss are drawn as dots on an axis zoomed to the values, never as bars: a bar's length
    on a cut axis would show 0.8742 against 0.8777 as about 2x; other metrics are bars from zero."""
    title = metric_title(metric)
    data = deltas.dropna(subset=[metric])
    if data.empty:
        return empty_figure(f"no {title} yet", title=title)
    colors = colors or {}
    zoomed = "auc" in metric or "logloss" in metric
    fig = new_figure(title=title + (" (axis zoomed to the values)" if zoomed else ""), height=400,
                     yaxis_title=metric.replace("_", " "), barmode="overlay",
                     legend={"orientation": "h", "y": -0.08, "yanchor": "top", "font": {"size": 11}})
    text = [f"{v:.4f}" if abs(v) < 10 else f"{v:,.0f}" for v in data[metric]]
    look = {"x": data["run"], "y": data[metric], "text": text, "showlegend": False, "cliponaxis": False,
            "hovertemplate": "%{x}<br>%{y:.4f}<extra></extra>"}
    if zoomed:
        fig.add_scatter(mode="markers+text", textposition="top center",
                        marker={"color": [colors.get(r) for r in data["run"]], "size": 16}, **look)
    else:
        fig.add_bar(marker_color=[colors.get(r) for r in data["run"]], textposition="outside", **look)
    for rid in data["run"]:
        fig.add_scatter(x=[None], y=[None], mode="markers", name=str(rid), marker={"color": colors.get(rid), "size": 12},
                        showlegend=True, hoverinfo="skip")
    lo, hi = float(data[metric].min()), float(data[metric].max())
    if zoomed:
        pad = max((hi - lo) * 0.5, 0.005)
        fig.update_yaxes(range=[lo - pad, hi + pad])
    fig.update_xaxes(showticklabels=False)
    return fig
