"""Frozen, typed configs: the only source of defaults. Each field's ``help`` is its CLI help.

A run stores ``RunConfig.to_json()`` and is rebuilt with ``RunConfig.from_json``; every value is validated in
``__post_init__`` so a bad value is refused before any work starts, with the valid choices listed. A list field
(``search.grda_cross``, ``model.mlp``, ...) is a tuple, given as a tuple or as the comma text the command line and
``run.json`` hold ("0.1,0.2"), parsed once, there. Field metadata drives the command line (``aim/cli.py``):
``help``, ``choices`` (also checked here), and for a top-level field ``flags`` and ``metavar`` where its option is
not ``--field-name``.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field, fields
from typing import Any

from aim import columns, variants
from aim.config_fields import (
    Config,
    as_fractions,
    as_grid,
    as_integers,
    as_names,
    check,
    check_fields,
    is_list,
    option,
)
from aim.errors import ConfigError
from aim.model.names import FUNCTIONS, HEADS  # re-exported: the choices of model.head and search.functions

VARIANTS = variants.NAMES
RETRAIN = variants.RETRAIN  # the AIM re-train of a hand-picked selection (--columns), no search
RETRAIN_DIMS = ("parent", "full")
EMBEDDINGS = ("fwe", "se")
EMBEDDING_OPTIMIZERS = ("adam", "lazy_adam")
PRECISIONS = ("fp32", "bf16")
EDS_UNUSED = ("drop", "keep", "auto")
RETRAIN_STARTS = ("choose", "scratch", "search")
DNN_INITS = ("default", "xavier")  # model.dnn_init (aim.model.nets.reinit_dnn)
STORAGES = ("memory", "mmap")
REFERENCES = ("shap", "fast", "none")  # search.reference: the independent pair ranking of aim/reference.py, or none


@dataclass(frozen=True)
class DataConfig(Config):
    """How raw data becomes encoded ids (aim_reference.md §8)."""

    min_count: int = option("values seen fewer times than this in the data map to the OOV id 0", default=2)
    split_seed: int = option("seed of the stratified train/valid/test split (kept apart from the model seed)", default=0)
    valid_frac: float = option("fraction of rows for validation when a format has no given split", default=0.1)
    test_frac: float = option("fraction of rows for test when a format has no given split", default=0.1)
    max_rows: int = option("read at most this many data rows (0 = all)", default=0)
    label: str = option("generic CSV: name of the 0/1 label column", default="label")
    categorical: tuple[str, ...] = option("generic CSV: comma-separated categorical columns (empty = all but "
                                         "label/numeric)", default=(), parse=as_names)
    numeric: tuple[str, ...] = option("generic CSV: comma-separated numeric columns, bucketised like Criteo", default=(),
                                     parse=as_names)
    storage: str = option("memory: encode and train in RAM; mmap: encode in streaming passes into memory-mapped "
                         ".npy files (data larger than memory; its own stratified split draw) and train on "
                         "block-wise shuffled batches read from them", default="memory", choices=STORAGES)
    shuffle_block: int = option("storage=mmap: rows per block of the block-wise shuffle (blocks in random order, "
                               "rows shuffled within a block)", default=65_536)

    def __post_init__(self) -> None:
        check_fields(self)
        check(self.shuffle_block >= 1, f"shuffle_block must be >= 1, got {self.shuffle_block}")
        check(self.min_count >= 1, f"min_count must be >= 1, got {self.min_count}")
        check(0 < self.valid_frac < 0.5, f"valid_frac must be in (0, 0.5), got {self.valid_frac}")
        check(0 < self.test_frac < 0.5, f"test_frac must be in (0, 0.5), got {self.test_frac}")
        check(self.max_rows >= 0, f"max_rows must be >= 0, got {self.max_rows}")


@dataclass(frozen=True)
class SyntheticConfig(Config):
    """The built-in generator with planted ground truth (aim/data/synthetic.py)."""

    rows: int = option("number of rows generated", default=60_000)
    fields: int = option("number of fields", default=10)
    vocab: int = option("vocabulary size of each field (Zipf-distributed ids)", default=50)
    noise_fields: int = option("fields that carry no signal at all", default=3)
    planted_pairs: int = option("planted 2nd-order interactions (kinds cycle inner, kernel, xor)", default=3)
    planted_triples: int = option("planted 3rd-order interactions", default=0)
    positive_rate: float = option("target positive rate", default=0.25)
    signal: float = option("scale of the planted logit terms", default=1.5)
    data_seed: int = option("seed of the generator", default=7)

    def __post_init__(self) -> None:
        check_fields(self)
        check(self.rows >= 100, f"rows must be >= 100, got {self.rows}")
        check(self.fields >= 3, f"fields must be >= 3, got {self.fields}")
        check(self.vocab >= 2, f"vocab must be >= 2, got {self.vocab}")
        check(0 <= self.noise_fields <= self.fields - 2, f"noise_fields must be in [0, fields-2], got {self.noise_fields}")
        check(self.planted_pairs >= 0, f"planted_pairs must be >= 0, got {self.planted_pairs}")
        check(self.planted_triples >= 0, f"planted_triples must be >= 0, got {self.planted_triples}")
        informative = self.fields - self.noise_fields
        check(self.planted_pairs <= informative - 1,
               f"planted_pairs={self.planted_pairs} cannot be planted among {informative} informative fields "
               f"(fields - noise_fields); use at most {informative - 1}")
        check(self.planted_triples == 0 or informative >= 3,
               f"planted_triples needs at least 3 informative fields, got {informative}")
        check(0.01 <= self.positive_rate <= 0.99, f"positive_rate must be in [0.01, 0.99], got {self.positive_rate}")


@dataclass(frozen=True)
class ModelConfig(Config):
    """Model shape shared by all variants."""

    embed_dim: int = option("embedding size d (the largest size EDS can keep)", default=16)
    embedding: str = option("AIM embeddings: fwe = one table per interaction function, se = one shared table", default="fwe",
                         choices=EMBEDDINGS)
    mlp: tuple[int, ...] = option("hidden sizes of the MLP (DeepFM, IPNN, AIM re-train)", default=(400, 400, 400),
                                 parse=as_integers, as_text=False)  # stored as a JSON list, as it always was
    dropout: float = option("MLP dropout", default=0.2)
    init_std: float = option("std of the normal init of embedding tables (BN/threshold interplay, aim_reference §2)", default=1e-2)
    dnn_init: str = option("init of the DNN's linear layers (the MLP of DeepFM, IPNN, the comparison networks and "
                           "AIM's re-train): default = PyTorch's, uniform within ±1/√fan_in; xavier = xavier-normal "
                           "weights and zero biases, as FuxiCTR", choices=DNN_INITS, default="default")
    network_args: str = option("a comparison network's own arguments over its paper's defaults, as a JSON object, "
                               "e.g. '{\"attention_dropout\": 0.2}' for autoint (variants with arguments: "
                               f"{', '.join(n for n in variants.NAMES if variants.get(n).network_args)}; "
                               "aim/variants.py network_args lists each one's keys)", default="", metavar="JSON")
    bn_eps: float = option("eps of the gate batch norms of orders 2-3 (order 4 uses 1e-10)", default=1e-3)
    bn_momentum: float = option("momentum of the gate batch norms (PyTorch convention)", default=0.01)
    alpha_init: float = option("centre of the Uniform(init-0.001, init+0.001) init of the gates α and β", default=0.6)
    head: str = option("what the AIM re-train MLP reads: embeddings = the raw (EDS-pruned) embeddings of every "
                      "function-wise table (F·T·d inputs); summed = each field's embedding summed over its tables "
                      "(F·d inputs, as DeepFM's); "
                      "products = the kept columns' element-wise products (e_i ⊙ e_j, ⊙ K, · s, the outer scalars) "
                      "as the published code, with a learnable scale on each part of the logit", default="embeddings",
                      choices=HEADS)

    def __post_init__(self) -> None:
        check_fields(self)
        check(self.embed_dim >= 1, f"embed_dim must be >= 1, got {self.embed_dim}")
        check(all(h >= 1 for h in self.mlp), f"mlp sizes must be >= 1, got {self.mlp}")
        check(0.0 <= self.dropout < 1.0, f"dropout must be in [0, 1), got {self.dropout}")
        check(self.init_std > 0, f"init_std must be > 0, got {self.init_std}")
        check(self.bn_eps > 0, f"bn_eps must be > 0, got {self.bn_eps}")
        check(0 < self.bn_momentum <= 1, f"bn_momentum must be in (0, 1], got {self.bn_momentum}")


@dataclass(frozen=True)
class SearchConfig(Config):
    """GRDA on the gates: stage A (α, interaction-IF pairs) and stage B (β, embedding dimensions)."""

    search_epochs: int = option("epochs of stage A (search interaction-IF)", default=6)
    embed_epochs: int = option("epochs of stage B (search embed)", default=4)
    grda_c: float = option("GRDA c of stage A, the threshold scale (the threshold grows as c γ^½ (tγ)^μ); -1 = "
                          "derived from grda_cross, a value >= 0 overrides it", default=-1.0)
    grda_cross: tuple[float, ...] = option("stage A strength: when the GRDA threshold reaches the gates' initial value, as a "
                            "fraction of the stage's steps (smaller = sparser; c follows from it, the steps, μ and "
                            "γ). Several (comma list): each trains from the same start and the sparsest within "
                            "sparsity_se standard errors of the best validation AUC is kept", default=(0.1, 0.2, 0.4, 0.8),
                                          parse=as_fractions)
    grda_mu: float = option("GRDA μ of stage A (threshold growth exponent)", default=0.9)
    grda_lr: float = option("GRDA learning rate γ of stage A", default=0.1)
    high_order_grda_c: float = option("GRDA c of the order-3 and order-4 searches; -1 = derived from "
                                     "high_order_grda_cross", default=-1.0)
    high_order_grda_cross: tuple[float, ...] = option("strength of the order-3 and order-4 searches as crossing fraction(s), "
                                       "like grda_cross (their columns carry the residual signal the kept pairs "
                                       "leave, far weaker than a pair's)", default=(0.2, 0.4, 0.8),
                                                     parse=as_fractions)
    embed_grda_c: float = option("GRDA c of stage B; -1 = derived from embed_grda_cross", default=-1.0)
    embed_grda_cross: tuple[float, ...] = option("stage B (EDS) strength as crossing fraction(s), like grda_cross",
                                                default=(0.25, 0.5, 1.0, 2.0), parse=as_fractions)
    embed_grda_mu: float = option("GRDA μ of stage B", default=0.55)
    embed_grda_lr: float = option("GRDA learning rate γ of stage B", default=1.0)
    grda_lr_decay: float = option("GRDA learning rate factor applied after each search epoch", default=1.0)
    sparsity_se: float = option("parsimony rule of the strength candidates: keep the sparsest whose validation AUC is "
                               "within this many standard errors (Hanley-McNeil) of the best candidate's (1 = the "
                               "one-standard-error rule; 0 = the most accurate)", default=1.0)
    refine: int = option("when the candidate next sparser than the kept one missed the parsimony tolerance, try this "
                        "many crossing fractions between the two (one more round; 0 = off)", default=2)
    candidate_jobs: int = option("parallel processes for the strength candidates (0 = one per torch thread of "
                                "this run)", default=0)
    top_k: int = option("high-order pools combine the top-k interactions of the order below (0 = ⌊n/2⌋)", default=0)
    embed_warm_start: bool = option("stage B starts from stage A's trained tables, first-order weights and kept "
                                   "columns' kernels (the published code starts it fresh)", default=True)
    retrain_start: str = option("what the re-train starts from: scratch = a fresh init (the published code); "
                               "search = the search model (its tables at the kept positions, first-order weights, "
                               "kept columns' kernels, α and BN statistics, a zero MLP output); choose = both, "
                               "each with every embedding L2, the better on validation", default="choose",
                          choices=RETRAIN_STARTS)
    embed_mlp: bool = option("stage B (EDS) also trains the re-train's MLP (model.mlp, head, dropout; its output "
                            "layer starts at zero), so that β of every field gets gradient from what the final "
                            "model reads, not only from the kept columns; fields no kept column reads are then "
                            "pruned by their own β (eds_unused auto); off by default: over 5 seeds it gained on "
                            "synthetic data with noise fields, lost on Frappe (docs/results.md)", default=False)
    eds_floor: int = option("EDS keeps at least this many dimensions of a field that a kept column reads (the "
                           "ones of largest GRDA dual |v|); 0 = as the paper, a field can lose every dimension "
                           "and with it every interaction", default=1)
    eds_unused: str = option("EDS and a field that no kept column reads (its β gets no gradient): drop = GRDA's "
                            "threshold removes it, as in the paper and the published code; keep = it keeps all "
                            "dimensions; auto = keep when the re-train MLP reads raw embeddings (model.head "
                            "embeddings or summed) and stage B did not train it (embed_mlp off), else drop",
                            default="auto", choices=EDS_UNUSED)
    functions: tuple[str, ...] = option("interaction functions searched (comma list of inner,vkernel,skernel,outer)",
                                       default=FUNCTIONS, parse=as_names, choices=FUNCTIONS)
    # Not in ABSENT_MEANS: a stored config without it reads as today's default, since it changes no result; so a
    # study or a resume still matches runs from before it (they lack ref_score: tools/add_reference.py adds it).
    reference: str = option("independent ranking of the field pairs written next to α (interactions.csv ref_score) "
                           "by the searching variants, fitted on at most 200,000 training rows with its own random "
                           "generators (aim/reference.py; changes no other result): shap = mean |SHAP interaction "
                           "value| of a LightGBM model; fast = InterpretML's FAST on the residuals of a main-effects "
                           "logistic regression (cheaper); none = off", default="shap", choices=REFERENCES)

    def __post_init__(self) -> None:
        check_fields(self)
        check(self.search_epochs >= 1, f"search_epochs must be >= 1, got {self.search_epochs}")
        check(self.embed_epochs >= 1, f"embed_epochs must be >= 1, got {self.embed_epochs}")
        for name in ("grda_c", "high_order_grda_c", "embed_grda_c"):
            value = getattr(self, name)
            check(value >= 0 or value == -1, f"{name} must be >= 0, or -1 to derive it from the crossing fraction "
                                              f"(c < 0 would grow gates), got {value}")
        check(self.sparsity_se >= 0, f"sparsity_se must be >= 0, got {self.sparsity_se}")
        check(self.refine >= 0, f"refine must be >= 0, got {self.refine}")
        check(self.candidate_jobs >= 0, f"candidate_jobs must be >= 0 (0 = automatic), got {self.candidate_jobs}")
        check(self.eds_floor >= 0, f"eds_floor must be >= 0, got {self.eds_floor}")
        for name in ("grda_mu", "embed_grda_mu"):
            check(0 < getattr(self, name) < 1, f"{name} must be in (0, 1), got {getattr(self, name)}")
        for name in ("grda_lr", "embed_grda_lr"):
            check(getattr(self, name) > 0, f"{name} must be > 0, got {getattr(self, name)}")
        check(self.top_k >= 0, f"top_k must be >= 0 (0 = half the number of fields), got {self.top_k}")
        check(0 < self.grda_lr_decay <= 1, f"grda_lr_decay must be in (0, 1], got {self.grda_lr_decay}")
        check(len(self.functions) >= 1, "functions must name at least one interaction function")


@dataclass(frozen=True)
class TrainConfig(Config):
    """Optimisation of every model weight (Adam) and the re-train stage."""

    epochs: int = option("maximum epochs of the re-train stage (and of the baselines)", default=20)
    batch_size: int = option("mini-batch size", default=256)
    lr: float = option("Adam learning rate", default=1e-3)
    patience: int = option("early stopping: epochs without validation AUC gain", default=2)
    embed_l2: float = option("L2 penalty on the embedding tables in the re-train stage and the baselines, applied "
                            "as Adam weight decay on them (0 = off); -1 = chosen on validation from embed_l2_grid",
                            default=-1.0)
    embed_l2_grid: tuple[float, ...] = option("embed_l2 candidates when embed_l2 is -1: each trains the final model "
                                             "from the same start, the best validation AUC wins",
                                             default=(0.0, 0.01, 0.05), parse=as_grid)
    plateau_factor: float = option("multiply the Adam learning rate by this after an epoch without validation AUC "
                                  "gain (reduce-on-plateau, as the anchor libraries; 1 = off)", default=0.1)
    eval_batch_size: int = option("batch size for evaluation", default=20_000)
    embedding_optimizer: str = option("optimiser of the embedding tables: adam (dense Adam, every row at every step, "
                                     "as the paper) or lazy_adam (sparse row gradients + SparseAdam: only the rows "
                                     "of the batch are updated; faster on big tables, not the same optimiser)",
                                     default="adam", choices=EMBEDDING_OPTIMIZERS)
    device: str = option("where models train: cpu, cuda (under torchrun: each process on cuda:LOCAL_RANK) or "
                        "cuda:N; embedding tables, gates and optimiser states all live there", default="cpu")
    precision: str = option("arithmetic of the forward passes: fp32, or bf16 (mixed precision: matrix products in "
                           "bfloat16 under torch.autocast, weights, optimiser states and the loss in fp32; several "
                           "times faster on CPUs with AVX512-BF16 or AMX and on recent GPUs, slower where bfloat16 "
                           "is emulated)", default="fp32", choices=PRECISIONS)

    def __post_init__(self) -> None:
        check_fields(self)
        check(re.fullmatch(r"cpu|cuda(:\d+)?", self.device) is not None,
               f"device={self.device!r} is not valid; choose cpu, cuda or cuda:N")
        check(self.epochs >= 1, f"epochs must be >= 1, got {self.epochs}")
        check(self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}")
        check(self.lr > 0, f"lr must be > 0, got {self.lr}")
        check(self.patience >= 0, f"patience must be >= 0, got {self.patience}")
        check(self.embed_l2 >= 0 or self.embed_l2 == -1,
               f"embed_l2 must be >= 0, or -1 to choose it on validation from embed_l2_grid, got {self.embed_l2}")
        check(0 < self.plateau_factor <= 1, f"plateau_factor must be in (0, 1], got {self.plateau_factor}")
        check(self.eval_batch_size >= 1, f"eval_batch_size must be >= 1, got {self.eval_batch_size}")


@dataclass(frozen=True)
class RunConfig(Config):
    """Everything that defines a run; saved as ``config`` in ``run.json``."""

    dataset: str = option("dataset name (python -m aim datasets lists them)", default="synthetic")
    data_path: str = option("dataset file or folder in its native layout (not needed for synthetic)", default="",
                           flags=("--data",), metavar="PATH")
    variant: str = option("model variant", default="aim", choices=VARIANTS)
    seed: int = option("seed of model init and batch order", default=0)
    max_order: int = option("highest interaction order searched (Algorithm 1 pools for orders 3 and 4)", default=2)
    transfer_from: str = option("deepfm-transfer / ipnn-transfer: AIM run folder whose kept interaction-IF pairs "
                               "replace all pairs; retrain: the parent run (recorded, and its embedding sizes "
                               "unless retrain_dims is full)", default="", flags=("--transfer-from", "--from"),
                               metavar="RUN_DIR")
    columns: str = option("retrain: the interaction-IF columns to re-train, e.g. user×item:outer,item×cost:inner "
                         "(fields joined by × or *), or a CSV file with function and field_names (or fields) "
                         "columns", default="", metavar="SPEC")
    retrain_dims: str = option("retrain: embedding sizes per field: parent = the parent run's EDS sizes (full when "
                              "there is no parent), full = embed_dim for every field", default="parent",
                              choices=RETRAIN_DIMS)
    note: str = option("free text shown with the run in the app (what it is for, a caveat)", default="")
    data: DataConfig = field(default_factory=DataConfig)
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        check_fields(self)
        check(isinstance(self.seed, int) and 0 <= self.seed < 2**32, f"seed must be in [0, 2**32), got {self.seed}")
        check(self.max_order in (2, 3, 4), f"max_order must be one of 2, 3, 4, got {self.max_order}")
        if variants.get(self.variant).transfer:
            check(bool(self.transfer_from), f"variant {self.variant} needs transfer_from (an AIM run folder)")
        elif self.variant != RETRAIN:
            check(not self.transfer_from, f"transfer_from is only used by the variants "
                                           f"{', '.join(variants.names(transfer=True))} and {RETRAIN}")
        variants.network_args(self.variant, self.model.network_args)  # its keys and types, or a ConfigError
        if self.variant == RETRAIN:
            check(bool(self.columns.strip()), f"variant {RETRAIN} needs columns (--columns FIELD×FIELD:FUNCTION,...)")
            if not columns.is_file_spec(self.columns):  # the syntax; fields are checked against the data
                columns.parse_text(self.columns)
        else:
            check(not self.columns, f"columns is only used by the variant {RETRAIN}")

    @classmethod
    def from_json(cls, d: dict) -> RunConfig:
        return _from_dict(cls, d)

    def replace(self, **changes: Any) -> RunConfig:
        return dataclasses.replace(self, **changes)


# What a key that a stored config lacks meant when that config was written, where it differs from (or may come to
# differ from) today's default: a run.json from before the key existed describes what its run did, not what the
# defaults do now. Keys not listed take the dataclass default.
ABSENT_MEANS: dict[tuple[str, str], Any] = {
    ("SearchConfig", "embed_mlp"): False,  # added 2026-12-04, off; stage B had no MLP before
}


def _from_dict(cls: type, d: dict) -> Any:
    if not isinstance(d, dict):
        raise ConfigError(f"{cls.__name__}: expected an object, got {type(d).__name__}")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(d) - set(known))
    if unknown:
        raise ConfigError(f"{cls.__name__}: unknown keys {unknown}; valid keys: {', '.join(known)}")
    d = {**{k: v for (c, k), v in ABSENT_MEANS.items() if c == cls.__name__ and k not in d}, **d}
    kwargs = {}
    for name, f in known.items():
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        if dataclasses.is_dataclass(default):  # a section, parsed also when missing (ABSENT_MEANS applies inside)
            kwargs[name] = _from_dict(type(default), d.get(name, {}))
            continue
        if name not in d:
            continue
        value = d[name]
        if is_list(f):  # comma text (as run.json holds most lists) or a JSON list; parsed by __post_init__
            if not isinstance(value, str | list | tuple):
                raise ConfigError(f"{cls.__name__}.{name}: expected a comma list (text or array), got {value!r}")
            kwargs[name] = value
        else:
            ok = isinstance(value, type(default)) or (isinstance(default, float) and isinstance(value, int))
            if not ok or isinstance(value, bool) != isinstance(default, bool):
                raise ConfigError(f"{cls.__name__}.{name}: expected {type(default).__name__}, got {value!r}")
            kwargs[name] = type(default)(value)
    return cls(**kwargs)
