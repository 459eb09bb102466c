"""The marketplace facts about one image that policies test, measured in one pass: :func:`measure_facts`.

They are measurements (of the backdrop, the product's extent, an added frame, overlaid text), not rules: the
policies of :mod:`pixgrade.policy` judge them. Sizes are reported in the file's own pixels whatever size the
image was decoded at (:func:`measure_facts` with ``original_size``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from pixgrade.facts.layout import background_mask, background_stats, detect_border, product_mask
from pixgrade.facts.text import TextDetectorName, detect_text, overlay_regions

__all__ = ["FACTS_MAX_SIDE", "FACTS_VERSION", "ImageFacts", "measure_facts"]

FACTS_VERSION = 4
"""Bumped whenever a measurement changes, so stored facts from an older version are recomputed."""

FACTS_MAX_SIDE = 1024
"""Longest side (pixels) of the copy the facts are measured on (text detection needs finer pixels than the
factor measures' 512); the border is then reported in the file's pixels."""


@dataclass(frozen=True)
class ImageFacts:
    """Facts for marketplace rules. Every field is a plain number so it can be stored and compared."""

    white_background: float
    """Share of the edge band (outer 3%) that is pure white (every channel >= 247), in [0, 1]; higher = whiter."""
    edge_r: int
    edge_g: int
    edge_b: int
    """Median RGB of the edge band."""
    background_fraction: float
    """Share of the image that is plain backdrop, in [0, 1]."""
    product_fill: float
    """max(product bbox width / image width, product bbox height / image height), in [0, 1]."""
    border: bool
    """An added border or frame line was found on all four sides."""
    border_px: int
    """Thickest side of that border in the file's pixels (0 when none)."""
    text_regions: int
    """Text regions found anywhere, product prints included."""
    overlay_text_regions: int
    """Text regions that lie on the backdrop or straddle the product's outline: captions, badges, watermarks."""
    text_area: float
    """Union area of the overlay text regions over the image area, in [0, 1]."""
    text_detector: str
    """Which text detector ran ("db" or "classical")."""

    def to_dict(self) -> dict[str, Any]:
        """The facts as a flat dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImageFacts:
        """Rebuild from :meth:`to_dict` output (e.g. stored in the catalogue)."""
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})


def measure_facts(
    rgb: np.ndarray,
    *,
    text_detector: TextDetectorName = "auto",
    original_size: tuple[int, int] | None = None,
) -> ImageFacts:
    """Measure background whiteness, product fill, borders and overlaid text.

    Args:
        rgb: the decoded picture (any size; large images are analysed as they are, text at 736 px).
        text_detector: ``auto``, ``db`` or ``classical`` (see :mod:`pixgrade.facts.text`).
        original_size: ``(width, height)`` of the picture in the file when ``rgb`` was decoded smaller; the
            border thickness is then scaled to the file's pixels.

    Shape:
        - rgb: ``(H, W, 3)`` uint8 RGB.
    """
    mask = background_mask(rgb)
    stats = background_stats(rgb, mask=mask)
    border = detect_border(rgb)
    text = detect_text(rgb, detector=text_detector)
    overlay = overlay_regions(text, product_mask(mask), rgb=rgb, background=mask)
    height, width = rgb.shape[:2]
    area = 0.0
    if overlay:
        union = np.zeros((height, width), bool)
        for b in overlay:
            union[b.y : b.y + b.height, b.x : b.x + b.width] = True
        area = float(union.mean())
    facts = ImageFacts(
        white_background=stats.white_fraction,
        edge_r=stats.edge_colour[0],
        edge_g=stats.edge_colour[1],
        edge_b=stats.edge_colour[2],
        background_fraction=stats.background_fraction,
        product_fill=stats.product_fill,
        border=border.found,
        border_px=border.max_thickness,
        text_regions=text.count,
        overlay_text_regions=len(overlay),
        text_area=area,
        text_detector=text.detector,
    )
    if original_size is not None and facts.border_px:
        scale = max(original_size) / max(height, width)
        if scale != 1.0:  # report the border in the file's own pixels
            facts = dataclasses.replace(facts, border_px=round(facts.border_px * scale))
    return facts
