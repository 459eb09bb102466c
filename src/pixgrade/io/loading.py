"""Decode any uploaded image into an RGB array, safely.

The format is decided by the content (Pillow's own identification), never by the file extension. Every failure is
raised as a typed :class:`~pixgrade.errors.ImageLoadError` subclass naming the file and the cause.
"""

from __future__ import annotations

import math
import re
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from pixgrade.errors import (
    CorruptImageError,
    DecompressionBombError,
    EmptyFileError,
    ImageLoadError,
    ImageTooLargeError,
    NotAnImageError,
)
from pixgrade.io.arrays import scaled_size
from pixgrade.io.sources import is_uri, read_file_bytes, read_source, too_big_message

__all__ = [
    "DEFAULT_MAX_FILE_BYTES",
    "DEFAULT_MAX_IMAGE_BYTES",
    "DEFAULT_MAX_PIXELS",
    "SUPPORTED_FORMATS",
    "LoadedImage",
    "decode_memory",
    "heif_available",
    "load_image",
]

DEFAULT_MAX_PIXELS = 100_000_000
#: Default memory budget for decoding one image (see :func:`decode_memory`): 1 GiB, enough for a 100-megapixel
#: RGB photo decoded in full.
DEFAULT_MAX_IMAGE_BYTES = 1024 * 1024 * 1024
#: Default largest file the command line reads (1 GiB; a 100-megapixel uncompressed 16-bit TIFF is 600 MB).
DEFAULT_MAX_FILE_BYTES = 1024 * 1024 * 1024

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


def _read_source(
    source: str | Path | bytes | bytearray | memoryview, max_file_bytes: int | None = None
) -> tuple[bytes, str | None]:
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        if not data:
            raise EmptyFileError(None, "empty input (0 bytes)")
        if max_file_bytes is not None and len(data) > max_file_bytes:
            raise ImageTooLargeError(None, too_big_message(len(data), max_file_bytes))
        return data, None
    if not isinstance(source, str | Path):
        raise TypeError(f"load_image expects a path or bytes, got {type(source).__name__}")
    name = str(source)
    # a URI (s3://, gs://, file://…) is read through pyarrow, as the engines do
    data = read_source(name, max_file_bytes) if is_uri(name) else read_file_bytes(Path(source), name, max_file_bytes)
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


def _pixel_bytes(mode: str) -> int:
    """Bytes Pillow stores per pixel of ``mode`` (RGB and every 3- or 4-band mode take 4)."""
    if mode in ("1", "L", "P"):
        return 1
    if mode.startswith("I;16"):
        return 2
    return 4


def _has_alpha(mode: str, info: Mapping[Any, Any]) -> bool:
    return mode in ("RGBA", "LA", "RGBa", "La", "PA") or (mode in ("P", "L", "RGB", "1") and "transparency" in info)


def decode_memory(mode: str, size: tuple[int, int], *, alpha: bool = False, rotated: bool = False) -> int:
    """Bytes that decoding an image of ``mode`` and ``size`` (from its header) needs at the peak, in
    :func:`load_image`: the decoded frame as Pillow stores it (width × height × bytes per pixel: 1 for L/P,
    2 for 16-bit, 4 for RGB and the other multi-band modes) plus the working copies of the conversion to RGB
    (3 bytes per pixel for the result; 4 more when Pillow converts the mode; 8 more with transparency; one more
    frame when the EXIF orientation turns it)."""
    width, height = size
    pixels = width * height
    frame = pixels * _pixel_bytes(mode)
    if mode.startswith("I;16") or mode in ("I", "F"):
        extra = 4  # gray (1) and RGB (3), converted in strips
    elif alpha:
        extra = 4 + 4 + 3 + 1 + 3  # RGBA frame, its array, RGB and alpha planes, the composited result
    elif mode == "RGB":
        extra = 3
    else:
        extra = 4 + 3  # Pillow's RGB conversion and its array
    return frame * (2 if rotated else 1) + pixels * extra


_STRIP_PIXELS = 4_000_000  # rows converted at a time by the 16-bit and alpha paths (bounded temporaries)


