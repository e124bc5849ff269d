"""AIM Explorer, the Streamlit front-end: ``streamlit_app.py`` (navigation, sidebar, deep links), ``views/`` (one
page each), ``ui.py`` (cached loading, URL-bound run pickers, chart + download helper), ``catalog.py`` (finding and
classifying run folders) and ``jobs.py`` (background training jobs). The last two never import Streamlit."""
