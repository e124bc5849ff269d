"""Benchmark: training and inference throughput of AIM (re-train and search stage) vs DeepFM and IPNN, on CPU.

Synthetic Avazu-like data (same recipe as bench_stats_auc.make_data: 24 fields with Avazu's cardinalities capped
at 500,000, Zipf(1.1) ids, labels from a logistic model), held in memory as one int32 tensor; batches by slicing.
Four models, built with the repo defaults (ModelConfig / SearchConfig), d=16, MLP 400-400-400:

    DeepFM        FM(vocab, 16, mlp=(400, 400, 400))
    IPNN          IPNN(vocab, 16, mlp=(400, 400, 400)): all 276 inner products
    AIM re-train  AIMSpec with 20% of the 276 pairs (seeded), 1-2 functions each, FWE, per-field positions of
                  2..16 kept dims (PrunedFieldEmbedding), MLP 400-400-400
    AIM search    all 276 pairs x 4 functions, FWE, no MLP; Adam on weights + GRDA on alpha (stage A)

Training replicates the inner step of ``aim.train.fit`` (model(xb), BCEWithLogitsLoss, the optimisers of
``aim.train.optimizers`` for ``--embedding-optimizer``, GRDA after the same backward) for ``--steps`` steps of
``--batch`` rows; inference is ``aim.train.predict`` (inference_mode, batch 20,000) over ``--infer-rows`` rows.
Each model gets warm-up steps once, then the models are measured interleaved (A train, A infer, B train, B infer,
...) ``--repeats`` times; the table shows medians.

``--baseline-ref REF`` adds, for every model, the same architecture built from ``aim/model/*.py`` as of git commit
REF and trained as ``fit`` did before issue 6 (``Adam(foreach=True)``), interleaved with ours: a before/after
measured in one process (``--baseline-ref 1e7615c`` is the last commit before the fast paths).

    PYTHONPATH=. .venv/bin/python bench/bench_train.py                      # 1,000,000 rows, 100 steps x 3
    PYTHONPATH=. .venv/bin/python bench/bench_train.py --rows 50000 --steps 10 --threads 1
    PYTHONPATH=. .venv/bin/python bench/bench_train.py --profile-steps 5   # + torch.profiler top ops per model
    PYTHONPATH=. .venv/bin/python bench/bench_train.py --baseline-ref 1e7615c --steps 20
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere
from aim.config import FUNCTIONS, ModelConfig, SearchConfig, TrainConfig  # noqa: E402
from aim.grda import GRDA  # noqa: E402
from aim.model.embeddings import set_sparse  # noqa: E402
from aim.model.interactions import sort_columns  # noqa: E402
from aim.model.nets import FM, AIMSpec, all_pairs, count_parameters  # noqa: E402
from aim.search import candidate_columns  # noqa: E402
from aim.train import autocast, optimizers, predict  # noqa: E402

# Avazu cardinalities (day, hour, weekday, C1, banner_pos, site_*, app_*, device_*, C14..C21), capped at 500k.
VOCAB = [10, 24, 7, 7, 7, 4737, 7745, 26, 8552, 559, 36, 500_000, 500_000, 8251, 5, 4, 2626, 8, 9, 435, 4, 68, 172, 60]


def make_data(rows: int, seed: int, vocab: list[int] = VOCAB) -> tuple[np.ndarray, np.ndarray]:
    """(rows, 24) int32 ids and float32 labels; ids Zipf(1.1) over each vocab, randomly permuted (frequent ids
    are not the small ones); logit = -1.6 + a few main effects + four hashed pair effects (CTR ~0.3 at 1M rows)."""
    rng = np.random.default_rng(seed)
    X = np.empty((rows, len(vocab)), dtype=np.int32)
    logit = np.full(rows, -1.6)
    for f, v in enumerate(vocab):
        p = 1.0 / np.arange(1, v + 1) ** 1.1
        ranks = np.searchsorted(np.cumsum(p / p.sum()), rng.random(rows), side="right").clip(max=v - 1)
        X[:, f] = rng.permutation(v)[ranks]
        if v <= 10_000 and f % 3 == 0:
            logit += rng.normal(0, 0.4, v)[X[:, f]]
    for fi, fj in [(1, 5), (8, 13), (3, 19), (11, 16)]:
        table = rng.normal(0, 0.6, 1_000_003)
        logit += table[(X[:, fi].astype(np.int64) * vocab[fj] + X[:, fj]) % len(table)]
    y = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.float32)
    return X, y


def retrain_spec(m: ModelConfig, seed: int, keep_frac: float = 0.2, vocab: list[int] = VOCAB) -> AIMSpec:
    """A realistic stage-C architecture: ``keep_frac`` of the pairs, 1-2 random functions each, FWE tables,
    per-field retained positions of 2..16 random dims, MLP."""
    rng = np.random.default_rng(seed)
    pairs = all_pairs(len(vocab))
    kept = sorted(rng.choice(len(pairs), size=round(keep_frac * len(pairs)), replace=False).tolist())
    fields, funcs = [], []
    for c in kept:
        for f in sorted(rng.choice(len(FUNCTIONS), size=int(rng.integers(1, 3)), replace=False).tolist()):
            fields.append(pairs[c])
            funcs.append(f)
    order = sort_columns(fields, funcs)
    columns = (tuple(fields[i] for i in order), tuple(funcs[i] for i in order))
    positions = tuple(
        tuple(sorted(rng.choice(m.embed_dim, size=int(rng.integers(2, 17)), replace=False).tolist()))
        for _ in vocab
    )
    return AIMSpec(vocab_sizes=tuple(vocab), dim=m.embed_dim, shared_embedding=m.embedding == "se", blocks=(columns,),
                   positions=positions, mlp=tuple(m.mlp), dropout=m.dropout, init_std=m.init_std,
                   alpha_init=m.alpha_init, bn_eps=m.bn_eps, bn_momentum=m.bn_momentum)


def search_spec(m: ModelConfig, vocab: list[int] = VOCAB) -> AIMSpec:
    """Stage A: every pair x every function, FWE, no MLP, no pruning."""
    columns = candidate_columns(len(vocab), FUNCTIONS)
    return AIMSpec(vocab_sizes=tuple(vocab), dim=m.embed_dim, shared_embedding=m.embedding == "se", blocks=(columns,),
                   init_std=m.init_std, alpha_init=m.alpha_init, bn_eps=m.bn_eps, bn_momentum=m.bn_momentum)


@dataclass
class Bench:
    """One model with its optimisers and a cursor into the (pre-shuffled) training rows."""

    name: str
    model: nn.Module
    adams: list[torch.optim.Optimizer]
    grda: GRDA | None = None
    cursor: int = 0
    loss_fn: nn.Module = field(default_factory=nn.BCEWithLogitsLoss)
    train_rates: list[float] = field(default_factory=list)
    infer_rates: list[float] = field(default_factory=list)
    last_loss: float = float("nan")
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    precision: str = "fp32"  # train.precision of the forward pass (aim.train.autocast)

    def train_steps(self, X: torch.Tensor, y: torch.Tensor, steps: int, batch: int) -> float:
        """``steps`` steps of aim.train.fit's inner loop; returns seconds."""
        model, n = self.model, len(y)
        model.train()
        total = torch.zeros((), device=self.device)
        start = time.perf_counter()
        for _ in range(steps):
            if self.cursor + batch > n:
                self.cursor = 0
            xb, yb = X[self.cursor : self.cursor + batch], y[self.cursor : self.cursor + batch]
            xb, yb = xb.to(self.device, non_blocking=True), yb.to(self.device, non_blocking=True)  # as fit does
            self.cursor += batch
            with autocast(self.precision, self.device):
                logits = model(xb)
            loss = self.loss_fn(logits.float(), yb)
            for opt in self.adams:
                opt.zero_grad(set_to_none=True)
            if self.grda is not None:
                self.grda.zero_grad(set_to_none=True)
            loss.backward()
            for opt in self.adams:
                opt.step()
            if self.grda is not None:
                self.grda.step()
            total.add_(loss.detach(), alpha=len(yb))
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        seconds = time.perf_counter() - start
        self.last_loss = float(total) / (steps * batch)
        if not np.isfinite(self.last_loss):
            raise RuntimeError(f"{self.name}: non-finite training loss {self.last_loss}")
        return seconds


