"""pixgrade.io: decode any uploaded image safely (content decides the format) and find image files.

Public API: :class:`LoadedImage`, :func:`load_image`, :func:`iter_image_files`, :func:`sha256_file`,
:func:`sha256_bytes`, :data:`SUPPORTED_FORMATS`, :func:`heif_available`, :func:`decode_memory` and the default limits.
"""

from pixgrade.io.files import iter_image_files, sha256_bytes, sha256_file
from pixgrade.io.loading import (
    DEFAULT_MAX_FILE_BYTES,
    DEFAULT_MAX_IMAGE_BYTES,
    DEFAULT_MAX_PIXELS,
    SUPPORTED_FORMATS,
    LoadedImage,
    decode_memory,
    heif_available,
    load_image,
)

__all__ = [
    "DEFAULT_MAX_FILE_BYTES",
    "DEFAULT_MAX_IMAGE_BYTES",
    "DEFAULT_MAX_PIXELS",
    "SUPPORTED_FORMATS",
    "LoadedImage",
    "decode_memory",
    "heif_available",
    "iter_image_files",
    "load_image",
    "sha256_bytes",
    "sha256_file",
]
