"""``python -m aim run | show | datasets | study | table | report``: the command line for everything the app can launch.

Every config option is generated from a field of ``RunConfig`` or of one of its sections (its ``help``, default and
choices are the option's), so a config field and its flag cannot drift apart: ``ModelConfig.embed_dim`` is
``--embed-dim``; synthetic-data fields carry a ``--synthetic-`` prefix; a field's metadata may name its flags
(``data_path`` is ``--data``); ``aim/flags.py`` generates them and ``config_args`` is the way back. Only what is not config
(``--out``, ``--threads``, ``--resume``, the study's plan) is written here by hand. Every value is validated before
any work starts (config values, dataset name, the layout of ``--data``, a writable ``--out`` with room on its
disk), with the valid choices listed.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path

from aim import flags, variants
from aim.config import RunConfig
from aim.errors import AIMError, ConfigError
from aim.flags import config_from_args


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Appends "(default: X)" to an option's help unless its default is None or empty: the config flags default to
    None (= "the config's default", which their help already states) and must not read "(default: 2) (default:
    None)"; an empty default ("no data path") is said by the help itself."""

    def _get_help_string(self, action: argparse.Action) -> str:
        return action.help if action.default in (None, "") else super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m aim", description="Automatic Interaction Machine explorer")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="search and re-train one variant; prints the run folder last",
                         formatter_class=_HelpFormatter)
    run.add_argument("--resume", metavar="RUN_DIR", default=None,
                     help="continue RUN_DIR (killed, cancelled or failed) from its last finished stage, with its own "
                          "config: no other option may be given")
    flags.add_config_options(run)
    show = sub.add_parser("show", help="summarise a run folder")
    show.add_argument("run_dir")
    show.add_argument("--json", action="store_true", help="print a JSON summary")
    sub.add_parser("datasets", help="list the datasets and the --data layout each expects")
    study = sub.add_parser("study", allow_abbrev=False, formatter_class=_HelpFormatter,
                           help="run variants × seeds and summarise them like the paper's tables; prints the study "
                                "folder last")
    plan = study.add_argument_group("study")
    plan.add_argument("--kind", choices=("variants", "fis-vs-stats"), default="variants",
                      help="variants: every variant × seed (the paper's tables); fis-vs-stats (paper §4.4.2): re-train "
                           "the top-N pairs of --from RUN by |α|, the top-N by statistics AUC and N at random, with "
                           "the parent's config (the config flags below are not used)")
    plan.add_argument("--from", dest="study_from", default="", metavar="RUN_DIR",
                      help="fis-vs-stats: the AIM run whose pairs are ranked")
    plan.add_argument("--top", type=int, default=0,
                      help="fis-vs-stats: N, the pairs each rule keeps (0 = as many as the parent kept)")
    plan.add_argument("--variants", default=",".join(variants.STUDY_DEFAULT),
                      help="comma-separated variants: the --variant values of run, and aim-se, aim-eds-se, "
                           "aim-ifs-eds-se for shared embeddings (paper Table 5)")
    plan.add_argument("--seeds", default="5", help="number of seeds (5 = seeds 0..4) or a comma list (1,3,7)")
    plan.add_argument("--jobs", type=int, default=None,
                      help="processes running the seeds of one variant in parallel (default: min(seeds, CPUs))")
    plan.add_argument("--transfer-from", dest="study_transfer_from", default="", metavar="RUN_DIR",
                      help="an AIM run folder: adds the rows deepfm-transfer and ipnn-transfer (paper Table 10)")
    plan.add_argument("--resume", metavar="STUDY_DIR", default=None,
                      help="finish STUDY_DIR with its own settings (its variants, seeds, config and --jobs): reuse "
                           "its complete runs, redo the others; only --jobs and --add-variants may be given again")
    plan.add_argument("--add-variants", default="", metavar="VARIANTS",
                      help="with --resume (a variants study): add these variants' rows over the study's seeds, with "
                           "its configuration, reusing every run it has")
    plan.add_argument("--out", default="studies", help="folder the study folder is created in")
    flags.add_config_options(study, per_run=False)
    table = sub.add_parser("table", help="print the summary table of a study")
    table.add_argument("study_dir")
    table.add_argument("--format", choices=("csv", "latex", "markdown"), default="markdown")
    report = sub.add_parser("report", formatter_class=_HelpFormatter,
                            help="write a self-contained HTML report of a run or a study for stakeholders (charts "
                                 "work offline); prints the file last")
    report.add_argument("path", metavar="RUN_OR_STUDY", help="a run folder or a study folder")
    report.add_argument("--out", default="report.html", help="the HTML file to write")
    return parser


