"""pixgrade.facts: the marketplace facts about one image (backdrop whiteness, product fill, added borders,
overlaid text) and its perceptual hash: measurements the policies judge, computed by the per-image stage
(:func:`pixgrade.pipeline.analysis.analyse`) when its settings ask for them."""

from pixgrade.facts.layout import (
    BackgroundStats,
    BorderDetection,
    background_mask,
    background_stats,
    detect_border,
    product_mask,
)
from pixgrade.facts.marketplace import FACTS_MAX_SIDE, FACTS_VERSION, ImageFacts, measure_facts
from pixgrade.facts.phash import hash_distance, perceptual_hash
from pixgrade.facts.text import (
    OVERLAY_MAX_PRODUCT_SHARE,
    TextBox,
    TextDetection,
    TextDetectorName,
    available_text_detectors,
    detect_text,
    overlay_regions,
)

__all__ = [
    "FACTS_MAX_SIDE",
    "FACTS_VERSION",
    "OVERLAY_MAX_PRODUCT_SHARE",
    "BackgroundStats",
    "BorderDetection",
    "ImageFacts",
    "TextBox",
    "TextDetection",
    "TextDetectorName",
    "available_text_detectors",
    "background_mask",
    "background_stats",
    "detect_border",
    "detect_text",
    "hash_distance",
    "measure_facts",
    "overlay_regions",
    "perceptual_hash",
    "product_mask",
]
