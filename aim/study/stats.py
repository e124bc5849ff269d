"""A study's statistics: mean ± sample std over seeds and Student's t-test against a reference row."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from aim.study.tokens import BASELINES

SIGNIFICANCE = 0.005  # paper: "* ... statistically significant improvement (t-test, p < 0.005)"
SUMMARY_COLUMNS = ["variant", "n", "auc_mean", "auc_std", "logloss_mean", "logloss_std", "p_auc", "p_logloss",
                   "significant", "params_before_eds", "params_after_eds", "train_epoch_seconds",
                   "infer_seconds_per_100k"]
FI_PREFIX = "fi_ratio_order"
TRAIN_SECONDS = "train_seconds"  # run.json timings.train_seconds: a run's whole training time


def ttest_pvalue(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-tailed p-value of the unpaired (independent two-sample) t-test with pooled variance, i.e. Student's
    t-test, ``scipy.stats.ttest_ind(a, b, equal_var=True)``; NaN when a group has fewer than 2 values (or both
    are constant)."""
    a = [float(x) for x in a if _finite(x)]
    b = [float(x) for x in b if _finite(x)]
    if len(a) < 2 or len(b) < 2:
        return math.nan
    from scipy import stats

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return float(stats.ttest_ind(a, b, equal_var=True).pvalue)


def _finite(x: Any) -> bool:
    return isinstance(x, int | float | np.integer | np.floating) and not isinstance(x, bool) and math.isfinite(x)


def number_at(meta: Mapping, *keys: str) -> float:
    """The number at ``meta[k1][k2]...`` of a run.json dict, NaN when a key is missing or the value not finite."""
    for k in keys:
        if not isinstance(meta, Mapping) or k not in meta:
            return math.nan
        meta = meta[k]
    return float(meta) if _finite(meta) else math.nan


def _mean(values: list[float]) -> float:
    vals = [v for v in values if math.isfinite(v)]
    return float(np.mean(vals)) if vals else math.nan


def _std(values: list[float]) -> float:
    vals = [v for v in values if math.isfinite(v)]
    return float(np.std(vals, ddof=1)) if len(vals) >= 2 else math.nan


def _fi_orders(metas: Iterable[Mapping]) -> list[int]:
    orders = {2}
    for m in metas:
        for key, value in (m.get("interactions") or {}).items():
            if key.startswith("order") and key[5:].isdigit() and isinstance(value, Mapping):
                orders.add(int(key[5:]))
    return sorted(orders)


def summarise(runs_by_variant: Mapping[str, Sequence[Mapping]], reference: str | None = None) -> pd.DataFrame:
    """Pure: ``{variant: [run.json meta of each seed]}`` -> one summary row per variant (in the given order).

    Only metas with ``status == "complete"`` (or no status) count; ``n`` is their number. AUC / log loss: mean
    and sample std (ddof=1) of ``metrics.test``; p-values: ``ttest_pvalue`` against the row ``reference`` when
    given (the fis-vs-stats kind), else the best baseline (NaN for that row itself and when there is none); parameters,
    ``timings`` and FI ratios: means over the runs that report them (NaN where none does); a last column
    ``train_seconds`` only when some run reports ``timings.train_seconds``."""
    complete = {v: [m for m in metas if m.get("status", "complete") == "complete"] for v, metas in runs_by_variant.items()}
    orders = _fi_orders(m for metas in complete.values() for m in metas)
    values: dict[str, dict[str, list[float]]] = {}
    rows = []
    for variant, metas in complete.items():
        auc = [number_at(m, "metrics", "test", "auc") for m in metas]
        logloss = [number_at(m, "metrics", "test", "logloss") for m in metas]
        values[variant] = {"auc": auc, "logloss": logloss}
        row = {"variant": variant, "n": len(metas), "auc_mean": _mean(auc), "auc_std": _std(auc),
               "logloss_mean": _mean(logloss), "logloss_std": _std(logloss), "p_auc": math.nan,
               "p_logloss": math.nan, "significant": False,
               "params_before_eds": _mean([number_at(m, "params", "before_eds") for m in metas]),
               "params_after_eds": _mean([number_at(m, "params", "after_eds") for m in metas]),
               "train_epoch_seconds": _mean([number_at(m, "timings", "train_epoch_seconds") for m in metas]),
               "infer_seconds_per_100k": _mean([number_at(m, "timings", "infer_seconds_per_100k") for m in metas])}
        for k in orders:
            row[f"{FI_PREFIX}{k}"] = _mean([number_at(m, "interactions", f"order{k}", "fi_ratio") for m in metas])
        row[TRAIN_SECONDS] = _mean([number_at(m, "timings", TRAIN_SECONDS) for m in metas])
        rows.append(row)
    # a run's whole training time, where the runs report it (every variant of newer versions): after the FI ratios
    extra = [TRAIN_SECONDS] if any(math.isfinite(r[TRAIN_SECONDS]) for r in rows) else []
    df = pd.DataFrame(rows, columns=SUMMARY_COLUMNS + [f"{FI_PREFIX}{k}" for k in orders] + extra)
    df["n"] = df["n"].astype(int)
    df["significant"] = df["significant"].astype(bool)
    best = reference if reference in values else best_baseline(df)
    if best is not None:
        ref = values[best]
        for i, variant in enumerate(df["variant"]):
            if variant == best:
                continue
            df.loc[i, "p_auc"] = ttest_pvalue(values[variant]["auc"], ref["auc"])
            df.loc[i, "p_logloss"] = ttest_pvalue(values[variant]["logloss"], ref["logloss"])
        df["significant"] = (df["p_auc"] < SIGNIFICANCE).astype(bool)
    return df


RULE_CORE = f"p < {SIGNIFICANCE} in a two-tailed Student's t-test (pooled variance)"  # in every statement of the rule


def rule_text(seeds: int | None = None, reference: str | None = None) -> str:
    """The product's one significance rule (the paper's) in words, as every table note, page and report states it; ``reference``: the row the p-values are against (None: the best baseline),
    ``seeds``: how many seeds each side has (said when given)."""
    over = f"over {seeds} seeds" if seeds else "over the seeds"
    against = f"against {reference}" if reference else "against the best baseline"
    return f"significant = {RULE_CORE} {over}, {against}"


def verdict(p: float, delta: float) -> str:
    """``significantly better`` / ``significantly worse`` (p < SIGNIFICANCE, by the sign of ``delta``, the
    difference in the direction where positive is better) or ``not significantly different`` (also when p is
    unknown)."""
    if not (isinstance(p, int | float) and p < SIGNIFICANCE) or not delta:
        return "not significantly different"
    return "significantly better" if delta > 0 else "significantly worse"


def best_baseline(df: pd.DataFrame) -> str | None:
    """The baseline (fm / deepfm / ipnn / lr / gbdt) of a summary with the highest mean test AUC; None when there is none
    (ties go to the earlier row)."""
    base = df[df["variant"].isin(BASELINES) & df["auc_mean"].notna()]
    if base.empty:
        return None
    return str(base.loc[base["auc_mean"].idxmax(), "variant"])


def json_records(df: pd.DataFrame) -> list[dict]:
    """JSON-ready rows: NaN -> None, numpy scalars -> Python."""
    out = []
    for row in df.to_dict("records"):
        out.append({k: (None if isinstance(v, float) and math.isnan(v) else (v.item() if hasattr(v, "item") else v))
                    for k, v in row.items()})
    return out

