"""The report of a study (``aim.report``): the results against the best baseline under the rule, size and timings,
the interactions kept over the seeds and the embedding sizes of its AIM variant, what was checked, a glossary."""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from aim import analysis
from aim.analysis import run_summary
from aim.analysis import summary as plain
from aim.analysis.studies import eds_cut
from aim.analysis.wording import settings_note
from aim.errors import RunFormatError
from aim.report.page import Page, add_glossary, fmt_int
from aim.report.run import run_warnings, searched
from aim.runs import Run, load_run
from aim.study import FI_PREFIX, Study, best_baseline, summarise
from aim.study.stats import rule_text, verdict

TIMING_NOTE = ("Timings (train s/epoch, infer s/100k, train s) were measured in runs that shared the machine's cores "
               "with other runs of the study, so they are noisy: read no speed conclusion from them; the benchmark "
               "(bench/, docs/benchmarks.md) is the place for speed.")


def _study_warnings(study: Study, metas: Mapping[str, Mapping[int, Mapping | None]]) -> list[str]:
    out = []
    if study.status != "complete":
        out.append(f"the study is {study.status}" + (f": {study.meta['error']}" if study.meta.get("error") else "")
                   + "; its tables count only the complete runs")
    out += [f"run folder gone: {rel}" for rel in study.missing]
    for variant, by_seed in metas.items():
        for seed, meta in by_seed.items():
            if meta is None:
                out.append(f"{variant} seed {seed}: no run")
            else:
                out += run_warnings(meta, f"{variant} seed {seed}: ")
    return out


def _study_checked(study: Study, counts: Mapping[str, int]) -> str:
    return (f"the study's status ({study.status}); that every run is complete ({counts.get('complete', 0)} of "
            f"{counts.get('total', 0)}); that no run folder is gone; and the warnings each run records in its "
            "run.json (e.g. EDS removing every dimension of a field a kept interaction reads, or a final model "
            "below the search model on validation)")


def _verdicts(summary: pd.DataFrame, best: str | None) -> list[str]:
    """Each row's verdict against the best baseline under the rule, in words."""
    if best is None:
        return ["–"] * len(summary)
    ref = float(summary.set_index("variant").loc[best, "auc_mean"])
    out = []
    for r in summary.itertuples(index=False):
        if r.variant == best:
            out.append("best baseline")
        elif not r.n:
            out.append("–")
        else:
            out.append(verdict(r.p_auc, r.auc_mean - ref))
    return out


def _accuracy_table(summary: pd.DataFrame, seeds: int, best: str | None) -> pd.DataFrame:
    df = analysis.ablation_table(summary, seeds)
    if df.empty:
        return df
    df = df[[c for c in ("variant", "kind", "runs", "AUC", "p (AUC)", "log loss", "p (log loss)") if c in df]]
    df.insert(5, f"AUC vs {best or 'best baseline'}", _verdicts(summary, best))
    return df


def _complexity_table(summary: pd.DataFrame, seeds: int) -> pd.DataFrame:
    """Per variant: mean parameters before / after EDS (whole numbers), what EDS cut ("no EDS"), the size against
    DeepFM, timings and the FI ratios: the app's Complexity table."""
    df = analysis.ablation_table(summary, seeds)
    if df.empty:
        return df
    out = pd.DataFrame({"variant": df["variant"], "runs": df["runs"], "params (mean)": df["params"].map(fmt_int),
                        "after EDS (mean)": df["params after EDS"].map(fmt_int), "EDS cut": df["EDS cut"]})
    if df["× DeepFM"].notna().any():
        out["× DeepFM"] = [f"{v:.2f}×" if math.isfinite(v) else "–" for v in df["× DeepFM"]]
    for c in ("train s/epoch", "infer s/100k", "train s", *(c for c in df.columns if c.startswith("FI ratio"))):
        if c in df.columns:
            out[c] = df[c].values
    return out


