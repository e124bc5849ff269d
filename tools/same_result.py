"""Do two run folders (or two study folders) hold the same result? The determinism check of a rebuild.

    python tools/same_result.py RUN_A RUN_B
    python tools/same_result.py STUDY_A STUDY_B      # every (variant, seed) of A against the same cell of B

Compared exactly (no tolerance): the metrics and parameter counts in ``run.json``, every column of
``interactions.csv`` (its ``ref_score`` only when both runs have one: a run with ``--reference none`` or from before
the column existed holds the same result) and ``fields.csv``, and ``history.csv`` / ``alpha_snapshots.csv`` without their wall-clock
columns. Timings, timestamps, ids and paths are expected to differ and are ignored. Exit status 0 when every
pair is identical, 1 otherwise (each difference is printed), 2 when a folder cannot be read.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aim.errors import AIMError  # noqa: E402
from aim.runs import RUN_FILE, TABLES, load_run  # noqa: E402
from aim.study import STUDY_FILE, load_study  # noqa: E402

CLOCK_COLUMNS = {"seconds"}
# Columns a run may have or lack without its result differing: ref_score, the independent ranking that
# search.reference adds (aim/reference.py; runs before 2026-12-07 lack it). Compared when both runs have it.
OPTIONAL_COLUMNS = {"ref_score"}


def _frame_diff(name: str, a: pd.DataFrame | None, b: pd.DataFrame | None) -> list[str]:
    if a is None or b is None:
        return [] if a is None and b is None else [f"{name}: present in one run only"]
    one_sided = (set(a.columns) ^ set(b.columns)) & OPTIONAL_COLUMNS
    a, b = (df.drop(columns=[c for c in df.columns if c in CLOCK_COLUMNS | one_sided]) for df in (a, b))
    if list(a.columns) != list(b.columns) or len(a) != len(b):
        return [f"{name}: shape {a.shape} vs {b.shape}"]
    out = []
    for col in a.columns:
        x, y = a[col], b[col]
        same = (x == y) | (x.isna() & y.isna())
        if not same.all():
            i = int((~same).to_numpy().argmax())
            out.append(f"{name}.{col}: {int((~same).sum())} rows differ, first at row {i}: {x.iloc[i]!r} vs {y.iloc[i]!r}")
    return out


def run_diff(a: Path, b: Path) -> list[str]:
    ra, rb = load_run(a), load_run(b)
    out = []
    for key in ("status", "metrics", "params", "interactions", "planted"):
        if ra.meta.get(key) != rb.meta.get(key):
            out.append(f"run.json {key}: {ra.meta.get(key)!r} vs {rb.meta.get(key)!r}")
    for name in TABLES:
        out += _frame_diff(TABLES[name].file, ra.table(name), rb.table(name))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    args = parser.parse_args(argv)
    try:
        if (args.a / STUDY_FILE).exists():
            sa, sb = load_study(args.a), load_study(args.b)
            pairs = [(f"{v} seed {s}", sa.runs[v][s], sb.runs.get(v, {}).get(s))
                     for v in sa.variants for s in sa.seeds]
        elif (args.a / RUN_FILE).exists():
            pairs = [(args.a.name, args.a, args.b)]
        else:
            raise AIMError(f"{args.a}: neither a run ({RUN_FILE}) nor a study ({STUDY_FILE}) folder")
        differing = 0
        for label, a, b in pairs:
            diffs = ["missing in one of the two"] if a is None or b is None else run_diff(a, b)
            differing += bool(diffs)
            print(f"{label}: {'identical' if not diffs else 'DIFFERENT'}")
            for d in diffs:
                print(f"    {d}")
    except AIMError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{len(pairs) - differing} of {len(pairs)} identical")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