def validate_dataset(cfg: RunConfig) -> None:
    """The dataset name is known, and ``--data`` is given exactly when it is needed and has the dataset's layout
    (the files it names exist; nothing is read yet). ``ConfigError`` naming the choices or the expected layout."""
    from aim.data.registry import DATASETS, check_columns, describe_datasets
    from aim.errors import DataError

    names = [d["name"] for d in describe_datasets()]
    if cfg.dataset not in names:
        raise ConfigError(f"unknown dataset {cfg.dataset!r}; choose one of: {', '.join(names)}")
    if cfg.dataset == "synthetic":
        if cfg.data_path:
            raise ConfigError(f"--data {cfg.data_path} is not used by the synthetic dataset; name the dataset it "
                              f"holds with --dataset ({', '.join(names[1:])})")
        return
    if not cfg.data_path:
        raise ConfigError(f"--data is required for dataset {cfg.dataset!r} (python -m aim datasets shows the layout)")
    if not Path(cfg.data_path).exists():
        raise ConfigError(f"--data {cfg.data_path}: no such file or folder")
    try:
        DATASETS[cfg.dataset].sources(Path(cfg.data_path))
        check_columns(cfg.dataset, cfg.data_path, cfg.data)  # a mistyped CSV column: refused before any work
    except DataError as exc:
        raise ConfigError(f"--data {exc}") from None


def _output_folder(flag: str, folder: str) -> Path:
    """``check_output_folder`` with the flag named in its error."""
    from aim.errors import OutputError
    from aim.runwriter import check_output_folder

    try:
        return check_output_folder(folder)
    except OutputError as exc:
        raise ConfigError(f"{flag} {exc}") from None


def cmd_run(args: argparse.Namespace) -> int:
    if args.resume:
        if "TORCHELASTIC_RUN_ID" in os.environ:
            raise ConfigError("--resume continues a run in one process: start it without torchrun")
        return _resume(args)
    cfg = config_from_args(args)
    validate_dataset(cfg)
    _set_threads(args.threads)
    out = _output_folder("--out", args.out)
    from aim import distributed  # heavy (torch, sklearn): imported only once the arguments are valid
    from aim.pipeline import execute

    distributed.check(cfg.train)
    # A cancelled job (SIGTERM from the app) unwinds like Ctrl-C, so the run is marked failed, never left running.
    signal.signal(signal.SIGTERM, _terminate)
    distributed.start(cfg.train.device)  # under torchrun: join the process group; only rank 0 logs and prints
    main = distributed.is_main()
    path = execute(cfg, out, log=lambda msg: print(msg, flush=True) if main else None)
    distributed.stop()
    if not main:
        return 0
    print("-" * 60)
    _print_summary(summary(str(path)))
    print(path)
    return 0


def _set_threads(threads: int) -> None:
    if threads < 0:
        raise ConfigError(f"--threads must be >= 0 (0: every core), got {threads}")
    if threads:
        import torch

        torch.set_num_threads(threads)


