"""A self-contained HTML page of scored images for people who manage a catalogue.

One card per image: thumbnail (embedded JPEG), score badge coloured by grade, top reasons, a mini bar per factor,
or the error when the file could not be read. Cards are sorted worst first (unreadable files, then lowest score);
buttons in the page re-sort by path or best first and filter to problems or errors. No external resources.
"""

from __future__ import annotations

import base64
import heapq
import io
import math
import os
from collections import Counter
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pixgrade.io.files import path_from_text
from pixgrade.measures import FACTOR_NAMES

__all__ = ["GRADE_COLOURS", "GRADE_LABELS", "make_thumbnail", "render_score_page", "write_score_page"]

#: Badge colour of each grade 0–5 (red → green); errors are grey.
GRADE_COLOURS: dict[int, str] = {
    0: "#991b1b",
    1: "#dc2626",
    2: "#ea580c",
    3: "#ca8a04",
    4: "#65a30d",
    5: "#15803d",
}
ERROR_COLOUR = "#6b7280"
#: One-word meaning of each grade, shown in the legend.
GRADE_LABELS: dict[int, str] = {0: "unusable", 1: "bad", 2: "poor", 3: "fair", 4: "good", 5: "excellent"}
_FACTOR_LABELS = {"colourfulness": "colour", "aspect_ratio": "aspect", "blockiness": "blocking"}


def make_thumbnail(path: str | Path, size: int = 160, quality: int = 80) -> str | None:
    """A ``data:image/jpeg;base64,...`` URI of the image shrunk to at most ``size`` px, or ``None`` if unreadable."""
    from PIL import Image

    from pixgrade.errors import ImageLoadError
    from pixgrade.io import load_image

    try:
        image = load_image(path, max_side=size)
    except (ImageLoadError, OSError, ValueError, MemoryError):
        return None
    buffer = io.BytesIO()
    Image.fromarray(image.rgb).save(buffer, "JPEG", quality=quality, optimize=True)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


@dataclass
class _Bar:
    label: str
    name: str
    score: float
    flag: bool
    value: float | None


@dataclass
class _Card:
    index: int
    path: str
    name: str
    folder: str
    score: float | None
    grade: int | None
    colour: str
    reasons: list[str]
    more_reasons: int
    error: str | None
    size: str
    bars: list[_Bar] = field(default_factory=list)
    thumbnail: str | None = None
    presentation: float | None = None
    main_score: float | None = None
    presentation_reasons: list[str] = field(default_factory=list)


def _sort_key(row: Mapping[str, Any]) -> tuple[int, float, str]:
    """Worst first: errors, then rows without a score, then lowest score; ties by path."""
    if row.get("error"):
        return (0, 0.0, str(row.get("path", "")))
    score = row.get("score")
    if score is None or (isinstance(score, float) and math.isnan(score)):
        return (1, 0.0, str(row.get("path", "")))
    return (2, float(score), str(row.get("path", "")))


def _card(index: int, row: Mapping[str, Any], factor_names: list[str], max_reasons: int) -> _Card:
    path = str(row.get("path", ""))
    reasons = [r.strip() for r in str(row.get("reasons") or "").split(";") if r.strip()]
    grade = row.get("grade")
    error = row.get("error") or None
    width, height, fmt = row.get("width"), row.get("height"), row.get("format")
    size = f"{width}×{height}" if width and height else ""
    if fmt:
        size = f"{size} {fmt}".strip()
    bars = []
    for name in factor_names:
        score = row.get(f"{name}_score")
        if score is None:
            continue
        bars.append(
            _Bar(
                label=_FACTOR_LABELS.get(name, name),
                name=name,
                score=max(0.0, min(1.0, float(score))),
                flag=bool(row.get(f"{name}_flag")),
                value=row.get(f"{name}_value"),
            )
        )
    return _Card(
        index=index,
        path=path,
        name=os.path.basename(path) or path,
        folder=os.path.dirname(path),
        score=row.get("score"),
        grade=grade,
        colour=ERROR_COLOUR if error or grade is None else GRADE_COLOURS.get(int(grade), ERROR_COLOUR),
        reasons=reasons[:max_reasons],
        more_reasons=max(0, len(reasons) - max_reasons),
        error=error,
        size=size,
        bars=bars,
        presentation=None if error else row.get("presentation"),
        main_score=None if error else row.get("main_score"),
        presentation_reasons=[r.strip() for r in str(row.get("presentation_reasons") or "").split(";") if r.strip()],
    )


