"""A stakeholder report of a run or a study as ONE self-contained HTML file (``python -m aim report``).

What was searched (dataset, rows, fields, variant, orders, functions), what was kept (interactions per order and
FI ratio, the top interactions by |α| with their function and statistics AUC, embedding dimensions per field),
the parameters EDS saved, the results against the baselines (a study: ``aim.study`` summary, the numbers of
``python -m aim table``) and every warning (runs not complete, folders gone, a run's ``warnings``). The tables and
charts are those of ``aim.analysis``; plotly.js is inlined once, so the charts stay interactive offline and the
file needs no server. Pure: no Streamlit; ``report_html`` gives the page as a string for a download button.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from aim import analysis
from aim.analysis import summary as plain
from aim.analysis.studies import eds_cut
from aim.errors import ConfigError, OutputError, RunFormatError
from aim.fileio import os_problem
from aim.runs import RUN_FILE, Run, load_run
from aim.study import FI_PREFIX, STUDY_FILE, Study, best_baseline, is_study, load_study, summarise
from aim.study.stats import rule_text, verdict

TOP_INTERACTIONS = 15
FIGURE_CONFIG = {"displaylogo": False, "responsive": True}
STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;max-width:1100px;margin:2em auto;
padding:0 1.5em;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.1em}h2{margin-top:2em;border-bottom:1px solid #ddd;padding-bottom:.2em}
.sub{color:#666;margin-top:0}.facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(200px,1fr));gap:.6em}
.fact{background:#f6f8fa;border-radius:6px;padding:.5em .8em}.fact b{display:block;font-size:1.15em}
.fact span{color:#666;font-size:.85em}.headline{font-size:1.05em;background:#eef5fc;border-radius:6px;
padding:.6em 1em .6em 2em}.headline li{margin:.3em 0}.wide{overflow-x:auto}table{border-collapse:collapse;margin:.8em 0;font-size:.9em}
th,td{border-bottom:1px solid #e5e5e5;padding:.3em .6em;text-align:right}td{white-space:nowrap}th{background:#f6f8fa}
td.wrap{white-space:normal;overflow-wrap:anywhere;text-align:left;min-width:14em}dl.glossary dt{font-weight:600;margin-top:.5em}dl.glossary dd{margin-left:1.2em;color:#333}
td:first-child,th:first-child{text-align:left}.warn{background:#fff4e5;border-left:4px solid #f0a020;
padding:.6em 1em}.ok{color:#2a7a2a}.note{color:#666;font-size:.88em}.figure{margin:1em 0}
"""


class _Page:
    """The report as it is built: HTML parts in order; every text is escaped here."""

    def __init__(self, title: str, subtitle: str):
        self.title = title
        self.parts = [f"<h1>{_e(title)}</h1><p class='sub'>{_e(subtitle)}</p>"]

    def h2(self, text: str) -> None:
        self.parts.append(f"<h2>{_e(text)}</h2>")

    def text(self, text: str, cls: str = "") -> None:
        self.parts.append(f"<p class='{cls}'>{_e(text)}</p>" if cls else f"<p>{_e(text)}</p>")

    def facts(self, items: Iterable[tuple[str, Any]]) -> None:
        cells = "".join(f"<div class='fact'><span>{_e(k)}</span><b>{_e(v)}</b></div>" for k, v in items)
        self.parts.append(f"<div class='facts'>{cells}</div>")

    def headline(self, sentences: list[str]) -> None:
        """Sentences as a list, the label of each ("Found:", "Accuracy:", ...) in bold."""
        items = "".join(f"<li><b>{_e(s.partition(': ')[0])}:</b> {_e(s.partition(': ')[2])}</li>"
                        if ": " in s and len(s.partition(": ")[0]) <= 24 else f"<li>{_e(s)}</li>" for s in sentences)
        self.parts.append(f"<ul class='headline'>{items}</ul>")

    def warnings(self, items: list[str], checked: str) -> None:
        """The warnings found, then what was checked (never a bare "no warnings")."""
        if items:
            rows = "".join(f"<li>{_e(w)}</li>" for w in items)
            self.parts.append(f"<div class='warn'><b>Warnings</b><ul>{rows}</ul></div>")
            self.parts.append(f"<p class='note'>Checked: {_e(checked)}</p>")
        else:
            self.parts.append(f"<p class='ok'>Nothing to report. Checked: {_e(checked)}</p>")

    def glossary(self, items: Iterable[tuple[str, str]]) -> None:
        rows = "".join(f"<dt>{_e(t)}</dt><dd>{_e(d)}</dd>" for t, d in items)
        self.parts.append(f"<dl class='glossary'>{rows}</dl>")

    def table(self, df: pd.DataFrame, formats: Mapping[str, str] | None = None, wrap: Iterable[str] = ()) -> None:
        """``df`` as an HTML table; ``formats``: column -> format spec ("{:.4f}") for its numbers; ``wrap``: the
        columns whose cells may wrap (long lists), so the table fits the page."""
        shown = df.copy()
        for col, spec in (formats or {}).items():
            if col in shown.columns:
                shown[col] = [_fmt(v, spec) for v in shown[col]]
        table = shown.to_html(index=False, escape=True, na_rep="–", border=0)
        for i in [list(shown.columns).index(c) for c in wrap if c in shown.columns]:
            table = _wrap_column(table, i)
        self.parts.append("<div class='wide'>" + table + "</div>")

    def figure(self, fig: go.Figure) -> None:
        fig.update_layout(dragmode="zoom")  # the app's lasso selects rows of a table the report does not have
        self.parts.append("<div class='figure'>" + fig.to_html(full_html=False, include_plotlyjs=False,
                                                               config=FIGURE_CONFIG) + "</div>")

    def html(self) -> str:
        # plotly.js inlined once (the same script as include_plotlyjs=True): the file works offline.
        return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{_e(self.title)}</title>"
                f"<style>{STYLE}</style><script type='text/javascript'>{get_plotlyjs()}</script></head><body>"
                + "\n".join(self.parts) + "</body></html>\n")


