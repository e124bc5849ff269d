"""A study (``aim/study/``: several seeds of several variants on one dataset) as the app shows it: the ablation and
complexity tables of the paper (Tables 3-5, 7-10) and their charts.

The statistics are ``aim.study.summarise`` itself (the numbers of ``python -m aim table``: mean ± sample std over
the complete runs, Student's t-test against the best baseline, p < ``SIGNIFICANCE`` significant); this module
only arranges them. Its input is ``metas``: variant -> seed -> the ``run.json`` dict of the run the study recorded
for that cell, or None when it has none (never run, or its folder is gone). Only complete runs count; the others
are listed, never averaged.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd
import plotly.graph_objects as go

from aim import variants
from aim.analysis.common import DROPPED_COLOR, empty_figure, new_figure
from aim.study import FI_PREFIX, SIGNIFICANCE, TRANSFER_VARIANTS, best_baseline, summarise
from aim.study.stats import TRAIN_SECONDS

Metas = Mapping[str, Mapping[int, Mapping | None]]
KIND_COLORS = {"baseline": DROPPED_COLOR, "aim": "#1f77b4", "transfer": "#ff7f0e"}
METRICS = {"auc": "test AUC", "logloss": "test log loss"}
TRANSFER_SUFFIX = "-transfer"  # deepfm-transfer trains deepfm's network on AIM's columns
STUDY_COLUMNS = ["id", "dataset", "status", "variants", "seeds", "runs complete", "not complete", "best baseline",
                 "created", "source"]


def variant_kind(variant: str) -> str:
    """``baseline`` (fm / deepfm / ipnn / lr / gbdt), ``transfer`` (deepfm-transfer, ipnn-transfer) or ``aim`` (the
    AIM variants, their ``-se`` forms and anything this version does not know)."""
    known = variants.of_token(variant)
    if known is not None and known.baseline:
        return "baseline"
    return "transfer" if known is not None and known.transfer else "aim"


def live_summary(metas: Metas, reference: str | None = None) -> pd.DataFrame:
    """``aim.study.summarise`` over the runs the study recorded, read now: a study still running (or killed) shows
    every run finished so far, not only those of the variants it had finished when it last wrote summary.csv.
    ``reference``: the row the p-values are against (None: the best baseline)."""
    return summarise({v: [m for m in by_seed.values() if m is not None] for v, by_seed in metas.items()}, reference)


def seed_values(metas: Metas) -> pd.DataFrame:
    """One row per (variant, seed): variant, seed, run (id, '' when none), status (``missing`` when the study has
    no run there), test_auc and test_logloss (NaN unless the run is complete)."""
    rows = []
    for variant, by_seed in metas.items():
        for seed, meta in by_seed.items():
            status = "missing" if meta is None else str(meta.get("status", "complete"))
            test = ((meta or {}).get("metrics") or {}).get("test") or {}
            ok = status == "complete"
            rows.append({"variant": variant, "seed": int(seed), "run": (meta or {}).get("id", ""), "status": status,
                         "test_auc": test.get("auc") if ok else None, "test_logloss": test.get("logloss") if ok else None})
    df = pd.DataFrame(rows, columns=["variant", "seed", "run", "status", "test_auc", "test_logloss"])
    df[["test_auc", "test_logloss"]] = df[["test_auc", "test_logloss"]].apply(pd.to_numeric, errors="coerce")
    return df


def run_grid(values: pd.DataFrame) -> pd.DataFrame:
    """Variant × seed table of run statuses (rows in study order), from ``seed_values``."""
    grid = values.pivot(index="variant", columns="seed", values="status")
    return grid.reindex(list(dict.fromkeys(values["variant"]))).rename(columns=lambda s: f"seed {s}")


def run_counts(values: pd.DataFrame) -> dict[str, int]:
    """``total`` cells, how many are ``complete``, and the count of every other status (failed, running, missing)."""
    counts = values["status"].value_counts()
    return {"total": len(values), "complete": int(counts.get("complete", 0)),
            **{str(k): int(v) for k, v in counts.items() if k != "complete"}}


def _direction(p: float, mean: float, ref: float, higher_better: bool) -> str:
    """``*`` significantly better than the best baseline, ``†`` significantly worse, '' otherwise."""
    if not (p < SIGNIFICANCE) or math.isnan(mean) or math.isnan(ref) or mean == ref:
        return ""
    return "*" if (mean > ref) == higher_better else "†"


def _whole(x: float) -> float:
    """A mean parameter count rounded to a whole number (NaN stays NaN)."""
    return float(round(x)) if isinstance(x, int | float) and math.isfinite(x) else math.nan


def _pm(mean: float, std: float) -> str:
    if math.isnan(mean):
        return "–"
    return f"{mean:.4f}" if math.isnan(std) else f"{mean:.4f} ± {std:.4f}"


def ablation_table(summary: pd.DataFrame, seeds: int) -> pd.DataFrame:
    """The table the app shows: per variant ``runs`` (complete of ``seeds``), AUC and log loss as mean ± std with
    ``*`` / ``†`` (significantly better / worse than the best baseline, p < 0.005), their p-values, parameters
    before / after EDS, what EDS cut (``no EDS``), the final size against DeepFM's (``× DeepFM``), train seconds
    per epoch, inference seconds per 100k rows, the whole training time
    (``train s``, when the runs report it) and the FI ratio of each order."""
    best = best_baseline(summary)
    ref = summary.set_index("variant").loc[best] if best else None
    by = summary.set_index("variant")
    deepfm = float(by.loc["deepfm", "params_after_eds"]) if "deepfm" in by.index else math.nan
    deepfm = deepfm if math.isfinite(deepfm) and deepfm > 0 else None
    rows = []
    if summary.empty:
        return pd.DataFrame(columns=["variant", "kind", "runs", "AUC", "p (AUC)", "log loss", "p (log loss)"])
    for r in summary.itertuples(index=False):
        auc_mark = _direction(r.p_auc, r.auc_mean, ref["auc_mean"] if best else math.nan, True)
        ll_mark = _direction(r.p_logloss, r.logloss_mean, ref["logloss_mean"] if best else math.nan, False)
        row = {"variant": r.variant, "kind": "best baseline" if r.variant == best else variant_kind(r.variant),
               "runs": f"{r.n} / {seeds}", "AUC": _pm(r.auc_mean, r.auc_std) + auc_mark, "p (AUC)": r.p_auc,
               "log loss": _pm(r.logloss_mean, r.logloss_std) + ll_mark, "p (log loss)": r.p_logloss,
               # means over seeds, shown as whole parameters as in the CLI tables
               "params": _whole(r.params_before_eds), "params after EDS": _whole(r.params_after_eds),
               "EDS cut": eds_cut(r.params_before_eds, r.params_after_eds),
               "× DeepFM": r.params_after_eds / deepfm if deepfm else math.nan,
               "train s/epoch": r.train_epoch_seconds, "infer s/100k": r.infer_seconds_per_100k}
        if TRAIN_SECONDS in summary.columns:
            row["train s"] = getattr(r, TRAIN_SECONDS)
        for c in (c for c in summary.columns if c.startswith(FI_PREFIX)):
            row[f"FI ratio order {c[len(FI_PREFIX):]}"] = getattr(r, c)
        rows.append(row)
    return pd.DataFrame(rows)


def eds_cut(before: float, after: float) -> str:
    """What EDS cut of a variant's (mean) parameters: ``38.3%``; ``no EDS`` where it cut nothing (the variant does
    not search embedding dimensions), never 0 %; ``–`` when unknown."""
    try:
        b, a = float(before), float(after)
    except (TypeError, ValueError):
        return "–"
    if not (math.isfinite(b) and math.isfinite(a)) or b <= 0:
        return "–"
    return "no EDS" if a == b else f"{1 - a / b:.1%}"


def _padded_range(lo: float, hi: float) -> list[float]:
    pad = max((hi - lo) * 0.25, 0.002)
    return [lo - pad, hi + pad]


def study_metric_figure(summary: pd.DataFrame, values: pd.DataFrame, metric: str = "auc") -> go.Figure:
    """The mean test ``metric`` (``auc`` or ``logloss``) per variant as a wide dash with ± sample-std error bars, one
    trace per kind (``baseline``, ``AIM``, ``transfer``) in study order; the complete runs' values as points
    (trace ``seeds``); a dotted line at the best baseline; ``*`` / ``†`` after the names of the variants
    significantly better / worse than it. The y axis is zoomed to the data (differences of 0.001 matter), so the means
    are marks, not bars whose length would exaggerate the differences."""
    name = METRICS[metric]
    title = f"{name}: mean ± std over seeds"
    data = summary.dropna(subset=[f"{metric}_mean"])
    if data.empty:
        return empty_figure(f"no complete runs yet, so no {name}", title=title)
    best = best_baseline(summary)
    ref = float(summary.set_index("variant").loc[best, f"{metric}_mean"]) if best else math.nan
    marks = [_direction(p, m, ref, metric == "auc") for p, m in zip(data[f"p_{metric}"], data[f"{metric}_mean"],
                                                                    strict=True)]
    fig = new_figure(title=title, yaxis_title=name, legend={"orientation": "h", "y": -0.2},
                     xaxis={"categoryorder": "array", "categoryarray": list(data["variant"]),
                            "tickvals": list(data["variant"]),
                            "ticktext": [f"{v} {k}".strip() for v, k in zip(data["variant"], marks, strict=True)]})
    kinds = data["variant"].map(variant_kind)
    for kind in KIND_COLORS:
        sub = data[kinds == kind]
        if sub.empty:
            continue
        std = sub[f"{metric}_std"].fillna(0.0)
        # a mean as a dot, never a bar: on an axis zoomed to differences of 0.001 a bar's length would lie
        fig.add_scatter(x=sub["variant"], y=sub[f"{metric}_mean"], name="AIM" if kind == "aim" else kind,
                        mode="markers", marker={"color": KIND_COLORS[kind], "size": 15, "symbol": "line-ew-open",
                                                "line": {"width": 4, "color": KIND_COLORS[kind]}},
                        error_y={"type": "data", "array": std, "visible": True, "color": KIND_COLORS[kind],
                                 "thickness": 2, "width": 8},
                        customdata=sub[["n"]], hovertemplate="%{x}<br>mean %{y:.4f} ± %{error_y.array:.4f} over "
                                                              "%{customdata[0]} runs<extra></extra>")
    seeds = values.dropna(subset=[f"test_{metric}"])
    fig.add_scatter(x=seeds["variant"], y=seeds[f"test_{metric}"], mode="markers", name="seeds",
                    marker={"color": "#222", "size": 6, "symbol": "diamond"}, text=seeds["seed"],
                    hovertemplate="%{x} seed %{text}: %{y:.4f}<extra></extra>")
    if best:
        fig.add_hline(y=ref, line_dash="dot", line_color="#555", annotation_text=f"best baseline ({best})",
                      annotation_position="top left")
    std = data[f"{metric}_std"].fillna(0.0)
    lo = min((data[f"{metric}_mean"] - std).min(), seeds[f"test_{metric}"].min() if not seeds.empty else math.inf)
    hi = max((data[f"{metric}_mean"] + std).max(), seeds[f"test_{metric}"].max() if not seeds.empty else -math.inf)
    fig.update_yaxes(range=_padded_range(float(lo), float(hi)))
    return fig


def fi_ratio_figure(summary: pd.DataFrame) -> go.Figure:
    """Grouped bars of the mean FI ratio (kept / all interactions of an order) per variant, one trace per order."""
    title = "FI ratio per order: share of the interactions kept"
    orders = [c for c in summary.columns if c.startswith(FI_PREFIX) and summary[c].notna().any()]
    if not orders:
        return empty_figure("no FI ratios yet", title=title)
    fig = new_figure(title=title, xaxis_title="variant", yaxis_title="FI ratio", barmode="group",
                     yaxis_tickformat=".0%", legend={"orientation": "h", "y": -0.25})
    for c in orders:
        fig.add_bar(x=summary["variant"], y=summary[c], name=f"order {c[len(FI_PREFIX):]}",
                    text=[("" if math.isnan(v) else f"{v:.0%}") for v in summary[c]], textposition="outside",
                    hovertemplate="%{x}: %{y:.1%}<extra>order " + c[len(FI_PREFIX):] + "</extra>")
    return fig


def transfer_table(summary: pd.DataFrame, values: pd.DataFrame) -> pd.DataFrame:
    """Paper Table 10: each transfer variant of the study next to its plain model (deepfm-transfer next to
    deepfm): mean test AUC / log loss of both and the difference. ``p (auc)`` / ``p (logloss)`` are the transfer
    variant's p-values of the summary, against the best baseline as every p of the study (one rule, one p per
    variant: a second t-test against the plain model would give the same row two p-values); ``values`` is
    unused, kept for the callers."""
    s = summary.set_index("variant")
    rows = []
    for transfer in (t for t in TRANSFER_VARIANTS if t in s.index):
        plain = transfer.removesuffix(TRANSFER_SUFFIX)
        row = {"model": plain, "transfer": transfer}
        for metric in METRICS:
            a = s.loc[transfer, f"{metric}_mean"]
            b = s.loc[plain, f"{metric}_mean"] if plain in s.index else math.nan
            row.update({f"plain {metric}": b, f"transfer {metric}": a, f"Δ {metric}": a - b,
                        f"p ({metric})": s.loc[transfer, f"p_{metric}"]})
        rows.append(row)
    return pd.DataFrame(rows, columns=["model", "transfer", *(f"{k} {m}" for m in METRICS for k in (
        "plain", "transfer")), *(f"Δ {m}" for m in METRICS), *(f"p ({m})" for m in METRICS)])


def transfer_figure(summary: pd.DataFrame) -> go.Figure:
    """Test AUC of each plain model and of the same model on AIM's selected pairs (its transfer variant), with
    ± std error bars: traces ``plain`` and ``transfer``."""
    title = "Transfer: the plain model vs the same model on AIM's selected interactions"
    s = summary.set_index("variant")
    pairs = [(t.removesuffix(TRANSFER_SUFFIX), t) for t in TRANSFER_VARIANTS if t in s.index]
    if not pairs:
        return empty_figure("no transfer variants in this study", title=title)
    fig = new_figure(title=title, xaxis_title="model", yaxis_title=METRICS["auc"], barmode="group",
                     legend={"orientation": "h", "y": -0.25})
    lows, highs = [], []
    for label, pick, colour in (("plain", 0, KIND_COLORS["baseline"]), ("transfer", 1, KIND_COLORS["transfer"])):
        names = [p[pick] for p in pairs]
        mean = [float(s.loc[n, "auc_mean"]) if n in s.index else math.nan for n in names]
        std = [0.0 if n not in s.index or math.isnan(s.loc[n, "auc_std"]) else float(s.loc[n, "auc_std"])
               for n in names]
        fig.add_bar(x=[p[0] for p in pairs], y=mean, name=label, marker_color=colour, hovertext=names,
                    error_y={"type": "data", "array": std, "visible": True},
                    hovertemplate="%{hovertext}: %{y:.4f} ± %{error_y.array:.4f}<extra></extra>")
        lows += [m - e for m, e in zip(mean, std, strict=True) if not math.isnan(m)]
        highs += [m + e for m, e in zip(mean, std, strict=True) if not math.isnan(m)]
    if lows:
        fig.update_yaxes(range=_padded_range(min(lows), max(highs)))
    return fig


def study_row(meta: Mapping, counts: Mapping[str, int], source: str = "") -> dict:
    """One row of the studies table (Runs page) from a ``study.json`` dict and ``run_counts``."""
    missing = {k: v for k, v in counts.items() if k not in ("total", "complete")}
    return {"id": meta.get("id"), "dataset": meta.get("dataset"), "status": meta.get("status"),
            "variants": ", ".join(map(str, meta.get("variants") or [])), "seeds": len(meta.get("seeds") or []),
            "runs complete": f"{counts.get('complete', 0)} / {counts.get('total', 0)}",
            "not complete": ", ".join(f"{v} {k}" for k, v in missing.items()),
            "best baseline": meta.get("best_baseline"),
            "created": pd.to_datetime(meta.get("created"), utc=True, errors="coerce"), "source": source}


def studies_table(rows: list[dict]) -> pd.DataFrame:
    """The studies table of the Runs page from ``study_row`` rows, newest first."""
    df = pd.DataFrame(rows, columns=STUDY_COLUMNS)
    return df.sort_values("created", ascending=False, na_position="last", kind="stable").reset_index(drop=True)
