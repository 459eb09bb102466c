"""Decoding for full-reference work: full resolution, EXIF orientation applied, colour converted to sRGB."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, ImageOps

from pixgrade.errors import DecompressionBombError, ImageLoadError, NotAnImageError

__all__ = ["open_srgb", "srgb_profile_bytes"]

_SRGB = ImageCms.createProfile("sRGB")


def srgb_profile_bytes() -> bytes:
    """An sRGB ICC profile (littleCMS's built-in), for copies that keep a profile (``--keep-icc``)."""
    return bytes(ImageCms.ImageCmsProfile(_SRGB).tobytes())


def open_srgb(path: str | Path, max_pixels: int = 100_000_000) -> Image.Image:
    """Decode ``path`` at full resolution to an 8-bit ``RGB`` Pillow image in sRGB.

    EXIF orientation is applied; an embedded ICC profile (RGB, CMYK or grey) is honoured by converting to sRGB
    (a broken profile falls back to Pillow's plain conversion); transparency is composited on white. The result
    carries no metadata (``info`` is empty).

    Raises:
        ImageLoadError (or a subclass): the file cannot be read, is no image, is damaged or too large.
    """
    name = str(path)
    try:
        im = Image.open(path)
    except FileNotFoundError:
        raise ImageLoadError(name, "no such file") from None
    except IsADirectoryError:
        raise ImageLoadError(name, "is a directory") from None
    except Image.UnidentifiedImageError:
        raise NotAnImageError(name, "not a supported image format") from None
    except OSError as exc:
        raise ImageLoadError(name, f"cannot read: {exc}") from None
    with im:
        if im.width * im.height > max_pixels:
            raise DecompressionBombError(name, f"{im.width}x{im.height} is over the limit of {max_pixels:,} pixels")
        try:
            im.load()
            icc = im.info.get("icc_profile")
            oriented = ImageOps.exif_transpose(im)
            out = _to_srgb(oriented, icc)
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise ImageLoadError(name, f"cannot decode: {exc}") from None
    out.info.clear()
    return out


def _to_srgb(im: Image.Image, icc: bytes | None) -> Image.Image:
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(white, rgba).convert("RGB")
    elif im.mode.startswith("I;16") or im.mode in ("I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        peak = 65535.0 if arr.max() > 255 else 255.0
        im = Image.fromarray((arr / peak * 255.0).round().clip(0, 255).astype(np.uint8)).convert("RGB")
        icc = None
    if icc and im.mode in ("RGB", "CMYK", "L"):
        try:
            source = ImageCms.ImageCmsProfile(BytesIO(icc))
            converted = ImageCms.profileToProfile(im, source, _SRGB, outputMode="RGB")
            if converted is not None:
                return converted
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass
    return im.convert("RGB") if im.mode != "RGB" else im.copy()
