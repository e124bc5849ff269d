"""Start here: what AIM does, the user's own newest runs and studies (the quick start's run among them) with a link
to each, the shipped runs under their friendly names with a link to the view that shows each best, and the
glossary the other pages' tooltips come from."""

from pathlib import Path

import streamlit as st

from aim import analysis, variants
from aim.runs import read_progress
from app import access, glossary, shipped, ui

PIPELINE = """digraph {
  rankdir=LR; bgcolor="transparent";
  node [shape=box, style="rounded,filled", fillcolor="#eef3fb", color="#1f77b4", fontname="sans-serif", fontsize=11];
  edge [color="#555"];
  data [label="CTR data\\n(fields → embeddings)", fillcolor="#f4f4f4", color="#888"];
  a [label="1. search interaction-IF\\nFIS + IFS: GRDA on gates α"];
  h [label="higher orders (optional)\\ntriples from kept pairs", style="rounded,dashed"];
  b [label="2. search embed\\nEDS: GRDA on gates β"];
  c [label="3. re-train\\nthe selected model, Adam"];
  run [label="run folder\\nα, β, metrics, history", fillcolor="#f4f4f4", color="#888"];
  data -> a -> h -> b -> c -> run;
}"""
# a first tour: (shipped name, page, what to look at); steps whose run is not shipped are left out
TOUR = [("synthetic-order3", "views/interactions.py",
         "**Does the search find the truth?** Synthetic data with planted pairs: the red rings are the planted "
         "interactions, and the kept ones (blue) sit at high statistics AUC (paper Fig. 7)."),
        ("frappe-study", "views/studies.py",
         "**Does AIM beat the baselines?** Frappe, 5 seeds of every variant: mean ± std, t-tests against the best "
         "baseline, parameters and time (paper Tables 3-10)."),
        ("frappe-order3", "views/embeddings.py",
         "**What did EDS prune?** Dimensions kept per field against its vocabulary size (paper Table 6).")]
YOURS_SHOWN = 3  # the user's newest runs (and studies) listed on this page; the rest are on Runs
BEST_VIEW = {"run": ("views/interactions.py", "run", "α vs statistics AUC (Fig. 7)"),
             "study": ("views/studies.py", "study", "ablation table over seeds")}


def study_size(sid: str) -> str:
    study = data.studies[sid]
    return f"{len(study.variants)} variants × {len(study.seeds)} seeds"


def test_auc(meta: dict) -> str | None:
    """The run's test AUC, and what a reader must know before opening it: its warnings, a search that kept nothing
    (its Fig. 7 has no kept point)."""
    auc = ((meta.get("metrics") or {}).get("test") or {}).get("auc")
    if not isinstance(auc, int | float):
        return None
    notes = []
    kept = [v.get("kept") for k, v in (meta.get("interactions") or {}).items() if isinstance(v, dict)]
    searched = variants.of_token(meta.get("variant"))
    if searched is not None and searched.searches and kept and not any(kept):
        notes.append("kept no interaction")
    warned = len(analysis.run_warnings(meta))
    if warned:
        notes.append(f"⚠ {warned} warning{'s' if warned > 1 else ''}")
    return " · ".join([f"test AUC {auc:.4f}", *notes])


def headline(item: shipped.Shipped) -> str:
    """The number that says most about a shipped folder: a run's test AUC, a study's size."""
    if item.kind == "study":
        return study_size(item.folder)
    run = data.runs[item.folder]
    return test_auc(run.meta) or run.status


def link_row(widths: list[float], page: str, label: str, query: dict[str, str], tip: str, text: str,
             caption: str) -> None:
    """One line of a list: a link to ``page`` with ``query``, what it is, and its headline."""
    c1, c2, c3 = st.columns(widths, vertical_alignment="center")
    c1.page_link(page, label=label, icon=":material/open_in_new:", query_params=query, help=tip)
    c2.markdown(text)
    c3.caption(caption)


def on_data(dataset: str | None, config: dict | None) -> str:
    """``csv (numeric.csv)``: the dataset and, when it does not say it already, the data file or folder it read
    (every CSV run and study is dataset ``csv``; the file tells them apart)."""
    name = Path(str((config or {}).get("data_path") or "")).name
    return f"{dataset or '?'}" + (f" ({name})" if name and name != dataset else "")


def run_line(rid: str, ended: dict[str, str]) -> tuple[str, str]:
    """A user's run in one line (what it ran, when) and its headline (test AUC, else its state or progress)."""
    run = data.runs[rid]
    progress = read_progress(run.path) if run.status == "running" else None
    row = analysis.run_row(run.meta, progress, job_ended=ended.get(rid))
    what = f"{on_data(row['dataset'], run.meta.get('config'))} · {row['variant'] or '?'} · seed {row['seed']}"
    head = test_auc(run.meta) or row["progress"] or row["status"]
    finished = run.meta.get("finished") or run.meta.get("finished_at")
    when = f"finished {ui.age(finished)}" if run.status == "complete" and finished else \
        f"started {ui.age(run.meta.get('created'))}"
    return f"{what} · {when}", head


