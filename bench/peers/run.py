"""Ours vs FuxiCTR, DeepCTR-Torch and torchfm: train + inference samples/s, peak RSS and AUC after one epoch.

One command from the repository root (sets up ``bench/peers/.venv`` on first use, then runs everything):

    .venv/bin/python bench/peers/run.py                                  # 1,000,000 rows, 3 interleaved rounds
    .venv/bin/python bench/peers/run.py --rows 200000 --repeats 1        # quicker
    .venv/bin/python bench/peers/run.py --models deepfm --impls torchfm,ours
    .venv/bin/python bench/peers/run.py --models deepfm,aim-retrain --aim-spec RUN   # the AIM model RUN selected
    .venv/bin/python bench/peers/run.py --models fwfm,autoint,dcnv2,xdeepfm --rows 100000 --repeats 1 --threads 1

Models: deepfm, fm, ipnn (every peer), fwfm, xdeepfm, autoint, dcnv2 (issue 30; opt-in through ``--models``) and
our aim-retrain / aim-search. Who has which (``PEER_HAS``): FuxiCTR all (its model zoo's FwFM, xDeepFM, AutoInt+,
DCNv2-stacked rebuilt from the package's layers), DeepCTR-Torch all but FwFM (its DCN with a matrix cross network is
DCN-V2, parallel only), torchfm deepfm / fm / ipnn / xdeepfm / autoint (no FwFM; its DCN is DCN-V1). No peer has
AutoFIS. Where a peer's API cannot take our sizes, worker.py's builder docstrings say so (FuxiCTR's CIN has no split
half; DeepCTR-Torch's AutoInt attention is d wide). xDeepFM's CIN is 20-50 times slower than DeepFM on the CPU:
budget minutes per 10,000 rows.

Setup: a virtual environment at ``bench/peers/.venv`` (git-ignored) on the interpreter of this repository's venv,
with a ``.pth`` file that puts ``.venv``'s site-packages on its path, so the peers run on the very same CPU torch,
numpy and scikit-learn as ours; then ``pip install --no-deps`` of the pinned peers plus the few small packages
they import (``SMALL_DEPS``; FuxiCTR's package imports ray at import time, so ray is installed too, without its
dependencies). The peers are benchmark-only: never dependencies of the project. A peer pip cannot install is
reported and left out; the rest runs.

Data: the Avazu-like set of issue 6 (``VOCAB``: 24 fields, vocabularies 4..523,672, 10.9M embedding parameters
at d=16; Zipf(1.1) ids, labels from a logistic model with main and pair effects, ``bench_train.make_data``),
generated once per (rows, seed) into ``bench/out/peers/`` (git-ignored); the first 90% train, the last 10% test.

Peers run two ways: ``fuxictr``, ``deepctr`` and ``torchfm`` are each library's model under one bare training loop
(a lower bound on what the library costs); ``deepctr-fit`` is DeepCTR-Torch's model trained and evaluated by its
own ``compile`` / ``fit`` / ``predict``, what its users run. "Fastest peer" is the fastest of all of them.

Runs: every (implementation, model) in its own process (``worker.py``: peak RSS is that run's), all entries once
per round, rounds repeated ``--repeats`` times (interleaved, so load drifts hit everyone alike); the table shows
medians. Ratios are ours / the fastest peer: for train and inference against the fastest peer DeepFM (the issue's
targets), and for the same model against the fastest peer of that model.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / "bench" / "peers" / ".venv"
OUT = ROOT / "bench" / "out" / "peers"
PEER_PACKAGES = {"fuxictr": "fuxictr==2.3.10", "deepctr": "deepctr-torch==0.3.0", "torchfm": "torchfm==0.7.0"}
SMALL_DEPS = {"fuxictr": ["pyyaml", "h5py", "polars", "tqdm", "msgpack", "ray==2.60.0"], "deepctr": ["tqdm"],
              "torchfm": []}
IMPORTS = {"fuxictr": "fuxictr.pytorch.layers", "deepctr": "deepctr_torch.models", "torchfm": "torchfm.model.dfm"}
LIBRARY = {"deepctr-fit": "deepctr"}  # implementations that run an installed library another way (its own fit)
# What each peer has (worker.py's builders say how each is built and where it differs from ours). No peer has
# AutoFIS; FwFM only FuxiCTR; DCN-V2 FuxiCTR and DeepCTR-Torch (torchfm's DCN is DCN-V1).
PEER_HAS = {"fuxictr": ("deepfm", "fm", "ipnn", "fwfm", "xdeepfm", "autoint", "dcnv2"),
            "deepctr": ("deepfm", "fm", "ipnn", "xdeepfm", "autoint", "dcnv2"),
            "torchfm": ("deepfm", "fm", "ipnn", "xdeepfm", "autoint")}
PEER_MODELS = ("deepfm", "fm", "ipnn", "fwfm", "xdeepfm", "autoint", "dcnv2")
OUR_MODELS = (*PEER_MODELS, "aim-retrain", "aim-search")
DEFAULT_MODELS = ("deepfm", "fm", "ipnn", "aim-retrain", "aim-search")  # the new networks are opt-in (--models)
# Avazu's fields (day, hour, weekday, C1, banner_pos, site_*, app_*, device_id, device_ip, device_model,
# device_type, device_conn_type, C14..C21): sum 681,250 rows -> 10.9M parameters at d = 16.
VOCAB = [10, 24, 7, 7, 7, 4737, 7745, 26, 8552, 559, 36, 523_672, 124_226, 8251, 5, 4, 2626, 8, 9, 435, 4, 68, 172,
         60]


def python() -> Path:
    return VENV / "bin" / "python"


def setup(impls: list[str]) -> list[str]:
    """Create the peers' venv if needed and install the peers; return the implementations that import."""
    if not python().exists():
        base = Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
        subprocess.run([str(base), "-m", "venv", str(VENV)], check=True)
        site = VENV / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
        ours = [p for p in sys.path if p.endswith("site-packages") and Path(p).resolve() != site.resolve()]
        (site / "aim_bench_shared.pth").write_text("\n".join(ours) + "\n")  # our torch, numpy, sklearn, pandas
    ok = []
    for impl in impls:
        if impl == "ours":
            ok.append(impl)
            continue
        lib = LIBRARY.get(impl, impl)
        if subprocess.run([str(python()), "-c", f"import {IMPORTS[lib]}"], capture_output=True).returncode:
            pip = subprocess.run([str(python()), "-m", "pip", "install", "-q", "--no-deps", PEER_PACKAGES[lib],
                                  *SMALL_DEPS[lib]], capture_output=True, text=True)
            if pip.returncode:
                print(f"!! {impl}: pip could not install {PEER_PACKAGES[lib]}: {pip.stderr.strip()[-300:]}")
                continue
        check = subprocess.run([str(python()), "-c", f"import {IMPORTS[lib]}"], capture_output=True, text=True)
        if check.returncode:
            print(f"!! {impl}: installed but `import {IMPORTS[lib]}` fails: {check.stderr.strip()[-300:]}")
            continue
        ok.append(impl)
    return ok