def _resume(args: argparse.Namespace) -> int:
    defaults = vars(build_parser().parse_args(["run"]))
    others = sorted(k for k, v in vars(args).items() if k not in ("resume", "threads") and v != defaults[k])
    if others:
        raise ConfigError(f"--resume continues a run with its own config; leave out {', '.join(others)} "
                          "(--threads may be given)")
    _set_threads(args.threads)
    if Path(args.resume).is_dir():
        _output_folder("--resume", args.resume)
    from aim.pipeline import resume

    signal.signal(signal.SIGTERM, _terminate)
    path = resume(args.resume, log=lambda msg: print(msg, flush=True))
    print("-" * 60)
    _print_summary(summary(str(path)))
    print(path)
    return 0


def _terminate(signum: int, _frame) -> None:
    raise SystemExit(f"terminated by signal {signum}")


def summary(run_dir: str) -> dict:
    """The JSON summary of a run (``aim show RUN --json``): the keys below, read from run.json (docs/run-format.md)."""
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
        "stages": {k: v.get("metrics") if isinstance(v, dict) else None for k, v in m.get("stages", {}).items()},
        "interactions": m.get("interactions", {}),
        "params": m.get("params", {}),
        "planted": m.get("planted"),
        "sparsity": {k: {"grda": v.get("grda"), "embed_l2": v.get("embed_l2"), "start": v.get("start")}
                     for k, v in m.get("stages", {}).items()
                     if isinstance(v, dict) and (v.get("grda") or v.get("embed_l2") is not None)},
        "warnings": m.get("warnings", []),
        "created": m["created"],
    }


def cmd_study(args: argparse.Namespace) -> int:
    from aim import study as st

    def log(msg: str) -> None:
        print(msg, flush=True)

    if args.add_variants and not args.resume:
        raise ConfigError("--add-variants adds rows to an existing study: give it with --resume STUDY_DIR")
    if args.resume:
        path = st.resume_study(args.resume, jobs=args.jobs, log=log, add=args.add_variants)
    elif args.kind == "fis-vs-stats":
        if not args.study_from:
            raise ConfigError("--kind fis-vs-stats needs --from RUN_DIR (an AIM run)")
        seeds = st.parse_seeds(args.seeds)
        out = _output_folder("--out", args.out)
        path = st.run_fis_vs_stats(args.study_from, args.top, seeds, out, jobs=args.jobs, log=log)
    else:
        cfg = config_from_args(args)
        validate_dataset(cfg)
        variants, seeds = st.parse_variants(args.variants), st.parse_seeds(args.seeds)
        if args.study_transfer_from and not Path(args.study_transfer_from).is_dir():
            raise AIMError(f"--transfer-from {args.study_transfer_from}: no such run folder")
        out = _output_folder("--out", args.out)
        path = st.run_study(cfg, variants, seeds, out, jobs=args.jobs, log=log,
                            transfer_from=args.study_transfer_from or None)
    s = st.study_summary(path)
    print("-" * 60)
    print(st.format_study(s))
    print(path)
    return 0 if s["status"] == "complete" else 1


def cmd_table(args: argparse.Namespace) -> int:
    from aim.study import study_table

    sys.stdout.write(study_table(args.study_dir, args.format))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from aim.report import write_report

    out = write_report(args.path, args.out)
    print(f"report of {args.path}: {out.stat().st_size / 2**20:.1f} MiB")
    print(out)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from aim.study import format_study, is_study, study_summary

    if is_study(args.run_dir):
        s = study_summary(args.run_dir)
        print(json.dumps(s, indent=1) if args.json else format_study(s))
        return 0
    _check_run_folder(Path(args.run_dir))
    s = summary(args.run_dir)
    if args.json:
        print(json.dumps(s, indent=1))
    else:
        _print_summary(s)
    return 0


