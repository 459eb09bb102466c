"""Decode any uploaded image into an RGB array, safely.

The format is decided by the content (Pillow's own identification), never by the file extension. Every failure is
raised as a typed :class:`~pixgrade.errors.ImageLoadError` subclass naming the file and the cause.
"""

from __future__ import annotations

import math
import re
import struct
import zlib
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from pixgrade.errors import (
    CorruptImageError,
    DecompressionBombError,
    EmptyFileError,
    ImageLoadError,
    NotAnImageError,
)

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "SUPPORTED_FORMATS",
    "LoadedImage",
    "heif_available",
    "load_image",
]

DEFAULT_MAX_PIXELS = 100_000_000

try:  # HEIC/HEIF decoding through pi-heif (BSD-3-Clause; its wheels bundle libheif and libde265, LGPL-3.0, and no
    # GPL encoder, unlike pillow-heif's x265). Registering adds a Pillow plugin; it changes nothing else in Pillow.
    import pi_heif

    pi_heif.register_heif_opener()
    _HEIF = True
except ImportError:  # pragma: no cover - pi-heif is a core dependency, but stay usable without it
    _HEIF = False

Image.init()

#: Pillow format names pixgrade accepts. Others that Pillow knows (EPS needs Ghostscript, TGA has no magic number and
#: would "recognise" random bytes, PSD/FITS/... are not photo upload formats) are refused as not an image.
SUPPORTED_FORMATS: tuple[str, ...] = tuple(
    f
    for f in ("JPEG", "MPO", "PNG", "WEBP", "BMP", "DIB", "TIFF", "GIF", "HEIF", "AVIF", "ICO", "PPM")
    if f in Image.ID or f == "MPO"
)
# Plugins Image.open may try (multi-picture JPEG "MPO" is opened by the JPEG plugin).
_OPENERS: tuple[str, ...] = tuple(f for f in SUPPORTED_FORMATS if f in Image.ID)

# Signatures used only to tell "damaged image" from "not an image" when Pillow cannot identify the content.
_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"\xff\xd8\xff", 0, "JPEG"),
    (b"\x89PNG\r\n\x1a\n", 0, "PNG"),
    (b"GIF87a", 0, "GIF"),
    (b"GIF89a", 0, "GIF"),
    (b"BM", 0, "BMP"),
    (b"II*\x00", 0, "TIFF"),
    (b"MM\x00*", 0, "TIFF"),
    (b"WEBP", 8, "WEBP"),
    (b"ftypheic", 4, "HEIF"),
    (b"ftypheix", 4, "HEIF"),
    (b"ftypmif1", 4, "HEIF"),
    (b"ftypavif", 4, "AVIF"),
)

# IJG (Annex K) luminance quantisation table, natural order; the basis of libjpeg's quality scaling.
_IJG_LUMA = np.array(
    [
        [16, 11, 10, 16, 24, 40, 51, 61],
        [12, 12, 14, 19, 26, 58, 60, 55],
        [14, 13, 16, 24, 40, 57, 69, 56],
        [14, 17, 22, 29, 51, 87, 80, 62],
        [18, 22, 37, 56, 68, 109, 103, 77],
        [24, 35, 55, 64, 81, 104, 113, 92],
        [49, 64, 78, 87, 103, 121, 120, 101],
        [72, 92, 95, 98, 112, 100, 103, 99],
    ],
    dtype=np.float64,
).ravel()

# Errors Pillow and its decoders raise on damaged data.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, struct.error, zlib.error)


