"""Manifest loading, validation messages (file, line, cause), missing images, saving with rebased paths."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from data_testkit import write_csv, write_images

from pixgrade.cli.main import main
from pixgrade.data import Manifest, ManifestError, load_manifest


def test_load_valid_manifest_with_optional_columns(tmp_path: Path) -> None:
    write_images(tmp_path / "imgs", ["a.png", "b.png", "c.png"])
    path = write_csv(
        tmp_path / "m.csv",
        """
image,score,score_std,group,degradation,level,note
imgs/a.png,4.5,0.3,g1,,0,first
imgs/b.png,2,,g1,jpeg,3,
imgs/c.png,0,0.1,,blur ,5,x
""",
    )
    m = load_manifest(path)
    assert len(m) == 3 and m.has_degradations
    assert list(m.frame.index) == [2, 3, 4], "rows keep their CSV line numbers"
    assert m.frame["score"].tolist() == [4.5, 2.0, 0.0]
    assert m.frame["level"].tolist() == [0, 3, 5]
    assert m.frame["degradation"].tolist() == ["", "jpeg", "blur"]
    assert m.frame["note"].tolist() == ["first", "", "x"], "extra columns are kept"
    assert m.paths()[0] == (tmp_path / "imgs" / "a.png").absolute()
    groups = m.groups()
    assert groups.iloc[0] == groups.iloc[1] == "g1"
    assert groups.iloc[2] == str((tmp_path / "imgs" / "c.png").absolute()), "no group: the image is its own group"


def test_every_bad_row_is_reported_with_its_line(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "bad.csv",
        """
image,score,score_std,level
a.png,4,0.2,1

b.png,high,,
,3,,
c.png,7,,
d.png,nan,,
e.png,3,-1,
f.png,3,,2.5
g.png,,,
""",
    )
    with pytest.raises(ManifestError) as info:
        load_manifest(path, on_missing="keep")
    err = info.value
    assert str(path) in str(err)
    assert err.problems == [
        (4, "score 'high' is not a finite number"),
        (5, "empty image path"),
        (6, "score 7 is outside 0..5"),
        (7, "score 'nan' is not a finite number"),
        (8, "score_std -1 is outside 0..5"),
        (9, "level 2.5 is not a whole number"),
        (10, "score is empty"),
    ]
    assert "line 6: score 7 is outside 0..5" in str(err)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty file: no header line"),
        ("image,grade\na.png,3\n", "line 1: missing required column(s) score (found: image, grade)"),
        ("image,score,score\na.png,3,3\n", "duplicate column name(s): score"),
        ("image,score\na.png,3,4\n", "line 2: 3 fields but the header has 2"),
    ],
)
def test_structural_errors(tmp_path: Path, text: str, message: str) -> None:
    path = write_csv(tmp_path / "m.csv", text)
    with pytest.raises(ManifestError, match=r"m\.csv") as info:
        load_manifest(path)
    assert message in str(info.value)


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match=r"nope\.csv: file not found"):
        load_manifest(tmp_path / "nope.csv")
    (tmp_path / "latin1.csv").write_bytes(b"image,score\n\xe9t\xe9.png,3\n")
    with pytest.raises(ManifestError, match="not a UTF-8 text file"):
        load_manifest(tmp_path / "latin1.csv")
    with pytest.raises(ManifestError, match="is a folder"):
        load_manifest(tmp_path)


def test_missing_images_error_drop_keep(tmp_path: Path) -> None:
    write_images(tmp_path, ["here.png"])
    path = write_csv(tmp_path / "m.csv", "image,score\nhere.png,3\ngone.png,2\nalso_gone.png,1\n")
    with pytest.raises(ManifestError) as info:
        load_manifest(path)
    text = str(info.value)
    assert "2 of 3 image files not found" in text
    assert "line 3: image 'gone.png' not found" in text and "line 4: image 'also_gone.png'" in text
    dropped = load_manifest(path, on_missing="drop")
    assert dropped.frame["image"].tolist() == ["here.png"]
    kept = load_manifest(path, on_missing="keep")
    assert [line for line, _, _ in kept.missing_files()] == [3, 4]


def test_bom_and_absolute_paths(tmp_path: Path) -> None:
    write_images(tmp_path / "elsewhere", ["x.png"])
    absolute = (tmp_path / "elsewhere" / "x.png").absolute()
    path = tmp_path / "sub" / "m.csv"
    path.parent.mkdir()
    path.write_bytes(b"\xef\xbb\xbfimage,score\n" + f"{absolute},1.5\n".encode())
    m = load_manifest(path)
    assert m.paths() == [absolute]


def test_save_rebases_relative_paths_and_never_overwrites(tmp_path: Path) -> None:
    write_images(tmp_path / "data" / "imgs", ["a.png", "b.png"])
    source = write_csv(tmp_path / "data" / "m.csv", "image,score,extra\nimgs/a.png,4.25,u\nimgs/b.png,1,v\n")
    m = load_manifest(source)
    target = tmp_path / "splits" / "deep" / "train.csv"
    m.save(target)
    assert target.read_text().splitlines() == [
        "image,score,extra",
        "../../data/imgs/a.png,4.25,u",
        "../../data/imgs/b.png,1,v",
    ]
    assert load_manifest(target).paths() == m.paths()
    with pytest.raises(FileExistsError):
        m.save(target)
    m.subset([1]).save(target, overwrite=True)
    assert len(load_manifest(target)) == 1
    assert not list(target.parent.glob(".*tmp")), "no temporary files left behind"
    plain = target.parent / "plain.txt"
    plain.write_text("x")
    assert target.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777, "same permissions as a normal file"


def test_subset_and_summary(tmp_path: Path) -> None:
    frame = pd.DataFrame({"image": ["a.png", "b.png", "c.png"], "score": [1.0, 2.0, 3.0]}, index=[2, 3, 4])
    m = Manifest(frame, tmp_path)
    assert m.subset(np.array([True, False, True])).frame["image"].tolist() == ["a.png", "c.png"]
    assert list(m.subset([2]).frame.index) == [4]
    with pytest.raises(ValueError, match="boolean mask"):
        m.subset(np.array([True]))
    assert m.summary() == {"rows": 3, "groups": 3, "score_min": 1.0, "score_mean": 2.0, "score_max": 3.0}


def test_cli_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_images(tmp_path, ["a.png"])
    good = write_csv(tmp_path / "good.csv", "image,score\na.png,3\n")
    assert main(["dataset", "check", str(good)]) == 0
    assert '"rows": 1' in capsys.readouterr().out
    bad = write_csv(tmp_path / "bad.csv", "image,score\na.png,9\n")
    assert main(["dataset", "check", str(bad)]) == 2
    assert "bad.csv: line 2: score 9 is outside 0..5" in capsys.readouterr().err
