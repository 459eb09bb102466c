"""Typed errors shared by every layer. Each message names the file (when there is one) and the cause."""

from __future__ import annotations

from pathlib import Path


class PixgradeError(Exception):
    """Base class of pixgrade's own errors."""


class ConfigError(PixgradeError, ValueError):
    """A configuration file or option is invalid."""


class ImageLoadError(PixgradeError):
    """An image could not be loaded. ``str(err)`` reads ``"<path>: <cause>"``; ``kind`` names the failure for
    machines (the service's error code)."""

    kind = "unreadable_image"

    def __init__(self, path: str | Path | None, cause: str) -> None:
        self.path = str(path) if path is not None else "<bytes>"
        self.cause = cause
        super().__init__(f"{self.path}: {cause}")


class NotAnImageError(ImageLoadError):
    """The content is not an image format pixgrade can decode (decided by content, not by extension)."""

    kind = "not_an_image"


class CorruptImageError(ImageLoadError):
    """The content claims to be an image but is truncated or damaged."""

    kind = "corrupt_image"


class EmptyFileError(ImageLoadError):
    """The file has zero bytes."""

    kind = "empty_file"


class DecompressionBombError(ImageLoadError):
    """The image has more pixels than the configured limit."""

    kind = "too_many_pixels"


class ImageTooLargeError(ImageLoadError):
    """The file, or the memory its decoding needs (known from the header), is over the configured limit."""

    kind = "too_large"
