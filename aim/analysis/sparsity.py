"""How sparse each search stage of one run was made, and why: the candidates of ``sparsity.csv`` (one row per GRDA
crossing fraction or embedding L2 tried, ``aim/sparsity.py``) as a validation-AUC-vs-size frontier per stage, the
parsimony rule's tolerance band, and the run's recorded ``warnings``.

Stages: ``search`` (order 2), ``search3``, ``search4`` (size = interaction-IF columns kept), ``embed`` (size =
embedding parameters kept) and the final model ``retrain`` / ``train`` (the embedding L2 grid; every L2 trains the
same architecture, so its x axis is the L2 value; a warm-started candidate is labelled ``warm``). The tolerance of a GRDA stage is k standard errors
(Hanley-McNeil, on the run's validation split) of the best candidate's AUC, k = ``search.sparsity_se``; the L2 grid
takes the best AUC (tolerance 0)."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from aim import runs
from aim.analysis.common import KEPT_COLOR, empty_figure, new_figure
from aim.config import SearchConfig
from aim.sparsity import auc_standard_error

STAGE_ORDER = ("search", "search3", "search4", "embed", "retrain", "train")
STAGE_TITLES = {"search": "Search interaction-IF (order 2)", "search3": "Order-3 search", "search4": "Order-4 search",
                "embed": "Search embed (EDS)", "retrain": "Re-train: embedding L2", "train": "Train: embedding L2"}
SIZE_TITLES = {"search": "interaction-IF columns kept", "embed": "embedding parameters kept",
               "final": "parameters"}
CHOSEN_COLOR, BAND_COLOR, LINE_COLOR = "#d62728", "#2ca02c", "#999999"
TABLE_COLUMNS = runs.columns("sparsity")


def run_warnings(meta: Mapping) -> list[str]:
    """The ``warnings`` of a ``run.json`` dict as a list of non-empty strings ([] for an older run without any, or
    a hand-edited value that is not a list)."""
    value = meta.get("warnings")
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return []
    return [str(w).strip() for w in value if w is not None and str(w).strip()]


def stage_kind(stage: str) -> str:
    """``search`` (any order), ``embed`` or ``final`` (the L2 grid of re-train / train)."""
    return "search" if stage.startswith("search") else "embed" if stage == "embed" else "final"


def _chosen(values: pd.Series) -> pd.Series:
    """The ``chosen`` column as booleans whether the CSV held True/False, 1/0 or strings."""
    return values.astype(str).str.strip().str.lower().isin(("true", "1", "1.0"))


def prepared_table(table: pd.DataFrame) -> pd.DataFrame:
    """``sparsity.csv`` in pipeline order (stages as ``STAGE_ORDER``, then candidates), every column of
    ``TABLE_COLUMNS`` present (missing ones empty), ``chosen`` boolean; columns empty in every row are dropped."""
    df = table.reindex(columns=[*TABLE_COLUMNS, *[c for c in table.columns if c not in TABLE_COLUMNS]]).copy()
    df["chosen"] = _chosen(df["chosen"])
    df["stage"] = df["stage"].astype(str)
    rank = {s: i for i, s in enumerate(STAGE_ORDER)}
    df["_rank"] = df["stage"].map(lambda s: rank.get(s, len(rank)))
    df = df.sort_values(["_rank", "stage", "candidate"], kind="stable").drop(columns="_rank")
    return df.dropna(axis=1, how="all").reset_index(drop=True)


def sparsity_stages(table: pd.DataFrame) -> list[str]:
    """The stages of ``sparsity.csv`` in pipeline order."""
    return list(dict.fromkeys(prepared_table(table)["stage"])) if not table.empty else []


def single_candidate(table: pd.DataFrame) -> bool:
    """True when no stage tried more than one candidate: the run chose no strength (strengths given in the config)."""
    return table.empty or bool((table.groupby(table["stage"].astype(str)).size() <= 1).all())


def validation_counts(meta: Mapping) -> tuple[int, int] | None:
    """(positives, negatives) of the run's validation split from ``dataset.rows.valid`` and
    ``dataset.positive_rate.valid``; None when the run did not record them."""
    ds = meta.get("dataset") or {}
    rows, rate = (ds.get("rows") or {}), (ds.get("positive_rate") or {})
    if not isinstance(rows, Mapping) or not isinstance(rate, Mapping):
        return None
    n, p = rows.get("valid"), rate.get("valid")
    if not isinstance(n, int | float) or not isinstance(p, int | float) or n < 2 or not 0 <= p <= 1:
        return None
    pos = round(n * p)
    return pos, int(n) - pos


def sparsity_se(meta: Mapping) -> float:
    """k of the parsimony rule (``search.sparsity_se`` of the run's config; the config default when absent)."""
    k = ((meta.get("config") or {}).get("search") or {}).get("sparsity_se")
    return float(k) if isinstance(k, int | float) else SearchConfig().sparsity_se


def tolerance(meta: Mapping, stage: str, valid_auc: pd.Series) -> float | None:
    """The parsimony rule's tolerance below the best validation AUC of ``stage``: k standard errors of the best AUC
    for a GRDA stage with several candidates, 0 for the L2 grid or a single candidate; None when the run did not
    record its validation split (the band cannot be drawn)."""
    auc = pd.to_numeric(valid_auc, errors="coerce")
    if stage_kind(stage) == "final" or auc.notna().sum() < 2:
        return 0.0
    counts = validation_counts(meta)
    if counts is None:
        return None
    se = auc_standard_error(float(auc.max()), *counts)
    return sparsity_se(meta) * se if math.isfinite(se) else None


def candidate_label(row: Mapping, kind: str) -> str:
    """``x = 0.2`` (crossing fraction), ``c = 0.12`` (a strength given as c), ``L2 = 0.01`` or, for a final model
    warm-started from the search model (``start`` = search), ``L2 = 0.01, warm``."""
    def num(key: str) -> float | None:
        v = row.get(key)
        return float(v) if isinstance(v, int | float | np.number) and math.isfinite(float(v)) else None

    if kind == "final":
        l2 = num("embed_l2")
        warm = ", warm" if row.get("start") == "search" else ""
        return f"L2 = {l2:g}{warm}" if l2 is not None else f"#{row.get('candidate')}"
    cross, c = num("cross"), num("c")
    return f"x = {cross:g}" if cross is not None else f"c = {c:.3g}" if c is not None else f"#{row.get('candidate')}"


def stage_frontier(table: pd.DataFrame, stage: str, tol: float | None = None) -> pd.DataFrame:
    """The candidates of ``stage`` sorted by size (L2 grid: by L2) with their ``label``, ``chosen`` and ``within``
    (validation AUC within ``tol`` of the best; empty when ``tol`` is None)."""
    df = prepared_table(table)
    df = df[df["stage"] == stage].copy()
    kind = stage_kind(stage)
    df["label"] = [candidate_label(r, kind) for r in df.to_dict("records")]
    key = "embed_l2" if kind == "final" and "embed_l2" in df else "size"
    df = df.sort_values([key, "candidate"], kind="stable").reset_index(drop=True)
    auc = pd.to_numeric(df["valid_auc"], errors="coerce")
    df["within"] = (auc >= auc.max() - tol - 1e-12) if tol is not None else pd.NA
    cols = ["candidate", "label", *[c for c in ("cross", "c", "crossing_step", "steps", "embed_l2", "start", "columns_kept",
                                                 "interactions_kept", "dims_kept") if c in df],
            "size", "valid_auc", "valid_logloss", "epochs", "seconds", "chosen", "within"]
    return df[[c for c in cols if c in df]]


def frontier_figure(frame: pd.DataFrame, stage: str, tol: float | None, k: float = 1.0,
                    title: str | None = None) -> go.Figure:
    """Validation AUC vs size, one labelled point per candidate of ``stage`` (``stage_frontier``), the chosen one a
    red star, the best AUC a dashed line and, for a GRDA stage, the tolerance band under it shaded. The L2 grid
    (``final``) has the L2 values on x (every candidate is the same architecture)."""
    kind = stage_kind(stage)
    title = title or ("Validation AUC per embedding L2" if kind == "final" else
                      f"Validation AUC vs {SIZE_TITLES[kind]}, one point per crossing fraction")
    if frame.empty:
        return empty_figure("no candidates", title=title)
    auc = pd.to_numeric(frame["valid_auc"], errors="coerce")
    best = float(auc.max())
    if kind == "final":
        x = frame["label"].str.removeprefix("L2 = ")
        size = frame["size"].dropna()
        xaxis = {"title": "embedding L2" + (f" (every value trains the same {int(size.iloc[0]):,} parameters)"
                                            if len(size) else ""), "type": "category"}
    else:
        x = frame["size"]
        xaxis = {"title": SIZE_TITLES[kind] + " (smaller = sparser)", "tickformat": ",d"}
        if pd.to_numeric(x, errors="coerce").nunique() <= 1:
            xaxis["type"] = "category"
    low = min(float(auc.min()), best - (tol or 0.0))
    pad = max((best - low) * 0.25, 0.002)
    fig = new_figure(title=title, xaxis=xaxis, yaxis={"title": "validation AUC", "tickformat": ".4f",
                                                      "range": [low - pad, best + pad * 1.6]},
                     legend={"orientation": "h", "y": -0.22}, height=400)
    if tol:
        fig.add_hrect(y0=best - tol, y1=best, fillcolor=BAND_COLOR, opacity=0.12, line_width=0)
        fig.add_scatter(x=[None], y=[None], mode="markers", name=f"within {k:g} standard error of the best "
                        f"({tol:.4f} AUC)", marker={"symbol": "square", "size": 12, "color": BAND_COLOR,
                                                    "opacity": 0.3})
    fig.add_hline(y=best, line_dash="dash", line_color=LINE_COLOR)
    fig.add_scatter(x=x, y=auc, mode="lines", line={"color": LINE_COLOR, "width": 1, "dash": "dot"},
                    hoverinfo="skip", showlegend=False)
    hover = _hover(frame, kind)
    positions = _text_positions(x, auc)
    for chosen, name, marker in (
            (False, "candidate", {"size": 11, "color": KEPT_COLOR}),
            (True, "chosen", {"size": 20, "color": CHOSEN_COLOR, "symbol": "star", "line": {"width": 1,
                                                                                            "color": "#222"}})):
        m = (frame["chosen"] == chosen).to_numpy()
        if not m.any():
            continue
        fig.add_scatter(x=x[m], y=auc[m], mode="markers+text", text=frame["label"][m], textposition=positions[m],
                        textfont={"size": 12, "color": CHOSEN_COLOR if chosen else "#333"}, name=name,
                        marker=marker, hovertext=hover[m], hovertemplate="%{hovertext}<extra></extra>")
    return fig


TEXT_POSITIONS = ("top center", "bottom center", "middle right", "middle left")


def _text_positions(x: pd.Series, y: pd.Series | None = None) -> np.ndarray:
    """Where each point's label goes: above it, except that points whose labels would collide take turns above,
    below, right and left. Two points collide when they have the same x, or (numeric x and y) lie within 8 % of
    the x range and 15 % of the y range of each other: the refined strengths around the chosen point, or several
    strengths that all pruned every column."""
    xs = pd.to_numeric(x, errors="coerce").to_numpy(dtype=float)
    ys = pd.to_numeric(y, errors="coerce").to_numpy(dtype=float) if y is not None else np.full(len(xs), np.nan)
    numeric = len(xs) > 0 and np.isfinite(xs).all() and np.isfinite(ys).all()
    out = np.array([TEXT_POSITIONS[0]] * len(xs), dtype=object)
    if not numeric:
        seen: dict = {}
        for i, v in enumerate(x.tolist()):
            out[i] = TEXT_POSITIONS[seen.get(v, 0) % len(TEXT_POSITIONS)]
            seen[v] = seen.get(v, 0) + 1
        return out
    span_x = max(float(np.ptp(xs)), 1e-12)
    span_y = max(float(np.ptp(ys)), 1e-12)
    turn: list[int] = []  # the position index given to each point placed so far, in x order
    placed: list[int] = []
    for i in np.argsort(xs, kind="stable"):
        near = [turn[k] for k, j in enumerate(placed)
                if abs(xs[i] - xs[j]) <= 0.08 * span_x and abs(ys[i] - ys[j]) <= 0.15 * span_y]
        pick = next((p for p in range(len(TEXT_POSITIONS)) if p not in near), len(near) % len(TEXT_POSITIONS))
        out[i] = TEXT_POSITIONS[pick]
        turn.append(pick)
        placed.append(int(i))
    return out


def _hover(frame: pd.DataFrame, kind: str) -> np.ndarray:
    out = []
    for r in frame.to_dict("records"):
        lines = [f"<b>{r['label']}</b>{' (chosen)' if r['chosen'] else ''}",
                 f"validation AUC {r['valid_auc']:.4f}"]
        if isinstance(r.get("valid_logloss"), float) and math.isfinite(r["valid_logloss"]):
            lines.append(f"validation log loss {r['valid_logloss']:.4f}")
        if _finite(r.get("size")):
            lines.append(f"{SIZE_TITLES[kind]}: {int(r['size']):,}")
        if kind == "search" and _finite(r.get("interactions_kept")):
            lines.append(f"interactions kept: {int(r['interactions_kept'])}")
        if kind == "embed" and _finite(r.get("dims_kept")):
            lines.append(f"dimensions kept: {int(r['dims_kept'])}")
        if _finite(r.get("c")):
            crossing = (f", threshold reaches the init at step {int(r['crossing_step']):,} of {int(r['steps']):,}"
                        if _finite(r.get("crossing_step")) and _finite(r.get("steps")) else "")
            lines.append(f"GRDA c {r['c']:.4g}{crossing}")
        if _finite(r.get("epochs")):
            lines.append(f"{int(r['epochs'])} epochs, {r.get('seconds', float('nan')):.1f} s")
        out.append("<br>".join(lines))
    return np.array(out, dtype=object)


def _finite(v) -> bool:
    return isinstance(v, int | float | np.number) and math.isfinite(float(v))


def choice_text(frame: pd.DataFrame, stage: str, tol: float | None, k: float = 1.0) -> str:
    """One Markdown sentence on what ``stage`` chose and why."""
    if frame.empty:
        return "No candidates recorded."
    kind = stage_kind(stage)
    chosen = frame[frame["chosen"]]
    best = frame.loc[pd.to_numeric(frame["valid_auc"], errors="coerce").idxmax()]
    if chosen.empty:
        return f"{len(frame)} candidate(s), none marked chosen (the run may have stopped in this stage)."
    c = chosen.iloc[0]
    size = f"{int(c['size']):,} {SIZE_TITLES[kind]}, " if kind != "final" and _finite(c.get("size")) else ""
    head = f"Kept **{c['label']}** ({size}validation AUC {c['valid_auc']:.4f})"
    if len(frame) == 1:
        return head + ": the only candidate (strength given in the config, nothing to choose)."
    if kind == "final":
        return head + f" of {len(frame)} L2 values: the best validation AUC."
    if c["candidate"] == best["candidate"]:
        why = "the most accurate candidate, and no sparser one came within the tolerance"
    else:
        why = (f"the sparsest within the tolerance of the best, {best['label']} ({best['valid_auc']:.4f}, "
               f"{int(best['size']):,})") if _finite(best.get("size")) else "the sparsest within the tolerance"
    band = f" (tolerance {tol:.4f} = {k:g} standard error)" if tol else ""
    return head + f" of {len(frame)} candidates: {why}{band}." + _edge_hint(frame, c)


def _edge_hint(frame: pd.DataFrame, chosen: pd.Series) -> str:
    """A hint when the kept crossing fraction is the largest tried (the weakest pruning) and still the most
    accurate: a weaker strength may be more accurate yet, so the grid may not reach far enough."""
    cross = pd.to_numeric(frame.get("cross"), errors="coerce") if "cross" in frame else pd.Series(dtype=float)
    if cross.notna().sum() < 2 or not _finite(chosen.get("cross")) or chosen["cross"] < cross.max():
        return ""
    return (" It is the weakest strength tried and the most accurate: a larger crossing fraction might be more "
            "accurate still.")


def chosen_summary(table: pd.DataFrame) -> pd.DataFrame:
    """One row per stage: ``stage``, ``title``, ``chosen`` (label), ``candidates`` (count)."""
    rows = []
    for stage in sparsity_stages(table):
        f = stage_frontier(table, stage)
        picked = f.loc[f["chosen"], "label"]
        rows.append({"stage": stage, "title": STAGE_TITLES.get(stage, stage),
                     "chosen": picked.iloc[0] if len(picked) else "—", "candidates": len(f)})
    return pd.DataFrame(rows, columns=["stage", "title", "chosen", "candidates"])


def no_table_note(meta: Mapping) -> str:
    """Why a run has no ``sparsity.csv``, in words: a run older than the choice on validation (its GRDA c fixed by
    its config), or a run that has not got that far."""
    if meta.get("status") != "complete":
        return (f"This run has not written its sparsity candidates (status **{meta.get('status')}**): they are "
                "written when the final model is trained.")
    search = (meta.get("config") or {}).get("search") or {}
    given = ", ".join(f"{name} {search[key]:g}" for name, key in (("search c", "grda_c"), ("embed c", "embed_grda_c"))
                      if isinstance(search.get(key), int | float) and search[key] >= 0)
    return ("This run predates the choice of sparsity on validation (it has no `sparsity.csv`): it chose no "
            "strength, one candidate per stage" + (f", its GRDA strengths fixed by its config ({given})." if given
                                                   else "."))


def warning_mark(meta: Mapping) -> str:
    """The runs table's marker: ``⚠ 2`` for a run that recorded two warnings, '' for none."""
    n = len(run_warnings(meta))
    return f"⚠ {n}" if n else ""


def warnings_table(metas: Mapping[str, Mapping]) -> pd.DataFrame:
    """One row per warning of the runs ``metas`` (id -> ``run.json`` dict): ``id``, ``warning``."""
    return pd.DataFrame([{"id": rid, "warning": w} for rid, meta in metas.items() for w in run_warnings(meta)],
                        columns=["id", "warning"])