def _check_run_folder(path: Path) -> None:
    """``ConfigError`` saying what ``path`` is when it is not a run or study folder: missing, a file, or a folder
    of runs (the usual slip: ``aim show runs``), with the runs it holds to name instead."""
    from aim.runs import RUN_FILE

    if (path / RUN_FILE).is_file():
        return
    if not path.exists():
        raise ConfigError(f"{path}: no such folder; expected a run folder (made by python -m aim run)")
    if not path.is_dir():
        raise ConfigError(f"{path}: not a folder; expected a run folder (made by python -m aim run)")
    held = sorted((p.name for p in path.iterdir() if (p / RUN_FILE).is_file()), reverse=True)
    if held:
        raise ConfigError(f"{path}: a folder of {len(held)} run(s), not a run (a run folder holds {RUN_FILE}); name "
                          f"one, e.g. python -m aim show {path / held[0]}")
    raise ConfigError(f"{path}: has no {RUN_FILE}; expected a run folder (with {RUN_FILE}, made by python -m aim "
                      "run) or a study folder (with study.json, made by python -m aim study)")


def _print_summary(s: dict) -> None:
    print(f"{s['id']}  [{s['status']}]  {s['dataset']} / {s['variant']} / seed {s['seed']}")
    if s["error"]:
        print(f"error: {s['error']}")
    # A run.json edited by hand or written by another tool may hold anything below the keys the loader checks:
    # each part that cannot be printed is named instead of ending the command with a traceback.
    for part in (_print_stages, _print_interactions, _print_params, _print_planted, _print_sparsity, _print_warnings):
        try:
            part(s)
        except (KeyError, TypeError, AttributeError, ValueError, IndexError):
            print(f"  ({part.__name__[7:]}: not readable in run.json)")


def _print_stages(s: dict) -> None:
    for stage, metrics in s["stages"].items():
        for split, v in (metrics or {}).items():
            print(f"  {stage:8s} {split:5s} AUC {v['auc']:.4f}  log loss {v['logloss']:.4f}")


def _print_interactions(s: dict) -> None:
    for order, o in s["interactions"].items():
        pool = f", pool {o['pool']}" if o.get("pool", o["total"]) != o["total"] else ""
        print(f"  order-{order[5:]} interactions kept {o['kept']}/{o['total']} (FI ratio {o['fi_ratio']:.1%}{pool})")


def _print_params(s: dict) -> None:
    if s["params"]:
        print(f"  parameters {s['params']['before_eds']:,} before EDS -> {s['params']['after_eds']:,} after")


def _print_planted(s: dict) -> None:
    if s["planted"]:
        p = s["planted"]
        by_order = {k: v for k, v in p.get("by_order", {}).items() if v["planted"]} or {"order2": p}
        for order, o in by_order.items():
            print(f"  planted order-{order[5:]} interactions: precision {o['precision']:.2f} recall {o['recall']:.2f} "
                  f"({o['hits']} of {o['planted']} planted found, {o['kept']} kept)")
        if "noise_dims_kept" in p:
            print(f"  embedding dimensions kept: {p['noise_dims_kept']} on noise fields, {p['signal_dims_kept']} on others")


def _print_sparsity(s: dict) -> None:
    for stage, chosen in s.get("sparsity", {}).items():
        g = chosen.get("grda")
        if g:
            when = (f"crossing at {g['cross']:g} of {g['steps']} steps" if g.get("cross") is not None
                    else f"c given, crossing at step {g['crossing_step']}")
            print(f"  {stage:8s} GRDA c {g['c']:.4g} ({when})")
        if chosen.get("embed_l2") is not None:
            start = {"search": ", started from the search model"}.get(chosen.get("start"), "")
            print(f"  {stage:8s} embedding L2 {chosen['embed_l2']:g}{start}")


def _print_warnings(s: dict) -> None:
    for w in s.get("warnings") or []:
        print(f"  WARNING: {w}")


def cmd_datasets(_: argparse.Namespace) -> int:
    from aim.data.registry import describe_datasets

    for d in describe_datasets():
        print(f"{d['name']:10s} {d['description']}\n{'':10s} --data: {d['data']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        commands = {"run": cmd_run, "show": cmd_show, "datasets": cmd_datasets, "study": cmd_study, "table": cmd_table,
                    "report": cmd_report}
        return commands[args.command](args)
    except AIMError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
