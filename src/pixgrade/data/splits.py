"""Group-aware train/val/test splits and k-fold cross-validation of manifests.

Every row of a group (by default each image is its own group; synthetic variants of one source photo share
the source as their group) lands on the same side, so no picture leaks from training into evaluation.
Splits depend only on the set of groups and the seed, not on the row order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pixgrade.data.manifest import Manifest

__all__ = ["assign_folds", "k_fold_splits", "split_manifest"]


def _group_sizes(manifest: Manifest) -> pd.Series:
    """Rows per group, groups in sorted order (so the result ignores row order)."""
    return manifest.groups().value_counts().sort_index()


def split_manifest(manifest: Manifest, val: float = 0.1, test: float = 0.1, seed: int = 0) -> dict[str, Manifest]:
    """Split into ``{"train", "val", "test"}`` with about ``val`` and ``test`` of the rows, whole groups only.

    Groups are shuffled with ``seed`` and dealt to test until it holds ``round(test * rows)`` rows, then to
    val likewise; the rest is train. A large group can make a side overshoot its target by less than one group.

    Raises:
        ValueError: fractions outside [0, 1) or summing to 1 or more.
    """
    for name, fraction in (("val", val), ("test", test)):
        if not 0.0 <= fraction < 1.0:
            raise ValueError(f"{name} fraction must be in [0, 1), got {fraction}")
    if val + test >= 1.0:
        raise ValueError(f"val + test must be below 1 to leave rows for training, got {val + test:g}")
    sizes = _group_sizes(manifest)
    order = np.random.default_rng(seed).permutation(len(sizes))
    targets = {"test": round(test * len(manifest)), "val": round(val * len(manifest))}
    counts = {"test": 0, "val": 0}
    side_of: dict[str, str] = {}
    for i in order:
        group, size = str(sizes.index[i]), int(sizes.iloc[i])
        side = next((s for s in ("test", "val") if counts[s] < targets[s]), "train")
        if side != "train":
            counts[side] += size
        side_of[group] = side
    sides = manifest.groups().map(side_of).to_numpy()
    return {side: manifest.subset(sides == side) for side in ("train", "val", "test")}


def assign_folds(manifest: Manifest, k: int, seed: int = 0) -> np.ndarray:
    """Fold index (0 … k-1) of every row; groups are shuffled with ``seed`` then dealt largest first to the
    fold with the fewest rows so far, so folds are balanced in rows and never split a group.

    Raises:
        ValueError: ``k < 2`` or fewer groups than folds.
    """
    if k < 2:
        raise ValueError(f"k must be at least 2, got {k}")
    sizes = _group_sizes(manifest)
    if len(sizes) < k:
        raise ValueError(f"cannot make {k} folds from {len(sizes)} group(s)")
    order = np.random.default_rng(seed).permutation(len(sizes))
    shuffled = sizes.iloc[order]
    by_size = shuffled.iloc[np.argsort(-shuffled.to_numpy(), kind="stable")]
    counts = np.zeros(k, dtype=np.int64)
    fold_of: dict[str, int] = {}
    for group, size in by_size.items():
        fold = int(np.argmin(counts))  # first fold among the emptiest
        fold_of[str(group)] = fold
        counts[fold] += int(size)
    return manifest.groups().map(fold_of).to_numpy(dtype=np.int64)


def k_fold_splits(manifest: Manifest, k: int = 5, seed: int = 0) -> list[tuple[Manifest, Manifest]]:
    """``k`` pairs ``(train, val)``: each fold is the validation set once, the other folds its training set."""
    folds = assign_folds(manifest, k, seed)
    return [(manifest.subset(folds != f), manifest.subset(folds == f)) for f in range(k)]
