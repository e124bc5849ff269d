"""One benchmark run: build one implementation's model, train it one full epoch, infer the test rows, print JSON.

Run by ``bench/peers/run.py`` inside ``bench/peers/.venv`` (one process per run, so peak RSS is the run's own):

    python bench/peers/worker.py --impl torchfm --model deepfm --data bench/out/peers/avazu_like_1000000_0.npz

Every implementation sees the same rows in the same order (the data are i.i.d., generated pre-shuffled), batch
2000, d 16, MLP 400-400-400 with batch norm and dropout 0.2 where the model has one (``SIZES`` for the CIN,
attention and cross layers of the new networks), Adam lr 1e-3, no L2. Peers
are trained by one minimal loop (slices of a tensor already in their input format, ``torch.optim.Adam`` as each
library constructs it by default, BCE on their sigmoid output), so their own ``fit`` / DataLoader overheads are
not counted: a lower bound on their cost. Ours is trained by ``aim.train.fit``, the loop every run uses.
Inference: ``torch.no_grad`` + eval mode for the peers (what their ``predict`` does), ``aim.train.predict``
(``inference_mode``) for ours, both in batches of ``--infer-batch``: one warm-up pass over the test rows, then the
median of ``--infer-passes`` timed passes. ``--skip-train`` times inference alone (untrained weights).

Models: fm, deepfm, ipnn, fwfm, xdeepfm, autoint, dcnv2 (each peer has a subset: ``FUXICTR_MODELS``,
``DEEPCTR_MODELS``, ``TORCHFM_MODELS``; none has AutoFIS), aim-search and aim-retrain (ours only). Ours builds
the new networks from ``aim.model.{fwfm,xdeepfm,autoint,dcnv2}`` (``our_new_model``).
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

from aim import variants  # noqa: E402

D, MLP, DROPOUT, LR = 16, [400, 400, 400], 0.2, 1e-3
# The new networks' sizes: their variants' (aim/variants.py network_args: each paper's defaults; fwfm has no MLP),
# given to every peer that has the model where its API allows (each builder's docstring says where it cannot).
_ARGS = {name: variants.get(name).network_args for name in ("xdeepfm", "autoint", "dcnv2")}
SIZES = {"cin": tuple(_ARGS["xdeepfm"]["cin"]), "split_half": _ARGS["xdeepfm"]["split_half"],
         "attention_layers": _ARGS["autoint"]["layers"], "heads": _ARGS["autoint"]["heads"],
         "attention_dim": _ARGS["autoint"]["attention_dim"], "residual": _ARGS["autoint"]["residual"],
         "cross_layers": _ARGS["dcnv2"]["cross_layers"]}
NEW_MODELS = ("fwfm", "xdeepfm", "autoint", "dcnv2")
# Which implementation has which model. AutoFIS: none of the peers (FuxiCTR's model zoo, DeepCTR-Torch 0.3.0 and
# torchfm 0.7.0 have no AutoFIS), so there is no autofis entry. FwFM: FuxiCTR only. DCN-V2: FuxiCTR (stacked, as
# ours) and DeepCTR-Torch (DCN with a matrix cross network: parallel only); torchfm's DCN is the rank-1 DCN-V1.
FUXICTR_MODELS = ("deepfm", "fm", "ipnn", *NEW_MODELS)
DEEPCTR_MODELS = ("deepfm", "fm", "ipnn", "xdeepfm", "autoint", "dcnv2")
TORCHFM_MODELS = ("deepfm", "fm", "ipnn", "xdeepfm", "autoint")


# ---- peers: each returns (model, to_input) where to_input maps an int32 (N, F) array to the model's input ------


def fuxictr_net(model: str, vocab: list[int], dim: int = D, mlp: list[int] = MLP, dropout: float = DROPOUT) -> nn.Module:
    """FuxiCTR 2.3.10's model as its model zoo builds it, returning logits (B, 1) from a dict of id columns
    ``f0..f{F-1}`` (``fuxictr_input``).

    The pip package ships the layers but not the model zoo (its ``model_zoo`` folder holds only LongCTR and
    multitask models), so each ``forward`` here is the zoo's (``model_zoo/<Model>/src/<Model>.py`` of
    reczoo/FuxiCTR) over the package's own layers, and the zoo's ``BaseModel.reset_parameters`` init follows
    (Xavier-normal ``nn.Linear`` / ``nn.Conv1d`` weights, zero biases, embeddings N(0, 1e-4)). Sizes are ours:
    d ``dim``, MLP ``mlp`` with batch norm and ``dropout`` where the model has one, ``SIZES`` for the rest.

    - deepfm: FeatureEmbedding, FactorizationMachine (LR with bias + FM), MLP_Block (DeepFM).
    - fm: FeatureEmbedding, FactorizationMachine.
    - ipnn: FeatureEmbedding, InnerProductInteraction(inner_product), MLP_Block (PNN, inner).
    - fwfm: ``linear_type="LW"`` (ours; the zoo's default is FiLV): one weight per id (FeatureEmbedding of
      size 1) summed, plus ``Linear(P, 1)`` over the P pair inner products (one r per field pair, and the bias).
    - xdeepfm: LogisticRegression (no bias) + CompressedInteractionNet + MLP_Block. FuxiCTR's CIN has no
      split-half option and no activation: every CIN layer's maps feed the next and the output (ours and
      DeepCTR's split half of each but the last layer).
    - autoint: AutoInt+ (``use_wide=False``): the zoo's MultiHeadSelfAttention (mirrored below, not in the
      package; over its ScaledDotProductAttention), ``use_scale=False``, no layer norm, residual, ``Linear`` over
      the flattened attention output, plus the parallel MLP_Block. Its ``attention_dim`` is the layer width
      (heads x ours per head: 64). The zoo's single ``net_dropout`` is also the attention dropout, so ``dropout``
      applies to the attention weights too, and its W_res exists only where the widths differ (layer 1).
    - dcnv2: ``model_structure="stacked"``, no low-rank mixture: CrossNetV2 on the flattened embeddings, then
      the MLP_Block's hidden layers, then ``Linear(mlp[-1], 1)``.
    """
    from fuxictr.features import FeatureMap
    from fuxictr.pytorch.layers import (
        CompressedInteractionNet,
        CrossNetV2,
        FactorizationMachine,
        FeatureEmbedding,
        InnerProductInteraction,
        LogisticRegression,
        MLP_Block,
        ScaledDotProductAttention,
    )

    fmap = FeatureMap("bench", "")
    fmap.features = {f"f{i}": {"type": "categorical", "vocab_size": v, "source": ""} for i, v in enumerate(vocab)}
    fmap.num_fields = len(vocab)
    F, mlp = len(vocab), list(mlp)

    def mlp_block(in_dim: int, output_dim: int | None = 1) -> nn.Module:
        return MLP_Block(in_dim, output_dim=output_dim, hidden_units=mlp, hidden_activations="ReLU",
                         dropout_rates=dropout, batch_norm=True)

    class MultiHeadSelfAttention(nn.Module):
        """model_zoo/AutoInt/src/AutoInt.py's layer (FuxiCTR 2.3.x), which the package does not ship."""

        def __init__(self, input_dim, attention_dim, num_heads, dropout_rate, use_residual=True, use_scale=False):
            super().__init__()
            self.head_dim, self.num_heads, self.use_residual = attention_dim // num_heads, num_heads, use_residual
            self.scale = self.head_dim ** 0.5 if use_scale else None
            self.W_q = nn.Linear(input_dim, attention_dim, bias=False)
            self.W_k = nn.Linear(input_dim, attention_dim, bias=False)
            self.W_v = nn.Linear(input_dim, attention_dim, bias=False)
            self.W_res = nn.Linear(input_dim, attention_dim, bias=False) \
                if use_residual and input_dim != attention_dim else None
            self.dot_attention = ScaledDotProductAttention(dropout_rate)

        def forward(self, X):
            residual, b = X, X.size(0)
            q, k, v = (w(X).view(b, -1, self.num_heads, self.head_dim).transpose(1, 2)
                       for w in (self.W_q, self.W_k, self.W_v))
            output, _ = self.dot_attention(q, k, v, scale=self.scale)
            output = output.transpose(1, 2).contiguous().view(b, -1, self.num_heads * self.head_dim)
            if self.W_res is not None:
                residual = self.W_res(residual)
            if self.use_residual:
                output = output + residual
            return output.relu()

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = FeatureEmbedding(fmap, dim)  # the d-dimensional table (embedding L2 applies here)
            if model in ("fm", "deepfm"):
                self.fm = FactorizationMachine(fmap)
            if model == "ipnn":
                self.product = InnerProductInteraction(F, output="inner_product")
            if model in ("deepfm", "ipnn", "xdeepfm", "autoint"):
                self.mlp = mlp_block(F * dim + (F * (F - 1) // 2 if model == "ipnn" else 0))
            if model == "fwfm":
                self.inner_product_layer = InnerProductInteraction(F, output="inner_product")
                self.interaction_weight = nn.Linear(F * (F - 1) // 2, 1)
                self.linear_weight_layer = FeatureEmbedding(fmap, 1, use_pretrain=False)
            if model == "xdeepfm":
                self.lr_layer = LogisticRegression(fmap, use_bias=False)
                self.cin = CompressedInteractionNet(F, list(SIZES["cin"]), output_dim=1)
            if model == "autoint":
                att = SIZES["heads"] * SIZES["attention_dim"]  # FuxiCTR's attention_dim is the layer width
                self.self_attention = nn.Sequential(*[
                    MultiHeadSelfAttention(dim if i == 0 else att, att, SIZES["heads"], dropout,
                                           use_residual=SIZES["residual"])
                    for i in range(SIZES["attention_layers"])])
                self.fc = nn.Linear(F * att, 1)
            if model == "dcnv2":
                self.crossnet = CrossNetV2(F * dim, SIZES["cross_layers"])
                self.stacked_dnn = mlp_block(F * dim, output_dim=None)
                self.fc = nn.Linear(mlp[-1], 1)
            reset_parameters(self)

        def forward(self, X):
            e = self.embedding(X)  # (B, F, d)
            if model == "ipnn":
                return self.mlp(torch.cat([e.flatten(1), self.product(e)], dim=1))
            if model == "fwfm":
                return self.interaction_weight(self.inner_product_layer(e)) + self.linear_weight_layer(X).sum(1)
            if model == "xdeepfm":
                return self.lr_layer(X) + self.cin(e) + self.mlp(e.flatten(1))
            if model == "autoint":
                return self.fc(self.self_attention(e).flatten(1)) + self.mlp(e.flatten(1))
            if model == "dcnv2":
                return self.fc(self.stacked_dnn(self.crossnet(e.flatten(1))))
            logit = self.fm(X, e)
            if model == "deepfm":
                logit = logit + self.mlp(e.flatten(1))
            return logit

    def reset_parameters(net: nn.Module) -> None:
        """FuxiCTR's ``BaseModel.reset_parameters``."""
        def default(m):
            if type(m) in (nn.Linear, nn.Conv1d):
                nn.init.xavier_normal_(m.weight)
                if m.bias is not None:
                    m.bias.data.fill_(0)

        net.apply(default)
        net.apply(lambda m: m.init_weights() if hasattr(m, "init_weights") else None)

    if model not in FUXICTR_MODELS:
        raise SystemExit(f"fuxictr: no model {model!r} (has {', '.join(FUXICTR_MODELS)})")
    return Net()


def fuxictr_input(X: np.ndarray | torch.Tensor) -> dict[str, torch.Tensor]:
    """FuxiCTR's input: one int64 id column per field, by name."""
    t = torch.as_tensor(X).long()
    return {f"f{i}": t[:, i] for i in range(t.shape[1])}


def fuxictr(model: str, vocab: list[int]):
    """FuxiCTR 2.3.10: ``fuxictr_net`` (the model zoo's model over the package's layers) with its sigmoid output."""
    net = fuxictr_net(model, vocab)
    return nn.Sequential(net, nn.Sigmoid()), fuxictr_input


def deepctr(model: str, vocab: list[int]):
    """DeepCTR-Torch 0.3.0: DeepFM, DeepFM without DNN (= FM: linear + FM term), PNN(use_inner=True), xDeepFM,
    AutoInt, DCN(cross_parameterization="matrix") = DCN-M / DCN-V2. No FwFM in this version.

    - xdeepfm: linear + CIN (``cin_split_half=True``, its default ReLU on the feature maps) + DNN with batch norm.
    - autoint: no linear part (``linear_feature_columns=[]``: AutoInt+ as ours); its InteractingLayer keeps the
      embedding size, so the attention is d = 16 wide (8 per head), not 64 (2 x 32): 0.3.0 has no size option;
      residual, no scaling, no attention dropout; DNN and attention outputs concatenated into one linear.
    - dcnv2: parallel only (cross network and DNN side by side, concatenated into one linear; 0.3.0 has no
      stacked structure), no linear part (``linear_feature_columns=[]``, as ours).
    """
    from deepctr_torch.inputs import SparseFeat
    from deepctr_torch.models import DCN, PNN, AutoInt, DeepFM, xDeepFM

    cols = [SparseFeat(f"f{i}", vocabulary_size=v, embedding_dim=D) for i, v in enumerate(vocab)]
    if model not in DEEPCTR_MODELS:
        raise SystemExit(f"deepctr: no model {model!r} (has {', '.join(DEEPCTR_MODELS)})")
    if model == "ipnn":  # PNN takes no batch-norm option
        net = PNN(cols, dnn_hidden_units=MLP, l2_reg_embedding=0, dnn_dropout=DROPOUT, use_inner=True)
    elif model == "xdeepfm":
        net = xDeepFM(cols, cols, dnn_hidden_units=MLP, cin_layer_size=SIZES["cin"],
                      cin_split_half=SIZES["split_half"], l2_reg_linear=0, l2_reg_embedding=0, dnn_dropout=DROPOUT,
                      dnn_use_bn=True)
    elif model == "autoint":
        net = AutoInt([], cols, att_layer_num=SIZES["attention_layers"], att_head_num=SIZES["heads"],
                      att_res=SIZES["residual"], dnn_hidden_units=MLP, l2_reg_embedding=0, dnn_use_bn=True,
                      dnn_dropout=DROPOUT)
    elif model == "dcnv2":
        net = DCN([], cols, cross_num=SIZES["cross_layers"], cross_parameterization="matrix", dnn_hidden_units=MLP,
                  l2_reg_linear=0, l2_reg_embedding=0, l2_reg_cross=0, dnn_dropout=DROPOUT, dnn_use_bn=True)
    else:
        net = DeepFM(cols, cols, dnn_hidden_units=MLP if model == "deepfm" else (), l2_reg_linear=0,
                     l2_reg_embedding=0, dnn_dropout=DROPOUT, dnn_use_bn=True)
    return net, lambda X: torch.from_numpy(X.astype(np.float32))  # its models slice float columns


def torchfm(model: str, vocab: list[int]):
    """torchfm 0.7.0: DeepFactorizationMachineModel, FactorizationMachineModel, ProductNeuralNetworkModel(inner),
    ExtremeDeepFactorizationMachineModel (xDeepFM: linear + CIN with split half + MLP) and
    AutomaticFeatureInteractionModel (AutoInt: it always has a linear part, projects the embeddings to the
    attention width (its ``atten_embed_dim``: heads x per-head size) once, uses ``torch.nn.MultiheadAttention``
    layers and one residual after the last; attention dropout = MLP dropout, as FuxiCTR's). No FwFM; its DCN is
    the rank-1 DCN-V1, not DCN-V2."""
    from torchfm.model.afi import AutomaticFeatureInteractionModel
    from torchfm.model.dfm import DeepFactorizationMachineModel
    from torchfm.model.fm import FactorizationMachineModel
    from torchfm.model.pnn import ProductNeuralNetworkModel
    from torchfm.model.xdfm import ExtremeDeepFactorizationMachineModel

    if model not in TORCHFM_MODELS:
        raise SystemExit(f"torchfm: no model {model!r} (has {', '.join(TORCHFM_MODELS)})")
    dims = np.array(vocab)
    net = {"deepfm": lambda: DeepFactorizationMachineModel(dims, D, MLP, DROPOUT),
           "fm": lambda: FactorizationMachineModel(dims, D),
           "ipnn": lambda: ProductNeuralNetworkModel(dims, D, MLP, DROPOUT, method="inner"),
           "xdeepfm": lambda: ExtremeDeepFactorizationMachineModel(dims, D, MLP, DROPOUT, list(SIZES["cin"]),
                                                                   split_half=SIZES["split_half"]),
           "autoint": lambda: AutomaticFeatureInteractionModel(
               dims, D, SIZES["heads"] * SIZES["attention_dim"], SIZES["heads"], SIZES["attention_layers"], MLP,
               (DROPOUT, DROPOUT), has_residual=SIZES["residual"])}[model]()
    return net, lambda X: torch.from_numpy(X.astype(np.int64))


def our_new_model(model: str, vocab: list[int], init_std: float, dim: int = D, mlp=MLP, dropout: float = DROPOUT):
    """Ours: the variant's network from ``aim.model.zoo`` with its sizes (``network_args``), as a run builds it."""
    from aim.model import zoo

    v = variants.get(model)
    deep = {"mlp": list(mlp), "dropout": dropout} if v.deep else {}
    return zoo.build(model, {"vocab_sizes": list(vocab), "dim": dim, "init_std": init_std, **deep, **v.network_args})


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

    from aim.config import ModelConfig, SearchConfig, TrainConfig
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
    elif model in NEW_MODELS:  # built by aim.model.zoo from the variant's entry
        net = our_new_model(model, vocab, m.init_std)
    else:
        net = FM(vocab, D, m.init_std, mlp=MLP if model == "deepfm" else (), dropout=DROPOUT)
    train = Tensors(torch.from_numpy(X_train), torch.from_numpy(y_train))
    tiny = Tensors(train.X[:4000], train.y[:4000])  # fit validates after the epoch; not part of the timing
    train_s = 0.0
    if not args.skip_train:
        config = TrainConfig(epochs=1, batch_size=args.batch, lr=LR, eval_batch_size=args.infer_batch,
                             embedding_optimizer=args.embedding_optimizer, precision=args.precision)
        result = fit(net, train, tiny, config, stage="bench", generator=torch.Generator().manual_seed(args.seed),
                     gates=gates)
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
    ap.add_argument("--model", required=True, choices=["fm", "deepfm", "ipnn", *NEW_MODELS, "aim-search",
                                                       "aim-retrain"])
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
