"""Hand-picked interaction-IF selections: the ``--columns`` spec of the ``retrain`` variant and the selection rules of
the fis-vs-stats study (paper §4.4.2).

A spec lists (interaction, function) columns, comma-separated: ``user×item:outer,item×cost:inner`` (fields joined
by ``×`` or ``*``, 2 to 4 fields, one of the functions of ``aim.config.FUNCTIONS``), or names a CSV file (``*.csv``)
with a ``function`` column and a ``field_names`` column (names joined by ``×``, as interactions.csv writes them) or
a ``fields`` column (space-separated field indices): a selection downloaded from the app, or interactions.csv
itself filtered to some rows. Every item is checked (syntax here, field names against the data in ``resolve``)
and a bad one is refused by name before any work.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from aim.columns import SEPARATOR, Item, check_item, is_file_spec, no_duplicates, parse_text
from aim.config import FUNCTIONS, RunConfig
from aim.errors import AIMError, ConfigError

Columns = tuple[tuple[tuple[int, ...], ...], tuple[int, ...]]  # as aim.search.Columns
RULES = ("fis", "stats", "random")


def parse_file(path: str | Path, field_names: Sequence[str]) -> list[Item]:
    """The selection in a CSV file (see the module docstring); rows named by their line in the file."""
    path = Path(path)
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise ConfigError(f"columns: cannot read {path}: {exc}") from None
    if "function" not in df or not ({"field_names", "fields"} & set(df.columns)):
        raise ConfigError(f"columns: {path} needs a 'function' column and a 'field_names' or 'fields' column, "
                          f"found {list(df.columns)}")
    items, names = [], []
    for i, row in enumerate(df.to_dict("records")):
        where = f"{path}:{i + 2}"
        if "field_names" in row and row["field_names"].strip():
            fields = SEPARATOR.split(row["field_names"].strip())
        else:
            try:
                fields = [field_names[int(k)] for k in row["fields"].split()]
            except (ValueError, IndexError):
                raise ConfigError(f"columns: {where}: fields {row['fields']!r} are not indices of the "
                                  f"{len(field_names)} fields") from None
        items.append(check_item(fields, row["function"].strip(), where))
        names.append(where)
    return no_duplicates(items, names)


def parse(spec: str, field_names: Sequence[str]) -> list[Item]:
    """The selection of a ``--columns`` value (inline or a CSV file), every field checked against ``field_names``."""
    items = parse_file(spec.strip(), field_names) if is_file_spec(spec) else parse_text(spec)
    known = set(field_names)
    for fields, function in items:
        unknown = [f for f in fields if f not in known]
        if unknown:
            raise ConfigError(f"columns: {'×'.join(fields)}:{function}: unknown field {unknown[0]!r}; the fields "
                              f"are: {', '.join(field_names)}")
    return items


def to_spec(items: Sequence[Item]) -> str:
    return ",".join(f"{'×'.join(fields)}:{function}" for fields, function in items)


def blocks(items: Sequence[Item], field_names: Sequence[str]) -> list[Columns]:
    """The selection as the model's column blocks: one per order, fields as sorted indices, sorted by
    (function, fields) like a search's kept columns."""
    index = {n: i for i, n in enumerate(field_names)}
    by_order: dict[int, list[tuple[tuple[int, ...], int]]] = {}
    for fields, function in items:
        col = (tuple(sorted(index[f] for f in fields)), FUNCTIONS.index(function))
        by_order.setdefault(len(fields), []).append(col)
    out = []
    for order in sorted(by_order):
        cols = sorted(by_order[order], key=lambda c: (c[1], c[0]))
        out.append((tuple(c[0] for c in cols), tuple(c[1] for c in cols)))
    return out


def kept_items(inter: pd.DataFrame) -> list[Item]:
    """The kept (interaction, function) columns of a run's interactions.csv (a search's kept columns, a re-train's
    selection), in the table's order."""
    kept = inter[pd.to_numeric(inter["kept"], errors="coerce") == 1]
    return [(_names(str(n)), str(f)) for n, f in zip(kept["field_names"], kept["function"])]


def records(items: Sequence[Item]) -> list[dict]:
    """JSON form (run.json ``selection``)."""
    return [{"fields": list(fields), "function": function} for fields, function in items]


