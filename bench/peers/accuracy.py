"""Test AUC of our networks against FuxiCTR's, each trained on our splits by our protocol (issue 30 item 4).

Runs inside ``bench/peers/.venv`` like worker.py (``bench/peers/run.py`` creates it on first use). From the
repository root:

    bench/peers/.venv/bin/python bench/peers/accuracy.py                    # frappe + movielens, 5 models, seeds 0-2
    bench/peers/.venv/bin/python bench/peers/accuracy.py --datasets frappe --models deepfm --seeds 0   # one cell
    bench/peers/.venv/bin/python bench/peers/accuracy.py --impls fuxictr --models fwfm,dcnv2
    bench/peers/.venv/bin/python bench/peers/accuracy.py --table            # the markdown table of what is there

Every (dataset, model, seed, implementation) is one cell and one JSON line of ``bench/out/peers/accuracy.jsonl``
(``--out``); a cell already there is skipped, so an interrupted sweep resumes where it stopped.

``--impls ours``: our CLI as a user runs it, ``.venv/bin/python -m aim run --dataset D --data PATH --variant MODEL
--seed S --out bench/out/peers/runs --threads T``; test AUC and log loss are the run's ``run.json`` ``metrics.test``.

``--impls fuxictr``: FuxiCTR 2.3.10's model (``worker.fuxictr_net``: the model zoo's forward over the package's
layers, its init, our sizes: d 16, MLP 400-400-400 with batch norm, dropout 0.2, worker.SIZES) trained exactly as
our baselines (``aim.search.train_baseline`` / ``_train_final``): the split of ``aim.pipeline.load_data`` for
``RunConfig(dataset, data_path)`` (the run's split, same cache), seeds set as a run does (torch, numpy, the batch
order generator), then for every embedding L2 of ``aim.search.l2_candidates`` (0, 0.01, 0.05: Adam weight decay on
the d-dimensional table only, as ours decays its FieldEmbedding and not the first-order weights) a copy of the same
initial model trained from the same random states by ``aim.train._fit``, the loop of every run: batch 256, fused
Adam lr 1e-3, up to 20 epochs, early stopping on validation AUC with patience 2, learning rate x0.1 after an epoch
without gain, the best epoch's weights restored; the best validation AUC picks the L2 (ties: the smaller). Only
the network differs (and its init: FuxiCTR's embeddings start at N(0, 1e-4), ours at N(0, 1e-2)).

``--study frappe=cached_runs/study__frappe__...``: the cells of that dataset use the study's config (for the Frappe
study, the CLI defaults; for the MovieLens-100k study, the defaults with dropout 0.3): ours are the study's runs
of the same seeds instead of new ones, and FuxiCTR's model trains with that config's sizes, dropout and protocol.
Every cell records its ``setting``: ``defaults``, or the config keys where it differs from the CLI defaults.

``--table``: per dataset and model, ours mean ± SE and FuxiCTR mean ± SE of test AUC over seeds (SE = sample SD /
sqrt(n)), the difference ours - FuxiCTR, and two checks: |diff| <= SE of the difference of means,
sqrt(SE_ours² + SE_fuxictr²) (the looser one), and |diff| <= min(SE_ours, SE_fuxictr) (stricter: within each
implementation's own SE). Mean test log losses next to it.

Time (2026-12-07, one thread on the shared 2-core machine): Frappe DeepFM seed 0 took 283 s for FuxiCTR and 167 s
for ours (46,177 training rows; 3 L2 candidates of 11-14 epochs each); FwFM, AutoInt and DCNv2 are of that order.
xDeepFM is not: FuxiCTR's CIN (no split half, 200-200-200 maps) took 2,410 s for Frappe seed 0 (about 64 s an
epoch, one thread, beside one other job) and about 85 s an epoch on MovieLens-100k (80,000 training rows, about
1 h a cell). Ours, with split half, takes about half that; with ``--study`` ours costs nothing (the study's runs).
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench" / "peers"))

OUT = ROOT / "bench" / "out" / "peers"
DATA = {"frappe": "frappe", "movielens": "ml-100k"}  # dataset -> folder under --data-root
MODELS = ("fwfm", "xdeepfm", "autoint", "dcnv2", "deepfm")


def key(row: dict) -> tuple:
    return row["dataset"], row["model"], int(row["seed"]), row["impl"]


def done_cells(path: Path) -> dict[tuple, dict]:
    if not path.exists():
        return {}
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {key(r): r for r in rows}


def run_fuxictr(model: str, cfg) -> dict:
    """FuxiCTR's ``model`` trained and chosen as our baselines are (module docstring), with the sizes, dropout,
    split, seed and protocol of the run config ``cfg``; returns the cell's row."""
    import torch
    from torch import nn
    from worker import fuxictr_input, fuxictr_net

    from aim.pipeline import _seed, load_data
    from aim.search import l2_candidates
    from aim.sparsity import parsimonious
    from aim.train import Tensors, _fit, evaluate, keep_freed_memory

    m, t = cfg.model, cfg.train
    generator = _seed(cfg)  # torch, numpy and the batch-order generator, as a run seeds them
    data = load_data(cfg)
    train, valid, test = Tensors.of(data.train), Tensors.of(data.valid), Tensors.of(data.test)

    class FromIds(nn.Module):
        """int (B, F) field-local ids -> logits (B,), the interface of our networks (``fit``, ``predict``)."""

        def __init__(self):
            super().__init__()
            self.net = fuxictr_net(model, data.vocab_sizes, m.embed_dim, list(m.mlp) if model != "fwfm" else [],
                                   m.dropout)

        def forward(self, x):
            return self.net(fuxictr_input(x)).squeeze(-1)

    def on_epoch(row: dict) -> None:
        print(f"      epoch {row['epoch']} loss {row['train_loss']:.4f} valid AUC {row['valid_auc']:.4f} "
              f"({row['seconds']:.1f}s)", flush=True)

    initial = FromIds()  # built once: every L2 candidate starts from these weights, as _train_final's copies
    start = (torch.get_rng_state(), generator.get_state())
    keep_freed_memory()
    candidates = []
    for l2 in l2_candidates(cfg):
        torch.set_rng_state(start[0])
        generator.set_state(start[1])
        net = copy.deepcopy(initial)
        table = {id(p) for p in net.net.embedding.parameters()}
        weights = [p for p in net.parameters() if p.requires_grad]  # FuxiCTR keeps index masks as frozen params
        groups = [{"params": [p for p in weights if id(p) not in table]},
                  {"params": [p for p in weights if id(p) in table], "weight_decay": l2}]
        adam = torch.optim.Adam(groups, lr=t.lr, fused=True)
        began = time.perf_counter()
        fit = _fit(net, net, train, valid, [adam], stage="train", epochs=t.epochs, batch_size=t.batch_size,
                   eval_batch_size=t.eval_batch_size, generator=generator, gates=None, patience=t.patience,
                   plateau_factor=t.plateau_factor, snapshots_per_epoch=0, on_epoch=on_epoch, on_progress=None,
                   progress_every=math.inf, device=torch.device("cpu"))
        metrics = {split: evaluate(net, d, t.eval_batch_size) for split, d in (("valid", valid), ("test", test))}
        candidates.append({"embed_l2": l2, "valid_auc": metrics["valid"]["auc"], "test": metrics["test"],
                           "epochs": len(fit.history), "best_epoch": fit.best_epoch,
                           "seconds": round(time.perf_counter() - began, 2),
                           "params": sum(p.numel() for p in weights)})
        print(f"    L2 {l2:g}: valid AUC {metrics['valid']['auc']:.4f}, test AUC {metrics['test']['auc']:.4f}, "
              f"{len(fit.history)} epochs (best {fit.best_epoch}), {candidates[-1]['seconds']:.0f}s", flush=True)
    pick = parsimonious([c["valid_auc"] for c in candidates], [c["embed_l2"] for c in candidates], 0.0)
    best = candidates[pick]
    import fuxictr

    return {"test_auc": best["test"]["auc"], "test_logloss": best["test"]["logloss"], "valid_auc": best["valid_auc"],
            "embed_l2": best["embed_l2"], "epochs": best["epochs"], "best_epoch": best["best_epoch"],
            "params": best["params"], "candidates": [{k: v for k, v in c.items() if k != "test"} | {
                "test_auc": c["test"]["auc"]} for c in candidates], "library": f"fuxictr {fuxictr.__version__}"}


