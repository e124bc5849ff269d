"""The shipped runs under the names the README uses (``frappe-order3``, ``frappe-study``, ...): each folder of
``cached_runs/`` was made by one entry of ``tools/make_cached_runs.py``, so a folder gets the name of the entry
whose command it matches (a run: dataset, variant, seed and max order; a study: its dataset). Read from the tool
itself, so the list follows it; a folder no entry matches is listed under its id. No Streamlit import."""

from __future__ import annotations

import functools
import importlib.util
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / "tools" / "make_cached_runs.py"
# what a flag the entry leaves out defaults to (RunConfig's defaults; the study command defaults to synthetic data)
DEFAULTS = {"--dataset": "synthetic", "--variant": "aim", "--seed": "0", "--max-order": "2"}


@dataclass(frozen=True)
class Entry:
    """One entry of the tool: its name, ``run`` or ``study``, its flags and its one-line description."""
    name: str
    command: str
    flags: Mapping[str, str]
    about: str


@dataclass(frozen=True)
class Shipped:
    """A shipped folder: ``name`` (the entry's, or the folder id), ``kind`` (run / study), ``folder`` (its id in
    the app), ``about`` (one line) and ``note`` (the run's own note, e.g. 'format demonstration')."""
    name: str
    kind: str
    folder: str
    about: str
    note: str = ""


def flags(args: tuple[str, ...] | list[str]) -> dict[str, str]:
    """``("--seed", "0", "--x", "y")`` -> ``{"--seed": "0", "--x": "y"}`` (every flag of the tool takes a value)."""
    return {a: b for a, b in zip(args[::2], args[1::2]) if a.startswith("--")}


def tool_entries(tool: Path = TOOL) -> list[Entry]:
    """The entries of ``tools/make_cached_runs.py`` (none when the tool is missing or cannot be read)."""
    try:
        spec = importlib.util.spec_from_file_location("_make_cached_runs", tool)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # its dataclasses look their module up while they are built
        try:
            spec.loader.exec_module(module)
        finally:
            del sys.modules[spec.name]
        raw = module.entries(Path("data"), 1)
    except Exception:  # a broken or missing tool must not break the Start page: the folders are listed by id
        return []
    # a study entry that does not name its dataset in its flags (fis-vs-stats: its parent's) says it in ``dataset``
    return [Entry(e.name, e.command, {**({"--dataset": e.dataset} if getattr(e, "dataset", "") else {}),
                                      **flags(e.args)}, e.about) for e in raw]


def _value(meta: Mapping, flag: str) -> str:
    config = meta.get("config") or {}
    key = {"--dataset": "dataset", "--variant": "variant", "--seed": "seed", "--max-order": "max_order"}[flag]
    value = config.get(key, meta.get(key))
    return str(value) if value is not None else ""


def _matches(entry: Entry, kind: str, meta: Mapping) -> bool:
    if entry.command != kind:
        return False
    if kind == "study":
        return (str(meta.get("dataset")) == entry.flags.get("--dataset", DEFAULTS["--dataset"])
                and str(meta.get("study_kind") or "variants") == entry.flags.get("--kind", "variants"))
    return all(_value(meta, f) == entry.flags.get(f, DEFAULTS[f]) for f in DEFAULTS)


def _describe(kind: str, meta: Mapping) -> str:
    if kind == "study":
        rows = "rules" if meta.get("study_kind") == "fis-vs-stats" else "variants"
        return (f"{meta.get('dataset')}: {len(meta.get('variants') or [])} {rows} × {len(meta.get('seeds') or [])} "
                "seeds")
    return (f"{_value(meta, '--dataset')}: {_value(meta, '--variant')}, seed {_value(meta, '--seed')}, orders up to "
            f"{_value(meta, '--max-order')}")


@functools.cache
def _cached_entries() -> tuple[Entry, ...]:
    return tuple(tool_entries())


def entries() -> list[Entry]:
    """``tool_entries()``, read once per process (the tool's file does not change under a running app)."""
    return list(_cached_entries())


def shipped(runs: Mapping[str, Mapping], studies: Mapping[str, Mapping], entries: list[Entry]) -> list[Shipped]:
    """The shipped folders in the tool's order (then the unmatched ones): ``runs`` / ``studies`` map a folder id to
    its ``run.json`` / ``study.json`` dict. Each entry names at most one folder, the newest it matches."""
    out: list[Shipped] = []
    left = {("run", k): v for k, v in runs.items()} | {("study", k): v for k, v in studies.items()}
    for entry in entries:
        found = sorted((key for key, meta in left.items() if _matches(entry, key[0], meta)),
                       key=lambda key: (str(left[key].get("created") or ""), key[1]), reverse=True)
        if found:
            kind, folder = found[0]
            note = (left.pop(found[0]).get("config") or {}).get("note") or ""
            out.append(Shipped(entry.name, kind, folder, entry.about, note))
    for (kind, folder), meta in sorted(left.items()):
        out.append(Shipped(folder, kind, folder, _describe(kind, meta), (meta.get("config") or {}).get("note") or ""))
    return out
