"""Tests of pixgrade.io.iter_image_files and the SHA-256 helpers."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from pixgrade.errors import ImageLoadError
from pixgrade.io import iter_image_files, sha256_bytes, sha256_file


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for rel in ["b.jpg", "a.png", "notes.txt", ".hidden.jpg", "sub/z.webp", "sub/deeper/y.bin", ".git/x.jpg"]:
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    return tmp_path


def test_walks_sorted_without_hidden_and_without_extension_filter(tree: Path) -> None:
    found = [p.relative_to(tree).as_posix() for p in iter_image_files([tree])]
    assert found == ["a.png", "b.jpg", "notes.txt", "sub/z.webp", "sub/deeper/y.bin"]


def test_not_recursive(tree: Path) -> None:
    found = [p.name for p in iter_image_files(tree, recursive=False)]
    assert found == ["a.png", "b.jpg", "notes.txt"]


def test_explicit_files_and_duplicates(tree: Path) -> None:
    found = list(iter_image_files([tree / "sub" / "z.webp", tree / ".hidden.jpg", tree / "sub", tree / "sub/z.webp"]))
    names = [p.relative_to(tree).as_posix() for p in found]
    assert names == ["sub/z.webp", ".hidden.jpg", "sub/deeper/y.bin"]


def test_missing_path_raises_at_call_time(tree: Path) -> None:
    with pytest.raises(ImageLoadError, match="no such file") as info:
        iter_image_files([tree, tree / "typo"])
    assert "typo" in str(info.value)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX fifos")
def test_special_files_and_folder_links_skipped(tree: Path) -> None:
    os.mkfifo(tree / "pipe")
    (tree / "loop").symlink_to(tree, target_is_directory=True)
    (tree / "link.jpg").symlink_to(tree / "a.png")
    names = [p.relative_to(tree).as_posix() for p in iter_image_files(tree)]
    assert "pipe" not in names and not any(n.startswith("loop") for n in names)
    assert "link.jpg" not in names  # same file as a.png, yielded once
    assert names.count("a.png") == 1


def test_sha256(tmp_path: Path) -> None:
    data = os.urandom(300_000)
    path = tmp_path / "blob"
    path.write_bytes(data)
    expected = hashlib.sha256(data).hexdigest()
    assert sha256_file(path) == expected == sha256_bytes(data)


@pytest.mark.parametrize(
    "name",
    [
        "plain.jpg",
        "quote \"double\" and 'single'.jpg",
        "new\nline.jpg",
        "tab\there.jpg",
        "cr\rhere.jpg",
        "back\\slash\\n.jpg",
        "trailing\\",
        os.fsdecode(b"caf\xe9-latin1.jpg"),
        os.fsdecode(b"\x01ctrl\x7f.jpg"),
        "ünïcødé €.jpg",
    ],
)
def test_path_text_is_utf8_one_line_and_reversible(name: str) -> None:
    from pixgrade.io.files import path_from_text, path_text

    text = path_text(name)
    text.encode("utf-8")  # no lone surrogates
    assert "\n" not in text and "\r" not in text and "\t" not in text
    assert path_from_text(text) == name
    assert os.fsencode(path_from_text(text)) == os.fsencode(name)
    if name.isprintable() and "\\" not in name:
        assert text == name  # ordinary names are written as they are


def test_unreadable_folders_and_entries_are_reported(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tree / "dangling.jpg").symlink_to(tree / "gone.jpg")
    if hasattr(os, "mkfifo"):
        os.mkfifo(tree / "pipe")
    real_scandir = os.scandir

    def scandir(path: str | os.PathLike[str]) -> object:
        if Path(path).name == "deeper":
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr("pixgrade.io.files.os.scandir", scandir)
    errors: list[tuple[Path, str]] = []
    names = [
        p.relative_to(tree).as_posix() for p in iter_image_files(tree, on_error=lambda p, c: errors.append((p, c)))
    ]
    assert "sub/deeper/y.bin" not in names and "sub/z.webp" in names
    causes = {p.relative_to(tree).as_posix(): c for p, c in errors}
    assert causes["sub/deeper"] == "cannot read the folder: Permission denied"
    assert causes["dangling.jpg"].startswith("broken symbolic link")
    if hasattr(os, "mkfifo"):
        assert causes["pipe"].startswith("a named pipe")
    assert list(iter_image_files(tree)) == [tree / n for n in names]  # without on_error: skipped silently


def test_list_sources_reports_unreadable_entries_too(tree: Path) -> None:
    from pixgrade.io.sources import list_sources

    (tree / "dangling.jpg").symlink_to(tree / "gone.jpg")
    errors: list[tuple[Path, str]] = []
    listed = list_sources([str(tree)], on_error=lambda p, c: errors.append((p, c)))
    assert str(tree / "a.png") in listed and str(tree / "dangling.jpg") not in listed
    assert [(p.name, c.split(" (")[0]) for p, c in errors] == [("dangling.jpg", "broken symbolic link")]