def build(name: str, model: nn.Module, lr: float, embedding_optimizer: str, gate_params: list[nn.Parameter] = (),
          s: SearchConfig | None = None, baseline: bool = False, device: str = "cpu", precision: str = "fp32") -> Bench:
    """Our optimisers (``aim.train.optimizers``); ``baseline``: one ``Adam(foreach=True)``, as fit had before.
    ``device``: where the model, its optimiser states and each batch live (fit's ``train.device``);
    ``precision``: fit's ``train.precision``."""
    model.to(device)
    if baseline:
        gate_ids = {id(p) for p in gate_params}
        adams = [torch.optim.Adam([p for p in model.parameters() if id(p) not in gate_ids], lr=lr, foreach=True)]
    else:
        adams = optimizers(model, lr, list(gate_params), embedding_optimizer)
        set_sparse(model, embedding_optimizer == "lazy_adam")
    grda = GRDA(gate_params, lr=s.grda_lr, c=s.grda_c, mu=s.grda_mu) if gate_params else None
    return Bench(name, model, adams, grda, device=torch.device(device), precision=precision)


def baseline_nets(ref: str):
    """``aim/model/*.py`` as of git commit ``ref``, imported as the package ``aim_baseline.model``."""
    root = Path(tempfile.mkdtemp(prefix="aim_baseline_"))
    pkg = root / "aim_baseline" / "model"
    pkg.mkdir(parents=True)
    (pkg.parent / "__init__.py").write_text("")
    repo = Path(__file__).resolve().parents[1]
    for name in ("__init__", "embeddings", "interactions", "gates", "nets"):
        src = subprocess.run(["git", "show", f"{ref}:aim/model/{name}.py"], cwd=repo, capture_output=True,
                             text=True, check=True).stdout
        (pkg / f"{name}.py").write_text(src.replace("from aim.model", "from aim_baseline.model"))
    sys.path.insert(0, str(root))
    return importlib.import_module("aim_baseline.model.nets")


