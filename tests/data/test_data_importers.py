"""Importers of LIVE-C, KonIQ-10k and annotators' grade sheets, and `pixgrade dataset import`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from data_testkit import write_csv, write_images

from pixgrade.cli.main import main
from pixgrade.data import ManifestError, from_grades, from_koniq, from_livec, load_manifest


def test_livec_maps_mos_to_0_5(tmp_path: Path) -> None:
    write_images(tmp_path / "images", ["1.png", "2.png", "3.png"])
    labels = write_csv(
        tmp_path / "labels.csv", "image,mos,mos_std\nimages/1.png,82.5,15\nimages/2.png,0,0\nimages/3.png,100,\n"
    )
    m = from_livec(labels)
    assert m.frame["score"].tolist() == pytest.approx([4.125, 0.0, 5.0])
    assert m.frame["score_std"].tolist()[:2] == pytest.approx([0.75, 0.0])
    assert m.frame["mos"].tolist() == [82.5, 0.0, 100.0]
    assert m.paths()[0] == (tmp_path / "images" / "1.png").absolute()


def test_livec_errors(tmp_path: Path) -> None:
    labels = write_csv(tmp_path / "labels.csv", "image,mos\na.png,120\nb.png,x\n")
    with pytest.raises(ManifestError) as info:
        from_livec(labels)
    assert info.value.problems == [(2, "mos 120 is outside 0..100"), (3, "mos 'x' is not a number")]
    with pytest.raises(ManifestError, match="missing column 'mos'"):
        from_livec(write_csv(tmp_path / "l2.csv", "image,score\na.png,3\n"))


def test_koniq_mos_mapping_and_image_folder(tmp_path: Path) -> None:
    write_images(tmp_path / "1024x768", ["a.jpg", "b.jpg", "c.jpg"])
    scores = write_csv(
        tmp_path / "koniq10k_scores.csv",
        '"image_name","MOS","SD","MOS_zscore"\n"a.jpg",1,0.4,0\n"b.jpg",5,0.8,100\n"c.jpg",3.0,0,50\n',
    )
    m = from_koniq(scores)
    assert m.frame["image"].tolist() == ["1024x768/a.jpg", "1024x768/b.jpg", "1024x768/c.jpg"]
    assert m.frame["score"].tolist() == pytest.approx([0.0, 5.0, 2.5])
    assert m.frame["score_std"].tolist() == pytest.approx([0.5, 1.0, 0.0])
    assert m.frame["mos_zscore"].tolist() == [0.0, 100.0, 50.0]


def test_koniq_zscore_only_and_explicit_image_dir(tmp_path: Path) -> None:
    write_images(tmp_path / "pics", ["a.jpg", "b.jpg"])
    scores = write_csv(tmp_path / "csv" / "scores.csv", "image_name,MOS_zscore\na.jpg,80\nb.jpg,30\n")
    m = from_koniq(scores, image_dir=tmp_path / "pics")
    assert m.frame["score"].tolist() == pytest.approx([4.0, 1.5])
    assert m.frame["image"].tolist() == ["../pics/a.jpg", "../pics/b.jpg"]
    assert "score_std" not in m.frame.columns
    with pytest.raises(ManifestError, match="needs a 'MOS' or 'MOS_zscore' column"):
        from_koniq(write_csv(tmp_path / "x.csv", "image_name,SD\na.jpg,1\n"))
    with pytest.raises(ManifestError, match=r"MOS 0\.5 is outside 1\.\.5"):
        from_koniq(write_csv(tmp_path / "y.csv", "image_name,MOS\na.jpg,0.5\n"), image_dir=tmp_path / "pics")


def test_grades_aggregate_annotators(tmp_path: Path) -> None:
    write_images(tmp_path, ["p/a.png", "p/b.png"])
    sheet = write_csv(
        tmp_path / "grades.csv",
        "image,grade,annotator\np/a.png,4,ann1\np/b.png,1,ann1\np/a.png,5,ann2\np/a.png,3,ann3\n",
    )
    m = from_grades(sheet)
    a, b = m.frame.to_dict("records")
    assert (a["image"], a["score"], a["score_std"], a["n_ratings"]) == ("p/a.png", 4.0, pytest.approx(1.0), 3)
    assert (b["image"], b["score"], b["score_std"], b["n_ratings"]) == ("p/b.png", 1.0, 0.0, 1)
    assert list(m.frame.index) == [2, 3], "each image keeps the line of its first rating"


def test_grades_errors(tmp_path: Path) -> None:
    sheet = write_csv(tmp_path / "grades.csv", "image,grade,group\na.png,6,g\na.png,2,h\n,3,g\nb.png,,g\nc.png,2.5,g\n")
    with pytest.raises(ManifestError) as info:
        from_grades(sheet, on_missing="keep")
    problems = dict(info.value.problems)
    assert problems[2] == "grade 6 is outside 0..5"
    assert problems[4] == "empty image path"
    assert problems[5] == "grade is empty"
    assert 6 not in problems


def test_grades_group_conflict(tmp_path: Path) -> None:
    sheet = write_csv(tmp_path / "g.csv", "image,score,group\na.png,2,g1\na.png,3,g2\n")
    with pytest.raises(ManifestError, match=r"line 3: image 'a\.png' has group 'g2' here but 'g1' earlier"):
        from_grades(sheet, on_missing="keep")


def test_cli_import_writes_manifest_relative_to_its_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_images(tmp_path / "src" / "images", ["1.png", "2.png"])
    labels = write_csv(tmp_path / "src" / "labels.csv", "image,mos,mos_std\nimages/1.png,50,10\nimages/2.png,70,5\n")
    out = tmp_path / "manifests" / "livec.csv"
    assert main(["dataset", "import", "--format", "livec", str(labels), "-o", str(out)]) == 0
    m = load_manifest(out)
    assert m.frame["image"].tolist() == ["../src/images/1.png", "../src/images/2.png"]
    assert m.frame["score"].tolist() == [2.5, 3.5]
    assert '"rows": 2' in capsys.readouterr().out
    before = out.read_bytes()
    assert main(["dataset", "import", "--format", "livec", str(labels), "-o", str(out)]) == 2
    assert "already exist" in capsys.readouterr().err
    assert out.read_bytes() == before
    os.remove(tmp_path / "src" / "images" / "2.png")
    assert main(["dataset", "import", "--format", "livec", str(labels), "-o", str(out), "--force"]) == 2
    assert "line 3: image 'images/2.png' not found" in capsys.readouterr().err
    assert out.read_bytes() == before, "a failed import leaves the old manifest alone"
    out2 = tmp_path / "m2.csv"
    assert main(["dataset", "import", "--format", "livec", str(labels), "-o", str(out2), "--missing", "drop"]) == 0
    assert len(load_manifest(out2)) == 1


@pytest.mark.data
def test_shared_livec_labels() -> None:
    root = Path(os.environ.get("PIXGRADE_DATA", Path(__file__).resolve().parents[2] / ".." / "shared" / "data"))
    labels = root / "livec-train" / "labels.csv"
    if not labels.is_file():
        pytest.skip(f"shared data not found at {labels}")
    m = from_livec(labels)
    assert len(m) == 813
    assert 0.0 < m.frame["score"].min() < m.frame["score"].max() < 5.0
