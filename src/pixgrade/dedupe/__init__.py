"""Products and near-duplicates: grouping images by product, perceptual hashes and embedding similarity."""

from pixgrade.dedupe.duplicates import (
    MATCH_KINDS,
    DuplicateCluster,
    DuplicateSettings,
    PairMatch,
    find_duplicates,
    hash_distance,
    perceptual_hash,
)
from pixgrade.dedupe.grouping import group_by_csv, group_by_folder, group_by_pattern, grouper_from_spec

__all__ = [
    "MATCH_KINDS",
    "DuplicateCluster",
    "DuplicateSettings",
    "PairMatch",
    "find_duplicates",
    "group_by_csv",
    "group_by_folder",
    "group_by_pattern",
    "grouper_from_spec",
    "hash_distance",
    "perceptual_hash",
]
