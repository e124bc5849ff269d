"""Rendering a study: the JSON and text summary (``python -m aim show``) and the table exports (``python -m aim
table``: CSV, LaTeX, Markdown)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from aim.errors import ConfigError, RunFormatError
from aim.study.folder import SUMMARY_FILE, load_study
from aim.study.stats import FI_PREFIX, SIGNIFICANCE, TRAIN_SECONDS, best_baseline, json_records, rule_text
from aim.study.tokens import BASELINES

TABLE_FORMATS = ("csv", "latex", "markdown")


def study_summary(path: str | Path) -> dict:
    """The JSON summary of a study (``python -m aim show STUDY_DIR --json``)."""
    study = load_study(path)
    statuses = study.run_statuses()
    flat = [s for by_seed in statuses.values() for s in by_seed.values()]
    current = study.current_summary()
    rows = json_records(current) if current is not None else []
    return {
        "kind": "study",
        "id": study.id,
        "path": str(study.path),
        "status": study.status,
        "error": study.meta.get("error"),
        "dataset": study.meta["dataset"],
        "variants": study.variants,
        "seeds": study.seeds,
        "best_baseline": None if study.reference else (
            best_baseline(current) if current is not None else study.best_baseline),
        "transfer_from": study.meta.get("transfer_from"),
        "study_kind": study.kind,
        "reference": study.reference,
        **{k: study.meta.get(k) for k in ("parent", "top", "selections") if k in study.meta},
        "summary": rows,
        "runs": {"complete": flat.count("complete"), "total": len(flat), "missing": study.missing,
                 "by_variant": {v: {str(s): st for s, st in by_seed.items()} for v, by_seed in statuses.items()}},
        "created": study.meta["created"],
        "updated": study.meta.get("updated"),
    }


def format_study(summary: Mapping) -> str:
    """The human-readable form of ``study_summary`` (``python -m aim show STUDY_DIR``)."""
    runs = summary["runs"]
    lines = [f"{summary['id']}  [{summary['status']}]  {summary['dataset']}: {len(summary['variants'])} variants × "
             f"{len(summary['seeds'])} seeds, {runs['complete']}/{runs['total']} runs complete"]
    if summary.get("error"):
        lines.append(f"error: {summary['error']}")
    if runs.get("missing"):
        lines.append(f"missing run folders: {', '.join(runs['missing'])}")
    if summary.get("reference"):
        lines.append(f"{summary.get('study_kind')} of {summary.get('parent')}: top {summary.get('top')} pairs, "
                     f"p-values against {summary['reference']}")
    else:
        lines.append(f"best baseline: {summary['best_baseline'] or '-'}")
    if summary["summary"]:
        df = pd.DataFrame(summary["summary"])
        for c in df.columns.drop(["variant", "significant"], errors="ignore"):
            df[c] = pd.to_numeric(df[c], errors="coerce")
        lines.append(rules_markdown(df, summary["reference"]) if summary.get("reference") else to_markdown(df))
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------- exports

def _num(x: Any) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return math.nan
    return v


def _pm(mean: Any, std: Any, pm: str) -> str:
    mean, std = _num(mean), _num(std)
    if math.isnan(mean):
        return "--"
    return f"{mean:.4f}" if math.isnan(std) else f"{mean:.4f}{pm}{std:.4f}"


def _mark(p: Any, mean: Any, ref: float, higher_better: bool) -> int:
    """+1 significantly better than the best baseline, -1 significantly worse, 0 otherwise."""
    p, mean = _num(p), _num(mean)
    if math.isnan(p) or p >= SIGNIFICANCE or math.isnan(mean) or math.isnan(ref) or mean == ref:
        return 0
    return 1 if (mean > ref) == higher_better else -1


def _table_cells(df: pd.DataFrame, latex: bool) -> tuple[list[str], list[list[str]], list[bool]]:
    pm = " $\\pm$ " if latex else " ± "
    marks = {1: "$^{*}$" if latex else "\\*", -1: "$^{\\dagger}$" if latex else "†", 0: ""}
    bold = (lambda s: f"\\textbf{{{s}}}") if latex else (lambda s: f"**{s}**")
    pct = "\\%" if latex else "%"
    fi_cols = [c for c in df.columns if c.startswith(FI_PREFIX)]
    header = (["Model", "$n$" if latex else "n", "AUC", "Log loss", "Params", "Params after EDS"]
              + [f"FI ratio (order {c[len(FI_PREFIX):]})" for c in fi_cols] + ["Train s/epoch", "Infer s/100k"]
              + (["Train s"] if TRAIN_SECONDS in df.columns else []))
    best = best_baseline(df) if len(df) else None
    ref = df.set_index("variant") if len(df) else None
    ref_auc = _num(ref.loc[best, "auc_mean"]) if best else math.nan
    ref_ll = _num(ref.loc[best, "logloss_mean"]) if best else math.nan
    aucs = [round(v, 4) for v in map(_num, df["auc_mean"]) if not math.isnan(v)]
    lls = [round(v, 4) for v in map(_num, df["logloss_mean"]) if not math.isnan(v)]
    top_auc, top_ll = (max(aucs) if aucs else None), (min(lls) if lls else None)

    def params(x: Any) -> str:
        v = _num(x)
        if math.isnan(v):
            return "--"
        s = f"{int(round(v)):,}"
        return s.replace(",", "{,}") if latex else s

    def fixed(x: Any, digits: int) -> str:
        v = _num(x)
        return "--" if math.isnan(v) else f"{v:.{digits}f}"

    rows, is_baseline = [], []
    for _, r in df.iterrows():
        auc = _pm(r["auc_mean"], r["auc_std"], pm)
        ll = _pm(r["logloss_mean"], r["logloss_std"], pm)
        if top_auc is not None and not math.isnan(_num(r["auc_mean"])) and round(_num(r["auc_mean"]), 4) == top_auc:
            auc = bold(auc)
        if top_ll is not None and not math.isnan(_num(r["logloss_mean"])) and round(_num(r["logloss_mean"]), 4) == top_ll:
            ll = bold(ll)
        auc += marks[_mark(r["p_auc"], r["auc_mean"], ref_auc, True)]
        ll += marks[_mark(r["p_logloss"], r["logloss_mean"], ref_ll, False)]
        name = str(r["variant"])
        if latex:
            name = name.replace("\\", "\\textbackslash{}").replace("_", "\\_").replace("&", "\\&").replace("%", "\\%")
        fi = [("--" if math.isnan(_num(r[c])) else f"{_num(r[c]) * 100:.1f}{pct}") for c in fi_cols]
        rows.append([name, str(int(_num(r["n"]))) if not math.isnan(_num(r["n"])) else "0", auc, ll,
                     params(r["params_before_eds"]), params(r["params_after_eds"]), *fi,
                     fixed(r["train_epoch_seconds"], 2), fixed(r["infer_seconds_per_100k"], 3),
                     *([fixed(r[TRAIN_SECONDS], 0)] if TRAIN_SECONDS in df.columns else [])])
        is_baseline.append(name in BASELINES)
    return header, rows, is_baseline


def _note(df: pd.DataFrame) -> str:
    best = best_baseline(df) if len(df) else None
    return (f"mean ± sample std (ddof=1) over seeds. Rule (the paper's): {rule_text(reference=f'the best baseline ({best})' if best else 'the best baseline (none here)')}; "
            f"* / †: significantly better / worse than {best or 'it'}; no mark: not significantly different, "
            "whatever the difference of the means")


def to_latex(df: pd.DataFrame) -> str:
    """A booktabs tabular of a summary: mean ± std with 4 decimals, the best AUC and log loss in bold, ``*`` a
    significant improvement and a dagger a significant degradation vs the best baseline (p < 0.005)."""
    header, rows, is_baseline = _table_cells(df, latex=True)
    lines = [f"% {_note(df)}".replace("±", "+-").replace("†", "dagger"),
             "\\begin{tabular}{l" + "r" * (len(header) - 1) + "}", "\\toprule", " & ".join(header) + " \\\\",
             "\\midrule"]
    for i, row in enumerate(rows):
        if i > 0 and is_baseline[i - 1] and not is_baseline[i]:
            lines.append("\\midrule")
        lines.append(" & ".join(row) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(lines) + "\n"


def to_markdown(df: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table of a summary (same content as ``to_latex``), with a note below."""
    header, rows, _ = _table_cells(df, latex=False)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join([":---"] + ["---:"] * (len(header) - 1)) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + f"\n\n{_note(df)}\n"


