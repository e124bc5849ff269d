"""The variant registry: every model ``python -m aim run --variant`` can train, and what each one is.

Every dispatch on a variant (the pipeline's stages, the network a run rebuilds, the study's baselines and default
variants, the app's pages) reads a ``Variant`` from here instead of comparing names, so a new baseline is one entry
below plus its network in ``aim.model.zoo``. This module imports nothing of ``aim``: config and everything above
it may import it.

Families:
- ``network``: one network trained once on all pairs (FM, DeepFM, IPNN; the ``*-transfer`` forms train it on the
  interaction-function columns of an AIM run, paper §4.6), like AIM's re-train stage;
- ``search``: GRDA gates search the interactions (and, with ``eds``, the embedding dimensions), then the selected
  architecture is re-trained (paper §3.3-3.5);
- ``classic``: scikit-learn logistic regression and LightGBM trees on the same ids (``aim/classic.py``);
- ``selection``: the re-train of a hand-picked selection (``--columns``, variant ``retrain``), no search.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aim.errors import ConfigError


@dataclass(frozen=True)
class Variant:
    name: str
    family: str  # network | search | classic | selection
    label: str  # the name people know the model by, in tables and summaries
    network: str = ""  # network family: the key of aim.model.zoo.NETWORKS
    deep: bool = True  # network family: the network has an MLP (model.mlp, model.dropout)
    network_args: dict[str, Any] = field(default_factory=dict)  # its own sizes (its paper's defaults), in run.json
    functions: tuple[str, ...] | None = None  # search family: the functions searched (None: search.functions)
    eds: bool = False  # search family: stage B searches the embedding dimensions (paper §3.5)
    search_mlp: bool = False  # search family: the search model has the MLP (AutoFIS searches on DeepFM)
    retrain_start: str = ""  # search family: fixes search.retrain_start (AutoFIS re-trains from scratch)
    transfer: bool = False  # trains on the columns of an AIM run (--transfer-from)
    baseline: bool = False  # a study's best baseline is the best of these
    shared_embedding: bool = False  # has an ``-se`` study token (one shared embedding table, paper §4.5)
    interactions: str = ""  # how a model without gates uses interactions (the app's Interactions page)
    no_embeddings: str = ""  # classic family: what the Embeddings page shows instead of embedding sizes
    paper: bool = False  # a row of the AIM paper's comparison (Table 2) or ablation (Table 4)

    @property
    def searches(self) -> bool:
        return self.family == "search"

    @property
    def aim(self) -> bool:
        """AIM or one of its ablations (a search variant that is not a baseline of the paper's tables)."""
        return self.family == "search" and not self.baseline

    @property
    def classic(self) -> bool:
        return self.family == "classic"


_INNER = "uses every pair through the inner product with no gate"
_PICKED = "uses the interaction-function columns an AIM run kept, with no gate"
_ALL = (
    Variant("fm", "network", "FM", network="fm", deep=False, baseline=True, interactions=_INNER, paper=True),
    Variant("deepfm", "network", "DeepFM", network="fm", baseline=True, interactions=_INNER, paper=True),
    Variant("ipnn", "network", "IPNN", network="ipnn", baseline=True, interactions=_INNER, paper=True),
    Variant("fwfm", "network", "FwFM", network="fwfm", deep=False, baseline=True, paper=True,
            interactions="weights every pair's inner product by a learned scalar of its field pair, with no gate"),
    Variant("xdeepfm", "network", "xDeepFM", network="xdeepfm", baseline=True, paper=True,
            network_args={"cin": [200, 200, 200], "split_half": True},
            interactions="learns interactions of every order up to its CIN's depth from all fields, naming none"),
    Variant("autoint", "network", "AutoInt+", network="autoint", baseline=True, paper=True,
            network_args={"layers": 3, "heads": 2, "attention_dim": 32, "residual": True, "attention_dropout": 0.0,
                          "unprojected_residual": False},
            interactions="attends over every pair of fields in its self-attention layers, naming none"),
    Variant("dcnv2", "network", "DCN-V2", network="dcnv2", baseline=True,
            network_args={"cross_layers": 3, "structure": "stacked"},
            interactions="crosses every field with every other in its cross layers, naming none"),
    Variant("autofis", "search", "AutoFIS", functions=("inner",), search_mlp=True, retrain_start="scratch",
            baseline=True, paper=True),
    Variant("lr", "classic", "LR", baseline=True, interactions="has no interaction term",
            no_embeddings="one weight per id, shown as 1 dimension per field."),
    Variant("gbdt", "classic", "GBDT", baseline=True,
            interactions="learns interactions implicitly in its trees' splits, naming none",
            no_embeddings="boosted trees split on the ids themselves, shown as 0 dimensions."),
    Variant("aim-ifs-eds", "search", "AIM-IFS-EDS", functions=("inner",), shared_embedding=True, paper=True),
    Variant("aim-eds", "search", "AIM-EDS", shared_embedding=True, paper=True),
    Variant("aim", "search", "AIM", eds=True, shared_embedding=True, paper=True),
    Variant("deepfm-transfer", "network", "DeepFM (AIM's pairs)", network="fm", transfer=True, interactions=_PICKED),
    Variant("ipnn-transfer", "network", "IPNN (AIM's pairs)", network="ipnn", transfer=True, interactions=_PICKED),
    Variant("retrain", "selection", "AIM re-train"),
)
REGISTRY: dict[str, Variant] = {v.name: v for v in _ALL}
NAMES: tuple[str, ...] = tuple(REGISTRY)
RETRAIN = "retrain"
# A study's variants when --variants is not given: every baseline and the AIM ablations (lr, gbdt: seconds each).
STUDY_DEFAULT = ("fm", "deepfm", "ipnn", "aim-ifs-eds", "aim-eds", "aim", "lr", "gbdt")


def get(name: str) -> Variant:
    """The registered variant ``name``; an unknown name is a ``ValueError`` that lists the valid ones."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown variant {name!r}; choose one of: {', '.join(NAMES)}") from None


def of_token(token: object) -> Variant | None:
    """The variant of a run's or a study's variant name (``aim-se`` -> aim); None for a name this version does not
    know (a foreign or newer run)."""
    if not isinstance(token, str):
        return None
    return REGISTRY.get(token) or REGISTRY.get(token.removesuffix("-se"))


def names(**where: bool | str) -> tuple[str, ...]:
    """The names of the variants whose attributes equal ``where`` (``names(baseline=True)``), in registry order."""
    return tuple(v.name for v in _ALL if all(getattr(v, k) == want for k, want in where.items()))


def network_args(name: str, text: str = "") -> dict[str, Any]:
    """Variant ``name``'s network arguments: its registered ones (its paper's defaults) with ``text`` over them
    (``model.network_args``: a JSON object whose keys are some of the registered ones and whose values have their
    types). A key the network does not have, a value of another type or a variant without such arguments is a
    ``ConfigError`` that says what it takes."""
    v = get(name)
    args = dict(v.network_args)
    if not text.strip():
        return args
    if not args:
        raise ConfigError(f"network_args: variant {name} has no network arguments to set; "
                          f"the ones that have: {', '.join(n for n in NAMES if REGISTRY[n].network_args)}")
    try:
        given = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"network_args={text!r} is not a JSON object ({exc.msg}); e.g. "
                          f"'{json.dumps(dict([next(iter(args.items()))]))}'") from None
    if not isinstance(given, dict):
        raise ConfigError(f"network_args={text!r} must be a JSON object of {name}'s arguments: {_typed(args)}")
    for key, value in given.items():
        if key not in args:
            raise ConfigError(f"network_args: {name} has no argument {key!r}; it has {_typed(args)}")
        if not _same_kind(value, args[key]):
            raise ConfigError(f"network_args: {name}'s {key} takes a {_kind(args[key])}, got {json.dumps(value)}")
    return args | given


def _kind(default: Any) -> str:
    return {bool: "true/false", int: "whole number", float: "number", str: "string", list: "list of whole numbers"}[
        type(default)]


def _typed(args: dict[str, Any]) -> str:
    return ", ".join(f"{k} ({_kind(v)}, default {json.dumps(v)})" for k, v in args.items())


def _same_kind(value: Any, default: Any) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return type(value) is type(default)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    if isinstance(default, list):
        return isinstance(value, list) and all(isinstance(x, int) and not isinstance(x, bool) for x in value)
    return type(value) is type(default)
