"""Speed of the model a user deploys: the re-trained AIM network that a real run selected against DeepFM.

    PYTHONPATH=. .venv/bin/python bench/bench_selected.py                       # every AIM run in cached_runs/
    PYTHONPATH=. .venv/bin/python bench/bench_selected.py cached_runs/frappe__aim__seed0__20261204T004842
    PYTHONPATH=. .venv/bin/python bench/bench_selected.py --threads 2 --steps 100 --repeats 5
    PYTHONPATH=. .venv/bin/python bench/bench_selected.py --baseline-ref f029d3e   # before / after, one process
    PYTHONPATH=. .venv/bin/python bench/bench_selected.py cached_runs/synthetic__aim__seed0__20261204T092209 \
        --threads 1 --profile-steps 30                                              # + torch.profiler top ops
    python3 bench/bench_selected.py --device cuda                                   # on a GPU (train.device)
    PYTHONPATH=. .venv/bin/python bench/bench_selected.py --precision fp32,bf16     # + mixed precision (train.precision)

``bench_train.py`` times a made-up re-train architecture on Avazu-like data (20 % of the pairs, random EDS sizes:
44M parameters, more than any run keeps). This script times the architecture each run's own pipeline chose:
the ``model.spec`` of its run.json (its kept columns and functions, its EDS sizes, its head), built fresh, against
the DeepFM that the same run's data and settings would build (same vocabularies, d, MLP, dropout), and IPNN;
a run with the embeddings head is also timed with ``model.head = summed`` (its MLP reads F·d inputs, not F·T·d).
Rows are Zipf(1.1) ids over the run's vocabularies with random labels (speed does not depend on the values).
Training is ``aim.train.fit``'s inner step with the run's batch size and embedding optimiser
(``bench_train.Bench``; with ``--device cuda`` the models live on the GPU and each batch is copied there per
step, as ``fit`` does); inference is ``aim.train.predict`` with the run's evaluation batch. The models are
measured interleaved (A train, A infer, B train, ...) ``--repeats`` times; the table shows medians and the ratio
to DeepFM (issue 16's target for the AIM re-train model: >= 1 for train and for inference). ``--precision
fp32,bf16`` adds DeepFM and the selected AIM model under ``train.precision bf16`` (mixed precision), each compared
with DeepFM in the same precision, and the bf16 DeepFM also with the fp32 one.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from bench_train import baseline_nets, build, profile  # noqa: E402

from aim.config import FUNCTIONS  # noqa: E402
from aim.model.nets import AIM, FM, IPNN, AIMSpec, count_parameters  # noqa: E402
from aim.train import predict  # noqa: E402


def zipf_rows(rows: int, vocab: list[int], seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(rows, F) int64 Zipf(1.1) ids over each vocabulary (frequent ids scattered) and random 0/1 labels."""
    rng = np.random.default_rng(seed)
    X = np.empty((rows, len(vocab)), dtype=np.int64)
    for f, v in enumerate(vocab):
        p = 1.0 / np.arange(1, v + 1) ** 1.1
        ranks = np.searchsorted(np.cumsum(p / p.sum()), rng.random(rows), side="right").clip(max=v - 1)
        X[:, f] = rng.permutation(v)[ranks]
    return torch.from_numpy(X), torch.from_numpy((rng.random(rows) < 0.25).astype(np.float32))


def selected_runs(paths: list[Path]) -> list[tuple[Path, dict]]:
    """(folder, run.json) of every complete AIM run among ``paths`` (folders of runs, or folders holding runs)."""
    found = []
    for p in paths:
        for meta_path in ([p / "run.json"] if (p / "run.json").exists() else sorted(p.glob("*/run.json"))):
            meta = json.loads(meta_path.read_text())
            if meta.get("status") == "complete" and (meta.get("model") or {}).get("kind") == "aim":
                found.append((meta_path.parent, meta))
    return found


