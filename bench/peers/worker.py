"""One benchmark run: build one implementation's model, train it one full epoch, infer the test rows, print JSON.

Run by ``bench/peers/run.py`` inside ``bench/peers/.venv`` (one process per run, so peak RSS is the run's own):

    python bench/peers/worker.py --impl torchfm --model deepfm --data bench/out/peers/avazu_like_1000000_0.npz

Every implementation sees the same rows in the same order (the data are i.i.d., generated pre-shuffled), batch
2000, d 16, MLP 400-400-400 with batch norm and dropout 0.2 where the model has one, Adam lr 1e-3, no L2. Peers
are trained by one minimal loop (slices of a tensor already in their input format, ``torch.optim.Adam`` as each
library constructs it by default, BCE on their sigmoid output), so their own ``fit`` / DataLoader overheads are
not counted: a lower bound on their cost. Ours is trained by ``aim.train.fit``, the loop every run uses.
Inference: ``torch.no_grad`` + eval mode for the peers (what their ``predict`` does), ``aim.train.predict``
(``inference_mode``) for ours, both in batches of ``--infer-batch``: one warm-up pass over the test rows, then the
median of ``--infer-passes`` timed passes. ``--skip-train`` times inference alone (untrained weights).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from torch import nn

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

D, MLP, DROPOUT, LR = 16, [400, 400, 400], 0.2, 1e-3


# ---- peers: each returns (model, to_input) where to_input maps an int32 (N, F) array to the model's input ------


def fuxictr(model: str, vocab: list[int]):
    """FuxiCTR 2.3.10 ships its layers but not its model zoo; these mirror model_zoo's DeepFM / FM / PNN(inner)
    built from the package's own FeatureEmbedding, LogisticRegression, FactorizationMachine, InnerProductInteraction
    and MLP_Block (default embedding init, batch_norm as set here)."""
    from fuxictr.features import FeatureMap
    from fuxictr.pytorch.layers import (
        FactorizationMachine,
        FeatureEmbedding,
        InnerProductInteraction,
        MLP_Block,
    )

    fmap = FeatureMap("avazu_like", "")
    fmap.features = {f"f{i}": {"type": "categorical", "vocab_size": v, "source": ""} for i, v in enumerate(vocab)}
    fmap.num_fields = len(vocab)
    F = len(vocab)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = FeatureEmbedding(fmap, D)
            if model in ("fm", "deepfm"):
                self.fm = FactorizationMachine(fmap)
            if model == "ipnn":
                self.product = InnerProductInteraction(F, output="inner_product")
            if model != "fm":
                in_dim = F * D + (F * (F - 1) // 2 if model == "ipnn" else 0)
                self.mlp = MLP_Block(in_dim, output_dim=1, hidden_units=MLP, hidden_activations="ReLU",
                                     dropout_rates=DROPOUT, batch_norm=True)

        def forward(self, X):
            e = self.embedding(X)  # (B, F, D)
            if model == "ipnn":
                return torch.sigmoid(self.mlp(torch.cat([e.flatten(1), self.product(e)], dim=1)))
            logit = self.fm(X, e)
            if model == "deepfm":
                logit = logit + self.mlp(e.flatten(1))
            return torch.sigmoid(logit)

    def to_input(X: np.ndarray):
        t = torch.from_numpy(X.astype(np.int64))
        return {f"f{i}": t[:, i] for i in range(F)}

    return Net(), to_input


def deepctr(model: str, vocab: list[int]):
    """DeepCTR-Torch 0.3.0: DeepFM, DeepFM without DNN (= FM: linear + FM term), PNN(use_inner=True)."""
    from deepctr_torch.inputs import SparseFeat
    from deepctr_torch.models import PNN, DeepFM

    cols = [SparseFeat(f"f{i}", vocabulary_size=v, embedding_dim=D) for i, v in enumerate(vocab)]
    if model == "ipnn":  # PNN takes no batch-norm option
        net = PNN(cols, dnn_hidden_units=MLP, l2_reg_embedding=0, dnn_dropout=DROPOUT, use_inner=True)
    else:
        net = DeepFM(cols, cols, dnn_hidden_units=MLP if model == "deepfm" else (), l2_reg_linear=0,
                     l2_reg_embedding=0, dnn_dropout=DROPOUT, dnn_use_bn=True)
    return net, lambda X: torch.from_numpy(X.astype(np.float32))  # its models slice float columns


def torchfm(model: str, vocab: list[int]):
    """torchfm 0.7.0: DeepFactorizationMachineModel, FactorizationMachineModel, ProductNeuralNetworkModel(inner)."""
    from torchfm.model.dfm import DeepFactorizationMachineModel
    from torchfm.model.fm import FactorizationMachineModel
    from torchfm.model.pnn import ProductNeuralNetworkModel

    dims = np.array(vocab)
    net = {"deepfm": lambda: DeepFactorizationMachineModel(dims, D, MLP, DROPOUT),
           "fm": lambda: FactorizationMachineModel(dims, D),
           "ipnn": lambda: ProductNeuralNetworkModel(dims, D, MLP, DROPOUT, method="inner")}[model]()
    return net, lambda X: torch.from_numpy(X.astype(np.int64))


PEERS = {"fuxictr": fuxictr, "deepctr": deepctr, "torchfm": torchfm}


def timed_inference(infer, args) -> tuple[np.ndarray, float]:
    """One warm-up call of ``infer`` (all test rows -> probabilities), then ``--infer-passes`` timed passes;
    returns the predictions and the median pass time (one pass over 100,000 rows takes about a second: noisy)."""
    p = infer()
    times = []
    for _ in range(args.infer_passes):
        start = time.perf_counter()
        p = infer()
        times.append(time.perf_counter() - start)
    return np.asarray(p).reshape(-1), float(np.median(times))


def run_peer(impl: str, model: str, vocab, X_train, y_train, X_test, args) -> tuple[nn.Module, float, np.ndarray,
                                                                                      float]:
    net, to_input = PEERS[impl](model, vocab)
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    xs, y = to_input(X_train), torch.from_numpy(y_train)
    take = (lambda a, i, j: {k: v[i:j] for k, v in a.items()}) if isinstance(xs, dict) else (lambda a, i, j: a[i:j])
    n, bs = len(y), args.batch
    net.train()
    start = time.perf_counter()
    for i in range(0, 0 if args.skip_train else n, bs):
        loss = nn.functional.binary_cross_entropy(net(take(xs, i, i + bs)).squeeze(-1), y[i : i + bs])
        opt.zero_grad()
        loss.backward()
        opt.step()
    train_s = time.perf_counter() - start
    net.eval()
    xt = to_input(X_test)

    def infer():
        with torch.no_grad():
            return torch.cat([net(take(xt, i, i + args.infer_batch)).squeeze(-1)
                              for i in range(0, len(X_test), args.infer_batch)]).numpy()

    return net, train_s, *timed_inference(infer, args)


def run_deepctr_fit(model: str, vocab, X_train, y_train, X_test, args) -> tuple[nn.Module, float, np.ndarray,
                                                                              float]:
    """DeepCTR-Torch through its own API, as its users train: ``compile("adam", "binary_crossentropy")`` (its
    Adam, lr 1e-3, summed BCE), ``fit`` (its DataLoader, ``.item()`` syncs, regularisation-loss hook; no shuffle,
    the rows are already shuffled) and ``predict`` with the same batch as everyone's inference."""
    net, _ = deepctr(model, vocab)
    net.compile("adam", "binary_crossentropy")
    def columns(X: np.ndarray) -> dict[str, np.ndarray]:
        return {f"f{i}": X[:, i].astype(np.int64) for i in range(len(vocab))}

    train_s = 0.0
    if not args.skip_train:
        xs = columns(X_train)
        start = time.perf_counter()
        net.fit(xs, y_train.astype(np.float32), batch_size=args.batch, epochs=1, verbose=0, shuffle=False)
        train_s = time.perf_counter() - start
    xt = columns(X_test)
    return net, train_s, *timed_inference(lambda: net.predict(xt, batch_size=args.infer_batch), args)


