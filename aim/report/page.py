"""The HTML of a report (``aim.report``): one self-contained page built part by part, every text escaped; plotly.js
inlined once, so the charts stay interactive offline; the formats of its numbers and its glossary."""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from aim.study.stats import rule_text

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


class Page:
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
                shown[col] = [fmt(v, spec) for v in shown[col]]
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


def fmt(value: Any, spec: str) -> str:
    """A number of a report in ``spec`` ("{:.4f}"); "–" for a missing one, never "-0.0000"."""
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


def add_glossary(page: Page, keys: Iterable[str] = GLOSSARY_KEYS) -> None:
    """The words of the report explained, in the app's own texts (aim/glossary.py), plus the table marks."""
    from aim.glossary import TERMS

    page.h2("Glossary")
    items = [(TERMS[k].term, _plain(TERMS[k].text)) for k in keys if k in TERMS]
    items.insert(4, ("* / †", "In a results table: significantly better / worse than the best baseline under the "
                              f"rule ({rule_text()}). No mark: not significantly different."))
    page.glossary(items)


def fmt_int(value: Any) -> str:
    """A count (or a mean of counts) as a whole number with thousands separators; "–" when it is not a number."""
    return f"{int(round(value)):,}" if isinstance(value, int | float) and math.isfinite(value) else "–"
