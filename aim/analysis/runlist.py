"""The runs table: one row per run from its ``run.json``, its live progress, filters."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

RUN_COLUMNS = ["id", "dataset", "variant", "seed", "status", "test_auc", "test_logloss", "valid_auc", "kept",
               "fi_ratio", "params", "created", "progress", "study", "note", "source"]


def progress_text(progress: Mapping | None) -> str:
    """``search epoch 2 · AUC 0.7012 · gates 120/180`` from a ``progress.json`` dict ('' when there is none)."""
    if not progress:
        return ""
    parts = [str(progress.get("stage", "?"))]
    if progress.get("epoch") is not None:
        parts[0] += f" epoch {progress['epoch']}"
    if isinstance(progress.get("step"), int) and isinstance(progress.get("steps"), int) and progress["steps"] > 0:
        parts.append(f"{progress['step'] / progress['steps']:.0%} of the epoch")
        if isinstance(progress.get("eta_s"), int | float):
            parts.append(f"epoch ETA {progress['eta_s']:.0f}s")
    elif isinstance(progress.get("valid_auc"), int | float):
        parts.append(f"AUC {progress['valid_auc']:.4f}")
    if progress.get("gates_left") is not None:
        parts.append(f"gates {int(progress['gates_left'])}/{int(progress.get('gates_total') or 0)}")
    return " · ".join(parts)


def run_row(meta: Mapping, progress: Mapping | None = None, source: str = "", job_ended: str | None = None,
            study: str = "") -> dict:
    """One row of the runs table from a ``run.json`` dict; missing parts (a running or failed run) are None.
    ``job_ended`` (how the app's job that writes this run ended, e.g. 'cancelled') turns a run that still says
    ``running`` into ``interrupted``: its process is gone, so it will never finish. ``study``: the id of the study
    the run belongs to ('' for none)."""
    interrupted = meta.get("status") == "running" and job_ended is not None
    test = (meta.get("metrics") or {}).get("test") or {}
    valid = (meta.get("metrics") or {}).get("valid") or {}
    order2 = (meta.get("interactions") or {}).get("order2") or {}
    config = meta.get("config") or {}
    return {
        "id": meta["id"],
        "dataset": (meta.get("dataset") or {}).get("name") or config.get("dataset"),
        "variant": meta.get("variant") or config.get("variant"),
        "seed": meta.get("seed", config.get("seed")),
        "note": config.get("note") or "",
        "status": "interrupted" if interrupted else meta.get("status"),
        "test_auc": test.get("auc"),
        "test_logloss": test.get("logloss"),
        "valid_auc": valid.get("auc"),
        "kept": f"{order2['kept']}/{order2['total']}" if order2 else None,
        "fi_ratio": order2.get("fi_ratio"),
        "params": (meta.get("params") or {}).get("after_eds"),
        "created": pd.to_datetime(meta.get("created"), utc=True, errors="coerce"),
        "progress": f"job {job_ended}" if interrupted else progress_text(progress) if meta.get("status") == "running"
        else "",
        "study": study,
        "source": source,
    }


def runs_table(rows: Iterable[dict]) -> pd.DataFrame:
    """The runs table, newest first."""
    df = pd.DataFrame(list(rows), columns=RUN_COLUMNS)
    for c in ("test_auc", "test_logloss", "valid_auc", "fi_ratio", "params"):
        df[c] = pd.to_numeric(df[c], errors="coerce")
    return df.sort_values("created", ascending=False, na_position="last", kind="stable").reset_index(drop=True)


def filter_runs(df: pd.DataFrame, datasets: Iterable[str] = (), variants: Iterable[str] = (),
                statuses: Iterable[str] = (), text: str = "", studies: Iterable[str] = ()) -> pd.DataFrame:
    """Rows matching every given filter (an empty filter matches all); ``text`` is a case-insensitive id match;
    ``studies`` are study ids, '' standing for the runs outside any study."""
    mask = pd.Series(True, index=df.index)
    for col, wanted in (("dataset", datasets), ("variant", variants), ("status", statuses), ("study", studies)):
        wanted = list(wanted)
        if wanted:
            mask &= df[col].isin(wanted)
    if text.strip():
        mask &= df["id"].str.contains(text.strip(), case=False, regex=False)
    return df[mask].reset_index(drop=True)
