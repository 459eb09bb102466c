"""Delivery renditions: each image in several sizes and formats, each encoded at the smallest quality setting
that keeps a stated target against the resized original (SSIM on luminance, optionally a bounded drop of the
learned score), colour in sRGB, orientation applied and every piece of metadata stripped."""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, features

from pixgrade.errors import ConfigError, ImageLoadError
from pixgrade.fullref.images import open_srgb, srgb_profile_bytes
from pixgrade.fullref.metrics import luminance, ssim

__all__ = [
    "ENCODER_OPTIONS",
    "FORMATS",
    "Pruned",
    "RenditionRow",
    "Target",
    "check_formats",
    "encode",
    "parse_spec",
    "prune_manifest",
    "render_batch",
    "render_data",
    "render_image",
    "rendition_columns",
    "search_quality",
]

#: format name -> (Pillow format, file extension)
FORMATS: dict[str, tuple[str, str]] = {"jpeg": ("JPEG", ".jpg"), "webp": ("WEBP", ".webp"), "avif": ("AVIF", ".avif")}
_FEATURE = {"webp": "webp", "avif": "avif"}


def check_formats(formats: Sequence[str]) -> list[str]:
    """The formats, lower-cased, each known and encodable by this Pillow.

    Raises:
        ConfigError: an unknown format, or one this Pillow cannot write (AVIF needs Pillow ≥ 11.3 built with
            libavif, as the PyPI wheels are).
    """
    out = []
    for name in formats:
        fmt = name.strip().lower()
        if fmt == "jpg":
            fmt = "jpeg"
        if fmt not in FORMATS:
            raise ConfigError(f"unknown format {name!r}; known: {', '.join(FORMATS)}")
        feature = _FEATURE.get(fmt)
        if feature is not None and not features.check(feature):
            raise ConfigError(
                f"this Pillow ({Image.__version__}) cannot encode {fmt.upper()}"
                + (": AVIF needs Pillow >= 11.3 with libavif (the PyPI wheels have it)" if fmt == "avif" else "")
            )
        out.append(fmt)
    return out


@dataclass(frozen=True)
class Target:
    """What a rendition must keep against the resized original.

    Attributes:
        min_ssim: SSIM on BT.601 luminance at least this.
        max_score_drop: the learned score (0–5) may fall by at most this (``None``: not checked).
        min_quality, max_quality: the encoder quality range searched (binary search, at most
            ``ceil(log2(max - min + 1)) + 1`` encodes).
    """

    min_ssim: float = 0.98
    max_score_drop: float | None = None
    min_quality: int = 20
    max_quality: int = 95

    def __post_init__(self) -> None:
        if not 0.0 < self.min_ssim <= 1.0:
            raise ConfigError(f"the SSIM target must be in (0, 1], got {self.min_ssim}")
        if self.max_score_drop is not None and not (math.isfinite(self.max_score_drop) and self.max_score_drop >= 0):
            raise ConfigError(f"the maximum score drop must be a number of 0 or more, got {self.max_score_drop}")
        if not 1 <= self.min_quality <= self.max_quality <= 100:
            raise ConfigError(f"bad quality range {self.min_quality}..{self.max_quality} (1 <= min <= max <= 100)")


@dataclass
class RenditionRow:
    """One line of the manifest. ``status``: ``ok``; ``target_not_met`` (written at the highest quality searched,
    which still misses the target); ``skipped`` (the size is larger than the source: never upscaled; no file);
    ``failed`` (``error`` says why; no file). ``score_drop`` is ``reference_score - score``, the reference being
    the resized original."""

    path: str
    source: str
    size: int
    format: str
    status: str
    width: int | None = None
    height: int | None = None
    bytes: int | None = None
    quality: int | None = None
    ssim_y: float | None = None
    score: float | None = None
    grade: int | None = None
    reference_score: float | None = None
    score_drop: float | None = None
    error: str | None = None


def rendition_columns() -> list[str]:
    """Column order of the manifest."""
    return [f.name for f in dataclasses.fields(RenditionRow)]


#: the encoder settings besides quality (Pillow save options) of each format: lossless effort only.
ENCODER_OPTIONS: dict[str, dict[str, Any]] = {"jpeg": {"optimize": True, "progressive": True}, "webp": {"method": 4}}


