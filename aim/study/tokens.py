"""Study variant tokens and seeds: the ``--variants`` / ``--seeds`` values of ``python -m aim study`` and the
RunConfig of each (variant, seed) cell."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from aim import variants
from aim.config import VARIANTS, RunConfig
from aim.errors import ConfigError

BASELINES = variants.names(baseline=True)  # best_baseline picks among these
TRANSFER_VARIANTS = variants.names(transfer=True)
SE_SUFFIX = "-se"
DEFAULT_VARIANTS = variants.STUDY_DEFAULT

Log = Callable[[str], None]


def valid_tokens() -> tuple[str, ...]:
    """Every study variant token: the RunConfig variants (but ``retrain``, which the fis-vs-stats kind runs), then
    the ``-se`` form of each AIM variant."""
    return (tuple(v for v in VARIANTS if v != variants.RETRAIN)
            + tuple(v + SE_SUFFIX for v in variants.names(shared_embedding=True)))


def _has_se(variant: Any) -> bool:
    """Whether ``variant`` (maybe a foreign run's name) has an ``-se`` form: the AIM variants."""
    known = variants.of_token(variant)
    return known is not None and known.shared_embedding


def transfer_supported() -> bool:
    return all(v in VARIANTS for v in TRANSFER_VARIANTS)


def parse_variants(text: str | Iterable[str]) -> list[str]:
    """``"fm, deepfm,aim-se"`` (or a list of tokens) -> ``["fm", "deepfm", "aim-se"]``, duplicates dropped;
    an unknown token is a ``ConfigError`` that lists the valid ones."""
    items = text.split(",") if isinstance(text, str) else list(text)
    tokens = list(dict.fromkeys(t.strip() for t in items if t.strip()))
    if not tokens:
        raise ConfigError(f"no variants given; choose from: {', '.join(valid_tokens())}")
    unknown = [t for t in tokens if t not in valid_tokens()]
    if unknown:
        raise ConfigError(f"unknown variant {', '.join(map(repr, unknown))}; choose from: {', '.join(valid_tokens())}")
    return tokens


def parse_seeds(text: str | int | Iterable[int]) -> list[int]:
    """``5`` or ``"5"`` -> seeds 0..4; ``"1,3,7"`` (a comma list, ``"7,"`` for the single seed 7) -> those seeds."""
    if isinstance(text, int):
        text = str(text)
    if not isinstance(text, str):
        seeds = list(text)
    else:
        try:
            if "," in text:
                seeds = [int(s) for s in text.split(",") if s.strip()]
            else:
                count = int(text)
                if count < 1:
                    raise ConfigError(f"--seeds must be a count >= 1 or a comma list of seeds, got {text!r}")
                seeds = list(range(count))
        except ValueError:
            raise ConfigError(f"--seeds must be a count (5 = seeds 0..4) or a comma list (1,3,7), got {text!r}") from None
    return check_seeds(seeds)


def check_seeds(seeds: Iterable[int]) -> list[int]:
    """Seeds given as integers: duplicates dropped (first kept), each in [0, 2**32); ``ConfigError`` otherwise."""
    seeds = list(dict.fromkeys(seeds))
    if not seeds:
        raise ConfigError("no seeds given")
    for s in seeds:
        if not isinstance(s, int) or isinstance(s, bool) or not 0 <= s < 2**32:
            raise ConfigError(f"seed must be an integer in [0, 2**32), got {s!r}")
    return seeds


def split_token(token: str) -> tuple[str, str | None]:
    """``"aim-eds-se"`` -> ``("aim-eds", "se")``; AIM tokens without suffix -> ``"fwe"``; others -> None."""
    if token.endswith(SE_SUFFIX) and token[: -len(SE_SUFFIX)] in VARIANTS:
        return token[: -len(SE_SUFFIX)], "se"
    return token, ("fwe" if _has_se(token) else None)


def token_of(config: RunConfig | Mapping) -> str:
    """The study token a run's config stands for (inverse of ``variant_config``)."""
    if isinstance(config, RunConfig):
        variant, embedding = config.variant, config.model.embedding
    else:
        variant, embedding = config.get("variant"), (config.get("model") or {}).get("embedding")
    return f"{variant}{SE_SUFFIX}" if embedding == "se" and _has_se(variant) else str(variant)


def _field_default(name: str) -> Any:
    f = next(f for f in dataclasses.fields(RunConfig) if f.name == name)
    return f.default if f.default is not dataclasses.MISSING else f.default_factory()


def variant_config(base: RunConfig, token: str, seed: int, transfer_from: str | None = None) -> RunConfig:
    """The RunConfig of one study cell: ``base`` with the token's variant (and embedding: ``fwe`` for plain AIM
    tokens, ``se`` for ``-se`` tokens; baselines keep the base's) and ``seed``. Transfer variants get
    ``transfer_from``; the others get RunConfig's default there. Invalid values raise ``ConfigError``."""
    if token not in valid_tokens():
        raise ConfigError(f"unknown variant {token!r}; choose from: {', '.join(valid_tokens())}")
    variant, embedding = split_token(token)
    changes: dict[str, Any] = {"variant": variant, "seed": seed}
    if embedding is not None:
        changes["model"] = dataclasses.replace(base.model, embedding=embedding)
    if transfer_supported():
        if variant in TRANSFER_VARIANTS:
            source = transfer_from or base.transfer_from
            if not source:
                raise ConfigError(f"variant {token} needs a run to transfer from (--transfer-from RUN_DIR)")
            changes["transfer_from"] = str(source)
        else:
            changes["transfer_from"] = _field_default("transfer_from")
    return base.replace(**changes)


def add_transfer_rows(tokens: Sequence[str], transfer_from: str | None, log: Log = print) -> list[str]:
    """With ``transfer_from`` set, append the rows deepfm-transfer and ipnn-transfer (paper Table 10) when this
    version of aim has those variants, and say so when it does not."""
    tokens = list(tokens)
    if not transfer_from:
        return tokens
    if not transfer_supported():
        log(f"[study] --transfer-from {transfer_from}: this version of aim has no {' / '.join(TRANSFER_VARIANTS)} "
            "variants yet; those rows are skipped")
        return tokens
    return tokens + [t for t in TRANSFER_VARIANTS if t not in tokens]


def default_jobs(n_seeds: int) -> int:
    return max(1, min(n_seeds, os.cpu_count() or 1))
