"""An outside check of AIM's selection: |α| against the independent pair ranking of ``aim.reference``.

A run that searched with ``search.reference`` on has an ``interactions.csv`` column ``ref_score`` (one score per
order-2 pair, higher = stronger interaction; NaN on higher orders) and a ``reference`` entry in ``run.json`` naming
the method. Runs without them (every run before 2026-12-07) simply have no such view: ``has_reference`` is False.
Everything here works on one point per order-2 interaction (its largest |α| over its functions, kept when any
function is kept), as the Interactions page's "one point per interaction".
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import plotly.graph_objects as go

from aim.analysis.common import DROPPED_COLOR, KEPT_COLOR, PLANTED_COLOR, empty_figure, new_figure
from aim.analysis.interactions import alpha_points, spearman

REF_COLUMN = "ref_score"


def has_reference(inter: pd.DataFrame | None) -> bool:
    """True when ``interactions.csv`` carries a reference score on at least one row."""
    return (inter is not None and REF_COLUMN in inter.columns
            and bool(pd.to_numeric(inter[REF_COLUMN], errors="coerce").notna().any()))


def method_name(meta: Mapping | None, short: bool = False) -> str:
    """The detector's title from ``run.json``'s ``reference`` (``short``: its name for axis labels, "FAST");
    ``"reference"`` when a run lacks it."""
    ref = (meta or {}).get("reference") or {}
    if short:
        return str(ref.get("short") or ref.get("name") or "reference")
    return str(ref.get("title") or ref.get("name") or "reference")


def reference_points(inter: pd.DataFrame) -> pd.DataFrame:
    """One row per order-2 interaction with a reference score: ``alpha_points(per="interaction")``'s columns plus
    ``ref_score`` (and ``ref_rank``, 1 = the detector's strongest pair; ties share the better rank)."""
    points = alpha_points(inter, per="interaction", orders=[2])
    if points.empty or REF_COLUMN not in inter.columns:
        return points.iloc[0:0].assign(ref_score=pd.Series(dtype=float), ref_rank=pd.Series(dtype=float))
    score = (inter.assign(fields=inter["fields"].astype(str),
                          ref_score=pd.to_numeric(inter[REF_COLUMN], errors="coerce"))
             .groupby("fields")["ref_score"].max())
    points = points.assign(ref_score=points["fields"].map(score))
    points = points[points["ref_score"].notna()].reset_index(drop=True)
    return points.assign(ref_rank=points["ref_score"].rank(ascending=False, method="min"))


def reference_spearman(points: pd.DataFrame) -> tuple[float, float, int]:
    """Spearman ρ of |α| and the reference score over ``points``: (rho, p-value, n); NaN when undefined."""
    return spearman(points, REF_COLUMN)


def top_by(points: pd.DataFrame, column: str, k: int) -> list[str]:
    """The ``fields`` of the ``k`` points of largest ``column`` (ties: the earlier pair first; NaN last)."""
    if k <= 0 or points.empty:
        return []
    order = points.assign(_v=pd.to_numeric(points[column], errors="coerce")).sort_values(
        ["_v", "fields"], ascending=[False, True], na_position="last", kind="stable")
    return list(order["fields"].head(k))


def kept_overlap(points: pd.DataFrame) -> dict:
    """How many of the kept pairs are among the detector's top k, k = the number of kept pairs: ``{"k", "hits",
    "kept": [names], "top": [names of the detector's top k], "missed": [kept, not in the top k]}``."""
    kept = points[points["kept"] == 1]
    k = len(kept)
    top = top_by(points, "ref_score", k)
    names = dict(zip(points["fields"], points["field_names"]))
    hits = [f for f in kept["fields"] if f in set(top)]
    return {"k": k, "hits": len(hits), "kept": [names[f] for f in kept["fields"]], "top": [names[f] for f in top],
            "missed": [names[f] for f in kept["fields"] if f not in set(top)]}


def planted_recovery(points: pd.DataFrame, column: str) -> tuple[int, int]:
    """(hits, k): planted pairs among the top k by ``column`` (``abs_alpha``, ``stats_auc``, ``ref_score``), k =
    the number of planted pairs among ``points``; (0, 0) without planted truth."""
    planted = pd.to_numeric(points["planted"], errors="coerce") == 1
    k = int(planted.sum())
    top = set(top_by(points, column, k))
    return int(points.loc[planted, "fields"].isin(top).sum()), k


def summary_text(points: pd.DataFrame, method: str) -> str:
    """One sentence: ρ(|α|, score) and the overlap of the kept pairs with the detector's top k."""
    rho, p, n = reference_spearman(points)
    ov = kept_overlap(points)
    corr = (f"Spearman ρ between |α| and the {method} score over the {n} pairs: {rho:.3f} (p = {p:.2g})"
            if rho == rho else f"Spearman ρ between |α| and the {method} score: n/a ({n} pairs)")
    if ov["k"] == 0:
        names = dict(zip(points["fields"], points["field_names"]))
        strongest = ", ".join(names[f] for f in top_by(points, "ref_score", 3))
        return (corr + f"; AIM kept no pair. {method}'s strongest pairs: {strongest or 'none'}: candidates for a "
                "look, or for Re-train with these.")
    return (corr + f"; {ov['hits']} of the {ov['k']} kept pairs are among the {ov['k']} pairs {method} ranks "
            "strongest" + (f" (not among them: {', '.join(ov['missed'])})." if ov["missed"] else "."))


CAPTIONS = {
    "shap": ("An independent check, by a method that knows nothing about AIM: a gradient-boosted tree model "
             "(LightGBM) is fitted to the clicks on its own, then SHAP splits each of its predictions into what each "
             "field contributes alone and what each pair of fields contributes together. A pair's score is the "
             "average size of that joint part: high means the tree model needs the two fields together. Two fields "
             "that carry the same information (a user id and the user's zip code) can score high without a real "
             "interaction."),
    "fast": ("An independent check, by a method that knows nothing about AIM: FAST (the pair detector of "
             "InterpretML's explainable boosting machines) first fits a model of each field alone, then asks for "
             "every pair how much a simple two-field correction on top of it improves the fit. High means the two "
             "fields do something together that neither does alone."),
}


def caption(meta: Mapping | None) -> str:
    """Plain words on what the detector is and how to read the chart."""
    ref = (meta or {}).get("reference") or {}
    rows = ref.get("rows")
    fitted = f" on {rows:,} training rows" if isinstance(rows, int) else " on the training rows"
    secs = ref.get("seconds")
    took = f" in {secs:.1f} s" if isinstance(secs, int | float) else ""
    lib = f" ({ref['library']})" if ref.get("library") else ""
    about = CAPTIONS.get(str(ref.get("name")), "An independent ranking of the pairs by an established detector.")
    short = method_name(meta, short=True)
    return (about + f" Computed{fitted}{took}{lib}. Points up and to the right: AIM and {short} agree a pair "
            f"matters; kept pairs far to the left were kept by AIM without {short}'s support.")


def _hover(df: pd.DataFrame, method: str) -> list[str]:
    return [f"<b>{r.field_names}</b><br>|α| {r.abs_alpha:.4f}<br>{method} score {r.ref_score:.3g} "
            f"(rank {int(r.ref_rank)})<br>statistics AUC {r.stats_auc:.4f}<br>{'kept' if r.kept else 'dropped'}"
            + (f" ({r.functions_kept})" if r.functions_kept else "") + ("<br><b>planted</b>" if r.planted == 1 else "")
            for r in df.itertuples()]


def reference_scatter(points: pd.DataFrame, method: str = "reference", title: str | None = None) -> go.Figure:
    """Fig. 7's style with the detector on x: x = reference score, y = gate |α|, traces ``kept``, ``dropped`` and
    ``planted`` (rings, synthetic data only); ``customdata[0]`` is the point's ``key``."""
    title = title or f"|α| vs {method} score, one point per pair"
    if points.empty:
        return empty_figure("no order-2 pair has a reference score", title=title)
    fig = new_figure(title=title, xaxis_title=f"{method} score (higher = stronger interaction)",
                     yaxis_title="gate |α|", legend={"orientation": "h", "y": -0.18})
    for name, mask, colour in (("kept", points["kept"] == 1, KEPT_COLOR),
                               ("dropped", points["kept"] != 1, DROPPED_COLOR)):
        sub = points[mask]
        fig.add_scatter(x=sub["ref_score"], y=sub["abs_alpha"], mode="markers", name=f"{name} ({len(sub)})",
                        marker={"color": colour, "size": 9, "opacity": 0.85, "line": {"width": 0.5, "color": "white"}},
                        customdata=sub[["key"]].to_numpy(), hovertext=_hover(sub, method), hoverinfo="text")
    planted = points[pd.to_numeric(points["planted"], errors="coerce") == 1]
    if not planted.empty:
        fig.add_scatter(x=planted["ref_score"], y=planted["abs_alpha"], mode="markers",
                        name=f"planted ({len(planted)})",
                        marker={"symbol": "circle-open", "size": 17, "color": PLANTED_COLOR, "line": {"width": 2.5}},
                        customdata=planted[["key"]].to_numpy(), hovertext=_hover(planted, method), hoverinfo="text")
    return fig


def reference_table(points: pd.DataFrame) -> pd.DataFrame:
    """The pairs by reference rank: pair, reference score and rank, |α|, kept, statistics AUC, planted."""
    cols = ["field_names", "ref_score", "ref_rank", "abs_alpha", "kept", "functions_kept", "stats_auc", "planted"]
    out = points.sort_values(["ref_rank", "fields"], kind="stable")[cols].reset_index(drop=True)
    out["ref_rank"] = out["ref_rank"].astype(int) if not out.empty else out["ref_rank"]
    return out


__all__ = ["REF_COLUMN", "caption", "has_reference", "kept_overlap", "method_name", "planted_recovery",
           "reference_points", "reference_scatter", "reference_spearman", "reference_table", "summary_text", "top_by"]