def data_file(rows: int, seed: int) -> Path:
    path = OUT / f"avazu_like_{rows}_{seed}.npz"
    if not path.exists():
        sys.path.insert(0, str(ROOT / "bench"))
        from bench_train import make_data

        OUT.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        X, y = make_data(rows, seed, VOCAB)
        np.savez(path, X=X, y=y, vocab=np.array(VOCAB))
        print(f"data: {rows:,} rows written to {path.relative_to(ROOT)} in {time.perf_counter() - start:.0f}s")
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000, help="rows generated (90%% train, 10%% test)")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved rounds; the table shows medians")
    ap.add_argument("--impls", default="fuxictr,deepctr,deepctr-fit,torchfm,ours")
    ap.add_argument("--models", default=",".join(DEFAULT_MODELS),
                    help=f"comma list of {', '.join(OUR_MODELS)}; xdeepfm is slow (CIN: ~100-500 rows/s a thread)")
    ap.add_argument("--ours-optimizers", default="adam,lazy_adam", help="train.embedding_optimizer values for ours")
    ap.add_argument("--ours-precisions", default="fp32",
                    help="train.precision values for ours (fp32,bf16 adds mixed-precision runs; the peers run fp32)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=int, default=3600, help="seconds per run")
    ap.add_argument("--infer-passes", type=int, default=3, help="timed inference passes per run (median kept)")
    ap.add_argument("--aim-spec", type=Path, default=None,
                    help="aim-retrain times the model this run folder selected (e.g. bench_pipeline.py --keep's "
                         "aim run on the same rows), not the synthetic 20%%-of-pairs spec")
    ap.add_argument("--infer-only", action="store_true",
                    help="skip training: inference samples/s of the untrained models only (quick; AUC meaningless)")
    args = ap.parse_args()
    models = args.models.split(",")
    unknown = sorted(set(models) - set(OUR_MODELS))
    if unknown:
        ap.error(f"--models: unknown {', '.join(unknown)}; choose from {', '.join(OUR_MODELS)}")
    impls = setup(args.impls.split(","))
    data = data_file(args.rows, args.seed)
    entries = [(impl, model, "adam", "fp32") for model in PEER_MODELS if model in models
               for impl in impls if impl != "ours" and model in PEER_HAS[LIBRARY.get(impl, impl)]]
    if "ours" in impls:
        entries += [("ours", model, opt, prec) for model in OUR_MODELS if model in models
                    for prec in args.ours_precisions.split(",") for opt in args.ours_optimizers.split(",")]
    print(f"date: {datetime.datetime.now().isoformat(timespec='seconds')}  host: {platform.node()}  "
          f"threads {args.threads}  rows {args.rows:,} (train {int(0.9 * args.rows):,})  batch 2000, d 16, "
          f"MLP 400x3, Adam 1e-3, {args.repeats} rounds of {len(entries)} runs", flush=True)
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "PYTHONWARNINGS": "ignore"}
    results: dict[tuple[str, str, str, str], list[dict]] = {e: [] for e in entries}
    for r in range(args.repeats):
        for impl, model, opt, prec in entries:
            cmd = [str(python()), str(ROOT / "bench" / "peers" / "worker.py"), "--impl", impl, "--model", model,
                   "--data", str(data), "--threads", str(args.threads), "--seed", str(args.seed),
                   "--embedding-optimizer", opt, "--precision", prec, "--infer-passes", str(args.infer_passes)]
            if args.infer_only:
                cmd.append("--skip-train")
            if args.aim_spec and model == "aim-retrain":
                cmd += ["--aim-spec", str(args.aim_spec.resolve())]
            try:
                run = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=args.timeout, cwd=ROOT)
            except subprocess.TimeoutExpired:
                print(f"  round {r + 1}: {impl} {model} {opt} {prec}: timed out after {args.timeout}s", flush=True)
                continue
            lines = [ln for ln in run.stdout.splitlines() if ln.startswith("{")]
            if run.returncode or not lines:
                print(f"  round {r + 1}: {impl} {model} {opt} {prec}: failed: {run.stderr.strip()[-500:]}", flush=True)
                continue
            res = json.loads(lines[-1])
            results[(impl, model, opt, prec)].append(res)
            print(f"  round {r + 1}: {impl:8} {model:12} {opt:9} {prec} train {res['train_sps']:9,.0f}/s  infer "
                  f"{res['infer_sps']:9,.0f}/s  AUC {res['auc']:.4f}  RSS {res['peak_rss_mib']:6,.0f} MiB", flush=True)
    report(results, args)