@dataclass(frozen=True)
class LoadedImage:
    """A decoded image, ready for measures and the model.

    Attributes:
        rgb: ``(H, W, 3)`` uint8 RGB; EXIF orientation applied; transparent areas composited on white.
        alpha: ``(H, W)`` uint8 alpha, or ``None`` when the image has no transparent pixel.
        original_size: ``(width, height)`` of the picture as stored in the file, after EXIF orientation and before
            any reduced-size decoding (so ``rgb`` may be smaller when ``max_side`` was given).
        format: Pillow format name decided from the content, e.g. ``"JPEG"``, ``"PNG"``, ``"HEIF"``.
        mode: Pillow mode of the file, e.g. ``"RGB"``, ``"CMYK"``, ``"P"``, ``"I;16"``.
        path: the file path, or ``None`` for bytes.
        n_bytes: size of the encoded file in bytes.
        jpeg_quality: for JPEG/MPO, the IJG quality (1–100) whose luminance quantisation table is closest to the
            file's; ``None`` for other formats. A header-only compression signal that survives reduced decoding.
    """

    rgb: np.ndarray
    alpha: np.ndarray | None
    original_size: tuple[int, int]
    format: str
    mode: str
    path: str | None
    n_bytes: int
    jpeg_quality: int | None = None

    @property
    def width(self) -> int:
        """Width of ``rgb`` in pixels."""
        return int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        """Height of ``rgb`` in pixels."""
        return int(self.rgb.shape[0])

    @property
    def reduced(self) -> bool:
        """True when ``rgb`` is smaller than the file's own size (decoded with ``max_side``)."""
        return (self.width, self.height) != tuple(self.original_size)


def heif_available() -> bool:
    """True when HEIC/HEIF files can be decoded (pi-heif is installed)."""
    return _HEIF


def _read_source(source: str | Path | bytes | bytearray | memoryview) -> tuple[bytes, str | None]:
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        if not data:
            raise EmptyFileError(None, "empty input (0 bytes)")
        return data, None
    if not isinstance(source, str | Path):
        raise TypeError(f"load_image expects a path or bytes, got {type(source).__name__}")
    path = Path(source)
    name = str(source)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ImageLoadError(name, "no such file") from None
    except IsADirectoryError:
        raise ImageLoadError(name, "is a directory, not an image file") from None
    except PermissionError:
        raise ImageLoadError(name, "permission denied") from None
    except OSError as exc:
        raise ImageLoadError(name, f"cannot read the file: {exc.strerror or exc}") from None
    if not data:
        raise EmptyFileError(name, "empty file (0 bytes)")
    return data, name


def _sniff(data: bytes) -> str | None:
    for magic, offset, fmt in _SIGNATURES:
        if data[offset : offset + len(magic)] == magic:
            return fmt
    return None


def _estimate_jpeg_quality(im: Image.Image) -> int | None:
    """IJG quality whose scaled luminance table is closest (mean absolute difference) to the file's table 0."""
    tables = getattr(im, "quantization", None)
    if not tables or 0 not in tables or len(tables[0]) != 64:
        return None
    table = np.asarray(tables[0], dtype=np.float64)
    qualities = np.arange(1, 101)
    scales = np.where(qualities < 50, 5000.0 / qualities, 200.0 - 2.0 * qualities)
    candidates = np.clip(np.floor((_IJG_LUMA[None, :] * scales[:, None] + 50.0) / 100.0), 1, 255)
    errors = np.abs(candidates - table[None, :]).mean(axis=1)
    return int(qualities[int(np.argmin(errors))])


