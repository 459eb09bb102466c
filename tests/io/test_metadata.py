"""Copies without metadata (``filter --strip-metadata``): no EXIF/GPS/comments, orientation applied, re-runs
find their own copy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from pixgrade.catalog import place_file
from pixgrade.io.metadata import stripped_copy


def _jpeg_with_gps(path: Path) -> np.ndarray:
    yy, xx = np.mgrid[0:60, 0:90]
    arr = np.stack([xx * 2.5, yy * 3.0, np.full_like(xx, 120)], axis=-1).astype(np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6  # view rotated 90° clockwise
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 29.0)}
    Image.fromarray(arr).save(path, quality=90, exif=exif.tobytes(), comment=b"shot at home")
    return arr


def test_stripped_jpeg_has_no_metadata_and_upright_pixels(tmp_path: Path) -> None:
    src = tmp_path / "a.jpg"
    arr = _jpeg_with_gps(src)
    data, suffix = stripped_copy(src)
    assert suffix == ".jpg" and b"shot at home" not in data and b"Exif" not in data
    out = tmp_path / "copy.jpg"
    out.write_bytes(data)
    with Image.open(out) as im:
        assert im.format == "JPEG" and not im.getexif() and im.size == (60, 90)  # rotated: portrait
        upright = np.asarray(Image.fromarray(arr).transpose(Image.Transpose.ROTATE_270), dtype=float)
        assert np.abs(np.asarray(im, dtype=float) - upright).mean() < 4.0


def test_png_text_is_dropped_pixels_exact(tmp_path: Path) -> None:
    from PIL.PngImagePlugin import PngInfo

    src = tmp_path / "b.png"
    info = PngInfo()
    info.add_text("Author", "someone")
    arr = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    Image.fromarray(arr).save(src, pnginfo=info)
    data, suffix = stripped_copy(src)
    assert suffix == ".png" and b"someone" not in data
    (tmp_path / "c.png").write_bytes(data)
    with Image.open(tmp_path / "c.png") as im:
        assert np.array_equal(np.asarray(im), arr) and "Author" not in im.info


def test_place_file_with_content_never_duplicates_on_rerun(tmp_path: Path) -> None:
    src = tmp_path / "a.jpg"
    _jpeg_with_gps(src)
    before = src.read_bytes()
    folder = tmp_path / "out"
    first, changed = place_file(src, folder, content=stripped_copy)
    again, changed_again = place_file(src, folder, content=stripped_copy)
    assert changed and not changed_again and first == again == folder / "a.jpg"
    assert src.read_bytes() == before  # the original is untouched
    (folder / "b.jpg").write_bytes(b"mine")
    other = tmp_path / "b.jpg"
    _jpeg_with_gps(other)
    placed, _ = place_file(other, folder, content=stripped_copy)
    assert placed.name == "b-1.jpg" and (folder / "b.jpg").read_bytes() == b"mine"
