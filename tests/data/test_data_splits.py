"""Group-aware train/val/test splits and k folds, and `pixgrade dataset split/folds`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from data_testkit import write_csv, write_images

from pixgrade.cli.main import main
from pixgrade.data import Manifest, assign_folds, k_fold_splits, load_manifest, split_manifest


def synthetic_manifest(tmp_path: Path, n_groups: int = 40, seed: int = 0) -> Manifest:
    """Groups of 1–6 rows (like degraded variants of one source)."""
    rng = np.random.default_rng(seed)
    images, groups = [], []
    for g in range(n_groups):
        for v in range(int(rng.integers(1, 7))):
            images.append(f"g{g}_v{v}.png")
            groups.append(f"src{g}")
    frame = pd.DataFrame({"image": images, "score": rng.uniform(0, 5, len(images)), "group": groups})
    frame.index = range(2, 2 + len(frame))
    return Manifest(frame, tmp_path)


def sides_of_groups(parts: dict[str, Manifest]) -> dict[str, set[str]]:
    return {name: set(part.groups()) for name, part in parts.items()}


def test_split_keeps_groups_together_and_hits_sizes(tmp_path: Path) -> None:
    m = synthetic_manifest(tmp_path)
    parts = split_manifest(m, val=0.15, test=0.2, seed=3)
    groups = sides_of_groups(parts)
    assert not (groups["train"] & groups["val"]) and not (groups["train"] & groups["test"])
    assert not (groups["val"] & groups["test"])
    assert sum(len(p) for p in parts.values()) == len(m)
    assert sorted(np.concatenate([p.frame.index for p in parts.values()])) == list(m.frame.index)
    largest = int(m.groups().value_counts().max())
    assert round(0.2 * len(m)) <= len(parts["test"]) < round(0.2 * len(m)) + largest
    assert round(0.15 * len(m)) <= len(parts["val"]) < round(0.15 * len(m)) + largest


def test_split_is_deterministic_and_ignores_row_order(tmp_path: Path) -> None:
    m = synthetic_manifest(tmp_path)
    a = split_manifest(m, seed=1)
    shuffled = m.subset(np.random.default_rng(9).permutation(len(m)))
    b = split_manifest(shuffled, seed=1)
    assert sides_of_groups(a) == sides_of_groups(b)
    assert sides_of_groups(split_manifest(m, seed=2)) != sides_of_groups(a)


def test_images_without_group_are_their_own_group(tmp_path: Path) -> None:
    frame = pd.DataFrame({"image": [f"{i}.png" for i in range(100)], "score": np.linspace(0, 5, 100)})
    parts = split_manifest(Manifest(frame, tmp_path), val=0.1, test=0.1, seed=0)
    assert [len(parts[k]) for k in ("train", "val", "test")] == [80, 10, 10]


@pytest.mark.parametrize(("val", "test", "message"), [(-0.1, 0.1, "val fraction"), (0.5, 0.5, "val \\+ test")])
def test_split_rejects_bad_fractions(tmp_path: Path, val: float, test: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        split_manifest(synthetic_manifest(tmp_path), val=val, test=test)


def test_k_folds_partition_groups_and_balance(tmp_path: Path) -> None:
    m = synthetic_manifest(tmp_path, n_groups=50)
    folds = assign_folds(m, k=5, seed=0)
    groups = m.groups().to_numpy()
    for group in set(groups):
        assert len(set(folds[groups == group])) == 1, "a group spans two folds"
    counts = np.bincount(folds, minlength=5)
    assert counts.max() - counts.min() <= int(m.groups().value_counts().max())
    pairs = k_fold_splits(m, k=5, seed=0)
    assert len(pairs) == 5
    for train, val in pairs:
        assert len(train) + len(val) == len(m)
        assert not set(train.groups()) & set(val.groups())
    all_val = np.sort(np.concatenate([val.frame.index for _, val in pairs]))
    assert list(all_val) == list(m.frame.index), "each row is validated exactly once"
    assert np.array_equal(assign_folds(m, 5, seed=0), folds)


def test_k_folds_errors(tmp_path: Path) -> None:
    m = synthetic_manifest(tmp_path, n_groups=3)
    with pytest.raises(ValueError, match="at least 2"):
        assign_folds(m, 1)
    with pytest.raises(ValueError, match="cannot make 4 folds from 3 group"):
        assign_folds(m, 4)


def test_cli_split_and_folds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    names = [f"img{i}.png" for i in range(20)]
    write_images(tmp_path / "data", names, size=4)
    rows = "".join(f"{n},{i % 6},s{i // 2}\n" for i, n in enumerate(names))
    manifest = write_csv(tmp_path / "data" / "all.csv", "image,score,group\n" + rows)
    out = tmp_path / "splits"
    assert main(["dataset", "split", str(manifest), "--val", "0.2", "--test", "0.2", "-o", str(out)]) == 0
    parts = {name: load_manifest(out / f"{name}.csv") for name in ("train", "val", "test")}
    assert sum(len(p) for p in parts.values()) == 20
    assert [len(parts["val"]), len(parts["test"])] == [4, 4]
    assert parts["train"].paths()[0].parent == (tmp_path / "data").absolute()
    capsys.readouterr()
    assert main(["dataset", "split", str(manifest), "-o", str(out)]) == 2
    assert "already exist" in capsys.readouterr().err
    assert main(["dataset", "split", str(manifest), "--val", "0.6", "--test", "0.5", "-o", str(tmp_path / "x")]) == 2
    assert main(["dataset", "folds", str(manifest), "-k", "3", "-o", str(tmp_path / "folds")]) == 0
    assert len(list((tmp_path / "folds").glob("fold*_val.csv"))) == 3