def to_csv(df: pd.DataFrame) -> str:
    return df.to_csv(index=False, lineterminator="\n")


def format_table(df: pd.DataFrame, fmt: str) -> str:
    """``python -m aim table STUDY_DIR --format csv|latex|markdown``."""
    if fmt not in TABLE_FORMATS:
        raise ConfigError(f"format {fmt!r} is not valid; choose one of: {', '.join(TABLE_FORMATS)}")
    return {"csv": to_csv, "latex": to_latex, "markdown": to_markdown}[fmt](df)


def study_table(path: str | Path, fmt: str = "markdown") -> str:
    """The summary table of the study in ``path`` in ``fmt`` (refuses a study that has no summary yet)."""
    study = load_study(path)
    summary = study.current_summary()
    if summary is None:
        raise RunFormatError(study.path / SUMMARY_FILE, "file is missing: the study has no summary yet")
    if study.reference:
        return format_rules(summary, study.reference, fmt)
    return format_table(summary, fmt)


# --------------------------------------------------------------------- a study with a reference row (fis-vs-stats)

def _rule_cells(df: pd.DataFrame, reference: str, latex: bool) -> tuple[list[str], list[list[str]]]:
    pm = " $\\pm$ " if latex else " ± "
    header = ["Rule", "$n$" if latex else "n", "AUC", f"p (AUC) vs {reference}", "Log loss",
              f"p (log loss) vs {reference}"]

    def p(x: Any) -> str:
        v = _num(x)
        return "--" if math.isnan(v) else f"{v:.3g}"

    rows = [[str(r["variant"]), str(int(_num(r["n"]))) if not math.isnan(_num(r["n"])) else "0",
             _pm(r["auc_mean"], r["auc_std"], pm), p(r["p_auc"]), _pm(r["logloss_mean"], r["logloss_std"], pm),
             p(r["p_logloss"])] for _, r in df.iterrows()]
    return header, rows


