"""Regenerate ``cached_runs/`` from the shared data and the synthetic generator with the project's own commands.

    python tools/make_cached_runs.py                 # every entry, in the order below; resumable
    python tools/make_cached_runs.py --only frappe-study,criteo
    python tools/make_cached_runs.py --list
    python tools/make_cached_runs.py --add-rows fwfm,autoint --only frappe-study   # new rows in a shipped study
    python tools/make_cached_runs.py --rerun-rows autoint --only frappe-study     # those rows again, after a fix

Each entry is one ``python -m aim run`` or ``python -m aim study`` command with fixed seeds. It runs in a work
folder (``runs/cached_build/`` by default, git-ignored); when it finishes, its folder is copied into
``cached_runs/`` without ``weights.pt`` / ``model.txt`` (no view reads weights, and they are 90% of a run's bytes) and recorded
in ``<work>/done.json``, so a rerun skips finished entries and an interrupted study is resumed, not redone.
Entries run cheapest-first within what the app needs most; ``--only`` picks some.

Every entry runs the defaults (GRDA strengths, the EDS strength and the final models' embedding L2 chosen on
validation, README "How AIM chooses its sparsity"); the one setting beyond them is the anchor protocol's dropout
0.3 on MovieLens-100k (``shared/design/anchors.md``), which every variant of that study shares.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = "fm,deepfm,ipnn,aim-ifs-eds,aim-eds,aim,aim-eds-se,lr,gbdt,fwfm,xdeepfm,autoint,dcnv2,autofis"
REAL = {"frappe": ("frappe", "frappe", []), "ml100k": ("movielens", "ml-100k", ["--dropout", "0.3"])}
SKIP_FILES = {"weights.pt", "model.txt", "search_start.pt", "checkpoints", ".lock", ".jobs"}  # weights (gbdt:
# model.txt), the what-if's saved start and resume state: no view reads them


@dataclass(frozen=True)
class Entry:
    name: str
    command: str  # "run" or "study"
    args: tuple[str, ...]
    needs: str = ""  # an entry whose folder is passed as ``needs_flag``
    about: str = ""
    needs_flag: str = "--transfer-from"
    kind: str = "variants"  # of a study entry: which study kind it builds (its unfinished folder is resumed)
    dataset: str = ""  # of a study entry whose args do not name it (fis-vs-stats takes its parent's)


def entries(data_root: Path, jobs: int) -> list[Entry]:
    out: list[Entry] = []
    for key, (dataset, folder, extra) in REAL.items():
        base = ("--dataset", dataset, "--data", str(data_root / folder), *extra)
        out.append(Entry(f"{key}-order3", "run", (*base, "--variant", "aim", "--seed", "0", "--max-order", "3"),
                         about=f"{dataset}: one AIM run searching orders 2 and 3"))
        out.append(Entry(f"{key}-study", "study", (*base, "--variants", VARIANTS, "--seeds", "5", "--jobs", str(jobs)),
                         needs=f"{key}-order3",
                         about=f"{dataset}: 5 seeds of every variant, SE vs FWE, transfer from {key}-order3"))
    out.insert(1, Entry("synthetic-order3", "run", ("--variant", "aim", "--seed", "0", "--max-order", "3",
                                                    "--synthetic-planted-triples", "1"),
                        about="synthetic data with 3 planted pairs and 1 planted triple, orders 2 and 3 searched"))
    for name, path in (("criteo", "criteo_sample/lapis_train.tsv"), ("avazu", "avazu_sample/lapis_train.csv")):
        out.insert(2, Entry(name, "run", ("--dataset", name, "--data", str(data_root / path), "--variant", "aim",
                                          "--seed", "0", "--note", f"format demonstration: {name} sample of a few "
                                          "thousand rows; its AUC means little"),
                            about=f"{name} sample: a format demonstration on a few thousand rows"))
    out.append(Entry("synthetic-study", "study", ("--seeds", "3", "--jobs", str(jobs)),
                     about="synthetic data: 3 seeds of the default variants (the six of the paper, lr, gbdt)"))
    out.append(Entry("ml100k-fis-vs-stats", "study", ("--kind", "fis-vs-stats", "--seeds", "3", "--jobs", str(jobs)),
                     needs="ml100k-order3", needs_flag="--from", kind="fis-vs-stats", dataset="movielens",
                     about="movielens: paper §4.4.2, the top pairs of ml100k-order3 by |α|, by statistics AUC and "
                           "at random, re-trained with 3 seeds"))
    return out


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def _unfinished_study(work: Path, entry: Entry) -> str | None:
    """The newest study folder of this entry's dataset in ``work`` that did not finish (a killed build), if any."""
    if entry.command != "study":
        return None
    args = list(entry.args)
    dataset = args[args.index("--dataset") + 1] if "--dataset" in args else entry.dataset or "synthetic"
    for folder in sorted(work.glob(f"study__{dataset}__*"), reverse=True):
        try:
            meta = json.loads((folder / "study.json").read_text())
            if meta.get("status") != "complete" and meta.get("study_kind", "variants") == entry.kind:
                return str(folder)
        except (OSError, ValueError):
            continue
    return None


