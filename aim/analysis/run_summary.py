"""The plain-language summary of one run (``run_summary_lines``): what it kept, planted precision / recall, its test
AUC, its size against the DeepFM of its study and what to try next; ``run_summary_of`` reads those from a loaded
run and its study. A run's Interactions page and the reports (``aim/report/``) put it at the top; the study's
summary is ``aim.analysis.summary``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from aim import variants
from aim.analysis.wording import PAPER_SIZE, STUDY_COMMAND, cut, finite, listing, name, number, params, planted_sentence


def run_summary_lines(meta: Mapping, kept_by_order: Mapping[int, Sequence[str]] | None = None,
                      deepfm_params: float | None = None, study_id: str | None = None,
                      variant_params: float | None = None) -> list[str]:
    """The summary of one run: what it kept (``kept_by_order``: order -> kept interaction names; None for a
    baseline), planted precision / recall, its test AUC (one run compares with nothing: a study does), its size
    against ``deepfm_params`` (the mean DeepFM of the run's own study, when it has one; ``variant_params``: the
    study's mean of this run's variant, said beside this seed's) and what to try next."""
    variant = str(meta.get("variant", ""))
    dataset = (meta.get("dataset") or {}).get("name") or (meta.get("config") or {}).get("dataset") or "DATASET"
    test = (meta.get("metrics") or {}).get("test") or {}
    counts = meta.get("interactions") or {}
    out = []
    if kept_by_order is not None:
        parts = []
        for order in sorted(kept_by_order):
            names = list(kept_by_order[order])
            total = (counts.get(f"order{order}") or {}).get("total")
            what = {2: "pairs", 3: "triples"}.get(order, f"order-{order} interactions")
            parts.append(f"{len(names)} of {total} {what}" + (f" ({listing(names)})" if names else "")
                         if total is not None else f"{len(names)} {what}" + (f" ({listing(names)})" if names else ""))
        found = sum(len(v) for v in kept_by_order.values())
        out.append(f"Found: this {name(variant)} run kept " + "; ".join(parts) + "." if parts else
                   f"Found: this {name(variant)} run kept no interaction.")
    if line := planted_sentence([meta.get("planted")] if meta.get("planted") else []):
        out.append(line)
    where = (f"Its study ({study_id}) compares it with the baselines over seeds." if study_id else
             f"A study compares it with the baselines over seeds: {STUDY_COMMAND.format(dataset=dataset)}.")
    out.append(f"Accuracy: test AUC {number(test.get('auc'))}, log loss {number(test.get('logloss'))} (seed "
               f"{meta.get('seed')}). One run cannot say whether it beats a baseline; {where[0].lower() + where[1:]}")
    p = meta.get("params") or {}
    before, after = p.get("before_eds"), p.get("after_eds")
    known = variants.of_token(variant)
    is_aim = known is not None and known.aim
    if finite(after):
        has_eds = "embed" in (meta.get("stages") or {}) and finite(before) and before != after
        eds = (f"EDS cut this run's model from {params(before)} to {params(after)} parameters "
               f"({cut(before, after)}), against the same model without EDS, not against DeepFM."
               if has_eds else f"{variant} has no EDS (embedding dimension search), so nothing was cut."
               if is_aim else "")
        if not is_aim:
            versus = (f", {float(after) / float(deepfm_params):.2f}× DeepFM's {params(deepfm_params)} (the mean of the "
                      "study's DeepFM runs)" if finite(deepfm_params) and variant != "deepfm" else "")
            out.append(f"Size: {params(after)} parameters{versus}.")
        elif finite(deepfm_params):
            mean = (f"; over the study's seeds {name(variant)} averages {params(variant_params)}, "
                    f"{float(variant_params) / float(deepfm_params):.2f}×" if finite(variant_params) else "")
            out.append(f"Size: this seed's final model has {params(after)} parameters, "
                       f"{float(after) / float(deepfm_params):.2f}× DeepFM's {params(deepfm_params)} (the mean of the "
                       f"study's DeepFM runs){mean}. For scale, {PAPER_SIZE}. {eds}".rstrip())
        else:
            none = ("Its study has no DeepFM run to compare with" if study_id else
                    "This run is not part of a study, so there is no DeepFM of the same data and settings to compare "
                    "with")
            out.append(f"Size: {params(after)} parameters. {eds} {none}; for scale, {PAPER_SIZE}.".replace("  ", " "))
    if kept_by_order is not None:
        if not found:
            out.append("Next: nothing was kept; try more rows.")
        else:
            out.append("Next: a study over seeds tells whether these interactions make AIM better than the baselines; "
                       "if they do, re-train them in your production model (the transfer variants).")
    return out


def kept_by_order(inter: pd.DataFrame | None) -> dict[int, list[str]] | None:
    """Order -> names of the kept interactions of a run's interaction table (largest |α| first); None when the
    table has no gates (a baseline)."""
    from aim.analysis.interactions import alpha_points, has_alpha

    if inter is None or inter.empty or not has_alpha(inter):
        return None
    points = alpha_points(inter, per="interaction").sort_values("abs_alpha", ascending=False, kind="stable")
    out: dict[int, list[str]] = {}
    for order in sorted(points["order"].unique()):
        sub = points[(points["order"] == order) & (points["kept"] == 1)]
        out[int(order)] = [str(n) for n in sub["field_names"]]
    return out


def study_params(study: Any, variant: str = "deepfm") -> float | None:
    """The mean final parameters of the ``variant`` runs of ``study`` (from its saved summary), None without."""
    summary = getattr(study, "summary", None)
    if summary is None or summary.empty or variant not in set(summary["variant"]):
        return None
    v = summary.set_index("variant").loc[variant, "params_after_eds"]
    return float(v) if finite(v) else None


def run_summary_of(run: Any, study: Any = None) -> list[str]:
    """``run_summary_lines`` of a loaded run (``aim.runs.Run`` with its tables) and the study whose runs it is
    part of (or None)."""
    from aim.study.tokens import token_of

    variant = token_of(run.meta.get("config") or {"variant": run.meta.get("variant")})
    return run_summary_lines(run.meta, kept_by_order(run.interactions), study_params(study) if study else None,
                             getattr(study, "id", None), study_params(study, variant) if study else None)


def inverse_stats_note(stats_auc: Mapping[str, float]) -> str | None:
    """One sentence on the kept interactions whose statistics AUC is below 0.5 (``{name: statistics AUC}`` of the
    kept ones), None when there is none."""
    low = sorted(((n, float(v)) for n, v in stats_auc.items() if finite(v) and float(v) < 0.5), key=lambda x: x[1])
    if not low:
        return None
    far = max(0.5 - v for _, v in low)
    listed = ", ".join(f"{n} {v:.3f}" for n, v in low)
    return (f"{len(low)} of the kept interactions have a statistics AUC below 0.5 ({listed}). Below 0.5 means that "
            "ranking the test rows by the pair's click rate in training orders them the wrong way round more often "
            "than not: the statistic ranks inversely. For a statistic, the distance from 0.5 is what measures how "
            f"much the pair alone tells (0.45 tells as much as 0.55, reversed); these are within {far:.3f} of 0.5, "
            "so the raw click rates of the pair say little, yet the gates kept it: the model learns its own use of "
            "the pair from the embeddings (the paper, §4.4.2, reads a higher statistics AUC as more important).")
