"""``python -m aim run | show | datasets``: the command line for everything the app can launch.

Options are generated from the config dataclasses (their ``help`` is the option help), so a config field and its
flag cannot drift apart: ``ModelConfig.embed_dim`` is ``--embed-dim``; synthetic-data fields carry a
``--synthetic-`` prefix. Every value is validated before any work starts.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from aim.config import VARIANTS, DataConfig, ModelConfig, RunConfig, SearchConfig, SyntheticConfig, TrainConfig
from aim.errors import AIMError

SECTIONS = {"data": DataConfig, "synthetic": SyntheticConfig, "model": ModelConfig, "search": SearchConfig,
            "train": TrainConfig}
DEFAULT_OUT = "runs"


def _flag(section: str, name: str) -> str:
    prefix = "synthetic-" if section == "synthetic" else ""
    return f"--{prefix}{name.replace('_', '-')}"


def _parser_for(kind: type):
    """An argparse ``type`` whose name appears in argparse's error message ("invalid int value: 'x'")."""
    if kind is tuple:
        def parse(text: str) -> tuple[int, ...]:
            return tuple(int(v) for v in text.split(",") if v.strip())

        parse.__name__ = "comma-separated integer list"
        return parse
    return kind


def _add_config_options(parser: argparse.ArgumentParser) -> None:
    top = parser.add_argument_group("run")
    top.add_argument("--dataset", default="synthetic", help="dataset name (python -m aim datasets lists them)")
    top.add_argument("--data", dest="data_path", default="", help="dataset file or folder in its native layout")
    top.add_argument("--variant", default="aim", help=f"one of {', '.join(VARIANTS)}")
    top.add_argument("--seed", type=int, default=0, help="seed of model init and batch order")
    top.add_argument("--max-order", type=int, default=2, help="highest interaction order searched")
    top.add_argument("--out", default=DEFAULT_OUT, help="folder the run folder is created in")
    for section, cls in SECTIONS.items():
        group = parser.add_argument_group(section)
        for f in dataclasses.fields(cls):
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            kind = type(default)
            shown = ",".join(map(str, default)) if kind is tuple else default
            group.add_argument(_flag(section, f.name), dest=f"{section}.{f.name}", default=None,
                               type=_parser_for(kind), metavar=kind.__name__.upper(),
                               help=f"{f.metadata.get('help', '')} (default: {shown})")


def config_from_args(args: argparse.Namespace) -> RunConfig:
    sections = {}
    for section, cls in SECTIONS.items():
        given = {f.name: getattr(args, f"{section}.{f.name}") for f in dataclasses.fields(cls)}
        sections[section] = cls(**{k: v for k, v in given.items() if v is not None})
    return RunConfig(dataset=args.dataset, data_path=args.data_path, variant=args.variant, seed=args.seed,
                     max_order=args.max_order, **sections)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m aim", description="Automatic Interaction Machine explorer")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="search and re-train one variant; prints the run folder last",
                         formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    _add_config_options(run)
    show = sub.add_parser("show", help="summarise a run folder")
    show.add_argument("run_dir")
    show.add_argument("--json", action="store_true", help="print a JSON summary")
    sub.add_parser("datasets", help="list the datasets and the --data layout each expects")
    return parser


def _validate_dataset(cfg: RunConfig) -> None:
    from aim.data.registry import describe_datasets

    names = [d["name"] for d in describe_datasets()]
    if cfg.dataset not in names:
        raise AIMError(f"unknown dataset {cfg.dataset!r}; choose one of: {', '.join(names)}")
    if cfg.dataset != "synthetic":
        if not cfg.data_path:
            raise AIMError(f"--data is required for dataset {cfg.dataset!r} (python -m aim datasets shows the layout)")
        if not Path(cfg.data_path).exists():
            raise AIMError(f"--data {cfg.data_path}: no such file or folder")


def cmd_run(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    _validate_dataset(cfg)
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AIMError(f"--out {out}: cannot create the output folder ({exc.strerror})") from None
    from aim.pipeline import execute  # heavy (torch, sklearn): imported only once the arguments are valid
    path = execute(cfg, out, log=lambda msg: print(msg, flush=True))
    print("-" * 60)
    _print_summary(summary(str(path)))
    print(path)
    return 0


def summary(run_dir: str) -> dict:
    """The JSON summary of a run (keys documented in the README)."""
    from aim.runs import load_run

    run = load_run(run_dir)
    m = run.meta
    return {
        "id": m["id"],
        "path": str(run.path),
        "status": m["status"],
        "error": m.get("error"),
        "variant": m.get("variant"),
        "dataset": m["dataset"].get("name"),
        "seed": m.get("seed"),
        "metrics": m.get("metrics", {}),
        "stages": {k: v.get("metrics") for k, v in m.get("stages", {}).items()},
        "interactions": m.get("interactions", {}),
        "params": m.get("params", {}),
        "planted": m.get("planted"),
        "created": m["created"],
    }


def cmd_show(args: argparse.Namespace) -> int:
    s = summary(args.run_dir)
    if args.json:
        print(json.dumps(s, indent=1))
    else:
        _print_summary(s)
    return 0


def _print_summary(s: dict) -> None:
    print(f"{s['id']}  [{s['status']}]  {s['dataset']} / {s['variant']} / seed {s['seed']}")
    if s["error"]:
        print(f"error: {s['error']}")
    for stage, metrics in s["stages"].items():
        for split, v in (metrics or {}).items():
            print(f"  {stage:8s} {split:5s} AUC {v['auc']:.4f}  log loss {v['logloss']:.4f}")
    o2 = s["interactions"].get("order2")
    if o2:
        print(f"  order-2 interactions kept {o2['kept']}/{o2['total']} (FI ratio {o2['fi_ratio']:.1%})")
    if s["params"]:
        print(f"  parameters {s['params']['before_eds']:,} before EDS -> {s['params']['after_eds']:,} after")
    if s["planted"]:
        p = s["planted"]
        print(f"  planted pairs: precision {p['precision']:.2f} recall {p['recall']:.2f} ({p['hits']} of {p['planted']} "
              f"planted found, {p['kept']} kept)")
        if "noise_dims_kept" in p:
            print(f"  embedding dimensions kept: {p['noise_dims_kept']} on noise fields, {p['signal_dims_kept']} on others")


def cmd_datasets(_: argparse.Namespace) -> int:
    from aim.data.registry import describe_datasets

    for d in describe_datasets():
        print(f"{d['name']:10s} {d['description']}\n{'':10s} --data: {d['data']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return {"run": cmd_run, "show": cmd_show, "datasets": cmd_datasets}[args.command](args)
    except AIMError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
