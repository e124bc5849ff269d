"""Two to four runs side by side: metric deltas, config diff, kept-interaction overlap, α of run A vs run B,
embedding sizes by run."""

from __future__ import annotations

import math
import shlex
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from aim.analysis.common import DROPPED_COLOR, KEPT_COLOR, empty_figure, new_figure
from aim.analysis.interactions import alpha_matrix, alpha_points
from aim.selection import kept_items, to_spec
from aim.sparsity import auc_standard_error


def metric_deltas(metas: Mapping[str, Mapping], reference: str) -> pd.DataFrame:
    """One row per run: test/valid AUC and log loss, kept interactions and parameters, each with its difference
    to the ``reference`` run (the reference's own deltas are 0)."""
    base = ["test_auc", "test_logloss", "valid_auc", "valid_logloss", "kept_interactions", "params"]
    rows = []
    for rid, meta in metas.items():
        m = meta.get("metrics") or {}
        rows.append({"run": rid, "variant": meta.get("variant"), "seed": meta.get("seed"),
                     "test_auc": (m.get("test") or {}).get("auc"), "test_logloss": (m.get("test") or {}).get("logloss"),
                     "valid_auc": (m.get("valid") or {}).get("auc"),
                     "valid_logloss": (m.get("valid") or {}).get("logloss"),
                     "kept_interactions": ((meta.get("interactions") or {}).get("order2") or {}).get("kept"),
                     "params": (meta.get("params") or {}).get("after_eds")})
    df = pd.DataFrame(rows)
    df[base] = df[base].apply(pd.to_numeric, errors="coerce")
    ref = df.set_index("run").loc[reference, base]
    for c in base:
        df[f"Δ {c}"] = df[c] - ref[c]
    return df[["run", "variant", "seed", *(k for c in base for k in (c, f"Δ {c}"))]]