def report(results: dict, args: argparse.Namespace) -> None:
    med = {}
    for key, runs in results.items():
        if runs:
            med[key] = {k: statistics.median(r[k] for r in runs) for k in ("train_sps", "infer_sps", "auc",
                                                                             "peak_rss_mib")}
            med[key]["params"], med[key]["n"] = runs[0]["params"], len(runs)
    peers = {k: v for k, v in med.items() if k[0] != "ours"}

    def ratio(v: dict, model: str) -> str:
        """Ours / the fastest peer's ``model`` (train, infer); blank when no peer ran it."""
        runs = [p for k, p in peers.items() if k[1] == model]
        if not runs:
            return ""
        return (f"{v['train_sps'] / max(p['train_sps'] for p in runs):.2f}x, "
                f"{v['infer_sps'] / max(p['infer_sps'] for p in runs):.2f}x")

    print("\n| implementation | model | params | train samples/s | infer samples/s | AUC (1 epoch) | peak RSS MiB | "
          "ours / fastest peer DeepFM (train, infer) | ours / fastest peer same model (train, infer) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for (impl, model, opt, prec), v in med.items():
        name = impl if impl != "ours" else f"ours ({opt}{', ' + prec if prec != 'fp32' else ''})"
        ratio_dfm, ratio_same = (ratio(v, "deepfm"), ratio(v, model)) if impl == "ours" else ("", "")
        print(f"| {name} | {model} | {v['params']:,} | {v['train_sps']:,.0f} | {v['infer_sps']:,.0f} | "
              f"{v['auc']:.4f} | {v['peak_rss_mib']:,.0f} | {ratio_dfm} | {ratio_same} |")
    print(f"(medians of {args.repeats} interleaved rounds)")
    OUT.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%dT%H%M%S")
    path = OUT / f"results_{args.rows}_{stamp}.json"
    path.write_text(json.dumps({"args": vars(args), "runs": [dict(r) for runs in results.values() for r in runs]},
                               indent=1, default=str))  # default: the Path of --aim-spec
    print(f"all runs: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