def run_ours(model: str, vocab, X_train, y_train, X_test, args) -> tuple[nn.Module, float, np.ndarray, float]:
    from bench_train import retrain_spec, search_spec

    from aim.config import ModelConfig, SearchConfig
    from aim.model.nets import AIM, FM, IPNN
    from aim.train import GateSchedule, Tensors, fit, predict

    # A fixed GRDA c: speed does not depend on its value.
    m, s = ModelConfig(embed_dim=D, mlp=tuple(MLP), dropout=DROPOUT), SearchConfig(grda_c=0.12)
    gates = None
    if model == "aim-search":
        net = AIM(search_spec(m, vocab))
        gates = GateSchedule(net.gate_parameters(), s.grda_lr, s.grda_c, s.grda_mu, s.grda_lr_decay)
    elif model == "aim-retrain":
        net = AIM(args.selected or retrain_spec(m, args.seed, vocab=vocab))
    elif model == "ipnn":
        net = IPNN(vocab, D, m.init_std, mlp=MLP, dropout=DROPOUT)
    else:
        net = FM(vocab, D, m.init_std, mlp=MLP if model == "deepfm" else (), dropout=DROPOUT)
    train = Tensors(torch.from_numpy(X_train), torch.from_numpy(y_train))
    tiny = Tensors(train.X[:4000], train.y[:4000])  # fit validates after the epoch; not part of the timing
    train_s = 0.0
    if not args.skip_train:
        result = fit(net, train, tiny, stage="bench", epochs=1, batch_size=args.batch, lr=LR,
                     eval_batch_size=args.infer_batch, generator=torch.Generator().manual_seed(args.seed),
                     gates=gates, embedding_optimizer=args.embedding_optimizer, precision=args.precision)
        train_s = result.history[0]["seconds"]
    Xt = torch.from_numpy(X_test)
    return net, train_s, *timed_inference(lambda: predict(net, Xt, args.infer_batch, args.precision), args)


