"""Tests of pixgrade.io.load_image on generated images of every supported format and every kind of bad input."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, features

from pixgrade.errors import (
    CorruptImageError,
    DecompressionBombError,
    EmptyFileError,
    ImageLoadError,
    NotAnImageError,
)
from pixgrade.io import LoadedImage, heif_available, load_image


def _gradient(width: int = 64, height: int = 48) -> np.ndarray:
    """A smooth RGB test picture: red rises left to right, green top to bottom, blue constant."""
    x = np.linspace(0, 255, width)[None, :].repeat(height, 0)
    y = np.linspace(0, 255, height)[:, None].repeat(width, 1)
    return np.stack([x, y, np.full_like(x, 90)], axis=2).round().astype(np.uint8)


def _encode(img: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _assert_rgb(loaded: LoadedImage, width: int, height: int) -> None:
    assert loaded.rgb.dtype == np.uint8
    assert loaded.rgb.shape == (height, width, 3)
    assert loaded.rgb.flags.c_contiguous and loaded.rgb.flags.writeable


# --- formats --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "kwargs", "tol"),
    [
        ("JPEG", {"quality": 95}, 12),
        ("PNG", {}, 0),
        ("WEBP", {"lossless": True}, 0),
        ("BMP", {}, 0),
        ("TIFF", {}, 0),
        ("PPM", {}, 0),
    ],
)
def test_formats_decode_to_the_same_pixels(tmp_path: Path, fmt: str, kwargs: dict, tol: int) -> None:
    ref = _gradient()
    path = _write(tmp_path, f"picture.{fmt.lower()}", _encode(Image.fromarray(ref), fmt, **kwargs))
    loaded = load_image(path)
    _assert_rgb(loaded, 64, 48)
    assert loaded.format == fmt
    assert loaded.mode == "RGB"
    assert loaded.path == str(path)
    assert loaded.n_bytes == path.stat().st_size
    assert loaded.original_size == (64, 48)
    assert loaded.alpha is None
    assert np.abs(loaded.rgb.astype(int) - ref).max() <= tol


def test_format_is_decided_by_content_not_extension(tmp_path: Path) -> None:
    png = _encode(Image.fromarray(_gradient()), "PNG")
    loaded = load_image(_write(tmp_path, "really_a_png.jpg", png))
    assert loaded.format == "PNG"
    no_ext = load_image(_write(tmp_path, "upload_without_extension", png))
    assert no_ext.format == "PNG"


def test_bytes_source(tmp_path: Path) -> None:
    data = _encode(Image.fromarray(_gradient()), "PNG")
    loaded = load_image(data)
    assert loaded.path is None
    assert loaded.n_bytes == len(data)
    np.testing.assert_array_equal(loaded.rgb, _gradient())


def test_multipage_tiff_gives_first_page(tmp_path: Path) -> None:
    first = Image.new("RGB", (20, 10), (255, 0, 0))
    second = Image.new("RGB", (30, 30), (0, 0, 255))
    data = _encode(first, "TIFF", save_all=True, append_images=[second])
    loaded = load_image(data)
    assert loaded.rgb.shape == (10, 20, 3)
    assert tuple(loaded.rgb[5, 5]) == (255, 0, 0)


def test_animated_gif_gives_first_frame() -> None:
    frames = [Image.new("RGB", (16, 16), c) for c in [(255, 0, 0), (0, 255, 0), (0, 0, 255)]]
    data = _encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50)
    loaded = load_image(data)
    assert loaded.format == "GIF"
    assert tuple(loaded.rgb[8, 8]) == (255, 0, 0)


def test_mpo_multi_picture_jpeg() -> None:
    frames = [Image.fromarray(_gradient()), Image.new("RGB", (64, 48), (0, 0, 0))]
    data = _encode(frames[0], "MPO", save_all=True, append_images=frames[1:], quality=95)
    loaded = load_image(data)
    assert loaded.format == "MPO"
    assert np.abs(loaded.rgb.astype(int) - _gradient()).max() <= 12


@pytest.mark.skipif(not heif_available(), reason="pi-heif not installed")
def test_heic() -> None:
    # pi-heif decodes only; the fixture is a 64x48 (200, 40, 40) picture encoded once with an HEIF encoder.
    data = (Path(__file__).parent / "fixtures" / "red_64x48.heic").read_bytes()
    loaded = load_image(data)
    assert loaded.format == "HEIF"
    _assert_rgb(loaded, 64, 48)
    assert np.abs(loaded.rgb.astype(int).mean(axis=(0, 1)) - [200, 40, 40]).max() < 8


@pytest.mark.skipif(not features.check("avif"), reason="this Pillow has no AVIF support")
def test_avif() -> None:
    data = _encode(Image.new("RGB", (64, 48), (40, 200, 40)), "AVIF", quality=95)
    loaded = load_image(data)
    assert loaded.format == "AVIF"
    _assert_rgb(loaded, 64, 48)
    assert np.abs(loaded.rgb.astype(int).mean(axis=(0, 1)) - [40, 200, 40]).max() < 8


# --- orientation and colour modes -----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_exif_orientation_is_applied(fmt: str) -> None:
    arr = np.zeros((20, 40, 3), np.uint8)  # stored landscape, a white block at the top-left corner
    arr[:6, :6] = 255
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    data = _encode(Image.fromarray(arr), fmt, exif=exif, **({"quality": 95} if fmt == "JPEG" else {}))
    loaded = load_image(data)
    assert loaded.rgb.shape == (40, 20, 3)  # displayed portrait
    assert loaded.original_size == (20, 40)
    assert loaded.rgb[2, 17].mean() > 200  # the block is now top-right
    assert loaded.rgb[2, 2].mean() < 50


def test_cmyk_jpeg_and_tiff() -> None:
    cmyk = Image.new("CMYK", (32, 32), (0, 255, 255, 0))  # pure red ink-wise
    for fmt in ("JPEG", "TIFF"):
        loaded = load_image(_encode(cmyk, fmt))
        assert loaded.mode == "CMYK"
        r, g, b = loaded.rgb[16, 16].astype(int)
        assert r > 200 and g < 60 and b < 60, (fmt, r, g, b)


def test_cmyk_with_broken_icc_profile_falls_back() -> None:
    cmyk = Image.new("CMYK", (16, 16), (0, 0, 0, 255))
    loaded = load_image(_encode(cmyk, "JPEG", icc_profile=b"not a real profile"))
    assert loaded.rgb.mean() < 40


def test_sixteen_bit_grayscale_png() -> None:
    values = np.array([[0, 257 * 100, 65535]], dtype=np.uint16).repeat(4, 0)
    data = _encode(Image.fromarray(values), "PNG")
    loaded = load_image(data)
    assert loaded.mode.startswith("I")
    np.testing.assert_array_equal(loaded.rgb[0, :, 0], [0, 100, 255])
    np.testing.assert_array_equal(loaded.rgb[..., 0], loaded.rgb[..., 2])


def test_32_bit_integer_and_float_tiff() -> None:
    ints = np.array([[0, 1000, 65535]], dtype=np.int32).repeat(3, 0)
    loaded = load_image(_encode(Image.fromarray(ints), "TIFF"))
    np.testing.assert_array_equal(loaded.rgb[0, :, 1], [0, 4, 255])
    floats = np.array([[0.0, 0.5, 1.0]], dtype=np.float32).repeat(3, 0)
    loaded = load_image(_encode(Image.fromarray(floats), "TIFF"))
    np.testing.assert_array_equal(loaded.rgb[0, :, 1], [0, 128, 255])


def test_grayscale_and_bilevel() -> None:
    gray = Image.fromarray(np.full((8, 8), 77, np.uint8), "L")
    loaded = load_image(_encode(gray, "PNG"))
    assert loaded.mode == "L" and loaded.alpha is None
    assert (loaded.rgb == 77).all()
    bilevel = Image.new("1", (8, 8), 1)
    assert (load_image(_encode(bilevel, "PNG")).rgb == 255).all()


def test_rgba_is_composited_on_white_and_alpha_kept() -> None:
    rgba = np.zeros((10, 10, 4), np.uint8)
    rgba[..., 0] = 200  # red-ish everywhere
    rgba[:5, :, 3] = 255  # top half opaque
    rgba[5:, :, 3] = 0  # bottom half fully transparent (colour underneath must not show)
    rgba[5:, :5, 3] = 128  # bottom-left half transparent
    loaded = load_image(_encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert loaded.mode == "RGBA"
    assert loaded.alpha is not None and loaded.alpha.shape == (10, 10)
    assert tuple(loaded.rgb[0, 0]) == (200, 0, 0)
    assert tuple(loaded.rgb[9, 9]) == (255, 255, 255)
    assert tuple(loaded.rgb[9, 0]) == (227, 127, 127)  # 50% over white: (200*128 + 255*127) / 255 = 227.4
    assert loaded.alpha[9, 9] == 0 and loaded.alpha[0, 0] == 255


def test_fully_opaque_rgba_has_no_alpha() -> None:
    loaded = load_image(_encode(Image.new("RGBA", (8, 8), (10, 20, 30, 255)), "PNG"))
    assert loaded.alpha is None
    assert tuple(loaded.rgb[0, 0]) == (10, 20, 30)


def test_la_mode() -> None:
    la = np.zeros((6, 6, 2), np.uint8)
    la[..., 1] = 255
    la[:, :3, 1] = 0
    loaded = load_image(_encode(Image.fromarray(la, "LA"), "PNG"))
    assert loaded.mode == "LA"
    assert (loaded.rgb[:, :3] == 255).all() and (loaded.rgb[:, 3:] == 0).all()
    assert loaded.alpha is not None and (loaded.alpha[:, :3] == 0).all()


@pytest.mark.parametrize("fmt", ["PNG", "GIF"])
def test_palette_with_transparency(fmt: str) -> None:
    pal = Image.new("P", (12, 12), 1)
    pal.putpalette([0, 0, 0, 0, 0, 255] + [0, 0, 0] * 254)
    pal.paste(0, (0, 0, 6, 12))  # left half uses index 0, declared transparent
    loaded = load_image(_encode(pal, fmt, transparency=0))
    assert loaded.mode == "P"
    assert loaded.alpha is not None
    assert (loaded.rgb[:, :6] == 255).all()  # transparent -> white
    assert tuple(loaded.rgb[6, 9]) == (0, 0, 255)


# --- reduced-size decoding ------------------------------------------------------------------------------------------


def test_max_side_jpeg_uses_draft_and_keeps_original_size(monkeypatch: pytest.MonkeyPatch) -> None:
    ref = np.asarray(Image.fromarray(_gradient()).resize((1600, 1200)))
    data = _encode(Image.fromarray(ref), "JPEG", quality=90)
    calls: list[tuple] = []
    original_draft = Image.Image.draft

    def spy(self: Image.Image, mode: str | None, size: tuple[int, int] | None) -> object:
        calls.append((self.format, size))
        return original_draft(self, mode, size)

    monkeypatch.setattr(Image.Image, "draft", spy)
    from PIL import JpegImagePlugin

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    loaded = load_image(data, max_side=400)
    assert calls, "JPEG decoding with max_side must use draft mode"
    assert loaded.rgb.shape == (300, 400, 3)
    assert loaded.original_size == (1600, 1200)
    assert loaded.reduced
    small_ref = np.asarray(Image.fromarray(ref).resize((400, 300), Image.Resampling.BILINEAR)).astype(int)
    assert np.abs(loaded.rgb.astype(int) - small_ref).mean() < 4


def test_max_side_png_and_rotation() -> None:
    arr = np.zeros((300, 900, 3), np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 8
    loaded = load_image(_encode(Image.fromarray(arr), "PNG", exif=exif), max_side=90)
    assert loaded.original_size == (300, 900)
    assert loaded.rgb.shape == (90, 30, 3)


def test_max_side_never_upscales_and_keeps_alpha_aligned() -> None:
    rgba = np.zeros((100, 200, 4), np.uint8)
    rgba[:, 100:, 3] = 255
    small = load_image(_encode(Image.fromarray(rgba, "RGBA"), "PNG"), max_side=1000)
    assert small.rgb.shape == (100, 200, 3) and not small.reduced
    half = load_image(_encode(Image.fromarray(rgba, "RGBA"), "PNG"), max_side=50)
    assert half.rgb.shape == (25, 50, 3)
    assert half.alpha is not None and half.alpha.shape == (25, 50)
    assert half.alpha[:, :20].max() == 0 and half.alpha[:, 30:].min() == 255
    assert (half.rgb[:, :20] == 255).all()


@pytest.mark.parametrize("quality", [10, 50, 90])
def test_jpeg_quality_estimate(quality: int) -> None:
    loaded = load_image(_encode(Image.fromarray(_gradient()), "JPEG", quality=quality))
    assert loaded.jpeg_quality is not None
    assert abs(loaded.jpeg_quality - quality) <= 1
    assert load_image(_encode(Image.fromarray(_gradient()), "PNG")).jpeg_quality is None


# --- bad input ------------------------------------------------------------------------------------------------------


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width x height`` but carries almost no data: decoding it would fail."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 10)) + chunk(b"IEND", b"")
    )


def test_decompression_bomb_is_refused_from_the_header(tmp_path: Path) -> None:
    path = _write(tmp_path, "bomb.png", _png_header_only(12_000, 10_000))  # 120 MP, only ~60 bytes of data
    limit_before = Image.MAX_IMAGE_PIXELS
    with pytest.raises(DecompressionBombError) as info, pytest.warns(Image.DecompressionBombWarning):
        load_image(path)
    message = str(info.value)
    assert str(path) in message and "12000x10000" in message and "100,000,000" in message
    assert limit_before == Image.MAX_IMAGE_PIXELS  # Pillow's global state untouched


def test_configurable_pixel_limit() -> None:
    data = _encode(Image.new("RGB", (100, 100)), "PNG")
    with pytest.raises(DecompressionBombError, match="10,000 pixels is over the limit of 9,999"):
        load_image(data, max_pixels=9_999)
    assert load_image(data, max_pixels=10_000).rgb.shape == (100, 100, 3)


def test_pillow_hard_limit_becomes_our_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "huge.png", _png_header_only(100_000, 100_000))
    with pytest.raises(DecompressionBombError, match=r"10,000,000,000 pixels") as info:
        load_image(path, max_pixels=10**11)
    assert str(path) in str(info.value)


def test_zero_byte_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "empty.jpg", b"")
    with pytest.raises(EmptyFileError, match="empty file") as info:
        load_image(path)
    assert info.value.path == str(path)
    with pytest.raises(EmptyFileError):
        load_image(b"")


@pytest.mark.parametrize(
    "data", [b"hello, this is a text file pretending to be a photo\n" * 3, bytes(range(256)) * 4, b"%PDF-1.4\n..."]
)
def test_non_image(tmp_path: Path, data: bytes) -> None:
    path = _write(tmp_path, "photo.jpg", data)
    with pytest.raises(NotAnImageError, match="not an image") as info:
        load_image(path)
    assert str(info.value).startswith(str(path))


def test_unsupported_pillow_format_is_not_an_image() -> None:
    data = _encode(Image.new("RGB", (8, 8)), "TGA")
    with pytest.raises(NotAnImageError):
        load_image(data)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF", "TIFF", "BMP"])
def test_truncated_images_are_corrupt(tmp_path: Path, fmt: str) -> None:
    noisy = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    full = _encode(Image.fromarray(noisy), fmt)
    path = _write(tmp_path, f"cut.{fmt.lower()}", full[: len(full) // 2])
    with pytest.raises(CorruptImageError) as info:
        load_image(path)
    assert str(path) in str(info.value)


def test_header_only_fragment_is_corrupt_not_non_image() -> None:
    full = _encode(Image.fromarray(_gradient()), "JPEG")
    with pytest.raises(CorruptImageError, match="looks like JPEG"):
        load_image(full[:6])


def test_damaged_png_checksum_is_corrupt() -> None:
    data = bytearray(_encode(Image.fromarray(_gradient()), "PNG"))
    idat = data.find(b"IDAT")
    data[idat + 10] ^= 0xFF  # flip bits inside the compressed data
    with pytest.raises(CorruptImageError):
        load_image(bytes(data))


def test_directory_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ImageLoadError, match="is a directory") as info:
        load_image(tmp_path)
    assert type(info.value) is ImageLoadError
    with pytest.raises(ImageLoadError, match="no such file"):
        load_image(tmp_path / "missing.png")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can read files without permission")
def test_unreadable_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "secret.png", _encode(Image.new("RGB", (4, 4)), "PNG"))
    path.chmod(0)
    try:
        with pytest.raises(ImageLoadError, match="permission denied"):
            load_image(path)
    finally:
        path.chmod(0o600)


def test_invalid_arguments() -> None:
    data = _encode(Image.new("RGB", (4, 4)), "PNG")
    with pytest.raises(ValueError, match="max_side"):
        load_image(data, max_side=0)
    with pytest.raises(ValueError, match="max_pixels"):
        load_image(data, max_pixels=0)
    with pytest.raises(TypeError):
        load_image(12345)  # type: ignore[arg-type]


def test_permission_error_is_reported_with_the_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Same as test_unreadable_file but also runs as root: the OS refusal is simulated."""
    path = _write(tmp_path, "locked.png", _encode(Image.new("RGB", (4, 4)), "PNG"))

    def refuse(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", refuse)
    with pytest.raises(ImageLoadError, match="permission denied") as info:
        load_image(path)
    assert info.value.path == str(path)


def _faked_header_jpeg(width: int = 9000, height: int = 9000) -> bytes:
    """A real JPEG's header with its size changed, and the scan cut after 10 bytes: 600-odd bytes claiming
    ``width`` × ``height`` (libjpeg pads the missing picture with grey and reports no error)."""
    data = bytearray(_encode(Image.fromarray(_gradient()), "JPEG"))
    sof = data.find(b"\xff\xc0")
    data[sof + 5 : sof + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    sos = data.find(b"\xff\xda")
    start = sos + 2 + int.from_bytes(data[sos + 2 : sos + 4], "big")
    return bytes(data[: start + 10]) + b"\xff\xd9"


def test_faked_header_jpeg_is_a_clear_error_with_the_missing_share() -> None:
    from pixgrade.errors import CorruptImageError

    data = _faked_header_jpeg()
    assert len(data) < 1000
    with pytest.raises(CorruptImageError, match=r"header says 9000x9000 .* at least 99\.9% of the picture is missing"):
        load_image(data, max_side=1024)


@pytest.mark.parametrize(
    "options",
    [{}, {"optimize": True}, {"progressive": True}, {"subsampling": 0}, {"progressive": True, "optimize": True}],
)
@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_flat_complete_jpegs_are_not_taken_for_truncated(mode: str, options: dict[str, object]) -> None:
    """The most compressible complete JPEGs (one flat colour) still hold at least a bit per block."""
    flat = Image.new(mode, (1600, 1200), 255 if mode == "L" else (255, 255, 255))
    image = load_image(_encode(flat, "JPEG", quality=75, **options), max_side=256)
    assert image.original_size == (1600, 1200)


def test_memory_budget_is_checked_from_the_header_before_decoding() -> None:
    from pixgrade.errors import ImageTooLargeError
    from pixgrade.io import decode_memory

    wide = np.zeros((1500, 2000), np.uint16)
    wide[::50] = 60000
    png16 = _encode(Image.fromarray(wide), "PNG")
    need = decode_memory("I;16", (2000, 1500))
    assert need == 2000 * 1500 * (2 + 4)
    with pytest.raises(ImageTooLargeError, match=r"2000x1500 I;16 pixels needs about 17 MiB, over the per-image"):
        load_image(png16, max_image_bytes=10 * 1024 * 1024)
    assert load_image(png16, max_image_bytes=need).original_size == (2000, 1500)
    assert load_image(png16, max_image_bytes=None).rgb.shape == (1500, 2000, 3)
    # A JPEG is first decoded at reduced size when max_side allows it: then the budget counts the reduced size.
    jpeg = _encode(Image.fromarray(np.full((3000, 4000, 3), 200, np.uint8)), "JPEG")
    with pytest.raises(ImageTooLargeError):
        load_image(jpeg, max_image_bytes=20 * 1024 * 1024)
    reduced = load_image(jpeg, max_image_bytes=20 * 1024 * 1024, max_side=512)
    assert reduced.original_size == (4000, 3000) and max(reduced.rgb.shape) == 512


def test_sixteen_bit_conversion_matches_the_value_scale() -> None:
    ramp = (np.arange(300 * 200, dtype=np.uint32).reshape(300, 200) * 65535 // (300 * 200 - 1)).astype(np.uint16)
    image = load_image(_encode(Image.fromarray(ramp), "PNG"))
    expected = np.clip(np.round(ramp / 257.0), 0, 255).astype(np.uint8)
    assert np.array_equal(image.rgb[:, :, 0], expected) and np.array_equal(image.rgb[:, :, 2], expected)


def test_file_size_limit_is_checked_before_reading(tmp_path: Path) -> None:
    from pixgrade.errors import ImageTooLargeError

    data = _encode(Image.fromarray(_gradient()), "PNG")
    path = _write(tmp_path, "a.png", data)
    with pytest.raises(ImageTooLargeError, match=rf"file of {len(data):,} bytes is over the limit of 100 bytes"):
        load_image(path, max_file_bytes=100)
    with pytest.raises(ImageTooLargeError):
        load_image(data, max_file_bytes=100)
    assert load_image(path, max_file_bytes=len(data)).original_size == (64, 48)
