"""Back-fill the independent pair ranking (``aim/reference.py``: interactions.csv ``ref_score``, run.json
``reference``) into runs made before searching runs wrote it, so the Interactions page shows it for them too.

    python tools/add_reference.py RUN_DIR [RUN_DIR ...]          # writes ref_score and reference
    python tools/add_reference.py RUN_DIR --dry-run               # prints the ranking, writes nothing
    python tools/add_reference.py RUN_DIR --method fast --force   # another detector, replacing ref_score

Each run's data is re-read with its saved config (the same files, checked by content hash, rows and fields, as
``--resume`` does) and scored on its training split with the run's seed, exactly as the pipeline would have.
Only two things change: the column ``ref_score`` is appended to ``interactions.csv`` (every other byte of the
file stays as it was: the new file is checked to be the old one plus a column) and ``run.json`` gains
``reference`` (with ``"backfilled"``: when and by what). Both are written atomically (a temporary file, then a
rename); the config in ``run.json`` is left alone (it still says what the run did). A run that already has
``ref_score`` is skipped (``--force``: its ``ref_score`` is replaced, nothing else), and so is one that is not
complete or has no searched α.
"""

from __future__ import annotations

import argparse
import csv
import io
import itertools
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script: the aim package of this checkout

from aim.config import RunConfig  # noqa: E402
from aim.errors import AIMError  # noqa: E402
from aim.fileio import atomic_write, read_json, write_json  # noqa: E402
from aim.runs import RUN_FILE, TABLES, load_run, now  # noqa: E402

INTERACTIONS = TABLES["interactions"].file


def with_column(text: str, values: dict[str, float]) -> str:
    """``interactions.csv`` text with a ``ref_score`` column appended (an existing one dropped first):
    ``values[fields]`` on order-2 rows, empty elsewhere. Refused (ValueError) if the rows would not come back byte
    for byte without the column."""
    rows = list(csv.reader(io.StringIO(text)))
    if "ref_score" in rows[0]:
        at = rows[0].index("ref_score")
        rows = [r[:at] + r[at + 1:] for r in rows]
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(rows)
        text = out.getvalue()
    header = rows[0]
    fields_at, order_at = header.index("fields"), header.index("order")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerows(rows)
    if out.getvalue() != text:
        raise ValueError(f"{INTERACTIONS} does not round-trip through the csv module; left as it is")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*header, "ref_score"])
    for row in rows[1:]:
        score = values.get(row[fields_at]) if row[order_at] == "2" else None
        writer.writerow([*row, "" if score is None or math.isnan(score) else repr(float(score))])
    return out.getvalue()


def scores_of(run_dir: Path, threads: int, method: str = "shap") -> tuple[dict[str, float], dict]:
    """The ranking of every order-2 pair of ``run_dir``'s data (``"i j"`` -> score) and its ``reference`` entry."""
    from aim import reference
    from aim.pipeline import _check_same_data, load_data

    meta = read_json(run_dir / RUN_FILE)
    cfg = RunConfig.from_json(meta["config"])
    data = load_data(cfg)
    _check_same_data(run_dir, meta["dataset"], data)
    pairs = list(itertools.combinations(range(len(data.fields)), 2))
    start = time.perf_counter()
    scores = reference.reference_scores(data.train.X, data.train.y, pairs, method=method, seed=cfg.seed,
                                        threads=threads)
    seconds = time.perf_counter() - start
    entry = reference.method(method) | {"rows": min(len(data.train.y), reference.SAMPLE_CAP), "seed": cfg.seed,
                                  "seconds": round(seconds, 3), "threads": threads,
                                  "backfilled": {"at": now(), "by": "tools/add_reference.py"}}
    return {f"{i} {j}": float(s) for (i, j), s in zip(pairs, scores)}, entry


def add_reference(run_dir: Path, threads: int = 1, dry_run: bool = False, method: str = "shap",
                  force: bool = False, log=print) -> bool:
    """Back-fill one run; True when it was written (or, ``dry_run``, would be)."""
    run = load_run(run_dir)
    inter = run.interactions
    if run.meta.get("status") != "complete":
        log(f"{run_dir.name}: status {run.meta.get('status')}, skipped")
        return False
    if inter is None or not inter["alpha"].notna().any():
        log(f"{run_dir.name}: no searched α (a baseline or a retrain), skipped")
        return False
    if "ref_score" in inter.columns and not force:
        log(f"{run_dir.name}: already has ref_score, left as it is (--force replaces it)")
        return False
    values, entry = scores_of(run_dir, threads, method)
    text = (run_dir / INTERACTIONS).read_text()
    new_text = with_column(text, values)
    top = sorted(values.items(), key=lambda kv: -kv[1])[:5]
    names = dict(zip(inter["fields"].astype(str), inter["field_names"]))
    log(f"{run_dir.name}: {entry['name']} on {entry['rows']:,} rows in {entry['seconds']:.2f}s; strongest: "
        + ", ".join(f"{names.get(f, f)} {s:.3g}" for f, s in top))
    if dry_run:
        return True
    meta = read_json(run_dir / RUN_FILE)
    atomic_write(run_dir / INTERACTIONS, lambda fh: fh.write(new_text))
    write_json(run_dir / RUN_FILE, meta | {"reference": entry})
    load_run(run_dir)  # still a valid run
    return True


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", type=Path, help="run folders")
    ap.add_argument("--threads", type=int, default=1, help="threads of the main-effects fit")
    ap.add_argument("--dry-run", action="store_true", help="print the ranking, write nothing")
    ap.add_argument("--method", default="shap", choices=["shap", "fast"], help="the detector (aim/reference.py)")
    ap.add_argument("--force", action="store_true", help="replace an existing ref_score")
    args = ap.parse_args(argv)
    failed = 0
    for path in args.runs:
        try:
            add_reference(path, args.threads, args.dry_run, args.method, args.force)
        except (AIMError, ValueError, OSError) as exc:
            print(f"{path}: {exc}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