def _rules_note(reference: str) -> str:
    return (f"mean ± sample std (ddof=1) over seeds. Rule (the paper's): "
            f"{rule_text(reference=f'the {reference} rule')}; p >= {SIGNIFICANCE}: not significantly different")


def rules_markdown(df: pd.DataFrame, reference: str) -> str:
    """The Markdown table of a study whose p-values are against a reference row (fis-vs-stats)."""
    header, rows = _rule_cells(df, reference, latex=False)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join([":---"] + ["---:"] * (len(header) - 1)) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + f"\n\n{_rules_note(reference)}\n"


def rules_latex(df: pd.DataFrame, reference: str) -> str:
    header, rows = _rule_cells(df, reference, latex=True)
    lines = [f"% {_rules_note(reference)}".replace("±", "+-"), "\\begin{tabular}{l" + "r" * (len(header) - 1) + "}",
             "\\toprule", " & ".join(header) + " \\\\", "\\midrule",
             *(" & ".join(row) + " \\\\" for row in rows), "\\bottomrule", "\\end{tabular}"]
    return "\n".join(lines) + "\n"


def format_rules(df: pd.DataFrame, reference: str, fmt: str) -> str:
    """``python -m aim table`` of a study with a reference row."""
    if fmt not in TABLE_FORMATS:
        raise ConfigError(f"format {fmt!r} is not valid; choose one of: {', '.join(TABLE_FORMATS)}")
    if fmt == "csv":
        return to_csv(df)
    return rules_markdown(df, reference) if fmt == "markdown" else rules_latex(df, reference)

