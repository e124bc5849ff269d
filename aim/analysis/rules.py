"""A fis-vs-stats study (``aim.study.fis_vs_stats``, paper §4.4.2) as the app shows it: test AUC per selection rule
with every seed as a point, and the table of rules with their p-values against the FIS rule and their pairs.

Inputs as in ``aim.analysis.studies``: ``summary`` (``aim.study.summarise`` with ``reference="fis"``) and
``values`` (``seed_values``: one row per rule and seed)."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import plotly.graph_objects as go

from aim.analysis.common import PALETTE, empty_figure, new_figure

LABELS = {"fis": "top-N by |α| (FIS)", "stats": "top-N by statistics AUC", "random": "N at random"}


def rules_table(summary: pd.DataFrame, selections: Mapping[str, Mapping[str, str]], seeds: int) -> pd.DataFrame:
    """Per rule: the runs complete, test AUC and log loss mean ± std, p-values against the FIS rule, and its pairs
    (the spec re-trained; the random rule draws new pairs per seed)."""
    rows = []
    for r in summary.itertuples(index=False):
        specs = list(dict.fromkeys((selections.get(r.variant) or {}).values()))
        rows.append({"rule": LABELS.get(r.variant, r.variant), "runs": f"{r.n} / {seeds}",
                     "AUC": _pm(r.auc_mean, r.auc_std), "p (AUC)": r.p_auc,
                     "log loss": _pm(r.logloss_mean, r.logloss_std), "p (log loss)": r.p_logloss,
                     "pairs": specs[0] if len(specs) == 1 else f"{len(specs)} draws, one per seed"})
    return pd.DataFrame(rows, columns=["rule", "runs", "AUC", "p (AUC)", "log loss", "p (log loss)", "pairs"])


def _pm(mean: float, std: float) -> str:
    if mean != mean:
        return "–"
    return f"{mean:.4f}" if std != std else f"{mean:.4f} ± {std:.4f}"


def rules_figure(summary: pd.DataFrame, values: pd.DataFrame) -> go.Figure:
    """Test AUC per selection rule: every seed's run as a point, the mean ± sample std as a bar with error bars;
    the y axis zoomed to the data."""
    title = "test AUC per selection rule: seeds as points, mean ± std"
    seeds = values.dropna(subset=["test_auc"])
    if seeds.empty:
        return empty_figure("no complete runs yet, so no test AUC", title=title)
    order = list(summary["variant"])
    fig = new_figure(title=title, yaxis_title="test AUC", showlegend=False,
                     xaxis={"categoryorder": "array", "categoryarray": [LABELS.get(v, v) for v in order]})
    for i, r in enumerate(summary.itertuples(index=False)):
        label = LABELS.get(r.variant, r.variant)
        own = seeds[seeds["variant"] == r.variant]
        color = PALETTE[i % len(PALETTE)]
        fig.add_bar(x=[label], y=[r.auc_mean], marker_color=color, opacity=0.35, name=label,
                    error_y={"type": "data", "array": [0.0 if r.auc_std != r.auc_std else r.auc_std]},
                    hovertemplate=f"{label}<br>mean %{{y:.4f}} over {r.n} runs<extra></extra>")
        fig.add_scatter(x=[label] * len(own), y=own["test_auc"], mode="markers", name=f"{label} seeds",
                        marker={"color": color, "size": 10, "line": {"color": "#222", "width": 1}},
                        text=own["seed"], hovertemplate=f"{label} seed %{{text}}: %{{y:.4f}}<extra></extra>")
    lo, hi = float(seeds["test_auc"].min()), float(seeds["test_auc"].max())
    pad = max((hi - lo) * 0.25, 0.002)
    fig.update_yaxes(range=[lo - pad, hi + pad])
    return fig
