"""Hand-made run folders for the app tests, written with ``aim.runwriter.RunWriter`` so they follow the real format.

Four fields (user, item, hour, noise), the six pairs, two functions (inner = columns 0-5, outer = columns 6-11),
with α, statistics AUC, kept dims and metrics chosen so every figure has hand-checkable values:

- run A (aim, seed 0): kept columns 0 (user×item inner .9), 3 (item×hour inner .5), 6 (user×item outer .3),
  10 (item×noise outer -.7): kept pairs user×item, item×hour, item×noise; planted user×item, item×hour.
- run B (aim, seed 1, grda_c 0.2): kept user×item (inner .8), user×hour (inner .2), item×hour (outer .4),
  item×noise (outer -.5).
- run C (deepfm): a baseline, α empty, every pair kept with the inner product.
Run A also has the strength candidates of the default mode (``sparsity.csv``, ``SPARSITY_A``) and one warning
(``WARNING_A``: EDS left noise without dimensions although item×noise is kept); runs B and C predate both (no
sparsity table, no warnings), as the shipped runs do. Its validation split (2,000 rows, 25 % positive) gives the
search stages a tolerance of one Hanley-McNeil standard error of the best AUC: 0.01247 at AUC 0.808.
Plus a running run, a failed run, two corrupt folders, a foreign folder, and a study in the format of
``aim/study.py`` (``make_study``): deepfm, aim and deepfm-transfer × seeds 0-2 with 7 complete runs, one failed
(aim seed 2) and one never run (deepfm-transfer seed 2), so its status is failed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from aim import study as aim_study
from aim.config import ModelConfig, RunConfig, SearchConfig
from aim.fileio import read_json, write_csv, write_json
from aim.runwriter import RunWriter

NAMES = ["user", "item", "hour", "noise"]
VOCAB = [100, 1000, 24, 10]
PAIRS = [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
STATS_AUC = [0.70, 0.52, 0.50, 0.65, 0.60, 0.51]
PLANTED = [1, 0, 0, 1, 0, 0]
DIM = 4
ALPHA_A = [0.9, 0, 0, 0.5, 0, 0] + [0.3, 0, 0, 0, -0.7, 0]
ALPHA_B = [0.8, 0.2, 0, 0, 0, 0] + [0, 0, 0, 0.4, -0.5, 0]
ID_A = "synthetic__aim__seed0__20260101T000000"
ID_B = "synthetic__aim__seed1__20260102T000000"
ID_C = "synthetic__deepfm__seed0__20260103T000000"
ID_RUNNING = "synthetic__aim__seed2__20260104T000000"
ID_FAILED = "synthetic__aim__seed3__20260105T000000"
ID_STUDY = "study__synthetic__20260201T000000"
ID_OTHER = "frappe__aim__seed0__20260106T000000"  # make_other_dataset_run: another dataset, other field names
OTHER_NAMES = ["app", "city", "weather", "cost"]
# the study's test AUC / log loss per variant and seed (None: the run failed or was never made)
STUDY_AUC = {"deepfm": [0.78, 0.80, 0.79], "aim": [0.82, 0.84, None], "deepfm-transfer": [0.80, 0.81, None]}
STUDY_LOGLOSS = {"deepfm": [0.47, 0.45, 0.46], "aim": [0.43, 0.41, None], "deepfm-transfer": [0.465, 0.455, None]}
STUDY_FAILED = ("aim", 2)
VALID_ROWS, VALID_RATE = 2000, 0.25
# stage, candidate, cross, embed_l2, columns / interactions / dims kept, size, valid AUC, chosen
SPARSITY_A = [
    ("search", 0, 0.1, None, 2, 2, None, 2, 0.790, False),  # outside the band: 0.808 - 0.0125 = 0.7955
    ("search", 1, 0.2, None, 4, 3, None, 4, 0.805, True),  # the sparsest inside the band
    ("search", 2, 0.4, None, 7, 5, None, 7, 0.808, False),  # the best
    ("embed", 0, 0.25, None, None, None, 6, 300, 0.790, False),
    ("embed", 1, 0.5, None, None, None, 8, 400, 0.806, True),
    ("embed", 2, 1.0, None, None, None, 16, 640, 0.807, False),
    ("retrain", 0, None, 0.0, None, None, None, 4000, 0.801, False),
    ("retrain", 1, None, 0.01, None, None, None, 4000, 0.809, True),
    ("retrain", 2, None, 0.05, None, None, None, 4000, 0.805, False),
]
WARNING_A = ("EDS removed every embedding dimension of noise, read by kept interactions: those interactions are not "
             "in the final model (search.eds_floor >= 1 prevents it)")


def interactions(alpha: list[float] | None, names: list[str] = NAMES) -> pd.DataFrame:
    """The interactions table of a 2-function gated run (``alpha`` for the 12 columns) or, with None, of a
    baseline (6 inner-product columns, α empty, all kept)."""
    funcs = ["inner", "outer"] if alpha is not None else ["inner"]
    cols = [(p, f) for f in funcs for p in range(len(PAIRS))]
    a = np.array(alpha, dtype=float) if alpha is not None else np.full(len(cols), np.nan)
    kept = (a != 0).astype(int) if alpha is not None else np.ones(len(cols), dtype=int)
    pair_kept = {p: any(k for (q, _), k in zip(cols, kept, strict=True) if q == p) for p in range(len(PAIRS))}
    return pd.DataFrame({
        "column": range(len(cols)),
        "order": 2,
        "fields": [" ".join(map(str, PAIRS[p])) for p, _ in cols],
        "field_names": [" × ".join(names[i] for i in PAIRS[p]) for p, _ in cols],
        "function": [f for _, f in cols],
        "alpha": a,
        "kept": kept,
        "interaction_kept": [int(pair_kept[p]) for p, _ in cols],
        "stats_auc": [STATS_AUC[p] for p, _ in cols],
        "planted": [PLANTED[p] for p, _ in cols],
    })


def fields(positions: list[str], names: list[str] = NAMES) -> pd.DataFrame:
    return pd.DataFrame({"field": range(4), "name": names, "vocab_size": VOCAB,
                         "dims_kept": [len(p.split()) for p in positions], "positions": positions})


def snapshots(final: list[float]) -> pd.DataFrame:
    """Three snapshots: all 0.6 (12 non-zero), half-way (8 non-zero), the final α (4 non-zero)."""
    first = [0.6] * 12
    middle = [0.6 if a != 0 or i in (1, 2, 4, 5) else 0.0 for i, a in enumerate(final)]
    rows = [("search", e, s, c, a) for e, s, alphas in ((1, 10, first), (1, 20, middle), (2, 30, final))
            for c, a in enumerate(alphas)]
    return pd.DataFrame(rows, columns=["stage", "epoch", "step", "column", "alpha"])


def sparsity(rows: list[tuple] = SPARSITY_A) -> pd.DataFrame:
    """``sparsity.csv`` as ``aim.pipeline`` writes it: GRDA columns for the search stages, ``embed_l2`` for the
    final model's grid (c is a stand-in: 0.5 / crossing fraction; steps 100 per stage)."""
    out = []
    for stage, cand, cross, l2, cols, inter, dims, size, auc, chosen in rows:
        grda = cross is not None
        out.append({"stage": stage, "candidate": cand, "cross": cross, "c": 0.05 / cross if grda else None,
                    "crossing_step": round(100 * cross) if grda else None, "steps": 100 if grda else None,
                    "embed_l2": l2, "start": "scratch" if l2 is not None else None, "columns_kept": cols, "interactions_kept": inter, "dims_kept": dims,
                    "size": size, "valid_auc": auc, "valid_logloss": 0.45, "epochs": 3, "seconds": 1.5,
                    "chosen": chosen})
    return pd.DataFrame(out)


