"""The journal of ``pixgrade filter --move``: where each original went, so an interrupted run can be finished.

A move takes the file out of the input folder; without a record, a rerun after a crash would see only the files
still there and decide for part of the products (an exact copy could become a second main image). Before each
move the journal gets an *intent* line (original, target folder, content SHA-256) and after it a *moved* line
(original, destination), each flushed and synced; a rerun reads it and puts every moved original back in the
run under its original path, read from where it is now. A move that was interrupted between the two lines is
found by its content in the target folder. The journal is ``OUTDIR/.pixgrade-moves.jsonl`` (JSON Lines, paths as
:func:`pixgrade.io.files.path_text`); it is kept after the run, so later reruns still decide for every image.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pixgrade.io import sha256_file
from pixgrade.io.files import path_from_text, path_text

__all__ = ["JOURNAL_NAME", "MoveJournal"]

JOURNAL_NAME = ".pixgrade-moves.jsonl"


class MoveJournal:
    """The move journal of one output folder."""

    def __init__(self, outdir: str | Path) -> None:
        self.path = Path(outdir) / JOURNAL_NAME

    def _append(self, entry: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def intend(self, original: str | Path, folder: Path, sha256: str | None) -> None:
        """Record that ``original`` is about to be moved into ``folder``."""
        self._append(
            {"src": path_text(os.path.abspath(original)), "folder": path_text(folder.absolute()), "sha256": sha256}
        )

    def moved(self, original: str | Path, destination: Path) -> None:
        """Record that ``original`` (or the file it had become) is now ``destination``."""
        self._append({"src": path_text(os.path.abspath(original)), "dst": path_text(destination.absolute())})

    def _entries(self) -> list[dict[str, Any]]:
        if not self.path.is_file():
            return []
        entries = []
        with open(self.path, encoding="utf-8") as fh:
            for line in fh:
                if not line.endswith("\n"):
                    break  # half-written by a hard kill
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(entry, dict) and isinstance(entry.get("src"), str):
                    entries.append(entry)
        return entries

    def locations(self, inputs: list[str | Path]) -> dict[str, Path]:
        """``{original absolute path: where it is now}`` for every original under ``inputs`` that a move took away
        (no longer at its original path, present at its destination)."""
        roots = [Path(p).resolve() for p in inputs]
        found: dict[str, Path] = {}
        pending: dict[str, dict[str, Any]] = {}
        for entry in self._entries():
            src = path_from_text(entry["src"])
            if "dst" in entry:
                found[src] = Path(path_from_text(entry["dst"]))
                pending.pop(src, None)
            else:
                pending[src] = entry
        for src, entry in pending.items():  # interrupted between the intent and the record: find it by content
            if Path(src).exists() or not entry.get("sha256"):
                continue
            folder = Path(path_from_text(entry["folder"]))
            stem, suffix = Path(src).stem, Path(src).suffix
            for candidate in sorted(folder.glob(f"{glob_escape(stem)}*{glob_escape(suffix)}")):
                try:
                    if candidate.is_file() and sha256_file(candidate) == entry["sha256"]:
                        found[src] = candidate
                        break
                except OSError:
                    continue
        out: dict[str, Path] = {}
        for src, dst in found.items():
            original = Path(src)
            if os.path.lexists(original) or not os.path.lexists(dst):
                continue  # back in place, or removed from the output since
            parent = original.parent.resolve()
            if any(parent == root or root in parent.parents or original.resolve() == root for root in roots):
                out[str(original)] = dst
        return out


def glob_escape(text: str) -> str:
    """``text`` with glob's special characters escaped."""
    import glob

    return glob.escape(text)
