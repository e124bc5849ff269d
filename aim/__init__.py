"""AIM Explorer: Automatic Interaction Machine (FIS + IFS + EDS) for CTR prediction.

The package never imports Streamlit; everything the app shows comes from run folders written here.
"""

__version__ = "0.1.0"