def _e(value: Any) -> str:
    return html.escape(str(value))


def _wrap_column(table: str, index: int) -> str:
    """Mark the ``index``-th cell of every body row of an HTML table (``DataFrame.to_html``) ``class='wrap'``."""
    rows = table.split("<tr>")
    for i, row in enumerate(rows):
        cells = row.split("<td>")
        if len(cells) > index + 1:
            rows[i] = cells[0] + "".join(("<td class='wrap'>" if j == index else "<td>") + c
                                         for j, c in enumerate(cells[1:]))
    return "<tr>".join(rows)


def _fmt(value: Any, spec: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    try:
        text = spec.format(value)
    except (TypeError, ValueError):
        return str(value)
    # a value that rounds to zero is 0, never "-0.0000"
    return text[1:] if text.startswith("-") and not any(c in "123456789" for c in text) else text


GLOSSARY_KEYS = ("auc", "logloss", "pm", "p_value", "best_baseline", "variant", "fis", "ifs", "eds", "no_eds",
                 "params", "fi_ratio", "alpha", "stats_auc", "transfer", "seeds")


def _plain(markdown: str) -> str:
    """A glossary text of the app (Markdown: **bold**, *italics*, `code`, an escaped \\*) as plain text."""
    text = markdown.replace("**", "").replace("`", "").replace("\\*", "\0")
    return re.sub(r"\*([^*]+)\*", r"\1", text).replace("\0", "*")


def _glossary(page: _Page, keys: Iterable[str] = GLOSSARY_KEYS) -> None:
    """The words of the report explained, in the app's own texts (aim/glossary.py), plus the table marks."""
    from aim.glossary import TERMS

    page.h2("Glossary")
    items = [(TERMS[k].term, _plain(TERMS[k].text)) for k in keys if k in TERMS]
    items.insert(4, ("* / †", "In a results table: significantly better / worse than the best baseline under the "
                              f"rule ({rule_text()}). No mark: not significantly different."))
    page.glossary(items)


def _int(value: Any) -> str:
    return f"{int(round(value)):,}" if isinstance(value, int | float) and math.isfinite(value) else "–"


# ---------------------------------------------------------------------------------------------- entry points

def report_html(path: str | Path) -> str:
    """The report of the run or study folder ``path`` as one HTML page; ``ConfigError`` naming ``path`` when it
    is neither, ``RunFormatError`` when it is one that cannot be read."""
    path = Path(path)
    if is_study(path):
        return study_report(load_study(path))
    if (path / RUN_FILE).is_file():
        return run_report(load_run(path))
    what = "no such folder" if not path.exists() else "not a folder" if not path.is_dir() else \
        f"has neither {RUN_FILE} nor {STUDY_FILE}"
    raise ConfigError(f"{path}: {what}; expected a run folder (with {RUN_FILE}, made by python -m aim run) or a "
                      f"study folder (with {STUDY_FILE}, made by python -m aim study)")


def write_report(path: str | Path, out: str | Path) -> Path:
    """Write ``report_html(path)`` to the file ``out`` (its folder is created); returns ``out``."""
    page = report_html(path)
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise OutputError(out, f"cannot be written: {os_problem(exc)}") from None
    return out


# ----------------------------------------------------------------------------------------------------- a run

def _searched(meta: Mapping, config: Mapping) -> list[tuple[str, Any]]:
    """Dataset, rows, fields, orders and functions of a run's (or a study's base) config and data summary."""
    data = meta.get("dataset") or {}
    rows = data.get("rows") or {}
    search = config.get("search") or {}
    orders = range(2, int(config.get("max_order") or 2) + 1)
    return [("dataset", data.get("name") or config.get("dataset", "?")),
            ("rows (train / valid / test)", " / ".join(_int(rows.get(k)) for k in ("train", "valid", "test"))
             if rows else "–"),
            ("fields", len(data.get("fields") or []) or "–"),
            ("orders searched", ", ".join(map(str, orders))),
            ("interaction functions", str(search.get("functions", "–")).replace(",", ", ")),
            ("embedding size d", (config.get("model") or {}).get("embed_dim", "–"))]


def _run_warnings(meta: Mapping, label: str = "") -> list[str]:
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
    return pd.DataFrame({"field": fields["name"], "vocabulary": fields["vocab_size"].map(_int),
                         f"dimensions kept (of {dim})": fields["dims_kept"]})


def _kept_sentence(interactions: Mapping) -> str | None:
    parts = [f"{o.get('kept')} of {o.get('total')} order-{k[5:]} interactions ({_fmt(o.get('fi_ratio'), '{:.1%}')})"
             for k, o in sorted(interactions.items()) if isinstance(o, Mapping)]
    return f"The search kept {', '.join(parts)}." if parts else None


RUN_CHECKED = ("the run's status (complete) and the warnings a run records in its run.json, e.g. EDS removing every "
               "dimension of a field that a kept interaction reads, or a final model that scores below the search "
               "model on validation: none recorded")
TIMING_NOTE = ("Timings (train s/epoch, infer s/100k, train s) were measured in runs that shared the machine's cores "
               "with other runs of the study, so they are noisy: read no speed conclusion from them; the benchmark "
               "(bench/, docs/benchmarks.md) is the place for speed.")


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
    page = _Page(f"AIM report: {run.id}", f"{m.get('variant')} run, seed {m.get('seed')}, status {m.get('status')}, "
                                          f"created {m.get('created')}")
    test = (m.get("metrics") or {}).get("test") or {}
    page.facts([*_searched(m, config), ("variant", m.get("variant")), ("test AUC", _fmt(test.get("auc"), "{:.4f}")),
                ("test log loss", _fmt(test.get("logloss"), "{:.4f}"))])
    study = _study_of(run)
    inter = run.interactions
    lines = plain.run_summary_of(run, study)
    page.h2("In plain words")
    page.headline(lines)
    page.h2("Warnings")
    page.warnings(_run_warnings(m), RUN_CHECKED)

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
        if note := plain.inverse_stats_note(dict(zip(top.loc[top["kept"] == "yes", "interaction"],
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
    _glossary(page)
    return page.html()


def _reference_section(page: _Page, meta: Mapping, inter: pd.DataFrame | None) -> None:
    """|α| against the independent pair ranking (interactions.csv ``ref_score``), when the run has one."""
    if inter is None or not analysis.has_reference(inter) or not analysis.has_alpha(inter):
        return
    short = analysis.reference_method(meta, short=True)
    points = analysis.reference_points(inter)
    page.h2(f"Independent check: |α| vs {analysis.reference_method(meta)}")
    page.text(analysis.reference_summary(points, short))
    page.figure(analysis.reference_scatter(points, short))
    page.text(analysis.reference_caption(meta), "note")


# --------------------------------------------------------------------------------------------------- a study

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
                out += _run_warnings(meta, f"{variant} seed {seed}: ")
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
    out = pd.DataFrame({"variant": df["variant"], "runs": df["runs"], "params (mean)": df["params"].map(_int),
                        "after EDS (mean)": df["params after EDS"].map(_int), "EDS cut": df["EDS cut"]})
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
        rows.append({"seed": seed, "before EDS": _int(p["before_eds"]), "after EDS": _int(p["after_eds"]),
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
    page = _Page(f"AIM study report: {study.id}", f"{len(study.variants)} variants × {len(study.seeds)} seeds, "
                                                  f"status {study.status}, created {study.meta.get('created')}")
    base = study.meta.get("base_config") or {}
    page.facts([*_searched(complete[0] if complete else {"dataset": {"name": study.meta.get("dataset")}}, base),
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
        _glossary(page)
        return page.html()

    page.h2("Results against the baselines")
    page.table(_accuracy_table(summary, len(study.seeds), best), {"p (AUC)": "{:.2g}", "p (log loss)": "{:.2g}"})
    page.text(f"Test AUC (higher is better) and log loss (lower is better): mean ± sample std over the complete runs "
              f"(column runs). p: against the best baseline ({best or 'none'}); rule: {rule_text()}; * / † mark a "
              "variant significantly better / worse than it. The same numbers as python -m aim table.", "note")
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
        _glossary(page)
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
        _glossary(page)
        return page.html()
    inters = {s: r.interactions for s, r in runs.items() if r.interactions is not None}
    kept = plain.kept_table(inters)
    page.text(f"The interactions {variant} kept over its {len(runs)} complete seeds, the most seeds first: one kept "
              "on every seed is a robust finding, one kept on a single seed may be chance. |α|: how much the model "
              "uses it; statistics AUC: how well it alone predicts the label.")
    page.table(kept, {"mean |α| when kept": "{:.4f}", "statistics AUC": "{:.4f}"}, wrap=("functions kept (seeds)",))
    if note := plain.inverse_stats_note(dict(zip(kept["interaction"], kept["statistics AUC"], strict=True))):
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
        vocab = sizes.drop_duplicates("name").set_index("name")["vocab_size"].map(_int)
        wide.insert(0, "vocabulary", vocab.reindex(wide.index))
        page.table(wide.rename_axis(None, axis=1).reset_index().rename(columns={"name": "field"}))
    _glossary(page)
    return page.html()