def _seed_params(runs: Mapping[int, Run]) -> pd.DataFrame:
    rows = []
    for seed, run in sorted(runs.items()):
        p = analysis.params_summary(run.meta)
        rows.append({"seed": seed, "before EDS": fmt_int(p["before_eds"]), "after EDS": fmt_int(p["after_eds"]),
                     "EDS cut": eds_cut(p["before_eds"], p["after_eds"])})
    return pd.DataFrame(rows, columns=["seed", "before EDS", "after EDS", "EDS cut"])


def study_report(study: Study) -> str:
    """The report of a study: a plain-language summary, the results against the best baseline under the rule (mean
    ± std over seeds, t-test p-values, a verdict per row), size and timings, the interactions kept on k of n seeds
    and the embedding sizes of its AIM variant, what was checked, a glossary."""
    metas = study.recorded_metas()
    values = analysis.seed_values(metas)
    counts = analysis.run_counts(values)
    summary = study.current_summary()
    if summary is None:
        summary = summarise({v: [] for v in study.variants})
    best = best_baseline(summary) if not study.reference else None
    complete = [m for by_seed in metas.values() for m in by_seed.values() if m and m.get("status") == "complete"]
    page = Page(f"AIM study report: {study.id}", f"{len(study.variants)} variants × {len(study.seeds)} seeds, "
                                                  f"status {study.status}, created {study.meta.get('created')}")
    base = study.meta.get("base_config") or {}
    page.facts([*searched(complete[0] if complete else {"dataset": {"name": study.meta.get("dataset")}}, base),
                ("variants", ", ".join(study.variants)), ("seeds", ", ".join(map(str, study.seeds))),
                ("runs complete", f"{counts['complete']} / {counts['total']}"),
                ("reference rule" if study.reference else "best baseline", study.reference or best or "none")])
    page.h2("In plain words")
    if study.kind == "fis-vs-stats":
        page.headline(plain.rules_summary_lines(summary, study.reference, study.meta.get("top"),
                                                study.meta.get("parent")))
    else:
        page.headline(plain.study_summary_lines(summary, **plain.study_inputs(study, metas, summary)))
    page.text(f"The rule behind every “better”, “worse” and “not significantly different” here (the paper's): "
              f"{rule_text(reference=f'the {study.reference.upper()} rule' if study.reference else None)}. A difference "
              "with p ≥ 0.005 is not significantly different, whatever the means show.", "note")
    page.h2("Warnings")
    page.warnings(_study_warnings(study, metas), _study_checked(study, counts))
    if study.kind == "fis-vs-stats":
        page.h2("Top pairs by the gates (FIS) against top pairs by statistics AUC (paper §4.4.2)")
        rules = analysis.rules_table(summary, study.meta.get("selections") or {}, len(study.seeds))
        if "pairs" in rules.columns:  # break the long lists after their commas
            rules["pairs"] = rules["pairs"].astype(str).str.replace(",", ", ")
        page.table(rules, {"p (AUC)": "{:.2g}", "p (log loss)": "{:.2g}"}, wrap=("pairs",))
        page.text(f"Each rule's {study.meta.get('top')} pairs of {study.meta.get('parent')} re-trained with its "
                  f"settings and full embedding sizes; p: {rule_text(reference=f'the {study.reference.upper()} rule')}. "
                  "The same numbers as python -m aim table.", "note")
        page.figure(analysis.rules_figure(summary, values))
        add_glossary(page)
        return page.html()

    page.h2("Results against the baselines")
    page.table(_accuracy_table(summary, len(study.seeds), best), {"p (AUC)": "{:.2g}", "p (log loss)": "{:.2g}"})
    page.text(f"Test AUC (higher is better) and log loss (lower is better): mean ± sample std over the complete runs "
              f"(column runs). p: against the best baseline ({best or 'none'}); rule: {rule_text()}; * / † mark a "
              "variant significantly better / worse than it. The same numbers as python -m aim table.", "note")
    if note := settings_note(list(summary["variant"])):
        page.text(note, "note")
    page.figure(analysis.study_metric_figure(summary, values, "auc"))
    page.figure(analysis.study_metric_figure(summary, values, "logloss"))
    transfer = analysis.transfer_table(summary, values)
    if not transfer.empty:
        page.text("The plain models trained on the interactions AIM selected (paper Table 10). Δ: transfer minus its "
                  f"plain model. p: the transfer variant's p of the results table, against the best baseline "
                  f"({best or 'none'}) as every p here, so each variant has one p-value.")
        page.table(transfer, {c: "{:.4f}" for c in transfer.columns if c not in ("model", "transfer")}
                   | {c: "{:.2g}" for c in transfer.columns if c.startswith("p (")})
        page.figure(analysis.transfer_figure(summary))

    page.h2("Size and timings")
    page.table(_complexity_table(summary, len(study.seeds)),
               {"train s/epoch": "{:.2f}", "infer s/100k": "{:.3f}", "train s": "{:.0f}"}
               | {f"FI ratio order {c[len(FI_PREFIX):]}": "{:.1%}" for c in summary.columns if c.startswith(FI_PREFIX)})
    page.text("Parameters: means over the seeds, shown rounded (each seed's count is whole; EDS keeps a different "
              "number per seed). EDS cut: the share of the variant's own parameters EDS removed; no EDS: the variant "
              "does not search embedding dimensions. × DeepFM: the final size against DeepFM's. " + TIMING_NOTE,
              "note")

    page.h2("What was kept")
    page.figure(analysis.fi_ratio_figure(summary))
    variant = plain.aim_variant(summary)
    if variant is None:
        page.text("No AIM variant of this study has a complete run, so there are no kept interactions to show.")
        add_glossary(page)
        return page.html()
    runs = {}
    for seed, meta in metas[variant].items():
        if meta and meta.get("status") == "complete":
            try:
                runs[seed] = load_run(study.runs[variant][seed])
                runs[seed].load_tables()
            except RunFormatError as exc:
                page.text(f"{variant} seed {seed} cannot be read: {exc}", "warn")
                runs.pop(seed, None)
    if not runs:
        add_glossary(page)
        return page.html()
    inters = {s: r.interactions for s, r in runs.items() if r.interactions is not None}
    kept = plain.kept_table(inters)
    page.text(f"The interactions {variant} kept over its {len(runs)} complete seeds, the most seeds first: one kept "
              "on every seed is a robust finding, one kept on a single seed may be chance. |α|: how much the model "
              "uses it; statistics AUC: how well it alone predicts the label.")
    page.table(kept, {"mean |α| when kept": "{:.4f}", "statistics AUC": "{:.4f}"}, wrap=("functions kept (seeds)",))
    if note := run_summary.inverse_stats_note(dict(zip(kept["interaction"], kept["statistics AUC"], strict=True))):
        page.text(note, "note")
    first = min(runs)
    inter = runs[first].interactions
    if inter is not None and analysis.has_alpha(inter):
        page.figure(analysis.alpha_scatter(analysis.alpha_points(inter, per="interaction"),
                                           title=f"One seed as an example ({variant} seed {first}): |α| vs "
                                                 "statistics AUC per interaction"))
    freq = analysis.function_frequency_by_run({f"seed {s}": r.interactions for s, r in runs.items()
                                               if r.interactions is not None})
    page.figure(analysis.function_frequency_figure(freq, by="run", title=f"{variant}: interaction functions the "
                                                                         "kept interactions use, per seed"))
    page.text(f"{variant}'s parameters per seed (EDS keeps a different number of dimensions on each seed; the results "
              "table shows their mean):")
    page.table(_seed_params(runs))
    sizes = analysis.embedding_sizes_by_run({f"seed {s}": r.fields for s, r in runs.items() if r.fields is not None})
    if not sizes.empty:
        page.figure(analysis.embedding_sizes_figure(sizes).update_layout(title=f"{variant}: embedding dimensions "
                                                                               "kept per field, per seed"))
        wide = sizes.pivot(index="name", columns="run", values="dims_kept").reindex(list(dict.fromkeys(sizes["name"])))
        vocab = sizes.drop_duplicates("name").set_index("name")["vocab_size"].map(fmt_int)
        wide.insert(0, "vocabulary", vocab.reindex(wide.index))
        page.table(wide.rename_axis(None, axis=1).reset_index().rename(columns={"name": "field"}))
    add_glossary(page)
    return page.html()
