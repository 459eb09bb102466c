"""``pixgrade renditions``: the smallest quality meeting the target, orientation, no metadata, no upscaling,
never overwriting, resume."""

from __future__ import annotations

import csv
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pixgrade.cli.main import main
from pixgrade.errors import ConfigError
from pixgrade.fullref import renditions
from pixgrade.fullref.metrics import luminance, ssim
from pixgrade.fullref.renditions import Target, check_formats, encode, search_quality


def _photo(width: int = 240, height: int = 160, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    arr = np.stack([xx * 0.9, yy * 1.4, 128 + 60 * np.sin(xx / 9.0)], axis=-1) + rng.normal(0, 8, (height, width, 3))
    return Image.fromarray(arr.clip(0, 255).astype(np.uint8))


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A JPEG with EXIF orientation 6 (rotate 90° clockwise to view), a GPS position and a comment."""
    path = tmp_path / "in" / "shoe.jpg"
    path.parent.mkdir()
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 29.0)}  # GPS IFD: latitude
    _photo().save(path, quality=97, exif=exif.tobytes(), comment=b"seller secret")
    return path


def _rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.open()))


def test_search_returns_the_smallest_quality_meeting_the_target() -> None:
    image = _photo()
    target = Target(min_ssim=0.93, min_quality=20, max_quality=95)
    best, met = search_quality(image, "jpeg", target)
    assert met and best.ssim_y >= 0.93
    ref_y = luminance(np.asarray(image))
    if best.quality > target.min_quality:  # one step lower misses the target
        lower = encode(image, "jpeg", best.quality - 1)
        assert ssim(ref_y, luminance(np.asarray(Image.open(BytesIO(lower)).convert("RGB")))) < 0.93


def test_renditions_cli(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "web"
    argv = ["renditions", str(source.parent), "-o", str(out), "--sizes", "200,100,400", "--formats", "webp,jpeg"]
    assert main([*argv, "--model", "none", "--no-progress", "--min-ssim", "0.95"]) == 0
    rows = {(r["size"], r["format"]): r for r in _rows(out / "renditions.csv")}
    assert len(rows) == 6
    assert rows[("400", "webp")]["status"] == "skipped" and not (out / "shoe-400.webp").exists()  # never upscaled
    for key in [("200", "webp"), ("200", "jpeg"), ("100", "webp"), ("100", "jpeg")]:
        row = rows[key]
        assert row["status"] == "ok" and float(row["ssim_y"]) >= 0.95
        path = Path(row["path"])
        assert path.stat().st_size == int(row["bytes"])
        with Image.open(path) as im:
            assert im.height == int(key[0]) and im.width < im.height  # orientation applied: portrait
            assert not im.getexif() and "icc_profile" not in im.info and "comment" not in im.info
            assert b"seller secret" not in path.read_bytes()
    # a second run finds everything in the manifest and writes nothing
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert main([*argv, "--model", "none", "--no-progress", "--min-ssim", "0.95"]) == 0
    assert len(_rows(out / "renditions.csv")) == 6
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.suffix != ".csv"} == {
        k: v for k, v in before.items() if not k.endswith(".csv")
    }


def test_existing_files_are_never_overwritten_and_icc_is_kept_on_request(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "web"
    out.mkdir()
    (out / "shoe-100.jpg").write_bytes(b"mine")
    argv = ["renditions", str(source), "-o", str(out), "--sizes", "100", "--formats", "jpeg,webp", "--keep-icc"]
    assert main([*argv, "--model", "none", "--no-progress"]) == 1
    rows = {r["format"]: r for r in _rows(out / "renditions.csv")}
    assert rows["jpeg"]["status"] == "failed" and "not overwritten" in rows["jpeg"]["error"]
    assert (out / "shoe-100.jpg").read_bytes() == b"mine"
    with Image.open(out / "shoe-100.webp") as im:
        assert im.info.get("icc_profile")  # the sRGB profile, on request


def test_unknown_or_unavailable_format(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="unknown format"):
        check_formats(["gif"])
    monkeypatch.setattr(renditions.features, "check", lambda name: False)
    with pytest.raises(ConfigError, match="cannot encode AVIF"):
        check_formats(["avif"])
    assert check_formats(["JPG"]) == ["jpeg"]


def test_prune_manifest_deletes_only_files_as_written_inside_its_folder(tmp_path: Path) -> None:
    root = tmp_path / "renditions"
    rng = np.random.default_rng(7)
    for name in ("keep", "drop", "outside"):
        Image.fromarray(rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)).save(tmp_path / f"{name}.png")
    manifest = root / "renditions.csv"
    counts = renditions.render_batch(
        [(tmp_path / "keep.png", root / "A"), (tmp_path / "drop.png", root / "A")],
        manifest,
        [40],
        ["jpeg"],
        Target(min_ssim=0.5),
    )
    assert counts == {"ok": 2}
    user = tmp_path / "elsewhere" / "outside-40.jpg"  # a user's file a hand-edited manifest row points at
    user.parent.mkdir()
    user.write_bytes((root / "A" / "drop-40.jpg").read_bytes())
    with manifest.open() as fh:
        rows = list(csv.DictReader(fh))
    (dropped,) = [r for r in rows if Path(r["source"]).name == "drop.png"]
    forged = dict(dropped, path=str(user), source=str(tmp_path / "outside.png"))  # length, format, size all match
    with manifest.open("a", newline="") as fh:
        csv.DictWriter(fh, list(rows[0]), lineterminator="\n").writerow(forged)
    pruned = renditions.prune_manifest(manifest, [(tmp_path / "keep.png", root / "A")])
    assert pruned.removed == [str(root / "A" / "drop-40.jpg")] and pruned.rows == 2
    assert [path for path, _why in pruned.left] == [str(user)] and "outside" in pruned.left[0][1]
    assert user.exists() and (root / "A" / "keep-40.jpg").exists()
    assert not (root / "A" / "drop-40.jpg").exists()
    with manifest.open() as fh:
        assert [Path(r["source"]).name for r in csv.DictReader(fh)] == ["keep.png"]


class _FailingScorer:
    """A scorer whose every image fails: the grade bound cannot be checked."""

    def __init__(self) -> None:
        from pixgrade.pipeline.analysis import AnalysisSettings

        self.settings = AnalysisSettings()

    def score_batch(self, analyses: list[object]) -> list[object]:
        from pixgrade.pipeline.result import ImageResult

        return [ImageResult(path="<bytes>", error="model crashed") for _ in analyses]


def test_a_rendition_whose_grade_bound_cannot_be_checked_fails(source: Path, tmp_path: Path) -> None:
    target = Target(min_ssim=0.9, max_score_drop=0.1)
    _, rows = renditions.render_data(source.read_bytes(), "shoe.jpg", [100], ["jpeg"], target, scorer=_FailingScorer())
    ((row, data),) = rows
    assert row.status == "failed" and data is None
    assert row.error is not None and "model crashed" in row.error
    out = tmp_path / "web"
    (row,) = renditions.render_image(source, out, [100], ["jpeg"], target, scorer=_FailingScorer())
    assert row.status == "failed" and "model crashed" in (row.error or "")
    assert not any(out.rglob("*.jpg"))  # nothing written for a rendition whose bound was not checked


def test_renditions_cli_prunes_only_when_asked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    photos, web = tmp_path / "photos", tmp_path / "web"
    photos.mkdir()
    for seed, name in enumerate(("a", "b")):
        _photo(120, 80, seed).save(photos / f"{name}.png")
    argv = ["renditions", str(photos), "-o", str(web), "--sizes", "60", "--formats", "jpeg", "--model", "none"]
    assert main([*argv, "--no-progress", "--min-ssim", "0.5"]) == 0
    assert sorted(p.name for p in web.glob("*.jpg")) == ["a-60.jpg", "b-60.jpg"]
    (photos / "b.png").unlink()
    assert main([*argv, "--no-progress", "--min-ssim", "0.5"]) == 0  # without --prune nothing is removed
    assert (web / "b-60.jpg").exists() and len(_rows(web / "renditions.csv")) == 2
    assert main([*argv, "--no-progress", "--min-ssim", "0.5", "--prune"]) == 0
    assert sorted(p.name for p in web.glob("*.jpg")) == ["a-60.jpg"]
    assert [Path(r["source"]).name for r in _rows(web / "renditions.csv")] == ["a.png"]
    assert "pruned 1 manifest row(s) of images not given, 1 file(s) removed" in capsys.readouterr().err
