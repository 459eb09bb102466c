"""Image sources: list and read local files and URIs (``s3://``, ``gs://``, ``hdfs://``, ``file://``…).

Local paths are read with the standard library; URIs through :mod:`pyarrow.fs`, so every engine (local worker
processes or Ray) reads the same inputs in the same way. S3 endpoints and credentials come from the
environment (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``…) as for any pyarrow S3 filesystem.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pixgrade.errors import ConfigError, ImageLoadError, ImageTooLargeError
from pixgrade.io.files import WalkErrorHandler

__all__ = [
    "check_file_size",
    "is_uri",
    "list_sources",
    "read_file_bytes",
    "read_source",
    "source_size",
    "too_big_message",
]


def is_uri(path: str | Path) -> bool:
    """True for ``scheme://…`` strings (``s3://``, ``gs://``, ``file://``…), False for plain local paths."""
    if not isinstance(path, str):
        return False
    scheme, sep, _ = path.partition("://")
    return bool(sep) and scheme.isidentifier() and len(scheme) > 1


def read_source(source: str | Path | bytes | bytearray | memoryview, max_file_bytes: int | None = None) -> bytes:
    """The bytes of a local file, a URI or an in-memory buffer (returned as it is).

    ``max_file_bytes``: a file or object larger than this is refused before it is read (``None``: no limit).

    Raises:
        ImageLoadError: the file or object cannot be read (missing, a folder, denied, unreachable), naming it.
        ImageTooLargeError: the file is larger than ``max_file_bytes``.
    """
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source)
    if is_uri(source):
        return _read_uri(str(source), max_file_bytes)
    missing = "no such file (it was removed or renamed during the run)"
    return read_file_bytes(Path(source), str(source), max_file_bytes, missing=missing)


def source_size(source: str | Path) -> int | None:
    """The size in bytes of a local file or an object named by a URI; None when it cannot be found."""
    if not is_uri(source):
        try:
            return Path(source).stat().st_size
        except OSError:
            return None
    import pyarrow.fs as pafs

    try:
        filesystem, path = pafs.FileSystem.from_uri(str(source))
        info = filesystem.get_file_info(path)
    except (OSError, ValueError):
        return None
    return int(info.size) if info.type == pafs.FileType.File and info.size is not None else None


def _read_uri(uri: str, max_file_bytes: int | None = None) -> bytes:
    import pyarrow.fs as pafs

    try:
        filesystem, path = pafs.FileSystem.from_uri(uri)
        with filesystem.open_input_file(path) as handle:
            size = handle.size()
            if max_file_bytes is not None and size > max_file_bytes:  # refused before it is read
                raise ImageTooLargeError(uri, too_big_message(size, max_file_bytes))
            data: bytes = handle.read()
    except (OSError, ValueError) as exc:  # pyarrow raises OSError subclasses for missing/denied objects
        raise ImageLoadError(uri, f"cannot read: {exc}") from None
    return data


def list_sources(paths: Iterable[str | Path], on_error: WalkErrorHandler | None = None) -> list[str]:
    """Expand files and folders (local paths or URIs) into the list of files to score.

    Local paths alone give exactly :func:`pixgrade.io.iter_image_files` (recursive, sorted, hidden files skipped,
    each file once). URIs are listed with :mod:`pyarrow.fs`: a URI naming a file is kept as it is; a
    prefix/folder is listed recursively, sorted, hidden files and folders skipped. Mixed inputs are listed in the
    order given. ``on_error`` gets each unreadable local folder or entry with its cause (see
    :func:`~pixgrade.io.iter_image_files`).

    Raises:
        ConfigError: a path or URI that names nothing, or a URI pyarrow cannot list (unknown scheme, denied).
    """
    from pixgrade.io.files import iter_image_files

    texts = [str(p) for p in paths]
    for text in texts:
        if not is_uri(text) and not Path(text).exists():
            raise ConfigError(f"{text}: no such file or folder")
    if not any(is_uri(text) for text in texts):
        return [str(p) for p in iter_image_files(texts, on_error=on_error)]
    found: dict[str, None] = {}  # ordered set: a file reached twice is listed once
    for text in texts:
        listed = _list_uri(text) if is_uri(text) else [str(p) for p in iter_image_files([text], on_error=on_error)]
        found.update(dict.fromkeys(listed))
    return list(found)


def _list_uri(uri: str) -> list[str]:
    import pyarrow.fs as pafs

    try:
        filesystem, root = pafs.FileSystem.from_uri(uri)
        info = filesystem.get_file_info(root)
        if info.type == pafs.FileType.File:
            return [uri]
        if info.type != pafs.FileType.Directory:
            raise ConfigError(f"{uri}: no such file or folder")
        entries = filesystem.get_file_info(pafs.FileSelector(root, recursive=True))
    except (OSError, ValueError) as exc:  # unknown scheme, unreachable endpoint, access denied
        raise ConfigError(f"{uri}: cannot list it: {exc}") from None
    scheme = uri.split("://", 1)[0]
    base = len(root.rstrip("/")) + 1
    return [
        f"{scheme}://{entry.path}"
        for entry in sorted(entries, key=lambda e: e.path)
        if entry.type == pafs.FileType.File and not any(part.startswith(".") for part in entry.path[base:].split("/"))
    ]


def too_big_message(size: int, limit: int) -> str:
    """The cause given for a file over the size limit."""
    return f"file of {size:,} bytes is over the limit of {limit:,} bytes (raise the maximum file size to allow it)"


def check_file_size(path: Path, name: str, max_file_bytes: int | None) -> None:
    """Refuse, before reading it, a file larger than ``max_file_bytes`` (``None``: no limit)."""
    if max_file_bytes is None:
        return
    try:
        size = path.stat().st_size
    except OSError:
        return  # reading it reports the cause
    if size > max_file_bytes:
        raise ImageTooLargeError(name, too_big_message(size, max_file_bytes))


def read_file_bytes(path: Path, name: str, max_file_bytes: int | None, *, missing: str = "no such file") -> bytes:
    """The bytes of a local file, refused before reading when over ``max_file_bytes`` (:func:`check_file_size`).

    Raises:
        ImageLoadError: the file is missing (``missing`` is the cause given), a folder, denied or unreadable,
            naming it as ``name``.
        ImageTooLargeError: the file is larger than ``max_file_bytes``.
    """
    check_file_size(path, name, max_file_bytes)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ImageLoadError(name, missing) from None
    except IsADirectoryError:
        raise ImageLoadError(name, "is a directory, not an image file") from None
    except PermissionError:
        raise ImageLoadError(name, "permission denied") from None
    except OSError as exc:
        raise ImageLoadError(name, f"cannot read the file: {exc.strerror or exc}") from None
