"""The ``--columns`` grammar of the ``retrain`` variant: ``user×item:outer,item×cost:inner`` (fields joined by ``×``
or ``*``, 2 to 4 fields, one of ``FUNCTIONS``), or a CSV file (``*.csv``, read by ``aim.selection.parse_file``).
Syntax only: field names are checked against the data in ``aim.selection.resolve``. Below ``aim.config``, which
refuses a malformed spec before any work."""

from __future__ import annotations

import re
from collections.abc import Sequence

from aim.errors import ConfigError
from aim.model.names import FUNCTIONS

MAX_ORDER = 4
SEPARATOR = re.compile(r"\s*[×*]\s*")
Item = tuple[tuple[str, ...], str]  # (field names, function)


def is_file_spec(spec: str) -> bool:
    return spec.strip().lower().endswith(".csv")


def check_item(fields: Sequence[str], function: str, where: str) -> Item:
    fields = tuple(f.strip() for f in fields)
    if any(not f for f in fields) or len(fields) < 2:
        raise ConfigError(f"columns: {where} is not an interaction; expected FIELD×FIELD[×...]:FUNCTION "
                          f"(e.g. user×item:outer)")
    if len(fields) > MAX_ORDER:
        raise ConfigError(f"columns: {where} has order {len(fields)}; interactions of order 2 to {MAX_ORDER} only")
    if len(set(fields)) < len(fields):
        raise ConfigError(f"columns: {where} names a field twice")
    if function not in FUNCTIONS:
        raise ConfigError(f"columns: {where}: unknown function {function!r}; choose one of: {', '.join(FUNCTIONS)}")
    return fields, function


def no_duplicates(items: list[Item], names: list[str]) -> list[Item]:
    seen: dict[tuple, str] = {}
    for (fields, function), where in zip(items, names):
        key = (frozenset(fields), function)
        if key in seen:
            raise ConfigError(f"columns: {where} is a duplicate of {seen[key]}")
        seen[key] = where
    if not items:
        raise ConfigError("columns: the selection is empty; list at least one FIELD×FIELD:FUNCTION")
    return items


def parse_text(spec: str) -> list[Item]:
    """``"user×item:outer, item*cost:inner"`` -> ``[(("user", "item"), "outer"), (("item", "cost"), "inner")]``."""
    items, names = [], []
    for raw in (t.strip() for t in spec.split(",")):
        if not raw:
            continue
        head, sep, function = raw.rpartition(":")
        if not sep:
            raise ConfigError(f"columns: {raw!r} has no function; expected FIELD×FIELD[×...]:FUNCTION "
                              f"(functions: {', '.join(FUNCTIONS)})")
        items.append(check_item(SEPARATOR.split(head), function.strip(), repr(raw)))
        names.append(repr(raw))
    return no_duplicates(items, names)
