"""Synthetic CTR data with planted ground truth, so a search can be scored exactly.

The label logit of a row is

    bias + Σ_f w_f[x_f]                       first-order effects of every informative field
         + Σ_planted s · g_k(x_i, x_j[, x_l])  planted interactions, each scaled to unit variance

with three kinds of planted pair, cycling in this order:

- ``inner``:  <u_i[x_i], u_j[x_j]> with latent vectors of size 4: what an inner product models directly;
- ``kernel``: Σ_k u_j[x_j]_k u_l[x_l]_k K_k with a sign-mixed kernel K, re-using a field of the previous
  inner pair, so one shared embedding of that field cannot serve both (a vector kernel or FWE can);
- ``outer``:  a[x_i] · b[x_j], a rank-1 product of scalar field scores: what (w1ᵀe_i)(w2ᵀe_j) models.

Planted triples use Σ_k u_i u_j u_l (an order-3 inner product) and extend a planted pair by one field. Noise fields draw ids but never touch the label.
Ids follow a Zipf-like law (p(k) ∝ (k+1)^-1.1) as real categorical fields do; vocabulary sizes are spread
log-uniformly between ``vocab`` and ``4 * vocab`` so the EDS view has sizes to compare.
"""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import train_test_split

from aim.config import SyntheticConfig
from aim.data.base import CTRData, Field, PlantedTruth, Split

LATENT = 4
KINDS = ("inner", "kernel", "outer")


def zipf_ids(rng: np.random.Generator, n: int, vocab: int, exponent: float = 1.1) -> np.ndarray:
    """``n`` ids in [0, vocab) with p(k) ∝ (k+1)^-exponent, the frequent ids placed at random."""
    p = 1.0 / np.arange(1, vocab + 1) ** exponent
    # Shuffle which id is frequent so "id 1 is most common" carries no meaning.
    p = rng.permutation(p / p.sum())
    return rng.choice(vocab, size=n, p=p).astype(np.int32)


def standardise(v: np.ndarray) -> np.ndarray:
    """``v`` at mean 0 and unit variance."""
    return (v - v.mean()) / (v.std() + 1e-12)


def _plan(cfg: SyntheticConfig, rng: np.random.Generator) -> tuple[list[tuple[int, ...]], list[str], list[int]]:
    """Pick noise fields and the planted interactions (pairs chained so kernels share a field with a pair)."""
    order = rng.permutation(cfg.fields)
    noise = sorted(int(f) for f in order[: cfg.noise_fields])
    informative = [int(f) for f in order[cfg.noise_fields :]]
    pairs: list[tuple[int, ...]] = []
    kinds: list[str] = []
    cursor = 0
    for k in range(cfg.planted_pairs):
        kind = KINDS[k % len(KINDS)]
        if kind == "kernel" and pairs:
            shared = pairs[-1][1]
            other = informative[cursor % len(informative)]
            cursor += 1
            pair = tuple(sorted((shared, other)))
        else:
            pair = tuple(sorted((informative[cursor % len(informative)], informative[(cursor + 1) % len(informative)])))
            cursor += 2
        if pair in pairs or pair[0] == pair[1]:
            raise ValueError(f"cannot plant {cfg.planted_pairs} distinct pairs among {len(informative)} informative fields")
        pairs.append(pair)
        kinds.append(kind)
    triples: list[tuple[int, ...]] = []
    for k in range(cfg.planted_triples):
        # Strong heredity: a triple extends a planted pair by one more informative field. Algorithm 1 reaches an
        # order-3 interaction only through a kept pair, and a zero-mean three-way product gives its own sub-pairs
        # no marginal signal, so a triple over three unrelated fields could never enter the candidate pool.
        base = pairs[k % len(pairs)] if pairs else ()
        for _attempt in range(100):
            extra = [int(f) for f in rng.choice(informative, size=3 - len(base), replace=False) if f not in base]
            t = tuple(sorted((*base, *extra)))
            if len(t) == 3 and t not in triples:
                triples.append(t)
                break
        else:
            raise ValueError(f"cannot plant {cfg.planted_triples} distinct triples among {len(informative)} fields")
    return pairs + triples, kinds + ["inner3"] * len(triples), noise


def calibrate_bias(logit: np.ndarray, target: float) -> float:
    """The bias b (bisection) that makes the mean of sigmoid(logit + b) ``target``."""
    lo, hi = -20.0, 20.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if (1 / (1 + np.exp(-(logit + mid)))).mean() < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def generate(cfg: SyntheticConfig, split_seed: int = 0) -> CTRData:
    """Draw ``cfg.rows`` rows; return them split 8:1:1 (stratified, ``split_seed``) with the planted truth."""
    rng = np.random.default_rng(cfg.data_seed)
    vocabs = np.round(np.exp(rng.uniform(np.log(cfg.vocab), np.log(4 * cfg.vocab), cfg.fields))).astype(int)
    planted, kinds, noise = _plan(cfg, rng)
    X = np.stack([zipf_ids(rng, cfg.rows, int(v)) for v in vocabs], axis=1)  # (N, F) ids in [0, V_f)

    logit = np.zeros(cfg.rows)
    for f in range(cfg.fields):
        if f not in noise:
            logit += 0.5 * rng.normal(size=vocabs[f])[X[:, f]]
    latent = [rng.normal(size=(int(v), LATENT)) for v in vocabs]  # u_f, shared by a field's planted terms
    for fields, kind in zip(planted, kinds):
        if kind == "outer":
            a = rng.normal(size=vocabs[fields[0]])[X[:, fields[0]]]
            b = rng.normal(size=vocabs[fields[1]])[X[:, fields[1]]]
            term = a * b
        else:
            weight = np.ones(LATENT)
            if kind == "kernel":
                weight = np.array([1.5, -1.5, 1.0, -1.0])
            term = weight * np.prod([latent[f][X[:, f]] for f in fields], axis=0)
            term = term.sum(axis=1)
        logit += cfg.signal * standardise(term)
    logit += calibrate_bias(logit, cfg.positive_rate)
    y = (rng.random(cfg.rows) < 1 / (1 + np.exp(-logit))).astype(np.float32)

    # Shift ids by one: id 0 is the OOV bucket by the project's convention (aim/data/base.py).
    X = X + 1
    idx = np.arange(cfg.rows)
    train_idx, rest = train_test_split(idx, test_size=0.2, stratify=y, random_state=split_seed)
    valid_idx, test_idx = train_test_split(rest, test_size=0.5, stratify=y[rest], random_state=split_seed)
    fields = tuple(
        Field(name=f"{'noise' if f in noise else 'f'}{f:02d}", vocab_size=int(vocabs[f]) + 1) for f in range(cfg.fields)
    )
    return CTRData(
        name="synthetic",
        fields=fields,
        train=Split(X[train_idx], y[train_idx]),
        valid=Split(X[valid_idx], y[valid_idx]),
        test=Split(X[test_idx], y[test_idx]),
        source={"format": "synthetic", "config": {k: getattr(cfg, k) for k in cfg.__dataclass_fields__}},
        truth=PlantedTruth(interactions=tuple(planted), kinds=tuple(kinds), noise_fields=tuple(noise)),
    )
