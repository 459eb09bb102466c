"""Explanations: heatmaps of the regions that lowered an image's quality score."""

from pixgrade.explain.heatmap import (
    EXPLAIN_METHODS,
    Explanation,
    encode_png,
    explain_image,
    heat_to_rgba,
    overlay_heatmap,
    write_png,
)

__all__ = [
    "EXPLAIN_METHODS",
    "Explanation",
    "encode_png",
    "explain_image",
    "heat_to_rgba",
    "overlay_heatmap",
    "write_png",
]