def encode(
    image: Image.Image,
    fmt: str,
    quality: int,
    *,
    icc_profile: bytes | None = None,
    encoder_options: dict[str, Any] | None = None,
) -> bytes:
    """Encode an RGB image; nothing but the pixels (and ``icc_profile`` when given) goes into the file.
    ``encoder_options`` replace the format's :data:`ENCODER_OPTIONS` (the benchmark's effort settings)."""
    pil_format = FORMATS[fmt][0]
    options: dict[str, Any] = {"quality": int(quality)}
    options |= ENCODER_OPTIONS.get(fmt, {}) if encoder_options is None else encoder_options
    if icc_profile is not None:
        options["icc_profile"] = icc_profile
    buffer = BytesIO()
    clean = Image.frombytes("RGB", image.size, image.tobytes())  # a fresh image: no info, no EXIF to carry over
    clean.save(buffer, format=pil_format, **options)
    return buffer.getvalue()


def _decoded_y(data: bytes) -> np.ndarray:
    with Image.open(BytesIO(data)) as im:
        return luminance(np.asarray(im.convert("RGB")))


def _score(scorer: Any, data: bytes) -> tuple[float | None, int | None]:
    from pixgrade.pipeline.analysis import analyse

    (result,) = scorer.score_batch([analyse(data, scorer.settings)])
    if result.error is not None or result.score is None:  # the bound cannot be checked: the rendition fails
        raise ValueError(f"the grade bound cannot be checked: scoring failed ({result.error or 'no score'})")
    return result.score, result.grade


@dataclass
class _Trial:
    quality: int
    data: bytes
    ssim_y: float
    score: float | None = None
    grade: int | None = None
    meets: bool = False


def search_quality(
    reference: Image.Image,
    fmt: str,
    target: Target,
    *,
    scorer: Any = None,
    reference_score: float | None = None,
    icc_profile: bytes | None = None,
    encoder_options: dict[str, Any] | None = None,
) -> tuple[_Trial, bool]:
    """The smallest quality in the target's range whose encoding meets it (binary search; SSIM and score are
    taken as rising with quality), and whether it met it (if even the highest quality misses, that one is
    returned with ``False``). The score is computed (with ``scorer``) only where the SSIM already passes."""
    ref_y = luminance(np.asarray(reference))
    trials: dict[int, _Trial] = {}

    def trial(quality: int) -> _Trial:
        if quality not in trials:
            data = encode(reference, fmt, quality, icc_profile=icc_profile, encoder_options=encoder_options)
            t = _Trial(quality, data, ssim(ref_y, _decoded_y(data)))
            t.meets = t.ssim_y >= target.min_ssim
            if t.meets and target.max_score_drop is not None and scorer is not None:
                t.score, t.grade = _score(scorer, data)
                t.meets = (
                    t.score is not None
                    and reference_score is not None
                    and reference_score - t.score <= target.max_score_drop
                )
            trials[quality] = t
        return trials[quality]

    lo, hi = target.min_quality, target.max_quality
    if not trial(hi).meets:
        return trials[hi], False
    while lo < hi:
        mid = (lo + hi) // 2
        if trial(mid).meets:
            hi = mid
        else:
            lo = mid + 1
    return trials[hi], True


def _resized(image: Image.Image, size: int) -> Image.Image | None:
    """``image`` with its longest side ``size`` (Lanczos), itself when equal, ``None`` when that would upscale."""
    longest = max(image.size)
    if size > longest:
        return None
    if size == longest:
        return image
    scale = size / longest
    new = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(new, Image.Resampling.LANCZOS, reducing_gap=3.0)


def rendition_name(source: str | Path, size: int, fmt: str) -> str:
    """``<stem>-<size>.<ext>``: the file name of one rendition."""
    return f"{Path(source).stem}-{size}{FORMATS[fmt][1]}"


