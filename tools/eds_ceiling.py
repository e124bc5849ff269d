"""How much could EDS save at most? For each study's ``aim`` runs: the parameters without EDS (``aim-eds``), with
EDS (``aim``), and at EDS's floor (``aim.search.eds_floor_parameters``: one dimension of each field a kept
column reads, none of any other field; the MLP's hidden layers stay), as means over the seeds.

    python tools/eds_ceiling.py                       # every variants study in cached_runs/
    python tools/eds_ceiling.py STUDY_DIR [STUDY_DIR ...]

The last column, ``aim-eds / floor``, bounds the reduction factor any EDS can reach on that architecture.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aim.errors import AIMError  # noqa: E402
from aim.model.nets import AIMSpec  # noqa: E402
from aim.search import eds_floor_parameters  # noqa: E402
from aim.study import is_study, load_study  # noqa: E402


def ceiling_row(study_dir: Path) -> dict | None:
    """One row of the table for a variants study holding ``aim`` and ``aim-eds`` runs, else None."""
    study = load_study(study_dir)
    metas = study.recorded_metas()
    aim_runs = [m for m in (metas.get("aim") or {}).values() if m and m.get("status") == "complete"]
    base_runs = [m for m in (metas.get("aim-eds") or {}).values() if m and m.get("status") == "complete"]
    if study.kind != "variants" or not aim_runs or not base_runs:
        return None
    specs = [AIMSpec.from_json(m["model"]["spec"]) for m in aim_runs]
    floor = statistics.mean(eds_floor_parameters(s, m["config"]["search"].get("eds_floor", 1))
                            for s, m in zip(specs, aim_runs))
    without = statistics.mean(m["params"]["after_eds"] for m in base_runs)
    with_eds = statistics.mean(m["params"]["after_eds"] for m in aim_runs)
    return {"study": study_dir.name, "dataset": study.meta.get("dataset"), "seeds": len(aim_runs),
            "aim-eds": without, "aim": with_eds, "floor": floor, "mlp": "-".join(map(str, specs[0].mlp))}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("studies", nargs="*", type=Path, help="study folders (default: the studies in cached_runs/)")
    args = ap.parse_args(argv)
    folders = args.studies or sorted(p for p in (ROOT / "cached_runs").iterdir() if is_study(p))
    print("| study | data | seeds | MLP | aim-eds parameters | aim | EDS's cut | EDS floor | aim-eds / floor |")
    print("|---|---|---|---|---|---|---|---|---|")
    for folder in folders:
        try:
            row = ceiling_row(folder)
        except (AIMError, KeyError, TypeError) as exc:
            print(f"{folder}: not a readable study with aim runs ({exc})", file=sys.stderr)
            return 2
        if row is None:
            continue
        print(f"| {row['study']} | {row['dataset']} | {row['seeds']} | {row['mlp']} | {row['aim-eds']:,.0f} | "
              f"{row['aim']:,.0f} | {row['aim-eds'] / row['aim']:.2f}× | {row['floor']:,.0f} | "
              f"**{row['aim-eds'] / row['floor']:.2f}×** |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