def profile(b: Bench, X: torch.Tensor, y: torch.Tensor, steps: int, batch: int, top: int) -> None:
    from torch import profiler

    b.train_steps(X, y, 2, batch)  # warm
    with profiler.profile(activities=[profiler.ProfilerActivity.CPU]) as prof:
        b.train_steps(X, y, steps, batch)
    print(f"\n== torch.profiler: {b.name}, {steps} training steps of {batch} rows, top {top} by self CPU ==")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=top))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--steps", type=int, default=100, help="measured training steps per chunk")
    ap.add_argument("--warmup", type=int, default=5, help="warm-up training steps per model (once)")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved rounds; the table reports the median")
    ap.add_argument("--batch", type=int, default=2000)
    ap.add_argument("--infer-rows", type=int, default=200_000)
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0 = torch default)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--profile-steps", type=int, default=0, help="after the table, profile N steps of each model")
    ap.add_argument("--embedding-optimizer", default=TrainConfig().embedding_optimizer, help="adam or lazy_adam")
    ap.add_argument("--baseline-ref", default="", help="also run every model as of this git commit (before/after)")
    ap.add_argument("--profile-top", type=int, default=5)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    m, s, t = ModelConfig(), SearchConfig(grda_c=0.12), TrainConfig()  # a fixed c: speed does not depend on it
    t0 = time.perf_counter()
    X_np, y_np = make_data(args.rows, args.seed)
    perm = np.random.default_rng(args.seed + 1).permutation(args.rows)  # one shuffle, like fit's epoch permutation
    X, y = torch.from_numpy(X_np[perm]), torch.from_numpy(y_np[perm])
    del X_np, y_np
    X_infer = X[: min(args.infer_rows, args.rows)]
    data_s = time.perf_counter() - t0

    rspec, sspec = retrain_spec(m, args.seed), search_spec(m)
    opt = args.embedding_optimizer
    benches = []
    variants = [("", sys.modules[FM.__module__])]
    if args.baseline_ref:
        variants.append((f" @{args.baseline_ref}", baseline_nets(args.baseline_ref)))
    for tag, nets in variants:
        torch.manual_seed(args.seed)
        base = bool(tag)
        benches.append(build("DeepFM" + tag, nets.FM(VOCAB, m.embed_dim, m.init_std, mlp=m.mlp, dropout=m.dropout),
                             t.lr, opt, baseline=base))
        benches.append(build("IPNN" + tag, nets.IPNN(VOCAB, m.embed_dim, m.init_std, mlp=m.mlp, dropout=m.dropout),
                             t.lr, opt, baseline=base))
        spec_of = nets.AIMSpec.from_json
        benches.append(build("AIM re-train" + tag, nets.AIM(spec_of(rspec.to_json())), t.lr, opt, baseline=base))
        search = nets.AIM(spec_of(sspec.to_json()))
        benches.append(build("AIM search (GRDA)" + tag, search, t.lr, opt, search.gate_parameters(), s, baseline=base))
    if args.baseline_ref:  # interleave: ours, then the same model as of the baseline commit
        half = len(benches) // 2
        benches = [b for pair in zip(benches[:half], benches[half:]) for b in pair]
    search = benches[-1].model

    print(f"date: {datetime.datetime.now().isoformat(timespec='seconds')}  host: {platform.node()}  "
          f"python {platform.python_version()}  torch {torch.__version__}  threads {torch.get_num_threads()}")
    print(f"data: {args.rows:,} rows x {len(VOCAB)} fields (int32, {X.numel() * 4 / 2**20:.0f} MiB), "
          f"CTR {float(y.mean()):.3f}, made in {data_s:.1f}s")
    n_pairs = len({f for f in rspec.blocks[0][0]})
    sizes = [len(p) for p in rspec.positions]
    print(f"AIM re-train: {n_pairs} pairs / {len(rspec.blocks[0][1])} columns, functions used "
          f"{[FUNCTIONS[f] for f in rspec.used_functions]}, kept dims per field {sizes} (mean {np.mean(sizes):.1f})")
    print(f"AIM search: all {len(search.gates[0].alpha)} columns, no MLP, GRDA lr {s.grda_lr} c {s.grda_c} "
          f"mu {s.grda_mu} on alpha")
    print(f"setup: batch {args.batch}, d {m.embed_dim}, mlp {m.mlp} (DeepFM, IPNN, AIM re-train), dropout "
          f"{m.dropout}, Adam lr {t.lr}, embedding optimizer {opt}; train {args.steps} steps x {args.batch} = "
          f"{args.steps * args.batch:,} samples (after {args.warmup} warm-up steps), infer {len(X_infer):,} rows "
          f"(batch {t.eval_batch_size:,}), {args.repeats} interleaved rounds")

    for b in benches:
        b.train_steps(X, y, args.warmup, args.batch)
        predict(b.model, X_infer[: t.eval_batch_size], t.eval_batch_size)
    for r in range(args.repeats):
        for b in benches:
            secs = b.train_steps(X, y, args.steps, args.batch)
            b.train_rates.append(args.steps * args.batch / secs)
            start = time.perf_counter()
            predict(b.model, X_infer, t.eval_batch_size)
            b.infer_rates.append(len(X_infer) / (time.perf_counter() - start))
        print(f"  round {r + 1}/{args.repeats}: " + ", ".join(
            f"{b.name} {b.train_rates[-1]:,.0f}/{b.infer_rates[-1]:,.0f}" for b in benches) + " samples/s (train/infer)",
            flush=True)

    med = {b.name: (statistics.median(b.train_rates), statistics.median(b.infer_rates)) for b in benches}
    base_train, base_infer = med["DeepFM"]
    print(f"\n{'model':<28}{'params':>13}{'train samples/s':>18}{'infer samples/s':>18}"
          f"{'ratio vs DeepFM (train / infer)':>34}")
    for b in benches:
        tr, inf = med[b.name]
        ratio = f"{tr / base_train:.2f}x / {inf / base_infer:.2f}x"
        print(f"{b.name:<28}{count_parameters(b.model)['total']:>13,}{tr:>18,.0f}{inf:>18,.0f}{ratio:>34}")
    print("(medians of the interleaved rounds; spread min-max train / infer: " + "; ".join(
        f"{b.name} {min(b.train_rates):,.0f}-{max(b.train_rates):,.0f} / "
        f"{min(b.infer_rates):,.0f}-{max(b.infer_rates):,.0f}" for b in benches) + ")")
    print("last-chunk train loss: " + ", ".join(f"{b.name} {b.last_loss:.4f}" for b in benches))
    if args.baseline_ref:
        print(f"speed-up over @{args.baseline_ref} (train / infer): " + ", ".join(
            f"{name} {med[name][0] / med[f'{name} @{args.baseline_ref}'][0]:.2f}x / "
            f"{med[name][1] / med[f'{name} @{args.baseline_ref}'][1]:.2f}x"
            for name in (b.name for b in benches if "@" not in b.name)))

    if args.profile_steps:
        for b in benches:
            profile(b, X, y, args.profile_steps, args.batch, args.profile_top)

    # ru_maxrss is KiB on Linux, bytes on macOS.
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (2**20 if sys.platform == "darwin" else 2**10)
    print(f"\npeak RSS: {rss:,.0f} MiB")


if __name__ == "__main__":
    main()
