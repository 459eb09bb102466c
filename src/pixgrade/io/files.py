"""Finding image files and fingerprinting them."""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from pixgrade.errors import ImageLoadError

__all__ = ["WalkErrorHandler", "iter_image_files", "path_from_text", "path_text", "sha256_bytes", "sha256_file"]

_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_UNESCAPES = {"\\": "\\", "n": "\n", "r": "\r", "t": "\t"}


def path_text(path: str | os.PathLike[str]) -> str:
    """A file name as printable, valid UTF-8 text that :func:`path_from_text` turns back into the same name.

    File names are bytes on POSIX; Python hands undecodable bytes over as lone surrogates (``surrogateescape``),
    which no UTF-8 file can hold. This writes them, and control characters, as ``\\xNN``; newline, carriage return
    and tab as ``\\n``, ``\\r``, ``\\t``; a backslash as ``\\\\``. Every other name (the usual case) is unchanged.
    """
    text = os.fspath(path)
    if text.isprintable() and "\\" not in text and not any("\udc80" <= c <= "\udcff" for c in text):
        return text
    out: list[str] = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif "\udc80" <= char <= "\udcff":  # an undecodable byte, as surrogateescape gives it
            out.append(f"\\x{ord(char) - 0xDC00:02x}")
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(char)
    return "".join(out)


def path_from_text(text: str) -> str:
    """The file name that :func:`path_text` wrote as ``text`` (undecodable bytes back as surrogates, so
    ``os.fsencode`` gives the original bytes). A backslash not starting an escape is kept as it is."""
    if "\\" not in text:
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            following = text[i + 1]
            if following in _UNESCAPES:
                out.append(_UNESCAPES[following])
                i += 2
                continue
            code = text[i + 2 : i + 4]
            if following == "x" and len(code) == 2 and all(c in "0123456789abcdefABCDEF" for c in code):
                value = int(code, 16)
                out.append(chr(0xDC00 + value) if value >= 0x80 else chr(value))
                i += 4
                continue
        out.append(char)
        i += 1
    return "".join(out)


WalkErrorHandler = Callable[[Path, str], None]
"""Called with ``(path, cause)`` for every folder or file found while walking that cannot be read."""


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a named pipe"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a device")):
        if test(mode):
            return name
    return "a block device" if stat.S_ISBLK(mode) else "not a regular file"


def _regular(path: Path, on_error: WalkErrorHandler | None) -> bool:
    """True for a regular file (symbolic links followed); else report why it cannot be read, if asked."""
    try:
        mode = path.stat().st_mode  # follows symlinks
    except OSError as exc:
        if on_error is not None:
            if path.is_symlink():
                cause = f"broken symbolic link (points to {os.readlink(path)!r}, which cannot be read)"
            else:
                cause = f"cannot read the file: {exc.strerror or exc}"
            on_error(path, cause)
        return False
    if stat.S_ISREG(mode):
        return True
    if on_error is not None and not stat.S_ISDIR(mode):
        on_error(path, f"{_kind(mode)}, not an image file; skipped")
    return False


def _walk(root: Path, recursive: bool, on_error: WalkErrorHandler | None) -> Iterator[Path]:
    """Regular, non-hidden files under ``root``, depth first, names sorted at each level."""
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError as exc:
        if on_error is not None:
            on_error(root, f"cannot read the folder: {exc.strerror or exc}")
        return
    subdirs: list[Path] = []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = Path(entry.path)
        try:
            if entry.is_dir(follow_symlinks=False):
                subdirs.append(path)
                continue
        except OSError as exc:
            if on_error is not None:
                on_error(path, f"cannot read the entry: {exc.strerror or exc}")
            continue
        if _regular(path, on_error):
            yield path
    if recursive:
        for sub in subdirs:
            yield from _walk(sub, recursive, on_error)


def iter_image_files(
    paths: Iterable[str | Path] | str | Path,
    *,
    recursive: bool = True,
    on_error: WalkErrorHandler | None = None,
) -> Iterator[Path]:
    """Every regular, non-hidden file under the given files and folders, in sorted order.

    Files are not filtered by extension: the content decides later whether it is an image (``load_image``).
    A file named explicitly is yielded even if its name starts with a dot; inside folders, hidden files and hidden
    folders are skipped, and symbolic links to folders are not followed (no loops). A file reached twice is
    yielded once.

    Args:
        paths: files and/or folders (a single path is accepted too).
        recursive: descend into sub-folders.
        on_error: called with ``(path, cause)`` for each folder that cannot be listed (permissions, I/O error)
            and each entry that is no readable file (a broken symbolic link, a named pipe or socket), so a
            caller can give it a row; without it they are skipped silently.

    Raises:
        ImageLoadError: a given path does not exist (raised at call time, before anything is yielded).
    """
    roots = [Path(paths)] if isinstance(paths, str | Path) else [Path(p) for p in paths]
    for root in roots:
        if not root.exists():
            raise ImageLoadError(root, "no such file or directory")
    return _iter(roots, recursive, on_error)


def _iter(roots: list[Path], recursive: bool, on_error: WalkErrorHandler | None) -> Iterator[Path]:
    seen: set[Path] = set()
    for root in roots:
        if root.is_dir():
            candidates = _walk(root, recursive, on_error)
        else:
            candidates = iter([root] if _regular(root, on_error) else [])
        for path in candidates:
            key = path.resolve()
            if key in seen:
                continue
            seen.add(key)
            yield path


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes (streamed, constant memory)."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of bytes (e.g. an upload), equal to :func:`sha256_file` of the same content."""
    return hashlib.sha256(data).hexdigest()


def temp_file_beside(path: Path, suffix: str = ".tmp") -> tuple[int, str]:
    """A new temporary file in ``path``'s folder (so ``os.replace`` onto ``path`` is atomic), with the permissions
    ``open()`` would give (``mkstemp`` makes it 0600). Returns ``(fd, name)`` as :func:`tempfile.mkstemp` does."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    return fd, tmp