def selected_spec(run: Path, n_fields: int):
    """The re-train architecture a pipeline run selected (its run.json ``model.spec``: kept columns, functions, EDS
    sizes, MLP) for ``--aim-spec``: the benchmark then times the model a user gets on these rows."""
    from aim.errors import RunFormatError
    from aim.model.nets import AIMSpec
    from aim.runs import load_run

    try:
        model = load_run(run, lazy=True).meta.get("model") or {}
    except RunFormatError as exc:
        raise SystemExit(f"--aim-spec: {exc}") from exc
    fields = len(model.get("spec", {}).get("vocab_sizes", []))
    if model.get("kind") != "aim" or fields != n_fields:
        raise SystemExit(f"--aim-spec {run}: expected an AIM model over {n_fields} fields, got "
                         f"{model.get('kind')} over {fields}")
    return AIMSpec.from_json(model["spec"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--impl", required=True, choices=[*PEERS, "deepctr-fit", "ours"])
    ap.add_argument("--model", required=True, choices=["fm", "deepfm", "ipnn", "aim-search", "aim-retrain"])
    ap.add_argument("--data", required=True, type=Path)
    ap.add_argument("--batch", type=int, default=2000)
    ap.add_argument("--infer-batch", type=int, default=10_000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--embedding-optimizer", default="adam", help="ours only: adam or lazy_adam")
    ap.add_argument("--precision", default="fp32", help="ours only: train.precision, fp32 or bf16")
    ap.add_argument("--infer-passes", type=int, default=3, help="timed inference passes (median reported)")
    ap.add_argument("--skip-train", action="store_true",
                    help="time inference only, on the untrained model (its AUC means nothing)")
    ap.add_argument("--aim-spec", type=Path, default=None,
                    help="aim-retrain: the architecture of this run folder (what the pipeline selected on these "
                         "rows) instead of the synthetic bench_train.retrain_spec")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    with np.load(args.data) as z:
        X, y, vocab = z["X"], z["y"], z["vocab"].tolist()
    args.selected = selected_spec(args.aim_spec, len(vocab)) if args.aim_spec and args.model == "aim-retrain" else None
    if args.selected:
        # the run's vocabularies come from its own encoding of these rows (rare ids may share one slot)
        X = X % np.asarray(args.selected.vocab_sizes, dtype=X.dtype)
    n_train = int(0.9 * len(y))
    parts = (vocab, X[:n_train], y[:n_train], X[n_train:])
    if args.impl == "ours":
        net, train_s, p, infer_s = run_ours(args.model, *parts, args)
    elif args.impl == "deepctr-fit":
        net, train_s, p, infer_s = run_deepctr_fit(args.model, *parts, args)
    else:
        net, train_s, p, infer_s = run_peer(args.impl, args.model, *parts, args)
    y_test = y[n_train:]
    print(json.dumps({
        "impl": args.impl, "model": args.model, "embedding_optimizer": args.embedding_optimizer,
        "precision": args.precision if args.impl == "ours" else "fp32",
        "train_rows": n_train, "test_rows": len(y_test), "params": sum(q.numel() for q in net.parameters()),
        "train_s": train_s, "train_sps": n_train / train_s if not args.skip_train else float("nan"),
        "infer_sps": len(y_test) / infer_s, "infer_passes": args.infer_passes,
        "auc": float(roc_auc_score(y_test, p)),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "threads": torch.get_num_threads(), "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
