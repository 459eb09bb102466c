"""Finding image files and fingerprinting them."""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from pixgrade.errors import ImageLoadError

__all__ = ["iter_image_files", "sha256_bytes", "sha256_file"]


def _is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.stat().st_mode)  # follows symlinks
    except OSError:
        return False


def _walk(root: Path, recursive: bool) -> Iterator[Path]:
    """Regular, non-hidden files under ``root``, depth first, names sorted at each level."""
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError:
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
        except OSError:
            continue
        if _is_regular(path):
            yield path
    if recursive:
        for sub in subdirs:
            yield from _walk(sub, recursive)


def iter_image_files(paths: Iterable[str | Path] | str | Path, *, recursive: bool = True) -> Iterator[Path]:
    """Every regular, non-hidden file under the given files and folders, in sorted order.

    Files are not filtered by extension: the content decides later whether it is an image (``load_image``).
    A file named explicitly is yielded even if its name starts with a dot; inside folders, hidden files and hidden
    folders are skipped, and symbolic links to folders are not followed (no loops). A file reached twice is
    yielded once.

    Args:
        paths: files and/or folders (a single path is accepted too).
        recursive: descend into sub-folders.

    Raises:
        ImageLoadError: a given path does not exist (raised at call time, before anything is yielded).
    """
    roots = [Path(paths)] if isinstance(paths, str | Path) else [Path(p) for p in paths]
    for root in roots:
        if not root.exists():
            raise ImageLoadError(root, "no such file or directory")
    return _iter(roots, recursive)


def _iter(roots: list[Path], recursive: bool) -> Iterator[Path]:
    seen: set[Path] = set()
    for root in roots:
        candidates = _walk(root, recursive) if root.is_dir() else iter([root] if _is_regular(root) else [])
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
