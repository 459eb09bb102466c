"""Copy, link or move files into output folders without ever overwriting or losing a file, and put the images
``pixgrade filter`` decided on into the decision folders (:func:`place_decided`).

- A name already taken gets a suffix (``shoe.jpg`` → ``shoe-1.jpg``), except when the file already there has
  the same content (a re-run): then nothing is written.
- Copies are written to a temporary name and linked into place with ``os.link`` (which fails instead of
  replacing), so an interrupted copy never leaves a half file under the final name.
- A move is a hard link plus unlink of the source on the same file system; across file systems it is a verified
  copy, and the source is removed only after the copy is complete and byte-identical.
- A symbolic link is moved as a link to the same file (an absolute target, so it still resolves from its new
  folder); a broken link is refused with the reason and left where it is.
"""

from __future__ import annotations

import errno
import filecmp
import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from pixgrade.catalog.filtering import ImageRecord
    from pixgrade.catalog.journal import MoveJournal

__all__ = ["DECISION_FOLDERS", "Mode", "Placed", "place_decided", "place_file", "product_folder", "unique_destination"]

Mode = Literal["copy", "symlink", "move"]

DECISION_FOLDERS = {"main": "accepted", "accept": "accepted", "reject": "rejected", "duplicate": "duplicates"}
"""The output subfolder of each decision."""


def unique_destination(folder: Path, name: str) -> Path:
    """``folder / name``, or the first ``stem-N.suffix`` that does not exist yet."""
    candidate = folder / name
    stem, suffix = Path(name).stem, Path(name).suffix
    n = 1
    while candidate.exists() or candidate.is_symlink():
        candidate = folder / f"{stem}-{n}{suffix}"
        n += 1
    return candidate


def _same(src: Path, dst: Path, mode: Mode) -> bool:
    if mode == "symlink" or (mode == "move" and src.is_symlink()):
        return dst.is_symlink() and Path(os.readlink(dst)) == src.resolve()
    try:
        return dst.is_file() and not dst.is_symlink() and filecmp.cmp(src, dst, shallow=False)
    except OSError:
        return False


def _already_placed(src: Path, folder: Path, mode: Mode) -> Path | None:
    """The copy or link of ``src`` an earlier run left in ``folder`` (``name``, ``name-1``, ...), if any."""
    stem, suffix = src.stem, src.suffix
    candidate, n = folder / src.name, 1
    while candidate.exists() or candidate.is_symlink():
        if _same(src, candidate, mode):
            return candidate
        candidate = folder / f"{stem}-{n}{suffix}"
        n += 1
    return None


def _link_exclusive(tmp: Path, folder: Path, name: str) -> Path:
    """Hard-link ``tmp`` to a free name in ``folder`` (never replacing), then remove ``tmp``."""
    while True:
        dst = unique_destination(folder, name)
        try:
            os.link(tmp, dst)
        except FileExistsError:  # taken between the check and the link: try the next name
            continue
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EMLINK):
                raise
            try:  # no hard links on this file system: exclusive create, still never replacing
                with open(tmp, "rb") as fin, open(dst, "xb") as fout:
                    shutil.copyfileobj(fin, fout)
            except FileExistsError:
                continue
        tmp.unlink()
        return dst


def _move_link(src: Path, folder: Path) -> Path:
    """Move the symbolic link ``src`` into ``folder`` as a link to the same file (absolute target)."""
    target = Path(os.path.join(src.parent, os.readlink(src)))
    if not target.exists():
        raise OSError(errno.ENOENT, f"broken symbolic link (to {os.readlink(src)!r}); not moved")
    resolved = target.resolve()
    while True:
        dst = unique_destination(folder, src.name)
        try:
            os.symlink(resolved, dst)
        except FileExistsError:
            continue
        src.unlink()
        return dst


def _place_content(
    src: Path, folder: Path, content: Callable[[Path], tuple[bytes, str]], dry_run: bool
) -> tuple[Path, bool]:
    """Write ``content(src)`` (the bytes and the file suffix) as a new file in ``folder``, named after ``src``."""
    try:
        data, suffix = content(src)
    except (ValueError, SyntaxError, EOFError) as exc:  # a decoder's complaint, reported like a read error
        raise OSError(f"cannot re-encode: {exc}") from exc
    name = src.stem + suffix
    stem, n = src.stem, 1
    candidate = folder / name
    while candidate.exists() or candidate.is_symlink():  # a re-run finds its own earlier copy
        try:
            if candidate.is_file() and not candidate.is_symlink() and candidate.read_bytes() == data:
                return candidate, False
        except OSError:
            pass
        candidate = folder / f"{stem}-{n}{suffix}"
        n += 1
    if dry_run:
        return candidate, True
    folder.mkdir(parents=True, exist_ok=True)
    tmp = unique_destination(folder, f".{name}.pixgrade-part")
    try:
        with open(tmp, "xb") as fh:
            fh.write(data)
        return _link_exclusive(tmp, folder, name), True
    finally:
        if tmp.exists():
            tmp.unlink()


