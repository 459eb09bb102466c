"""Datasets: manifests (CSV of images and 0–5 scores), importers of public label files, group-aware splits.

The PyTorch datasets that read manifests for training live in :mod:`pixgrade.data.torch_datasets`.
"""

from pixgrade.data.importers import IMPORTERS, from_grades, from_koniq, from_livec, import_labels
from pixgrade.data.manifest import (
    MANIFEST_COLUMNS,
    SCORE_RANGE,
    Manifest,
    ManifestError,
    handle_missing,
    load_manifest,
    read_table,
)
from pixgrade.data.splits import assign_folds, k_fold_splits, split_manifest

__all__ = [
    "IMPORTERS",
    "MANIFEST_COLUMNS",
    "SCORE_RANGE",
    "Manifest",
    "ManifestError",
    "assign_folds",
    "from_grades",
    "from_koniq",
    "from_livec",
    "handle_missing",
    "import_labels",
    "k_fold_splits",
    "load_manifest",
    "read_table",
    "split_manifest",
]
