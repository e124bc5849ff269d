"""The plain-language summary box (``aim/analysis/summary.py``, ``run_summary.py``) at the top of the Studies and Interactions pages."""

from __future__ import annotations

import streamlit as st

from aim import analysis
from aim.analysis import run_summary as sentences
from aim.study.tokens import token_of
from app import ui


def markdown_safe(text: str) -> str:
    """Plain text shown through st.markdown: the characters Markdown would read as emphasis, code or math,
    escaped."""
    for ch in "\\*_`[]$<>":
        text = text.replace(ch, "\\" + ch)
    return text


def _bullet(line: str) -> str:
    """A summary sentence as a Markdown bullet, its label ("Found:", "Accuracy:", ...) in bold."""
    label, sep, rest = line.partition(": ")
    if sep and len(label) <= 24 and label[:1].isupper():
        return f"- **{markdown_safe(label)}:** {markdown_safe(rest)}"
    return f"- {markdown_safe(line)}"


def summary_box(lines: list[str], rule: str | None = None, note: str | None = None) -> None:
    """``lines`` as a bulleted "In plain words" box; ``rule``: the significance rule, said under it; ``note``: one
    more remark under it."""
    with st.container(border=True, key="plain_words"):
        st.markdown("**In plain words**\n\n" + "\n".join(_bullet(line) for line in lines))
        if rule:
            st.caption(markdown_safe(f"The rule behind every “better”, “worse” and “not significantly different” "
                                     f"(the paper's): {rule}."))
        if note:
            st.caption(markdown_safe(note))


def run_summary(run, inter) -> None:
    """The summary box of one run (``inter``: its interaction table), its size against the DeepFM of the study the
    run is part of, when the app has that study."""
    data = ui.loaded()
    study = data.studies.get(data.study_of.get(run.id, ""))
    variant = token_of(run.meta.get("config") or {"variant": run.meta.get("variant")})
    note = None
    if analysis.has_alpha(inter):  # the scatter below shows kept pairs of statistics AUC < 0.5: said once, here
        points = analysis.alpha_points(inter, per="interaction")
        kept = points[points["kept"] == 1]
        note = sentences.inverse_stats_note(dict(zip(kept["field_names"], kept["stats_auc"], strict=True)))
    summary_box(sentences.run_summary_lines(run.meta, sentences.kept_by_order(inter),
                                            sentences.study_params(study) if study else None,
                                            study.id if study else None,
                                            sentences.study_params(study, variant) if study else None), note=note)


def size_caption(run) -> None:
    """One caption: the run's final parameters against DeepFM's (of the run's study) and the paper's 1.31×, beside
    what EDS cut, so the cut is not read as a cut against DeepFM (the Embedding dimensions page)."""
    data = ui.loaded()
    study = data.studies.get(data.study_of.get(run.id, ""))
    variant = token_of(run.meta.get("config") or {"variant": run.meta.get("variant")})
    lines = sentences.run_summary_lines(run.meta, None, sentences.study_params(study) if study else None,
                                        study.id if study else None,
                                        sentences.study_params(study, variant) if study else None)
    size = [line for line in lines if line.startswith("Size:")]
    if size:
        st.caption(markdown_safe(size[0]))