def bench_run(folder: Path, meta: dict, args: argparse.Namespace, old=None) -> None:
    spec = AIMSpec.from_json(meta["model"]["spec"])
    cfg_t = meta["config"]["train"]
    batch, eval_batch = cfg_t["batch_size"], cfg_t["eval_batch_size"]
    lr, opt = cfg_t["lr"], cfg_t.get("embedding_optimizer", "adam")
    vocab = list(spec.vocab_sizes)
    X, y = zipf_rows(args.rows, vocab, args.seed)
    X_infer = X[: args.infer_rows]
    torch.manual_seed(args.seed)

    def bench(name, model, precision="fp32"):  # our optimisers for the run's settings, on --device
        return build(name, model, lr, opt, device=args.device, precision=precision)

    benches = [
        bench("DeepFM", FM(vocab, spec.dim, spec.init_std, mlp=spec.mlp, dropout=spec.dropout)),
        bench("IPNN", IPNN(vocab, spec.dim, spec.init_std, mlp=spec.mlp, dropout=spec.dropout)),
        bench("AIM re-train (selected)", AIM(spec)),
    ]
    for prec in [p for p in args.precision.split(",") if p != "fp32"]:
        benches += [bench(f"DeepFM [{prec}]", FM(vocab, spec.dim, spec.init_std, mlp=spec.mlp, dropout=spec.dropout),
                          prec),
                    bench(f"AIM re-train (selected) [{prec}]", AIM(spec), prec)]
    if old is not None:  # the same two models as of --baseline-ref (before / after in one process)
        ref = args.baseline_ref
        benches += [bench(f"DeepFM @{ref}", old.FM(vocab, spec.dim, spec.init_std, mlp=spec.mlp, dropout=spec.dropout)),
                    bench(f"AIM re-train (selected) @{ref}", old.AIM(old.AIMSpec.from_json(meta["model"]["spec"])))]
        benches += [bench(f"AIM re-train (selected) @{ref} [{prec}]",
                          old.AIM(old.AIMSpec.from_json(meta["model"]["spec"])), prec)
                    for prec in args.precision.split(",") if prec != "fp32"]
    if spec.mlp and spec.head == "embeddings":  # the same selection with the MLP over summed tables (F·d inputs)
        benches.append(bench("AIM re-train, head summed", AIM(dataclasses.replace(spec, head="summed"))))
    columns = [(len(fields[0]), len(funcs)) for fields, funcs in spec.blocks]
    funcs = sorted({FUNCTIONS[f] for f in spec.used_functions})
    dims = [len(p) for p in spec.positions] if spec.positions is not None else [spec.dim] * len(vocab)
    print(f"\n## {folder.name}  ({meta.get('dataset', {}).get('name', '?')}, {len(vocab)} fields, "
          f"{sum(vocab):,} ids)")
    print(f"selected: {', '.join(f'{n} order-{o} columns' for o, n in columns)}; functions {funcs} "
          f"({'SE' if spec.shared_embedding else 'FWE'}); EDS dims per field {dims}; head {spec.head}; "
          f"batch {batch}, embedding optimizer {opt}")
    for b in benches:
        b.train_steps(X, y, args.warmup, batch)
        predict(b.model, X_infer[:eval_batch], eval_batch, b.precision)
    for _ in range(args.repeats):
        for b in benches:
            b.train_rates.append(args.steps * batch / b.train_steps(X, y, args.steps, batch))
            start = time.perf_counter()
            predict(b.model, X_infer, eval_batch, b.precision)
            b.infer_rates.append(len(X_infer) / (time.perf_counter() - start))
    if args.profile_steps:  # after the timed rounds: where a training step and a prediction pass spend their time
        from torch import profiler

        for b in benches:
            profile(b, X, y, args.profile_steps, batch, args.profile_top)
            with profiler.profile(activities=[profiler.ProfilerActivity.CPU]) as prof:
                predict(b.model, X_infer, eval_batch, b.precision)
            print(f"\n== torch.profiler: {b.name}, inference of {len(X_infer):,} rows, top {args.profile_top} ==")
            print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.profile_top))
    med = {b.name: (statistics.median(b.train_rates), statistics.median(b.infer_rates)) for b in benches}
    print("| model | params | train samples/s | infer samples/s | vs DeepFM in its precision (train / infer) | "
          "vs fp32 DeepFM |")
    print("|---|---|---|---|---|---|")
    for b in benches:
        tr, inf = med[b.name]
        base, fp32 = med["DeepFM" if b.precision == "fp32" else f"DeepFM [{b.precision}]"], med["DeepFM"]
        print(f"| {b.name} | {count_parameters(b.model)['total']:,} | {tr:,.0f} | {inf:,.0f} | "
              f"{tr / base[0]:.2f}x / {inf / base[1]:.2f}x | {tr / fp32[0]:.2f}x / {inf / fp32[1]:.2f}x |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", nargs="*", type=Path, default=[ROOT / "cached_runs"],
                    help="run folders, or folders holding runs (default: cached_runs/)")
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--infer-rows", type=int, default=100_000)
    ap.add_argument("--steps", type=int, default=50, help="measured training steps per round")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3, help="interleaved rounds (medians shown)")
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0 = torch default)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (train.device)")
    ap.add_argument("--profile-steps", type=int, default=0, help="also profile N training steps and one "
                    "inference pass of each model (torch.profiler)")
    ap.add_argument("--profile-top", type=int, default=8)
    ap.add_argument("--baseline-ref", default="", help="also time DeepFM and the selected AIM as of this git commit")
    ap.add_argument("--precision", default="fp32", help="train.precision values: fp32,bf16 adds DeepFM and the "
                    "selected AIM in mixed precision")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    runs = selected_runs(args.runs)
    if not runs:
        raise SystemExit(f"no complete AIM run in {', '.join(map(str, args.runs))}")
    where = torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") else "cpu"
    print(f"# bench_selected {datetime.datetime.now().isoformat(timespec='seconds')} torch {torch.__version__} "
          f"on {where}, threads {torch.get_num_threads()}; {args.steps} steps x {args.repeats} interleaved rounds, "
          f"{args.infer_rows:,} rows inferred per round")
    old = baseline_nets(args.baseline_ref) if args.baseline_ref else None
    for folder, meta in runs:
        bench_run(folder, meta, args, old)


if __name__ == "__main__":
    main()