def _open(data: bytes, name: str | None, max_pixels: int) -> Image.Image:
    try:
        im = Image.open(BytesIO(data), formats=_OPENERS)
    except Image.DecompressionBombError as exc:  # Pillow's own hard limit (2 x Image.MAX_IMAGE_PIXELS)
        numbers = [int(n) for n in re.findall(r"\d+", str(exc))]
        size = f"{numbers[0]:,} pixels" if numbers else "too many pixels"
        raise DecompressionBombError(
            name,
            f"{size} is over Pillow's hard limit of {2 * (Image.MAX_IMAGE_PIXELS or 0):,} pixels "
            f"(pixgrade limit: {max_pixels:,}); refusing to decode (possible decompression bomb)",
        ) from None
    except UnidentifiedImageError:
        claimed = _sniff(data)
        if claimed == "HEIF" and not _HEIF:
            raise NotAnImageError(name, "HEIC/HEIF image but pi-heif is not installed") from None
        if claimed is not None:
            raise CorruptImageError(name, f"looks like {claimed} but its header cannot be read (damaged)") from None
        head = data[:16]
        raise NotAnImageError(
            name, f"not an image in a supported format ({', '.join(SUPPORTED_FORMATS)}); starts with {head!r}"
        ) from None
    except _DECODE_ERRORS as exc:
        claimed = _sniff(data) or "an image"
        raise CorruptImageError(name, f"looks like {claimed} but its header cannot be read: {exc}") from None
    return im


def _to_rgb_alpha(im: Image.Image, name: str | None) -> tuple[Image.Image, np.ndarray | None]:
    """Convert any Pillow mode to an ``RGB`` image plus an optional alpha array (values, not yet composited)."""
    mode = im.mode
    if mode == "CMYK":
        icc = im.info.get("icc_profile")
        if icc:
            try:
                src = ImageCms.ImageCmsProfile(BytesIO(icc))
                converted = ImageCms.profileToProfile(im, src, ImageCms.createProfile("sRGB"), outputMode="RGB")
                if converted is not None:
                    return converted, None
            except (ImageCms.PyCMSError, OSError, ValueError):
                pass  # a broken profile: fall back to Pillow's plain conversion
        return im.convert("RGB"), None
    if mode.startswith("I;16") or mode in ("I", "F"):
        arr = np.asarray(im)
        if mode == "F":
            finite = arr[np.isfinite(arr)]
            top = float(finite.max()) if finite.size else 0.0
            scaled = arr * 255.0 if top <= 1.0 else arr
        elif mode.startswith("I;16") or (arr.size and int(arr.max()) > 255):
            scaled = arr.astype(np.float64) / 257.0  # 16-bit range
        else:
            scaled = arr.astype(np.float64)
        gray = np.clip(np.nan_to_num(scaled), 0, 255).round().astype(np.uint8)
        return Image.fromarray(np.repeat(gray[:, :, None], 3, axis=2), "RGB"), None
    has_alpha = mode in ("RGBA", "LA", "RGBa", "La", "PA") or (
        mode in ("P", "L", "RGB", "1") and "transparency" in im.info
    )
    try:
        if has_alpha:
            rgba = im.convert("RGBA")
            arr = np.asarray(rgba)
            alpha = np.ascontiguousarray(arr[:, :, 3])
            rgb = Image.fromarray(np.ascontiguousarray(arr[:, :, :3]), "RGB")
            return rgb, (alpha if int(alpha.min()) < 255 else None)
        return (im if mode == "RGB" else im.convert("RGB")), None
    except ValueError as exc:  # modes Pillow cannot convert (e.g. LAB without a profile)
        raise ImageLoadError(name, f"unsupported colour mode {mode}: {exc}") from None