def _superseded(study: Path) -> set[str]:
    """Run folders in a study's ``runs/`` that its ``study.json`` does not record: the runs a killed build left
    behind (the resumed study redid them under new names). Shipping them would list interrupted runs."""
    meta = json.loads((study / "study.json").read_text())
    recorded = {Path(rel).name for seeds in (meta.get("runs") or {}).values() for rel in seeds.values() if rel}
    runs = study / "runs"
    return {p.name for p in runs.iterdir() if p.is_dir()} - recorded if runs.is_dir() else set()


def _copy_without_weights(src: Path, dst: Path) -> None:
    """Copy a run or study folder without weights and resume state (and, for a study, without the superseded
    runs), through ``<dst>.partial`` so that a killed copy never looks like a finished one."""
    drop = _superseded(src) if (src / "study.json").exists() else set()
    runs_dir = src / "runs"

    def ignore(folder: str, names: list[str]) -> list[str]:
        return [n for n in names if n in SKIP_FILES or (Path(folder) == runs_dir and n in drop)]

    tmp = dst.with_name(dst.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src, tmp, ignore=ignore)
    shutil.rmtree(dst, ignore_errors=True)
    tmp.rename(dst)


def build(entry: Entry, work: Path, done: dict, out: Path) -> Path:
    cmd = [sys.executable, "-m", "aim", entry.command, *entry.args, "--out", str(work)]
    if entry.needs:
        # the cached copy (interactions only are read), so the recorded path exists in a fresh clone
        cmd += [entry.needs_flag, os.path.relpath(out / done[entry.needs]["cached"], ROOT)]
    previous = done.get(entry.name, {}).get("work") or _unfinished_study(work, entry)
    if entry.command == "study" and previous and Path(previous).exists():
        cmd = [sys.executable, "-m", "aim", "study", "--resume", previous]
    print(f"[cached] {entry.name}: {' '.join(cmd[1:])}", flush=True)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})
    log = work / f"{entry.name}.log"
    log.write_text(proc.stdout)
    folder = Path(_last_line(proc.stdout))
    if proc.returncode != 0 or not folder.is_dir():
        if entry.command == "study" and folder.is_dir():
            done[entry.name] = {"work": str(folder), "finished": False}
        raise SystemExit(f"[cached] {entry.name} failed (exit {proc.returncode}); its output is in {log}")
    seconds = time.perf_counter() - start
    target = out / folder.name
    _copy_without_weights(folder, target)
    done[entry.name] = {"work": str(folder), "cached": target.name, "finished": True, "seconds": round(seconds, 1),
                        "command": " ".join(["python", *cmd[1:]])}
    print(f"[cached] {entry.name}: {seconds / 60:.1f} min -> {target}", flush=True)
    return target


def _shipped_study(out: Path, entry: Entry, done: dict) -> Path:
    """The shipped folder of a study entry: the ledger's, else the one study of its dataset in ``out``."""
    if done.get(entry.name, {}).get("cached"):
        return out / done[entry.name]["cached"]
    dataset = entry.args[entry.args.index("--dataset") + 1] if "--dataset" in entry.args else "synthetic"
    found = [p for p in sorted(out.glob(f"study__{dataset}__*"))
             if json.loads((p / "study.json").read_text()).get("study_kind", "variants") == entry.kind]
    if len(found) != 1:
        raise SystemExit(f"[cached] {entry.name}: expected one shipped {dataset} variants study in {out}, "
                         f"found {[p.name for p in found]}")
    return found[0]