def interaction_counts(columns: Sequence[Columns], n_fields: int) -> dict[str, dict]:
    """run.json ``interactions`` of a model given its columns (a re-train or a transfer): per order, the distinct
    interactions and columns it holds."""
    out: dict[str, dict] = {}
    for fields, funcs in columns:
        if not fields:
            continue
        p, total = len(fields[0]), math.comb(n_fields, len(fields[0]))
        kept = len({tuple(f) for f in fields})
        out[f"order{p}"] = {"kept": kept, "total": total, "pool": total, "columns_kept": len(funcs),
                            "columns_total": len(funcs), "fi_ratio": kept / total}
    return out


# ----------------------------------------------------------------------------- fis-vs-stats selection rules


def _names(fields: str) -> tuple[str, ...]:
    return tuple(SEPARATOR.split(fields))


def pair_table(inter: pd.DataFrame) -> pd.DataFrame:
    """One row per searched 2nd-order interaction of a run's interactions.csv: ``names`` (tuple), ``abs_alpha``
    (max |α| over its functions), ``kept_function`` (the function of its kept column of largest |α|, None when
    the run kept none), ``stats_auc``."""
    pairs = inter[inter["order"] == 2].assign(abs_alpha=lambda d: d["alpha"].abs())
    if pairs.empty or pairs["alpha"].isna().all():
        raise ConfigError("the parent run has no searched 2nd-order interactions with α (an AIM run is needed)")
    rows = []
    for names, g in pairs.groupby("field_names", sort=False):
        g = g.sort_values("abs_alpha", ascending=False, kind="stable")
        kept = g[g["kept"] == 1]
        rows.append({"names": _names(str(names)), "abs_alpha": float(g["abs_alpha"].iloc[0]),
                     "kept_function": str(kept["function"].iloc[0]) if len(kept) else None,
                     "stats_auc": float(g["stats_auc"].iloc[0])})
    return pd.DataFrame(rows)


def default_function(inter: pd.DataFrame) -> str:
    """The parent's most frequent kept function (ties: the order of ``FUNCTIONS``)."""
    counts = Counter(inter.loc[inter["kept"] == 1, "function"])
    if not counts:
        raise ConfigError("the parent run kept no interaction: there is no function to give the other pairs")
    return max(FUNCTIONS, key=lambda f: (counts.get(f, 0), -FUNCTIONS.index(f)))


def rule_selection(inter: pd.DataFrame, rule: str, top: int, seed: int = 0) -> list[Item]:
    """The ``top`` pairs of a rule, each with a function:

    - ``fis``: the pairs of largest |α| (max over their functions);
    - ``stats``: the pairs of largest statistics AUC;
    - ``random``: ``top`` pairs drawn uniformly with ``numpy.random.default_rng(seed)``;

    each with the same function rule: the function the gates kept for the pair in the parent (its kept column of
    largest |α|), else the parent's most frequent kept function (``default_function``).

    Ties keep the order of interactions.csv."""
    if rule not in RULES:
        raise ConfigError(f"unknown selection rule {rule!r}; choose one of: {', '.join(RULES)}")
    pairs = pair_table(inter)
    if not 1 <= top <= len(pairs):
        raise ConfigError(f"--top must be in [1, {len(pairs)}] (the searched pairs), got {top}")
    if rule in ("fis", "stats"):
        key = "abs_alpha" if rule == "fis" else "stats_auc"
        chosen = pairs.sort_values(key, ascending=False, kind="stable").head(top)
    else:
        chosen = pairs.iloc[np.sort(np.random.default_rng(seed).choice(len(pairs), size=top, replace=False))]
    fallback = default_function(inter)
    return [(r.names, r.kept_function if isinstance(r.kept_function, str) else fallback) for r in chosen.itertuples()]


# ----------------------------------------------------------------------------- a selection of scatter points

SOURCES = {"kept": "kept by the parent", "default": "no kept function in the parent: its most frequent kept function",
           "column": "the selected column"}


