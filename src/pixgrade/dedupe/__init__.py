"""Products and near-duplicates: grouping images by product, perceptual hashes and embedding similarity."""

from pixgrade.dedupe.duplicates import (
    DuplicateCluster,
    DuplicateSettings,
    find_duplicates,
    hash_distance,
    perceptual_hash,
)
from pixgrade.dedupe.grouping import group_by_csv, group_by_folder, group_by_pattern, grouper_from_spec

__all__ = [
    "DuplicateCluster",
    "DuplicateSettings",
    "find_duplicates",
    "group_by_csv",
    "group_by_folder",
    "group_by_pattern",
    "grouper_from_spec",
    "hash_distance",
    "perceptual_hash",
]