def add_rows(study: Path, tokens: str, work: Path, jobs: int, rerun: bool = False) -> Path:
    """New variant rows in a shipped study: its copy in ``work`` gains them (``python -m aim study --resume COPY
    --add-variants TOKENS``: its seeds and config, every run it has reused), then replaces the shipped folder
    without weights. ``rerun``: the rows are the study's already and are run again (after a change to their
    model's code, which a run's config does not record): the copy drops their runs, then ``--resume`` redoes
    just those cells. A failure leaves the shipped folder as it was."""
    copy = work / study.name
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(study, copy)
    cmd = [sys.executable, "-m", "aim", "study", "--resume", str(copy), "--jobs", str(jobs)]
    if rerun:
        _drop_rows(copy, tokens.split(","))
    else:
        cmd += ["--add-variants", tokens]
    print(f"[cached] {study.name}: {' '.join(cmd[1:])}", flush=True)
    proc = subprocess.run(cmd, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    if proc.returncode != 0:
        raise SystemExit(f"[cached] {study.name}: adding {tokens} failed (exit {proc.returncode}); {copy} kept")
    _copy_without_weights(copy, study)
    return study


def _drop_rows(study: Path, tokens: list[str]) -> None:
    """Delete the runs of rows ``tokens`` (and any run the study does not record) from a work copy of a study, so
    that ``--resume`` runs those cells again instead of reusing a run of the same config."""
    meta = json.loads((study / "study.json").read_text())
    runs = meta.get("runs") or {}
    unknown = [t for t in tokens if t not in runs]
    if unknown:
        raise SystemExit(f"[cached] {study.name}: no rows {unknown} to rerun (it has {', '.join(runs)})")
    drop = _superseded(study) | {Path(rel).name for t in tokens for rel in runs[t].values() if rel}
    for name in sorted(drop):
        shutil.rmtree(study / "runs" / name, ignore_errors=True)
    print(f"[cached] {study.name}: rerunning {', '.join(tokens)} ({len(drop)} run folders dropped)", flush=True)


def _record(ledger: Path, name: str, value: dict | None) -> None:
    """Write one entry into the ledger as it is on disk now (two builds with different ``--only`` may run at
    once: each re-reads the ledger instead of writing back the copy it read at its start), atomically."""
    if value is None:
        return
    current = json.loads(ledger.read_text()) if ledger.exists() else {}
    current[name] = value
    tmp = ledger.with_name(ledger.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(current, indent=1))
    os.replace(tmp, ledger)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-root", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "cached_build")
    parser.add_argument("--out", type=Path, default=ROOT / "cached_runs")
    parser.add_argument("--jobs", type=int, default=2, help="processes per study (seeds in parallel)")
    parser.add_argument("--only", default="", help="comma-separated entry names (default: all)")
    parser.add_argument("--list", action="store_true", help="list the entries and exit")
    parser.add_argument("--add-rows", default="", metavar="VARIANTS",
                        help="instead of building: add these variants' rows to the shipped studies of --only")
    parser.add_argument("--rerun-rows", default="", metavar="VARIANTS",
                        help="instead of building: run these rows of the shipped studies of --only again (after a "
                             "change to their model's code), reusing every other run")
    args = parser.parse_args(argv)
    todo = entries(args.data_root.resolve(), args.jobs)
    if args.list:
        for e in todo:
            print(f"{e.name:18s} {e.about}")
        return 0
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - {e.name for e in todo}
        if unknown:
            parser.error(f"unknown entries {sorted(unknown)}; choose from {[e.name for e in todo]}")
        todo = [e for e in todo if e.name in wanted]
    args.work.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.add_rows and args.rerun_rows:
        parser.error("--add-rows and --rerun-rows: one at a time")
    if args.add_rows or args.rerun_rows:
        ledger_now = json.loads((args.work / "done.json").read_text()) if (args.work / "done.json").exists() else {}
        for entry in todo:
            if entry.command != "study" or entry.kind != "variants":
                parser.error(f"--add-rows/--rerun-rows: {entry.name} is not a variants study")
            shipped = _shipped_study(args.out, entry, ledger_now)
            add_rows(shipped, args.add_rows or args.rerun_rows, args.work, args.jobs, rerun=bool(args.rerun_rows))
        return 0
    ledger = args.work / "done.json"
    done = json.loads(ledger.read_text()) if ledger.exists() else {}
    for entry in todo:
        if done.get(entry.name, {}).get("finished"):
            print(f"[cached] {entry.name}: done before ({done[entry.name]['cached']})")
            continue
        if entry.needs and not done.get(entry.needs, {}).get("finished"):
            raise SystemExit(f"[cached] {entry.name} needs {entry.needs} first (run it, or drop --only)")
        try:
            build(entry, args.work, done, args.out)
        finally:
            _record(ledger, entry.name, done.get(entry.name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