def _composite_on_white(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    a = alpha.astype(np.uint16)[:, :, None]
    out = (rgb.astype(np.uint16) * a + 255 * (255 - a) + 127) // 255
    return out.astype(np.uint8)


def _resize(arr: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Area-averaging downscale (OpenCV ``INTER_AREA``), the same filter the measures use for their working copy."""
    return cv2.resize(np.ascontiguousarray(arr), size, interpolation=cv2.INTER_AREA)


def load_image(
    source: str | Path | bytes,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_side: int | None = None,
) -> LoadedImage:
    """Decode an image file or bytes to RGB (EXIF orientation applied, transparency composited on white).

    Args:
        source: a file path or the encoded bytes.
        max_pixels: refuse images with more pixels than this; checked from the header, before any decoding.
        max_side: if given, decode at reduced size (JPEG DCT scaling to 1/2, 1/4 or 1/8 via ``Image.draft``) and
            downscale by area averaging so the longest side of ``rgb`` is at most ``max_side``. Never upscales.
            Other formats are decoded in full, then area-averaged. Use ``max_side >= 512`` to keep the measures'
            values the same as with a full decode (they work on a 512-px copy).

    Returns:
        A :class:`LoadedImage`.

    Raises:
        EmptyFileError: zero bytes.
        NotAnImageError: the content is no supported image format (whatever the extension says).
        CorruptImageError: the content is an image but truncated or damaged.
        DecompressionBombError: more than ``max_pixels`` pixels.
        ImageLoadError: the file cannot be read (missing, a directory, permissions) or its colour mode is unusable.
    """
    if max_pixels <= 0:
        raise ValueError(f"max_pixels must be positive, got {max_pixels}")
    if max_side is not None and max_side < 1:
        raise ValueError(f"max_side must be >= 1, got {max_side}")
    data, name = _read_source(source)
    im = _open(data, name, max_pixels)
    with im:
        fmt = str(im.format)
        if fmt not in SUPPORTED_FORMATS:  # Image.open(formats=...) already restricts; verify what it claims
            raise NotAnImageError(name, f"unsupported image format {fmt}")
        width, height = im.size
        if width < 1 or height < 1:
            raise CorruptImageError(name, f"{fmt} header gives an empty size {width}x{height}")
        if width * height > max_pixels:
            raise DecompressionBombError(
                name,
                f"{width}x{height} = {width * height:,} pixels is over the limit of {max_pixels:,} pixels "
                "(possible decompression bomb; raise max_pixels to allow it)",
            )
        mode = im.mode
        jpeg_quality = _estimate_jpeg_quality(im) if fmt in ("JPEG", "MPO") else None
        scale = 1.0
        if max_side is not None and max(width, height) > max_side:
            scale = max_side / max(width, height)
            if fmt in ("JPEG", "MPO"):
                # DCT scaling to the smallest 1/2, 1/4, 1/8 size still >= the target: much less work to decode.
                im.draft(None, (math.ceil(width * scale), math.ceil(height * scale)))
        try:
            im.load()
        except Image.DecompressionBombError as exc:
            raise DecompressionBombError(name, str(exc)) from None
        except MemoryError:
            raise ImageLoadError(name, f"not enough memory to decode {width}x{height} pixels") from None
        except _DECODE_ERRORS as exc:
            raise CorruptImageError(name, f"{fmt} data is truncated or damaged: {exc}") from None
        frame: Image.Image = im
        swap = False
        try:
            orientation = int(im.getexif().get(0x0112, 1))
            if orientation != 1:
                frame = ImageOps.exif_transpose(im)
                swap = orientation in (5, 6, 7, 8)
        except _DECODE_ERRORS:
            frame = im  # broken EXIF: keep the stored orientation
        original_size = (height, width) if swap else (width, height)

        rgb_img, alpha = _to_rgb_alpha(frame, name)
        rgb = np.asarray(rgb_img, dtype=np.uint8)
        if alpha is not None:
            rgb = _composite_on_white(rgb, alpha)
        if scale < 1.0:
            target = (max(1, round(original_size[0] * scale)), max(1, round(original_size[1] * scale)))
            if (rgb.shape[1], rgb.shape[0]) != target:
                rgb = _resize(rgb, target)
                if alpha is not None:
                    alpha = _resize(alpha, target)
        if not rgb.flags.writeable or not rgb.flags.c_contiguous:
            rgb = np.array(rgb, dtype=np.uint8, order="C")
        if alpha is not None and not alpha.flags.writeable:
            alpha = np.array(alpha, dtype=np.uint8, order="C")
    return LoadedImage(
        rgb=rgb,
        alpha=alpha,
        original_size=original_size,
        format=fmt,
        mode=mode,
        path=name,
        n_bytes=len(data),
        jpeg_quality=jpeg_quality,
    )
