"""Copies of image files without their metadata (EXIF with GPS, XMP, IPTC, comments), for ``filter
--strip-metadata``."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

from PIL import Image, ImageOps, JpegImagePlugin

__all__ = ["stripped_bytes", "stripped_copy"]


def stripped_copy(path: str | Path) -> tuple[bytes, str]:
    """:func:`stripped_bytes` of a file."""
    return stripped_bytes(Path(path).read_bytes(), Path(path).suffix)


def stripped_bytes(data: bytes, suffix: str) -> tuple[bytes, str]:
    """The image in ``data`` (a file whose name ends in ``suffix``) re-encoded with no metadata but its ICC
    profile, EXIF orientation applied to the pixels, and the file suffix it needs.

    JPEG stays JPEG with the source's own quantisation tables and chroma subsampling (one decode/encode round:
    pixel values may move by a few levels); PNG and WebP are written losslessly (WebP lossless may be larger than
    a lossy source); any other format becomes a PNG (suffix ``.png``).

    Raises:
        OSError, ValueError: the file cannot be read or decoded.
    """
    with Image.open(BytesIO(data)) as im:
        im.load()
        fmt = str(im.format)
        icc = im.info.get("icc_profile")
        options: dict[str, object] = {}
        if fmt in ("JPEG", "MPO"):
            options = {
                "qtables": getattr(im, "quantization", None),
                "subsampling": JpegImagePlugin.get_sampling(im),
                "optimize": True,
            }
        oriented = ImageOps.exif_transpose(im)
    if fmt in ("JPEG", "MPO"):
        out_format = "JPEG"
        pixels = oriented if oriented.mode in ("RGB", "L", "CMYK") else oriented.convert("RGB")
        if options["subsampling"] == -1:
            options.pop("subsampling")
    elif fmt == "WEBP":
        out_format, pixels, options = "WEBP", oriented, {"lossless": True}
    else:
        out_format, pixels = "PNG", oriented
        if fmt != "PNG":
            suffix = ".png"
    clean = pixels.copy()
    clean.info.clear()
    if icc:
        options["icc_profile"] = icc
    buffer = BytesIO()
    clean.save(buffer, format=out_format, **options)
    return buffer.getvalue(), suffix
