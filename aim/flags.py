"""The command line's view of the config: a flag for every ``RunConfig`` field (generated from the field: its help,
default and choices), the config of parsed flags, and the one route back from a config to the flags that rebuild
it (``config_args``: the Launch page, the what-if re-train and Compare's seed commands). Below ``aim.cli`` so that
the analysis can build commands without importing the CLI."""

from __future__ import annotations

import argparse
import dataclasses
import functools
from collections.abc import Iterator
from pathlib import Path

from aim.config import RunConfig
from aim.config_fields import list_text

# The config's sections, from RunConfig's fields: every field of each is a flag, as RunConfig's own fields are.
SECTIONS = {f.name: f.default_factory for f in dataclasses.fields(RunConfig)
            if dataclasses.is_dataclass(f.default_factory)}
STUDY_SETS = frozenset({"variant", "seed", "transfer_from", "columns", "retrain_dims", "note"})  # per run, by a study
# Not a study's either: one network's own arguments cannot apply to a study's other variants (a run takes them)
STUDY_OMITS = frozenset({("model", "network_args")})
DEFAULT_OUT = "runs"  # where a run folder is created (--out)


def config_fields() -> Iterator[tuple[str | None, dataclasses.Field]]:
    """Every config value as (section, field): RunConfig's own fields (section None), then each section's."""
    for f in dataclasses.fields(RunConfig):
        if f.name not in SECTIONS:
            yield None, f
    for section, cls in SECTIONS.items():
        for f in dataclasses.fields(cls):
            yield section, f


def flags(section: str | None, f: dataclasses.Field) -> tuple[str, ...]:
    """The option names of a config field: its metadata's ``flags`` (``--data`` for ``data_path``), else
    ``--field-name``, with a ``--synthetic-`` prefix in the synthetic section. The first is the one emitted."""
    if "flags" in f.metadata:
        return f.metadata["flags"]
    prefix = "synthetic-" if section == "synthetic" else ""
    return (f"--{prefix}{f.name.replace('_', '-')}",)


def _dest(section: str | None, f: dataclasses.Field) -> str:
    return f"{section}.{f.name}" if section else f.name


def _value(cfg: RunConfig, section: str | None, f: dataclasses.Field) -> object:
    return getattr(getattr(cfg, section) if section else cfg, f.name)


def _parser_for(kind: type):
    """An argparse ``type`` whose name appears in argparse's error message ("invalid int value: 'x'"). A list
    stays text: the config parses it (``aim.config``), with the messages a run.json value gets."""
    if kind is tuple:
        return str
    if kind is bool:
        def parse_bool(text: str) -> bool:
            value = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}.get(text.lower())
            if value is None:
                raise ValueError(text)
            return value

        parse_bool.__name__ = "boolean (true/false)"
        return parse_bool
    return kind


def add_config_options(parser: argparse.ArgumentParser, per_run: bool = True) -> None:
    """A flag for every config field, generated from the field: its help, its default and its choices (shown; the
    config checks them). A flag defaults to None, "the config's default", which its help states. ``per_run=False``
    (``study``) leaves out what a study sets per run (``STUDY_SETS``), what only one variant takes
    (``STUDY_OMITS``), and ``--out`` and ``--threads``."""
    groups = {None: parser.add_argument_group("run")}
    for section, f in config_fields():
        if not per_run and ((section is None and f.name in STUDY_SETS) or (section, f.name) in STUDY_OMITS):
            continue
        if section not in groups:
            groups[section] = parser.add_argument_group(section)
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        kind, choices = type(default), f.metadata.get("choices")
        shown = list_text(default) if kind is tuple else default
        text = f.metadata.get("help", "") + (f" (default: {shown})" if shown != "" else "")
        text = text.replace("%", "%%")  # argparse %-formats help strings
        metavar = f.metadata.get("metavar") or (
            "LIST" if kind is tuple else "{" + ",".join(choices) + "}" if choices else kind.__name__.upper())
        groups[section].add_argument(*flags(section, f), dest=_dest(section, f), default=None, type=_parser_for(kind),
                           metavar=metavar, help=text)
    if per_run:
        groups[None].add_argument("--out", default=DEFAULT_OUT, help="folder the run folder is created in")
        groups[None].add_argument("--threads", type=int, default=0,
                                  help="torch threads of this run and its candidate workers (0: every core this "
                                       "process may use); the app gives each launch cores / running launches")


@functools.cache
def run_option_strings() -> frozenset[str]:
    """Every option of ``python -m aim run`` as written in full (the app refuses abbreviations and ``--x=v``)."""
    parser = argparse.ArgumentParser(add_help=False)
    add_config_options(parser)
    return frozenset({s for action in parser._actions for s in action.option_strings} | {"--resume"})


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """The RunConfig of parsed flags: a flag not given (None, or not an option of the command) keeps the default."""
    given: dict[str | None, dict] = {None: {}, **{section: {} for section in SECTIONS}}
    for section, f in config_fields():
        value = getattr(args, _dest(section, f), None)
        if value is not None:
            given[section][f.name] = value
    top = given.pop(None)
    if top.get("data_path"):
        top["data_path"] = str(Path(top["data_path"]).resolve())  # a study resumes from anywhere
    return RunConfig(**top, **{section: cls(**given[section]) for section, cls in SECTIONS.items()})


def _arg_text(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple):
        return list_text(value)
    return repr(value) if isinstance(value, float) else str(value)


def config_args(cfg: RunConfig) -> list[str]:
    """The ``python -m aim run`` arguments that rebuild ``cfg`` exactly: a flag for every value that differs from
    its default (``config_from_args`` of them equals ``cfg``). The one route from a config to a command line: the
    Launch page, the what-if re-train and the seed commands of Compare all build theirs here."""
    default = RunConfig()
    return [a for section, f in config_fields() if _value(cfg, section, f) != _value(default, section, f)
            for a in (flags(section, f)[0], _arg_text(_value(cfg, section, f)))]


def retrain_args(parent: RunConfig, parent_path: str | Path, spec: str) -> list[str]:
    """The arguments of a re-train of ``spec`` (``--columns``) with everything else as the run ``parent`` (its
    config) was trained, recording it as the parent (``--transfer-from``)."""
    from aim.config import RETRAIN

    return config_args(parent.replace(variant=RETRAIN, columns=spec, transfer_from=str(parent_path), note=""))