def _write_new(path: Path, data: bytes) -> None:
    """Write ``data`` to a new file ``path``, whole or not at all; never replaces an existing file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "xb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.link(tmp, path)  # FileExistsError when the name is taken
    finally:
        tmp.unlink(missing_ok=True)


def render_image(
    source: str | Path,
    outdir: str | Path,
    sizes: Sequence[int],
    formats: Sequence[str],
    target: Target,
    *,
    scorer: Any = None,
    keep_icc: bool = False,
    done: Any = frozenset(),
    max_pixels: int = 100_000_000,
) -> Iterator[RenditionRow]:
    """Render one source into ``outdir``: for each size (longest side, px) and format, one file encoded at the
    smallest quality meeting ``target``, and one :class:`RenditionRow` each.

    The source is decoded once (EXIF orientation applied, ICC profile honoured into sRGB, transparency on white);
    each size is resized from it with Lanczos, never upscaled. Files carry no metadata; ``keep_icc`` embeds an
    sRGB profile (the pixels are sRGB). An existing file is never overwritten (its row is ``failed``). Names in
    ``done`` (rendition paths, as :func:`~pixgrade.pipeline.writers.normalise_path` gives them) are skipped
    without a row. With a ``scorer``, every rendition and its resized original are scored.
    """
    from pixgrade.pipeline.writers import normalise_path

    outdir = Path(outdir)
    name = str(source)
    jobs = [(size, fmt, outdir / rendition_name(source, size, fmt)) for size in sizes for fmt in formats]
    jobs = [job for job in jobs if normalise_path(job[2]) not in done]
    if not jobs:
        return
    try:
        original = open_srgb(source, max_pixels)
    except ImageLoadError as exc:
        for size, fmt, path in jobs:
            yield RenditionRow(str(path), name, size, fmt, "failed", error=exc.cause)
        return
    icc = srgb_profile_bytes() if keep_icc else None
    for size in sorted({job[0] for job in jobs}, reverse=True):
        reference = _resized(original, size)
        reference_score: float | None = None
        for job_size, fmt, path in jobs:
            if job_size != size:
                continue
            row = RenditionRow(str(path), name, size, fmt, "ok")
            if reference is None:
                row.status = "skipped"
                row.error = f"the source is {original.width}x{original.height}: never upscaled"
                yield row
                continue
            row.width, row.height = reference.size
            if path.exists():
                row.status, row.error = "failed", f"{path} already exists and is not in the manifest: not overwritten"
                yield row
                continue
            try:
                if scorer is not None and reference_score is None:
                    reference_score, _ = _score(scorer, encode_lossless(reference))
                best, met = search_quality(
                    reference, fmt, target, scorer=scorer, reference_score=reference_score, icc_profile=icc
                )
                if scorer is not None and best.score is None:
                    best.score, best.grade = _score(scorer, best.data)
                _write_new(path, best.data)
            except FileExistsError:
                row.status, row.error = "failed", f"{path} appeared while rendering: not overwritten"
                yield row
                continue
            except (OSError, ValueError) as exc:
                row.status, row.error = "failed", f"{type(exc).__name__}: {exc}"
                yield row
                continue
            row.status = "ok" if met else "target_not_met"
            row.bytes, row.quality, row.ssim_y = len(best.data), best.quality, best.ssim_y
            row.score, row.grade, row.reference_score = best.score, best.grade, reference_score
            if best.score is not None and reference_score is not None:
                row.score_drop = reference_score - best.score
            yield row


def encode_lossless(image: Image.Image) -> bytes:
    """PNG bytes of ``image`` (the resized original, scored as the reference of the score drop)."""
    buffer = BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def parse_spec(text: str) -> tuple[list[int], list[str]]:
    """``SIZES[:FORMATS]`` (``"800,400:webp,jpeg"``) as sizes and checked formats; formats default to webp,jpeg.

    Raises:
        ConfigError: a size that is not an integer of 16 px or more, or an unknown/unavailable format.
    """
    sizes_text, _, formats_text = text.partition(":")
    try:
        sizes = [int(v) for v in sizes_text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(
            f"renditions: not a comma-separated list of sizes: {sizes_text!r} (e.g. 800,400:webp)"
        ) from None
    if not sizes or any(v < 16 for v in sizes):
        raise ConfigError(f"renditions: sizes must be 16 px or more, got {sizes_text!r}")
    formats = [f for f in (formats_text or "webp,jpeg").split(",") if f.strip()]
    if not formats:
        raise ConfigError(f"renditions: no format in {text!r}")
    return sizes, check_formats(formats)


def render_batch(
    jobs: Iterable[tuple[str | Path, str | Path]],
    manifest: str | Path,
    sizes: Sequence[int],
    formats: Sequence[str],
    target: Target,
    *,
    scorer: Any = None,
    keep_icc: bool = False,
    max_pixels: int = 100_000_000,
    on_row: Callable[[RenditionRow], object] | None = None,
    on_source: Callable[[str | Path], object] | None = None,
    prune: bool = False,
    on_pruned: Callable[[Pruned], object] | None = None,
) -> dict[str, int]:
    """Render each ``(source, outdir)`` of ``jobs`` with :func:`render_image`, one row per rendition appended to
    the CSV ``manifest`` (locked while writing; renditions it already lists are skipped, so a rerun resumes).

    With ``prune``, first :func:`prune_manifest`: the manifest's renditions of any other ``(source, outdir)``
    pair (an image no longer accepted, or now in another product folder) are removed, file and row, and
    ``on_pruned`` gets the :class:`Pruned` account.

    Returns:
        how many renditions got each status in this run; with ``prune`` also ``removed`` (files deleted),
        ``left`` (stale files kept because they are not as pixgrade wrote them) and ``rows_dropped``.
    """
    from pixgrade.io.locks import OutputLock
    from pixgrade.pipeline import open_writer

    counts: dict[str, int] = {}
    manifest = Path(manifest)
    manifest.parent.mkdir(parents=True, exist_ok=True)
    if prune:
        jobs = list(jobs)
    with OutputLock(manifest, what="renditions manifest"):
        if prune:
            pruned = prune_manifest(manifest, jobs)
            counts |= {"removed": len(pruned.removed), "left": len(pruned.left), "rows_dropped": pruned.rows}
            if on_pruned is not None:
                on_pruned(pruned)
        writer = open_writer(manifest, rendition_columns(), resume=True)
        done = writer.existing_paths
        try:
            for source, outdir in jobs:
                Path(outdir).mkdir(parents=True, exist_ok=True)
                for row in render_image(
                    source,
                    outdir,
                    sizes,
                    formats,
                    target,
                    scorer=scorer,
                    keep_icc=keep_icc,
                    done=done,
                    max_pixels=max_pixels,
                ):
                    writer.write(dataclasses.asdict(row))
                    counts[row.status] = counts.get(row.status, 0) + 1
                    if on_row is not None:
                        on_row(row)
                if on_source is not None:
                    on_source(source)
        finally:
            writer.close()
    return counts


@dataclass
class Pruned:
    """What :func:`prune_manifest` did: files ``removed``, files ``left`` in place (path, why) and manifest
    ``rows`` dropped."""

    removed: list[str] = dataclasses.field(default_factory=list)
    left: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    rows: int = 0


def _as_written(path: Path, row: dict[str, str], root: Path) -> str | None:
    """Why the file of a manifest row is not (provably) the one pixgrade wrote there, or ``None`` when it is:
    a plain file (no link) inside the manifest's folder, named as :func:`rendition_name` names it, of the
    recorded length, format and size."""
    try:
        if path.is_symlink() or not path.is_file():
            return "not a plain file"
        if not path.resolve().is_relative_to(root.resolve()):
            return f"outside {root}"
        if path.name != rendition_name(row["source"], int(row["size"]), row["format"]):
            return "not a rendition's name"
        if not row.get("bytes") or path.stat().st_size != int(row["bytes"]):
            return "its length differs from the manifest's"
        with Image.open(path) as im:
            if im.format != FORMATS[row["format"]][0] or [str(v) for v in im.size] != [row["width"], row["height"]]:
                return "its format or size differs from the manifest's"
    except (OSError, ValueError, KeyError) as exc:
        return f"cannot check it: {exc}"
    return None


def prune_manifest(manifest: str | Path, keep: Iterable[tuple[str | Path, str | Path]]) -> Pruned:
    """Remove from the CSV ``manifest`` the renditions of every ``(source, outdir)`` pair not in ``keep``: each
    such row goes, and its file is deleted when it is the one pixgrade wrote (:func:`_as_written`); a file that
    was changed, replaced or is no rendition's is left in place and reported. Nothing outside the manifest's rows
    is touched. The manifest is rewritten in one step (temporary file, then rename); the caller holds its lock.
    """
    import csv

    from pixgrade.io.files import path_from_text
    from pixgrade.pipeline.writers import normalise_path

    manifest = Path(manifest)
    result = Pruned()
    if not manifest.is_file():
        return result
    wanted = {(normalise_path(source), normalise_path(outdir)) for source, outdir in keep}
    with open(manifest, encoding="utf-8", newline="") as fh:
        lines = [line for line in fh if line.endswith("\n")]  # a half-written last line is not a row
    reader = csv.DictReader(lines)
    header = list(reader.fieldnames or [])
    kept: list[dict[str, str]] = []
    for row in reader:
        path = Path(path_from_text(row.get("path") or ""))
        if (normalise_path(path_from_text(row.get("source") or "")), normalise_path(path.parent)) in wanted:
            kept.append(row)
            continue
        result.rows += 1
        if row.get("status") not in ("ok", "target_not_met") or not path.exists():
            continue  # no file was written, or it is gone already
        why = _as_written(path, row, manifest.parent)
        if why is None:
            path.unlink()
            result.removed.append(str(path))
        else:
            result.left.append((str(path), f"not removed: {why} (not pixgrade's file as written)"))
    if result.rows:
        tmp = manifest.with_name(f".{manifest.name}.{os.getpid()}.tmp")
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, header, lineterminator="\n")
            writer.writeheader()
            writer.writerows(kept)
        os.replace(tmp, manifest)
    return result


def render_data(
    data: bytes,
    name: str,
    sizes: Sequence[int],
    formats: Sequence[str],
    target: Target,
    *,
    scorer: Any = None,
    keep_icc: bool = False,
    max_pixels: int = 100_000_000,
) -> tuple[tuple[int, int], list[tuple[RenditionRow, bytes | None]]]:
    """The source's size (after EXIF orientation) and the renditions of an image held in memory (the API's
    ``POST /v1/renditions``): the same decoding, resizing, quality search and grade bound as
    :func:`render_image`, nothing written; each row (its ``path`` is the rendition's file name) with the encoded
    bytes (``None`` when skipped or failed). With a ``scorer`` (anything with ``settings`` and ``score_batch``),
    each rendition and its resized original are scored and ``target.max_score_drop`` is applied; without one the
    grade bound is not applied. ``keep_icc`` embeds an sRGB profile.

    Raises:
        ImageLoadError (or a subclass): ``data`` is no image, is damaged or has more than ``max_pixels`` pixels.
    """
    original = open_srgb_bytes(data, name, max_pixels)
    icc = srgb_profile_bytes() if keep_icc else None
    if scorer is None:
        target = dataclasses.replace(target, max_score_drop=None)
    out: list[tuple[RenditionRow, bytes | None]] = []
    for size in sorted(set(sizes), reverse=True):
        reference = _resized(original, size)
        reference_score: float | None = None
        for fmt in formats:
            row = RenditionRow(rendition_name(name, size, fmt), name, size, fmt, "ok")
            if reference is None:
                row.status = "skipped"
                row.error = f"the source is {original.width}x{original.height}: never upscaled"
                out.append((row, None))
                continue
            row.width, row.height = reference.size
            try:
                if scorer is not None and reference_score is None:
                    reference_score, _ = _score(scorer, encode_lossless(reference))
                best, met = search_quality(
                    reference, fmt, target, scorer=scorer, reference_score=reference_score, icc_profile=icc
                )
                if scorer is not None and best.score is None:
                    best.score, best.grade = _score(scorer, best.data)
            except (OSError, ValueError, RuntimeError) as exc:
                row.status, row.error = "failed", f"{type(exc).__name__}: {exc}"
                out.append((row, None))
                continue
            row.status = "ok" if met else "target_not_met"
            row.bytes, row.quality, row.ssim_y = len(best.data), best.quality, best.ssim_y
            row.score, row.grade, row.reference_score = best.score, best.grade, reference_score
            if best.score is not None and reference_score is not None:
                row.score_drop = reference_score - best.score
            out.append((row, best.data))
    return original.size, out


def open_srgb_bytes(data: bytes, name: str, max_pixels: int) -> Image.Image:
    """:func:`~pixgrade.fullref.images.open_srgb` of bytes; errors name ``name``."""
    try:
        return open_srgb(BytesIO(data), max_pixels)  # type: ignore[arg-type]
    except ImageLoadError as exc:
        raise type(exc)(name, exc.cause) from None
