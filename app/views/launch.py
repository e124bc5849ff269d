"""Launch a run: a form validated by building the RunConfig, a background job per launch, live progress."""

from dataclasses import replace

import streamlit as st

from aim.config import HEADS, PRECISIONS, RETRAIN, VARIANTS, RunConfig
from aim.config_fields import list_text
from aim.data.registry import describe_datasets
from aim.errors import ConfigError
from aim.flags import config_args
from app import access, glossary, jobs, ui

QUICK_START_MINUTES = 1.5  # README, "Quick start": 89 s idle (75 s in bf16), bench/bench_pipeline.py on 2026-12-04

st.title("Launch a run")
if access.read_only():  # the frame leaves this page out; a stale tab or a direct script run lands here
    st.error("This app is read-only: it cannot start or cancel runs.", icon=":material/lock:")
    st.stop()
runs_dir = ui.runs_dir()
st.caption(f"Runs are written to `{runs_dir}` (sidebar) and appear in **Runs** when they start. At most "
           f"{jobs.max_jobs()} jobs run at once (AIM_MAX_JOBS).")
d = RunConfig()
st.caption(f"How long: by default stage A tries {len(d.search.grda_cross)} strengths, stage B "
           f"{len(d.search.embed_grda_cross)} and the final model {len(d.train.embed_l2_grid)} "
           "embedding L2 values, each from scratch and from the search model, in parallel processes where cores "
           "allow. The default synthetic `aim` run "
           f"(60,000 rows) takes about {QUICK_START_MINUTES:g} min on an idle 2-core machine; time grows about "
           "linearly with the rows. One value per list trains each stage once, several times faster.")
datasets = {x["name"]: x for x in describe_datasets()}

with st.form("launch"):
    c1, c2, c3, c4 = st.columns([1.2, 2, 1, 0.8])
    dataset = c1.selectbox("Dataset", list(datasets), format_func=lambda n: f"{n}: {datasets[n]['description']}")
    data_path = c2.text_input("Data file or folder (not for synthetic)", help="\n\n".join(
        f"**{n}**: {x['data']}" for n, x in datasets.items()))
    launchable = [v for v in VARIANTS if v != RETRAIN]  # a re-train starts from a selection on Interactions
    variant = c3.selectbox("Variant", launchable, index=launchable.index(d.variant),
                           help=glossary.tip("variant", "lr", "gbdt") + "\n\nlr and gbdt use none of the network "
                           "settings below (epochs, sizes, GRDA).")
    max_order = c4.selectbox("Max order", (2, 3, 4), index=(2, 3, 4).index(d.max_order), help=glossary.tip("order"))
    c = st.columns(5)
    seed = c[0].number_input("Seed", value=d.seed, step=1)
    embed_dim = c[1].number_input("Embedding dim", value=d.model.embed_dim, step=1)
    mlp = c[2].text_input("MLP sizes", value=list_text(d.model.mlp))
    batch_size = c[3].number_input("Batch size", value=d.train.batch_size, step=64)
    rows = c[4].number_input("Synthetic rows", value=d.synthetic.rows, step=1000)
    c = st.columns(5)
    search_epochs = c[0].number_input("Search epochs", value=d.search.search_epochs, step=1,
                                      help="Epochs of the search interaction-IF stage.\n\n" + glossary.tip("fis", "ifs"))
    embed_epochs = c[1].number_input("Embed-search epochs", value=d.search.embed_epochs, step=1,
                                     help="Epochs of the search embed stage.\n\n" + glossary.tip("eds"))
    epochs = c[2].number_input("Re-train epochs", value=d.train.epochs, step=1, help=glossary.tip("stages"))
    grda_mu = c[3].number_input("GRDA μ", value=d.search.grda_mu, step=0.05, format="%.3f",
                                help=glossary.tip("grda_mu"))
    head = c[4].selectbox("Head", HEADS, index=HEADS.index(d.model.head), help=glossary.tip("head"))
    c = st.columns([1, 1, 0.6, 1.4])
    grda_cross = c[0].text_input("GRDA crossing fractions (search)", value=list_text(d.search.grda_cross),
                                 help="Strength candidates of the search interaction-IF stage (comma list; one "
                                      "value = no choice).\n\n" + glossary.tip("crossing_fraction", "parsimony"))
    embed_cross = c[1].text_input("GRDA crossing fractions (embed)", value=list_text(d.search.embed_grda_cross),
                                  help="Strength candidates of the search embed stage (EDS).\n\n"
                                       + glossary.tip("crossing_fraction", "eds"))
    precision = c[2].selectbox("Precision", PRECISIONS, index=PRECISIONS.index(d.train.precision),
                               help=glossary.tip("precision"))
    c[3].caption("Smaller crossing fraction = sparser. The sparsest candidate within one standard error of the best "
                 "validation AUC is kept; the **Sparsity** page of the run shows every candidate.")
    with st.expander("Generic CSV columns"):
        c = st.columns(3)
        label = c[0].text_input("Label column", value=d.data.label)
        categorical = c[1].text_input("Categorical columns (comma list)", value=list_text(d.data.categorical))
        numeric = c[2].text_input("Numeric columns (comma list)", value=list_text(d.data.numeric))
    submitted = st.form_submit_button("Launch", icon=":material/rocket_launch:", type="primary", key="launch_submit")


def _list(text: str, default: tuple) -> str | tuple:
    """A list field's text without blanks; left empty, the default."""
    return text.replace(" ", "") or default


if submitted:
    try:  # the form's config (each value checked as it is built), launched as its command line
        cfg = RunConfig(
            dataset=dataset, data_path=data_path.strip(), variant=variant, max_order=max_order, seed=int(seed),
            data=replace(d.data, label=label or d.data.label, categorical=categorical, numeric=numeric)
            if dataset == "csv" else d.data,
            synthetic=replace(d.synthetic, rows=int(rows)) if dataset == "synthetic" else d.synthetic,
            model=replace(d.model, embed_dim=int(embed_dim), mlp=_list(mlp, d.model.mlp), head=head),
            search=replace(d.search, search_epochs=int(search_epochs), embed_epochs=int(embed_epochs),
                           grda_mu=grda_mu, grda_cross=_list(grda_cross, d.search.grda_cross),
                           embed_grda_cross=_list(embed_cross, d.search.embed_grda_cross)),
            train=replace(d.train, batch_size=int(batch_size), epochs=int(epochs), precision=precision))
        job = jobs.start(config_args(cfg), runs_dir)
    except (ConfigError, jobs.JobError) as exc:
        st.error(f"Not launched: {exc}")
    else:
        st.success(f"Started job `{job.id}` (pid {job.pid}).")


@st.fragment(run_every=2)
def job_list() -> None:
    """Every job of this runs folder with its live progress, re-read every 2 s."""
    listed = jobs.list_jobs(runs_dir)
    st.subheader(f"Jobs ({len(listed)})")
    if not listed:
        st.caption("No jobs launched from this runs folder yet.")
    for job in listed:
        state = jobs.status(job)
        with st.container(border=True):
            c1, c2 = st.columns([5, 1])
            c1.markdown(f"**{state}** · job `{job.id}` · `{' '.join(job.args)}`")
            if state == "running":
                c1.caption(jobs.live_text(job))
                if c2.button("Cancel", key=f"cancel_{job.id}"):
                    jobs.cancel(job)
                    st.rerun(scope="fragment")
            if job.run_id:
                c1.page_link("views/interactions.py", label=f"Open run {job.run_id}", query_params={"run": job.run_id})
            with c1.expander("log"):
                st.code(jobs.log_tail(job) or "(empty)", language=None)


job_list()