def render_score_page(
    rows: Iterable[Mapping[str, Any]],
    *,
    title: str = "pixgrade: image quality",
    model: str | None = None,
    max_cards: int = 2000,
    thumbnails: bool = True,
    thumbnail_size: int = 160,
    max_reasons: int = 3,
    results_file: str | None = None,
    provenance: str | None = None,
) -> str:
    """The HTML page for result rows (dicts with the columns of :func:`pixgrade.pipeline.result_columns`).

    ``provenance`` (a line such as :func:`pixgrade.provenance.provenance_text` makes) is shown in the footer.

    Rows are consumed as a stream: only the ``max_cards`` worst are kept (the page says how many were left out),
    so memory stays bounded for very large runs. Thumbnails are read from the rows' paths (relative paths from
    the current directory); a missing file shows "no preview".
    """
    counts: Counter[str] = Counter()
    total = 0
    score_sum = 0.0
    n_scores = 0

    def counted(source: Iterable[Mapping[str, Any]]) -> Iterable[Mapping[str, Any]]:
        nonlocal total, score_sum, n_scores
        for row in source:
            total += 1
            if row.get("error"):
                counts["error"] += 1
            elif row.get("grade") is not None:
                counts[str(row["grade"])] += 1
                score_sum += float(row["score"])
                n_scores += 1
            yield row

    kept = heapq.nsmallest(max_cards, counted(rows), key=_sort_key)
    factor_names = [n for n in FACTOR_NAMES if kept and any(f"{n}_score" in r for r in kept)]
    if kept:  # custom factors (pixgrade score --plugin), after the built-in ones: <name>_score, _flag and _value
        stems = [column.removesuffix("_score") for column in kept[0] if column.endswith("_score")]
        factor_names += [n for n in stems if n not in factor_names and {f"{n}_flag", f"{n}_value"} <= set(kept[0])]
    cards = [_card(i, row, factor_names, max_reasons) for i, row in enumerate(kept)]
    if thumbnails and cards:
        from pixgrade.pipeline.parallel import usable_cpus

        with ThreadPoolExecutor(max_workers=usable_cpus()) as pool:
            uris = pool.map(lambda c: make_thumbnail(path_from_text(c.path), thumbnail_size), cards)
            for card, uri in zip(cards, uris, strict=True):
                card.thumbnail = uri

    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("pixgrade.report", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    grades = [
        {"grade": g, "count": counts[str(g)], "colour": GRADE_COLOURS[g], "label": GRADE_LABELS[g]} for g in range(6)
    ]
    return env.get_template("score_page.html").render(
        title=title,
        model=model,
        provenance=provenance,
        generated=datetime.now().strftime("%Y-%m-%d %H:%M"),
        total=total,
        n_errors=counts["error"],
        n_problems=sum(counts[str(g)] for g in range(3)),
        mean_score=(score_sum / n_scores) if n_scores else None,
        grades=grades,
        cards=cards,
        shown=len(cards),
        error_colour=ERROR_COLOUR,
        results_file=results_file,
        thumbnail_size=thumbnail_size,
    )


def write_score_page(rows: Iterable[Mapping[str, Any]], path: str | Path, **options: Any) -> Path:
    """Render :func:`render_score_page` and write it atomically (temporary file, then rename) to ``path``."""
    path = Path(path)
    html = render_score_page(rows, **options)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(html, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path