def _as_array(im: Image.Image) -> np.ndarray:
    """``np.asarray(im)`` (a new, writeable array), copied a strip of rows at a time: Pillow's whole-image export
    goes through ``tobytes``, which holds twice the array's size at its peak."""
    width, height = im.size
    if width * height <= _STRIP_PIXELS:
        return np.array(im)
    first = np.asarray(im.crop((0, 0, width, 1)))
    out = np.empty((height, *first.shape[1:]), dtype=first.dtype)
    step = max(1, _STRIP_PIXELS // max(1, width))
    for top in range(0, height, step):
        bottom = min(height, top + step)
        out[top:bottom] = np.asarray(im.crop((0, top, width, bottom)))
    return out


def _wide_to_rgb(im: Image.Image) -> np.ndarray:
    """RGB array of a 16-bit, 32-bit integer or float image, converted a strip of rows at a time."""
    mode = im.mode
    width, height = im.size
    _low, high = im.getextrema()  # type: ignore[misc]
    top = float(high) if isinstance(high, int | float) and math.isfinite(high) else 0.0
    if mode == "F":
        factor = 255.0 if top <= 1.0 else 1.0
    elif mode.startswith("I;16") or top > 255:
        factor = 1.0 / 257.0  # 16-bit range
    else:
        factor = 1.0
    out = np.empty((height, width, 3), dtype=np.uint8)
    step = max(1, _STRIP_PIXELS // max(1, width))
    for top in range(0, height, step):
        bottom = min(height, top + step)
        arr = np.asarray(im.crop((0, top, width, bottom)))
        scaled = arr.astype(np.float64) * factor
        gray = np.clip(np.nan_to_num(scaled), 0, 255).round().astype(np.uint8)
        out[top:bottom] = gray[:, :, None]
    return out


def _to_rgb_alpha(im: Image.Image, name: str | None) -> tuple[Image.Image | np.ndarray, np.ndarray | None]:
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
        return _wide_to_rgb(im), None
    has_alpha = _has_alpha(mode, im.info)
    try:
        if has_alpha:
            rgba = im.convert("RGBA")
            arr = _as_array(rgba)
            alpha = np.ascontiguousarray(arr[:, :, 3])
            del rgba
            return np.ascontiguousarray(arr[:, :, :3]), (alpha if int(alpha.min()) < 255 else None)
        return (im if mode == "RGB" else im.convert("RGB")), None
    except ValueError as exc:  # modes Pillow cannot convert (e.g. LAB without a profile)
        raise ImageLoadError(name, f"unsupported colour mode {mode}: {exc}") from None


def _composite_on_white(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``rgb`` over white by ``alpha``, in place, a strip of rows at a time (bounded temporaries)."""
    if not rgb.flags.writeable:
        rgb = np.array(rgb)
    step = max(1, _STRIP_PIXELS // max(1, rgb.shape[1]))
    for top in range(0, rgb.shape[0], step):
        a = alpha[top : top + step].astype(np.uint16)[:, :, None]
        strip = rgb[top : top + step]
        strip[...] = ((strip.astype(np.uint16) * a + 255 * (255 - a) + 127) // 255).astype(np.uint8)
    return rgb


_SOF_HUFFMAN = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7}  # arithmetic-coded frames (C9-CF) are not checked


def _jpeg_shortfall(data: bytes) -> tuple[int, int] | None:
    """``(needed, present)`` bytes of entropy-coded data when a Huffman-coded JPEG holds fewer than its header's
    size needs, else ``None``. Every 8×8 block of every component costs at least one bit (its DC code), so a
    complete file holds at least ``blocks / 8`` bytes after its first scan header; a file that ends before that
    (truncated, or a faked header such as 9000×9000 in 633 bytes, which libjpeg pads with grey) is damaged."""
    i, n = 2, len(data)
    frame: tuple[int, int, list[tuple[int, int]]] | None = None
    while i + 4 <= n:
        if data[i] != 0xFF:
            return None  # not a marker where one must be: leave it to the decoder
        marker = data[i + 1]
        if marker == 0xFF:
            i += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if marker in _SOF_HUFFMAN and i + 10 <= n:
            height = int.from_bytes(data[i + 5 : i + 7], "big")
            width = int.from_bytes(data[i + 7 : i + 9], "big")
            count = data[i + 9]
            factors = [(data[j + 1] >> 4, data[j + 1] & 15) for j in range(i + 10, min(n - 2, i + 10 + 3 * count), 3)]
            frame = (width, height, [(h, v) for h, v in factors if h and v])
        elif 0xC9 <= marker <= 0xCF and marker != 0xCC:
            return None
        if marker == 0xDA:
            if frame is None or not frame[2]:
                return None
            width, height, factors = frame
            h_max = max(h for h, _ in factors)
            v_max = max(v for _, v in factors)
            blocks = sum(
                math.ceil(math.ceil(width * h / h_max) / 8) * math.ceil(math.ceil(height * v / v_max) / 8)
                for h, v in factors
            )
            needed = blocks // 8
            present = max(0, n - (i + 2 + length))
            return (needed, present) if present < needed else None
        i += 2 + length
    return None


def _resize(arr: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Area-averaging downscale (OpenCV ``INTER_AREA``), the same filter the measures use for their working copy."""
    return cv2.resize(np.ascontiguousarray(arr), size, interpolation=cv2.INTER_AREA)


def load_image(
    source: str | Path | bytes,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_side: int | None = None,
    max_image_bytes: int | None = DEFAULT_MAX_IMAGE_BYTES,
    max_file_bytes: int | None = None,
) -> LoadedImage:
    """Decode an image file or bytes to RGB (EXIF orientation applied, transparency composited on white).

    Args:
        source: a file path, a URI (``s3://…``, read with :func:`pixgrade.io.sources.read_source`) or the
            encoded bytes.
        max_pixels: refuse images with more pixels than this; checked from the header, before any decoding.
        max_side: if given, decode at reduced size (JPEG DCT scaling to 1/2, 1/4 or 1/8 via ``Image.draft``) and
            downscale by area averaging so the longest side of ``rgb`` is at most ``max_side``. Never upscales.
            Other formats are decoded in full, then area-averaged. Use ``max_side >= 512`` to keep the measures'
            values the same as with a full decode (they work on a 512-px copy).
        max_image_bytes: memory budget for decoding (:func:`decode_memory`, from the header, after any reduced
            JPEG decoding that ``max_side`` allows); an image that needs more is refused before it is decoded.
            ``None``: no budget.
        max_file_bytes: refuse a file (or bytes) larger than this before reading it; ``None``: no limit.

    Returns:
        A :class:`LoadedImage`.

    Raises:
        EmptyFileError: zero bytes.
        NotAnImageError: the content is no supported image format (whatever the extension says).
        CorruptImageError: the content is an image but truncated or damaged.
        DecompressionBombError: more than ``max_pixels`` pixels.
        ImageTooLargeError: the file is over ``max_file_bytes``, or decoding it needs more than ``max_image_bytes``.
        ImageLoadError: the file cannot be read (missing, a directory, permissions) or its colour mode is unusable.
    """
    if max_pixels <= 0:
        raise ValueError(f"max_pixels must be positive, got {max_pixels}")
    if max_side is not None and max_side < 1:
        raise ValueError(f"max_side must be >= 1, got {max_side}")
    data, name = _read_source(source, max_file_bytes)
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
        if fmt in ("JPEG", "MPO"):
            shortfall = _jpeg_shortfall(data)
            if shortfall is not None:
                needed, present = shortfall
                raise CorruptImageError(
                    name,
                    f"truncated or faked JPEG: its header says {width}x{height} pixels, which needs at least "
                    f"{needed:,} bytes of image data, but the file holds {present:,}; at least "
                    f"{math.floor(1000 * (1 - present / needed)) / 10:g}% of the picture is missing",
                )
        if max_image_bytes is not None:
            orientation = 1
            try:  # from the header's EXIF only: Image.getexif() may decode a PNG to find its eXIf chunk
                if im.info.get("exif"):
                    header_exif = Image.Exif()
                    header_exif.load(im.info["exif"])
                    orientation = int(header_exif.get(0x0112, 1))
            except _DECODE_ERRORS:
                orientation = 1
            need = decode_memory(im.mode, im.size, alpha=_has_alpha(im.mode, im.info), rotated=orientation != 1)
            if need > max_image_bytes:
                mib = 1024 * 1024
                raise ImageTooLargeError(
                    name,
                    f"decoding {width}x{height} {mode} pixels needs about {need / mib:,.0f} MiB, over the "
                    f"per-image memory budget of {max_image_bytes / mib:,.0f} MiB (raise it to allow this image)",
                )
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
        rgb = rgb_img if isinstance(rgb_img, np.ndarray) else _as_array(rgb_img)
        if alpha is not None:
            rgb = _composite_on_white(rgb, alpha)
        if scale < 1.0:
            target = scaled_size(original_size[0], original_size[1], scale)
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