def points_columns(points: pd.DataFrame, per: str, inter: pd.DataFrame | None = None) -> pd.DataFrame:
    """The columns that "Re-train with these" trains for selected points of the α scatter (``alpha_points``):

    - ``per="column"``: exactly the selected (interaction, function) columns;
    - ``per="interaction"``: every function the parent kept for each selected interaction (``functions_kept``,
      under the page's function filter); an interaction with no kept function gets the parent's most frequent
      kept function (``default_function`` of ``inter``; the point's own function when the parent kept nothing).

    One row per column, duplicates dropped, in the points' order: ``column`` (``user×item:outer``), ``fields`` (the
    names), ``function``, ``source`` (why it is there, ``SOURCES``). ``to_spec(items_of(df))`` is the ``--columns``
    value."""
    if per not in ("column", "interaction"):
        raise ValueError(f"per={per!r}: choose 'column' or 'interaction'")
    fallback = None
    if per == "interaction" and inter is not None:
        try:
            fallback = default_function(inter)
        except ConfigError:
            fallback = None
    rows: dict[Item, str] = {}
    for r in points.itertuples():
        names = _names(str(r.field_names).strip())
        if per == "column":
            rows.setdefault((names, str(r.function)), SOURCES["column"])
            continue
        kept = [f.strip() for f in str(getattr(r, "functions_kept", "") or "").split(",") if f.strip() in FUNCTIONS]
        if kept:
            for f in sorted(kept, key=FUNCTIONS.index):
                rows.setdefault((names, f), SOURCES["kept"])
        else:
            rows.setdefault((names, fallback or str(r.function)), SOURCES["default"])
    return pd.DataFrame({"column": [to_spec([item]) for item in rows], "fields": ["×".join(n) for n, _ in rows],
                         "function": [f for _, f in rows], "source": list(rows.values())},
                        columns=["column", "fields", "function", "source"])


def items_of(columns: pd.DataFrame) -> list[Item]:
    """The selection of a ``points_columns`` table."""
    return [(_names(str(f)), str(k)) for f, k in zip(columns["fields"], columns["function"])]


# ------------------------------------------------------------------------------------------- a retrain run


@dataclass(frozen=True)
class RetrainPlan:
    """What a ``retrain`` run trains: the selection, its column blocks, the embedding positions per field (None =
    all ``embed_dim``), the parent (``{"id", "path"}`` or None) and what to warn about."""

    items: tuple[Item, ...]
    blocks: tuple[Columns, ...]
    positions: tuple[tuple[int, ...], ...] | None
    parent: dict | None
    warnings: tuple[str, ...] = ()
    parent_config: dict | None = None  # the parent's run.json config (its search is replayed: aim.pipeline)

    def meta(self) -> dict:
        """The run.json keys of a retrain run."""
        return {"parent": self.parent, "selection": records(self.items)}


def _parent_positions(fields: pd.DataFrame) -> list[tuple[int, ...]]:
    return [tuple(int(k) for k in str(p).split()) if isinstance(p, str) else () for p in fields["positions"]]


def plan_retrain(cfg: RunConfig, field_names: Sequence[str]) -> RetrainPlan:
    """Resolve a retrain config against the data's fields and its parent run; ``ConfigError`` naming the bad item,
    the parent run that cannot be read or whose fields differ. A field the selection reads that the parent's EDS
    left without any dimension gets all ``embed_dim`` (and a warning), so every selected column is trained."""
    from aim.runs import load_run  # aim.runs imports torch: only when a retrain run starts

    items = tuple(parse(cfg.columns, field_names))
    parent, positions, warnings, parent_config = None, None, [], None
    if cfg.transfer_from:
        try:
            run = load_run(cfg.transfer_from)
        except AIMError as exc:
            raise ConfigError(f"--from {cfg.transfer_from}: {exc}") from None
        names = [f["name"] for f in run.meta["dataset"].get("fields", [])]
        if names != list(field_names):
            raise ConfigError(f"--from {cfg.transfer_from}: its fields {names} differ from this dataset's "
                              f"{list(field_names)}")
        parent = {"id": run.id, "path": str(cfg.transfer_from)}
        parent_config = run.meta.get("config")
        if cfg.retrain_dims == "parent" and run.fields is not None:
            dim = cfg.model.embed_dim
            positions = [tuple(k for k in p if k < dim) for p in _parent_positions(run.fields)]
            used = {f for fields, _ in items for f in fields}
            empty = [n for n, p in zip(field_names, positions) if n in used and not p]
            if empty:
                warnings.append(f"the parent's EDS left {', '.join(empty)} without dimensions; the selection reads "
                                f"them, so they keep all {dim}")
                positions = [tuple(range(dim)) if n in empty else p for n, p in zip(field_names, positions)]
            positions = tuple(positions)
    return RetrainPlan(items, tuple(blocks(items, field_names)), positions, parent, tuple(warnings), parent_config)
