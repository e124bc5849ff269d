"""The encoded dataset every model trains on: integer ids per field, binary labels, fixed splits.

Notation: N rows, F fields. ``X[:, f]`` holds field-local ids in ``[0, fields[f].vocab_size)``; id 0 of every
field is the out-of-vocabulary bucket (values rarer than ``min_count`` and values unseen in training), so a
model can use one embedding table with per-field offsets.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from aim.errors import DataError

OOV_ID = 0


@dataclass(frozen=True)
class Field:
    """One categorical field after encoding."""

    name: str
    vocab_size: int  # including the OOV id 0
    kind: str = "categorical"  # "categorical" or "numeric" (numeric ones were bucketised)


@dataclass(frozen=True)
class Split:
    """One split: ``X`` int32 (N, F) field-local ids, ``y`` float32 (N,) in {0, 1}."""

    X: np.ndarray
    y: np.ndarray

    def __post_init__(self) -> None:
        if self.X.ndim != 2 or self.y.ndim != 1 or len(self.X) != len(self.y):
            raise DataError(None, f"split shapes disagree: X {self.X.shape}, y {self.y.shape}")

    def __len__(self) -> int:
        return len(self.y)

    @property
    def positive_rate(self) -> float:
        return float(self.y.mean()) if len(self.y) else float("nan")


@dataclass(frozen=True)
class PlantedTruth:
    """Ground truth of a synthetic dataset (field indices are 0-based positions in ``CTRData.fields``)."""

    interactions: tuple[tuple[int, ...], ...]  # each a sorted tuple of field indices, order 2 or 3
    kinds: tuple[str, ...]  # per planted interaction: "inner" | "kernel" | "xor" ... (how it was generated)
    noise_fields: tuple[int, ...]  # fields that carry no signal at all

    def to_json(self) -> dict:
        return {
            "interactions": [list(t) for t in self.interactions],
            "kinds": list(self.kinds),
            "noise_fields": list(self.noise_fields),
        }

    @classmethod
    def from_json(cls, d: dict) -> PlantedTruth:
        return cls(
            interactions=tuple(tuple(int(i) for i in t) for t in d["interactions"]),
            kinds=tuple(str(k) for k in d["kinds"]),
            noise_fields=tuple(int(i) for i in d["noise_fields"]),
        )


@dataclass(frozen=True)
class CTRData:
    """An encoded dataset with its train / validation / test splits."""

    name: str
    fields: tuple[Field, ...]
    train: Split
    valid: Split
    test: Split
    source: dict = field(default_factory=dict)  # where it came from: paths, content hash, preprocessing config
    truth: PlantedTruth | None = None

    def __post_init__(self) -> None:
        for split_name in ("train", "valid", "test"):
            split = getattr(self, split_name)
            if split.X.shape[1] != len(self.fields):
                raise DataError(
                    None, f"{split_name} split has {split.X.shape[1]} columns, expected {len(self.fields)} fields"
                )

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    @property
    def vocab_sizes(self) -> list[int]:
        return [f.vocab_size for f in self.fields]

    def summary(self) -> dict:
        """JSON-ready summary stored in every run."""
        return {
            "name": self.name,
            "fields": [{"name": f.name, "vocab_size": f.vocab_size, "kind": f.kind} for f in self.fields],
            "rows": {"train": len(self.train), "valid": len(self.valid), "test": len(self.test)},
            "positive_rate": {
                "train": self.train.positive_rate,
                "valid": self.valid.positive_rate,
                "test": self.test.positive_rate,
            },
            "source": self.source,
            "truth": None if self.truth is None else self.truth.to_json(),
        }
