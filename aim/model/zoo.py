"""The network registry: the networks a ``network``-family variant (``aim.variants``) trains, by name.

A run stores ``{"kind": variant, "args": {...}}`` in ``run.json``'s ``model``; ``build(kind, args)`` rebuilds the
network from it (the variant names its network, so ``deepfm`` and ``deepfm-transfer`` both build ``FM`` with an
MLP). The args are the network's constructor keywords: JSON values only.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from aim import variants
from aim.model.autoint import AutoInt
from aim.model.dcnv2 import DCNv2
from aim.model.fwfm import FwFM
from aim.model.nets import FM, IPNN
from aim.model.xdeepfm import XDeepFM

NETWORKS: dict[str, Callable[..., nn.Module]] = {"fm": FM, "ipnn": IPNN, "fwfm": FwFM, "xdeepfm": XDeepFM,
                                                 "autoint": AutoInt, "dcnv2": DCNv2}


def build(kind: str, args: dict) -> nn.Module:
    """The network of variant ``kind`` with constructor keywords ``args`` (a run's ``model.args``)."""
    v = variants.get(kind)
    if v.family != "network":
        raise ValueError(f"variant {kind} trains no network of the zoo (its family is {v.family})")
    return NETWORKS[v.network](**args)