def _meta(variant: str, seed: int, cfg: RunConfig, dataset: str = "synthetic", names: list[str] = NAMES) -> dict:
    return {"config": cfg.to_json(), "versions": {"aim": "test"}, "seed": seed, "variant": variant,
            "dataset": {"name": dataset,
                        "fields": [{"name": n, "vocab_size": v} for n, v in zip(names, VOCAB, strict=True)],
                        "rows": {"train": 16_000, "valid": VALID_ROWS, "test": 2000},
                        "positive_rate": {"train": VALID_RATE, "valid": VALID_RATE, "test": VALID_RATE}},
            "tables": []}


def _summary(auc: float, logloss: float, kept: int, columns_kept: int, before: int, after: int) -> dict:
    return {"metrics": {"valid": {"auc": auc + 0.01, "logloss": logloss - 0.01},
                        "test": {"auc": auc, "logloss": logloss}},
            "interactions": {"order2": {"kept": kept, "total": 6, "columns_kept": columns_kept, "columns_total": 12,
                                        "fi_ratio": kept / 6}},
            "params": {"before_eds": before, "after_eds": after, "embedding": after // 2}}


def write_run(root: Path, run_id: str, variant: str, seed: int, cfg: RunConfig, alpha: list[float] | None,
              positions: list[str] | None, summary: dict | None, status: str = "complete",
              error: str | None = None, dataset: str = "synthetic", names: list[str] = NAMES,
              sparsity_rows: list[tuple] | None = None, warnings: list[str] | None = None) -> Path:
    w = RunWriter(root, run_id)
    stamp = run_id.rsplit("__", 1)[-1]  # the ids end with their creation time
    created = f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}T{stamp[9:11]}:00:00+00:00"
    w.start({**_meta(variant, seed, cfg, dataset, names), "created": created})
    tables = []
    if alpha is not None or variant == "deepfm":
        w.table("interactions", interactions(alpha, names))
        tables.append("interactions")
    if alpha is not None and status == "complete":
        w.table("snapshots", snapshots(alpha))
        tables.append("snapshots")
    if positions is not None:
        w.table("fields", fields(positions, names))
        tables.append("fields")
    if sparsity_rows is not None:
        w.table("sparsity", sparsity(sparsity_rows))
        tables.append("sparsity")
    if warnings is not None:
        w.update(warnings=warnings)
    w.update(tables=tables, **(summary or {}))
    if status == "running":
        w.progress(stage="search", epoch=2, valid_auc=0.7123, gates_left=8, gates_total=12)
        return w.path
    w.progress(stage="done", epoch=None, valid_auc=0.8)
    w.finish(status, error=error)
    return w.path


def make_runs(root: Path) -> dict[str, Path]:
    """Write every fixture folder under ``root``; returns name -> folder."""
    root.mkdir(parents=True, exist_ok=True)
    base = RunConfig(model=ModelConfig(embed_dim=DIM, mlp=(8,)))
    out = {
        "a": write_run(root, ID_A, "aim", 0, base, ALPHA_A, ["0 1 2 3", "0 2 3", "1", ""],
                       {**_summary(0.80, 0.45, 3, 4, 10_000, 4_000),
                        "planted": {"precision": 2 / 3, "recall": 1.0, "kept": 3, "planted": 2, "hits": 2}},
                       sparsity_rows=SPARSITY_A, warnings=[WARNING_A]),
        "b": write_run(root, ID_B, "aim", 1, base.replace(seed=1, search=SearchConfig(grda_c=0.2)), ALPHA_B,
                       ["0 1 2 3", "0 1 2 3", "0 1", "3"], _summary(0.78, 0.47, 4, 4, 10_000, 5_000)),
        "c": write_run(root, ID_C, "deepfm", 0, base.replace(variant="deepfm"), None,
                       ["0 1 2 3"] * 4, _summary(0.79, 0.46, 6, 6, 8_000, 8_000)),
        "running": write_run(root, ID_RUNNING, "aim", 2, base.replace(seed=2), None, None, None, status="running"),
        "failed": write_run(root, ID_FAILED, "aim", 3, base.replace(seed=3), ALPHA_A, None, None, status="failed",
                            error="RuntimeError: out of memory"),
    }
    bad_json = root / "synthetic__aim__seed9__20250101T000000"
    bad_json.mkdir()
    (bad_json / "run.json").write_text("{ not json")
    bad_csv = root / "synthetic__aim__seed8__20250102T000000"
    write_run(root, bad_csv.name, "aim", 8, base, ALPHA_A, ["0"] * 4, _summary(0.7, 0.5, 3, 4, 1, 1))
    (bad_csv / "interactions.csv").write_text("nothing,useful\n1,2\n")
    foreign = root / "holiday_photos"
    foreign.mkdir()
    (foreign / "beach.txt").write_text("not a run")
    study = make_study(root)
    out.update(bad_json=bad_json, bad_csv=bad_csv, foreign=foreign, study=study)
    return out


def make_other_dataset_run(root: Path) -> Path:
    """``ID_OTHER``: run A's numbers on another dataset (frappe) with other field names, so nothing matches by name."""
    cfg = RunConfig(dataset="frappe", data_path="frappe", model=ModelConfig(embed_dim=DIM, mlp=(8,)))
    return write_run(root, ID_OTHER, "aim", 0, cfg, ALPHA_A, ["0 1 2 3", "0 2 3", "1", ""],
                     _summary(0.90, 0.30, 3, 4, 10_000, 4_000), dataset="frappe", names=OTHER_NAMES)


def make_study(root: Path) -> Path:
    """The study folder ``ID_STUDY`` under ``root``, written as ``aim.study.run_study`` writes one: study.json
    (status failed), summary.csv (``aim.study.summarise`` of the complete runs) and the runs in ``runs/``. The
    runs of order 2 keep 3 of 6 pairs (deepfm 6 of 6), aim's EDS takes parameters 10,000 -> 4,000."""
    path = root / ID_STUDY
    base = RunConfig(model=ModelConfig(embed_dim=DIM, mlp=(8,)))
    runs: dict[str, dict[str, str | None]] = {}
    metas: dict[str, list[dict]] = {}
    for variant, aucs in STUDY_AUC.items():
        runs[variant], metas[variant] = {}, []
        for seed, auc in enumerate(aucs):
            failed = (variant, seed) == STUDY_FAILED
            if auc is None and not failed:
                runs[variant][str(seed)] = None  # never run
                continue
            baseline = variant == "deepfm"
            cfg = base.replace(variant="deepfm" if baseline else "aim", seed=seed)
            summary = None if failed else {
                **_summary(auc, STUDY_LOGLOSS[variant][seed], 6 if baseline else 3, 6 if baseline else 4,
                           8_000 if baseline else 10_000, 8_000 if baseline else 4_000),
                "timings": {"train_epoch_seconds": 2.0 if baseline else 4.0, "infer_seconds_per_100k": 0.5}}
            run = write_run(path / aim_study.RUNS_DIR, f"synthetic__{variant}__seed{seed}__2026020{seed + 1}T000000",
                            variant, seed, cfg, None if baseline else ALPHA_A, ["0 1 2 3"] * 4, summary,
                            status="failed" if failed else "complete", error="RuntimeError: boom" if failed else None)
            runs[variant][str(seed)] = f"{aim_study.RUNS_DIR}/{run.name}"
            metas[variant].append(read_json(run / "run.json"))
    summary = aim_study.summarise(metas)
    write_csv(path / aim_study.SUMMARY_FILE, summary)
    write_json(path / aim_study.STUDY_FILE, {
        "schema_version": aim_study.SCHEMA_VERSION, "kind": "study", "id": ID_STUDY, "status": "failed",
        "error": "1 run(s) failed; resume to redo them: aim seed 2: RuntimeError: boom",
        "created": "2026-02-01T00:00:00+00:00", "updated": "2026-02-01T01:00:00+00:00", "dataset": "synthetic",
        "variants": list(STUDY_AUC), "seeds": [0, 1, 2], "base_config": base.to_json(), "transfer_from": None,
        "runs": runs, "summary": [], "best_baseline": aim_study.best_baseline(summary)})
    return path


APP = str(Path(__file__).resolve().parents[1] / "app" / "streamlit_app.py")


def point_app_at(runs: Path, nowhere: Path, monkeypatch) -> Path:
    """The app reads runs from ``runs`` only (no cached runs, no studies folder)."""
    monkeypatch.setenv("AIM_RUNS_DIR", str(runs))
    monkeypatch.setenv("AIM_CACHED_RUNS_DIR", str(nowhere / "no_cached_runs"))
    monkeypatch.setenv("AIM_STUDIES_DIR", str(nowhere / "no_studies"))
    return runs


def open_app(**params: str):
    """The app rendered once with these query parameters, as a new session; fails on any exception."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update(params)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


ID_TINY = "synthetic__aim__seed0__20260107T000000"


def make_tiny_parent(root: Path, run_id: str = ID_TINY) -> Path:
    """A complete AIM run in the tiny test config (``conftest.TINY_ARGS``) whose fields are the generated data's, so
    a ``retrain`` or a fis-vs-stats study can train from it in seconds: every pair with inner and outer columns,
    α decreasing over the pairs (inner kept for the first 3 pairs, outer for the first), statistics AUC ranking
    the pairs in reverse, full embedding sizes."""
    from aim.config import SyntheticConfig, TrainConfig
    from aim.data.synthetic import generate

    cfg = RunConfig(synthetic=SyntheticConfig(rows=2000, fields=5, noise_fields=1, planted_pairs=2),
                    search=SearchConfig(search_epochs=1, embed_epochs=1, grda_c=0.12, high_order_grda_c=0.05,
                                        embed_grda_c=0.04),
                    train=TrainConfig(epochs=1, batch_size=256, embed_l2=0.0), model=ModelConfig(mlp=(8,), embed_dim=4))
    data = generate(cfg.synthetic, split_seed=cfg.data.split_seed)
    names, n = data.field_names, len(data.field_names)
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    alpha = [(0.9 - 0.1 * p if p < 3 else 0.0) for p in range(len(pairs))] + [0.95] + [0.0] * (len(pairs) - 1)
    cols = [(p, f) for f in ("inner", "outer") for p in range(len(pairs))]
    inter = pd.DataFrame({
        "column": range(len(cols)), "order": 2, "fields": [" ".join(map(str, pairs[p])) for p, _ in cols],
        "field_names": [" × ".join(names[i] for i in pairs[p]) for p, _ in cols], "function": [f for _, f in cols],
        "alpha": alpha, "kept": [int(a != 0) for a in alpha],
        "interaction_kept": [int(p < 3) for p, _ in cols], "stats_auc": [0.5 + 0.01 * p for p, _ in cols],
        "planted": 0})
    w = RunWriter(root, run_id)
    w.start({"config": cfg.to_json(), "versions": {"aim": "test"}, "seed": 0, "variant": "aim",
             "dataset": data.summary(), "tables": ["interactions", "fields", "snapshots"],
             "created": "2026-01-07T00:00:00+00:00"})
    w.table("interactions", inter)
    w.table("fields", pd.DataFrame({"field": range(n), "name": names, "vocab_size": data.vocab_sizes,
                                    "dims_kept": 4, "positions": "0 1 2 3"}))
    w.table("snapshots", pd.DataFrame({"stage": "search", "epoch": 1, "step": 10, "column": range(len(cols)),
                                       "alpha": alpha}))
    w.update(**_summary(0.80, 0.45, 3, 4, 10_000, 10_000))
    w.progress(stage="done", epoch=None, valid_auc=0.8)
    w.finish("complete")
    return w.path
