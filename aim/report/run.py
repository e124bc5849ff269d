"""The report of one run (``aim.report``): a plain-language summary, what was searched and kept (interactions,
functions, embedding sizes), parameters, the independent check, what was checked, a glossary."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from aim import analysis
from aim.analysis import run_summary
from aim.errors import ConfigError, RunFormatError
from aim.report.page import Page, add_glossary, fmt, fmt_int
from aim.runs import Run
from aim.study import Study, is_study, load_study
from aim.study.stats import rule_text

TOP_INTERACTIONS = 15


def searched(meta: Mapping, config: Mapping) -> list[tuple[str, Any]]:
    """Dataset, rows, fields, orders and functions of a run's (or a study's base) config and data summary."""
    data = meta.get("dataset") or {}
    rows = data.get("rows") or {}
    search = config.get("search") or {}
    orders = range(2, int(config.get("max_order") or 2) + 1)
    return [("dataset", data.get("name") or config.get("dataset", "?")),
            ("rows (train / valid / test)", " / ".join(fmt_int(rows.get(k)) for k in ("train", "valid", "test"))
             if rows else "–"),
            ("fields", len(data.get("fields") or []) or "–"),
            ("orders searched", ", ".join(map(str, orders))),
            ("interaction functions", str(search.get("functions", "–")).replace(",", ", ")),
            ("embedding size d", (config.get("model") or {}).get("embed_dim", "–"))]


def run_warnings(meta: Mapping, label: str = "") -> list[str]:
    out = []
    if meta.get("status") != "complete":
        out.append(f"{label}status {meta.get('status')}" + (f": {meta['error']}" if meta.get("error") else ""))
    found = meta.get("warnings")
    if isinstance(found, list):
        out += [f"{label}{w}" for w in found]
    elif found:
        out.append(f"{label}{found}")
    return out


def _kept_per_order(meta: Mapping) -> pd.DataFrame:
    rows = [{"order": int(k[5:]), "interactions kept": o.get("kept"), "of": o.get("total"),
             "FI ratio": o.get("fi_ratio"), "columns kept": o.get("columns_kept"), "of columns": o.get("columns_total")}
            for k, o in sorted((meta.get("interactions") or {}).items()) if isinstance(o, Mapping)]
    return pd.DataFrame(rows, columns=["order", "interactions kept", "of", "FI ratio", "columns kept", "of columns"])


def _top_interactions(inter: pd.DataFrame) -> pd.DataFrame:
    """The interactions of largest |α| (``alpha_points`` per interaction), with the kept functions."""
    points = analysis.alpha_points(inter, per="interaction").sort_values("abs_alpha", ascending=False)
    top = points[(points["abs_alpha"] > 0) | (points["kept"] == 1)].head(TOP_INTERACTIONS)
    df = pd.DataFrame({"interaction": top["field_names"], "order": top["order"],
                       "kept": ["yes" if k == 1 else "no" for k in top["kept"]],
                       "kept functions": top["functions_kept"].replace("", "–"),
                       "function of largest |α|": top["function"], "|α|": top["abs_alpha"],
                       "statistics AUC": top["stats_auc"]})
    if analysis.has_planted(inter):
        df["planted"] = ["yes" if p == 1 else "" for p in top["planted"]]
    return df


def _params_text(meta: Mapping) -> str | None:
    p = analysis.params_summary(meta)
    if not p["before_eds"] or p["after_eds"] is None:
        return None
    return (f"parameters {p['before_eds']:,} before EDS, {p['after_eds']:,} after: EDS saved {p['saved']:,} "
            f"({p['saved'] / p['before_eds']:.1%}).")


def _fields_table(fields: pd.DataFrame, dim: int) -> pd.DataFrame:
    return pd.DataFrame({"field": fields["name"], "vocabulary": fields["vocab_size"].map(fmt_int),
                         f"dimensions kept (of {dim})": fields["dims_kept"]})


def _kept_sentence(interactions: Mapping) -> str | None:
    parts = [f"{o.get('kept')} of {o.get('total')} order-{k[5:]} interactions ({fmt(o.get('fi_ratio'), '{:.1%}')})"
             for k, o in sorted(interactions.items()) if isinstance(o, Mapping)]
    return f"The search kept {', '.join(parts)}." if parts else None


RUN_CHECKED = ("the run's status (complete) and the warnings a run records in its run.json, e.g. EDS removing every "
               "dimension of a field that a kept interaction reads, or a final model that scores below the search "
               "model on validation: none recorded")


def _study_of(run: Run) -> Study | None:
    """The study whose runs/ folder holds ``run``, None for a run on its own (or a study that cannot be read)."""
    folder = run.path.parent.parent
    if not is_study(folder):
        return None
    try:
        return load_study(folder)
    except (RunFormatError, ConfigError, OSError):
        return None


def run_report(run: Run) -> str:
    """The report of one run: a plain-language summary, searched, kept (interactions, functions, embedding sizes),
    parameters (against the DeepFM of the run's own study, when it is part of one), what was checked, a glossary."""
    run.load_tables()
    m, config = run.meta, run.meta.get("config") or {}
    page = Page(f"AIM report: {run.id}", f"{m.get('variant')} run, seed {m.get('seed')}, status {m.get('status')}, "
                                          f"created {m.get('created')}")
    test = (m.get("metrics") or {}).get("test") or {}
    page.facts([*searched(m, config), ("variant", m.get("variant")), ("test AUC", fmt(test.get("auc"), "{:.4f}")),
                ("test log loss", fmt(test.get("logloss"), "{:.4f}"))])
    study = _study_of(run)
    inter = run.interactions
    lines = run_summary.run_summary_of(run, study)
    page.h2("In plain words")
    page.headline(lines)
    page.h2("Warnings")
    page.warnings(run_warnings(m), RUN_CHECKED)

    page.h2("Results")
    stages = [{"stage": name, **{f"{split} {k}": ((s.get("metrics") or {}).get(split) or {}).get(k)
                                 for split in ("valid", "test") for k in ("auc", "logloss")},
               "epochs": s.get("epochs"), "seconds": s.get("seconds")}
              for name, s in (m.get("stages") or {}).items() if isinstance(s, Mapping)]
    page.table(pd.DataFrame(stages), {c: "{:.4f}" for c in ("valid auc", "valid logloss", "test auc", "test logloss")}
               | {"seconds": "{:.1f}"})
    page.text("AUC (higher is better) and log loss (lower is better) of each stage on the validation and test splits; "
              "the last stage is the model the run keeps. One run is one seed: whether AIM beats the baselines (FM, "
              "DeepFM, IPNN) is decided over several seeds by a study (python -m aim study), whose report puts them "
              f"side by side under the rule: {rule_text()}.", "note")

    page.h2("What was kept: interactions")
    if kept := _kept_sentence(m.get("interactions") or {}):
        page.text(kept)
    page.table(_kept_per_order(m), {"FI ratio": "{:.1%}"})
    planted = m.get("planted")
    if planted:
        page.text(f"Planted interactions (synthetic data): precision {planted.get('precision', math.nan):.2f}, recall "
                  f"{planted.get('recall', math.nan):.2f} ({planted.get('hits')} of {planted.get('planted')} found).")
    if inter is not None and not inter.empty and analysis.has_alpha(inter):
        page.text(f"The interactions whose gate survived the search, largest |α| first (at most {TOP_INTERACTIONS}; "
                  "α measures how much the model uses an interaction, statistics AUC how well the interaction alone "
                  "predicts the label):")
        top = _top_interactions(inter)
        page.table(top, {"|α|": "{:.4f}", "statistics AUC": "{:.4f}"})
        if note := run_summary.inverse_stats_note(dict(zip(top.loc[top["kept"] == "yes", "interaction"],
                                                     top.loc[top["kept"] == "yes", "statistics AUC"], strict=True))):
            page.text(note, "note")
        page.figure(analysis.alpha_scatter(analysis.alpha_points(inter, per="interaction"),
                                           title="|α| vs statistics AUC, one point per interaction (paper Fig. 7)"))
        page.figure(analysis.function_frequency_figure(analysis.function_frequency(inter)))
    else:
        page.text("This run has no interaction gates (a baseline model keeps every interaction).", "note")
    _reference_section(page, m, inter)

    fields = run.fields
    page.h2("What was kept: embedding dimensions (EDS)")
    params = _params_text(m)
    if params:
        page.text(params[0].upper() + params[1:])
    size = [line for line in lines if line.startswith("Size:")]
    if size:
        page.text(size[0])
    if fields is not None and not fields.empty:
        dim = analysis.embed_dim_of(m, fields)
        page.table(_fields_table(fields, dim))
        page.figure(analysis.embedding_scatter(fields, dim))
    add_glossary(page)
    return page.html()


def _reference_section(page: Page, meta: Mapping, inter: pd.DataFrame | None) -> None:
    """|α| against the independent pair ranking (interactions.csv ``ref_score``), when the run has one."""
    if inter is None or not analysis.has_reference(inter) or not analysis.has_alpha(inter):
        return
    short = analysis.reference_method(meta, short=True)
    points = analysis.reference_points(inter)
    page.h2(f"Independent check: |α| vs {analysis.reference_method(meta)}")
    page.text(analysis.reference_summary(points, short))
    page.figure(analysis.reference_scatter(points, short))
    page.text(analysis.reference_caption(meta), "note")
