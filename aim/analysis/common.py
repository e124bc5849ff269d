"""What every figure shares: the layout, the palette, function and kept/dropped colours, and the colour of
each run (stable across pages)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import plotly.graph_objects as go

from aim.config import FUNCTIONS

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#17becf", "#e377c2", "#8c564b", "#393b79",
           "#e6550d", "#31a354", "#bcbd22", "#7b4173", "#3182bd")
FUNCTION_COLORS = dict(zip(FUNCTIONS, ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"), strict=True))
KEPT_COLOR, DROPPED_COLOR, PLANTED_COLOR = "#1f77b4", "#b0b0b0", "#d62728"
_LAYOUT = {"margin": {"l": 60, "r": 20, "t": 50, "b": 50}, "height": 440}


def new_figure(**layout: Any) -> go.Figure:
    return go.Figure(layout={**_LAYOUT, **layout})


def empty_figure(message: str, **layout: Any) -> go.Figure:
    fig = new_figure(**layout)
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper", font={"size": 15})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


# ---------------------------------------------------------------------------------------------- run colours

def run_color(run_id: str) -> str:
    """The colour of a run on every page: a stable hash (md5, not Python's salted ``hash``) into ``PALETTE``."""
    return PALETTE[int(hashlib.md5(run_id.encode()).hexdigest(), 16) % len(PALETTE)]


def run_colors(run_ids: Iterable[str]) -> dict[str, str]:
    """``run_color`` of each id, except that a clash inside the set moves the later id (in sorted order) to the
    next free colour, so the 2-4 runs of a comparison never share one; the result depends only on the set."""
    taken: dict[str, str] = {}
    for rid in sorted(set(run_ids)):
        i = PALETTE.index(run_color(rid))
        ring = [PALETTE[(i + k) % len(PALETTE)] for k in range(len(PALETTE))]
        taken[rid] = next((c for c in ring if c not in taken.values()), ring[0])
    return taken