def flatten(d: Mapping, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; lists become comma-joined strings so they compare and display."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(flatten(v, key + "."))
        elif isinstance(v, list | tuple):
            out[key] = ",".join(map(str, v))
        else:
            out[key] = v
    return out


def config_diff(configs: Mapping[str, Mapping]) -> pd.DataFrame:
    """The flattened config keys whose values differ between the runs: index = key, one column per run (a key a run
    lacks shows as None)."""
    flat = {rid: flatten(c) for rid, c in configs.items()}
    keys = sorted(set().union(*flat.values())) if flat else []
    differing = [k for k in keys if len({repr(f.get(k)) for f in flat.values()}) > 1]
    return pd.DataFrame({rid: [f.get(k) for k in differing] for rid, f in flat.items()}, index=differing,
                        dtype=object).rename_axis("config key")


def kept_interactions(inter: pd.DataFrame) -> set[str]:
    """Names of the kept interactions (``f00 × f01``); names rather than indices so runs on the same data compare."""
    return set(inter.loc[pd.to_numeric(inter["interaction_kept"], errors="coerce") == 1, "field_names"].astype(str))


def overlap_counts(kept: Mapping[str, set[str]]) -> pd.DataFrame:
    """Run × run matrix of the number of kept interactions the two share (the diagonal: each run's own count)."""
    ids = list(kept)
    return pd.DataFrame([[len(kept[a] & kept[b]) for b in ids] for a in ids], index=ids, columns=ids)


def overlap_table(kept: Mapping[str, set[str]]) -> pd.DataFrame:
    """Which run keeps which interaction: one row per interaction kept by any run, a bool column per run and
    ``runs`` = how many keep it; the ones all runs keep come first."""
    ids = list(kept)
    names = sorted(set().union(*kept.values())) if ids else []
    df = pd.DataFrame({rid: [n in kept[rid] for n in names] for rid in ids}, index=pd.Index(names, name="interaction"))
    df["runs"] = df[ids].sum(axis=1).astype(int) if ids else 0
    return df.sort_values("runs", ascending=False, kind="stable")


def overlap_summary(kept: Mapping[str, set[str]]) -> dict[str, int]:
    """``all`` (kept by every run), ``any`` (kept by at least one) and ``only <run>`` counts."""
    sets = list(kept.values())
    out = {"all": len(set.intersection(*sets)) if sets else 0, "any": len(set.union(*sets)) if sets else 0}
    for rid, s in kept.items():
        others = set().union(*(v for k, v in kept.items() if k != rid))
        out[f"only {rid}"] = len(s - others)
    return out


def alpha_pairs(inter_a: pd.DataFrame, inter_b: pd.DataFrame, per: str = "column") -> pd.DataFrame:
    """Points matched between two runs by interaction name (and function when ``per="column"``): columns key,
    field_names, function, abs_alpha_a, abs_alpha_b, kept_a, kept_b. Only points present in both runs."""
    a = alpha_points(inter_a, per=per)
    b = alpha_points(inter_b, per=per)
    on = ["field_names", "function"] if per == "column" else ["field_names"]
    keep = ["field_names", "function", "abs_alpha", "kept"]
    m = a[keep].merge(b[keep], on=on, suffixes=("_a", "_b"))
    if per != "column":
        m = m.rename(columns={"function_a": "function"}).drop(columns="function_b")
    m.insert(0, "key", m["field_names"] + (" · " + m["function"] if per == "column" else ""))
    return m


def alpha_pairs_figure(pairs: pd.DataFrame, name_a: str, name_b: str, colors: Mapping[str, str] | None = None,
                       ) -> go.Figure:
    """|α| in run A (x) vs run B (y), one point per matched column/interaction, with the diagonal y = x."""
    title = "|α|: run A vs run B"
    both = pairs.dropna(subset=["abs_alpha_a", "abs_alpha_b"]) if not pairs.empty else pairs
    if both.empty:
        return empty_figure("no α to compare (a baseline has no gates, or the runs share no interactions)", title=title)
    fig = new_figure(title=title, xaxis_title=f"|α| in A: {name_a}", yaxis_title=f"|α| in B: {name_b}",
               legend={"orientation": "h", "y": -0.2})
    groups = (("kept in both", (both["kept_a"] == 1) & (both["kept_b"] == 1), KEPT_COLOR),
              ("kept only in A", (both["kept_a"] == 1) & (both["kept_b"] != 1), (colors or {}).get(name_a, "#ff7f0e")),
              ("kept only in B", (both["kept_a"] != 1) & (both["kept_b"] == 1), (colors or {}).get(name_b, "#2ca02c")),
              ("dropped in both", (both["kept_a"] != 1) & (both["kept_b"] != 1), DROPPED_COLOR))
    for label, mask, colour in groups:
        sub = both[mask]
        if not sub.empty:
            fig.add_scatter(x=sub["abs_alpha_a"], y=sub["abs_alpha_b"], mode="markers", name=f"{label} ({len(sub)})",
                            marker={"color": colour, "size": 8, "opacity": 0.85}, text=sub["key"],
                            hovertemplate="%{text}<br>A %{x:.4f}<br>B %{y:.4f}<extra></extra>")
    top = float(max(both["abs_alpha_a"].max(), both["abs_alpha_b"].max())) * 1.05
    fig.add_scatter(x=[0, top], y=[0, top], mode="lines", name="y = x", line={"dash": "dot", "color": "#888"},
                    hoverinfo="skip")
    return fig


def delta_alpha_matrix(inter_a: pd.DataFrame, inter_b: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """Field × field max |α| of run B minus run A (order 2); NaN where either run has no α."""
    a, _ = alpha_matrix(inter_a, names)
    b, _ = alpha_matrix(inter_b, names)
    return b - a


def embedding_sizes_by_run(fields_by_run: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Long table run, field (name), vocab_size, dims_kept."""
    frames = [f[["name", "vocab_size", "dims_kept"]].assign(run=rid) for rid, f in fields_by_run.items()]
    if not frames:
        return pd.DataFrame(columns=["run", "name", "vocab_size", "dims_kept"])
    return pd.concat(frames, ignore_index=True)[["run", "name", "vocab_size", "dims_kept"]]


def embedding_sizes_figure(sizes: pd.DataFrame, colors: Mapping[str, str] | None = None) -> go.Figure:
    """Grouped bars: dimensions kept per field, one bar per run."""
    title = "Retained embedding size per field"
    if sizes.empty:
        return empty_figure("no fields", title=title)
    fig = new_figure(title=title, xaxis_title="field", yaxis_title="dimensions kept", barmode="group",
               legend={"orientation": "h", "y": -0.25})
    for rid, sub in sizes.groupby("run", sort=False):
        fig.add_bar(x=sub["name"], y=sub["dims_kept"], name=str(rid), marker_color=(colors or {}).get(str(rid)))
    return fig


# Colours of the 2-4 runs of a comparison, by position: far apart in hue and none dark, so two bars never read as
# "a colour and black" (the hashed run colours of ``common.PALETTE`` include navy and brown).
COMPARE_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#17becf")


def compare_colors(run_ids: Iterable[str]) -> dict[str, str]:
    """The i-th run of a comparison gets the i-th colour of ``COMPARE_PALETTE`` (cycling past six)."""
    return {rid: COMPARE_PALETTE[i % len(COMPARE_PALETTE)] for i, rid in enumerate(dict.fromkeys(run_ids))}


def metric_title(metric: str) -> str:
    """``test_logloss`` -> ``test log loss (lower is better)``; AUC: higher is better."""
    name = metric.replace("_", " ").replace("logloss", "log loss").replace("auc", "AUC")
    if "log loss" in name:
        return f"{name} (lower is better)"
    return f"{name} (higher is better)" if "AUC" in name else name


def metric_bars(deltas: pd.DataFrame, metric: str, colors: Mapping[str, str] | None = None) -> go.Figure:
    """One point per run of ``metric`` (a column of ``metric_deltas``), coloured by ``colors``; the legend names the
    run of each colour (legend-only entries: the points stay one trace), the title says whether higher or lower is
    better. AUC and log loss are drawn as dots on an axis zoomed to the values, never as bars: a bar's length
    on a cut axis would show 0.8742 against 0.8777 as about 2x; other metrics are bars from zero."""
    title = metric_title(metric)
    data = deltas.dropna(subset=[metric])
    if data.empty:
        return empty_figure(f"no {title} yet", title=title)
    colors = colors or {}
    zoomed = "auc" in metric or "logloss" in metric
    fig = new_figure(title=title + (" (axis zoomed to the values)" if zoomed else ""), height=400,
                     yaxis_title=metric.replace("_", " "), barmode="overlay",
                     legend={"orientation": "h", "y": -0.08, "yanchor": "top", "font": {"size": 11}})
    text = [f"{v:.4f}" if abs(v) < 10 else f"{v:,.0f}" for v in data[metric]]
    look = {"x": data["run"], "y": data[metric], "text": text, "showlegend": False, "cliponaxis": False,
            "hovertemplate": "%{x}<br>%{y:.4f}<extra></extra>"}
    if zoomed:
        fig.add_scatter(mode="markers+text", textposition="top center",
                        marker={"color": [colors.get(r) for r in data["run"]], "size": 16}, **look)
    else:
        fig.add_bar(marker_color=[colors.get(r) for r in data["run"]], textposition="outside", **look)
    for rid in data["run"]:
        fig.add_scatter(x=[None], y=[None], mode="markers", name=str(rid), marker={"color": colors.get(rid), "size": 12},
                        showlegend=True, hoverinfo="skip")
    lo, hi = float(data[metric].min()), float(data[metric].max())
    if zoomed:
        pad = max((hi - lo) * 0.5, 0.005)
        fig.update_yaxes(range=[lo - pad, hi + pad])
    fig.update_xaxes(showticklabels=False)
    return fig


# ------------------------------------------------------------------------- a re-train against its parent run

# One rule everywhere (aim.study.stats.SIGNIFICANCE, the paper's p < 0.005): a single pair of runs has no seeds to
# t-test, so its difference is judged against its noise at the same two-tailed threshold, z = 2.81 under a normal
# approximation.
NOISE_K = 2.807


def column_changes(parent_inter: pd.DataFrame, child_inter: pd.DataFrame) -> pd.DataFrame:
    """The interaction-IF columns of a re-train (``child_inter``: its selection) against its parent's kept columns:
    one row per column in either, ``column`` (``user×item:outer``) and ``change``: added (not kept by the parent),
    removed (kept by the parent, not re-trained) or kept in both; added first, then removed, then kept."""
    def keyed(inter: pd.DataFrame) -> dict[tuple, str]:
        return {(frozenset(n), f): to_spec([(n, f)]) for n, f in kept_items(inter)}

    parent, child = keyed(parent_inter), keyed(child_inter)
    rows = ([(c, "added") for k, c in child.items() if k not in parent]
            + [(c, "removed") for k, c in parent.items() if k not in child]
            + [(c, "kept in both") for k, c in child.items() if k in parent])
    return pd.DataFrame(rows, columns=["column", "change"])


def auc_se_of(meta: Mapping) -> float:
    """Hanley–McNeil standard error of a run's test AUC, from its test rows and positive rate (run.json)."""
    dataset = meta.get("dataset") or {}
    rows = (dataset.get("rows") or {}).get("test")
    rate = (dataset.get("positive_rate") or {}).get("test")
    auc = ((meta.get("metrics") or {}).get("test") or {}).get("auc")
    if not isinstance(rows, int | float) or not isinstance(rate, int | float) or not isinstance(auc, int | float):
        return math.nan
    pos = round(rows * rate)
    return auc_standard_error(float(auc), pos, int(rows) - pos)


def seed_spread(metas: Iterable[Mapping | None]) -> dict[str, float]:
    """Standard deviation over seeds (ddof 1) of the test AUC and log loss of a study variant's complete runs:
    ``{"n", "test_auc", "test_logloss"}`` (NaN below two runs)."""
    done = [m for m in metas if m and m.get("status") == "complete"]
    out: dict[str, float] = {"n": len(done)}
    for metric in ("auc", "logloss"):
        values = [((m.get("metrics") or {}).get("test") or {}).get(metric) for m in done]
        values = [float(v) for v in values if isinstance(v, int | float)]
        out[f"test_{metric}"] = float(np.std(values, ddof=1)) if len(values) >= 2 else math.nan
    return out


def study_variant_of(recorded: Mapping[str, Mapping[int, Mapping | None]], run_id: str) -> str | None:
    """The variant of a study (``Study.recorded_metas()``) that holds the run ``run_id``; None when none does."""
    for variant, by_seed in recorded.items():
        if any(m and m.get("id") == run_id for m in by_seed.values()):
            return variant
    return None


def noise_rule(k: float = NOISE_K) -> str:
    return (f"significantly better / worse when |Δ| > {k:.2f} × noise (two-tailed p < 0.005 under a normal "
            "approximation: the threshold of the studies' rule), else not significantly different. Noise of Δ test "
            "AUC: the larger of the "
            "test-set sampling standard error of the difference (Hanley–McNeil SE of each AUC from the test "
            "positives and negatives, combined as if independent: an upper bound, both models score the same "
            "rows) and the standard deviation over seeds of the parent's variant in its study. Noise of Δ log "
            "loss: that seed spread only (none without a study). Parameters are exact counts.")


def retrain_deltas(child: Mapping, parent: Mapping, spread: Mapping[str, float] | None = None,
                   k: float = NOISE_K) -> pd.DataFrame:
    """Δ (re-train − parent) of test AUC, test log loss and parameters, each with the noise to judge it by and a
    verdict (``noise_rule``): one row per metric with ``parent``, ``retrain``, ``delta``, ``noise``, ``noise_from``,
    ``verdict``."""
    spread = spread or {}

    def metric(meta: Mapping, name: str) -> float:
        v = ((meta.get("metrics") or {}).get("test") or {}).get(name)
        return float(v) if isinstance(v, int | float) else math.nan

    def params(meta: Mapping) -> float:
        v = (meta.get("params") or {}).get("after_eds")
        return float(v) if isinstance(v, int | float) else math.nan

    def verdict(delta: float, noise: float, higher_better: bool) -> str:
        if not math.isfinite(delta):
            return "n/a"
        if not math.isfinite(noise) or noise <= 0:
            return "no noise estimate"
        if abs(delta) <= k * noise:
            return "not significantly different"
        return "significantly better" if (delta > 0) == higher_better else "significantly worse"

    rows = []
    se_pair = math.hypot(auc_se_of(child), auc_se_of(parent))
    seed_auc, seed_ll = spread.get("test_auc", math.nan), spread.get("test_logloss", math.nan)
    n = int(spread.get("n", 0) or 0)
    auc_noise = max((v for v in (se_pair, seed_auc) if math.isfinite(v)), default=math.nan)
    auc_from = ", ".join(t for t, v in ((f"sampling SE {se_pair:.4f}", se_pair),
                                        (f"seed std {seed_auc:.4f} ({n} seeds)", seed_auc)) if math.isfinite(v))
    for name, label, noise, source, higher in (
            ("auc", "test AUC", auc_noise, auc_from, True),
            ("logloss", "test log loss", seed_ll, f"seed std {seed_ll:.4f} ({n} seeds)" if math.isfinite(seed_ll)
             else "none: no seed spread (the parent is in no study)", False)):
        p, c = metric(parent, name), metric(child, name)
        rows.append({"metric": label, "parent": p, "retrain": c, "delta": c - p, "noise": noise,
                     "noise_from": source or "none", "verdict": verdict(c - p, noise, higher)})
    p, c = params(parent), params(child)
    rows.append({"metric": "parameters", "parent": p, "retrain": c, "delta": c - p, "noise": 0.0,
                 "noise_from": "exact count", "verdict": "n/a" if not math.isfinite(c - p) else
                 "smaller" if c < p else "larger" if c > p else "same"})
    return pd.DataFrame(rows, columns=["metric", "parent", "retrain", "delta", "noise", "noise_from", "verdict"])


def seed_commands(child_config: Mapping, parent_config: Mapping | None, seeds: Iterable[int],
                  parent_done: Iterable[int] = ()) -> list[str]:
    """The commands that give a paired t-test over seeds of a re-train against its parent's variant: the re-train
    of the same selection with each seed (each replays the parent's search with that seed), and the parent's
    variant with each seed it lacks (``parent_done``: the seeds a study already holds). ``python -m aim study``
    cannot re-train a given selection (its kinds are variants and fis-vs-stats), so these are ``run`` commands."""
    from aim.config import RunConfig
    from aim.flags import config_args

    seeds, done = list(seeds), set(parent_done)
    child = RunConfig.from_json(dict(child_config))
    out = [shlex.join(["python", "-m", "aim", "run", *config_args(child.replace(seed=s))]) for s in seeds]
    if parent_config:
        parent = RunConfig.from_json(dict(parent_config))
        out += [shlex.join(["python", "-m", "aim", "run", *config_args(parent.replace(seed=s))])
                for s in seeds if s not in done]
    return out


def verdict_lines(deltas: pd.DataFrame) -> list[str]:
    """``retrain_deltas`` in words, one Markdown line per metric: ``**Δ test AUC** +0.0012 (noise 0.0050):
    not significantly different``."""
    out = []
    for r in deltas.itertuples():
        if r.metric == "parameters":
            out.append(f"**Δ parameters** {r.delta:+,.0f} ({r.parent:,.0f} → {r.retrain:,.0f}): {r.verdict}"
                       if math.isfinite(r.delta) else "**Δ parameters** n/a")
            continue
        noise = f"noise {r.noise:.4f}" if math.isfinite(r.noise) else "no noise estimate"
        delta = f"{r.delta:+.4f}" if math.isfinite(r.delta) else "n/a"
        out.append(f"**Δ {r.metric}** {delta} ({noise}): **{r.verdict}**")
    return out


def deltas_display(deltas: pd.DataFrame) -> pd.DataFrame:
    """``retrain_deltas`` as text for a table: AUC and log loss to 4 decimals, parameters as counts, "–" for none."""
    def fmt(value: float, metric: str, signed: bool = False) -> str:
        if not isinstance(value, int | float) or not math.isfinite(value):
            return "–"
        if metric == "parameters":
            return f"{value:+,.0f}" if signed else f"{value:,.0f}"
        return f"{value:+.4f}" if signed else f"{value:.4f}"

    out = deltas.copy()
    for col in ("parent", "retrain", "delta", "noise"):
        out[col] = [fmt(v, m, col == "delta") for v, m in zip(deltas[col], deltas["metric"])]
    out.loc[out["metric"] == "parameters", "noise"] = "exact"
    return out
