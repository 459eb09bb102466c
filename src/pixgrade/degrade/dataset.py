"""Write a synthetic training set: degraded copies of a folder of clean pictures plus a manifest CSV.

Layout of the output folder::

    OUT_DIR/
      degrade.json        the settings (a resumed run must use the same ones)
      manifest.csv        image,score,group,source,degradation,level  (one row per written picture)
      errors.csv          path,error  (sources that could not be read; retried on --resume)
      images/<source path relative to SRC>__<type>_<level>.png   (and ...__clean.png for level 0)

Every output is a lossless PNG written under a temporary name and renamed, and its manifest row is appended
and flushed right after, so an interrupted run loses at most the picture in progress and ``resume=True``
carries on where it stopped. Existing files are never overwritten. Each picture's random seed is derived from
(seed, source path, type, level), so the result does not depend on the order or on interruptions.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from pixgrade.degrade.registry import LEVELS, degrade, get_degradation, level_score, list_degradations
from pixgrade.errors import ImageLoadError, PixgradeError
from pixgrade.io.files import temp_file_beside

__all__ = ["DegradeSettings", "DegradeSummary", "load_settings", "make_degraded_dataset", "variant_seed"]

log = logging.getLogger(__name__)

MANIFEST_HEADER = ("image", "score", "group", "source", "degradation", "level")
SETTINGS_FILE = "degrade.json"
MANIFEST_FILE = "manifest.csv"
ERRORS_FILE = "errors.csv"


@dataclass(frozen=True)
class DegradeSettings:
    """What to generate.

    Attributes:
        types: degradation names (default: all registered).
        levels: levels to generate, each 1 … 5.
        seed: base seed; every picture's own seed is derived from it.
        per_image: if set, only this many (type, level) pairs drawn at random per source (else all pairs).
        max_side: if set, sources are first downscaled so the longest side is at most this (never upscaled).
        include_clean: also write the untouched source (level 0, empty ``degradation``).
        clean_score: score of a clean source; degraded ones get :func:`~pixgrade.degrade.level_score`.
    """

    types: tuple[str, ...] = field(default_factory=lambda: tuple(list_degradations()))
    levels: tuple[int, ...] = LEVELS
    seed: int = 0
    per_image: int | None = None
    max_side: int | None = None
    include_clean: bool = True
    clean_score: float = 4.5

    def __post_init__(self) -> None:
        if not self.types:
            raise ValueError("at least one degradation type is needed")
        for name in self.types:
            get_degradation(name)
        bad = [lv for lv in self.levels if lv not in LEVELS]
        if bad or not self.levels:
            raise ValueError(f"levels must be a non-empty subset of {LEVELS}, got {list(self.levels)}")
        if self.per_image is not None and self.per_image < 1:
            raise ValueError(f"per_image must be >= 1, got {self.per_image}")
        if self.max_side is not None and self.max_side < 1:
            raise ValueError(f"max_side must be >= 1, got {self.max_side}")
        if not 0.0 <= self.clean_score <= 5.0:
            raise ValueError(f"clean_score must be in 0..5, got {self.clean_score}")

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        data["types"], data["levels"] = list(self.types), list(self.levels)
        return data


@dataclass
class DegradeSummary:
    """What a run did."""

    sources: int = 0
    written: int = 0
    skipped: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)


def _digest_int(*parts: object) -> int:
    text = "\0".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")


def variant_seed(seed: int, source: str, name: str, level: int) -> int:
    """The seed of one output picture: a hash of (base seed, source path relative to SRC, type, level)."""
    return _digest_int(seed, source, name, level)


def _variants(settings: DegradeSettings, rel: str) -> list[tuple[str, int]]:
    grid = [(name, level) for name in settings.types for level in settings.levels]
    if settings.per_image is not None and settings.per_image < len(grid):
        rng = np.random.default_rng(_digest_int(settings.seed, rel, "choice"))
        picks = sorted(rng.choice(len(grid), size=settings.per_image, replace=False))
        grid = [grid[i] for i in picks]
    return ([("", 0)] if settings.include_clean else []) + grid


def _output_name(rel: str, name: str, level: int) -> str:
    suffix = "clean" if level == 0 else f"{name}_{level}"
    return f"images/{rel}__{suffix}.png"


def _repair_tail(path: Path) -> None:
    """Drop a half-written last line (an interrupted append) so the CSV stays parseable."""
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        cut = data.rfind(b"\n") + 1
        log.warning("%s: dropping an incomplete last line left by an interrupted run", path)
        fd, tmp = temp_file_beside(path, suffix="")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data[:cut])
        os.replace(tmp, path)


def _done_images(manifest: Path) -> set[str]:
    if not manifest.exists():
        return set()
    _repair_tail(manifest)
    with manifest.open(newline="", encoding="utf-8") as handle:
        return {row["image"] for row in csv.DictReader(handle) if row.get("image")}


def _save_png(rgb: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = temp_file_beside(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            Image.fromarray(rgb, "RGB").save(handle, format="PNG", compress_level=3)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_settings(out_dir: str | Path) -> DegradeSettings | None:
    """The settings an earlier run saved in ``out_dir`` (``None`` if there are none)."""
    path = Path(out_dir) / SETTINGS_FILE
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    data.pop("source", None)
    data["types"], data["levels"] = tuple(data["types"]), tuple(data["levels"])
    return DegradeSettings(**data)


def _check_output_dir(out_dir: Path, src_dir: Path, settings: DegradeSettings, resume: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise PixgradeError(f"{out_dir}: exists and is not a folder")
    src, out = src_dir.resolve(), out_dir.resolve()
    if out == src or src in out.parents:
        raise PixgradeError(f"{out_dir}: the output folder must not be inside the source folder {src_dir}")
    if out_dir.exists() and any(out_dir.iterdir()):
        if not resume:
            raise PixgradeError(
                f"{out_dir}: folder is not empty; choose a new folder, or pass --resume to complete an earlier run"
            )
        settings_path = out_dir / SETTINGS_FILE
        if not settings_path.is_file():
            raise PixgradeError(f"{out_dir}: not a pixgrade degrade output ({SETTINGS_FILE} missing); will not resume")
        previous = json.loads(settings_path.read_text(encoding="utf-8"))
        if previous.get("source") not in (None, str(src)):
            raise PixgradeError(f"{out_dir}: was made from {previous['source']}, not {src_dir}; will not resume")
        current = settings.to_json()
        previous_settings = {k: v for k, v in previous.items() if k != "source"}
        changed = sorted(k for k in current if previous_settings.get(k) != current[k])
        if changed:
            diff = ", ".join(f"{k}: {previous_settings.get(k)!r} -> {current[k]!r}" for k in changed)
            raise PixgradeError(f"{out_dir}: --resume with different settings ({diff}); use the earlier ones")


def make_degraded_dataset(
    src_dir: str | Path,
    out_dir: str | Path,
    settings: DegradeSettings | None = None,
    *,
    resume: bool = False,
    progress: Callable[[int, int], None] | None = None,
    sources: Sequence[Path] | None = None,
) -> DegradeSummary:
    """Degrade every image under ``src_dir`` into ``out_dir`` and write its manifest (see the module docstring).

    Args:
        src_dir: folder of clean pictures (searched recursively; content decides what is an image).
        out_dir: a new or empty folder, or with ``resume=True`` the folder of an interrupted run with the same
            settings.
        settings: what to generate (default :class:`DegradeSettings`).
        progress: called as ``progress(done_sources, total_sources)``.
        sources: the files to use instead of searching ``src_dir`` (must lie under it).

    Raises:
        PixgradeError: the output folder is in use (not empty without ``resume``), or resumed with other settings.
    """
    from pixgrade.io import iter_image_files, load_image

    settings = settings or DegradeSettings()
    src, out = Path(src_dir), Path(out_dir)
    if not src.is_dir():
        raise PixgradeError(f"{src}: not a folder")
    _check_output_dir(out, src, settings, resume)
    out.mkdir(parents=True, exist_ok=True)
    settings_path = out / SETTINGS_FILE
    if not settings_path.exists():
        data = {**settings.to_json(), "source": str(src.resolve())}
        settings_path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")

    manifest_path = out / MANIFEST_FILE
    done = _done_images(manifest_path)
    files = list(sources) if sources is not None else list(iter_image_files(src))
    summary = DegradeSummary(sources=len(files))
    new_manifest = not manifest_path.exists() or manifest_path.stat().st_size == 0
    with manifest_path.open("a", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        if new_manifest:
            writer.writerow(MANIFEST_HEADER)
            handle.flush()
        for index, path in enumerate(files):
            rel = path.relative_to(src).as_posix()
            source_field = _relative_source(path, out)
            rgb: np.ndarray | None = None
            try:
                for name, level in _variants(settings, rel):
                    image = _output_name(rel, name, level)
                    if image in done:
                        summary.skipped += 1
                        continue
                    target = out / image
                    if target.exists():  # written before an interruption, row not yet appended: keep the file
                        summary.skipped += 1
                    else:
                        if rgb is None:
                            rgb = load_image(path, max_side=settings.max_side).rgb
                        picture = (
                            rgb
                            if level == 0
                            else degrade(rgb, name, level, variant_seed(settings.seed, rel, name, level))
                        )
                        _save_png(picture, target)
                        summary.written += 1
                    score = settings.clean_score if level == 0 else level_score(level, settings.clean_score)
                    writer.writerow((image, f"{score:g}", rel, source_field, name, level))
                    handle.flush()
                    done.add(image)
            except (ImageLoadError, OSError) as exc:
                cause = exc.cause if isinstance(exc, ImageLoadError) else (exc.strerror or str(exc))
                summary.failed.append((str(path), cause))
                _append_error(out / ERRORS_FILE, str(path), cause)
                log.info("%s: %s", path, cause)
            if progress is not None:
                progress(index + 1, len(files))
    return summary


def _relative_source(path: Path, out: Path) -> str:
    """``path`` relative to ``out`` (POSIX), or absolute when they share nothing but the root."""
    target, folder = Path(os.path.normpath(path.absolute())), Path(os.path.normpath(out.absolute()))
    try:
        common = Path(os.path.commonpath([target, folder]))
    except ValueError:  # different Windows drives
        return str(target)
    return str(target) if common == Path(common.anchor) else Path(os.path.relpath(target, folder)).as_posix()


def _append_error(path: Path, source: str, cause: str) -> None:
    new = not path.exists()
    with path.open("a", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        if new:
            writer.writerow(("path", "error"))
        writer.writerow((source, cause))
