"""The machinery of the typed configs (``aim.config``): a field's help and command-line metadata (``option``), the
checks every config runs first (list fields parsed into tuples once, floats finite, choices valid) and the comma
text a list field is stored as in ``run.json`` and given as on the command line."""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import field, fields
from typing import Any

from aim.errors import ConfigError


def parse_fractions(text: str, name: str, allow_zero: bool = False) -> tuple[float, ...]:
    """``"0.1,0.25"`` -> (0.1, 0.25): finite values > 0 (>= 0 with ``allow_zero``, e.g. an L2 grid where 0 is
    off), at least one, no duplicates."""
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise ConfigError(f"{name}={text!r} is not valid; expected a comma list of numbers, e.g. 0.1,0.25") from None
    if not values:
        raise ConfigError(f"{name} must list at least one value")
    bound = ">= 0" if allow_zero else "> 0"
    bad = [v for v in values if not (math.isfinite(v) and (v >= 0 if allow_zero else v > 0))]
    if bad:
        raise ConfigError(f"{name}={text!r}: every value must be a finite number {bound}, got {bad}")
    if len(set(values)) != len(values):
        raise ConfigError(f"{name}={text!r} lists a value twice")
    return values


def check(cond: bool, message: str) -> None:
    if not cond:
        raise ConfigError(message)


def check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    check(value in choices, f"{name}={value!r} is not valid; choose one of: {', '.join(choices)}")


# ------------------------------------------------------------------------------------------------ list fields


def list_text(values: Sequence) -> str:
    """A list field as the comma text ``run.json`` and the command line hold: (0.25, 1.0) -> "0.25,1" (a float
    as its shortest exact form, ".0" dropped, so the text parses back to the same values)."""
    def text(v: Any) -> str:
        if isinstance(v, float):
            r = repr(v)
            return r[:-2] if r.endswith(".0") else r
        return str(v)

    return ",".join(map(text, values))


def as_sequence(value: Any, name: str, expected: str) -> Sequence:
    check(isinstance(value, Sequence) and not isinstance(value, str),
           f"{name}={value!r} is not valid; expected {expected}")
    return value


def as_fractions(value: Any, name: str, allow_zero: bool = False) -> tuple[float, ...]:
    """Crossing fractions (or, ``allow_zero``, an L2 grid): finite numbers > 0 (>= 0), at least one, none twice."""
    if not isinstance(value, str):  # a sequence: checked as its text, with the same messages
        value = ",".join(map(str, as_sequence(value, name, "a comma list of numbers, e.g. 0.1,0.25")))
    return parse_fractions(value, name, allow_zero)


def as_grid(value: Any, name: str) -> tuple[float, ...]:
    return as_fractions(value, name, allow_zero=True)


def as_names(value: Any, name: str) -> tuple[str, ...]:
    """Names (columns, functions): surrounding blanks and empty items dropped."""
    items = value.split(",") if isinstance(value, str) else as_sequence(value, name, "a comma list of names")
    check(all(isinstance(v, str) for v in items), f"{name}={value!r} is not valid; expected a comma list of names")
    return tuple(v.strip() for v in items if v.strip())


def as_integers(value: Any, name: str) -> tuple[int, ...]:
    message = f"{name}={value!r} is not valid; expected a comma list of integers, e.g. 400,400,400"
    if isinstance(value, str):
        try:
            return tuple(int(v) for v in value.split(",") if v.strip())
        except ValueError:
            raise ConfigError(message) from None
    items = as_sequence(value, name, "a comma list of integers, e.g. 400,400,400")
    check(all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in items), message)
    return tuple(int(v) for v in items)


def option(text: str, *, choices: tuple = (), parse: Callable[[Any, str], tuple] | None = None,
          as_text: bool = True, flags: tuple[str, ...] = (), metavar: str | None = None, **kw: Any) -> Any:
    """A field with its help text and what else the checks and the command line read: ``choices`` (of each item,
    for a list), ``parse`` (a list field: its parser of a comma text or a sequence), ``as_text`` (a list field is
    stored as comma text in ``run.json``, as runs always stored these; else as a JSON list), ``flags`` and
    ``metavar`` (a top-level option's names where not ``--field-name``)."""
    meta: dict[str, Any] = {"help": text}
    if choices:
        meta["choices"] = choices
    if parse is not None:
        meta.update(parse=parse, as_text=as_text)
    if flags:
        meta["flags"] = flags
    if metavar:
        meta["metavar"] = metavar
    return field(metadata=meta, **kw)


def is_list(f: dataclasses.Field) -> bool:
    """A list field: a tuple, given as a tuple or as comma text."""
    return "parse" in f.metadata


def check_fields(config: Any) -> None:
    """What every config checks first: list fields parsed into tuples (once: a tuple parses to itself), every
    float finite (inf passes a check like ``lr > 0`` and then poisons training), every choice valid."""
    for f in fields(config):
        value = getattr(config, f.name)
        if is_list(f):
            value = f.metadata["parse"](value, f.name)
            object.__setattr__(config, f.name, value)
        check(not isinstance(value, float) or math.isfinite(value), f"{f.name} must be a finite number, got {value}")
        choices = f.metadata.get("choices")
        if choices:
            for item in value if is_list(f) else (value,):
                check_choice(f.name, item, choices)


class Config:
    """What every config shares: its JSON form (``run.json``)."""

    def to_json(self) -> dict:
        out = {}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if isinstance(value, Config):
                value = value.to_json()
            elif f.metadata.get("as_text"):
                value = list_text(value)
            out[f.name] = value
        return out