def place_file(
    src: str | Path,
    folder: str | Path,
    mode: Mode = "copy",
    *,
    dry_run: bool = False,
    content: Callable[[Path], tuple[bytes, str]] | None = None,
) -> tuple[Path, bool]:
    """Put ``src`` into ``folder`` by ``mode``. With ``content`` (copies only), the copy holds ``content(src)``
    (bytes and file suffix, e.g. :func:`pixgrade.io.metadata.stripped_copy`) instead of the file's own bytes.

    Returns:
        The destination path, and whether anything was (or, with ``dry_run``, would be) written: False when an
        identical file or link was already there.
    """
    src = Path(src)
    folder = Path(folder)
    if mode not in ("copy", "symlink", "move"):
        raise ValueError(f"unknown mode {mode!r}; choose copy, symlink or move")
    if content is not None:
        if mode != "copy":
            raise ValueError("content applies to copies only")
        return _place_content(src, folder, content, dry_run)
    existing = _already_placed(src, folder, mode)
    if existing is not None:
        return existing, False  # already there (a re-run); a move then leaves the source alone
    if dry_run:
        return unique_destination(folder, src.name), True
    folder.mkdir(parents=True, exist_ok=True)
    if mode == "symlink":
        while True:
            dst = unique_destination(folder, src.name)
            try:
                os.symlink(src.resolve(), dst)
                return dst, True
            except FileExistsError:
                continue
    if mode == "move" and src.is_symlink():
        return _move_link(src, folder), True
    if mode == "move":
        while True:
            dst = unique_destination(folder, src.name)
            try:
                os.link(src, dst)
            except FileExistsError:
                continue
            except OSError as exc:
                if exc.errno not in (errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EMLINK):
                    raise
                break  # no hard links here: copy, verify, then remove the source
            else:
                src.unlink()
                return dst, True
    tmp = folder / f".{src.name}.pixgrade-part"
    tmp = unique_destination(folder, tmp.name)
    try:
        shutil.copy2(src, tmp)
        if mode == "move" and not filecmp.cmp(src, tmp, shallow=False):
            raise OSError(f"{src}: copy to {folder} differs from the source; source kept")
        dst = _link_exclusive(tmp, folder, src.name)
    finally:
        if tmp.exists():
            tmp.unlink()
    if mode == "move":
        src.unlink()
    return dst, True


def product_folder(product: str) -> Path:
    """The relative folder of ``product`` under an output folder: its parts without empty, ``.``, ``..`` or root
    parts (so a product never leads out of the output folder); ``Path()`` when nothing is left."""
    parts = [p for p in Path(product).parts if p not in ("", ".", "..", "/")]
    return Path(*parts) if parts else Path()


@dataclass(frozen=True)
class Placed:
    """What :func:`place_decided` did with one image."""

    path: str
    """The record's path (the original's, even when an earlier ``--move`` took the file elsewhere)."""
    folder: Path
    """The folder it went (or would go) into."""
    destination: Path | None
    """Where it is (or would be) in ``folder``; None when placing failed."""
    changed: bool
    """Whether anything was (or would be) written: False when an identical file or link was already there."""
    error: OSError | None = None
    """Why it could not be placed."""


def place_decided(
    records: Iterable[ImageRecord],
    outdir: Path,
    mode: Mode,
    *,
    dry_run: bool = False,
    journal: MoveJournal | None = None,
    strip_metadata: bool = False,
) -> Iterator[Placed]:
    """Put each decided image into ``outdir/<decision folder>/<product>`` by ``mode`` (:func:`place_file`), one
    :class:`Placed` per file that exists, in ``records`` order, as each is done (a file that cannot be placed
    gives ``error`` and the others go on). Records without a file (unreadable folder entries, vanished files) are
    skipped. An image read from a URI (``s3://…``) is downloaded into the folder (``copy`` only: ValueError for
    another mode). ``strip_metadata``: copies hold :func:`pixgrade.io.metadata.stripped_bytes` of the image. A
    real move (not ``dry_run``) with a ``journal`` records its intent before and its destination after each move
    (:class:`~pixgrade.catalog.journal.MoveJournal`), so an interrupted run can be finished."""
    from pixgrade.io.sources import is_uri

    if strip_metadata and mode != "copy":
        raise ValueError("strip_metadata applies to copies only")
    moves = journal if mode == "move" and not dry_run else None
    for record in records:
        decision = record.decision
        assert decision is not None
        current = record.location or record.path  # an original a previous --move took away is there now
        remote = is_uri(current)
        if remote and mode != "copy":
            raise ValueError(f"{current}: an image read from a URI can only be copied, not {mode}d")
        if not remote and not Path(current).is_file():
            continue
        folder = outdir / DECISION_FOLDERS[decision.decision] / product_folder(decision.product)
        try:
            if moves is not None:
                moves.intend(record.path, folder, record.result.sha256)
            if remote:
                dst, changed = _place_uri(current, folder, strip_metadata, dry_run)
            else:
                content = _stripped_file if strip_metadata else None
                dst, changed = place_file(current, folder, mode, dry_run=dry_run, content=content)
            if moves is not None and (changed or record.location is not None):
                moves.moved(record.path, dst)
        except OSError as exc:
            yield Placed(record.path, folder, None, False, exc)
            continue
        yield Placed(record.path, folder, dst, changed)


def _stripped_file(path: Path) -> tuple[bytes, str]:
    from pixgrade.io.metadata import stripped_copy

    return stripped_copy(path)


def _place_uri(uri: str, folder: Path, strip_metadata: bool, dry_run: bool) -> tuple[Path, bool]:
    """Download ``uri`` into ``folder`` under its own name (its metadata stripped on request), never overwriting;
    a read error is an OSError naming the URI."""
    from pathlib import PurePosixPath

    from pixgrade.errors import ImageLoadError
    from pixgrade.io.metadata import stripped_bytes
    from pixgrade.io.sources import read_source

    name = Path(PurePosixPath(uri.split("://", 1)[1]).name)

    def content(_: Path) -> tuple[bytes, str]:
        try:
            data = read_source(uri)
        except ImageLoadError as exc:
            raise OSError(exc.cause) from None
        return stripped_bytes(data, name.suffix) if strip_metadata else (data, name.suffix)

    return _place_content(name, folder, content, dry_run)
