"""Data layer: raw formats -> encoded ``CTRData`` (field-local int32 ids, OOV id 0, fixed splits)."""

from aim.data.base import OOV_ID, CTRData, Field, PlantedTruth, Split
from aim.data.registry import DATASETS, describe_datasets, load_dataset

__all__ = ["DATASETS", "OOV_ID", "CTRData", "Field", "PlantedTruth", "Split", "describe_datasets", "load_dataset"]
