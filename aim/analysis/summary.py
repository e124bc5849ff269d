"""The plain-language summary of a study or a run: a few short sentences, generated from the data, that a product
manager can read alone: what was found, how sure it is (under the one significance rule of ``aim.study.stats``),
what it costs in size against DeepFM, and what to try next. The Studies page, a run's Interactions page and both
reports (``aim/report/``) put them at the top.

The study's sentence builders (``study_summary_lines``, ``rules_summary_lines``) are pure: plain text (no
Markdown), one sentence or two per item, from a study's summary table (``aim.study.summarise``), the per-seed
test AUCs and the interactions each seed kept; ``study_inputs`` reads those from the folders. A run's summary is
``aim.analysis.run_summary``; the words both use (names, numbers, the rule) are ``aim.analysis.wording``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from aim.analysis.wording import (
    PAPER_SIZE,
    SPEED_CAVEAT,
    cut,
    finite,
    listing,
    name,
    number,
    params,
    planted_sentence,
    pvalue,
    rule_words,
)
from aim.study.stats import best_baseline, ttest_pvalue, verdict

SIMPLER = ("lr", "gbdt", "fm", "deepfm")  # the models a practitioner would run instead of a searched one
RULE_NAMES = {"fis": "FIS (top pairs by the gates)", "stats": "statistics AUC (top pairs by it)",
              "random": "random pairs"}


# ---------------------------------------------------------------------------------------------- what was found

def kept_over_seeds(kept: Mapping[Any, set[str]]) -> list[tuple[int, list[str]]]:
    """``{seed: kept interaction names}`` -> ``[(k, names kept on exactly k seeds)]``, k descending, names
    sorted."""
    counts: dict[str, int] = {}
    for names in kept.values():
        for n in names:
            counts[n] = counts.get(n, 0) + 1
    groups: dict[int, list[str]] = {}
    for n, k in counts.items():
        groups.setdefault(k, []).append(n)
    return [(k, sorted(groups[k])) for k in sorted(groups, reverse=True)]


def _kept_sentence(variant: str, kept: Mapping[Any, set[str]]) -> str:
    n = len(kept)
    groups = kept_over_seeds(kept)
    if not groups:
        return f"Found: {name(variant)} kept no interaction on any of its {n} seeds."
    total = sum(len(g) for _, g in groups)
    parts = [f"{len(g)} on {'all ' + str(n) if k == n else f'{k} of {n}'} seeds ({listing(g)})" for k, g in groups]
    what = "1 interaction" if total == 1 else f"{total} different interactions"
    return (f"Found: {name(variant)} kept {what} over {n} seeds: " + "; ".join(parts) + ". "
            "An interaction kept on every seed is a robust finding; one kept on a single seed may be chance.")


# ---------------------------------------------------------------------------------------------------- accuracy

def seeds_above(a: Mapping[Any, float], b: Mapping[Any, float]) -> tuple[int, int]:
    """How many of the seeds both have a value for ``a`` is above ``b`` on, and of how many."""
    common = [s for s in a if s in b and finite(a[s]) and finite(b[s])]
    return sum(float(a[s]) > float(b[s]) for s in common), len(common)


def _accuracy(summary: pd.DataFrame, aim: str, best: str, auc_by_seed: Mapping[str, Mapping[Any, float]],
              seeds: int) -> tuple[list[str], str]:
    """The accuracy sentences of a study and its verdict for ``aim`` against ``best``."""
    s = summary.set_index("variant")
    a, b = s.loc[aim], s.loc[best]
    delta = float(a["auc_mean"]) - float(b["auc_mean"])
    word = verdict(float(a["p_auc"]) if finite(a["p_auc"]) else math.nan, delta)
    n = int(min(a["n"], b["n"]))
    numbers = (f"{name(aim)} {number(a['auc_mean'])} vs {name(best)} {number(b['auc_mean'])} test AUC "
               f"({number(delta, sign=True)}, p = {pvalue(a['p_auc'])}): {word} under the rule "
               f"({rule_words(n)})")
    kind = "a simpler model" if best in SIMPLER else "a baseline without any search"
    if word == "significantly better":
        first = f"Accuracy: {name(aim)} beats the best baseline, {name(best)}. {numbers}."
    elif word == "significantly worse":
        first = f"Accuracy: {name(best)}, {kind}, beats {name(aim)}. {numbers}."
    else:
        first = f"Accuracy: {name(best)}, {kind}, is as good as {name(aim)} here. {numbers}."
    out = [first]
    if word == "not significantly different" and number(delta) != "0.0000":
        above, common = seeds_above(auc_by_seed.get(aim, {}), auc_by_seed.get(best, {}))
        higher = delta > 0
        seeds_part = (f" and it is {'above' if higher else 'below'} {name(best)} on "
                      f"{above if higher else common - above} of {common} seeds" if common else "")
        out.append(f"What is still visible: {name(aim)}'s mean is {number(abs(delta))} "
                   f"{'higher' if higher else 'lower'}{seeds_part}, but under the rule that is not enough to call it "
                   f"{'better' if higher else 'worse'}.")
    others, compared = [], 0
    for variant, r in s.iterrows():
        if variant in (aim, best) or not finite(r["p_auc"]) or not r["n"]:
            continue
        compared += 1
        d = float(r["auc_mean"]) - float(b["auc_mean"])
        w = verdict(float(r["p_auc"]), d)
        if w != "not significantly different":
            others.append(f"{name(str(variant))} ({w.split()[1]}, {number(d, sign=True)}, p = {pvalue(r['p_auc'])})")
    if compared:
        out.append(f"Other variants: significantly different from {name(best)}: {listing(others)}." if others
                   else f"Other variants: none is significantly different from {name(best)}.")
    return out, word


PRACTITIONER = ("lr", "gbdt")  # the models a practitioner tries before any deep CTR model


def _practitioner(summary: pd.DataFrame, aim: str, best: str | None,
                  auc_by_seed: Mapping[str, Mapping[Any, float]]) -> tuple[list[str], list[str]]:
    """One sentence on AIM against logistic regression and boosted trees, each tested directly (the same
    t-test and threshold as the rule, AIM's seeds against theirs), unless that model is the best baseline (the
    accuracy sentence already speaks of it); and the ones that tie with AIM or beat it."""
    s = summary.set_index("variant")
    parts, level = [], []
    for variant in PRACTITIONER:
        if variant == best or variant not in s.index or not s.loc[variant, "n"]:
            continue
        a, b = auc_by_seed.get(aim, {}), auc_by_seed.get(variant, {})
        p = ttest_pvalue(list(a.values()), list(b.values()))
        delta = float(s.loc[aim, "auc_mean"]) - float(s.loc[variant, "auc_mean"])
        word = verdict(p, delta)
        parts.append(f"{name(variant)} {number(s.loc[variant, 'auc_mean'])}, {name(aim)} {number(delta, sign=True)} "
                     f"(p = {pvalue(p)}): {name(aim)} {word.replace('different', 'different from it')}"
                     .replace(f"{name(aim)} significantly", f"{name(aim)} is significantly")
                     .replace(f"{name(aim)} not", f"{name(aim)} is not"))
        if word != "significantly better":
            level.append(variant)
    if not parts:
        return [], []
    return [f"Simplest models: {'; '.join(parts)} (the models a practitioner tries first, each tested directly: "
            f"the same t-test and threshold, {name(aim)}'s seeds against theirs)."], level


def _winners(summary: pd.DataFrame, aim: str, best: str) -> list[str]:
    """The searched variants other than ``aim`` significantly better than ``best``, best first."""
    from aim.analysis.studies import variant_kind

    s = summary.set_index("variant")
    out = []
    for variant, r in s.sort_values("auc_mean", ascending=False).iterrows():
        if variant in (aim, best) or variant_kind(str(variant)) != "aim" or not finite(r["p_auc"]):
            continue
        if verdict(float(r["p_auc"]), float(r["auc_mean"]) - float(s.loc[best, "auc_mean"])) == "significantly better":
            out.append(str(variant))
    return out


# -------------------------------------------------------------------------------------------------------- size

def _size(summary: pd.DataFrame, aim: str, seeds_word: str = "") -> list[str]:
    s = summary.set_index("variant")
    r = s.loc[aim]
    after, before = r.get("params_after_eds"), r.get("params_before_eds")
    if not finite(after):
        return []
    has_eds = finite(before) and float(before) != float(after)
    eds = (f" EDS cut {name(aim)}'s own model from {params(before)} to {params(after)} parameters "
           f"({cut(before, after)}): that is against {name(aim)} without EDS, not against DeepFM."
           if has_eds else f" {name(aim)} has no EDS (embedding dimension search), so nothing was cut.")
    if "deepfm" in s.index and finite(s.loc["deepfm", "params_after_eds"]):
        dp = float(s.loc["deepfm", "params_after_eds"])
        ratio = float(after) / dp
        out = [f"Size: {name(aim)}'s final model has {params(after)} parameters{seeds_word}, {ratio:.2f}× "
               f"DeepFM's {params(dp)}; {PAPER_SIZE}." + eds]
        ai, di = r.get("infer_seconds_per_100k"), s.loc["deepfm", "infer_seconds_per_100k"]
        if finite(ai) and finite(di):
            out.append(f"Speed: scoring 100,000 rows took {float(ai):.2f} s with {name(aim)} and {float(di):.2f} s "
                       f"with DeepFM, {SPEED_CAVEAT}.")
        return out
    return [f"Size: {name(aim)}'s final model has {params(after)} parameters{seeds_word}; this study has no DeepFM to "
            f"compare it with; for scale, {PAPER_SIZE}." + eds]


# ----------------------------------------------------------------------------------------------------- a study

def aim_variant(summary: pd.DataFrame) -> str | None:
    """The AIM variant a summary speaks of: ``aim`` when it has complete runs, else the searched variant (not a
    baseline, not a transfer) with the highest mean test AUC."""
    from aim.analysis.studies import variant_kind

    rows = summary[(summary["n"] > 0) & (summary["variant"].map(variant_kind) == "aim")]
    if rows.empty:
        return None
    if "aim" in set(rows["variant"]):
        return "aim"
    return str(rows.loc[rows["auc_mean"].idxmax(), "variant"])


def study_summary_lines(summary: pd.DataFrame, auc_by_seed: Mapping[str, Mapping[Any, float]],
                        kept: Mapping[Any, set[str]] | None = None, planted: Sequence[Mapping] = (),
                        ) -> list[str]:
    """The summary of a variants study: ``summary`` (``summarise``: p-values against the best baseline),
    ``auc_by_seed`` (variant -> seed -> test AUC of the complete runs), ``kept`` (seed -> interaction names kept
    by the AIM variant's run of that seed; None: unknown), ``planted`` (the ``planted`` dicts of those runs).

    Order: what was found, accuracy, size, next; but when a baseline ties with AIM or beats it, the accuracy
    sentences come first, so that is the first thing read."""
    aim = aim_variant(summary)
    best = best_baseline(summary)
    if aim is None:
        return ["Found: no AIM variant of this study has a complete run yet, so there is nothing to summarise."]
    found = [_kept_sentence(aim, kept)] if kept is not None else []
    if line := planted_sentence(planted):
        found.append(line)
    if best is None:
        accuracy = [f"Accuracy: {name(aim)} test AUC {number(summary.set_index('variant').loc[aim, 'auc_mean'])}; "
                    "no baseline of this study has a complete run, so it is compared with nothing."]
        word = ""
    else:
        accuracy, word = _accuracy(summary, aim, best, auc_by_seed, int(summary.set_index("variant").loc[aim, "n"]))
    practitioner, level = _practitioner(summary, aim, best, auc_by_seed)
    accuracy += practitioner
    out = found + accuracy if word in ("", "significantly better") and not level else accuracy + found
    n = int(summary.set_index("variant").loc[aim, "n"])
    out += _size(summary, aim, f" (mean over {n} seeds)" if n > 1 else "")
    winners = _winners(summary, aim, best) if best else []
    out.append(_next(aim, best, word, kept, winners, level, _size_ratio(summary, best, aim) if best else None))
    return out


def _size_ratio(summary: pd.DataFrame, variant: str, of: str) -> float | None:
    """``variant``'s final parameters over ``of``'s (means over the seeds), or None where either is unknown."""
    s = summary.set_index("variant")
    if "params_after_eds" not in s.columns:
        return None
    a, b = s.loc[variant, "params_after_eds"], s.loc[of, "params_after_eds"]
    return float(a) / float(b) if finite(a) and finite(b) and float(b) > 0 else None


def _next(aim: str, best: str | None, word: str, kept: Mapping[Any, set[str]] | None, winners: list[str],
          level: Sequence[str] = (), larger: float | None = None) -> str:
    also = (f" {listing([name(v) for v in level])}, which need{'s' if len(level) == 1 else ''} no deep model, "
            f"{'is' if len(level) == 1 else 'are'} not significantly worse than {name(aim)} either: "
            "weigh them first.") if level else ""
    return _next_step(aim, best, word, kept, winners, larger) + also


def _next_step(aim: str, best: str | None, word: str, kept: Mapping[Any, set[str]] | None,
               winners: list[str], larger: float | None = None) -> str:
    if kept is not None and kept and not any(kept.values()):
        return f"Next: {name(aim)} kept no interaction; try more rows."
    if best is None:
        return (f"Next: add the baselines (python -m aim study --variants fm,deepfm,ipnn,{aim}) to compare with "
                "them.")
    if word == "significantly better":
        return ("Next: re-train the kept interactions in your production model (the transfer variants "
                "deepfm-transfer / ipnn-transfer, python -m aim study --transfer-from AIM_RUN_DIR).")
    if winners:
        return (f"Next: {winners[0]}, significantly better than {name(best)} here, is the variant to try; re-train its "
                "kept interactions in your production model, or re-run with more seeds to confirm.")
    if best in SIMPLER:
        return f"Next: use the simpler {name(best)}, or re-run with more seeds or more data to tell the two apart."
    if word == "not significantly different" and larger is not None and larger > 1:
        return (f"Next: {name(best)} ties {name(aim)} with {larger:.2f}× its parameters: keep the smaller "
                f"{name(aim)}, or re-run with more seeds or more data to tell the two apart.")
    return f"Next: use {name(best)}, or re-run with more seeds or more data to tell the two apart."


def rules_summary_lines(summary: pd.DataFrame, reference: str, top: Any = None, parent: str = "") -> list[str]:
    """The summary of a fis-vs-stats study: each rule's re-trained pairs against the ``reference`` rule's."""
    s = summary.set_index("variant")
    if reference not in s.index or not finite(s.loc[reference, "auc_mean"]):
        return [f"Found: the {name(reference)} rule has no complete run yet, so there is nothing to compare."]
    ref = s.loc[reference]
    rules = [RULE_NAMES.get(str(v), str(v)) for v in s.index]
    out = [f"Found: the {top or 'N'} pairs each rule picks from {parent or 'the parent run'} were re-trained with the "
           f"same settings over {int(ref['n'])} seeds; rules: {listing(rules)}."]
    words = []
    for variant, r in s.iterrows():
        if variant == reference or not r["n"]:
            continue
        delta = float(ref["auc_mean"]) - float(r["auc_mean"])
        word = verdict(float(r["p_auc"]) if finite(r["p_auc"]) else math.nan, delta)
        words.append(word)
        out.append(f"Accuracy: {RULE_NAMES.get(reference, reference)} {number(ref['auc_mean'])} vs "
                   f"{RULE_NAMES.get(str(variant), str(variant))} {number(r['auc_mean'])} test AUC "
                   f"({number(delta, sign=True)}, p = {pvalue(r['p_auc'])}): {word} under the rule "
                   f"({rule_words(int(min(r['n'], ref['n'])), f'the {reference.upper()} rule')}).")
    if words and all(w == "not significantly different" for w in words):
        out.append("Next: the rules tie here; more seeds (or a larger N) would be needed to tell them apart.")
    return out


# ------------------------------------------------------------------------------------------- reading the inputs

def study_inputs(study: Any, metas: Mapping[str, Mapping[int, Mapping | None]], summary: pd.DataFrame
                 ) -> dict[str, Any]:
    """``auc_by_seed``, ``kept`` and ``planted`` of ``study_summary_lines`` from a study (``aim.study.Study``)
    and its recorded metas; ``kept`` is None when the AIM variant's runs' interaction tables cannot be read."""
    from aim.analysis.compare import kept_interactions
    from aim.errors import RunFormatError
    from aim.runs import load_run

    auc: dict[str, dict[int, float]] = {}
    for variant, by_seed in metas.items():
        for seed, meta in by_seed.items():
            if meta and meta.get("status", "complete") == "complete":
                v = ((meta.get("metrics") or {}).get("test") or {}).get("auc")
                if finite(v):
                    auc.setdefault(variant, {})[seed] = float(v)
    aim = aim_variant(summary)
    kept: dict[int, set[str]] | None = {}
    planted = []
    for seed, meta in (metas.get(aim) or {}).items() if aim else ():
        if not meta or meta.get("status", "complete") != "complete":
            continue
        path = (study.runs.get(aim) or {}).get(seed)
        try:
            run = load_run(path)
            run.load_tables()
        except (RunFormatError, OSError, TypeError):
            kept = None
            break
        if run.interactions is None:
            kept = None
            break
        kept[seed] = kept_interactions(run.interactions)
        if meta.get("planted"):
            planted.append(meta["planted"])
    return {"auc_by_seed": auc, "kept": kept or None, "planted": planted}


# ------------------------------------------------------------------------------------ kept interactions over seeds

def kept_table(inters: Mapping[Any, pd.DataFrame]) -> pd.DataFrame:
    """The interactions an AIM variant kept over its seeds (``{seed: interactions table}``): one row per
    interaction kept on any seed, the most seeds first (then the largest mean |α|): interaction, order,
    ``kept on`` ("5 of 5 seeds"), the functions kept (how many seeds keep each), the mean |α| over the seeds
    that keep it and the statistics AUC (a property of the data split, the same on every seed: its mean)."""
    from aim.analysis.interactions import alpha_points

    n = len(inters)
    rows: dict[str, dict] = {}
    for inter in inters.values():
        if inter is None or inter.empty:
            continue
        points = alpha_points(inter, per="interaction")
        for p in points[points["kept"] == 1].itertuples(index=False):
            r = rows.setdefault(str(p.field_names), {"order": int(p.order), "seeds": 0, "alpha": [], "auc": [],
                                                     "functions": {}})
            r["seeds"] += 1
            r["alpha"].append(float(p.abs_alpha))
            if finite(p.stats_auc):
                r["auc"].append(float(p.stats_auc))
            for f in str(p.functions_kept).split(", "):
                if f:
                    r["functions"][f] = r["functions"].get(f, 0) + 1
    out = [{"interaction": k, "order": r["order"], "kept on": f"{r['seeds']} of {n} seeds", "_seeds": r["seeds"],
            "functions kept (seeds)": ", ".join(f"{f} ({c})" for f, c in sorted(r["functions"].items(),
                                                                                  key=lambda x: (-x[1], x[0]))),
            "mean |α| when kept": sum(r["alpha"]) / len(r["alpha"]),
            "statistics AUC": sum(r["auc"]) / len(r["auc"]) if r["auc"] else math.nan} for k, r in rows.items()]
    df = pd.DataFrame(out, columns=["interaction", "order", "kept on", "_seeds", "functions kept (seeds)",
                                    "mean |α| when kept", "statistics AUC"])
    df = df.sort_values(["_seeds", "mean |α| when kept"], ascending=[False, False], kind="stable")
    return df.drop(columns="_seeds").reset_index(drop=True)