def your_runs() -> None:
    """The newest runs and studies of the user's folders, first on the page: the quick start's run is the thing a
    new user opens the app to see. Nothing when they hold none."""
    mine = [rid for rid in data.ids() if data.sources[rid] != "cached" and rid not in data.study_of]
    studies = sorted((sid for sid, src in data.study_sources.items() if src != "cached"),
                     key=lambda sid: (data.studies[sid].meta.get("created") or "", sid), reverse=True)
    if not mine and not studies:
        return
    shown = mine[:YOURS_SHOWN]
    # the app's jobs folder is read only when a run says "running" (was its job cancelled or has it failed?)
    ended = ui.ended_jobs() if any(data.runs[rid].status == "running" for rid in shown) else {}
    st.subheader("Your runs")
    with st.container(border=True):
        for rid in shown:
            link_row([2, 2, 0.9], "views/interactions.py", rid, {"run": rid},
                     "α vs statistics AUC (Fig. 7) of this run", *run_line(rid, ended))
        for sid in studies[:YOURS_SHOWN]:
            meta = data.studies[sid].meta
            data_of = on_data(meta.get("dataset"), meta.get("base_config"))
            line = f"study · {data_of} · started {ui.age(meta.get('created'))}"
            link_row([2, 2, 0.9], "views/studies.py", sid, {"study": sid},
                     "the ablation table over seeds of this study", line, study_size(sid))
    more = max(len(mine) - YOURS_SHOWN, 0) + max(len(studies) - YOURS_SHOWN, 0)
    st.caption(f"The newest of your runs folder (`{ui.runs_dir()}`) and studies"
               + (f"; {more} more on **Runs**." if more else "; every run is also on **Runs**."))


st.title("Start here")
st.markdown(
    "**AIM** (Automatic Interaction Machine) learns which feature interactions a click-through-rate model needs. "
    "It gives every pair (and, optionally, triple) of fields one gate **α** per interaction function, lets the "
    "GRDA optimizer drive the useless gates to exactly zero, then gives every embedding dimension a gate **β** "
    "and prunes those too, and finally re-trains the small model it found. This app shows what each run "
    "selected and why, and compares runs and whole studies against the DeepFM / IPNN / FM baselines.")
st.graphviz_chart(PIPELINE)

data = ui.loaded()
your_runs()
runs = {rid: r.meta for rid, r in data.runs.items() if data.sources[rid] == "cached" and rid not in data.study_of}
studies = {sid: s.meta for sid, s in data.studies.items() if data.study_sources[sid] == "cached"}
found = shipped.shipped(runs, studies, shipped.entries())
by_name = {item.name: item for item in found}
tour = [(by_name[name], page, text) for name, page, text in TOUR if name in by_name]
if tour:
    st.subheader("A first look, in three links")
    for i, (item, page, text) in enumerate(tour, 1):
        c1, c2 = st.columns([1, 3], vertical_alignment="center")
        c1.page_link(page, label=f"{i}. {item.name}", icon=":material/arrow_forward:",
                     query_params={"run" if item.kind == "run" else "study": item.folder})
        c2.markdown(text)
st.subheader("The shipped runs")
if not found:
    st.info("No shipped runs found (`cached_runs/`, or AIM_CACHED_RUNS_DIR). Open **Runs** for your own runs"
            + ("." if access.read_only() else ", or **Launch a run**."))
for kind, heading in (("run", "Single runs: open on *Interactions*"), ("study", "Studies: open on *Studies*")):
    items = [s for s in found if s.kind == kind]
    if not items:
        continue
    page, param, view = BEST_VIEW[kind]
    st.markdown(f"**{heading}**")
    with st.container(border=True):
        for item in items:
            said = item.note.split(":")[0] in item.about  # the cached Criteo / Avazu notes repeat the tool's line
            link_row([1, 3, 0.9], page, item.name, {param: item.folder}, f"{view}: `{item.folder}`",
                     item.about + (f" · *{item.note}*" if item.note and not said else ""), headline(item))
st.caption("Every run and study, yours included, is on **Runs**; **Compare runs** puts 2-4 of them side by side.")

st.subheader("Glossary")
terms = list(glossary.TERMS.values())
cols = st.columns(2)
for i, term in enumerate(terms):
    cols[i * 2 // len(terms)].markdown(f"**{term.term}**: {term.text}")