def run_ours(dataset: str, data_path: str, model: str, seed: int, threads: int, runs: Path) -> dict:
    """Our CLI in its own process (the repository's venv); the row from the run's run.json."""
    python = ROOT / ".venv" / "bin" / "python"
    cmd = [str(python if python.exists() else sys.executable), "-m", "aim", "run", "--dataset", dataset,
           "--data", data_path, "--variant", model, "--seed", str(seed), "--out", str(runs), "--threads",
           str(threads)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": str(threads)})
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    if proc.returncode or not lines or not (Path(lines[-1]) / "run.json").exists():
        raise RuntimeError(f"`{' '.join(cmd)}` failed ({proc.returncode}): {(proc.stderr or proc.stdout)[-600:]}")
    return _row_of_run(Path(lines[-1]))


def _row_of_run(run: Path) -> dict:
    """Our cell from a run folder's run.json: test and valid metrics, the final stage's L2 and epochs, size."""
    meta = json.loads((run / "run.json").read_text())
    if meta.get("status") != "complete":
        raise RuntimeError(f"{run} is not complete")
    stage = meta["stages"].get("train") or meta["stages"].get("retrain") or {}
    return {"test_auc": meta["metrics"]["test"]["auc"], "test_logloss": meta["metrics"]["test"]["logloss"],
            "valid_auc": meta["metrics"]["valid"]["auc"], "embed_l2": stage.get("embed_l2"),
            "epochs": stage.get("epochs"), "best_epoch": stage.get("best_epoch"),
            "params": (meta.get("params") or {}).get("after_eds"), "run": os.path.relpath(run, ROOT),
            "library": f"aim {meta['versions']['aim']} @ {(meta['versions'].get('git_commit') or '')[:10]}"}


def study_config(study: Path, dataset: str, data_path: str, model: str, seed: int):
    """The RunConfig of a study's cell (model, seed), on ``data_path``; a study of another dataset is refused."""
    from aim.study import load_study
    from aim.study.tokens import variant_config

    st = load_study(study)
    cfg = variant_config(st.base_config(), model, seed, st.meta.get("transfer_from"))
    if cfg.dataset != dataset:
        raise RuntimeError(f"{study} is a study of {cfg.dataset}, not {dataset}")
    return cfg.replace(data_path=str(Path(data_path).resolve()))


def setting(cfg) -> str:
    """``defaults`` when ``cfg`` is what the CLI runs for its dataset, variant and seed; else the differing keys
    with their values (``model.dropout 0.3``)."""
    import dataclasses

    from aim.config import RunConfig
    from aim.study.folder import config_diff

    default = RunConfig(dataset=cfg.dataset, data_path=cfg.data_path, variant=cfg.variant, seed=cfg.seed)
    have = dataclasses.asdict(cfg)
    parts = []
    for key in config_diff(have, dataclasses.asdict(default)):
        value = have
        for part in key.split("."):
            value = value[part]
        parts.append(f"{key} {value}")
    return "; ".join(parts) or "defaults"


def study_run(study: Path, model: str, seed: int) -> dict:
    """Ours from a study's run of (model, seed) instead of a new one (its config: ``study_config``)."""
    from aim.study import load_study

    run = (load_study(study).runs.get(model) or {}).get(seed)
    if run is None or not (Path(run) / "run.json").exists():
        raise RuntimeError(f"{study} has no run of {model} seed {seed}")
    return _row_of_run(Path(run))


def mean_se(values: list[float]) -> tuple[float, float, int]:
    n = len(values)
    if not n:
        return math.nan, math.nan, 0
    return float(np.mean(values)), float(np.std(values, ddof=1) / math.sqrt(n)) if n > 1 else math.nan, n


def _mean_se_text(mean: float, se: float, n: int) -> str:
    return "—" if not n else f"{mean:.4f} ± {se:.4f} ({n})" if n > 1 else f"{mean:.4f} (1)"


def _within(diff: float, bound: float) -> str:
    """yes / no: |diff| <= bound; n/a where either is undefined (a side without cells, or one seed)."""
    if math.isnan(diff) or math.isnan(bound):
        return "n/a"
    return "yes" if abs(diff) <= bound else "no"


def table(path: Path) -> None:
    rows = list(done_cells(path).values())
    if not rows:
        print(f"no cells in {path}")
        return
    print("| dataset | model | ours test AUC (n) | FuxiCTR test AUC (n) | diff ours - FuxiCTR | SE of diff | "
          "abs(diff) ≤ SE of diff | abs(diff) ≤ min(SE ours, SE FuxiCTR) | test log loss ours / FuxiCTR |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        row.setdefault("setting", "defaults")  # cells from before settings were recorded ran the CLI defaults
    groups = sorted({(r["dataset"], r["model"], r["setting"]) for r in rows},
                    key=lambda g: (g[0], (*MODELS, g[1]).index(g[1]), g[2]))
    for dataset, model, where in groups:
        cell = {impl: [r for r in rows if (r["dataset"], r["model"], r["setting"], r["impl"]) ==
                       (dataset, model, where, impl)] for impl in ("ours", "fuxictr")}
        (ma, sa, na), (mb, sb, nb) = (mean_se([r["test_auc"] for r in cell[i]]) for i in ("ours", "fuxictr"))
        la, lb = (np.mean([r["test_logloss"] for r in cell[i]]) if cell[i] else math.nan
                  for i in ("ours", "fuxictr"))
        diff, se = ma - mb, math.sqrt(sa**2 + sb**2)
        label = model if where == "defaults" else f"{model} ({where})"
        print(f"| {dataset} | {label} | {_mean_se_text(ma, sa, na)} | {_mean_se_text(mb, sb, nb)} | "
              f"{'' if diff != diff else f'{diff:+.4f}'} | {'' if se != se else f'{se:.4f}'} | "
              f"{_within(diff, se)} | {_within(diff, min(sa, sb))} | {la:.4f} / {lb:.4f} |")
    print("SE = sample standard deviation / sqrt(n) over seeds; SE of diff = sqrt(SE_ours² + SE_FuxiCTR²).")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", default="frappe,movielens", help=f"comma list of {', '.join(DATA)}")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--impls", default="fuxictr,ours", help="fuxictr (its model, our protocol) and/or ours (our CLI)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads of each cell (one cell at a time)")
    ap.add_argument("--data-root", type=Path, default=ROOT.parent / "shared" / "data",
                    help="folder holding frappe/ and ml-100k/")
    ap.add_argument("--out", type=Path, default=OUT / "accuracy.jsonl", help="one JSON line per cell (resumable)")
    ap.add_argument("--runs", type=Path, default=OUT / "runs", help="where ours writes its run folders")
    ap.add_argument("--table", action="store_true", help="print the markdown table of --out and exit")
    ap.add_argument("--study", action="append", default=[], metavar="DATASET=STUDY_DIR",
                    help="that dataset's cells take the study's config: ours are its runs (not run again), FuxiCTR "
                         "trains with its sizes and dropout, e.g. frappe=cached_runs/study__frappe__20261204T005325")
    args = ap.parse_args()
    if args.table:
        table(args.out)
        return
    import torch

    torch.set_num_threads(args.threads)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    from aim.config import RunConfig

    studies = dict(item.split("=", 1) for item in args.study)
    done = done_cells(args.out)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cells = [(d, m, int(s), i) for d in args.datasets.split(",") for m in args.models.split(",")
             for s in args.seeds.split(",") for i in args.impls.split(",")]
    for dataset, model, seed, impl in cells:
        if (dataset, model, seed, impl) in done:
            print(f"{dataset} {model} seed {seed} {impl}: done (test AUC "
                  f"{done[(dataset, model, seed, impl)]['test_auc']:.4f}), skipped", flush=True)
            continue
        data_path = str(args.data_root / DATA[dataset])
        print(f"{dataset} {model} seed {seed} {impl} ...", flush=True)
        began = time.perf_counter()
        study = ROOT / studies[dataset] if dataset in studies else None
        try:
            cfg = (study_config(study, dataset, data_path, model, seed) if study else
                   RunConfig(dataset=dataset, data_path=str(Path(data_path).resolve()), variant=model, seed=seed))
            if impl == "ours" and study:
                result = study_run(study, model, seed)
            elif impl == "ours":
                result = run_ours(dataset, data_path, model, seed, args.threads, args.runs)
            else:
                result = run_fuxictr(model, cfg)
        except (RuntimeError, SystemExit) as exc:  # one failed cell (e.g. ours lacks the variant) ends no sweep
            print(f"  FAILED: {exc}", flush=True)
            continue
        row = {"dataset": dataset, "model": model, "seed": seed, "impl": impl, "setting": setting(cfg), **result,
               "seconds": round(time.perf_counter() - began, 1), "threads": args.threads,
               "date": datetime.datetime.now().isoformat(timespec="seconds")}
        with args.out.open("a") as f:
            f.write(json.dumps(row) + "\n")
        print(f"  test AUC {row['test_auc']:.4f}, log loss {row['test_logloss']:.4f}, L2 {row['embed_l2']}, "
              f"{row['epochs']} epochs, {row['seconds']:.0f}s", flush=True)


if __name__ == "__main__":
    main()
