"""``pixgrade compare`` and :func:`pixgrade.fullref.compare`: rows, size checks, grades, output files."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pixgrade.cli.main import main
from pixgrade.fullref import compare
from pixgrade.fullref.compare import SizeMismatchError, compare_pair
from pixgrade.pipeline import Scorer


@pytest.fixture
def images(tmp_path: Path) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:120, 0:160]
    base = np.stack([xx * 1.5, yy * 2.0, (xx + yy) * 0.8], axis=-1) + rng.normal(0, 6, (120, 160, 3))
    arr = base.clip(0, 255).astype(np.uint8)
    out = {"ref": tmp_path / "ref.png", "same": tmp_path / "same.png", "q20": tmp_path / "q20.jpg"}
    Image.fromarray(arr).save(out["ref"])
    Image.fromarray(arr).save(out["same"])
    Image.fromarray(arr).save(out["q20"], quality=20)
    out["half"] = tmp_path / "half.png"
    Image.fromarray(arr).resize((80, 60)).save(out["half"])
    return out


def test_compare_rows_with_grades(images: dict[str, Path]) -> None:
    rows = list(compare(images["ref"], [images["same"], images["q20"]], scorer=Scorer(model=None)))
    same, q20 = rows
    assert same.error is None and same.ssim_y == 1.0 and math.isinf(same.psnr_y or 0.0)
    assert q20.error is None and q20.ssim_y is not None and q20.ssim_y < 0.99
    assert q20.psnr_y is not None and 15 < q20.psnr_y < 45
    assert same.score_diff == pytest.approx(0.0)
    assert q20.score is not None and q20.reference_score is not None
    assert q20.score_diff == pytest.approx(q20.score - q20.reference_score)


def test_size_mismatch_names_both_files_and_sizes(images: dict[str, Path]) -> None:
    (row,) = compare(images["ref"], [images["half"]])
    assert row.error is not None
    assert "ref.png is 160x120" in row.error and "half.png is 80x60" in row.error
    with pytest.raises(SizeMismatchError):
        compare_pair(Image.new("RGB", (40, 40)), Image.new("RGB", (20, 40)))
    (resized,) = compare(images["ref"], [images["half"]], resize=True)
    assert resized.error is None and resized.resized and resized.ssim_y is not None and resized.ssim_y > 0.5


def test_cli_writes_csv_and_jsonl_and_resumes(images: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "cmp.csv"
    argv = ["compare", str(images["ref"]), str(images["same"]), str(images["half"])]
    assert main([*argv, "--model", "none", "-o", str(out)]) == 1  # the size mismatch fails its row, the batch goes on
    rows = list(csv.DictReader(out.open()))
    assert [Path(r["path"]).name for r in rows] == ["same.png", "half.png"]
    assert rows[0]["psnr_y"] == "inf" and rows[0]["ssim_y"] == "1.0" and "sizes differ" in rows[1]["error"]
    assert main([*argv, str(images["q20"]), "--model", "none", "-o", str(out), "--resume"]) == 0  # only q20 is new
    assert len(list(csv.DictReader(out.open()))) == 3
    assert main([*argv, "--model", "none", "-o", str(out)]) == 2  # never overwritten without --overwrite
    jl = tmp_path / "cmp.jsonl"
    assert main(["compare", str(images["ref"]), str(images["same"]), "--model", "none", "-o", str(jl)]) == 0
    (record,) = [json.loads(line) for line in jl.read_text().splitlines()]
    assert record["psnr_y"] is None and record["ssim_y"] == 1.0


def test_cli_writes_json_array_and_resumes(images: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "cmp.json"
    argv = ["compare", str(images["ref"]), str(images["same"])]
    options = ["--model", "none", "-o", str(out)]
    assert main([*argv, *options]) == 0
    (record,) = json.loads(out.read_text())
    assert record["psnr_y"] is None and record["ssim_y"] == 1.0  # no infinity in JSON: null, as in JSON Lines
    assert main([*argv, str(images["q20"]), *options, "--resume"]) == 0  # earlier rows kept first, q20 added
    rows = json.loads(out.read_text())
    assert [Path(r["path"]).name for r in rows] == ["same.png", "q20.jpg"]
    assert rows[1]["ssim_y"] < 0.99 and not (tmp_path / "cmp.json.partial.jsonl").exists()
    assert main([*argv, *options]) == 2  # never overwritten without --overwrite
    assert len(json.loads(out.read_text())) == 2


def test_unreadable_reference_is_a_usage_error(tmp_path: Path, images: dict[str, Path]) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    assert main(["compare", str(bad), str(images["same"]), "--model", "none"]) == 2
