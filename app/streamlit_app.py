"""AIM Explorer: ``streamlit run app/streamlit_app.py``. Pages live in ``app/views/``; this file is the frame:
navigation, the sidebar (where runs are read from) and deep links (``?view=compare&runs=a,b`` on the root URL
opens that view; each page also has its own path, e.g. ``/runs``, ``/compare?runs=a,b``). The root URL opens
*Start here*."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # streamlit puts app/ on the path, the package imports need the repository root
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from app import access, catalog, ui  # noqa: E402

st.set_page_config(page_title="AIM Explorer", page_icon="🔎", layout="wide")


def _secrets() -> dict:
    try:
        return {"read_only": st.secrets.get("read_only", False)}
    except Exception:  # no secrets.toml (the usual case) or an unreadable one: nothing asked there
        return {}


if access.requested(argv=sys.argv[1:], secrets=_secrets()):
    access.enable()
problem = access.exposure_problem(st.get_option("server.address"))
if problem:
    st.error(problem, icon=":material/lock_open:")
    st.stop()
READ_ONLY = access.read_only()

PAGES = {
    "start": st.Page("views/start.py", title="Start here", icon=":material/waving_hand:", url_path="start",
                     default=True),
    "runs": st.Page("views/runs.py", title="Runs", icon=":material/table_rows:", url_path="runs"),
    "interactions": st.Page("views/interactions.py", title="Interactions", icon=":material/scatter_plot:",
                            url_path="interactions"),
    "functions": st.Page("views/functions.py", title="Interaction functions", icon=":material/functions:",
                         url_path="functions"),
    "embeddings": st.Page("views/embeddings.py", title="Embedding dimensions", icon=":material/grid_on:",
                          url_path="embeddings"),
    "sparsity": st.Page("views/sparsity.py", title="Sparsity", icon=":material/tune:", url_path="sparsity"),
    "compare": st.Page("views/compare.py", title="Compare runs", icon=":material/compare_arrows:", url_path="compare"),
    "studies": st.Page("views/studies.py", title="Studies", icon=":material/query_stats:", url_path="studies"),
    "launch": st.Page("views/launch.py", title="Launch a run", icon=":material/rocket_launch:", url_path="launch"),
}
if READ_ONLY:  # not even reachable by its URL or ?view=launch
    del PAGES["launch"]
page = st.navigation({
    "AIM Explorer": [PAGES["start"], PAGES["runs"]],
    "One run": [PAGES["interactions"], PAGES["functions"], PAGES["embeddings"], PAGES["sparsity"]],
    "Several runs": [PAGES["compare"], PAGES["studies"]],
    **({"Train": [PAGES["launch"]]} if "launch" in PAGES else {}),
})

view = st.query_params.get("view")
if view in PAGES and PAGES[view].url_path != page.url_path:
    st.switch_page(PAGES[view], query_params={k: v for k, v in st.query_params.to_dict().items() if k != "view"})

with st.sidebar:
    if READ_ONLY:
        st.caption(f"Read-only: showing the runs of `{ui.runs_dir()}` and the shipped runs.")
    else:
        st.text_input("Runs folder", value=str(catalog.default_runs_dir()), key="runs_dir",
                      help="Where your runs are read from and launched runs are written (env AIM_RUNS_DIR). "
                           "Shipped runs are always read from cached_runs/ (env AIM_CACHED_RUNS_DIR).")
    data = ui.load_all()
    folder_problem = None if READ_ONLY else catalog.runs_folder_problem(ui.runs_dir(), data.scan)
    if folder_problem:
        st.warning(folder_problem, icon=":material/folder_off:")
    st.caption(f"{len(data.runs)} runs · {len(data.corrupt)} unreadable · {len(data.scan.studies)} studies")
    if st.button("Reload runs", icon=":material/refresh:", help="Re-read every run folder from disk", key="reload"):
        ui.clear_cache()
        ui.load_all()

page.run()
